#!/usr/bin/env python3
"""dashpiff service benchmark (issue 7). Run it through bench/run.sh.

One front nginx, two ways to the same origin:
  - the dashpiff stack as deployed (the project's nginx locations ->
    spawn-fcgi -> dashpiff-fcgi pool), restarted once per --piff-mode;
  - the baseline: a second server block of the same nginx doing a plain
    proxy_pass to the origin with upstream keepalive.
wrk drives both with the same request list; memory, the 500 MB segment and
time to first byte are measured around it; the table goes to bench/results/.
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "scripts"))

import dashpiff_stack  # noqa: E402
import procmem  # noqa: E402
import report  # noqa: E402
import stream  # noqa: E402
import ttfb  # noqa: E402
from wrk_cell import CellResult, run_cell, write_paths  # noqa: E402

WORKLOADS = ("mpd", "seg250k", "seg1m")
MODES = ("off", "free", "auto")
SLOW_RATE = "200k"
ORIGIN_PORT_MARK = "__BENCH_ORIGIN_PORT__"
# The fastest of the settings tried on the 2-core machine (nginx defaults,
# buffering on with 64k buffers, this): streaming through one 64 KiB buffer
# used about half the front's CPU per megabyte of the defaults' 4 KiB ones.
BASELINE_DIRECTIVES = "proxy_buffering off; proxy_buffer_size 64k; proxy_buffers 4 64k;"

# The baseline: the same front nginx, a plain reverse proxy of the origin.
# Connection "" + HTTP/1.1 + keepalive keep origin connections open, the best
# any proxy in that position can do.
BASELINE_SERVER = """
    upstream bench_origin {{
        server 127.0.0.1:{origin_port};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://bench_origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            {directives}
        }}
    }}
"""


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def url_encode(url):
    """The URL codec of SPEC.md section 2 ('!' first)."""
    for plain, code in (("!", "!!"), (":", "!0"), ("/", "!1"), ("#", "!2"), ("~", "!3"), ("?", "!4")):
        url = url.replace(plain, code)
    return url


def fetch(url, timeout=120):
    status, _headers, body = dashpiff_stack.fetch(url, timeout=timeout)
    return status, body


def patch_file(path, old, new):
    with open(path) as f:
        text = f.read()
    if old not in text:
        raise RuntimeError(f"{path}: '{old}' not found; has scripts/dashpiff_stack.py changed?")
    with open(path, "w") as f:
        f.write(text.replace(old, new, 1))


def machine_info(build):
    def cmd(args):
        try:
            out = subprocess.run(args, capture_output=True, text=True, timeout=10)
            return (out.stdout + out.stderr).strip()
        except OSError:
            return "?"
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    commit = cmd(["git", "-C", TOP, "rev-parse", "--short", "HEAD"]) or "unknown"
    dirty = bool(cmd(["git", "-C", TOP, "status", "--porcelain", "--untracked-files=no", "--",
                      "src", "fcgi", "nginx-conf", "scripts/dashpiff_stack.py"]))
    wrk = cmd(["wrk", "--version"]).splitlines()
    return {
        "date": datetime.date.today().isoformat(), "commit": commit, "dirty": dirty,
        "nproc": os.cpu_count(), "cpu": cpu, "mem_gib": mem_kib / 1024 / 1024,
        "kernel": f"{platform.system()} {platform.release()}",
        "loadavg": loadavg(),
        "nginx": cmd(["nginx", "-v"]).replace("nginx version: ", ""),
        "wrk": wrk[0].split(" [")[0] if wrk else "wrk",
        "cxxflags": cxxflags_of(build),
    }


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def wait_quiet(limit_s):
    """Other work on the machine skews every figure; wait a while for it."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        one_minute = float(loadavg().split()[0])
        if one_minute < 1.0:
            return
        log(f"load average {one_minute:.2f}; waiting for a quieter machine")
        time.sleep(15)
    log("machine still busy; running anyway")


