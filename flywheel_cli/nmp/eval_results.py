"""Evaluator v1 results → neutral scores: the aggregate JSON and the per-sample `results.json` of the archive.

Aggregates sit at `tasks.<task>.metrics.<metric>.scores.<score>.value`. The archive's per-sample layout is not
documented and has changed between releases, so it is read tolerantly: anything unrecognised yields no samples
rather than wrong ones.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

from flywheel_cli.nmp.statuses import as_dict, as_float, as_int
from flywheel_cli.platforms.base import EvaluationResults, Score

# Evaluator score name → neutral metric name.
NEUTRAL_NAMES = {
    "function_name_accuracy": "function_name_accuracy",
    "function_name_and_args_accuracy": "function_name_and_args_accuracy",
    "rating": "tool_calling_correctness",  # the 0/1 judge of tool calls
    "similarity": "similarity",  # the 1–10 judge of generic answers
}


def normalise(metric: str, value: float) -> float:
    """Map a raw score into [0, 1]: similarity is a 1–10 rating, the others are already fractions."""
    if metric == "similarity":
        value = (value - 1.0) / 9.0
    return min(1.0, max(0.0, value))


def parse_results(aggregate: dict[str, Any], archive: bytes | None) -> EvaluationResults:
    raw_scores: dict[str, tuple[float, dict[str, Any]]] = {}
    for task in as_dict(aggregate.get("tasks")).values():
        for metric in as_dict(as_dict(task).get("metrics")).values():
            for score_name, score in as_dict(as_dict(metric).get("scores")).items():
                neutral = NEUTRAL_NAMES.get(score_name)
                value = as_float(as_dict(score).get("value"))
                if neutral is not None and value is not None:
                    raw_scores[neutral] = (value, as_dict(as_dict(score).get("stats")))
    samples = _samples(archive, set(raw_scores)) if archive else {}
    scores: dict[str, Score] = {}
    for metric, (value, stats) in raw_scores.items():
        values = samples.get(metric)
        if values:
            failed = sum(1 for v in values if v is None)
        else:
            failed = as_int(stats.get("nan_count")) or 0
        count = as_int(stats.get("count"))
        if count is None and values:
            count = len(values) - failed
        scores[metric] = Score(
            metric=metric, raw=value, normalised=normalise(metric, value), count=count, failed=failed
        )
    return EvaluationResults(scores=scores, samples=samples)


def _samples(archive: bytes, metrics: set[str]) -> dict[str, list[float | None]]:
    document = _results_document(archive)
    if document is None:
        return {}
    rows = [_sample_values(row.get("metrics")) for row in _sample_rows(document)]
    samples: dict[str, list[float | None]] = {}
    for metric in sorted(metrics):
        values = [row.get(metric) for row in rows]
        # A metric that no row reports means we do not understand the layout, not that every sample failed.
        if any(v is not None for v in values):
            samples[metric] = [normalise(metric, v) if v is not None else None for v in values]
    return samples


def _results_document(archive: bytes) -> Any:
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            names = sorted((n for n in bundle.namelist() if n.rsplit("/", 1)[-1] == "results.json"), key=len)
            if not names:
                return None
            content = bundle.read(names[0])
    except zipfile.BadZipFile:
        content = archive  # some servers answer the JSON itself
    try:
        # The stdlib parser, not orjson: Python-written results carry NaN for samples the judge could not rate.
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None


def _sample_rows(document: Any) -> Iterator[dict[str, Any]]:
    """Per-sample rows: a list of rows, or lists of rows under task keys (or under `samples`/`results`/`data`)."""
    if isinstance(document, list):
        yield from (row for row in document if isinstance(row, dict) and "metrics" in row)
    elif isinstance(document, dict):
        for value in document.values():
            if isinstance(value, (list, dict)):
                yield from _sample_rows(value) if isinstance(value, list) else _nested_rows(value)


def _nested_rows(value: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "metrics" in value:
        return  # an aggregate, not a sample list
    for inner in value.values():
        if isinstance(inner, list):
            yield from (row for row in inner if isinstance(row, dict) and "metrics" in row)


def _sample_values(metrics: Any) -> dict[str, float | None]:
    """Neutral metric → raw value for one sample, wherever the known score names sit in its metrics tree."""
    found: dict[str, float | None] = {}

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            neutral = NEUTRAL_NAMES.get(key)
            if neutral is not None:
                raw = value.get("value") if isinstance(value, dict) else value
                found[neutral] = as_float(raw)
            else:
                walk(value)

    walk(metrics)
    return found
