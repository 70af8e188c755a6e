"""Helix tests. Unit tests (respx, the recorded OpenAPI document) always run. Tests marked `helix` need a running
Helix: they are deselected (not skipped) unless FLYWHEEL_HELIX_URL is set, as `scripts/helix/test.sh` does."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from flywheel_cli.config import JudgeConfig, NimConfig, PlatformConfig, Settings

# Read at import: the suite's autouse fixture clears FLYWHEEL_* variables before each test runs.
HELIX_URL = os.environ.get("FLYWHEEL_HELIX_URL")
FIXTURES = Path(__file__).parent / "fixtures"
BASE = "http://helix.test"
WS = "fw"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if HELIX_URL:
        return
    live = [item for item in items if item.get_closest_marker("helix") is not None]
    if live:
        config.hook.pytest_deselected(items=live)
        items[:] = [item for item in items if item.get_closest_marker("helix") is None]


def openapi() -> dict[str, Any]:
    """The paths and schemas flywheel uses, recorded from `GET /openapi.json` of Helix 0.8.1 (evals,
    customization and deployments services running)."""
    return json.loads((FIXTURES / "openapi-0.8.1.json").read_text())


def make_settings(**judge: Any) -> Settings:
    return Settings(
        platform=PlatformConfig(kind="helix", base_url=BASE, workspace=WS, token_env="FW_TEST_HELIX_TOKEN"),
        nims=[NimConfig(model_name="meta/llama-3.2-1b-instruct")],
        judge=JudgeConfig(**judge) if judge else JudgeConfig(),
    )
