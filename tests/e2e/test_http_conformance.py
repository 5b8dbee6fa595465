#!/usr/bin/env python3
"""HTTP conformance, as a player and as a CDN see it (issue 14): for every
bundled stream and every piff-mode, through real nginx + spawn-fcgi +
dashpiff-fcgi against a local origin nginx:

  - HEAD answers exactly what GET would (status, length, type, validators);
  - Content-Length, when sent, is the body's length; it is sent whenever the
    size is known before the body (README "HTTP answers");
  - a 206 body is exactly the slice of the 200 body, under the 200's
    validator; an unsatisfiable range is a 416 naming the length;
  - validators differ wherever bytes differ (between modes, and from the
    origin's own), the origin's own validator is kept only for its own bytes;
  - If-Range with another layout's validator gets the whole 200;
  - 304s carry the validator of what the client holds; another layout's
    validator never gets a 304;
  - manifests: application/dash+xml by root element, patch documents' own
    references rewritten, revalidation answered from the cached rewrite;
  - on-demand streams (SegmentBase): in the patching modes each subsegment
    URL (/media/{first}-{last}/...) is its own object, judged against the
    origin's 206 for that byte range of the file (its bytes and ETag).

One PASS:/FAIL: line per (mode, stream, check).
"""
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dashpiff_stack import Stack, fetch, metric  # noqa: E402
from harness import CheckFailed, expect, reporter  # noqa: E402
from codec import dec, enc  # noqa: E402
import mpd  # noqa: E402

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
STREAMS_DIR = os.path.join(TOP, "tests", "data", "streams")
STREAMS = sorted(d for d in os.listdir(STREAMS_DIR)
                 if os.path.exists(os.path.join(STREAMS_DIR, d, "manifest.mpd")))
MODES = ["off", "free", "uuid-free", "convert", "auto"]
COMPARED = ["Content-Length", "Content-Type", "ETag", "Last-Modified", "Accept-Ranges", "Cache-Control",
            "Content-Range", "Vary"]

PATCH_DOC = b"""<?xml version="1.0" encoding="UTF-8"?>
<Patch xmlns="urn:mpeg:dash:schema:mpd-patch:2020" xmlns:p="urn:ietf:params:xml:schema:patchops"
       mpdId="live" originalPublishTime="2026-01-01T00:00:00Z" publishTime="2026-01-01T00:00:02Z">
  <p:replace sel="/MPD/@publishTime">2026-01-01T00:00:02Z</p:replace>
  <p:replace sel="/MPD/PatchLocation[1]"><PatchLocation ttl="60">/patch/live.mpp?t=2</PatchLocation></p:replace>
  <p:replace sel="/MPD/Location[1]"><Location>next.mpd</Location></p:replace>
  <p:replace sel="/MPD/BaseURL[1]"><BaseURL>../streams/clear/</BaseURL></p:replace>
  <p:add sel="/MPD" pos="prepend"><BaseURL serviceLocation="b">../streams/clear/</BaseURL></p:add>
</Patch>
"""

# The MPD whose own BaseURL the patch's must match, beside the patch.
BASED_MPD = open(os.path.join(STREAMS_DIR, "clear", "manifest.mpd"), "rb").read().replace(
    b"</ProgramInformation>", b"</ProgramInformation>\n\t<BaseURL>../streams/clear/</BaseURL>", 1)

# An origin location whose answers vary on request headers of its own.
VARY_LOCATION = """
        location /vary/ {
            rewrite ^/vary/(.*)$ /$1 break;
            gzip_vary on;
            add_header Vary "X-Variant, X-Other";
        }
"""

MiB = 1 << 20
LARGE_MDAT = 48 * MiB

results = {"passed": 0, "failed": 0}


Failed = CheckFailed  # the name its checks raise and catch
report = reporter("e2e.http", results)


def get(url, method="GET", headers=None):
    status, h, body = fetch(url, method=method, headers=headers)
    return status, {k: h.get(k) for k in set(h.keys())}, body


