#!/usr/bin/env python3
"""The designs issue 13 weighed, each under the same slow-client load, in one
run. Run it through `bench/run.sh --alternatives [options]` (bench/README.md).

  proxy_pass      nginx's own proxy_pass of the origin (the baseline server of
                  bench/run.sh: proxy_buffering off, no disk)
  event loop      dashpiff as shipped: segment transfers on one event loop
                  per worker, nginx streaming them (fastcgi_buffering off)
  nginx spooling  the same pool, but nginx buffers /media/ answers
                  (fastcgi_buffering on) and spools what a slow client has not
                  taken to temporary files
  threads         the thread-per-transfer model (a build from before the event
                  loop, --threaded-build DIR) with --threads N per worker; the
                  current build has no thread-per-transfer mode any more

Each design gets a fresh stack; the load is bench/slow_clients.py's (N slow
readers of an 8 MiB segment, M trickling origins, all held open while wrk
measures fresh manifest, 250 KB segment and /healthz requests). Reported per
design: req/s, p50, p99, max and failed requests of each fresh workload, p99
against proxy_pass's, the workers' and the front nginx workers' peak RSS, and
the disk the front nginx's temporary files took at their peak (nginx unlinks a
temporary file as soon as it opens it, so it is measured through its open
descriptors, /proc/PID/fd, not by listing the directory).
"""
import argparse
import datetime
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "scripts"))

import dashpiff_stack  # noqa: E402
import procmem  # noqa: E402
import slow_clients  # noqa: E402
import stream  # noqa: E402
from bench import loadavg  # noqa: E402

MIB = 1024 * 1024


