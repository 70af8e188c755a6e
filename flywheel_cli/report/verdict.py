"""Which candidate (NIM × experiment) matches the reference well enough, and which of those is cheapest (SPEC §4)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flywheel_cli.report.model import EXPERIMENTS, Verdict

if TYPE_CHECKING:
    from flywheel_cli.report.model import Experiment, NimResult

# Scores are read back from floats: a score exactly at the threshold must not fail on the last bit.
_EPSILON = 1e-9
# "8x7b" (mixture of experts) or "1b", "0.5b", "135m"; not preceded by a digit or a dot, so "3.2-1b" yields 1.
_SIZE = re.compile(r"(?<![\d.])(?:(\d+)x)?(\d+(?:\.\d+)?)([bm])(?![a-z0-9])")


def parameter_billions(model_name: str) -> float | None:
    """Parameters in billions parsed from a model name (meta/llama-3.2-1b-instruct → 1.0); None when it says none."""
    match = _SIZE.search(model_name.lower())
    if match is None:
        return None
    experts, number, unit = match.groups()
    size = float(number) * (int(experts) if experts else 1)
    return size / 1000.0 if unit == "m" else size


def _cost_key(nim: NimResult, exp: Experiment, order: int, priced: bool) -> tuple[bool, float, bool, float, int, int]:
    # Operating cost grows base < icl (longer prompts) < customized (an adapter to serve): the tie-breaker.
    size = (nim.size_b is None, nim.size_b or 0.0)
    price = (nim.price_per_1k is None, nim.price_per_1k or 0.0) if priced else (False, 0.0)
    return (*price, *size, EXPERIMENTS.index(exp.name), order)


def _percent(x: float) -> str:
    return f"{x:.1%}"


def decide(
    nims: list[NimResult], headline: list[str], configured: list[str], threshold: float, *, priced: bool
) -> Verdict:
    """A candidate qualifies if every headline metric is ≥ threshold × the reference; the cheapest one is named."""
    basis = "price" if priced else "size"
    # (cost key, nim, experiment, lowest headline ratio), cheapest first; only completed experiments with every
    # headline metric scored are candidates (a failed evaluation's partial scores never are).
    candidates: list[tuple[tuple[bool, float, bool, float, int, int], NimResult, Experiment, float]] = []
    for i, nim in enumerate(nims):
        for exp in nim.experiments:
            lowest = exp.min_relative(headline) if exp.status == "completed" else None
            if lowest is not None:
                candidates.append((_cost_key(nim, exp, i, priced), nim, exp, lowest))
    candidates.sort(key=lambda c: c[0])
    qualifying = [(nim, exp) for _, nim, exp, lowest in candidates if lowest >= threshold - _EPSILON]

    def verdict(
        reason: str,
        *,
        choice: tuple[str, str] | None = None,
        qualifying: list[tuple[str, str]] | None = None,
        best: tuple[str, str] | None = None,
        shortfall: dict[str, float] | None = None,
    ) -> Verdict:
        head = f"{choice[0]} ({choice[1]}) qualifies" if choice else "no candidate qualified"
        return Verdict(
            qualified=choice is not None,
            nim=choice[0] if choice else None,
            experiment=choice[1] if choice else None,
            basis=basis,
            threshold=threshold,
            headline_metrics=list(headline),
            qualifying=qualifying or [],
            best=best,
            shortfall=shortfall or {},
            reason=reason,
            text=f"{head}: {reason}",
        )

    bar = f"≥ {_percent(threshold)} of the reference on {', '.join(headline)}"
    if qualifying:
        nim, exp = qualifying[0]
        if priced and nim.price_per_1k is not None:
            why = f"the cheapest qualifying candidate at {nim.price_per_1k:.2f} per 1k requests"
            if exp.saving_share is not None:
                why += f", {exp.saving_share:.0%} below the reference"
        elif nim.size_b is not None:
            why = f"the smallest qualifying model ({nim.size_b:g}B parameters)"
            if priced:
                why += "; no candidate with a configured price qualified"
        else:
            why = "the first qualifying candidate (its size and price are unknown)"
        reason = f"{why}; {bar}"
        others = len(qualifying) - 1
        if others:
            reason += f"; {others} other candidate{'s' if others > 1 else ''} also qualified"
        return verdict(
            reason,
            choice=(nim.model_name, exp.name),
            qualifying=[(n.model_name, e.name) for n, e in qualifying],
        )
    if not any(e.status == "completed" for n in nims for e in n.experiments):
        return verdict("no experiment completed")
    if not candidates:
        wanted = ", ".join(configured) or "(none configured)"
        return verdict(f"no completed experiment reported a headline metric ({wanted})")
    # The closest candidate: highest lowest-headline ratio; among equals, the cheapest.
    best = max(range(len(candidates)), key=lambda i: (candidates[i][3], -i))
    _, nim, exp, _ = candidates[best]
    shortfall = {m: threshold - exp.relative[m] for m in headline if exp.relative[m] < threshold - _EPSILON}
    gaps = "; ".join(
        f"{m} at {_percent(exp.relative[m])} of the reference, {_percent(gap)} short" for m, gap in shortfall.items()
    )
    return verdict(
        f"the best candidate, {nim.model_name} ({exp.name}), has {gaps} (a candidate needs {bar})",
        best=(nim.model_name, exp.name),
        shortfall=shortfall,
    )
