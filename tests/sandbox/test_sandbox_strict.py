"""The sandbox answers like NMP: 422 detail lists, 404/409 details, DMS's 500 quirk, pagination and filters."""

from __future__ import annotations

import base64
import json

import httpx
from sandbox_workload import customization_body, deployment_body, jsonl, training_row, upload_dataset

CONFIG_1B = "meta/llama-3.2-1b-instruct@v1.0.0+80GB"


def test_job_without_finetuning_type_is_422_with_fastapi_detail(client: httpx.Client) -> None:
    body = {"config": CONFIG_1B, "dataset": {"name": "d", "namespace": "fw"}, "hyperparameters": {"epochs": 2}}
    response = client.post("/v1/customization/jobs", json=body)
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "missing",
                "loc": ["body", "hyperparameters", "finetuning_type"],
                "msg": "Field required",
                "input": {"epochs": 2},
            }
        ]
    }


def test_bad_enums_and_missing_fields_are_all_reported(client: httpx.Client) -> None:
    bad = client.post(
        "/v1/customization/jobs",
        json={
            "config": CONFIG_1B,
            "dataset": "fw/d",
            "hyperparameters": {"finetuning_type": "qlora", "training_type": "rlhf", "epochs": 0},
        },
    )
    assert bad.status_code == 422
    assert [(e["type"], e["loc"][-1], e["msg"]) for e in bad.json()["detail"]] == [
        ("enum", "finetuning_type", "Input should be 'lora', 'lora_merged' or 'all_weights'"),
        ("enum", "training_type", "Input should be 'sft', 'distillation', 'dpo' or 'grpo'"),
        ("greater_than_equal", "epochs", "Input should be greater than or equal to 1"),
    ]
    empty = client.post("/v1/customization/jobs", json={})
    assert [e["loc"] for e in empty.json()["detail"]] == [
        ["body", "config"],
        ["body", "dataset"],
        ["body", "hyperparameters"],
    ]


