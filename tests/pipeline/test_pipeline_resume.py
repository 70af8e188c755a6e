"""Killing a run for real (kill -9 and SIGTERM on a subprocess) and resuming it: nothing remote is created twice,
and the results are those of a run that was never interrupted."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from pipeline_env import (
    FAST_ENV,
    NIM_1B,
    NIM_8B,
    NIM_STAGES,
    Flywheel,
    creates,
    created_ids,
    kill,
    query,
    remote_job_running,
    run_args,
    sandbox_env,
    scores_by_experiment,
    wait_until,
    write_config,
)

from flywheel_cli.sandbox import Sandbox

# At 200x a 1B LoRA job on 180 records lasts about a second: long enough to be caught, short enough for a test.
SPEED = 200
TWO_NIMS = [(NIM_1B, "1.8.3"), (NIM_8B, "1.8.3")]


def _steps(state: Path, run_id: str) -> dict[tuple[str, str], str]:
    return {(r["nim"], r["stage"]): r["status"] for r in query(state, "SELECT * FROM steps WHERE run_id = ?", (run_id,))}


@pytest.mark.slow
def test_killed_during_customization_resumes_without_duplicates_and_same_scores(tmp_path: Path) -> None:
    (tmp_path / "killed").mkdir()
    (tmp_path / "clean").mkdir()
    # The uninterrupted run goes on meanwhile, on a fresh sandbox with the same seed.
    with Sandbox(speed=SPEED, seed=42) as clean_sb, Sandbox(speed=SPEED, seed=42) as sb:
        clean = Flywheel(tmp_path / "clean" / "state.db", write_config(tmp_path / "clean" / "flywheel.toml", TWO_NIMS), sandbox_env(clean_sb))
        clean_proc = clean.start("--json", *run_args())
        fw = Flywheel(tmp_path / "killed" / "state.db", write_config(tmp_path / "killed" / "flywheel.toml", TWO_NIMS), sandbox_env(sb))
        proc = fw.start(*run_args())
        job = wait_until("the 1B customization to run", lambda: remote_job_running(fw.state, NIM_1B, "customize"), proc)
        code, _ = kill(proc, signal.SIGKILL)
        assert code == -signal.SIGKILL
        run_id = job["run_id"]
        killed = _steps(fw.state, run_id)
        assert killed[(NIM_1B, "customize")] == "running"
        assert killed[(NIM_8B, "deploy")] == "pending"
        assert query(fw.state, "SELECT status FROM runs WHERE id = ?", (run_id,))[0]["status"] == "running"
        before = creates(sb)
        assert before["customization"] == 1 and before["deployment"] == 1

        done = fw.run("--json", *run_args())

        assert done.returncode == 0, done.stderr
        assert f"resuming {run_id} (running)" in done.stderr
        resumed = json.loads(done.stdout)
        assert resumed["run"]["id"] == run_id
        assert resumed["run"]["status"] == "completed"
        # The job the killed process started is the one that finished: attached, not created again.
        assert creates(sb) == {"deployment": 2, "customization": 2, "evaluation": 6}
        assert created_ids(sb, "customization")[0] == job["remote_id"]
        assert _steps(fw.state, run_id) == {
            **{("", s): "completed" for s in ("ingest", "datasets", "upload")},
            **{(nim, s): "completed" for nim in (NIM_1B, NIM_8B) for s in NIM_STAGES},
        }
        assert len(query(fw.state, "SELECT id FROM runs")) == 1
        assert sb.state_summary()["deployments"] == []

        out, err = clean_proc.communicate(timeout=60)
        assert clean_proc.returncode == 0, err
        assert creates(clean_sb) == {"deployment": 2, "customization": 2, "evaluation": 6}
    uninterrupted = json.loads(out)
    assert scores_by_experiment(resumed) == scores_by_experiment(uninterrupted)
    assert resumed["scores"] == uninterrupted["scores"]



def test_sigterm_tears_down_and_the_resumed_run_deploys_again(tmp_path: Path) -> None:
    with Sandbox(speed=SPEED, seed=42) as sb:
        fw = Flywheel(tmp_path / "state.db", write_config(tmp_path / "flywheel.toml", [(NIM_1B, "1.8.3")]), sandbox_env(sb))
        proc = fw.start(*run_args())
        job = wait_until("the 1B customization to run", lambda: remote_job_running(fw.state, NIM_1B, "customize"), proc)
        code, err = kill(proc, signal.SIGTERM)

        run_id = job["run_id"]
        assert code == 130
        assert f"error: run {run_id} interrupted; finished steps are kept" in err
        assert "The deployments this run started were taken down." in err
        assert query(fw.state, "SELECT status FROM runs WHERE id = ?", (run_id,))[0]["status"] == "interrupted"
        steps = _steps(fw.state, run_id)
        assert (steps[(NIM_1B, "deploy")], steps[(NIM_1B, "customize")], steps[(NIM_1B, "teardown")]) == (
            "completed", "interrupted", "pending"
        )
        state = sb.state_summary()
        assert state["deployments"] == []
        # Training does not need the deployment: it goes on and the resumed run attaches to it.
        assert [j["status"] for j in state["customization_jobs"]] in (["running"], ["completed"])
        # Evaluations would have lost their model: each one either finished in time or was cancelled, none failed.
        evals = {j["id"]: j["status"] for j in state["evaluation_jobs"]}
        assert set(evals.values()) <= {"completed", "cancelling", "cancelled"}
        cancelled = query(fw.state, "SELECT remote_id FROM jobs WHERE kind = 'evaluation' AND status = 'cancelled'")
        # (A job cancelled at the very moment it finished may still turn up completed in the sandbox; never failed.)
        assert {i for i, st in evals.items() if st != "completed"} <= {r["remote_id"] for r in cancelled}

        done = fw.run("--json", *run_args("--resume", run_id))

        assert done.returncode == 0, done.stderr
        assert f"resuming {run_id} (interrupted)" in done.stderr
        assert json.loads(done.stdout)["run"]["status"] == "completed"
        assert _steps(fw.state, run_id) == {
            **{("", s): "completed" for s in ("ingest", "datasets", "upload")},
            **{(NIM_1B, s): "completed" for s in NIM_STAGES},
        }
        # Deployed again for the rest of the work; the LoRA job is the one started before the interruption.
        assert creates(sb) == {"deployment": 2, "customization": 1, "evaluation": 3 + len(cancelled)}
        assert created_ids(sb, "customization") == [job["remote_id"]]
        assert sb.state_summary()["deployments"] == []


def test_an_interrupted_sandbox_run_is_not_resumed_against_a_new_sandbox(tmp_path: Path) -> None:
    # `run --sandbox` starts its own emulator, on a new port each time, and it dies with the process.
    fw = Flywheel(tmp_path / "state.db", write_config(tmp_path / "flywheel.toml", [(NIM_1B, "1.8.3")]), dict(FAST_ENV))
    proc = fw.start(*run_args("--sandbox"), env={"FLYWHEEL_SANDBOX__SPEED": str(SPEED)})
    wait_until("the customization to run", lambda: query(
        fw.state, "SELECT 1 FROM steps WHERE stage = 'customize' AND status = 'running'"), proc)
    code, err = kill(proc, signal.SIGTERM)
    assert code == 130
    assert err.rstrip().endswith(
        "The sandbox stopped with this run and its jobs are gone; `flywheel run --sandbox` again starts a new run."
    )

    done = fw.run("--json", *run_args("--sandbox"), env={"FLYWHEEL_SANDBOX__SPEED": "1000"})

    assert done.returncode == 0, done.stderr
    assert "resuming" not in done.stderr
    runs = fw.json("runs", "list")["runs"]
    assert [r["status"] for r in runs] == ["completed", "interrupted"]
    assert runs[0]["endpoint"] != runs[1]["endpoint"]
    assert json.loads(done.stdout)["run"]["id"] == runs[0]["id"]
