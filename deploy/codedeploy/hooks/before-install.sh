#!/usr/bin/env bash
# CodeDeploy BeforeInstall: an empty package directory for this revision's
# .deb, and the packages the hooks and the package need from the Debian
# mirror (a fresh instance).
set -euo pipefail
. "$(dirname "$0")/service.sh"

dest=/var/cache/dashpiff-deploy
rm -rf "$dest"
install -d -m 0755 "$dest"

missing=()
for p in nginx spawn-fcgi curl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
