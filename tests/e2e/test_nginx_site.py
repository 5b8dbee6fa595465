#!/usr/bin/env python3
"""The shipped nginx site (nginx-conf/dashpiff.conf) as an operator enables
it: plain, and with its commented cache block switched on. Only the listen
address, the socket path and the cache directory are substituted."""
import os
import socket
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dashpiff_stack import Nginx, Stack, fetch, free_port, player_locations, site_variant, wrap  # noqa: E402
from codec import enc  # noqa: E402
from harness import check, expect, run  # noqa: E402
import bmff  # noqa: E402

class Sites:
    def __init__(self):
        self.stack = Stack(args=["--workers", "1", "--threads", "4"])
        self.stack.origin.start(self.stack.origin_port)
        self.stack.start_fcgi()
        self.plain_port, self.cached_port = free_port(), free_port()
        wd = self.stack.workdir
        # The plain site with the /player snippet's files where this checkout has them.
        plain = site_variant(self.stack.sock, self.plain_port).replace("include snippets/dashpiff-player.conf;",
                                                                        player_locations())
        self.plain = Nginx("site-plain", wrap(os.path.join(wd, "site-plain"), plain), wd, snippets=True)
        cache_dir = os.path.join(wd, "cache")
        self.cached = Nginx("site-cached", wrap(os.path.join(wd, "site-cached"),
                                                site_variant(self.stack.sock, self.cached_port, cache_dir)),
                            wd, snippets=True)
        self.plain.start(self.plain_port)
        self.cached.start(self.cached_port)

    def segment_path(self, prefix="/streams/"):
        return "/media/" + enc(self.stack.origin_url + prefix + "cenc-piff/") + "/seg-0-2.m4s"

    def stop(self):
        self.plain.stop()
        self.cached.stop()
        self.stack.stop_fcgi()
        self.stack.origin.stop()
        self.stack.cleanup()


@check
def plain_site_serves_health_and_patched_segments(s):
    status, _, body = fetch(f"http://127.0.0.1:{s.plain_port}/healthz")
    expect(status == 200 and body == b"ok\n", status)
    status, _, seg = fetch(f"http://127.0.0.1:{s.plain_port}{s.segment_path()}")
    expect(status == 200 and bmff.find(seg, b"traf"), status)
    expect(not bmff.find(seg, b"uuid", bmff.PIFF_SENC), "PIFF box left in the segment")


@check
def metrics_are_local_only_but_served_locally(s):
    status, _, body = fetch(f"http://127.0.0.1:{s.plain_port}/metrics")
    expect(status == 200 and b"dashpiff_requests_total" in body, status)


@check
def cached_site_serves_second_request_from_cache_whatever_the_host(s):
    url = f"http://127.0.0.1:{s.cached_port}{s.segment_path()}"
    s1, h1, b1 = fetch(url, headers={"Host": "a.example"})
    s2, h2, b2 = fetch(url, headers={"Host": "b.example"})
    expect(s1 == 200 and s2 == 200, (s1, s2))
    expect(h1["X-Cache-Status"] == "MISS" and h2["X-Cache-Status"] == "HIT", (h1["X-Cache-Status"], h2["X-Cache-Status"]))
    expect(b1 == b2, "cached bytes differ from the first answer")
    _, _, direct = fetch(f"http://127.0.0.1:{s.plain_port}{s.segment_path()}")
    expect(b1 == direct, "cached site answered different bytes than the plain site")


@check
def cache_keeps_ranges_apart_from_whole_objects(s):
    url = f"http://127.0.0.1:{s.cached_port}{s.segment_path()}"
    fetch(url)
    status, headers, part = fetch(url, headers={"Range": "bytes=0-63"})
    expect(status == 206 and len(part) == 64, f"{status} {len(part)}")
    status, _, whole = fetch(url)
    expect(status == 200 and len(whole) > 64 and whole[:64] == part, f"{status} {len(whole)}")


@check
def cache_honours_origin_no_store(s):
    url = f"http://127.0.0.1:{s.cached_port}{s.segment_path('/nocache/streams/')}"
    _, h1, _ = fetch(url)
    _, h2, _ = fetch(url)
    expect(h2["X-Cache-Status"] != "HIT", f"no-store answer was cached: {h1['X-Cache-Status']}, {h2['X-Cache-Status']}")


@check
def the_player_page_has_its_own_policy_and_proxied_answers_the_sandbox(s):
    # Issue #12 item 6: /player runs its own scripts only and is framed by no
    # other site; what the proxy serves beside it stays sandboxed.
    for path, kind in (("/player", "text/html"), ("/player/player.js", "application/javascript"),
                       ("/player/lib/dash.all.min.js", "application/javascript")):
        status, headers, _ = fetch(f"http://127.0.0.1:{s.plain_port}{path}")
        csp = headers.get("Content-Security-Policy") or ""
        expect(status == 200 and (headers.get("Content-Type") or "").startswith(kind), f"{path}: {status}")
        expect("script-src 'self'" in csp and "frame-ancestors 'self'" in csp and "object-src 'none'" in csp,
               f"{path}: CSP {csp!r}")
        expect(headers.get("X-Content-Type-Options") == "nosniff", f"{path}: no nosniff")
    status, headers, _ = fetch(f"http://127.0.0.1:{s.plain_port}{s.segment_path()}")
    expect(headers.get_all("Content-Security-Policy") == ["sandbox; default-src 'none'"],
           f"segment CSP {headers.get_all('Content-Security-Policy')}")


def raw_status_and_headers(port, request):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            more = c.recv(4096)
            if not more:
                break
            data += more
    lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    return int(lines[0].split()[1]), [line.split(":", 1)[1].strip() for line in lines[1:]
                                      if line.lower().startswith("x-content-type-options:")]


@check
def every_answer_says_nosniff_once_nginx_own_too(s):
    # Issue #12 item 6: nginx's own answers (a 413 for a /create body over
    # its cap, a malformed request's 400) as well as the worker's, on both
    # sites, each with one nosniff.
    for port in (s.plain_port, s.cached_port):
        big = b"url=" + b"x" * 70000
        for request, want in (
                (b"POST /create HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(big) + big, 413),
                (b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n", 400),
                (b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200),
                (b"GET /nowhere HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 404),
                (b"GET " + s.segment_path().encode() + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200)):
            status, nosniff = raw_status_and_headers(port, request)
            expect(status == want and nosniff == ["nosniff"],
                   f"{request[:30]!r} on {port}: {status} (want {want}), nosniff headers {nosniff}")


@check
def healthz_is_503_once_the_pool_is_gone(s):
    # Runs last: it stops the pool (a draining pool refuses connections too).
    s.stack.stop_fcgi()
    for port in (s.plain_port, s.cached_port):
        status, headers, body = fetch(f"http://127.0.0.1:{port}/healthz")
        expect(status == 503 and headers.get_all("X-Content-Type-Options") == ["nosniff"],
               f"{port}: {status} {body!r} nosniff {headers.get_all('X-Content-Type-Options')}")


if __name__ == "__main__":
    sys.exit(run("e2e.nginx_site", Sites, lambda s: s.stop(), only=os.environ.get("ONLY")))
