#!/bin/sh
# Builds a libFuzzer target with clang (AddressSanitizer + UBSan) and runs it
# for a bounded time, seeded from the fixture streams.
#
#   tests/fuzz/run-fuzz.sh TARGET SECONDS [BUILD_DIR]
#
# TARGET is the name of tests/fuzz/TARGET.cpp (e.g. fuzz_segment). Exits
# non-zero when the build fails or the fuzzer finds a crash; the crashing
# input is left in BUILD_DIR (default: a fresh directory under /tmp).
# Needs the Debian packages clang and libclang-rt-14-dev.
set -eu

usage() { echo "usage: $0 TARGET SECONDS [BUILD_DIR]" >&2; exit 2; }
[ $# -ge 2 ] || usage
target=$1
seconds=$2
case $seconds in ''|*[!0-9]*) usage ;; esac

top=$(cd "$(dirname "$0")/../.." && pwd)
src="$top/tests/fuzz/$target.cpp"
[ -f "$src" ] || { echo "$0: no $src" >&2; exit 2; }
build=${3:-$(mktemp -d /tmp/dashpiff-fuzz.XXXXXX)}
mkdir -p "$build/corpus" "$build/seeds"

# The engine's sources, linked directly (no autotools build needed).
engine="$(cd "$top" && ls src/util/*.cpp src/bmff/*.cpp src/piff/*.cpp src/mpd/segment_index.cpp src/http/byte_span.cpp)"
sources=""
for f in $engine; do sources="$sources $top/$f"; done

CXX=${CXX:-clang++}
echo "building $target with $CXX in $build" >&2
# shellcheck disable=SC2086
$CXX -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$top/src" "$src" $sources -o "$build/$target"

# Seeds: every fixture file, prefixed with the byte fuzz_segment reads its mode
# and chunk size from (6: convert, size not kept, chunks of 1).
n=0
for f in "$top"/tests/data/streams/*/*.m4s "$top"/tests/data/streams/*/*.mp4; do
  [ -f "$f" ] || continue
  n=$((n + 1))
  { printf '\006'; cat "$f"; } > "$build/seeds/seed-$n"
done
# PIFF override boxes of every IV size, with and without subsamples (issue #12).
python3 "$top/tests/fuzz/make-seeds.py" segment "$build/seeds"
echo "$n fixture seeds and generated ones; fuzzing for $seconds s" >&2

cd "$build"
# An allocation or a resident size over 256 MiB is a finding: memory sized by
# a declared count instead of by the bytes present (issue #12). A smaller
# ASan quarantine keeps the resident size about the target's own.
limits="-malloc_limit_mb=${DASHPIFF_FUZZ_MEMORY_MB:-256} -rss_limit_mb=${DASHPIFF_FUZZ_MEMORY_MB:-256}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=16}"
# DASHPIFF_FUZZ_RUNS (campaign.sh) runs that many inputs instead of for a time.
[ -z "${DASHPIFF_FUZZ_RUNS:-}" ] || limits="$limits -runs=$DASHPIFF_FUZZ_RUNS"
# libFuzzer exits non-zero on a crash, a sanitizer report, a timeout or OOM.
exec "./$target" -max_total_time="$seconds" -max_len=65536 -timeout="${DASHPIFF_FUZZ_TIMEOUT:-20}" $limits \
  -print_final_stats=1 corpus seeds
