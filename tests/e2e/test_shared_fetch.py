#!/usr/bin/env python3
"""End to end (issue 14): concurrent requests for one manifest share one
origin fetch. While a worker's fetch of an MPD is in flight, every further
request that would ask the origin the same (same URL, same conditionals)
waits on it, holding no thread, and gets the same answer; a client that
leaves, leader or follower, costs the others nothing.

The origin here holds each answer until the check releases it, so that
"concurrent" is made, not hoped for; the pool has one worker, so every
request meets the same event loop."""
import os
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dashpiff_stack  # noqa: E402
from dashpiff_stack import Stack, fetch, wait_for  # noqa: E402
from codec import enc  # noqa: E402
from harness import check, expect, run  # noqa: E402

FOLLOWERS = 6
MPD = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
       b'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT4S" '
       b'minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-live:2011">\n'
       b' <Period><AdaptationSet mimeType="video/mp4">\n'
       b'  <SegmentTemplate media="v-$Number$.m4s" initialization="v-init.mp4" duration="2" startNumber="1"/>\n'
       b'  <Representation id="v" bandwidth="100000" codecs="avc1.64001f" width="64" height="64"/>\n'
       b' </AdaptationSet></Period>\n</MPD>\n')
ETAG = '"m1"'


class GatedOrigin:
    """An origin whose answers wait for `release()`: each request is counted
    (path and If-None-Match) as it arrives. /short.mpd sends part of its
    body and closes once released."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []  # (path, if-none-match or None)
        self.gate = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/{name}"

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            conn.settimeout(30)
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    more = conn.recv(65536)
                    if not more:
                        return
                    data += more
                head, data = data.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                inm = None
                xff = ""
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "if-none-match":
                        inm = value.strip()
                    if name.strip().lower() == "x-forwarded-for":
                        xff = value.strip().split(",")[0].strip()
                with self.lock:
                    self.requests.append((path, inm))
                self.gate.wait(20)
                if path.startswith("/short"):  # ends early: a body shorter than its length
                    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/dash+xml\r\n"
                                 f"Content-Length: {len(MPD)}\r\n\r\n".encode() + MPD[:40])
                    return
                if path.startswith("/slowprivate"):  # for this requester alone, and slow: 4 s
                    body = MPD.replace(b'id="v"', f'id="v-{xff}"'.encode())
                    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/dash+xml\r\n"
                                 f"Cache-Control: private\r\nContent-Length: {len(body)}\r\n\r\n".encode())
                    for i in range(0, len(body), len(body) // 8 + 1):
                        time.sleep(0.5)
                        conn.sendall(body[i:i + len(body) // 8 + 1])
                    continue
                if path.startswith("/private"):  # an answer for this requester alone
                    body = MPD.replace(b'id="v"', f'id="v-{xff}"'.encode())
                    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/dash+xml\r\n"
                                 f"Cache-Control: private, max-age=0\r\n"
                                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                    continue
                if inm == ETAG:
                    conn.sendall(f"HTTP/1.1 304 Not Modified\r\nETag: {ETAG}\r\n\r\n".encode())
                else:
                    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/dash+xml\r\nETag: {ETAG}\r\n"
                                 f"Content-Length: {len(MPD)}\r\n\r\n".encode() + MPD)
        except OSError:
            pass
        finally:
            conn.close()

    def seen(self, name):
        with self.lock:
            return [r for r in self.requests if r[0] == "/" + name]

    def close(self):
        self.gate.set()
        self.sock.close()


def proxy_url(stack, origin, name):
    return stack.front_url + "/mpd/" + enc(origin.url(name))


def shared_count(stack):
    return dashpiff_stack.metric(stack, "dashpiff_origin_fetches_shared_total") or 0


def raw_request(stack, url, xff=None):
    """A client connection that has sent its request and reads nothing yet."""
    s = socket.create_connection(("127.0.0.1", stack.front_port), timeout=30)
    extra = f"X-Forwarded-For: {xff}\r\n" if xff else ""
    s.sendall(f"GET {url[len(stack.front_url):]} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}"
              "Connection: close\r\n\r\n".encode())
    return s


def read_all(s):
    data = b""
    while True:
        more = s.recv(65536)
        if not more:
            return data
        data += more


def concurrent_round(stack, origin, name, leader_leaves=False, follower_leaves=False, xff=False):
    """A leader whose fetch is held at the origin, then FOLLOWERS requests of
    the same URL; the origin is released once the worker says they all wait
    on the leader's fetch. Returns (leader answer or None, follower answers,
    origin requests seen in this round)."""
    origin.gate.clear()
    before_seen = len(origin.seen(name))
    before_shared = shared_count(stack)
    url = proxy_url(stack, origin, name)
    leader = raw_request(stack, url, "10.9.0.100" if xff else None)
    wait_for(lambda: len(origin.seen(name)) > before_seen, timeout=10, what="the leader's fetch at the origin")
    leaving = raw_request(stack, url) if follower_leaves else None
    pool = ThreadPoolExecutor(FOLLOWERS)
    futures = [pool.submit(fetch, url, headers={"X-Forwarded-For": f"10.9.0.{i}"} if xff else None, timeout=30)
               for i in range(FOLLOWERS)]
    waiting = FOLLOWERS + (1 if follower_leaves else 0)
    wait_for(lambda: shared_count(stack) - before_shared >= waiting, timeout=10,
             what=f"{waiting} requests sharing the leader's fetch")
    if leaving:
        leaving.close()
    if leader_leaves:
        leader.close()
        time.sleep(0.3)  # the worker notices the hang-up before the origin answers
    origin.gate.set()
    answers = [f.result() for f in futures]
    pool.shutdown()
    lead = None
    if not leader_leaves:
        lead = read_all(leader)
        leader.close()
    return lead, answers, origin.seen(name)[before_seen:]


def setup():
    origin = GatedOrigin()
    stack = Stack(args=["--workers", "1", "--threads", "4"])
    stack.start()
    wait_for(lambda: fetch(stack.front_url + "/healthz", timeout=2)[0] == 200, timeout=10, what="healthz")
    stack.gated = origin
    return stack


def teardown(stack):
    stack.gated.close()
    stack.stop()


@check
def concurrent_first_fetches_are_one_origin_request(stack):
    lead, answers, seen = concurrent_round(stack, stack.gated, "a.mpd")
    expect(len(seen) == 1, f"origin saw {len(seen)} requests, want 1: {seen}")
    expect(lead.startswith(b"HTTP/1.1 200"), f"leader: {lead[:60]!r}")
    bodies = {body for status, _, body in answers}
    expect(all(status == 200 for status, _, _ in answers), f"statuses {[a[0] for a in answers]}")
    expect(len(bodies) == 1, f"{len(bodies)} different bodies among the followers")
    expect(lead.endswith(next(iter(bodies))), "the leader's body differs from the followers'")
    expect(b"/media/" in next(iter(bodies)), "the shared answer is not the rewritten MPD")


@check
def concurrent_revalidations_are_one_conditional_request(stack):
    # a.mpd is cached by now: each request revalidates with the origin's ETag.
    lead, answers, seen = concurrent_round(stack, stack.gated, "a.mpd")
    expect(len(seen) == 1, f"origin saw {len(seen)} requests, want 1: {seen}")
    expect(seen[0][1] == ETAG, f"the shared fetch is not a revalidation: If-None-Match {seen[0][1]!r}")
    expect(all(status == 200 for status, _, _ in answers), f"statuses {[a[0] for a in answers]}")
    expect(len({body for _, _, body in answers}) == 1, "followers got different bodies")


@check
def leader_leaving_costs_the_followers_nothing(stack):
    _, answers, seen = concurrent_round(stack, stack.gated, "b.mpd", leader_leaves=True)
    expect(len(seen) == 1, f"origin saw {len(seen)} requests, want 1: {seen}")
    statuses = [status for status, _, _ in answers]
    expect(all(s == 200 for s in statuses), f"followers got {statuses} after the leader's client left")
    expect(all(b"/media/" in body for _, _, body in answers), "a follower's body is not the rewritten MPD")


@check
def follower_leaving_costs_the_others_nothing(stack):
    lead, answers, seen = concurrent_round(stack, stack.gated, "c.mpd", follower_leaves=True)
    expect(len(seen) == 1, f"origin saw {len(seen)} requests, want 1: {seen}")
    expect(lead.startswith(b"HTTP/1.1 200"), f"leader: {lead[:60]!r}")
    expect(all(status == 200 for status, _, _ in answers), f"statuses {[a[0] for a in answers]}")


@check
def a_failed_fetch_fails_everyone_who_shared_it(stack):
    lead, answers, seen = concurrent_round(stack, stack.gated, "short.mpd")
    expect(len(seen) == 1, f"origin saw {len(seen)} requests, want 1: {seen}")
    expect(lead.startswith(b"HTTP/1.1 502"), f"leader: {lead[:60]!r}")
    expect(all(status == 502 for status, _, _ in answers), f"statuses {[a[0] for a in answers]}")


@check
def a_shared_fetch_counts_once_at_the_origin(stack):
    # The origin's counts (bytes, fetches and their times) are what the
    # origin saw: one fetch, not one per request that shared it.
    names = ("dashpiff_origin_bytes_total", "dashpiff_origin_duration_seconds_count")
    before = [dashpiff_stack.metric(stack, n) or 0 for n in names]
    lead, answers, seen = concurrent_round(stack, stack.gated, "counted.mpd")
    expect(len(seen) == 1, f"origin saw {len(seen)} requests, want 1: {seen}")
    expect(all(status == 200 for status, _, _ in answers), f"statuses {[a[0] for a in answers]}")
    after = [dashpiff_stack.metric(stack, n) or 0 for n in names]
    expect(after[0] - before[0] == len(MPD), f"origin bytes counted {after[0] - before[0]:.0f}, want {len(MPD)}")
    expect(after[1] - before[1] == 1, f"origin fetches counted {after[1] - before[1]:.0f}, want 1")


@check
def an_answer_for_one_requester_is_not_shared(stack):
    # Cache-Control: private (RFC 9111 §5.2.2.7): the origin made this
    # answer for the leader's X-Forwarded-For; each follower gets its own.
    lead, answers, seen = concurrent_round(stack, stack.gated, "private.mpd", xff=True)
    expect(len(seen) == 1 + FOLLOWERS, f"origin saw {len(seen)} requests, want {1 + FOLLOWERS}")
    expect(lead.startswith(b"HTTP/1.1 200") and b'id="v-10.9.0.100"' in lead, f"leader: {lead[:60]!r}")
    for i, (status, _, body) in enumerate(answers):
        expect(status == 200, f"follower {i}: status {status}")
        expect(f'id="v-10.9.0.{i}"'.encode() in body,
               f"follower {i} got another requester's answer: {body[body.find(b'<Representation'):][:60]!r}")


@check
def when_the_leader_and_then_every_follower_leave_the_fetch_ends(stack):
    # The leader's client goes first (its fetch goes on for the others),
    # then every follower's: no one is left, so the fetch ends at once
    # instead of holding a transfer until the origin answers.
    origin = stack.gated
    origin.gate.clear()
    name = "abandoned.mpd"
    url = proxy_url(stack, origin, name)
    before_shared = shared_count(stack)
    leader = raw_request(stack, url)
    wait_for(lambda: len(origin.seen(name)) == 1, timeout=10, what="the leader's fetch at the origin")
    followers = [raw_request(stack, url) for _ in range(3)]
    wait_for(lambda: shared_count(stack) - before_shared >= 3, timeout=10, what="3 requests sharing the fetch")
    leader.close()
    time.sleep(0.3)  # the worker notices the hang-up while the followers still wait
    expect(dashpiff_stack.metric(stack, "dashpiff_transfers_in_flight") == 4,
           "the leader's transfer did not go on for its followers")
    for f in followers:
        f.close()
    wait_for(lambda: dashpiff_stack.metric(stack, "dashpiff_transfers_in_flight") == 0, timeout=10,
             what="no transfer left once every client has gone")
    origin.gate.set()
    status, _, body = fetch(url, timeout=10)
    expect(status == 200 and b"/media/" in body, f"afterwards: status {status}")


@check
def a_follower_that_fetches_again_keeps_to_its_own_time_budget(stack):
    # Its own fetch after waiting on one whose answer was not for it gets
    # what is left of total-timeout, not a whole new one (issue #12: a
    # budget per request). Origin: 4 s per answer; total-timeout 6 s.
    small = Stack(args=["--workers", "1", "--threads", "4", "--total-timeout", "6s",
                        "--first-byte-timeout", "5s", "--connect-timeout", "2s"])
    small.start()
    try:
        wait_for(lambda: fetch(small.front_url + "/healthz", timeout=2)[0] == 200, timeout=10, what="healthz")
        origin = stack.gated
        origin.gate.clear()
        name = "slowprivate.mpd"
        url = proxy_url(small, origin, name)
        leader = raw_request(small, url, "10.9.1.100")
        wait_for(lambda: len(origin.seen(name)) == 1, timeout=10, what="the leader's fetch at the origin")

        def timed(i):
            start = time.monotonic()
            status, _, _ = fetch(url, headers={"X-Forwarded-For": f"10.9.1.{i}"}, timeout=30)
            return status, time.monotonic() - start

        pool = ThreadPoolExecutor(3)
        futures = [pool.submit(timed, i) for i in range(3)]
        wait_for(lambda: (shared_count(small) or 0) >= 3, timeout=10, what="3 requests sharing the fetch")
        origin.gate.set()
        results = [f.result() for f in futures]
        pool.shutdown()
        leader.close()
        longest = max(took for _, took in results)
        expect(longest < 6 + 1.5, f"a follower took {longest:.1f} s with total-timeout 6 s: {results}")
    finally:
        small.stop()


@check
def different_urls_do_not_share(stack):
    origin = stack.gated
    origin.gate.clear()
    before = len(origin.requests)
    before_shared = shared_count(stack)
    pool = ThreadPoolExecutor(2)
    futures = [pool.submit(fetch, proxy_url(stack, origin, n), timeout=30) for n in ("d.mpd", "e.mpd")]
    wait_for(lambda: len(origin.requests) - before >= 2, timeout=10, what="two origin requests")
    origin.gate.set()
    statuses = [f.result()[0] for f in futures]
    pool.shutdown()
    expect(statuses == [200, 200], f"statuses {statuses}")
    expect(shared_count(stack) == before_shared, "requests for different URLs shared a fetch")


@check
def the_worker_serves_normally_afterwards(stack):
    stack.gated.gate.set()
    status, headers, body = fetch(proxy_url(stack, stack.gated, "a.mpd"), timeout=10)
    expect(status == 200 and b"/media/" in body, f"status {status}")
    pids = dashpiff_stack.child_pids(stack.fcgi.pid)
    expect(len(pids) == 1, f"workers {pids}: the worker was replaced")


if __name__ == "__main__":
    sys.exit(run("e2e.shared_fetch", setup, teardown, only=os.environ.get("ONLY")))
