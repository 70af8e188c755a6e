"""Contract tests against the official SDK (`nemo-microservices==1.5.0`, a dev-only dependency).

The SDK is generated from NVIDIA's OpenAPI spec, so its types are the closest thing to the 25.x API contract:
- every request body flywheel sends validates against the SDK's `*Params` TypedDict, and carries no key the SDK does
  not know (pydantic accepts extra keys on TypedDicts, so that is checked separately and recursively);
- every JSON response fixture validates against the SDK's response model (fixtures under `datastore/` are not:
  the SDK does not cover the Data Store);
- each endpoint flywheel calls is the one the SDK calls for the same operation (method and path).
"""

from __future__ import annotations

import collections.abc
import importlib
import json
import typing
from collections.abc import Iterator
from typing import Any, Union, get_args, get_origin

import pytest
import respx
from pydantic import TypeAdapter
from typing_extensions import NotRequired, Required, get_type_hints, is_typeddict

from flywheel_cli.config import CustomizationConfig, JudgeConfig, NimConfig, TrainingConfig
from flywheel_cli.nmp import NmpClients, NmpError
from flywheel_cli.platforms.base import CustomizationRequest, DatasetRef, EvaluationRequest
from flywheel_cli.platforms.nmp import NmpPlatform

from .conftest import DATASTORE, FIXTURES, NEMO, NIM, fixture, make_settings, scoped

nemo_microservices = pytest.importorskip("nemo_microservices")


def sdk(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(f"nemo_microservices.{module}"), name)


# --- a recursive "no unknown keys" check for TypedDicts ---------------------------------------------------------------


def unknown_keys(value: Any, tp: Any, path: str = "$") -> list[str]:
    """Keys of `value` (recursively) that the type `tp` does not declare."""
    tp = _unwrap(tp)
    origin = get_origin(tp)
    if origin is Union:
        if not isinstance(value, (dict, list)):
            return []
        candidates = [unknown_keys(value, member, path) for member in get_args(tp) if _structured(member)]
        return min(candidates, key=len) if candidates else []
    if is_typeddict(tp):
        if not isinstance(value, dict):
            return []
        hints = get_type_hints(tp, include_extras=True)
        problems = [f"{path}.{key}" for key in value if key not in hints]
        for key, item in value.items():
            if key in hints:
                problems += unknown_keys(item, hints[key], f"{path}.{key}")
        return problems
    if origin in (dict, collections.abc.Mapping) and isinstance(value, dict):
        item_type = get_args(tp)[1] if get_args(tp) else Any
        return [p for key, item in value.items() for p in unknown_keys(item, item_type, f"{path}.{key}")]
    if _is_sequence(origin) and isinstance(value, list):
        item_type = get_args(tp)[0] if get_args(tp) else Any
        return [p for i, item in enumerate(value) for p in unknown_keys(item, item_type, f"{path}[{i}]")]
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin in (Required, NotRequired, typing.Annotated) or origin is getattr(typing, "Required", None):
            tp = get_args(tp)[0]
        elif hasattr(tp, "__metadata__"):
            tp = tp.__origin__
        else:
            return tp


def _structured(tp: Any) -> bool:
    tp = _unwrap(tp)
    origin = get_origin(tp)
    return is_typeddict(tp) or origin in (dict, collections.abc.Mapping) or _is_sequence(origin) or origin is Union


def _is_sequence(origin: Any) -> bool:
    return (
        origin in (list, collections.abc.Iterable, collections.abc.Sequence)
        or getattr(origin, "__name__", "") == "SequenceNotStr"
    )


def test_the_key_check_catches_typos_at_any_depth() -> None:
    params = sdk("types.customization.job_create_params.JobCreateParams")
    body = {
        "config": "c",
        "dataset": {"name": "d", "namespce": "n"},
        "hyperparameter": {},
        "hyperparameters": {"finetuning_type": "lora", "lora": {"adapter_dimm": 8}},
        "integrations": [{"type": "wandb", "wandb": {"projct": "p"}}],
    }
    assert sorted(unknown_keys(body, params)) == [
        "$.dataset.namespce",
        "$.hyperparameter",
        "$.hyperparameters.lora.adapter_dimm",
        "$.integrations[0].wandb.projct",
    ]
    assert (
        unknown_keys(
            {"config": "ns/name@v1", "dataset": "ns/d", "hyperparameters": {"finetuning_type": "lora"}}, params
        )
        == []
    )


