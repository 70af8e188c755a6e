"""The log record schema (SPEC §3) and the validation every record passes before it is stored.

`normalise()` turns one parsed JSON value into the stored form or raises `Invalid` with a reason a user can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple

import orjson

from flywheel_cli.logs.identity import record_id

ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
SHORTHAND_MODEL = "unknown"


class Invalid(ValueError):
    """A record that cannot be stored; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Overrides:
    workload_id: str | None = None
    client_id: str | None = None
    default_timestamp: int = 0  # for shorthand lines, which carry no time


class Normalised(NamedTuple):
    """One line's validated record. A NamedTuple: ingest builds one per line, and it builds several times faster
    than a frozen dataclass."""

    id: str
    workload_id: str
    client_id: str
    timestamp: int
    first_tool: str | None
    record: dict[str, Any]
    verbatim: bool = False  # the input already was this record: store its bytes as they came


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z: later dates are corrupt data, and Python cannot show them


def _timestamp(value: Any) -> int:
    seconds = _timestamp_value(value)
    if not 0 <= seconds <= MAX_TIMESTAMP:
        raise Invalid(f"timestamp {value!r} is out of range (expected epoch seconds between 1970 and 9999)")
    return seconds


def _timestamp_value(value: Any) -> int:
    if isinstance(value, bool):
        raise Invalid("timestamp must be epoch seconds or an ISO-8601 string, got a boolean")
    if isinstance(value, int):
        if value > 10**11:  # milliseconds: a common logging default
            value //= 1000
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise Invalid("timestamp is not a finite number")
        if value > 10**11:  # milliseconds
            value /= 1000
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(f"timestamp {value[:40]!r} is not epoch seconds or ISO-8601") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        try:
            return int(parsed.timestamp())
        except (OverflowError, ValueError):
            raise Invalid(f"timestamp {value[:40]!r} is out of range") from None
    raise Invalid(f"timestamp must be epoch seconds or an ISO-8601 string, got {_type_name(value)}")


def _check_tool_calls(calls: Any, where: str, *, require_json_args: bool) -> None:
    if not isinstance(calls, list):
        raise Invalid(f"{where}.tool_calls must be an array, got {_type_name(calls)}")
    for i, call in enumerate(calls):
        path = f"{where}.tool_calls[{i}]"
        if not isinstance(call, dict):
            raise Invalid(f"{path} must be an object, got {_type_name(call)}")
        fn = call.get("function")
        if not isinstance(fn, dict):
            raise Invalid(f"{path}.function is missing or not an object")
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            raise Invalid(f"{path}.function.name must be a non-empty string")
        args = fn.get("arguments", {})
        if isinstance(args, str):
            if require_json_args:
                try:
                    parsed = orjson.loads(args) if args.strip() else {}
                except orjson.JSONDecodeError:
                    raise Invalid(f"{path}.function.arguments is not valid JSON") from None
                if not isinstance(parsed, dict):
                    raise Invalid(f"{path}.function.arguments must encode a JSON object")
        elif not isinstance(args, dict):
            raise Invalid(f"{path}.function.arguments must be a JSON object or a JSON string, got {_type_name(args)}")


def _check_message(msg: Any, where: str) -> None:
    if not isinstance(msg, dict):
        raise Invalid(f"{where} must be an object, got {_type_name(msg)}")
    role = msg.get("role")
    if not isinstance(role, str):
        raise Invalid(f"{where}.role is missing or not a string")
    if role not in ROLES:
        raise Invalid(f"{where}.role {role[:30]!r} is not one of {', '.join(sorted(ROLES))}")
    content = msg.get("content")
    if content is not None and not isinstance(content, (str, list)):
        raise Invalid(f"{where}.content must be a string, an array of parts or null, got {_type_name(content)}")
    if msg.get("tool_calls") is not None:
        _check_tool_calls(msg["tool_calls"], where, require_json_args=False)


def _check_request(request: Any) -> None:
    if not isinstance(request, dict):
        raise Invalid(f"request must be an object, got {_type_name(request)}")
    messages = request.get("messages")
    if messages is None:
        raise Invalid("request.messages is missing")
    if not isinstance(messages, list):
        raise Invalid(f"request.messages must be an array, got {_type_name(messages)}")
    if not messages:
        raise Invalid("request.messages is empty")
    for i, msg in enumerate(messages):
        _check_message(msg, f"request.messages[{i}]")
    tools = request.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise Invalid(f"request.tools must be an array, got {_type_name(tools)}")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("function"), dict):
                raise Invalid(f"request.tools[{i}] must be an object with a 'function' object")
            if not isinstance(tool["function"].get("name"), str) or not tool["function"]["name"]:
                raise Invalid(f"request.tools[{i}].function.name must be a non-empty string")


