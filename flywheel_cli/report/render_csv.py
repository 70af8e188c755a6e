"""The CSV view: one row per NIM × experiment × metric (the reference rows first), for spreadsheets and pandas."""

from __future__ import annotations

import csv
import io

from flywheel_cli.report.model import Report, Score

COLUMNS = [
    "run_id",
    "workload_id",
    "nim",
    "experiment",
    "metric",
    "value",
    "raw",
    "count",
    "failed",
    "ci_low",
    "ci_high",
    "relative",
    "status",
    "failed_stage",
    "error",
    "runtime_seconds",
    "cost_per_1k",
    "simulated",
]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)


def _score_cells(score: Score | None) -> list[object]:
    if score is None:
        return [None] * 6
    return [score.value, score.raw, score.count, score.failed, score.ci_low, score.ci_high]


def render_csv(report: Report) -> str:
    """Experiments without a score for a metric still get their row (empty values), so no failure drops out."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    head = [report.run.id, report.workload_id]
    # With nothing scored at all, one row per experiment still shows its status.
    metrics: list[str | None] = list(report.metrics) or [None]
    ref = report.reference
    for metric in report.metrics:
        row = [*head, ref.model or ref.label, "reference", metric, *_score_cells(ref.scores[metric]), 1.0,
               "logged", None, None, None, ref.price_per_1k, report.simulated]
        writer.writerow([_cell(v) for v in row])
    for exp in report.experiments:
        for metric in metrics:
            score = exp.scores.get(metric) if metric else None
            row = [*head, exp.nim, exp.name, metric, *_score_cells(score), exp.relative.get(metric) if metric else None,
                   exp.status, exp.failed_stage, exp.error, exp.runtime_seconds, exp.cost_per_1k, report.simulated]
            writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()
