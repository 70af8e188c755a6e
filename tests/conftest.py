"""Shared fixtures: every test gets its own working directory and state file, and a clean FLYWHEEL_* environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from flywheel_cli.cli.app import app

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("FLYWHEEL_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / ".flywheel" / "state.db"


CliFn = Callable[..., Result]


@pytest.fixture
def cli() -> CliFn:
    """Run the real CLI in-process: `cli("ingest", "a.jsonl", input=...)` → Result with exit_code/stdout/stderr."""
    runner = CliRunner()

    def run(*args: str | Sequence[str], input: str | bytes | None = None, env: dict[str, str] | None = None) -> Result:
        flat: list[str] = []
        for arg in args:
            flat.extend([arg] if isinstance(arg, str) else list(arg))
        return runner.invoke(app, flat, input=input, env=env, catch_exceptions=False)

    return run
