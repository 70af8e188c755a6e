"""Helix statuses and results → neutral states, scores and per-sample values (payloads as Helix 0.8.1 sent them)."""

from __future__ import annotations

import pytest

from flywheel_cli.helix import statuses
from flywheel_cli.helix.scores import parse_json, parse_results, parse_rows
from flywheel_cli.platforms.base import DeploymentState, JobState, Score

RUNNING = {
    "name": "job2",
    "status": "active",
    "status_details": {"message": "Job is running", "pid": 4567},
    "error_details": None,
    "steps": [{"name": "evaluate", "status": "active", "tasks": [{"status": "active", "status_details": {}}]}],
}
DONE = {
    "name": "job2",
    "status": "completed",
    "status_details": {
        "message": "Job completed successfully with exit code 0",
        "evaluation": {"unit": "rows", "total": 100, "errored": 0, "scored": 100, "failed": False},
    },
    "error_details": None,
}
FAILED = {"name": "job1", "status": "error", "status_details": {"message": "Job exited with code 1", "exit_code": 1},
          "error_details": {"message": "Job exited with code 1"}}  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "state"),
    [("created", JobState.PENDING), ("pending", JobState.PENDING), ("paused", JobState.PENDING),
     ("pausing", JobState.PENDING), ("resuming", JobState.PENDING), ("active", JobState.RUNNING),
     ("completed", JobState.COMPLETED), ("error", JobState.FAILED), ("cancelling", JobState.CANCELLED),
     ("cancelled", JobState.CANCELLED), ("ACTIVE", JobState.RUNNING), ("queued", JobState.UNKNOWN),
     (None, JobState.UNKNOWN)],
)  # fmt: skip
def test_job_states(raw: object, state: JobState) -> None:
    assert statuses.job_state(raw) is state


@pytest.mark.parametrize(
    ("raw", "state"),
    [("UNKNOWN", DeploymentState.PENDING), ("CREATED", DeploymentState.PENDING), ("PENDING", DeploymentState.PENDING),
     ("READY", DeploymentState.READY), ("ERROR", DeploymentState.FAILED), ("LOST", DeploymentState.FAILED),
     ("DELETING", DeploymentState.DELETED), ("DELETED", DeploymentState.DELETED), ("WARMING", DeploymentState.UNKNOWN)],
)  # fmt: skip
def test_deployment_states(raw: str, state: DeploymentState) -> None:
    status = statuses.deployment_status({"status": raw, "status_message": "msg"})
    assert (status.state, status.raw_status, status.detail) == (state, raw.lower(), "msg")


def test_evaluation_job_statuses() -> None:
    running = statuses.job_status(RUNNING)
    assert (running.state, running.raw_status, running.progress, running.detail) == (JobState.RUNNING, "active", None, None)
    done = statuses.job_status(DONE)
    assert (done.state, done.progress, done.samples_processed) == (JobState.COMPLETED, 100.0, 100)
    failed = statuses.job_status(FAILED)
    assert (failed.state, failed.detail) == (JobState.FAILED, "Job exited with code 1")
    assert statuses.job_status(FAILED, detail="why").detail == "why"


def test_training_progress_from_the_training_task() -> None:
    body = {
        "status": "active",
        "steps": [
            {"name": "model-and-dataset-download", "tasks": [{"status_details": {"message": "done"}}]},
            {"name": "training", "tasks": [{"status_details": {"step": 30, "max_steps": 120, "epoch": 1,
                                                                 "train_loss": 0.42, "val_loss": 0.5}}]},
        ],
    }  # fmt: skip
    status = statuses.job_status(body)
    assert (status.progress, status.steps_completed, status.epochs_completed) == (25.0, 30, 1)
    assert (status.train_loss, status.val_loss) == (0.42, 0.5)


