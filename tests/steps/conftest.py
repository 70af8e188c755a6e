"""The step commands against a live sandbox: one sandbox per test, and a state file with both example datasets built.

Ingesting the examples and building the datasets happens once per session into a template directory; every test
gets its own copy of it (the state file and the dataset files beside it), so each starts from a fresh state.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from flywheel_cli.cli.app import app
from flywheel_cli.sandbox import Sandbox
from flywheel_cli.state import Store, open_store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples/logs.jsonl"
NIM = "meta/llama-3.2-1b-instruct"
FAILING_NIM = "meta/llama-3.2-1b-fail"  # the sandbox fails every deployment whose model name holds "fail"
BAD_TAG_NIM = "meta/llama-3.2-3b-instruct"  # configured with image tag "fail"
JUDGE_MODEL = "meta/llama-3.3-70b-instruct"  # the sandbox answers chat for any "70b" model, like a remote endpoint
TOOL_EVAL, CHAT_EVAL = 20, 10  # eval records of the two datasets

CUSTOMIZATIONS = "/v1/customization/jobs"
EVALUATIONS = "/v1/evaluation/jobs"
DEPLOYMENTS = "/v1/deployment/model-deployments"

CONFIG = f"""
[[nims]]
model_name = "{NIM}"
[nims.customization]
target = "{NIM}@2.0"

[[nims]]
model_name = "{FAILING_NIM}"

[[nims]]
model_name = "{BAD_TAG_NIM}"
tag = "fail"
"""


def judge_section(url: str, model: str = JUDGE_MODEL, key_env: str = "STEPS_JUDGE_KEY") -> str:
    return f'\n[judge]\nkind = "remote"\nurl = "{url}"\nmodel = "{model}"\napi_key_env = "{key_env}"\n'


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A state directory holding the ingested examples and one dataset per workload; returns (dir, ids)."""
    root = tmp_path_factory.mktemp("steps-template")
    state = root / ".flywheel" / "state.db"
    config = root / "build.toml"
    config.write_text(CONFIG)
    runner = CliRunner()

    def run(*args: str) -> Result:
        result = runner.invoke(app, ["--state", str(state), "--config", str(config), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        return result

    run("ingest", str(EXAMPLES))
    ids = {}
    for workload, eval_size, limit in (("tool_router", TOOL_EVAL, 120), ("chat_assistant", CHAT_EVAL, 60)):
        sizes = ("--eval-size", str(eval_size), "--limit", str(limit))
        built = run("--json", "datasets", "build", "--workload", workload, *sizes)
        ids[workload] = json.loads(built.stdout)["id"]
    return root / ".flywheel", ids


@dataclass
class Steps:
    """The CLI pointed at one sandbox, with the request log and the state file at hand."""

    sb: Sandbox
    tmp: Path
    datasets: dict[str, str]
    runner: CliRunner

    def run(self, *args: str) -> Result:
        return self.runner.invoke(app, ["--config", str(self.tmp / "fw.toml"), *args], catch_exceptions=False)

    def json(self, *args: str) -> dict[str, Any]:
        result = self.run("--json", *args)
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    def configure(self, extra: str) -> None:
        (self.tmp / "fw.toml").write_text(CONFIG + extra)

    def mark(self) -> int:
        """The request log's position now: `sb.request_log(mark)` is what came after."""
        log = self.sb.request_log()
        return log[-1]["seq"] if log else 0

    def creates(self, path: str) -> list[str]:
        """Ids of the resources a POST to `path` created, in order."""
        log = self.sb.request_log()
        return [e["created"]["id"] for e in log if e["method"] == "POST" and e["path"] == path and e["created"]]

    def calls(self, method: str, prefix: str) -> list[str]:
        return [e["path"] for e in self.sb.request_log() if e["method"] == method and e["path"].startswith(prefix)]

    def remote(self, path: str) -> dict[str, Any]:
        return httpx.get(self.sb.url + path, timeout=5.0).json()

    def store(self) -> Store:
        return open_store(self.tmp / ".flywheel" / "state.db")


def start(
    template: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, speed: float
) -> Iterator[Steps]:
    source, ids = template
    shutil.copytree(source, tmp_path / ".flywheel")
    (tmp_path / "fw.toml").write_text(CONFIG)
    with Sandbox(port=0, speed=speed, seed=42) as sb:
        monkeypatch.setenv("FLYWHEEL_NMP__NEMO_URL", sb.url)
        monkeypatch.setenv("FLYWHEEL_NMP__DATASTORE_URL", sb.url)
        monkeypatch.setenv("FLYWHEEL_NMP__NIM_URL", sb.nim_url)
        monkeypatch.setenv("FLYWHEEL_TIMEOUTS__POLL_INTERVAL", "0.02")
        monkeypatch.setenv("FLYWHEEL_TIMEOUTS__MAX_POLL_INTERVAL", "0.1")
        yield Steps(sb, tmp_path, ids, CliRunner())


@pytest.fixture
def steps(template: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Steps]:
    yield from start(template, tmp_path, monkeypatch, speed=2000.0)


@pytest.fixture
def slow_steps(template: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Steps]:
    """Simulated time at 20× instead of 2000×: a customization takes seconds, long enough to interrupt."""
    yield from start(template, tmp_path, monkeypatch, speed=20.0)


def interrupt_after_create(steps: Steps, path: str) -> threading.Thread:
    """Send this process a real SIGINT (Ctrl-C) once a POST to `path` has created something and the wait has begun."""

    def go() -> None:
        deadline = time.monotonic() + 10
        while not steps.creates(path) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread
