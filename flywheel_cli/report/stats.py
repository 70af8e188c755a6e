"""Confidence intervals for evaluation scores, reproducible from the stored per-sample values."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

BASE_SEED = 0
RESAMPLES = 1000
LEVEL = 0.95


def seed_for(experiment: int | str, metric: str) -> np.random.SeedSequence:
    """The seed of one score's bootstrap: BASE_SEED combined with the first 8 bytes of sha256("<experiment>:<metric>").

    `experiment` names what was measured (NIM and experiment), not a row id: a resumed run, whose rows were created in
    another order, and an uninterrupted one must give the same intervals for the same samples. Python's `hash()` is
    salted per process, so a digest keeps the same report identical across processes.
    """
    digest = hashlib.sha256(f"{experiment}:{metric}".encode()).digest()
    return np.random.SeedSequence([BASE_SEED, int.from_bytes(digest[:8], "big")])


def bootstrap_ci(
    values: Sequence[float | None], seed: np.random.SeedSequence, *, resamples: int = RESAMPLES, level: float = LEVEL
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean of `values`.

    Procedure: failed samples (None) count as 0 — a rating the judge could not give is not a pass. Draw `resamples`
    resamples of size n with replacement from `np.random.default_rng(seed)` in one `integers(0, n, (resamples, n))`
    call, take each resample's mean, and return the (1 - level)/2 and (1 + level)/2 percentiles of those means
    (numpy's default linear interpolation). No samples → None.
    """
    if not values:
        return None
    x = np.fromiter((0.0 if v is None else v for v in values), dtype=float, count=len(values))
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)