# --- request bodies, captured from the wire ---------------------------------------------------------------------------

DEPLOYMENT_CREATE = "types.deployment.model_deployment_create_params.ModelDeploymentCreateParams"
PARAMS = {
    "namespace create": "types.namespace_create_params.NamespaceCreateParams",
    "project create": "types.project_create_params.ProjectCreateParams",
    "dataset create": "types.dataset_create_params.DatasetCreateParams",
    "dataset update": "types.dataset_update_params.DatasetUpdateParams",
    "deployment create": DEPLOYMENT_CREATE,
    "deployment create (no guided decoding)": DEPLOYMENT_CREATE,
    "customization config create": "types.customization.config_create_params.ConfigCreateParams",
    "customization job create": "types.customization.job_create_params.JobCreateParams",
    "customization job create (alpha)": "types.customization.job_create_params.JobCreateParams",
    "evaluation tool-calling, no judge": "types.evaluation.job_create_params.JobCreateParams",
    "evaluation tool-calling, local judge": "types.evaluation.job_create_params.JobCreateParams",
    "evaluation tool-calling, remote judge": "types.evaluation.job_create_params.JobCreateParams",
    "evaluation generic, local judge": "types.evaluation.job_create_params.JobCreateParams",
    "evaluation generic, remote judge": "types.evaluation.job_create_params.JobCreateParams",
    "embeddings": "types.embedding_create_params.EmbeddingCreateParams",
}


def _eval(name: str, workload: str, judge: JudgeConfig) -> EvaluationRequest:
    return EvaluationRequest(
        name=name,
        workload_type=workload,  # type: ignore[arg-type]
        target_model="flywheel/llama-3.2-1b-tool_router@cust-FarcM8gwhL1XFDXQ57qGLL",
        dataset=DatasetRef("eval", "flywheel-eval-w-1", "hf://datasets/flywheel/flywheel-eval-w-1"),
        judge=judge,
        limit=100,
        labels={"workload": "w", "run": "r-1"},
    )


