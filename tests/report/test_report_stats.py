"""The bootstrap interval: the documented procedure, reproducible, failed samples as 0, fast."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest

from flywheel_cli.report.stats import bootstrap_ci, seed_for

VALUES = [1.0, 0.0, 1.0, 1.0, None, 1.0, 0.0, 1.0, 1.0, 1.0, 0.5, 1.0, 0.0, 1.0, 1.0, None, 1.0, 1.0, 0.0, 1.0]


def _documented(values: list[float | None], job_id: int, metric: str) -> tuple[float, float]:
    """The procedure as stats.bootstrap_ci's docstring states it, written out independently."""
    key = int.from_bytes(hashlib.sha256(f"{job_id}:{metric}".encode()).digest()[:8], "big")
    rng = np.random.default_rng(np.random.SeedSequence([0, key]))
    x = np.array([0.0 if v is None else v for v in values])
    idx = rng.integers(0, len(x), size=(1000, len(x)))
    means = x[idx].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def test_interval_follows_the_documented_procedure_exactly() -> None:
    assert bootstrap_ci(VALUES, seed_for(7, "function_name_accuracy")) == _documented(VALUES, 7, "function_name_accuracy")


def test_interval_is_stable_across_processes_and_versions() -> None:
    # Pinned: PCG64 streams and the sha256-derived seed do not change, so a stored run reports the same interval.
    low, high = bootstrap_ci(VALUES, seed_for(7, "function_name_accuracy"))
    assert (round(low, 6), round(high, 6)) == (0.45, 0.875)
    assert bootstrap_ci(VALUES, seed_for(7, "function_name_accuracy")) == (low, high)


def test_seed_depends_on_job_and_metric() -> None:
    a = bootstrap_ci(VALUES, seed_for(7, "function_name_accuracy"))
    assert bootstrap_ci(VALUES, seed_for(8, "function_name_accuracy")) != a
    assert bootstrap_ci(VALUES, seed_for(7, "tool_calling_correctness")) != a


def test_failed_samples_count_as_zero() -> None:
    zeros = [0.0 if v is None else v for v in VALUES]
    seed = seed_for(3, "similarity")
    assert bootstrap_ci(VALUES, seed) == bootstrap_ci(zeros, seed_for(3, "similarity"))


def test_no_samples_no_interval() -> None:
    assert bootstrap_ci([], seed_for(1, "similarity")) is None


def test_constant_samples_give_a_point_interval() -> None:
    assert bootstrap_ci([1.0] * 50, seed_for(1, "function_name_accuracy")) == (1.0, 1.0)
    assert bootstrap_ci([None] * 5, seed_for(1, "function_name_accuracy")) == (0.0, 0.0)


def test_thousand_resamples_of_thousand_samples_is_fast() -> None:
    values = [float(i % 3 == 0) for i in range(1000)]
    start = time.perf_counter()
    low, high = bootstrap_ci(values, seed_for(1, "function_name_accuracy"))
    assert time.perf_counter() - start < 1.0
    assert low < sum(values) / 1000 < high
    assert high - low == pytest.approx(0.058, abs=0.01)  # ≈ 2 × 1.96 × sqrt(p(1-p)/n) for p = 1/3, n = 1000
