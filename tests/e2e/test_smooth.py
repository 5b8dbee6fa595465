#!/usr/bin/env python3
"""End to end: Smooth Streaming presentations through the real stack (origin
nginx serving the ffmpeg-made fixtures under their Smooth URLs, spawn-fcgi +
dashpiff-fcgi, front nginx). The MPD dashpiff answers is walked as a player
would; every synthesised init and converted fragment is judged by tools the
project did not write: ffmpeg decrypts each fragment to the clear
presentation's frames, mp4box.js reads its CENC records and finds them equal
to the PIFF records the origin sent."""
import datetime
import os
import re
import shutil
import sys
import tempfile
import urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, HERE)

from dashpiff_stack import Stack, fetch, wait_for  # noqa: E402
from codec import enc  # noqa: E402
from harness import check, expect, run  # noqa: E402
import bmff  # noqa: E402
import check_convert as judge  # noqa: E402
import mpd  # noqa: E402

DATA = os.path.join(HERE, "..", "data")
KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
NS = "{urn:mpeg:dash:schema:mpd:2011}"
CENC = "{urn:mpeg:cenc:2013}"

# Hostile or unsupported manifests the origin serves beside the fixtures.
BAD = {
    "major1": '<SmoothStreamingMedia MajorVersion="1"/>',
    "backwards": '<SmoothStreamingMedia MajorVersion="2"><StreamIndex Type="video" '
                 'Url="QualityLevels({bitrate})/Fragments(video={start time})"><QualityLevel Bitrate="1" '
                 'FourCC="H264" MaxWidth="2" MaxHeight="2" CodecPrivateData="00000001674d400b0000000168ef"/>'
                 '<c t="100" d="10"/><c t="50" d="10"/></StreamIndex></SmoothStreamingMedia>',
    "vc1": '<SmoothStreamingMedia MajorVersion="2"><StreamIndex Type="video" '
           'Url="QualityLevels({bitrate})/Fragments(video={start time})"><QualityLevel Bitrate="1" '
           'FourCC="WVC1" MaxWidth="2" MaxHeight="2"/><c d="10"/></StreamIndex></SmoothStreamingMedia>',
}


def proxied_mpd(state, stream):
    url = state["stack"].front_url + "/create?url=" + urllib.parse.quote(
        state["stack"].origin_url + f"/streams/{stream}/Manifest", safe="")
    status, _, body = fetch(url)
    expect(status == 200, f"/create answered {status}")
    import json
    mpd_url = json.loads(body)["url"]
    status, headers, body = fetch(mpd_url)
    expect(status == 200, f"MPD of {stream}: {status} {body[:200]!r}")
    return mpd_url, headers, body


def urls_by_rep(mpd_url, body):
    reps = {}
    for rid, kind, url in mpd.segment_urls(body, mpd_url):
        reps.setdefault(rid, {"init": None, "media": []})
        if kind == "init":
            reps[rid]["init"] = url
        else:
            reps[rid]["media"].append(url)
    return reps


def get(url, **kw):
    status, headers, body = fetch(url, **kw)
    expect(status == 200, f"{url}: {status} {body[:200]!r}")
    return headers, body


def write(state, name, data):
    path = os.path.join(state["tmp"], name)
    with open(path, "wb") as f:
        f.write(data)
    return path


@check
def vod_manifest_becomes_a_static_mpd_with_playready_and_cenc(state):
    _, headers, body = proxied_mpd(state, "smooth-vod-piff")
    expect(headers["Content-Type"] == "application/dash+xml", headers["Content-Type"])
    root = ET.fromstring(body)
    expect(root.get("type") == "static", root.get("type"))
    sets = root.findall(f"{NS}Period/{NS}AdaptationSet")
    expect([s.get("contentType") for s in sets] == ["video", "audio"], [s.get("contentType") for s in sets])
    for s in sets:
        cps = {cp.get("schemeIdUri"): cp for cp in s.findall(f"{NS}ContentProtection")}
        mp4 = cps.get("urn:mpeg:dash:mp4protection:2011")
        expect(mp4 is not None and mp4.get(f"{CENC}default_KID") == "00112233-4455-6677-8899-aabbccddeeff",
               "no cenc descriptor with the KID")
        expect("urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95" in cps, "no PlayReady descriptor")


