"""Simulated time: real seconds = simulated seconds / speed.

Jobs and deployments store the real time they were created at; their status is computed from the simulated time
that has passed since, so nothing needs to tick in the background.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


class Clock:
    def __init__(self, speed: float, time_fn: Callable[[], float] = time.time) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = speed
        self._time = time_fn

    def now(self) -> float:
        return self._time()

    def sim_since(self, t0: float) -> float:
        """Simulated seconds elapsed since the real time `t0`."""
        return max(0.0, (self._time() - t0) * self.speed)

    def real_at(self, t0: float, sim_offset: float) -> float:
        """The real time at which `sim_offset` simulated seconds will have passed since `t0`."""
        return t0 + sim_offset / self.speed

    def real_seconds(self, sim_seconds: float) -> float:
        return sim_seconds / self.speed


def iso(ts: float) -> str:
    # NMP answers naive ISO timestamps (no zone designator); they are UTC.
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None).isoformat()


def iso_z(ts: float) -> str:
    # The Data Store answers with a `Z`.
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Phase:
    status: str
    start: float  # simulated seconds since creation
    end: float | None  # None: the phase lasts forever (a terminal status)


class Timeline:
    """Consecutive statuses with simulated durations; the last one is terminal."""

    def __init__(self, phases: Sequence[tuple[str, float | None]]) -> None:
        self.phases: list[Phase] = []
        start = 0.0
        for status, duration in phases:
            end = None if duration is None else start + duration
            self.phases.append(Phase(status, start, end))
            if end is None:
                break
            start = end

    def at(self, sim: float) -> Phase:
        for phase in self.phases:
            if phase.end is None or sim < phase.end:
                return phase
        return self.phases[-1]

    def reached(self, sim: float) -> list[Phase]:
        """Every phase that has started by `sim`, in order."""
        return [p for p in self.phases if p.start <= sim]

    def start_of(self, status: str) -> float | None:
        for phase in self.phases:
            if phase.status == status:
                return phase.start
        return None
