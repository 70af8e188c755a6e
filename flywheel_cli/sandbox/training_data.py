"""What the customizer checks in the training files it is pointed at, and how many records they hold."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

_ROLES = ("system", "user", "assistant", "tool", "developer", "function")


@dataclass(frozen=True)
class TrainingData:
    train_records: int
    val_records: int
    failure: str | None  # the reason the job fails, naming file and line


def _message_problem(i: int, message: Any) -> str | None:
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        return f"{where} must be an object"
    if message.get("role") not in _ROLES:
        return f"{where}.role must be one of {', '.join(_ROLES)}"
    content = message.get("content")
    if content is not None and not isinstance(content, (str, list)):
        return f"{where}.content must be a string"
    calls = message.get("tool_calls")
    if calls is None:
        return None
    if not isinstance(calls, list):
        return f"{where}.tool_calls must be a list"
    for j, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            return f"{where}.tool_calls[{j}].function.name is required"
        if not isinstance(fn.get("arguments"), dict):
            return f"{where}.tool_calls[{j}].function.arguments must be a JSON object"
    return None


def row_problem(line: bytes) -> str | None:
    try:
        row = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg})"
    if not isinstance(row, dict):
        return "a row must be a JSON object"
    if "messages" in row:
        messages = row["messages"]
        if not isinstance(messages, list) or not messages:
            return "'messages' must be a non-empty list"
        for i, message in enumerate(messages):
            problem = _message_problem(i, message)
            if problem:
                return problem
        if messages[-1].get("role") != "assistant":
            return "the last message must be the assistant's answer"
        if "tools" in row and row["tools"] is not None and not isinstance(row["tools"], list):
            return "'tools' must be a list"
        return None
    if isinstance(row.get("prompt"), str) and isinstance(row.get("completion"), str):
        return None
    return "a row needs 'messages' (chat) or 'prompt' and 'completion' strings"


def _count(path: str, content: bytes) -> tuple[int, str | None]:
    count = 0
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        problem = row_problem(line)
        if problem:
            return count, f"Dataset validation failed: {path} line {number}: {problem}"
        count += 1
    return count, None


def read_training_data(files: dict[str, bytes] | None, dataset: str) -> TrainingData:
    """Counts rows under training/ and validation/; without validation files 10% of training is held out."""
    if files is None:
        return TrainingData(0, 0, f"Dataset files not found: the Data Store has no repository for {dataset}")
    train = sorted(p for p in files if p.startswith("training/") and p.endswith(".jsonl"))
    val = sorted(p for p in files if p.startswith("validation/") and p.endswith(".jsonl"))
    if not train:
        return TrainingData(0, 0, f"No training files in {dataset}: expected .jsonl files under training/")
    counts: dict[str, int] = {}
    for path in train + val:
        counts[path], failure = _count(path, files[path])
        if failure:
            return TrainingData(0, 0, failure)
    n_train = sum(counts[p] for p in train)
    n_val = sum(counts[p] for p in val)
    if n_train == 0:
        return TrainingData(0, 0, f"Dataset validation failed: the training files of {dataset} hold no rows")
    if not val:
        kept = math.ceil(n_train * 0.9)
        return TrainingData(kept, n_train - kept, None)
    return TrainingData(n_train, n_val, None)