@check
def every_init_and_fragment_answers_complete(state):
    for stream in ("smooth-vod", "smooth-vod-piff", "smooth-live-piff"):
        mpd_url, _, body = proxied_mpd(state, stream)
        reps = urls_by_rep(mpd_url, body)
        expect(len(reps) == 2, f"{stream}: {len(reps)} representations")
        for rid, r in reps.items():
            h, init = get(r["init"])
            expect(h["Content-Type"] == "video/mp4" and h["ETag"] and int(h["Content-Length"]) == len(init),
                   f"{stream} init headers {dict(h)}")
            expect(init[4:8] == b"ftyp", "init does not start with ftyp")
            for url in r["media"]:
                h, frag = get(url)
                expect(int(h["Content-Length"]) == len(frag), f"{url}: Content-Length {h['Content-Length']}")
                expect(frag[4:8] == b"moof", f"{url} does not start with moof")


@check
def head_and_range_on_a_fragment_describe_the_whole_converted_answer(state):
    mpd_url, _, body = proxied_mpd(state, "smooth-vod-piff")
    url = next(iter(urls_by_rep(mpd_url, body).values()))["media"][1]
    _, full = get(url)
    status, h, empty = fetch(url, method="HEAD")
    expect(status == 200 and int(h["Content-Length"]) == len(full) and empty == b"", f"HEAD {status} {dict(h)}")
    status, h, ranged = fetch(url, headers={"Range": "bytes=0-99"})
    expect(status == 200 and ranged == full, f"Range answered {status}, {len(ranged)} bytes")


@check
def conditional_requests_on_init_and_fragment_get_304_with_the_200s_etag(state):
    # RFC 9110 §15.4.5: a 304 carries the ETag the 200 would have, whether
    # the client asked by tag or by date; a tag of the origin's own bytes
    # never matches a converted fragment.
    mpd_url, _, body = proxied_mpd(state, "smooth-vod-piff")
    rep = next(iter(urls_by_rep(mpd_url, body).values()))
    for what, url in (("init", rep["init"]), ("fragment", rep["media"][1])):
        h, full = get(url)
        etag, lm = h["ETag"], h["Last-Modified"]
        expect(etag and lm, f"{what}: ETag {etag}, Last-Modified {lm}")
        for cond in ({"If-None-Match": etag}, {"If-Modified-Since": lm}):
            status, nh, nbody = fetch(url, headers=cond)
            expect(status == 304 and nbody == b"" and nh["ETag"] == etag,
                   f"{what} {list(cond)[0]}: {status}, ETag {nh['ETag']} (the 200's {etag})")
        status, _, again = fetch(url, headers={"If-None-Match": '"something-else"'})
        expect(status == 200 and again == full, f"{what} with another tag: {status}")
    h, _ = get(rep["media"][1])
    expect(h["ETag"].startswith("W/") and h["ETag"].endswith('.dashpiff-mss"'), f"fragment ETag {h['ETag']}")
    origin_tag = '"' + h["ETag"][3:-len('.dashpiff-mss"')] + '"'
    status, _, _ = fetch(rep["media"][1], headers={"If-None-Match": origin_tag})
    expect(status == 200, f"fragment with the origin's own tag {origin_tag}: {status}")