@pytest.fixture(scope="module")
def bodies() -> dict[str, Any]:
    """Drive the platform once through every create, recording what went over the wire."""
    local = JudgeConfig(kind="local", model="meta/llama-3.3-70b-instruct")
    remote = JudgeConfig(kind="remote", url="https://judge.example/v1/chat/completions")
    nim = NimConfig(
        model_name="meta/llama-3.2-3b-instruct",
        customization=CustomizationConfig(target="meta/llama-3.2-3b-instruct@2.0"),
    )
    plain_nim = NimConfig(model_name="acme/tiny-chat", guided_decoding_backend=None)
    captured: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as env, respx.mock(assert_all_mocked=True) as mock:
        env.setenv("LLM_JUDGE_API_KEY", "sk-contract-test")
        scoped(mock)
        mock.get(url__regex=rf"{DATASTORE}/v1/hf/api/datasets/.*").respond(404, json={"detail": "no repo"})
        mock.post(f"{DATASTORE}/v1/hf/api/repos/create").respond(200, json={})
        mock.post(url__regex=r".*/preupload/main").respond(200, json={"files": []})
        mock.post(url__regex=r".*/commit/main").respond(200, json={})
        mock.get(f"{NEMO}/v1/datasets/flywheel/new").respond(404, json={"detail": "no"})
        mock.get(f"{NEMO}/v1/datasets/flywheel/stale").respond(200, json=fixture("dataset"))
        mock.post(f"{NEMO}/v1/datasets").respond(200, json=fixture("dataset"))
        mock.patch(f"{NEMO}/v1/datasets/flywheel/stale").respond(200, json=fixture("dataset"))
        mock.get(url__regex=rf"{NEMO}/v1/deployment/model-deployments/.*").respond(404, json={"detail": "no"})
        mock.post(f"{NEMO}/v1/deployment/model-deployments").respond(200, json=fixture("model_deployment_pending"))
        mock.get(f"{NEMO}/v1/customization/configs").respond(200, json={"data": []})
        mock.post(f"{NEMO}/v1/customization/configs").respond(200, json={})
        mock.post(f"{NEMO}/v1/customization/jobs").respond(200, json=fixture("customization_job_created"))
        mock.post(f"{NEMO}/v1/evaluation/jobs").respond(200, json=fixture("evaluation_job_created"))
        mock.post(f"{NIM}/v1/embeddings").respond(200, json=fixture("embeddings") | {"data": []})

        with NmpPlatform(make_settings(nims=[nim, plain_nim])) as platform:
            platform.ensure_scope()
            platform.upload_dataset("eval", "new", {"eval_data.jsonl": b"{}\n"})
            platform.upload_dataset("eval", "stale", {"eval_data.jsonl": b"{}\n"})
            platform.deploy(nim)
            platform.deploy(plain_nim)
            for training in (TrainingConfig(), TrainingConfig(alpha=64)):
                platform.start_customization(
                    CustomizationRequest(
                        "flywheel-cust-1", nim, DatasetRef("train", "t", "hf://datasets/flywheel/t"), training, "out"
                    )
                )
            for workload, judge in [
                ("tool_calling", JudgeConfig()),
                ("tool_calling", local),
                ("tool_calling", remote),
                ("generic", local),
                ("generic", remote),
            ]:
                platform.start_evaluation(_eval(f"flywheel-eval-{workload}-{judge.kind}", workload, judge))
            platform.embed("nvidia/llama-3.2-nv-embedqa-1b-v2", [])

        def sent(method: str, url: str) -> Iterator[Any]:
            for call in mock.calls:
                if call.request.method == method and str(call.request.url) == url:
                    yield json.loads(call.request.content)

        captured["namespace create"] = next(sent("POST", f"{NEMO}/v1/namespaces"))
        captured["project create"] = next(sent("POST", f"{NEMO}/v1/projects"))
        captured["dataset create"] = next(sent("POST", f"{NEMO}/v1/datasets"))
        captured["dataset update"] = next(sent("PATCH", f"{NEMO}/v1/datasets/flywheel/stale"))
        captured["deployment create"], captured["deployment create (no guided decoding)"] = sent(
            "POST", f"{NEMO}/v1/deployment/model-deployments"
        )
        captured["customization config create"] = next(sent("POST", f"{NEMO}/v1/customization/configs"))
        captured["customization job create"], captured["customization job create (alpha)"] = sent(
            "POST", f"{NEMO}/v1/customization/jobs"
        )
        evals = list(sent("POST", f"{NEMO}/v1/evaluation/jobs"))
        for label, payload in zip([k for k in PARAMS if k.startswith("evaluation")], evals, strict=True):
            captured[label] = payload
        captured["embeddings"] = next(sent("POST", f"{NIM}/v1/embeddings"))
    return captured


def test_every_create_was_captured(bodies: dict[str, Any]) -> None:
    assert sorted(bodies) == sorted(PARAMS)
    assert "additional_envs" not in bodies["deployment create (no guided decoding)"]["config"]["nim_deployment"]
    assert bodies["customization job create (alpha)"]["hyperparameters"]["lora"]["alpha"] == 64
    remote = bodies["evaluation tool-calling, remote judge"]["config"]["tasks"]["custom-tool-calling"]
    assert remote["metrics"]["correctness"]["params"]["model"]["api_endpoint"]["api_key"] == "sk-contract-test"


# The SDK's Params TypedDicts also hold the path parameters of their endpoint.
PATH_PARAMS = {"dataset update": {"namespace": "flywheel"}}


@pytest.mark.parametrize("label", list(PARAMS))
def test_request_body_matches_the_sdk(bodies: dict[str, Any], label: str) -> None:
    params = sdk(PARAMS[label])
    assert not set(PATH_PARAMS.get(label, {})) & set(bodies[label])
    TypeAdapter(params).validate_python({**bodies[label], **PATH_PARAMS.get(label, {})})
    assert unknown_keys(bodies[label], params) == []


