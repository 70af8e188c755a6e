"""Evaluator v1 client: create (never twice), get, status, results, archive, cancel, delete, list."""

from __future__ import annotations

import httpx
import pytest
import respx

from flywheel_cli.nmp.evaluator import EvaluatorClient
from flywheel_cli.nmp.http import ServiceClient
from flywheel_cli.platforms.base import JobState

from .conftest import NEMO, SleepRecorder, body, fixture

JOBS = f"{NEMO}/v1/evaluation/jobs"
EVAL_ID = "eval-QbibneF16tyDiCJWc9oxgZ"
NAME = "flywheel-eval-tool_router-base-a1b2c3"
BODY = {"namespace": "flywheel", "custom_fields": {"flywheel": "1", "flywheel_name": NAME}, "config": {}, "target": {}}


@pytest.fixture
def evaluator(sleeps: SleepRecorder) -> EvaluatorClient:
    return EvaluatorClient(ServiceClient("Evaluator", NEMO, setting="nmp.nemo_url", sleep=sleeps))


def test_create_job(mock: respx.MockRouter, evaluator: EvaluatorClient) -> None:
    route = mock.post(JOBS).respond(200, json=fixture("evaluation_job_created"))
    job = evaluator.create_job(BODY)
    assert body(route.calls.last.request) == BODY
    assert (job.id, job.name, job.namespace, job.status.state) == (EVAL_ID, NAME, "flywheel", JobState.PENDING)


def test_ambiguous_create_finds_the_job_by_its_flywheel_name(
    mock: respx.MockRouter, evaluator: EvaluatorClient
) -> None:
    post = mock.post(JOBS).respond(502, text="Bad Gateway")
    listing = mock.get(JOBS).respond(200, json=fixture("evaluation_jobs_page"))
    assert evaluator.create_job(BODY).id == EVAL_ID
    assert post.call_count == 1
    assert dict(listing.calls.last.request.url.params) == {
        "filter[namespace]": "flywheel",
        "sort": "-created_at",
        "page": "1",
        "page_size": "100",
    }


def test_ambiguous_create_reposts_once_when_absent(mock: respx.MockRouter, evaluator: EvaluatorClient) -> None:
    post = mock.post(JOBS).mock(
        side_effect=[httpx.RemoteProtocolError("dropped"), httpx.Response(201, json=fixture("evaluation_job_created"))]
    )
    mock.get(JOBS).respond(200, json={"data": []})
    assert evaluator.create_job(BODY).id == EVAL_ID
    assert post.call_count == 2


def test_get_status_results_cancel_delete(mock: respx.MockRouter, evaluator: EvaluatorClient) -> None:
    mock.get(f"{JOBS}/{EVAL_ID}").respond(200, json=fixture("evaluation_job_running"))
    mock.get(f"{JOBS}/{EVAL_ID}/status").respond(
        200, json={"message": "running", "progress": 26.0, "samples_processed": 26, "task_status": {}}
    )
    mock.get(f"{JOBS}/{EVAL_ID}/results").respond(200, json=fixture("evaluation_result_tool_calling"))
    cancel = mock.post(f"{JOBS}/{EVAL_ID}/cancel").respond(200, json=fixture("evaluation_job_running"))
    delete = mock.delete(f"{JOBS}/{EVAL_ID}").respond(200, json={"message": "deleted"})
    job = evaluator.get_job(EVAL_ID)
    assert (job.status.state, job.status.progress, job.status.samples_processed) == (JobState.RUNNING, 26.0, 26)
    assert evaluator.job_status(EVAL_ID)["progress"] == 26.0
    assert evaluator.results(EVAL_ID)["job"] == EVAL_ID
    evaluator.cancel_job(EVAL_ID)
    assert evaluator.delete_job(EVAL_ID) is True
    assert cancel.call_count == 1 and delete.call_count == 1


def test_download_results(mock: respx.MockRouter, evaluator: EvaluatorClient) -> None:
    mock.get(f"{JOBS}/{EVAL_ID}/download-results").respond(200, content=b"PK\x03\x04zip")
    mock.get(f"{JOBS}/eval-2/download-results").respond(404, json={"detail": "No results"})
    assert evaluator.download_results(EVAL_ID) == b"PK\x03\x04zip"
    assert evaluator.download_results("eval-2") is None


def test_jobs_without_flywheel_name_are_named_by_id(mock: respx.MockRouter, evaluator: EvaluatorClient) -> None:
    mock.get(JOBS).respond(200, json=fixture("evaluation_jobs_page"))
    jobs = evaluator.list_jobs("flywheel")
    assert [(j.id, j.name) for j in jobs] == [
        ("eval-Zx8Pq2Lm5Rt7Vb3Nc6Yw1K", "eval-Zx8Pq2Lm5Rt7Vb3Nc6Yw1K"),
        (EVAL_ID, NAME),
    ]
    assert evaluator.find_job("flywheel", "flywheel-other") is None
