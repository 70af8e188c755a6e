"""Evaluations score real uploaded data with simulated models whose quality follows size, ICL and LoRA data."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sandbox_workload import (
    PRODUCTION_MODEL,
    customization_body,
    deployment_body,
    icl_system,
    jsonl,
    log_record,
    tool_eval_config,
    training_row,
    upload_dataset,
    wait_for,
    wait_status,
)

from flywheel_cli.sandbox import Sandbox

BASE_1B = "meta/llama-3.2-1b-instruct"
BASE_8B = "meta/llama-3.1-8b-instruct"
TASK = "custom-tool-calling"
EVAL_URL = "hf://datasets/fw/eval/eval_data.jsonl"
ICL_URL = "hf://datasets/fw/icl/eval_data.jsonl"
SECRET = "judge-key-1234"


@dataclass
class Outcome:
    job: dict[str, Any]
    results: dict[str, Any]
    rows: list[dict[str, Any]]

    def score(self, name: str) -> float:
        for metric in self.results["tasks"][TASK]["metrics"].values():
            if name in metric["scores"]:
                return float(metric["scores"][name]["value"])
        raise KeyError(name)


def _upload_workload(client: httpx.Client) -> None:
    evals, train = range(100), range(100, 400)
    upload_dataset(client, "fw", "eval", {"eval_data.jsonl": jsonl([log_record(i) for i in evals])})
    icl = icl_system([100, 101, 102])
    upload_dataset(client, "fw", "icl", {"eval_data.jsonl": jsonl([log_record(i, icl) for i in evals])})
    upload_dataset(
        client,
        "fw",
        "train",
        {
            "training/train_data.jsonl": jsonl([training_row(i) for i in train[:270]]),
            "validation/val_data.jsonl": jsonl([training_row(i) for i in train[270:]]),
        },
    )


def _customize_1b(client: httpx.Client) -> str:
    # Config names are discovered, never guessed.
    configs = client.get("/v1/customization/configs", params={"filter[target_base_model]": BASE_1B}).json()["data"]
    config = f"{configs[0]['namespace']}/{configs[0]['name']}"
    job = client.post("/v1/customization/jobs", json=customization_body(config, "fw/train", "fw/tool-router-1b")).json()
    wait_for(lambda: client.get("/nim/v1/models").json(), lambda d: job["output_model"] in [m["id"] for m in d["data"]])
    return str(job["output_model"])


def _evaluate(
    client: httpx.Client, targets: dict[str, tuple[str, str]], judge: Any, extra_metrics: dict[str, Any] | None = None
) -> dict[str, Outcome]:
    ids = {}
    for label, (files_url, model) in targets.items():
        config = tool_eval_config(files_url, judge)
        if extra_metrics and label in extra_metrics:
            config["tasks"][TASK]["metrics"].update(extra_metrics[label])
        body = {
            "config": config,
            "target": {"type": "model", "model": model},
            "namespace": "fw",
            "custom_fields": {"label": label},
        }
        created = client.post("/v1/evaluation/jobs", json=body)
        assert created.status_code == 200, created.text
        ids[label] = created.json()["id"]
    outcomes = {}
    for label, job_id in ids.items():
        job = wait_status(client, f"/v1/evaluation/jobs/{job_id}", "completed", "failed")[-1]
        assert job["status"] == "completed", job["status_details"]
        results = client.get(f"/v1/evaluation/jobs/{job_id}/results").json()
        archive = zipfile.ZipFile(io.BytesIO(client.get(f"/v1/evaluation/jobs/{job_id}/download-results").content))
        outcomes[label] = Outcome(job, results, json.loads(archive.read("results.json"))[TASK])
    return outcomes


def run_workload(sandbox: Sandbox, client: httpx.Client, labels: tuple[str, ...]) -> dict[str, Outcome]:
    _upload_workload(client)
    for model in (BASE_1B, BASE_8B):
        assert client.post("/v1/deployment/model-deployments", json=deployment_body(model)).status_code == 200
    wait_for(lambda: client.get("/nim/v1/models").json(), lambda d: {BASE_1B, BASE_8B} <= {m["id"] for m in d["data"]})
    customized = _customize_1b(client) if "customized_1b" in labels else ""
    targets = {
        "base_1b": (EVAL_URL, BASE_1B),
        "icl_1b": (ICL_URL, BASE_1B),
        "customized_1b": (EVAL_URL, customized),
        "base_8b": (EVAL_URL, BASE_8B),
        "production": ("hf://datasets/fw/eval", PRODUCTION_MODEL),
    }
    judge = {
        "api_endpoint": {
            "url": sandbox.nim_url + "/v1/chat/completions",
            "model_id": PRODUCTION_MODEL,
            "api_key": SECRET,
        }
    }
    unparseable = {
        "unparseable": {
            "type": "llm-judge",
            "params": {
                "model": PRODUCTION_MODEL,
                "template": {"messages": [{"role": "user", "content": "REFERENCE: a b c\nCANDIDATE: a b"}]},
                "scores": {"never": {"type": "int", "parser": {"type": "regex", "pattern": "SCORE=(\\d+)"}}},
            },
        }
    }
    return _evaluate(client, {k: v for k, v in targets.items() if k in labels}, judge, {"production": unparseable})


ALL = ("base_1b", "icl_1b", "customized_1b", "base_8b", "production")


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Sandbox, httpx.Client, dict[str, Outcome]]]:
    with Sandbox(speed=1000.0, seed=42) as sb, httpx.Client(base_url=sb.url, timeout=10.0) as http:
        yield sb, http, run_workload(sb, http, ALL)


def _calls(message: dict[str, Any]) -> list[tuple[str, Any]]:
    out = []
    for call in message.get("tool_calls") or []:
        args = call["function"]["arguments"]
        out.append((call["function"]["name"], json.loads(args) if isinstance(args, str) else args))
    return out


def test_scores_equal_the_mean_of_the_per_sample_rows(world: tuple[Sandbox, httpx.Client, dict[str, Outcome]]) -> None:
    for label, outcome in world[2].items():
        assert len(outcome.rows) == 100, label
        names = args = 0
        for row in outcome.rows:
            truth = _calls(row["item"]["response"]["choices"][0]["message"])
            predicted = _calls(row["sample"]["response"]["choices"][0]["message"])
            same_names = [n for n, _ in truth] == [n for n, _ in predicted]
            scores = row["metrics"]["tool-calling-accuracy"]["scores"]
            assert scores["function_name_accuracy"]["value"] == float(same_names)
            assert scores["function_name_and_args_accuracy"]["value"] == float(truth == predicted)
            names += same_names
            args += truth == predicted
        aggregated = outcome.results["tasks"][TASK]["metrics"]["tool-calling-accuracy"]["scores"]
        values = [
            row["metrics"]["tool-calling-accuracy"]["scores"]["function_name_accuracy"]["value"] for row in outcome.rows
        ]
        assert aggregated["function_name_accuracy"] == {
            "value": names / 100,
            "stats": {
                "count": 100,
                "sum": float(names),
                "mean": names / 100,
                "nan_count": 0,
                "min": min(values),
                "max": max(values),
            },
        }
        assert aggregated["function_name_and_args_accuracy"]["value"] == args / 100
        ratings = [row["metrics"]["correctness"]["scores"]["rating"]["value"] for row in outcome.rows]
        assert outcome.score("rating") == sum(ratings) / 100
        assert outcome.results["simulated"] is True


def test_quality_grows_with_size_icl_and_lora(world: tuple[Sandbox, httpx.Client, dict[str, Outcome]]) -> None:
    o = world[2]
    for score in ("function_name_accuracy", "function_name_and_args_accuracy", "rating"):
        assert o["base_1b"].score(score) < o["base_8b"].score(score), score
        assert o["base_1b"].score(score) < o["icl_1b"].score(score) < o["customized_1b"].score(score), score
    assert (o["base_1b"].score("function_name_accuracy"), o["customized_1b"].score("function_name_accuracy")) == (
        0.62,
        0.9,
    )


def test_production_model_scores_one_and_unreadable_ratings_are_nan(
    world: tuple[Sandbox, httpx.Client, dict[str, Outcome]],
) -> None:
    production = world[2]["production"]
    assert [production.score(s) for s in ("function_name_accuracy", "function_name_and_args_accuracy", "rating")] == [
        1.0,
        1.0,
        1.0,
    ]
    never = production.results["tasks"][TASK]["metrics"]["unparseable"]["scores"]["never"]
    assert never == {"value": None, "stats": {"count": 0, "sum": 0, "mean": None, "nan_count": 100}}
    assert {row["metrics"]["unparseable"]["scores"]["never"]["value"] for row in production.rows} == {None}


def test_job_views_mask_keys_and_report_progress(world: tuple[Sandbox, httpx.Client, dict[str, Outcome]]) -> None:
    _, client, outcomes = world
    job = outcomes["base_1b"].job
    judge = job["config"]["tasks"][TASK]["metrics"]["correctness"]["params"]["model"]["api_endpoint"]
    assert judge["api_key"] == "******"
    assert SECRET not in json.dumps(client.get("/v1/evaluation/jobs", params={"page_size": 100}).json())
    assert (job["namespace"], job["custom_fields"], job["result"]) == (
        "fw",
        {"label": "base_1b"},
        outcomes["base_1b"].results["id"],
    )
    status = client.get(f"/v1/evaluation/jobs/{job['id']}/status").json()
    assert status == {
        "message": "Job completed successfully",
        "progress": 100.0,
        "samples_processed": 100,
        "task_status": {TASK: "completed"},
    }
    listed = client.get("/v1/evaluation/jobs", params={"filter[custom_fields][label]": "icl_1b"}).json()
    assert [j["id"] for j in listed["data"]] == [outcomes["icl_1b"].job["id"]]
    by_status = client.get("/v1/evaluation/jobs", params={"filter[status]": "completed", "page_size": 2}).json()
    assert by_status["pagination"]["total_pages"] == 3


def test_unserved_target_fails_the_job(world: tuple[Sandbox, httpx.Client, dict[str, Outcome]]) -> None:
    _, client, _ = world
    body = {
        "config": tool_eval_config(EVAL_URL, PRODUCTION_MODEL),
        "target": {"type": "model", "model": "meta/llama-3.2-3b-instruct"},
    }
    job = client.post("/v1/evaluation/jobs", json=body).json()
    failed = wait_for(
        lambda: client.get(f"/v1/evaluation/jobs/{job['id']}").json(), lambda d: d["status"] in ("failed", "completed")
    )[-1]
    assert failed["status"] == "failed"
    assert failed["status_details"]["message"] == (
        "target model 'meta/llama-3.2-3b-instruct' answered HTTP 404: "
        "The model `meta/llama-3.2-3b-instruct` does not exist or is not served."
    )
    missing = {
        "config": tool_eval_config("hf://datasets/fw/nothing/eval_data.jsonl", PRODUCTION_MODEL),
        "target": {"type": "model", "model": PRODUCTION_MODEL},
    }
    job = client.post("/v1/evaluation/jobs", json=missing).json()
    failed = wait_for(lambda: client.get(f"/v1/evaluation/jobs/{job['id']}").json(), lambda d: d["status"] == "failed")[
        -1
    ]
    assert failed["status_details"]["message"] == "dataset repository fw/nothing not found in the Data Store"


def test_same_seed_gives_the_same_answers_and_another_seed_does_not(
    world: tuple[Sandbox, httpx.Client, dict[str, Outcome]],
) -> None:
    def answers(outcome: Outcome) -> list[Any]:
        return [row["sample"]["response"]["choices"][0]["message"] for row in outcome.rows]

    first = world[2]["base_1b"]
    with Sandbox(speed=1000.0, seed=42) as sb, httpx.Client(base_url=sb.url, timeout=10.0) as http:
        again = run_workload(sb, http, ("base_1b",))["base_1b"]
    assert answers(again) == answers(first)
    assert again.results["tasks"] == first.results["tasks"]
    with Sandbox(speed=1000.0, seed=43) as sb, httpx.Client(base_url=sb.url, timeout=10.0) as http:
        other = run_workload(sb, http, ("base_1b",))["base_1b"]
    assert answers(other) != answers(first)


def test_judge_prompts_get_ratings(client: httpx.Client) -> None:
    def ask(content: str) -> str:
        body = {
            "model": PRODUCTION_MODEL,
            "messages": [{"role": "system", "content": "You are a judge."}, {"role": "user", "content": content}],
        }
        return str(client.post("/nim/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"])

    truth = [{"function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]
    same = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "arguments": json.dumps({"unit": "celsius", "city": "paris", "extra": 1}),
            },
        }
    ]
    wrong = [{"function": {"name": "get_weather", "arguments": {"city": "Lyon", "unit": "celsius"}}}]
    assert ask(f"*Ground Truth*: {json.dumps(truth)}\n*Prediction*: {json.dumps(same)}").startswith(
        "RATING: 1\nEXPLANATION: "
    )
    assert ask(f"*ground truth*: {json.dumps(truth)}\n*prediction*: {json.dumps(wrong)}") == (
        "RATING: 0\nEXPLANATION: Argument 'city' of 'get_weather' differs from the ground truth."
    )
    # A template without `| tojson` renders Python reprs; they are read too.
    assert ask(f"*Ground Truth*: {truth!r}\n*Prediction*: None").startswith("RATING: 0")
    assert ask("REFERENCE:\nYour order ships tomorrow.\n\nCANDIDATE:\nYour order ships tomorrow.") == "10"
    assert (
        ask("Reference: Your order ships tomorrow morning.\nCandidate: Your order ships soon.") == "5"
    )  # 3 shared of 6 words
    assert ask("REFERENCE: Your order ships tomorrow.\nCANDIDATE:") == "1"


def _text_record(i: int) -> dict[str, Any]:
    question = f"Question {i}: what is the return window for item {i}?"
    answer = f"Item {i} can be returned within {10 + i % 20} days of delivery if it is unused and in its box."
    return {
        "request": {"model": PRODUCTION_MODEL, "messages": [{"role": "user", "content": question}]},
        "response": {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}]
        },
    }


def test_generic_workload_is_judged_for_similarity(world: tuple[Sandbox, httpx.Client, dict[str, Outcome]]) -> None:
    _, client, _ = world
    upload_dataset(client, "fw", "generic", {"eval_data.jsonl": jsonl([_text_record(i) for i in range(40)])})
    config = {
        "type": "custom",
        "tasks": {
            "llm-as-judge": {
                "type": "chat-completion",
                "dataset": {"files_url": "hf://datasets/fw/generic/eval_data.jsonl", "limit": 30},
                "params": {"template": {"messages": "{{ item.request.messages | tojson }}"}},
                "metrics": {
                    "llm-judge": {
                        "type": "llm-judge",
                        "params": {
                            "model": PRODUCTION_MODEL,
                            "template": {
                                "messages": [
                                    {
                                        "role": "system",
                                        "content": "Rate the similarity from 1 to 10. Output only the number.",
                                    },
                                    {
                                        "role": "user",
                                        "content": "TASK: {{ item.request.messages | tojson }}\n"
                                        "REFERENCE: {{ item.response.choices[0].message.content }}\n"
                                        "CANDIDATE: {{ sample.output_text }}",
                                    },
                                ]
                            },
                            "scores": {"similarity": {"type": "int", "parser": {"type": "regex", "pattern": "(\\d+)"}}},
                        },
                    }
                },
            }
        },
    }
    means = {}
    for model in (BASE_1B, PRODUCTION_MODEL):
        job = client.post(
            "/v1/evaluation/jobs", json={"config": config, "target": {"type": "model", "model": model}}
        ).json()
        wait_status(client, f"/v1/evaluation/jobs/{job['id']}", "completed")
        scores = client.get(f"/v1/evaluation/jobs/{job['id']}/results").json()["tasks"]["llm-as-judge"]["metrics"][
            "llm-judge"
        ]["scores"]
        assert scores["similarity"]["stats"]["count"] == 30
        means[model] = scores["similarity"]["value"]
    assert means[PRODUCTION_MODEL] == 10.0
    assert 3.0 < means[BASE_1B] < 9.0
