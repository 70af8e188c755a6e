"""The one object the rest of flywheel asks questions of. Each domain's SQL lives in its own mixin module."""

from __future__ import annotations

import os
from pathlib import Path

from flywheel_cli.state import datasets, records, runs
from flywheel_cli.state.db import Database

DEFAULT_STATE_PATH = Path(".flywheel/state.db")

# Order matters: a migration may reference tables created by an earlier one.
MIGRATIONS = [*records.MIGRATIONS, *datasets.MIGRATIONS, *runs.MIGRATIONS]


class Store(records.RecordsMixin, datasets.DatasetsMixin, runs.RunsMixin):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = Database(path, MIGRATIONS)

    @property
    def state_dir(self) -> Path:
        """Directory beside the state file for artifacts (dataset files, rejects)."""
        return self.path.parent

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve_state_path(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    env = os.environ.get("FLYWHEEL_STATE")
    return Path(env) if env else DEFAULT_STATE_PATH


def open_store(path: Path | None = None) -> Store:
    return Store(resolve_state_path(path))
