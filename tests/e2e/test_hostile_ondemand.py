#!/usr/bin/env python3
"""Hostile origins against on-demand DASH and late ranges (issues #12, #14,
#15), through the real stack with a scripted origin on 127.0.0.1 (the one
of test_hostile_origins):

- a subsegment URL /media/{first}-{last}/... whose origin answers the range
  short (chunked or close-delimited, ending cleanly) or long must never be a
  clean 200 with bytes missing;
- a late range asked of the origin whose 206 ends cleanly but short must
  never be a clean 206 with bytes missing;
- the MPD rewrite's index reads (one per SegmentBase Representation) are
  bounded in time and in number: an index origin that stalls cannot hold
  the manifest request for a timeout per Representation, one that trickles
  (fast enough for the low-speed limit) not for the total timeout, and an MPD of
  many Representations cannot make one manifest request into thousands of
  origin requests."""
import asyncio
import http.client
import os
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, HERE)

from dashpiff_stack import Stack, free_port  # noqa: E402
from codec import enc  # noqa: E402
from harness import check, expect, run  # noqa: E402
import test_hostile_origins as hostile  # noqa: E402
from test_hostile_origins import CASES, REQUESTS, HostileOrigin, ask, head, send  # noqa: E402
import harness  # noqa: E402

harness._checks.clear()  # that file's checks are its own: only this file's run here

STREAM = os.path.join(HERE, "..", "data", "streams", "ondemand-piff-only")
VIDEO = open(os.path.join(STREAM, "video.mp4"), "rb").read()
# The fixture's MPD says so: Initialization 0-921, sidx 922-989.
INDEX = (922, 989)
FIRST_SUB = (990, 990 + struct.unpack(">I", VIDEO[990:994])[0]
             + struct.unpack(">I", VIDEO[990 + struct.unpack(">I", VIDEO[990:994])[0]:][:4])[0] - 1)
COUNTS = {}  # case -> requests seen


def asked_range(case):
    request = REQUESTS[case].decode("latin-1").lower()
    if "\r\nrange: bytes=" not in request:
        return None
    spec = request.split("\r\nrange: bytes=", 1)[1].split("\r\n", 1)[0]
    first, last = (int(x) for x in spec.split("-"))
    return first, last


def chunked(data):
    return b"%x\r\n" % len(data) + data + b"\r\n" if data else b""


