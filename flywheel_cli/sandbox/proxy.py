"""NIM Proxy (`/nim/v1/...`): the served model list, chat completions by simulated models, and embeddings.

Served models: every ready deployment's models; customized adapters whose job completed a refresh interval ago while
their base model is deployed; the production models named in indexed logs. Any model whose name contains "70b" also
answers chat (like a remote endpoint), and any model whose name contains "embed" answers embeddings.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from flywheel_cli.sandbox import customizer, deployments
from flywheel_cli.sandbox.api import ApiError, Request, Response, Route
from flywheel_cli.sandbox.messages import content_text
from flywheel_cli.sandbox.simulated import Answer, ModelProfile, count_tokens, embed, model_size_b, respond
from flywheel_cli.sandbox.store import State
from flywheel_cli.sandbox.validation import Checker

ROLES = ("system", "user", "assistant", "tool", "developer", "function")
# Every completion says where it came from, so no simulated answer passes for a real model's.
SIMULATED_FINGERPRINT = "flywheel-sandbox-simulated"


@dataclass(frozen=True)
class Served:
    id: str
    created: float
    parent: str | None
    profile: ModelProfile


def served_models(state: State) -> dict[str, Served]:
    production = set(state.index.production_models)
    ready = deployments.ready_models(state)
    out = {
        model: Served(model, dep.created, None, ModelProfile.base(model, production=model in production))
        for model, dep in ready.items()
    }
    with state.lock:
        jobs = [state.cust_jobs[j] for j in state.model_jobs.values() if j in state.cust_jobs]
    for job in jobs:
        if job.output_model and job.base_model in ready and customizer.adapter_ready(state, job):
            profile = ModelProfile(
                name=job.output_model,
                family=job.base_model,
                size_b=model_size_b(job.base_model),
                lora_records=job.train_records,
            )
            out[job.output_model] = Served(job.output_model, job.created, job.base_model, profile)
    for model in sorted(production):
        out.setdefault(model, Served(model, 0.0, None, ModelProfile.base(model, production=True)))
    return out


def chat_profile(state: State, model: str) -> ModelProfile:
    served = served_models(state).get(model)
    if served is not None:
        return served.profile
    if "70b" in model.lower():
        return ModelProfile.base(model, production=model in state.index.production_models)
    raise ApiError(404, f"The model `{model}` does not exist or is not served.")


def list_models(state: State, req: Request) -> Response:
    data: list[dict[str, Any]] = [
        {
            "id": s.id,
            "object": "model",
            "created": int(s.created),
            "owned_by": s.id.split("/", 1)[0] if "/" in s.id else "system",
            "root": s.id,
            "parent": s.parent,
            "max_model_len": 8192,
            "permission": [],
        }
        for s in served_models(state).values()
    ]
    return Response(200, {"object": "list", "data": data})


def _check_chat(body: dict[str, Any]) -> None:
    c = Checker()
    c.string(body, "model", ("body", "model"), required=True)
    messages = c.listing(body, "messages", ("body", "messages"), required=True)
    if messages is not None and not messages:
        c.fail("too_short", ("body", "messages"), "List should have at least 1 item after validation, not 0", messages)
    for i, message in enumerate(messages or []):
        if not isinstance(message, dict):
            c.fail("dict_type", ("body", "messages", i), "Input should be a valid dictionary", message)
            continue
        c.enum(message, "role", ("body", "messages", i, "role"), ROLES, required=True)
    c.listing(body, "tools", ("body", "tools"))
    c.boolean(body, "stream", ("body", "stream"))
    c.number(body, "temperature", ("body", "temperature"), minimum=0.0)
    c.integer(body, "max_tokens", ("body", "max_tokens"), minimum=1)
    c.done()


def _tool_call_id(completion_id: str, index: int) -> str:
    return "call_" + hashlib.blake2b(f"{completion_id}/{index}".encode(), digest_size=12).hexdigest()


def _message(answer: Answer, completion_id: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.tool_calls:
        message["tool_calls"] = [
            {
                "id": _tool_call_id(completion_id, i),
                "type": "function",
                "function": {"name": call.name, "arguments": orjson.dumps(call.arguments or {}).decode()},
            }
            for i, call in enumerate(answer.tool_calls)
        ]
    return message


def chat_completions(state: State, req: Request) -> Response:
    body = req.json_object()
    _check_chat(body)
    profile = chat_profile(state, body["model"])
    answer = respond(profile, body, state.index, state.seed)
    prompt = orjson.dumps([body["messages"], body.get("tools")]).decode()
    seed = f"{state.seed}/{profile.variant}/{prompt}"
    completion_id = "chatcmpl-" + hashlib.blake2b(seed.encode(), digest_size=12).hexdigest()
    message = _message(answer, completion_id)
    finish = "tool_calls" if answer.tool_calls else "stop"
    prompt_tokens = sum(count_tokens(content_text(m.get("content"))) for m in body["messages"])
    completion_tokens = count_tokens((answer.content or "") + " ".join(str(c.arguments) for c in answer.tool_calls))
    created = int(state.clock.now())
    if body.get("stream"):
        return _stream(completion_id, created, body["model"], message, finish)
    return Response(
        200,
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": body["model"],
            "system_fingerprint": SIMULATED_FINGERPRINT,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
    )


def _stream(completion_id: str, created: int, model: str, message: dict[str, Any], finish: str) -> Response:
    def chunk(delta: dict[str, Any], reason: str | None) -> bytes:
        data = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": SIMULATED_FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
        }
        return b"data: " + orjson.dumps(data) + b"\n\n"

    delta = dict(message)
    if "tool_calls" in delta:
        delta["tool_calls"] = [dict(call, index=i) for i, call in enumerate(delta["tool_calls"])]
    body = chunk(delta, None) + chunk({}, finish) + b"data: [DONE]\n\n"
    return Response(200, body, content_type="text/event-stream")


def embeddings(state: State, req: Request) -> Response:
    body = req.json_object()
    c = Checker()
    model = c.string(body, "model", ("body", "model"), required=True)
    raw = c.present(body, "input", ("body", "input"))
    c.enum(body, "input_type", ("body", "input_type"), ("query", "passage"))
    texts = [raw] if isinstance(raw, str) else raw
    if raw is not None and not (isinstance(texts, list) and all(isinstance(t, str) for t in texts)):
        c.fail("string_type", ("body", "input"), "Input should be a valid string or a list of strings", raw)
    c.done()
    assert model is not None and isinstance(texts, list)
    if "embed" not in model.lower() and model not in deployments.ready_models(state):
        raise ApiError(404, f"The model `{model}` does not exist or is not served.")
    if "embedqa" in model.lower() and not body.get("input_type"):
        raise ApiError(400, "input_type ('query' or 'passage') is required for asymmetric embedding models")
    data = [{"object": "embedding", "index": i, "embedding": embed(t)} for i, t in enumerate(texts)]
    tokens = sum(count_tokens(t) for t in texts)
    return Response(
        200,
        {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}},
    )


ROUTES: list[Route] = [
    ("GET", "/nim/v1/models", list_models),
    ("POST", "/nim/v1/chat/completions", chat_completions),
    ("POST", "/nim/v1/embeddings", embeddings),
]
