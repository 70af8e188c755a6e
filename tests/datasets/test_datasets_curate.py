"""Selection and curation: exact counts at every stage, type detection, the too-few message."""

from __future__ import annotations

import pytest
from ds_records import BASE_TS, insert, text_record, tool_def, tool_mix, tool_record

from flywheel_cli.config import SplitConfig
from flywheel_cli.datasets.curate import curate, require_enough
from flywheel_cli.errors import InputError, NotFoundError


def _mixed_workload() -> list[dict]:
    """70 good tool calls, plus 5 text answers, 3 malformed, 3 bad arguments, 2 oversized tools, 4 duplicates."""
    records = tool_mix({"lookup_order": 40, "start_return": 20, "product_qa": 10}, start_ts=BASE_TS + 100)
    ts = BASE_TS
    records += [text_record(f"just chatting {i}", ts=ts + i) for i in range(5)]
    bad_shape = tool_record("no choices", ts=ts)
    bad_shape["response"]["choices"] = []
    empty_messages = tool_record("empty", ts=ts)
    empty_messages["request"]["messages"] = []
    no_request = tool_record("no request", ts=ts)
    del no_request["request"]
    records += [bad_shape, empty_messages, no_request]
    records += [
        tool_record("broken args one", args="{not json", ts=ts),
        tool_record("broken args two", args="[1, 2]", ts=ts),
        tool_record("broken history", ts=ts, history=True),
    ]
    # The history call of the last one gets unparseable arguments.
    records[-1]["request"]["messages"][2]["tool_calls"][0]["function"]["arguments"] = "{oops"
    big = [*TOOLS_SMALL, tool_def("bulk_update", properties=9)]
    records += [tool_record(f"bulk {i}", "bulk_update", ts=ts, tools=big) for i in range(2)]
    # Older copies of queries already present: two exact, two equal once normalised.
    records += [
        tool_record("lookup_order question number 3", ts=ts - 10),
        tool_record("start_return question number 4", "start_return", ts=ts - 10),
        tool_record("  LOOKUP_ORDER question, number 5!! ", ts=ts - 10),
        tool_record("Product_QA question number 6?", "product_qa", ts=ts - 10),
    ]
    return records


TOOLS_SMALL = [tool_def("lookup_order"), tool_def("start_return"), tool_def("product_qa")]


def _stages(curation) -> list[tuple[str, int, int]]:
    return [(s.name, s.kept, s.dropped) for s in curation.stages]


def test_every_stage_is_counted(store) -> None:
    insert(store, _mixed_workload())
    curation = curate(store.iter_records("w"), SplitConfig(limit=60))
    assert curation.workload_type == "tool_calling"
    assert _stages(curation) == [
        ("records", 87, 0),
        ("openai_format", 84, 3),
        ("tool_call", 79, 5),
        ("arguments", 76, 3),
        ("tool_properties", 74, 2),
        ("dedup", 70, 4),
        ("sample", 60, 10),
    ]
    assert len(curation.selected) == 60
    assert len({c.id for c in curation.selected}) == 60
    # Dedup kept the newest of each query: none of the four older copies (the last four ids) survived.
    assert not {c.id for c in curation.selected} & {"r00083", "r00084", "r00085", "r00086"}


def test_keep_no_tool_keeps_text_answers_as_their_own_class(store) -> None:
    insert(store, _mixed_workload())
    curation = curate(store.iter_records("w"), SplitConfig(keep_no_tool=True))
    assert _stages(curation) == [
        ("records", 87, 0),
        ("openai_format", 84, 3),
        ("tool_call", 84, 0),
        ("arguments", 81, 3),
        ("tool_properties", 79, 2),
        ("dedup", 75, 4),
        ("sample", 75, 0),
    ]
    labels = [c.label for c in curation.selected]
    assert labels.count("no_tool") == 5
    assert curation.stages[2].label == "tool-call filter (off: answers without a tool call kept as 'no_tool')"


def test_property_filter_off_with_zero(store) -> None:
    insert(store, _mixed_workload())
    curation = curate(store.iter_records("w"), SplitConfig(max_tool_properties=0))
    assert ("tool_properties", 76, 0) in _stages(curation)
    assert curation.stages[4].label == "tool property limit (off)"


def test_generic_workload_applies_no_tool_filter(store) -> None:
    insert(store, [text_record(f"question {i}", f"answer {i}", ts=BASE_TS + i) for i in range(12)])
    curation = curate(store.iter_records("w"), SplitConfig())
    assert curation.workload_type == "generic"
    assert _stages(curation)[2] == ("tool_call", 12, 0)
    assert {c.label for c in curation.selected} == {"no_tool"}


def test_client_filter_and_sampling_are_reproducible(store) -> None:
    records = tool_mix({"lookup_order": 30})
    for i, r in enumerate(records):
        r["client_id"] = "a" if i % 3 else "b"
    insert(store, records)
    only_b = curate(store.iter_records("w", "b"), SplitConfig(), client_id="b")
    assert only_b.stages[0].kept == 10
    assert only_b.stages[0].label == "records read (client b)"
    first = curate(store.iter_records("w"), SplitConfig(limit=12, seed=7))
    again = curate(store.iter_records("w"), SplitConfig(limit=12, seed=7))
    other = curate(store.iter_records("w"), SplitConfig(limit=12, seed=8))
    assert [c.id for c in first.selected] == [c.id for c in again.selected]
    assert [c.id for c in first.selected] != [c.id for c in other.selected]


def test_too_few_records_lists_every_stage_and_what_to_do(store) -> None:
    records = tool_mix({"lookup_order": 20, "start_return": 10})
    records += [text_record(f"hello {i}") for i in range(4)]
    insert(store, records)
    split = SplitConfig()
    curation = curate(store.iter_records("w"), split)
    with pytest.raises(InputError) as info:
        require_enough(curation, split, "w", None)
    message = str(info.value)
    assert message.startswith(
        "workload 'w' has too few usable records: 30 after curation, need at least 101 "
        "(split.min_total_records = 50; eval_size 100 + 1 training record).\nRecords at each stage:\n"
    )
    assert "  answered with a tool call" in message
    assert "30  (-4)" in message
    assert info.value.hint == (
        "To build anyway: --keep-no-tool keeps the 4 answers without a tool call; --eval-size 6 leaves records for "
        "training; a lower split.min_total_records (now 50; set in the config file or "
        "FLYWHEEL_SPLIT__MIN_TOTAL_RECORDS) accepts a smaller set; or ingest more logs for this workload."
    )


def test_enough_records_pass_and_missing_workload_is_not_found(store) -> None:
    insert(store, tool_mix({"lookup_order": 11}))
    split = SplitConfig(eval_size=10, min_total_records=5)
    require_enough(curate(store.iter_records("w"), split), split, "w", None)
    with pytest.raises(InputError):
        tight = SplitConfig(eval_size=11, min_total_records=5)
        require_enough(curate(store.iter_records("w"), tight), tight, "w", None)
    with pytest.raises(NotFoundError, match="no records for workload 'nope' \\(client 'x'\\)"):
        require_enough(curate(store.iter_records("nope"), split), split, "nope", "x")
