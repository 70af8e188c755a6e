#!/usr/bin/env bash
# Start a local NeMo Helix on loopback with every file under RUN_DIR; print its URL when it is ready.
#   scripts/helix/start.sh RUN_DIR [PORT]      (PORT 0 or unset: a free one)
# The server runs in its own process group; its PID is in RUN_DIR/helix.pid and scripts/helix/stop.sh RUN_DIR
# stops it. Extra services (e.g. HELIX_EXTRA_SERVICES=customization,deployments) can be added for exploration.
set -euo pipefail
source "$(dirname "$0")/common.sh"

RUN_DIR="${1:?usage: start.sh RUN_DIR [PORT]}"
PORT="${2:-0}"
READY_TIMEOUT="${HELIX_READY_TIMEOUT:-240}"
[ -f "$HELIX_STAMP" ] || die "nemo-helix is not installed; run scripts/helix/install.sh first"
mkdir -p "$RUN_DIR/logs"
RUN_DIR="$(cd "$RUN_DIR" && pwd)"
if [ -f "$RUN_DIR/helix.pid" ] && kill -0 "$(cat "$RUN_DIR/helix.pid")" 2>/dev/null; then
    die "a Helix server from $RUN_DIR is still running (pid $(cat "$RUN_DIR/helix.pid"))"
fi
if [ "$PORT" = "0" ]; then
    PORT="$("$HELIX_VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
fi
URL="http://127.0.0.1:$PORT"

# The bundled local config, trimmed to what runs without Docker or GPUs: subprocess jobs whose working directory
# is inside RUN_DIR (the bundled default is a shared /tmp folder), no Docker executors, no deployments backend.
cat > "$RUN_DIR/config.yaml" <<YAML
platform:
  runtime: "none"
  base_url: "$URL"
service: {}
auth:
  enabled: false
  allow_unsigned_jwt: true
  policy_decision_point_provider: embedded
  policy_decision_point_base_url: "$URL"
  policy_data_refresh_interval: 2
  bundle_cache_seconds: 15
  admin_email: "admin@example.com"
entities: {}
jobs:
  executors:
    - provider: subprocess
      profile: default
      backend: subprocess
      config:
        working_directory: "$RUN_DIR/jobs"
        cleanup_completed_jobs_immediately: false
        ttl_seconds_before_active: 60
        ttl_seconds_active: 3600
        ttl_seconds_after_finished: 300
  executor_defaults:
    subprocess:
      working_directory: "$RUN_DIR/jobs"
      cleanup_completed_jobs_immediately: false
      ttl_seconds_before_active: 60
      ttl_seconds_active: 3600
      ttl_seconds_after_finished: 300
models:
  controller:
    interval_seconds: 5
    model_deployment_garbage_collection_ttl_seconds: 30
    backends:
      deployments_plugin:
        enabled: false
inference_gateway: {}
secrets:
  allow_key_creation: true
files:
  default_storage_config:
    type: local
    path: ""
YAML

SERVICES="auth,entities,models,files,inference-gateway,jobs,secrets,evals${HELIX_EXTRA_SERVICES:+,$HELIX_EXTRA_SERVICES}"
(
    helix_env "$RUN_DIR"
    cd "$RUN_DIR"
    # setsid: the server and the job subprocesses it spawns form one process group that stop.sh ends together.
    exec setsid "$HELIX_VENV/bin/nemo" services run --config "$RUN_DIR/config.yaml" --host 127.0.0.1 --port "$PORT" \
        --services "$SERVICES" --controllers jobs,models,entities
) >"$RUN_DIR/logs/services.log" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$RUN_DIR/helix.pid"
echo "$URL" >"$RUN_DIR/helix.url"
log "started nemo services run (pid $PID) on $URL; log: $RUN_DIR/logs/services.log"

started=$SECONDS
until curl -fsS --noproxy '*' -o /dev/null "$URL/health/ready" 2>/dev/null; do
    if ! kill -0 "$PID" 2>/dev/null; then
        tail -n 40 "$RUN_DIR/logs/services.log" >&2 || true
        die "the Helix server exited during start-up (see $RUN_DIR/logs/services.log)"
    fi
    if [ $((SECONDS - started)) -ge "$READY_TIMEOUT" ]; then
        tail -n 40 "$RUN_DIR/logs/services.log" >&2 || true
        die "the Helix server was not ready after ${READY_TIMEOUT} s"
    fi
    sleep 0.5
done
log "ready after $((SECONDS - started)) s"
echo "$URL"
