"""A run going on in another process: the lock that keeps a second run out, `runs cancel`, and `cleanup` of what a
killed run left behind."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from pipeline_env import (
    NIM_1B,
    Flywheel,
    kill,
    query,
    remote_job_running,
    run_args,
    sandbox_env,
    wait_until,
    write_config,
)

from flywheel_cli.pipeline.lock import RunLock
from flywheel_cli.sandbox import Sandbox

SPEED = 200


def _flywheel(tmp_path: Path, sb: Sandbox) -> Flywheel:
    return Flywheel(tmp_path / "state.db", write_config(tmp_path / "flywheel.toml", [(NIM_1B, "1.8.3")]), sandbox_env(sb))


def _step_running(fw: Flywheel, stage: str):
    def check():
        rows = query(fw.state, "SELECT * FROM steps WHERE nim = ? AND stage = ? AND status = 'running'", (NIM_1B, stage))
        return rows[0] if rows else None

    return check


def test_a_second_run_on_the_same_state_file_is_refused_and_names_the_holder(cli, tmp_path: Path) -> None:
    with Sandbox(speed=SPEED, seed=42) as sb:
        fw = _flywheel(tmp_path, sb)
        proc = fw.start(*run_args())
        try:
            job = wait_until("the customization to run", lambda: remote_job_running(fw.state, NIM_1B, "customize"), proc)
            result = cli("--state", str(fw.state), "--config", str(fw.config), "run", "--workload", "tool_router",
                         env=sandbox_env(sb))
            assert RunLock(fw.state).held_elsewhere()
            # What the live run made is its own: cleanup leaves it alone, its uploaded datasets included.
            live = cli("--state", str(fw.state), "--config", str(fw.config), "--json", "cleanup", "--yes", env=sandbox_env(sb))
            state = sb.state_summary()
        finally:
            code, _ = kill(proc, signal.SIGKILL)
    assert result.exit_code == 1
    first, hint = result.stderr.splitlines()[:2]
    assert first.startswith(f"error: another flywheel run is using this state file (pid {proc.pid} since ")
    assert first.endswith(" workload tool_router)")
    assert hint == "Wait for it to finish, or stop it (Ctrl-C) and resume later; `flywheel runs list` shows runs."
    assert len(query(fw.state, "SELECT id FROM runs")) == 1
    assert live.exit_code == 0, live.stderr
    assert json.loads(live.stdout)["protected_runs"] == [job["run_id"]]
    assert json.loads(live.stdout)["found"] == []
    assert (len(state["datasets"]), len(state["deployments"])) == (3, 1)
    assert [j["status"] for j in state["customization_jobs"]] in (["running"], ["completed"])  # not cancelled
    # kill -9 leaves no stale lock behind: the kernel released it with the process.
    assert code == -signal.SIGKILL
    assert not RunLock(fw.state).held_elsewhere()


def test_runs_cancel_stops_a_live_run_and_cancels_its_remote_jobs(cli, tmp_path: Path) -> None:
    with Sandbox(speed=SPEED, seed=42) as sb:
        fw = _flywheel(tmp_path, sb)
        proc = fw.start(*run_args())
        job = wait_until("the customization to run", lambda: remote_job_running(fw.state, NIM_1B, "customize"), proc)
        run_id = job["run_id"]
        result = cli("--state", str(fw.state), "--config", str(fw.config), "--json", "runs", "cancel", run_id, env=sandbox_env(sb))
        out, err = proc.communicate(timeout=30)
        state = sb.state_summary()

    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["version"], doc["kind"], doc["run_id"]) == (1, "run_cancelled", run_id)
    assert job["remote_id"] in doc["cancelled_jobs"]
    assert doc["removed_deployments"] == [NIM_1B]
    assert doc["problems"] == []
    assert proc.returncode == 130
    assert f"error: run {run_id} was cancelled (`flywheel runs cancel`); finished steps are kept\n" in err
    assert "`flywheel run --workload tool_router --new` starts a new run." in err
    run = query(fw.state, "SELECT * FROM runs WHERE id = ?", (run_id,))[0]
    assert run["status"] == "cancelled"
    assert run["finished_at"] is not None
    steps = {r["stage"]: r["status"] for r in query(fw.state, "SELECT * FROM steps WHERE nim = ?", (NIM_1B,))}
    assert (steps["deploy"], steps["customize"], steps["customized"]) == ("completed", "cancelled", "pending")
    assert query(fw.state, "SELECT status FROM jobs WHERE remote_id = ?", (job["remote_id"],))[0]["status"] == "cancelled"
    assert [(j["id"], j["status"]) for j in state["customization_jobs"]] in (
        [(job["remote_id"], "cancelled")], [(job["remote_id"], "cancelling")]
    )
    assert state["deployments"] == []
    assert state["live"] == {"deployments": 0, "customization_jobs": 0, "evaluation_jobs": 0}


def test_cleanup_lists_and_removes_what_a_killed_run_left(cli, tmp_path: Path) -> None:
    with Sandbox(speed=SPEED, seed=42) as sb:
        fw = _flywheel(tmp_path, sb)
        proc = fw.start(*run_args())
        job = wait_until("the customization to run", lambda: remote_job_running(fw.state, NIM_1B, "customize"), proc)
        kill(proc, signal.SIGKILL)
        args = ("--state", str(fw.state), "--config", str(fw.config), "--json", "cleanup")
        listed = cli(*args, env=sandbox_env(sb))
        left = sb.state_summary()
        removed = cli(*args, "--yes", env=sandbox_env(sb))
        wait_until("the cancelled LoRA job to stop", lambda: sb.state_summary()["live"]["customization_jobs"] == 0)
        after = sb.state_summary()
        again = cli(*args, env=sandbox_env(sb))

    assert listed.exit_code == 0, listed.stderr
    found = json.loads(listed.stdout)
    assert (found["kind"], found["removed"], found["problems"], found["protected_runs"]) == ("cleanup", [], [], [])
    # Everything the killed run made is listed, and nothing else was touched by listing it.
    evaluations = sorted(j["id"] for j in left["evaluation_jobs"])
    assert sorted((r["kind"], r["id"]) for r in found["found"]) == sorted(
        [("deployment", "flywheel/meta-llama-3.2-1b-instruct"), ("customization", job["remote_id"])]
        + [("evaluation", e) for e in evaluations]
        + [("dataset", d) for d in left["datasets"]]
    )
    assert len(left["datasets"]) == 3
    assert left["live"]["deployments"] == 1 and left["live"]["customization_jobs"] == 1

    assert removed.exit_code == 0, removed.stderr
    gone = json.loads(removed.stdout)
    assert gone["problems"] == []
    lora_model = left["customization_jobs"][0]["output_model"]
    # The cancelled LoRA job's output model is orphaned by the cancel and goes in the same call.
    assert sorted(gone["removed"]) == sorted([r["id"] for r in found["found"]] + [lora_model])
    assert after["deployments"] == []
    assert after["evaluation_jobs"] == []
    assert (after["datasets"], after["repos"], after["models"]) == ([], [], [])
    assert [(j["id"], j["status"]) for j in after["customization_jobs"]] == [(job["remote_id"], "cancelled")]
    assert json.loads(again.stdout)["found"] == []
    # The state file knows: the run's remote jobs are no longer live.
    assert query(fw.state, "SELECT kind, status FROM jobs WHERE status NOT IN ('completed', 'cancelled', 'deleted')") == []
