#!/usr/bin/env python3
"""Starts the dashpiff stacks the browser suite plays through, writes the
plan of cases and runs the node driver over it.

Two stacks: the default (--piff-mode auto) and the original service's
behaviour (--piff-mode uuid-free). Each front nginx also serves the test page
(tests/browser/www) and the players' libraries (tests/browser/node_modules)
under /test-page/, so page, manifests and segments share one origin; the
origin nginx answers CORS so the same page can play the origin direct.

Every stream under tests/data/streams (a directory with manifest.mpd, or a
Smooth presentation's Manifest, and each MPD in mpd-variants/) is played by
dash.js and Shaka Player, direct and through dashpiff. What a stream must do direct follows from its bytes: media
segments that carry CENC `senc` (or no encryption) must play; segments whose
sample encryption is only in PIFF boxes must not (on-demand files included:
the PIFF-only one is the control that the SegmentBase expansion is what makes
it play) — Chromium reads only CENC
(`senc`, or `saiz`/`saio`: a stream whose saio points into the PIFF box plays
direct, so it is recorded there, not asserted).

The suite's own manifests (tests/browser/streams: remote elements, a
Linked Period, content steering) are
played the same way, with what each player does direct asserted per player
(xlink_cases). Every case through dashpiff also asserts that the page asked
nothing of any host but the proxy (driver.mjs requestsProblem).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "scripts"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))

from dashpiff_stack import player_locations, Stack, fetch  # noqa: E402
import bmff  # noqa: E402
from codec import enc  # noqa: E402
import mpd as mpdlib  # noqa: E402

STREAMS = os.path.join(TOP, "tests", "data", "streams")
# Manifests of this suite's own (tests/browser/streams/NAME/), served by the
# origin under /NAME/ with @ORIGIN@ replaced by its URL; their media are the
# streams above.
OWN_STREAMS = os.path.join(HERE, "streams")
# The fixed test key and KID (tests/data/streams/README.md, scripts/make-fixtures.sh).
KID = "00112233445566778899aabbccddeeff"
KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
PLAYERS = ("dashjs", "shaka")

# Origin answers readable by a page on another port, Range included (the
# on-demand profile's requests are not CORS-safelisted in every browser).
ORIGIN_CORS = """
        add_header Access-Control-Allow-Origin "*" always;
        add_header Access-Control-Allow-Headers "Range" always;
        add_header Access-Control-Expose-Headers "Content-Length, Content-Range" always;
        if ($request_method = OPTIONS) { return 204; }
"""

TYPES = "types { text/html html; application/javascript js mjs; text/css css; application/json json map; }"
FRONT_TEST_PAGE = f"""
        location ^~ /test-page/lib/ {{
            alias {HERE}/node_modules/;
            {TYPES}
        }}
        location ^~ /test-page/ {{
            alias {HERE}/www/;
            {TYPES}
        }}
