"""Path flavours from the live document, and auth discovery: a token is sent only to a server that checks it."""

from __future__ import annotations

import pytest
import respx

from flywheel_cli.errors import ConfigError, RemoteError
from flywheel_cli.helix.capabilities import Capabilities
from flywheel_cli.helix.session import HelixSession

from .conftest import BASE, openapi

TOKEN = "tok-3f9a-secret"


def test_capabilities_of_helix_0_8_1() -> None:
    caps = Capabilities.from_openapi(openapi())
    assert caps.evals_prefix == "/apis/evals/v2"
    assert caps.customization == "automodel"
    assert caps.customization_path() == "/apis/customization/v2/workspaces/{workspace}/automodel/jobs"
    assert caps.deployments is True
    assert caps.legacy_evaluation is False
    assert "EvaluateJobRequest" in caps.schemas


def test_capabilities_of_older_generations() -> None:
    mid_2026 = {"paths": {"/apis/evaluator/v2/workspaces/{workspace}/evaluate/jobs": {}}}
    assert Capabilities.from_openapi(mid_2026).evals_prefix == "/apis/evaluator/v2"
    platform_26_3 = {
        "paths": {
            "/apis/evaluation/v2/workspaces/{workspace}/metric-jobs": {},
            "/apis/customization/v2/workspaces/{workspace}/jobs": {},
        }
    }
    caps = Capabilities.from_openapi(platform_26_3)
    assert (caps.evals_prefix, caps.customization, caps.deployments) == (None, "legacy", False)
    assert caps.customization_path() == "/apis/customization/v2/workspaces/{workspace}/jobs"
    with pytest.raises(RemoteError, match=r"only offers the 26\.3-era evaluation API"):
        caps.require_evals(BASE)
    with pytest.raises(RemoteError, match="offers no evaluation API"):
        Capabilities.from_openapi({"paths": {}}).require_evals(BASE)
    with pytest.raises(RemoteError, match="has no `paths`"):
        Capabilities.from_openapi({"openapi": "3.1.0"})


@respx.mock
def test_auth_disabled_sends_no_token_even_when_one_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_TEST_HELIX_TOKEN", TOKEN)
    respx.get(f"{BASE}/apis/auth/discovery").respond(json={"auth_enabled": False, "oidc": None})
    workspaces = respx.get(f"{BASE}/apis/entities/v2/workspaces").respond(json={"data": []})
    session = HelixSession(BASE, token_env="FW_TEST_HELIX_TOKEN", sleep=lambda _: None)
    session.http.get("/apis/entities/v2/workspaces")
    assert "authorization" not in workspaces.calls.last.request.headers
    assert session.auth_enabled is False


@respx.mock
def test_auth_enabled_sends_the_bearer_token_on_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_TEST_HELIX_TOKEN", TOKEN)
    discovery = respx.get(f"{BASE}/apis/auth/discovery").respond(json={"auth_enabled": True})
    workspaces = respx.get(f"{BASE}/apis/entities/v2/workspaces").respond(json={"data": []})
    session = HelixSession(BASE, token_env="FW_TEST_HELIX_TOKEN", sleep=lambda _: None)
    session.http.get("/apis/entities/v2/workspaces")
    session.http.get("/apis/entities/v2/workspaces")
    assert discovery.call_count == 1
    assert "authorization" not in discovery.calls.last.request.headers  # discovery is unauthenticated
    assert [c.request.headers["authorization"] for c in workspaces.calls] == [f"Bearer {TOKEN}"] * 2
    assert TOKEN not in repr(session)


@respx.mock
def test_auth_enabled_without_a_token_names_the_variable() -> None:
    respx.get(f"{BASE}/apis/auth/discovery").respond(json={"auth_enabled": True})
    session = HelixSession(BASE, token_env="FW_TEST_HELIX_TOKEN", sleep=lambda _: None)
    with pytest.raises(ConfigError) as err:
        session.http  # noqa: B018
    assert str(err.value).startswith(
        f"the Helix server at {BASE} requires authentication and env FW_TEST_HELIX_TOKEN is not set"
    )


@respx.mock
def test_a_rejected_token_never_appears_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_TEST_HELIX_TOKEN", TOKEN)
    respx.get(f"{BASE}/apis/auth/discovery").respond(json={"auth_enabled": True})
    respx.get(f"{BASE}/apis/entities/v2/workspaces").respond(401, json={"detail": f"bad token {TOKEN}"})
    session = HelixSession(BASE, token_env="FW_TEST_HELIX_TOKEN", sleep=lambda _: None)
    with pytest.raises(RemoteError) as err:
        session.http.get("/apis/entities/v2/workspaces")
    assert err.value.status_code == 401
    assert TOKEN not in str(err.value)
    assert "bad token ***" in str(err.value)
    assert "FW_TEST_HELIX_TOKEN" in str(err.value)


@respx.mock
def test_the_document_is_read_once() -> None:
    respx.get(f"{BASE}/apis/auth/discovery").respond(json={"auth_enabled": False})
    document = respx.get(f"{BASE}/openapi.json").respond(json=openapi())
    session = HelixSession(BASE, sleep=lambda _: None)
    assert session.capabilities.evals_prefix == session.capabilities.evals_prefix == "/apis/evals/v2"
    assert document.call_count == 1


def test_nothing_is_sent_before_the_first_call() -> None:
    with respx.mock(assert_all_called=False) as mock:
        HelixSession(BASE).close()
        assert mock.calls.call_count == 0
