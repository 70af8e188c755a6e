"""build_dataset end to end on a real Store: files, line shapes, determinism, lineage, atomic writes."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import orjson
import pytest
from ds_records import BASE_TS, TOOLS, insert, read_jsonl, text_record, tool_mix, tool_record

from flywheel_cli.config import Settings
from flywheel_cli.datasets import build_dataset, get_dataset
from flywheel_cli.datasets.formats import FILE_EVAL, FILE_ICL, FILE_TRAIN, FILE_VAL
from flywheel_cli.errors import ConfigError, NotFoundError
from flywheel_cli.state import Store

FILES = (FILE_EVAL, FILE_ICL, FILE_TRAIN, FILE_VAL)


def _records() -> list[dict]:
    """60 tool calls over three tools; every third has a history turn; arguments as strings and as objects."""
    out = []
    tools = ["lookup_order"] * 30 + ["start_return"] * 20 + ["product_qa"] * 10
    for i, tool in enumerate(tools):
        args: dict | str = {"p0": f"id-{i}"}
        rec = tool_record(f"question {i} about {tool}", tool, args, ts=BASE_TS + i, history=i % 3 == 0)
        if i % 2:
            rec["response"]["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = {"p0": f"id-{i}"}
        out.append(rec)
    return out


def _build(store: Store, **kw):
    kw.setdefault("min_total_records", 20)
    return build_dataset(store, Settings(), "w", eval_size=kw.pop("eval_size", 12), **kw)


def test_two_builds_in_two_state_dirs_give_identical_bytes_and_id(tmp_path: Path) -> None:
    results = []
    for name in ("one", "two"):
        with Store(tmp_path / name / "state.db") as store:
            insert(store, _records())
            result = _build(store)
            results.append((result.dataset_id, {f: (result.path / f).read_bytes() for f in FILES}))
    assert results[0] == results[1]
    assert re.fullmatch(r"ds-[0-9a-f]{12}", results[0][0])


def test_rebuild_is_a_no_op_and_other_inputs_give_another_id(store: Store) -> None:
    insert(store, _records())
    first = _build(store)
    assert first.created and not first.restored
    mtimes = {f: (first.path / f).stat().st_mtime_ns for f in FILES}
    again = _build(store)
    assert (again.dataset_id, again.created, again.restored) == (first.dataset_id, False, False)
    assert {f: (first.path / f).stat().st_mtime_ns for f in FILES} == mtimes
    assert len(store.list_datasets()) == 1
    assert _build(store, seed=7).dataset_id != first.dataset_id
    assert _build(store, icl_examples=1).dataset_id != first.dataset_id
    assert len(store.list_datasets("w")) == 3


def test_missing_files_are_restored_on_rebuild(store: Store) -> None:
    insert(store, _records())
    first = _build(store)
    original = (first.path / FILE_TRAIN).read_bytes()
    (first.path / FILE_TRAIN).write_bytes(b"tampered\n")
    (first.path / FILE_EVAL).unlink()
    again = _build(store)
    assert (again.created, again.restored) == (False, True)
    assert (first.path / FILE_TRAIN).read_bytes() == original
    assert (first.path / FILE_EVAL).is_file()
    # No temp directory is left beside the datasets.
    assert sorted(p.name for p in first.path.parent.iterdir()) == [first.dataset_id]


def test_line_shapes_in_every_file(store: Store) -> None:
    records = _records()
    insert(store, records)
    stored_before = copy.deepcopy({r.id: r.record for r in store.iter_records("w")})
    result = _build(store)
    by_query = {r["request"]["messages"][-1]["content"]: r for r in records}

    eval_lines = read_jsonl(result.path / FILE_EVAL)
    assert len(eval_lines) == 12
    for line in eval_lines:
        assert set(line) == {"timestamp", "workload_id", "client_id", "request", "response"}
        source = by_query[line["request"]["messages"][-1]["content"]]
        assert line["request"]["tools"] == TOOLS
        for message in line["request"]["messages"]:
            for call in message.get("tool_calls") or []:
                assert call["function"]["arguments"] == '{"p0":"old"}'  # history: JSON string
        assert isinstance(line["response"]["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], dict)
        assert line["timestamp"] == source["timestamp"]

    icl_lines = read_jsonl(result.path / FILE_ICL)
    assert len(icl_lines) == 12
    for plain, icl in zip(eval_lines, icl_lines, strict=True):
        system = icl["request"]["messages"][0]
        assert system["role"] == "system"
        assert system["content"].startswith("Reply the way the worked examples below do.")
        assert system["content"].count("### Example") == 3
        assert system["content"].endswith("\n\nRoute the request.")
        assert icl["request"]["messages"][1:] == plain["request"]["messages"][1:]
        assert icl["response"] == plain["response"]
        for message in icl["request"]["messages"]:
            for call in message.get("tool_calls") or []:
                assert isinstance(call["function"]["arguments"], str)

    train_lines = read_jsonl(result.path / FILE_TRAIN) + read_jsonl(result.path / FILE_VAL)
    assert len(train_lines) == 48
    for line in train_lines:
        assert set(line) == {"messages", "tools"}
        assert line["tools"] == TOOLS
        answer = line["messages"][-1]
        assert answer["role"] == "assistant" and answer["content"] == ""
        assert isinstance(answer["tool_calls"][0]["function"]["arguments"], dict)
        for message in line["messages"]:
            if message["role"] == "assistant":
                assert message["content"] is not None
                for call in message.get("tool_calls") or []:
                    assert isinstance(call["function"]["arguments"], dict)
    history = [line for line in train_lines if len(line["messages"]) == 6]
    assert history and all(line["messages"][2]["content"] == "" for line in history)
    assert all(line["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"p0": "old"} for line in history)

    # Bytes: sorted keys, one object per line, '\n' endings.
    raw = (result.path / FILE_EVAL).read_bytes()
    assert raw.endswith(b"\n") and b"\r" not in raw
    first = raw.split(b"\n", 1)[0]
    assert first == orjson.dumps(orjson.loads(first), option=orjson.OPT_SORT_KEYS)
    # The stored records were not touched.
    assert {r.id: r.record for r in store.iter_records("w")} == stored_before


def test_response_arguments_are_objects_whatever_the_log_had(store: Store) -> None:
    insert(store, _records())
    result = _build(store)
    for line in read_jsonl(result.path / FILE_EVAL):
        call = line["response"]["choices"][0]["message"]["tool_calls"][0]
        number = int(line["request"]["messages"][-1]["content"].split()[1])
        assert call["function"]["arguments"] == {"p0": f"id-{number}"}


def test_generic_workload_lines(store: Store) -> None:
    insert(store, [text_record(f"question {i}", f"answer {i}", ts=BASE_TS + i) for i in range(30)])
    result = _build(store, eval_size=5)
    assert result.manifest["workload_type"] == "generic"
    for line in read_jsonl(result.path / FILE_TRAIN):
        assert set(line) == {"messages"}
        n = line["messages"][-2]["content"].split()[1]
        assert line["messages"][-1] == {"role": "assistant", "content": f"answer {n}"}
    assert result.manifest["notes"] == [
        "eval: plain seeded random draw (one class only, nothing to stratify)",
        "validation: plain seeded random draw (one class only, nothing to stratify)",
    ]


def test_val_ratio_zero_writes_an_empty_validation_file(store: Store) -> None:
    insert(store, _records())
    result = _build(store, val_ratio=0.0)
    assert (result.path / FILE_VAL).read_bytes() == b""
    assert result.manifest["splits"] == {"eval": 12, "train": 48, "val": 0}
    assert result.manifest["stratification"] == {"eval": "stratified", "val": "empty"}


def test_manifest_and_lineage_are_recorded(store: Store, settings: Settings) -> None:
    insert(store, _records())
    result = _build(store)
    row = get_dataset(store, result.dataset_id[:7])
    m = row.manifest
    assert (row.id, row.workload_id, row.client_id, row.workload_type, row.seed) == (
        result.dataset_id, "w", None, "tool_calling", 42
    )
    assert row.config_hash == Settings(split={"eval_size": 12, "min_total_records": 20}).fingerprint("split", "icl")
    assert (row.eval_records, row.train_records, row.val_records) == (12, 43, 5)
    assert m["splits"] == {"eval": 12, "train": 43, "val": 5}
    assert [s["kept"] for s in m["stages"]] == [60, 60, 60, 60, 60, 60, 60]
    assert m["class_balance"]["eval"] == {"lookup_order": 6, "product_qa": 2, "start_return": 4}
    assert m["icl"]["examples_per_record"] == {"min": 3, "mean": 3.0, "max": 3}
    assert m["icl"]["selection"] == "uniform"
    files = {f.path: f for f in store.dataset_files(row.id)}
    assert sorted(files) == sorted(FILES)
    assert files[FILE_EVAL].lines == 12 and files[FILE_VAL].lines == 5
    # Each split's record ids, in file order.
    splits = store.dataset_split_ids(row.id)
    assert [len(splits[s]) for s in ("eval", "train", "val")] == [12, 43, 5]
    records = store.records_by_id(splits["eval"])
    eval_lines = read_jsonl(result.path / FILE_EVAL)
    assert [records[i].record["request"]["messages"][-1] for i in splits["eval"]] == [
        line["request"]["messages"][-1] for line in eval_lines
    ]
    assert store.datasets_with_record(splits["val"][0]) == [(row.id, "val", 0)]
    examples = store.dataset_icl_examples(row.id)
    assert len(examples) == 12 and all(len(e) == 3 and set(e) <= set(splits["train"]) for e in examples)


def test_overrides_are_validated_and_unknown_workloads_fail(store: Store) -> None:
    insert(store, _records())
    with pytest.raises(ConfigError, match="val_ratio"):
        _build(store, val_ratio=1.5)
    with pytest.raises(NotFoundError):
        build_dataset(store, Settings(), "unknown")
    with pytest.raises(NotFoundError, match="no dataset 'ds-nope'"):
        get_dataset(store, "ds-nope")
    first, second = _build(store), _build(store, seed=1)
    assert get_dataset(store, first.dataset_id.removeprefix("ds-")).id == first.dataset_id
    with pytest.raises(NotFoundError, match="dataset id 'ds-' is ambiguous: it matches ds-"):
        get_dataset(store, "ds-")
    assert {first.dataset_id, second.dataset_id} == {r.id for r in store.list_datasets()}


def test_tool_workload_with_kept_text_answers(store: Store) -> None:
    records = tool_mix({"lookup_order": 20, "start_return": 10})
    records += [text_record(f"small talk {i}", f"reply {i}", tools=TOOLS, ts=BASE_TS - i) for i in range(10)]
    insert(store, records)
    result = _build(store, eval_size=8, keep_no_tool=True)
    m = result.manifest
    assert m["stages"][2] == {
        "name": "tool_call",
        "label": "tool-call filter (off: answers without a tool call kept as 'no_tool')",
        "kept": 40,
        "dropped": 0,
    }
    assert m["class_balance"]["eval"] == {"lookup_order": 4, "no_tool": 2, "start_return": 2}
    text_lines = [line for line in read_jsonl(result.path / FILE_TRAIN) if "tool_calls" not in line["messages"][-1]]
    assert text_lines
    for line in text_lines:
        assert line["tools"] == TOOLS
        assert line["messages"][-1]["content"].startswith("reply ")
