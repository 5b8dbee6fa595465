# Shared by the CodeDeploy hooks (sourced, not run): the dashpiff service and
# nginx, driven through systemd when systemd runs the machine, and otherwise
# the way the installed unit says (containers, chroots, CI machines where
# systemd is not PID 1 and `systemctl start` cannot work).
#
# Environment (all optional; the defaults are an instance built from
# docs/aws/dashpiff.yaml):
#   DASHPIFF_UNIT           unit file read in the fallback (default: the packaged one)
#   DASHPIFF_HEALTHZ_URL    default http://127.0.0.1/healthz (the packaged site)
#   DASHPIFF_NGINX_ARGS     extra nginx arguments (-p/-c of a private nginx)
#   DASHPIFF_FALLBACK_LOG   the service's stderr in the fallback (default /var/log/dashpiff.log)

UNIT_NAME=dashpiff.service
UNIT_FILE=${DASHPIFF_UNIT:-/lib/systemd/system/dashpiff.service}
FALLBACK_PID_FILE=/run/dashpiff.fallback.pid
HEALTHZ_URL=${DASHPIFF_HEALTHZ_URL:-http://127.0.0.1/healthz}
read -ra NGINX_ARGS <<<"${DASHPIFF_NGINX_ARGS:-}"

say() { echo "dashpiff-deploy[${LIFECYCLE_EVENT:-manual}]: $*"; }
die() { say "error: $*" >&2; exit 1; }

# sd_booted(3): systemd manages this machine when /run/systemd/system exists.
have_systemd() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

installed() { dpkg-query -W -f='${Status}' dashpiff 2>/dev/null | grep -q "install ok installed"; }

unit_key() {  # key : the last assignment in the unit file, as systemd reads it
  sed -n "s/^$1=//p" "$UNIT_FILE" | tail -1
}

# The service's main PID (the dashpiff-fcgi supervisor spawn-fcgi -n became),
# or nothing when it is not running.
main_pid() {
  local pid
  if have_systemd; then
    pid=$(systemctl show -p MainPID --value "$UNIT_NAME" 2>/dev/null)
    [ -n "$pid" ] && [ "$pid" != 0 ] && echo "$pid"
    return 0
  fi
  # Started by hand (this file or a test): the supervisor is the
  # dashpiff-fcgi of the unit's user whose parent is not one.
  if [ -s "$FALLBACK_PID_FILE" ]; then
    pid=$(cat "$FALLBACK_PID_FILE")
    if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = /usr/sbin/dashpiff-fcgi ]; then
      echo "$pid"
      return 0
    fi
  fi
  for pid in $(pgrep -u "$(unit_key User)" -x dashpiff-fcgi); do
    # An exited supervisor its parent has not reaped yet is not running.
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && continue
    [ "$(cat "/proc/$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null)/comm" 2>/dev/null)" = dashpiff-fcgi ] && continue
    echo "$pid"
    return 0
  done
}

running() { [ -n "$(main_pid)" ]; }

