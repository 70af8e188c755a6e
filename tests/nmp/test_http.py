"""The shared NMP HTTP client: retries, error bodies, auth, URLs, pagination."""

from __future__ import annotations

import httpx
import pytest
import respx

from flywheel_cli.errors import ExitCode, RemoteError
from flywheel_cli.nmp.errors import Conflict, NmpError, NotFound, Unreachable
from flywheel_cli.nmp.http import ServiceClient

from .conftest import NEMO, NIM, SleepRecorder


class TopOfRange:
    """A jitter source that always picks the cap, so backoff delays are exact."""

    def uniform(self, low: float, high: float) -> float:
        return high


def client(sleeps: SleepRecorder, *, base_url: str = NEMO, attempts: int = 4, **kw: object) -> ServiceClient:
    return ServiceClient(
        "Customizer", base_url, setting="nmp.nemo_url", token_env="NMP_TOKEN", attempts=attempts, sleep=sleeps, **kw
    )


def test_get_retries_503_then_succeeds(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    route = mock.get(f"{NEMO}/v1/customization/jobs/cust-1").mock(
        side_effect=[httpx.Response(503, json={"detail": "busy"}), httpx.Response(200, json={"id": "cust-1"})]
    )
    assert client(sleeps).get("/v1/customization/jobs/cust-1") == {"id": "cust-1"}
    assert route.call_count == 2
    assert len(sleeps.calls) == 1 and 0.0 <= sleeps.calls[0] <= 0.5


def test_backoff_doubles_up_to_the_cap_then_gives_up(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    route = mock.get(f"{NEMO}/v1/x").respond(502, text="bad gateway")
    http = client(sleeps, attempts=6, rng=TopOfRange(), base_delay=0.5, max_delay=3.0)
    with pytest.raises(NmpError) as err:
        http.get("/v1/x")
    assert route.call_count == 6
    assert sleeps.calls == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert err.value.status_code == 502
    assert str(err.value).startswith(f"Customizer: GET {NEMO}/v1/x answered HTTP 502: bad gateway")
    assert err.value.exit_code is ExitCode.REMOTE


def test_connection_errors_are_retried_for_gets(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    route = mock.get(f"{NEMO}/v1/x").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"), httpx.Response(200, json=[])]
    )
    assert client(sleeps).get("/v1/x") == []
    assert route.call_count == 3


def test_unreachable_after_all_attempts(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    mock.get(f"{NEMO}/v1/x").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(Unreachable) as err:
        client(sleeps, attempts=2).get("/v1/x")
    assert err.value.message == f"Customizer: GET {NEMO}/v1/x failed (ConnectError)"
    assert err.value.hint == f"Check that {NEMO} (nmp.nemo_url) is reachable from this machine."
    assert err.value.status_code is None and err.value.ambiguous


def test_non_idempotent_post_is_not_retried_after_a_5xx(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    route = mock.post(f"{NEMO}/v1/customization/jobs").respond(503, json={"detail": "upstream"})
    with pytest.raises(NmpError) as err:
        client(sleeps).post("/v1/customization/jobs", {"name": "j"}, idempotent=False)
    assert route.call_count == 1 and sleeps.calls == []
    assert err.value.ambiguous


def test_non_idempotent_post_is_not_retried_after_a_read_timeout(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    route = mock.post(f"{NEMO}/v1/customization/jobs").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(Unreachable) as err:
        client(sleeps).post("/v1/customization/jobs", {"name": "j"}, idempotent=False)
    assert route.call_count == 1
    assert err.value.message == f"Customizer: POST {NEMO}/v1/customization/jobs timed out"


def test_non_idempotent_post_is_retried_when_nothing_was_sent(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    route = mock.post(f"{NEMO}/v1/customization/jobs").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json={"id": "cust-1"})]
    )
    assert client(sleeps).post("/v1/customization/jobs", {}, idempotent=False) == {"id": "cust-1"}
    assert route.call_count == 2


def test_422_detail_is_surfaced_without_the_echoed_input(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    detail = [
        {
            "loc": ["body", "hyperparameters", "finetuning_type"],
            "msg": "Input should be 'lora', 'lora_merged' or 'all_weights'",
            "type": "enum",
            "input": "qlora",
        },
        {"loc": ["body", "config"], "msg": "Field required", "type": "missing", "input": {"name": "j"}},
    ]
    mock.post(f"{NEMO}/v1/customization/jobs").respond(422, json={"detail": detail})
    with pytest.raises(NmpError) as err:
        client(sleeps).post("/v1/customization/jobs", {"name": "j"}, idempotent=False)
    assert err.value.message == (
        f"Customizer: POST {NEMO}/v1/customization/jobs answered HTTP 422: "
        "body.hyperparameters.finetuning_type: Input should be 'lora', 'lora_merged' or 'all_weights'; "
        "body.config: Field required"
    )
    assert err.value.status_code == 422
    assert err.value.url == f"{NEMO}/v1/customization/jobs"
    assert err.value.detail == [{k: v for k, v in item.items() if k != "input"} for item in detail]
    assert not err.value.ambiguous


def test_404_and_409_have_their_own_types(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    mock.get(f"{NEMO}/v1/evaluation/jobs/eval-9").respond(404, json={"detail": "Evaluation job not found"})
    mock.post(f"{NEMO}/v1/customization/configs").respond(409, json={"detail": "Config already exists"})
    http = client(sleeps)
    with pytest.raises(NotFound) as missing:
        http.get("/v1/evaluation/jobs/eval-9")
    assert missing.value.message.endswith("answered HTTP 404: Evaluation job not found")
    assert http.get_or_none("/v1/evaluation/jobs/eval-9") is None
    with pytest.raises(Conflict):
        http.post("/v1/customization/configs", {}, idempotent=True)
    assert isinstance(missing.value, RemoteError)


def test_openai_style_and_plain_text_errors(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    mock.post(f"{NIM}/v1/chat/completions").respond(
        400, json={"object": "error", "message": "model not found: x", "type": "NotFoundError"}
    )
    mock.get(f"{NIM}/v1/models").respond(401, text="<html>Unauthorized</html>")
    http = client(sleeps, base_url=NIM)
    with pytest.raises(NmpError) as bad:
        http.post("/v1/chat/completions", {}, idempotent=True)
    assert bad.value.message.endswith("answered HTTP 400: model not found: x")
    with pytest.raises(NmpError) as denied:
        http.get("/v1/models")
    assert denied.value.message.endswith("answered HTTP 401: <html>Unauthorized</html>")
    assert denied.value.hint == f"Set the bearer token in env NMP_TOKEN, or check the ingress in front of {NIM}."


def test_secrets_echoed_by_the_server_are_scrubbed(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    mock.post(f"{NEMO}/v1/evaluation/jobs").respond(400, json={"detail": "bad api_key 'sk-planted-123' for judge"})
    with pytest.raises(NmpError) as err:
        client(sleeps).post("/v1/evaluation/jobs", {}, idempotent=False, secrets=("sk-planted-123",))
    assert "sk-planted-123" not in str(err.value)
    assert err.value.detail == "bad api_key '***' for judge"


def test_headers_token_and_user_agent(
    mock: respx.MockRouter, sleeps: SleepRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NMP_TOKEN", "tok-planted-456")
    route = mock.get(f"{NEMO}/v1/x").respond(500, json={"detail": "boom"})
    http = client(sleeps, attempts=1)
    with pytest.raises(NmpError) as err:
        http.get("/v1/x")
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer tok-planted-456"
    assert request.headers["User-Agent"] == "flywheel/0.1.0"
    assert "tok-planted-456" not in str(err.value) + repr(err.value) + repr(http) + str(err.value.detail)


def test_no_token_no_header(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    route = mock.get(f"{NEMO}/v1/x").respond(200, json={})
    client(sleeps).get("/v1/x")
    assert "Authorization" not in route.calls.last.request.headers


def test_path_prefix_of_the_base_url_is_kept(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    route = mock.get("http://nim.test/nim/v1/models").respond(200, json={"data": []})
    client(sleeps, base_url="http://nim.test/nim/").get("/v1/models")
    assert str(route.calls.last.request.url) == "http://nim.test/nim/v1/models"


def test_pagination_follows_three_pages(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    def page(n: int) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "object": "list",
                "data": [{"id": f"j{n}a"}, {"id": f"j{n}b"}],
                "pagination": {"page": n, "page_size": 2, "current_page_size": 2, "total_pages": 3, "total_results": 6},
            },
        )

    route = mock.get(f"{NEMO}/v1/customization/jobs").mock(side_effect=[page(1), page(2), page(3)])
    items = list(client(sleeps).paginate("/v1/customization/jobs", params={"sort": "-created_at"}, page_size=2))
    assert [i["id"] for i in items] == ["j1a", "j1b", "j2a", "j2b", "j3a", "j3b"]
    assert route.call_count == 3
    assert [dict(c.request.url.params) for c in route.calls] == [
        {"sort": "-created_at", "page": str(n), "page_size": "2"} for n in (1, 2, 3)
    ]


def test_pagination_stops_on_an_empty_page_or_without_an_envelope(
    mock: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    paged = mock.get(f"{NEMO}/v1/a").mock(
        side_effect=[
            httpx.Response(200, json={"data": [{"id": 1}], "pagination": {"page": 1}}),
            httpx.Response(200, json={"data": [], "pagination": {"page": 2}}),
        ]
    )
    bare = mock.get(f"{NEMO}/v1/b").respond(200, json={"data": [{"id": 1}, {"id": 2}]})
    http = client(sleeps)
    assert list(http.paginate("/v1/a")) == [{"id": 1}]
    assert list(http.paginate("/v1/b")) == [{"id": 1}, {"id": 2}]
    assert paged.call_count == 2 and bare.call_count == 1


def test_delete_of_a_missing_resource_is_not_an_error(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    mock.delete(f"{NEMO}/v1/datasets/ns/gone").respond(404, json={"detail": "not found"})
    mock.delete(f"{NEMO}/v1/datasets/ns/here").respond(200, json={"message": "deleted"})
    http = client(sleeps)
    assert http.delete("/v1/datasets/ns/gone") is False
    assert http.delete("/v1/datasets/ns/here") is True


def test_probe_never_raises(mock: respx.MockRouter, sleeps: SleepRecorder) -> None:
    mock.get(f"{NEMO}/_sandbox/info").mock(side_effect=httpx.ConnectError("refused"))
    mock.get(f"{NEMO}/_sandbox/other").respond(200, text="not json")
    http = client(sleeps)
    assert http.probe("/_sandbox/info") is None
    assert http.probe("/_sandbox/other") is None
    assert sleeps.calls == []
