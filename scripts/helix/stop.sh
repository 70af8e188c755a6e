#!/usr/bin/env bash
# Stop the Helix server that scripts/helix/start.sh RUN_DIR started (its whole process group), by its recorded PID.
set -euo pipefail
source "$(dirname "$0")/common.sh"

RUN_DIR="${1:?usage: stop.sh RUN_DIR}"
PID_FILE="$RUN_DIR/helix.pid"
[ -f "$PID_FILE" ] || exit 0
PID="$(cat "$PID_FILE")"
if kill -0 "$PID" 2>/dev/null; then
    kill -TERM -- "-$PID" 2>/dev/null || kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 60); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.25
    done
    if kill -0 "$PID" 2>/dev/null; then
        log "pid $PID did not stop on TERM within 15 s; killing it"
        kill -KILL -- "-$PID" 2>/dev/null || kill -KILL "$PID" 2>/dev/null || true
    fi
fi
# Job subprocesses left in the group (none are expected) go too.
kill -KILL -- "-$PID" 2>/dev/null || true
rm -f "$PID_FILE"
log "stopped Helix (pid $PID)"
