"""The platform-neutral wait helper, driven by a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from flywheel_cli.errors import RemoteError, StepFailed
from flywheel_cli.platforms.base import DeploymentState, DeploymentStatus, JobState, JobStatus
from flywheel_cli.wait import WaitTimeout, deployment_failure, job_done, job_failure, wait_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def sequence(values: Iterable[object], then: object = None) -> Callable[[], object]:
    items = list(values)

    def fetch() -> object:
        value = items.pop(0) if items else then
        if isinstance(value, Exception):
            raise value
        return value

    return fetch


def job(state: JobState, progress: float | None = None, detail: str | None = None) -> JobStatus:
    return JobStatus(state=state, raw_status=state.value, progress=progress, detail=detail)


def test_interval_backs_off_while_nothing_moves() -> None:
    clock = FakeClock()
    fetch = sequence([job(JobState.PENDING)] * 6 + [job(JobState.COMPLETED)])
    result = wait_for(
        fetch,
        done=job_done,
        progress=lambda s: s.progress,
        interval=2.0,
        max_interval=10.0,
        backoff=2.0,
        sleep=clock.sleep,
        clock=clock,
    )
    assert result.state is JobState.COMPLETED
    assert clock.sleeps == [2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_interval_keeps_backing_off_when_progress_moves() -> None:
    clock = FakeClock()
    progress = [0, 0, 0, 10, 10, 10, 20]
    fetch = sequence([job(JobState.RUNNING, p) for p in progress] + [job(JobState.COMPLETED, 100)])
    updates: list[float | None] = []
    wait_for(
        fetch,
        done=job_done,
        progress=lambda s: s.progress,
        on_update=lambda s: updates.append(s.progress),
        interval=1.0,
        max_interval=30.0,
        backoff=2.0,
        sleep=clock.sleep,
        clock=clock,
    )
    # Progress moving does not bring the polling back to the first interval: requests per job stay bounded.
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert updates == [0, 0, 0, 10, 10, 10, 20, 100]


def test_stall_timeout_restarts_on_progress() -> None:
    clock = FakeClock()
    # Moves at t=0 (baseline) and t=30; then stuck at 50 % until the stall timeout (60 s after the last move).
    values = {0.0: 10.0, 10.0: 10.0, 20.0: 10.0, 30.0: 50.0}

    def fetch() -> JobStatus:
        return job(JobState.RUNNING, values.get(clock.now, 50.0))

    with pytest.raises(WaitTimeout) as err:
        wait_for(
            fetch,
            done=job_done,
            progress=lambda s: s.progress,
            what="customization job cust-1",
            interval=10.0,
            max_interval=10.0,
            timeout=1000.0,
            stall_timeout=60.0,
            sleep=clock.sleep,
            clock=clock,
        )
    assert clock.now == 90.0
    assert err.value.stalled is True
    assert err.value.message == "customization job cust-1 made no progress for 1min (last progress 50%)"
    assert err.value.last == job(JobState.RUNNING, 50.0)
    assert isinstance(err.value, StepFailed)


def test_total_timeout_even_while_progress_moves() -> None:
    clock = FakeClock()

    def fetch() -> JobStatus:
        return job(JobState.RUNNING, clock.now)  # always moving

    with pytest.raises(WaitTimeout) as err:
        wait_for(
            fetch,
            done=job_done,
            progress=lambda s: s.progress,
            what="evaluation eval-1",
            interval=7.0,
            max_interval=7.0,
            timeout=20.0,
            stall_timeout=15.0,
            sleep=clock.sleep,
            clock=clock,
        )
    # Never oversleeps the deadline: polls at 0, 7, 14, then 20 exactly.
    assert clock.sleeps == [7.0, 7.0, 6.0]
    assert err.value.stalled is False
    assert err.value.message == "evaluation eval-1 did not finish within 20s (last progress 20%)"


def test_failure_detail_ends_the_wait() -> None:
    clock = FakeClock()
    fetch = sequence([job(JobState.RUNNING, 5), job(JobState.FAILED, 5, "CUDA out of memory on rank 0")])
    with pytest.raises(StepFailed) as err:
        wait_for(
            fetch,
            done=job_done,
            failure=job_failure,
            what="customization job cust-1",
            sleep=clock.sleep,
            clock=clock,
        )
    assert not isinstance(err.value, WaitTimeout)
    assert err.value.message == "customization job cust-1 failed: CUDA out of memory on rank 0"


def test_unknown_status_keeps_polling() -> None:
    clock = FakeClock()
    fetch = sequence([job(JobState.UNKNOWN), job(JobState.UNKNOWN), job(JobState.COMPLETED)])
    assert (
        wait_for(fetch, done=job_done, failure=job_failure, sleep=clock.sleep, clock=clock).state is JobState.COMPLETED
    )
    assert len(clock.sleeps) == 2


def test_transient_poll_errors_are_ridden_out_but_others_are_not() -> None:
    clock = FakeClock()
    fetch = sequence([RemoteError("down", status_code=503), RemoteError("no answer"), job(JobState.COMPLETED)])
    assert wait_for(fetch, done=job_done, sleep=clock.sleep, clock=clock).state is JobState.COMPLETED

    missing = sequence([RemoteError("gone", status_code=404)])
    with pytest.raises(RemoteError, match="gone"):
        wait_for(missing, done=job_done, sleep=clock.sleep, clock=clock)

    always_down = sequence([], then=RemoteError("Customizer: GET x timed out"))
    with pytest.raises(WaitTimeout) as err:
        wait_for(always_down, done=job_done, interval=5, timeout=10, sleep=clock.sleep, clock=clock)
    assert (
        err.value.message
        == "the remote operation did not finish within 10s (last poll failed: Customizer: GET x timed out)"
    )


def test_failure_reasons() -> None:
    assert job_failure(job(JobState.FAILED)) == "the job ended with status 'failed'"
    assert job_failure(job(JobState.CANCELLED, detail="by user")) == "the job was cancelled (cancelled): by user"
    assert job_failure(job(JobState.RUNNING)) is None
    assert deployment_failure(DeploymentStatus(DeploymentState.FAILED, "failed", "no GPU")) == "no GPU"
    assert deployment_failure(DeploymentStatus(DeploymentState.DELETED, "deleting")) == (
        "the deployment is being deleted (deleting)"
    )
    assert deployment_failure(DeploymentStatus(DeploymentState.UNKNOWN, "scaling")) is None
