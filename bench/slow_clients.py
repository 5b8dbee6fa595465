#!/usr/bin/env python3
"""The slow-client cell (issue 13): N clients reading an 8 MiB segment at
about 1 KB/s and M requests whose origin trickles, held open while wrk
measures fresh manifest, segment and /healthz requests; the same cell
against nginx's own proxy_pass in the same run. Run it through
`bench/run.sh --slow-clients [options]` (bench/README.md).

Every process is started here and stopped by PID; everything listens on
127.0.0.1. The slow readers are one Python process (selectors) that reads
a token's worth from each socket once a second, so N in the thousands
costs little CPU.
"""
import argparse
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "scripts"))

import dashpiff_stack  # noqa: E402
import procmem  # noqa: E402
import stream  # noqa: E402
from bench import BASELINE_DIRECTIVES, BASELINE_SERVER, ORIGIN_PORT_MARK, patch_file, url_encode  # noqa: E402
from wrk_cell import run_cell, write_paths  # noqa: E402

BIG = 8 * 1024 * 1024
# The baseline's stand-in for /healthz: nginx answering by itself.
BASELINE_HEALTHZ = 'location = /healthz { return 200 "ok\\n"; }'
TRICKLE = "location /trickle/ { rewrite ^/trickle/(.*)$ /bench/$1 break; limit_rate_after 1; limit_rate 1k; }"


def log(msg):
    print(f"[slow {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Holders:
    """N slow readers (read_rate bytes/s each) and M full-speed readers of
    trickling answers, all on one selector."""

    def __init__(self, port, slow_path, slow_count, trickle_path, trickle_count, read_rate):
        self.sel = selectors.DefaultSelector()
        self.read_rate = read_rate
        self.slow = []
        self.fast = []
        self.closed_early = 0
        self.bytes = 0
        for i in range(slow_count + trickle_count):
            s = socket.socket()
            slow = i < slow_count
            if slow:
                # Small from the start: no receive-window autotuning soaks up the answer.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            path = slow_path if slow else trickle_path
            s.setblocking(True)
            s.settimeout(10)
            try:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            except OSError:
                self.closed_early += 1
                s.close()
                continue
            s.setblocking(False)
            (self.slow if slow else self.fast).append(s)
            if not slow:
                self.sel.register(s, selectors.EVENT_READ)

    def tick(self):
        """One second's worth of reading."""
        for s in list(self.slow):
            try:
                data = s.recv(self.read_rate)
                if data == b"":
                    self._drop(s, self.slow)
                self.bytes += len(data)
            except BlockingIOError:
                pass
            except OSError:
                self._drop(s, self.slow)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            for key, _ in self.sel.select(timeout=max(0.0, deadline - time.monotonic())):
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.sel.unregister(key.fileobj)
                    self._drop(key.fileobj, self.fast)
                self.bytes += len(data)

    def _drop(self, s, group):
        self.closed_early += 1
        group.remove(s)
        s.close()

    def open_count(self):
        return len(self.slow) + len(self.fast)

    def close(self):
        for s in self.slow + self.fast:
            s.close()
        self.sel.close()


def run_holders_while(holders, seconds, action):
    """Keeps the holders reading in a child process while `action` runs."""
    pid = os.fork()
    if pid == 0:
        try:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                holders.tick()
        finally:
            os._exit(0)
    try:
        return action()
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)


