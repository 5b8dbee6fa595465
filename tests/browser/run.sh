#!/usr/bin/env bash
# The browser suite: dash.js and Shaka Player in Debian's headless Chromium
# play every test stream direct from the origin and through dashpiff (modes
# auto and uuid-free), and the /player page shows what dashpiff changed.
# Prints one PASS:/FAIL: line per assertion; exits non-zero on any failure.
# Failure artifacts (screenshot, player log, dashpiff log) go to
# tests/browser/artifacts/.
#
#   tests/browser/run.sh [--only STREAM] [--play-seconds N] [--jobs N]
#   tests/browser/run.sh --serve     # start the stacks, print the pages, wait
#
# Needs the dashpiff-fcgi binary ($DASHPIFF_BUILD, default build/).
# DASHPIFF_BROWSER_JOBS=N pages at once (default 3); DASHPIFF_BROWSER_DEBUG=1
# keeps screenshot and log of passing cases too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export DASHPIFF_BUILD=${DASHPIFF_BUILD:-$top/build}

# Debian's Chromium, never a browser a test tool downloads.
if ! command -v chromium >/dev/null 2>&1; then
  echo "browser: installing Debian's chromium" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q --no-install-recommends chromium >/dev/null
fi
for tool in node npm nginx spawn-fcgi; do
  command -v "$tool" >/dev/null 2>&1 || { echo "FAIL: browser.setup: $tool is not installed (scripts/deps.sh)"; exit 1; }
done
if [ ! -x "$DASHPIFF_BUILD/fcgi/dashpiff-fcgi" ]; then
  echo "FAIL: browser.setup: $DASHPIFF_BUILD/fcgi/dashpiff-fcgi is not built (scripts/build.sh)"
  exit 1
fi

# The players and the CDP client, exactly as locked. Playwright must not
# fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
stamp="$here/node_modules/.dashpiff-lock"
if ! cmp -s "$here/package-lock.json" "$stamp" 2>/dev/null; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    { echo "FAIL: browser.setup: npm ci failed in tests/browser"; exit 1; }
  cp "$here/package-lock.json" "$stamp"
fi

rm -rf "$here/artifacts"
exec python3 "$here/stacks.py" --artifacts "$here/artifacts" "$@"
