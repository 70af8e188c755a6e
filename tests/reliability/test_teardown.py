"""Scenario 6: teardown. After runs that failed, were cancelled, were interrupted (Ctrl-C, SIGTERM) or were killed,
`flywheel cleanup` must list exactly the leftovers the sandbox holds — deployments, running jobs, evaluation jobs,
datasets, customized models — and `cleanup --yes` must remove every one: the sandbox then holds none, and a second
`cleanup` finds nothing.
"""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from reliability_harness import (
    Flywheel,
    WatchedSandbox,
    configured_nims,
    finish,
    flywheel_leftovers,
    kill9,
    sandbox,
    sandbox_state,
    stage_running,
    wait_until,
)

pytestmark = pytest.mark.scenario("teardown")

SPEED = 200.0


def _cleanup_finds_and_removes_everything(fw: Flywheel, sb: WatchedSandbox) -> set[tuple[str, str]]:
    truth = flywheel_leftovers(sb)
    assert truth, "the run left nothing behind: this trial would prove nothing"
    listed = fw("--json", "cleanup")
    assert listed.returncode == 0, listed
    assert listed.json["protected_runs"] == []
    after = flywheel_leftovers(sb)
    found = {(r["kind"], r["id"]) for r in listed.json["found"]}
    # A running LoRA job's output model is already registered; cleanup lists the job, and removing the job (cancel)
    # removes its model in the same `--yes` (a second pass). A repo goes with its dataset.
    with_their_job = {
        ("model", j["output_model"])
        for j in sandbox_state(sb)["customization_jobs"]
        if ("customization", j["id"]) in found and j["output_model"]
    }
    # An orphaned LoRA job keeps training while this looks, and may finish between the two snapshots (it then shows
    # as its output model): what both snapshots hold must be listed, and nothing outside them may be.
    listable = lambda items: {item for item in items if item[0] != "repo" and item not in with_their_job}  # noqa: E731
    assert listable(truth & after) <= found <= listable(truth | after), (found, truth, after)
    removed = fw("--json", "cleanup", "--yes")
    assert removed.returncode == 0 and removed.json["problems"] == [], removed
    assert flywheel_leftovers(sb) == set()
    again = fw("--json", "cleanup")
    assert again.returncode == 0 and again.json["found"] == [], again
    return truth


def _run_id(state: Path) -> str:
    with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT id FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()[0]


def _killed_while_creating_a_customization(fw: Flywheel, sb: WatchedSandbox) -> None:
    sb.hold("POST", "/v1/customization/jobs")
    # Many epochs keep the orphaned LoRA job training for minutes of real time, so that it is still a running job
    # (not yet its output model) when the test and `cleanup` look at it, however slow the machine.
    proc = fw.start(*fw.run_cmd(), env={"FLYWHEEL_TRAINING__EPOCHS": "100"})
    assert sb.held.wait(60)
    # The base and icl evaluations start beside the customization; on a slow machine the held POST can come first.
    # Kill only once one of them exists, so the trial always leaves every kind of leftover behind.
    assert wait_until(lambda: any(kind == "evaluation" for kind, _ in flywheel_leftovers(sb)), timeout=60)
    kill9(proc)
    sb.release()


def test_cleanup_after_a_killed_run(tmp_path: Path) -> None:
    with sandbox(SPEED) as sb:
        fw = Flywheel(tmp_path, sb)
        _killed_while_creating_a_customization(fw, sb)
        kinds = {kind for kind, _ in _cleanup_finds_and_removes_everything(fw, sb)}
    assert kinds == {"deployment", "customization", "evaluation", "dataset", "model", "repo"}


# --- the long trials: one way for a run to end badly each --------------------------------------------------------


def _failed_deployment(fw: Flywheel, sb: WatchedSandbox) -> None:
    # Configure the NIM with an image tag the sandbox cannot start: its deployment ends `failed`, and stays.
    nim = {**configured_nims(1)[0], "tag": "fail"}
    result = fw(*fw.run_cmd(), env={"FLYWHEEL_NIMS": orjson.dumps([nim]).decode()})
    assert result.returncode == 1, result


def _teardown_refused(fw: Flywheel, sb: WatchedSandbox) -> None:
    sb.fail("DELETE", "/v1/deployment/model-deployments", times=1000)  # every retry of the teardown
    result = fw(*fw.run_cmd())
    assert result.returncode == 4, result
    assert "teardown failed" in result.stderr, result
    sb.stop_failing()


def _cancelled(fw: Flywheel, sb: WatchedSandbox) -> None:
    proc = fw.start(*fw.run_cmd())
    assert wait_until(stage_running(fw.state, "customize"), timeout=60)
    cancel = fw("--json", "runs", "cancel", _run_id(fw.state))
    assert cancel.returncode == 0, cancel
    result = finish(proc)
    assert result.returncode == 130, result
    assert "was cancelled" in result.stderr, result


def _signal_during(stage: str, sig: signal.Signals) -> Callable[[Flywheel, WatchedSandbox], None]:
    def go(fw: Flywheel, sb: WatchedSandbox) -> None:
        proc = fw.start(*fw.run_cmd())
        assert wait_until(stage_running(fw.state, stage), timeout=60)
        proc.send_signal(sig)
        result = finish(proc)
        assert result.returncode == 130, result
        assert "interrupted" in result.stderr, result

    return go


def _kill_during(stage: str) -> Callable[[Flywheel, WatchedSandbox], None]:
    def go(fw: Flywheel, sb: WatchedSandbox) -> None:
        proc = fw.start(*fw.run_cmd())
        assert wait_until(stage_running(fw.state, stage), timeout=60)
        kill9(proc)

    return go


def _completed(fw: Flywheel, sb: WatchedSandbox) -> None:
    result = fw(*fw.run_cmd())
    assert result.returncode == 0, result


ENDINGS: dict[str, Callable[[Flywheel, WatchedSandbox], None]] = {
    "failed: the deployment failed": _failed_deployment,
    "failed: the teardown was refused": _teardown_refused,
    "cancelled with `runs cancel` during customization": _cancelled,
    "interrupted by SIGTERM during the base evaluation": _signal_during("base", signal.SIGTERM),
    "interrupted by Ctrl-C while waiting for the deployment": _signal_during("deploy", signal.SIGINT),
    "killed during the deployment wait": _kill_during("deploy"),
    "killed during the customized evaluation": _kill_during("customized"),
    "completed": _completed,
}


@pytest.mark.reliability
@pytest.mark.parametrize("ending", list(ENDINGS))
def test_cleanup_after(tmp_path: Path, ending: str) -> None:
    with sandbox(SPEED) as sb:
        fw = Flywheel(tmp_path, sb)
        ENDINGS[ending](fw, sb)
        _cleanup_finds_and_removes_everything(fw, sb)


@pytest.mark.reliability
def test_cleanup_after_three_nims_killed_in_parallel(tmp_path: Path) -> None:
    with sandbox(SPEED) as sb:
        fw = Flywheel(tmp_path, sb, nims=3)
        proc = fw.start(*fw.run_cmd("--max-parallel-nims", "3"))
        assert wait_until(stage_running(fw.state, "customize"), timeout=60)
        kill9(proc)
        kinds = [kind for kind, _ in _cleanup_finds_and_removes_everything(fw, sb)]
    assert kinds.count("deployment") == 3

