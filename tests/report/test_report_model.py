"""build_report: scores with intervals, the reference row, relative scores, failures, the verdict."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import dumps, tool_record
from report_runs import NIM_1B, NIM_8B, OOM, SCORES, T0, StoredRun, store_run, settings

from flywheel_cli.report import build_report, latest_run_id, render
from flywheel_cli.report.stats import bootstrap_ci, seed_for
from flywheel_cli.report.verdict import parameter_billions
from flywheel_cli.state import Store
from flywheel_cli.state.datasets import DatasetRow

HEADLINE = "function_name_accuracy"


def _exp(report, nim: str, name: str):
    return next(e for e in report.experiments if (e.nim, e.name) == (nim, name))


def test_scores_carry_counts_and_seeded_intervals(store: Store, stored: StoredRun) -> None:
    report = build_report(store, stored.run_id, settings())
    assert report.simulated is True
    assert report.workload_type == "tool_calling"
    assert report.metrics == ["function_name_accuracy", "function_name_and_args_accuracy", "tool_calling_correctness"]
    assert report.headline_metrics == [HEADLINE]
    assert [(e.nim, e.name) for e in report.experiments] == [
        (NIM_1B, "base"), (NIM_1B, "icl"), (NIM_1B, "customized"),
        (NIM_8B, "base"), (NIM_8B, "icl"), (NIM_8B, "customized"),
    ]
    for (nim, kind), scores in SCORES.items():
        exp = _exp(report, nim, kind)
        job_id = stored.jobs[(nim, kind)]
        assert exp.job_id == job_id
        for metric, (value, samples) in scores.items():
            score = exp.scores[metric]
            assert (score.value, score.raw, score.count) == (value, value, len(samples))
            assert score.failed == sum(v is None for v in samples)
            assert (score.ci_low, score.ci_high) == bootstrap_ci(samples, seed_for(f"{nim}|{kind}", metric))
    cust = _exp(report, NIM_8B, "customized").scores["tool_calling_correctness"]
    assert (cust.count, cust.failed) == (100, 4)


def test_intervals_are_reproducible(store: Store, stored: StoredRun) -> None:
    first = build_report(store, stored.run_id, settings())
    second = build_report(store, stored.run_id, settings())
    assert [e.scores for e in first.experiments] == [e.scores for e in second.experiments]


def test_scores_without_samples_have_no_interval(store: Store, stored: StoredRun) -> None:
    job = stored.jobs[(NIM_8B, "icl")]
    store.save_scores(job, [{"metric": HEADLINE, "raw": 0.92, "normalised": 0.92, "count": 50, "failed": 0}], {})
    score = _exp(build_report(store, stored.run_id, settings()), NIM_8B, "icl").scores[HEADLINE]
    assert (score.value, score.ci_low, score.ci_high) == (0.92, None, None)


def test_reference_row_and_relative_scores(store: Store, stored: StoredRun) -> None:
    report = build_report(store, stored.run_id, settings())
    ref = report.reference
    assert ref.label == "reference (production model: logged responses)"
    assert {m: (s.value, s.raw, s.ci_low) for m, s in ref.scores.items()} == {m: (1.0, 1.0, None) for m in report.metrics}
    assert _exp(report, NIM_1B, "icl").relative == {
        "function_name_accuracy": 0.8, "function_name_and_args_accuracy": 0.2, "tool_calling_correctness": 0.5
    }
    assert _exp(report, NIM_8B, "customized").min_relative([HEADLINE]) == 0.97
    assert _exp(report, NIM_1B, "customized").relative == {}


def test_reference_names_the_production_model_from_the_logs(cli, state_path: Path, tmp_path: Path) -> None:
    (tmp_path / "logs.jsonl").write_text(dumps(tool_record("where is my order")) + "\n")
    assert cli("--state", str(state_path), "ingest", "logs.jsonl").exit_code == 0
    with Store(state_path) as store:
        run = store_run(store)
        report = build_report(store, run.run_id, settings())
    assert report.reference.model == "meta/llama-3.3-70b-instruct"
    assert report.reference.label == "reference (production model: meta/llama-3.3-70b-instruct)"


def test_dataset_summary_counts_seed_and_eval_records_model(cli, state_path: Path, tmp_path: Path) -> None:
    lines = [tool_record(f"query {i}", ts=1_780_000_000 + i) for i in range(3)]
    lines[2]["request"]["model"] = "acme/router-405b"
    (tmp_path / "logs.jsonl").write_text("".join(dumps(r) + "\n" for r in lines))
    assert cli("--state", str(state_path), "ingest", "logs.jsonl").exit_code == 0
    with Store(state_path) as store:
        ids = {r.record["request"]["messages"][1]["content"]: r.id for r in store.iter_records("tool_router")}
        store.insert_dataset(
            DatasetRow(id="ds-feedfacecafe", workload_id="tool_router", client_id=None, created_at=T0,
                       workload_type="tool_calling", seed=42, config_hash="0" * 16, eval_records=2, train_records=1,
                       val_records=0, path="datasets/ds-feedfacecafe"),
            splits={"eval": [ids["query 0"], ids["query 1"]], "train": [ids["query 2"]]},
            icl_examples=[[], []],
            files=[],
        )
        run = store_run(store, dataset_id="ds-feedfacecafe")
        report = build_report(store, run.run_id, settings())
    ds = report.dataset
    assert (ds.id, ds.eval_records, ds.train_records, ds.val_records, ds.seed) == ("ds-feedfacecafe", 2, 1, 0, 42)
    # The eval records' production model, not the newest record of the workload (which answered only a train one).
    assert report.reference.model == "meta/llama-3.3-70b-instruct"
    assert report.reference.scores[HEADLINE].count == 2


def test_unknown_dataset_leaves_just_its_id(store: Store, stored: StoredRun) -> None:
    ds = build_report(store, stored.run_id, settings()).dataset
    assert (ds.id, ds.eval_records, ds.seed) == ("ds-0123456789ab", None, None)


def test_failed_customization_is_shown_in_the_row(store: Store, stored: StoredRun) -> None:
    report = build_report(store, stored.run_id, settings())
    exp = _exp(report, NIM_1B, "customized")
    assert (exp.status, exp.failed_stage, exp.error) == (
        "skipped", "customize", "customization job cust-1 failed: CUDA out of memory"
    )
    assert exp.scores == {} and exp.qualifies is False
    nim = report.nims[0]
    assert (nim.model_name, nim.status) == (NIM_1B, "partial")
    assert nim.failures == [("customize", "customization job cust-1 failed: CUDA out of memory")]
    assert (nim.customization.status, nim.customization.error, nim.customization.steps_completed) == (
        "failed", " ".join(OOM.split()), 3
    )
    assert report.nims[1].status == "completed" and report.nims[1].failures == []
    assert report.run.status == "partial"
    assert report.notes == []


def test_customization_facts(store: Store, stored: StoredRun) -> None:
    c = build_report(store, stored.run_id, settings()).nims[1].customization
    assert (c.status, c.epochs_completed, c.steps_completed, c.train_loss, c.val_loss, c.runtime_seconds) == (
        "completed", 2, 46, 0.4132, 0.5208, 700.0
    )
    assert c.output_model == "flywheel/customized-meta-llama-3.1-8b-instruct@cust-8b"
    assert _exp(build_report(store, stored.run_id, settings()), NIM_8B, "customized").target_model == c.output_model


def test_runtime_from_the_step(store: Store, stored: StoredRun) -> None:
    report = build_report(store, stored.run_id, settings())
    runtimes = [e.runtime_seconds for e in report.experiments]
    assert runtimes[2] is None
    assert runtimes[:2] + runtimes[3:] == pytest.approx([426.6, 95.0, 3725.0, 42.4, 61.0], abs=1e-6)


def test_verdict_without_prices_names_the_only_qualifier(store: Store, stored: StoredRun) -> None:
    v = build_report(store, stored.run_id, settings()).verdict
    assert (v.qualified, v.nim, v.experiment, v.basis, v.threshold) == (True, NIM_8B, "customized", "size", 0.95)
    assert v.qualifying == [(NIM_8B, "customized")]
    assert v.reason == "the smallest qualifying model (8B parameters); ≥ 95.0% of the reference on function_name_accuracy"
    assert v.text == f"meta/llama-3.1-8b-instruct (customized) qualifies: {v.reason}"


def test_verdict_without_prices_prefers_the_smallest_model(store: Store, stored: StoredRun) -> None:
    report = build_report(store, stored.run_id, settings(min_relative_score=0.75))
    v = report.verdict
    assert (v.nim, v.experiment) == (NIM_1B, "icl")
    assert v.qualifying == [(NIM_1B, "icl"), (NIM_8B, "base"), (NIM_8B, "icl"), (NIM_8B, "customized")]
    assert v.text.endswith("; 3 other candidates also qualified")
    assert [e.qualifies for e in report.experiments] == [False, True, False, True, True, True]


def test_verdict_with_prices_names_the_cheapest_and_saving(store: Store, stored: StoredRun) -> None:
    prices = {NIM_1B: 0.5, NIM_8B: 0.3, "reference": 6.0}
    report = build_report(store, stored.run_id, settings(min_relative_score=0.75, prices=prices))
    v = report.verdict
    assert (v.nim, v.experiment, v.basis) == (NIM_8B, "base", "price")
    assert v.qualifying == [(NIM_8B, "base"), (NIM_8B, "icl"), (NIM_8B, "customized"), (NIM_1B, "icl")]
    assert v.text == (
        "meta/llama-3.1-8b-instruct (base) qualifies: the cheapest qualifying candidate at 0.30 per 1k requests, "
        "95% below the reference; ≥ 75.0% of the reference on function_name_accuracy; 3 other candidates also qualified"
    )
    exp = _exp(report, NIM_8B, "base")
    assert (exp.cost_per_1k, exp.saving_per_1k, exp.saving_share) == (0.3, 5.7, pytest.approx(0.95))
    assert report.priced is True and report.reference.price_per_1k == 6.0


def test_unpriced_candidates_rank_after_priced_ones(store: Store, stored: StoredRun) -> None:
    v = build_report(store, stored.run_id, settings(min_relative_score=0.75, prices={NIM_8B: 2.0})).verdict
    assert (v.nim, v.experiment) == (NIM_8B, "base")
    assert "saving" not in v.text and "below the reference" not in v.text


def test_no_candidate_names_the_best_and_its_shortfall(store: Store, stored: StoredRun) -> None:
    v = build_report(store, stored.run_id, settings(min_relative_score=0.99)).verdict
    assert (v.qualified, v.nim, v.best) == (False, None, (NIM_8B, "customized"))
    assert v.shortfall == {HEADLINE: pytest.approx(0.02)}
    assert v.reason == (
        "the best candidate, meta/llama-3.1-8b-instruct (customized), has function_name_accuracy at 97.0% of the "
        "reference, 2.0% short (a candidate needs ≥ 99.0% of the reference on function_name_accuracy)"
    )
    assert v.text == f"no candidate qualified: {v.reason}"


def test_every_headline_metric_must_qualify(store: Store, stored: StoredRun) -> None:
    metrics = ["function_name_accuracy", "tool_calling_correctness", "not_scored_here"]
    report = build_report(store, stored.run_id, settings(min_relative_score=0.9, tool_calling_metrics=metrics))
    assert report.headline_metrics == ["function_name_accuracy", "tool_calling_correctness"]
    v = report.verdict
    assert (v.qualified, v.best) == (False, (NIM_8B, "customized"))
    assert v.shortfall == {"tool_calling_correctness": pytest.approx(0.02)}
    assert v.reason.startswith(
        "the best candidate, meta/llama-3.1-8b-instruct (customized), has tool_calling_correctness at 88.0% of the "
        "reference, 2.0% short (a candidate needs ≥ 90.0% of the reference on function_name_accuracy, "
    )


def test_no_experiment_completed(store: Store) -> None:
    run = store.create_run(workload_id="tool_router", client_id=None, platform="nmp", endpoint="http://127.0.0.1:9",
                           simulated=False, nims=[NIM_1B], options={})
    store.upsert_step(run.id, "", "datasets", status="completed")
    # As the pipeline records it: every stage pending up front, then the deploy fails and what needs it is skipped.
    for stage in ("deploy", "base", "icl", "customize", "customized", "teardown"):
        store.upsert_step(run.id, NIM_1B, stage, status="pending")
    store.upsert_step(run.id, NIM_1B, "deploy", status="failed", error="deployment meta-llama failed: ImagePullBackOff")
    for stage in ("base", "icl", "customize", "customized"):
        store.upsert_step(run.id, NIM_1B, stage, status="skipped", detail={"reason": "the deployment failed"})
    store.upsert_step(run.id, NIM_1B, "teardown", status="failed", error="DELETE 500")
    store.update_run(run.id, status="failed", error="every NIM failed")
    report = build_report(store, run.id, settings())
    assert report.verdict.text == "no candidate qualified: no experiment completed"
    assert report.verdict.reason == "no experiment completed"
    assert report.verdict.qualified is False and report.verdict.best is None
    assert [(e.name, e.status, e.failed_stage, e.error) for e in report.experiments] == [
        (kind, "skipped", "deploy", "deployment meta-llama failed: ImagePullBackOff") for kind in ("base", "icl", "customized")
    ]
    assert report.nims[0].status == "failed"
    assert report.notes == [f"{NIM_1B}: teardown failed: DELETE 500", "run error: every NIM failed"]
    assert (report.metrics, report.workload_type, report.simulated) == ([], "unknown", False)


def test_steps_left_pending_behind_a_failure_are_not_run(store: Store) -> None:
    run = store.create_run(workload_id="tool_router", client_id=None, platform="nmp", endpoint="http://127.0.0.1:9",
                           simulated=False, nims=[NIM_1B], options={})
    for stage in ("deploy", "base", "icl", "customize", "customized", "teardown"):
        store.upsert_step(run.id, NIM_1B, stage, status="pending")
    store.upsert_step(run.id, NIM_1B, "customize", status="failed", error="no customization config for the target")
    store.upsert_step(run.id, NIM_1B, "deploy", status="running")
    report = build_report(store, run.id, settings())
    assert [(e.status, e.failed_stage) for e in report.experiments] == [
        ("pending", None), ("pending", None), ("not run", "customize")
    ]
    assert report.nims[0].status == "failed"


def test_skip_reason_is_shown(store: Store, stored: StoredRun) -> None:
    reason = "customization is disabled for this NIM in the config"
    for stage in ("customize", "customized"):
        store.upsert_step(stored.run_id, NIM_1B, stage, status="skipped", error=None, detail={"reason": reason})
    report = build_report(store, stored.run_id, settings())
    exp = _exp(report, NIM_1B, "customized")
    assert (exp.status, exp.failed_stage, exp.skip_reason) == ("skipped", None, reason)
    assert report.nims[0].status == "completed"
    assert f"| {NIM_1B} | customized | – | – | – | – | – | skipped — {reason} |" in render(report, "markdown")


def test_failed_evaluation_and_run_stage_are_reported(store: Store, stored: StoredRun) -> None:
    store.upsert_step(stored.run_id, NIM_8B, "icl", status="failed", error="evaluation eval-9 failed: judge 503")
    store.upsert_step(stored.run_id, "", "upload", status="failed", error="datastore 500")
    report = build_report(store, stored.run_id, settings())
    exp = _exp(report, NIM_8B, "icl")
    assert (exp.status, exp.failed_stage, exp.error) == ("failed", "icl", "evaluation eval-9 failed: judge 503")
    # Its scores are still shown, but a failed experiment is never a candidate.
    assert exp.scores[HEADLINE].value == 0.92 and exp.qualifies is False
    assert report.nims[1].status == "partial"
    assert report.notes == ["run stage upload failed: datastore 500"]


def test_a_simulated_job_marks_the_report_simulated(store: Store) -> None:
    stored = store_run(store, simulated=False)
    assert build_report(store, stored.run_id, settings()).simulated is False
    store.update_job(stored.jobs[(NIM_8B, "icl")], simulated=1)
    assert build_report(store, stored.run_id, settings()).simulated is True


def test_generic_workload_uses_similarity(store: Store) -> None:
    run = store.create_run(workload_id="chat", client_id=None, platform="nmp", endpoint="http://127.0.0.1:9",
                           simulated=False, nims=[NIM_1B], options={})
    job = store.create_job(kind="evaluation", key="e", name="e", platform="nmp", endpoint="x", eval_type="base")
    store.save_scores(job.id, [{"metric": "similarity", "raw": 9.7, "normalised": 0.9667, "count": 3, "failed": 1}],
                      {"similarity": [1.0, 0.9, None]})
    store.upsert_step(run.id, NIM_1B, "base", status="completed", job_id=job.id)
    report = build_report(store, run.id, settings())
    assert (report.workload_type, report.headline_metrics) == ("generic", ["similarity"])
    assert report.reference.scores["similarity"].raw == 10.0
    assert (report.verdict.nim, report.verdict.experiment) == (NIM_1B, "base")
    score = report.experiments[0].scores["similarity"]
    assert (score.raw, score.value, score.failed) == (9.7, 0.9667, 1)
    assert report.experiments[1].status == "not run" and report.experiments[1].failed_stage is None


def test_latest_run_id(store: Store) -> None:
    assert latest_run_id(store) is None
    first = store_run(store)
    other = store.create_run(workload_id="chat", client_id=None, platform="nmp", endpoint="x", simulated=False,
                             nims=[NIM_1B], options={})
    assert latest_run_id(store) == other.id
    assert latest_run_id(store, "tool_router") == first.run_id
    assert latest_run_id(store, "nothing") is None


def test_build_report_unknown_run(store: Store) -> None:
    with pytest.raises(KeyError):
        build_report(store, "run-00000000", settings())


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("meta/llama-3.2-1b-instruct", 1.0),
        ("meta/llama-3.1-8b-instruct", 8.0),
        ("meta/llama-3.3-70B-instruct", 70.0),
        ("meta/llama-3.2-3b-instruct", 3.0),
        ("qwen/qwen2.5-0.5b-instruct", 0.5),
        ("mistralai/mixtral-8x7b-instruct-v0.1", 56.0),
        ("huggingface/smollm-135m", 0.135),
        ("nvidia/nemotron-mini", None),
    ],
)
def test_parameter_billions(name: str, size: float | None) -> None:
    assert parameter_billions(name) == size