@pytest.mark.parametrize("label", [k for k in PARAMS if k.startswith("evaluation") and "no judge" not in k])
def test_judge_reference_matches_the_sdk_model_reference(bodies: dict[str, Any], label: str) -> None:
    # Metric params are free-form in the SDK; the judge inside them is an Evaluator model reference.
    task = next(iter(bodies[label]["config"]["tasks"].values()))
    judge = next(m for m in task["metrics"].values() if m["type"] == "llm-judge")["params"]["model"]
    model_reference = sdk("types.model_ev_param.ModelEvParam")
    reference = Union[str, model_reference]
    TypeAdapter(reference).validate_python(judge)
    assert unknown_keys(judge, reference) == []


# --- response fixtures ------------------------------------------------------------------------------------------------

RESPONSES = {
    "chat_completion": "types.chat.chat_completion_response.ChatCompletionResponse",
    "customization_configs_page": (
        "types.customization.customization_config_outputs_page.CustomizationConfigOutputsPage"
    ),
    "customization_job_created": "types.customization.customization_job.CustomizationJob",
    "customization_job_failed": "types.customization.customization_job.CustomizationJob",
    "customization_job_running": "types.customization.customization_job.CustomizationJob",
    "customization_jobs_page": "types.customization.customization_job_outputs_page.CustomizationJobOutputsPage",
    "customization_status": "types.customization.customization_status_details.CustomizationStatusDetails",
    "dataset": "types.dataset.Dataset",
    "datasets_page": "types.datasets_page.DatasetsPage",
    "embeddings": "types.create_embedding_response.CreateEmbeddingResponse",
    "evaluation_job_completed": "types.evaluation.evaluation_job.EvaluationJob",
    "evaluation_job_created": "types.evaluation.evaluation_job.EvaluationJob",
    "evaluation_job_failed": "types.evaluation.evaluation_job.EvaluationJob",
    "evaluation_job_running": "types.evaluation.evaluation_job.EvaluationJob",
    "evaluation_jobs_page": "types.evaluation.evaluation_jobs_page.EvaluationJobsPage",
    "evaluation_result_generic": "types.evaluation_result.EvaluationResult",
    "evaluation_result_tool_calling": "types.evaluation_result.EvaluationResult",
    "model_deployment_failed": "types.deployment.model_deployment.ModelDeployment",
    "model_deployment_pending": "types.deployment.model_deployment.ModelDeployment",
    "model_deployment_ready": "types.deployment.model_deployment.ModelDeployment",
    "model_deployments_page": "types.deployment.model_deployments_page.ModelDeploymentsPage",
    "models_page": "types.models_page.ModelsPage",
    "namespace": "types.namespace.Namespace",
    "nim_models": "lib.custom_types.inference.model_list_response.ModelListResponse",
    "project": "types.project.Project",
}


def test_every_fixture_has_an_sdk_model() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(RESPONSES)


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_response_fixture_matches_the_sdk(name: str) -> None:
    sdk(RESPONSES[name]).model_validate(fixture(name))


# --- endpoints: flywheel calls what the SDK calls ---------------------------------------------------------------------


def _record(action: Any) -> set[tuple[str, str]]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        mock.route(method="GET", url__regex=r".*/v1/datasets/flywheel/(absent|d)$").respond(404, json={"detail": "no"})
        mock.route().respond(200, json={"data": [], "choices": [], "id": "x", "files_url": "", "name": "x"})
        try:
            action()
        except (nemo_microservices.APIStatusError, NmpError):
            pass  # only the request matters here
        return {(c.request.method, c.request.url.path) for c in mock.calls}


