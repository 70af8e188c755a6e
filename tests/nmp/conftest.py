"""NMP test helpers: fixture loading, settings pointing at three fake hosts, a platform that never really sleeps."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx

from flywheel_cli.config import CustomizationConfig, NimConfig, Settings
from flywheel_cli.platforms.nmp import NmpPlatform

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "nmp"

NEMO = "http://nemo.test"
DATASTORE = "http://data-store.test"
NIM = "http://nim.test/nim"  # a path prefix, as behind a shared ingress


def fixture(name: str) -> Any:
    """A fresh copy of a JSON response fixture (tests may mutate it to simulate drift)."""
    return copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))


def make_settings(**overrides: Any) -> Settings:
    nims = overrides.pop(
        "nims",
        [
            NimConfig(
                model_name="meta/llama-3.2-1b-instruct",
                customization=CustomizationConfig(target="meta/llama-3.2-1b-instruct@2.0"),
            )
        ],
    )
    data: dict[str, Any] = {
        "nmp": {"nemo_url": NEMO, "datastore_url": DATASTORE, "nim_url": NIM, "timeout_seconds": 5.0},
        "nims": nims,
    }
    data.update(overrides)
    return Settings(**data)


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(autouse=True)
def _no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NMP_TOKEN", "HF_TOKEN", "NIM_TOKEN", "LLM_JUDGE_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    """Every request must hit a declared route; unmatched ones fail the test."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def platform(settings: Settings, sleeps: SleepRecorder, mock: respx.MockRouter) -> Iterator[NmpPlatform]:
    with NmpPlatform(settings, sleep=sleeps) as nmp:
        yield nmp


def scoped(mock: respx.MockRouter) -> None:
    """Routes for ensure_scope: Entity Store namespace + project, Data Store namespace."""
    mock.post(f"{NEMO}/v1/namespaces").respond(200, json=fixture("namespace"))
    mock.post(f"{NEMO}/v1/projects").respond(200, json=fixture("project"))
    mock.post(f"{DATASTORE}/v1/datastore/namespaces").respond(201, json=fixture("datastore/namespace"))


def body(request: Any) -> Any:
    return json.loads(request.content)
