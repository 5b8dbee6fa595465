#!/usr/bin/env bash
# The Debian package round trip (issue 6), as CI runs it:
#
#   systemd-analyze verify/security on the unit, CloudFormation template check,
#   dpkg-buildpackage, lintian, package contents, apt-get install ./*.deb,
#   the service started exactly as the installed unit's ExecStart says (as its
#   User/Group, in its RuntimeDirectory: systemd is not PID 1 here), the
#   packaged nginx site on a private nginx, end-to-end checks through it
#   (its own, then tests/e2e/test_service.py via scripts/package_e2e.py),
#   reload (ExecReload), the /player page of the installed package playing
#   the bundled stream in headless Chromium (judged by decoded frames), an
#   upgrade that must keep a changed conffile, a CodeDeploy deployment (the
#   hooks of deploy/codedeploy run in CodeDeploy's order against the installed
#   package), a graceful stop, apt-get remove, apt-get purge, and a check that
#   nothing the package installed or created is left.
#
# Prints "PASS: name" / "FAIL: name: reason" per check; exits non-zero if any
# check failed. Needs root (it installs a package). Every process it starts
# is stopped by PID; the system nginx is never touched.
#
# Options (environment):
#   PACKAGE_TEST_CHECK=1    run make check inside dpkg-buildpackage (default:
#                           nocheck, scripts/test.sh has already run them)
#   PACKAGE_TEST_DEB=FILE   test this .deb instead of building one
#   PACKAGE_TEST_KEEP=1     leave the work directory (logs) behind
#   PACKAGE_TEST_E2E=CMD    extra end-to-end command, run with
#                           DASHPIFF_FRONT_URL set to the packaged front nginx
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