def test_invalid_json_and_unknown_routes(client: httpx.Client) -> None:
    broken = client.post("/v1/evaluation/jobs", content=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["type"] == "json_invalid"
    assert client.get("/v1/nothing/here").json() == {"detail": "Not Found"}
    assert client.get("/v1/nothing/here").status_code == 404
    wrong = client.put("/v1/namespaces")
    assert (wrong.status_code, wrong.json()) == (405, {"detail": "Method Not Allowed"})


def test_unknown_jobs_and_deployments_are_404(client: httpx.Client) -> None:
    cases = {
        "/v1/customization/jobs/cust-missing": "Customization job 'cust-missing' not found",
        "/v1/customization/jobs/cust-missing/status": "Customization job 'cust-missing' not found",
        "/v1/evaluation/jobs/eval-missing": "Evaluation job 'eval-missing' not found",
        "/v1/deployment/model-deployments/fw/none": "Model deployment 'fw/none' not found",
        "/v1/datasets/fw/none": "Dataset 'fw/none' not found",
    }
    for path, detail in cases.items():
        response = client.get(path)
        assert (response.status_code, response.json()) == (404, {"detail": detail}), path


def test_job_create_needs_a_known_config_and_dataset(client: httpx.Client) -> None:
    unknown_config = client.post(
        "/v1/customization/jobs", json=customization_body("meta/llama-9b@v9", "fw/d", "fw/out")
    )
    assert (unknown_config.status_code, unknown_config.json()) == (
        404,
        {"detail": "Customization config 'meta/llama-9b@v9' not found"},
    )
    unknown_dataset = client.post("/v1/customization/jobs", json=customization_body(CONFIG_1B, "fw/d", "fw/out"))
    assert (unknown_dataset.status_code, unknown_dataset.json()) == (404, {"detail": "Dataset 'fw/d' not found"})


def test_existing_namespace_is_409(client: httpx.Client) -> None:
    first = client.post("/v1/namespaces", json={"id": "fw", "description": "flywheel"})
    assert first.status_code == 200
    assert first.json()["id"] == "fw"
    again = client.post("/v1/namespaces", json={"id": "fw"})
    assert (again.status_code, again.json()) == (409, {"detail": "Namespace 'fw' already exists"})
    ds_first = client.post("/v1/datastore/namespaces", data={"namespace": "fw"})
    ds_again = client.post("/v1/datastore/namespaces", data={"namespace": "fw"})
    assert (ds_first.status_code, ds_again.status_code) == (201, 409)
    assert client.get("/v1/datastore/namespaces/fw").json()["namespace"] == "fw"


def test_duplicate_deployment_is_dms_500(client: httpx.Client) -> None:
    body = deployment_body("meta/llama-3.2-1b-instruct")
    assert client.post("/v1/deployment/model-deployments", json=body).status_code == 200
    again = client.post("/v1/deployment/model-deployments", json=body)
    assert (again.status_code, again.json()) == (500, {"detail": "model deployment already exists"})
    listed = client.get("/v1/deployment/model-deployments").json()
    assert [d["name"] for d in listed["data"]] == ["meta-llama-3.2-1b-instruct"]
    slash = client.post("/v1/deployment/model-deployments", json=dict(body, name="meta/llama"))
    assert slash.status_code == 422
    assert slash.json()["detail"][0]["loc"] == ["body", "name"]


def test_repo_upload_protocol(client: httpx.Client) -> None:
    content = jsonl([training_row(i) for i in range(3)])
    upload_dataset(client, "fw", "train", {"training/train_data.jsonl": content})
    again = client.post("/v1/hf/api/repos/create", json={"name": "train", "organization": "fw", "type": "dataset"})
    assert again.status_code == 409
    assert "already created" in again.json()["detail"]
    info = client.get("/v1/hf/api/datasets/fw/train").json()
    assert info["siblings"] == [{"rfilename": "training/train_data.jsonl", "size": len(content)}]
    assert client.get("/v1/hf/datasets/fw/train/resolve/main/training/train_data.jsonl").content == content
    lfs = json.dumps({"key": "lfsFile", "value": {"path": "big.jsonl", "algo": "sha256", "oid": "0" * 64, "size": 9}})
    header = json.dumps({"key": "header", "value": {"summary": "lfs"}})
    refused = client.post("/v1/hf/api/datasets/fw/train/commit/main", content=f"{header}\n{lfs}".encode())
    assert refused.status_code == 400
    bad_b64 = json.dumps({"key": "file", "value": {"path": "x.jsonl", "content": "***", "encoding": "base64"}})
    assert (
        client.post("/v1/hf/api/datasets/fw/train/commit/main", content=f"{header}\n{bad_b64}".encode()).status_code
        == 400
    )
    deleted = client.request(
        "DELETE", "/v1/hf/api/repos/delete", json={"name": "train", "organization": "fw", "type": "dataset"}
    )
    assert deleted.status_code == 200
    assert client.get("/v1/hf/api/datasets/fw/train").status_code == 404
    b64 = base64.b64encode(b"{}").decode()
    gone = client.post(
        "/v1/hf/api/datasets/fw/train/commit/main",
        content=f'{header}\n{{"key":"file","value":{{"path":"a","content":"{b64}"}}}}'.encode(),
    )
    assert gone.status_code == 404


def test_entity_patch_and_delete(client: httpx.Client) -> None:
    upload_dataset(client, "fw", "eval", {"eval_data.jsonl": b"{}\n"})
    patched = client.patch("/v1/datasets/fw/eval", json={"description": "eval set", "custom_fields": {"run": "r1"}})
    assert patched.status_code == 200
    assert (patched.json()["description"], patched.json()["custom_fields"]) == ("eval set", {"run": "r1"})
    assert client.get("/v1/datasets/fw/eval").json()["files_url"] == "hf://datasets/fw/eval"
    assert client.delete("/v1/datasets/fw/eval").json()["message"] == "Resource deleted successfully."
    assert client.get("/v1/datasets/fw/eval").status_code == 404
    orphan = client.post(
        "/v1/datasets", json={"name": "x", "namespace": "nowhere", "files_url": "hf://datasets/nowhere/x"}
    )
    assert (orphan.status_code, orphan.json()) == (404, {"detail": "Namespace 'nowhere' not found"})


def test_lists_paginate_and_filter(client: httpx.Client) -> None:
    for i in range(12):
        assert client.post("/v1/namespaces", json={"id": f"ns-{i:02d}"}).status_code == 200
    first = client.get("/v1/namespaces", params={"page_size": 5, "sort": "id"}).json()
    assert first["pagination"] == {
        "page": 1,
        "page_size": 5,
        "current_page_size": 5,
        "total_pages": 3,
        "total_results": 13,
    }
    last = client.get("/v1/namespaces", params={"page_size": 5, "page": 3, "sort": "id"}).json()
    assert [n["id"] for n in last["data"]] == ["ns-09", "ns-10", "ns-11"]
    beyond = client.get("/v1/namespaces", params={"page_size": 5, "page": 4}).json()
    assert beyond["data"] == []
    configs = client.get(
        "/v1/customization/configs", params={"filter[target_base_model]": "meta/llama-3.1-8b-instruct"}
    ).json()
    assert [(c["namespace"], c["name"]) for c in configs["data"]] == [("meta", "llama-3.1-8b-instruct@v1.0.0+80GB")]
    assert configs["data"][0]["target"]["name"] == "llama-3.1-8b-instruct@2.0"
    lora = client.get("/v1/customization/configs", params={"filter[finetuning_type]": "lora", "page_size": 100}).json()
    assert lora["pagination"]["total_results"] == 4


def test_chat_completions_are_strict(client: httpx.Client) -> None:
    missing = client.post("/nim/v1/chat/completions", json={"model": "meta/llama-3.2-1b-instruct"})
    assert missing.json()["detail"][0]["loc"] == ["body", "messages"]
    unserved = client.post(
        "/nim/v1/chat/completions",
        json={"model": "meta/llama-3.2-1b-instruct", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert (unserved.status_code, unserved.json()) == (
        404,
        {"detail": "The model `meta/llama-3.2-1b-instruct` does not exist or is not served."},
    )
    remote = client.post(
        "/nim/v1/chat/completions",
        json={"model": "meta/llama-3.3-70b-instruct", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert remote.status_code == 200
    assert remote.json()["choices"][0]["message"]["content"]


def test_streamed_chat_is_one_sse_chunk_then_done(client: httpx.Client) -> None:
    body = {"model": "meta/llama-3.3-70b-instruct", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    response = client.post("/nim/v1/chat/completions", json=body)
    assert response.headers["content-type"] == "text/event-stream"
    events = [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, "stop"]
    assert chunks[0]["choices"][0]["delta"]["content"]
    assert chunks[0]["system_fingerprint"] == "flywheel-sandbox-simulated"


def test_clients_can_add_customization_configs(client: httpx.Client) -> None:
    config = {
        "name": "llama-3.2-1b-instruct@v1.0.0+dfw",
        "namespace": "fw",
        "target": "meta/llama-3.2-1b-instruct@2.0",
        "training_options": [
            {"training_type": "sft", "finetuning_type": "lora", "num_gpus": 1, "micro_batch_size": 1},
        ],
        "training_precision": "bf16-mixed",
        "max_seq_length": 8192,
    }
    created = client.post("/v1/customization/configs", json=config)
    assert created.status_code == 200
    assert created.json()["target"]["base_model"] == "meta/llama-3.2-1b-instruct"
    again = client.post("/v1/customization/configs", json=config)
    assert (again.status_code, again.json()) == (
        409,
        {"detail": "Customization config 'fw/llama-3.2-1b-instruct@v1.0.0+dfw' already exists"},
    )
    no_target = client.post("/v1/customization/configs", json=dict(config, name="x", target="meta/none@1"))
    assert (no_target.status_code, no_target.json()) == (404, {"detail": "Target 'meta/none@1' not found"})
    upload_dataset(client, "fw", "train", {"training/train_data.jsonl": jsonl([training_row(i) for i in range(10)])})
    job = client.post("/v1/customization/jobs", json=customization_body(f"fw/{config['name']}", "fw/train", "fw/out"))
    assert job.json()["config_snapshot"]["base_model"] == "meta/llama-3.2-1b-instruct"
    full = client.post(
        "/v1/customization/jobs",
        json=dict(
            customization_body(f"fw/{config['name']}", "fw/train", "fw/out2"),
            hyperparameters={"finetuning_type": "all_weights"},
        ),
    )
    assert full.status_code == 422
    assert full.json()["detail"][0]["msg"] == (
        "Value error, the config offers no training option with training_type='sft' and finetuning_type='all_weights'"
    )
