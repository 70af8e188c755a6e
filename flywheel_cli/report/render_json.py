"""The versioned JSON view (`kind: "report"`); its shape is REPORT_SCHEMA in schema.py."""

from __future__ import annotations

from typing import Any

import orjson

from flywheel_cli.report.model import Experiment, Report, Score

VERSION = 1


def _score(score: Score) -> dict[str, Any]:
    return {
        "value": score.value,
        "raw": score.raw,
        "count": score.count,
        "failed": score.failed,
        "ci_low": score.ci_low,
        "ci_high": score.ci_high,
    }


def _experiment(exp: Experiment, headline: list[str]) -> dict[str, Any]:
    return {
        "nim": exp.nim,
        "experiment": exp.name,
        "status": exp.status,
        "failed_stage": exp.failed_stage,
        "error": exp.error,
        "skip_reason": exp.skip_reason,
        "runtime_seconds": exp.runtime_seconds,
        "job_id": exp.job_id,
        "target_model": exp.target_model,
        "relative": dict(exp.relative),
        "min_relative": exp.min_relative(headline) if headline else None,
        "qualifies": exp.qualifies,
        "cost_per_1k": exp.cost_per_1k,
        "saving_per_1k": exp.saving_per_1k,
        "saving_share": exp.saving_share,
    }


def payload(report: Report) -> dict[str, Any]:
    """Everything but `version` and `kind`, for `AppContext.emit_json("report", ...)`."""
    ds = report.dataset
    v = report.verdict
    return {
        "run": {
            "id": report.run.id,
            "status": report.run.status,
            "client_id": report.run.client_id,
            "created_at": report.run.created_at,
            "finished_at": report.run.finished_at,
            "error": report.run.error,
        },
        "workload": {"id": report.workload_id, "type": report.workload_type},
        "datasets": {
            "id": ds.id if ds else None,
            "eval_records": ds.eval_records if ds else None,
            "train_records": ds.train_records if ds else None,
            "val_records": ds.val_records if ds else None,
            "seed": ds.seed if ds else None,
        },
        "platform": {"kind": report.platform, "endpoint": report.endpoint},
        "simulated": report.simulated,
        "metrics": list(report.metrics),
        "headline_metrics": list(report.headline_metrics),
        "reference": {
            "label": report.reference.label,
            "model": report.reference.model,
            "price_per_1k": report.reference.price_per_1k,
            "scores": {m: _score(s) for m, s in report.reference.scores.items()},
        },
        "nims": [
            {
                "model_name": nim.model_name,
                "status": nim.status,
                "failures": [{"stage": stage, "error": error} for stage, error in nim.failures],
                "size_b": nim.size_b,
                "price_per_1k": nim.price_per_1k,
                "customization": None
                if nim.customization is None
                else {
                    "status": nim.customization.status,
                    "error": nim.customization.error,
                    "output_model": nim.customization.output_model,
                    "epochs_completed": nim.customization.epochs_completed,
                    "steps_completed": nim.customization.steps_completed,
                    "train_loss": nim.customization.train_loss,
                    "val_loss": nim.customization.val_loss,
                    "runtime_seconds": nim.customization.runtime_seconds,
                    "job_id": nim.customization.job_id,
                },
            }
            for nim in report.nims
        ],
        "experiments": [_experiment(e, report.headline_metrics) for e in report.experiments],
        "scores": [
            {"nim": e.nim, "experiment": e.name, "metric": m, **_score(s), "relative": e.relative.get(m)}
            for e in report.experiments
            for m, s in e.scores.items()
        ],
        "verdict": {
            "qualified": v.qualified,
            "nim": v.nim,
            "experiment": v.experiment,
            "basis": v.basis,
            "threshold": v.threshold,
            "headline_metrics": list(v.headline_metrics),
            "qualifying": [{"nim": n, "experiment": e} for n, e in v.qualifying],
            "best": None if v.best is None else {"nim": v.best[0], "experiment": v.best[1]},
            "shortfall": dict(v.shortfall),
            "reason": v.reason,
            "text": v.text,
        },
        "notes": list(report.notes),
    }


def to_json(report: Report) -> dict[str, Any]:
    return {"version": VERSION, "kind": "report", **payload(report)}


def render_json(report: Report) -> str:
    # Same bytes as `--json` on stdout (AppContext.emit_json): two-space indent, trailing newline.
    return orjson.dumps(to_json(report), option=orjson.OPT_INDENT_2).decode() + "\n"
