#!/usr/bin/env python3
"""Runs the local demo: origin nginx with tests/data, dashpiff-fcgi under
spawn-fcgi, and the front nginx with the project's site on port 8080.

SIGINT (Ctrl-C), SIGTERM (a supervisor, `timeout`, CI) and SIGHUP (the
terminal went away) all stop it the same way: the front nginx, the pool
(which drains) and the origin are stopped by PID, the work directory is
removed, and the exit status is 0."""
import argparse
import json
import signal
import sys
import threading
import urllib.parse

from dashpiff_stack import Stack, fetch, player_locations

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("dashpiff_args", nargs="*", help="extra dashpiff-fcgi options (after --)")
    args = ap.parse_args()

    # The handlers only note the request: a signal that lands while the stack
    # is starting must not leave a process started but unrecorded, and one
    # that lands while it stops must not cut the clean-up short. The default
    # SIGTERM action would end Python at once, skipping every `finally`, and
    # leave the pool (in its own session) running.
    stop = threading.Event()
    received = []

    def on_signal(signum, _frame):
        received.append(signum)
        stop.set()

    for s in STOP_SIGNALS:
        signal.signal(s, on_signal)

    stack = Stack(front_port=args.port, args=["--player-page", "true"] + args.dashpiff_args,
                  front_server_extra=player_locations())
    try:
        stack.start()
        if not stop.is_set():
            print(f"dashpiff is running on {stack.front_url} (origin: {stack.origin_url})")
            for stream in ("cenc-piff", "piff-only"):
                origin = f"{stack.origin_url}/streams/{stream}/manifest.mpd"
                _, _, body = fetch(f"{stack.front_url}/create?url=" + urllib.parse.quote(origin, safe=""))
                print(f"  {stream}: {json.loads(body)['url']}")
            print(f"Make your own at {stack.front_url}/create, play at {stack.front_url}/player")
            print(f"Logs: {stack.fcgi_log}. Ctrl-C to stop.", flush=True)
        # Polled, not signal.pause(): a signal between the check and the
        # pause would otherwise be slept through.
        while not stop.wait(0.5):
            pass
    finally:
        stack.stop()
        stack.cleanup()
    if received:
        print(f"demo: stopped ({signal.Signals(received[0]).name})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