def hdr(h, name):
    for k, v in h.items():
        if k.lower() == name.lower():
            return v
    return None


def origin_root():
    """tests/data plus a copy of an MPD served as application/octet-stream and
    an MPD patch document."""
    root = tempfile.mkdtemp(prefix="dashpiff-http-origin-")
    os.chmod(root, 0o755)
    for name in os.listdir(os.path.join(TOP, "tests", "data")):
        os.symlink(os.path.abspath(os.path.join(TOP, "tests", "data", name)), os.path.join(root, name))
    os.makedirs(os.path.join(root, "extra"))
    os.chmod(os.path.join(root, "extra"), 0o755)
    shutil.copy(os.path.join(STREAMS_DIR, "clear", "manifest.mpd"), os.path.join(root, "extra", "manifest.bin"))
    with open(os.path.join(root, "extra", "live.mpp"), "wb") as f:
        f.write(PATCH_DOC)
    with open(os.path.join(root, "extra", "based.mpd"), "wb") as f:
        f.write(BASED_MPD)
    # A large file whose answer is the origin's own bytes in every mode: a
    # clear init (ftyp, moov) and one mdat, as a progressive MP4 is laid out.
    with open(os.path.join(root, "extra", "large.mp4"), "wb") as f:
        f.write(open(os.path.join(STREAMS_DIR, "clear", "init-0.mp4"), "rb").read())
        f.write((LARGE_MDAT + 8).to_bytes(4, "big") + b"mdat")
        for _ in range(LARGE_MDAT // MiB):
            f.write(b"\x5a" * MiB)
    # A large PIFF-only segment (styp, sidx, moof, one mdat grown at its
    # end): its answer differs from the origin's in every patching mode.
    seg = open(os.path.join(STREAMS_DIR, "piff-only", "seg-0-1.m4s"), "rb").read()
    mdat_at = last_box_offset(seg)
    expect(seg[mdat_at + 4:mdat_at + 8] == b"mdat", "piff-only segment does not end with its mdat")
    with open(os.path.join(root, "extra", "large-piff.m4s"), "wb") as f:
        f.write(seg[:mdat_at] + (len(seg) - mdat_at + LARGE_MDAT).to_bytes(4, "big") + seg[mdat_at + 4:])
        for _ in range(LARGE_MDAT // MiB):
            f.write(b"\x5a" * MiB)
    for f in os.listdir(os.path.join(root, "extra")):
        os.chmod(os.path.join(root, "extra", f), 0o644)
    return root


def base_url_texts(xml_bytes):
    """The text of every BaseURL element, in document order."""
    return [(e.text or "").strip() for e in ET.fromstring(xml_bytes).iter()
            if isinstance(e.tag, str) and e.tag.rsplit("}", 1)[-1] == "BaseURL"]


def last_box_offset(data):
    at, last = 0, 0
    while at + 8 <= len(data):
        last = at
        at += int.from_bytes(data[at:at + 4], "big")
    return last


def urls_of(stack, stream):
    """(proxy MPD URL, [(proxy URL, origin URL, is_init)])"""
    origin_mpd = f"{stack.origin_url}/streams/{stream}/manifest.mpd"
    proxy_mpd = f"{stack.front_url}/mpd/{enc(origin_mpd)}"
    status, _, rewritten = get(proxy_mpd)
    expect(status == 200, f"{stream} MPD answered {status}")
    _, _, original = get(origin_mpd)
    proxied = mpd.segment_urls(rewritten, proxy_mpd)
    direct = mpd.segment_urls(original, origin_mpd)
    if direct and all(kind == "file" for _, kind, _ in direct) and len(proxied) > len(direct):
        # On-demand, expanded: each URL names its origin file and byte range.
        out = []
        for rid, kind, url in proxied:
            m = re.search(r"/media/(\d+)-(\d+)/([^/]+)/([^/?]+)$", url)
            expect(m, f"{stream}: {url} is not a subsegment URL")
            origin = (dec(m.group(3)) + m.group(4), f"bytes={m.group(1)}-{m.group(2)}")
            expect(any(origin[0] == d[2] for d in direct), f"{stream}: {origin[0]} is not a file the MPD names")
            out.append((url, origin, kind == "init"))
        return proxy_mpd, out
    expect(len(proxied) == len(direct) and proxied, f"{stream}: segment lists differ")
    return proxy_mpd, [(p[2], d[2], p[1] == "init") for p, d in zip(proxied, direct)]


def origin_get(origin):
    """The origin's answer for a proxied URL's bytes: a URL, or (file URL, Range)."""
    if isinstance(origin, tuple):
        status, h, body = get(origin[0], headers={"Range": origin[1]})
        expect(status == 206, f"origin answered {status} to {origin[1]}")
        return status, h, body
    return get(origin)


def fragments(body):
    """Number of top-level moof boxes."""
    n, at = 0, 0
    while at + 8 <= len(body):
        size = int.from_bytes(body[at:at + 4], "big")
        if body[at + 4:at + 8] == b"moof":
            n += 1
        if size == 1:
            size = int.from_bytes(body[at + 8:at + 16], "big")
        if size < 8:
            break
        at += size
    return n


def ranges_for(n):
    return [("bytes=0-99", 0, min(99, n - 1)), (f"bytes={n // 3}-", n // 3, n - 1), ("bytes=-50", max(0, n - 50), n - 1),
            (f"bytes={n // 2}-{n // 2 + 999}", n // 2, min(n - 1, n // 2 + 999)), (f"bytes={n - 1}-{n + 5}", n - 1, n - 1)]


def check_url(mode, url, origin_url, is_init, seen):
    """All checks of one proxy URL; raises on the first that fails."""
    st, g, body = get(url)
    expect(st == 200, f"GET {st}")
    _, og, obody = origin_get(origin_url)
    etag = hdr(g, "ETag")
    origin_etag = hdr(og, "ETag")
    seen.setdefault(url, {})[mode] = (etag, body)

    # HEAD == GET
    hs, h, hbody = get(url, method="HEAD")
    expect(hs == st and hbody == b"", f"HEAD {hs}")
    for name in COMPARED:
        expect(hdr(h, name) == hdr(g, name), f"HEAD {name} {hdr(h, name)!r} != GET {hdr(g, name)!r}")

    # Content-Length
    length = hdr(g, "Content-Length")
    if length is not None:
        expect(int(length) == len(body), f"Content-Length {length} but {len(body)} bytes")
    else:
        # Only a converting answer whose first fragment changed size and
        # more fragments follow is streamed without one.
        expect(mode in ("convert", "auto") and not is_init and fragments(obody) > 1 and len(body) != len(obody),
               "no Content-Length although the size was known")

    # Validators per layout: the origin's own for its own bytes, else the
    # weak tag of this mode's layout (README "HTTP answers"), never another.
    expect(origin_etag and origin_etag.startswith('"'), f"the origin's ETag {origin_etag}")
    layout_tag = f'W/"{origin_etag[1:-1]}.dashpiff-{mode}"'
    if mode == "off":
        expect(body == obody and etag == origin_etag, f"mode off: ETag {etag}, the origin's {origin_etag}")
    elif body == obody:
        # Identical bytes may still carry the layout's tag (several fragments:
        # a later one could have changed).
        expect(etag in (origin_etag, layout_tag), f"ETag {etag} for the origin's bytes")
    else:
        expect(etag == layout_tag, f"changed bytes under {etag}, not {layout_tag}")

    # Ranges: exact slices of the 200 body, or the whole 200
    for spec, a, b in ranges_for(len(body)):
        rs, rh, rbody = get(url, headers={"Range": spec})
        if length is None:
            expect(rs == 200 and rbody == body, f"{spec}: {rs} without a known length")
            continue
        expect(rs == 206, f"{spec}: {rs}")
        expect(hdr(rh, "Content-Range") == f"bytes {a}-{b}/{len(body)}", f"{spec}: {hdr(rh, 'Content-Range')}")
        expect(rbody == body[a:b + 1], f"{spec}: 206 body is not the slice of the 200 body")
        expect(hdr(rh, "ETag") == etag, f"{spec}: 206 ETag {hdr(rh, 'ETag')} != 200 ETag {etag}")
        expect(int(hdr(rh, "Content-Length")) == len(rbody), f"{spec}: Content-Length")
    if length is not None:
        rs, rh, _ = get(url, headers={"Range": f"bytes={len(body)}-"})
        expect(rs == 416 and hdr(rh, "Content-Range") == f"bytes */{len(body)}", f"past the end: {rs}")

    # If-Range: the other layout's validator gets the whole 200
    if origin_etag and etag != origin_etag:
        rs, _, rbody = get(url, headers={"Range": "bytes=0-99", "If-Range": origin_etag})
        expect(rs == 200 and rbody == body, f"If-Range with the origin's validator: {rs}")
    if etag and length is not None:
        rs, _, rbody = get(url, headers={"Range": "bytes=0-99", "If-Range": etag})
        if etag.startswith("W/"):  # RFC 9110 §13.1.5: a weak tag never matches
            expect(rs == 200 and rbody == body, f"If-Range with a weak tag: {rs}")
        else:
            expect(rs == 206 and rbody == body[:100], f"If-Range with the current strong tag: {rs}")

    # 304s
    if etag:
        ns, nh, nbody = get(url, headers={"If-None-Match": etag})
        expect(ns == 304 and nbody == b"", f"If-None-Match with its own ETag: {ns}")
        expect(hdr(nh, "ETag") == etag, f"304 carries {hdr(nh, 'ETag')}, client holds {etag}")
    if origin_etag and etag != origin_etag:
        ns, _, nbody = get(url, headers={"If-None-Match": origin_etag})
        expect(ns == 200 and nbody == body, f"If-None-Match with the origin's layout: {ns}")
    lm = hdr(g, "Last-Modified")
    expect(lm and lm == hdr(og, "Last-Modified"), f"Last-Modified {lm}, the origin's {hdr(og, 'Last-Modified')}")
    if lm:
        ns, nh, _ = get(url, headers={"If-Modified-Since": lm})
        expect(ns == 304, f"If-Modified-Since: {ns}")
        # RFC 9110 §15.4.5: the ETag the 200 would have carried, on a date alone too.
        expect(hdr(nh, "ETag") == etag, f"304 to If-Modified-Since carries {hdr(nh, 'ETag')}, the 200 {etag}")


def late_range(stack, mode, name, own_bytes):
    """A range 8 MiB before the end of a 48 MiB file. When the answer is the
    origin's own bytes (a clear progressive layout; any file with mode off)
    it is asked of the origin under the origin's validator and costs about
    the range; when the layout differs (PIFF converted or neutralised) it is
    the exact slice of the patched answer and costs the origin's bytes up to
    the range's end, no more (README "Ranges")."""
    origin = stack.origin_url
    url = f"{stack.front_url}/media/{enc(origin + '/extra/')}/{name}"
    _, og, _ = get(f"{origin}/extra/{name}", method="HEAD")
    total = int(hdr(og, "Content-Length"))
    st, g, whole = get(url)
    expect(st == 200 and int(hdr(g, "Content-Length")) == len(whole), f"GET {st}")
    expect((hdr(g, "ETag") == hdr(og, "ETag")) == own_bytes, f"ETag {hdr(g, 'ETag')}, the origin's {hdr(og, 'ETag')}")
    n = len(whole)
    first, last = n - 8 * MiB, n - 8 * MiB + 99999
    for attempt in range(2):  # the second on kept connections
        before = metric(stack, "dashpiff_origin_bytes_total")
        t0 = time.monotonic()
        rs, rh, rbody = get(url, headers={"Range": f"bytes={first}-{last}"})
        seconds = time.monotonic() - t0
        read = metric(stack, "dashpiff_origin_bytes_total") - before
        expect(rs == 206 and rbody == whole[first:last + 1],
               f"{rs}, {len(rbody)} bytes, {'the' if rbody == whole[first:last + 1] else 'not the'} slice of the 200")
        expect(hdr(rh, "Content-Range") == f"bytes {first}-{last}/{n}", f"Content-Range {hdr(rh, 'Content-Range')}")
        expect(hdr(rh, "ETag") == hdr(g, "ETag"), f"206 ETag {hdr(rh, 'ETag')}, the 200's {hdr(g, 'ETag')}")
        if own_bytes:
            expect(read < 4 * MiB, f"{read / MiB:.1f} MiB read from the origin for a 0.1 MB range at {first / MiB:.0f} MiB")
        else:
            expect(first - 4 * MiB < read <= last + 1 + 4 * MiB, f"{read / MiB:.1f} MiB read from the origin "
                   f"for a range ending at {last / MiB:.0f} MiB of {total / MiB:.0f}")
        print(f"# {mode} late range of {name}: {seconds * 1000:.0f} ms, {read / MiB:.2f} MiB from the origin",
              file=sys.stderr)
    # If-Range with another validator: the whole answer.
    rs, rh, rbody = get(url, headers={"Range": f"bytes={first}-{last}", "If-Range": '"other"'})
    expect(rs == 200 and rbody == whole, f"If-Range with another tag: {rs}")


def check_manifest(url, origin_url):
    st, g, body = get(url)
    expect(st == 200, f"GET {st}")
    expect((hdr(g, "Content-Type") or "").startswith("application/dash+xml"), f"type {hdr(g, 'Content-Type')}")
    expect(int(hdr(g, "Content-Length")) == len(body), "Content-Length")
    hs, h, _ = get(url, method="HEAD")
    for name in COMPARED:
        expect(hdr(h, name) == hdr(g, name), f"HEAD {name} {hdr(h, name)!r} != GET {hdr(g, name)!r}")
    _, og, _ = get(origin_url)
    etag = hdr(g, "ETag")
    expect(etag and etag.startswith("W/") and etag != hdr(og, "ETag"), f"manifest ETag {etag}")
    ns, nh, nbody = get(url, headers={"If-None-Match": etag})
    expect(ns == 304 and nbody == b"" and hdr(nh, "ETag") == etag, f"If-None-Match: {ns} {hdr(nh, 'ETag')}")
    ns, _, _ = get(url, headers={"If-None-Match": hdr(og, "ETag")})
    expect(ns == 200, f"If-None-Match with the origin's own tag: {ns}")
    ns, nh, _ = get(url, headers={"If-Modified-Since": hdr(g, "Last-Modified")})
    expect(ns == 304 and hdr(nh, "ETag") == etag, f"If-Modified-Since: {ns} {hdr(nh, 'ETag')}")
    # The same on a URL no thread has a cached rewrite of (the origin ignores
    # the query): RFC 9110 §15.4.5, the 304 carries the ETag the 200 of that
    # URL would (an on-demand MPD's tag names its bytes, which carry the query).
    fresh = f"{url}?ims={time.monotonic_ns()}"
    ns, nh, _ = get(fresh, headers={"If-Modified-Since": hdr(g, "Last-Modified")})
    _, fg, _ = get(fresh)
    expect(ns == 304 and hdr(nh, "ETag") == hdr(fg, "ETag"),
           f"If-Modified-Since, nothing cached: {ns} {hdr(nh, 'ETag')}, the 200 {hdr(fg, 'ETag')}")
    again = get(url)
    expect(again[0] == 200 and again[2] == body, "second GET differs")


def ready(stack):
    """The new pool answers through the front (nginx's kept connections to the
    previous pool are gone) before any check runs."""
    deadline = time.monotonic() + 20
    good = 0
    while good < 8 and time.monotonic() < deadline:
        status, _, _ = fetch(stack.front_url + "/healthz", timeout=5)
        good = good + 1 if status == 200 else 0
        if status != 200:
            time.sleep(0.1)
    if good < 8:
        raise RuntimeError("the pool did not come up")


def cross_mode(seen):
    """Bytes that differ never share a validator, whichever modes made them."""
    for url, by_mode in seen.items():
        items = list(by_mode.items())
        for i, (m1, (e1, b1)) in enumerate(items):
            for m2, (e2, b2) in items[i + 1:]:
                if b1 != b2 and e1 and e2:
                    expect(e1 != e2, f"{url.rsplit('/', 1)[-1]}: {m1} and {m2} differ but share {e1}")


def main():
    started = time.monotonic()
    root = origin_root()
    stack = Stack(args=["--workers", "1", "--threads", "4"], origin_root=root, origin_extra=VARY_LOCATION)
    stack.origin.start(stack.origin_port)
    stack.front.start(stack.front_port)
    seen = {}
    try:
        for mode in MODES:
            stack.start_fcgi(["--piff-mode", mode])
            ready(stack)
            try:
                for stream in STREAMS:
                    try:
                        proxy_mpd, urls = urls_of(stack, stream)
                    except Exception as e:
                        report(f"{mode}.{stream}.manifest", lambda: (_ for _ in ()).throw(e))
                        continue
                    report(f"{mode}.{stream}.manifest",
                           lambda: check_manifest(proxy_mpd, f"{stack.origin_url}/streams/{stream}/manifest.mpd"))
                    for kind, pick in (("init", True), ("media", False)):
                        def run_kind(pick=pick):
                            if pick and mode == "off" and stream.startswith("ondemand-"):
                                # Mode off passes an on-demand MPD as it is:
                                # the files are its URLs, checked as media.
                                expect(urls and all(not i for _, _, i in urls), "on-demand URLs in mode off")
                                return
                            expect(any(is_init == pick for _, _, is_init in urls), "no such URL in the MPD")
                            for url, origin_url, is_init in urls:
                                if is_init == pick:
                                    try:
                                        check_url(mode, url, origin_url, is_init, seen)
                                    except Failed as e:
                                        raise Failed(f"{url.rsplit('/', 1)[-1]}: {e}")
                        report(f"{mode}.{stream}.{kind}", run_kind)
                report(f"{mode}.late_range_of_a_large_clear_file",
                       lambda: late_range(stack, mode, "large.mp4", True))
                report(f"{mode}.late_range_of_a_large_piff_segment",
                       lambda: late_range(stack, mode, "large-piff.m4s", mode == "off"))
                if mode == "auto":
                    extras(stack)
            finally:
                stack.stop_fcgi()
        report("all.validators_differ_where_bytes_differ", lambda: cross_mode(seen))
    finally:
        stack.front.stop()
        stack.origin.stop()
        stack.cleanup()
        shutil.rmtree(root, ignore_errors=True)
    print(f"# {results['passed']} passed, {results['failed']} failed in {time.monotonic() - started:.0f} s",
          file=sys.stderr)
    return 1 if results["failed"] else 0


def extras(stack):
    origin = stack.origin_url

    def octet_stream_mpd():
        _, og, _ = get(f"{origin}/extra/manifest.bin")
        expect(not (hdr(og, "Content-Type") or "").startswith("application/dash+xml"), "origin type")
        st, g, body = get(f"{stack.front_url}/mpd/{enc(origin + '/extra/manifest.bin')}")
        expect(st == 200 and b"/media/" in body, f"{st}: not rewritten")
        expect(hdr(g, "Content-Type") == "application/dash+xml", f"answered as {hdr(g, 'Content-Type')}")
    report("auto.extra.mpd_recognised_by_root_is_dash_xml", octet_stream_mpd)

    def patch_document():
        st, g, body = get(f"{stack.front_url}/mpd/{enc(origin + '/extra/live.mpp')}")
        expect(st == 200, f"{st}")
        expect(hdr(g, "Content-Type") == "application/dash-patch+xml", f"answered as {hdr(g, 'Content-Type')}: {body[:200]!r}")
        want = f"/mpd/{enc(origin + '/patch/live.mpp')}?t=2".encode()
        expect(b">" + want + b"</PatchLocation>" in body, f"PatchLocation not rewritten: {body[:600]!r}")
        want = f"/mpd/{enc(origin + '/extra/next.mpd')}".encode()
        expect(b">" + want + b"</Location>" in body, "Location not rewritten")
    report("auto.extra.patch_document_references_rewritten", patch_document)

    def patch_base_url():
        # A patch's MPD-level BaseURL (replaced, added) is the MPD's own
        # rewrite of the same BaseURL, and segments under it come back
        # through the proxy as the origin's.
        _, _, body = get(f"{stack.front_url}/mpd/{enc(origin + '/extra/live.mpp')}")
        st, _, based = get(f"{stack.front_url}/mpd/{enc(origin + '/extra/based.mpd')}")
        expect(st == 200, f"MPD with a BaseURL: {st}")
        own = base_url_texts(based)
        expect(len(own) == 1 and own[0].startswith("/media/"), f"the MPD's own BaseURLs {own!r}")
        own = own[0]
        texts = base_url_texts(body)
        expect(texts == [own, own], f"patch BaseURLs {texts} != the MPD's own {own!r}")
        seg_st, _, seg = get(stack.front_url + own + "seg-0-1.m4s")
        _, _, direct = get(f"{origin}/streams/clear/seg-0-1.m4s")
        expect(seg_st == 200 and seg == direct, f"segment under the patched BaseURL: {seg_st}")
    report("auto.extra.patch_mpd_base_url_rewritten_as_the_mpds_own", patch_base_url)

    def revalidation():
        url = f"{stack.front_url}/mpd/{enc(origin + '/streams/clear/manifest.mpd')}"
        first = get(url)
        log_before = stack.log_text().count("revalidated")
        # Each worker thread keeps its own rewrites: within a few requests one
        # lands on a thread that has this one.
        for _ in range(12):
            second = get(url)
            expect(second[2] == first[2] and hdr(second[1], "ETag") == hdr(first[1], "ETag"), "answer changed")
            if stack.log_text().count("revalidated") > log_before:
                break
        expect(stack.log_text().count("revalidated") > log_before, "not answered from the revalidated rewrite")
        access = open(os.path.join(stack.workdir, "origin", "access.log")).read().splitlines()
        mpd_lines = [l for l in access if "/streams/clear/manifest.mpd" in l]
        expect(any('" 304 ' in l for l in mpd_lines), "the origin never saw a conditional GET answered 304")
    report("auto.extra.manifest_revalidated_with_origin_304", revalidation)

    def vary_kept():
        # /vary/ answers with a Vary of its own (two lines) besides gzip's.
        for path in ("/vary/streams/clear/manifest.mpd", "/vary/streams/piff-only/seg-0-1.m4s",
                     "/vary/streams/clear/seg-0-1.m4s"):
            _, og, _ = fetch(f"{origin}{path}", headers={"Accept-Encoding": "gzip"})
            lines = og.get_all("Vary") or []
            # The manifest's come as two lines (gzip's and the location's): merged into one.
            expect(any("X-Variant" in v for v in lines) and (len(lines) >= 2 or not path.endswith(".mpd")),
                   f"the origin's Vary lines for {path}: {lines}")
            route = "mpd" if path.endswith(".mpd") else "media"
            target = (enc(origin + path) if route == "mpd"
                      else enc(origin + path.rsplit("/", 1)[0] + "/") + "/" + path.rsplit("/", 1)[1])
            st, g, _ = get(f"{stack.front_url}/{route}/{target}", headers={"Accept-Encoding": "identity"})
            vary = hdr(g, "Vary") or ""
            expect(st == 200 and "X-Variant" in vary and "X-Other" in vary, f"{path}: {st}, Vary {vary!r}")
    report("auto.extra.origin_vary_kept", vary_kept)


if __name__ == "__main__":
    sys.exit(main())
