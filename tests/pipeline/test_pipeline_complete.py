"""A 2-NIM `flywheel run` against the sandbox, end to end: every step, every experiment, the report in JSON and HTML,
and the run history commands."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pipeline_env import (
    EXPERIMENTS,
    NIM_1B,
    NIM_8B,
    NIM_STAGES,
    WORKLOAD,
    Flywheel,
    creates,
    created_ids,
    run_args,
    sandbox_env,
    scores_by_experiment,
    write_config,
)
from report_checks import parse_html

from flywheel_cli.report.schema import REPORT_SCHEMA, schema_errors
from flywheel_cli.sandbox import Sandbox


@dataclass
class Finished:
    sandbox: Sandbox
    flywheel: Flywheel
    done: subprocess.CompletedProcess[str]
    output: dict[str, Any]
    run_id: str


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Finished]:
    tmp = tmp_path_factory.mktemp("complete")
    with Sandbox(speed=1000, seed=42) as sb:
        fw = Flywheel(tmp / "state.db", write_config(tmp / "flywheel.toml", [(NIM_1B, "1.8.3"), (NIM_8B, "1.8.3")]), sandbox_env(sb))
        # Both NIMs at once: the parallel path, and a shorter test.
        done = fw.run("--json", *run_args("--max-parallel-nims", "2"))
        assert done.returncode == 0, done.stderr
        output = json.loads(done.stdout)
        yield Finished(sb, fw, done, output, output["run"]["id"])


def test_every_step_of_both_nims_completes(finished: Finished) -> None:
    run = finished.flywheel.json("runs", "show", finished.run_id)["run"]
    assert run["status"] == "completed"
    assert run["error"] is None
    assert run["nims"] == [NIM_1B, NIM_8B]
    steps = [(s["nim"], s["stage"], s["status"]) for s in run["steps"]]
    expected = {("", stage, "completed") for stage in ("ingest", "datasets", "upload")}
    expected |= {(nim, stage, "completed") for nim in (NIM_1B, NIM_8B) for stage in NIM_STAGES}
    assert sorted(steps) == sorted(expected)
    # --json keeps stderr to the one line that names the run.
    assert finished.done.stderr == f"{finished.run_id}: workload {WORKLOAD!r}, NIMs {NIM_1B}, {NIM_8B}\n"


def test_each_remote_job_is_created_once_and_deployments_come_down(finished: Finished) -> None:
    assert creates(finished.sandbox) == {"deployment": 2, "customization": 2, "evaluation": 6}
    state = finished.sandbox.state_summary()
    assert state["deployments"] == []
    assert state["live"] == {"deployments": 0, "customization_jobs": 0, "evaluation_jobs": 0}
    assert sorted(j["status"] for j in state["evaluation_jobs"]) == ["completed"] * 6
    assert sorted(j["base_model"] for j in state["customization_jobs"] if j["status"] == "completed") == sorted([NIM_1B, NIM_8B])


def test_all_three_experiments_score_in_the_expected_order(finished: Finished) -> None:
    scores = scores_by_experiment(finished.output)
    assert sorted(scores) == sorted((nim, exp) for nim in (NIM_1B, NIM_8B) for exp in EXPERIMENTS)
    for nim in (NIM_1B, NIM_8B):
        # Few-shot examples help, LoRA training on the workload helps more.
        assert scores[(nim, "base")] < scores[(nim, "icl")] < scores[(nim, "customized")], nim
    # The larger model is better as it is and with examples.
    assert scores[(NIM_1B, "base")] < scores[(NIM_8B, "base")]
    assert scores[(NIM_1B, "icl")] < scores[(NIM_8B, "icl")]
    reference = finished.output["reference"]["scores"]["function_name_accuracy"]["value"]
    assert reference == 1.0
    rows = [r for r in finished.output["scores"] if r["metric"] == "function_name_accuracy"]
    assert all(r["relative"] == pytest.approx(r["value"] / reference) for r in rows)
    assert all(r["count"] == 20 for r in rows)


def test_step_details_match_the_report(finished: Finished) -> None:
    run = finished.flywheel.json("runs", "show", finished.run_id)["run"]
    scores = scores_by_experiment(finished.output)
    for step in run["steps"]:
        if step["stage"] in EXPERIMENTS:
            assert step["detail"]["scores"]["function_name_accuracy"] == scores[(step["nim"], step["stage"])]
            assert step["detail"]["status"] == "completed"
            assert step["detail"]["job"].startswith("eval-")
    customize = {s["nim"]: s["detail"] for s in run["steps"] if s["stage"] == "customize"}
    assert sorted(d["job"] for d in customize.values()) == sorted(created_ids(finished.sandbox, "customization"))
    datasets = next(s for s in run["steps"] if s["stage"] == "datasets")["detail"]
    assert (datasets["eval"], datasets["train"] + datasets["val"]) == (20, 180)
    assert finished.output["datasets"]["eval_records"] == 20


def test_report_json_validates_against_the_documented_schema(finished: Finished) -> None:
    done = finished.flywheel.run("report", finished.run_id, "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert schema_errors(doc, REPORT_SCHEMA) == []
    assert (doc["version"], doc["kind"], doc["simulated"]) == (1, "report", True)
    assert doc["run"]["id"] == finished.run_id
    assert doc["workload"] == {"id": WORKLOAD, "type": "tool_calling"}
    assert [(e["nim"], e["experiment"], e["status"]) for e in doc["experiments"]] == [
        (nim, exp, "completed") for nim in (NIM_1B, NIM_8B) for exp in EXPERIMENTS
    ]
    assert [n["model_name"] for n in doc["nims"]] == [NIM_1B, NIM_8B]
    assert all(n["customization"]["status"] == "completed" for n in doc["nims"])
    # What `run --json` printed at the end is the same report.
    assert {k: v for k, v in doc.items() if k != "run"} == {k: v for k, v in finished.output.items() if k != "run"}


def test_report_html_renders_the_table_and_the_charts(finished: Finished, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    done = finished.flywheel.run("report", finished.run_id, "--format", "html", "--out", str(out))
    assert done.returncode == 0, done.stderr
    page = parse_html(out.read_text())
    assert page.headers == ["NIM", "experiment", *finished.output["metrics"], "relative", "runtime", "status"]
    assert "function_name_accuracy" in page.headers
    assert [row[:2] for row in page.results] == [
        ["reference (production model: meta/llama-3.3-70b-instruct)", "reference"],
        *[[nim, exp] for nim in (NIM_1B, NIM_8B) for exp in EXPERIMENTS],
    ]
    assert [row[page.headers.index("status")] for row in page.results[1:]] == ["completed"] * 6
    scores = scores_by_experiment(finished.output)
    column = page.headers.index("function_name_accuracy")
    for row in page.results[1:]:
        assert row[column].startswith(f"{scores[(row[0], row[1])]:.2f} ")
    metrics = finished.output["metrics"]
    assert page.svgs == len(metrics)  # one chart per metric
    assert len(page.bars) == len(metrics) * 6
    for nim in (NIM_1B, NIM_8B):
        for exp in EXPERIMENTS:
            assert f"{nim} · {exp}: {scores[(nim, exp)]:.2f}" in " | ".join(page.bars)
    assert "SIMULATED" in page.text


def test_runs_list_json_shape(finished: Finished) -> None:
    doc = finished.flywheel.json("runs", "list")
    assert (doc["version"], doc["kind"]) == (1, "runs")
    assert len(doc["runs"]) == 1
    run = doc["runs"][0]
    assert sorted(run) == sorted(
        ["id", "workload_id", "client_id", "status", "created_at", "finished_at", "dataset_id", "platform", "endpoint",
         "simulated", "nims", "error"]
    )
    assert run["id"] == finished.run_id
    assert (run["workload_id"], run["status"], run["platform"], run["simulated"]) == (WORKLOAD, "completed", "nmp", True)
    assert run["endpoint"] == finished.sandbox.url
    assert run["finished_at"] >= run["created_at"]
    assert run["dataset_id"] == finished.output["datasets"]["id"]


def test_runs_show_json_shape(finished: Finished) -> None:
    doc = finished.flywheel.json("runs", "show", finished.run_id)
    assert (doc["version"], doc["kind"]) == (1, "run")
    run = doc["run"]
    step_keys = ["nim", "stage", "status", "job_id", "progress", "detail", "error", "started_at", "finished_at"]
    assert all(sorted(s) == sorted(step_keys) for s in run["steps"])
    with_jobs = sorted((s["nim"], s["stage"]) for s in run["steps"] if s["job_id"] is not None)
    assert with_jobs == sorted((nim, stage) for nim in (NIM_1B, NIM_8B) for stage in ("deploy", *EXPERIMENTS, "customize", "teardown"))
    assert all(s["finished_at"] >= s["started_at"] for s in run["steps"])


def test_runs_show_unknown_run_is_not_found(finished: Finished) -> None:
    done = finished.flywheel.run("runs", "show", "run-00000000")
    assert done.returncode == 1
    assert "error: no run 'run-00000000'" in done.stderr


def test_a_completed_run_cannot_be_cancelled(finished: Finished) -> None:
    done = finished.flywheel.run("runs", "cancel", finished.run_id)
    assert done.returncode == 2
    assert done.stderr == f"error: run {finished.run_id} is completed; there is nothing to cancel\n"
    assert finished.flywheel.json("runs", "show", finished.run_id)["run"]["status"] == "completed"
