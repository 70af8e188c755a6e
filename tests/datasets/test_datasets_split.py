"""Stratified, reproducible splits: sizes, largest-remainder balance, pooling of rare classes, fallbacks."""

from __future__ import annotations

from collections import Counter

from flywheel_cli.datasets.curate import Candidate
from flywheel_cli.datasets.split import class_balance, largest_remainder, split, strata, val_count


def _items(counts: dict[str, int]) -> list[Candidate]:
    out = []
    for label, n in counts.items():
        out += [Candidate(f"{label}-{i}", label, None) for i in range(n)]
    # Interleave so that input order is not grouped by class.
    return sorted(out, key=lambda c: (int(c.id.rsplit("-", 1)[1]), c.label))


def test_largest_remainder_allocation() -> None:
    assert largest_remainder({"a": 61, "b": 30, "c": 9}, 20) == {"a": 12, "b": 6, "c": 2}
    assert largest_remainder({"a": 49, "b": 24, "c": 7}, 8) == {"a": 5, "b": 2, "c": 1}
    # Equal remainders: the larger class first, then the name.
    assert largest_remainder({"a": 1, "b": 1, "c": 2}, 2) == {"a": 1, "b": 0, "c": 1}
    assert largest_remainder({"x": 3, "y": 3}, 1) == {"x": 1, "y": 0}
    assert largest_remainder({"x": 3, "y": 3}, 0) == {"x": 0, "y": 0}


def test_val_count_reads_the_ratio_as_written() -> None:
    assert val_count(80, 0.1) == 8  # 0.1 × 80 in floats is 8.000000000000002; ceil would give 9
    assert val_count(900, 0.1) == 90
    assert val_count(81, 0.1) == 9
    assert val_count(5, 0.9) == 4  # always one training record left
    assert val_count(50, 0.0) == 0
    assert val_count(1, 0.5) == 0


def test_split_sizes_and_per_class_balance() -> None:
    items = _items({"lookup_order": 60, "start_return": 30, "product_qa": 9, "rare": 1})
    parts = split(items, eval_size=20, val_ratio=0.1, seed=42)
    assert (len(parts.eval), len(parts.val), len(parts.train)) == (20, 8, 72)
    assert parts.modes == {"eval": "stratified", "val": "stratified"}
    # 'rare' is a single record: pooled into the largest class, so eval strata are {lookup_order+rare: 61, 30, 9}
    # and 20 seats go 12 / 6 / 2. The rest holds {50, 24, 7}: 8 validation seats go 5 / 2 / 1.
    assert class_balance(parts.eval) == {"lookup_order": 12, "product_qa": 2, "start_return": 6}
    assert class_balance(parts.val) == {"lookup_order": 5, "product_qa": 1, "start_return": 2}
    assert class_balance(parts.train) == {"lookup_order": 43, "product_qa": 6, "rare": 1, "start_return": 22}
    assert parts.notes == [
        "eval: class 'rare' has a single record; pooled into the largest class 'lookup_order'",
        "validation: class 'rare' has a single record; pooled into the largest class 'lookup_order'",
    ]
    every = [c.id for c in [*parts.eval, *parts.train, *parts.val]]
    assert sorted(every) == sorted(c.id for c in items)


def test_split_is_reproducible_and_keeps_input_order() -> None:
    items = _items({"a": 30, "b": 20})
    first = split(items, eval_size=10, val_ratio=0.2, seed=42)
    again = split(items, eval_size=10, val_ratio=0.2, seed=42)
    other = split(items, eval_size=10, val_ratio=0.2, seed=43)
    assert [c.id for c in first.eval] == [c.id for c in again.eval]
    assert [c.id for c in first.val] == [c.id for c in again.val]
    assert [c.id for c in first.eval] != [c.id for c in other.eval]
    position = {c.id: i for i, c in enumerate(items)}
    for part in (first.eval, first.train, first.val):
        assert [position[c.id] for c in part] == sorted(position[c.id] for c in part)


def test_singleton_classes_pool_as_others() -> None:
    labels = ["a"] * 5 + ["b"] * 3 + ["x", "y", "z"]
    pooled, notes = strata(labels)
    assert Counter(pooled) == {"a": 5, "b": 3, "others": 3}
    assert notes == ["3 classes with a single record pooled as 'others'"]
    items = [Candidate(f"id{i}", label, None) for i, label in enumerate(labels)]
    parts = split(items, eval_size=4, val_ratio=0.0, seed=42)
    # 4 seats over {a: 5, b: 3, others: 3} of 11: floors 1/1/1, the last to 'a' (largest remainder 9/11).
    balance = class_balance(parts.eval)
    assert balance.get("a") == 2 and balance.get("b") == 1
    assert sum(balance.get(k, 0) for k in "xyz") == 1


def test_a_lone_singleton_joins_the_largest_class() -> None:
    pooled, notes = strata(["a", "a", "a", "b", "b", "solo"])
    assert pooled == ["a", "a", "a", "b", "b", "a"]
    assert notes == ["class 'solo' has a single record; pooled into the largest class 'a'"]


def test_one_class_falls_back_to_random_and_says_so() -> None:
    items = _items({"no_tool": 30})
    parts = split(items, eval_size=5, val_ratio=0.2, seed=42)
    assert parts.modes == {"eval": "random", "val": "random"}
    assert (len(parts.eval), len(parts.val), len(parts.train)) == (5, 5, 20)
    assert parts.notes == [
        "eval: plain seeded random draw (one class only, nothing to stratify)",
        "validation: plain seeded random draw (one class only, nothing to stratify)",
    ]


def test_val_ratio_zero_gives_an_empty_validation_split() -> None:
    parts = split(_items({"a": 10, "b": 10}), eval_size=4, val_ratio=0.0, seed=42)
    assert (len(parts.eval), len(parts.val), len(parts.train)) == (4, 0, 16)
    assert parts.modes["val"] == "empty"