pkg=dashpiff
passed=0
failed=0
pass() { echo "PASS: package.${1#package.}"; passed=$((passed + 1)); }
fail() { echo "FAIL: package.${1#package.}: $2"; failed=$((failed + 1)); }
check() {  # name reason command... : PASS when the command succeeds
  local name=$1 reason=$2; shift 2
  if "$@"; then pass "$name"; else fail "$name" "$reason"; fi
}
finish() {
  echo "package-test: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}

if [ "$(id -u)" -ne 0 ]; then
  fail setup "must run as root (installs and purges the package)"
  finish
fi

work=$(mktemp -d /tmp/dashpiff-pkgtest.XXXXXX)
chmod 0755 "$work"   # nginx workers (www-data) read below it
declare -a started_pids=()
installed_by_us=0
runtime_dir=""

cleanup() {
  local pid
  for pid in "${started_pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  if [ "$installed_by_us" = 1 ] && dpkg -s "$pkg" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "$pkg" >/dev/null 2>&1 </dev/null
  fi
  [ -n "$runtime_dir" ] && rm -rf "$runtime_dir"
  rm -f "$FALLBACK_PID_FILE"
  rm -rf /var/cache/dashpiff-deploy   # the CodeDeploy hooks' package directory
  if [ "${PACKAGE_TEST_KEEP:-0}" = 1 ]; then
    echo "package-test: work directory kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# The CodeDeploy hooks' service helpers: starting the unit without systemd,
# reloading it, finding its main PID, wait_for. This test starts the service
# with them, and so proves them before the hooks use them.
# shellcheck source=../deploy/codedeploy/hooks/service.sh
. "$top/deploy/codedeploy/hooks/service.sh"
wait_until() { wait_for "$@"; }

phase() { echo "package-test: [${SECONDS}s] $1"; }
# Debian's python3 (python3-yaml), whatever else is first on PATH.
py=/usr/bin/python3

free_port() {
  $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ------------------------------------------------------------------ the unit
phase "the unit"
unit_src=systemd/dashpiff.service

# systemd-analyze verify exits 0 on warnings: its output is what counts.
verify_quiet() {  # extra args... unit
  local out
  out=$(systemd-analyze verify "$@" 2>&1) || { echo "$out"; return 1; }
  [ -z "$out" ] || { echo "$out" | sed 's/^/    /'; return 1; }
}
# (verify itself runs on the installed unit, below: it wants every Exec
# binary and the man page in place.)

security_ok() {
  local out err level
  out=$(systemd-analyze security --offline=true --no-pager "$unit_src" 2>"$work/security.err")
  err=$(cat "$work/security.err")
  [ -z "$err" ] || { echo "    $err"; return 1; }
  level=$(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  echo "    exposure level: ${level:-unknown}"
  # 10 is fully exposed; the hardened unit scores about 1.2. Anything over 2
  # means a directive was lost.
  [ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'
}
check unit.security_exposure "systemd-analyze security: exposure above 2.0 or stderr output" security_ok

unit_value() {  # file key : last assignment of key, as systemd reads it
  sed -n "s/^$2=//p" "$1" | tail -1
}
has_directive() { grep -qx "$1" "$unit_src"; }
for d in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
         "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" CapabilityBoundingSet= \
         SystemCallFilter=@system-service KillMode=mixed Restart=on-failure User=dashpiff \
         RuntimeDirectory=dashpiff "ExecReload=/bin/kill -HUP \$MAINPID"; do
  check "unit.has[$d]" "directive missing from $unit_src" has_directive "$d"
done

# ------------------------------------------------- CloudFormation template
phase "CloudFormation template"
cfn_spec() {
  local found
  for found in "$top/node_modules/@aws-cdk/cfnspec/spec/specification.json" \
               "$top/tests/node/node_modules/@aws-cdk/cfnspec/spec/specification.json" \
               "${XDG_CACHE_HOME:-$HOME/.cache}/dashpiff/cfnspec/node_modules/@aws-cdk/cfnspec/spec/specification.json"; do
    [ -f "$found" ] && { echo "$found"; return 0; }
  done
  # Not installed by the project's npm install: fetch the specification once
  # into a cache so the template is checked against real resource types.
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/dashpiff/cfnspec"
  mkdir -p "$cache"
  (cd "$cache" && npm install --no-save --no-audit --no-fund --loglevel=error \
     @aws-cdk/cfnspec@2.72.1 >/dev/null 2>&1) || return 1
  found="$cache/node_modules/@aws-cdk/cfnspec/spec/specification.json"
  [ -f "$found" ] && echo "$found"
}
relay() {  # command... : its PASS/FAIL lines count as checks here too
  local line
  while IFS= read -r line; do
    case "$line" in
      "PASS: "*) pass "${line#PASS: }" ;;
      "FAIL: "*) fail "${line#FAIL: }" "see above" ;;
      *) echo "$line" ;;
    esac
  done < <("$@" 2>&1)
}
run_cfn_check() { relay $py scripts/check-cfn.py "$@" --self-test docs/aws/dashpiff.yaml; }
if spec=$(cfn_spec); then
  run_cfn_check --spec "$spec"
else
  fail cfn.spec "CloudFormation resource specification unavailable (npm package @aws-cdk/cfnspec)"
  run_cfn_check --no-spec
fi

# ------------------------------------------------------------------- build
phase "build"
if [ -n "${PACKAGE_TEST_DEB:-}" ]; then
  deb=$(readlink -f "$PACKAGE_TEST_DEB")
  changes=""
  echo "package-test: using $deb"
else
  src="$work/src/$pkg"
  mkdir -p "$src"
  # What CI has: tracked files plus new ones not ignored; no build output.
  if git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files -z -co --exclude-standard | xargs -0 -I{} sh -c '[ -e "{}" ] && printf "%s\0" "{}"' \
      | tar --null -T - -cf - | tar -xf - -C "$src"
    # A source copy has no .git: the build takes its commit from here.
    git rev-parse --short=12 HEAD >"$src/.commit"
  else
    tar --exclude=./build --exclude=./build-sanitize --exclude=./.git -cf - . | tar -xf - -C "$src"
  fi
  opts="parallel=$(nproc)"
  [ "${PACKAGE_TEST_CHECK:-0}" = 1 ] || opts="nocheck $opts"
  echo "package-test: dpkg-buildpackage (DEB_BUILD_OPTIONS=$opts), log $work/build.log"
  if (cd "$src" && DEB_BUILD_OPTIONS="$opts" dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
    pass build
  else
    fail build "dpkg-buildpackage failed"
    tail -40 "$work/build.log" | sed 's/^/    /'
    finish
  fi
  deb=$(ls "$work"/src/${pkg}_*.deb | head -1)
  changes=$(ls "$work"/src/${pkg}_*.changes | head -1)
fi

# ----------------------------------------------------------------- lintian
phase "lintian"
# Errors and warnings fail (overrides in debian/*.lintian-overrides say why);
# info and pedantic tags are shown, not counted.
lintian_ok() {
  lintian --fail-on error,warning --display-info "${changes:-$deb}" >"$work/lintian.log" 2>&1
  local status=$?
  grep -v '^running with root privileges' "$work/lintian.log" | sed 's/^/    /'
  return $status
}
check lintian "lintian reported errors or warnings" lintian_ok

# ---------------------------------------------------------------- contents
phase "contents"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | grep -v '^$' >"$work/contents"
ships() { grep -qx "$1" "$work/contents"; }
for f in /usr/sbin/dashpiff-fcgi /usr/bin/dashpiff-patch /etc/dashpiff/dashpiff.conf \
         /lib/systemd/system/dashpiff.service /etc/nginx/sites-available/dashpiff \
         /etc/nginx/snippets/dashpiff-locations.conf /etc/nginx/snippets/dashpiff-fastcgi.conf \
         /usr/share/man/man8/dashpiff-fcgi.8.gz /usr/share/man/man1/dashpiff-patch.1.gz \
         /usr/share/doc/dashpiff/copyright /usr/share/doc/dashpiff/README.Debian \
         /etc/nginx/snippets/dashpiff-player.conf /usr/share/dashpiff/www/player/index.html \
         /usr/share/dashpiff/www/player/player.js /usr/share/dashpiff/dashjs/dash.all.min.js \
         /usr/share/dashpiff/dashjs/dash.all.min.js.LICENSE.txt; do
  check "contents.ships[$f]" "not in the .deb" ships "$f"
done
# Nothing else: no test programs, no enabled site, nothing under /usr/local.
unexpected() {
  local bad
  bad=$(grep -vxE '/|/etc|/etc/dashpiff(/dashpiff\.conf)?|/etc/nginx|/etc/nginx/sites-available(/dashpiff)?|/etc/nginx/snippets(/dashpiff-[a-z-]+\.conf)?|/lib|/lib/systemd|/lib/systemd/system(/dashpiff\.service)?|/usr|/usr/bin(/dashpiff-patch)?|/usr/sbin(/dashpiff-fcgi)?|/usr/share|/usr/share/doc(/dashpiff(/.*)?)?|/usr/share/dashpiff(/.*)?|/usr/share/lintian(/overrides(/dashpiff)?)?|/usr/share/man|/usr/share/man/man[18](/dashpiff-[a-z]+\.[18]\.gz)?' "$work/contents")
  [ -z "$bad" ] || { echo "$bad" | sed 's/^/    unexpected: /'; return 1; }
}
check contents.nothing_else "the .deb ships unexpected files" unexpected
# The /player page's dash.js: the vendored file (the browser suite's locked
# version, hash-checked), byte for byte, so the page plays without a CDN.
check vendor.dashjs_matches_lock "www/vendor/dashjs does not match its SHA256SUMS or the lock's version" \
  scripts/update-dashjs.sh --check
ships_vendored_dashjs() {
  dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/share/dashpiff/dashjs/dash.all.min.js |
    cmp -s - www/vendor/dashjs/dash.all.min.js
}
check contents.ships_vendored_dashjs "the .deb's dash.all.min.js is not www/vendor/dashjs's" ships_vendored_dashjs
conffiles_ok() {
  dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles >"$work/conffiles" 2>/dev/null
  grep -qx /etc/dashpiff/dashpiff.conf "$work/conffiles" &&
    grep -qx /etc/nginx/sites-available/dashpiff "$work/conffiles"
}
check contents.conffiles "/etc/dashpiff/dashpiff.conf and the nginx site must be conffiles" conffiles_ok
field_has() { dpkg-deb -f "$deb" "$1" | grep -qw "$2"; }
check control.depends_spawn_fcgi "Depends lacks spawn-fcgi" field_has Depends spawn-fcgi
check control.recommends_nginx "Recommends lacks nginx" field_has Recommends nginx
depends_on() { dpkg-deb -f "$deb" Depends | grep -q "$1"; }
check control.depends_shlibs "Depends lacks the run-time libraries (\${shlibs:Depends})" depends_on libxerces-c

# ----------------------------------------------------------------- install
phase "install"
if dpkg -s "$pkg" >/dev/null 2>&1; then
  echo "package-test: $pkg already installed; purging it first"
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "$pkg" >/dev/null 2>&1 </dev/null
fi
user_existed=0
getent passwd dashpiff >/dev/null && user_existed=1
install_ok() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" >"$work/install.log" 2>&1 </dev/null ||
    { tail -20 "$work/install.log" | sed 's/^/    /'; return 1; }
}
# apt-get wants a path that looks like one.
case "$deb" in /*) ;; *) deb="./$deb" ;; esac
if install_ok; then
  installed_by_us=1
  pass install
else
  fail install "apt-get install $deb failed"
  finish
fi
dpkg -L "$pkg" | sort >"$work/installed-files"

user_ok() {
  local entry uid home shell
  entry=$(getent passwd dashpiff) || return 1
  uid=$(echo "$entry" | cut -d: -f3); home=$(echo "$entry" | cut -d: -f6); shell=$(echo "$entry" | cut -d: -f7)
  [ "$uid" -lt 1000 ] && [ "$home" = /nonexistent ] && [ ! -e /nonexistent ] &&
    case "$shell" in */nologin|*/false) true ;; *) false ;; esac &&
    getent group dashpiff >/dev/null
}
check install.system_user "no system user dashpiff (uid<1000, home /nonexistent, no shell) and group" user_ok
check install.unit_enabled "the package did not enable dashpiff.service" \
  test -L /etc/systemd/system/multi-user.target.wants/dashpiff.service
