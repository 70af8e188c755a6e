"""Running `flywheel run` for real: a sandbox server in the test process, flywheel as a subprocess or in-process,
and read-only looks at the state file while the run goes on."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flywheel_cli.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[2]
LOGS = REPO / "examples" / "logs.jsonl"
WORKLOAD = "tool_router"
NIM_1B = "meta/llama-3.2-1b-instruct"
NIM_8B = "meta/llama-3.1-8b-instruct"
EXPERIMENTS = ("base", "icl", "customized")
NIM_STAGES = ("deploy", "base", "icl", "customize", "customized", "teardown")
REMOTE_JOBS = ("deployment", "customization", "evaluation")

# Small splits and quick polling: a 2-NIM run takes about 2 s at sandbox speed 1000.
FAST_ENV = {
    "FLYWHEEL_SPLIT__EVAL_SIZE": "20",
    "FLYWHEEL_SPLIT__LIMIT": "200",
    "FLYWHEEL_TIMEOUTS__POLL_INTERVAL": "0.02",
    "FLYWHEEL_TIMEOUTS__MAX_POLL_INTERVAL": "0.2",
}


def write_config(path: Path, nims: Sequence[tuple[str, str]]) -> Path:
    """A config with these (model, image tag) [[nims]]; tag "fail" makes the sandbox fail that deployment."""
    blocks = []
    for model, tag in nims:
        blocks.append(
            f'[[nims]]\nmodel_name = "{model}"\ntag = "{tag}"\n'
            f'[nims.customization]\nenabled = true\ntarget = "{model}@2.0"\n'
        )
    path.write_text("\n".join(blocks))
    return path


def sandbox_env(sb: Sandbox) -> dict[str, str]:
    return {
        "FLYWHEEL_NMP__NEMO_URL": sb.url,
        "FLYWHEEL_NMP__DATASTORE_URL": sb.url,
        "FLYWHEEL_NMP__NIM_URL": sb.nim_url,
        **FAST_ENV,
    }


@dataclass
class Flywheel:
    """One state file and config; commands run as `python -m flywheel_cli` subprocesses."""

    state: Path
    config: Path
    env: dict[str, str] = field(default_factory=dict)

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "flywheel_cli", "--state", str(self.state), "--config", str(self.config), *args]

    def _env(self, extra: dict[str, str] | None) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("FLYWHEEL_")}
        return {**base, "NO_COLOR": "1", "COLUMNS": "200", **self.env, **(extra or {})}

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), env=self._env(env), capture_output=True, text=True, timeout=timeout, cwd=self.state.parent)

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args), env=self._env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.state.parent
        )

    def json(self, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        done = self.run("--json", *args, env=env)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


def run_args(*extra: str) -> list[str]:
    return ["run", "--workload", WORKLOAD, "--logs", str(LOGS), *extra]


# -- looking at the state file while a run writes it ----------------------------------------------------------------
def query(state: Path, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
    if not state.exists():
        return []
    conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=5)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # the tables are not created yet
        return []
    finally:
        conn.close()


def wait_until(what: str, check: Callable[[], Any], proc: subprocess.Popen[str] | None = None, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"flywheel exited ({proc.returncode}) before {what}: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def remote_job_running(state: Path, nim: str, stage: str) -> sqlite3.Row | None:
    """The step's remote job once the platform answered its create and reported it running."""
    rows = query(
        state,
        "SELECT j.* FROM steps s JOIN jobs j ON j.id = s.job_id"
        " WHERE s.nim = ? AND s.stage = ? AND s.status = 'running' AND j.remote_id IS NOT NULL AND j.status = 'running'",
        (nim, stage),
    )
    return rows[0] if rows else None


def kill(proc: subprocess.Popen[str], sig: int = signal.SIGKILL, timeout: float = 30) -> tuple[int, str]:
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


# -- what the sandbox saw ------------------------------------------------------------------------------------------
def creates(sb: Sandbox) -> Counter[str]:
    """Remote jobs created (a POST the sandbox answered with a new resource), by kind."""
    return Counter(e["created"]["kind"] for e in sb.request_log() if e["created"] and e["created"]["kind"] in REMOTE_JOBS)


def created_ids(sb: Sandbox, kind: str) -> list[str]:
    return [e["created"]["id"] for e in sb.request_log() if e["created"] and e["created"]["kind"] == kind]


def scores_by_experiment(report: dict[str, Any], metric: str = "function_name_accuracy") -> dict[tuple[str, str], float]:
    """(NIM, experiment) → normalised score, from `report --format json`."""
    out = {}
    for row in report["scores"]:
        if row["metric"] == metric:
            out[(row["nim"], row["experiment"])] = row["value"]
    return out
