#!/usr/bin/env bash
# Configures and builds dashpiff out of tree in build/ (make check-ready).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null
mkdir -p build
cd build
[ -f Makefile ] || ../configure -q
make -j"$(nproc)" ${DASHPIFF_MAKE_TARGETS:-all}
