"""Datasets and their lineage. (Filled in by the datasets work.)"""

from __future__ import annotations

from flywheel_cli.state.db import Migration

MIGRATIONS: list[Migration] = []


class DatasetsMixin:
    pass
