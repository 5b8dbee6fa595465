#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: Boost.Test unit
# tests (make check), end-to-end checks against a real nginx + spawn-fcgi +
# dashpiff-fcgi stack, fixture and conversion proofs, bounded fuzzing, the
# Debian package round trip and the browser players. Ends with one line
# "N passed, M failed" counting test cases and checks, not programs.
#
# Skip slow suites locally with DASHPIFF_SKIP="fuzz package browser".
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export DASHPIFF_BUILD="$top/build"
skip=" ${DASHPIFF_SKIP:-} "

passed=0
failed=0
declare -a failures=()

note_fail() { failed=$((failed + 1)); failures+=("$1"); }

# Counts PASS:/FAIL: lines printed by a check script.
count_checks() {  # name logfile status
  local p f
  p=$(grep -c '^PASS: ' "$2" || true)
  f=$(grep -c '^FAIL: ' "$2" || true)
  passed=$((passed + p))
  failed=$((failed + f))
  while IFS= read -r line; do failures+=("${line#FAIL: }"); done < <(grep '^FAIL: ' "$2" || true)
  if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then note_fail "$1 (exit status $3, no check reported)"; fi
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$3" -eq 0 ]; then note_fail "$1 (ran no check)"; fi
}

run_suite() {  # name command...
  local name=$1; shift
  case "$skip" in *" $name "*) echo "== $name: skipped (DASHPIFF_SKIP)"; return;; esac
  echo "== $name"
  local log
  log=$(mktemp)
  "$@" 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  count_checks "$name" "$log" "$status"
  rm -f "$log"
}

echo "== dependencies"
scripts/deps.sh || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }
echo "== build"
if ! scripts/build.sh; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== unit tests (make check)"
(cd build && make -j"$(nproc)" check >/dev/null 2>&1)
for log in build/tests/unit/*.log; do
  [ -f "$log" ] || continue
  name=$(basename "$log" .log)
  sed 's/^/  /' "$log" | grep -E 'error|failed|passed|Test module' || true
  ok=$(grep -oE '[0-9]+ test cases? out of [0-9]+ passed' "$log" | grep -oE '^[0-9]+' | head -1)
  bad=$(grep -oE '[0-9]+ test cases? out of [0-9]+ failed' "$log" | grep -oE '^[0-9]+' | head -1)
  bad_aborted=$(grep -oE '[0-9]+ test cases? out of [0-9]+ (was|were) aborted' "$log" | grep -oE '^[0-9]+' | head -1)
  if [ -z "$ok$bad" ]; then
    note_fail "$name: crashed or printed no Boost.Test report"
    continue
  fi
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${bad:-0} + ${bad_aborted:-0}))
  [ -n "$bad" ] && failures+=("$name: $bad test case(s) failed")
done

for t in tests/e2e/test_*.py; do
  run_suite "e2e-$(basename "$t" .py)" python3 "$t"
done
[ -x tests/fixtures/verify-fixtures.sh ] && run_suite fixtures tests/fixtures/verify-fixtures.sh
[ -x tests/e2e/check_convert.sh ] && run_suite convert tests/e2e/check_convert.sh
[ -x tests/fuzz/run-all.sh ] && run_suite fuzz tests/fuzz/run-all.sh
[ -x scripts/package-test.sh ] && run_suite package scripts/package-test.sh
[ -x tests/browser/run.sh ] && run_suite browser tests/browser/run.sh

echo
if ((${#failures[@]})); then
  echo "Failures:"
  printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
