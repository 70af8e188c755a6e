"""One minimal test per bug the reliability scenarios found: each failed until its bug was fixed at the root, and
keeps it from coming back. They run in the normal suite (no `reliability` marker) and take a few seconds each.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from reliability_corpus import example
from reliability_harness import (
    TRACEBACK,
    Flywheel,
    configured_nims,
    sandbox,
    sandbox_state,
    steps,
    wait_until,
)

pytestmark = pytest.mark.scenario("regressions")


def _nims(**customization: object) -> dict[str, str]:
    nim = configured_nims(1)[0]
    nim["customization"] = {**nim.get("customization", {}), **customization}
    return {"FLYWHEEL_NIMS": orjson.dumps([nim]).decode()}


def test_sandbox_serve_keeps_serving_until_interrupted(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "flywheel_cli", "--json", "sandbox", "serve", "--port", "0", "--speed", "1000"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        lines = []
        assert proc.stdout is not None
        while not lines or lines[-1] != b"}\n":
            line = proc.stdout.readline()
            assert line, proc.stderr.read().decode() if proc.stderr else ""
            lines.append(line)
        url = orjson.loads(b"".join(lines))["url"]
        assert wait_until(lambda: proc.poll() is not None, timeout=0.5) is False, proc.stderr.read().decode()  # type: ignore[union-attr]
        assert httpx.get(url + "/_sandbox/info", timeout=5).json()["sandbox"] is True
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_run_exits_4_when_the_platform_refuses_the_upload(tmp_path: Path) -> None:
    # A run-level step (upload) failing because of the platform is a remote failure, like a NIM's step would be.
    with sandbox(1000) as sb:
        sb.fail("POST", "/v1/namespaces", times=1000, status=403)
        fw = Flywheel(tmp_path, sb)
        result = fw(*fw.run_cmd())
    assert "upload failed" in result.stderr and "HTTP 403" in result.stderr, result
    assert result.returncode == 4, result


def test_resume_retries_the_steps_skipped_after_a_failed_deployment(tmp_path: Path) -> None:
    with sandbox(1000) as sb:
        fw = Flywheel(tmp_path, sb, env=_nims(enabled=False))
        sb.fail("POST", "/v1/deployment/model-deployments", times=1000)  # the create and every careful retry
        first = fw(*fw.run_cmd())
        assert first.returncode == 4, first
        assert steps(fw.state)[("meta/llama-3.2-1b-instruct", "base")] == "skipped"
        sb.stop_failing()
        second = fw(*fw.run_cmd())
        assert second.returncode == 0, second
        done = steps(fw.state)
    assert (done[("meta/llama-3.2-1b-instruct", "base")], done[("meta/llama-3.2-1b-instruct", "icl")]) == ("completed", "completed")


def test_resume_takes_down_a_nim_it_deployed_again(tmp_path: Path) -> None:
    with sandbox(1000) as sb:
        fw = Flywheel(tmp_path, sb, env=_nims(enabled=False))
        # Both evaluations fail to start (each create and every careful retry); the NIM is taken down.
        sb.fail("POST", "/v1/evaluation/jobs", times=1000)
        first = fw(*fw.run_cmd())
        assert first.returncode == 4, first
        assert sandbox_state(sb)["deployments"] == []
        sb.stop_failing()
        second = fw(*fw.run_cmd())  # deploys the NIM again to retry the evaluations
        assert second.returncode == 0, second
        assert sandbox_state(sb)["deployments"] == []


def test_resume_after_evaluation_waits_timed_out_succeeds(tmp_path: Path) -> None:
    with sandbox(200) as sb:
        fw = Flywheel(tmp_path, sb, env=_nims(enabled=False))
        # The evaluations outlast the first run's patience; they are still running when it takes the NIM down.
        first = fw(*fw.run_cmd(), env={"FLYWHEEL_TIMEOUTS__JOB_TOTAL": "0.05"})
        assert first.returncode == 1, first
        assert "did not finish within 0.05s" in first.stderr, first
        second = fw(*fw.run_cmd())
        assert second.returncode == 0, second


def test_equal_runs_give_equal_confidence_intervals(tmp_path: Path) -> None:
    with sandbox(1000) as sb:
        fw = Flywheel(tmp_path, sb, env=_nims(enabled=False))
        first = fw("--json", *fw.run_cmd())
        second = fw("--json", *fw.run_cmd("--new"))
    assert first.returncode == second.returncode == 0, (first, second)
    intervals = [[(s["nim"], s["experiment"], s["metric"], s["ci_low"], s["ci_high"]) for s in r.json["scores"]]
                 for r in (first, second)]
    assert intervals[0] == intervals[1]


def test_out_of_range_timestamps_are_rejected_not_fatal(tmp_path: Path) -> None:
    good = example("tool_router", with_tool_call=True)
    beyond_64_bits = orjson.dumps(good).replace(
        b'"timestamp":%d' % good["timestamp"], b'"timestamp":100000000000000000000000000000'
    )
    year_31_million = orjson.dumps({**example("summarizer"), "timestamp": 1e15})
    path = tmp_path / "logs.jsonl"
    path.write_bytes(b"\n".join([orjson.dumps(good), beyond_64_bits, year_31_million]) + b"\n")
    fw = Flywheel(tmp_path, None)
    result = fw("--json", "ingest", str(path))
    assert result.returncode == 0, result
    doc = result.json
    assert (doc["ingested"], doc["rejected"]) == (1, 2)
    assert [(r["line"], r["reason"].split(" ")[0]) for r in doc["rejects"]] == [(2, "timestamp"), (3, "timestamp")]
    workloads = fw("workloads")
    assert workloads.returncode == 0 and TRACEBACK not in workloads.stderr, workloads


def test_a_config_path_that_is_a_directory_is_a_config_error(tmp_path: Path) -> None:
    fw = Flywheel(tmp_path, None, config=tmp_path)
    result = fw("config", "show")
    assert result.returncode == 2, result
    assert "internal error" not in result.stderr and str(tmp_path) in result.stderr, result


def test_malformed_json_in_a_complex_env_setting_is_a_config_error(tmp_path: Path) -> None:
    fw = Flywheel(tmp_path, None, env={"FLYWHEEL_NIMS": "[{"})
    result = fw("config", "show")
    assert result.returncode == 2, result
    assert "internal error" not in result.stderr and "nims" in result.stderr.lower(), result


def test_cleanup_leaves_a_live_runs_datasets_and_model_alone(tmp_path: Path) -> None:
    with sandbox(1000) as sb:
        fw = Flywheel(tmp_path, sb)
        # Hold the run just as it starts evaluating its customized model: datasets uploaded, model registered.
        sb.hold("POST", "/v1/evaluation/jobs", body_contains=b"flywheel-customized-")
        proc = fw.start(*fw.run_cmd())
        try:
            assert sb.held.wait(60), "the run never evaluated its customized model"
            listed = fw("--json", "cleanup")
        finally:
            sb.release()
            out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert listed.returncode == 0, listed
    assert len(listed.json["protected_runs"]) == 1
    assert [(r["kind"], r["name"]) for r in listed.json["found"]] == []



def test_a_read_failing_four_times_in_a_row_is_retried(tmp_path: Path) -> None:
    # At a 0.2 fault rate this happens to one request in 625; a three-NIM run sends hundreds.
    with sandbox(1000) as sb:
        fw = Flywheel(tmp_path, sb)
        sb.fail("GET", "/v1/customization/configs", times=4)
        result = fw(*fw.run_cmd())
    assert result.returncode == 0, result


def test_a_create_failing_twice_before_it_is_applied_is_tried_again(tmp_path: Path) -> None:
    # Each new attempt is preceded by a lookup that finds nothing, so posting again cannot launch the job twice.
    with sandbox(1000) as sb:
        fw = Flywheel(tmp_path, sb)
        sb.fail("POST", "/v1/customization/jobs", times=2)
        result = fw(*fw.run_cmd())
        created = [e for e in sb.request_log() if e.get("created") and e["created"]["kind"] == "customization"]
    assert result.returncode == 0, result
    assert len(created) == 1


def test_cleanup_leaves_the_model_of_a_customization_being_created_alone(tmp_path: Path) -> None:
    # The platform registers the output model when it accepts the job; the run has not recorded the job's answer yet.
    with sandbox(1000) as sb:
        fw = Flywheel(tmp_path, sb)
        sb.hold("POST", "/v1/customization/jobs")
        proc = fw.start(*fw.run_cmd())
        try:
            assert sb.held.wait(60), "the run never started its customization"
            listed = fw("--json", "cleanup")
        finally:
            sb.release()
            out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert listed.returncode == 0 and len(listed.json["protected_runs"]) == 1, listed
    assert [(r["kind"], r["name"]) for r in listed.json["found"]] == []


def test_two_processes_creating_the_same_state_file_both_succeed(tmp_path: Path) -> None:
    """Two `flywheel run` started together on a new state file: the one that read "nothing applied" just before the
    other applied the migrations failed with "table records already exists" instead of being refused by the run lock.
    """
    from flywheel_cli.state.db import Database
    from flywheel_cli.state.store import MIGRATIONS

    path = tmp_path / "state.db"

    class OtherProcessWinsTheRace(list):
        # Iterated by the opener right after it read which migrations are applied: the other opener applies them all
        # in between, which is the race two processes hit.
        raced = False

        def __iter__(self):
            if not OtherProcessWinsTheRace.raced:
                OtherProcessWinsTheRace.raced = True
                Database(path, MIGRATIONS).close()
            return super().__iter__()

    db = Database(path, OtherProcessWinsTheRace(MIGRATIONS))
    assert OtherProcessWinsTheRace.raced
    names = [row[0] for row in db.conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [name for name, _ in MIGRATIONS]
    db.close()


def test_opening_a_state_file_another_process_is_creating_waits_for_it(tmp_path: Path) -> None:
    """Switching a new file to WAL while another process held it failed at once with "database is locked" (SQLite does
    not wait on that switch), so one of two `flywheel run` started together died with a state error."""
    import sqlite3
    import threading

    from flywheel_cli.state.db import Database
    from flywheel_cli.state.store import MIGRATIONS

    path = tmp_path / "state.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # the other process, half-way through creating the file
    other.execute("CREATE TABLE other_was_here (x)")
    threading.Timer(0.3, lambda: other.execute("COMMIT")).start()
    db = Database(path, MIGRATIONS)
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("SELECT COUNT(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)
    db.close()
    other.close()
