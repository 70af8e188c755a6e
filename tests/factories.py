"""Small builders for log records used across tests."""

from __future__ import annotations

import json
from typing import Any

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} tool",
            "parameters": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
        },
    }
    for name in ("lookup_order", "start_return", "product_qa")
]


def tool_record(
    query: str,
    tool: str = "lookup_order",
    args: dict[str, Any] | str | None = None,
    *,
    workload: str = "tool_router",
    client: str = "web",
    ts: int = 1_780_000_000,
    call_id: str = "call_1",
) -> dict[str, Any]:
    arguments = json.dumps(args if args is not None else {"id": "A1"}) if not isinstance(args, str) else args
    return {
        "timestamp": ts,
        "workload_id": workload,
        "client_id": client,
        "request": {
            "model": "meta/llama-3.3-70b-instruct",
            "messages": [{"role": "system", "content": "Route the request."}, {"role": "user", "content": query}],
            "tools": TOOLS,
        },
        "response": {
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [{"id": call_id, "type": "function", "function": {"name": tool, "arguments": arguments}}],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
        },
    }


def text_record(query: str, answer: str, *, workload: str = "chat", client: str = "web", ts: int = 1_780_000_000) -> dict[str, Any]:
    return {
        "timestamp": ts,
        "workload_id": workload,
        "client_id": client,
        "request": {"model": "meta/llama-3.3-70b-instruct", "messages": [{"role": "user", "content": query}]},
        "response": {"choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}]},
    }


def dumps(record: Any) -> str:
    return json.dumps(record)