def ranged_206(case, data, *, how, etag='"od1"'):
    """Serves `data`; a Range is answered 206 with the right Content-Range,
    but its body as `how` says: 'chunked-short' (half, then the last chunk),
    'eof-short' (half, no length, then close), 'chunked-long' (the range and
    as much again, then the last chunk)."""
    async def serve(target, r, w):
        COUNTS[case] = COUNTS.get(case, 0) + 1
        span = asked_range(case)
        if span is None:
            await send(w, head(headers=[("Content-Type", "video/mp4"), ("ETag", etag)], length=len(data)) + data)
            return True
        first, last = span
        body = data[first:last + 1]
        base = [("Content-Type", "video/mp4"), ("ETag", etag), ("Content-Range", f"bytes {first}-{last}/{len(data)}")]
        if how == "chunked-short":
            await send(w, head("206 Partial Content", base + [("Transfer-Encoding", "chunked")])
                       + chunked(body[:len(body) // 2]) + b"0\r\n\r\n")
            return True
        if how == "chunked-long":
            await send(w, head("206 Partial Content", base + [("Transfer-Encoding", "chunked")])
                       + chunked(body) + chunked(body) + b"0\r\n\r\n")
            return True
        if how == "eof-short":
            await send(w, head("206 Partial Content", base + [("Connection", "close")]) + body[:len(body) // 2])
            return False
        raise AssertionError(how)
    return serve


async def index_stall(target, r, w):
    COUNTS["idx-stall.mp4"] = COUNTS.get("idx-stall.mp4", 0) + 1
    while await r.read(4096):  # never answers
        pass


TRICKLE_INDEX = (1000, 1000 + 1000000 - 1)  # within the 1 MiB an index read may be


async def index_trickle(target, r, w):
    """A 206 of the index range at 2 KiB a second: above the low-speed limit
    (1 KiB in 10 s), so only a time limit ends it."""
    COUNTS["idx-trickle.mp4"] = COUNTS.get("idx-trickle.mp4", 0) + 1
    first, last = TRICKLE_INDEX
    await send(w, head("206 Partial Content", [("Content-Type", "video/mp4"),
                                               ("Content-Range", f"bytes {first}-{last}/2000000")],
                       length=last + 1 - first))
    for _ in range(1000):
        await send(w, b"\0" * 2048)
        await asyncio.sleep(1)


def index_flaky(case):
    """The first read fails (503), every later one is answered."""
    async def serve(target, r, w):
        COUNTS[case] = COUNTS.get(case, 0) + 1
        if COUNTS[case] == 1:
            await send(w, head("503 Service Unavailable", length=0))
            return True
        return await exact(case, w)
    return serve


FILLER_MPD = (b'<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"'
              b' mediaPresentationDuration="PT2S" minBufferTime="PT2S"><Period><AdaptationSet>'
              b'<Representation id="0" bandwidth="1"><SegmentTemplate media="s-$Number$.m4s" duration="2"/>'
              b'</Representation></AdaptationSet></Period></MPD>')


def index_ok(case):
    async def serve(target, r, w):
        COUNTS[case] = COUNTS.get(case, 0) + 1
        return await exact(case, w)
    return serve


async def exact(case, w):
    """VIDEO, its range honoured exactly."""
    span = asked_range(case)
    first, last = span if span else (0, len(VIDEO) - 1)
    body = VIDEO[first:last + 1]
    await send(w, head("206 Partial Content" if span else "200 OK",
                       [("Content-Type", "video/mp4"), ("ETag", '"od1"')]
                       + ([("Content-Range", f"bytes {first}-{last}/{len(VIDEO)}")] if span else []),
                       length=len(body)) + body)
    return True


def on_demand_mpd(reps, file_of):
    """An on-demand MPD of `reps` Representations of the PIFF-only video,
    Representation i reading file_of(i)."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"'
             ' type="static" mediaPresentationDuration="PT6.0S" minBufferTime="PT4.0S">',
             '<Period id="0" start="PT0.0S"><AdaptationSet id="0" contentType="video">']
    for i in range(reps):
        lines.append(f'<Representation id="{i}" mimeType="video/mp4" codecs="avc1.4d400b" bandwidth="{60000 + i}">'
                     f'<BaseURL>{file_of(i)}</BaseURL>'
                     f'<SegmentBase indexRange="{INDEX[0]}-{INDEX[1]}" indexRangeExact="true" timescale="12800">'
                     f'<Initialization range="0-{INDEX[0] - 1}"/></SegmentBase></Representation>')
    lines.append('</AdaptationSet></Period></MPD>')
    return "\n".join(lines).encode()


def trickle_mpd():
    first, last = TRICKLE_INDEX
    return (f'<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"'
            f' mediaPresentationDuration="PT6.0S" minBufferTime="PT4.0S"><Period><AdaptationSet>'
            f'<Representation id="0" mimeType="video/mp4" codecs="avc1.4d400b" bandwidth="1">'
            f'<BaseURL>idx-trickle.mp4</BaseURL><SegmentBase indexRange="{first}-{last}" indexRangeExact="true">'
            f'<Initialization range="0-{first - 1}"/></SegmentBase></Representation>'
            f'</AdaptationSet></Period></MPD>').encode()


def typed_mpd(body):
    async def serve(target, r, w):
        await send(w, head(headers=[("Content-Type", "application/dash+xml"), ("ETag", '"mpd1"')], length=len(body))
                   + body)
        return True
    return serve


DEAD_PORT = free_port()  # nothing listens there: an index read's connect is refused
STALL_REPS = 6
MANY_REPS = 600
CASES.update({
    "od-chunked-short.mp4": ranged_206("od-chunked-short.mp4", VIDEO, how="chunked-short"),
    "od-eof-short.mp4": ranged_206("od-eof-short.mp4", VIDEO, how="eof-short"),
    "od-chunked-long.mp4": ranged_206("od-chunked-long.mp4", VIDEO, how="chunked-long"),
    "late-chunked-short": ranged_206("late-chunked-short", hostile.PROGRESSIVE, how="chunked-short"),
    "late-eof-short": ranged_206("late-eof-short", hostile.PROGRESSIVE, how="eof-short"),
    "idx-stall.mp4": index_stall,
    "idx-ok.mp4": index_ok("idx-ok.mp4"),
    "idx-trickle.mp4": index_trickle,
    "idx-flaky.mp4": index_flaky("idx-flaky.mp4"),
    "flaky.mpd": typed_mpd(on_demand_mpd(1, lambda i: "idx-flaky.mp4")),
    "idx-flaky2.mp4": index_flaky("idx-flaky2.mp4"),
    "flaky2.mpd": typed_mpd(on_demand_mpd(1, lambda i: "idx-flaky2.mp4")),
    "filler.mpd": typed_mpd(FILLER_MPD),
    "dead-index.mpd": typed_mpd(on_demand_mpd(1, lambda i: f"http://127.0.0.1:{DEAD_PORT}/v.mp4")),
    "trickle.mpd": typed_mpd(trickle_mpd()),
    "stall.mpd": typed_mpd(on_demand_mpd(STALL_REPS, lambda i: f"s{i}/idx-stall.mp4")),
    "many.mpd": typed_mpd(on_demand_mpd(MANY_REPS, lambda i: f"m{i}/idx-ok.mp4")),
})


class Suite:
    def __init__(self):
        self.origin = HostileOrigin()
        # The shipped defaults for time (no low-speed override): what an
        # operator runs.
        self.stack = Stack(args=["--workers", "1", "--threads", "4"]).start()
        self.base = enc(f"http://127.0.0.1:{self.origin.port}/h/")

    def subsegment(self, case, span=FIRST_SUB):
        return f"/media/{span[0]}-{span[1]}/{self.base}/{case}"

    def stop(self):
        self.stack.stop()
        self.stack.cleanup()
        self.origin.stop()


def expect_not_clean_short(answer, name, want):
    """The answer is whole (exactly `want`) or visibly broken (an error
    status or a transfer cut off); never a clean answer of other bytes."""
    clean_success = answer.status in (200, 206) and not answer.broken
    expect(not clean_success or answer.body == want,
           f"{name}: a clean {answer.status} of {len(answer.body)} bytes where the origin's range holds {len(want)}")
    expect(clean_success or answer.broken or answer.status in (502, 504), f"{name}: {answer.status}")


@check
def a_subsegment_answered_short_or_long_is_never_a_clean_200(s):
    for case in ("od-chunked-short.mp4", "od-eof-short.mp4", "od-chunked-long.mp4"):
        answer = ask(s.stack.front_port, s.subsegment(case))
        # The converted subsegment is longer than the origin's bytes; what
        # matters is that a cleanly ended answer was made from all of them.
        want_len = FIRST_SUB[1] + 1 - FIRST_SUB[0]
        clean = answer.status == 200 and not answer.broken
        expect(not clean or len(answer.body) >= want_len,
               f"{case}: a clean 200 of {len(answer.body)} bytes from a range of {want_len}")
        expect(clean or answer.broken or answer.status in (502, 504), f"{case}: {answer.status}")
        expect(not clean, f"{case}: the origin's answer was not the range, yet a clean 200 went out")
    # The worker breaks a short one off itself: nginx 1.22 also fails an
    # answer shorter than its Content-Length, but a clean FastCGI end with
    # bytes missing is what issue #12 item 3 forbids, whatever is in front.
    for case in ("od-chunked-short.mp4", "od-eof-short.mp4"):
        line = [l for l in s.stack.settled_log(lambda text: f"/{case}" in text).splitlines() if f"/{case}" in l]
        expect(line and "Content-Range named" in line[-1],
               f"{case}: the worker's log line does not say it broke the answer off: {line[-1:]}")


@check
def a_late_range_answered_short_is_never_a_clean_206(s):
    n = len(hostile.PROGRESSIVE)
    first, last = n - 100000, n - 1
    for case in ("late-chunked-short", "late-eof-short"):
        conn = http.client.HTTPConnection("127.0.0.1", s.stack.front_port, timeout=20)
        try:
            conn.request("GET", f"/media/{s.base}/{case}", headers={"Range": f"bytes={first}-{last}"})
            resp = conn.getresponse()
            try:
                body, broken = resp.read(), False
            except (http.client.IncompleteRead, ConnectionError) as e:
                body, broken = getattr(e, "partial", b""), True
            answer = hostile.Answer(resp.status, resp.headers, body, broken, 0)
        except ConnectionError:  # cut off before its head: visibly broken too
            answer = hostile.Answer(None, {}, b"", True, 0)
        finally:
            conn.close()
        expect(asked_range(case) == (first, last), f"{case}: the range was not asked of the origin")
        expect_not_clean_short(answer, case, hostile.PROGRESSIVE[first:last + 1])


@check
def a_stalling_index_origin_cannot_hold_the_manifest_for_a_timeout_per_representation(s):
    COUNTS.pop("idx-stall.mp4", None)
    t0 = time.monotonic()
    answer = ask(s.stack.front_port, "/mpd/" + enc(s.origin.url("stall.mpd")), timeout=120)
    took = time.monotonic() - t0
    print(f"INFO: {STALL_REPS} stalling index reads: {answer.status} in {took:.1f}s, "
          f"{COUNTS.get('idx-stall.mp4', 0)} index requests", flush=True)
    expect(answer.status == 200 and not answer.broken, f"stall.mpd: {answer.status}")
    # Unexpanded, as the origin wrote it.
    expect(answer.body.count(b"<SegmentBase") == STALL_REPS, "the Representations were not left as written")
    # One origin timeout (10 s of silence, the low-speed window) per
    # Representation would be a minute; the index reads of one rewrite
    # share one budget.
    expect(took < 25, f"the manifest took {took:.1f}s: each Representation's index read waited its own timeout")


@check
def stalling_index_reads_hold_no_thread_other_rewrites_need(s):
    # Index reads are fetches of the event loop, not blocking calls on the
    # threads that rewrite (issue 13): two MPDs whose index origins stall,
    # as many as the worker has rewriting threads, once left every other
    # uncached rewrite of that worker waiting for the 10 s index budget.
    results = []

    def stalled():
        results.append(ask(s.stack.front_port, "/mpd/" + enc(s.origin.url("stall.mpd")) + f"?h={time.monotonic()}",
                           timeout=120))

    holders = [threading.Thread(target=stalled) for _ in range(2)]
    for h in holders:
        h.start()
    time.sleep(1.0)  # both are waiting on their index origin
    t0 = time.monotonic()
    fresh = ask(s.stack.front_port, "/mpd/" + enc(s.origin.url("filler.mpd")) + f"?fresh={t0}", timeout=60)
    took = time.monotonic() - t0
    for h in holders:
        h.join()
    print(f"INFO: a fresh MPD while two index reads stall: {fresh.status} in {took:.2f}s", flush=True)
    expect(fresh.status == 200 and not fresh.broken, f"filler.mpd: {fresh.status}")
    expect(took < 4, f"a fresh MPD waited {took:.1f}s behind stalled index reads")
    expect(len(results) == 2 and all(r.status == 200 and b"<SegmentBase" in r.body for r in results),
           f"the stalled MPDs: {[r.status for r in results]}")


@check
def a_trickling_index_origin_cannot_hold_the_manifest_for_the_origin_timeout(s):
    # Fast enough for the low-speed limit, so only a time limit ends the
    # read: the MPD's index budget (10 s), not total-timeout (5 min).
    t0 = time.monotonic()
    answer = ask(s.stack.front_port, "/mpd/" + enc(s.origin.url("trickle.mpd")), timeout=60)
    took = time.monotonic() - t0
    print(f"INFO: trickling index read: {answer.status} in {took:.1f}s", flush=True)
    expect(answer.status == 200 and not answer.broken, f"trickle.mpd: {answer.status} after {took:.1f}s")
    expect(b"<SegmentBase" in answer.body, "the Representation was not left as written")
    expect(took < 25, f"the manifest took {took:.1f}s")


@check
def an_mpd_of_many_representations_makes_a_bounded_number_of_index_reads(s):
    COUNTS.pop("idx-ok.mp4", None)
    answer = ask(s.stack.front_port, "/mpd/" + enc(s.origin.url("many.mpd")), timeout=120)
    reads = COUNTS.get("idx-ok.mp4", 0)
    print(f"INFO: {MANY_REPS} Representations: {answer.status} in {answer.seconds:.1f}s, {reads} index reads",
          flush=True)
    expect(answer.status == 200 and not answer.broken, f"many.mpd: {answer.status}")
    expect(answer.body.count(b"<SegmentList") >= 1, "no Representation was expanded")
    expect(reads <= 64, f"one manifest request made {reads} origin requests")


@check
def an_on_demand_mpd_rewritten_into_other_bytes_has_another_validator(s):
    # The rewrite of an on-demand MPD depends on its files' indexes as read
    # then, not only on the MPD's bytes: an index read that failed once
    # keeps its Representation as written, a later rewrite (another thread,
    # or once the rewrite cache has moved on) expands it. Same MPD ETag from
    # the origin, other bytes: the validators must differ (issue #14), and a
    # client holding the first must not be told it is current.
    stack = Stack(args=["--workers", "1", "--threads", "1"]).start()
    try:
        COUNTS.pop("idx-flaky.mp4", None)
        path = "/mpd/" + enc(s.origin.url("flaky.mpd"))
        first = ask(stack.front_port, path)
        for i in range(40):  # past the thread's rewrite cache (32 entries)
            filler = ask(stack.front_port, "/mpd/" + enc(s.origin.url("filler.mpd")) + f"?n={i}")
            expect(filler.status == 200, f"filler {i}: {filler.status}")
        second = ask(stack.front_port, path)
        expect(first.status == 200 and second.status == 200, f"{first.status} {second.status}")
        expect(b"<SegmentBase" in first.body and b"<SegmentList" in second.body,
               "the first rewrite was not kept and the second expanded (the test's premise)")
        e1, e2 = first.headers.get("ETag"), second.headers.get("ETag")
        expect(e1 and e2 and e1 != e2, f"two different bodies under one ETag {e1}")
        conn = http.client.HTTPConnection("127.0.0.1", stack.front_port, timeout=20)
        try:
            conn.request("GET", path, headers={"If-None-Match": e1})
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        expect(resp.status == 200 and body == second.body,
               f"a client holding the unexpanded MPD was answered {resp.status}")
    finally:
        stack.stop()
        stack.cleanup()


@check
def an_index_read_that_failed_once_is_tried_again_on_the_next_request(s):
    # A rewrite that kept a Representation because its index could not be
    # read is not the MPD's rewrite for as long as the MPD stays the same:
    # the next request reads the index again (one failed read must not leave
    # a PIFF-only stream unplayable through that worker until its rewrite
    # cache moves on).
    stack = Stack(args=["--workers", "1", "--threads", "1"]).start()
    try:
        COUNTS.pop("idx-flaky2.mp4", None)
        path = "/mpd/" + enc(s.origin.url("flaky2.mpd"))
        first = ask(stack.front_port, path)
        second = ask(stack.front_port, path)
        expect(first.status == 200 and b"<SegmentBase" in first.body, f"first: {first.status}")
        expect(second.status == 200 and b"<SegmentList" in second.body,
               f"second: {second.status}, {COUNTS.get('idx-flaky2.mp4', 0)} index reads: the failed rewrite was kept")
    finally:
        stack.stop()
        stack.cleanup()


@check
def a_failed_index_read_is_logged_with_its_detail(s):
    # The requester gets the MPD with the Representation kept; the log line
    # with the request id says what failed and where (issue #12 item 7).
    answer = ask(s.stack.front_port, "/mpd/" + enc(s.origin.url("dead-index.mpd")))
    expect(answer.status == 200 and b"<SegmentBase" in answer.body, f"{answer.status} {answer.text()!r}")
    rid = answer.headers["X-Request-Id"]
    log = s.stack.settled_log(lambda text: any(rid in line for line in text.splitlines()))
    lines = [line for line in log.splitlines() if rid in line]
    expect(any(f"127.0.0.1:{DEAD_PORT}" in line and "kept" in line for line in lines),
           f"the log line lacks the index read's detail: {lines!r}")


if __name__ == "__main__":
    sys.exit(run("e2e.hostile_ondemand", Suite, lambda s: s.stop(), only=os.environ.get("ONLY")))