class FrontSampler:
    """Peak RSS of the front nginx's workers and the peak disk their
    temporary files (under temp_dir) hold, sampled on a thread."""

    def __init__(self, master_pid, temp_dir, interval=0.2):
        self.master_pid = master_pid
        self.temp_dir = temp_dir
        self.interval = interval
        self.peak_rss_kib = 0
        self.peak_disk = 0
        self.peak_files = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self):
        rss, disk, files = 0, 0, 0
        for pid in procmem.children(self.master_pid):
            rss += procmem.status_kib(pid, "VmRSS") or 0
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                link = f"/proc/{pid}/fd/{fd}"
                try:
                    if os.readlink(link).startswith(self.temp_dir):
                        disk += os.stat(link).st_blocks * 512
                        files += 1
                except OSError:
                    continue
        self.peak_rss_kib = max(self.peak_rss_kib, rss)
        self.peak_disk = max(self.peak_disk, disk)
        self.peak_files = max(self.peak_files, files)

    def _loop(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False


def run_design(design, args, stream_root, big_dir, with_baseline):
    """One fresh stack for one design; returns slow_clients.measure's
    results (proxy_pass first when with_baseline) with the front's figures."""
    temp_dir = tempfile.mkdtemp(prefix="dashpiff-alt-temp-")
    os.chmod(temp_dir, 0o777)  # nginx workers run as nobody
    results = []
    try:
        stack = slow_clients.CellStack(stream_root, big_dir, design["fcgi_args"], design["media_buffering"],
                                       front_extra=f"\n    fastcgi_temp_path {temp_dir};\n"
                                                   f"    proxy_temp_path {temp_dir};\n",
                                       build=design["build"])
        try:
            front_pid = stack.stack.front.proc.pid
            if with_baseline:
                with FrontSampler(front_pid, temp_dir) as front:
                    r = slow_clients.measure("proxy_pass", stack.baseline_url, stack.base_paths,
                                             stack.holders(args, baseline=True), args)
                r["front"] = front
                results.append(r)
                time.sleep(2)
            with FrontSampler(front_pid, temp_dir) as front:
                r = slow_clients.measure(design["name"], stack.front_url, stack.dp_paths, stack.holders(args), args,
                                         pool_pid=stack.pool_pid, metrics_url=stack.front_url + "/metrics")
            r["front"] = front
            r["restarts"] = stack.stack.log_text().count("started worker pid=") - len(procmem.workers(stack.pool_pid))
            results.append(r)
        finally:
            stack.close()
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
    return results


def render(results, args, designs, notes):
    base = next((r["rows"] for r in results if r["label"] == "proxy_pass"), {})
    lines = [f"# Slow clients: the alternatives of issue 13, {datetime.date.today().isoformat()}", "",
             f"- load: {args.slow_readers} readers of an 8 MiB segment at {args.read_rate} B/s and "
             f"{args.trickles} trickling origins (1 KB/s), held open; wrk -c{args.wrk_connections}, "
             f"{args.seconds} s per fresh workload after {args.settle} s of settling",
             f"- load average at start {args.load_start}, at end {loadavg()}",
             *[f"- {d['name']}: {d['what']}" for d in designs], *notes, "",
             "| design | workload | req/s | p50 ms | p99 ms | max ms | failed | p99 ÷ proxy_pass |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for workload, c in r["rows"].items():
            failed = c.non_2xx + c.socket_errors
            if c.requests == 0:
                # wrk saw no answer at all: a stall, not a latency.
                lines.append(f"| {r['label']} | {workload} | 0 | — | — | — | all: no answer in {args.seconds} s "
                             f"| stalled |")
                continue
            ratio = f"{c.p99_ms / base[workload].p99_ms:.2f}" if workload in base and base[workload].p99_ms else ""
            lines.append(f"| {r['label']} | {workload} | {c.rps:.0f} | {c.p50_ms:.1f} | {c.p99_ms:.1f} | "
                         f"{c.max_ms:.1f} | {failed} | {ratio} |")
    lines += ["", "| design | held connections open (start / settled / end) | dashpiff workers' peak RSS MiB "
              "| worker restarts | front nginx workers' peak RSS MiB | nginx temporary files at peak (files, MiB on disk) |",
              "|---|---|---:|---:|---:|---|"]
    for r in results:
        rss = r.get("rss") or {}
        workers = " + ".join(f"{kib / 1024:.1f}" for _pid, kib in sorted(rss.items())) if rss else "—"
        front = r["front"]
        lines.append(f"| {r['label']} | {r['open_before']} / {r['open_settled']} / {r.get('open_after', '?')} "
                     f"| {workers} | {r.get('restarts', '—')} | {front.peak_rss_kib / 1024:.1f} "
                     f"| {front.peak_files}, {front.peak_disk / MIB:.0f} |")
    for r in results:
        if "metrics_after" in r:
            lines.append(f"\n- {r['label']} /metrics after settling: {r.get('metrics')}")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--slow-readers", type=int, default=1000)
    p.add_argument("--trickles", type=int, default=100)
    p.add_argument("--read-rate", type=int, default=1024, help="bytes per second per slow reader")
    p.add_argument("--seconds", type=int, default=5, help="wrk time per fresh workload")
    p.add_argument("--settle", type=int, default=5, help="seconds the holders read before wrk starts")
    p.add_argument("--wrk-connections", type=int, default=8)
    p.add_argument("--threaded-build", metavar="DIR",
                   help="build directory of a dashpiff from before the event loop (thread per transfer)")
    p.add_argument("--threads", type=int, default=64, help="--threads of the threaded design (default 64)")
    p.add_argument("--designs", default="event-loop,nginx-spooling,threads",
                   help="comma-separated: event-loop, nginx-spooling, threads")
    p.add_argument("--out", help="results file (default bench/results/tmp/alternatives-DATE-COMMIT.md)")
    args = p.parse_args()
    args.load_start = loadavg()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.slow_readers + args.trickles + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))

    build = dashpiff_stack.BUILD
    wanted = args.designs.split(",")
    designs, notes = [], []
    if "event-loop" in wanted:
        designs.append({"name": "event loop", "build": build, "fcgi_args": [], "media_buffering": False,
                        "what": "dashpiff as built (defaults), fastcgi_buffering off for /media/"})
    if "nginx-spooling" in wanted:
        designs.append({"name": "nginx spooling", "build": build, "fcgi_args": [], "media_buffering": True,
                        "what": "the same pool, fastcgi_buffering on for /media/ (nginx's default temporary "
                                "files, up to 1 GiB each)"})
    if "threads" in wanted:
        if args.threaded_build:
            designs.append({"name": f"threads={args.threads}", "build": args.threaded_build,
                            "fcgi_args": [f"--threads={args.threads}"], "media_buffering": False,
                            "what": "thread per transfer: the --threaded-build binary (from before the event loop), "
                                    f"--threads={args.threads} per worker"})
        else:
            notes.append("- threads: not measured; the current build has no thread-per-transfer mode "
                         "(give --threaded-build DIR, a build of the commit before the event loop)")

    args.tmp = tempfile.mkdtemp(prefix="dashpiff-alt-")
    stream_root = stream.ensure_stream(build, log=slow_clients.log)
    results = []
    try:
        big_dir = slow_clients.write_big_segment(stream_root, args.tmp)
        for i, design in enumerate(designs):
            results += run_design(design, args, stream_root, big_dir, with_baseline=(i == 0))
    finally:
        shutil.rmtree(args.tmp, ignore_errors=True)
    text = render(results, args, designs, notes)
    print(text)
    out = args.out
    if not out:
        commit = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip() or "unknown"
        folder = os.path.join(HERE, "results", "tmp")
        os.makedirs(folder, exist_ok=True)
        out = os.path.join(folder, f"alternatives-{datetime.date.today().isoformat()}-{commit}.md")
    with open(out, "w") as f:
        f.write(text)
    slow_clients.log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
