#!/usr/bin/env python3
"""End to end: real origin nginx, real spawn-fcgi + dashpiff-fcgi, real front
nginx with the project's own nginx-conf, real HTTP on 127.0.0.1."""
import http.client
import json
import os
import socket
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dashpiff_stack import Stack, fetch, free_port, metric  # noqa: E402
from codec import enc  # noqa: E402
from harness import check, expect, run  # noqa: E402
import bmff  # noqa: E402
import mpd  # noqa: E402


def mint(stack, origin_path):
    status, _, body = fetch(stack.front_url + "/create?url=" + urllib.parse.quote(stack.origin_url + origin_path, safe=""))
    expect(status == 200, f"/create answered {status}")
    return json.loads(body)["url"]


def proxied_and_origin_segments(stack, stream):
    """Pairs (proxy url, origin url) for every segment of a stream, in order."""
    proxy_mpd_url = mint(stack, f"/streams/{stream}/manifest.mpd")
    status, _, rewritten = fetch(proxy_mpd_url)
    expect(status == 200, f"proxied MPD answered {status}")
    origin_mpd_url = stack.origin_url + f"/streams/{stream}/manifest.mpd"
    _, _, original = fetch(origin_mpd_url)
    proxied = mpd.segment_urls(rewritten, proxy_mpd_url)
    direct = mpd.segment_urls(original, origin_mpd_url)
    expect(len(proxied) == len(direct) and proxied, f"segment lists differ: {len(proxied)} vs {len(direct)}")
    return [(p[2], d[2]) for p, d in zip(proxied, direct)]


def piff_senc_type_offsets(data):
    return {b[2] + 4 for b in bmff.walk(data) if b[1] == b"uuid" and b[5] == bmff.PIFF_SENC}


# --- /create -------------------------------------------------------------

@check
def create_get_mints_absolute_proxy_url(stack):
    status, headers, body = fetch(stack.front_url + "/create?url=" +
                                  urllib.parse.quote("http://cdn.example/a/b.mpd?token=x%20y&e=1", safe=""))
    expect(status == 200, f"status {status}")
    expect(headers["Content-Type"].startswith("application/json"), headers["Content-Type"])
    url = json.loads(body)["url"]
    expect(url == stack.front_url + "/mpd/http!0!1!1cdn.example!1a!1b.mpd?token=x%20y&e=1", url)


@check
def create_uses_forwarded_proto_and_host(stack):
    _, _, body = fetch(stack.front_url + "/create?url=http%3A%2F%2Fo.example%2Fm.mpd",
                       headers={"Host": "d123.cloudfront.net", "X-Forwarded-Proto": "https"})
    expect(json.loads(body)["url"] == "https://d123.cloudfront.net/mpd/http!0!1!1o.example!1m.mpd", body)


@check
def create_post_json(stack):
    status, _, body = fetch(stack.front_url + "/api/create", method="POST",
                            data=json.dumps({"url": "https://o.example/x/m.mpd"}).encode(),
                            headers={"Content-Type": "application/json"})
    expect(status == 200 and json.loads(body)["url"].endswith("/mpd/https!0!1!1o.example!1x!1m.mpd"), body)


@check
def create_form_post_from_browser_gets_html_link(stack):
    status, headers, body = fetch(stack.front_url + "/create", method="POST",
                                  data=b"url=http%3A%2F%2Fo.example%2Fm.mpd",
                                  headers={"Content-Type": "application/x-www-form-urlencoded",
                                           "Accept": "text/html,application/xhtml+xml"})
    expect(status == 200 and headers["Content-Type"].startswith("text/html"), f"{status} {headers['Content-Type']}")
    expect(b'<a href="' + stack.front_url.encode() + b'/mpd/http!0!1!1o.example!1m.mpd">' in body, body[:300])


@check
def create_get_without_url_is_html5_form(stack):
    status, headers, body = fetch(stack.front_url + "/create")
    expect(status == 200 and headers["Content-Type"].startswith("text/html"), status)
    expect(body.startswith(b"<!DOCTYPE html>") and b"<form" in body and b'name="url"' in body, body[:200])