check install.site_not_enabled "the package must not enable its nginx site" \
  test ! -e /etc/nginx/sites-enabled/dashpiff
check install.unit_is_the_source_unit "the installed unit differs from $unit_src" \
  cmp -s /lib/systemd/system/dashpiff.service "$unit_src"
# With the binaries and the man page installed, verify also resolves every
# Exec command and Documentation=.
check install.unit_verify "systemd-analyze verify on the installed unit printed warnings" \
  verify_quiet /lib/systemd/system/dashpiff.service
man_ok() { man -w dashpiff-fcgi >/dev/null 2>&1 && man -w 1 dashpiff-patch >/dev/null 2>&1; }
check install.man_pages "man cannot find dashpiff-fcgi(8) or dashpiff-patch(1)" man_ok
check install.remove_stops_service "prerm does not stop dashpiff.service on remove" \
  grep -q "deb-systemd-invoke stop 'dashpiff.service'" /var/lib/dpkg/info/dashpiff.prerm
check install.version "dashpiff-fcgi --version failed" sh -c '/usr/sbin/dashpiff-fcgi --version >/dev/null'
version_names_commit() {
  local want out
  want=$(git rev-parse --short=12 HEAD 2>/dev/null) || return 0   # a .deb given from elsewhere
  [ -n "${PACKAGE_TEST_DEB:-}" ] && return 0
  out=$(/usr/sbin/dashpiff-fcgi --version)
  [ "$out" = "dashpiff-fcgi $(dpkg-query -W -f='${Version}' "$pkg" | sed 's/-[^-]*$//') (commit $want)" ] ||
    { echo "    --version: $out (checkout at $want)"; return 1; }
}
check install.version_names_commit "dashpiff-fcgi --version does not name the version and commit built" version_names_commit
check install.conffile_valid "dashpiff-fcgi --check-config rejects the shipped /etc/dashpiff/dashpiff.conf" \
  sh -c '/usr/sbin/dashpiff-fcgi --check-config --config /etc/dashpiff/dashpiff.conf >/dev/null'
check install.patch_runs "dashpiff-patch --help failed" sh -c '/usr/bin/dashpiff-patch --help >/dev/null'

# Every option dashpiff-fcgi knows is documented in the conffile and the man page.
options_documented() {
  local opts missing="" o man
  opts=$(/usr/sbin/dashpiff-fcgi --help 2>/dev/null | grep -oE '^ +--[a-z][a-z0-9-]+' | sed 's/^ *--//' | sort -u)
  [ -n "$opts" ] || { echo "    --help lists no options"; return 1; }
  # The man page as text: roff escapes for '-' and fonts removed.
  man=$(zcat /usr/share/man/man8/dashpiff-fcgi.8.gz | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g')
  for o in $opts; do
    case "$o" in help|version|config|check-config|no-supervisor) continue ;; esac  # command line only
    grep -qE "^[#;]? *$o *=" /etc/dashpiff/dashpiff.conf || missing="$missing conffile:$o"
    grep -q -- "--$o\\b" <<<"$man" || missing="$missing man:$o"
  done
  [ -z "$missing" ] || { echo "    undocumented:$missing"; return 1; }
}
check install.options_documented "options of dashpiff-fcgi --help missing from the conffile or man page" options_documented

