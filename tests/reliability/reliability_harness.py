"""What every reliability scenario shares: flywheel as a real subprocess, an in-process sandbox to point it at, and
the checks that read the sandbox's side of the story (request log, live resources) and the state file (read-only).

flywheel runs as `python -m flywheel_cli`, so a kill -9 hits a real process with its own SQLite connection, HTTP
clients and threads; the sandbox stays in the test process, where its fault injector can be changed between phases.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from flywheel_cli.sandbox import Sandbox
from flywheel_cli.sandbox.api import Response
from flywheel_cli.sandbox.faults import FAULT_MODES, FaultInjector

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "logs.jsonl"
CONFIG = REPO / "configs" / "flywheel.toml"
WORKLOAD = "tool_router"
MODEL_SEED = 42  # the sandbox's simulated models; faults get their own seed (see `set_faults`)
TRACEBACK = "Traceback (most recent call last)"
FILLER_RECORDS = 60_000  # enough for `ingest` to last about a second: long enough to be killed in

# Every secret env var flywheel reads (names as configs/flywheel.toml sets them).
SECRET_ENV = (
    "LLM_JUDGE_API_KEY",
    "NMP_TOKEN",
    "HF_TOKEN",
    "NIM_TOKEN",
    "EMB_API_KEY",
    "ES_API_KEY",
    "ES_USERNAME",
    "ES_PASSWORD",
    "NEMO_PLATFORM_TOKEN",
)


def configured_nims(count: int) -> list[dict[str, Any]]:
    """The first `count` [[nims]] entries of the bundled config, as flywheel reads them."""
    nims = tomllib.loads(CONFIG.read_text(encoding="utf-8"))["nims"]
    assert len(nims) >= count
    return nims[:count]


class WatchedSandbox(Sandbox):
    """The sandbox with hooks for tests: it remembers every Authorization header it was sent (so a test can tell that
    a token really travelled); it can hold back the answer to one chosen request after applying it (the moment when
    a client that dies loses track of what it created); and it can fail chosen requests before applying them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.authorizations: set[str] = set()
        self.held = threading.Event()
        self._hold: tuple[str, str, bytes, float] | None = None
        self._release = threading.Event()
        self._failures: list[list[Any]] = []  # [method, path prefix, times left, status]
        self._hook_lock = threading.Lock()

    def hold(self, method: str, path_prefix: str, *, body_contains: bytes = b"", seconds: float = 60.0) -> None:
        """Apply the next successful matching request, then keep its answer back until `release()` (or `seconds`)."""
        self.held.clear()
        self._release.clear()
        self._hold = (method, path_prefix, body_contains, seconds)

    def release(self) -> None:
        self._hold = None
        self._release.set()

    def fail(self, method: str, path_prefix: str, times: int, status: int = 503) -> None:
        """Answer the next `times` matching requests with HTTP `status` without applying them."""
        with self._hook_lock:
            self._failures.append([method, path_prefix, times, status])

    def stop_failing(self) -> None:
        with self._hook_lock:
            self._failures.clear()

    def handle(self, handler: Any, method: str, raw_path: str, body: bytes) -> None:
        auth = handler.headers.get("Authorization")
        with self._hook_lock:
            if auth:
                self.authorizations.add(auth)
            failure = next((f for f in self._failures if f[2] > 0 and f[0] == method and raw_path.startswith(f[1])), None)
            if failure is not None:
                failure[2] -= 1
        if failure is not None:
            handler.send(Response(failure[3], {"detail": "test fault"}))
            return
        super().handle(handler, method, raw_path, body)

    def _dispatch(self, request: Any, control: bool) -> Any:
        response = super()._dispatch(request, control)
        hold = self._hold
        if (
            hold is not None
            and request.method == hold[0]
            and request.path.startswith(hold[1])
            and hold[2] in request.body
            and 200 <= response.status < 300
        ):
            with self._hook_lock:
                if self._hold is not hold:
                    return response
                self._hold = None
            self.held.set()
            self._release.wait(hold[3])
        return response


@contextmanager
def sandbox(speed: float, *, seed: int = MODEL_SEED) -> Iterator[WatchedSandbox]:
    with WatchedSandbox(port=0, speed=speed, seed=seed) as sb:
        yield sb


# With faults on, flywheel's HTTP timeout is cut to this (FLYWHEEL_NMP__TIMEOUT_SECONDS), so that a "timeout" fault
# (a hang of `hang` seconds, see `set_faults`) really times the client out; "slow" answers stay under it.
FAULT_CLIENT_TIMEOUT = {"FLYWHEEL_NMP__TIMEOUT_SECONDS": "0.3"}


