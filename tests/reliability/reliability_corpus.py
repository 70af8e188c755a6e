"""Malformed log lines, each with the reason flywheel must give for it, built from the bundled example records.

Independent of tests/test_ingest.py: other base records, other mutations, and lines that are odd but valid (a BOM
on line 1, CRLF endings, duplicate keys, deep but legal nesting) which must be ingested, not rejected.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from reliability_harness import EXAMPLES

MAX_LINE_BYTES = 16 * 1024 * 1024  # flywheel's default --max-line-bytes


@dataclass(frozen=True)
class Bad:
    kind: str
    raw: bytes
    reason: str  # the start of the reason flywheel must report


def example(workload: str, *, with_tool_call: bool | None = None) -> dict[str, Any]:
    """The first example record of a workload (with or without a tool call in its response)."""
    with EXAMPLES.open("rb") as fh:
        for line in fh:
            rec = orjson.loads(line)
            if rec["workload_id"] != workload:
                continue
            calls = rec["response"]["choices"][0]["message"].get("tool_calls")
            if with_tool_call is None or bool(calls) == with_tool_call:
                return rec
    raise LookupError(workload)


def _mutated(base: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> bytes:
    rec = copy.deepcopy(base)
    change(rec)
    return orjson.dumps(rec)


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(rec: dict[str, Any]) -> None:
        target: Any = rec
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _drop(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def change(rec: dict[str, Any]) -> None:
        target: Any = rec
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


def bad_lines() -> list[Bad]:
    tool = example("tool_router", with_tool_call=True)
    text = example("chat_assistant")
    good = orjson.dumps(tool)
    msg = ("response", "choices", 0, "message")
    call = (*msg, "tool_calls", 0)
    t = lambda change: _mutated(tool, change)  # noqa: E731
    x = lambda change: _mutated(text, change)  # noqa: E731
    ts = str(tool["timestamp"]).encode()
    return [
        # --- not JSON at all, or not one JSON value ------------------------------------------------------------------
        Bad("trailing comma", good[:-1] + b",}", "invalid JSON"),
        Bad("truncated in a string", good[: good.index(b'"content"') + 15], "invalid JSON"),
        Bad("truncated after a key", good[: good.index(b'"response"') + 11], "invalid JSON"),
        Bad("single-quoted (a Python repr)", repr(tool).encode(), "invalid JSON"),
        Bad("NaN literal", good.replace(b'"timestamp":' + ts, b'"timestamp":NaN'), "invalid JSON"),
        Bad("Infinity literal", good.replace(b'"timestamp":' + ts, b'"timestamp":Infinity'), "invalid JSON"),
        Bad("number overflowing a double", good.replace(b'"timestamp":' + ts, b'"timestamp":-1e400'), "invalid JSON"),
        Bad("two objects on one line", good + good, "invalid JSON"),
        Bad("CR-only line endings (two records on one line)", good + b"\r" + good, "invalid JSON"),
        Bad("raw tab inside a string", good.replace(b'"content":"', b'"content":"\t', 1), "invalid JSON"),
        Bad("NUL byte", b"\x00" + good, "invalid JSON"),
        Bad("lone surrogate escape",
            x(_set(("request", "messages", -1, "content"), "@@S@@")).replace(b"@@S@@", b"\\ud83d"),
            "invalid JSON"),
        Bad("byte-order mark on a later line", b"\xef\xbb\xbf" + good, "invalid JSON"),
        Bad("depth far past any parser's limit", b'{"a":' * 5000 + b"1" + b"}" * 5000, "invalid JSON"),
        # --- encodings --------------------------------------------------------------------------------------------
        Bad("Latin-1 byte in a string", x(_set(("client_id",), "caf@")).replace(b"caf@", b"caf\xe9"),
            "not valid UTF-8 (byte 0xe9"),
        Bad("stray continuation byte", b"\x80" + good, "not valid UTF-8 (byte 0x80 at offset 0)"),
        # UTF-16 of ASCII text is valid UTF-8 (with NULs between the letters): it fails as JSON, not as UTF-8.
        Bad("UTF-16 text", '{"workload_id": "tool_router"}'.encode("utf-16-le"), "invalid JSON"),
        Bad("overlong UTF-8 encoding of '/'", good.replace(b"tool_router", b"tool\xc0\xafrouter", 1),
            "not valid UTF-8 (byte 0xc0"),
        # --- JSON, but not a record -------------------------------------------------------------------------------
        Bad("top-level array", orjson.dumps([tool]), "expected a JSON object, got an array"),
        Bad("top-level string", b'"tool_router"', "expected a JSON object, got a string"),
        Bad("top-level number", b"1772412349", "expected a JSON object, got a number"),
        Bad("top-level null", b"null", "expected a JSON object, got null"),
        Bad("top-level boolean", b"true", "expected a JSON object, got a boolean"),
        Bad("empty object", b"{}", "request is missing"),
        # --- missing, empty and wrongly typed fields --------------------------------------------------------------
        Bad("workload_id null", t(_set(("workload_id",), None)), "workload_id is missing"),
        Bad("workload_id empty", t(_set(("workload_id",), "")), "workload_id is empty"),
        Bad("workload_id an array", t(_set(("workload_id",), ["tool_router"])),
            "workload_id must be a string, got an array"),
        Bad("client_id an object", t(_set(("client_id",), {"id": "web-app"})),
            "client_id must be a string, got an object"),
        Bad("client_id missing", t(_drop(("client_id",))), "client_id is missing"),
        Bad("timestamp null", t(_set(("timestamp",), None)),
            "timestamp must be epoch seconds or an ISO-8601 string, got null"),
        Bad("timestamp an object", t(_set(("timestamp",), {"s": 1})),
            "timestamp must be epoch seconds or an ISO-8601 string, got an object"),
        Bad("timestamp impossible date", t(_set(("timestamp",), "2026-02-30T10:00:00Z")),
            "timestamp '2026-02-30T10:00:00Z' is not"),
        Bad("timestamp past 64 bits", good.replace(b'"timestamp":' + ts, b'"timestamp":100000000000000000000000000000'),
            "timestamp"),
        Bad("timestamp past year 9999", t(_set(("timestamp",), 1e15)), "timestamp"),
        Bad("request an array", t(_set(("request",), [])), "request must be an object, got an array"),
        Bad("request.messages a string", t(_set(("request", "messages"), "hello")),
            "request.messages must be an array, got a string"),
        Bad("request.messages null", t(_set(("request", "messages"), None)), "request.messages is missing"),
        Bad("message null", t(_set(("request", "messages", 0), None)),
            "request.messages[0] must be an object, got null"),
        Bad("message without role", t(_drop(("request", "messages", 0, "role"))),
            "request.messages[0].role is missing or not a string"),
        Bad("message role a number", t(_set(("request", "messages", 0, "role"), 1)),
            "request.messages[0].role is missing or not a string"),
        Bad("message role unknown", t(_set(("request", "messages", 0, "role"), "narrator")),
            "request.messages[0].role 'narrator' is not one of"),
        Bad("message content an object", t(_set(("request", "messages", 0, "content"), {"text": "hi"})),
            "request.messages[0].content must be a string, an array of parts or null, got an object"),
        Bad("request.tools an object", t(_set(("request", "tools"), {"type": "function"})),
            "request.tools must be an array, got an object"),
        Bad("tool without function", t(_set(("request", "tools", 0), {"type": "function"})),
            "request.tools[0] must be an object with a 'function' object"),
        Bad("tool function without name", t(_drop(("request", "tools", 1, "function", "name"))),
            "request.tools[1].function.name must be a non-empty string"),
        Bad("response a string", t(_set(("response",), "ok")), "response must be an object, got a string"),
        Bad("response.choices an object", t(_set(("response", "choices"), {"0": {}})),
            "response.choices must be an array, got an object"),
        Bad("choice without message", t(_set(("response", "choices", 0), {"index": 0})),
            "response.choices[0].message is missing or not an object"),
        Bad("response role wrong", x(_set((*msg, "role"), "system")),
            "response.choices[0].message.role must be 'assistant', got 'system'"),
        Bad("response content a number", x(_set((*msg, "content"), 42)),
            "response.choices[0].message.content must be a string or null, got a number"),
        Bad("response content blank", x(_set((*msg, "content"), "   ")),
            "response.choices[0].message has no content and no tool calls"),
        Bad("tool_calls an object", t(_set((*msg, "tool_calls"), {"id": "c1"})),
            "response.choices[0].message.tool_calls must be an array, got an object"),
        Bad("tool call a string", t(_set((*msg, "tool_calls", 0), "track_shipment()")),
            "response.choices[0].message.tool_calls[0] must be an object, got a string"),
        Bad("tool call without function", t(_drop((*call, "function"))),
            "response.choices[0].message.tool_calls[0].function is missing or not an object"),
        Bad("tool call name null", t(_set((*call, "function", "name"), None)),
            "response.choices[0].message.tool_calls[0].function.name must be a non-empty string"),
        Bad("tool call arguments unparseable", t(_set((*call, "function", "arguments"), '{"tracking_number": "1Z')),
            "response.choices[0].message.tool_calls[0].function.arguments is not valid JSON"),
        Bad("tool call arguments a JSON array", t(_set((*call, "function", "arguments"), "[1, 2]")),
            "response.choices[0].message.tool_calls[0].function.arguments must encode a JSON object"),
        Bad("tool call arguments a number", t(_set((*call, "function", "arguments"), 7)),
            "response.choices[0].message.tool_calls[0].function.arguments must be a JSON object or a JSON string, got a number"),
        # --- the {messages, tools} shorthand ----------------------------------------------------------------------
        Bad("shorthand with one message", orjson.dumps({"messages": [{"role": "user", "content": "hi"}]}),
            "a shorthand line needs at least two messages"),
        Bad("shorthand without --workload-id",
            orjson.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "?"}]}),
            "a shorthand {messages, tools} line needs --workload-id"),
        Bad("shorthand messages an object", orjson.dumps({"messages": {"role": "user"}}),
            "messages must be an array, got an object"),
    ]


@dataclass(frozen=True)
class Odd:
    """Valid, if unusual: must be ingested."""

    kind: str
    raw: bytes
    workload: str  # where it must land


def odd_lines() -> list[Odd]:
    tool = example("tool_router", with_tool_call=True)
    text = example("summarizer")
    dup = orjson.dumps(text)
    # Duplicate keys: JSON allows them; flywheel reads them as every mainstream parser does (the last one wins).
    dup = b'{"workload_id":"decoy",' + dup[1:]
    deep: Any = "leaf"
    for _ in range(200):
        deep = {"n": deep}
    nested = copy.deepcopy(tool)
    nested["metadata"] = deep
    nested["request"]["messages"][-1]["content"] += " (nested metadata)"
    huge = copy.deepcopy(text)
    huge["request"]["messages"][-1]["content"] = "x" * (MAX_LINE_BYTES // 4)
    unicode = copy.deepcopy(text)
    unicode["request"]["messages"][-1]["content"] = "Résumé 😀 — ünïcödé \u2028 line separator"
    return [
        Odd("duplicate keys (the last wins)", dup, text["workload_id"]),
        Odd("deep but legal nesting (200 levels)", orjson.dumps(nested), tool["workload_id"]),
        Odd("a 4 MiB line (under the limit)", orjson.dumps(huge), text["workload_id"]),
        Odd("non-ASCII and U+2028", orjson.dumps(unicode), text["workload_id"]),
    ]


def oversized_line() -> Bad:
    text = example("summarizer")
    rec = copy.deepcopy(text)
    rec["request"]["messages"][-1]["content"] = "y" * (MAX_LINE_BYTES + 10)
    raw = orjson.dumps(rec)
    return Bad("a line over 16 MiB", raw, f"line is {len(raw):,} bytes, over the {MAX_LINE_BYTES:,}-byte limit")
