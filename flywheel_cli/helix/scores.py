"""Helix evaluation results → neutral scores: `aggregate-scores` (one entry per `<metric type>.<output>`) and
`row-scores` (JSONL, one line per dataset row with `metrics: {<metric type>: [{name, value}]}`).

Both may hold NaN for a sample that could not be scored (malformed arguments, an unparseable judge answer), so they
are read with the stdlib parser, which accepts NaN, and NaN becomes None (a failed sample).
"""

from __future__ import annotations

import json
import math
from typing import Any

from flywheel_cli.errors import RemoteError
from flywheel_cli.platforms.base import EvaluationResults, Score

# (metric type, output) → neutral metric name. The judge's score names are flywheel's own (see platforms.helix).
NEUTRAL_NAMES: dict[tuple[str, str], str] = {
    ("tool-calling", "function_name_accuracy"): "function_name_accuracy",
    ("tool-calling", "function_name_and_args_accuracy"): "function_name_and_args_accuracy",
    ("llm-judge", "rating"): "tool_calling_correctness",  # 0/1 judge of tool calls
    ("llm-judge", "similarity"): "similarity",  # 1–10 judge of text answers
}


def normalise(metric: str, value: float) -> float:
    """Into [0, 1]: similarity is a 1–10 rating, the others are fractions already."""
    if metric == "similarity":
        value = (value - 1.0) / 9.0
    return min(1.0, max(0.0, value))


def neutral_name(name: str) -> str | None:
    metric_type, _, output = name.partition(".")
    return NEUTRAL_NAMES.get((metric_type, output))


def parse_json(content: bytes, what: str) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise RemoteError(f"Helix answered {what} with a body that is not JSON") from None


def parse_rows(content: bytes) -> list[dict[str, Any]]:
    rows = []
    for line in content.splitlines():
        if line.strip():
            value = parse_json(line, "a row-scores line")
            if isinstance(value, dict):
                rows.append(value)
    return sorted(rows, key=lambda r: r.get("row_index") if isinstance(r.get("row_index"), int) else 0)


def parse_results(aggregate: Any, rows: list[dict[str, Any]] | None) -> EvaluationResults:
    entries = aggregate.get("scores") if isinstance(aggregate, dict) else None
    if not isinstance(entries, list):
        raise RemoteError("Helix's aggregate scores have no `scores` list")
    samples = _samples(rows or [])
    scores: dict[str, Score] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        metric = neutral_name(str(entry.get("name", "")))
        mean = _number(entry.get("mean"))
        if metric is None or mean is None:
            continue
        count = entry.get("count") if isinstance(entry.get("count"), int) else None
        failed = entry.get("nan_count") if isinstance(entry.get("nan_count"), int) else 0
        scores[metric] = Score(metric=metric, raw=mean, normalised=normalise(metric, mean), count=count, failed=failed)
    return EvaluationResults(scores=scores, samples={m: v for m, v in samples.items() if m in scores})


def _samples(rows: list[dict[str, Any]]) -> dict[str, list[float | None]]:
    per_row: list[dict[str, float | None]] = []
    for row in rows:
        values: dict[str, float | None] = {}
        metrics = row.get("metrics") if isinstance(row.get("metrics"), dict) else {}
        for metric_type, outputs in metrics.items():
            for output in outputs if isinstance(outputs, list) else []:
                if not isinstance(output, dict):
                    continue
                metric = NEUTRAL_NAMES.get((metric_type, str(output.get("name"))))
                if metric is not None:
                    value = _number(output.get("value"))
                    values[metric] = normalise(metric, value) if value is not None else None
        per_row.append(values)
    names = sorted({name for values in per_row for name in values})
    return {name: [values.get(name) for values in per_row] for name in names}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) or math.isinf(value) else float(value)
