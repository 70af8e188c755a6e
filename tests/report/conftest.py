"""Fixtures for the report tests: a state file holding one stored run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from report_runs import StoredRun, store_run

from flywheel_cli.state import Store


@pytest.fixture
def store(state_path: Path) -> Iterator[Store]:
    with Store(state_path) as s:
        yield s


@pytest.fixture
def stored(store: Store) -> StoredRun:
    return store_run(store)
