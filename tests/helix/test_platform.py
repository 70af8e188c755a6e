"""HelixPlatform over respx: request paths and bodies (checked against the recorded Helix 0.8.1 schemas), status
mapping, the "needs GPUs" refusals, the gateway model ids, and the sandbox probe."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from flywheel_cli.config import NimConfig, TrainingConfig
from flywheel_cli.errors import RemoteError, StepFailed
from flywheel_cli.nmp.http import DEFAULT_ATTEMPTS
from flywheel_cli.helix import eval_rows, metrics
from flywheel_cli.platforms import connect
from flywheel_cli.platforms.base import (
    CustomizationRequest,
    DatasetRef,
    DeploymentState,
    EvaluationRequest,
    JobState,
    Platform,
    RemoteResource,
)
from flywheel_cli.platforms.helix import HelixPlatform

from .conftest import BASE, WS, make_settings, openapi
from .openapi_schema import request_schema, validate

DOC = openapi()
SCHEMAS = DOC["components"]["schemas"]
NIM = NimConfig(model_name="meta/llama-3.2-1b-instruct")
ENTITY = f"{WS}/meta-llama-3-2-1b-instruct"
EVALS = f"{BASE}/apis/evals/v2/workspaces/{WS}/evaluate/jobs"
PROVIDERS = f"{BASE}/apis/models/v2/workspaces/{WS}/providers"
GATEWAY_MODELS = f"{BASE}/apis/inference-gateway/v2/workspaces/{WS}/openai/-/v1/models"
SANDBOX = "http://127.0.0.1:18900"


def page(*items: dict[str, Any]) -> dict[str, Any]:
    return {"data": list(items), "pagination": {"page": 1, "page_size": 100, "total_pages": 1, "total_results": len(items)}}


def provider(host_url: str = f"{SANDBOX}/nim/v1") -> dict[str, Any]:
    return {"name": "sandbox", "host_url": host_url, "status": "READY",
            "served_models": [{"model_entity_id": ENTITY, "served_model_name": NIM.model_name}]}  # fmt: skip


def body_of(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


def fits(body: Any, path: str) -> list[str]:
    return validate(body, request_schema(DOC, path), SCHEMAS)


@pytest.fixture
def mock(request: pytest.FixtureRequest) -> Iterator[respx.MockRouter]:
    document = getattr(request, "param", DOC)
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{BASE}/apis/auth/discovery").respond(json={"auth_enabled": False, "oidc": None})
        router.get(f"{BASE}/openapi.json").respond(json=document)
        yield router


@pytest.fixture
def platform() -> Iterator[HelixPlatform]:
    p = connect(make_settings())
    assert isinstance(p, HelixPlatform)
    yield p
    p.close()


def scoped(mock: respx.MockRouter) -> None:
    mock.get(f"{BASE}/apis/entities/v2/workspaces/{WS}").respond(json={"name": WS})
    mock.get(f"{BASE}/apis/entities/v2/workspaces/{WS}/projects/flywheel").respond(json={"name": "flywheel"})


def served(mock: respx.MockRouter) -> None:
    mock.get(GATEWAY_MODELS).respond(json={"object": "list", "data": [{"id": ENTITY, "owned_by": WS}]})
    mock.get(PROVIDERS).respond(json=page(provider()))


def test_it_is_a_platform(mock: respx.MockRouter, platform: HelixPlatform, monkeypatch: pytest.MonkeyPatch) -> None:
    mock.get(PROVIDERS).respond(json=page())  # the Protocol check reads `simulated`
    # ... and `capabilities`, which asks the live server (tested on its own below); here only the shape matters.
    monkeypatch.setattr(HelixPlatform, "capabilities", property(lambda self: frozenset({"evaluate"})))
    assert isinstance(platform, Platform)
    assert platform.kind == "helix"
    assert repr(platform) == f"HelixPlatform(base_url='{BASE}', workspace='{WS}')"


def test_ensure_scope_creates_workspace_and_project(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    mock.get(f"{BASE}/apis/entities/v2/workspaces/{WS}").respond(404, json={"detail": "not found"})
    ws = mock.post(f"{BASE}/apis/entities/v2/workspaces").respond(201, json={"name": WS})
    mock.get(f"{BASE}/apis/entities/v2/workspaces/{WS}/projects/flywheel").respond(404, json={"detail": "no"})
    project = mock.post(f"{BASE}/apis/entities/v2/workspaces/{WS}/projects").respond(409, json={"detail": "exists"})
    platform.ensure_scope()
    assert body_of(ws) == {"name": WS, "description": "flywheel: datasets, evaluations and customizations"}
    assert body_of(project) == {"name": "flywheel", "description": "resources created by flywheel"}
    assert fits(body_of(ws), "/apis/entities/v2/workspaces") == []
    assert fits(body_of(project), "/apis/entities/v2/workspaces/{workspace}/projects") == []


def test_upload_puts_files_and_the_rows_helix_evaluates(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    scoped(mock)
    base = f"{BASE}/apis/files/v2/workspaces/{WS}/filesets"
    mock.get(f"{base}/flywheel-eval-w-1").respond(404, json={"detail": "no"})
    create = mock.post(base).respond(200, json={"name": "flywheel-eval-w-1"})
    put = mock.put(url__regex=rf"{base}/flywheel-eval-w-1/-/.*").respond(200, json={})
    record = {"request": {"messages": [{"role": "user", "content": "hi"}], "tools": []},
              "response": {"choices": [{"message": {"role": "assistant", "content": "yo"}}]}}  # fmt: skip
    content = json.dumps(record).encode() + b"\n"
    ref = platform.upload_dataset("eval", "flywheel-eval-w-1", {"eval_data.jsonl": content})
    assert ref == DatasetRef(kind="eval", name="flywheel-eval-w-1", uri=f"{WS}/flywheel-eval-w-1")
    assert body_of(create) == {"name": "flywheel-eval-w-1", "purpose": "dataset", "description": "flywheel eval dataset",
                               "custom_fields": {"flywheel": "1", "kind": "eval"}, "project": "flywheel"}  # fmt: skip
    assert fits(body_of(create), "/apis/files/v2/workspaces/{workspace}/filesets") == []
    sent = {call.request.url.path.rsplit("/-/", 1)[1]: call.request for call in put.calls}
    assert set(sent) == {"eval_data.jsonl", "helix/eval_rows.jsonl"}
    assert sent["eval_data.jsonl"].content == content
    assert sent["eval_data.jsonl"].headers["content-type"] == "application/octet-stream"
    assert sent["helix/eval_rows.jsonl"].content == eval_rows.rows_file(content)


def test_a_provider_served_model_needs_no_deployment(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    mock.get(url__regex=rf"{BASE}/apis/models/v2/workspaces/{WS}/deployments/.*").respond(
        404, json={"detail": "Deployment not found"}
    )
    served(mock)
    status = platform.get_deployment(NIM)
    assert status is not None
    assert (status.state, status.raw_status) == (DeploymentState.READY, "served")
    assert status.detail == f"served through the inference gateway as {ENTITY}"
    assert platform.served_models() == {ENTITY, NIM.model_name}
    assert platform.get_deployment(NimConfig(model_name="meta/llama-3.1-8b-instruct")) is None
    deleted = mock.delete(url__regex=r".*/deployments/.*")
    platform.undeploy(NIM)  # not flywheel's to remove
    assert deleted.call_count == 0


def test_a_deployment_reports_its_own_status(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    mock.get(f"{BASE}/apis/models/v2/workspaces/{WS}/deployments/meta-llama-3-2-1b-instruct").respond(
        json={"name": "meta-llama-3-2-1b-instruct", "status": "PENDING", "status_message": "pulling image"}
    )
    status = platform.get_deployment(NIM)
    assert status is not None and (status.state, status.detail) == (DeploymentState.PENDING, "pulling image")


def test_deploy_on_a_cpu_server_needs_gpus(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    scoped(mock)
    models = f"{BASE}/apis/models/v2/workspaces/{WS}"
    mock.get(f"{models}/deployment-configs/meta-llama-3-2-1b-instruct").respond(404, json={"detail": "no"})
    config = mock.post(f"{models}/deployment-configs").respond(201, json={"name": "meta-llama-3-2-1b-instruct"})
    mock.get(f"{models}/deployments/meta-llama-3-2-1b-instruct").respond(404, json={"detail": "no"})
    create = mock.post(f"{models}/deployments").respond(
        422, json={"detail": "Deployments are not enabled because the backend runtime is set to 'none'"}
    )
    with pytest.raises(StepFailed) as err:
        platform.deploy(NIM)
    assert err.value.message == (
        "needs GPUs: Helix cannot deploy meta/llama-3.2-1b-instruct here: "
        "Deployments are not enabled because the backend runtime is set to 'none'"
    )
    assert "register that OpenAI-compatible endpoint as a provider in workspace 'fw'" in (err.value.hint or "")
    assert body_of(config) == {
        "name": "meta-llama-3-2-1b-instruct",
        "engine": "nim",
        "model_spec": {"model_type": "llm", "model_name": "meta/llama-3.2-1b-instruct", "lora_enabled": True},
        "executor_config": {"gpu": 1, "image_name": "nvcr.io/nim/meta/llama-3.2-1b-instruct", "image_tag": "1.8.3",
                            "disk_size": "25Gi", "additional_envs": {"NIM_MAX_MODEL_LEN": "8192",
                                                                     "NIM_GUIDED_DECODING_BACKEND": "outlines"}},
    }  # fmt: skip
    assert body_of(create) == {"name": "meta-llama-3-2-1b-instruct", "config": "meta-llama-3-2-1b-instruct"}
    assert fits(body_of(config), "/apis/models/v2/workspaces/{workspace}/deployment-configs") == []
    assert fits(body_of(create), "/apis/models/v2/workspaces/{workspace}/deployments") == []


def test_a_body_error_is_not_a_gpu_problem(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    scoped(mock)
    models = f"{BASE}/apis/models/v2/workspaces/{WS}"
    mock.get(f"{models}/deployment-configs/meta-llama-3-2-1b-instruct").respond(json={"name": "x"})
    mock.get(f"{models}/deployments/meta-llama-3-2-1b-instruct").respond(404, json={"detail": "no"})
    mock.post(f"{models}/deployments").respond(
        422, json={"detail": [{"loc": ["body", "config"], "msg": "Field required", "type": "missing"}]}
    )
    with pytest.raises(RemoteError) as err:
        platform.deploy(NIM)
    assert not isinstance(err.value, StepFailed) and err.value.status_code == 422
    assert "body.config: Field required" in err.value.message


def request(**overrides: Any) -> EvaluationRequest:
    values: dict[str, Any] = {
        "name": "flywheel-icl-tool-router-llama-3-2-1b-instruct-0123abcd",
        "workload_type": "tool_calling",
        "target_model": NIM.model_name,
        "dataset": DatasetRef("icl", "flywheel-icl-w-1", f"{WS}/flywheel-icl-w-1"),
        "judge": make_settings().judge,
        "limit": 100,
        "labels": {"workload": "tool_router", "eval_type": "icl"},
    }
    return EvaluationRequest(**{**values, **overrides})


# 51 characters at most: the name shortened, plus a hash of the whole name.
JOB = "flywheel-icl-tool-router-llama-3-2-1b-inst-" + hashlib.sha256(
    b"flywheel-icl-tool-router-llama-3-2-1b-instruct-0123abcd"
).hexdigest()[:8]


def test_start_evaluation_body(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    scoped(mock)
    served(mock)
    create = mock.post(EVALS).respond(201, json={"name": JOB, "status": "created", "status_details": {}})
    job = platform.start_evaluation(request())
    assert (job.id, job.name, job.status.state) == (JOB, JOB, JobState.PENDING)
    body = body_of(create)
    assert body == {
        "name": JOB,
        "project": "flywheel",
        "description": "flywheel evaluation flywheel-icl-tool-router-llama-3-2-1b-instruct-0123abcd",
        "custom_fields": {"workload": "tool_router", "eval_type": "icl", "flywheel": "1",
                          "flywheel_name": "flywheel-icl-tool-router-llama-3-2-1b-instruct-0123abcd"},
        "spec": {
            "dataset": f"{WS}/flywheel-icl-w-1#helix/eval_rows.jsonl",
            "target": {"url": f"{BASE}/apis/inference-gateway/v2/workspaces/{WS}/openai/-/v1", "name": ENTITY},
            "prompt_template": {"messages": "{{ item.messages or ([] | tojson) }}",
                                "tools": "{{ item.tools or ([] | tojson) }}", "tool_choice": "required"},
            "params": {"parallelism": 8, "limit_samples": 100, "max_retries": 3, "inference": {"max_tokens": 1024}},
            "metrics": [metrics.tool_calling()],
        },
    }  # fmt: skip
    assert fits(body, "/apis/evals/v2/workspaces/{workspace}/evaluate/jobs") == []
    # The online-model parameters, not the offline ones: only those have `inference`.
    assert validate(body["spec"]["params"], SCHEMAS["RunConfig"], SCHEMAS) != []
    assert validate(body["spec"]["params"], SCHEMAS["RunConfigOnlineModel"], SCHEMAS) == []


def test_a_remote_judge_gets_its_key_as_a_secret(
    mock: respx.MockRouter, platform: HelixPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FW_TEST_JUDGE_KEY", "judge-secret-123")
    settings = make_settings(kind="remote", url="https://judge.test/v1/chat/completions", model="big/judge",
                             api_key_env="FW_TEST_JUDGE_KEY")  # fmt: skip
    scoped(mock)
    served(mock)
    secrets = f"{BASE}/apis/secrets/v2/workspaces/{WS}/secrets"
    create_secret = mock.post(secrets).respond(409, json={"detail": "exists"})
    update_secret = mock.patch(f"{secrets}/flywheel-judge-api-key").respond(200, json={"name": "x"})
    create = mock.post(EVALS).respond(201, json={"name": JOB, "status": "created"})
    with HelixPlatform(settings) as p:
        p.start_evaluation(request(judge=settings.judge))
    assert body_of(create_secret) == {"name": "flywheel-judge-api-key", "value": "judge-secret-123",
                                      "description": "API key for the judge big/judge"}  # fmt: skip
    assert body_of(update_secret) == {"value": "judge-secret-123"}
    body = body_of(create)
    assert "judge-secret-123" not in json.dumps(body)
    judge = body["spec"]["metrics"][1]
    assert judge["secrets"] == {"flywheel_judge_api_key": "flywheel-judge-api-key"}
    metric = judge["payload"]["metric"]
    assert metric["model"] == {"url": "https://judge.test/v1", "name": "big/judge",
                               "api_key_secret": "flywheel-judge-api-key"}  # fmt: skip
    assert metric["scores"][0]["name"] == "rating"
    assert metric["prompt_template"]["messages"][1]["content"] == eval_rows.TOOL_CALL_JUDGE_PROMPT
    assert fits(body, "/apis/evals/v2/workspaces/{workspace}/evaluate/jobs") == []


def test_generic_workloads_are_judged_for_similarity(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    settings = make_settings(kind="local", model="meta/llama-3.3-70b-instruct")
    scoped(mock)
    mock.get(GATEWAY_MODELS).respond(json={"data": [{"id": ENTITY}, {"id": f"{WS}/judge"}]})
    mock.get(PROVIDERS).respond(json=page({**provider(), "served_models": [
        {"model_entity_id": ENTITY, "served_model_name": NIM.model_name},
        {"model_entity_id": f"{WS}/judge", "served_model_name": "meta/llama-3.3-70b-instruct"}]}))  # fmt: skip
    create = mock.post(EVALS).respond(201, json={"name": JOB, "status": "created"})
    with HelixPlatform(settings) as p:
        p.start_evaluation(request(workload_type="generic", judge=settings.judge))
    spec = body_of(create)["spec"]
    assert spec["prompt_template"] == {"messages": "{{ item.messages or ([] | tojson) }}"}
    assert [m["metric_type"] for m in spec["metrics"]] == ["llm-judge"]
    metric = spec["metrics"][0]["payload"]["metric"]
    assert metric["model"] == {"url": f"{BASE}/apis/inference-gateway/v2/workspaces/{WS}/openai/-/v1",
                               "name": f"{WS}/judge"}  # fmt: skip
    assert metric["scores"] == [{"name": "similarity", "minimum": 1, "maximum": 10,
                                 "parser": {"type": "regex", "pattern": "(\\d+)", "method": "search"}}]  # fmt: skip


def test_failed_evaluation_says_why(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    mock.get(f"{EVALS}/{JOB}/status").respond(
        json={"name": JOB, "status": "error", "status_details": {"message": "Job exited with code 1"},
              "error_details": {"message": "Job exited with code 1"}, "steps": []}  # fmt: skip
    )
    mock.get(f"{EVALS}/{JOB}/logs").respond(
        json={"data": [{"message": "[stderr] root_error='Evaluation failed during sample generation on row 0: "
                                   "Unexpected error making completion request to nothing' root_error_type=E"}]}  # fmt: skip
    )
    job = platform.get_evaluation(JOB)
    assert job.status.state is JobState.FAILED
    assert job.status.detail == (
        "Job exited with code 1: Evaluation failed during sample generation on row 0: "
        "Unexpected error making completion request to nothing"
    )


def test_results_and_find(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    mock.get(f"{EVALS}/{JOB}/results/aggregate-scores/download").respond(
        content=b'{"scores": [{"name": "tool-calling.function_name_accuracy", "count": 2, "nan_count": 0, "mean": 0.5}]}'
    )
    mock.get(f"{EVALS}/{JOB}/results/row-scores/download").respond(
        content=b'{"row_index": 0, "metrics": {"tool-calling": [{"name": "function_name_accuracy", "value": 1.0}]}}\n'
        b'{"row_index": 1, "metrics": {"tool-calling": [{"name": "function_name_accuracy", "value": 0.0}]}}\n'
    )
    results = platform.evaluation_results(JOB)
    assert results.scores["function_name_accuracy"].normalised == 0.5
    assert results.samples == {"function_name_accuracy": [1.0, 0.0]}
    mock.get(f"{EVALS}/{JOB}").respond(json={"name": JOB, "status": "completed", "status_details": {}})
    found = platform.find_evaluation("flywheel-icl-tool-router-llama-3-2-1b-instruct-0123abcd")
    assert found is not None and (found.id, found.status.state) == (JOB, JobState.COMPLETED)
    mock.get(f"{EVALS}/flywheel-nothing").respond(404, json={"detail": "Job not found"})
    assert platform.find_evaluation("flywheel-nothing") is None


def test_cancel_tolerates_finished_jobs(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    cancel = mock.post(f"{EVALS}/{JOB}/cancel").respond(409, json={"detail": "already completed"})
    platform.cancel_evaluation(JOB)
    assert cancel.call_count == 1


def customization_request() -> CustomizationRequest:
    return CustomizationRequest(
        name="flywheel-tool-router-llama-3-2-1b-instruct-0123abcd",
        nim=NIM,
        dataset=DatasetRef("train", "flywheel-train-w-1", f"{WS}/flywheel-train-w-1"),
        training=TrainingConfig(),
        output_model_name="flywheel-tool-router-llama-3-2-1b-instruct-0123abcd-lora",
    )


CUSTOMIZE = f"{BASE}/apis/customization/v2/workspaces/{WS}/automodel/jobs"


def test_customization_on_a_cpu_server_needs_gpus(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    scoped(mock)
    served(mock)
    create = mock.post(CUSTOMIZE).respond(
        422, json={"detail": "Failed to compile customization job spec: Automodel training requires a reachable "
                             "Docker daemon (or platform.runtime: kubernetes)."}  # fmt: skip
    )
    with pytest.raises(StepFailed) as err:
        platform.start_customization(customization_request())
    assert err.value.message == (
        "needs GPUs: Helix cannot run the customization of meta/llama-3.2-1b-instruct here: Failed to compile "
        "customization job spec: Automodel training requires a reachable Docker daemon (or platform.runtime: kubernetes)."
    )
    body = body_of(create)
    assert body == {
        "name": "flywheel-tool-router-llama-3-2-1b-instruct-0123abcd",
        "custom_fields": {"flywheel": "1", "flywheel_name": "flywheel-tool-router-llama-3-2-1b-instruct-0123abcd"},
        "project": "flywheel",
        "spec": {
            "model": ENTITY,
            "dataset": {"training": f"{WS}/flywheel-train-w-1"},
            "training": {"training_type": "sft", "finetuning_type": "lora", "lora": {"rank": 32, "dropout": 0.1},
                         "max_seq_length": 8192},
            "schedule": {"epochs": 2},
            "batch": {"global_batch_size": 16, "micro_batch_size": 1},
            "optimizer": {"learning_rate": 0.0001},
            "parallelism": {"num_nodes": 1, "num_gpus_per_node": 1, "tensor_parallel_size": 1,
                            "sequence_parallel": False},
            "output": {"name": "flywheel-tool-router-llama-3-2-1b-instruct-0123abcd-lora"},
        },
    }  # fmt: skip
    assert fits(body, "/apis/customization/v2/workspaces/{workspace}/automodel/jobs") == []


def test_a_started_customization_is_followed(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    scoped(mock)
    served(mock)
    name = "flywheel-tool-router-llama-3-2-1b-instruct-0123abcd"
    mock.post(CUSTOMIZE).respond(201, json={"name": name, "status": "created"})
    job = platform.start_customization(customization_request())
    assert job.output_model == f"{WS}/flywheel-tool-router-llama-3-2-1b-instruct-0123abcd-lora"
    mock.get(f"{CUSTOMIZE}/{name}/status").respond(json={"name": name, "status": "active", "steps": [
        {"name": "training", "tasks": [{"status_details": {"step": 5, "max_steps": 20, "epoch": 0}}]}]})  # fmt: skip
    followed = platform.get_customization(name)
    assert (followed.status.state, followed.status.progress, followed.output_model) == (
        JobState.RUNNING, 25.0, job.output_model
    )


NO_CUSTOMIZATION = {"paths": {p: v for p, v in DOC["paths"].items() if "/customization/" not in p},
                    "components": DOC["components"]}  # fmt: skip


@pytest.mark.parametrize("mock", [NO_CUSTOMIZATION], indirect=True)
def test_no_customization_service_needs_gpus(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    scoped(mock)
    with pytest.raises(StepFailed, match=r"^needs GPUs: the Helix server at http://helix.test runs no customization"):
        platform.start_customization(customization_request())
    assert platform.find_customization("flywheel-anything") is None


def test_capabilities_of_a_cpu_server(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    profiles = mock.get(f"{BASE}/apis/jobs/v2/execution-profiles")
    profiles.respond(json=[{"provider": "subprocess", "profile": "default", "backend": "subprocess"}])
    assert platform.capabilities == frozenset({"evaluate"})
    profiles.respond(json=[{"provider": "gpu", "profile": "gpu", "backend": "docker"}])
    assert platform.capabilities == frozenset({"evaluate", "customize", "deploy"})


def test_simulated_when_the_provider_is_a_flywheel_sandbox(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    providers = mock.get(PROVIDERS)
    providers.respond(404, json={"detail": "Workspace not found"})
    assert platform.simulated is False  # no workspace yet: asked again later
    providers.respond(json=page(provider()))
    info = mock.get(f"{SANDBOX}/_sandbox/info").respond(json={"sandbox": True, "simulated": True})
    assert platform.simulated is True
    assert platform.simulated is True
    assert info.call_count == 1


def test_not_simulated_behind_a_real_endpoint(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    mock.get(PROVIDERS).respond(json=page(provider("http://nim.test:8000/v1")))
    mock.get("http://nim.test:8000/_sandbox/info").respond(404, json={"detail": "Not Found"})
    assert platform.simulated is False


def test_chat_through_the_gateway_by_entity_id(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    served(mock)
    chat = mock.post(f"{BASE}/apis/inference-gateway/v2/workspaces/{WS}/openai/-/v1/chat/completions").respond(
        json={"choices": [{"message": {"role": "assistant", "content": "hi"}}]}
    )
    answer = platform.chat(NIM.model_name, [{"role": "user", "content": "hello"}])
    assert answer["choices"][0]["message"]["content"] == "hi"
    assert body_of(chat) == {"model": ENTITY, "messages": [{"role": "user", "content": "hello"}]}


def test_list_and_delete_what_flywheel_made(mock: respx.MockRouter, platform: HelixPlatform) -> None:
    models = f"{BASE}/apis/models/v2/workspaces/{WS}"
    mock.get(f"{models}/deployments").respond(json=page({"name": "meta-llama-3-2-1b-instruct", "status": "READY"},
                                                        {"name": "someone-elses", "status": "READY"}))  # fmt: skip
    mock.get(CUSTOMIZE).respond(json=page(
        {"name": "flywheel-c-1", "status": "active", "custom_fields": {"flywheel": "1", "flywheel_name": "flywheel-c"}},
        {"name": "flywheel-c-0", "status": "completed", "custom_fields": {"flywheel": "1"}}))  # fmt: skip
    mock.get(EVALS).respond(json=page(
        {"name": JOB, "status": "active",
         "custom_fields": {"flywheel": "1", "flywheel_name": "long-name", "workload": "w", "_nemo_telemetry": {}}},
        {"name": "theirs", "status": "completed", "custom_fields": {}}))  # fmt: skip
    mock.get(f"{BASE}/apis/files/v2/workspaces/{WS}/filesets").respond(
        json=page({"name": "flywheel-eval-w-1"}, {"name": "job-fileset-x"})
    )
    resources = platform.list_resources()
    assert resources == [
        RemoteResource("deployment", f"{WS}/meta-llama-3-2-1b-instruct", "meta-llama-3-2-1b-instruct", "READY"),
        RemoteResource("customization", "flywheel-c-1", "flywheel-c", "active"),
        RemoteResource("evaluation", JOB, "long-name", "active",
                       {"flywheel": "1", "flywheel_name": "long-name", "workload": "w"}),
        RemoteResource("dataset", f"{WS}/flywheel-eval-w-1", "flywheel-eval-w-1", "registered"),
    ]  # fmt: skip
    cancel = mock.post(f"{EVALS}/{JOB}/cancel").respond(200, json={})
    delete = mock.delete(f"{EVALS}/{JOB}").respond(200, json={})
    drop = mock.delete(f"{BASE}/apis/files/v2/workspaces/{WS}/filesets/flywheel-eval-w-1").respond(200, json={})
    platform.delete_resource(resources[2])
    platform.delete_resource(resources[3])
    assert (cancel.call_count, delete.call_count, drop.call_count) == (1, 1, 1)


def test_an_unreachable_server_is_a_remote_error() -> None:
    waits: list[float] = []
    with respx.mock, HelixPlatform(make_settings(), sleep=waits.append) as platform:
        discovery = respx.get(f"{BASE}/apis/auth/discovery").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(RemoteError, match=r"^helix: GET http://helix.test/apis/auth/discovery failed \(ConnectError\)"):
            platform.served_models()
    assert discovery.call_count == DEFAULT_ATTEMPTS and len(waits) == DEFAULT_ATTEMPTS - 1  # retried with backoff: nothing was sent