@check
def converted_fragments_decrypt_to_the_clear_frames(state):
    clear_url, _, clear_body = proxied_mpd(state, "smooth-vod")
    piff_url, _, piff_body = proxied_mpd(state, "smooth-vod-piff")
    clear, piff = urls_by_rep(clear_url, clear_body), urls_by_rep(piff_url, piff_body)
    expect(len(clear) == len(piff) == 2, "representation counts")
    checked = 0
    for (rid, c), (_, p) in zip(sorted(clear.items()), sorted(piff.items())):
        _, clear_init = get(c["init"])
        _, piff_init = get(p["init"])
        expect(len(c["media"]) == len(p["media"]) == 3, f"{rid}: fragment counts")
        for i, (cu, pu) in enumerate(zip(c["media"], p["media"])):
            rc, want, err = judge.framecrc(write(state, f"c-{rid}-{i}.mp4", clear_init + get(cu)[1]))
            expect(rc == 0 and want, f"{rid} #{i}: ffmpeg cannot decode the clear Smooth fragment: {err}")
            path = write(state, f"p-{rid}-{i}.mp4", piff_init + get(pu)[1])
            rc, got, err = judge.framecrc(path, KEY)
            expect(rc == 0 and got == want, f"{rid} #{i}: decrypted frames differ from the clear ones ({err})")
            # Control: the same fragment without the key does not decode to them.
            rc, nokey, _ = judge.framecrc(path)
            expect(nokey != want, f"{rid} #{i}: frames decoded without the key")
            checked += 1
    expect(checked == 6, f"{checked} fragments checked")


@check
def mp4box_reads_the_origins_piff_records_as_cenc(state):
    judge.ensure_node_modules()
    piff_url, _, piff_body = proxied_mpd(state, "smooth-vod-piff")
    streams = os.path.join(DATA, "streams", "smooth-vod-piff")
    for rid, p in sorted(urls_by_rep(piff_url, piff_body).items()):
        init = write(state, f"i-{rid}.mp4", get(p["init"])[1])
        view, err = judge.init_view(init)
        expect(view is not None, f"mp4box.js cannot read the synthesised init: {err}")
        expect(view["piff_boxes"] == 0, view)
        expect("00112233445566778899aabbccddeeff" in str(view).replace("-", "").lower(), f"KID not in {view}")
        for url in p["media"]:
            rel = urllib.parse.unquote(url.split("/", 5)[-1])
            with open(os.path.join(streams, rel), "rb") as f:
                raw = bytearray(f.read())
            # mp4box.js's PIFF view reads only default-base-is-moof fragments;
            # for this one-traf fragment without base-data-offset the flag
            # changes nothing (ISO/IEC 14496-12 8.8.7.1), so the test sets it.
            for tfhd in bmff.find(bytes(raw), b"tfhd"):
                raw[tfhd[2] + 9] |= 0x02
            origin = write(state, f"o-{rid}.m4s", bytes(raw))
            converted = write(state, f"f-{rid}.m4s", get(url)[1])
            after, err = judge.cenc_view("cenc", init, converted)
            expect(after is not None, f"mp4box.js cannot read {url}: {err}")
            before, err = judge.cenc_view("piff", init, origin)
            expect(before is not None, f"mp4box.js cannot read the origin fragment {rel}: {err}")
            expect(after["piff_boxes"] == 0, "PIFF boxes left")
            expect(after["mdats"] == before["mdats"], "mdat bytes changed")
            expect(after["moofs"] == before["moofs"], "IVs, subsamples or sample bytes differ from the PIFF records")
            expect(sum(len(t["samples"]) for m in after["moofs"] for t in m["trafs"]) > 0, "no samples")


@check
def live_manifest_becomes_a_dynamic_mpd_anchored_now(state):
    _, headers, body = proxied_mpd(state, "smooth-live-piff")
    root = ET.fromstring(body)
    expect(root.get("type") == "dynamic", root.get("type"))
    ast = datetime.datetime.strptime(root.get("availabilityStartTime"), "%Y-%m-%dT%H:%M:%S.%fZ")
    now = datetime.datetime.utcnow()
    # Newest fragment end 6.08 s, earliest start 2.0 s: anchored 4.08 s ago.
    lag = (now - ast).total_seconds()
    expect(4.0 <= lag <= 60, f"availabilityStartTime {lag:.2f} s before now")
    expect("ETag" not in headers, "a live MPD carries the origin's validator")
    timelines = root.findall(f".//{NS}SegmentTimeline")
    expect(all(len(t.findall(f"{NS}S")) == 2 for t in timelines), "window of two fragments")


