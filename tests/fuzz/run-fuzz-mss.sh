#!/bin/sh
# Builds the Smooth module's libFuzzer target (tests/fuzz/fuzz_mss.cpp, ASan +
# UBSan) and runs it for a bounded time, seeded with the Smooth fixtures'
# manifests and fragments.
#
#   tests/fuzz/run-fuzz-mss.sh SECONDS [BUILD_DIR]
#
# Needs the Debian packages clang, libclang-rt-14-dev and libxerces-c-dev.
set -eu

usage() { echo "usage: $0 SECONDS [BUILD_DIR]" >&2; exit 2; }
[ $# -ge 1 ] || usage
seconds=$1
case $seconds in ''|*[!0-9]*) usage ;; esac

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$(mktemp -d /tmp/dashpiff-fuzz-mss.XXXXXX)}
mkdir -p "$build/corpus" "$build/seeds"

sources=""
for f in "$top"/src/util/*.cpp "$top"/src/bmff/*.cpp "$top"/src/http/*.cpp "$top"/src/mpd/*.cpp "$top"/src/mss/*.cpp; do
  sources="$sources $f"
done

CXX=${CXX:-clang++}
echo "building fuzz_mss with $CXX in $build" >&2
# shellcheck disable=SC2086
$CXX -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$top/src" "$top/tests/fuzz/fuzz_mss.cpp" $sources -lxerces-c -o "$build/fuzz_mss"

n=0
for f in "$top"/tests/data/streams/smooth-*/Manifest "$top"/tests/data/streams/smooth-*/QualityLevels*/Fragments*; do
  [ -f "$f" ] || continue
  n=$((n + 1))
  cp "$f" "$build/seeds/seed-$n"
done
echo "$n seed files; fuzzing for $seconds s" >&2

cd "$build"
# The same 256 MiB allocation and resident-size limits as run-fuzz.sh (issue
# #12): memory sized by a declared count, not by the bytes present, is a finding.
limits="-malloc_limit_mb=${DASHPIFF_FUZZ_MEMORY_MB:-256} -rss_limit_mb=${DASHPIFF_FUZZ_MEMORY_MB:-256}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=16}"
[ -z "${DASHPIFF_FUZZ_RUNS:-}" ] || limits="$limits -runs=$DASHPIFF_FUZZ_RUNS"
# shellcheck disable=SC2086
exec ./fuzz_mss -max_total_time="$seconds" -max_len=65536 -timeout="${DASHPIFF_FUZZ_TIMEOUT:-20}" $limits \
  -print_final_stats=1 corpus seeds
