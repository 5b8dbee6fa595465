#!/bin/sh
# dashpiff-patch as a shell user meets it: exit codes (0 done, 1 input/output
# error, 2 usage), messages, --help, --dump, and a patch whose result is
# checked against the input. One PASS:/FAIL: line per check.
#   check_patch_tool.sh [DASHPIFF_PATCH] (default ./src/tools/dashpiff-patch)
set -u
tool=${1:-${DASHPIFF_PATCH:-./src/tools/dashpiff-patch}}
data=${DASHPIFF_TEST_DATA:-$(cd "$(dirname "$0")/../data" && pwd)}
tmp=$(mktemp -d /tmp/dashpiff-tool.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0

check() {  # name expected-status command...
  name=$1 want=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  if [ "$got" -eq "$want" ]; then
    echo "PASS: $name"
  else
    echo "FAIL: $name (exit $got, expected $want: $(head -c 200 "$tmp/err"))"
    failed=1
  fi
}
expect_text() {  # name file text
  if grep -q -- "$3" "$2"; then echo "PASS: $1"; else echo "FAIL: $1 (no '$3' in output)"; failed=1; fi
}

seg="$data/streams/piff-only/seg-0-1.m4s"

check help 0 "$tool" --help
expect_text help-describes-modes "$tmp/out" "uuid-free"
check no-arguments-is-usage 2 "$tool"
expect_text usage-points-to-help "$tmp/err" "Try 'dashpiff-patch --help'"
check unknown-mode-is-usage 2 "$tool" --mode bogus "$seg" "$tmp/x"
expect_text unknown-mode-names-choices "$tmp/err" "expected off, free, uuid-free, convert or auto"
check unknown-option-is-usage 2 "$tool" --frobnicate "$seg" "$tmp/x"
check missing-input-is-input-error 1 "$tool" "$tmp/does-not-exist" "$tmp/x"
expect_text missing-input-names-file "$tmp/err" "does-not-exist"
check unwritable-output-is-error 1 "$tool" "$seg" "$tmp/no-such-dir/out"

check free-mode 0 "$tool" --mode free "$seg" "$tmp/free.m4s"
if [ "$(wc -c <"$seg")" -eq "$(wc -c <"$tmp/free.m4s")" ] && ! cmp -s "$seg" "$tmp/free.m4s" &&
   [ "$(cmp -l "$seg" "$tmp/free.m4s" | wc -l)" -eq 4 ]; then
  echo "PASS: free-mode-changes-exactly-one-4cc"
else
  echo "FAIL: free-mode-changes-exactly-one-4cc"; failed=1
fi
expect_text free-mode-reports-change "$tmp/err" "moof#1 traf#1: PIFF senc -> free"

check stdin-to-stdout 0 sh -c "\"$tool\" --mode free --quiet - - <\"$seg\" >\"$tmp/pipe.m4s\""
if cmp -s "$tmp/free.m4s" "$tmp/pipe.m4s"; then echo "PASS: stdin-stdout-same-as-files"; else echo "FAIL: stdin-stdout-same-as-files"; failed=1; fi

check off-mode 0 "$tool" --mode off --quiet "$seg" "$tmp/off.m4s"
if cmp -s "$seg" "$tmp/off.m4s"; then echo "PASS: off-mode-is-identity"; else echo "FAIL: off-mode-is-identity"; failed=1; fi

check dump 0 "$tool" --dump "$seg"
expect_text dump-names-piff-box "$tmp/out" "uuid \[PIFF SampleEncryptionBox\] offset=580 size=832"
expect_text dump-shows-sidx "$tmp/out" "sidx offset=24 size=52"
check dump-converted 0 "$tool" --dump "$tmp/free.m4s"
check convert 0 "$tool" --mode convert --quiet "$seg" "$tmp/conv.m4s"
check dump-after-convert 0 "$tool" --dump "$tmp/conv.m4s"
expect_text dump-shows-saio "$tmp/out" "saio offset="
expect_text dump-shows-senc-summary "$tmp/out" "senc offset=.*samples=50 iv_size=8"
head -c 1000 "$seg" >"$tmp/truncated.m4s"  # inside the moof (76..1412)
check dump-truncated-is-input-error 1 "$tool" --dump "$tmp/truncated.m4s"
check patch-truncated-passes-through 0 "$tool" --mode convert --quiet "$tmp/truncated.m4s" "$tmp/t.m4s"
if cmp -s "$tmp/truncated.m4s" "$tmp/t.m4s"; then echo "PASS: truncated-output-equals-input"; else echo "FAIL: truncated-output-equals-input"; failed=1; fi
check dump-missing-file 1 "$tool" --dump "$tmp/none"

exit $failed
