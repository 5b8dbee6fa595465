#!/usr/bin/env python3
"""HTTP answers as a CDN mixes them, where test_http_conformance.py is blind
(issue 14), for one URL of every packaging (segments, init, on-demand
subsegment, Smooth fragment and init, MPD, Smooth manifest):

  - the shipped nginx site with its fastcgi_cache variant switched on in
    front of the same pool: a HEAD before a GET, If-Range with another or a
    weak validator, several ranges, on a miss and on a hit;
  - If-None-Match: * (the 304 carries the 200's ETag), If-Match and
    If-Unmodified-Since (412, also with a Range), a range past the end (416
    that no cache keeps), Accept-Ranges only where ranges are answered;
  - the origin's Age; a late range under a date only when it is strong;
  - manifests whose bytes differ between piff-modes and token-modes, and a
    Smooth manifest's conditionals.

Real nginx (origin, front, the shipped cached site), spawn-fcgi and
dashpiff-fcgi; one PASS:/FAIL: line per (mode, check).
"""
import http.client
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dashpiff_stack import Nginx, Stack, fetch, free_port, metric, site_variant, wrap  # noqa: E402
from harness import expect, reporter  # noqa: E402
from codec import enc  # noqa: E402

MODES = ["off", "convert"]

# Answers that went through a cache upstream of dashpiff: the origin says how
# long they have been held (RFC 9111 §5.1).
AGED_LOCATION = """
        location ^~ /aged/ {
            rewrite ^/aged/(.*)$ /$1 break;
            add_header Age 50;
            expires 60s;
        }
"""

# An origin that sends no ETag: a range is asked of it under the date alone.
NO_ETAG_LOCATION = """
        location ^~ /noetag/ {
            rewrite ^/noetag/(.*)$ /$1 break;
            etag off;
        }
"""

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MiB = 1 << 20

results = {"passed": 0, "failed": 0}