@check
def refusals_name_their_reason(state):
    stack = state["stack"]
    mpd_url, _, body = proxied_mpd(state, "smooth-vod-piff")
    init = next(iter(urls_by_rep(mpd_url, body).values()))["init"]
    base = init.rsplit("/", 1)[0]
    status, _, text = fetch(base + "/9-0.mp4")
    expect(status == 404 and b"no stream 9" in text, f"{status} {text!r}")
    status, _, text = fetch(base + "/x.mp4")
    expect(status == 400, f"{status} {text!r}")
    from codec import enc
    for name, want in (("major1", b"MajorVersion 1"), ("backwards", b"goes back"), ("vc1", b"WVC1")):
        status, _, text = fetch(stack.front_url + "/mpd/" + enc(stack.origin_url + f"/bad/{name}/Manifest"))
        expect(status == 502 and want in text, f"{name}: {status} {text!r}")
    status, _, text = fetch(stack.front_url + "/mss-init/" + enc(stack.origin_url + "/streams/clear/manifest.mpd") + "/0-0.mp4")
    expect(status == 502 and b"not a Smooth" in text, f"{status} {text!r}")
    # A missing fragment is the origin's 404, passed on.
    status, _, _ = fetch(stack.front_url + "/media/" + enc(stack.origin_url + "/streams/smooth-vod/Manifest") +
                         "/QualityLevels(44560)/Fragments(video=1)")
    expect(status == 404, f"missing fragment answered {status}")


@check
def a_fragment_passed_in_mode_off_gets_a_304_without_a_length(state):
    # RFC 9110 §8.6: a 304 may carry a Content-Length only if it is the
    # 200's; the origin's 304 passed as a whole answer said 0.
    stack = state["stack"]
    stack.stop_fcgi()
    stack.start_fcgi(["--piff-mode", "off"])
    try:
        wait_for(lambda: fetch(stack.front_url + "/healthz")[0] == 200, what="the pool in piff-mode off")
        url = (stack.front_url + "/media/" + enc(stack.origin_url + "/streams/smooth-vod-piff/") +
               "/QualityLevels(44560)/Fragments(video=20800000)")
        status, h, full = fetch(url)
        expect(status == 200 and int(h["Content-Length"]) == len(full) > 0 and h["ETag"],
               f"mode off: {status}, {dict(h)}")
        status, nh, empty = fetch(url, headers={"If-None-Match": h["ETag"]})
        expect(status == 304 and empty == b"" and nh["ETag"] == h["ETag"], f"mode off conditional: {status} {dict(nh)}")
        expect(nh.get("Content-Length") in (None, str(len(full))),
               f"the 304 says Content-Length {nh.get('Content-Length')}, the 200 has {len(full)} bytes")
    finally:
        stack.stop_fcgi()
        stack.start_fcgi()
        wait_for(lambda: fetch(stack.front_url + "/healthz")[0] == 200, what="the pool back in its mode")


def setup():
    tmp = tempfile.mkdtemp(prefix="dashpiff-smooth-")
    os.chmod(tmp, 0o755)  # the origin nginx reads it as its worker user
    root = os.path.join(tmp, "origin")
    os.makedirs(root)
    os.symlink(os.path.abspath(os.path.join(DATA, "streams")), os.path.join(root, "streams"))
    for name, text in BAD.items():
        os.makedirs(os.path.join(root, "bad", name))
        with open(os.path.join(root, "bad", name, "Manifest"), "w") as f:
            f.write(text)
    stack = Stack(args=["--workers", "1", "--threads", "4"], origin_root=root)
    return {"stack": stack.start(), "tmp": tmp}


def teardown(state):
    state["stack"].stop()
    state["stack"].cleanup()
    shutil.rmtree(state["tmp"], ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run("e2e.smooth", setup, teardown, only=os.environ.get("ONLY")))
