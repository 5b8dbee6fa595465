#!/usr/bin/env python3
"""Profile one dashpiff worker under load with valgrind's callgrind (perf
cannot count cycles on these machines).

  DASHPIFF_BUILD=/tmp/b-bench python3 bench/profile.py [--workload seg1m] [--mode free]
        [--connections 8] [--seconds 10] [--out DIR]

Starts the benchmark stack, runs the pool as one process (--no-supervisor)
under callgrind, drives it with wrk, stops it (callgrind writes its profile
on exit) and prints callgrind_annotate's inclusive and exclusive summaries.
Under callgrind the worker runs some 50 times slower: the request count is
small, but instruction counts per request are exact and load-independent.
Open the profile with kcachegrind, or:
  callgrind_annotate --inclusive=yes OUT/callgrind.out.PID
"""
import argparse
import glob
import os
import shutil
import stat
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench  # noqa: E402
import dashpiff_stack  # noqa: E402
import stream  # noqa: E402
from wrk_cell import run_cell  # noqa: E402

WRAPPER = """#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file={out}/callgrind.out.%p {extra} {binary} "$@"
"""


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", choices=bench.WORKLOADS, default="seg1m")
    p.add_argument("--mode", default="free", help="--piff-mode of the profiled worker")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--threads", type=int, default=8, help="serving threads of the profiled worker")
    p.add_argument("--valgrind-arg", action="append", default=[], help="extra valgrind option, repeatable")
    p.add_argument("--out", default=os.path.join(HERE, ".cache", "profile"))
    args = p.parse_args()

    real_build = dashpiff_stack.BUILD
    binary = os.path.join(real_build, "fcgi", "dashpiff-fcgi")
    if not os.access(binary, os.X_OK):
        sys.exit(f"profile: {binary} not built")
    out = os.path.abspath(args.out)
    shutil.rmtree(out, ignore_errors=True)
    # The wrapper stands in for the build directory's binary: Stack starts
    # BUILD/fcgi/dashpiff-fcgi under spawn-fcgi -n, which execs it.
    wrap_build = os.path.join(out, "build")
    os.makedirs(os.path.join(wrap_build, "fcgi"))
    wrapper = os.path.join(wrap_build, "fcgi", "dashpiff-fcgi")
    with open(wrapper, "w") as f:
        f.write(WRAPPER.format(out=out, binary=binary, extra=" ".join(args.valgrind_arg)))
    os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    opts = argparse.Namespace(baseline_directives=bench.BASELINE_DIRECTIVES, front_workers="auto", warmup=1,
                              fcgi_arg=["--no-supervisor", f"--threads={args.threads}"])
    b = bench.Bench(opts)
    stream_root = stream.ensure_stream(real_build, log=bench.log)
    b.start_stack(stream_root)
    try:
        b.start_pool("auto")  # not profiled: only finds the request paths
        b.discover_paths(stream_root)
        b.stop_pool()
        dashpiff_stack.BUILD = wrap_build
        b.start_pool(args.mode)
        # valgrind starts slowly; wait for the first answer.
        dashpiff_stack.wait_for(lambda: dashpiff_stack.fetch(b.front_url + "/healthz", timeout=30)[0] == 200,
                                timeout=60, what="the worker under callgrind")
        paths_file = b.path_files[("dashpiff", args.workload)]
        r = run_cell(b.front_url, paths_file, args.connections, args.seconds, timeout_s=60)
        bench.log(f"under callgrind: {r.requests} requests, {r.non_2xx} non-2xx, {r.socket_errors} socket errors")
        time.sleep(1)
        b.stop_pool()
    finally:
        dashpiff_stack.BUILD = real_build
        b.cleanup()
    profiles = sorted(glob.glob(os.path.join(out, "callgrind.out.*")), key=os.path.getsize)
    if not profiles:
        sys.exit("profile: callgrind wrote nothing")
    profile = profiles[-1]
    print(f"profile: {profile} ({r.requests} requests of {args.workload}, piff-mode {args.mode})\n")
    for inclusive in ("yes", "no"):
        subprocess.run(["callgrind_annotate", f"--inclusive={inclusive}", "--threshold=95", profile])


if __name__ == "__main__":
    main()
