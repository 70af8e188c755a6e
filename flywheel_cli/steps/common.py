"""What every step shares: the context it runs in and how it reports progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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

    def job_fields(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The columns every job row of this context carries, plus the step's own."""
        return {
            "kind": kind,
            "platform": self.platform.kind,
            "endpoint": self.endpoint,
            "run_id": self.run_id,
            "simulated": self.platform.simulated,
            **fields,
        }

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


def wait_for_job(
    ctx: StepContext,
    job: JobRow,
    fetch: Callable[[], Any],
    fields: Callable[[Any], dict[str, Any]],
    *,
    progress: Callable[[Any], float | None],
    what: str,
) -> JobRow:
    """Poll a remote job to completion, recording every status on its row; return the row as last recorded.

    A timed-out wait leaves the row live (the job may well still run: the next call attaches to it again); a failed
    or cancelled job is recorded with the platform's reason. Both re-raise.
    """
    from flywheel_cli.errors import StepFailed
    from flywheel_cli.platforms.base import JobState
    from flywheel_cli.wait import WaitTimeout, job_failure, wait_for

    timeouts = ctx.settings.timeouts

    def record(remote: Any) -> None:
        nonlocal job
        job = ctx.store.update_job(job.id, **fields(remote))
        ctx.notify(job)

    try:
        wait_for(
            fetch,
            done=lambda r: r.status.state is JobState.COMPLETED,
            progress=progress,
            failure=lambda r: job_failure(r.status),
            on_update=record,
            what=what,
            **ctx.wait_kwargs(timeout=timeouts.job_total, stall=timeouts.job_stall),
        )
    except WaitTimeout as exc:
        job = ctx.store.update_job(job.id, error=exc.message)
        ctx.notify(job)
        raise
    except StepFailed as exc:
        if job.status not in ("failed", "cancelled"):
            job = ctx.store.update_job(job.id, status="failed")
        job = ctx.store.update_job(job.id, error=exc.message)
        ctx.notify(job)
        raise
    return job
