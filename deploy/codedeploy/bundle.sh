#!/usr/bin/env bash
# Makes a CodeDeploy revision from the .deb CI built:
#   deploy/codedeploy/bundle.sh dashpiff_VERSION_amd64.deb OUT.tar.gz
# then, for example:
#   aws s3 cp OUT.tar.gz s3://BUCKET/dashpiff/OUT.tar.gz
#   aws deploy create-deployment --application-name APP \
#     --deployment-group-name GROUP \
#     --s3-location bucket=BUCKET,key=dashpiff/OUT.tar.gz,bundleType=tgz
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { echo "usage: $0 DEB OUT.tar.gz" >&2; exit 2; }
deb=$(readlink -f "$1")
out=$(readlink -f "$2")
case "${deb##*/}" in dashpiff_*.deb) ;; *) echo "bundle: $1 is not a dashpiff_*.deb" >&2; exit 2 ;; esac
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
install -m 0644 "$here/appspec.yml" "$tree/appspec.yml"
install -d "$tree/hooks" "$tree/packages"
install -m 0755 "$here"/hooks/*.sh "$tree/hooks/"
chmod 0644 "$tree/hooks/service.sh"   # sourced, not run
install -m 0644 "$deb" "$tree/packages/"
tar -czf "$out" -C "$tree" .
echo "bundle: $out"
