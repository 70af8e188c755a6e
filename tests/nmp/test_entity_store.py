"""Entity Store client: idempotent namespace/project creates, dataset upsert, listing, models."""

from __future__ import annotations

import pytest
import respx

from flywheel_cli.nmp.entity_store import DatasetEntity, EntityStoreClient
from flywheel_cli.nmp.errors import NmpError
from flywheel_cli.nmp.http import ServiceClient

from .conftest import NEMO, SleepRecorder, body, fixture

NAME = "flywheel-train-tool_router-1757664843"
URI = f"hf://datasets/flywheel/{NAME}"


@pytest.fixture
def store(sleeps: SleepRecorder) -> EntityStoreClient:
    return EntityStoreClient(ServiceClient("Entity Store", NEMO, setting="nmp.nemo_url", sleep=sleeps))


@pytest.mark.parametrize("status", [200, 201, 409, 422])
def test_namespace_and_project_creates_accept_existing(
    mock: respx.MockRouter, store: EntityStoreClient, status: int
) -> None:
    ns = mock.post(f"{NEMO}/v1/namespaces").respond(status, json={"detail": "Namespace already exists"})
    project = mock.post(f"{NEMO}/v1/projects").respond(status, json={"detail": "exists"})
    store.ensure_namespace("flywheel")
    store.ensure_project("flywheel", "flywheel")
    assert body(ns.calls.last.request) == {"id": "flywheel"}
    assert body(project.calls.last.request) == {"name": "flywheel", "namespace": "flywheel"}


def test_namespace_create_other_errors_raise(mock: respx.MockRouter, store: EntityStoreClient) -> None:
    mock.post(f"{NEMO}/v1/namespaces").respond(400, json={"detail": "invalid namespace id"})
    with pytest.raises(NmpError, match="invalid namespace id"):
        store.ensure_namespace("Bad NS")


def test_upsert_creates_when_absent(mock: respx.MockRouter, store: EntityStoreClient) -> None:
    mock.get(f"{NEMO}/v1/datasets/flywheel/{NAME}").respond(404, json={"detail": "Dataset not found"})
    create = mock.post(f"{NEMO}/v1/datasets").respond(200, json=fixture("dataset"))
    entity = store.upsert_dataset("flywheel", NAME, files_url=URI, project="flywheel")
    assert body(create.calls.last.request) == {
        "name": NAME,
        "namespace": "flywheel",
        "description": "",
        "files_url": URI,
        "project": "flywheel",
    }
    assert entity == DatasetEntity(NAME, "flywheel", URI, "flywheel")


def test_upsert_patches_when_pointing_elsewhere(mock: respx.MockRouter, store: EntityStoreClient) -> None:
    stale = fixture("dataset") | {"files_url": "hf://datasets/flywheel/old"}
    mock.get(f"{NEMO}/v1/datasets/flywheel/{NAME}").respond(200, json=stale)
    patch = mock.patch(f"{NEMO}/v1/datasets/flywheel/{NAME}").respond(200, json=fixture("dataset"))
    assert store.upsert_dataset("flywheel", NAME, files_url=URI, project="flywheel").files_url == URI
    assert body(patch.calls.last.request) == {"files_url": URI, "project": "flywheel"}


def test_upsert_is_a_no_op_when_registered_alike(mock: respx.MockRouter, store: EntityStoreClient) -> None:
    get = mock.get(f"{NEMO}/v1/datasets/flywheel/{NAME}").respond(200, json=fixture("dataset"))
    assert store.upsert_dataset("flywheel", NAME, files_url=URI, project="flywheel").name == NAME
    assert get.call_count == 1 and len(mock.calls) == 1


def test_upsert_patches_after_a_create_race(mock: respx.MockRouter, store: EntityStoreClient) -> None:
    mock.get(f"{NEMO}/v1/datasets/flywheel/{NAME}").respond(404, json={"detail": "Dataset not found"})
    mock.post(f"{NEMO}/v1/datasets").respond(409, json={"detail": "Dataset already exists"})
    patch = mock.patch(f"{NEMO}/v1/datasets/flywheel/{NAME}").respond(200, json=fixture("dataset"))
    store.upsert_dataset("flywheel", NAME, files_url=URI, project="flywheel")
    assert patch.call_count == 1


def test_list_and_delete_datasets_and_models(mock: respx.MockRouter, store: EntityStoreClient) -> None:
    listing = mock.get(f"{NEMO}/v1/datasets").respond(200, json=fixture("datasets_page"))
    models = mock.get(f"{NEMO}/v1/models").respond(200, json=fixture("models_page"))
    delete = mock.delete(f"{NEMO}/v1/datasets/flywheel/{NAME}").respond(200, json={"message": "deleted"})
    model_id = "flywheel/llama-3.2-1b-tool_router@cust-FarcM8gwhL1XFDXQ57qGLL"
    delete_model = mock.delete(f"{NEMO}/v1/models/{model_id}").respond(404, json={"detail": "Model not found"})
    assert [d.name for d in store.list_datasets("flywheel")] == [NAME, "someone-elses-data"]
    assert dict(listing.calls.last.request.url.params) == {
        "filter[namespace]": "flywheel",
        "page": "1",
        "page_size": "100",
    }
    assert [m["name"] for m in store.list_models("flywheel")] == [
        "llama-3.2-1b-tool_router@cust-FarcM8gwhL1XFDXQ57qGLL"
    ]
    assert models.calls.last.request.url.params["filter[namespace]"] == "flywheel"
    assert store.delete_dataset("flywheel", NAME) is True and delete.call_count == 1
    assert store.delete_model(model_id) is False
    assert delete_model.calls.last.request.url.path == f"/v1/models/{model_id}"