def test_endpoints_match_the_sdk() -> None:
    client = nemo_microservices.NeMoMicroservices(base_url=NEMO, inference_base_url=NIM, max_retries=0)
    ours = NmpClients.from_config(make_settings().nmp, sleep=lambda _: None)
    job, ev = "cust-1", "eval-1"
    pairs = [
        (lambda: client.namespaces.create(id="flywheel"), lambda: ours.entity_store.ensure_namespace("flywheel")),
        (
            lambda: client.projects.create(name="p", namespace="flywheel"),
            lambda: ours.entity_store.ensure_project("flywheel", "p"),
        ),
        (
            lambda: client.datasets.retrieve("d", namespace="flywheel"),
            lambda: ours.entity_store.get_dataset("flywheel", "d"),
        ),
        (
            lambda: client.datasets.create(files_url="hf://x"),
            lambda: ours.entity_store.upsert_dataset("flywheel", "absent", files_url="hf://x"),
        ),
        (
            lambda: client.datasets.update("d2", namespace="flywheel", files_url="hf://x"),
            lambda: ours.entity_store.upsert_dataset("flywheel", "d2", files_url="hf://x"),
        ),
        (
            lambda: client.datasets.delete("d", namespace="flywheel"),
            lambda: ours.entity_store.delete_dataset("flywheel", "d"),
        ),
        (lambda: client.datasets.list(), lambda: ours.entity_store.list_datasets("flywheel")),
        (lambda: client.models.list(), lambda: ours.entity_store.list_models("flywheel")),
        (
            lambda: client.models.delete("m@cust-1", namespace="flywheel"),
            lambda: ours.entity_store.delete_model("flywheel/m@cust-1"),
        ),
        (lambda: client.customization.configs.list(), lambda: ours.customizer.list_configs()),
        (
            lambda: client.customization.configs.create(max_seq_length=1, training_options=[]),
            lambda: ours.customizer.create_config({}),
        ),
        (
            lambda: client.customization.jobs.create(
                config="c", dataset="d", hyperparameters={"finetuning_type": "lora"}
            ),
            lambda: ours.customizer.create_job({}),
        ),
        (lambda: client.customization.jobs.retrieve(job), lambda: ours.customizer.get_job(job)),
        (lambda: client.customization.jobs.status(job), lambda: ours.customizer.job_status(job)),
        (lambda: client.customization.jobs.cancel(job), lambda: ours.customizer.cancel_job(job)),
        (lambda: client.customization.jobs.list(), lambda: ours.customizer.list_jobs()),
        (lambda: client.evaluation.jobs.create(config="c", target="t"), lambda: ours.evaluator.create_job({})),
        (lambda: client.evaluation.jobs.retrieve(ev), lambda: ours.evaluator.get_job(ev)),
        (lambda: client.evaluation.jobs.status(ev), lambda: ours.evaluator.job_status(ev)),
        (lambda: client.evaluation.jobs.results(ev), lambda: ours.evaluator.results(ev)),
        (lambda: client.evaluation.jobs.download_results(ev), lambda: ours.evaluator.download_results(ev)),
        (lambda: client.evaluation.jobs.cancel(ev), lambda: ours.evaluator.cancel_job(ev)),
        (lambda: client.evaluation.jobs.delete(ev), lambda: ours.evaluator.delete_job(ev)),
        (lambda: client.evaluation.jobs.list(), lambda: ours.evaluator.list_jobs("flywheel")),
        (
            lambda: client.deployment.model_deployments.create(config="c"),
            lambda: ours.deployments.create({"name": "n", "namespace": "flywheel"}),
        ),
        (
            lambda: client.deployment.model_deployments.retrieve("n", namespace="flywheel"),
            lambda: ours.deployments.get("flywheel", "n"),
        ),
        (
            lambda: client.deployment.model_deployments.delete("n", namespace="flywheel"),
            lambda: ours.deployments.delete("flywheel", "n"),
        ),
        (lambda: client.deployment.model_deployments.list(), lambda: ours.deployments.list_deployments("flywheel")),
        (lambda: client.inference.models.list(), lambda: ours.proxy.model_ids()),
        (lambda: client.chat.completions.create(model="m", messages=[]), lambda: ours.proxy.chat("m", [])),
        (lambda: client.embeddings.create(model="m", input=[]), lambda: ours.proxy.embed("m", [])),
    ]
    try:
        for theirs, mine in pairs:
            expected = _record(theirs)
            assert len(expected) == 1, expected
            assert expected <= _record(mine), f"{expected} not called by flywheel"
    finally:
        ours.close()
        client.close()
