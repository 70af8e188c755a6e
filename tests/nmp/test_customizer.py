"""Customizer client: configs, jobs, and never starting a GPU job twice."""

from __future__ import annotations

import httpx
import pytest
import respx

from flywheel_cli.config import CustomizationConfig, TrainingConfig
from flywheel_cli.nmp.customizer import (
    CustomizationConfigInfo,
    CustomizerClient,
    config_body,
    config_name,
    job_body,
)
from flywheel_cli.nmp.errors import NmpError, Unreachable
from flywheel_cli.nmp.http import ServiceClient
from flywheel_cli.platforms.base import JobState

from .conftest import NEMO, SleepRecorder, body, fixture

JOBS = f"{NEMO}/v1/customization/jobs"
JOB_ID = "cust-FarcM8gwhL1XFDXQ57qGLL"
JOB_NAME = "flywheel-cust-tool_router-llama-3.2-1b-a1b2c3"


@pytest.fixture
def customizer(sleeps: SleepRecorder) -> CustomizerClient:
    return CustomizerClient(ServiceClient("Customizer", NEMO, setting="nmp.nemo_url", sleep=sleeps))


def test_config_and_job_bodies() -> None:
    training = TrainingConfig(alpha=16)
    assert config_name("meta/llama-3.2-1b-instruct") == "llama-3.2-1b-instruct@v1.0.0+flywheel"
    assert config_body(
        name="llama-3.2-1b-instruct@v1.0.0+flywheel",
        namespace="flywheel",
        target="meta/llama-3.2-1b-instruct@2.0",
        options=CustomizationConfig(gpus=2, max_seq_length=4096),
        training=training,
    ) == {
        "name": "llama-3.2-1b-instruct@v1.0.0+flywheel",
        "namespace": "flywheel",
        "target": "meta/llama-3.2-1b-instruct@2.0",
        "training_options": [
            {
                "training_type": "sft",
                "finetuning_type": "lora",
                "num_gpus": 2,
                "num_nodes": 1,
                "tensor_parallel_size": 1,
                "data_parallel_size": 1,
                "use_sequence_parallel": False,
                "micro_batch_size": 1,
            }
        ],
        "training_precision": "bf16-mixed",
        "max_seq_length": 4096,
    }
    assert job_body(
        name=JOB_NAME,
        namespace="flywheel",
        config="meta/llama-3.2-1b-instruct@v1.0.0+80GB",
        dataset="flywheel-train-tool_router-1757664843",
        output_model_name="llama-3.2-1b-tool_router",
        training=training,
    ) == {
        "name": JOB_NAME,
        "output_model": "flywheel/llama-3.2-1b-tool_router",
        "config": "meta/llama-3.2-1b-instruct@v1.0.0+80GB",
        "dataset": {"name": "flywheel-train-tool_router-1757664843", "namespace": "flywheel"},
        "hyperparameters": {
            "training_type": "sft",
            "finetuning_type": "lora",
            "epochs": 2,
            "batch_size": 16,
            "learning_rate": 0.0001,
            "lora": {"adapter_dim": 32, "adapter_dropout": 0.1, "alpha": 16},
        },
    }
    no_alpha = job_body(
        name="j", namespace="n", config="c", dataset="d", output_model_name="o", training=TrainingConfig()
    )
    assert no_alpha["hyperparameters"]["lora"] == {"adapter_dim": 32, "adapter_dropout": 0.1}


def test_list_configs_filters_and_parses_string_and_object_targets(
    mock: respx.MockRouter, customizer: CustomizerClient
) -> None:
    route = mock.get(f"{NEMO}/v1/customization/configs").respond(200, json=fixture("customization_configs_page"))
    configs = customizer.list_configs(target_base_model="meta/llama-3.2-1b-instruct")
    assert route.calls.last.request.url.params["filter[target_base_model]"] == "meta/llama-3.2-1b-instruct"
    assert configs == [
        CustomizationConfigInfo(
            name="llama-3.2-1b-instruct@v1.0.0+80GB",
            namespace="meta",
            target="meta/llama-3.2-1b-instruct@2.0",
            base_model=None,
            training_options=(("sft", "lora"), ("sft", "all_weights")),
        ),
        CustomizationConfigInfo(
            name="llama-3.1-8b-instruct@v1.0.0+80GB",
            namespace="meta",
            target="meta/llama-3.1-8b-instruct@2.0",
            base_model="meta/llama-3.1-8b-instruct",
            training_options=(("sft", "lora"),),
        ),
    ]
    assert configs[0].ref == "meta/llama-3.2-1b-instruct@v1.0.0+80GB"
    assert configs[0].offers("SFT", "lora") and not configs[0].offers("dpo", "lora")


def test_create_config_accepts_409(mock: respx.MockRouter, customizer: CustomizerClient) -> None:
    route = mock.post(f"{NEMO}/v1/customization/configs").respond(409, json={"detail": "already exists"})
    customizer.create_config({"name": "c"})
    assert body(route.calls.last.request) == {"name": "c"}


