#!/usr/bin/env bash
# Installs every Debian package dashpiff needs to build, test, package and
# demo. Idempotent: does nothing when all are present.
set -euo pipefail

PACKAGES=(
  # build
  build-essential autoconf automake libtool pkg-config autoconf-archive
  libfcgi-dev libboost-program-options-dev libboost-test-dev libxerces-c-dev
  libcurl4-openssl-dev nlohmann-json3-dev libssl-dev zlib1g-dev
  # run
  spawn-fcgi nginx
  # tests, fixtures, fuzzing, benchmarks
  python3 python3-yaml man-db systemd curl openssl ffmpeg valgrind clang libclang-rt-14-dev wrk nodejs chromium
  # packaging
  debhelper dh-autoreconf lintian devscripts fakeroot
)
PACKAGES+=(${DASHPIFF_EXTRA_PACKAGES:-})

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Machines may carry a newer npm of their own; Debian's is only the fallback.
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
