"""Deployment Management and NIM Proxy clients."""

from __future__ import annotations

import httpx
import pytest
import respx

from flywheel_cli.config import NimConfig
from flywheel_cli.nmp.deployments import DeploymentsClient, deployment_body
from flywheel_cli.nmp.errors import NmpError
from flywheel_cli.nmp.http import ServiceClient
from flywheel_cli.nmp.proxy import NimProxyClient
from flywheel_cli.platforms.base import DeploymentState

from .conftest import NEMO, NIM, SleepRecorder, body, fixture

DEPLOYMENTS = f"{NEMO}/v1/deployment/model-deployments"
NAME = "meta-llama-3.2-1b-instruct"


@pytest.fixture
def dms(sleeps: SleepRecorder) -> DeploymentsClient:
    return DeploymentsClient(ServiceClient("Deployment Management", NEMO, setting="nmp.nemo_url", sleep=sleeps))


@pytest.fixture
def proxy(sleeps: SleepRecorder) -> NimProxyClient:
    return NimProxyClient(ServiceClient("NIM Proxy", NIM, setting="nmp.nim_url", sleep=sleeps))


def test_deployment_body() -> None:
    nim = NimConfig(model_name="meta/llama-3.2-1b-instruct")
    assert deployment_body(nim, "flywheel") == {
        "name": NAME,
        "namespace": "flywheel",
        "config": {
            "model": "meta/llama-3.2-1b-instruct",
            "nim_deployment": {
                "image_name": "nvcr.io/nim/meta/llama-3.2-1b-instruct",
                "image_tag": "1.8.3",
                "pvc_size": "25Gi",
                "gpu": 1,
                "additional_envs": {"NIM_GUIDED_DECODING_BACKEND": "outlines"},
            },
        },
    }
    plain = NimConfig(model_name="a/b", image_name="registry.local/b", tag="2.0", gpus=2, guided_decoding_backend=None)
    assert deployment_body(plain, "ns")["config"]["nim_deployment"] == {
        "image_name": "registry.local/b",
        "image_tag": "2.0",
        "pvc_size": "25Gi",
        "gpu": 2,
    }


def test_create_and_get(mock: respx.MockRouter, dms: DeploymentsClient) -> None:
    post = mock.post(DEPLOYMENTS).respond(200, json=fixture("model_deployment_pending"))
    mock.get(f"{DEPLOYMENTS}/flywheel/{NAME}").respond(200, json=fixture("model_deployment_ready"))
    created = dms.create({"name": NAME, "namespace": "flywheel", "config": {}})
    assert body(post.calls.last.request) == {"name": NAME, "namespace": "flywheel", "config": {}}
    assert (created.name, created.model, created.status.state) == (
        NAME,
        "meta/llama-3.2-1b-instruct",
        DeploymentState.PENDING,
    )
    assert dms.get("flywheel", NAME).status.state is DeploymentState.READY


def test_500_already_exists_means_it_exists(mock: respx.MockRouter, dms: DeploymentsClient) -> None:
    post = mock.post(DEPLOYMENTS).respond(500, json={"detail": "Error: model deployment already exists"})
    get = mock.get(f"{DEPLOYMENTS}/flywheel/{NAME}").respond(200, json=fixture("model_deployment_ready"))
    assert dms.create({"name": NAME, "namespace": "flywheel"}).status.state is DeploymentState.READY
    assert (post.call_count, get.call_count) == (1, 1)


def test_409_reads_what_is_there(mock: respx.MockRouter, dms: DeploymentsClient) -> None:
    mock.post(DEPLOYMENTS).respond(409, json={"detail": "exists"})
    mock.get(f"{DEPLOYMENTS}/flywheel/{NAME}").respond(200, json=fixture("model_deployment_pending"))
    assert dms.create({"name": NAME, "namespace": "flywheel"}).name == NAME


def test_timeout_then_found_is_not_reposted(mock: respx.MockRouter, dms: DeploymentsClient) -> None:
    post = mock.post(DEPLOYMENTS).mock(side_effect=httpx.ReadTimeout("slow"))
    mock.get(f"{DEPLOYMENTS}/flywheel/{NAME}").respond(200, json=fixture("model_deployment_pending"))
    assert dms.create({"name": NAME, "namespace": "flywheel"}).status.state is DeploymentState.PENDING
    assert post.call_count == 1


def test_other_500_is_an_error_once_nothing_exists(mock: respx.MockRouter, dms: DeploymentsClient) -> None:
    post = mock.post(DEPLOYMENTS).respond(500, json={"detail": "helm install failed"})
    mock.get(f"{DEPLOYMENTS}/flywheel/{NAME}").respond(404, json={"detail": "not found"})
    with pytest.raises(NmpError, match="helm install failed"):
        dms.create({"name": NAME, "namespace": "flywheel"})
    assert post.call_count == 4  # each failure was ambiguous and nothing existed: looked up, then tried again


def test_delete_and_list(mock: respx.MockRouter, dms: DeploymentsClient) -> None:
    mock.delete(f"{DEPLOYMENTS}/flywheel/{NAME}").respond(404, json={"detail": "not found"})
    listing = mock.get(DEPLOYMENTS).respond(200, json=fixture("model_deployments_page"))
    assert dms.delete("flywheel", NAME) is False
    assert [d.name for d in dms.list_deployments("flywheel")] == [NAME, "team-search-embedder"]
    assert listing.calls.last.request.url.params["filter[namespace]"] == "flywheel"


def test_models_under_a_path_prefix(mock: respx.MockRouter, proxy: NimProxyClient) -> None:
    route = mock.get("http://nim.test/nim/v1/models").respond(200, json=fixture("nim_models"))
    assert proxy.model_ids() == [
        "meta/llama-3.2-1b-instruct",
        "flywheel/llama-3.2-1b-tool_router@cust-FarcM8gwhL1XFDXQ57qGLL",
    ]
    assert route.call_count == 1


def test_chat(mock: respx.MockRouter, proxy: NimProxyClient) -> None:
    route = mock.post(f"{NIM}/v1/chat/completions").respond(200, json=fixture("chat_completion"))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    messages = [{"role": "user", "content": "weather in Lyon?"}]
    answer = proxy.chat("meta/llama-3.2-1b-instruct", messages, tools)
    assert body(route.calls.last.request) == {
        "model": "meta/llama-3.2-1b-instruct",
        "messages": messages,
        "tools": tools,
    }
    assert answer["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    proxy.chat("m", messages)
    assert "tools" not in body(route.calls.last.request)


def test_chat_without_choices_is_an_error(mock: respx.MockRouter, proxy: NimProxyClient) -> None:
    mock.post(f"{NIM}/v1/chat/completions").respond(200, json={"object": "error"})
    with pytest.raises(NmpError, match="answered without `choices`"):
        proxy.chat("m", [])


def test_embed_orders_by_index(mock: respx.MockRouter, proxy: NimProxyClient) -> None:
    route = mock.post(f"{NIM}/v1/embeddings").respond(200, json=fixture("embeddings"))
    vectors = proxy.embed("nvidia/llama-3.2-nv-embedqa-1b-v2", ["a", "b"])
    assert body(route.calls.last.request) == {
        "model": "nvidia/llama-3.2-nv-embedqa-1b-v2",
        "input": ["a", "b"],
        "input_type": "query",
    }
    assert vectors == [[0.1, 0.2, 0.3], [0.5, -0.25, 0.125]]
    with pytest.raises(NmpError, match="answered 2 embeddings for 3 inputs"):
        proxy.embed("m", ["a", "b", "c"])
