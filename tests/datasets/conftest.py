"""Fixtures for the dataset tests: a real Store in a temp dir and default settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flywheel_cli.config import Settings
from flywheel_cli.state import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state" / "state.db") as s:
        yield s


@pytest.fixture
def settings() -> Settings:
    return Settings()
