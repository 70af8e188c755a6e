"""Helix status strings → the neutral states of `platforms.base` (the same neutral states NMP's map to).

Jobs report a `HelixJobStatus`: created, pending, active, cancelling, cancelled, error, completed, paused, pausing,
resuming. Model deployments report UPPER-case `ModelDeploymentStatus`. Anything unknown maps to UNKNOWN, which keeps
a wait polling instead of crashing it.
"""

from __future__ import annotations

import re
from typing import Any

from flywheel_cli.platforms.base import DeploymentState, DeploymentStatus, JobState, JobStatus
from flywheel_cli.platforms.coerce import as_dict, as_float, as_int

JOB_STATES: dict[str, JobState] = {
    "created": JobState.PENDING,
    "pending": JobState.PENDING,
    "paused": JobState.PENDING,
    "pausing": JobState.PENDING,
    "resuming": JobState.PENDING,
    "active": JobState.RUNNING,
    "running": JobState.RUNNING,
    "completed": JobState.COMPLETED,
    "error": JobState.FAILED,
    "failed": JobState.FAILED,
    "cancelling": JobState.CANCELLED,
    "cancelled": JobState.CANCELLED,
}

DEPLOYMENT_STATES: dict[str, DeploymentState] = {
    "unknown": DeploymentState.PENDING,  # a new deployment before its controller first looked at it
    "created": DeploymentState.PENDING,
    "pending": DeploymentState.PENDING,
    "ready": DeploymentState.READY,
    "error": DeploymentState.FAILED,
    "lost": DeploymentState.FAILED,
    "deleting": DeploymentState.DELETED,
    "deleted": DeploymentState.DELETED,
}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ROOT_ERROR = re.compile(r"root_error='(?P<text>(?:[^'\\]|\\.)*)'")
_EXCEPTION = re.compile(r"(?:^|\s)(?P<text>[A-Za-z_][\w.]*(?:Error|Exception): .+)$")
DETAIL_LIMIT = 400


def normalise(raw: Any) -> str:
    return raw.strip().lower() if isinstance(raw, str) else ""


def job_state(raw: Any) -> JobState:
    return JOB_STATES.get(normalise(raw), JobState.UNKNOWN)


def job_status(body: dict[str, Any], *, detail: str | None = None) -> JobStatus:
    """From a job (`GET …/jobs/{name}`) or its status (`GET …/jobs/{name}/status`).

    Evaluation jobs count scored rows in `status_details.evaluation`; training jobs report step, epoch and losses in
    the `status_details` of their training step's tasks.
    """
    raw = normalise(body.get("status"))
    state = job_state(raw)
    details = as_dict(body.get("status_details"))
    evaluation = as_dict(details.get("evaluation"))
    total, scored = as_int(evaluation.get("total")), as_int(evaluation.get("scored"))
    progress = 100.0 * scored / total if total and scored is not None else None
    training = _training_details(body.get("steps"))
    step, max_steps = as_int(training.get("step")), as_int(training.get("max_steps"))
    if progress is None and step is not None and max_steps:
        progress = min(100.0, 100.0 * step / max_steps)
    if state is JobState.FAILED and detail is None:
        detail = _message(as_dict(body.get("error_details"))) or _message(details)
    return JobStatus(
        state=state,
        raw_status=raw or "unknown",
        progress=progress,
        detail=detail if state in (JobState.FAILED, JobState.CANCELLED) else None,
        epochs_completed=as_int(training.get("epoch")),
        steps_completed=step,
        train_loss=as_float(training.get("train_loss", training.get("loss"))),
        val_loss=as_float(training.get("val_loss")),
        samples_processed=scored,
    )


def deployment_status(body: dict[str, Any]) -> DeploymentStatus:
    raw = normalise(body.get("status"))
    message = body.get("status_message")
    return DeploymentStatus(
        state=DEPLOYMENT_STATES.get(raw, DeploymentState.UNKNOWN),
        raw_status=raw or "unknown",
        detail=message if isinstance(message, str) and message else None,
    )


def failure_from_logs(entries: list[dict[str, Any]]) -> str | None:
    """The root cause of a failed job from its log lines: the job status only says "Job exited with code 1"."""
    messages = [_ANSI.sub("", str(e.get("message") or "")) for e in entries if isinstance(e, dict)]
    for message in reversed(messages):
        found = _ROOT_ERROR.search(message)
        if found:
            return _clip(found.group("text").replace("\\'", "'"))
    for message in reversed(messages):
        found = _EXCEPTION.search(message.strip())
        if found:
            return _clip(found.group("text"))
    return None


def _training_details(steps: Any) -> dict[str, Any]:
    """The status details of the training task that reports the most steps (step names differ across releases)."""
    best: dict[str, Any] = {}
    for step in steps if isinstance(steps, list) else []:
        for task in as_dict(step).get("tasks") or []:
            details = as_dict(as_dict(task).get("status_details"))
            if as_int(details.get("step")) is not None and (as_int(details.get("step")) or 0) >= (
                as_int(best.get("step")) or 0
            ):
                best = details
    return best


def _message(details: dict[str, Any]) -> str | None:
    message = details.get("message")
    return message.strip() if isinstance(message, str) and message.strip() else None


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"
