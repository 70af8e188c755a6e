"""The rows Helix evaluates, and the templates that turn a row into a request and a reference.

Helix reads a JSONL dataset with Arrow, which merges the keys of every row into every row: a tool call's arguments
gain `null` for each argument any other call in the file has, a tool's parameter schema gains `null` properties, and
a value whose type differs between rows (a string here, an object there) fails the whole file. The logged records
keep their exact shape only as text, so each row holds JSON text columns:

    {"messages": "<JSON>", "tools": "<JSON>", "tool_calls": "<JSON>", "reference": "<text>"}

The evaluator parses a template's output as JSON when the template applies `tojson`; `[] | tojson` is the empty
fallback that makes it read a column back as the list it was.
"""

from __future__ import annotations

from typing import Any

import orjson

from flywheel_cli.errors import InputError

ROWS_FILE = "helix/eval_rows.jsonl"  # beside the flywheel file in the same fileset

MESSAGES_TEMPLATE = "{{ item.messages or ([] | tojson) }}"
TOOLS_TEMPLATE = "{{ item.tools or ([] | tojson) }}"
REFERENCE_TEMPLATE = "{{ item.tool_calls or ([] | tojson) }}"

# The request sent to the evaluated model for each row (OpenAI chat-completions fields).
TOOL_CALLING_REQUEST = {"messages": MESSAGES_TEMPLATE, "tools": TOOLS_TEMPLATE, "tool_choice": "required"}
GENERIC_REQUEST = {"messages": MESSAGES_TEMPLATE}

# Judge prompts are plain text (no `tojson`: a judge prompt is not JSON). The ground truth is the JSON column; the
# prediction is the model's tool calls as the evaluator holds them.
TOOL_CALL_JUDGE_PROMPT = (
    "*Ground Truth*: {{ item.tool_calls }}\n"
    "*Prediction*: {{ sample.response.choices[0].message.tool_calls | default([]) }}"
)
SIMILARITY_JUDGE_PROMPT = (
    "CONVERSATION:\n{{ item.messages }}\n\n"
    "REFERENCE:\n{{ item.reference }}\n\n"
    "CANDIDATE:\n{{ sample.output_text | default('') }}"
)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts
        return "".join(str(p.get("text", "")) for p in value if isinstance(p, dict))
    return ""


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def row(record: dict[str, Any]) -> dict[str, str]:
    """One flywheel eval record (`{"request", "response"}`) as a Helix row."""
    request = record.get("request")
    response = record.get("response")
    choices = response.get("choices") if isinstance(response, dict) else None
    if not isinstance(request, dict) or not isinstance(choices, list) or not choices:
        raise InputError("an eval record has no request or no response choice; rebuild the dataset")
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    message = message if isinstance(message, dict) else {}
    return {
        "messages": _json(request.get("messages") or []),
        "tools": _json(request.get("tools") or []),
        "tool_calls": _json(message.get("tool_calls") or []),
        "reference": _text(message.get("content")),
    }


def rows_file(eval_jsonl: bytes) -> bytes:
    """The Helix rows for a flywheel eval file, one per record, in the same order."""
    out = []
    for number, line in enumerate(eval_jsonl.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise InputError(f"eval file line {number} is not JSON; rebuild the dataset") from None
        if not isinstance(record, dict):
            raise InputError(f"eval file line {number} is not an object; rebuild the dataset")
        out.append(orjson.dumps(row(record), option=orjson.OPT_SORT_KEYS))
    return b"\n".join(out) + (b"\n" if out else b"")
