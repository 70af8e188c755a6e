"""`flywheel report` through the real CLI and a real state file."""

from __future__ import annotations

import json
from pathlib import Path

from report_runs import NIM_8B, StoredRun, settings, store_run

from flywheel_cli.report import build_report, render
from flywheel_cli.report.render_json import to_json
from flywheel_cli.state import Store


def test_report_format_json_is_the_latest_run(cli, state_path: Path, store: Store, stored: StoredRun) -> None:
    result = cli("--state", str(state_path), "report", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc == json.loads(json.dumps(to_json(build_report(store, stored.run_id, settings()))))
    assert (doc["version"], doc["kind"], doc["run"]["id"], doc["simulated"]) == (1, "report", stored.run_id, True)
    assert doc["verdict"]["nim"] == NIM_8B
    assert result.stderr == ""


def test_global_json_flag_is_format_json(cli, state_path: Path, stored: StoredRun) -> None:
    flag = cli("--state", str(state_path), "report", stored.run_id, "--json")
    explicit = cli("--state", str(state_path), "report", stored.run_id, "--format", "json")
    assert flag.exit_code == 0 and flag.stdout == explicit.stdout


def test_json_and_another_format_conflict(cli, state_path: Path, stored: StoredRun) -> None:
    result = cli("--state", str(state_path), "--json", "report", "--format", "csv")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "error: --json prints JSON; it cannot be combined with --format csv" in result.stderr


def test_out_writes_the_file_atomically_and_says_where(cli, state_path: Path, tmp_path: Path, store: Store,
                                                       stored: StoredRun) -> None:
    target = tmp_path / "reports" / "run.csv"
    result = cli("--state", str(state_path), "report", stored.run_id, "--format", "csv", "--out", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip() == f"wrote the csv report of {stored.run_id} to {target}"
    assert target.read_text() == render(build_report(store, stored.run_id, settings()), "csv")
    assert sorted(p.name for p in target.parent.iterdir()) == ["run.csv"]  # no temporary file left behind

    target.write_text("stale")
    assert cli("--state", str(state_path), "report", "-f", "html", "-o", str(target)).exit_code == 0
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in target.parent.iterdir()) == ["run.csv"]


def test_out_with_json_flag_reports_the_file(cli, state_path: Path, tmp_path: Path, stored: StoredRun) -> None:
    result = cli("--state", str(state_path), "--json", "report", "--out", "r.json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"version": 1, "kind": "report_written", "run_id": stored.run_id,
                                         "format": "json", "path": "r.json"}
    assert json.loads((tmp_path / "r.json").read_text())["kind"] == "report"


def test_table_on_a_pipe_is_plain_text(cli, state_path: Path, stored: StoredRun) -> None:
    result = cli("--state", str(state_path), "report")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"SIMULATED (sandbox) · flywheel report · {stored.run_id} · workload tool_router · run partial"
    assert "verdict: meta/llama-3.1-8b-instruct (customized) qualifies" in result.stdout
    assert "\x1b[" not in result.stdout


def test_markdown_to_stdout(cli, state_path: Path, stored: StoredRun) -> None:
    result = cli("--state", str(state_path), "report", "--format", "markdown")
    assert result.exit_code == 0
    assert "> **SIMULATED — sandbox scores.**" in result.stdout


def test_run_id_without_prefix_and_workload_filter(cli, state_path: Path, store: Store, stored: StoredRun) -> None:
    short = stored.run_id.removeprefix("run-")
    result = cli("--state", str(state_path), "--json", "report", short)
    assert json.loads(result.stdout)["run"]["id"] == stored.run_id

    other = store.create_run(workload_id="chat", client_id=None, platform="nmp", endpoint="x", simulated=False,
                             nims=[NIM_8B], options={})
    latest = json.loads(cli("--state", str(state_path), "--json", "report").stdout)
    assert latest["run"]["id"] == other.id
    of_workload = json.loads(cli("--state", str(state_path), "--json", "report", "--workload", "tool_router").stdout)
    assert of_workload["run"]["id"] == stored.run_id

    mismatch = cli("--state", str(state_path), "report", stored.run_id, "--workload", "chat")
    assert mismatch.exit_code == 2
    assert f"error: run {stored.run_id} is of workload 'tool_router', not 'chat'" in mismatch.stderr


def test_unknown_run_exits_1_with_the_hint(cli, state_path: Path, stored: StoredRun) -> None:
    result = cli("--state", str(state_path), "report", "run-00000000")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "error: no run 'run-00000000' in the state file\n`flywheel runs list` shows the runs so far.\n"


def test_no_runs_yet(cli, state_path: Path, store: Store) -> None:
    result = cli("--state", str(state_path), "report")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no runs in the state file\n")
    assert "`flywheel runs list`" in result.stderr
    store_run(store)
    missing = cli("--state", str(state_path), "report", "--workload", "chat")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: no runs for workload 'chat' in the state file\n")


def test_prices_from_the_config_file(cli, state_path: Path, tmp_path: Path, stored: StoredRun) -> None:
    config = tmp_path / "flywheel.toml"
    config.write_text(
        '[report]\nmin_relative_score = 0.75\n[report.prices]\n"meta/llama-3.2-1b-instruct" = 0.5\n'
        '"meta/llama-3.1-8b-instruct" = 0.3\nreference = 6.0\n'
    )
    result = cli("--state", str(state_path), "--config", str(config), "--json", "report")
    verdict = json.loads(result.stdout)["verdict"]
    assert (verdict["nim"], verdict["experiment"], verdict["basis"]) == (NIM_8B, "base", "price")
