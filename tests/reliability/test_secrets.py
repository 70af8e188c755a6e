"""Scenario 5: secrets. A planted value in every secret env var; every command flywheel has is run with them, and a
few that fail; then each value (and the base64 form of the Elasticsearch basic credentials) is searched for in
stdout, stderr, --json output, every file under the working directory (reports, rejects, dataset files, the state
file) and in copies of the state file and its WAL taken while the run was writing them. Zero hits.

The test also checks that each secret really travelled (the sandbox saw every bearer token, the judge key and the
embedding key; the Elasticsearch double accepted the key and the password), so a zero is not an accident.
"""

from __future__ import annotations

import base64
import secrets as token_source
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from es_server import FakeElasticsearch, serve

from reliability_harness import (
    EXAMPLES,
    SECRET_ENV,
    WORKLOAD,
    Flywheel,
    Result,
    WatchedSandbox,
    finish,
    sandbox,
)

pytestmark = pytest.mark.scenario("secrets")

ES_INDEX = "flywheel-logs"
NIM = "meta/llama-3.2-1b-instruct"


def _planted() -> dict[str, str]:
    # Distinct, unguessable values that cannot occur in any output by chance.
    return {name: f"planted-{name.lower().replace('_', '-')}-{token_source.token_hex(12)}" for name in SECRET_ENV}


def _needles(planted: dict[str, str]) -> dict[str, bytes]:
    needles = {name: value.encode() for name, value in planted.items()}
    basic = f"{planted['ES_USERNAME']}:{planted['ES_PASSWORD']}".encode()
    needles["ES basic auth header"] = base64.b64encode(basic)
    return needles


def _env(sb: WatchedSandbox, planted: dict[str, str]) -> dict[str, str]:
    return {
        **planted,
        "FLYWHEEL_JUDGE__KIND": "remote",
        "FLYWHEEL_JUDGE__URL": sb.nim_url + "/v1/chat/completions",
        "FLYWHEEL_JUDGE__MODEL": "meta/llama-3.3-70b-instruct",
        "FLYWHEEL_ICL__SELECTION": "semantic",
        "FLYWHEEL_ICL__EMBEDDING_URL": sb.nim_url + "/v1/embeddings",
    }