@check
def create_refuses_bad_input_with_reason(stack):
    cases = [
        ("POST", b"{not json", {"Content-Type": "application/json"}, 400),
        ("POST", b"", {"Content-Type": "application/x-www-form-urlencoded"}, 400),
        ("POST", json.dumps({"url": "ftp://o.example/m.mpd"}).encode(), {"Content-Type": "application/json"}, 400),
        ("POST", b"url=" + b"a" * 70000, {"Content-Type": "application/x-www-form-urlencoded"}, 413),
    ]
    for method, data, headers, want in cases:
        status, _, body = fetch(stack.front_url + "/create", method=method, data=data, headers=headers)
        expect(status == want, f"{data[:30]!r}: {status}, wanted {want}")
        expect(body.count(b"\n") <= 1 or want == 413, f"reason not one line: {body[:200]!r}")
    status, _, body = fetch(stack.front_url + "/create?url=javascript%3Aalert(1)")
    expect(status == 400 and b"http" in body, f"{status} {body!r}")


# --- /mpd and /media ----------------------------------------------------------

@check
def every_segment_of_cenc_piff_stream_equals_origin_except_rewritten_4ccs(stack):
    pairs = proxied_and_origin_segments(stack, "cenc-piff")
    rewritten = 0
    for proxy_url, origin_url in pairs:
        expect(urllib.parse.urlsplit(proxy_url).path.startswith("/media/"), f"not proxied: {proxy_url}")
        ps, ph, proxied = fetch(proxy_url)
        os_, _, original = fetch(origin_url)
        expect(ps == 200 and os_ == 200, f"{proxy_url}: {ps}/{os_}")
        expect(len(proxied) == len(original), f"{proxy_url}: length {len(proxied)} != {len(original)}")
        expect(ph.get("Access-Control-Allow-Origin") == "*", "no CORS header")
        diffs = {i for i in range(len(original)) if proxied[i] != original[i]}
        offsets = piff_senc_type_offsets(original)
        expected = {o + k for o in offsets for k in range(4)}
        expect(diffs <= expected, f"{proxy_url}: bytes changed outside PIFF box types")
        for o in offsets:
            expect(proxied[o:o + 4] == b"free", f"{proxy_url}: PIFF box at {o - 4} not made free")
        rewritten += len(offsets)
    expect(rewritten > 0, "the stream had no PIFF boxes to rewrite: fixture problem")


@check
def piff_only_segments_get_cenc_senc_in_auto_mode(stack):
    pairs = proxied_and_origin_segments(stack, "piff-only")
    media = [p for p in pairs if "init" not in p[0]]
    for proxy_url, origin_url in media:
        _, _, proxied = fetch(proxy_url)
        _, _, original = fetch(origin_url)
        trafs = bmff.find(original, b"traf")
        expect(trafs and not bmff.find(original, b"senc"), "fixture should be PIFF-only")
        sencs = bmff.find(proxied, b"senc")
        expect(len(sencs) == len(trafs), f"{proxy_url}: {len(sencs)} senc for {len(trafs)} traf")
        expect(not bmff.find(proxied, b"uuid", bmff.PIFF_SENC), f"{proxy_url}: PIFF box left")
        mdat_o = [original[b[2] + b[4]:b[2] + b[3]] for b in bmff.find(original, b"mdat")]
        mdat_p = [proxied[b[2] + b[4]:b[2] + b[3]] for b in bmff.find(proxied, b"mdat")]
        expect(mdat_o == mdat_p, f"{proxy_url}: mdat payload changed")


@check
def mpd_routes_every_segment_through_media_and_keeps_namespaces(stack):
    proxy_mpd_url = mint(stack, "/streams/cenc-piff/manifest.mpd")
    status, headers, body = fetch(proxy_mpd_url)
    expect(status == 200, status)
    expect(int(headers["Content-Length"]) == len(body), "Content-Length not recomputed")
    expect(not (headers.get("ETag") or "W/").startswith('"'), "strong ETag passed on for a changed body")
    expect(b"urn:mpeg:cenc:2013" in body, "cenc namespace lost")
    for _, kind, url in mpd.segment_urls(body, proxy_mpd_url):
        expect(urllib.parse.urlsplit(url).path.startswith("/media/"), f"{kind} not proxied: {url}")


@check
def head_works_on_both_proxy_routes(stack):
    pairs = proxied_and_origin_segments(stack, "cenc-piff")
    proxy_mpd_url = mint(stack, "/streams/cenc-piff/manifest.mpd")
    s1, h1, b1 = fetch(proxy_mpd_url, method="HEAD")
    _, _, full = fetch(proxy_mpd_url)
    expect(s1 == 200 and b1 == b"" and int(h1["Content-Length"]) == len(full), f"mpd HEAD {s1} {h1}")
    s2, h2, b2 = fetch(pairs[-1][0], method="HEAD")
    expect(s2 == 200 and b2 == b"", f"media HEAD {s2}")


