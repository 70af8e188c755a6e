"""Reading OpenAI chat messages and tool calls, tolerant of the encodings clients send."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"[a-z0-9]+")


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one: for reading optional nested fields."""
    return value if isinstance(value, dict) else {}


def content_text(content: Any) -> str:
    """Message content as plain text: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "\n".join(parts)
    return ""


def last_user_text(messages: Any) -> str | None:
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            text = content_text(message.get("content")).strip()
            return text or None
    return None


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] | None  # None: the arguments were not a JSON object


def parse_arguments(raw: Any) -> dict[str, Any] | None:
    """Arguments as an object, whether sent as an object or as a JSON string (the two encodings are equivalent)."""
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None
    return None


def parse_tool_calls(raw: Any) -> tuple[ToolCall, ...] | None:
    """OpenAI `tool_calls` (or a single call, or its JSON string) → calls; None when the shape is not a call list."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if raw is None:
        return ()
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        return None
    calls = []
    for item in raw:
        if not isinstance(item, dict):
            return None
        fn = as_dict(item.get("function")) or item
        name = fn.get("name")
        if not isinstance(name, str):
            return None
        calls.append(ToolCall(name, parse_arguments(fn.get("arguments"))))
    return tuple(calls)


def tool_name(tool: Any) -> str | None:
    if not isinstance(tool, dict):
        return None
    fn = tool.get("function")
    name = fn.get("name") if isinstance(fn, dict) else None
    return name if isinstance(name, str) else None


def same_value(a: Any, b: Any) -> bool:
    """Equal as parsed JSON; numbers compare by value (1 == 1.0)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)
