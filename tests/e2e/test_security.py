#!/usr/bin/env python3
"""The SSRF guard and limits, end to end. Every address used is in
127.0.0.0/8: the origin nginx listens on 127.0.0.1 only."""
import os
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dashpiff_stack  # noqa: E402
from dashpiff_stack import Stack, fetch  # noqa: E402
from codec import enc  # noqa: E402
from harness import check, expect, run  # noqa: E402


class Stacks:
    def __init__(self):
        # Default policy: loopback refused.
        self.default = Stack(allow_network=None, args=["--workers", "1", "--threads", "2"]).start()
        # Only 127.0.0.1/32: 127.0.0.2 stays refused.
        self.narrow = Stack(allow_network="127.0.0.1/32",
                            args=["--workers", "1", "--threads", "4", "--first-byte-timeout", "1500"]).start()

    def stop(self):
        for s in (self.default, self.narrow):
            s.stop()
            s.cleanup()


def mpd_url(stack, origin_path, via=None):
    origin = (via or stack.origin_url) + origin_path
    return stack.front_url + "/mpd/" + enc(origin)


@check
def loopback_origin_refused_by_default(st):
    status, _, body = fetch(mpd_url(st.default, "/streams/clear/manifest.mpd"))
    expect(status == 403 and b"address refused" in body, f"{status} {body!r}")


@check
def loopback_origin_served_once_allowed(st):
    status, _, body = fetch(mpd_url(st.narrow, "/streams/clear/manifest.mpd"))
    expect(status == 200 and b"<MPD" in body, f"{status} {body[:100]!r}")


@check
def redirect_to_other_loopback_address_refused(st):
    status, headers, body = fetch(mpd_url(st.narrow, "/redirect-other-loopback"))
    expect(status == 403 and b"address refused" in body, f"{status} {body!r}")
    # The requester learns what failed, not where the redirect led; the log
    # line with the request id keeps that.
    expect(b"127.0.0.2" not in body and b"loopback" not in body, f"internal address disclosed: {body!r}")
    # The worker writes its log line after the answer has gone out, so the
    # client can read the answer first: wait for the line, a bounded while.
    rid = headers["X-Request-Id"]
    deadline = time.monotonic() + 5
    while True:
        lines = [line for line in st.narrow.log_text().splitlines() if rid in line]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    expect(any("127.0.0.2" in line for line in lines),
           f"the log line with the request id lacks the refused address: {lines!r}")


@check
def a_name_resolving_to_a_refused_address_reads_as_one_that_does_not_resolve(st):
    # Which internal names exist is the resolver's to know: a name whose
    # addresses are all refused is answered as a name that does not resolve.
    port = st.default.origin_url.rsplit(":", 1)[1]
    answers = {}
    for host in ("localhost", "no-such-origin.invalid"):
        status, headers, body = fetch(st.default.front_url + "/mpd/" + enc(f"http://{host}:{port}/m.mpd"))
        answers[host] = (status, body)
        if host == "localhost":
            rid = headers["X-Request-Id"]
    expect(answers["localhost"] == answers["no-such-origin.invalid"], f"told apart: {answers!r}")
    expect(answers["localhost"][0] == 502 and b"did not resolve" in answers["localhost"][1], repr(answers))
    lines = []
    deadline = time.monotonic() + 5
    while not lines and time.monotonic() < deadline:
        lines = [line for line in st.default.log_text().splitlines() if rid in line]
        time.sleep(0.05)
    expect(any("address_refused" in line and "loopback" in line for line in lines),
           f"the log line with the request id lacks the refusal: {lines!r}")
    # An address literal is the requester's own: still 403, refused address.
    status, _, body = fetch(st.default.front_url + "/mpd/" + enc(f"http://127.0.0.1:{port}/m.mpd"))
    expect(status == 403 and b"address refused" in body, f"{status} {body!r}")


@check
def direct_request_to_refused_address_refused(st):
    origin = st.narrow.origin_url.replace("127.0.0.1", "127.0.0.2")
    status, _, body = fetch(st.narrow.front_url + "/mpd/" + enc(origin + "/streams/clear/manifest.mpd"))
    expect(status == 403, f"{status} {body!r}")


@check
def file_and_gopher_refused_directly_and_on_redirect(st):
    for url in ("file:///etc/passwd", "gopher://127.0.0.1:70/x"):
        status, _, body = fetch(st.narrow.front_url + "/mpd/" + enc(url))
        expect(status in (400, 403) and b"root:" not in body, f"{url}: {status} {body!r}")
    for path in ("/redirect-file", "/redirect-gopher"):
        status, _, body = fetch(mpd_url(st.narrow, path))
        expect(status == 403 and b"root:" not in body, f"{path}: {status} {body!r}")


@check
def create_refuses_non_http_schemes(st):
    status, _, _ = fetch(st.narrow.front_url + "/create?url=" + urllib.parse.quote("file:///etc/passwd", safe=""))
    expect(status == 400, status)


@check
def silent_origin_gets_504_while_other_requests_are_served(st):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    silent = f"http://127.0.0.1:{listener.getsockname()[1]}"
    results = {}

    def slow():
        t0 = time.monotonic()
        results["slow"] = fetch(st.narrow.front_url + "/mpd/" + enc(silent + "/m.mpd"), timeout=20)[0]
        results["slow_s"] = time.monotonic() - t0

    try:
        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.2)
        t0 = time.monotonic()
        ok = [fetch(mpd_url(st.narrow, "/streams/clear/manifest.mpd"))[0] for _ in range(5)]
        fast_s = time.monotonic() - t0
        t.join()
    finally:
        listener.close()
    expect(results["slow"] == 504, f"silent origin answered {results['slow']}")
    expect(results["slow_s"] < 5, f"504 took {results['slow_s']:.1f}s (first-byte-timeout 1.5s)")
    expect(ok == [200] * 5 and fast_s < 2, f"others during the wait: {ok} in {fast_s:.1f}s")


@check
def oversized_url_and_headers_refused(st):
    status, _, _ = fetch(st.narrow.front_url + "/mpd/" + "a" * 9000)
    expect(status in (414, 400), f"long URL: {status}")
    status, _, _ = fetch(st.narrow.front_url + "/healthz", headers={"X-Junk": "j" * 7000, "X-Junk2": "k" * 7000, "X-Junk3": "l" * 7000})
    expect(status in (431, 400), f"big headers: {status}")


@check
def metrics_count_what_was_asked(st):
    before = metric(st.narrow, 'dashpiff_requests_total{route="mpd",status="200"}')
    for _ in range(3):
        fetch(mpd_url(st.narrow, "/streams/clear/manifest.mpd"))
    # Counted after the answer has gone out: the third count may land a moment
    # after the client has its bytes. Wait for it a bounded while, then check
    # it moved by exactly three (not more).
    deadline = time.monotonic() + 5
    while True:
        after = metric(st.narrow, 'dashpiff_requests_total{route="mpd",status="200"}')
        if after - before >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    expect(after - before == 3, f"mpd 200 counter moved by {after - before}, wanted 3")
    refused = metric(st.narrow, 'dashpiff_origin_errors_total{kind="address_refused"}')
    expect(refused >= 1, f"address_refused errors: {refused}")


def metric(stack, name):
    return dashpiff_stack.metric(stack, name) or 0.0


if __name__ == "__main__":
    sys.exit(run("e2e.security", Stacks, lambda s: s.stop(), only=os.environ.get("ONLY")))
