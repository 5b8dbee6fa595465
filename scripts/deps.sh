#!/usr/bin/env bash
# Installs the Debian packages dashpiff needs, by group. Idempotent: does
# nothing when every package of the chosen groups is present.
#
#   scripts/deps.sh [GROUP...]     default: all groups
#
#   build    compile dashpiff-fcgi and dashpiff-patch
#   run      run the stack locally (scripts/demo.sh): spawn-fcgi, nginx, python3
#   test     unit/e2e suites, fixtures, fuzzing, benchmarks, promtool
#   package  the Debian package round trip (scripts/package-test.sh)
#   browser  the headless players (tests/browser, the package's /player check)
#
# scripts/demo.sh installs build and run only; scripts/test.sh installs all.
# The README gives each group's package count and time on a fresh machine.
# DASHPIFF_EXTRA_PACKAGES adds packages to whatever is installed.
set -euo pipefail

declare -A GROUP=(
  [build]="build-essential autoconf automake libtool pkg-config autoconf-archive
           libfcgi-dev libboost-program-options-dev libboost-test-dev libxerces-c-dev
           libcurl4-openssl-dev nlohmann-json3-dev libssl-dev zlib1g-dev"
  [run]="spawn-fcgi nginx python3"
  [test]="python3 python3-yaml man-db systemd curl openssl ffmpeg valgrind clang libclang-rt-14-dev
          wrk nodejs prometheus"
  [package]="debhelper dh-autoreconf lintian devscripts fakeroot"
  [browser]="chromium nodejs"
)
ALL=(build run test package browser)

groups=("$@")
((${#groups[@]})) || groups=("${ALL[@]}")
packages=()
needs_npm=0
for g in "${groups[@]}"; do
  [ -n "${GROUP[$g]+x}" ] || { echo "deps: unknown group '$g' (groups: ${ALL[*]})" >&2; exit 2; }
  read -ra words <<<"${GROUP[$g]//$'\n'/ }"
  packages+=("${words[@]}")
  case "$g" in test|browser) needs_npm=1 ;; esac
done
read -ra extra <<<"${DASHPIFF_EXTRA_PACKAGES:-}"
packages+=("${extra[@]}")

missing=()
for p in "${packages[@]}"; do
  case " ${missing[*]} " in *" $p "*) continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Machines may carry a newer npm of their own; Debian's is only the fallback.
if [ "$needs_npm" = 1 ] && ! command -v npm >/dev/null; then missing+=(npm); fi
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "deps (${groups[*]}): installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
