"""Leakage audit: does any user query appear in two splits? Read from the written files, never assumed.

Dedup at build time should make every count here 0; the audit is the check that it did, on exactly what would be
uploaded. Queries are compared exactly and normalised (lower case, no punctuation, collapsed whitespace).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from pathlib import Path
from typing import Any

import orjson

from flywheel_cli.datasets import formats, queries
from flywheel_cli.errors import InputError

PAIRS = (("eval", "train"), ("eval", "val"), ("train", "val"))
_SAMPLES = 5


def _read_lines(path: Path) -> Iterable[dict[str, Any]]:
    if not path.is_file():
        raise InputError(f"dataset file {path} is missing", hint="Rebuild the dataset with `flywheel datasets build`.")
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                raise InputError(f"{path}:{number} is not valid JSON", hint="Rebuild the dataset.") from None


def split_messages(directory: Path) -> dict[str, list[list[Any]]]:
    """The conversation of every line, per split: eval lines' request messages; training lines minus the answer."""
    return {
        "eval": [line["request"]["messages"] for line in _read_lines(directory / formats.FILE_EVAL)],
        "train": [line["messages"][:-1] for line in _read_lines(directory / formats.FILE_TRAIN)],
        "val": [line["messages"][:-1] for line in _read_lines(directory / formats.FILE_VAL)],
    }


def audit_messages(splits: dict[str, list[list[Any]]]) -> dict[str, Any]:
    exact: dict[str, dict[bytes, int]] = {}
    normal: dict[str, dict[bytes, int]] = {}
    for name, conversations in splits.items():
        exact[name], normal[name] = {}, {}
        for i, messages in enumerate(conversations):
            key = queries.exact_key(messages)
            if key is None:
                continue
            exact[name].setdefault(key, i)
            normal[name].setdefault(queries.normalised_key(messages) or b"", i)
    result: dict[str, Any] = {
        "queries": {name: len(exact[name]) for name in splits},
        "exact": {},
        "normalised": {},
        "samples": [],
    }
    for a, b in (p for p in combinations(splits, 2) if p in PAIRS):
        pair = f"{a}/{b}"
        shared_exact = exact[a].keys() & exact[b].keys()
        shared_norm = normal[a].keys() & normal[b].keys()
        result["exact"][pair] = len(shared_exact)
        result["normalised"][pair] = len(shared_norm)
        for key in sorted(shared_norm)[: _SAMPLES - len(result["samples"])]:
            text = " | ".join(orjson.loads(key))
            result["samples"].append({"pair": pair, "query": text[:120]})
    result["ok"] = not any(result["exact"].values()) and not any(result["normalised"].values())
    return result


def audit_dataset(directory: Path) -> dict[str, Any]:
    return audit_messages(split_messages(directory))
