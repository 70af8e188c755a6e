"""Reproducible, stratified eval / train / validation splits (class = name of the first tool call).

Stratification is done here rather than with a library so that every step is pinned down: largest-remainder
allocation per class, one seeded shuffle per class, classes visited in name order. The same input order and seed
therefore give the same split on every machine and Python version.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from flywheel_cli.datasets.curate import Candidate, rng

OTHERS = "others"
Mode = Literal["stratified", "random", "empty"]


@dataclass(frozen=True)
class Splits:
    eval: list[Candidate]
    train: list[Candidate]
    val: list[Candidate]
    modes: dict[str, Mode]  # how eval and val were drawn
    notes: list[str] = field(default_factory=list)


def largest_remainder(counts: dict[str, int], k: int) -> dict[str, int]:
    """Split `k` seats across classes in proportion to their sizes (Hamilton's method).

    Each class gets floor(k·size/n); the seats left go to the largest fractional parts, ties to the larger class,
    then to the name that sorts first. Exact integer arithmetic: no float can tip a tie.
    """
    n = sum(counts.values())
    if n == 0 or k == 0:
        return {label: 0 for label in counts}
    seats = {label: k * size // n for label, size in counts.items()}
    left = k - sum(seats.values())
    order = sorted(counts, key=lambda label: (-(k * counts[label] % n), -counts[label], label))
    for label in order[:left]:
        seats[label] += 1
    return seats


def strata(labels: Sequence[str]) -> tuple[list[str], list[str]]:
    """Class per item: singletons pooled as "others"; a lone "others" member joins the largest class."""
    counts = Counter(labels)
    out = [OTHERS if counts[label] == 1 else label for label in labels]
    notes: list[str] = []
    singles = sorted(label for label, c in counts.items() if c == 1)
    if len(singles) == 1:
        big = [(c, label) for label, c in counts.items() if c > 1]
        if big:
            largest = min(big, key=lambda item: (-item[0], item[1]))[1]
            out = [largest if label == OTHERS else label for label in out]
            notes.append(f"class {singles[0]!r} has a single record; pooled into the largest class {largest!r}")
    elif singles:
        notes.append(f"{len(singles)} classes with a single record pooled as {OTHERS!r}")
    return out, notes


def _pick(items: Sequence[Candidate], k: int, gen: random.Random, what: str) -> tuple[list[int], Mode, list[str]]:
    """Indices (ascending) of the k items drawn for `what`, the mode used, and notes for the user."""
    if k == 0:
        return [], "empty", []
    labels, notes = strata([c.label for c in items])
    counts = Counter(labels)
    if len(counts) < 2:
        indices = sorted(gen.sample(range(len(items)), k))
        notes = [*notes, f"{what}: plain seeded random draw (one class only, nothing to stratify)"]
        return indices, "random", notes
    seats = largest_remainder(dict(counts), k)
    members: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        members.setdefault(label, []).append(i)
    chosen: list[int] = []
    for label in sorted(members):
        pool = members[label]
        gen.shuffle(pool)
        chosen.extend(pool[: seats[label]])
    return sorted(chosen), "stratified", [f"{what}: {note}" for note in notes]


def val_count(rest: int, val_ratio: float) -> int:
    """ceil(val_ratio × rest), leaving one training record at least; the ratio is read as the decimal written."""
    if rest <= 1 or val_ratio <= 0:
        return 0
    return min(rest - 1, math.ceil(Fraction(repr(val_ratio)) * rest))


def split(selected: Sequence[Candidate], *, eval_size: int, val_ratio: float, seed: int) -> Splits:
    """Eval first (exactly eval_size records), then validation out of the rest; training gets the remainder.

    Callers guarantee len(selected) > eval_size. Records keep their sampled order inside each split.
    """
    k = min(eval_size, len(selected) - 1)
    eval_idx, eval_mode, notes = _pick(selected, k, rng(seed, "eval"), "eval")
    taken = set(eval_idx)
    rest = [c for i, c in enumerate(selected) if i not in taken]
    val_idx, val_mode, val_notes = _pick(rest, val_count(len(rest), val_ratio), rng(seed, "val"), "validation")
    val_taken = set(val_idx)
    return Splits(
        eval=[selected[i] for i in eval_idx],
        train=[c for i, c in enumerate(rest) if i not in val_taken],
        val=[rest[i] for i in val_idx],
        modes={"eval": eval_mode, "val": val_mode},
        notes=notes + val_notes,
    )


def class_balance(items: Sequence[Candidate]) -> dict[str, int]:
    counts = Counter(c.label for c in items)
    return {label: counts[label] for label in sorted(counts)}
