#!/usr/bin/env bash
# Integration tests against a real, local NeMo Helix (CPU only, loopback only). From a fresh clone:
#   1. install nemo-helix[all]==$HELIX_VERSION into .helix/ (once; reused afterwards)
#   2. start `nemo services run` on 127.0.0.1 with every file in a temp folder
#   3. pytest tests/helix with FLYWHEEL_HELIX_URL set: unit tests + the live ones (sandbox models as a provider,
#      base/icl evaluations whose scores must equal the simulated answers, GPU stages refused clearly)
#   4. `flywheel run --workload tool_router` on Helix against a `flywheel sandbox serve` provider, checked by
#      scripts/helix/check_run.py, and its results table
# Every process started here is stopped by PID on exit. Set HELIX_KEEP=1 to keep the temp folder (logs).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"

T0=$SECONDS
PY="$REPO_ROOT/.venv/bin/python"
FLYWHEEL="$REPO_ROOT/.venv/bin/flywheel"
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/flywheel-helix.XXXXXX")"
SANDBOX_PID=""
declare -a TIMES=()

phase() { TIMES+=("$(printf '%-34s %4d s' "$1" "$2")"); }

cleanup() {
    local rc=$?
    set +e
    if [ -n "$SANDBOX_PID" ] && kill -0 "$SANDBOX_PID" 2>/dev/null; then
        kill -TERM "$SANDBOX_PID" 2>/dev/null
        wait "$SANDBOX_PID" 2>/dev/null
        log "stopped the sandbox (pid $SANDBOX_PID)"
    fi
    bash "$REPO_ROOT/scripts/helix/stop.sh" "$RUN_DIR"
    if [ "$rc" -ne 0 ] || [ "${HELIX_KEEP:-0}" = "1" ]; then
        log "kept $RUN_DIR (server log: $RUN_DIR/logs/services.log)"
    else
        rm -rf "$RUN_DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for var in $(env | grep -o '^FLYWHEEL_[A-Z_]*' || true); do unset "$var"; done
export NO_COLOR=1 COLUMNS=160

if [ ! -x "$PY" ]; then
    log "no .venv yet: make install"
    make -C "$REPO_ROOT" install
fi

started=$SECONDS
bash "$REPO_ROOT/scripts/helix/install.sh"
phase "install (cached after the first)" $((SECONDS - started))

started=$SECONDS
HELIX_URL="$(HELIX_EXTRA_SERVICES="${HELIX_EXTRA_SERVICES-customization,deployments}" \
    bash "$REPO_ROOT/scripts/helix/start.sh" "$RUN_DIR" 0)"
phase "start Helix $HELIX_VERSION" $((SECONDS - started))
log "Helix $(curl -fsS --noproxy '*' "$HELIX_URL/cluster-info") at $HELIX_URL"

# --- pytest: unit tests and the live tests ----------------------------------------------------------------------
started=$SECONDS
FLYWHEEL_HELIX_URL="$HELIX_URL" "$PY" -m pytest tests/helix -v -s -p no:cacheprovider
phase "pytest tests/helix" $((SECONDS - started))

# --- the CLI: flywheel run on Helix ------------------------------------------------------------------------------
started=$SECONDS
CLI="$RUN_DIR/cli"
mkdir -p "$CLI"
SANDBOX_PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT"
"$FLYWHEEL" sandbox serve --port "$SANDBOX_PORT" --speed 1000 >"$RUN_DIR/logs/sandbox.log" 2>&1 &
SANDBOX_PID=$!
until curl -fsS --noproxy '*' -o /dev/null "$SANDBOX_URL/_sandbox/info" 2>/dev/null; do
    kill -0 "$SANDBOX_PID" 2>/dev/null || die "the sandbox exited (see $RUN_DIR/logs/sandbox.log)"
    sleep 0.2
done
log "sandbox (pid $SANDBOX_PID) at $SANDBOX_URL"

NIMS=(meta/llama-3.2-1b-instruct meta/llama-3.2-3b-instruct)
cat >"$CLI/flywheel.toml" <<TOML
[platform]
kind = "helix"
base_url = "$HELIX_URL"
workspace = "flywheel-cli"

[[nims]]
model_name = "${NIMS[0]}"

[[nims]]
model_name = "${NIMS[1]}"

[timeouts]
poll_interval = 1.0
max_poll_interval = 3.0
TOML
fw() { "$FLYWHEEL" --state "$CLI/state.db" --config "$CLI/flywheel.toml" "$@"; }
fw ingest examples/logs.jsonl >/dev/null
DATASET="$(fw --json datasets build --workload tool_router | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
log "dataset $DATASET"

# The sandbox serves the candidate NIMs once deployed through its NMP API, and learns the logged answers from the
# datasets uploaded to it; Helix then reaches those simulated models through a provider.
(
    export FLYWHEEL_PLATFORM__KIND=nmp FLYWHEEL_NMP__NEMO_URL="$SANDBOX_URL" FLYWHEEL_NMP__DATASTORE_URL="$SANDBOX_URL" \
        FLYWHEEL_NMP__NIM_URL="$SANDBOX_URL/nim" FLYWHEEL_TIMEOUTS__POLL_INTERVAL=0.1 FLYWHEEL_TIMEOUTS__MAX_POLL_INTERVAL=0.5
    fw datasets upload "$DATASET" >/dev/null
    for nim in "${NIMS[@]}"; do fw deploy up "$nim" >/dev/null; done
)
"$PY" scripts/helix/register_provider.py --base-url "$HELIX_URL" --workspace flywheel-cli --name flywheel-sandbox \
    --host-url "$SANDBOX_URL/nim/v1" --model "${NIMS[0]}" --model "${NIMS[1]}"

log "flywheel --platform helix run --workload tool_router"
set +e
fw --platform helix --json run --workload tool_router --max-parallel-nims 2 >"$CLI/report.json" 2>"$CLI/run.err"
RUN_RC=$?
set -e
sed 's/^/  run: /' "$CLI/run.err" >&2
# Customization needs GPUs: on a CPU-only Helix the run skips it (and the customized evaluation) and completes.
[ "$RUN_RC" -eq 0 ] || die "flywheel run exited $RUN_RC; expected 0 (see $CLI/run.err)"
"$PY" scripts/helix/check_run.py "$CLI/report.json" --state "$CLI/state.db" --nim-url "$SANDBOX_URL/nim"
fw report
phase "flywheel run on Helix (2 NIMs)" $((SECONDS - started))

printf '\nHelix %s integration: passed\n' "$HELIX_VERSION"
printf '  %s\n' "${TIMES[@]}"
printf '  %-34s %4d s\n' "total" $((SECONDS - T0))