def measure(label, base_url, paths, holders_args, args, pool_pid=None, metrics_url=None, front_pid=None):
    """One cell: the holders connect and settle, then wrk measures each fresh
    workload in turn; worker RSS is sampled throughout. `front_pid`: the
    front nginx, whose workers hold what each held connection buffers."""
    # Each worker's RSS before the holders come: the idle size the
    # per-transfer figure is measured from.
    idle = procmem.snapshot(pool_pid) if pool_pid else {}
    front_idle = procmem.snapshot(front_pid) if front_pid else {}
    log(f"{label}: opening {args.slow_readers} slow readers and {args.trickles} trickling origins")
    holders = Holders(*holders_args)
    sampler = procmem.RssSampler(pool_pid, interval=0.1) if pool_pid else None
    if sampler:
        sampler.__enter__()
    out = {"label": label, "rows": {}, "open_before": holders.open_count()}
    try:
        settle_end = time.monotonic() + args.settle
        while time.monotonic() < settle_end:
            holders.tick()
        out["open_settled"] = holders.open_count()
        if metrics_url:
            out["metrics"] = scrape(metrics_url)
        if front_pid:
            front_settled = procmem.snapshot(front_pid)
            out["front_kib"] = (sum(v[0] for v in front_idle.values()), sum(v[0] for v in front_settled.values()))
        if pool_pid:
            out["rss_idle"] = {pid: v[0] for pid, v in idle.items()}
            out["rss_settled"] = {pid: v[0] for pid, v in procmem.snapshot(pool_pid).items()}
        for workload, plist in paths.items():
            f = os.path.join(args.tmp, f"{label}-{workload}.txt")
            write_paths(f, plist)
            cell = run_holders_while(holders, args.seconds + 40,
                                     lambda: run_cell(base_url, f, args.wrk_connections, args.seconds,
                                                      timeout_s=10))
            out["rows"][workload] = cell
            log(f"{label} {workload}: {cell.requests} req, p50 {cell.p50_ms:.1f} ms, p99 {cell.p99_ms:.1f} ms, "
                f"max {cell.max_ms:.1f} ms, non-2xx {cell.non_2xx}, socket errors {cell.socket_errors}")
        out["open_after"] = holders.open_count()
        if metrics_url:
            out["metrics_after"] = scrape(metrics_url)
    finally:
        holders.close()
        if sampler:
            sampler.__exit__(None, None, None)
            out["rss"] = sampler.peak_rss
    return out


def scrape(url):
    try:
        status, _, body = dashpiff_stack.fetch(url, timeout=10)
    except OSError as e:
        return {"error": str(e)}
    wanted = {}
    for line in body.decode().splitlines():
        if line.startswith("dashpiff_transfers") or line.startswith("dashpiff_workers_alive"):
            name, value = line.rsplit(" ", 1)
            wanted[name] = float(value)
    return wanted


