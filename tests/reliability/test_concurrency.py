"""Scenario 4: concurrency on one state file. While `flywheel run` works: a second `flywheel run` is refused with a
clear message; `flywheel ingest` of other logs succeeds (both write; SQLite WAL and the busy timeout serialise
them); `flywheel report` always shows a consistent snapshot; and the run still ends with the reference report.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from reliability_harness import (
    EXAMPLES,
    FILLER_RECORDS,
    TRACEBACK,
    Flywheel,
    comparable,
    filler_logs,
    finish,
    run_status,
    sandbox,
    stage_running,
    wait_until,
)

pytestmark = pytest.mark.scenario("concurrency")

EXPERIMENT_STATUSES = {"completed", "failed", "skipped", "pending", "running", "interrupted", "cancelled", "not run"}


def _consistent(report: dict[str, Any], eval_records: int) -> None:
    """What a report taken mid-run may show: finished experiments with every score over the whole eval set; none
    before an experiment started. (A running one may already have its scores: they are stored just before its step
    is marked completed.)"""
    assert report["run"]["status"] in ("running", "completed"), report["run"]
    metrics = {m for m in report["metrics"]}
    scored: dict[tuple[str, str], set[str]] = {}
    for s in report["scores"]:
        scored.setdefault((s["nim"], s["experiment"]), set()).add(s["metric"])
    for exp in report["experiments"]:
        key = (exp["nim"], exp["experiment"])
        assert exp["status"] in EXPERIMENT_STATUSES, exp
        if exp["status"] == "completed":
            assert scored.get(key) == metrics, (exp, scored.get(key), metrics)
        elif exp["status"] in ("pending", "not run", "skipped"):
            assert key not in scored, exp
    for s in report["scores"]:
        assert s["count"] == eval_records and 0.0 <= s["value"] <= 1.0, s
    if report["run"]["status"] == "completed":
        assert all(e["status"] == "completed" for e in report["experiments"])


def _trial(tmp_path: Path, reference: dict[str, Any], filler: Path, *, nims: int, speed: float, other: int) -> dict[str, int]:
    other_logs = filler_logs(tmp_path / "other.jsonl", other, seed=1, workload="other")
    with sandbox(speed) as sb:
        fw = Flywheel(tmp_path, sb, nims=nims)
        run = fw.start("--json", *fw.run_cmd(logs=(EXAMPLES, filler)))
        # Both write from the start: the run ingests the filler while this ingests its own.
        assert wait_until(lambda: fw.state.exists(), timeout=30)
        ingest = fw.start("--json", "ingest", str(other_logs))
        assert wait_until(stage_running(fw.state, "deploy"), timeout=60), "the run never got to deploy"
        second = fw(*fw.run_cmd())
        snapshots = 0
        while run.poll() is None:
            snap = fw("--json", "report")
            assert snap.returncode == 0 and TRACEBACK not in snap.stderr, snap
            _consistent(snap.json, reference["datasets"]["eval_records"])
            snapshots += 1
            time.sleep(0.05)
        done = finish(run)
        ingested = finish(ingest)
    assert second.returncode == 1, second
    assert second.stdout == "" and TRACEBACK not in second.stderr, second
    assert "another flywheel run is using this state file (pid" in second.stderr, second
    assert done.returncode == 0, done
    assert comparable(done.json) == reference
    assert run_status(fw.state) == "completed"
    assert ingested.returncode == 0, ingested
    assert (ingested.json["ingested"], ingested.json["rejected"]) == (other, 0)
    workloads = fw("--json", "workloads")
    counts = {w["workload_id"]: w["records"] for w in workloads.json["workloads"]}
    assert counts["other"] == other and counts["filler"] == FILLER_RECORDS
    assert snapshots >= 2, snapshots
    return {"snapshots": snapshots}


def test_second_run_refused_ingest_and_report_during_a_run(tmp_path: Path, reference: Any, filler: Path) -> None:
    _trial(tmp_path, reference(nims=1), filler, nims=1, speed=200.0, other=3000)


@pytest.mark.reliability
@pytest.mark.parametrize("seed", [1, 2])
def test_three_nims_with_readers_and_writers(tmp_path: Path, reference: Any, filler: Path, seed: int, record_property: Any) -> None:
    result = _trial(tmp_path, reference(nims=3), filler, nims=3, speed=100.0 * seed, other=10_000 * seed)
    record_property("trials", 3 + result["snapshots"])


@pytest.mark.reliability
def test_the_same_run_from_two_terminals_at_once(tmp_path: Path, reference: Any) -> None:
    """Two `flywheel run` started together: exactly one runs, the other is refused; no internal error either way."""
    with sandbox(1000.0) as sb:
        fw = Flywheel(tmp_path, sb)
        procs = [fw.start("--json", *fw.run_cmd()) for _ in range(2)]
        results = [finish(p) for p in procs]
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 1], results
    refused = next(r for r in results if r.returncode == 1)
    assert "another flywheel run is using this state file" in refused.stderr, refused
    assert "internal error" not in refused.stderr and TRACEBACK not in refused.stderr, refused
    winner = next(r for r in results if r.returncode == 0)
    assert comparable(winner.json) == reference(nims=1)


@pytest.mark.reliability
def test_cleanup_during_a_run_lists_nothing_the_run_owns(tmp_path: Path) -> None:
    # Held while it starts a LoRA job: its deployment is up, its datasets uploaded, its evaluations running.
    with sandbox(1000.0) as sb:
        fw = Flywheel(tmp_path, sb)
        sb.hold("POST", "/v1/customization/jobs")
        run = fw.start(*fw.run_cmd())
        try:
            assert sb.held.wait(60)
            listed = fw("--json", "cleanup")
        finally:
            sb.release()
            done = finish(run)
    assert done.returncode == 0, done
    assert listed.returncode == 0 and len(listed.json["protected_runs"]) == 1, listed
    assert listed.json["found"] == []