wait_for() {  # seconds command... : polls every 0.2 s
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

# Starts the unit's ExecStart as systemd would: its User and Group with the
# user's supplementary groups, no capabilities and no new privileges, its
# UMask, a fresh RuntimeDirectory, a clean environment, detached. Prints
# the main PID. (The sandbox directives need systemd; this is the fallback.)
start_without_systemd() {
  local exec_start user group runtime mode umask_ socket pid
  exec_start=$(unit_key ExecStart)
  user=$(unit_key User); group=$(unit_key Group)
  runtime=$(unit_key RuntimeDirectory); mode=$(unit_key RuntimeDirectoryMode)
  umask_=$(unit_key UMask)
  case "$exec_start" in *\"*|*\'*|*\\*) die "ExecStart uses quoting this fallback does not parse" ;; esac
  exec_start=${exec_start#[-@+!:]}
  local -a words
  read -ra words <<<"$exec_start"
  socket=$(echo "$exec_start" | sed -n 's/.* -s \([^ ]*\).*/\1/p')
  if [ -n "$runtime" ]; then
    rm -rf "/run/$runtime"
    install -d -o "$user" -g "$group" -m "${mode:-0755}" "/run/$runtime"
  fi
  (
    umask "${umask_:-0022}"
    exec setsid setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
      --inh-caps=-all --bounding-set=-all \
      env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
      "${words[@]}"
  ) >>"${DASHPIFF_FALLBACK_LOG:-/var/log/dashpiff.log}" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$FALLBACK_PID_FILE"
  # spawn-fcgi binds the socket, then execs dashpiff-fcgi in place.
  wait_for 10 test -S "$socket" || return 1
  wait_for 5 sh -c "[ \"\$(readlink /proc/$pid/exe)\" = /usr/sbin/dashpiff-fcgi ]" || return 1
  echo "$pid"
}

service_start() {
  if have_systemd; then
    systemctl start "$UNIT_NAME"
  else
    say "systemd is not running this machine: starting $UNIT_NAME as its unit says"
    start_without_systemd >/dev/null
  fi
}

# `systemctl reload`: every ExecReload, $MAINPID filled in, as the unit's user.
service_reload() {
  if have_systemd; then
    systemctl reload "$UNIT_NAME"
    return
  fi
  local pid cmd user group
  pid=$(main_pid); user=$(unit_key User); group=$(unit_key Group)
  [ -n "$pid" ] || return 1
  while IFS= read -r cmd; do
    cmd=${cmd#[-@+!:]}
    cmd=${cmd//\$MAINPID/$pid}
    cmd=${cmd//\$\{MAINPID\}/$pid}
    # shellcheck disable=SC2086  # ExecReload words, as systemd splits them
    setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs $cmd || return 1
  done < <(sed -n 's/^ExecReload=//p' "$UNIT_FILE")
}

# `systemctl stop` with KillMode=mixed: SIGTERM to the main process (the pool
# drains: it stops accepting, in-flight requests finish, up to
# shutdown-deadline), SIGKILL to whatever of the unit's user is left after
# TimeoutStopSec.
service_stop() {
  if have_systemd; then
    systemctl stop "$UNIT_NAME"
    return
  fi
  local pid user timeout runtime p
  pid=$(main_pid); user=$(unit_key User); runtime=$(unit_key RuntimeDirectory)
  timeout=$(unit_key TimeoutStopSec); timeout=${timeout%s}
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null
    if ! wait_for "${timeout:-90}" sh -c "! kill -0 $pid 2>/dev/null || grep -q '^State:.*Z' /proc/$pid/status"; then
      say "still running ${timeout:-90} s after SIGTERM: SIGKILL"
    fi
  fi
  for p in $(pgrep -u "$user" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  [ -n "$runtime" ] && rm -rf "/run/$runtime"
  rm -f "$FALLBACK_PID_FILE"
  return 0
}

nginx_running() {
  if have_systemd && [ ${#NGINX_ARGS[@]} -eq 0 ]; then
    systemctl is-active --quiet nginx
  else
    # The pid file nginx -t names is the configuration's own.
    local pidfile
    pidfile=$(nginx "${NGINX_ARGS[@]}" -T 2>/dev/null | sed -n 's/^[[:space:]]*pid[[:space:]]\+\([^;]*\);.*/\1/p' | head -1)
    [ -n "$pidfile" ] || pidfile=/run/nginx.pid
    [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
  fi
}

nginx_reload() {
  nginx "${NGINX_ARGS[@]}" -t -q || return 1
  if have_systemd && [ ${#NGINX_ARGS[@]} -eq 0 ]; then
    systemctl reload-or-restart nginx
  elif nginx_running; then
    nginx "${NGINX_ARGS[@]}" -s reload
  else
    nginx "${NGINX_ARGS[@]}"
  fi
}