def write_big_segment(stream_root, tmp):
    """An 8 MiB segment in tmp/big/ (the origin's /big/): a real segment's
    bytes repeated (the engine walks its boxes as far as they parse and
    passes the rest on unchanged)."""
    big_dir = os.path.join(tmp, "big")
    os.makedirs(big_dir)
    os.chmod(tmp, 0o755)
    os.chmod(big_dir, 0o755)
    seg = os.path.join(stream_root, "bench", stream.segment_names(stream_root, stream.LARGE_REP)[0])
    data = open(seg, "rb").read()
    with open(os.path.join(big_dir, "big.m4s"), "wb") as f:
        f.write((data * (BIG // len(data) + 1))[:BIG])
    os.chmod(os.path.join(big_dir, "big.m4s"), 0o644)
    return big_dir


class CellStack:
    """The stack a slow-client cell runs on, started here: the origin (the
    stream, /big/, the trickle), the dashpiff pool (the binary of `build`,
    default the harness's) and the front nginx with the baseline proxy_pass
    server beside the project's locations. `media_buffering` gives the front
    a private copy of the snippets that spools /media/ answers
    (fastcgi_buffering on); `front_extra` goes into its http block."""

    def __init__(self, stream_root, big_dir, fcgi_args=(), media_buffering=False, front_extra="", build=None):
        self.stream_root = stream_root
        self.baseline_port = dashpiff_stack.free_port()
        extra = BASELINE_SERVER.format(origin_port=ORIGIN_PORT_MARK, port=self.baseline_port,
                                       directives=BASELINE_DIRECTIVES)
        extra = extra.replace("        location / {", "        " + BASELINE_HEALTHZ + "\n        location / {", 1)
        self.stack = dashpiff_stack.Stack(args=[], origin_root=stream_root, front_extra=extra + front_extra,
                                          origin_extra=f"location /big/ {{ alias {big_dir}/; }}\n        {TRICKLE}")
        try:
            self._start(fcgi_args, media_buffering, build)
        except Exception:
            self.close()
            raise

    def _start(self, fcgi_args, media_buffering, build):
        stack = self.stack
        patch_file(stack.front.conf, ORIGIN_PORT_MARK, str(stack.origin_port))
        patch_file(stack.front.conf, "worker_processes 1;", "worker_processes auto;")
        patch_file(stack.front.conf, "worker_connections 4096;", "worker_connections 16384;")
        # Every held answer holds an origin connection too (proxy_pass and
        # dashpiff alike): the origin's 1024 would refuse the rest with 502s.
        patch_file(stack.origin.conf, "worker_connections 1024;", "worker_connections 16384;")
        if media_buffering:
            # A private copy of the project's snippets with segments spooled by nginx.
            link = os.path.join(stack.front.dir, "snippets")
            os.unlink(link)
            shutil.copytree(os.path.join(TOP, "nginx-conf", "snippets"), link)
            patch_file(os.path.join(link, "dashpiff-locations.conf"),
                       "include snippets/dashpiff-fastcgi.conf;\n    fastcgi_buffering off;\n"
                       "    fastcgi_max_temp_file_size 0;",
                       "include snippets/dashpiff-fastcgi.conf;\n    fastcgi_buffering on;")
        stack.origin.start(stack.origin_port)
        saved, dashpiff_stack.BUILD = dashpiff_stack.BUILD, build or dashpiff_stack.BUILD
        try:
            stack.start_fcgi(list(fcgi_args))
        finally:
            dashpiff_stack.BUILD = saved
        self.pool_pid = stack.fcgi.pid
        procmem.wait_for_workers(self.pool_pid, 1, timeout=5)
        stack.front.start(stack.front_port)
        dashpiff_stack.wait_for(lambda: dashpiff_stack.port_open(self.baseline_port), what="baseline server")
        origin = stack.origin_url
        mpd = "/mpd/" + url_encode(origin + "/bench/manifest.mpd")
        media = "/media/" + url_encode(origin + "/bench/") + "/"
        small = stream.segment_names(self.stream_root, stream.SMALL_REP)
        self.dp_paths = {"manifest": [mpd], "segment250k": [media + n for n in small], "healthz": ["/healthz"]}
        self.base_paths = {"manifest": ["/bench/manifest.mpd"], "segment250k": ["/bench/" + n for n in small],
                           "healthz": ["/healthz"]}
        self.big_media = "/media/" + url_encode(origin + "/big/") + "/big.m4s"
        self.trickle_name = stream.segment_names(self.stream_root, stream.LARGE_REP)[1]
        self.trickle_media = "/media/" + url_encode(origin + "/trickle/") + "/" + self.trickle_name
        for path in (mpd, self.big_media, self.dp_paths["segment250k"][0]):
            status, _, _ = dashpiff_stack.fetch(stack.front_url + path, timeout=30)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")

    @property
    def front_url(self):
        return self.stack.front_url

    @property
    def front_pid(self):
        return self.stack.front.proc.pid

    @property
    def baseline_url(self):
        return f"http://127.0.0.1:{self.baseline_port}"

    def holders(self, args, baseline=False):
        """Holders' arguments for the baseline server or dashpiff's front."""
        if baseline:
            return (self.baseline_port, "/big/big.m4s", args.slow_readers, "/trickle/" + self.trickle_name,
                    args.trickles, args.read_rate)
        return (self.stack.front_port, self.big_media, args.slow_readers, self.trickle_media, args.trickles,
                args.read_rate)

    def close(self):
        self.stack.stop()
        self.stack.cleanup()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--slow-readers", type=int, default=1000)
    p.add_argument("--trickles", type=int, default=100)
    p.add_argument("--read-rate", type=int, default=1024, help="bytes per second per slow reader")
    p.add_argument("--seconds", type=int, default=5, help="wrk time per workload")
    p.add_argument("--settle", type=int, default=5, help="seconds the holders read before wrk starts")
    p.add_argument("--wrk-connections", type=int, default=8)
    p.add_argument("--fcgi-arg", action="append", default=[], help="extra dashpiff-fcgi option (repeatable)")
    p.add_argument("--media-buffering", action="store_true",
                   help="the alternative of nginx spooling segments to temporary files (fastcgi_buffering on)")
    p.add_argument("--skip-baseline", action="store_true")
    p.add_argument("--out", help="also write the table to this file")
    args = p.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.slow_readers + args.trickles + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))

    build = dashpiff_stack.BUILD
    stream_root = stream.ensure_stream(build, log=log)
    args.tmp = tempfile.mkdtemp(prefix="dashpiff-slow-")
    results = []
    try:
        stack = CellStack(stream_root, write_big_segment(stream_root, args.tmp), args.fcgi_arg, args.media_buffering)
        try:
            if not args.skip_baseline:
                results.append(measure("proxy_pass", stack.baseline_url, stack.base_paths,
                                       stack.holders(args, baseline=True), args, front_pid=stack.front_pid))
                # nginx workers keep the memory they grew to: a reload gives
                # dashpiff's cell fresh ones, so its front figure is its own.
                os.kill(stack.front_pid, signal.SIGHUP)
                time.sleep(2)
            results.append(measure("dashpiff", stack.front_url, stack.dp_paths, stack.holders(args), args,
                                   pool_pid=stack.pool_pid, metrics_url=stack.front_url + "/metrics",
                                   front_pid=stack.front_pid))
        finally:
            stack.close()
    finally:
        shutil.rmtree(args.tmp, ignore_errors=True)

    lines = [f"## Slow-client cell: {args.slow_readers} readers of an 8 MiB segment at {args.read_rate} B/s, "
             f"{args.trickles} trickling origins (1 KB/s), wrk -c{args.wrk_connections} {args.seconds} s per workload",
             "", f"pool: dashpiff-fcgi defaults {' '.join(args.fcgi_arg)}"
             f"{' + nginx fastcgi_buffering on for segments' if args.media_buffering else ''}", "",
             "| stack | workload | req/s | p50 ms | p99 ms | max ms | failed | p99 ÷ proxy_pass |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    base = results[0]["rows"] if results and results[0]["label"] == "proxy_pass" else {}
    ok = True
    for r in results:
        for workload, c in r["rows"].items():
            # wrk counts statuses >= 400 as errors (a 304 from the origin's
            # revalidation is a success) plus socket errors and timeouts.
            failed = c.non_2xx + c.socket_errors
            ratio = f"{c.p99_ms / base[workload].p99_ms:.2f}" if workload in base and base[workload].p99_ms else "-"
            lines.append(f"| {r['label']} | {workload} | {c.rps:.0f} | {c.p50_ms:.1f} | {c.p99_ms:.1f} | "
                         f"{c.max_ms:.1f} | {failed} | {ratio} |")
            if r["label"] == "dashpiff" and (failed or c.p99_ms > 100 or c.requests == 0):
                ok = False
    lines.append("")
    for r in results:
        lines.append(f"- {r['label']}: holders open {r['open_before']} at start, {r['open_settled']} after settling, "
                     f"{r.get('open_after', '?')} at the end")
        if "rss" in r:
            peaks = r["rss"]
            lines.append(f"- {r['label']} worker RSS peak: " +
                         ", ".join(f"pid {pid} {kib / 1024:.1f} MiB" for pid, kib in sorted(peaks.items())))
        if r.get("rss_settled"):
            # Transfers spread over the workers; the gauge is their sum.
            idle, settled = r["rss_idle"], r["rss_settled"]
            in_flight = (r.get("metrics") or {}).get("dashpiff_transfers_in_flight", 0)
            workers = [pid for pid in settled if pid in idle]
            per_worker = in_flight / len(workers) if workers else 0
            lines.append(f"- {r['label']} worker RSS idle -> with the holders settled ({in_flight:.0f} transfers, "
                         f"~{per_worker:.0f} per worker): " +
                         ", ".join(f"pid {pid} {idle[pid] / 1024:.1f} -> {settled[pid] / 1024:.1f} MiB"
                                   for pid in sorted(workers)))
            if per_worker:
                grown = sum(settled[pid] - idle[pid] for pid in workers) / len(workers)
                lines.append(f"- {r['label']} memory per transfer: {grown / per_worker:.0f} KiB "
                             "(mean RSS growth per worker / transfers per worker)")
        if "front_kib" in r:
            # What nginx buffers for each held answer: the shared front, so
            # each stack's growth from its own idle start.
            before, after = r["front_kib"]
            held = r["open_settled"] or 1
            lines.append(f"- {r['label']}: front nginx workers' RSS idle -> with the holders settled: "
                         f"{before / 1024:.1f} -> {after / 1024:.1f} MiB, {(after - before) / held:.0f} KiB "
                         f"per held connection")
        if "metrics" in r:
            lines.append(f"- {r['label']} /metrics after settling: {r['metrics']}")
            lines.append(f"- {r['label']} /metrics at the end: {r.get('metrics_after')}")
    lines.append("")
    lines.append(f"target (issue 13): dashpiff p99 <= 100 ms and none failing: {'met' if ok else 'MISSED'}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
