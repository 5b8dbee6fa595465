#!/usr/bin/env bash
# CodeDeploy ApplicationStart: the service runs the new binary (started, or
# reloaded when the package's postinst already restarted it), and nginx
# reloads the site after `nginx -t`.
set -euo pipefail
. "$(dirname "$0")/service.sh"

if running; then
  say "reloading dashpiff (main PID $(main_pid))"
  service_reload || die "reload failed"
else
  say "starting dashpiff"
  service_start || die "dashpiff did not start"
fi
say "reloading nginx"
nginx_reload || die "nginx -t failed or nginx did not reload"
