"""Fault injection: 5xx answers, slow answers, hangs past a client's timeout, and dropped connections.

A fault on a request that changes something (POST, PATCH, PUT, DELETE) happens either before the change is applied
or after it: in the second case the client sees an error although the resource exists, which is exactly what a
client must survive by looking the resource up before posting again.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

FAULT_MODES = ("error", "slow", "timeout", "drop")
MUTATING = ("POST", "PATCH", "PUT", "DELETE")


@dataclass(frozen=True)
class Fault:
    mode: str
    after_apply: bool  # the request's change is applied before the fault
    delay: float  # real seconds to sleep ("slow": then answer; "timeout": then close without answering)
    status: int  # for "error"

    @property
    def phase(self) -> str | None:
        if self.mode == "slow":
            return None
        return "after" if self.after_apply else "before"


class FaultInjector:
    def __init__(
        self,
        rate: float,
        seed: int,
        hang_seconds: float = 3.0,
        slow_seconds: float = 2.0,
        modes: tuple[str, ...] = FAULT_MODES,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        unknown = set(modes) - set(FAULT_MODES)
        if unknown or not modes:
            raise ValueError(f"fault modes must be a non-empty subset of {', '.join(FAULT_MODES)}")
        self.rate = rate
        self.hang_seconds = hang_seconds
        self.slow_seconds = slow_seconds
        self.modes = tuple(modes)
        self._rng = random.Random(f"faults/{seed}")
        self._lock = threading.Lock()

    def draw(self, method: str) -> Fault | None:
        with self._lock:
            if self.rate <= 0.0 or self._rng.random() >= self.rate:
                return None
            mode = self._rng.choice(self.modes)
            after = mode != "slow" and method in MUTATING and self._rng.random() < 0.5
            if mode == "slow":
                delay = self.slow_seconds * self._rng.uniform(0.25, 1.0)
            elif mode == "timeout":
                delay = self.hang_seconds
            else:
                delay = 0.0
            return Fault(mode, after, delay, self._rng.choice((500, 502, 503)))
