"""The simulated LLM judge: recognises judge prompts in a chat request and rates them exactly.

Two prompt families are recognised, case-insensitively and wherever they sit in the messages:
- tool-call correctness: `*Ground Truth*: <json>` and `*Prediction*: <json>` → `RATING: 0|1` and `EXPLANATION: ...`;
- similarity: `REFERENCE: <text>` and `CANDIDATE: <text>` → an integer from 1 to 10.
The values may be JSON (`| tojson`) or Python reprs (a template that forgot `tojson`); both are read.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from flywheel_cli.sandbox.messages import (
    ToolCall,
    content_text,
    last_user_text,
    parse_tool_calls,
    same_value,
    tokens,
)

_GROUND_TRUTH = re.compile(r"\*\s*ground[\s_-]*truth\s*\*\s*:", re.IGNORECASE)
_PREDICTION = re.compile(r"\*\s*prediction\s*\*\s*:", re.IGNORECASE)
_REFERENCE = re.compile(r"\breference\s*:", re.IGNORECASE)
_CANDIDATE = re.compile(r"\bcandidate\s*:", re.IGNORECASE)


def reply(messages: Any) -> str | None:
    """The judge's answer, or None when the messages hold no judge prompt."""
    if not isinstance(messages, list):
        return None
    everything = "\n".join(content_text(m.get("content")) for m in messages if isinstance(m, dict))
    for text in (last_user_text(messages) or "", everything):
        if _GROUND_TRUTH.search(text) and _PREDICTION.search(text):
            truth, prediction = _two_blocks(text, _GROUND_TRUTH, _PREDICTION)
            return tool_call_rating(_read_value(truth), _read_value(prediction))
        if _REFERENCE.search(text) and _CANDIDATE.search(text):
            reference, candidate = _two_blocks(text, _REFERENCE, _CANDIDATE)
            return str(similarity(reference, candidate))
    return None


def _two_blocks(text: str, first: re.Pattern[str], second: re.Pattern[str]) -> tuple[str, str]:
    # The last marker of each kind: a rubric in the system message may mention the markers before the real blocks.
    a = list(first.finditer(text))[-1]
    b = list(second.finditer(text))[-1]
    if a.end() <= b.start():
        return text[a.end() : b.start()].strip(), text[b.end() :].strip()
    return text[a.end() :].strip(), text[b.end() : a.start()].strip()


def _read_value(block: str) -> Any:
    block = block.strip()
    if not block:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(block)
        return value
    except ValueError:
        pass
    first_line = block.splitlines()[0].strip()
    try:
        return ast.literal_eval(first_line)
    except (ValueError, SyntaxError):
        return first_line


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(tokens(value))
    return value


def _arg_matches(truth: Any, prediction: Any) -> bool:
    return same_value(truth, prediction) or (
        isinstance(truth, str) and isinstance(prediction, str) and _normal(truth) == _normal(prediction)
    )


def tool_call_rating(truth_raw: Any, prediction_raw: Any) -> str:
    truth = parse_tool_calls(truth_raw) or ()
    prediction = parse_tool_calls(prediction_raw)
    rating, why = _rate(truth, prediction)
    return f"RATING: {rating}\nEXPLANATION: {why}"


def _rate(truth: tuple[ToolCall, ...], prediction: tuple[ToolCall, ...] | None) -> tuple[int, str]:
    if prediction is None:
        return 0, "The prediction is not a valid tool call."
    if not truth:
        return (
            (1, "Neither answer calls a tool.")
            if not prediction
            else (0, "The prediction calls a tool; none was expected.")
        )
    if len(prediction) < len(truth):
        return (
            0,
            "The prediction is empty or misses tool calls." if not prediction else "The prediction misses tool calls.",
        )
    for expected, got in zip(truth, prediction, strict=False):
        if expected.name != got.name:
            return 0, f"Function name {got.name!r} does not match {expected.name!r}."
        if got.arguments is None:
            return 0, f"The arguments of {got.name!r} are not a JSON object."
        for key, value in (expected.arguments or {}).items():
            if key not in got.arguments:
                return 0, f"Argument {key!r} of {got.name!r} is missing."
            if not _arg_matches(value, got.arguments[key]):
                return 0, f"Argument {key!r} of {got.name!r} differs from the ground truth."
    return 1, "Function names and all ground-truth arguments match."


def similarity(reference: str, candidate: str) -> int:
    """10 when the texts are the same, otherwise 1 to 9 from their word overlap."""
    ref, cand = tokens(reference), tokens(candidate)
    if not cand:
        return 1
    if ref == cand:
        return 10
    ref_set, cand_set = set(ref), set(cand)
    overlap = len(ref_set & cand_set) / len(ref_set | cand_set)
    return 1 + round(8 * overlap)
