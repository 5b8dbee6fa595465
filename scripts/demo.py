#!/usr/bin/env python3
"""Runs the local demo: origin nginx with tests/data, dashpiff-fcgi under
spawn-fcgi, and the front nginx with the project's site on port 8080."""
import argparse
import json
import signal
import sys
import urllib.parse

from dashpiff_stack import Stack, fetch, player_locations


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("dashpiff_args", nargs="*", help="extra dashpiff-fcgi options (after --)")
    args = ap.parse_args()
    stack = Stack(front_port=args.port, args=["--player-page", "true"] + args.dashpiff_args,
                  front_server_extra=player_locations())
    stack.start()
    try:
        print(f"dashpiff is running on {stack.front_url} (origin: {stack.origin_url})")
        for stream in ("cenc-piff", "piff-only"):
            origin = f"{stack.origin_url}/streams/{stream}/manifest.mpd"
            _, _, body = fetch(f"{stack.front_url}/create?url=" + urllib.parse.quote(origin, safe=""))
            print(f"  {stream}: {json.loads(body)['url']}")
        print(f"Make your own at {stack.front_url}/create, play at {stack.front_url}/player")
        print(f"Logs: {stack.fcgi_log}. Ctrl-C to stop.")
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        stack.stop()
        stack.cleanup()


if __name__ == "__main__":
    sys.exit(main())