def set_faults(sb: Sandbox, rate: float, seed: int, *, hang: float = 0.4, slow: float = 0.1) -> None:
    """Change the sandbox's faults in place (its models keep their seed): every mode, on every endpoint.
    Run flywheel with `FAULT_CLIENT_TIMEOUT` in its environment."""
    sb.faults = FaultInjector(rate, seed, hang, slow, FAULT_MODES)


@dataclass(repr=False)
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def json(self) -> dict[str, Any]:
        return orjson.loads(self.stdout)

    def __repr__(self) -> str:  # what an assertion message shows: the error first, pytest cuts long messages
        return (f"flywheel {' '.join(self.args)} → exit {self.returncode}\n--- stderr\n{self.stderr[-2500:]}"
                f"\n--- stdout\n{self.stdout[-500:]}")


class Flywheel:
    """flywheel as a subprocess on one state file, pointed at one sandbox."""

    def __init__(
        self,
        workdir: Path,
        sb: Sandbox | None,
        *,
        nims: int = 1,
        env: dict[str, str] | None = None,
        config: Path | None = CONFIG,
    ) -> None:
        self.workdir = workdir
        self.state = workdir / ".flywheel" / "state.db"
        self.sb = sb
        self.config = config
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("FLYWHEEL_") and k not in SECRET_ENV}
        self._env.update(
            NO_COLOR="1",
            COLUMNS="200",
            PYTHONUNBUFFERED="1",
            FLYWHEEL_NIMS=orjson.dumps(configured_nims(nims)).decode(),
            FLYWHEEL_TIMEOUTS__POLL_INTERVAL="0.02",
            FLYWHEEL_TIMEOUTS__MAX_POLL_INTERVAL="0.2",
        )
        if sb is not None:
            self._env.update(
                FLYWHEEL_NMP__NEMO_URL=sb.url, FLYWHEEL_NMP__DATASTORE_URL=sb.url, FLYWHEEL_NMP__NIM_URL=sb.nim_url
            )
        self._env.update(env or {})

    @property
    def env(self) -> dict[str, str]:
        return dict(self._env)

    def argv(self, *args: str) -> list[str]:
        front = ["--state", str(self.state)]
        if self.config is not None:
            front += ["--config", str(self.config)]
        return [sys.executable, "-m", "flywheel_cli", *front, *args]

    def __call__(self, *args: str, timeout: float = 120.0, stdin: bytes | None = None, env: dict[str, str] | None = None) -> Result:
        started = time.monotonic()
        proc = subprocess.run(
            self.argv(*args),
            input=stdin,
            capture_output=True,
            cwd=self.workdir,
            env={**self._env, **(env or {})},
            timeout=timeout,
        )
        return Result(args, proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"),
                      time.monotonic() - started)

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.argv(*args), cwd=self.workdir, env={**self._env, **(env or {})}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def run_cmd(self, *extra: str, logs: tuple[Path, ...] = (EXAMPLES,)) -> tuple[str, ...]:
        """`run --workload tool_router --logs ...`: the same command starts a run and resumes it."""
        args = ["run", "--workload", WORKLOAD]
        for path in logs:
            args += ["--logs", str(path)]
        return (*args, *extra)


def finish(proc: subprocess.Popen[bytes], timeout: float = 120.0) -> Result:
    out, err = proc.communicate(timeout=timeout)
    return Result(tuple(proc.args[3:]), proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), 0.0)  # type: ignore[index]


def kill9(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)


# --- the state file, read-only, while flywheel writes it --------------------------------------------------------------


