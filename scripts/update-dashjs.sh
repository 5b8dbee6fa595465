#!/usr/bin/env bash
# The /player page's dash.js, vendored under www/vendor/dashjs/ so that the
# Debian package builds without the network and the page plays from an
# installed package.
#
#   scripts/update-dashjs.sh           fetch the version the browser suite's
#                                      lock file pins (npm pack), check the
#                                      tarball against the lock's integrity,
#                                      copy the minified build and its licences,
#                                      record their SHA-256
#   scripts/update-dashjs.sh --check   no network: the vendored files match
#                                      SHA256SUMS and the version is the lock's
#
# To move to another dash.js: change tests/browser/package.json, run
# `npm install` there (it rewrites the lock), then this script.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
vendor="$top/www/vendor/dashjs"
lock="$top/tests/browser/package-lock.json"
# The build the page loads: UMD (a plain <script>), modern browsers.
dist=dist/modern/umd/dash.all.min.js

read -r version integrity < <(python3 - "$lock" <<'PY'
import json, sys
entry = json.load(open(sys.argv[1]))["packages"]["node_modules/dashjs"]
print(entry["version"], entry["integrity"])
PY
)

if [ "${1:-}" = --check ]; then
  have=$(cat "$vendor/VERSION" 2>/dev/null || echo none)
  if [ "$have" != "$version" ]; then
    echo "update-dashjs: vendored dash.js is $have, the lock pins $version: run scripts/update-dashjs.sh" >&2
    exit 1
  fi
  (cd "$vendor" && sha256sum --quiet --strict -c SHA256SUMS) ||
    { echo "update-dashjs: www/vendor/dashjs does not match its SHA256SUMS" >&2; exit 1; }
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "dashjs@$version" >/dev/null)
tarball="$work/dashjs-$version.tgz"
# npm's integrity string: sha512-<base64 of the tarball's SHA-512>.
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$got" != "$integrity" ]; then
  echo "update-dashjs: dashjs-$version.tgz is $got, the lock says $integrity" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work" "package/$dist" "package/$dist.LICENSE.txt" package/LICENSE.md
mkdir -p "$vendor"
cp "$work/package/$dist" "$vendor/dash.all.min.js"
cp "$work/package/$dist.LICENSE.txt" "$vendor/dash.all.min.js.LICENSE.txt"
cp "$work/package/LICENSE.md" "$vendor/LICENSE.md"
echo "$version" >"$vendor/VERSION"
(cd "$vendor" && sha256sum dash.all.min.js dash.all.min.js.LICENSE.txt LICENSE.md >SHA256SUMS)
echo "update-dashjs: www/vendor/dashjs is dash.js $version ($dist)"
