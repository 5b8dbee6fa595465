#!/usr/bin/env python3
"""Hostile content through the real stack (issue #12): a moof bomb and MPD
bombs (nested, flat, attribute storm, gzip ratio) served by a scripted origin
on 127.0.0.1, each answered within 1 s with the right status while the
worker's peak resident size stays within 64 MiB of its idle size (read from
/proc), and normal requests answered afterwards. Prints one line per case
with the time and memory measured."""
import gzip
import http.server
import os
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dashpiff_stack import Stack, TOP, child_pids, fetch, proc_kib  # noqa: E402
from codec import enc  # noqa: E402
from harness import check, expect, run  # noqa: E402

PIFF_SENC = bytes.fromhex("a2394f525a9b4f14a2446c427c648df4")
MIB = 1 << 20
MPD_HEAD = ('<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
            'mediaPresentationDuration="PT10S" minBufferTime="PT2S" '
            'profiles="urn:mpeg:dash:profile:isoff-live:2011"><Period>')


def box(kind, body):
    return struct.pack(">I4s", 8 + len(body), kind) + body


def moof_bomb():
    """The issue's ~170-byte segment: a PIFF box whose override says IV size 0
    (no subsamples) for 2^32-1 samples, as many as its trun declares."""
    count = 0xFFFFFFFF
    piff = box(b"uuid", PIFF_SENC + struct.pack(">I", 1) + b"\x00\x00\x01\x00" + bytes(16)
               + struct.pack(">I", count))
    tfhd = box(b"tfhd", struct.pack(">II", 0x020000, 1))
    trun = box(b"trun", struct.pack(">IIi", 1, count, 0))
    moof = box(b"moof", box(b"mfhd", struct.pack(">II", 0, 1)) + box(b"traf", tfhd + trun + piff))
    at = moof.find(b"trun") + 12
    moof = moof[:at] + struct.pack(">i", len(moof) + 8) + moof[at + 4:]
    return moof + box(b"mdat", bytes(16))


def gz(text):
    return gzip.compress(text.encode() if isinstance(text, str) else text, 9)


def mpd(inner):
    return MPD_HEAD + inner + "</Period></MPD>\n"


def smooth(inner):
    return ('<?xml version="1.0"?>\n<SmoothStreamingMedia MajorVersion="2" MinorVersion="2" Duration="0">'
            + inner + "</SmoothStreamingMedia>\n")


# path -> (status, content type, content encoding, body)
ROUTES = {
    "/bomb.m4s": (200, "video/mp4", None, moof_bomb()),
    "/nested.mpd": (200, "application/dash+xml", "gzip", gz(mpd("<a>" * 2_000_000))),
    "/flat.mpd": (200, "application/dash+xml", "gzip", gz(mpd("<a/>" * 4_000_000))),
    "/attributes.mpd": (200, "application/dash+xml", "gzip",
                        gz(mpd("<a " + " ".join(f"b{i}=\"\"" for i in range(200_000)) + "/>"))),
    # Shapes within every limit (comments under the text limit), but 14 MB
    # from about 14 KB: only the expansion ratio stops it.
    "/ratio.mpd": (200, "application/dash+xml", "gzip",
                   gz(mpd(("<!--" + "a" * 900_000 + "-->") * 16))),
    # The same shapes as Smooth manifests, read by /mss-init/ (an init segment
    # is synthesised from the manifest, on the worker's event loop).
    "/flat.ism": (200, "text/xml", "gzip", gz(smooth("<a/>" * 4_000_000))),
    "/attributes.ism": (200, "text/xml", "gzip",
                        gz(smooth("<a " + " ".join(f"b{i}=\"\"" for i in range(200_000)) + "/>"))),
}


