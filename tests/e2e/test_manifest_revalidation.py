#!/usr/bin/env python3
"""End to end (issue 14): a worker revalidates a manifest it rewrote before
with the origin's validators, and answers a 304 from its kept rewrite. That
rewrite is shared by every requester of the worker, so only an origin
answer any requester may be given is revalidated for the next one: never
one marked Cache-Control: private or no-store (RFC 9111 §5.2.2.7, §5.2.2.5:
a shared cache must not store it), nor one that varies on a header the
requests carry (§4.1: another requester may be another variant).

The origin here has Last-Modified and no ETag, and answers 304 to a date
that matches, as a static server does for a template it renders per
requester; it renders each MPD for the requester (its X-Forwarded-For or
Accept-Language in the Representation id)."""
import http.server
import os
import re
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dashpiff_stack import Stack, fetch  # noqa: E402
from codec import enc  # noqa: E402
from harness import check, expect, run  # noqa: E402

DATE = "Sat, 05 Dec 2026 10:00:00 GMT"
MPD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
       '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT4S" '
       'minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-live:2011">\n'
       ' <Period><AdaptationSet mimeType="video/mp4">\n'
       '  <SegmentTemplate media="v-$Number$.m4s" initialization="v-init.mp4" duration="2" startNumber="1"/>\n'
       '  <Representation id="v-{who}" bandwidth="100000" codecs="avc1.64001f" width="64" height="64"/>\n'
       ' </AdaptationSet></Period>\n</MPD>\n')
# path -> (extra response headers, what the answer is rendered for)
ROUTES = {
    "/private.mpd": ([("Cache-Control", "private, max-age=0")], "x-forwarded-for"),
    "/nostore.mpd": ([("Cache-Control", "no-store")], "x-forwarded-for"),
    "/language.mpd": ([("Vary", "Accept-Language")], "accept-language"),
    "/plain.mpd": ([], None),
}


class Origin(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen = []  # (path, If-Modified-Since)
    lock = threading.Lock()

    def do_GET(self):
        path = self.path.split("?")[0]
        with Origin.lock:
            Origin.seen.append((path, self.headers.get("If-Modified-Since")))
        extra, by = ROUTES.get(path, ([], None))
        if self.headers.get("If-Modified-Since") == DATE:
            self.send_response(304)
            for k, v in extra:
                self.send_header(k, v)
            self.send_header("Last-Modified", DATE)
            self.end_headers()
            return
        who = (self.headers.get(by) or "none").split(",")[0].strip() if by else "all"
        body = MPD.replace("{who}", who).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/dash+xml")
        self.send_header("Last-Modified", DATE)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class State:
    def __init__(self):
        self.origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
        self.origin.daemon_threads = True
        threading.Thread(target=self.origin.serve_forever, daemon=True).start()
        self.origin_url = f"http://127.0.0.1:{self.origin.server_address[1]}"
        # One worker: every request meets the same rewrite cache.
        self.stack = Stack(args=["--workers", "1", "--threads", "4"]).start()

    def get(self, path, headers):
        return fetch(self.stack.front_url + "/mpd/" + enc(self.origin_url + path), headers=headers)

    def stop(self):
        self.stack.stop()
        self.stack.cleanup()
        self.origin.shutdown()


def representation_id(body):
    found = re.search(rb'<Representation[^>]* id="([^"]*)"', body)
    return found.group(1).decode() if found else None


def asked(path):
    with Origin.lock:
        return [ims for p, ims in Origin.seen if p == path]


@check
def an_answer_the_origin_marks_private_or_no_store_is_not_revalidated_for_another_requester(st):
    for path in ("/private.mpd", "/nostore.mpd"):
        for who in ("10.7.0.1", "10.7.0.2"):
            status, _, body = st.get(path, {"X-Forwarded-For": who})
            expect(status == 200, f"{path} for {who}: status {status}")
            expect(f'id="v-{who}"'.encode() in body,
                   f"{path}: {who} was given another requester's MPD: {representation_id(body)}")
        expect(asked(path)[1] is None, f"{path}: the second request was a revalidation of the first's answer")


@check
def an_answer_that_varies_on_a_request_header_is_not_revalidated_for_another_variant(st):
    for language in ("fr", "en"):
        status, _, body = st.get("/language.mpd", {"Accept-Language": language})
        expect(status == 200, f"{language}: status {status}")
        expect(f'id="v-{language}"'.encode() in body,
               f"Accept-Language {language} was given another variant: {representation_id(body)}")


@check
def an_answer_for_anyone_is_still_revalidated(st):
    for who in ("10.7.0.1", "10.7.0.2"):
        status, _, body = st.get("/plain.mpd", {"X-Forwarded-For": who})
        expect(status == 200 and b'id="v-all"' in body, f"{who}: status {status}")
    expect(asked("/plain.mpd") == [None, DATE], f"origin saw {asked('/plain.mpd')}: want a fetch, then a revalidation")


if __name__ == "__main__":
    sys.exit(run("e2e.manifest_revalidation", setup=State, teardown=State.stop))