def cxxflags_of(build):
    try:
        with open(os.path.join(build, "Makefile")) as f:
            for line in f:
                if line.startswith("CXXFLAGS ="):
                    return "CXXFLAGS=" + line.split("=", 1)[1].strip()
    except OSError:
        pass
    return "CXXFLAGS unknown"


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = dashpiff_stack.BUILD
        self.binary = os.path.join(self.build, "fcgi", "dashpiff-fcgi")
        self.cells = []
        self.pool_peaks = {}
        self.soak = None
        self.huge = None
        self.ttfb = None
        self.tmp = tempfile.mkdtemp(prefix="dashpiff-bench-")

    # --- stack -----------------------------------------------------------
    def start_stack(self, stream_root):
        self.baseline_port = dashpiff_stack.free_port()
        extra = BASELINE_SERVER.format(origin_port=ORIGIN_PORT_MARK, port=self.baseline_port,
                                       directives=self.args.baseline_directives)
        self.stack = dashpiff_stack.Stack(args=[], origin_root=stream_root, front_extra=extra,
                                          slow_rate=SLOW_RATE)
        try:
            # Stack picks the origin port itself; the baseline upstream needs it.
            patch_file(self.stack.front.conf, ORIGIN_PORT_MARK, str(self.stack.origin_port))
            # As deployed (Debian's nginx.conf): one nginx worker per core.
            if self.args.front_workers != "1":
                patch_file(self.stack.front.conf, "worker_processes 1;",
                           f"worker_processes {self.args.front_workers};")
            self.stack.origin.start(self.stack.origin_port)
            self.stack.front.start(self.stack.front_port)
            dashpiff_stack.wait_for(lambda: dashpiff_stack.port_open(self.baseline_port), what="baseline server")
        except Exception:
            self.cleanup()
            raise
        self.base_url = f"http://127.0.0.1:{self.baseline_port}"
        self.front_url = self.stack.front_url
        self.origin_url = self.stack.origin_url

    def cleanup(self):
        """Stops whatever of the stack runs and removes the scratch files."""
        self.stack.stop()
        self.stack.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_pool(self, mode):
        self.stack.start_fcgi(["--piff-mode", mode] + self.args.fcgi_arg)
        pid = self.stack.fcgi.pid
        # The supervisor forks one worker per core by default.
        procmem.wait_for_workers(pid, 1, timeout=5)
        return pid

    def stop_pool(self):
        self.stack.stop_fcgi()

    # --- request lists -----------------------------------------------------
    def discover_paths(self, stream_root):
        """Request paths per workload for both stacks. dashpiff's segment
        paths are taken from its own rewritten manifest when they can be
        found there (what a player would request), else built by the codec."""
        manifest_origin = f"{self.origin_url}/bench/manifest.mpd"
        mpd_path = "/mpd/" + url_encode(manifest_origin)
        status, body = fetch(self.front_url + mpd_path)
        if status != 200:
            raise RuntimeError(f"dashpiff manifest answered {status}: {body[:300]!r}\n" + self.stack.log_text())
        found = re.search(r"(/media/[^/\"<>\s]+/)", body.decode("utf-8", "replace"))
        media_base = found.group(1) if found else "/media/" + url_encode(f"{self.origin_url}/bench/") + "/"
        log(f"dashpiff media base: {media_base}")
        paths = {"dashpiff": {"mpd": [mpd_path]}, "baseline": {"mpd": ["/bench/manifest.mpd"]}}
        for workload, rep in (("seg250k", stream.SMALL_REP), ("seg1m", stream.LARGE_REP)):
            names = stream.segment_names(stream_root, rep)
            paths["dashpiff"][workload] = [media_base + n for n in names]
            paths["baseline"][workload] = ["/bench/" + n for n in names]
        self.media_base = media_base
        self.paths = paths
        self.path_files = {}
        for stack_kind, per in paths.items():
            for workload, plist in per.items():
                f = os.path.join(self.tmp, f"paths-{stack_kind}-{workload}.txt")
                write_paths(f, plist)
                self.path_files[(stack_kind, workload)] = f

    def check_answers(self, mode, stream_root):
        """The figures mean nothing if the answers are wrong: every segment
        through dashpiff must have the origin's length, with off the origin's
        bytes, otherwise differing only in 4CCs turned from 'uuid' into 'free'."""
        for workload in ("seg250k", "seg1m"):
            for path, name in zip(self.paths["dashpiff"][workload], self.paths["baseline"][workload]):
                status, body = fetch(self.front_url + path)
                with open(os.path.join(stream_root, name.lstrip("/")), "rb") as f:
                    original = f.read()
                if status != 200 or len(body) != len(original):
                    raise RuntimeError(f"{mode}: {path} answered {status}, {len(body)} bytes, "
                                       f"origin has {len(original)}")
                if mode == "off" and body != original:
                    raise RuntimeError(f"off: {path} differs from the origin")
                if mode in ("free", "auto"):
                    changed = _diff_offsets(body, original)
                    for i in changed:
                        if not any(body[j:j + 4] == b"free" and original[j:j + 4] == b"uuid"
                                   for j in range(max(0, i - 3), i + 1)):
                            raise RuntimeError(f"{mode}: {path} byte {i} changed outside a uuid->free 4CC")
                    if not changed:
                        raise RuntimeError(f"{mode}: {path} came back unchanged; PIFF box not neutralised")
        status, body = fetch(self.front_url + self.paths["dashpiff"]["mpd"][0])
        if status != 200 or b"<MPD" not in body:
            raise RuntimeError(f"{mode}: manifest answered {status}")

    # --- runs ----------------------------------------------------------------
    def _cell(self, stack_name, workload, conns):
        """Warm-up, then one measured wrk run, against one stack."""
        kind = "baseline" if stack_name == "baseline" else "dashpiff"
        url = self.base_url if kind == "baseline" else self.front_url
        paths_file = self.path_files[(kind, workload)]
        run_cell(url, paths_file, conns, self.args.warmup)
        return run_cell(url, paths_file, conns, self.args.seconds, cpu_probe=self.cpu_probe)

    def cpu_probe(self):
        cpu = {"front nginx": procmem.tree_cpu_seconds(self.stack.front.proc.pid),
               "origin nginx": procmem.tree_cpu_seconds(self.stack.origin.proc.pid)}
        if self.stack.fcgi and self.stack.fcgi.poll() is None:
            cpu["dashpiff"] = procmem.tree_cpu_seconds(self.stack.fcgi.pid)
        return cpu

    def run_throughput(self, stream_root):
        """Every (workload, connections) pair runs the stacks back to back,
        each dashpiff mode on a freshly started pool, so the ratios compare
        runs seconds apart; with several rounds the order alternates
        (ABCD DCBA) so that a drifting background load biases no stack."""
        checked = set()
        for workload in self.args.workloads:
            for conns in self.args.connections:
                runs = {}
                for rnd in range(self.args.rounds):
                    order = ["baseline"] + list(self.args.modes)
                    if rnd % 2:
                        order.reverse()
                    for stack_name in order:
                        if stack_name == "baseline":
                            r = self._cell(stack_name, workload, conns)
                        else:
                            pid = self.start_pool(stack_name)
                            try:
                                with procmem.RssSampler(pid) as sampler:
                                    if stack_name not in checked:
                                        self.check_answers(stack_name, stream_root)
                                        checked.add(stack_name)
                                    r = self._cell(stack_name, workload, conns)
                                self.record_peaks(stack_name, sampler)
                            finally:
                                self.stop_pool()
                        runs.setdefault(stack_name, []).append(r)
                        log(f"{workload:8} {conns:3} conns {stack_name:8} round {rnd + 1}: {r.rps:9.1f} req/s "
                            f"{r.mb_s:8.1f} MB/s p50 {r.p50_ms:7.2f} ms p99 {r.p99_ms:8.2f} ms "
                            f"non-2xx {r.non_2xx} sock {r.socket_errors}")
                for stack_name in ["baseline"] + list(self.args.modes):
                    self.cells.append((workload, conns, stack_name, combine(runs[stack_name])))

    def record_peaks(self, mode, sampler):
        entry = self.pool_peaks.setdefault(mode, {"pools": 0, "workers": 0, "peak_kib": 0, "supervisor_kib": 0})
        entry["pools"] += 1
        entry["workers"] += len(sampler.peak_hwm)
        entry["peak_kib"] = max([entry["peak_kib"]] + list(sampler.peak_hwm.values()))
        entry["supervisor_kib"] = max(entry["supervisor_kib"], sampler.supervisor_hwm)

    def run_soak(self):
        """One pool that lives through every workload and connection count
        in turn, like a service that has been up a while; its workers' RSS
        afterwards is what the 32 MiB target judges."""
        mode = "auto"
        pid = self.start_pool(mode)
        try:
            with procmem.RssSampler(pid) as sampler:
                for workload in WORKLOADS:
                    for conns in self.args.connections:
                        run_cell(self.front_url, self.path_files[("dashpiff", workload)], conns, self.args.seconds)
                time.sleep(0.5)  # in-flight requests finish before the "after" reading
            self.soak = {"mode": mode, "seconds": self.args.seconds * len(WORKLOADS) * len(self.args.connections),
                         "supervisor_kib": sampler.supervisor_hwm,
                         "workers": {p: {"peak_kib": sampler.peak_hwm[p], "after_kib": sampler.last_rss[p]}
                                     for p in sampler.peak_hwm}}
        finally:
            self.stop_pool()
        worst = max(w["after_kib"] for w in self.soak["workers"].values())
        log(f"soak: {len(self.soak['workers'])} workers, largest RSS after {worst / 1024:.1f} MiB")

    def run_huge(self, stream_root):
        mode = "auto"
        size = os.path.getsize(os.path.join(stream_root, "bench", stream.HUGE_NAME))
        pid = self.start_pool(mode)
        try:
            # Warm every worker up first so that what the big answer adds is
            # not confused with a first request's allocations.
            run_cell(self.front_url, self.path_files[("dashpiff", "seg1m")], 8, self.args.warmup)
            time.sleep(0.3)
            before = procmem.snapshot(pid)
            url = self.front_url + self.media_base + stream.HUGE_NAME
            with procmem.RssSampler(pid, interval=0.02) as sampler:
                received, seconds = curl_download(url)
            after = procmem.snapshot(pid)
        finally:
            self.stop_pool()
        added, worst = 0, None
        for p, (rss0, hwm0) in before.items():
            rise = max(sampler.peak_rss.get(p, rss0) - rss0, after.get(p, (rss0, hwm0))[1] - hwm0)
            if worst is None or rise > added:
                added, worst = rise, p
        base_received, base_seconds = curl_download(self.base_url + "/bench/" + stream.HUGE_NAME)
        self.huge = {
            "mode": mode, "size": size, "received": received, "complete": received == size,
            "seconds": seconds, "before_kib": before.get(worst, (0, 0))[0],
            "peak_kib": sampler.peak_rss.get(worst, 0), "added_kib": added,
            "baseline_received": base_received, "baseline_seconds": base_seconds,
        }
        log(f"500 MB segment: {received} bytes in {seconds:.2f} s, worker RSS +{added / 1024:.1f} MiB")

    def run_ttfb(self, stream_root):
        mode = "auto"
        names = stream.segment_names(stream_root, stream.LARGE_REP)
        slow_base = "/media/" + url_encode(f"{self.origin_url}/slow/bench/") + "/"
        pid = self.start_pool(mode)
        del pid
        samples = {"baseline": [], mode: []}
        try:
            # Warm up the worker's origin connections like a running service's.
            for name in names[:2]:
                ttfb.measure(self.front_url + slow_base + name)
            for i in range(self.args.ttfb_reps):
                name = names[i % len(names)]
                order = [("baseline", self.base_url + "/slow/bench/" + name),
                         (mode, self.front_url + slow_base + name)]
                if i % 2:
                    order.reverse()
                for stack, url in order:
                    first, body, status = ttfb.measure(url)
                    if status != 200:
                        raise RuntimeError(f"TTFB {url}: status {status}")
                    samples[stack].append((first * 1e3, body * 1e3))
                    time.sleep(0.05)
        finally:
            self.stop_pool()
        out = {"mode": mode, "rate": SLOW_RATE, "reps": self.args.ttfb_reps,
               "segment_kb": os.path.getsize(os.path.join(stream_root, "bench", names[0])) / 1e3}
        for stack, vals in samples.items():
            out[stack] = {"ttfb_ms": statistics.median(v[0] for v in vals),
                          "body_ms": statistics.median(v[1] for v in vals),
                          "samples": [v[0] for v in vals]}
        out["overhead_ms"] = out[mode]["ttfb_ms"] - out["baseline"]["ttfb_ms"]
        out["body_overhead_ms"] = out[mode]["body_ms"] - out["baseline"]["body_ms"]
        self.ttfb = out
        log(f"TTFB overhead {out['overhead_ms']:.2f} ms (first body byte {out['body_overhead_ms']:.2f} ms)")

    def run_micro(self):
        """The component benchmarks (bench/engine_bench.cpp, bench/mpd_bench.cpp,
        owned by the engine and rewriter), built here when the build can."""
        found = []
        for name in ("engine_bench", "mpd_bench"):
            subprocess.run(["make", "-C", self.build, "-s", f"bench/{name}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            exe = os.path.join(self.build, "bench", name)
            if not os.access(exe, os.X_OK):
                continue
            log(f"running {exe}")
            try:
                out = subprocess.run([exe], capture_output=True, text=True, timeout=300)
                found.append((name, out.stdout + out.stderr))
            except subprocess.TimeoutExpired:
                found.append((name, "timed out after 300 s"))
        return found


def combine(results):
    """One figure from several rounds of the same cell: counts and time add
    up (so req/s and MB/s are over all rounds); latency percentiles are the
    mean of the rounds' (wrk keeps no histogram across runs)."""
    if len(results) == 1:
        return results[0]
    n = len(results)
    return CellResult(
        requests=sum(r.requests for r in results), bytes=sum(r.bytes for r in results),
        duration_s=sum(r.duration_s for r in results), non_2xx=sum(r.non_2xx for r in results),
        socket_errors=sum(r.socket_errors for r in results),
        p50_ms=sum(r.p50_ms for r in results) / n, p99_ms=sum(r.p99_ms for r in results) / n,
        max_ms=max(r.max_ms for r in results),
        cpu_s={k: sum(r.cpu_s.get(k, 0.0) for r in results) for k in results[0].cpu_s})


def _diff_offsets(a, b):
    """Offsets where two equal-length byte strings differ, found a block at a
    time (segments are megabytes; a byte loop in Python is slow)."""
    out = []
    block = 4096
    for start in range(0, len(a), block):
        if a[start:start + block] != b[start:start + block]:
            out += [start + i for i in range(min(block, len(a) - start)) if a[start + i] != b[start + i]]
    return out


def curl_download(url):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{size_download} %{time_total} %{http_code}", url],
                         capture_output=True, text=True, check=True, timeout=600)
    size, total, code = out.stdout.split()
    if code != "200":
        raise RuntimeError(f"{url}: status {code}")
    return int(size), float(total)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="one round of 2 s per cell, 8 and 64 connections only, fewer TTFB repetitions; "
                        "results go to bench/results/tmp/")
    p.add_argument("--seconds", type=int, help="seconds per measured wrk run (default 4, --quick 2)")
    p.add_argument("--rounds", type=int, help="rounds per cell, alternating stack order (default 4, --quick 1)")
    p.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per stack and workload")
    p.add_argument("--connections", type=lambda s: [int(x) for x in s.split(",")],
                   help="comma-separated connection counts (default 1,8,64)")
    p.add_argument("--workloads", type=lambda s: [w for w in s.split(",") if w], default=list(WORKLOADS),
                   help="throughput workloads to run (default mpd,seg250k,seg1m)")
    p.add_argument("--modes", type=lambda s: [m for m in s.split(",") if m], default=list(MODES),
                   help="dashpiff piff modes to run (default off,free,auto)")
    p.add_argument("--ttfb-reps", type=int, help="TTFB repetitions per stack (default 9, --quick 5)")
    p.add_argument("--front-workers", default="auto", help="front nginx worker_processes (default auto, as Debian)")
    p.add_argument("--baseline-directives", default=BASELINE_DIRECTIVES,
                   help=f"proxy settings of the baseline location (default: {BASELINE_DIRECTIVES})")
    p.add_argument("--fcgi-arg", action="append", default=[],
                   help="extra dashpiff-fcgi option, repeatable (e.g. --fcgi-arg=--workers=1)")
    p.add_argument("--skip", type=lambda s: s.split(","), default=[],
                   help="comma-separated parts to skip: throughput,soak,huge,ttfb,micro")
    p.add_argument("--wait-quiet", type=int, default=0, metavar="SECONDS",
                   help="first wait up to SECONDS for the 1-minute load average to drop below 1")
    p.add_argument("--out", help="results file (default bench/results/DATE-COMMIT.md)")
    args = p.parse_args()
    args.seconds = args.seconds or (2 if args.quick else 4)
    args.rounds = args.rounds or (1 if args.quick else 4)
    args.connections = args.connections or ([8, 64] if args.quick else [1, 8, 64])
    args.ttfb_reps = args.ttfb_reps or (5 if args.quick else 9)
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {','.join(unknown)}; known: {','.join(WORKLOADS)}")

    bench = Bench(args)
    if not os.access(bench.binary, os.X_OK):
        sys.exit(f"bench: {bench.binary} not built (set DASHPIFF_BUILD to an optimised build directory)")
    if args.wait_quiet:
        wait_quiet(args.wait_quiet)
    started = time.monotonic()
    machine = machine_info(bench.build)
    stream_root = stream.ensure_stream(bench.build, log=log)
    log(f"stream: {stream_root}")
    bench.start_stack(stream_root)
    try:
        log(f"front {bench.front_url}, baseline {bench.base_url}, origin {bench.origin_url}")
        bench.start_pool("auto")
        try:
            bench.discover_paths(stream_root)
        finally:
            bench.stop_pool()
        if "throughput" not in args.skip:
            bench.run_throughput(stream_root)
        if "soak" not in args.skip:
            bench.run_soak()
        if "huge" not in args.skip:
            bench.run_huge(stream_root)
        if "ttfb" not in args.skip:
            bench.run_ttfb(stream_root)
        micro = bench.run_micro() if "micro" not in args.skip else []
    except Exception:
        log("failed; dashpiff log tail:\n" + bench.stack.log_text()[-3000:])
        raise
    finally:
        bench.cleanup()

    def mean_size(rep):
        names = stream.segment_names(stream_root, rep)
        return sum(os.path.getsize(os.path.join(stream_root, "bench", n)) for n in names) / len(names) / 1e3

    settings = {
        "build": bench.build, "cxxflags": machine["cxxflags"], "quick": args.quick, "seconds": args.seconds,
        "rounds": args.rounds,
        "warmup": args.warmup, "front_workers": args.front_workers, "baseline_directives": args.baseline_directives,
        "pool": "dashpiff-fcgi defaults" + (" + " + " ".join(args.fcgi_arg) if args.fcgi_arg else ""),
        "stream": f"3 representations, {len(stream.segment_names(stream_root, stream.SMALL_REP))} segments each; "
                  f"mean segment {mean_size(stream.SMALL_REP):.0f} KB (250 KB workload) and "
                  f"{mean_size(stream.LARGE_REP):.0f} KB (1 MB workload); CENC senc + PIFF uuid box per traf",
        "elapsed_s": time.monotonic() - started,
    }
    machine["loadavg_end"] = loadavg()
    rep = report.Report(cells=bench.cells, pool_peaks=bench.pool_peaks, soak=bench.soak,
                        huge=bench.huge, ttfb=bench.ttfb, machine=machine, settings=settings, micro=micro)
    text = report.render(rep)
    out = args.out
    if not out:
        folder = os.path.join(HERE, "results", "tmp" if args.quick else "")
        os.makedirs(folder, exist_ok=True)
        out = os.path.join(folder, f"{machine['date']}-{machine['commit']}.md")
    with open(out, "w") as f:
        f.write(text)
    print(text)
    log(f"wrote {out}")
    return 0 if all(v.met for v in rep.verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