@check
def range_request_reaches_origin_and_206_comes_back(stack):
    proxy_url, origin_url = proxied_and_origin_segments(stack, "cenc-piff")[-1]
    status, headers, body = fetch(proxy_url, headers={"Range": "bytes=0-99"})
    expect(status == 206 and len(body) == 100, f"{status} {len(body)}")
    expect(headers["Content-Range"].startswith("bytes 0-99/"), headers.get("Content-Range"))


@check
def range_starting_on_a_moof_is_patched_and_other_ranges_pass_untouched(stack):
    proxy_url, origin_url = proxied_and_origin_segments(stack, "cenc-piff")[-1]
    _, _, whole = fetch(origin_url)
    moof = bmff.find(whole, b"moof")[0][2]
    piff = sorted(piff_senc_type_offsets(whole))
    expect(piff and moof < piff[0], "fixture has no PIFF box after its moof")
    status, headers, part = fetch(proxy_url, headers={"Range": f"bytes={moof}-"})
    expect(status == 206 and headers["Content-Range"] == f"bytes {moof}-{len(whole) - 1}/{len(whole)}",
           f"{status} {headers.get('Content-Range')}")
    expect(len(part) == len(whole) - moof, "range length changed")
    expected = bytearray(whole[moof:])
    for o in piff:
        expected[o - moof:o - moof + 4] = b"free"
    expect(part == bytes(expected), "range from the moof not patched exactly at the PIFF box types")
    mdat = bmff.find(whole, b"mdat")[0]
    start = mdat[2] + mdat[4] + 3
    status, _, inner = fetch(proxy_url, headers={"Range": f"bytes={start}-{start + 999}"})
    expect(status == 206 and inner == whole[start:start + 1000], "a range inside mdat was changed")


@check
def origin_status_and_cache_headers_reach_client(stack):
    status, headers, body = fetch(stack.front_url + "/media/" + enc(stack.origin_url + "/streams/") + "/does-not-exist.m4s")
    expect(status == 404, f"origin 404 answered {status}")
    status, _, body = fetch(stack.front_url + "/media/" + enc(stack.origin_url + "/streams/") + "/live2026-11-27T10:00:00Z.m4s")
    expect(status == 404, f"a segment name with ':' answered {status} {body!r} (read as a scheme?)")
    pairs = proxied_and_origin_segments(stack, "cenc-piff")
    _, headers, _ = fetch(pairs[-1][0])
    expect("Last-Modified" in headers, "Last-Modified not passed on")


@check
def origin_down_is_502_with_reason(stack):
    dead = free_port()
    url = mint(stack, "/x.mpd").replace(str(stack.origin_port), str(dead))
    status, _, body = fetch(url)
    expect(status == 502 and b"origin" in body and body.count(b"\n") == 1, f"{status} {body!r}")


@check
def origin_that_never_answers_is_504(stack):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        url = mint(stack, "/x.mpd").replace(str(stack.origin_port), str(listener.getsockname()[1]))
        status, _, body = fetch(url, timeout=30)
        expect(status == 504 and b"timed out" in body, f"{status} {body!r}")
    finally:
        listener.close()


def fastcgi_connections(stack):
    value = metric(stack, "dashpiff_fastcgi_connections_total")
    expect(value is not None, "dashpiff_fastcgi_connections_total missing from /metrics")
    return int(value)


