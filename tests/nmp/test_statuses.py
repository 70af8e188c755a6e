"""Status normalisation: NMP strings (any case, any release) → neutral states; unknown never crashes."""

from __future__ import annotations

import pytest

from flywheel_cli.nmp.statuses import (
    artifact_state,
    customization_status,
    deployment_state,
    deployment_status,
    evaluation_status,
    job_state,
)
from flywheel_cli.platforms.base import DeploymentState, JobState, JobStatus

from .conftest import fixture


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("created", JobState.PENDING),
        ("PENDING", JobState.PENDING),
        (" Running ", JobState.RUNNING),
        ("active", JobState.RUNNING),
        ("completed", JobState.COMPLETED),
        ("ready", JobState.COMPLETED),
        ("FAILED", JobState.FAILED),
        ("error", JobState.FAILED),
        ("cancelling", JobState.CANCELLED),
        ("cancelled", JobState.CANCELLED),
        ("paused", JobState.PENDING),
        ("warming_up", JobState.UNKNOWN),
        ("unknown", JobState.UNKNOWN),
        (None, JobState.UNKNOWN),
        (3, JobState.UNKNOWN),
    ],
)
def test_job_states(raw: object, state: JobState) -> None:
    assert job_state(raw) is state


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("ready", DeploymentState.READY),
        ("READY", DeploymentState.READY),
        ("pending", DeploymentState.PENDING),
        ("created", DeploymentState.PENDING),
        ("running", DeploymentState.PENDING),
        ("failed", DeploymentState.FAILED),
        ("deleting", DeploymentState.DELETED),
        ("unknown", DeploymentState.UNKNOWN),
        ("scaling", DeploymentState.UNKNOWN),
    ],
)
def test_deployment_states(raw: str, state: DeploymentState) -> None:
    assert deployment_state(raw) is state


def test_artifact_states() -> None:
    assert artifact_state("upload_completed") is JobState.COMPLETED
    assert artifact_state("upload_failed") is JobState.FAILED
    assert artifact_state("created") is JobState.PENDING
    assert artifact_state("mirrored") is JobState.UNKNOWN


def test_customization_running_progress() -> None:
    assert customization_status(fixture("customization_job_running")) == JobStatus(
        state=JobState.RUNNING,
        raw_status="running",
        progress=45.0,
        detail="training started",
        epochs_completed=1,
        steps_completed=219,
        train_loss=0.0528,
        val_loss=0.0474,
    )


def test_customization_failure_detail_is_the_last_log_detail() -> None:
    status = customization_status(fixture("customization_job_failed"))
    assert status.state is JobState.FAILED
    assert status.detail == "CUDA out of memory on rank 0"
    assert status.progress == 100.0  # a failed job can report 100 %: the state decides, not the percentage


def test_customization_status_subresource_and_drift() -> None:
    # GET .../status answers the details object itself.
    assert customization_status(fixture("customization_status")).progress == 45.0
    drifted = {"status": "QUEUED_FOR_GPU", "status_details": {"percentage_done": "n/a", "extra": {"x": 1}}}
    status = customization_status(drifted)
    assert status == JobStatus(state=JobState.UNKNOWN, raw_status="queued_for_gpu")
    assert customization_status({}) == JobStatus(state=JobState.UNKNOWN, raw_status="unknown")


def test_evaluation_status() -> None:
    assert evaluation_status(fixture("evaluation_job_running")) == JobStatus(
        state=JobState.RUNNING,
        raw_status="running",
        progress=26.0,
        detail="Evaluation is running",
        samples_processed=26,
    )
    failed = evaluation_status(fixture("evaluation_job_failed"))
    assert (failed.state, failed.detail) == (JobState.FAILED, "Judge endpoint returned HTTP 401 for every request")
    done = evaluation_status(fixture("evaluation_job_completed"))
    assert (done.state, done.progress, done.detail) == (JobState.COMPLETED, 100.0, None)
    created = evaluation_status(fixture("evaluation_job_created"))
    assert (created.state, created.progress) == (JobState.PENDING, None)


def test_deployment_status() -> None:
    status = deployment_status(fixture("model_deployment_failed"))
    assert (status.state, status.raw_status) == (DeploymentState.FAILED, "failed")
    assert status.detail == "Insufficient nvidia.com/gpu: 0/1 nodes are available"
    assert deployment_status({"status_details": {"status": "Ready"}}).state is DeploymentState.READY
    assert deployment_status({}).state is DeploymentState.UNKNOWN
