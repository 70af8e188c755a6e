"""Jobs and deployments move through NMP's status sequences over simulated time; cancel and delete work."""

from __future__ import annotations

import math
from collections.abc import Iterator

import httpx
import pytest
from sandbox_workload import (
    customization_body,
    deployment_body,
    jsonl,
    log_record,
    tool_eval_config,
    training_row,
    upload_dataset,
    wait_for,
    wait_status,
)

from flywheel_cli.sandbox import Sandbox

CONFIG_1B = "meta/llama-3.2-1b-instruct@v1.0.0+80GB"
BASE_1B = "meta/llama-3.2-1b-instruct"


@pytest.fixture
def slow_client() -> Iterator[httpx.Client]:
    # 100 times real time: the 12 training steps below take 0.36 s, long enough to watch them advance.
    with Sandbox(speed=100.0, seed=42) as sb, httpx.Client(base_url=sb.url, timeout=5.0) as http:
        yield http


def _dedup(values: list[str]) -> list[str]:
    return [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]


def _served(client: httpx.Client) -> list[str]:
    return [m["id"] for m in client.get("/nim/v1/models").json()["data"]]


def test_customization_runs_to_a_served_adapter(slow_client: httpx.Client) -> None:
    client = slow_client
    upload_dataset(client, "fw", "train", {"training/train_data.jsonl": jsonl([training_row(i) for i in range(100)])})
    assert client.post("/v1/deployment/model-deployments", json=deployment_body(BASE_1B)).status_code == 200
    created = client.post("/v1/customization/jobs", json=customization_body(CONFIG_1B, "fw/train", "fw/custom-1b"))
    assert created.status_code == 200
    job = created.json()
    assert job["output_model"] == f"fw/custom-1b@{job['id']}"
    assert (job["status"], job["config"], job["dataset"]) == ("created", CONFIG_1B, "fw/train")
    entity = client.get(f"/v1/models/fw/custom-1b@{job['id']}").json()
    assert (entity["base_model"], entity["artifact"]["status"]) == (BASE_1B, "created")

    status_path = f"/v1/customization/jobs/{job['id']}/status"
    seen = [job["status_details"], *wait_status(client, status_path, "completed")]
    assert _dedup([s["status"] for s in seen]) == ["created", "pending", "running", "completed"]
    for key in ("percentage_done", "epochs_completed", "steps_completed"):
        values = [s[key] for s in seen]
        assert values == sorted(values), key
    assert len({s["percentage_done"] for s in seen}) >= 3
    final = seen[-1]
    # 100 rows, no validation file: 90 train (10% held out), batch 16 → 6 steps per epoch, 2 epochs.
    assert (
        final["percentage_done"],
        final["epochs_completed"],
        final["steps_completed"],
        final["steps_per_epoch"],
    ) == (
        100.0,
        2,
        12,
        6,
    )
    assert [p["step"] for p in final["metrics"]["metrics"]["train_loss"]] == [10, 12]
    assert [p["step"] for p in final["metrics"]["metrics"]["val_loss"]] == [6, 12]
    assert final["best_epoch"] == 2
    assert 0 < final["train_loss"] < final["metrics"]["metrics"]["train_loss"][0]["value"] + 0.05
    assert final["val_loss"] > 0
    assert [log["message"] for log in final["status_logs"]] == ["created", "pending", "PodRunning", "completed"]

    # The adapter reaches the NIM a refresh interval after completion.
    assert job["output_model"] not in _served(client)
    wait_for(lambda: {"ids": _served(client)}, lambda d: job["output_model"] in d["ids"])
    assert client.get(f"/v1/models/fw/custom-1b@{job['id']}").json()["artifact"]["status"] == "upload_completed"
    models = {m["id"]: m for m in client.get("/nim/v1/models").json()["data"]}
    assert models[job["output_model"]]["parent"] == BASE_1B

    assert client.delete(f"/v1/deployment/model-deployments/flywheel/{BASE_1B.replace('/', '-')}").status_code == 200
    assert _served(client) == []


def test_bad_training_rows_fail_the_job_naming_file_and_line(client: httpx.Client) -> None:
    rows = jsonl([training_row(i) for i in range(5)]).splitlines()
    rows[2] = b'{"messages": [oops'
    upload_dataset(client, "fw", "broken", {"training/train_data.jsonl": b"\n".join(rows) + b"\n"})
    stringy = training_row(1)
    stringy["messages"][2]["tool_calls"][0]["function"]["arguments"] = '{"order_id": "ORD-1001"}'
    upload_dataset(
        client,
        "fw",
        "stringy",
        {
            "training/train_data.jsonl": jsonl([training_row(0)]),
            "validation/val_data.jsonl": jsonl([training_row(2), stringy]),
        },
    )
    expected = {
        "broken": "Dataset validation failed: training/train_data.jsonl line 3: not valid JSON",
        "stringy": "Dataset validation failed: validation/val_data.jsonl line 2: "
        "messages[2].tool_calls[0].function.arguments must be a JSON object",
    }
    for name, detail in expected.items():
        job = client.post(
            "/v1/customization/jobs", json=customization_body(CONFIG_1B, f"fw/{name}", f"fw/{name}")
        ).json()
        seen = wait_status(client, f"/v1/customization/jobs/{job['id']}", "failed")
        last = seen[-1]["status_details"]["status_logs"][-1]
        assert last["message"] == "failed"
        assert last["detail"].startswith(detail), last["detail"]
        assert client.get(f"/v1/models/{job['output_model']}").json()["artifact"]["status"] == "upload_failed"


