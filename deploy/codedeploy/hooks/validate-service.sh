#!/usr/bin/env bash
# CodeDeploy ValidateService: /healthz through nginx, as the load balancer
# asks it, must answer 200 within a minute.
set -euo pipefail
. "$(dirname "$0")/service.sh"

status=""
for _ in $(seq 300); do
  status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$HEALTHZ_URL" || true)
  [ "$status" = 200 ] && { say "$HEALTHZ_URL: 200"; exit 0; }
  sleep 0.2
done
die "$HEALTHZ_URL answered ${status:-nothing} for a minute"
