#!/bin/sh
# Builds the MPD rewriter's libFuzzer target with clang (AddressSanitizer +
# UBSan) and runs it for a bounded time, seeded from the MPD corpus.
#
#   tests/fuzz/run-fuzz-mpd.sh SECONDS [BUILD_DIR [TARGET]]
#
# TARGET is fuzz_mpd (the rewriter, default) or fuzz_mpd_prescan.
# Exits non-zero when the build fails or the fuzzer finds a crash; the
# crashing input is left in BUILD_DIR (default: a fresh directory under /tmp).
# Needs the Debian packages clang, libclang-rt-14-dev and libxerces-c-dev.
set -eu

usage() { echo "usage: $0 SECONDS [BUILD_DIR [TARGET]]" >&2; exit 2; }
[ $# -ge 1 ] || usage
seconds=$1
case $seconds in ''|*[!0-9]*) usage ;; esac

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$(mktemp -d /tmp/dashpiff-fuzz-mpd.XXXXXX)}
target=${3:-fuzz_mpd}
[ -f "$top/tests/fuzz/$target.cpp" ] || usage
mkdir -p "$build/corpus" "$build/seeds"

# The rewriter's sources, the core helpers it uses and the player model that
# judges it, linked directly.
sources=""
for f in "$top"/src/util/*.cpp "$top"/src/bmff/*.cpp "$top"/src/http/*.cpp "$top"/src/mpd/*.cpp "$top/tests/unit/mpd_player_model.cpp"; do
  sources="$sources $f"
done

CXX=${CXX:-clang++}
echo "building $target with $CXX in $build" >&2
# shellcheck disable=SC2086
$CXX -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$top/src" -I"$top/tests/unit" "$top/tests/fuzz/$target.cpp" $sources -lxerces-c -o "$build/$target"

# Seeds: every corpus document under each option byte worth starting from.
n=0
for f in "$top"/tests/data/mpd/*.mpd "$top"/tests/data/mpd/*.xml; do
  [ -f "$f" ] || continue
  for flags in '\003' '\016'; do
    n=$((n + 1))
    { printf "$flags"; cat "$f"; } > "$build/seeds/seed-$n"
  done
done
# MPD shapes that stress the manifest limits (issue #12).
python3 "$top/tests/fuzz/make-seeds.py" mpd "$build/seeds"
echo "$n corpus seeds and generated ones; fuzzing for $seconds s" >&2

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
  -dict="$top/tests/fuzz/mpd.dict" -print_final_stats=1 corpus seeds
