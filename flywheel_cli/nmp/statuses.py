"""NMP v1 status strings → the neutral states of `platforms.base`, tolerant of case, drift and newcomers.

Wire values are lower-case but docs print them upper-case, and newer services (Evaluator v2, platform jobs) add
`active`/`error`/`paused`. Anything unknown maps to UNKNOWN, which keeps a wait polling instead of crashing it.
"""

from __future__ import annotations

from typing import Any

from flywheel_cli.platforms.base import DeploymentState, DeploymentStatus, JobState, JobStatus
from flywheel_cli.platforms.coerce import as_dict, as_float, as_int

_JOB_STATES: dict[str, JobState] = {
    "created": JobState.PENDING,
    "pending": JobState.PENDING,
    "paused": JobState.PENDING,
    "pausing": JobState.PENDING,
    "resuming": JobState.PENDING,
    "running": JobState.RUNNING,
    "active": JobState.RUNNING,
    "completed": JobState.COMPLETED,
    "ready": JobState.COMPLETED,
    "failed": JobState.FAILED,
    "error": JobState.FAILED,
    "cancelling": JobState.CANCELLED,
    "cancelled": JobState.CANCELLED,
}

_DEPLOYMENT_STATES: dict[str, DeploymentState] = {
    "created": DeploymentState.PENDING,
    "pending": DeploymentState.PENDING,
    "running": DeploymentState.PENDING,  # pods up, model not yet serving
    "ready": DeploymentState.READY,
    "failed": DeploymentState.FAILED,
    "error": DeploymentState.FAILED,
    "cancelled": DeploymentState.DELETED,
    "cancelling": DeploymentState.DELETED,
    "deleting": DeploymentState.DELETED,
    "deleted": DeploymentState.DELETED,
}

_ARTIFACT_STATES: dict[str, JobState] = {
    "created": JobState.PENDING,
    "upload_completed": JobState.COMPLETED,
    "upload_failed": JobState.FAILED,
}


def normalise(raw: Any) -> str:
    return raw.strip().lower() if isinstance(raw, str) else ""


def job_state(raw: Any) -> JobState:
    return _JOB_STATES.get(normalise(raw), JobState.UNKNOWN)


def deployment_state(raw: Any) -> DeploymentState:
    return _DEPLOYMENT_STATES.get(normalise(raw), DeploymentState.UNKNOWN)


def artifact_state(raw: Any) -> JobState:
    return _ARTIFACT_STATES.get(normalise(raw), JobState.UNKNOWN)


def customization_status(job: dict[str, Any]) -> JobStatus:
    """From a customization job (GET job) or its status object (GET job/status)."""
    details = as_dict(job.get("status_details"))
    if not details and "percentage_done" in job:
        details = job  # the /status sub-resource is the details object itself
    raw = normalise(job.get("status") or details.get("status"))
    state = job_state(raw)
    return JobStatus(
        state=state,
        raw_status=raw or "unknown",
        progress=as_float(details.get("percentage_done")),
        detail=_last_log_detail(details.get("status_logs")) if state is not JobState.COMPLETED else None,
        epochs_completed=as_int(details.get("epochs_completed")),
        steps_completed=as_int(details.get("steps_completed")),
        train_loss=as_float(details.get("train_loss")),
        val_loss=as_float(details.get("val_loss")),
    )


def evaluation_status(job: dict[str, Any]) -> JobStatus:
    """From an evaluation job (GET job); `status_details.message` carries the failure reason."""
    details = as_dict(job.get("status_details"))
    raw = normalise(job.get("status"))
    state = job_state(raw)
    message = details.get("message")
    return JobStatus(
        state=state,
        raw_status=raw or "unknown",
        progress=as_float(details.get("progress")),
        detail=message if isinstance(message, str) and message and state is not JobState.COMPLETED else None,
        samples_processed=as_int(details.get("samples_processed")),
    )


def deployment_status(deployment: dict[str, Any]) -> DeploymentStatus:
    details = as_dict(deployment.get("status_details"))
    raw = normalise(details.get("status") or deployment.get("status"))
    description = details.get("description")
    return DeploymentStatus(
        state=deployment_state(raw),
        raw_status=raw or "unknown",
        detail=description if isinstance(description, str) and description else None,
    )


def _last_log_detail(logs: Any) -> str | None:
    """The newest non-empty `detail` (failure reason) or, failing that, `message` of the status logs."""
    if not isinstance(logs, list):
        return None
    for key in ("detail", "message"):
        for entry in reversed(logs):
            value = entry.get(key) if isinstance(entry, dict) else None
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None
