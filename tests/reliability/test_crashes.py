"""Scenario 2: crashes. `flywheel run` (a real subprocess) is killed with SIGKILL at seeded moments in every stage;
the same command then resumes it to the report of an uninterrupted run, without launching any remote job twice and
without leaving a deployment behind.

Two kinds of moments:
- a stage seen `running` in the state file (read-only), plus a seeded delay inside it;
- a create or delete that the sandbox has applied but whose answer it holds back: flywheel dies not knowing that
  the deployment, job or deletion happened, which is what create-or-attach must survive.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reliability_harness import (
    EXAMPLES,
    Flywheel,
    WatchedSandbox,
    comparable,
    duplicates,
    kill9,
    last_seq,
    sandbox,
    sandbox_state,
    stage_running,
    steps,
    wait_until,
)

pytestmark = pytest.mark.scenario("crashes")

SPEED = 200.0  # slow enough for every stage to last long enough to be hit (a deployment takes ~0.5 s)
NIM = "meta/llama-3.2-1b-instruct"


@dataclass(frozen=True)
class Moment:
    name: str
    stage: str | None = None  # wait until this step runs, then a seeded delay of up to `jitter` seconds
    jitter: float = 0.0
    hold: tuple[str, str] | None = None  # (method, path prefix): kill while its applied answer is held back
    body: bytes = b""
    after: tuple[float, float] | None = None  # kill at a seeded time in this range after the start
    expect: tuple[str, ...] = ()  # one of these steps must be running at the kill (default: `stage`)

    @property
    def expected(self) -> tuple[str, ...]:
        return self.expect or ((self.stage,) if self.stage else ())

    def arm(self, sb: WatchedSandbox) -> None:
        if self.hold is not None:
            sb.hold(*self.hold, body_contains=self.body)

    def wait(self, sb: WatchedSandbox, state: Path, rng: random.Random, proc: subprocess.Popen[bytes]) -> None:
        if self.hold is not None:
            held = wait_until(lambda: sb.held.is_set() or proc.poll() is not None, timeout=60)
            assert held and sb.held.is_set(), f"{self.name}: the request never came"
        elif self.stage is not None:
            running = stage_running(state, self.stage)
            assert wait_until(lambda: running() or proc.poll() is not None, timeout=60) and running(), (
                f"{self.name}: the stage never ran"
            )
            time.sleep(rng.uniform(0.0, self.jitter))
        else:
            assert self.after is not None
            time.sleep(rng.uniform(*self.after))


MOMENTS = {
    m.name: m
    for m in (
        Moment("ingest", stage="ingest", jitter=0.3),
        Moment("datasets", stage="datasets", jitter=0.05),
        Moment("upload, dataset registered", hold=("POST", "/v1/datasets"), expect=("upload",)),
        Moment("upload", stage="upload", jitter=0.1),
        Moment("deployment created, answer lost", hold=("POST", "/v1/deployment/model-deployments"), expect=("deploy",)),
        Moment("deployment wait", stage="deploy", jitter=0.4),
        Moment("customization created, answer lost", hold=("POST", "/v1/customization/jobs"), expect=("customize",)),
        Moment("customization running", stage="customize", jitter=0.8),
        Moment("evaluation created, answer lost", hold=("POST", "/v1/evaluation/jobs"), expect=("base", "icl", "customized")),
        Moment("base evaluation running", stage="base", jitter=0.4),
        Moment("customized evaluation created, answer lost", hold=("POST", "/v1/evaluation/jobs"),
               body=b"flywheel-customized-", expect=("customized",)),
        Moment("customized evaluation running", stage="customized", jitter=0.4),
        Moment("teardown, deployment deleted, answer lost", hold=("DELETE", "/v1/deployment/model-deployments"),
               expect=("teardown",)),
        Moment("at a random time", after=(0.3, 3.0)),
    )
}


def _kill_at(fw: Flywheel, sb: WatchedSandbox, moment: Moment, rng: random.Random, logs: tuple[Path, ...]) -> dict[str, Any]:
    moment.arm(sb)
    proc = fw.start(*fw.run_cmd(logs=logs))
    try:
        moment.wait(sb, fw.state, rng, proc)
        now = steps(fw.state)
        finished = proc.poll() is not None
    finally:
        kill9(proc)
        sb.release()
    assert not finished, f"{moment.name}: the run ended before it could be killed"
    running = sorted(f"{nim or 'run'} {stage}" for (nim, stage), status in now.items() if status == "running")
    if moment.expected:
        assert any(status == "running" and stage in moment.expected for (_, stage), status in now.items()), (
            f"{moment.name}: the kill missed its stage (running: {running})"
        )
    return {"running": running}


def _check_resumed(fw: Flywheel, sb: WatchedSandbox, reference: dict[str, Any], logs: tuple[Path, ...], marks: tuple[int, ...]) -> None:
    with sqlite3.connect(f"file:{fw.state}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    resumed = fw("--json", *fw.run_cmd(logs=logs), timeout=180)
    assert resumed.returncode == 0, resumed
    assert comparable(resumed.json) == reference
    assert duplicates(sb, marks) == {}
    live = sandbox_state(sb)["live"]
    assert live == {"deployments": 0, "customization_jobs": 0, "evaluation_jobs": 0}, live


def _trial(tmp_path: Path, reference: dict[str, Any], filler: Path, names: list[str], seed: int) -> list[dict[str, Any]]:
    rng = random.Random(f"crash/{'/'.join(names)}/{seed}")
    logs = (EXAMPLES, filler) if "ingest" in names else (EXAMPLES,)
    hits = []
    with sandbox(SPEED) as sb:
        fw = Flywheel(tmp_path, sb)
        marks: tuple[int, ...] = ()
        for name in names:
            marks += (last_seq(sb),)
            hits.append(_kill_at(fw, sb, MOMENTS[name], rng, logs))
        marks += (last_seq(sb),)
        _check_resumed(fw, sb, reference, logs, marks)
    return hits


def _note(hits: list[dict[str, Any]]) -> str:
    return "; ".join("running at the kill: " + (", ".join(h["running"]) or "no step") for h in hits)


def test_killed_after_a_customization_was_created(tmp_path: Path, reference: Any, filler: Path, record_property: Any) -> None:
    hits = _trial(tmp_path, reference(nims=1), filler, ["customization created, answer lost"], seed=1)
    assert f"{NIM} customize" in hits[0]["running"]
    record_property("note", _note(hits))


@pytest.mark.reliability
@pytest.mark.parametrize("name", [n for n in MOMENTS if n != "customization created, answer lost"])
def test_killed_and_resumed(tmp_path: Path, reference: Any, filler: Path, name: str, record_property: Any) -> None:
    record_property("note", _note(_trial(tmp_path, reference(nims=1), filler, [name], seed=7)))


# Each resume is itself killed: three moments in one run, in pipeline order so that each still lies ahead.
CHAINS = [
    ["ingest", "deployment created, answer lost", "customized evaluation running"],
    ["upload, dataset registered", "customization created, answer lost", "teardown, deployment deleted, answer lost"],
    ["deployment wait", "evaluation created, answer lost", "customized evaluation created, answer lost"],
]


@pytest.mark.reliability
@pytest.mark.parametrize("chain", range(len(CHAINS)))
def test_killed_three_times_then_resumed(tmp_path: Path, reference: Any, filler: Path, chain: int, record_property: Any) -> None:
    record_property("trials", len(CHAINS[chain]))
    record_property("note", _note(_trial(tmp_path, reference(nims=1), filler, CHAINS[chain], seed=chain)))
