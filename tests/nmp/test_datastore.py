"""Data Store client: namespace (form-encoded), HF repo create/info/delete, preupload + NDJSON commit."""

from __future__ import annotations

import base64
import json

import pytest
import respx

from flywheel_cli.nmp.datastore import DataStoreClient, RepoFile, git_blob_id
from flywheel_cli.nmp.errors import NmpError
from flywheel_cli.nmp.http import ServiceClient

from .conftest import DATASTORE, SleepRecorder, body, fixture

REPO = f"{DATASTORE}/v1/hf/api/datasets/flywheel/flywheel-train-w-1"
FILES = {"training/train_data.jsonl": b'{"messages": []}\n', "validation/val_data.jsonl": b'{"messages": [1]}\n'}


@pytest.fixture
def store(sleeps: SleepRecorder) -> DataStoreClient:
    return DataStoreClient(ServiceClient("Data Store", DATASTORE, setting="nmp.datastore_url", sleep=sleeps))


def test_namespace_is_form_encoded_and_409_is_fine(mock: respx.MockRouter, store: DataStoreClient) -> None:
    route = mock.post(f"{DATASTORE}/v1/datastore/namespaces").respond(409, json={"detail": "exists"})
    store.ensure_namespace("flywheel")
    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.content == b"namespace=flywheel"


def test_repo_create_body_and_already_created(mock: respx.MockRouter, store: DataStoreClient) -> None:
    route = mock.post(f"{DATASTORE}/v1/hf/api/repos/create").mock(
        side_effect=[
            respx.MockResponse(200, json={"url": "x"}),
            respx.MockResponse(409, json={"detail": "exists"}),
            respx.MockResponse(400, json={"detail": "Repository flywheel/x already created"}),
        ]
    )
    for _ in range(3):
        store.create_repo("flywheel", "flywheel-train-w-1")
    assert [body(c.request) for c in route.calls] == [
        {"name": "flywheel-train-w-1", "organization": "flywheel", "type": "dataset", "private": False}
    ] * 3


def test_repo_create_other_errors_raise(mock: respx.MockRouter, store: DataStoreClient) -> None:
    mock.post(f"{DATASTORE}/v1/hf/api/repos/create").respond(400, json={"detail": "invalid repo name"})
    with pytest.raises(NmpError, match="invalid repo name"):
        store.create_repo("flywheel", "bad name")


def test_repo_files_parses_siblings_and_absence(mock: respx.MockRouter, store: DataStoreClient) -> None:
    info = fixture("datastore/repo_info")
    info["siblings"][1].update(blobId="abc", size=17)
    mock.get(REPO).respond(200, json=info)
    mock.get(f"{DATASTORE}/v1/hf/api/datasets/flywheel/missing").respond(404, json={"detail": "Repo not found"})
    assert store.repo_files("flywheel", "flywheel-train-w-1") == {
        ".gitattributes": RepoFile(".gitattributes"),
        "training/train_data.jsonl": RepoFile("training/train_data.jsonl", "abc", 17),
        "validation/val_data.jsonl": RepoFile("validation/val_data.jsonl"),
    }
    assert store.repo_files("flywheel", "missing") is None


