"""Synthetic log records for the dataset tests, inserted through the real Store."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from flywheel_cli.state import Store
from flywheel_cli.state.records import RecordRow

BASE_TS = 1_780_000_000


def tool_def(name: str, properties: int = 2) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} tool",
            "parameters": {
                "type": "object",
                "properties": {f"p{i}": {"type": "string"} for i in range(properties)},
                "required": ["p0"] if properties else [],
            },
        },
    }


TOOLS = [tool_def("lookup_order"), tool_def("start_return"), tool_def("product_qa")]


def tool_record(
    query: str,
    tool: str = "lookup_order",
    args: dict[str, Any] | str | None = None,
    *,
    ts: int = BASE_TS,
    workload: str = "w",
    client: str = "c1",
    tools: list[dict[str, Any]] | None = None,
    history: bool = False,
    system: str | None = "Route the request.",
) -> dict[str, Any]:
    """A tool-calling record; `args` as an object is sent as a JSON string unless it already is a string."""
    if args is None:
        args = {"p0": query[:8]}
    arguments = args if isinstance(args, str) else orjson.dumps(args).decode()
    messages: list[dict[str, Any]] = []
    if system is not None:
        messages.append({"role": "system", "content": system})
    if history:
        messages += [
            {"role": "user", "content": "earlier question"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "h1", "type": "function", "function": {"name": "lookup_order", "arguments": {"p0": "old"}}}
                ],
            },
            {"role": "tool", "tool_call_id": "h1", "content": "order old: shipped"},
        ]
    messages.append({"role": "user", "content": query})
    return {
        "timestamp": ts,
        "workload_id": workload,
        "client_id": client,
        "request": {"model": "big-model", "messages": messages, "tools": TOOLS if tools is None else tools},
        "response": {
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": arguments}}
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
        },
    }


def text_record(
    query: str,
    answer: str = "Sure.",
    *,
    ts: int = BASE_TS,
    workload: str = "w",
    client: str = "c1",
    tools: list[dict[str, Any]] | None = None,
    system: str | None = "Be brief.",
) -> dict[str, Any]:
    """A record answered with text (no tool call)."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system is not None else []
    messages.append({"role": "user", "content": query})
    request: dict[str, Any] = {"model": "big-model", "messages": messages}
    if tools is not None:
        request["tools"] = tools
    return {
        "timestamp": ts,
        "workload_id": workload,
        "client_id": client,
        "request": request,
        "response": {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
        },
    }


def insert(store: Store, records: Iterable[dict[str, Any]], *, prefix: str = "r") -> list[str]:
    """Store records with ids '<prefix>00000', '<prefix>00001', … in the given order."""
    rows = []
    for n, record in enumerate(records):
        calls = (record.get("response", {}).get("choices") or [{}])[0].get("message", {}).get("tool_calls") or []
        first = calls[0]["function"]["name"] if calls and isinstance(calls[0], dict) else None
        rows.append(
            RecordRow(
                id=f"{prefix}{n:05d}",
                workload_id=record.get("workload_id", "w"),
                client_id=record.get("client_id", "c1"),
                timestamp=int(record.get("timestamp", BASE_TS)),
                first_tool=first,
                record=record,
                source="test.jsonl",
                line=n + 1,
            )
        )
    store.insert_records(store.start_ingest(["test.jsonl"], None), rows, read=len(rows), rejected=0)
    return [r.id for r in rows]


def tool_mix(counts: dict[str, int], *, start_ts: int = BASE_TS, workload: str = "w") -> list[dict[str, Any]]:
    """Distinct queries per tool, e.g. {"lookup_order": 30, "start_return": 20}; later records are newer."""
    out = []
    ts = start_ts
    for tool, n in counts.items():
        for i in range(n):
            query = f"{tool} question number {i}"
            out.append(tool_record(query, tool, {"p0": f"{tool}-{i}"}, ts=ts, workload=workload))
            ts += 1
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]