# "Every option commented with its default": the commented value in the
# shipped conffile is the default --help reports.
conffile_defaults() {
  /usr/sbin/dashpiff-fcgi --help 2>/dev/null | $py -c '
import re, sys
help_defaults = {}
for line in sys.stdin:
    m = re.match(r"^\s+--([a-z][a-z0-9-]+)\b(.*)$", line)
    if not m:
        continue
    rest = re.sub(r"\[=[A-Z]+\(=[^)]*\)\]", "", m.group(2))  # implicit values of BOOL options
    d = re.search(r"\(=(.*?)\)(?=\s|$)", rest)
    help_defaults[m.group(1)] = d.group(1) if d else ""
conf = {}
for line in open("/etc/dashpiff/dashpiff.conf"):
    m = re.match(r"^# ([a-z][a-z0-9-]+) =\s?(.*?)\s*$", line)
    if m:
        conf.setdefault(m.group(1), []).append(m.group(2))
bad = []
for name, values in conf.items():
    shown = ", ".join(v for v in values if v)
    if name not in help_defaults:
        bad.append(f"{name}: in the conffile, unknown to --help")
    elif shown != help_defaults[name]:
        bad.append(f"{name}: conffile says {shown!r}, --help says {help_defaults[name]!r}")
# The man page: "Default: \fBvalue\fR." in each option'"'"'s paragraph.
import gzip
man = gzip.open("/usr/share/man/man8/dashpiff-fcgi.8.gz", "rt").read()
for block in man.split(".TP\n"):
    m = re.match(r"\.BI? \\-\\-([a-z0-9\\-]+)", block)
    if not m:
        continue
    name = m.group(1).replace("\\-", "-")
    if name not in help_defaults or name in ("config",):
        continue
    d = re.search(r"Default: \\fB(.*?)\\fR", block)
    shown = d.group(1).replace("\\-", "-") if d else ""
    if shown != help_defaults[name]:
        bad.append(f"{name}: man page says {shown!r}, --help says {help_defaults[name]!r}")
for b in bad:
    print("    " + b)
sys.exit(1 if bad or not conf else 0)'
}
check install.documented_defaults_match_help "the conffile or man page states a default that is not the real one" conffile_defaults

# ------------------------------------------- start the service like systemd
phase "start the service like systemd"
unit=/lib/systemd/system/dashpiff.service
exec_start=$(unit_value "$unit" ExecStart)
mapfile -t exec_reloads < <(sed -n 's/^ExecReload=//p' "$unit")
svc_user=$(unit_value "$unit" User)
svc_group=$(unit_value "$unit" Group)
runtime=$(unit_value "$unit" RuntimeDirectory)
stop_timeout=$(unit_value "$unit" TimeoutStopSec)
case "$exec_start" in *\"*|*\'*|*\\*) fail service.exec_start "ExecStart uses quoting this script does not parse"; finish ;; esac
exec_start=${exec_start#[-@+!:]}
read -ra exec_words <<<"$exec_start"
socket=$(echo "$exec_start" | sed -n 's/.* -s \([^ ]*\).*/\1/p')

runtime_dir="/run/$runtime"
if [ -S "$socket" ] && $py -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' "$socket" 2>/dev/null; then
  fail service.start "$socket is in use by another process"
  runtime_dir=""
  finish
fi

# Like systemd: the unit's user and group, the user's supplementary groups,
# no capabilities, no new privileges, the unit's umask, a clean environment
# (start_without_systemd, the CodeDeploy hooks' fallback).
main_pid=$(DASHPIFF_FALLBACK_LOG="$work/service.log" start_without_systemd)
[ -n "$main_pid" ] && started_pids+=("$main_pid")
echo "package-test: started: ${exec_words[*]} (PID $main_pid, as $svc_user:$svc_group)"

if wait_until 10 test -S "$socket"; then
  pass service.start
else
  fail service.start "no socket $socket after 10 s"
  sed 's/^/    /' "$work/service.log" | tail -20
  finish
fi
sleep 0.5
check service.alive "the service exited right after start" kill -0 "$main_pid"
check service.main_pid_is_dashpiff "spawn-fcgi -n did not exec dashpiff-fcgi in place" \
  sh -c "[ \"\$(readlink /proc/$main_pid/exe)\" = /usr/sbin/dashpiff-fcgi ]"
stat_is() { [ "$(stat -c "$2" "$1")" = "$3" ] || { echo "    $1: $(stat -c "$2" "$1"), want $3"; return 1; }; }
check service.socket_owner "socket must be $svc_user:www-data, mode 660" stat_is "$socket" '%U:%G %a' "$svc_user:www-data 660"
check service.runtime_dir_owner "runtime directory must be $svc_user:www-data, mode 750" \
  stat_is "$runtime_dir" '%U:%G %a' "$svc_user:www-data 750"
connect_as() {  # user : exit 0 connected, 13 permission denied, else another failure
  # /usr/bin/python3: the service users cannot run a python from root's home.
  setpriv --reuid="$1" --regid="$(id -gn "$1")" --init-groups /usr/bin/python3 -c '
import errno, socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except PermissionError:
    sys.exit(13)
except OSError as e:
    print("    connect:", e)
    sys.exit(1)' "$socket"
}
www_data_connects() { connect_as www-data; }
others_refused() { connect_as nobody; [ $? -eq 13 ]; }
check service.www_data_can_connect "www-data (nginx) cannot connect to the socket" www_data_connects
check service.others_cannot_connect "user nobody is not refused with EACCES" others_refused
no_privileges() {
  grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$main_pid/status" &&
    grep -q '^CapBnd:[[:space:]]*0000000000000000' "/proc/$main_pid/status"
}
check service.no_privileges "main process has capabilities or may gain privileges" no_privileges

# ------------------------------------------------- the packaged nginx site
phase "the packaged nginx site"
ng="$work/nginx"
mkdir -p "$ng/conf/sites-available" "$ng/conf/sites-enabled" "$ng/conf/snippets" "$ng/tmp"
chown www-data "$ng/tmp"
port=$(free_port)
# The site as installed, moved from port 80 to a free loopback port.
sed -E -e "s/^([[:space:]]*)listen[[:space:]]+80([[:space:]][^;]*)?;/\1listen 127.0.0.1:$port\2;/" \
       -e '/^[[:space:]]*listen[[:space:]]+\[::\]:80([[:space:]][^;]*)?;/d' \
       /etc/nginx/sites-available/dashpiff >"$ng/conf/sites-available/dashpiff"
cp /etc/nginx/snippets/dashpiff-*.conf "$ng/conf/snippets/"
ln -s ../sites-available/dashpiff "$ng/conf/sites-enabled/dashpiff"   # as README.Debian says
listens_once() { [ "$(grep -c "listen 127.0.0.1:$port" "$ng/conf/sites-available/dashpiff")" = 1 ]; }
check nginx.site_listens_on_80 "the site has no 'listen 80;' to move" listens_once
cat >"$ng/conf/nginx.conf" <<EOF
user www-data;
worker_processes 1;
pid $ng/nginx.pid;
error_log $ng/error.log warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    access_log $ng/access.log;
    client_body_temp_path $ng/tmp/body;
    fastcgi_temp_path $ng/tmp/fastcgi;
    proxy_temp_path $ng/tmp/proxy;
    uwsgi_temp_path $ng/tmp/uwsgi;
    scgi_temp_path $ng/tmp/scgi;
    include $ng/conf/sites-enabled/*;
}
EOF
nginx_args=(-p "$ng/" -c "$ng/conf/nginx.conf" -e "$ng/error.log")
nginx_test() { nginx -t -q "${nginx_args[@]}" 2>&1 | sed 's/^/    /'; return "${PIPESTATUS[0]}"; }
check nginx.config_test "nginx -t rejects the packaged site" nginx_test
nginx "${nginx_args[@]}" -g 'daemon off;' >"$ng/stderr.log" 2>&1 </dev/null &
nginx_pid=$!
started_pids+=("$nginx_pid")
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
if wait_until 10 port_open; then pass nginx.start; else fail nginx.start "nginx did not listen on $port"; fi
front="http://127.0.0.1:$port"

# ---------------------------------------------------------- end to end
phase "end to end"
http() {  # url [curl args...] : prints "status" and leaves the body in $work/body
  local url=$1; shift
  curl -s -o "$work/body" -w '%{http_code}' --max-time 20 "$@" "$url"
}
body_has() { grep -q -- "$1" "$work/body"; }
expect_status() {  # name want url [curl args...]
  local name=$1 want=$2 url=$3 got; shift 3
  got=$(http "$url" "$@")
  if [ "$got" = "$want" ]; then pass "$name"; else fail "$name" "GET $url: $got, want $want: $(head -c 200 "$work/body")"; fi
}

expect_status e2e.healthz 200 "$front/healthz"
expect_status e2e.metrics_local 200 "$front/metrics"
check e2e.metrics_format "/metrics is not Prometheus text with dashpiff_ counters" body_has '^dashpiff_'
create_ok() {
  local status url
  status=$(http "$front/create?url=http%3A%2F%2Fcdn.example%2Fa%2Fb.mpd%3Ftoken%3Dx")
  url=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$work/body" 2>/dev/null)
  [ "$status" = 200 ] && case "$url" in */mpd/http!0!1!1cdn.example!1a!1b.mpd\?token=x) true ;; *) false ;; esac ||
    { echo "    /create: $status $(head -c 200 "$work/body")"; return 1; }
}
check e2e.create "/create did not mint a /mpd/ URL" create_ok

