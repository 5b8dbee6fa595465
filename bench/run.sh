#!/bin/sh
# dashpiff service benchmark: the one command (see bench/README.md).
#
#   bench/run.sh [--quick] [bench.py options...]
#
# DASHPIFF_BUILD names the build directory holding fcgi/dashpiff-fcgi
# (default: build/ in the source tree). Benchmark an optimised build:
#   mkdir -p /tmp/b-bench && cd /tmp/b-bench && /path/to/configure CXXFLAGS="-O2 -g" && make -j2
#   DASHPIFF_BUILD=/tmp/b-bench bench/run.sh
# Writes bench/results/DATE-COMMIT.md (--quick: bench/results/tmp/) and prints
# it; exits 1 when a target of issue 7 is missed.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
export DASHPIFF_BUILD="${DASHPIFF_BUILD:-$top/build}"

for tool in python3 nginx spawn-fcgi wrk curl ffmpeg; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "bench: $tool not found (scripts/deps.sh installs everything)" >&2
        exit 2
    }
done

if [ ! -x "$DASHPIFF_BUILD/fcgi/dashpiff-fcgi" ]; then
    echo "bench: $DASHPIFF_BUILD/fcgi/dashpiff-fcgi not built; build first (see above) or set DASHPIFF_BUILD" >&2
    exit 2
fi

# The slow-client cell of issue 13 is its own run: bench/run.sh --slow-clients [options]
if [ "${1:-}" = "--slow-clients" ]; then
    shift
    exec python3 "$top/bench/slow_clients.py" "$@"
fi
# The designs issue 13 weighed, under that load: bench/run.sh --alternatives [options]
if [ "${1:-}" = "--alternatives" ]; then
    shift
    exec python3 "$top/bench/alternatives.py" "$@"
fi
exec python3 "$top/bench/bench.py" "$@"