class Evidence:
    """Everything flywheel wrote that a secret must never be in."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.outputs: list[tuple[str, bytes]] = []
        self.snapshots: list[tuple[str, bytes]] = []

    def add(self, result: Result) -> Result:
        self.outputs.append((f"{' '.join(result.args)} stdout", result.stdout.encode()))
        self.outputs.append((f"{' '.join(result.args)} stderr", result.stderr.encode()))
        return result

    def snapshot_state(self, state: Path) -> None:
        for path in state.parent.glob(state.name + "*"):
            try:
                self.snapshots.append((f"{path.name} (while running)", path.read_bytes()))
            except FileNotFoundError:  # the WAL is gone between listing and reading: checkpointed, nothing lost
                continue

    def files(self) -> Iterator[tuple[str, bytes]]:
        for path in sorted(self.workdir.rglob("*")):
            if path.is_file():
                yield str(path.relative_to(self.workdir)), path.read_bytes()

    def hits(self, needles: dict[str, bytes]) -> list[str]:
        found = []
        for where, data in [*self.outputs, *self.snapshots, *self.files()]:
            for name, needle in needles.items():
                if needle in data:
                    found.append(f"{name} in {where}")
        return found


def _run_while_snapshotting(fw: Flywheel, evidence: Evidence, *args: str) -> Result:
    proc = fw.start(*args)
    while proc.poll() is None:
        evidence.snapshot_state(fw.state)
        time.sleep(0.05)
    return evidence.add(finish(proc))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _trial(tmp_path: Path, *, everything: bool) -> tuple[list[str], int]:
    planted = _planted()
    needles = _needles(planted)
    evidence = Evidence(tmp_path)
    bad = tmp_path / "with-bad-lines.jsonl"
    shutil.copyfile(EXAMPLES, bad)
    with bad.open("ab") as fh:  # rejects files are evidence too
        fh.write(b'{"workload_id": "tool_router", "broken": \n[1, 2]\n')
    es = FakeElasticsearch(api_keys={planted["ES_API_KEY"]}, users={planted["ES_USERNAME"]: planted["ES_PASSWORD"]})
    es.add(ES_INDEX, [{"_id": f"d{i}", "_source": doc} for i, doc in enumerate(_docs(40))])
    commands = 0
    with sandbox(1000.0) as sb, serve(es) as es_url:
        fw = Flywheel(tmp_path, sb, env=_env(sb, planted))

        def ok(*args: str, env: dict[str, str] | None = None) -> Result:
            nonlocal commands
            commands += 1
            result = evidence.add(fw(*args, timeout=180, env=env))
            assert result.returncode == 0, result
            return result

        def fails(code: int | None, *args: str, env: dict[str, str] | None = None) -> Result:
            """`code` None: with --traceback the error escapes as a Python exception (exit 1, traceback shown)."""
            nonlocal commands
            commands += 1
            result = evidence.add(fw(*args, timeout=180, env=env))
            assert result.returncode == code if code is not None else result.returncode != 0, result
            return result

        ok("ingest", str(bad))
        ok("--json", "datasets", "build", "--workload", WORKLOAD, "--upload")
        commands += 1
        run = _run_while_snapshotting(fw, evidence, "--json", "run", "--workload", WORKLOAD)
        assert run.returncode == 0, run
        # The copies are real: the WAL taken mid-run holds what the run was writing.
        assert any(b"flywheel-eval-tool-router" in data for name, data in evidence.snapshots if "-wal" in name)
        run_id = run.json["run"]["id"]
        ok("report", "--format", "html", "--out", str(tmp_path / "report.html"))
        ok("--json", "report")
        ok("--json", "runs", "show", run_id)
        ok("config", "show")
        ok("--json", "ingest", "--es-url", es_url, "--es-index", ES_INDEX)
        fails(4, "ingest", "--es-url", es_url, "--es-index", ES_INDEX, env={"ES_API_KEY": planted["ES_API_KEY"] + "-wrong"})
        if everything:
            for fmt in ("table", "json", "csv", "markdown", "html"):
                ok("report", "--format", fmt)
                ok("report", "--format", fmt, "--out", str(tmp_path / f"report-out.{fmt}"))
            ok("--json", "runs", "list")
            ok("runs", "show", run_id)
            ok("--json", "config", "show")
            ok("--verbose", "--json", "workloads")
            ok("--json", "datasets", "list")
            ok("--json", "deploy", "up", NIM)
            ok("--json", "evaluate", "--workload", WORKLOAD, "--nim", NIM, "--type", "base")
            ok("--json", "deploy", "list")
            ok("--json", "deploy", "down", NIM)
            commands += 1
            rerun = _run_while_snapshotting(fw, evidence, "--verbose", "run", "--workload", WORKLOAD, "--new")
            assert rerun.returncode == 0, rerun
            ok("--json", "cleanup", "--yes")
            # Basic auth instead of an API key, then the wrong password.
            no_key = {"ES_API_KEY": ""}
            ok("-v", "ingest", "--es-url", es_url, "--es-index", ES_INDEX, env=no_key)
            fails(None, "--traceback", "ingest", "--es-url", es_url, "--es-index", ES_INDEX,
                  env={**no_key, "ES_PASSWORD": planted["ES_PASSWORD"] + "-wrong"})
            dead = f"http://127.0.0.1:{_closed_port()}"
            unreachable = {"FLYWHEEL_NMP__NEMO_URL": dead, "FLYWHEEL_NMP__DATASTORE_URL": dead,
                           "FLYWHEEL_NMP__NIM_URL": dead + "/nim"}
            fails(4, "--verbose", "run", "--workload", WORKLOAD, "--new", env=unreachable)
            fails(None, "--traceback", "deploy", "up", NIM, env=unreachable)
        travelled = sb.authorizations
    evidence.snapshot_state(fw.state)
    for name in ("NMP_TOKEN", "HF_TOKEN", "NIM_TOKEN", "LLM_JUDGE_API_KEY", "EMB_API_KEY"):
        assert f"Bearer {planted[name]}" in travelled, f"{name} was never sent: the search below would prove nothing"
    assert any(r.headers.get("authorization") == f"ApiKey {planted['ES_API_KEY']}" for r in es.requests)
    return evidence.hits(needles), commands


def _docs(count: int) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in EXAMPLES.read_bytes().splitlines()[:count]]


def test_no_secret_in_any_output_or_file(tmp_path: Path, record_property: Any) -> None:
    hits, commands = _trial(tmp_path, everything=False)
    record_property("trials", commands)
    assert hits == []


@pytest.mark.reliability
def test_no_secret_after_every_command(tmp_path: Path, record_property: Any) -> None:
    hits, commands = _trial(tmp_path, everything=True)
    record_property("trials", commands)
    assert hits == []