def test_upload_is_preupload_then_one_ndjson_commit(mock: respx.MockRouter, store: DataStoreClient) -> None:
    pre = mock.post(f"{REPO}/preupload/main").respond(200, json=fixture("datastore/preupload"))
    commit = mock.post(f"{REPO}/commit/main").respond(200, json=fixture("datastore/commit"))
    store.upload("flywheel", "flywheel-train-w-1", FILES, summary="flywheel train dataset flywheel-train-w-1")
    assert body(pre.calls.last.request) == {
        "files": [
            {
                "path": path,
                "size": len(content),
                "sample": base64.b64encode(content).decode(),
            }
            for path, content in sorted(FILES.items())
        ]
    }
    request = commit.calls.last.request
    assert request.headers["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in request.content.decode().splitlines()]
    assert lines == [
        {"key": "header", "value": {"summary": "flywheel train dataset flywheel-train-w-1", "description": ""}},
        *[
            {"key": "file", "value": {"content": base64.b64encode(c).decode(), "path": p, "encoding": "base64"}}
            for p, c in sorted(FILES.items())
        ],
    ]


def test_preupload_sample_is_the_first_512_bytes(mock: respx.MockRouter, store: DataStoreClient) -> None:
    big = b"x" * 2000
    pre = mock.post(f"{REPO}/preupload/main").respond(200, json={"files": []})
    mock.post(f"{REPO}/commit/main").respond(200, json={})
    store.upload("flywheel", "flywheel-train-w-1", {"eval_data.jsonl": big}, summary="s")
    sent = body(pre.calls.last.request)["files"][0]
    assert (sent["size"], base64.b64decode(sent["sample"])) == (2000, b"x" * 512)


def test_lfs_is_refused_and_ignored_files_are_skipped(mock: respx.MockRouter, store: DataStoreClient) -> None:
    mock.post(f"{REPO}/preupload/main").mock(
        side_effect=[
            respx.MockResponse(200, json={"files": [{"path": "eval_data.jsonl", "uploadMode": "lfs"}]}),
            respx.MockResponse(200, json={"files": [{"path": "eval_data.jsonl", "shouldIgnore": True}]}),
        ]
    )
    commit = mock.post(f"{REPO}/commit/main").respond(200, json={})
    with pytest.raises(NmpError) as err:
        store.upload("flywheel", "flywheel-train-w-1", {"eval_data.jsonl": b"{}\n"}, summary="s")
    assert err.value.message == (
        "Data Store wants eval_data.jsonl (3 bytes) uploaded through Git LFS, which flywheel does not implement"
    )
    store.upload("flywheel", "flywheel-train-w-1", {"eval_data.jsonl": b"{}\n"}, summary="s")
    assert commit.call_count == 0


def test_unchanged_compares_blob_ids_or_downloads(mock: respx.MockRouter, store: DataStoreClient) -> None:
    train, val = FILES["training/train_data.jsonl"], FILES["validation/val_data.jsonl"]
    resolve = mock.get(f"{DATASTORE}/v1/hf/datasets/flywheel/flywheel-train-w-1/resolve/main/validation/val_data.jsonl")
    resolve.respond(200, content=val)
    same = {
        "training/train_data.jsonl": RepoFile("training/train_data.jsonl", git_blob_id(train)),
        "validation/val_data.jsonl": RepoFile("validation/val_data.jsonl"),
    }
    assert store.unchanged("flywheel", "flywheel-train-w-1", FILES, same) is True
    assert resolve.call_count == 1
    other_blob = dict(same, **{"training/train_data.jsonl": RepoFile("training/train_data.jsonl", "0" * 40)})
    assert store.unchanged("flywheel", "flywheel-train-w-1", FILES, other_blob) is False
    wrong_size = dict(same, **{"validation/val_data.jsonl": RepoFile("validation/val_data.jsonl", size=1)})
    assert store.unchanged("flywheel", "flywheel-train-w-1", FILES, wrong_size) is False
    assert store.unchanged("flywheel", "flywheel-train-w-1", FILES, {}) is False
    assert resolve.call_count == 1


def test_git_blob_id_matches_git() -> None:
    # `printf 'hello\n' | git hash-object --stdin`
    assert git_blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_delete_repo_sends_a_json_body(mock: respx.MockRouter, store: DataStoreClient) -> None:
    route = mock.delete(f"{DATASTORE}/v1/hf/api/repos/delete").mock(
        side_effect=[respx.MockResponse(200, json={}), respx.MockResponse(404, json={"detail": "Repo not found"})]
    )
    assert store.delete_repo("flywheel", "flywheel-train-w-1") is True
    assert store.delete_repo("flywheel", "flywheel-train-w-1") is False
    assert body(route.calls.last.request) == {
        "name": "flywheel-train-w-1",
        "organization": "flywheel",
        "type": "dataset",
    }
