"""Evaluator results → neutral scores, with per-sample values from the results archive."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from flywheel_cli.nmp.eval_results import normalise, parse_results
from flywheel_cli.platforms.base import EvaluationResults, Score

from .conftest import fixture


def archive(document: object, name: str = "results/custom-tool-calling/results.json") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("results/logs.txt", "ok")
        bundle.writestr(name, json.dumps(document))
    return buffer.getvalue()


def tool_sample(name: float, args: float, rating: object) -> dict[str, object]:
    metrics: dict[str, object] = {
        "tool-calling-accuracy": {
            "scores": {
                "function_name_accuracy": {"value": name},
                "function_name_and_args_accuracy": {"value": args},
            }
        }
    }
    if rating is not None:
        metrics["correctness"] = {"scores": {"rating": {"value": rating}}}
    return {"item": {"workload_id": "tool_router"}, "sample": {"response": {}}, "metrics": metrics}


def test_aggregate_tool_calling_scores() -> None:
    results = parse_results(fixture("evaluation_result_tool_calling"), None)
    assert results == EvaluationResults(
        scores={
            "function_name_accuracy": Score("function_name_accuracy", 0.92, 0.92, 50),
            "function_name_and_args_accuracy": Score("function_name_and_args_accuracy", 0.72, 0.72, 50),
            "tool_calling_correctness": Score("tool_calling_correctness", 0.8, 0.8, 48, failed=2),
        }
    )


def test_similarity_is_normalised_from_1_to_10() -> None:
    results = parse_results(fixture("evaluation_result_generic"), None)
    score = results.scores["similarity"]
    assert (score.raw, score.count) == (8.2, 100)
    assert score.normalised == pytest.approx(0.8)
    assert [normalise("similarity", v) for v in (1, 10, 0, 12)] == [0.0, 1.0, 0.0, 1.0]
    assert normalise("function_name_accuracy", 1.2) == 1.0


def test_per_sample_values_and_failed_ratings() -> None:
    document = {
        "custom-tool-calling": [
            tool_sample(1.0, 0.0, 1),
            tool_sample(1.0, 1.0, "unparseable"),
            tool_sample(0.0, 0.0, None),
            tool_sample(1.0, 1.0, float("nan")),
        ]
    }
    results = parse_results(fixture("evaluation_result_tool_calling"), archive(document))
    assert results.samples == {
        "function_name_accuracy": [1.0, 1.0, 0.0, 1.0],
        "function_name_and_args_accuracy": [0.0, 1.0, 0.0, 1.0],
        "tool_calling_correctness": [1.0, None, None, None],
    }
    assert results.scores["tool_calling_correctness"].failed == 3
    assert results.scores["function_name_accuracy"].failed == 0


def test_generic_samples_in_a_flat_layout() -> None:
    document = [
        {"metrics": {"llm-judge": {"similarity": 10}}},
        {"metrics": {"llm-judge": {"similarity": 4}}},
        {"metrics": {"llm-judge": {}}},
    ]
    aggregate = fixture("evaluation_result_generic")
    del aggregate["tasks"]["llm-as-judge"]["metrics"]["llm-judge"]["scores"]["similarity"]["stats"]
    results = parse_results(aggregate, archive(document, name="results.json"))
    assert results.samples == {"similarity": [1.0, pytest.approx(1 / 3), None]}
    assert (results.scores["similarity"].count, results.scores["similarity"].failed) == (2, 1)


@pytest.mark.parametrize(
    "payload",
    [
        b"not a zip and not json",
        archive({"unexpected": {"shape": True}}),
        archive([{"metrics": {"other-metric": {"bleu": 0.4}}}]),
        archive({"x": 1}, name="summary.json"),
    ],
)
def test_unrecognised_archives_give_no_samples(payload: bytes) -> None:
    results = parse_results(fixture("evaluation_result_tool_calling"), payload)
    assert results.samples == {}
    assert results.scores["tool_calling_correctness"].failed == 2  # from stats.nan_count


def test_raw_json_instead_of_a_zip() -> None:
    document = {"custom-tool-calling": [tool_sample(1.0, 1.0, 1)]}
    results = parse_results(fixture("evaluation_result_tool_calling"), json.dumps(document).encode())
    assert results.samples["tool_calling_correctness"] == [1.0]


def test_unknown_score_names_and_drift_are_ignored() -> None:
    aggregate = {
        "tasks": {"t": {"metrics": {"m": {"scores": {"bleu": {"value": 0.3}, "similarity": {"value": "n/a"}}}}}}
    }
    assert parse_results(aggregate, None) == EvaluationResults(scores={})
    assert parse_results({}, None) == EvaluationResults(scores={})
