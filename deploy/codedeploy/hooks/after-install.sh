#!/usr/bin/env bash
# CodeDeploy AfterInstall: install the revision's .deb (an upgrade keeps a
# locally changed /etc/dashpiff/dashpiff.conf without asking), then check the
# configuration with the binary just installed.
set -euo pipefail
. "$(dirname "$0")/service.sh"

dest=/var/cache/dashpiff-deploy
shopt -s nullglob
debs=("$dest"/dashpiff_*.deb)
((${#debs[@]} == 1)) || die "expected one dashpiff_*.deb in $dest, found ${#debs[@]}"
say "installing ${debs[0]##*/}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${debs[0]}" </dev/null
say "installed $(dpkg-query -W -f='${Version}' dashpiff); $(/usr/sbin/dashpiff-fcgi --version | head -1)"
/usr/sbin/dashpiff-fcgi --check-config --config /etc/dashpiff/dashpiff.conf >/dev/null ||
  die "/etc/dashpiff/dashpiff.conf is not valid for the new version"
