"""`flywheel run --dry-run`: the plan, computed locally; no remote call, no change to the state file."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from pipeline_env import FAST_ENV, LOGS, NIM_1B, NIM_8B, WORKLOAD, sandbox_env, write_config

from flywheel_cli.sandbox import Sandbox
from flywheel_cli.state import Store

JOBS = ["deployment", "evaluation", "evaluation", "customization", "evaluation"]


def _jobs(plan: dict) -> dict[str, list[str]]:
    return {nim["model"]: [job["job"] for job in nim["jobs"]] for nim in plan["nims"]}


def test_dry_run_against_a_sandbox_sends_it_nothing(cli, state_path: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "flywheel.toml", [(NIM_1B, "1.8.3"), (NIM_8B, "1.8.3")])
    with Sandbox(speed=1000, seed=42) as sb:
        result = cli("--state", str(state_path), "--config", str(config), "--json", "run", "--workload", WORKLOAD,
                     "--logs", str(LOGS), "--dry-run", env=sandbox_env(sb))
        assert result.exit_code == 0, result.stderr
        assert sb.request_log() == []
    plan = json.loads(result.stdout)
    assert (plan["version"], plan["kind"], plan["workload_id"], plan["workload_type"]) == (1, "plan", WORKLOAD, "tool_calling")
    assert plan["splits"] == {"eval": 20, "train": 162, "val": 18}
    assert _jobs(plan) == {NIM_1B: JOBS, NIM_8B: JOBS}
    lora = plan["nims"][0]["jobs"][3]
    assert (lora["target"], lora["epochs"], lora["train_records"]) == (f"{NIM_1B}@2.0", 2, 162)
    assert plan["curation"][0] == {"stage": "records", "label": "records read", "kept": 523, "dropped": 0}
    assert plan["gpu_hours"]["typical"] == pytest.approx(sum(n["gpu_hours_typical"] for n in plan["nims"]), abs=0.011)
    assert 0 < plan["gpu_hours"]["typical"] < plan["gpu_hours"]["upper_bound"]
    # Nothing was written: the logs went into a throw-away copy, and no state file was created.
    assert not state_path.exists()
    assert not state_path.parent.exists()


def test_dry_run_needs_no_network(cli, state_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("the network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    # The built-in config points at hosts that do not exist here.
    result = cli("--state", str(state_path), "run", "--workload", WORKLOAD, "--logs", str(LOGS), "--dry-run", env=FAST_ENV)
    assert result.exit_code == 0, result.stderr
    assert attempts == []
    assert result.stdout.startswith(f"plan for workload {WORKLOAD!r} (tool_calling); nothing remote was touched\n")
    assert "splits: eval 20, train 162, validation 18\n" in result.stdout
    assert "GPU-hours held: about " in result.stdout


def test_dry_run_leaves_an_existing_state_file_as_it_was(cli, state_path: Path) -> None:
    assert cli("--state", str(state_path), "-q", "ingest", str(LOGS)).exit_code == 0
    before = {p.name for p in state_path.parent.glob("state.db*")}
    with Store(state_path) as store:
        counted = store.db.conn.execute("SELECT count(*) FROM records").fetchone()[0]
    extra = state_path.parent / "more.jsonl"
    extra.write_text(LOGS.read_text().replace('"tool_router"', '"router_two"'))

    plain = cli("--state", str(state_path), "--json", "run", "--workload", WORKLOAD, "--dry-run", env=FAST_ENV)
    with_logs = cli("--state", str(state_path), "--json", "run", "--workload", "router_two", "--logs", str(extra),
                    "--dry-run", env=FAST_ENV)

    assert plain.exit_code == 0, plain.stderr
    assert with_logs.exit_code == 0, with_logs.stderr
    assert json.loads(plain.stdout)["splits"] == json.loads(with_logs.stdout)["splits"] == {"eval": 20, "train": 162, "val": 18}
    with Store(state_path) as store:
        assert store.db.conn.execute("SELECT count(*) FROM records").fetchone()[0] == counted
        assert store.runs() == []
    assert {p.name for p in state_path.parent.glob("state.db*")} == before
