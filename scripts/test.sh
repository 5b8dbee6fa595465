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

echo "== make check (Boost.Test unit tests and quick script tests)"
(cd build && make -j"$(nproc)" check >/dev/null 2>&1)
# Count what each test program ran: Boost.Test cases from its short report,
# PASS:/FAIL: lines from script tests, else the program's own result.
while IFS= read -r trs; do
  log=${trs%.trs}.log
  name=${trs#build/}
  name=${name%.trs}
  result=$(sed -n 's/^:test-result: //p' "$trs" | head -1)
  echo "  $result: $name"
  if grep -q 'Test module .* has \(passed\|failed\)' "$log" 2>/dev/null; then
    ok=$(grep -oE '[0-9]+ test cases? out of [0-9]+ passed' "$log" | grep -oE '^[0-9]+' | head -1)
    bad=$(grep -oE '[0-9]+ test cases? out of [0-9]+ (failed|aborted|were aborted|was aborted)' "$log" |
          awk '{s += $1} END {print s + 0}')
    passed=$((passed + ${ok:-0}))
    if [ "${bad:-0}" -gt 0 ]; then
      failed=$((failed + bad)); failures+=("$name: $bad test case(s) failed")
    elif [ "$result" != PASS ]; then
      note_fail "$name: $result"
    fi
  elif grep -qE '^(PASS|FAIL): ' "$log" 2>/dev/null; then
    count_checks "$name" "$log" "$([ "$result" = PASS ] && echo 0 || echo 1)"
  else
    case "$result" in
      PASS) passed=$((passed + 1)) ;;
      SKIP) echo "  (skipped: $name)" ;;
      *) note_fail "$name: $result"; sed 's/^/    /' "$log" | tail -20 ;;
    esac
  fi
done < <(find build -name '*.trs' | sort)

for t in tests/e2e/test_*.py; do
  run_suite "e2e-$(basename "$t" .py)" python3 "$t"
done
run_suite sanitize scripts/sanitize-test.sh
run_suite convert env DASHPIFF_PATCH="$top/build/src/tools/dashpiff-patch" python3 tests/e2e/check_convert.py
run_suite fuzz tests/fuzz/run-all.sh
[ -x scripts/package-test.sh ] && run_suite package scripts/package-test.sh
[ -x tests/browser/run.sh ] && run_suite browser tests/browser/run.sh

echo
if ((${#failures[@]})); then
  echo "Failures:"
  printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
