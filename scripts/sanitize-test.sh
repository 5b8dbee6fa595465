#!/usr/bin/env bash
# The end-to-end suites once more, against a dashpiff-fcgi built with
# AddressSanitizer and UndefinedBehaviorSanitizer (clang): real nginx, real
# spawn-fcgi, the pool's own threads, event loop and forks under the traffic
# the suites make, hostile origins included. The fuzz targets cover the
# parsers one input at a time; this covers what only a running pool does
# (connections handed between threads, transfers shared and abandoned).
# One PASS:/FAIL: line per suite: it passed and no sanitizer reported.
#
# Build directory: $DASHPIFF_SANITIZE_BUILD (default build-sanitize/).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${DASHPIFF_SANITIZE_BUILD:-$top/build-sanitize}
flags="-g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null
mkdir -p "$build"
if ! { [ -f "$build/Makefile" ] || (cd "$build" && "$top/configure" -q CXX=clang++ CXXFLAGS="$flags" \
         LDFLAGS="-fsanitize=address,undefined"); } >"$build/sanitize-build.log" 2>&1 ||
   ! (cd "$build" && make -j"$(nproc)" src/service/build_commit.h fcgi/dashpiff-fcgi) >>"$build/sanitize-build.log" 2>&1; then
  echo "FAIL: sanitized.build: the sanitized dashpiff-fcgi did not build"
  tail -30 "$build/sanitize-build.log"
  exit 1
fi

reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
export DASHPIFF_BUILD="$build"
# Leak checking is off: a worker ends by exit with its pool's threads
# parked, which LeakSanitizer would count. halt_on_error: the first report
# ends the process, so a worker that tripped is one nginx saw die.
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=0:halt_on_error=1:malloc_context_size=12"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
# Checks that bound memory or time in figures the sanitizers' own overhead
# breaks (shadow memory, red zones, an allocator that aborts where the
# service would catch std::bad_alloc). Everything else runs as it does in
# the plain suites.
export DASHPIFF_EXCEPT="out_of_memory_under_prlimit_is_contained,an_index_bomb_is_bounded_in_time_and_memory,a_paused_transfer_holds_a_bounded_amount_of_memory"

status=0
for suite in tests/e2e/test_*.py; do
  name=$(basename "$suite" .py)
  log="$reports/$name.log"
  before=$(ls "$reports" | grep -cE '^(asan|ubsan)\.' || true)
  python3 "$suite" >"$log" 2>&1
  rc=$?
  found=$(ls "$reports" | grep -cE '^(asan|ubsan)\.' || true)
  if [ "$rc" -eq 0 ] && [ "$found" -eq "$before" ]; then
    echo "PASS: sanitized.$name ($(grep -c '^PASS: ' "$log") checks, no sanitizer report)"
    continue
  fi
  status=1
  if [ "$found" -ne "$before" ]; then
    echo "FAIL: sanitized.$name: a sanitizer reported (below)"
  else
    echo "FAIL: sanitized.$name: the suite failed under the sanitizers (exit status $rc)"
  fi
  grep '^FAIL: ' "$log" | sed 's/^FAIL: /  failed: /'
  if [ "$found" -ne "$before" ]; then
    # The first of them (a worker that trips is replaced, and may trip again).
    report=$(ls -tr "$reports" | grep -E '^(asan|ubsan)\.' | tail -n $((found - before)) | head -1)
    echo "  $((found - before)) report(s); the first, $report:"
    { grep -m1 -E 'ERROR|runtime error' "$reports/$report"
      grep -E '#[0-9]+ .*(src|fcgi)/' "$reports/$report" | head -8
      grep -m1 SUMMARY "$reports/$report"; } | cut -c1-240 | sed 's/^/    /'
  fi
done
exit $status
