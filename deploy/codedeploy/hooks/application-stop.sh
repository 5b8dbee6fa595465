#!/usr/bin/env bash
# CodeDeploy ApplicationStop: drain, then stop. SIGTERM makes the pool stop
# accepting (nginx answers /healthz with 503 at once), finish the requests in
# flight (up to shutdown-deadline) and exit; only what outlives the unit's
# TimeoutStopSec is killed. A first deployment finds nothing to stop.
set -euo pipefail
. "$(dirname "$0")/service.sh"

if ! installed; then
  say "dashpiff is not installed: nothing to stop"
  exit 0
fi
pid=$(main_pid)
if [ -z "$pid" ]; then
  say "dashpiff is not running"
  exit 0
fi
say "draining dashpiff (main PID $pid)"
started=$(date +%s)
service_stop
running && die "dashpiff is still running"
say "stopped after $(( $(date +%s) - started )) s"