# A loopback origin with a small stream: refused as shipped (SSRF guard),
# served once the operator allows the network in the conffile and reloads.
origin_root="$work/origin"
mkdir -p "$origin_root/live"
cat >"$origin_root/live/manifest.mpd" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT4S"
     minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-live:2011">
  <Period id="p0">
    <AdaptationSet mimeType="video/mp4" segmentAlignment="true">
      <SegmentTemplate timescale="1000" duration="2000" startNumber="1"
                       initialization="init.mp4" media="seg-$Number$.m4s"/>
      <Representation id="v" bandwidth="100000" codecs="avc1.64001f" width="320" height="180"/>
    </AdaptationSet>
  </Period>
</MPD>
EOF
# Not media a patcher would change ('free' and 'mdat' boxes): they must come
# back byte for byte.
$py - "$origin_root/live" <<'EOF'
import os, struct, sys
for name in ("init.mp4", "seg-1.m4s", "seg-2.m4s"):
    payload = os.urandom(3000)
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(struct.pack(">I4s", 16, b"free") + b"\0" * 8)
        f.write(struct.pack(">I4s", 8 + len(payload), b"mdat") + payload)
EOF
origin_port=$(free_port)
$py -m http.server --bind 127.0.0.1 --directory "$origin_root" "$origin_port" >"$work/origin.log" 2>&1 </dev/null &
started_pids+=("$!")
origin_open() { (exec 3<>"/dev/tcp/127.0.0.1/$origin_port") 2>/dev/null; }
wait_until 10 origin_open || fail e2e.origin "test origin did not start"
enc() { echo "$1" | sed -e 's/!/!!/g' -e 's/:/!0/g' -e 's|/|!1|g' -e 's/#/!2/g' -e 's/~/!3/g' -e 's/?/!4/g'; }
mpd_path="/mpd/$(enc "http://127.0.0.1:$origin_port/live/manifest.mpd")"
expect_status e2e.loopback_origin_refused_as_shipped 403 "$front$mpd_path"

conf=/etc/dashpiff/dashpiff.conf
# The e2e checks' origin runs on loopback; its never-answering origin should
# time out in 2 s rather than 15.
# The /player page's /inspect answers need player-page.
printf '\n# Added by scripts/package-test.sh\nallow-network = 127.0.0.0/8\nfirst-byte-timeout = 2s\nplayer-page = true\n' >>"$conf"
# Every ExecReload line in order, as the unit's user, $MAINPID filled in.
run_reload() { service_reload; }
# A broken file: the reload fails loudly and the service keeps serving.
printf 'workers = many\n' >>"$conf"
reload_refuses_broken() {
  if run_reload >"$work/reload.log" 2>&1; then echo "    reload succeeded"; return 1; fi
  grep -q workers "$work/reload.log" || { echo "    no reason given: $(cat "$work/reload.log")"; return 1; }
  [ "$(http "$front/healthz")" = 200 ]
}
check service.reload_refuses_broken_config "systemctl reload would not fail on a broken conffile" reload_refuses_broken
sed -i '/^workers = many$/d' "$conf"
if run_reload; then pass service.reload_command; else fail service.reload_command "ExecReload failed"; fi
served_after_reload() { [ "$(http "$front$mpd_path")" = 200 ]; }
if wait_until 15 served_after_reload; then
  pass service.reload_applies_config
