"""A deterministic tool-calling workload and the HTTP steps a client takes to put it into the sandbox."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from flywheel_cli.sandbox import ICL_EXAMPLE_MARKER

PRODUCTION_MODEL = "meta/llama-3.3-70b-instruct"
SYSTEM = "You route customer requests of the gear store to exactly one tool."
CITIES = ["Paris", "Berlin", "Lagos", "Osaka", "Lima", "Denver", "Cairo", "Oslo", "Quito", "Perth"]
PRODUCTS = ["hiking boots", "rain jacket", "trail mix", "water bottle", "head lamp", "camp stove"]


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


TOOLS = [
    _tool(
        "get_weather",
        "Weather for a city",
        {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        ["city", "unit"],
    ),
    _tool("get_order_status", "Status of an order", {"order_id": {"type": "string"}}, ["order_id"]),
    _tool(
        "search_products",
        "Search the catalogue",
        {"query": {"type": "string"}, "max_results": {"type": "integer"}},
        ["query", "max_results"],
    ),
    _tool("escalate_to_human", "Hand over to a person", {"reason": {"type": "string"}}, ["reason"]),
]


def exchange(i: int) -> tuple[str, str, dict[str, Any]]:
    """The i-th logged exchange: (user text, tool name, arguments)."""
    kind = i % 4
    if kind == 0:
        city, unit = CITIES[i % len(CITIES)], ("celsius", "fahrenheit")[i % 2]
        return (
            f"Ticket {i}: how is the weather in {city} today, in {unit}?",
            "get_weather",
            {"city": city, "unit": unit},
        )
    if kind == 1:
        order = f"ORD-{1000 + i}"
        return f"Ticket {i}: where is my order {order}?", "get_order_status", {"order_id": order}
    if kind == 2:
        product, count = PRODUCTS[i % len(PRODUCTS)], 3 + i % 5
        return (
            f"Ticket {i}: show me {count} options for {product}",
            "search_products",
            {"query": product, "max_results": count},
        )
    return (
        f"Ticket {i}: I want to complain about a damaged parcel number {i}",
        "escalate_to_human",
        {"reason": f"damaged parcel {i}"},
    )


def log_record(i: int, system: str = SYSTEM) -> dict[str, Any]:
    user, name, args = exchange(i)
    return {
        "timestamp": 1_760_000_000 + i,
        "workload_id": "tool_router",
        "client_id": "dev",
        "request": {
            "model": PRODUCTION_MODEL,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "tools": TOOLS,
            "tool_choice": "auto",
        },
        "response": {
            "id": f"chatcmpl-{i}",
            "object": "chat.completion",
            "model": PRODUCTION_MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [
                            {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": args}}
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
        },
    }


def training_row(i: int) -> dict[str, Any]:
    user, name, args = exchange(i)
    return {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": user},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"type": "function", "function": {"name": name, "arguments": args}}],
            },
        ],
        "tools": TOOLS,
    }


def icl_system(examples: list[int]) -> str:
    blocks = []
    for n, i in enumerate(examples, start=1):
        user, name, args = exchange(i)
        blocks.append(f"{ICL_EXAMPLE_MARKER} {n}\nuser: {user}\nassistant calls {name} with {json.dumps(args)}")
    return "Here are examples of how to respond.\n\n" + "\n\n".join(blocks) + "\n\n" + SYSTEM


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def upload_dataset(client: httpx.Client, namespace: str, name: str, files: dict[str, bytes]) -> str:
    """Namespaces, repo, preupload + NDJSON commit, Entity Store registration; returns the files_url."""
    assert client.post("/v1/datastore/namespaces", data={"namespace": namespace}).status_code in (201, 409)
    assert client.post("/v1/namespaces", json={"id": namespace}).status_code in (200, 409)
    created = client.post("/v1/hf/api/repos/create", json={"name": name, "organization": namespace, "type": "dataset"})
    assert created.status_code == 200, created.text
    repo = f"/v1/hf/api/datasets/{namespace}/{name}"
    pre = client.post(
        f"{repo}/preupload/main",
        json={
            "files": [
                {"path": p, "size": len(c), "sample": base64.b64encode(c[:512]).decode()} for p, c in files.items()
            ]
        },
    )
    assert [f["uploadMode"] for f in pre.json()["files"]] == ["regular"] * len(files)
    lines = [{"key": "header", "value": {"summary": f"upload {name}", "description": ""}}]
    lines += [
        {"key": "file", "value": {"path": p, "content": base64.b64encode(c).decode(), "encoding": "base64"}}
        for p, c in files.items()
    ]
    commit = client.post(
        f"{repo}/commit/main",
        content=b"\n".join(json.dumps(line).encode() for line in lines),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert commit.status_code == 200, commit.text
    files_url = f"hf://datasets/{namespace}/{name}"
    registered = client.post("/v1/datasets", json={"name": name, "namespace": namespace, "files_url": files_url})
    assert registered.status_code == 200, registered.text
    return files_url


def deployment_body(model: str, namespace: str = "flywheel", tag: str = "1.8.3") -> dict[str, Any]:
    return {
        "name": model.replace("/", "-"),
        "namespace": namespace,
        "config": {
            "model": model,
            "nim_deployment": {"image_name": f"nvcr.io/nim/{model}", "image_tag": tag, "gpu": 1, "pvc_size": "25Gi"},
        },
    }


def customization_body(config: str, dataset: str, output_model: str, epochs: int = 2) -> dict[str, Any]:
    namespace, name = dataset.split("/", 1)
    return {
        "name": f"customize-{name}",
        "config": config,
        "dataset": {"name": name, "namespace": namespace},
        "output_model": output_model,
        "hyperparameters": {
            "training_type": "sft",
            "finetuning_type": "lora",
            "epochs": epochs,
            "batch_size": 16,
            "learning_rate": 0.0001,
            "lora": {"adapter_dim": 32, "adapter_dropout": 0.1},
        },
    }


TRUTH = "{{ item.response.choices[0].message.tool_calls | tojson }}"
PREDICTION = "{{ sample.response.choices[0].message.tool_calls | tojson }}"


def tool_eval_config(files_url: str, judge: Any, limit: int = 1000) -> dict[str, Any]:
    return {
        "type": "custom",
        "tasks": {
            "custom-tool-calling": {
                "type": "chat-completion",
                "dataset": {"files_url": files_url, "limit": limit},
                "params": {
                    "template": {
                        "messages": "{{ item.request.messages | tojson }}",
                        "tools": "{{ item.request.tools | tojson }}",
                        "tool_choice": "required",
                    }
                },
                "metrics": {
                    "tool-calling-accuracy": {
                        "type": "tool-calling",
                        "params": {"tool_calls_ground_truth": TRUTH},
                    },
                    "correctness": {
                        "type": "llm-judge",
                        "params": {
                            "model": judge,
                            "template": {
                                "messages": [
                                    {
                                        "role": "system",
                                        "content": "Rate the prediction. Answer RATING: 0 or 1 and EXPLANATION.",
                                    },
                                    {
                                        "role": "user",
                                        "content": f"*Ground Truth*: {TRUTH}\n*Prediction*: {PREDICTION}",
                                    },
                                ]
                            },
                            "scores": {
                                "rating": {"type": "int", "parser": {"type": "regex", "pattern": "RATING:\\s*(\\d+)"}}
                            },
                        },
                    },
                },
            }
        },
    }


def wait_for(
    fetch: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 10.0,
    interval: float = 0.01,
) -> list[dict[str, Any]]:
    """Poll until `done`; returns every observation (the last one satisfies `done`)."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        seen.append(fetch())
        if done(seen[-1]):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last observation: {seen[-1]}")
        time.sleep(interval)


def wait_status(client: httpx.Client, path: str, *statuses: str) -> list[dict[str, Any]]:
    """Poll GET `path` until its `status` is one of `statuses`; returns every observation."""
    return wait_for(lambda: client.get(path).json(), lambda d: d["status"] in statuses)
