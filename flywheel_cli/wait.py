"""Polling a remote job or deployment until it is done: one helper for every step, on any platform.

The interval backs off from `interval` to `max_interval` and stays there, whether or not progress moves: jobs
report progress on nearly every poll, so snapping back on progress would poll a six-hour LoRA job every few seconds.
The cost is that completion is noticed up to one `max_interval` late. Two clocks bound the wait: the total
`timeout`, and the `stall_timeout` that restarts whenever progress moves (a long job that keeps moving is fine; one
stuck at 40 % for an hour is not). A poll that fails transiently (no answer, 5xx after the client's own retries)
counts as "nothing moved" instead of ending a wait of hours.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from flywheel_cli.errors import RemoteError, StepFailed
from flywheel_cli.platforms.base import DeploymentState, DeploymentStatus, JobState, JobStatus

T = TypeVar("T")

_UNSEEN = object()


class WaitTimeout(StepFailed):
    """The wait ran out of time (`stalled` = no progress for `stall_timeout`). The remote work may still run."""

    def __init__(self, message: str, *, hint: str | None = None, stalled: bool, last: object = None) -> None:
        self.stalled = stalled
        self.last = last
        super().__init__(message, hint=hint)


def wait_for(
    fetch: Callable[[], T],
    *,
    done: Callable[[T], bool],
    progress: Callable[[T], float | None] = lambda _: None,
    on_update: Callable[[T], None] | None = None,
    failure: Callable[[T], str | None] | None = None,
    what: str = "the remote operation",
    interval: float = 5.0,
    max_interval: float = 30.0,
    backoff: float = 1.5,
    timeout: float = 3600.0,
    stall_timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call `fetch` until `done(value)`; return that value.

    `failure(value)` returning a reason ends the wait with StepFailed("<what> failed: <reason>"). Timeouts raise
    WaitTimeout. `on_update` sees every fetched value (to record progress). RemoteErrors other than transient ones
    (no HTTP answer, 5xx) propagate at once.
    """
    start = clock()
    last_move = start
    current = interval
    seen: object = _UNSEEN
    last: T | None = None
    last_error: RemoteError | None = None
    while True:
        try:
            value = fetch()
        except RemoteError as err:
            if not _transient(err):
                raise
            last_error = err
        else:
            last, last_error = value, None
            if on_update is not None:
                on_update(value)
            reason = failure(value) if failure is not None else None
            if reason is not None:
                raise StepFailed(f"{what} failed: {reason}")
            if done(value):
                return value
            moved = progress(value)
            if moved is not None and moved != seen:
                if seen is not _UNSEEN:
                    last_move = clock()
                seen = moved
        now = clock()
        if now - start >= timeout:
            raise WaitTimeout(
                f"{what} did not finish within {_duration(timeout)}{_state(seen, last_error)}",
                hint="The remote work may still be running; run the command again to keep waiting.",
                stalled=False,
                last=last,
            )
        if stall_timeout is not None and now - last_move >= stall_timeout:
            raise WaitTimeout(
                f"{what} made no progress for {_duration(stall_timeout)}{_state(seen, last_error)}",
                hint="Check the platform for a stuck job (e.g. waiting for GPUs); it may still be running.",
                stalled=True,
                last=last,
            )
        deadline = start + timeout
        if stall_timeout is not None:
            deadline = min(deadline, last_move + stall_timeout)
        sleep(max(0.0, min(current, deadline - now)))
        current = min(current * backoff, max_interval)


def job_done(status: JobStatus) -> bool:
    return status.state is JobState.COMPLETED


def job_failure(status: JobStatus) -> str | None:
    """Why a job ended badly (the platform's detail when it gave one), or None while it has not."""
    if status.state is JobState.FAILED:
        return status.detail or f"the job ended with status '{status.raw_status}'"
    if status.state is JobState.CANCELLED:
        return f"the job was cancelled ({status.raw_status})" + (f": {status.detail}" if status.detail else "")
    return None


def deployment_failure(status: DeploymentStatus) -> str | None:
    if status.state is DeploymentState.FAILED:
        return status.detail or f"the deployment ended with status '{status.raw_status}'"
    if status.state is DeploymentState.DELETED:
        return f"the deployment is being deleted ({status.raw_status})"
    return None


def _transient(err: RemoteError) -> bool:
    return err.status_code is None or err.status_code >= 500


def _state(seen: object, error: RemoteError | None) -> str:
    parts = []
    if seen is not _UNSEEN and isinstance(seen, (int, float)):
        parts.append(f"last progress {seen:g}%")
    if error is not None:
        parts.append(f"last poll failed: {error.message}")
    return f" ({'; '.join(parts)})" if parts else ""


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}min"
    return f"{seconds:g}s"
