"""Expected tool-calling scores, computed without Helix: ask the sandbox model directly for each eval record and
compare its tool calls with the logged ones the way Helix's `tool-calling` metric does (function names as a set,
case-sensitive; then each expected function's arguments equal to the predicted call's parsed JSON arguments).

Used by the live tests and by scripts/helix/check_run.py.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

MAX_TOKENS = 1024  # what flywheel's Helix evaluations ask for (platforms.helix.EVAL_MAX_TOKENS)


def scores(reference: list[dict[str, Any]], message: dict[str, Any]) -> tuple[float, float | None]:
    """(function_name_accuracy, function_name_and_args_accuracy) of one answer; None = arguments not JSON."""
    expected_args = {call["function"]["name"]: call["function"]["arguments"] for call in reference}
    predicted = [c for c in message.get("tool_calls") or [] if "name" in (c.get("function") or {})]
    names_match = set(expected_args) == {c["function"]["name"] for c in predicted}
    name_score = 1.0 if names_match else 0.0
    try:
        parsed = {c["function"]["name"]: _arguments(c["function"].get("arguments")) for c in predicted}
    except (json.JSONDecodeError, TypeError):
        return name_score, None
    if not names_match:
        return name_score, 0.0
    return name_score, 1.0 if all(parsed.get(name) == args for name, args in expected_args.items()) else 0.0


def _arguments(raw: Any) -> Any:
    return {} if raw is None else json.loads(raw)


def expected_samples(
    eval_jsonl: bytes, *, nim_url: str, model: str, limit: int | None = None
) -> dict[str, list[float | None]]:
    """Per-record scores of `model` on an eval file, asking the sandbox's OpenAI route (`nim_url` + /v1)."""
    names: list[float | None] = []
    args: list[float | None] = []
    lines = [line for line in eval_jsonl.splitlines() if line.strip()][:limit]
    with httpx.Client(base_url=nim_url.rstrip("/"), timeout=30.0, trust_env=False) as client:
        for line in lines:
            record = json.loads(line)
            request = record["request"]
            body = {"model": model, "messages": request["messages"], "tools": request.get("tools") or [],
                    "tool_choice": "required", "max_tokens": MAX_TOKENS}  # fmt: skip
            response = client.post("/v1/chat/completions", json=body)
            response.raise_for_status()
            message = response.json()["choices"][0]["message"]
            reference = record["response"]["choices"][0]["message"].get("tool_calls") or []
            name_score, args_score = scores(reference, message)
            names.append(name_score)
            args.append(args_score)
    return {"function_name_accuracy": names, "function_name_and_args_accuracy": args}


def mean(values: list[float | None]) -> float:
    scored = [v for v in values if v is not None]
    return sum(scored) / len(scored)
