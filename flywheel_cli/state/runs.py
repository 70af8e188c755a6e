"""Runs, steps, remote jobs, deployments and scores. (Filled in by the pipeline work.)"""

from __future__ import annotations

from flywheel_cli.state.db import Migration

MIGRATIONS: list[Migration] = []


class RunsMixin:
    pass