"""


def serve_own_streams(served_dir):
    """The origin's locations for OWN_STREAMS, copied under served_dir
    (written by fill_own_streams once the origin's port is known)."""
    out = ""
    for name in sorted(os.listdir(OWN_STREAMS)):
        out += f"        location ^~ /streams/{name}/ {{ alias {served_dir}/{name}/; }}\n"
    return out


def fill_own_streams(served_dir, origin_url):
    for root, _, files in os.walk(OWN_STREAMS):
        target = os.path.join(served_dir, os.path.relpath(root, OWN_STREAMS))
        os.makedirs(target, mode=0o755, exist_ok=True)
        os.chmod(target, 0o755)  # nginx workers run as nobody
        for f in files:
            with open(os.path.join(root, f)) as src:
                text = src.read().replace("@ORIGIN@", origin_url)
            with open(os.path.join(target, f), "w") as dst:
                dst.write(text)
            os.chmod(os.path.join(target, f), 0o644)


def manifests():
    """[(name, path under tests/data)] for every test stream."""
    out = []
    for d in sorted(os.listdir(STREAMS)):
        if os.path.exists(os.path.join(STREAMS, d, "manifest.mpd")):
            out.append((d, f"streams/{d}/manifest.mpd"))
        elif os.path.exists(os.path.join(STREAMS, d, "Manifest")):
            out.append((d, f"streams/{d}/Manifest"))  # a Smooth Streaming presentation
    variants = os.path.join(STREAMS, "mpd-variants")
    if os.path.isdir(variants):
        for f in sorted(os.listdir(variants)):
            if f.endswith(".mpd"):
                out.append((f"mpd-variants/{f[:-4]}", f"streams/mpd-variants/{f}"))
    return out


def classify(origin_url, rel):
    """'clear', 'cenc' (CENC senc, PIFF maybe beside it), 'piff+saio' (PIFF
    box and CENC saiz/saio, no senc) or 'piff-only', from the media segments
    the manifest names; also the number of Periods."""
    mpd_url = f"{origin_url}/{rel}"
    status, _, body = fetch(mpd_url)
    if status != 200:
        raise RuntimeError(f"{mpd_url}: {status}")
    kinds = set()
    # An on-demand (SegmentBase) Representation is one file: its fragments
    # are judged in it.
    media = [u for _, kind, u in mpdlib.segment_urls(body, mpd_url) if kind in ("media", "file")]
    for url in media:
        status, _, data = fetch(url)
        if status == 404:
            # tests/e2e/mpd.py counts segments from the whole presentation's
            # duration when a Period has no @duration, so it names a few
            # past a Period's end; the player never asks for those.
            continue
        if status != 200:
            raise RuntimeError(f"{url}: {status}")
        boxes = list(bmff.walk(data))
        has_senc = any(b[1] == b"senc" for b in boxes)
        has_piff = any(b[1] == b"uuid" and b[5] == bmff.PIFF_SENC for b in boxes)
        has_aux = any(b[1] in (b"saiz", b"saio") for b in boxes)
        if has_senc:
            kinds.add("cenc")
        elif has_piff:
            # saiz/saio pointing into the PIFF box hand Chromium the IVs
            # without any senc: such a stream plays direct in Chromium.
            kinds.add("piff+saio" if has_aux else "piff-only")
        else:
            kinds.add("clear")
    if not kinds:
        raise RuntimeError(f"{mpd_url}: no media segments found")
    if len(kinds) > 1:
        # A stream mixing forms would make the direct expectation ambiguous.
        return "mixed:" + "+".join(sorted(kinds)), body.count(b"<Period")
    return kinds.pop(), body.count(b"<Period")


def mint(stack, origin_mpd_url):
    status, _, body = fetch(stack.front_url + "/create?url=" + urllib.parse.quote(origin_mpd_url, safe=""))
    if status != 200:
        raise RuntimeError(f"/create answered {status}: {body[:200]!r}")
    return json.loads(body)["url"]


def build_plan(default, seed, args):
    cases = []

    def add(stream, kind, periods, player, path, mode, mpd_url, stack, expect, **checks):
        # A multi-period stream starts shortly before the boundary so that a
        # short run crosses it.
        start = 4.5 if periods > 1 else None
        page = (stack.front_url + "/test-page/play.html?" +
                urllib.parse.urlencode({"player": player, "mpd": mpd_url, "kid": KID, "key": KEY,
                                        **({"start": start} if start is not None else {})}))
        name = f"browser.{mode}.{path}.{player}.{stream}"
        case = {"name": name, "stream": stream, "kind": kind, "player": player, "path": path,
                "mode": mode, "mpd": mpd_url, "page": page, "expect": expect,
                "target_time": (start or 0) + args.play_seconds,
                "min_time": (start or 0) + 1.0}
        if path == "dashpiff":
            # Through dashpiff nothing the page fetches may come from anywhere
            # but the proxy (driver.mjs requestsProblem).
            case["via"] = stack.front_url
        case.update(checks)
        if stream.startswith("ondemand-"):
            # Every subsegment decoded, not only some: a SegmentList whose
            # URLs a player maps to the wrong times reaches the end with a
            # third of the frames (dash.js fetched the first URL of a run of
            # equal durations three times), which the default minimum allows.
            case["min_frames"] = int(args.play_seconds * 25 * 0.8)
        cases.append(case)

    for stream, rel in manifests():
        if args.only and args.only not in stream:
            continue
        origin_mpd = f"{default.origin_url}/{rel}"
        if rel.endswith("/Manifest"):
            # Smooth: through dashpiff both players get a DASH MPD and must
            # play. Direct, only dash.js reads Smooth (its MSS module): the
            # clear presentation is the control that the fixture itself plays;
            # the protected ones are recorded (dash.js's MSS ClearKey path is
            # its own business).
            kind = "smooth-piff" if "piff" in stream else "smooth-clear"
            proxied = mint(default, origin_mpd)
            for player in PLAYERS:
                direct = "play" if (player == "dashjs" and kind == "smooth-clear") else "record"
                add(stream, kind, 1, player, "direct", "origin", origin_mpd, default, direct)
                add(stream, kind, 1, player, "dashpiff", "auto", proxied, default, "play")
            continue
        kind, periods = classify(default.origin_url, rel)
        proxied = mint(default, origin_mpd)
        proxied_seed = mint(seed, f"{seed.origin_url}/{rel}")
        for player in PLAYERS:
            # piff+saio is only recorded direct: whether a browser finds the
            # IVs through saio alone is its business, not dashpiff's.
            direct_expect = {"clear": "play", "cenc": "play", "piff-only": "fail"}.get(kind, "record")
            add(stream, kind, periods, player, "direct", "origin", origin_mpd, default, direct_expect)
            add(stream, kind, periods, player, "dashpiff", "auto", proxied, default, "play")
            if kind == "cenc" and not stream.startswith("mpd-variants/"):
                # The seed-compatible rewrite is about segments, so the
                # streams themselves are enough; the MPD variants share them.
                add(stream, kind, periods, player, "dashpiff", "uuid-free", proxied_seed, seed, "play")
    if not args.only or args.only in "xlink":
        xlink_cases(default, add)
    if not args.only or args.only in "linked":
        linked_cases(default, add)
    if not args.only or args.only in "steering":
        steering_cases(default, add)
    # The /player page of the default stack, pasted an origin manifest, must
    # play it through the proxy and list the changes made to the last video
    # segment, for a CENC+PIFF stream and a PIFF-only one.
    for stream in ("cenc-piff", "piff-only"):
        if args.only and args.only not in stream:
            continue
        if not os.path.exists(os.path.join(STREAMS, stream, "manifest.mpd")):
            continue
        origin_mpd = f"{default.origin_url}/streams/{stream}/manifest.mpd"
        page = default.front_url + "/player?" + urllib.parse.urlencode({"url": origin_mpd, "kid": KID, "key": KEY})
        cases.append({"name": f"browser.player-page.{stream}", "stream": stream, "kind": "player-page",
                      "player": "dashjs", "path": "/player", "mode": "auto", "mpd": origin_mpd, "page": page,
                      "expect": "play+changes", "probe": "player-page", "via": default.front_url,
                      "target_time": args.play_seconds, "min_time": 1.0})
    return cases


def exactly(items):
    """[what, regular expression] (must_request) for [what, URL] pairs."""
    return [(what, "^" + re.escape(url) + "$") for what, url in items]


def through_proxy(stack, manifests=(), media=()):
    """The same, for manifests fetched through /mpd/ and segments through
    /media/. Whatever part of its base the rewrite encoded, a proxied segment
    address holds the stream's directory name, encoded or not."""
    out = [(what, "^" + re.escape(f"{stack.front_url}/mpd/{enc(url)}") + "$") for what, url in manifests]
    out += [(what, "^" + re.escape(f"{stack.front_url}/media/") + ".*" + re.escape(url.split("/")[-2]) + "(/|!1)")
            for what, url in media]
    return out


def xlink_cases(stack, add):
    """Remote elements (tests/browser/streams/xlink, ISO/IEC 23009-1 §5.5):
    through dashpiff every player must fetch each remote element by its
    proxied /mpd/ form, and the media of both Periods, and nothing from the
    origin (`via`). Direct, what each player does with the hrefs is asserted
    as it is:
    - Shaka (lib/dash/mpd_utils.js processXlinks) resolves an href against
      the MPD's URL and fetches all three, relative or absolute.
    - dash.js (XlinkController) fetches an href as written only if it is an
      absolute http(s) URL; any other it prefixes with the element's own
      BaseURL (none here: "undefinedperiod-0.xml", relative to the page) and
      reports the failure as an error. Direct it fetches the absolute audio
      AdaptationSet only, never the relative ones, and does not play.
      Through dashpiff every href is the proxy's absolute URL (public_base
      in the rewrite; a path-absolute "/mpd/..." became
      "undefined/mpd/..."), and it plays."""
    o = stack.origin_url
    origin_mpd = f"{o}/streams/xlink/manifest.mpd"
    remote = [("remote Period 0 (relative href)", f"{o}/streams/xlink/period-0.xml"),
              ("remote video AdaptationSet (relative href)", f"{o}/streams/xlink/remote/video.xml"),
              ("remote audio AdaptationSet (absolute href)", f"{o}/streams/xlink/audio.xml")]
    media = [("Period 0 media", f"{o}/streams/cenc-piff/seg-0-3.m4s"),
             ("Period 1 media", f"{o}/streams/multi-moof/seg-1-1.m4s")]
    proxied = mint(stack, origin_mpd)
    direct = {"shaka": dict(expect="play", must_request=exactly(remote + media)),
              "dashjs": dict(expect="fail", must_request=exactly(remote[2:3]), must_not_request=exactly(remote[:2]))}
    for player in PLAYERS:
        add("xlink", "cenc", 2, player, "direct", "origin", origin_mpd, stack, **direct[player])
        add("xlink", "cenc", 2, player, "dashpiff", "auto", proxied, stack, "play",
            must_request=through_proxy(stack, remote, media))


def linked_cases(stack, add):
    """A Linked Period (tests/browser/streams/linked, ISO/IEC 23009-1 6th ed.
    §5.3.2.6). Shaka (MpdUtils.processLinkedPeriods) fetches the MPD its
    ImportedMPD names and plays that MPD's Period (cenc-piff segments),
    never the Linked Period's own content; dash.js knows no ImportedMPD and
    plays the Linked Period's own (multi-moof). Both play, direct and
    through dashpiff, where the imported MPD comes through /mpd/ and
    nothing from the origin (`via`)."""
    o = stack.origin_url
    origin_mpd = f"{o}/streams/linked/manifest.mpd"
    imported = [("the imported MPD", f"{o}/streams/linked/imported.mpd")]
    own = [("the Linked Period's own media", f"{o}/streams/multi-moof/seg-0-1.m4s")]
    theirs = [("the imported Period's media", f"{o}/streams/cenc-piff/seg-0-1.m4s")]
    proxied = mint(stack, origin_mpd)
    for player in PLAYERS:
        fetched, not_fetched = (imported + theirs, own) if player == "shaka" else (own, imported + theirs)
        add("linked", "cenc", 1, player, "direct", "origin", origin_mpd, stack, "play",
            must_request=exactly(fetched), must_not_request=exactly(not_fetched))
        add("linked", "cenc", 1, player, "dashpiff", "auto", proxied, stack, "play",
            must_request=through_proxy(stack, fetched[:-1] if player == "shaka" else (), fetched[-1:]),
            must_not_request=through_proxy(stack, not_fetched[:-1] if player != "shaka" else (), not_fetched[-1:]))


def steering_cases(stack, add):
    """Content steering (tests/browser/streams/steering, DASH-IF CTS 001):
    the MPD names a steering server on the origin that puts pathway "beta"
    (multi-moof) before "alpha" (cenc-piff). Direct, both players ask it
    before playback and fetch beta's segments, never alpha's. Through
    dashpiff the MPD carries no ContentSteering (src/mpd/rewriter.cpp
    drop_content_steering): nothing asks the steering server (`via`: it is
    on the origin) and the players take the first BaseURL, alpha."""
    o = stack.origin_url
    origin_mpd = f"{o}/streams/steering/manifest.mpd"
    # A prefix: a later steering request carries the player's own query
    # (_DASH_pathway, _DASH_throughput).
    steer = [("the steering server", "^" + re.escape(f"{o}/streams/steering/steer.json"))]
    alpha = [("pathway alpha's media", f"{o}/streams/cenc-piff/seg-0-1.m4s")]
    beta = [("pathway beta's media", f"{o}/streams/multi-moof/seg-0-1.m4s")]
    proxied = mint(stack, origin_mpd)
    for player in PLAYERS:
        add("steering", "cenc", 1, player, "direct", "origin", origin_mpd, stack, "play",
            must_request=steer + exactly(beta), must_not_request=exactly(alpha))
        add("steering", "cenc", 1, player, "dashpiff", "auto", proxied, stack, "play",
            must_request=through_proxy(stack, media=alpha), must_not_request=through_proxy(stack, media=beta))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chromium", default=os.environ.get("DASHPIFF_CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--artifacts", default=os.path.join(HERE, "artifacts"))
    ap.add_argument("--play-seconds", type=float, default=3.0, help="media time to reach per case")
    ap.add_argument("--only", help="only streams whose name contains this")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("DASHPIFF_BROWSER_JOBS", "3")))
    ap.add_argument("--serve", action="store_true", help="start the stacks, print the test page URLs and wait")
    args = ap.parse_args()

    common = dict(origin_extra=ORIGIN_CORS, front_server_extra=FRONT_TEST_PAGE + player_locations())
    own = tempfile.mkdtemp(prefix="dashpiff-browser-streams-")
    os.chmod(own, 0o755)
    default = Stack(args=["--piff-mode", "auto", "--player-page", "true"],
                    **{**common, "origin_extra": ORIGIN_CORS + serve_own_streams(os.path.join(own, "streams"))})
    fill_own_streams(os.path.join(own, "streams"), default.origin_url)
    seed = Stack(args=["--piff-mode", "uuid-free"], **common)
    started = []
    try:
        for s in (default, seed):
            s.start()
            started.append(s)
        cases = build_plan(default, seed, args)
        if args.serve:
            for c in cases:
                print(c["name"], c["page"])
            print(f"player page: {default.front_url}/player/")
            input("Enter stops the stacks. ")
            return 0
        os.makedirs(args.artifacts, exist_ok=True)
        plan = {
            "chromium": args.chromium,
            "artifacts": args.artifacts,
            "concurrency": args.jobs,
            # A case has played once it reached target media time with at
            # least target frames decoded (25 fps streams); it counts as
            # played with min_frames and min media time and no error.
            "play": {"target_time": args.play_seconds, "target_frames": int(args.play_seconds * 25 * 0.8),
                     "min_time": 1.0, "min_frames": 25,
                     # Give up on a case that makes no progress for stall_ms
                     # (startup included: a loaded CI machine is slow to
                     # parse the players), or after cap_ms whatever happens.
                     "stall_ms": 10000, "cap_ms": 30000},
            "cases": cases,
        }
        plan_file = os.path.join(args.artifacts, "plan.json")
        with open(plan_file, "w") as f:
            json.dump(plan, f, indent=1)
        status = subprocess.call(["node", os.path.join(HERE, "driver.mjs"), plan_file], cwd=HERE)
        if status != 0:
            for s, mode in zip(started, ("auto", "uuid-free")):
                saved = os.path.join(args.artifacts, f"dashpiff-{mode}.log")
                with open(saved, "w") as f:
                    f.write(s.log_text())
                # What the service said about the segments it did not patch
                # is usually the cause; then the log's tail.
                lines = s.log_text().splitlines()
                notes = []
                for line in lines:
                    m = re.search(r'note="(passed through[^"]*)"', line)
                    if m and m.group(1) not in notes:
                        notes.append(m.group(1))
                print(f"  dashpiff log ({mode}): {saved}")
                for note in notes[:5]:
                    print("  | segment " + note[:300])
                for line in lines[-8:]:
                    print("  | " + line[:300])
        return status
    finally:
        for s in reversed(started):
            s.stop()
        for s in (default, seed):
            s.cleanup()
        shutil.rmtree(own, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
