"""Create-or-attach: the one way flywheel starts remote work.

1. A job's *key* says what it is for (kind, endpoint, run, workload, NIM, dataset, ...). Same key = same inputs.
2. Before the create request is sent, a row is written with status `creating` and the *name* the platform will know
   the job by. If the process dies before the answer is recorded, the next call finds the job by that name instead
   of creating a second one.
3. A job that exists (running or completed) is attached to, never recreated. A failed or cancelled one is retried
   as a new attempt (new name) only when the caller asks for it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flywheel_cli.state.runs import JobRow
from flywheel_cli.state.store import Store

T = TypeVar("T")
FAILED_STATES = {"failed", "cancelled"}


def slug(text: str, max_len: int = 40) -> str:
    """A name fragment NMP accepts everywhere (lower-case letters, digits, dashes)."""
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return value[:max_len].strip("-") or "x"


def short_hash(*parts: Any) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:8]


@dataclass
class Attached(Generic[T]):
    job: JobRow
    remote: T | None  # what the platform answered (None when attaching to a row that needs no call)
    created: bool  # True when this call sent the create request


def create_or_attach(
    store: Store,
    *,
    key: str,
    name: Callable[[int], str],
    fields: dict[str, Any],
    find: Callable[[str], T | None],
    create: Callable[[str], T],
    remote_id: Callable[[T], str],
    extra: Callable[[T], dict[str, Any]] = lambda _: {},
    retry_failed: bool = True,
) -> Attached[T]:
    job = store.latest_job(key)
    if job is not None and job.status in FAILED_STATES:
        if not retry_failed:
            return Attached(job, None, False)
        job = _new_row(store, key, job.attempt + 1, name, fields)
    elif job is None:
        job = _new_row(store, key, 1, name, fields)
    elif job.remote_id is not None:
        return Attached(job, None, False)

    # A `creating` row: the create may or may not have reached the platform before we lost the answer. Look first.
    found = find(job.name)
    if found is not None:
        job = store.update_job(job.id, **{"status": "pending", **extra(found), "remote_id": remote_id(found)})
        return Attached(job, found, False)
    made = create(job.name)
    job = store.update_job(job.id, **{"status": "pending", **extra(made), "remote_id": remote_id(made)})
    return Attached(job, made, True)


def _new_row(store: Store, key: str, attempt: int, name: Callable[[int], str], fields: dict[str, Any]) -> JobRow:
    import sqlite3

    from flywheel_cli.errors import StateError

    try:
        return store.create_job(key=key, attempt=attempt, name=name(attempt), **fields)
    except sqlite3.IntegrityError:
        # Another flywheel process wrote the same row a moment ago and is creating this very job now.
        raise StateError(
            f"another flywheel process is starting the same job ({name(attempt)}) right now",
            hint="Let it finish, then run this command again: it will attach to that job.",
        ) from None