def steps(state: Path) -> dict[tuple[str, str], str]:
    """(nim, stage) → status of the newest run, or {} while there is none. Never writes the file."""
    if not state.exists():
        return {}
    try:
        conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return {}
    try:
        row = conn.execute("SELECT id FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()
        if row is None:
            return {}
        return {(n, s): st for n, s, st in conn.execute("SELECT nim, stage, status FROM steps WHERE run_id = ?", row)}
    except sqlite3.Error:  # the schema is not there yet (flywheel is migrating a new file)
        return {}
    finally:
        conn.close()


def run_status(state: Path) -> str | None:
    conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=5.0)
    try:
        row = conn.execute("SELECT status FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()
        return row[0] if row else None
    finally:
        conn.close()


def wait_until(condition: Callable[[], bool], *, timeout: float = 60.0, every: float = 0.003) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def stage_running(state: Path, stage: str, nim: str | None = None) -> Callable[[], bool]:
    def check() -> bool:
        return any(st == "running" and s == stage and (nim is None or n == nim) for (n, s), st in steps(state).items())

    return check


def request_seen(sb: Sandbox, method: str, path_prefix: str) -> Callable[[], bool]:
    def check() -> bool:
        return any(e["method"] == method and e["path"].startswith(path_prefix) for e in sb.request_log())

    return check


# --- the sandbox's view -----------------------------------------------------------------------------------------------


def sandbox_state(sb: Sandbox) -> dict[str, Any]:
    """What `GET /_sandbox/state` says (the control endpoints never get faults)."""
    return httpx.get(sb.url + "/_sandbox/state", timeout=10.0).json()


_ATTEMPT = re.compile(r"-a\d+$")


def last_seq(sb: Sandbox) -> int:
    """The request log's position now: pass it to `duplicates` before each flywheel invocation."""
    log = sb.request_log()
    return log[-1]["seq"] if log else 0


def _eval_name(doc: dict[str, Any]) -> str:
    # Evaluator v1 jobs have no name of their own; flywheel names them in custom_fields.
    return str((doc.get("custom_fields") or {}).get("flywheel_name") or doc.get("name"))


def duplicates(sb: Sandbox, marks: tuple[int, ...] = (0,)) -> dict[str, dict[str, int]]:
    """Remote work launched twice: an evaluation or customization job created twice for the same purpose (its name
    without the attempt suffix) at any time, or a deployment created twice by one flywheel invocation (`marks` are
    the request-log positions where each invocation started; a resumed run may deploy a NIM again after the run
    before it took it down)."""
    with sb.state.lock:
        evals = Counter(_ATTEMPT.sub("", _eval_name(j.doc)) for j in sb.state.eval_jobs.values())
        custs = Counter(_ATTEMPT.sub("", str(j.doc.get("name"))) for j in sb.state.cust_jobs.values())
    found: dict[str, dict[str, int]] = {}
    for kind, counts in (("evaluation", evals), ("customization", custs)):
        twice = {k: n for k, n in counts.items() if n > 1}
        if twice:
            found[kind] = twice
    log = sb.request_log()
    bounds = [*marks, float("inf")]
    for start, end in zip(bounds, bounds[1:]):
        creates = Counter(
            e["created"]["id"] for e in log
            if start < e["seq"] <= end and e.get("created") and e["created"]["kind"] == "deployment"
        )
        twice = {k: n for k, n in creates.items() if n > 1}
        if twice:
            found.setdefault("deployment", {}).update(twice)
    return found


def flywheel_leftovers(sb: Sandbox) -> set[tuple[str, str]]:
    """What flywheel made that is still on the sandbox and would hold GPUs, storage or names, as (kind, id) pairs in
    `flywheel cleanup`'s terms: deployments, live customization jobs, flywheel's evaluation jobs, its datasets and
    customized models — plus ("repo", ns/name) for the Data Store repos behind its datasets (removed with them)."""
    s = sandbox_state(sb)
    with sb.state.lock:
        evals = [j.id for j in sb.state.eval_jobs.values() if (j.doc.get("custom_fields") or {}).get("flywheel")]
    ours = lambda ref: ref.split("/", 1)[1].startswith("flywheel-")  # noqa: E731
    return {
        *(("deployment", f"{d['namespace']}/{d['name']}") for d in s["deployments"]),
        *(("customization", j["id"]) for j in s["customization_jobs"] if j["status"] not in ("completed", "failed", "cancelled")),
        *(("evaluation", job_id) for job_id in evals),
        *(("dataset", d) for d in s["datasets"] if ours(d)),
        *(("model", m) for m in s["models"] if ours(m)),
        *(("repo", r) for r in s["repos"] if ours(r)),
    }


# --- reports ----------------------------------------------------------------------------------------------------------

# A customized model is named after its job, whose name holds a hash of the run it belongs to, and gets the
# platform's job id appended: both differ between two equal runs.
_CUST_ID = re.compile(r"-[0-9a-f]{8}-lora@cust-[0-9A-Za-z]+")
_VOLATILE = {"id", "created_at", "finished_at", "runtime_seconds", "job_id", "endpoint"}


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what differs between two equal runs: ids, times, the sandbox's port, remote job ids."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in _VOLATILE}
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, str):
            return _CUST_ID.sub("-*-lora@cust-*", value)
        return value

    return clean(report)


def scores(report: dict[str, Any]) -> dict[tuple[str, str, str], float]:
    return {(s["nim"], s["experiment"], s["metric"]): s["value"] for s in report["scores"]}


def filler_logs(path: Path, count: int, *, seed: int = 0, workload: str = "filler") -> Path:
    """`count` valid records of another workload: they make ingest take long enough to be interrupted, and change
    nothing about tool_router's dataset."""
    rng = random.Random(seed)
    with path.open("wb") as fh:
        for i in range(count):
            record = {
                "timestamp": 1_772_000_000 + i,
                "workload_id": workload,
                "client_id": "batch",
                "request": {"model": "meta/llama-3.3-70b-instruct",
                            "messages": [{"role": "user", "content": f"summarise item {i} ({rng.random():.6f})"}]},
                "response": {"object": "chat.completion",
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": f"item {i} in brief"}}]},
            }
            fh.write(orjson.dumps(record) + b"\n")
    return path