def test_create_job(mock: respx.MockRouter, customizer: CustomizerClient) -> None:
    route = mock.post(JOBS).respond(200, json=fixture("customization_job_created"))
    job = customizer.create_job({"name": JOB_NAME, "config": "c"})
    assert body(route.calls.last.request) == {"name": JOB_NAME, "config": "c"}
    assert (job.id, job.name, job.status.state) == (JOB_ID, JOB_NAME, JobState.PENDING)
    assert job.output_model == f"flywheel/llama-3.2-1b-tool_router@{JOB_ID}"
    assert job.config == "meta/llama-3.2-1b-instruct@v1.0.0+80GB"


def test_timed_out_create_is_not_reposted_when_the_job_exists(
    mock: respx.MockRouter, customizer: CustomizerClient
) -> None:
    post = mock.post(JOBS).mock(side_effect=httpx.ReadTimeout("slow"))
    listing = mock.get(JOBS).respond(200, json=fixture("customization_jobs_page"))
    job = customizer.create_job({"name": JOB_NAME})
    assert post.call_count == 1
    assert listing.calls.last.request.url.params["sort"] == "-created_at"
    assert (job.id, job.status.state) == (JOB_ID, JobState.RUNNING)


def test_timed_out_create_is_reposted_once_when_no_job_exists(
    mock: respx.MockRouter, customizer: CustomizerClient
) -> None:
    post = mock.post(JOBS).mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json=fixture("customization_job_created"))]
    )
    page = fixture("customization_jobs_page")
    page["data"] = page["data"][:1]  # only someone else's job
    mock.get(JOBS).respond(200, json=page)
    assert customizer.create_job({"name": JOB_NAME}).id == JOB_ID
    assert post.call_count == 2


def test_ambiguous_failures_are_looked_up_before_each_repost_then_raise(mock: respx.MockRouter, customizer: CustomizerClient) -> None:
    post = mock.post(JOBS).mock(side_effect=httpx.ReadTimeout("slow"))
    listing = mock.get(JOBS).respond(200, json={"data": [], "pagination": {"total_pages": 1}})
    with pytest.raises(Unreachable):
        customizer.create_job({"name": JOB_NAME})
    # CREATE_ATTEMPTS posts, each repeat preceded by a lookup that found nothing.
    assert (post.call_count, listing.call_count) == (4, 3)


def test_client_errors_are_not_looked_up(mock: respx.MockRouter, customizer: CustomizerClient) -> None:
    post = mock.post(JOBS).respond(422, json={"detail": [{"loc": ["body", "config"], "msg": "Field required"}]})
    listing = mock.get(JOBS).respond(200, json=fixture("customization_jobs_page"))
    with pytest.raises(NmpError, match=r"HTTP 422: body\.config: Field required"):
        customizer.create_job({"name": JOB_NAME})
    assert (post.call_count, listing.call_count) == (1, 0)


def test_get_job_tolerates_drift(mock: respx.MockRouter, customizer: CustomizerClient) -> None:
    drifted = fixture("customization_job_running")
    drifted["status"] = "RUNNING"
    drifted["config"] = {
        "name": "llama-3.2-1b-instruct",
        "namespace": "meta",
        "base_model": "meta/llama-3.2-1b-instruct",
    }
    drifted["brand_new_field"] = {"x": [1, 2]}
    del drifted["status_details"]["percentage_done"]
    mock.get(f"{JOBS}/{JOB_ID}").respond(200, json=drifted)
    job = customizer.get_job(JOB_ID)
    assert job.config == "meta/llama-3.2-1b-instruct"
    assert (job.status.state, job.status.raw_status, job.status.progress) == (JobState.RUNNING, "running", None)
    assert job.status.epochs_completed == 1


def test_get_job_with_an_unknown_status(mock: respx.MockRouter, customizer: CustomizerClient) -> None:
    weird = fixture("customization_job_created") | {"status": "hibernating", "config": None}
    weird["status_details"]["status"] = "hibernating"
    mock.get(f"{JOBS}/{JOB_ID}").respond(200, json=weird)
    job = customizer.get_job(JOB_ID)
    assert (job.status.state, job.status.raw_status, job.config) == (JobState.UNKNOWN, "hibernating", None)


def test_status_and_cancel_paths(mock: respx.MockRouter, customizer: CustomizerClient) -> None:
    status = mock.get(f"{JOBS}/{JOB_ID}/status").respond(200, json=fixture("customization_status"))
    cancel = mock.post(f"{JOBS}/{JOB_ID}/cancel").respond(200, json=fixture("customization_job_created"))
    assert customizer.job_status(JOB_ID).steps_completed == 219
    customizer.cancel_job(JOB_ID)
    assert status.call_count == 1 and cancel.call_count == 1


def test_find_job_matches_the_name(mock: respx.MockRouter, customizer: CustomizerClient) -> None:
    mock.get(JOBS).respond(200, json=fixture("customization_jobs_page"))
    assert customizer.find_job("someone-elses-job").id == "cust-Qm3Lx7RkVt2Bn8Yc4Pw9Zs"
    assert customizer.find_job("flywheel-nothing") is None
