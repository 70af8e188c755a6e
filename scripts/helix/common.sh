# Shared settings for the Helix scripts; sourced, never run.
# Everything lives under $HELIX_HOME (default: .helix/ in the repo, ignored by git): the cached venv, uv and its cache.

HELIX_VERSION="${HELIX_VERSION:-0.8.1}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HELIX_HOME="${HELIX_HOME:-$REPO_ROOT/.helix}"
HELIX_VENV="$HELIX_HOME/venv-$HELIX_VERSION"
HELIX_TOOLS="$HELIX_HOME/tools"
HELIX_STAMP="$HELIX_VENV/.flywheel-installed"

log() { printf '[helix %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# A Python 3.12 interpreter: python3.12 on PATH, else one that pyenv has installed.
find_python312() {
    local candidate
    if command -v python3.12 >/dev/null 2>&1 && python3.12 -c 'import sys' >/dev/null 2>&1; then
        command -v python3.12
        return 0
    fi
    if command -v pyenv >/dev/null 2>&1; then
        for candidate in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$' | sort -V -r); do
            if [ -x "$(pyenv root)/versions/$candidate/bin/python3.12" ]; then
                echo "$(pyenv root)/versions/$candidate/bin/python3.12"
                return 0
            fi
        done
    fi
    return 1
}

# The environment the Helix server and its job subprocesses run in: every file under $1, no telemetry, no network.
helix_env() {
    local root="$1"
    mkdir -p "$root/home/.config" "$root/home/.local/share" "$root/home/.cache" "$root/home/.local/state" "$root/data" "$root/jobs"
    export HOME="$root/home"
    export XDG_CONFIG_HOME="$root/home/.config" XDG_DATA_HOME="$root/home/.local/share"
    export XDG_CACHE_HOME="$root/home/.cache" XDG_STATE_HOME="$root/home/.local/state"
    export NHX_DATA_DIR="$root/data"
    export NEMO_TELEMETRY_ENABLED=false DO_NOT_TRACK=1
    # LiteLLM fetches its model cost map from the internet on import unless told to use the bundled copy.
    export LITELLM_LOCAL_MODEL_COST_MAP=True
    export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    export NO_PROXY='*' no_proxy='*'
    unset HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy
}
