"""Content identity of a log record.

The id is a versioned hash of a canonical JSON form, so re-importing the same data is a no-op and a future change of
the canonical form gets a new prefix instead of silently splitting the dedup space. What is hashed: the workload,
the request messages and tools, and the response message. Not hashed: client, timestamp and provenance, which
describe *where* a record was seen, not *what* it is; and response tool-call ids, which are random per call.
Tool-call arguments given as a JSON string or as an object hash the same.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

ID_VERSION = "r1"


def parse_arguments(arguments: Any) -> Any:
    """Tool-call arguments as an object when they are valid JSON text; anything else unchanged."""
    if isinstance(arguments, str):
        try:
            return orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return arguments
    return arguments


def _canonical_tool_calls(tool_calls: Any, *, keep_ids: bool) -> Any:
    if not isinstance(tool_calls, list):
        return tool_calls
    out = []
    for call in tool_calls:
        if not isinstance(call, dict):
            out.append(call)
            continue
        fn = call.get("function") or {}
        item: dict[str, Any] = {
            "type": call.get("type", "function"),
            "function": {"name": fn.get("name"), "arguments": parse_arguments(fn.get("arguments"))},
        }
        if keep_ids and call.get("id") is not None:
            item["id"] = call["id"]
        out.append(item)
    return out


def _canonical_message(message: dict[str, Any], *, keep_call_ids: bool) -> dict[str, Any]:
    if "tool_calls" not in message and None not in message.values():
        return message  # already canonical (key order is normalised by the sorted dump): the common, fast case
    out = {k: v for k, v in message.items() if v is not None and k != "tool_calls"}
    if message.get("tool_calls"):
        out["tool_calls"] = _canonical_tool_calls(message["tool_calls"], keep_ids=keep_call_ids)
    return out


def record_id(workload_id: str, request: dict[str, Any], response_message: dict[str, Any]) -> str:
    canonical = {
        "workload_id": workload_id,
        # Request history keeps call ids: tool messages refer to them by tool_call_id.
        "messages": [_canonical_message(m, keep_call_ids=True) for m in request["messages"]],
        "tools": request.get("tools") or [],
        "response": _canonical_message(response_message, keep_call_ids=False),
    }
    digest = hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{ID_VERSION}:{digest}"
