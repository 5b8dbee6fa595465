#!/usr/bin/env bash
# Installs what is missing (the build and run groups of scripts/deps.sh only),
# builds, and runs dashpiff on http://127.0.0.1:8080 in front of a local
# origin serving the bundled demo streams. Ctrl-C, SIGTERM or SIGHUP stops it
# and every process it started.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" build run
"$top/scripts/build.sh"
# The /player page's dash.js is vendored (www/vendor/dashjs/): no npm here.
exec python3 "$top/scripts/demo.py" "$@"
