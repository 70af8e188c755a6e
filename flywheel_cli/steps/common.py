"""What every step shares: the context it runs in and how it reports progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flywheel_cli.config import Settings
from flywheel_cli.platforms import endpoint_of, scope_of
from flywheel_cli.platforms.base import Platform
from flywheel_cli.state.runs import JobRow
from flywheel_cli.state.store import Store

Observer = Callable[[JobRow], None]


@dataclass
class StepContext:
    store: Store
    platform: Platform
    settings: Settings
    run_id: str | None = None  # the run a job belongs to; None for a standalone command
    on_update: Observer | None = None
    sleep: Callable[[float], None] = time.sleep
    # Set by `flywheel run` on Ctrl-C / cancel so waits stop at the next poll.
    should_stop: Callable[[], bool] = field(default=lambda: False)

    @property
    def endpoint(self) -> str:
        return endpoint_of(self.settings)

    @property
    def scope(self) -> str:
        """Part of every job key: the cluster and, for a run, the run. A new run never attaches to an old run's jobs."""
        return f"{self.platform.kind}|{self.endpoint}|{scope_of(self.settings)}|{self.run_id or 'cli'}"

    def notify(self, job: JobRow) -> None:
        if self.on_update is not None:
            self.on_update(job)

    def wait_kwargs(self, *, timeout: float, stall: float | None = None) -> dict:
        t = self.settings.timeouts
        return {
            "interval": t.poll_interval,
            "max_interval": t.max_poll_interval,
            "timeout": timeout,
            "stall_timeout": stall,
            "sleep": self._sleep,
        }

    def _sleep(self, seconds: float) -> None:
        from flywheel_cli.errors import Interrupted

        if self.should_stop():
            raise Interrupted("stopped while waiting")
        self.sleep(seconds)