def origin_root():
    """tests/data plus two progressive files (a clear init and one 4 MiB
    mdat: the origin's own bytes in every mode), one written just now, one
    two hours ago."""
    root = tempfile.mkdtemp(prefix="dashpiff-cdn-origin-")
    os.chmod(root, 0o755)
    for name in os.listdir(os.path.join(TOP, "tests", "data")):
        os.symlink(os.path.abspath(os.path.join(TOP, "tests", "data", name)), os.path.join(root, name))
    os.makedirs(os.path.join(root, "files"), mode=0o755)
    os.chmod(os.path.join(root, "files"), 0o755)
    init = open(os.path.join(TOP, "tests", "data", "streams", "clear", "init-0.mp4"), "rb").read()
    for name in ("fresh.mp4", "old.mp4"):
        path = os.path.join(root, "files", name)
        with open(path, "wb") as f:
            f.write(init + (4 * MiB + 8).to_bytes(4, "big") + b"mdat" + bytes(range(256)) * (4 * MiB // 256))
        os.chmod(path, 0o644)
    two_hours_ago = time.time() - 7200
    os.utime(os.path.join(root, "files", "old.mp4"), (two_hours_ago, two_hours_ago))
    return root


report = reporter("e2e.http_cdn", results)


class Answer:
    def __init__(self, status, headers, body, broken):
        self.status, self.headers, self.body, self.broken = status, headers, body, broken

    def h(self, name):
        return self.headers.get(name)


def ask(port, path, method="GET", headers=None):
    """One request on its own connection; a body cut short (or never sent
    after its head) is `broken`, never an exception."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        try:
            body, broken = resp.read(), False
        except (http.client.IncompleteRead, ConnectionError, OSError) as e:
            body, broken = getattr(e, "partial", b""), True
        return Answer(resp.status, resp.headers, body, broken)
    finally:
        conn.close()


class Site:
    def __init__(self, stack):
        self.stack = stack
        wd = stack.workdir
        self.cached_port = free_port()
        self.cache_dir = os.path.join(wd, "cache")
        self.cached = Nginx("site-cached", wrap(os.path.join(wd, "site-cached"),
                                                site_variant(stack.sock, self.cached_port, self.cache_dir)),
                            wd, snippets=True)

    def fresh(self, path):
        """`path` under a query no cache has seen (the origin ignores it)."""
        self.n = getattr(self, "n", 0) + 1
        return path + ("&" if "?" in path else "?") + f"fresh={time.monotonic_ns()}-{self.n}"

    def media(self, stream, name, prefix="/streams/"):
        return f"/media/{enc(self.stack.origin_url + prefix + stream + '/')}/{name}"

    def mpd(self, path):
        return f"/mpd/{enc(self.stack.origin_url + path)}"

    def urls(self):
        """One URL of each packaging the service answers."""
        O = self.stack.origin_url
        smooth = enc(O + "/streams/smooth-vod-piff/Manifest")
        return {
            "clear segment": self.media("clear", "seg-0-1.m4s"),
            "multi-fragment PIFF segment": self.media("multi-moof", "seg-0-1.m4s"),
            "PIFF-only segment": self.media("piff-only", "seg-0-2.m4s"),
            "init segment": self.media("piff-init", "init-0.mp4"),
            "on-demand subsegment": subsegment_url(self),
            "Smooth fragment": f"/media/{smooth}/QualityLevels(44560)/Fragments(video=800000)",
            "Smooth init": f"/mss-init/{smooth}/0-0.mp4",
            "MPD": self.mpd("/streams/clear/manifest.mpd"),
            "Smooth manifest": f"/mpd/{smooth}",
        }


def subsegment_url(site):
    """A /media/{first}-{last}/ URL as the MPD rewrite lists it, or, with mode
    off (the MPD is passed as it is), one made the same way."""
    import re
    body = ask(site.stack.front_port, site.mpd("/streams/ondemand-piff-only/manifest.mpd")).body
    m = re.search(rb'(/media/\d+-\d+/[^"<\s]+)', body)
    if m:
        return m.group(1).decode().replace("&amp;", "&")
    return f"/media/0-999/{enc(site.stack.origin_url + '/streams/ondemand-piff-only/')}/video.mp4"


def direct(site, path):
    a = ask(site.stack.front_port, path)
    expect(a.status == 200 and not a.broken, f"direct GET {a.status}")
    return a


def head_never_poisons_the_cache(site, path):
    """The cached site: a HEAD that misses is not what a GET then gets
    (nginx stored the HEAD's answer, its head without a body, under the key
    a GET looks up)."""
    path = site.fresh(path)
    want = direct(site, path)
    h = ask(site.cached_port, path, method="HEAD")
    expect(h.status == 200 and h.body == b"", f"HEAD {h.status}")
    expect(h.h("Content-Length") == want.h("Content-Length"),
           f"HEAD Content-Length {h.h('Content-Length')}, GET's {want.h('Content-Length')}")
    for attempt in range(2):
        g = ask(site.cached_port, path)
        expect(g.status == 200 and not g.broken and g.body == want.body,
               f"GET after a HEAD: {g.status} ({g.h('X-Cache-Status')}), {len(g.body)} of {len(want.body)} bytes"
               f"{', broken' if g.broken else ''}")
        length = g.h("Content-Length")
        expect(length is None or int(length) == len(g.body), f"Content-Length {length}, {len(g.body)} bytes")


def if_range_through_the_cache(site, path):
    """The cached site: a Range with If-Range naming another version is the
    whole 200 (RFC 9110 §13.1.5), never a stored 206 of the current one; with
    the current strong validator it is the 206."""
    path = site.fresh(path)
    want = direct(site, path)
    etag = want.h("ETag")
    for attempt in range(2):  # the second may be a cache hit
        a = ask(site.cached_port, path, headers={"Range": "bytes=0-99", "If-Range": '"another-version"'})
        expect(a.status == 200 and a.body == want.body,
               f"If-Range with another validator: {a.status} ({a.h('X-Cache-Status')}) {a.h('Content-Range')}")
    # A plain range is stored under its own key; If-Range must not be
    # answered from it either.
    plain = ask(site.cached_port, path, headers={"Range": "bytes=0-99"})
    expect(plain.status in (200, 206), f"plain range {plain.status}")
    a = ask(site.cached_port, path, headers={"Range": "bytes=0-99", "If-Range": '"another-version"'})
    expect(a.status == 200 and a.body == want.body, f"If-Range after a stored range: {a.status} ({a.h('X-Cache-Status')})")
    if etag and not etag.startswith("W/") and want.h("Accept-Ranges") == "bytes":
        a = ask(site.cached_port, path, headers={"Range": "bytes=0-99", "If-Range": etag})
        expect(a.status == 206 and a.body == want.body[:100], f"If-Range with the current tag: {a.status}")
    # The same answer on a miss and on a hit as without the cache: a weak
    # tag never holds, and several ranges get what the worker gives (the
    # whole 200 in a patching mode, the origin's multipart 206 in mode off).
    for headers in ({"Range": "bytes=0-99", "If-Range": etag}, {"Range": "bytes=0-1,5-9"}):
        if not headers.get("If-Range", "W/").startswith("W/"):
            continue
        d = ask(site.stack.front_port, path, headers=headers)
        for attempt in ("miss", "hit"):
            a = ask(site.cached_port, path, headers=headers)
            kind = (a.h("Content-Type") or "").split(";")[0]  # a multipart boundary is the origin's counter
            expect(a.status == d.status and kind == (d.h("Content-Type") or "").split(";")[0] and
                   (a.status != 200 or a.body == want.body),
                   f"{headers} ({attempt}): {a.status} {a.h('X-Cache-Status')} {a.h('Content-Type')}, "
                   f"without the cache {d.status} {d.h('Content-Type')}")


def star_304_carries_the_validator(site, path):
    """If-None-Match: * on a URL whose representation exists is a 304 (RFC
    9110 §13.1.2) carrying the ETag the 200 carries (§15.4.5)."""
    fresh = site.fresh(path)  # no cached rewrite
    want = direct(site, fresh)
    a = ask(site.stack.front_port, fresh, headers={"If-None-Match": "*"})
    expect(a.status == 304 and a.body == b"", f"If-None-Match: * answered {a.status}")
    expect(a.h("ETag") == want.h("ETag"), f"304 carries ETag {a.h('ETag')}, the 200 {want.h('ETag')}")


def age_passed(site, path):
    """An origin answer that has been in a cache for 50 s says so (Age, RFC
    9111 §5.1); passed on with the origin's max-age, a downstream cache keeps
    it 10 s more, not 60. Without the Age it kept it 60 s more."""
    aged = path.replace(enc(site.stack.origin_url + "/streams/"), enc(site.stack.origin_url + "/aged/streams/"))
    expect(aged != path, "not an origin path")
    a = direct(site, aged)
    expect(a.h("Cache-Control") == "max-age=60", f"Cache-Control {a.h('Cache-Control')}")
    expect(a.h("Age") == "50", f"200 Age {a.h('Age')}")
    if a.h("ETag"):
        n = ask(site.stack.front_port, aged, headers={"If-None-Match": a.h("ETag")})
        expect(n.status == 304 and n.h("Age") == "50", f"304 {n.status} Age {n.h('Age')}")


def range_past_the_end(site, path):
    """A range past the end is a 416 naming the length, and it is this
    request's answer, never the URL's: no freshness of the origin's goes
    with it (CloudFront caches a 416 by URL for as long as it is told)."""
    want = direct(site, path)
    n = len(want.body)
    a = ask(site.stack.front_port, path, headers={"Range": f"bytes={n + 10}-"})
    if a.status == 200:  # ranges not taken (the whole answer): nothing to judge
        expect(want.h("Accept-Ranges") != "bytes", "Accept-Ranges: bytes, but a range past the end got a 200")
        return
    expect(a.status == 416 and a.h("Content-Range") == f"bytes */{n}", f"{a.status} {a.h('Content-Range')}")
    expect("max-age" not in (a.h("Cache-Control") or "") and a.h("Expires") is None,
           f"416 with Cache-Control {a.h('Cache-Control')!r}, Expires {a.h('Expires')!r}")


def preconditions(site, path):
    """If-Match (strong comparison) and If-Unmodified-Since hold the answer
    to the representation the client names: otherwise 412, and never a 206
    of another version for a resumed download (RFC 9110 §13.1.1, §13.1.4,
    §13.2.2). Neither is forwarded to the origin by default, so dashpiff
    judges them against the validators of what it sends. (nginx's cache
    answers an If-Unmodified-Since that is not a date with 412 on its own,
    against §13.1.4: not asked of the cached site.)"""
    path = site.fresh(path)  # nothing stored under another mode
    want = direct(site, path)
    etag, lm = want.h("ETag"), want.h("Last-Modified")
    for headers, status in (({"If-Match": '"another-version"'}, 412),
                            ({"If-Match": '"another-version"', "Range": "bytes=0-9"}, 412),
                            ({"If-Match": "*"}, 200),
                            ({"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}, 412),
                            ({"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT", "Range": "bytes=0-9"}, 412),
                            ({"If-Unmodified-Since": "not a date"}, 200),
                            ({"If-Unmodified-Since": lm}, 200)):
        for port in (site.stack.front_port, site.cached_port):
            if port == site.cached_port and headers.get("If-Unmodified-Since") == "not a date":
                continue
            if port == site.cached_port:  # a range stored before the conditional one
                ask(port, path, headers={"Range": "bytes=0-9"})
            a = ask(port, path, headers=headers)
            where = "cached site, " if port == site.cached_port else ""
            expect(a.status == status, f"{where}{headers}: {a.status}, want {status}")
            if status == 200:
                expect(a.body == want.body, f"{where}{headers}: not the 200 body")
    if etag:
        # If-Match before If-None-Match (§13.2.2): a 412, not the 304 that the
        # tag the client holds would get (on a URL with no rewrite kept, so
        # that the origin's 304 to the tag mapped back decides; the tag does
        # not depend on the query the origin ignores).
        held = direct(site, site.fresh(path)).h("ETag")
        a = ask(site.stack.front_port, site.fresh(path),
                headers={"If-Match": '"another-version"', "If-None-Match": held})
        expect(a.status == 412, f"If-Match of another version with If-None-Match of this one: {a.status}")
    if etag and not etag.startswith("W/"):
        a = ask(site.stack.front_port, path, headers={"If-Match": etag, "Range": "bytes=0-9"})
        expect(a.status in (200, 206) and a.body == (want.body[:10] if a.status == 206 else want.body),
               f"If-Match with the current tag: {a.status}")
    elif etag:
        a = ask(site.stack.front_port, path, headers={"If-Match": etag})
        expect(a.status == 412, f"If-Match with the current weak tag: {a.status} (strong comparison)")


def preconditions_where_a_manifest_route_passes_the_origin_on(site):
    """/mpd/ of something that is no manifest passes the origin's 200 on with
    the origin's validators; If-Match and If-Unmodified-Since are never
    forwarded on that route, so dashpiff judges them there too (it answered
    the 200 to a tag of another version)."""
    path = site.mpd("/streams/piff-init/init-0.mp4")
    want = direct(site, path)
    etag = want.h("ETag")
    expect(etag and not etag.startswith("W/") and want.h("Last-Modified"), f"origin validators {etag!r}")
    for method in ("GET", "HEAD"):
        for headers, status in (({"If-Match": '"another-version"'}, 412),
                                ({"If-Match": "*"}, 200),
                                ({"If-Match": etag}, 200),
                                ({"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}, 412),
                                ({"If-Unmodified-Since": want.h("Last-Modified")}, 200)):
            a = ask(site.stack.front_port, path, method=method, headers=headers)
            expect(a.status == status, f"{method} {headers}: {a.status}, want {status}")
            if status == 200 and method == "GET":
                expect(a.body == want.body, f"{headers}: not the origin's bytes")


def late_range_under_a_date(site):
    """A range far into a file that is the origin's own bytes is asked of the
    origin with If-Range; without an ETag only under a strong date (RFC 9110
    §13.1.5, §8.8.2.2: at least 60 s before the origin's Date). A file
    written just now is read up to the range and cut instead: its next
    version within the same second would carry the same date."""
    os.utime(os.path.join(site.stack.origin_root, "files", "fresh.mp4"))  # written just now, whenever this runs
    for name, forwarded in (("old.mp4", True), ("fresh.mp4", False)):
        path = f"/media/{enc(site.stack.origin_url + '/noetag/files/')}/{name}"
        whole = direct(site, path)
        expect(whole.h("ETag") is None and whole.h("Last-Modified"), f"{name}: ETag {whole.h('ETag')}")
        first, last = 3 * MiB, 3 * MiB + 9999
        before = metric(site.stack, "dashpiff_origin_bytes_total")
        a = ask(site.stack.front_port, path, headers={"Range": f"bytes={first}-{last}"})
        read = metric(site.stack, "dashpiff_origin_bytes_total") - before
        expect(a.status == 206 and a.body == whole.body[first:last + 1], f"{name}: {a.status}")
        if forwarded:
            expect(read < MiB, f"{name}: {read / MiB:.1f} MiB read from the origin for a range asked of it")
        else:
            expect(read >= first, f"{name}: {read / MiB:.1f} MiB read: the range was asked of the origin "
                                  f"under a date {whole.h('Last-Modified')} that is not a strong validator")


def conditionals_on_the_smooth_manifest(site, path):
    """A Smooth manifest answered as an MPD (VOD: it has validators) answers
    its own validator and date with a 304 carrying its ETag, as any MPD."""
    want = direct(site, path)
    etag = want.h("ETag")
    expect(etag and etag.startswith("W/"), f"ETag {etag}")
    for headers in ({"If-None-Match": etag}, {"If-Modified-Since": want.h("Last-Modified")},
                    {"If-None-Match": f'"x", {etag}'}):
        a = ask(site.stack.front_port, path, headers=headers)
        expect(a.status == 304 and a.h("ETag") == etag, f"{headers}: {a.status} ETag {a.h('ETag')}")
    origin_tag = '"' + etag[3:-1].rsplit(".dashpiff-", 1)[0] + '"'  # the Smooth manifest's own
    a = ask(site.stack.front_port, path, headers={"If-None-Match": origin_tag})
    expect(a.status == 200 and a.body == want.body, f"the origin's own tag {origin_tag}: {a.status}")


def ranges_as_advertised(site, path):
    """An answer that says Accept-Ranges: bytes answers a range as a 206
    slice of its 200; one that answers ranges with the whole 200 does not
    advertise them."""
    want = direct(site, path)
    a = ask(site.stack.front_port, path, headers={"Range": "bytes=10-19"})
    if a.status == 206:
        expect(a.body == want.body[10:20] and a.h("Content-Range") == f"bytes 10-19/{len(want.body)}",
               f"206 {a.h('Content-Range')}")
    else:
        expect(a.status == 200 and a.body == want.body, f"range answered {a.status}")
        expect(want.h("Accept-Ranges") != "bytes" and a.h("Accept-Ranges") != "bytes",
               "Accept-Ranges: bytes, but a range gets the whole 200")


def remote_element_hrefs_are_cached_per_host(site):
    """An MPD's xlink:hrefs name the proxy by an absolute URL (dash.js
    fetches no other href), made from the request's Host: the answer varies
    on it (Vary: Host, X-Forwarded-Proto; the cached site's key has no
    host), so one request with a made-up Host does not put that host into
    the MPD every player then gets from the cache."""
    # Under /aged/ the origin gives it a lifetime, so that nginx stores it.
    path = site.fresh(site.mpd("/aged/mpd/xlink-periods.mpd"))
    forged = ask(site.cached_port, path, headers={"Host": "evil.example"})
    # The answer does depend on the Host (else this check would prove nothing).
    expect(forged.status == 200 and b'xlink:href="http://evil.example/mpd/' in forged.body,
           f"with Host evil.example: {forged.status}, {forged.body[:300]!r}")
    expect("host" in (forged.h("Vary") or "").lower(), f"Vary {forged.h('Vary')!r}")
    again = ask(site.cached_port, path, headers={"Host": "evil.example"})
    expect(again.h("X-Cache-Status") == "HIT", f"the forged answer was not stored ({again.h('X-Cache-Status')})")
    own = ask(site.cached_port, path)
    expect(own.status == 200 and b"evil.example" not in own.body,
           f"the next player got evil.example ({own.h('X-Cache-Status')}): {own.body[:300]!r}")
    expect(f'xlink:href="http://127.0.0.1:{site.cached_port}/mpd/'.encode() in own.body,
           f"no xlink:href naming the proxy it asked: {own.body[:300]!r}")


def manifest_tags_follow_the_mode(seen):
    """An MPD's bytes depend on the piff-mode (the converting modes add the
    CENC descriptor); where they differ the validators differ, so that a
    cache that revalidates after a mode change does not keep the other
    mode's MPD (RFC 9110 §8.8.3)."""
    items = list(seen.items())
    compared = 0
    for i, (m1, (e1, b1)) in enumerate(items):
        for m2, (e2, b2) in items[i + 1:]:
            if b1 != b2:
                compared += 1
                expect(e1 != e2, f"{m1} and {m2} MPDs differ but share {e1}")
    expect(compared, "the MPDs of the modes never differed")


def manifest_tags_follow_the_token_mode(site, passed):
    """With token-mode drop the MPD's URLs leave the manifest's query out:
    other bytes, so another validator, for a DASH MPD and for a Smooth
    manifest answered as one."""
    for what, path in (("MPD", site.mpd("/streams/clear/manifest.mpd")),
                       ("Smooth manifest", f"/mpd/{enc(site.stack.origin_url + '/streams/smooth-vod-piff/Manifest')}")):
        dropped = direct(site, path + "?tok=1")
        etag, body = passed[what]
        expect(body != dropped.body, f"{what}: the same bytes with and without the query")
        expect(etag and dropped.h("ETag") and etag != dropped.h("ETag"),
               f"{what}: pass and drop answers differ but share {etag}")


def main():
    started = time.monotonic()
    root = origin_root()
    stack = Stack(args=["--workers", "1", "--threads", "4"], origin_root=root,
                  origin_extra=AGED_LOCATION + NO_ETAG_LOCATION)
    site = Site(stack)
    stack.origin.start(stack.origin_port)
    stack.front.start(stack.front_port)
    site.cached.start(site.cached_port)
    mpds = {}
    try:
        for mode in MODES + ["free", "auto"]:
            stack.start_fcgi(["--piff-mode", mode])
            try:
                deadline = time.monotonic() + 20
                while fetch(stack.front_url + "/healthz", timeout=5)[0] != 200 and time.monotonic() < deadline:
                    time.sleep(0.1)
                piff_mpd = site.mpd("/mpd/playready-only-ams.mpd")
                m = direct(site, piff_mpd)
                mpds[mode] = (m.h("ETag"), m.body)
                if mode == "convert":
                    tokened = {}
                    for what, path in (("MPD", site.mpd("/streams/clear/manifest.mpd")),
                                       ("Smooth manifest",
                                        f"/mpd/{enc(stack.origin_url + '/streams/smooth-vod-piff/Manifest')}")):
                        t = direct(site, path + "?tok=1")
                        tokened[what] = (t.h("ETag"), t.body)
                if mode not in MODES:
                    continue
                urls = site.urls()
                for what, path in urls.items():
                    slug = what.replace(" ", "_").replace("-", "_").lower()
                    report(f"{mode}.{slug}.cached_head_then_get", lambda: head_never_poisons_the_cache(site, path))
                    report(f"{mode}.{slug}.ranges_as_advertised", lambda: ranges_as_advertised(site, path))
                for what in ("clear segment", "PIFF-only segment", "Smooth fragment", "on-demand subsegment"):
                    slug = what.replace(" ", "_").replace("-", "_").lower()
                    report(f"{mode}.{slug}.cached_if_range", lambda: if_range_through_the_cache(site, urls[what]))
                for what in ("PIFF-only segment", "multi-fragment PIFF segment", "Smooth fragment", "Smooth init",
                             "MPD", "on-demand subsegment"):
                    slug = what.replace(" ", "_").replace("-", "_").lower()
                    report(f"{mode}.{slug}.if_none_match_star",
                           lambda: star_304_carries_the_validator(site, urls[what]))
                for what in ("clear segment", "PIFF-only segment", "Smooth fragment", "Smooth init", "MPD"):
                    slug = what.replace(" ", "_").replace("-", "_").lower()
                    report(f"{mode}.{slug}.origin_age_passed", lambda: age_passed(site, urls[what]))
                for what, path in urls.items():
                    slug = what.replace(" ", "_").replace("-", "_").lower()
                    report(f"{mode}.{slug}.if_match_and_if_unmodified_since", lambda: preconditions(site, path))
                    if mode != "off":  # mode off: the origin's own 416
                        report(f"{mode}.{slug}.range_past_the_end_is_not_stored", lambda: range_past_the_end(site, path))
                report(f"{mode}.manifest_route_passed_through.if_match_and_if_unmodified_since",
                       lambda: preconditions_where_a_manifest_route_passes_the_origin_on(site))
                if mode != "off":
                    report(f"{mode}.late_range_under_a_date_only_when_it_is_strong", lambda: late_range_under_a_date(site))
                    report(f"{mode}.remote_element_hrefs_are_cached_per_host",
                           lambda: remote_element_hrefs_are_cached_per_host(site))
                report(f"{mode}.smooth_manifest.conditionals",
                       lambda: conditionals_on_the_smooth_manifest(site, urls["Smooth manifest"]))
            finally:
                stack.stop_fcgi()
        report("all.mpd_validators_differ_between_modes_where_bytes_differ", lambda: manifest_tags_follow_the_mode(mpds))
        stack.start_fcgi(["--piff-mode", "convert", "--token-mode", "drop"])
        try:
            deadline = time.monotonic() + 20
            while fetch(stack.front_url + "/healthz", timeout=5)[0] != 200 and time.monotonic() < deadline:
                time.sleep(0.1)
            report("convert.token_mode_drop.manifest_validators_differ_from_pass",
                   lambda: manifest_tags_follow_the_token_mode(site, tokened))
        finally:
            stack.stop_fcgi()
    finally:
        site.cached.stop()
        stack.front.stop()
        stack.origin.stop()
        stack.cleanup()
        shutil.rmtree(root, ignore_errors=True)
    print(f"# {results['passed']} passed, {results['failed']} failed in {time.monotonic() - started:.0f} s",
          file=sys.stderr)
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
