"""The line shapes NMP consumes (evaluator: full records; customizer: {"messages", "tools"?}).

Every function returns new objects and leaves the stored record untouched: the same record feeds the eval file,
the ICL file and the example pool, and an in-place edit in one would leak into the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from flywheel_cli.datasets.curate import WorkloadType, parse_arguments

FILE_EVAL = "eval/eval_data.jsonl"
FILE_ICL = "icl/eval_data.jsonl"
FILE_TRAIN = "train/training/train_data.jsonl"
FILE_VAL = "train/validation/val_data.jsonl"


def _calls(calls: Any, *, as_string: bool) -> list[dict[str, Any]]:
    out = []
    for call in calls:
        fn = call["function"]
        args = fn.get("arguments", {})
        if as_string:
            # A string that came in the logs is kept verbatim; only objects are serialised.
            value: Any = args if isinstance(args, str) else orjson.dumps(args).decode()
        else:
            value = parse_arguments(args)
        out.append({"type": "function", **call, "function": {**fn, "arguments": value}})
    return out


def _message(message: dict[str, Any], *, args_as_string: bool, null_content: bool) -> dict[str, Any]:
    out = dict(message)
    if isinstance(message.get("tool_calls"), list):
        out["tool_calls"] = _calls(message["tool_calls"], as_string=args_as_string)
    if not null_content and message.get("role") == "assistant" and message.get("content") is None:
        out["content"] = ""
    return out


def eval_line(record: dict[str, Any]) -> dict[str, Any]:
    """The full record; request-history tool-call arguments as JSON strings, response ones as objects."""
    request = dict(record["request"])
    request["messages"] = [_message(m, args_as_string=True, null_content=True) for m in request["messages"]]
    response = dict(record["response"])
    response["choices"] = [
        {**choice, "message": _message(choice["message"], args_as_string=False, null_content=True)}
        for choice in response["choices"]
    ]
    return {**record, "request": request, "response": response}


def train_line(record: dict[str, Any], workload_type: WorkloadType) -> dict[str, Any]:
    """{"messages": [history..., response], "tools"?}: object arguments everywhere, no null assistant content."""
    request = record["request"]
    messages = [_message(m, args_as_string=False, null_content=False) for m in request["messages"]]
    answer = record["response"]["choices"][0]["message"]
    calls = answer.get("tool_calls")
    reply: dict[str, Any] = {"role": "assistant"}
    if isinstance(calls, list) and calls:
        # The customizer wants the tool-calling turn with empty text, as the reference sends it.
        reply["content"] = ""
        reply["tool_calls"] = _calls(calls, as_string=False)
    else:
        reply["content"] = answer.get("content") or ""
    line: dict[str, Any] = {"messages": [*messages, reply]}
    tools = request.get("tools")
    if workload_type == "tool_calling" and tools:
        line["tools"] = tools
    return line


def dump_lines(lines: Iterable[dict[str, Any]]) -> bytes:
    """JSONL with sorted keys and '\\n' endings, so the same content always gives the same bytes."""
    return b"".join(orjson.dumps(line, option=orjson.OPT_SORT_KEYS) + b"\n" for line in lines)
