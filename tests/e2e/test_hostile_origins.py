#!/usr/bin/env python3
"""Broken origins through the real stack (issue #12 item 3): a scripted
origin on 127.0.0.1 breaks off a /media/ answer after its head (short
Content-Length, chunked without the last chunk, reset, stall); the client
must see a visibly broken transfer, never a complete 200 with bytes missing
(a trickling one is cut by the low-speed limit; also through the shipped
site's fastcgi_cache variant, whose cache must keep
nothing), within a bound, with the worker's peak RSS at most 64 MiB above
idle, and every normal request afterwards must succeed on the same worker."""
import asyncio
import hashlib
import http.client
import os
import resource
import socket
import struct
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dashpiff_stack import Nginx, Stack, child_pids, free_port, metric, proc_kib, site_variant, wait_for, wrap  # noqa: E402
from codec import enc  # noqa: E402
from harness import check, expect, run  # noqa: E402

KiB, MiB = 1 << 10, 1 << 20
# The suite's stack: a 1 s low-speed window (4 KiB a second) and 1 s of
# origin silence (origin-idle-timeout), so slow-origin cases end within about
# a second of their last useful byte.
LOW_SPEED = ["--low-speed-limit", "4K", "--low-speed-time", "1s", "--origin-idle-timeout", "1s"]
SLOW_BOUND = 3.5   # idle window + the loop's sweep + a loaded machine's margin
FAST_BOUND = 1.0   # every other case
MEMORY_BOUND = 64  # MiB of worker peak RSS above idle


