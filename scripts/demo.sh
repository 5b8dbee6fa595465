#!/usr/bin/env bash
# Installs what is missing, builds, and runs dashpiff on http://127.0.0.1:8080
# in front of a local origin serving the bundled demo streams. Ctrl-C stops it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh"
# dash.js for the /player page, pinned by the browser suite's lock file.
[ -d "$top/tests/browser/node_modules/dashjs" ] || (cd "$top/tests/browser" && npm ci --no-audit --no-fund)
exec python3 "$top/scripts/demo.py" "$@"
