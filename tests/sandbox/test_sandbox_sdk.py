"""The official NMP SDK (a dev dependency, used here as a contract oracle) drives the sandbox end to end."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from nemo_microservices import NeMoMicroservices, NotFoundError, UnprocessableEntityError
from sandbox_workload import (
    PRODUCTION_MODEL,
    jsonl,
    log_record,
    tool_eval_config,
    training_row,
    upload_dataset,
    wait_for,
)

from flywheel_cli.sandbox import Sandbox

BASE_1B = "meta/llama-3.2-1b-instruct"


def test_sdk_creates_a_deployment_a_customization_and_an_evaluation(sandbox: Sandbox, client: httpx.Client) -> None:
    upload_dataset(client, "fw", "train", {"training/train_data.jsonl": jsonl([training_row(i) for i in range(60)])})
    upload_dataset(client, "fw", "eval", {"eval_data.jsonl": jsonl([log_record(i) for i in range(20)])})
    sdk = NeMoMicroservices(base_url=sandbox.url, inference_base_url=sandbox.nim_url, max_retries=0)

    deployment = sdk.deployment.model_deployments.create(
        name="meta-llama-3.2-1b-instruct",
        namespace="fw",
        config={
            "model": BASE_1B,
            "nim_deployment": {"image_name": f"nvcr.io/nim/{BASE_1B}", "image_tag": "1.8.3", "gpu": 1},
        },
    )
    assert (deployment.status_details.status, deployment.url) == ("created", sandbox.nim_url)
    wait_for(
        lambda: sdk.deployment.model_deployments.retrieve("meta-llama-3.2-1b-instruct", namespace="fw").model_dump(),
        lambda d: d["status_details"]["status"] == "ready",
    )

    configs = sdk.customization.configs.list(filter={"target_base_model": BASE_1B, "finetuning_type": "lora"})
    assert [c.name for c in configs.data] == ["llama-3.2-1b-instruct@v1.0.0+80GB"]
    job = sdk.customization.jobs.create(
        config=f"{configs.data[0].namespace}/{configs.data[0].name}",
        dataset={"name": "train", "namespace": "fw"},
        hyperparameters={
            "training_type": "sft",
            "finetuning_type": "lora",
            "epochs": 1,
            "batch_size": 8,
            "lora": {"adapter_dim": 16},
        },
        output_model="fw/sdk-1b@v1",
    ).model_dump()
    assert (job["status"], job["output_model"], job["hyperparameters"]["lora"]["adapter_dim"]) == (
        "created",
        "fw/sdk-1b@v1",
        16,
    )
    seen = wait_for(lambda: sdk.customization.jobs.status(job["id"]).model_dump(), lambda d: d["status"] == "completed")
    # 60 rows, 10% held out → 54 train rows, batch 8 → 7 steps.
    assert (seen[-1]["steps_completed"], seen[-1]["epochs_completed"], seen[-1]["percentage_done"]) == (7, 1, 100.0)
    assert sdk.models.retrieve("sdk-1b@v1", namespace="fw").base_model == BASE_1B

    config: Any = tool_eval_config("hf://datasets/fw/eval/eval_data.jsonl", PRODUCTION_MODEL)
    evaluation = sdk.evaluation.jobs.create(config=config, target={"type": "model", "model": PRODUCTION_MODEL})
    assert (evaluation.status, evaluation.config.type) == ("created", "custom")
    eval_id = str(evaluation.id)
    wait_for(lambda: sdk.evaluation.jobs.retrieve(eval_id).model_dump(), lambda d: d["status"] == "completed")
    status = sdk.evaluation.jobs.status(eval_id)
    assert (status.progress, status.samples_processed) == (100.0, 20)
    results = sdk.evaluation.jobs.results(eval_id).model_dump()
    scores = results["tasks"]["custom-tool-calling"]["metrics"]["tool-calling-accuracy"]["scores"]
    assert scores["function_name_accuracy"]["value"] == 1.0

    chat = sdk.chat.completions.create(model=BASE_1B, messages=[{"role": "user", "content": "hello there"}])
    assert chat.choices[0].message.content

    with pytest.raises(NotFoundError) as missing:
        sdk.customization.jobs.retrieve("cust-missing")
    assert missing.value.status_code == 404
    bad: Any = {"finetuning_type": "qlora"}
    with pytest.raises(UnprocessableEntityError):
        sdk.customization.jobs.create(config="meta/x@v1", dataset="fw/train", hyperparameters=bad)
