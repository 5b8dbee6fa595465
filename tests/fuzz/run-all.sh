#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time (DASHPIFF_FUZZ_SECONDS each,
# default 60) under AddressSanitizer and UBSan. One PASS:/FAIL: line per target.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${DASHPIFF_FUZZ_SECONDS:-60}
status=0

run_target() {  # name command...
  local name=$1; shift
  local log
  log=$(mktemp)
  if "$@" >"$log" 2>&1; then
    echo "PASS: fuzz.$name ($(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$') executions in ${seconds}s)"
  else
    echo "FAIL: fuzz.$name: fuzzer or build failed"
    tail -40 "$log"
    status=1
  fi
  rm -f "$log"
}

run_target segment_engine "$here/run-fuzz.sh" fuzz_segment "$seconds"
run_target box_parsers "$here/run-fuzz.sh" fuzz_boxes "$seconds"
run_target mpd_rewriter "$here/run-fuzz-mpd.sh" "$seconds"
run_target smooth "$here/run-fuzz-mss.sh" "$seconds"
exit $status
