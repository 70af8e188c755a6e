"""Leakage audit: 0 on a built dataset, and it finds overlap planted in the files."""

from __future__ import annotations

import orjson
import pytest
from ds_records import insert, tool_mix

from flywheel_cli.config import Settings
from flywheel_cli.datasets import audit_dataset, build_dataset
from flywheel_cli.datasets.audit import audit_messages
from flywheel_cli.datasets.formats import FILE_EVAL, FILE_TRAIN, FILE_VAL
from flywheel_cli.errors import InputError


def _built(store):
    insert(store, tool_mix({"lookup_order": 30, "start_return": 20}))
    return build_dataset(store, Settings(), "w", eval_size=10, min_total_records=10)


def test_a_built_dataset_has_no_shared_queries(store) -> None:
    result = _built(store)
    audit = audit_dataset(result.path)
    assert audit == {
        "queries": {"eval": 10, "train": 36, "val": 4},
        "exact": {"eval/train": 0, "eval/val": 0, "train/val": 0},
        "normalised": {"eval/train": 0, "eval/val": 0, "train/val": 0},
        "samples": [],
        "ok": True,
    }


def _plant(path, line: dict) -> None:
    with open(path, "ab") as fh:
        fh.write(orjson.dumps(line) + b"\n")


def test_planted_overlap_is_found_exactly_and_normalised(store) -> None:
    result = _built(store)
    eval_lines = [orjson.loads(x) for x in (result.path / FILE_EVAL).read_bytes().splitlines()]
    first_query = eval_lines[0]["request"]["messages"][-1]["content"]
    second_query = eval_lines[1]["request"]["messages"][-1]["content"]
    answer = {"role": "assistant", "content": "ok"}
    system = {"role": "system", "content": "Route the request."}
    # An exact copy of an eval query in training, and a case/punctuation variant of another in validation.
    _plant(result.path / FILE_TRAIN, {"messages": [system, {"role": "user", "content": first_query}, answer]})
    variant = "  " + second_query.upper().replace(" ", "  ") + "?!"
    _plant(result.path / FILE_VAL, {"messages": [system, {"role": "user", "content": variant}, answer]})
    audit = audit_dataset(result.path)
    assert audit["exact"] == {"eval/train": 1, "eval/val": 0, "train/val": 0}
    assert audit["normalised"] == {"eval/train": 1, "eval/val": 1, "train/val": 0}
    assert audit["ok"] is False
    normalised = [s["query"] for s in audit["samples"]]
    assert sorted(normalised) == sorted(
        [first_query.replace("_", ""), second_query.replace("_", "")]
    )


def test_audit_counts_distinct_queries_and_skips_records_without_user_messages() -> None:
    user = lambda text: [{"role": "user", "content": text}]  # noqa: E731
    audit = audit_messages(
        {
            "eval": [user("Hello there"), user("hello, there!"), [{"role": "system", "content": "x"}]],
            "train": [user("HELLO THERE"), user("other")],
            "val": [user("other")],
        }
    )
    assert audit["queries"] == {"eval": 2, "train": 2, "val": 1}
    assert audit["exact"] == {"eval/train": 0, "eval/val": 0, "train/val": 1}
    assert audit["normalised"] == {"eval/train": 1, "eval/val": 0, "train/val": 1}
    assert audit["samples"] == [{"pair": "eval/train", "query": "hello there"}, {"pair": "train/val", "query": "other"}]


def test_missing_files_are_reported(store) -> None:
    result = _built(store)
    (result.path / FILE_VAL).unlink()
    with pytest.raises(InputError, match="val_data.jsonl is missing"):
        audit_dataset(result.path)
