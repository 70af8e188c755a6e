"""The report as table rows of display strings, shared by the terminal, Markdown and HTML views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flywheel_cli.report.model import Experiment, Report, Score

DASH = "–"


def fmt_number(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def fmt_score(score: Score | None, *, exact: bool = False) -> str:
    """`0.83 [0.76–0.89] n=100`; the reference is exact, so it carries no interval."""
    if score is None:
        return DASH
    text = f"{score.value:.2f}"
    if not exact:
        ci = DASH if score.ci_low is None or score.ci_high is None else f"{score.ci_low:.2f}–{score.ci_high:.2f}"
        text += f" [{ci}]"
    if score.count is not None:
        text += f" n={score.count}"
    if score.failed:
        text += f" ({score.failed} unrated)"
    return text


def fmt_share(value: float | None) -> str:
    return DASH if value is None else f"{value:.1%}"


def fmt_runtime(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m {total % 60:02d}s"
    return f"{total // 3600}h {total % 3600 // 60:02d}m"


def fmt_time(epoch: float | None) -> str:
    if epoch is None:
        return DASH
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def fmt_status(exp: Experiment) -> str:
    if exp.failed_stage is not None:
        return f"{exp.status} — {exp.failed_stage} failed: {exp.error or 'no error recorded'}"
    if exp.skip_reason:
        return f"{exp.status} — {exp.skip_reason}"
    return exp.status


def title(report: Report) -> str:
    prefix = "SIMULATED (sandbox) · " if report.simulated else ""
    return f"{prefix}flywheel report · {report.run.id} · workload {report.workload_id} · run {report.run.status}"


def facts(report: Report) -> list[tuple[str, str]]:
    """The run's context, as (label, value) lines under the title."""
    ds = report.dataset
    if ds is None:
        dataset = DASH
    else:
        parts = [ds.id]
        counts = (("eval", ds.eval_records), ("train", ds.train_records), ("val", ds.val_records))
        parts += [f"{label} {n}" for label, n in counts if n is not None]
        if ds.seed is not None:
            parts.append(f"seed {ds.seed}")
        dataset = " · ".join(parts)
    run = report.run
    threshold = f"≥ {report.min_relative_score:.1%} of the reference on {', '.join(report.headline_metrics) or DASH}"
    return [
        ("workload", f"{report.workload_id} ({report.workload_type.replace('_', ' ')})"),
        ("run", f"{run.id} · {run.status} · started {fmt_time(run.created_at)} · finished {fmt_time(run.finished_at)}"),
        ("dataset", dataset),
        ("platform", f"{report.platform} at {report.endpoint}"),
        ("scores", "SIMULATED — sandbox models, not real ones" if report.simulated else "measured"),
        ("qualifies at", threshold),
    ]


@dataclass(frozen=True)
class Row:
    nim: str
    experiment: str
    cells: list[str]  # one per report.metrics
    relative: str
    runtime: str
    status: str
    cost: str
    saving: str
    reference: bool = False
    chosen: bool = False
    failed: bool = False


def columns(report: Report) -> list[str]:
    cols = ["NIM", "experiment", *report.metrics, "relative", "runtime", "status"]
    if report.priced:
        cols += ["cost / 1k req", "saving"]
    return cols


def cells(row: Row, report: Report) -> list[str]:
    out = [row.nim, row.experiment, *row.cells, row.relative, row.runtime, row.status]
    if report.priced:
        out += [row.cost, row.saving]
    return out


def table_rows(report: Report) -> list[Row]:
    """The reference row first, then one row per NIM × experiment in run order."""
    ref = report.reference
    rows = [
        Row(
            nim=ref.label,
            experiment="reference",
            cells=[fmt_score(ref.scores.get(m), exact=True) for m in report.metrics],
            relative=fmt_share(1.0) if report.metrics else DASH,
            runtime=DASH,
            status="logged",
            cost=fmt_number(ref.price_per_1k),
            saving=DASH,
            reference=True,
        )
    ]
    verdict = report.verdict
    for exp in report.experiments:
        rel = exp.min_relative(report.headline_metrics) if report.headline_metrics else None
        saving = DASH
        if exp.saving_per_1k is not None:
            saving = f"{exp.saving_per_1k:.2f}" + (f" ({exp.saving_share:.0%})" if exp.saving_share is not None else "")
        rows.append(
            Row(
                nim=exp.nim,
                experiment=exp.name,
                cells=[fmt_score(exp.scores.get(m)) for m in report.metrics],
                relative=fmt_share(rel),
                runtime=fmt_runtime(exp.runtime_seconds),
                status=fmt_status(exp),
                cost=fmt_number(exp.cost_per_1k),
                saving=saving,
                chosen=verdict.qualified and (exp.nim, exp.name) == (verdict.nim, verdict.experiment),
                failed=exp.failed_stage is not None,
            )
        )
    return rows


def verdict_line(report: Report) -> str:
    return f"verdict: {report.verdict.text}"


def legend(report: Report) -> str:
    headline = ", ".join(report.headline_metrics) or DASH
    return f"cells: mean [95% bootstrap CI] n=samples · relative: lowest headline metric ({headline}) ÷ reference"


def customization_rows(report: Report) -> list[list[str]]:
    header = ["NIM", "status", "epochs", "steps", "train loss", "val loss", "runtime", "output model"]
    rows = [header]
    for nim in report.nims:
        c = nim.customization
        if c is None:
            continue
        status = c.status if not c.error else f"{c.status} — {c.error}"
        rows.append([
            nim.model_name,
            status,
            DASH if c.epochs_completed is None else str(c.epochs_completed),
            DASH if c.steps_completed is None else str(c.steps_completed),
            fmt_number(c.train_loss, 3),
            fmt_number(c.val_loss, 3),
            fmt_runtime(c.runtime_seconds),
            c.output_model or DASH,
        ])
    return rows if len(rows) > 1 else []


def template_context(report: Report) -> dict[str, Any]:
    """What the Markdown and HTML templates both show, computed once from the one result model."""
    return {
        "report": report,
        "title": title(report),
        "facts": facts(report),
        "columns": columns(report),
        "rows": table_rows(report),
        "row_cells": lambda row: cells(row, report),
        "legend": legend(report),
        "verdict": verdict_line(report),
        "customization": customization_rows(report),
    }
