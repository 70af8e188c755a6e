"""create_or_attach on a real state file: the crash window between "row written" and "remote id recorded"."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flywheel_cli.errors import RemoteError
from flywheel_cli.remote_jobs import create_or_attach
from flywheel_cli.state import Store

KEY = "customization|nmp|http://nmp|flywheel|cli|tool_router|meta/x|ds-1|abc"
FIELDS = {"kind": "customization", "platform": "nmp", "endpoint": "http://nmp", "workload_id": "tool_router"}


@dataclass(frozen=True)
class Remote:
    id: str
    name: str
    status: str


class Platform:
    """What a platform holds, by name; records every find and create."""

    def __init__(self, *existing: Remote) -> None:
        self.jobs = {job.name: job for job in existing}
        self.finds: list[str] = []
        self.creates: list[str] = []

    def find(self, name: str) -> Remote | None:
        self.finds.append(name)
        return self.jobs.get(name)

    def create(self, name: str) -> Remote:
        self.creates.append(name)
        job = Remote(f"cust-{len(self.creates)}", name, "created")
        self.jobs[name] = job
        return job


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state.db") as s:
        yield s


def attach(store: Store, platform: Platform, *, retry_failed: bool = True):  # type: ignore[no-untyped-def]
    return create_or_attach(
        store,
        key=KEY,
        name=lambda attempt: "job" if attempt == 1 else f"job-a{attempt}",
        fields=FIELDS,
        find=platform.find,
        create=platform.create,
        remote_id=lambda job: job.id,
        extra=lambda job: {"detail": {"raw_status": job.status}},
        retry_failed=retry_failed,
    )


def test_a_creating_row_whose_job_exists_attaches_without_creating(store: Store) -> None:
    # The process died after the POST reached the platform and before the answer was written down.
    store.create_job(key=KEY, attempt=1, name="job", **FIELDS)
    platform = Platform(Remote("cust-early", "job", "running"))
    attached = attach(store, platform)
    assert (platform.finds, platform.creates) == (["job"], [])
    assert (attached.created, attached.remote) == (False, Remote("cust-early", "job", "running"))
    job = attached.job
    assert (job.remote_id, job.status, job.detail) == ("cust-early", "pending", {"raw_status": "running"})
    assert [(j.attempt, j.remote_id) for j in store.jobs()] == [(1, "cust-early")]


def test_a_creating_row_whose_job_never_arrived_creates_exactly_once(store: Store) -> None:
    store.create_job(key=KEY, attempt=1, name="job", **FIELDS)
    platform = Platform(Remote("cust-other", "another-job", "running"))
    attached = attach(store, platform)
    assert (platform.finds, platform.creates) == (["job"], ["job"])
    assert (attached.created, attached.job.remote_id, attached.job.status) == (True, "cust-1", "pending")
    again = attach(store, platform)
    assert (platform.finds, platform.creates) == (["job"], ["job"])  # the row has its remote id: nothing asked
    assert (again.created, again.remote, again.job.id) == (False, None, attached.job.id)


def test_a_fresh_key_writes_the_row_before_it_creates(store: Store) -> None:
    platform = Platform()
    seen: list[tuple[str, str | None]] = []

    def create(name: str) -> Remote:
        [row] = store.jobs()
        seen.append((row.status, row.remote_id))
        return platform.create(name)

    attached = create_or_attach(
        store, key=KEY, name=lambda a: f"job-{a}", fields=FIELDS, find=platform.find, create=create,
        remote_id=lambda job: job.id,
    )
    assert seen == [("creating", None)]
    assert (attached.job.name, attached.job.remote_id, attached.job.kind) == ("job-1", "cust-1", "customization")


def test_a_failed_create_leaves_the_row_to_be_found_next_time(store: Store) -> None:
    platform = Platform()

    def lost(name: str) -> Remote:
        platform.create(name)  # it reached the platform; the answer did not come back
        raise RemoteError("no answer", status_code=None)

    with pytest.raises(RemoteError):
        create_or_attach(store, key=KEY, name=lambda a: "job", fields=FIELDS, find=platform.find, create=lost,
                         remote_id=lambda job: job.id)
    [row] = store.jobs()
    assert (row.status, row.remote_id, row.name) == ("creating", None, "job")
    attached = attach(store, platform)
    assert (attached.created, attached.job.remote_id, platform.creates) == (False, "cust-1", ["job"])


def test_a_failed_job_is_retried_as_a_new_attempt_only_when_asked(store: Store) -> None:
    platform = Platform()
    first = attach(store, platform).job
    store.update_job(first.id, status="failed", error="bad data")
    kept = attach(store, platform, retry_failed=False)
    assert (kept.created, kept.job.id, kept.job.status, platform.creates) == (False, first.id, "failed", ["job"])
    retried = attach(store, platform)
    assert (retried.created, retried.job.attempt, retried.job.name, retried.job.remote_id) == (True, 2, "job-a2", "cust-2")
    assert platform.creates == ["job", "job-a2"]
    assert [(j.attempt, j.status) for j in store.jobs()] == [(1, "failed"), (2, "pending")]


def test_a_second_process_racing_for_the_same_job_gets_a_clear_message(tmp_path):
    """Two processes write the same (key, attempt) row: the loser is told to wait, and creates nothing."""
    import sqlite3

    import pytest

    from flywheel_cli.errors import StateError
    from flywheel_cli.remote_jobs import create_or_attach
    from flywheel_cli.state import open_store

    store = open_store(tmp_path / "s.db")
    other = sqlite3.connect(tmp_path / "s.db")
    creates: list[str] = []
    original = store.latest_job

    def racing_latest(key):
        # The other process inserts its row right after this one looked and found nothing.
        found = original(key)
        other.execute(
            "INSERT INTO jobs (kind, key, attempt, name, platform, endpoint, status, created_at, updated_at)"
            " VALUES ('evaluation', ?, 1, 'job-1', 'nmp', 'x', 'creating', 0, 0)",
            (key,),
        )
        other.commit()
        return found

    store.latest_job = racing_latest  # type: ignore[method-assign]
    with pytest.raises(StateError) as err:
        create_or_attach(
            store, key="k", name=lambda a: f"job-{a}", fields={"kind": "evaluation", "platform": "nmp", "endpoint": "x"},
            find=lambda n: None, create=lambda n: creates.append(n) or n, remote_id=lambda r: r,
        )
    assert "another flywheel process is starting the same job (job-1)" in err.value.message
    assert creates == []
    other.close()
    store.close()
