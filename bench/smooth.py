#!/usr/bin/env python3
"""Per-request cost of Smooth Streaming through dashpiff against DASH, on the
same stack and content (issue 15). Four wrk cells, back to back, each a
single request path rotating:

  dash-mpd        /mpd/ of tests/data/streams/piff-only/manifest.mpd (rewrite)
  smooth-manifest /mpd/ of tests/data/streams/smooth-vod-piff/Manifest (parse + MPD written)
  dash-segment    /media/ of piff-only/seg-0-2.m4s (PIFF-only -> CENC, streamed)
  smooth-fragment /media/ of smooth-vod-piff's 2 s video fragment (held whole,
                  tfxd -> tfdt, PIFF-only -> CENC)

The two streams are the same 160x90 encode, encrypted the same way by
piffcrypt, so a pair differs only in what dashpiff does. Prints requests per
second, dashpiff CPU per request and the ratios Smooth/DASH; the ratios are
what to quote (measured in the same run, seconds apart).

  DASHPIFF_BUILD=/path/to/build bench/smooth.py [--seconds 4] [--connections 8] [--rounds 2]
"""
import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "scripts"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
sys.path.insert(0, HERE)

from dashpiff_stack import Stack, fetch  # noqa: E402
from codec import enc  # noqa: E402
import procmem  # noqa: E402
from wrk_cell import run_cell, write_paths  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    stack = Stack(args=["--piff-mode", "auto"]).start()
    try:
        o = stack.origin_url + "/streams/"
        paths = {
            "dash-mpd": "/mpd/" + enc(o + "piff-only/manifest.mpd"),
            "smooth-manifest": "/mpd/" + enc(o + "smooth-vod-piff/Manifest"),
            "dash-segment": "/media/" + enc(o + "piff-only/manifest.mpd") + "/seg-0-2.m4s",
            "smooth-fragment": "/media/" + enc(o + "smooth-vod-piff/Manifest") + "/QualityLevels(44560)/Fragments(video=20800000)",
        }
        for name, p in paths.items():
            status, _, body = fetch(stack.front_url + p)
            if status != 200:
                raise SystemExit(f"{name}: {status} {body[:200]!r}")
            print(f"# {name}: {len(body)} bytes", flush=True)

        def probe():
            return {"dashpiff": procmem.tree_cpu_seconds(stack.fcgi.pid)}

        results = {n: [] for n in paths}
        with tempfile.TemporaryDirectory() as tmp:
            files = {}
            for n, p in paths.items():
                files[n] = os.path.join(tmp, n)
                write_paths(files[n], [p])
            for rnd in range(args.rounds):
                order = list(paths) if rnd % 2 == 0 else list(reversed(paths))
                for n in order:
                    run_cell(stack.front_url, files[n], args.connections, 1)  # warm-up
                    r = run_cell(stack.front_url, files[n], args.connections, args.seconds, cpu_probe=probe)
                    results[n].append(r)
                    print(f"# {n:16} round {rnd + 1}: {r.rps:8.0f} req/s, dashpiff "
                          f"{r.cpu_ms_per_request('dashpiff') * 1000:6.1f} us CPU/request, non-2xx {r.non_2xx}",
                          flush=True)

        def mean(n, f):
            return sum(f(r) for r in results[n]) / len(results[n])

        print(f"\n| workload | req/s | dashpiff CPU µs/request | p99 ms |\n|---|---|---|---|")
        for n in paths:
            print(f"| {n} | {mean(n, lambda r: r.rps):.0f} | "
                  f"{mean(n, lambda r: r.cpu_ms_per_request('dashpiff')) * 1000:.1f} | "
                  f"{mean(n, lambda r: r.p99_ms):.2f} |")
        for a, b in (("smooth-manifest", "dash-mpd"), ("smooth-fragment", "dash-segment")):
            rps = mean(a, lambda r: r.rps) / mean(b, lambda r: r.rps)
            cpu = mean(a, lambda r: r.cpu_ms_per_request("dashpiff")) / mean(b, lambda r: r.cpu_ms_per_request("dashpiff"))
            print(f"\n{a} / {b}: {rps:.2f}x the requests per second, {cpu:.2f}x the dashpiff CPU per request")
    finally:
        stack.stop()
        stack.cleanup()


if __name__ == "__main__":
    main()