def origin_that_breaks_off(declared, sent):
    """A one-shot origin on 127.0.0.1: a 200 head declaring `declared` bytes,
    `sent` bytes of body, then a closed connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve():
        try:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: video/iso.segment\r\n"
                             b"Content-Length: %d\r\n\r\n" % declared + b"\0" * sent)
        except OSError:
            pass
    threading.Thread(target=serve, daemon=True).start()
    return listener


@check
def kept_fastcgi_connections_serve_every_kind_of_request(stack):
    """nginx keeps its connections to the pool (fastcgi_keep_conn on): one
    connection carries many requests, including POST bodies (the worker reads
    each request's stdin to its end), HEAD, errors, and a request whose origin
    breaks off mid-body (that connection is dropped, the next still work)."""
    seg_base = stack.front_url + "/media/" + enc(stack.origin_url + "/streams/cenc-piff/") + "/"
    _, _, origin_seg = fetch(stack.origin_url + "/streams/cenc-piff/seg-0-1.m4s")
    before = fastcgi_connections(stack)
    answered = 0
    for round_ in range(5):
        status, _, body = fetch(stack.front_url + "/create", method="POST",
                                data=json.dumps({"url": stack.origin_url + f"/streams/clear/manifest.mpd?r={round_}"}).encode(),
                                headers={"Content-Type": "application/json"})
        expect(status == 200 and b"/mpd/" in body, f"POST /create on a kept connection: {status} {body!r}")
        status, _, body = fetch(stack.front_url + "/create", method="POST", data=b"url=" + b"x" * 100,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
        expect(status == 400, f"bad form POST: {status} {body!r}")
        status, _, body = fetch(seg_base + "seg-0-1.m4s")
        expect(status == 200 and len(body) == len(origin_seg), f"init through a kept connection: {status} {len(body)}")
        status, _, body = fetch(seg_base + "seg-0-1.m4s", method="HEAD")
        expect(status == 200 and body == b"", f"HEAD: {status}")
        status, _, _ = fetch(stack.front_url + "/nothing/here")
        expect(status == 404, f"404: {status}")
        answered += 5
    broken = origin_that_breaks_off(100000, 1000)
    try:
        url = seg_base.replace(str(stack.origin_port), str(broken.getsockname()[1])) + "seg.m4s"
        try:
            status, _, body = fetch(url, timeout=10)
        except (http.client.HTTPException, OSError):
            status, body = None, b""  # the client sees the transfer break: that is the point
        expect(status != 200 or len(body) < 100000, "a broken-off origin body came back whole")
    finally:
        broken.close()
    for _ in range(3):
        status, _, body = fetch(seg_base + "seg-0-1.m4s")
        expect(status == 200 and len(body) == len(origin_seg), f"after a dropped connection: {status} {len(body)}")
        answered += 1
    opened = fastcgi_connections(stack) - before
    # A connection per request would make `opened` at least `answered`. Kept
    # connections give a few: one per nginx worker (the installed package runs
    # Debian's one per core), a new one after the broken-off answer, and one
    # after each HEAD of a segment (nginx does not keep an unbuffered
    # upstream it answered a HEAD from).
    expect(1 <= opened <= answered // 2, f"{opened} FastCGI connections for {answered} sequential requests")


@check
def malformed_encoded_url_is_400(stack):
    for path in ["/mpd/http!0!1!1h!", "/mpd/http!9x", "/media/abc!/seg.m4s", "/mpd/"]:
        status, _, body = fetch(stack.front_url + path)
        expect(status == 400 and body.endswith(b"\n"), f"{path}: {status} {body!r}")


@check
def unknown_route_is_404(stack):
    status, _, body = fetch(stack.front_url + "/nothing/here")
    expect(status == 404 and b"no such route" in body, f"{status} {body!r}")


@check
def token_in_manifest_query_reaches_every_segment(stack):
    proxy_mpd_url = mint(stack, "/token/streams/cenc-piff/manifest.mpd?token=secret")
    expect(proxy_mpd_url.endswith("?token=secret"), proxy_mpd_url)
    status, _, body = fetch(proxy_mpd_url)
    expect(status == 200, f"manifest with token: {status}")
    for _, kind, url in mpd.segment_urls(body, proxy_mpd_url):
        s, _, _ = fetch(url)
        expect(s == 200, f"{kind} {url}: {s} (token lost?)")


@check
def health_and_metrics(stack):
    status, _, body = fetch(stack.front_url + "/healthz")
    expect(status == 200 and body == b"ok\n", f"{status} {body!r}")
    status, _, body = fetch(stack.front_url + "/metrics")
    expect(status == 200 and b"dashpiff_requests_total" in body, status)


@check
def requests_are_logged_one_line_each(stack):
    fetch(stack.front_url + "/healthz", headers={"X-Request-Id": "e2e-log-check"})
    log = stack.settled_log(lambda text: "id=e2e-log-check" in text)
    lines = [l for l in log.splitlines() if "id=e2e-log-check" in l]
    expect(len(lines) == 1 and "route=healthz" in lines[0] and "status=200" in lines[0], lines)


def setup():
    stack = Stack(args=["--workers", "2", "--threads", "4", "--first-byte-timeout", "2000"])
    return stack.start()


def teardown(stack):
    stack.stop()
    stack.cleanup()


if __name__ == "__main__":
    sys.exit(run("e2e.service", setup, teardown, only=os.environ.get("ONLY")))