def _check_response(response: Any) -> dict[str, Any]:
    if not isinstance(response, dict):
        raise Invalid(f"response must be an object, got {_type_name(response)}")
    choices = response.get("choices")
    if choices is None:
        raise Invalid("response.choices is missing")
    if not isinstance(choices, list):
        raise Invalid(f"response.choices must be an array, got {_type_name(choices)}")
    if not choices:
        raise Invalid("response.choices is empty")
    first = choices[0]
    if not isinstance(first, dict) or not isinstance(first.get("message"), dict):
        raise Invalid("response.choices[0].message is missing or not an object")
    message = first["message"]
    where = "response.choices[0].message"
    if message.get("role", "assistant") != "assistant":
        raise Invalid(f"{where}.role must be 'assistant', got {str(message.get('role'))[:30]!r}")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise Invalid(f"{where}.content must be a string or null, got {_type_name(content)}")
    calls = message.get("tool_calls")
    if calls is not None:
        _check_tool_calls(calls, where, require_json_args=True)
    if not calls and not (isinstance(content, str) and content.strip()):
        raise Invalid(f"{where} has no content and no tool calls")
    return message


def _required_string(data: dict[str, Any], key: str, override: str | None, flag: str) -> str:
    if override is not None:
        return override
    value = data.get(key)
    if value is None:
        raise Invalid(f"{key} is missing (pass {flag} to set it for every line)")
    if not isinstance(value, str):
        raise Invalid(f"{key} must be a string, got {_type_name(value)}")
    if not value.strip():
        raise Invalid(f"{key} is empty")
    return value


def _from_shorthand(data: dict[str, Any], overrides: Overrides) -> dict[str, Any]:
    messages = data["messages"]
    if not isinstance(messages, list):
        raise Invalid(f"messages must be an array, got {_type_name(messages)}")
    if len(messages) < 2:
        raise Invalid("a shorthand line needs at least two messages: the conversation and the response")
    if overrides.workload_id is None:
        raise Invalid("a shorthand {messages, tools} line needs --workload-id")
    last = messages[-1]
    if not isinstance(last, dict) or last.get("role") != "assistant":
        raise Invalid("the last message of a shorthand line must be the assistant's response")
    request: dict[str, Any] = {"model": SHORTHAND_MODEL, "messages": messages[:-1]}
    if data.get("tools") is not None:
        request["tools"] = data["tools"]
    return {
        "timestamp": overrides.default_timestamp,
        "workload_id": overrides.workload_id,
        "client_id": overrides.client_id or "default",
        "request": request,
        "response": {
            "object": "chat.completion",
            "model": SHORTHAND_MODEL,
            "choices": [{"index": 0, "message": last, "finish_reason": "tool_calls" if last.get("tool_calls") else "stop"}],
        },
    }


def normalise(data: Any, overrides: Overrides = Overrides()) -> Normalised:
    if not isinstance(data, dict):
        raise Invalid(f"expected a JSON object, got {_type_name(data)}")
    verbatim = True
    if "messages" in data and "request" not in data:
        data = _from_shorthand(data, overrides)
        verbatim = False
    elif "request" not in data:
        raise Invalid("request is missing (expected the log schema or a {messages, tools} shorthand line)")
    elif "response" not in data:
        raise Invalid("response is missing")
    workload_id = _required_string(data, "workload_id", overrides.workload_id, "--workload-id")
    client_id = _required_string(data, "client_id", overrides.client_id, "--client-id")
    if "timestamp" not in data:
        raise Invalid("timestamp is missing")
    timestamp = _timestamp(data["timestamp"])
    request = data["request"]
    _check_request(request)
    message = _check_response(data["response"])
    calls = message.get("tool_calls") or []
    verbatim = (
        verbatim
        and data.get("timestamp") == timestamp
        and type(data.get("timestamp")) is int
        and data.get("workload_id") == workload_id
        and data.get("client_id") == client_id
    )
    if verbatim:
        record = data  # extra top-level fields are kept as they came
    else:
        record = {**data, "timestamp": timestamp, "workload_id": workload_id, "client_id": client_id}
    return Normalised(
        id=record_id(workload_id, request, message),
        workload_id=workload_id,
        client_id=client_id,
        timestamp=timestamp,
        first_tool=calls[0]["function"]["name"] if calls else None,
        record=record,
        verbatim=verbatim,
    )
