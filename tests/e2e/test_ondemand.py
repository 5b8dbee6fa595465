#!/usr/bin/env python3
"""End to end: on-demand DASH (SegmentBase + sidx, one file per track)
through the real stack (origin nginx serving the fixtures, spawn-fcgi +
dashpiff-fcgi, front nginx). The MPD dashpiff answers lists every subsegment
as /media/{first}-{last}/... ; the ranges are checked against the files' own
sidx (read here by an independent walker), every answer is complete, and the
converted PIFF-only subsegments are judged by tools the project did not
write: ffmpeg decrypts each to the clear stream's frames, mp4box.js reads
its CENC records and finds them equal to the PIFF records the origin sent.
Hostile and refused cases: a sidx whose count exceeds its bytes leaves its
Representation as it was, malformed and oversized ranges are 400, an origin
that ignores Range is 502; a cached rewrite reads no index again."""
import json
import os
import re
import shutil
import struct
import sys
import tempfile
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, HERE)

from dashpiff_stack import Stack, child_pids, fetch, metric, proc_kib  # noqa: E402
from harness import check, expect, run  # noqa: E402
from codec import dec, enc  # noqa: E402
import bmff  # noqa: E402
import check_convert as judge  # noqa: E402
import mpd  # noqa: E402

DATA = os.path.join(HERE, "..", "data")
STREAMS = os.path.join(DATA, "streams")
KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
NS = "{urn:mpeg:dash:schema:mpd:2011}"
ON_DEMAND = ("ondemand-clear", "ondemand-cenc-piff", "ondemand-piff-only")
FILES = {"0": "video.mp4", "1": "audio.mp4"}
SUBSEGMENT = re.compile(r"/media/(\d+)-(\d+)/([^/]+)/([^/?]+)$")

# An origin that answers every Range with the whole file (200).
ORIGIN_EXTRA = """
        location /noranges/ {
            rewrite ^/noranges/(.*)$ /$1 break;
            max_ranges 0;
        }
"""


def proxied_mpd(state, rel):
    stack = state["stack"]
    url = stack.front_url + "/create?url=" + urllib.parse.quote(f"{stack.origin_url}/{rel}", safe="")
    status, _, body = fetch(url)
    expect(status == 200, f"/create answered {status}")
    mpd_url = json.loads(body)["url"]
    status, headers, body = fetch(mpd_url)
    expect(status == 200, f"MPD {rel}: {status} {body[:200]!r}")
    return mpd_url, body


def by_rep(mpd_url, body):
    reps = {}
    for rid, kind, url in mpd.segment_urls(body, mpd_url):
        r = reps.setdefault(rid, {"init": None, "media": [], "file": None})
        if kind == "init":
            r["init"] = url
        elif kind == "media":
            r["media"].append(url)
        else:
            r["file"] = url
    return reps


def get(url, **kw):
    status, headers, body = fetch(url, **kw)
    expect(status == 200, f"{url}: {status} {body[:200]!r}")
    return headers, body


def span(url):
    m = SUBSEGMENT.search(url)
    expect(m, f"{url} is not a subsegment URL")
    return int(m.group(1)), int(m.group(2)), dec(m.group(3)) + m.group(4)


def sidx_layout(data):
    """(init end, [(first, last, duration)], timescale, ept) from the file's own
    top-level sidx, read independently of the C++ reader."""
    top = [b for b in bmff.walk(data) if len(b[0]) == 1]
    s = next(b for b in top if b[1] == b"sidx")
    _, _, at, size, header, _ = s
    p = at + header
    version = data[p]
    timescale, = struct.unpack_from(">I", data, p + 8)
    if version == 0:
        ept, first_offset = struct.unpack_from(">II", data, p + 12)
        q = p + 20
    else:
        ept, first_offset = struct.unpack_from(">QQ", data, p + 12)
        q = p + 28
    count, = struct.unpack_from(">H", data, q + 2)
    q += 4
    pos = at + size + first_offset
    refs = []
    for _ in range(count):
        word, duration, _ = struct.unpack_from(">III", data, q)
        refs.append((pos, pos + (word & 0x7FFFFFFF) - 1, duration))
        pos += word & 0x7FFFFFFF
        q += 12
    return at, refs, timescale, ept


