#!/usr/bin/env python3
"""On-demand DASH through dashpiff (issue 15): what the chosen design costs
and what it saves, on one stack (one worker, one thread, so that the rewrite
cache is the one measured), one client, requests one after another.

The origin serves a long PIFF-only on-demand presentation made here from
tests/data/streams/ondemand-piff-only: its fragments repeated --repeat times
(300 subsegments per file, about 10 minutes at 2 s, 3.8 MB of video), one
sidx per file listing them all.

  mpd-live           /mpd/ of piff-only/manifest.mpd, a new query each time:
                     a cold rewrite that reads no index (the baseline)
  mpd-ondemand-cold  /mpd/ of the long on-demand MPD, a new query each time:
                     a cold rewrite that reads 2 indexes (one per file)
  mpd-ondemand-warm  the same URL again: the rewrite cache answers (the
                     origin's 304 to the revalidation, no index read)
  sub-first/sub-last /media/{first}-{last}/ of the first and the last video
                     subsegment: one Range request, converted whole
  old-range-last     the alternative without the expansion: the player's
                     Range for the last subsegment on /media/ of the file,
                     which a patching mode cuts from the converted answer
                     read from byte 0 (for a PIFF-only file, whose first
                     fragment grows, that answer has no known length, so the
                     Range gets the whole file as a 200)

Prints the median and 90th percentile of each in milliseconds and the bytes
answered; quote ratios against mpd-live and sub-last from the same run.

  DASHPIFF_BUILD=/path/to/build bench/ondemand.py [--repeat 100] [--requests 30]
"""
import argparse
import os
import shutil
import statistics
import struct
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "scripts"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
sys.path.insert(0, os.path.join(TOP, "tests", "fixtures"))

from dashpiff_stack import Stack, fetch  # noqa: E402
from codec import enc  # noqa: E402
import ondemand_fixtures as od  # noqa: E402

SOURCE = os.path.join(TOP, "tests", "data", "streams", "ondemand-piff-only")


def long_file(path, repeat):
    """(bytes, init length, index span) of SOURCE's file with its fragments
    repeated `repeat` times under one sidx."""
    data = open(path, "rb").read()
    boxes = od.boxes(data)
    kinds = [k for k, _, _ in boxes]
    s = kinds.index(b"sidx")
    _, s0, s1 = boxes[s]
    timescale, ept, durations = od.read_sidx(data[s0 + 8:s1])
    version = data[s0 + 8]
    fragments = [data[a:b] for k, a, b in boxes[s + 1:] if k == b"moof"]
    mdats = [data[a:b] for k, a, b in boxes[s + 1:] if k == b"mdat"]
    pairs = [m + d for m, d in zip(fragments, mdats)]
    refs = [(len(p), d) for p, d in zip(pairs, durations)] * repeat
    sidx = od.make_sidx(version, 1, timescale, ept, refs)
    init = data[:s0]
    return init + sidx + b"".join(pairs) * repeat, len(init), (len(init), len(init) + len(sidx) - 1)


def make_origin(root, repeat):
    d = os.path.join(root, "long")
    os.makedirs(d)
    text = open(os.path.join(SOURCE, "manifest.mpd"), encoding="utf-8").read()
    for name in ("video.mp4", "audio.mp4"):
        body, init_len, (first, last) = long_file(os.path.join(SOURCE, name), repeat)
        with open(os.path.join(d, name), "wb") as f:
            f.write(body)
        old = text.split(f"<BaseURL>{name}</BaseURL>")[1].split('indexRange="')[1].split('"')[0]
        text = text.replace(f'indexRange="{old}"', f'indexRange="{first}-{last}"', 1)
    text = text.replace('mediaPresentationDuration="PT6.0S"', f'mediaPresentationDuration="PT{6 * repeat}.0S"')
    with open(os.path.join(d, "manifest.mpd"), "w", encoding="utf-8") as f:
        f.write(text)
    for p in [d] + [os.path.join(d, n) for n in os.listdir(d)]:
        os.chmod(p, 0o755 if os.path.isdir(p) else 0o644)


def timed(url, headers=None):
    t = time.perf_counter()
    status, h, body = fetch(url, headers=headers)
    return (time.perf_counter() - t) * 1000, status, len(body), body


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=100)
    ap.add_argument("--requests", type=int, default=30)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="dashpiff-bench-ondemand-")
    os.chmod(tmp, 0o755)
    root = os.path.join(tmp, "origin")
    os.makedirs(root)
    os.chmod(root, 0o755)
    os.symlink(os.path.join(TOP, "tests", "data", "streams"), os.path.join(root, "streams"))
    make_origin(root, args.repeat)
    stack = Stack(args=["--workers", "1", "--threads", "1", "--piff-mode", "auto"], origin_root=root).start()
    try:
        o = stack.origin_url
        live = f"{stack.front_url}/mpd/{enc(o + '/streams/piff-only/manifest.mpd')}"
        ondemand = f"{stack.front_url}/mpd/{enc(o + '/long/manifest.mpd')}"
        _, status, _, body = timed(ondemand + "?warm=1")
        if status != 200 or b"<SegmentList" not in body:
            raise SystemExit(f"the long on-demand MPD was not expanded: {status} {body[:300]!r}")
        import re
        video = re.findall(rb'media="(/media/(\d+)-(\d+)/[^"]*video\.mp4)"', body)
        first_url, last_url = video[0][0].decode(), video[-1][0].decode()
        last_range = f"bytes={int(video[-1][1])}-{int(video[-1][2])}"
        file_url = f"{stack.front_url}/media/{enc(o + '/long/')}/video.mp4"
        print(f"# {len(video)} video subsegments, file {os.path.getsize(os.path.join(root, 'long', 'video.mp4'))} bytes, "
              f"MPD {len(body)} bytes", flush=True)

        cells = {
            "mpd-live": lambda i: timed(f"{live}?n={i}"),
            "mpd-ondemand-cold": lambda i: timed(f"{ondemand}?n={i}"),
            "mpd-ondemand-warm": lambda i: timed(ondemand + "?warm=1"),
            "sub-first": lambda i: timed(stack.front_url + first_url),
            "sub-last": lambda i: timed(stack.front_url + last_url),
            "old-range-last": lambda i: timed(file_url, {"Range": last_range}),
        }
        results = {}
        for name, fn in cells.items():
            fn(-1)  # one untimed request (connection, first-use costs)
            times, sizes, statuses = [], set(), set()
            for i in range(args.requests):
                ms, status, size, _ = fn(i)
                times.append(ms)
                sizes.add(size)
                statuses.add(status)
            times.sort()
            results[name] = statistics.median(times)
            print(f"{name:18} status {sorted(statuses)} bytes {sorted(sizes)[:2]} "
                  f"median {statistics.median(times):7.2f} ms  p90 {times[int(len(times) * 0.9) - 1]:7.2f} ms",
                  flush=True)
        print(f"# cold on-demand rewrite / live rewrite: {results['mpd-ondemand-cold'] / results['mpd-live']:.2f}x; "
              f"per index read: {(results['mpd-ondemand-cold'] - results['mpd-live']) / 2:.2f} ms on loopback", flush=True)
        print(f"# warm on-demand MPD / live rewrite: {results['mpd-ondemand-warm'] / results['mpd-live']:.2f}x", flush=True)
        print(f"# old range of the last subsegment / new subsegment URL: "
              f"{results['old-range-last'] / results['sub-last']:.1f}x", flush=True)
    finally:
        stack.stop()
        stack.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