else
  fail service.reload_applies_config "still $(http "$front$mpd_path") 15 s after the reload"
fi
check service.same_main_pid_after_reload "the main process changed or died on reload" kill -0 "$main_pid"
check e2e.mpd_rewritten_to_media "the rewritten MPD does not send segments to /media/" body_has '/media/'
segment_ok() {
  # Walk the rewritten MPD as a player would (tests/e2e/mpd.py): every
  # segment URL must be on the proxy and give the origin's bytes.
  $py - "$front$mpd_path" "$origin_root/live" "$top/tests/e2e" <<'EOF'
import os, sys, urllib.request
proxy_mpd, origin_dir, e2e = sys.argv[1:4]
sys.path.insert(0, e2e)
import mpd
body = urllib.request.urlopen(proxy_mpd, timeout=20).read()
urls = mpd.segment_urls(body, proxy_mpd)
front = proxy_mpd.split("/mpd/")[0]
bad = []
for _, kind, url in urls:
    if not url.startswith(front + "/media/"):
        bad.append(f"{kind} {url}: not through /media/")
        continue
    got = urllib.request.urlopen(url, timeout=20).read()
    want = open(os.path.join(origin_dir, url.rsplit("!1", 1)[-1].split("/")[-1]), "rb").read()
    if got != want:
        bad.append(f"{kind} {url}: {len(got)} bytes, origin has {len(want)}")
if not urls:
    bad.append("no segment URLs in the rewritten MPD")
for b in bad:
    print("    " + b)
sys.exit(1 if bad else 0)
EOF
}
check e2e.segment_through_media "segment through /media/ differs from the origin's" segment_ok
# The project's end-to-end service checks, against the packaged stack.
if [ -f tests/e2e/test_service.py ] && [ -d tests/data/streams ]; then
  phase "end to end: tests/e2e/test_service.py against the package"
  DASHPIFF_FRONT_URL="$front" DASHPIFF_SERVICE_LOG="$work/service.log" relay $py scripts/package_e2e.py
else
  fail e2e.service_suite "tests/e2e/test_service.py or the fixtures in tests/data/streams are missing"
fi
if [ -n "${PACKAGE_TEST_E2E:-}" ]; then
  echo "package-test: running $PACKAGE_TEST_E2E against $front"
  DASHPIFF_FRONT_URL="$front" DASHPIFF_SERVICE_LOG="$work/service.log" bash -c "$PACKAGE_TEST_E2E"
  e2e_status=$?
  if [ "$e2e_status" -eq 0 ]; then pass e2e.external; else fail e2e.external "$PACKAGE_TEST_E2E exited $e2e_status"; fi
fi
logs_to_stderr() { [ -s "$work/service.log" ]; }
check service.logs_to_stderr "the service wrote nothing to stderr (journald)" logs_to_stderr