class Origin(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = self.path.split("?")[0]
        if path in ROUTES:
            status, ctype, encoding, body = ROUTES[path]
        else:
            try:
                with open(os.path.join(TOP, "tests", "data", path.lstrip("/")), "rb") as f:
                    body = f.read()
                status, encoding = 200, None
                ctype = "application/dash+xml" if path.endswith(".mpd") else "video/mp4"
            except OSError:
                status, ctype, encoding, body = 404, "text/plain", None, b"not found"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the proxy stopped reading: that is the point

    def log_message(self, *args):
        pass




class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the proxy hangs up on a refused manifest: expected, not news


class State:
    def __init__(self):
        self.origin = QuietServer(("127.0.0.1", 0), Origin)
        self.origin.daemon_threads = True
        threading.Thread(target=self.origin.serve_forever, daemon=True).start()
        self.origin_url = f"http://127.0.0.1:{self.origin.server_address[1]}"
        self.stack = Stack(args=["--workers", "1", "--threads", "4"]).start()
        self.worker = None
        deadline = time.time() + 10
        while not self.worker and time.time() < deadline:
            kids = child_pids(self.stack.fcgi.pid)
            self.worker = min(kids) if kids else None
            time.sleep(0.1)
        # Warm up (first requests load libraries, TLS stores, thread stacks).
        for _ in range(3):
            self.normal_requests()
        self.idle_kib = proc_kib(self.worker, "VmRSS")
        self.results = []

    def normal_requests(self):
        s1, _, b1 = fetch(self.mpd_url("/streams/clear/manifest.mpd"))
        s2, _, b2 = fetch(self.media_url("/streams/piff-only/", "seg-0-1.m4s"))
        return s1, b1, s2, b2

    def mpd_url(self, path):
        return self.stack.front_url + "/mpd/" + enc(self.origin_url + path)

    def mss_init_url(self, path):
        return self.stack.front_url + "/mss-init/" + enc(self.origin_url + path) + "/0-0.mp4"

    def media_url(self, base, name):
        return self.stack.front_url + "/media/" + enc(self.origin_url + base) + "/" + name

    def timed(self, url):
        start = time.monotonic()
        status, headers, body = fetch(url, timeout=60)
        return status, body, time.monotonic() - start

    def measure(self, name, url):
        status, body, took = self.timed(url)
        peak_mib = (proc_kib(self.worker, "VmHWM") - self.idle_kib) / 1024
        self.results.append((name, status, took, peak_mib))
        print(f"  {name}: {status} in {took * 1000:.0f} ms, worker peak {peak_mib:.1f} MiB above idle",
              flush=True)
        return status, body, took, peak_mib

    def stop(self):
        self.stack.stop()
        self.stack.cleanup()
        self.origin.shutdown()


def bounded(st, name, took, peak):
    expect(took < 1.0, f"{name} took {took:.2f} s")
    expect(peak <= 64, f"{name}: worker peak {peak:.1f} MiB above idle")


def refused_naming(st, what, url, limit, name):
    """A manifest bomb: a 502 that names the configuration limit it crossed,
    within the time and memory bounds."""
    status, body, took, peak = st.measure(what, url)
    expect(status == 502 and limit.encode() in body, f"{status} {body[:200]!r}")
    bounded(st, name, took, peak)


@check
def the_normal_requests_work_before_the_bombs(st):
    s1, b1, s2, b2 = st.normal_requests()
    expect(s1 == 200 and b"<MPD" in b1, f"manifest {s1}")
    expect(s2 == 200 and len(b2) > 1000, f"segment {s2}")


@check
def moof_bomb_passes_through_unchanged_and_bounded(st):
    status, body, took, peak = st.measure("moof bomb", st.media_url("/", "bomb.m4s"))
    expect(status == 200, f"status {status}")
    expect(body == ROUTES["/bomb.m4s"][3], "the refused conversion must leave the bytes as they came")
    bounded(st, "moof bomb", took, peak)


@check
def nested_mpd_bomb_refused_naming_the_depth_limit(st):
    refused_naming(st, "nested MPD (2M levels, gzip)", st.mpd_url("/nested.mpd"), "max-manifest-depth", "nested")


@check
def flat_mpd_bomb_refused_naming_the_element_limit(st):
    refused_naming(st, "flat MPD (4M elements, gzip)", st.mpd_url("/flat.mpd"), "max-manifest-elements", "flat")


@check
def attribute_storm_refused_naming_the_attribute_limit(st):
    refused_naming(st, "attribute storm (200,000 on one element)", st.mpd_url("/attributes.mpd"),
                   "max-manifest-attributes", "attributes")


@check
def gzip_ratio_bomb_refused_naming_the_ratio_limit(st):
    refused_naming(st, "gzip ratio (14 MB from %d bytes)" % len(ROUTES["/ratio.mpd"][3]), st.mpd_url("/ratio.mpd"),
                   "max-manifest-gzip-ratio", "ratio")


@check
def flat_smooth_manifest_bomb_for_an_init_refused_naming_the_element_limit(st):
    # /mss-init/ parsed whatever the origin sent, with no shape limits and no
    # gzip ratio, on the event loop: every transfer of the worker waited.
    refused_naming(st, "flat Smooth manifest for /mss-init/ (4M elements, gzip)", st.mss_init_url("/flat.ism"),
                   "max-manifest-elements", "flat Smooth")


@check
def smooth_attribute_storm_for_an_init_refused_naming_the_attribute_limit(st):
    refused_naming(st, "attribute storm Smooth manifest for /mss-init/", st.mss_init_url("/attributes.ism"),
                   "max-manifest-attributes", "Smooth attributes")


@check
def normal_requests_succeed_after_the_bombs(st):
    for _ in range(10):
        s1, b1, s2, b2 = st.normal_requests()
        expect(s1 == 200 and b"<MPD" in b1, f"manifest {s1}")
        expect(s2 == 200 and len(b2) > 1000, f"segment {s2}")
    expect(st.stack.fcgi.poll() is None, "the service died")
    expect(st.worker in child_pids(st.stack.fcgi.pid), "the worker was replaced")


if __name__ == "__main__":
    sys.exit(run("hostile_content", setup=State, teardown=State.stop))
