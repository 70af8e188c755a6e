"""The SQLite state file. All SQL in the project lives in this package."""

from flywheel_cli.state.store import Store, open_store

__all__ = ["Store", "open_store"]