def test_deployments_become_ready_or_fail(client: httpx.Client) -> None:
    good = client.post("/v1/deployment/model-deployments", json=deployment_body(BASE_1B)).json()
    assert (good["status_details"]["status"], good["deployed"]) == ("created", False)
    bad = client.post(
        "/v1/deployment/model-deployments", json=deployment_body("meta/llama-3.1-8b-instruct", tag="fail")
    ).json()
    path = "/v1/deployment/model-deployments/flywheel/"
    ready = wait_for(lambda: client.get(path + good["name"]).json(), lambda d: d["status_details"]["status"] == "ready")
    assert _dedup([d["status_details"]["status"] for d in ready])[-2:] == ["pending", "ready"]
    assert ready[-1]["deployed"] is True
    failed = wait_for(
        lambda: client.get(path + bad["name"]).json(), lambda d: d["status_details"]["status"] == "failed"
    )
    assert "simulated failure" in failed[-1]["status_details"]["description"]
    assert _served(client) == [BASE_1B]


def test_cancel_customization_and_evaluation(client: httpx.Client) -> None:
    upload_dataset(client, "fw", "train", {"training/train_data.jsonl": jsonl([training_row(i) for i in range(40)])})
    # 300 samples keep the evaluation running for ~0.5 s at speed 1000, well past the cancel below.
    upload_dataset(client, "fw", "eval", {"eval_data.jsonl": jsonl([log_record(i) for i in range(300)])})
    job = client.post(
        "/v1/customization/jobs", json=customization_body(CONFIG_1B, "fw/train", "fw/c", epochs=50)
    ).json()
    cancelled = client.post(f"/v1/customization/jobs/{job['id']}/cancel")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelling")
    seen = wait_for(
        lambda: client.get(f"/v1/customization/jobs/{job['id']}").json(), lambda d: d["status"] == "cancelled"
    )
    assert seen[-1]["status_details"]["status_logs"][-1]["detail"] == "Job cancelled by user"
    again = client.post(f"/v1/customization/jobs/{job['id']}/cancel")
    assert (again.status_code, again.json()) == (
        409,
        {"detail": f"Customization job '{job['id']}' is cancelled and cannot be cancelled"},
    )

    config = tool_eval_config("hf://datasets/fw/eval/eval_data.jsonl", "meta/llama-3.3-70b-instruct")
    evaluation = client.post(
        "/v1/evaluation/jobs",
        json={"config": config, "target": {"type": "model", "model": "meta/llama-3.3-70b-instruct"}},
    ).json()
    stopped = client.post(f"/v1/evaluation/jobs/{evaluation['id']}/cancel")
    assert (stopped.status_code, stopped.json()["status"]) == (200, "cancelled")
    assert client.get(f"/v1/evaluation/jobs/{evaluation['id']}/results").status_code == 404
    assert client.delete(f"/v1/evaluation/jobs/{evaluation['id']}").status_code == 200
    assert client.get(f"/v1/evaluation/jobs/{evaluation['id']}").status_code == 404


def test_request_log_counts_creates_and_state_lists_live_resources(sandbox: Sandbox, client: httpx.Client) -> None:
    upload_dataset(client, "fw", "train", {"training/train_data.jsonl": jsonl([training_row(i) for i in range(20)])})
    client.post("/v1/deployment/model-deployments", json=deployment_body(BASE_1B))
    job = client.post(
        "/v1/customization/jobs", json=customization_body(CONFIG_1B, "fw/train", "fw/c", epochs=500)
    ).json()
    client.post("/v1/deployment/model-deployments", json=deployment_body(BASE_1B))  # the 500 duplicate creates nothing
    created = [e["created"] for e in sandbox.request_log() if e["created"]]
    assert [c["kind"] for c in created] == [
        "datastore_namespace",
        "namespace",
        "repo",
        "dataset",
        "deployment",
        "customization",
    ]
    assert created[-1]["id"] == job["id"]
    over_http = client.get("/_sandbox/requests").json()["requests"]
    assert [e["path"] for e in over_http][-2:] == ["/v1/customization/jobs", "/v1/deployment/model-deployments"]
    assert over_http[-1]["status"] == 500
    state = client.get("/_sandbox/state").json()
    assert state["live"] == {"deployments": 1, "customization_jobs": 1, "evaluation_jobs": 0}
    assert [d["name"] for d in state["deployments"]] == ["meta-llama-3.2-1b-instruct"]
    assert state["models"] == [job["output_model"]]
    info = client.get("/_sandbox/info").json()
    assert (info["sandbox"], info["simulated"], info["url"], info["nim_url"]) == (
        True,
        True,
        sandbox.url,
        sandbox.url + "/nim",
    )


def test_embeddings_are_deterministic_and_similar_texts_are_close(client: httpx.Client) -> None:
    texts = ["where is my order ORD-1001", "where is my order ORD-1002", "weather in Paris in celsius"]
    body = {"model": "nvidia/llama-3.2-nv-embedqa-1b-v2", "input": texts, "input_type": "query"}
    first = client.post("/nim/v1/embeddings", json=body).json()
    vectors = [d["embedding"] for d in first["data"]]
    assert [len(v) for v in vectors] == [64, 64, 64]
    assert all(math.isclose(sum(x * x for x in v), 1.0) for v in vectors)

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    assert client.post("/nim/v1/embeddings", json=body).json()["data"] == first["data"]
    no_type = client.post("/nim/v1/embeddings", json={"model": body["model"], "input": "x"})
    assert no_type.status_code == 400
