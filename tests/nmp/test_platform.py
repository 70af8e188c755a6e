"""NmpPlatform: the neutral Platform interface over the NMP clients, call by call."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import httpx
import pytest
import respx

from flywheel_cli.config import CustomizationConfig, JudgeConfig, NimConfig, Settings, TrainingConfig
from flywheel_cli.errors import ConfigError, RemoteError
from flywheel_cli.platforms.base import (
    CustomizationRequest,
    DatasetRef,
    DeploymentState,
    EvaluationRequest,
    JobState,
    Platform,
    RemoteResource,
)
from flywheel_cli.platforms.nmp import NmpPlatform

from .conftest import DATASTORE, NEMO, NIM, SleepRecorder, body, fixture, make_settings, scoped

NAME = "flywheel-train-tool_router-1757664843"
URI = f"hf://datasets/flywheel/{NAME}"
REPO_API = f"{DATASTORE}/v1/hf/api/datasets/flywheel/{NAME}"
FILES = {
    "training/train_data.jsonl": b'{"messages": [{"role": "user", "content": "hi"}]}\n',
    "validation/val_data.jsonl": b"{}\n",
}
NIM_CFG = NimConfig(
    model_name="meta/llama-3.2-1b-instruct", customization=CustomizationConfig(target="meta/llama-3.2-1b-instruct@2.0")
)
DEPLOYMENT = f"{NEMO}/v1/deployment/model-deployments/flywheel/meta-llama-3.2-1b-instruct"
JOB_ID = "cust-FarcM8gwhL1XFDXQ57qGLL"
EVAL_ID = "eval-QbibneF16tyDiCJWc9oxgZ"
TRAIN = DatasetRef("train", NAME, URI)


def requests(mock: respx.MockRouter) -> list[tuple[str, str]]:
    return [(c.request.method, str(c.request.url)) for c in mock.calls]


def test_is_a_platform(platform: NmpPlatform) -> None:
    assert isinstance(platform, Platform)
    assert platform.kind == "nmp"
    assert repr(platform) == "NmpPlatform(nemo_url='http://nemo.test', namespace='flywheel')"


@pytest.mark.parametrize(
    ("response", "simulated"),
    [
        (httpx.Response(200, json={"sandbox": True, "speed": 1000}), True),
        (httpx.Response(200, json={"sandbox": "yes"}), False),
        (httpx.Response(404, json={"detail": "Not Found"}), False),
        (httpx.ConnectError("refused"), False),
    ],
)
def test_simulated_is_probed_once(
    platform: NmpPlatform, mock: respx.MockRouter, response: object, simulated: bool
) -> None:
    route = mock.get(f"{NEMO}/_sandbox/info").mock(side_effect=[response])
    assert platform.simulated is simulated
    assert platform.simulated is simulated
    assert route.call_count == 1


def test_ensure_scope(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    scoped(mock)
    platform.ensure_scope()
    assert requests(mock) == [
        ("POST", f"{NEMO}/v1/namespaces"),
        ("POST", f"{NEMO}/v1/projects"),
        ("POST", f"{DATASTORE}/v1/datastore/namespaces"),
    ]
    assert [body(c.request) for c in mock.calls[:2]] == [
        {"id": "flywheel"},
        {"name": "flywheel", "namespace": "flywheel"},
    ]
    assert mock.calls[2].request.content == b"namespace=flywheel"


def test_upload_new_dataset(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    scoped(mock)
    mock.get(REPO_API).respond(404, json={"detail": "Repository not found"})
    mock.post(f"{DATASTORE}/v1/hf/api/repos/create").respond(200, json={"url": f"{DATASTORE}/datasets/flywheel/{NAME}"})
    mock.post(f"{REPO_API}/preupload/main").respond(200, json=fixture("datastore/preupload"))
    commit = mock.post(f"{REPO_API}/commit/main").respond(200, json=fixture("datastore/commit"))
    mock.get(f"{NEMO}/v1/datasets/flywheel/{NAME}").respond(404, json={"detail": "Dataset not found"})
    register = mock.post(f"{NEMO}/v1/datasets").respond(200, json=fixture("dataset"))

    ref = platform.upload_dataset("train", NAME, FILES)

    assert ref == DatasetRef(kind="train", name=NAME, uri=URI)
    assert requests(mock)[3:] == [
        ("GET", REPO_API),
        ("POST", f"{DATASTORE}/v1/hf/api/repos/create"),
        ("POST", f"{REPO_API}/preupload/main"),
        ("POST", f"{REPO_API}/commit/main"),
        ("GET", f"{NEMO}/v1/datasets/flywheel/{NAME}"),
        ("POST", f"{NEMO}/v1/datasets"),
    ]
    lines = [json.loads(line) for line in commit.calls.last.request.content.splitlines()]
    assert lines[0] == {"key": "header", "value": {"summary": f"flywheel train dataset {NAME}", "description": ""}}
    assert {line["value"]["path"]: base64.b64decode(line["value"]["content"]) for line in lines[1:]} == FILES
    assert body(register.calls.last.request) == {
        "name": NAME,
        "namespace": "flywheel",
        "description": "",
        "files_url": URI,
        "project": "flywheel",
    }


def test_reupload_of_the_same_content_commits_nothing(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    scoped(mock)
    mock.get(REPO_API).respond(200, json=fixture("datastore/repo_info"))
    for path, content in FILES.items():
        mock.get(f"{DATASTORE}/v1/hf/datasets/flywheel/{NAME}/resolve/main/{path}").respond(200, content=content)
    mock.get(f"{NEMO}/v1/datasets/flywheel/{NAME}").respond(200, json=fixture("dataset"))

    assert platform.upload_dataset("train", NAME, FILES).uri == URI
    assert not any(method != "GET" for method, url in requests(mock)[3:])


def test_reupload_of_changed_content_commits(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    scoped(mock)
    mock.get(REPO_API).respond(200, json=fixture("datastore/repo_info"))
    mock.get(f"{DATASTORE}/v1/hf/datasets/flywheel/{NAME}/resolve/main/training/train_data.jsonl").respond(
        200, content=b"old\n"
    )
    mock.post(f"{REPO_API}/preupload/main").respond(200, json=fixture("datastore/preupload"))
    commit = mock.post(f"{REPO_API}/commit/main").respond(200, json=fixture("datastore/commit"))
    mock.get(f"{NEMO}/v1/datasets/flywheel/{NAME}").respond(200, json=fixture("dataset"))
    platform.upload_dataset("train", NAME, FILES)
    assert commit.call_count == 1


def test_delete_dataset(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    repo = mock.delete(f"{DATASTORE}/v1/hf/api/repos/delete").respond(404, json={"detail": "gone"})
    entity = mock.delete(f"{NEMO}/v1/datasets/flywheel/{NAME}").respond(200, json={})
    platform.delete_dataset(NAME)
    assert body(repo.calls.last.request) == {"name": NAME, "organization": "flywheel", "type": "dataset"}
    assert entity.call_count == 1


# --- deployments ------------------------------------------------------------------------------------------------------


def test_deploy_posts_only_when_absent(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    scoped(mock)
    mock.get(DEPLOYMENT).mock(
        side_effect=[
            httpx.Response(404, json={"detail": "not found"}),
            httpx.Response(200, json=fixture("model_deployment_pending")),
        ]
    )
    post = mock.post(f"{NEMO}/v1/deployment/model-deployments").respond(200, json=fixture("model_deployment_pending"))
    status = platform.deploy(NIM_CFG)
    assert (status.state, status.raw_status, status.detail) == (
        DeploymentState.PENDING,
        "pending",
        "Model deployment created",
    )
    assert body(post.calls.last.request) == {
        "name": "meta-llama-3.2-1b-instruct",
        "namespace": "flywheel",
        "config": {
            "model": "meta/llama-3.2-1b-instruct",
            "nim_deployment": {
                "image_name": "nvcr.io/nim/meta/llama-3.2-1b-instruct",
                "image_tag": "1.8.3",
                "pvc_size": "25Gi",
                "gpu": 1,
                "additional_envs": {"NIM_GUIDED_DECODING_BACKEND": "outlines"},
            },
        },
    }
    assert platform.deploy(NIM_CFG).state is DeploymentState.PENDING
    assert post.call_count == 1


def test_get_deployment_undeploy_served(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    mock.get(DEPLOYMENT).mock(
        side_effect=[httpx.Response(200, json=fixture("model_deployment_ready")), httpx.Response(404, json={})]
    )
    delete = mock.delete(DEPLOYMENT).respond(404, json={"detail": "not found"})
    mock.get(f"{NIM}/v1/models").respond(200, json=fixture("nim_models"))
    assert platform.get_deployment(NIM_CFG).state is DeploymentState.READY
    assert platform.get_deployment(NIM_CFG) is None
    platform.undeploy(NIM_CFG)
    assert delete.call_count == 1
    assert platform.served_models() == {
        "meta/llama-3.2-1b-instruct",
        f"flywheel/llama-3.2-1b-tool_router@{JOB_ID}",
    }


# --- customization ----------------------------------------------------------------------------------------------------


def request(nim: NimConfig = NIM_CFG) -> CustomizationRequest:
    return CustomizationRequest(
        name="flywheel-cust-tool_router-llama-3.2-1b-a1b2c3",
        nim=nim,
        dataset=TRAIN,
        training=TrainingConfig(),
        output_model_name="llama-3.2-1b-tool_router",
    )


def test_start_customization_with_a_discovered_config(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    scoped(mock)
    configs = mock.get(f"{NEMO}/v1/customization/configs").respond(200, json=fixture("customization_configs_page"))
    post = mock.post(f"{NEMO}/v1/customization/jobs").respond(200, json=fixture("customization_job_created"))
    job = platform.start_customization(request())
    assert configs.calls.last.request.url.params["filter[target_base_model]"] == "meta/llama-3.2-1b-instruct"
    assert body(post.calls.last.request) == {
        "name": "flywheel-cust-tool_router-llama-3.2-1b-a1b2c3",
        "output_model": "flywheel/llama-3.2-1b-tool_router",
        "config": "meta/llama-3.2-1b-instruct@v1.0.0+80GB",
        "dataset": {"name": NAME, "namespace": "flywheel"},
        "hyperparameters": {
            "training_type": "sft",
            "finetuning_type": "lora",
            "epochs": 2,
            "batch_size": 16,
            "learning_rate": 0.0001,
            "lora": {"adapter_dim": 32, "adapter_dropout": 0.1},
        },
    }
    # The platform's answer is authoritative: it appended the job id as the version.
    assert job.output_model == f"flywheel/llama-3.2-1b-tool_router@{JOB_ID}"
    assert (job.id, job.status.state) == (JOB_ID, JobState.PENDING)
    platform.start_customization(request())
    assert configs.call_count == 1  # discovered once per NIM


def test_explicit_config_wins(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    nim = NimConfig(
        model_name="meta/llama-3.2-1b-instruct", customization=CustomizationConfig(config="ops/custom@v2+H100")
    )
    with NmpPlatform(make_settings(nims=[nim]), sleep=sleeps) as platform:
        scoped(mock)
        post = mock.post(f"{NEMO}/v1/customization/jobs").respond(200, json=fixture("customization_job_created"))
        platform.start_customization(request(nim))
    assert body(post.calls.last.request)["config"] == "ops/custom@v2+H100"
    assert not any("/configs" in url for _, url in requests(mock))


def test_object_target_configs_match_on_their_base_model(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    nim = NimConfig(
        model_name="meta/llama-3.1-8b-instruct",
        customization=CustomizationConfig(target="meta/llama-3.1-8b-instruct@2.0"),
    )
    mock.get(f"{NEMO}/v1/customization/configs").respond(200, json=fixture("customization_configs_page"))
    assert platform.customization_config(nim, TrainingConfig()) == "meta/llama-3.1-8b-instruct@v1.0.0+80GB"


def test_config_is_created_when_none_fits(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    mock.get(f"{NEMO}/v1/customization/configs").respond(200, json=fixture("customization_configs_page"))
    create = mock.post(f"{NEMO}/v1/customization/configs").respond(409, json={"detail": "exists"})
    nim = NimConfig(
        model_name="meta/llama-3.2-3b-instruct",
        customization=CustomizationConfig(target="meta/llama-3.2-3b-instruct@2.0"),
    )
    assert platform.customization_config(nim, TrainingConfig()) == "flywheel/llama-3.2-3b-instruct@v1.0.0+flywheel"
    sent = body(create.calls.last.request)
    assert (sent["name"], sent["namespace"], sent["target"]) == (
        "llama-3.2-3b-instruct@v1.0.0+flywheel",
        "flywheel",
        "meta/llama-3.2-3b-instruct@2.0",
    )
    # A config that does not offer the training type does not count either.
    dpo = TrainingConfig(training_type="dpo")
    assert platform.customization_config(NIM_CFG, dpo) == "flywheel/llama-3.2-1b-instruct@v1.0.0+flywheel"
    assert body(create.calls.last.request)["training_options"][0]["training_type"] == "dpo"


def test_no_config_and_no_target_is_a_config_error(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    mock.get(f"{NEMO}/v1/customization/configs").respond(200, json={"data": []})
    nim = NimConfig(model_name="acme/tiny")
    with pytest.raises(ConfigError) as err:
        platform.customization_config(nim, TrainingConfig())
    assert err.value.message == "NMP has no customization config for acme/tiny and none can be created without a target"


def test_find_get_cancel_customization(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    mock.get(f"{NEMO}/v1/customization/jobs").respond(200, json=fixture("customization_jobs_page"))
    mock.get(f"{NEMO}/v1/customization/jobs/{JOB_ID}").respond(200, json=fixture("customization_job_failed"))
    cancel = mock.post(f"{NEMO}/v1/customization/jobs/{JOB_ID}/cancel").respond(
        409, json={"detail": "Job already finished"}
    )
    found = platform.find_customization("flywheel-cust-tool_router-llama-3.2-1b-a1b2c3")
    assert found is not None and (found.id, found.status.progress) == (JOB_ID, 45.0)
    assert platform.find_customization("flywheel-none") is None
    job = platform.get_customization(JOB_ID)
    assert (job.status.state, job.status.detail) == (JobState.FAILED, "CUDA out of memory on rank 0")
    platform.cancel_customization(JOB_ID)
    assert cancel.call_count == 1


# --- evaluation -------------------------------------------------------------------------------------------------------


def eval_request(judge: JudgeConfig) -> EvaluationRequest:
    return EvaluationRequest(
        name="flywheel-eval-tool_router-base-a1b2c3",
        workload_type="tool_calling",
        target_model="meta/llama-3.2-1b-instruct",
        dataset=DatasetRef(
            "eval",
            "flywheel-eval-tool_router-1757664843",
            "hf://datasets/flywheel/flywheel-eval-tool_router-1757664843",
        ),
        judge=judge,
        limit=100,
        labels={"workload": "tool_router"},
    )


REMOTE = JudgeConfig(kind="remote", url="https://judge.example/v1/chat/completions")


def test_judge_key_only_in_the_create_body(
    platform: NmpPlatform, mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_JUDGE_API_KEY", "sk-planted-0042")
    scoped(mock)
    echoed = fixture("evaluation_job_created")
    echoed["status_details"]["message"] = "judge sk-planted-0042 accepted"  # a server that echoes what it got
    post = mock.post(f"{NEMO}/v1/evaluation/jobs").mock(
        side_effect=[
            httpx.Response(200, json=echoed),
            httpx.Response(
                422,
                json={
                    "detail": [
                        {
                            "loc": ["body", "config"],
                            "msg": "bad key sk-planted-0042",
                            "type": "x",
                            "input": "sk-planted-0042",
                        }
                    ]
                },
            ),
        ]
    )
    job = platform.start_evaluation(eval_request(REMOTE))
    sent = post.calls[0].request.content.decode()
    assert '"api_key":"sk-planted-0042"' in sent.replace(" ", "")
    assert body(post.calls[0].request)["custom_fields"] == {
        "workload": "tool_router",
        "flywheel": "1",
        "flywheel_name": "flywheel-eval-tool_router-base-a1b2c3",
    }
    assert (job.id, job.name) == (EVAL_ID, "flywheel-eval-tool_router-base-a1b2c3")
    assert "sk-planted-0042" not in repr(job)
    with pytest.raises(RemoteError) as err:
        platform.start_evaluation(eval_request(REMOTE))
    assert "sk-planted-0042" not in str(err.value) + repr(err.value) + str(err.value.detail)
    assert str(err.value).endswith("answered HTTP 422: body.config: bad key ***")


def test_find_and_get_evaluation(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    listing = mock.get(f"{NEMO}/v1/evaluation/jobs").respond(200, json=fixture("evaluation_jobs_page"))
    mock.get(f"{NEMO}/v1/evaluation/jobs/{EVAL_ID}").respond(200, json=fixture("evaluation_job_completed"))
    found = platform.find_evaluation("flywheel-eval-tool_router-base-a1b2c3")
    assert found is not None and found.id == EVAL_ID
    assert listing.calls.last.request.url.params["filter[namespace]"] == "flywheel"
    assert platform.find_evaluation("flywheel-eval-other") is None
    job = platform.get_evaluation(EVAL_ID)
    assert (job.status.state, job.status.progress, job.name) == (JobState.COMPLETED, 100.0, found.name)


def zipped(document: object) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("results.json", json.dumps(document))
    return buffer.getvalue()


def test_evaluation_results_with_samples(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    mock.get(f"{NEMO}/v1/evaluation/jobs/{EVAL_ID}/results").respond(
        200, json=fixture("evaluation_result_tool_calling")
    )
    rows = [
        {"metrics": {"tool-calling-accuracy": {"scores": {"function_name_accuracy": {"value": v}}}}} for v in (1, 0, 1)
    ]
    mock.get(f"{NEMO}/v1/evaluation/jobs/{EVAL_ID}/download-results").respond(
        200, content=zipped({"custom-tool-calling": rows})
    )
    results = platform.evaluation_results(EVAL_ID)
    assert {k: s.raw for k, s in results.scores.items()} == {
        "function_name_accuracy": 0.92,
        "function_name_and_args_accuracy": 0.72,
        "tool_calling_correctness": 0.8,
    }
    assert results.samples == {"function_name_accuracy": [1.0, 0.0, 1.0]}


@pytest.mark.parametrize("download", [httpx.Response(404, json={"detail": "no"}), httpx.Response(500, text="boom")])
def test_evaluation_results_without_an_archive(
    platform: NmpPlatform, mock: respx.MockRouter, download: httpx.Response
) -> None:
    mock.get(f"{NEMO}/v1/evaluation/jobs/{EVAL_ID}/results").respond(200, json=fixture("evaluation_result_generic"))
    mock.get(f"{NEMO}/v1/evaluation/jobs/{EVAL_ID}/download-results").mock(side_effect=lambda _: download)
    results = platform.evaluation_results(EVAL_ID)
    assert results.samples == {}
    assert results.scores["similarity"].normalised == pytest.approx(0.8)


def test_cancel_evaluation_and_inference(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    cancel = mock.post(f"{NEMO}/v1/evaluation/jobs/{EVAL_ID}/cancel").respond(404, json={"detail": "not found"})
    chat = mock.post(f"{NIM}/v1/chat/completions").respond(200, json=fixture("chat_completion"))
    embed = mock.post(f"{NIM}/v1/embeddings").respond(200, json=fixture("embeddings"))
    platform.cancel_evaluation(EVAL_ID)
    assert cancel.call_count == 1
    assert platform.chat("m", [{"role": "user", "content": "x"}])["model"] == "meta/llama-3.2-1b-instruct"
    assert body(chat.calls.last.request) == {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert platform.embed("e", ["a", "b"]) == [[0.1, 0.2, 0.3], [0.5, -0.25, 0.125]]
    assert body(embed.calls.last.request)["input_type"] == "query"


# --- housekeeping -----------------------------------------------------------------------------------------------------


def test_list_resources(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    settings: Settings = make_settings(judge={"kind": "local", "model": "meta/llama-3.3-70b-instruct"})
    deployments = fixture("model_deployments_page")
    judge_dep = fixture("model_deployment_ready") | {"name": "meta-llama-3.3-70b-instruct"}
    labelled = fixture("model_deployment_pending") | {"name": "old-nim", "custom_fields": {"flywheel": "1"}}
    deployments["data"] += [judge_dep, labelled]
    jobs = fixture("customization_jobs_page")
    finished = fixture("customization_job_created") | {
        "id": "cust-Done",
        "name": "flywheel-cust-old",
        "status": "completed",
    }
    finished["output_model"] = f"flywheel/llama-3.2-1b-tool_router@{JOB_ID}"
    jobs["data"].append(finished)
    mock.get(f"{NEMO}/v1/deployment/model-deployments").respond(200, json=deployments)
    mock.get(f"{NEMO}/v1/customization/jobs").respond(200, json=jobs)
    mock.get(f"{NEMO}/v1/models").respond(200, json=fixture("models_page"))
    mock.get(f"{NEMO}/v1/evaluation/jobs").respond(200, json=fixture("evaluation_jobs_page"))
    mock.get(f"{NEMO}/v1/datasets").respond(200, json=fixture("datasets_page"))
    with NmpPlatform(settings, sleep=sleeps) as platform:
        resources = platform.list_resources()
    assert resources == [
        RemoteResource("deployment", "flywheel/meta-llama-3.2-1b-instruct", "meta-llama-3.2-1b-instruct", "ready"),
        RemoteResource("deployment", "flywheel/meta-llama-3.3-70b-instruct", "meta-llama-3.3-70b-instruct", "ready"),
        RemoteResource("deployment", "flywheel/old-nim", "old-nim", "pending"),
        RemoteResource("customization", JOB_ID, "flywheel-cust-tool_router-llama-3.2-1b-a1b2c3", "running"),
        RemoteResource(
            "model",
            f"flywheel/llama-3.2-1b-tool_router@{JOB_ID}",
            f"flywheel/llama-3.2-1b-tool_router@{JOB_ID}",
            "registered",
            {"customization": "flywheel-cust-old", "job_id": "cust-Done"},
        ),
        RemoteResource(
            "evaluation",
            EVAL_ID,
            "flywheel-eval-tool_router-base-a1b2c3",
            "created",
            {"flywheel": "1", "flywheel_name": "flywheel-eval-tool_router-base-a1b2c3", "workload": "tool_router"},
        ),
        RemoteResource("dataset", f"flywheel/{NAME}", NAME, "registered"),
    ]


def test_delete_resource(platform: NmpPlatform, mock: respx.MockRouter) -> None:
    dep = mock.delete(DEPLOYMENT).respond(200, json={})
    cancel_job = mock.post(f"{NEMO}/v1/customization/jobs/{JOB_ID}/cancel").respond(200, json={})
    cancel_eval = mock.post(f"{NEMO}/v1/evaluation/jobs/{EVAL_ID}/cancel").respond(200, json={})
    delete_eval = mock.delete(f"{NEMO}/v1/evaluation/jobs/{EVAL_ID}").respond(200, json={})
    repo = mock.delete(f"{DATASTORE}/v1/hf/api/repos/delete").respond(200, json={})
    dataset = mock.delete(f"{NEMO}/v1/datasets/flywheel/{NAME}").respond(200, json={})
    model = mock.delete(f"{NEMO}/v1/models/flywheel/m@cust-1").respond(200, json={})
    platform.delete_resource(RemoteResource("deployment", "flywheel/meta-llama-3.2-1b-instruct", "x", "ready"))
    platform.delete_resource(RemoteResource("customization", JOB_ID, "flywheel-cust", "running"))
    platform.delete_resource(RemoteResource("evaluation", EVAL_ID, "flywheel-eval", "completed"))
    assert cancel_eval.call_count == 0  # a finished job is deleted without a cancel
    platform.delete_resource(RemoteResource("evaluation", EVAL_ID, "flywheel-eval", "running"))
    platform.delete_resource(RemoteResource("dataset", f"flywheel/{NAME}", NAME, "registered"))
    platform.delete_resource(RemoteResource("model", "flywheel/m@cust-1", "flywheel/m@cust-1", "registered"))
    assert [r.call_count for r in (dep, cancel_job, cancel_eval, delete_eval, repo, dataset, model)] == [
        1,
        1,
        1,
        2,
        1,
        1,
        1,
    ]
