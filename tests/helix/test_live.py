"""Against a running NeMo Helix (FLYWHEEL_HELIX_URL; `bash scripts/helix/test.sh` starts one and sets it).

The sandbox's simulated models are registered in a fresh workspace as an OpenAI-compatible provider; flywheel
uploads a tool-calling workload's datasets, runs base and ICL evaluations through the inference gateway, and the
scores Helix reports must equal the scores of the same simulated answers computed here without Helix.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from flywheel_cli.config import NimConfig, NmpConfig, PlatformConfig, Settings
from flywheel_cli.datasets.build import build_dataset, dataset_dir
from flywheel_cli.datasets.formats import FILE_EVAL, FILE_ICL
from flywheel_cli.datasets.upload import upload_dataset
from flywheel_cli.errors import StepFailed
from flywheel_cli.helix import customization, eval_rows, metrics
from flywheel_cli.helix.models import deployment_config_body
from flywheel_cli.ingest import IngestOptions, ingest_files
from flywheel_cli.platforms.base import (
    CustomizationRequest,
    DatasetRef,
    DeploymentState,
    EvaluationJob,
    EvaluationRequest,
    JobState,
)
from flywheel_cli.platforms.helix import HelixPlatform
from flywheel_cli.platforms.nmp import NmpPlatform
from flywheel_cli.sandbox import Sandbox
from flywheel_cli.state.store import Store

from .conftest import HELIX_URL, openapi
from .expected import expected_samples, mean
from .openapi_schema import request_schema, trim, validate

pytestmark = pytest.mark.helix

REPO = Path(__file__).resolve().parents[2]
NIM = NimConfig(model_name="meta/llama-3.2-1b-instruct")
WORKSPACE = f"fw-itest-{os.getpid()}"
WAIT = 240.0


@dataclass
class World:
    helix: HelixPlatform
    sandbox: Sandbox
    store: Store
    dataset_id: str
    refs: dict[str, DatasetRef]
    settings: Settings


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    assert HELIX_URL
    root = tmp_path_factory.mktemp("helix-live")
    settings = Settings(platform=PlatformConfig(kind="helix", base_url=HELIX_URL, workspace=WORKSPACE), nims=[NIM])
    store = Store(root / "state.db")
    ingest_files(store, [str(REPO / "examples" / "logs.jsonl")], IngestOptions())
    dataset_id = build_dataset(store, settings, "tool_router").dataset_id
    with Sandbox(port=0, speed=1000.0, seed=42) as sandbox:
        # The sandbox serves the NIM once deployed through its NMP API, and learns the logged answers from the
        # datasets uploaded to it: the simulated models then answer like the production logs say (by quality).
        nmp_settings = settings.model_copy(update={"nmp": NmpConfig(nemo_url=sandbox.url, datastore_url=sandbox.url,
                                                                    nim_url=sandbox.nim_url)})  # fmt: skip
        with NmpPlatform(nmp_settings, sleep=lambda _: time.sleep(0.05)) as nmp:
            nmp.deploy(NIM)
            upload_dataset(store, nmp, dataset_id)
            _until(lambda: NIM.model_name in nmp.served_models(), "the sandbox to serve the NIM")
        with HelixPlatform(settings) as helix:
            helix.ensure_scope()
            helix.models.create_provider(WORKSPACE, "flywheel-sandbox", f"{sandbox.nim_url}/v1",
                                         description="flywheel sandbox (simulated models)")  # fmt: skip
            _until(lambda: NIM.model_name in helix.served_models(), "Helix to route to the sandbox's NIM")
            refs = upload_dataset(store, helix, dataset_id, endpoint=HELIX_URL)
            yield World(helix, sandbox, store, dataset_id, refs, settings)


def _until(check, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def _wait(world: World, job: EvaluationJob) -> EvaluationJob:
    deadline = time.monotonic() + WAIT
    while not job.status.state.terminal:
        assert time.monotonic() < deadline, f"{job.id} still {job.status.raw_status} after {WAIT:g}s"
        time.sleep(1.0)
        job = world.helix.get_evaluation(job.id)
    return job


def test_datasets_are_filesets(world: World) -> None:
    helix, ws = world.helix, WORKSPACE
    local = dataset_dir(world.store, world.dataset_id)
    assert {kind: ref.uri for kind, ref in world.refs.items()} == {
        kind: f"{ws}/flywheel-{kind}-tool-router-{world.dataset_id.removeprefix('ds-')}" for kind in ("eval", "icl", "train")
    }
    eval_name = world.refs["eval"].name
    assert sorted(helix.files.list_files(ws, eval_name)) == ["eval_data.jsonl", eval_rows.ROWS_FILE]
    assert sorted(helix.files.list_files(ws, world.refs["train"].name)) == [
        "training/train_data.jsonl", "validation/val_data.jsonl"
    ]  # fmt: skip
    downloaded = helix.session.http.request("GET", f"/apis/files/v2/workspaces/{ws}/filesets/{eval_name}/-/eval_data.jsonl")
    assert downloaded.content == (local / FILE_EVAL).read_bytes()


def test_the_provider_serves_the_simulated_model(world: World) -> None:
    helix = world.helix
    status = helix.get_deployment(NIM)
    assert status is not None and status.state is DeploymentState.READY and status.raw_status == "served"
    assert helix.simulated is True
    record = (dataset_dir(world.store, world.dataset_id) / FILE_EVAL).read_bytes().splitlines()[0]
    request = httpx.Response(200, content=record).json()["request"]
    through_gateway = helix.chat(NIM.model_name, request["messages"], request["tools"])
    with httpx.Client(trust_env=False) as client:
        direct = client.post(f"{world.sandbox.nim_url}/v1/chat/completions",
                             json={"model": NIM.model_name, "messages": request["messages"], "tools": request["tools"]}).json()  # fmt: skip
    assert through_gateway["choices"][0]["message"]["tool_calls"] == direct["choices"][0]["message"]["tool_calls"]


def test_base_and_icl_scores_equal_the_simulated_answers(world: World) -> None:
    helix, local = world.helix, dataset_dir(world.store, world.dataset_id)
    eval_records = world.store.get_dataset_row(world.dataset_id).eval_records
    jobs = {
        eval_type: helix.start_evaluation(
            EvaluationRequest(
                name=f"flywheel-{eval_type}-itest-{world.dataset_id}",
                workload_type="tool_calling",
                target_model=NIM.model_name,
                dataset=world.refs[kind],
                judge=world.settings.judge,
                limit=eval_records,
                labels={"workload": "tool_router", "eval_type": eval_type},
            )
        )
        for eval_type, kind in (("base", "eval"), ("icl", "icl"))
    }
    files = {"base": FILE_EVAL, "icl": FILE_ICL}
    for eval_type, job in jobs.items():
        done = _wait(world, job)
        assert done.status.state is JobState.COMPLETED, done.status.detail
        assert done.status.samples_processed == eval_records
        results = helix.evaluation_results(job.id)
        expected = expected_samples((local / files[eval_type]).read_bytes(), nim_url=world.sandbox.nim_url,
                                    model=NIM.model_name, limit=eval_records)  # fmt: skip
        assert results.samples == expected, eval_type
        for metric, values in expected.items():
            score = results.scores[metric]
            assert score.count == sum(v is not None for v in values)
            assert score.normalised == pytest.approx(mean(values), abs=1e-12), (eval_type, metric)
        print(f"{eval_type}: " + ", ".join(f"{m} {results.scores[m].normalised:.2f}" for m in sorted(expected)))
    found = helix.find_evaluation(f"flywheel-base-itest-{world.dataset_id}")
    assert found is not None and found.id == jobs["base"].id


def test_a_failed_evaluation_reports_its_cause(world: World) -> None:
    job = world.helix.start_evaluation(
        EvaluationRequest(
            name=f"flywheel-base-missing-{world.dataset_id}",
            workload_type="tool_calling",
            target_model="meta/llama-3.1-405b-instruct",  # nothing serves it
            dataset=world.refs["eval"],
            judge=world.settings.judge,
            limit=2,
        )
    )
    done = _wait(world, job)
    assert done.status.state is JobState.FAILED
    assert done.status.detail is not None and done.status.detail.startswith("Job exited with code 1: ")
    assert len(done.status.detail) > len("Job exited with code 1: ")


def test_gpu_stages_fit_the_live_schemas_and_stop_with_a_clear_message(world: World) -> None:
    helix, ws = world.helix, WORKSPACE
    live = helix.session.http.get("/openapi.json")
    schemas = live["components"]["schemas"]
    recorded = openapi()
    # The document the unit tests use is what this server serves for every path flywheel calls.
    assert {p: trim(live)["paths"].get(p) for p in recorded["paths"]} == recorded["paths"]
    assert {n: schemas.get(n) for n in recorded["components"]["schemas"]} == recorded["components"]["schemas"]
    request = CustomizationRequest(
        name=f"flywheel-itest-{world.dataset_id}",
        nim=NIM,
        dataset=world.refs["train"],
        training=world.settings.training,
        output_model_name=f"flywheel-itest-{world.dataset_id}-lora",
    )
    path = "/apis/customization/v2/workspaces/{workspace}/automodel/jobs"
    body = customization.job_body("automodel", name=request.name, model=f"{ws}/meta-llama-3-2-1b-instruct",
                                  dataset=request.dataset.uri, output_name=request.output_model_name, nim=NIM,
                                  training=request.training, project="flywheel", custom_fields={"flywheel": "1"})  # fmt: skip
    assert validate(body, request_schema(live, path), schemas) == []
    config = deployment_config_body("meta-llama-3-1-8b-instruct", NimConfig(model_name="meta/llama-3.1-8b-instruct"))
    assert validate(config, request_schema(live, "/apis/models/v2/workspaces/{workspace}/deployment-configs"), schemas) == []
    assert validate({"name": "x-1", "config": "x-1"}, request_schema(live, "/apis/models/v2/workspaces/{workspace}/deployments"), schemas) == []
    assert validate(metrics.tool_calling(), schemas["MetricInline"], schemas) == []
    with pytest.raises(StepFailed) as customize_err:
        helix.start_customization(request)
    assert customize_err.value.message.startswith("needs GPUs: ")
    with pytest.raises(StepFailed) as deploy_err:
        helix.deploy(NimConfig(model_name="meta/llama-3.1-8b-instruct"))
    assert deploy_err.value.message.startswith("needs GPUs: ")
    print(f"customize: {customize_err.value.message}\ndeploy: {deploy_err.value.message}")