def write(state, name, data):
    path = os.path.join(state["tmp"], name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def origin_log(state):
    with open(os.path.join(state["stack"].workdir, "origin", "access.log")) as f:
        return f.read().splitlines()


@check
def every_subsegment_has_a_url_and_the_ranges_tile_each_file(state):
    for stream in ON_DEMAND:
        mpd_url, body = proxied_mpd(state, f"streams/{stream}/manifest.mpd")
        root = ET.fromstring(body)
        expect(not root.findall(f".//{NS}SegmentBase"), f"{stream}: a SegmentBase is left")
        reps = by_rep(mpd_url, body)
        expect(sorted(reps) == ["0", "1"], f"{stream}: representations {sorted(reps)}")
        for rid, r in reps.items():
            with open(os.path.join(STREAMS, stream, FILES[rid]), "rb") as f:
                data = f.read()
            sidx_at, refs, timescale, ept = sidx_layout(data)
            a, b, origin = span(r["init"])
            expect(origin.endswith(f"/streams/{stream}/{FILES[rid]}"), f"init names {origin}")
            expect((a, b) == (0, sidx_at - 1), f"{stream}/{rid}: init {a}-{b}, the sidx is at {sidx_at}")
            got = [span(u)[:2] for u in r["media"]]
            expect(got == [(f, l) for f, l, _ in refs], f"{stream}/{rid}: ranges {got} != sidx {refs}")
            expect(got[-1][1] == len(data) - 1, f"{stream}/{rid}: the last subsegment ends at {got[-1][1]}")
            h, init = get(r["init"])
            expect(init[4:8] == b"ftyp" and int(h["Content-Length"]) == len(init), f"{stream}/{rid}: init {h}")
            for url in r["media"]:
                h, frag = get(url)
                expect(frag[4:8] == b"moof" and int(h["Content-Length"]) == len(frag), f"{url}: {dict(h)}")
            # The timeline is the sidx's: one S per reference, from its earliest time.
            rep = next(x for x in root.iter(f"{NS}Representation") if x.get("id") == rid)
            sl = rep.find(f"{NS}SegmentList")
            expect(sl.get("timescale") == str(timescale), f"timescale {sl.get('timescale')}")
            ss = sl.findall(f"{NS}SegmentTimeline/{NS}S")
            expect([int(s.get("d")) for s in ss] == [d for _, _, d in refs], "durations differ from the sidx")
            expect(int(ss[0].get("t")) == ept, "first S time is not the sidx's earliest presentation time")


@check
def converted_piff_only_subsegments_decrypt_to_the_clear_frames(state):
    clear_url, clear_body = proxied_mpd(state, "streams/ondemand-clear/manifest.mpd")
    piff_url, piff_body = proxied_mpd(state, "streams/ondemand-piff-only/manifest.mpd")
    clear, piff = by_rep(clear_url, clear_body), by_rep(piff_url, piff_body)
    checked = 0
    for rid in ("0", "1"):
        _, clear_init = get(clear[rid]["init"])
        _, piff_init = get(piff[rid]["init"])
        expect(len(clear[rid]["media"]) == len(piff[rid]["media"]) == 3, f"{rid}: subsegment counts")
        for i, (cu, pu) in enumerate(zip(clear[rid]["media"], piff[rid]["media"])):
            rc, want, err = judge.framecrc(write(state, f"c-{rid}-{i}.mp4", clear_init + get(cu)[1]))
            expect(rc == 0 and want, f"{rid} #{i}: ffmpeg cannot decode the clear subsegment: {err}")
            path = write(state, f"p-{rid}-{i}.mp4", piff_init + get(pu)[1])
            rc, got, err = judge.framecrc(path, KEY)
            expect(rc == 0 and got == want, f"{rid} #{i}: decrypted frames differ from the clear ones ({err})")
            # Control: the origin's own bytes of the subsegment (PIFF only)
            # do not decrypt to them, nor does the converted one without the key.
            a, b, _ = span(pu)
            with open(os.path.join(STREAMS, "ondemand-piff-only", FILES[rid]), "rb") as f:
                raw = f.read()[a:b + 1]
            rc, unconverted, _ = judge.framecrc(write(state, f"o-{rid}-{i}.mp4", piff_init + raw), KEY)
            expect(unconverted != want, f"{rid} #{i}: the unconverted PIFF-only bytes decrypt too")
            rc, nokey, _ = judge.framecrc(path)
            expect(nokey != want, f"{rid} #{i}: frames decoded without the key")
            checked += 1
    expect(checked == 6, f"{checked} subsegments checked")


@check
def mp4box_reads_the_origins_piff_records_as_cenc(state):
    judge.ensure_node_modules()
    piff_url, piff_body = proxied_mpd(state, "streams/ondemand-piff-only/manifest.mpd")
    for rid, r in sorted(by_rep(piff_url, piff_body).items()):
        init = write(state, f"i-{rid}.mp4", get(r["init"])[1])
        with open(os.path.join(STREAMS, "ondemand-piff-only", FILES[rid]), "rb") as f:
            data = f.read()
        for n, url in enumerate(r["media"]):
            a, b, _ = span(url)
            origin = write(state, f"o-{rid}-{n}.m4s", data[a:b + 1])
            converted = write(state, f"f-{rid}-{n}.m4s", get(url)[1])
            after, err = judge.cenc_view("cenc", init, converted)
            expect(after is not None, f"mp4box.js cannot read {url}: {err}")
            before, err = judge.cenc_view("piff", init, origin)
            expect(before is not None, f"mp4box.js cannot read the origin's bytes {a}-{b}: {err}")
            expect(after["piff_boxes"] == 0, "PIFF boxes left")
            expect(after["mdats"] == before["mdats"], "mdat bytes changed")
            expect(after["moofs"] == before["moofs"], "IVs, subsamples or sample bytes differ from the PIFF records")
            expect(sum(len(t["samples"]) for m in after["moofs"] for t in m["trafs"]) > 0, "no samples")


@check
def a_hostile_sidx_leaves_its_representation_as_the_origin_wrote_it(state):
    before = metric(state["stack"], 'dashpiff_on_demand_representations_total{result="kept"}')
    mpd_url, body = proxied_mpd(state, "hostile/manifest.mpd")
    root = ET.fromstring(body)
    reps = {r.get("id"): r for r in root.iter(f"{NS}Representation")}
    expect(reps["0"].find(f"{NS}SegmentBase") is not None and reps["0"].find(f"{NS}SegmentList") is None,
           "the hostile video Representation was changed")
    with open(os.path.join(state["origin"], "hostile", "manifest.mpd"), "rb") as f:
        original = ET.fromstring(f.read())
    want = next(r for r in original.iter(f"{NS}Representation") if r.get("id") == "0").find(f"{NS}SegmentBase")
    got = reps["0"].find(f"{NS}SegmentBase")
    expect(got.attrib == want.attrib, f"SegmentBase {got.attrib} != {want.attrib}")
    expect(reps["1"].find(f"{NS}SegmentList") is not None, "the sound audio Representation was not expanded")
    after = metric(state["stack"], 'dashpiff_on_demand_representations_total{result="kept"}')
    expect(after == before + 1, f"kept counter {before} -> {after}")
    expect("reference count exceeds its bytes" in state["stack"].settled_log(lambda t: "reference count exceeds" in t),
           "the log does not say why")


@check
def malformed_or_oversized_ranges_are_400_and_an_origin_ignoring_range_is_502(state):
    stack = state["stack"]
    base = enc(stack.origin_url + "/streams/ondemand-piff-only/")
    # Leading zeros too: "0990-11066" names the bytes of "990-11066", which a cache would keep twice.
    for bad in ("5-1", "1-", "-5", "00000000000000000000-1", "1-2-3", "9223372036854775808-9223372036854775809",
                "0990-11066", "990-011066", "00-5"):
        status, _, text = fetch(f"{stack.front_url}/media/{bad}/{base}/video.mp4")
        expect(status == 400 and b"\n" == text[-1:] and text.count(b"\n") == 1, f"{bad}: {status} {text!r}")
    status, _, text = fetch(f"{stack.front_url}/media/0-{(64 << 20)}/{base}/video.mp4")
    expect(status == 400 and b"max-segment-bytes" in text, f"oversized: {status} {text!r}")
    status, _, text = fetch(f"{stack.front_url}/media/0-99")
    expect(status == 400, f"no file: {status} {text!r}")
    ignoring = enc(stack.origin_url + "/noranges/streams/ondemand-piff-only/")
    status, _, text = fetch(f"{stack.front_url}/media/990-11066/{ignoring}/video.mp4")
    expect(status == 502 and b"ignored the byte range" in text, f"origin ignoring Range: {status} {text!r}")
    # Its MPD is answered with the SegmentBase kept (the index could not be read by range).
    _, body = proxied_mpd(state, "noranges/streams/ondemand-piff-only/manifest.mpd")
    expect(b"<SegmentBase" in body and b"<SegmentList" not in body, "expanded from an origin without ranges")
    # Past the file's end: the origin's 416, passed on.
    status, _, _ = fetch(f"{stack.front_url}/media/99999000-99999999/{base}/video.mp4")
    expect(status == 416, f"past the end: {status}")


@check
def a_cached_rewrite_reads_no_index_again(state):
    stack = state["stack"]
    # A query of its own: no earlier check's rewrite is cached under it.
    url = f"{stack.front_url}/mpd/{enc(stack.origin_url + '/streams/ondemand-cenc-piff/manifest.mpd')}?cache=check"

    def index_reads():
        return sum(1 for l in origin_log(state)
                   if "/streams/ondemand-cenc-piff/" in l and "cache=check" in l and '" 206 ' in l)

    first = index_reads()
    _, one = get(url)
    cold = index_reads() - first
    expect(cold == 2, f"{cold} index reads for two Representations")
    _, two = get(url)  # one worker, one thread: its rewrite cache holds it
    expect(two == one, "the second answer differs")
    expect(index_reads() - first == cold, f"{index_reads() - first - cold} index reads for a cached rewrite")


@check
def subsegments_stream_on_the_event_loop_under_its_cap(state):
    """A subsegment is a transfer of the worker's event loop like any segment:
    with --max-transfers 1 and one held by a slow origin, the next is 503."""
    stack = Stack(args=["--workers", "1", "--threads", "2", "--max-transfers", "1"], origin_root=state["origin"],
                  slow_rate="2k").start()
    try:
        base = enc(stack.origin_url + "/slow/streams/ondemand-piff-only/")
        out = {}
        first = threading.Thread(target=lambda: out.setdefault(
            "first", fetch(f"{stack.front_url}/media/990-11066/{base}/video.mp4", timeout=60)))
        first.start()
        deadline = time.monotonic() + 20
        while metric(stack, "dashpiff_transfers_in_flight") != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        status, _, text = fetch(f"{stack.front_url}/media/11067-23928/{base}/video.mp4")
        first.join()
        expect(status == 503 and b"cap of concurrent transfers" in text, f"second: {status} {text!r}")
        expect(out["first"][0] == 200 and len(out["first"][2]) == 10098, f"first: {out['first'][0]}")
    finally:
        stack.stop()
        stack.cleanup()


@check
def an_index_bomb_is_bounded_in_time_and_memory(state):
    """64 Representations, each naming a sidx of 19,000 references (228 KB):
    the first is expanded, the MPD's budget of 20,000 subsegments keeps the
    rest; the worker's peak stays within issue #12's 64 MiB of idle."""
    stack = state["stack"]
    kids = child_pids(stack.fcgi.pid)
    expect(len(kids) == 1, f"workers {kids}")
    worker = min(kids)
    idle = proc_kib(worker, "VmRSS")
    start = time.monotonic()
    status, _, body = fetch(f"{stack.front_url}/mpd/{enc(stack.origin_url + '/bomb/manifest.mpd')}", timeout=120)
    took = time.monotonic() - start
    peak_mib = (proc_kib(worker, "VmHWM") - idle) / 1024
    print(f"  index bomb: {status} in {took * 1000:.0f} ms, {body.count(b'<SegmentURL')} URLs, "
          f"worker peak {peak_mib:.1f} MiB above idle", flush=True)
    expect(status == 200, f"{status} {body[:200]!r}")
    expect(body.count(b"<SegmentURL") == 19000 and body.count(b"<SegmentBase") == 63,
           f"{body.count(b'<SegmentURL')} URLs, {body.count(b'<SegmentBase')} SegmentBases kept")
    expect(peak_mib < 64, f"worker peak {peak_mib:.1f} MiB above idle")
    expect(took < 30, f"{took:.1f} s")
    status, _, _ = fetch(f"{stack.front_url}/mpd/{enc(stack.origin_url + '/streams/ondemand-clear/manifest.mpd')}")
    expect(status == 200, f"a normal MPD afterwards: {status}")


def bomb_origin(root):
    d = os.path.join(root, "bomb")
    os.makedirs(d)
    sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
    import ondemand_fixtures as od
    with open(os.path.join(STREAMS, "ondemand-clear", "video.mp4"), "rb") as f:
        data = f.read()
    sidx_at = next(b for b in bmff.walk(data) if b[1] == b"sidx")[2]
    index = od.make_sidx(0, 1, 12800, 0, [(10000, 25600)] * 19000)
    with open(os.path.join(d, "v.mp4"), "wb") as f:
        f.write(data[:sidx_at] + index)
    reps = "".join(f'<Representation id="{i}" bandwidth="{i + 1}" mimeType="video/mp4" codecs="avc1.4d400b">'
                   f'<BaseURL>v.mp4</BaseURL><SegmentBase indexRange="{sidx_at}-{sidx_at + len(index) - 1}">'
                   f'<Initialization range="0-{sidx_at - 1}"/></SegmentBase></Representation>' for i in range(64))
    with open(os.path.join(d, "manifest.mpd"), "w") as f:
        f.write('<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
                'mediaPresentationDuration="PT40000S" minBufferTime="PT2S" '
                f'profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"><Period><AdaptationSet>{reps}'
                '</AdaptationSet></Period></MPD>')
    for name in os.listdir(d):
        os.chmod(os.path.join(d, name), 0o644)
    os.chmod(d, 0o755)


def hostile_origin(root):
    """hostile/: the PIFF-only on-demand stream with the video sidx's
    reference count raised to 65535 (its entries' bytes stay three)."""
    d = os.path.join(root, "hostile")
    os.makedirs(d)
    src = os.path.join(STREAMS, "ondemand-piff-only")
    with open(os.path.join(src, "video.mp4"), "rb") as f:
        data = bytearray(f.read())
    s = next(b for b in bmff.walk(bytes(data)) if b[1] == b"sidx")
    count_at = s[2] + s[4] + (20 if data[s[2] + s[4]] == 0 else 28) + 2
    struct.pack_into(">H", data, count_at, 65535)
    with open(os.path.join(d, "video.mp4"), "wb") as f:
        f.write(data)
    shutil.copy(os.path.join(src, "audio.mp4"), os.path.join(d, "audio.mp4"))
    shutil.copy(os.path.join(src, "manifest.mpd"), os.path.join(d, "manifest.mpd"))
    for name in os.listdir(d):
        os.chmod(os.path.join(d, name), 0o644)
    os.chmod(d, 0o755)


def setup():
    tmp = tempfile.mkdtemp(prefix="dashpiff-ondemand-")
    os.chmod(tmp, 0o755)  # the origin nginx reads it as its worker user
    root = os.path.join(tmp, "origin")
    os.makedirs(root)
    os.chmod(root, 0o755)
    os.symlink(os.path.abspath(STREAMS), os.path.join(root, "streams"))
    hostile_origin(root)
    bomb_origin(root)
    # One worker, one thread: the rewrite cache check sees its own cache.
    stack = Stack(args=["--workers", "1", "--threads", "1"], origin_root=root, origin_extra=ORIGIN_EXTRA)
    return {"stack": stack.start(), "tmp": tmp, "origin": root}


def teardown(state):
    state["stack"].stop()
    state["stack"].cleanup()
    shutil.rmtree(state["tmp"], ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run("e2e.ondemand", setup, teardown, only=os.environ.get("ONLY")))