def test_the_root_cause_of_a_failure_comes_from_the_logs() -> None:
    traceback = (
        '[stderr] Traceback (most recent call last):   File "/x/inference.py", line 166, in __init__     '
        'raise ValueError("params cannot be empty") ValueError: params cannot be empty'
    )
    logs = [
        {"message": "[stderr] NHX_PRINCIPAL not set; task NemoClient will authenticate as service:evals"},
        {"message": "[stderr] \x1b[2m2026-11-26T04:34:10.752\x1b[0m [\x1b[31m\x1b[1merror\x1b[0m] AsyncEvaluateJob.run raised"},
        {"message": traceback},
    ]
    assert statuses.failure_from_logs(logs) == "ValueError: params cannot be empty"
    pipeline = logs + [
        {"message": "Benchmark streaming pipeline failed ... root_error='Evaluation failed during sample generation on "
                    "row 0: Unexpected error making completion request to nothing' root_error_type=EvaluationError"}
    ]  # fmt: skip
    assert statuses.failure_from_logs(pipeline) == (
        "Evaluation failed during sample generation on row 0: Unexpected error making completion request to nothing"
    )
    assert statuses.failure_from_logs([{"message": "all good"}]) is None
    assert statuses.failure_from_logs([{"message": "KeyError: " + "x" * 900}]) == "KeyError: " + "x" * 389 + "…"


AGGREGATE = b"""{"scores": [
 {"name": "tool-calling.function_name_accuracy", "count": 4, "nan_count": 0, "sum": 3.0, "mean": 0.75, "score_type": "range"},
 {"name": "tool-calling.function_name_and_args_accuracy", "count": 3, "nan_count": 1, "sum": 1.0, "mean": 0.3333333333333333},
 {"name": "llm-judge.rating", "count": 4, "nan_count": 0, "mean": 0.5},
 {"name": "bleu.sentence", "count": 4, "nan_count": 0, "mean": 0.1}
]}"""
ROWS = b"""{"row_index": 1, "metrics": {"tool-calling": [{"name": "function_name_accuracy", "value": 1.0}, {"name": "function_name_and_args_accuracy", "value": NaN}], "llm-judge": [{"name": "rating", "value": 1.0}]}}
{"row_index": 0, "metrics": {"tool-calling": [{"name": "function_name_accuracy", "value": 1.0}, {"name": "function_name_and_args_accuracy", "value": 1.0}], "llm-judge": [{"name": "rating", "value": 0.0}]}}
{"row_index": 2, "metrics": {"tool-calling": [{"name": "function_name_accuracy", "value": 0.0}, {"name": "function_name_and_args_accuracy", "value": 0.0}], "llm-judge": [{"name": "rating", "value": 0.0}]}}
{"row_index": 3, "metrics": {"tool-calling": [{"name": "function_name_accuracy", "value": 1.0}, {"name": "function_name_and_args_accuracy", "value": 0.0}], "llm-judge": [{"name": "rating", "value": 1.0}]}}
"""


def test_results_map_to_neutral_scores_with_samples_in_row_order() -> None:
    results = parse_results(parse_json(AGGREGATE, "aggregate-scores"), parse_rows(ROWS))
    assert results.scores == {
        "function_name_accuracy": Score("function_name_accuracy", 0.75, 0.75, 4, 0),
        "function_name_and_args_accuracy": Score(
            "function_name_and_args_accuracy", 0.3333333333333333, 0.3333333333333333, 3, 1
        ),
        "tool_calling_correctness": Score("tool_calling_correctness", 0.5, 0.5, 4, 0),
    }
    assert results.samples == {
        "function_name_accuracy": [1.0, 1.0, 0.0, 1.0],
        "function_name_and_args_accuracy": [1.0, None, 0.0, 0.0],
        "tool_calling_correctness": [0.0, 1.0, 0.0, 1.0],
    }


def test_similarity_is_normalised_from_one_to_ten() -> None:
    aggregate = {"scores": [{"name": "llm-judge.similarity", "count": 2, "nan_count": 1, "mean": 5.5}]}
    rows = [{"row_index": 0, "metrics": {"llm-judge": [{"name": "similarity", "value": 10}]}},
            {"row_index": 1, "metrics": {"llm-judge": [{"name": "similarity", "value": 1}]}},
            {"row_index": 2, "metrics": {"llm-judge": [{"name": "similarity", "value": None}]}}]  # fmt: skip
    results = parse_results(aggregate, rows)
    assert results.scores == {"similarity": Score("similarity", 5.5, 0.5, 2, 1)}
    assert results.samples == {"similarity": [1.0, 0.0, None]}


def test_results_without_rows_still_have_scores() -> None:
    results = parse_results(parse_json(AGGREGATE, "aggregate-scores"), None)
    assert set(results.scores) == {"function_name_accuracy", "function_name_and_args_accuracy",
                                   "tool_calling_correctness"}  # fmt: skip
    assert results.samples == {}
