#!/usr/bin/env bash
# Install nemo-helix[all]==$HELIX_VERSION into its own Python 3.12 venv under .helix/ (once; later calls reuse it).
# uv does the install (seconds instead of minutes with pip); it lives in a small tool venv next to it.
set -euo pipefail
source "$(dirname "$0")/common.sh"

if [ -f "$HELIX_STAMP" ] && "$HELIX_VENV/bin/nemo" --help >/dev/null 2>&1; then
    log "nemo-helix $HELIX_VERSION already installed in $HELIX_VENV"
    exit 0
fi

PY312="$(find_python312)" || die "Python 3.12 is needed (python3.12 on PATH or installed by pyenv)"
log "Python 3.12: $PY312"
mkdir -p "$HELIX_HOME"
export UV_CACHE_DIR="$HELIX_HOME/uv-cache" UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1
export PIP_CACHE_DIR="$HELIX_HOME/pip-cache"

if [ ! -x "$HELIX_TOOLS/bin/uv" ]; then
    log "installing uv into $HELIX_TOOLS"
    "$PY312" -m venv "$HELIX_TOOLS"
    "$HELIX_TOOLS/bin/python" -m pip install --quiet uv
fi

started=$SECONDS
rm -rf "$HELIX_VENV"
"$HELIX_TOOLS/bin/uv" venv --quiet --python "$PY312" "$HELIX_VENV"
# Bytecode costs ~30 s once; without it every server start and every evaluation job subprocess recompiles
# thousands of modules (PYTHONDONTWRITEBYTECODE keeps them from being cached later).
"$HELIX_TOOLS/bin/uv" pip install --quiet --compile-bytecode --python "$HELIX_VENV/bin/python" \
    "nemo-helix[all]==$HELIX_VERSION"
"$HELIX_VENV/bin/nemo" --help >/dev/null
touch "$HELIX_STAMP"
log "installed nemo-helix $HELIX_VERSION in $((SECONDS - started)) s ($(du -sh "$HELIX_VENV" | cut -f1))"