def deflate_stream(total, level=1, chunk=16 * MiB):
    """gzip of `total` zero bytes, made piecewise (never `total` in memory)."""
    z = zlib.compressobj(level, zlib.DEFLATED, 31)
    zeros = b"\0" * chunk
    out = []
    for _ in range(total // chunk):
        out.append(z.compress(zeros))
    out.append(z.flush())
    return b"".join(out)


GZIP_16M_PLUS = deflate_stream(64 * MiB)   # over the default 16 MiB manifest cap


def head(status="200 OK", headers=(), length=None):
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def send(writer, data):
    writer.write(data)
    await writer.drain()


def reset(writer):
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# Each behaviour gets the request target and the stream pair; it returns True
# to keep the connection for another request.
async def short_length(target, r, w):
    await send(w, head(headers=[("Content-Type", "video/mp4")], length=2 * MiB) + b"x" * MiB)


async def no_last_chunk(target, r, w):
    await send(w, head(headers=[("Content-Type", "video/mp4"), ("Transfer-Encoding", "chunked")]))
    for _ in range(16):
        await send(w, b"10000\r\n" + b"x" * 0x10000 + b"\r\n")


async def reset_mid_body(target, r, w):
    await send(w, head(headers=[("Content-Type", "video/mp4")], length=2 * MiB) + b"x" * (512 * KiB))
    await asyncio.sleep(0.05)
    reset(w)


async def stall_mid_body(target, r, w):
    await send(w, head(headers=[("Content-Type", "video/mp4")], length=2 * MiB) + b"x" * (256 * KiB))
    await asyncio.sleep(30)


async def trickle(writer, data, gap):
    for i in range(len(data)):
        await send(writer, data[i:i + 1])
        await asyncio.sleep(gap)


async def trickle_body(target, r, w):
    await send(w, head(headers=[("Content-Type", "video/mp4")], length=1000))
    await trickle(w, b"x" * 1000, 0.1)


async def slowloris_head(target, r, w):
    await send(w, b"HTTP/1.1 200 OK\r\n")
    await trickle(w, b"X-Slow: " + b"s" * 1000 + b"\r\n\r\n", 0.1)


async def not_http(target, r, w):
    await send(w, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n" + b"\x00\x01binary" * 100)


async def bad_status(target, r, w):
    await send(w, b"HTTP/1.1 2x0 Fine\r\nContent-Length: 0\r\n\r\n")


async def bad_chunking(target, r, w):
    await send(w, head(headers=[("Content-Type", "video/mp4"), ("Transfer-Encoding", "chunked")])
               + b"zz\r\nabc\r\n0\r\n\r\n")


async def empty_reply(target, r, w):
    pass


async def redirect_loop(target, r, w):
    await send(w, head("302 Found", [("Location", target)], length=0))
    return True


async def long_length(target, r, w):
    # Declares 10 bytes, sends 100: the rest must not poison the connection.
    await send(w, head(headers=[("Content-Type", "video/mp4")], length=10) + b"y" * 100)
    return True


async def gzip_bomb(target, r, w):
    await send(w, head(headers=[("Content-Type", "application/dash+xml"), ("Content-Encoding", "gzip")],
                       length=len(GZIP_16M_PLUS)) + GZIP_16M_PLUS)
    return True


GIANT = 384 * MiB  # past an address-space limit of 256 MiB above the worker's size
_giant_gzip = []


def giant_gzip():
    """gzip of GIANT zero bytes, made once when first served (about 1/1000 of it)."""
    if not _giant_gzip:
        _giant_gzip.append(deflate_stream(GIANT, level=9))
    return _giant_gzip[0]


async def gzip_giant(target, r, w):
    # Not an MPD (the pre-scan lets it by) and within the raised limits: only
    # memory stops it.
    body = giant_gzip()
    await send(w, head(headers=[("Content-Type", "text/plain"), ("Content-Encoding", "gzip")],
                       length=len(body)) + body)
    return True


async def held_3m(target, r, w):
    # 3 MiB at once, then a trickle fast enough for the low-speed limit (4K
    # per second): a whole answer that stays held for 20 s.
    await send(w, head(headers=[("Content-Type", "video/mp4")], length=4 * MiB) + b"x" * (3 * MiB))
    for _ in range(200):
        await send(w, b"x" * 1024)
        await asyncio.sleep(0.1)
    return True


async def giant_fragment(target, r, w):
    # A Smooth fragment is held whole before it is converted.
    await send(w, head(headers=[("Content-Type", "video/mp4")], length=GIANT))
    zeros = b"\0" * MiB
    for _ in range(GIANT // MiB):
        await send(w, zeros)
    return True


# A file whose answer is the origin's own bytes (a clear init, one mdat),
# large enough that a late range of it is asked of the origin.
CLEAR_INIT = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "streams", "clear",
                               "init-0.mp4"), "rb").read()
PROGRESSIVE = CLEAR_INIT + (8 + 2 * MiB).to_bytes(4, "big") + b"mdat" + b"\x5a" * (2 * MiB)
REQUESTS = {}  # case -> the head of the latest request for it


def ranged(case, validators, slice_validators=None):
    """Serves PROGRESSIVE with `validators`; honours Range, and answers its
    206 with `slice_validators` (another version when they differ), If-Range
    or not."""
    async def serve(target, r, w):
        request = REQUESTS[case].decode("latin-1").lower()
        if "\r\nrange: bytes=" not in request:
            await send(w, head(headers=[("Content-Type", "video/mp4")] + validators, length=len(PROGRESSIVE))
                       + PROGRESSIVE)
            return True
        spec = request.split("\r\nrange: bytes=", 1)[1].split("\r\n", 1)[0]
        first, last = (int(x) for x in spec.split("-"))
        await send(w, head("206 Partial Content", [("Content-Type", "video/mp4"),
                                                   ("Content-Range", f"bytes {first}-{last}/{len(PROGRESSIVE)}")]
                           + (slice_validators or validators), length=last + 1 - first) + PROGRESSIVE[first:last + 1])
        return True
    return serve


LAST_MODIFIED = "Sat, 05 Dec 2026 10:00:00 GMT"


def typed(content_type, body):
    async def serve(target, r, w):
        await send(w, head(headers=[("Content-Type", content_type)], length=len(body)) + body)
        return True
    return serve


async def two_types(target, r, w):
    # A browser joins the lines: "video/mp4, text/html", whose last type wins.
    body = b"<script>alert(document.cookie)</script>"
    await send(w, head(headers=[("Content-Type", "video/mp4"), ("Content-Type", "text/html")], length=len(body)) + body)
    return True


# Origin headers that would act for this site if passed on: cookies for it,
# wiping its storage, a redirect or refresh, preloads, HSTS, CORS of its
# own, an authentication prompt or a download's file name in the site's name.
SITE_HEADERS = [("Set-Cookie", "session=evil; Path=/"), ("Clear-Site-Data", '"*"'), ("Refresh", "0;url=http://evil/"),
                ("Location", "http://evil/"), ("Content-Location", "http://evil/"),
                ("Link", "<http://evil/x.js>; rel=preload; as=script"),
                ("Strict-Transport-Security", "max-age=31536000"), ("Access-Control-Allow-Origin", "http://evil"),
                ("Access-Control-Allow-Credentials", "true"), ("WWW-Authenticate", 'Basic realm="site"'),
                ("Alt-Svc", 'h2="evil:443"'), ("X-Frame-Options", "ALLOWALL"), ("Content-Security-Policy", "default-src *"),
                ("Service-Worker-Allowed", "/"), ("Origin-Agent-Cluster", "?0"),
                ("Content-Disposition", 'attachment; filename="invoice.html"'),
                # nginx acts on it in a FastCGI answer (an internal redirect past
                # the site's access rules): the body check below sees one.
                ("X-Accel-Redirect", "/metrics")]


async def site_headers(target, r, w):
    status = "401 Unauthorized" if "401" in target else "200 OK"
    await send(w, head(status, [("Content-Type", "video/mp4")] + SITE_HEADERS, length=3) + b"abc")
    return True


def canned(reply, keep_open=True):
    """An origin that sends these bytes as its answer (and keeps the
    connection for the next request when keep_open)."""
    async def serve(target, r, w):
        await send(w, reply)
        return keep_open
    return serve


bad_redirect = canned(b"HTTP/1.1 302 Found\r\nLocation: http://[::1/x\r\nContent-Length: 0\r\n\r\n")
# RFC 9110 §8.6: no Content-Length in a 204. The bytes after the head
# belong to no answer (a 204 ends at its head).
no_content_with_length = canned(
    b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nCache-Control: max-age=60\r\n\r\nabcde", keep_open=False)
status_600 = canned(b"HTTP/1.1 600 Whatever\r\nContent-Length: 3\r\n\r\nabc")


async def conflicting_length(target, r, w):
    await send(w, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcdefg")


async def interim_storm(target, r, w):
    await send(w, b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n" * 200 + head(length=0))
    return True


async def endless_headers(target, r, w):
    await send(w, b"HTTP/1.1 200 OK\r\n")
    for i in range(10000):
        await send(w, b"".join(b"X-Filler-%d-%d: %s\r\n" % (i, j, b"f" * 40) for j in range(100)))


async def huge_header_line(target, r, w):
    await send(w, b"HTTP/1.1 200 OK\r\nX-Huge: " + b"h" * (4 * MiB) + b"\r\n\r\n")


async def hang(target, r, w):
    # Reads until the worker gives up on us.
    while await r.read(4096):
        pass


CASES = {
    "short-length": short_length, "no-last-chunk": no_last_chunk, "reset-mid-body": reset_mid_body,
    "stall-mid-body": stall_mid_body, "not-http": not_http, "bad-status": bad_status,
    "bad-chunking": bad_chunking, "empty-reply": empty_reply, "trickle-body": trickle_body,
    "slowloris-head": slowloris_head, "redirect-loop": redirect_loop, "long-length": long_length,
    "gzip-bomb": gzip_bomb, "no-content": no_content_with_length, "no-content.m4s": no_content_with_length,
    "conflicting-length": conflicting_length, "interim-storm": interim_storm,
    "endless-headers": endless_headers, "huge-header-line": huge_header_line, "hang": hang,
    "gzip-giant": gzip_giant, "Fragments(video=0)": giant_fragment, "held-3m": held_3m,
    # Honours Range but not If-Range, and has a newer version by then.
    "if-range-ignored": ranged("if-range-ignored", [("ETag", '"v1"')], [("ETag", '"v2"')]),
    "dated": ranged("dated", [("Last-Modified", LAST_MODIFIED)]),
    "weak-tag": ranged("weak-tag", [("ETag", 'W/"w1"'), ("Last-Modified", LAST_MODIFIED)]),
    "page.html": typed("text/html", b"<script>alert(document.cookie)</script>"),
    "image.svg": typed("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"),
    "code.js": typed("application/javascript", b"alert(1)"),
    "doc.xml": typed("application/xml; charset=utf-8", b"<x:script xmlns:x='http://www.w3.org/1999/xhtml'/>"),
    # Fetch's "extract a MIME type" takes the last member of a list: HTML.
    "list.html": typed("text/plain, text/html", b"<script>alert(document.cookie)</script>"),
    "two-types.html": two_types,
    "legacy.js": typed("text/x-javascript", b"alert(1)"),
    "empty-type": typed("", b"<script>alert(document.cookie)</script>"),
    "status-600": status_600,
    "bad-redirect": bad_redirect,
    "site-headers": site_headers,
}


class HostileOrigin:
    """The scripted origin: an asyncio server on its own thread."""

    def __init__(self):
        self.closed = {}  # case -> when the worker's connection to it ended
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve():
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(
                asyncio.start_server(self.handle, "127.0.0.1", 0, limit=1 << 20))
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()
        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        ready.wait(10)

    def url(self, case):
        return f"http://127.0.0.1:{self.port}/h/{case}"

    async def handle(self, reader, writer):
        case = None
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                target = request.split(b" ", 2)[1].decode()
                case = target.split("?")[0].rsplit("/", 1)[-1]
                REQUESTS[case] = request
                if not await CASES[case](target, reader, writer):
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, KeyError, OSError):
            pass
        finally:
            if case:
                self.closed[case] = time.monotonic()
            try:
                writer.close()
            except Exception:
                pass

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def worker_pid(stack):
    wait_for(lambda: child_pids(stack.fcgi.pid), what="the worker")
    pids = child_pids(stack.fcgi.pid)
    expect(len(pids) == 1, f"expected one worker, found {pids}")
    return next(iter(pids))




def reset_peak(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS


class Answer:
    def __init__(self, status, headers, body, broken, seconds):
        self.status, self.headers, self.body, self.broken, self.seconds = status, headers, body, broken, seconds

    def text(self):
        return self.body[:200].decode(errors="replace").strip()


def ask(port, path, conn=None, method="GET", timeout=20):
    """One request; `broken` when the transfer ended before its declared or
    chunked end (the client-visible failure that must replace a short body)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        try:
            body, broken = resp.read(), False
        except (http.client.IncompleteRead, ConnectionError, socket.timeout) as e:
            body, broken = getattr(e, "partial", b""), True
        answer = Answer(resp.status, resp.headers, body, broken, time.monotonic() - t0)
    except (http.client.RemoteDisconnected, ConnectionError) as e:
        answer = Answer(None, {}, b"", True, time.monotonic() - t0)
        answer.error = e
    finally:
        if own:
            conn.close()
    return answer


class Suite:
    def __init__(self):
        self.origin = HostileOrigin()
        self.stack = Stack(args=["--workers", "1", "--threads", "4"] + LOW_SPEED).start()
        # The shipped site's cache variant in front of the same pool.
        self.cached_port = free_port()
        wd = self.stack.workdir
        self.cache_dir = os.path.join(wd, "cache")
        self.cached = Nginx("site-cached", wrap(os.path.join(wd, "site-cached"),
                                                site_variant(self.stack.sock, self.cached_port, self.cache_dir)),
                            wd, snippets=True)
        self.cached.start(self.cached_port)
        self.pid = worker_pid(self.stack)
        self.seg_origin = open(os.path.join(self.stack.origin_root, "streams", "cenc-piff", "seg-0-1.m4s"), "rb").read()
        # Idle after a warm-up (threads, origin connections, allocator arenas).
        for _ in range(3):
            self.normal(self.stack.front_port)
        self.idle_kib = proc_kib(self.pid, "VmRSS")
        self.report = []

    def media_path(self, case):
        return "/media/" + enc(f"http://127.0.0.1:{self.origin.port}/h/") + "/" + case

    def mpd_path(self, case):
        return "/mpd/" + enc(self.origin.url(case))

    def normal(self, port, conn=None):
        """A normal segment and manifest; both must come back whole."""
        seg = ask(port, "/media/" + enc(self.stack.origin_url + "/streams/cenc-piff/") + "/seg-0-1.m4s", conn)
        expect(seg.status == 200 and not seg.broken and len(seg.body) == len(self.seg_origin),
               f"normal segment afterwards: {seg.status} broken={seg.broken} {len(seg.body)} bytes")
        mpd = ask(port, "/mpd/" + enc(self.stack.origin_url + "/streams/cenc-piff/manifest.mpd"), conn)
        expect(mpd.status == 200 and b"<MPD" in mpd.body, f"normal manifest afterwards: {mpd.status}")

    def case(self, name, path, port=None, bound=FAST_BOUND):
        """Runs one hostile request, checks time and memory, then normal
        requests on a fresh and on a kept client connection."""
        port = port or self.stack.front_port
        reset_peak(self.pid)
        answer = ask(port, path)
        peak_mib = (proc_kib(self.pid, "VmHWM") - self.idle_kib) / 1024
        self.report.append((name, answer.seconds, peak_mib, answer.status, answer.broken))
        expect(answer.seconds <= bound, f"{name} answered in {answer.seconds:.2f}s (bound {bound}s)")
        expect(peak_mib <= MEMORY_BOUND, f"{name}: worker peak {peak_mib:.0f} MiB above idle")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        try:
            self.normal(port, conn)
            self.normal(port, conn)
        finally:
            conn.close()
        expect(worker_pid(self.stack) == self.pid, "the worker died")
        return answer

    def stop(self):
        print("INFO: case, seconds, worker peak MiB above idle, status, broken", flush=True)
        for name, secs, peak, status, broken in self.report:
            print(f"INFO: {name:32} {secs:6.2f}s {peak:6.1f} MiB  status={status} broken={broken}", flush=True)
        self.cached.stop()
        self.stack.stop()
        self.stack.cleanup()
        self.origin.stop()


def expect_broken(answer, name):
    """Visibly broken: a transfer that stops before its end, or an error
    status; never a complete 200 whose body is short."""
    complete_ok = answer.status == 200 and not answer.broken
    expect(not complete_ok, f"{name}: a truncated origin body reached the client as a complete 200 "
                            f"({len(answer.body)} bytes)")
    expect(answer.broken or answer.status in (502, 504), f"{name}: {answer.status} broken={answer.broken}")


def expect_error(answer, name, status, words):
    expect(answer.status == status and not answer.broken, f"{name}: {answer.status} {answer.text()!r}")
    expect(words in answer.text(), f"{name}: body {answer.text()!r} lacks {words!r}")
    expect(b"127.0.0.1" not in answer.body, f"{name}: the body discloses the origin address")


@check
def media_cut_off_mid_body_is_visibly_broken(s):
    for case in ("short-length", "no-last-chunk", "reset-mid-body"):
        expect_broken(s.case("media " + case, s.media_path(case)), case)
    for case in ("stall-mid-body", "trickle-body"):
        expect_broken(s.case("media " + case, s.media_path(case), bound=SLOW_BOUND), case)


@check
def cached_site_stores_nothing_of_a_broken_answer(s):
    for case in ("short-length", "no-last-chunk", "reset-mid-body", "stall-mid-body"):
        path = s.media_path(case)
        answer = s.case("cached " + case, path, port=s.cached_port, bound=SLOW_BOUND)
        expect_broken(answer, "cached " + case)
        # levels=1:2 over md5 of the key (snippets/dashpiff-locations-cached.conf)
        # "$request_method|$request_uri|$http_range|$http_if_range|$http_if_match|$http_if_unmodified_since".
        key = hashlib.md5(("GET|" + path + "||||").encode()).hexdigest()
        stored = os.path.join(s.cache_dir, key[-1], key[-3:-1], key)
        expect(not os.path.exists(stored), f"cached {case}: the cache kept {stored}")
        again = ask(s.cached_port, path)
        expect(again.headers.get("X-Cache-Status") != "HIT", f"cached {case}: second request was a cache HIT")

@check
def a_slow_origin_is_cut_within_the_low_speed_window(s):
    answer = s.case("mpd slowloris-head", s.mpd_path("slowloris-head"), bound=SLOW_BOUND)
    expect_error(answer, "slowloris-head", 504, "origin timed out")


@check
def invalid_http_is_502_origin_sent_invalid_http(s):
    for case in ("not-http", "bad-status", "bad-chunking", "status-600", "bad-redirect"):
        expect_error(s.case("mpd " + case, s.mpd_path(case)), case, 502, "origin sent invalid HTTP")
    # On the streaming route the same failures never pass as a whole answer.
    for case in ("not-http", "bad-status", "bad-chunking", "status-600", "bad-redirect"):
        answer = s.case("media " + case, s.media_path(case))
        expect(answer.status == 502 or answer.broken, f"media {case}: {answer.status}")


@check
def an_answer_that_ends_early_is_502(s):
    for case in ("short-length", "no-last-chunk", "empty-reply"):
        expect_error(s.case("mpd " + case, s.mpd_path(case)), case, 502, "origin ended its answer early")


@check
def redirect_loop_and_gzip_bomb_are_refused_fast(s):
    expect_error(s.case("mpd redirect-loop", s.mpd_path("redirect-loop")), "redirect-loop", 502,
                 "redirected too many times")
    answer = s.case("mpd gzip-bomb", s.mpd_path("gzip-bomb"))
    expect(answer.status == 502 and (b"larger than" in answer.body or b"refused" in answer.body),
           f"gzip bomb: {answer.status} {answer.text()!r}")
    # Media is never decoded: the bomb passes as the bytes it is.
    answer = s.case("media gzip-bomb", s.media_path("gzip-bomb"))
    expect(answer.status == 200 and answer.body == GZIP_16M_PLUS and answer.headers.get("Content-Encoding") == "gzip",
           f"media gzip: {answer.status} {len(answer.body)} bytes")


@check
def a_wrong_content_length_does_not_poison_the_origin_connection(s):
    for _ in range(3):
        answer = s.case("media long-length", s.media_path("long-length"))
        expect(answer.status == 200 and answer.body == b"y" * 10, f"{answer.status} {answer.body[:20]!r}")


@check
def a_no_content_answer_has_no_length_and_no_body(s):
    for port in (s.stack.front_port, s.cached_port):
        for method in ("GET", "HEAD"):
            for path in (s.media_path("no-content"), s.media_path("no-content.m4s")):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                try:
                    answer = ask(port, path, conn, method)
                    expect(answer.status == 204 and not answer.broken and answer.body == b""
                           and answer.headers.get("Content-Length") is None,
                           f"{method} {path} on {port}: {answer.status} broken={answer.broken}"
                           f" length={answer.headers.get('Content-Length')} {answer.body[:20]!r}")
                    s.normal(port, conn)  # the same client connection goes on
                finally:
                    conn.close()


@check
def active_types_are_served_inert(s):
    for case in ("page.html", "image.svg", "code.js", "doc.xml", "list.html", "two-types.html", "legacy.js"):
        answer = s.case("media " + case, s.media_path(case))
        h = answer.headers
        expect(answer.status == 200, f"{case}: {answer.status}")
        expect(h.get("Content-Type") == "text/plain", f"{case} served as {h.get('Content-Type')}")
        expect("sandbox" in (h.get("Content-Security-Policy") or ""), f"{case}: CSP {h.get('Content-Security-Policy')}")
        expect(h.get("X-Content-Type-Options") == "nosniff", f"{case}: no nosniff")
    # An empty type is no type: not left for a browser to sniff.
    answer = s.case("media empty-type", s.media_path("empty-type"))
    expect(answer.headers.get("Content-Type") == "application/octet-stream",
           f"empty-type served as {answer.headers.get('Content-Type')!r}")
    normal = ask(s.stack.front_port, "/media/" + enc(s.stack.origin_url + "/streams/cenc-piff/") + "/seg-0-1.m4s")
    expect("sandbox" in (normal.headers.get("Content-Security-Policy") or ""), "a segment without the sandbox CSP")
    health = ask(s.stack.front_port, "/healthz")
    expect(health.headers.get("X-Content-Type-Options") == "nosniff", "/healthz without nosniff")


@check
def origin_headers_that_act_for_the_site_are_not_passed_on(s):
    for path in (s.media_path("site-headers"), s.mpd_path("site-headers"), s.media_path("site-headers") + "?401"):
        answer = ask(s.stack.front_port, path)
        expect(answer.status in (200, 401) and answer.body == b"abc", f"{path}: {answer.status} {answer.text()!r}")
        for name, value in SITE_HEADERS:
            got = answer.headers.get_all(name) or []
            expect(value not in got, f"{path}: the origin's {name}: {value} was passed on")
        expect(answer.headers.get("Access-Control-Allow-Origin") == "*", "the site's own CORS answer was replaced")
        expect(answer.headers.get("Content-Security-Policy") == "sandbox; default-src 'none'",
               f"CSP {answer.headers.get_all('Content-Security-Policy')}")


@check
def invalid_heads_are_502(s):
    for case in ("conflicting-length", "interim-storm", "endless-headers"):
        expect_error(s.case("mpd " + case, s.mpd_path(case)), case, 502, "origin sent invalid HTTP")
    for case in ("conflicting-length", "huge-header-line"):
        answer = s.case("media " + case, s.media_path(case))
        expect(answer.status == 502 and not answer.broken, f"media {case}: {answer.status} {answer.text()!r}")


@check
def errors_say_what_failed_without_addresses(s):
    dead = free_port()
    refused = ask(s.stack.front_port, "/mpd/" + enc(f"http://127.0.0.1:{dead}/x.mpd"))
    expect_error(refused, "connect refused", 502, "could not connect to the origin")
    expect(str(dead).encode() not in refused.body, "the body names the port")
    dns = ask(s.stack.front_port, "/mpd/" + enc("http://no-such-origin.invalid/x.mpd"))
    expect_error(dns, "dns", 502, "did not resolve")
    rid = refused.headers["X-Request-Id"]
    log = s.stack.settled_log(lambda text: any(rid in line for line in text.splitlines()))
    expect(any(rid in line and f"127.0.0.1:{dead}" in line for line in log.splitlines()),
           "the log line with the request id lacks the detail")


def hang_up_while_the_origin_is_silent(s, path, label):
    s.origin.closed.pop("hang", None)
    client = socket.create_connection(("127.0.0.1", s.stack.front_port))
    client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    wait_for(lambda: "hang" not in s.origin.closed, timeout=2, what="the origin request")
    time.sleep(0.3)
    hung_up = time.monotonic()
    client.close()
    # The first-byte timeout is 15 s: only the hang-up can end it this soon.
    wait_for(lambda: "hang" in s.origin.closed, timeout=5, what="the worker to drop the origin connection")
    waited = s.origin.closed["hang"] - hung_up
    s.report.append((f"client hang-up noticed ({label})", waited, 0.0, None, True))
    expect(waited < FAST_BOUND, f"{label}: the worker kept waiting on the origin {waited:.2f}s after the client left")
    # The transfer has ended with it: nothing left in flight on the worker.
    wait_for(lambda: metric(s.stack, "dashpiff_transfers_in_flight") == 0, timeout=FAST_BOUND,
             what=f"{label}: the worker's transfer to end")
    s.normal(s.stack.front_port)


@check
def a_range_of_another_version_is_refused(s):
    # A late range of the origin's own bytes is asked of the origin with
    # If-Range; an origin that ignores it and slices a newer version must not
    # have that slice passed under the URL (README "Ranges").
    n = len(PROGRESSIVE)
    path = s.media_path("if-range-ignored")
    full = ask(s.stack.front_port, path)
    expect(full.status == 200 and full.body == PROGRESSIVE and full.headers.get("ETag") == '"v1"',
           f"whole answer: {full.status} {full.headers.get('ETag')}")
    conn = http.client.HTTPConnection("127.0.0.1", s.stack.front_port, timeout=20)
    try:
        t0 = time.monotonic()
        conn.request("GET", path, headers={"Range": f"bytes={n - 1000}-{n - 1}"})
        resp = conn.getresponse()
        body = resp.read()
        s.report.append(("media if-range-ignored", time.monotonic() - t0, 0.0, resp.status, False))
        expect(resp.status == 502 and b"another version" in body, f"{resp.status} {body[:120]!r}")
        expect(b"If-Range: \"v1\"" in REQUESTS["if-range-ignored"], "the range was not asked under If-Range")
        s.normal(s.stack.front_port, conn)
    finally:
        conn.close()


@check
def a_range_is_asked_under_a_date_only_without_a_tag(s):
    # RFC 9110 §13.1.5: If-Range carries a date only when there is no entity
    # tag; a weak tag allows neither, so that range is read from the start.
    n = len(PROGRESSIVE)
    for case, asked in (("dated", f"If-Range: {LAST_MODIFIED}".encode()), ("weak-tag", None)):
        REQUESTS.pop(case, None)
        answer = None
        conn = http.client.HTTPConnection("127.0.0.1", s.stack.front_port, timeout=20)
        try:
            conn.request("GET", s.media_path(case), headers={"Range": f"bytes={n - 1000}-{n - 1}"})
            resp = conn.getresponse()
            answer = (resp.status, resp.read(), resp.headers.get("Content-Range"))
        finally:
            conn.close()
        expect(answer[0] == 206 and answer[1] == PROGRESSIVE[n - 1000:] and answer[2] == f"bytes {n - 1000}-{n - 1}/{n}",
               f"{case}: {answer[0]} {answer[2]}")
        last = REQUESTS[case]
        if asked:
            expect(asked in last and b"Range: bytes=" in last, f"{case}: the range was not asked under {asked!r}")
        else:
            expect(b"Range:" not in last and b"If-Range" not in last, f"{case}: asked {last!r}")


@check
def a_client_that_hangs_up_is_noticed_while_the_origin_is_silent(s):
    hang_up_while_the_origin_is_silent(s, s.media_path("hang"), "segment")


@check
def a_client_that_hangs_up_is_noticed_while_a_manifest_origin_is_silent(s):
    # Issue #12 item 5 for manifests: their fetch waits on the event loop too.
    hang_up_while_the_origin_is_silent(s, s.mpd_path("hang"), "manifest")


@check
def out_of_memory_under_prlimit_is_contained(s):
    """Issue #12 item 2: the worker under an address-space limit (prlimit)
    256 MiB above its size, one thread, manifest and segment limits raised
    by options so that only memory stops a large but legal answer: a
    manifest that inflates to 384 MiB and a 384 MiB Smooth fragment (held
    whole) run it out of memory inside libcurl's callbacks. Each is answered
    500/502 (or visibly broken off), and normal requests then succeed on the
    same client connection, the same kept FastCGI connections and the same
    worker process."""
    stack = Stack(args=["--workers", "1", "--threads", "1", "--max-manifest-bytes", "1G",
                        "--max-manifest-gzip-ratio", "100000", "--max-segment-bytes", "1G",
                        "--max-held-bytes", "4G"] + LOW_SPEED).start()
    try:
        pid = worker_pid(stack)
        conn = http.client.HTTPConnection("127.0.0.1", stack.front_port, timeout=60)
        seg_path = "/media/" + enc(stack.origin_url + "/streams/cenc-piff/") + "/seg-0-1.m4s"
        mpd_path = "/mpd/" + enc(stack.origin_url + "/streams/cenc-piff/manifest.mpd")
        for path in (seg_path, mpd_path):
            warm = ask(stack.front_port, path, conn)
            expect(warm.status == 200, f"warm-up {path}: {warm.status}")
        giant_gzip()  # made before the clock matters
        limit = proc_kib(pid, "VmSize") * KiB + 256 * MiB
        resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))
        expect(resource.prlimit(pid, resource.RLIMIT_AS)[0] == limit, "the limit did not take")
        connections = metric(stack, "dashpiff_fastcgi_connections_total")
        idle = proc_kib(pid, "VmRSS")
        hostile = [("manifest gzip-giant", "/mpd/" + enc(s.origin.url("gzip-giant"))),
                   ("smooth giant fragment", "/media/" + enc(f"http://127.0.0.1:{s.origin.port}/h/")
                    + "/QualityLevels(1)/Fragments(video=0)")]
        broken = 0
        for round_ in range(2):
            for name, path in hostile:
                reset_peak(pid)
                bomb = ask(stack.front_port, f"{path}?r={round_}", conn)
                peak = (proc_kib(pid, "VmHWM") - idle) / 1024  # up to the limit, by design
                s.report.append((f"prlimit {name} #{round_ + 1}", bomb.seconds, peak, bomb.status, bomb.broken))
                expect(bomb.status in (500, 502) or bomb.broken, f"{name}: {bomb.status} {bomb.text()!r}")
                expect(peak > 64, f"{name}: peak {peak:.0f} MiB above idle, the limit was never approached")
                if bomb.broken:  # a broken answer ends its connections, by design
                    broken += 1
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", stack.front_port, timeout=60)
                for _ in range(2):
                    for path_ok in (seg_path, mpd_path):
                        ok = ask(stack.front_port, path_ok, conn)
                        expect(ok.status == 200 and not ok.broken, f"after {name}: {path_ok[:7]} {ok.status}")
                seg = ask(stack.front_port, seg_path, conn)
                expect(len(seg.body) == len(s.seg_origin), f"after {name}: segment of {len(seg.body)} bytes")
        expect(child_pids(stack.fcgi.pid) == {pid}, "the worker was replaced")
        opened = metric(stack, "dashpiff_fastcgi_connections_total") - connections
        expect(opened <= 1 + broken, f"{opened} new FastCGI connections: the kept ones were dropped")
        expect("out of memory" in stack.settled_log(lambda text: "out of memory" in text),
               "the log does not say the worker ran out of memory")
        conn.close()
    finally:
        stack.stop()
        stack.cleanup()


@check
def whole_answers_held_at_once_are_bounded_per_worker(s):
    """On the event loop any number of whole answers (manifests, Smooth
    fragments) may be held at once, so their sum has a budget per worker
    (max-held-bytes): beyond it a request is refused at once with 503 and
    Retry-After, and once the held answer is gone the next one is served."""
    stack = Stack(args=["--workers", "1", "--threads", "2", "--max-held-bytes", "4M"] + LOW_SPEED).start()
    try:
        held_path = "/mpd/" + enc(s.origin.url("held-3m"))
        holder = socket.create_connection(("127.0.0.1", stack.front_port))
        holder.sendall(f"GET {held_path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        wait_for(lambda: "held-3m" in REQUESTS, timeout=10, what="the held manifest asked of the origin")
        time.sleep(1.0)  # its 3 MiB arrive
        second = ask(stack.front_port, held_path + "?n=2")
        print(f"INFO: a second held manifest beyond max-held-bytes: {second.status} in {second.seconds:.2f}s",
              flush=True)
        expect(second.status == 503 and second.headers.get("Retry-After") == "1",
               f"beyond max-held-bytes: {second.status} {second.text()!r}")
        expect(second.seconds < 5, f"the refusal took {second.seconds:.1f}s")
        holder.close()
        mpd_path = "/mpd/" + enc(stack.origin_url + "/streams/cenc-piff/manifest.mpd")
        wait_for(lambda: ask(stack.front_port, mpd_path).status == 200, timeout=10,
                 what="a normal manifest once the held one is gone")
    finally:
        stack.stop()
        stack.cleanup()


if __name__ == "__main__":
    sys.exit(run("e2e.hostile_origins", Suite, lambda s: s.stop(), only=os.environ.get("ONLY")))
