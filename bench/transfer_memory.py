#!/usr/bin/env python3
"""Memory per paused transfer (issue 13): one worker, N clients that ask for
an 8 MiB segment and read nothing, so every transfer fills what lies between
it and its client and pauses. The worker's RSS with N paused transfers minus
its RSS idle (after one full answer of the same segment, so that libraries,
arenas and the origin connection are warm), divided by N, is the figure the
README and etc/dashpiff.conf state as the bound.

    DASHPIFF_BUILD=build python3 bench/transfer_memory.py [--counts 100,400] [--fcgi-arg=...]

Everything listens on 127.0.0.1; every process is started here and stopped.
"""
import argparse
import os
import resource
import shutil
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scripts"))

import dashpiff_stack  # noqa: E402
import procmem  # noqa: E402
from bench import url_encode  # noqa: E402

BIG = 8 * 1024 * 1024


def open_stalled(port, path):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    return s


def gauge(stack, name):
    try:
        return dashpiff_stack.metric(stack, name) or 0
    except (OSError, RuntimeError):
        return 0


def measure(stack, worker, path, count, settle=1.0, timeout=60):
    """(idle KiB, loaded KiB, paused) for `count` stalled readers."""
    idle = procmem.status_kib(worker, "VmRSS")
    readers = [open_stalled(stack.front_port, path) for _ in range(count)]
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and gauge(stack, "dashpiff_transfers_paused_on_client") < count:
            time.sleep(0.2)
        time.sleep(settle)
        paused = gauge(stack, "dashpiff_transfers_paused_on_client")
        loaded = procmem.status_kib(worker, "VmRSS")
    finally:
        for r in readers:
            r.close()
    # Every transfer ends (client gone) before the next measurement.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and gauge(stack, "dashpiff_transfers_in_flight") > 0:
        time.sleep(0.2)
    return idle, loaded, paused


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--counts", default="100,400", help="paused transfers per measurement, comma-separated")
    p.add_argument("--fcgi-arg", action="append", default=[], help="extra dashpiff-fcgi option (repeatable)")
    args = p.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = max(counts) * 2 + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need), hard))

    big_dir = tempfile.mkdtemp(prefix="dashpiff-mem-")
    os.chmod(big_dir, 0o755)
    with open(os.path.join(big_dir, "big.m4s"), "wb") as f:
        f.write(os.urandom(BIG))
    os.chmod(os.path.join(big_dir, "big.m4s"), 0o644)
    stack = dashpiff_stack.Stack(args=["--workers", "1"] + args.fcgi_arg,
                                 origin_extra=f"location /big/ {{ alias {big_dir}/; }}")
    try:
        stack.start()
        dashpiff_stack.wait_for(lambda: dashpiff_stack.fetch(stack.front_url + "/healthz", timeout=2)[0] == 200,
                                timeout=10, what="healthz")
        worker = procmem.workers(stack.fcgi.pid)[0]
        path = "/media/" + url_encode(stack.origin_url + "/big/") + "/big.m4s"
        status, _, body = dashpiff_stack.fetch(stack.front_url + path, timeout=60)
        if status != 200 or len(body) != BIG:
            raise RuntimeError(f"warm-up answered {status} with {len(body)} bytes")
        print(f"worker {worker}: RSS idle after one full answer {procmem.status_kib(worker, 'VmRSS') / 1024:.1f} MiB")
        for n in counts:
            idle, loaded, paused = measure(stack, worker, path, n)
            per = (loaded - idle) / max(1, n)
            print(f"{n} stalled readers ({paused:.0f} paused): RSS {idle / 1024:.1f} -> {loaded / 1024:.1f} MiB, "
                  f"{per:.0f} KiB per paused transfer")
    finally:
        stack.stop()
        stack.cleanup()
        shutil.rmtree(big_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