# ------------------------------------------------------------ the /player page
phase "the /player page in headless Chromium"
# The installed site's /player page (the package's own page and dash.js),
# pasted the bundled demo stream's origin manifest with its ClearKey, plays it
# through the installed service: judged by decoded video frames and by the
# page listing what dashpiff changed (tests/browser/driver.mjs).
streams_port=$(free_port)
$py -m http.server --bind 127.0.0.1 --directory "$top/tests/data" "$streams_port" >"$work/streams.log" 2>&1 </dev/null &
started_pids+=("$!")
streams_open() { (exec 3<>"/dev/tcp/127.0.0.1/$streams_port") 2>/dev/null; }
player_setup() {
  command -v chromium >/dev/null || { echo "    chromium is not installed (scripts/deps.sh browser)"; return 1; }
  command -v node >/dev/null || { echo "    node is not installed (scripts/deps.sh browser)"; return 1; }
  wait_until 10 streams_open || { echo "    the stream origin did not start"; return 1; }
  local here="$top/tests/browser" stamp="$top/tests/browser/node_modules/.dashpiff-lock"
  # The browser suite's locked CDP client; never a browser of Playwright's own.
  if ! cmp -s "$here/package-lock.json" "$stamp" 2>/dev/null; then
    (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
      { echo "    npm ci failed in tests/browser"; return 1; }
    cp "$here/package-lock.json" "$stamp"
  fi
}
play_player_page() {
  $py - "$work/player" "$front" "http://127.0.0.1:$streams_port/streams/cenc-piff/manifest.mpd" <<'EOF2'
import json, os, sys, urllib.parse
artifacts, front, mpd = sys.argv[1:4]
os.makedirs(artifacts, exist_ok=True)
# The fixed test key of tests/data/streams (README there).
query = urllib.parse.urlencode({"url": mpd, "kid": "00112233445566778899aabbccddeeff",
                                "key": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"})
plan = {"chromium": "/usr/bin/chromium", "artifacts": artifacts, "concurrency": 1,
        "play": {"target_time": 3.0, "target_frames": 60, "min_time": 1.0, "min_frames": 25,
                 "stall_ms": 15000, "cap_ms": 45000},
        "cases": [{"name": "player.installed_package.cenc-piff", "stream": "cenc-piff", "kind": "player-page",
                   "player": "dashjs", "path": "/player", "mode": "auto", "mpd": mpd,
                   "page": f"{front}/player?{query}", "expect": "play+changes", "probe": "player-page",
                   "min_time": 1.0}]}
json.dump(plan, open(os.path.join(artifacts, "plan.json"), "w"), indent=1)
EOF2
  (cd "$top/tests/browser" && node driver.mjs "$work/player/plan.json")
}
if player_setup; then
  relay play_player_page
else
  fail player.installed_package.cenc-piff "the player check could not be set up"
fi

# ------------------------------------------------------------------ upgrade
phase "upgrade"
# The same package under a higher version: dpkg must keep the changed conffile
# without asking (stdin is /dev/null, so a prompt fails the install).
rebuilt_deb() {  # suffix : the tested .deb as version+suffix; prints its path
  local tree="$work/rebuild-$1" version
  rm -rf "$tree"
  dpkg-deb -R "$deb" "$tree" || return 1
  version="$(dpkg-deb -f "$deb" Version)+$1"
  sed -i "s/^Version: .*/Version: $version/" "$tree/DEBIAN/control"
  mkdir -p "$work/$1"
  dpkg-deb -b --root-owner-group "$tree" "$work/$1/${pkg}_${version}_$(dpkg-deb -f "$deb" Architecture).deb" >/dev/null || return 1
  rm -rf "$tree"
  echo "$work/$1/${pkg}_${version}_$(dpkg-deb -f "$deb" Architecture).deb"
}
upgrade_keeps_conffile() {
  local version newdeb
  newdeb=$(rebuilt_deb pkgtest1) || return 1
  version=$(dpkg-deb -f "$newdeb" Version)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$newdeb" >"$work/upgrade.log" 2>&1 </dev/null ||
    { tail -20 "$work/upgrade.log" | sed 's/^/    /'; return 1; }
  [ "$(dpkg-query -W -f='${Version}' "$pkg")" = "$version" ] || { echo "    not upgraded"; return 1; }
  grep -qx 'allow-network = 127.0.0.0/8' "$conf" || { echo "    local change lost"; return 1; }
}
check upgrade.keeps_changed_conffile "upgrade lost or asked about the changed /etc/dashpiff/dashpiff.conf" upgrade_keeps_conffile

# --------------------------------------------------------------- CodeDeploy
phase "CodeDeploy"
# A deployment of the next version as the CodeDeploy agent runs it: the
# revision bundle (deploy/codedeploy/bundle.sh) unpacked, then ApplicationStop
# (drain and stop), BeforeInstall, the appspec's files copied, AfterInstall
# (apt-get install, --check-config), ApplicationStart (service and nginx),
# ValidateService (/healthz). systemd is not PID 1 here, so the hooks take
# their fallback: the unit's ExecStart as its user, as above. The private
# nginx and its port stand in for the instance's.
cd_dir="$work/codedeploy"
cd_env=(LIFECYCLE_EVENT= DEPLOYMENT_ID=d-PKGTEST APPLICATION_NAME=dashpiff DEPLOYMENT_GROUP_NAME=package-test
        DASHPIFF_NGINX_ARGS="${nginx_args[*]}" DASHPIFF_HEALTHZ_URL="$front/healthz"
        DASHPIFF_FALLBACK_LOG="$work/service.log")
bundle_ok() {
  local newdeb
  newdeb=$(rebuilt_deb pkgtest2) || return 1
  mkdir -p "$cd_dir/archive"
  deploy/codedeploy/bundle.sh "$newdeb" "$cd_dir/revision.tar.gz" >/dev/null || return 1
  tar -xzf "$cd_dir/revision.tar.gz" -C "$cd_dir/archive"
}
check codedeploy.bundle "deploy/codedeploy/bundle.sh did not make a revision" bundle_ok
# The appspec as the agent reads it: os linux, the five hooks in
# CodeDeploy's order, each an executable script of the bundle run as root.
$py - "$cd_dir/archive" >"$cd_dir/plan" <<'EOF2'
import os, sys, yaml
root = sys.argv[1]
spec = yaml.safe_load(open(os.path.join(root, "appspec.yml")))
problems = []
if spec.get("version") != 0.0 or spec.get("os") != "linux":
    problems.append(f"version/os: {spec.get('version')!r} {spec.get('os')!r}")
order = ["ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]
hooks = spec.get("hooks") or {}
if [h for h in hooks if h in order] != order:
    problems.append(f"hooks {list(hooks)}, want {order}")
for event in order:
    for h in hooks.get(event) or []:
        path = os.path.join(root, h["location"])
        if not os.access(path, os.X_OK) or h.get("runas", "root") != "root" or int(h.get("timeout", 3600)) > 3600:
            problems.append(f"{event}: {h}")
        print(f"hook {event} {path} {h.get('timeout', 3600)}")
for f in spec.get("files") or []:
    print(f"files {os.path.join(root, f['source'])} {f['destination']}")
for p in problems:
    print("problem " + p)
EOF2
appspec_ok() { ! grep '^problem ' "$cd_dir/plan" | sed 's/^problem /    /' | grep . ; }
check codedeploy.appspec "appspec.yml: wrong os, hook order, or a hook that is not an executable bundle script" appspec_ok
run_hook() {  # event : every script of the event, as the agent runs them
  local event=$1 script timeout
  while read -r _ _ script timeout; do
    (cd "$cd_dir/archive" && env "${cd_env[@]}" LIFECYCLE_EVENT="$event" timeout "$timeout" "$script") \
      >>"$cd_dir/$event.log" 2>&1 </dev/null || { sed 's/^/    /' "$cd_dir/$event.log" | tail -15; return 1; }
  done < <(grep "^hook $event " "$cd_dir/plan")
}
install_files() {  # the agent's Install step: the appspec's files section
  local src dest
  while read -r _ src dest; do
    mkdir -p "$dest" && cp -a "$src/." "$dest/" || return 1
  done < <(grep '^files ' "$cd_dir/plan")
}
gone() {  # exited (a zombie not yet reaped by this shell counts as exited)
  ! kill -0 "$main_pid" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$main_pid/stat" 2>/dev/null)" = Z ]
}
live_of_user() {  # processes of a user, exited ones not yet reaped (zombies) aside
  local p
  for p in $(pgrep -u "$1"); do
    [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] || ps -o pid=,args= -p "$p"
  done
}
old_pid=$main_pid
stopped_clean() {
  run_hook ApplicationStop || return 1
  gone || { echo "    main PID $old_pid still running"; return 1; }
  [ -z "$(live_of_user "$svc_user")" ] || { echo "    left: $(live_of_user "$svc_user")"; return 1; }
  grep -q "draining dashpiff" "$cd_dir/ApplicationStop.log"
}
check codedeploy.ApplicationStop "the hook did not drain and stop the service" stopped_clean
check codedeploy.BeforeInstall "the hook failed" run_hook BeforeInstall
check codedeploy.Install "the appspec's files could not be copied" install_files
after_install_ok() {
  run_hook AfterInstall || return 1
  [ "$(dpkg-query -W -f='${Version}' "$pkg")" = "$(dpkg-deb -f "$deb" Version)+pkgtest2" ] ||
    { echo "    installed: $(dpkg-query -W -f='${Version}' "$pkg")"; return 1; }
  grep -qx 'allow-network = 127.0.0.0/8' "$conf" || { echo "    local change lost"; return 1; }
}
check codedeploy.AfterInstall "the revision's .deb is not installed, or the conffile lost its change" after_install_ok
# A configuration the new binary rejects fails the deployment there, loudly.
refuses_broken_config() {
  printf 'workers = many\n' >>"$conf"
  if run_hook AfterInstall >/dev/null; then sed -i '/^workers = many$/d' "$conf"; echo "    AfterInstall passed"; return 1; fi
  sed -i '/^workers = many$/d' "$conf"
  grep -q "workers" "$cd_dir/AfterInstall.log"
}
check codedeploy.AfterInstall_refuses_broken_config "AfterInstall accepted a configuration --check-config rejects" refuses_broken_config
start_ok() {
  local nginx_before
  nginx_before=$(cat "$ng/nginx.pid")
  run_hook ApplicationStart || return 1
  main_pid=$(main_pid)
  [ -n "$main_pid" ] && [ "$main_pid" != "$old_pid" ] || { echo "    no new main PID"; return 1; }
  started_pids+=("$main_pid")
  [ "$(readlink "/proc/$main_pid/exe")" = /usr/sbin/dashpiff-fcgi ] &&
    [ "$(stat -c %U "/proc/$main_pid")" = "$svc_user" ] && [ "$(cat "$ng/nginx.pid")" = "$nginx_before" ] &&
    grep -q "reloading nginx" "$cd_dir/ApplicationStart.log"
}
check codedeploy.ApplicationStart "the service did not start as its unit says, or nginx did not reload" start_ok
check codedeploy.ValidateService "/healthz did not answer 200" run_hook ValidateService
check codedeploy.serves_after_deployment "the deployed service does not proxy the test origin" segment_ok

# -------------------------------------------------------------------- stop
phase "stop"
# KillMode=mixed: SIGTERM to the main process only; it drains and stops its
# workers. Anything left after TimeoutStopSec would get SIGKILL from systemd.
stop_secs=${stop_timeout%s}
kill -TERM "$main_pid"
if wait_until "${stop_secs:-90}" gone; then
  pass service.sigterm_stops_within_timeout
else
  fail service.sigterm_stops_within_timeout "still running ${stop_secs:-90} s after SIGTERM"
fi
no_orphans() {
  local left
  left=$(live_of_user "$svc_user")
  [ -z "$left" ] || { echo "    left behind: $left"; return 1; }
}
check service.no_orphans "processes of $svc_user outlived the main process" no_orphans
pkill_ours() { local p; for p in $(pgrep -u "$svc_user"); do kill -KILL "$p"; done; }
pkill_ours 2>/dev/null
rm -rf "$runtime_dir"   # systemd removes the RuntimeDirectory on stop
kill -QUIT "$nginx_pid" 2>/dev/null
wait_until 10 sh -c "! kill -0 $nginx_pid 2>/dev/null"

# ------------------------------------------------------- remove and purge
phase "remove and purge"
remove_ok() {
  DEBIAN_FRONTEND=noninteractive apt-get remove -y -q "$pkg" >"$work/remove.log" 2>&1 </dev/null ||
    { tail -20 "$work/remove.log" | sed 's/^/    /'; return 1; }
  [ ! -e /usr/sbin/dashpiff-fcgi ] || { echo "    binary left after remove"; return 1; }
  grep -qx 'allow-network = 127.0.0.0/8' "$conf" || { echo "    remove lost the configuration"; return 1; }
}
check remove.keeps_configuration "apt-get remove failed or did not keep /etc/dashpiff" remove_ok

purge_ok() {
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "$pkg" >"$work/purge.log" 2>&1 </dev/null ||
    { tail -20 "$work/purge.log" | sed 's/^/    /'; return 1; }
  ! dpkg -s "$pkg" >/dev/null 2>&1
}
if purge_ok; then pass purge; installed_by_us=0; else fail purge "apt-get purge failed"; fi

nothing_left() {
  local path left=""
  while IFS= read -r path; do
    [ "$path" = /. ] && continue
    [ -e "$path" ] || [ -L "$path" ] || continue
    # Still there because another package owns it too (/etc, /usr/bin, /lib).
    dpkg -S "$path" >/dev/null 2>&1 && continue
    left="$left $path"
  done <"$work/installed-files"
  for path in /etc/dashpiff /etc/nginx/sites-available/dashpiff /etc/nginx/sites-enabled/dashpiff \
              /etc/systemd/system/multi-user.target.wants/dashpiff.service \
              /var/lib/systemd/deb-systemd-helper-enabled/dashpiff.service.dsh-also \
              /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/dashpiff.service; do
    [ -e "$path" ] || [ -L "$path" ] && left="$left $path"
  done
  [ -z "$left" ] || { echo "    left:$left"; return 1; }
}
check purge.nothing_left "files the package installed or created are left after purge" nothing_left
if [ "$user_existed" = 0 ]; then
  check purge.user_removed "user dashpiff still exists after purge" sh -c '! getent passwd dashpiff >/dev/null'
  check purge.group_removed "group dashpiff still exists after purge" sh -c '! getent group dashpiff >/dev/null'
else
  echo "package-test: user dashpiff existed before the test; its removal is not checked"
fi

finish
