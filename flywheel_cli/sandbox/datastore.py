"""Data Store: its namespace API plus the Hugging Face Hub-compatible subset used for dataset repos.

Uploaded JSONL files are kept byte for byte, and every line that holds a logged exchange is indexed so that the
simulated models know the reference answers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import orjson

from flywheel_cli.sandbox.api import ApiError, Request, Response, Route, lookup, not_found, paginate
from flywheel_cli.sandbox.clock import iso_z
from flywheel_cli.sandbox.store import Repo, State
from flywheel_cli.sandbox.validation import Checker

HF_DATASETS = "hf://datasets/"


def parse_files_url(url: str) -> tuple[str, str, str] | None:
    """`hf://datasets/ns/name[/path]` → (ns, name, path or "")."""
    if not url.startswith(HF_DATASETS):
        return None
    parts = url[len(HF_DATASETS) :].split("/", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1], (parts[2] if len(parts) == 3 else "").strip("/")


def repo_files(state: State, namespace: str, name: str) -> dict[str, bytes] | None:
    with state.lock:
        repo = state.repos.get((namespace, name))
        return dict(repo.files) if repo is not None else None


# --- Data Store namespaces ----------------------------------------------------------------------------------------


def _ns_doc(name: str, created: float, state: State) -> dict[str, Any]:
    return {"namespace": name, "created_at": iso_z(created), "updated_at": iso_z(state.clock.now())}


def create_namespace(state: State, req: Request) -> Response:
    form = req.form()
    namespace = form.get("namespace", "").strip()
    if not namespace:
        c = Checker()
        c.fail("missing", ("body", "namespace"), "Field required", None)
        c.done()
    with state.lock:
        if namespace in state.ds_namespaces:
            raise ApiError(409, f"namespace '{namespace}' already exists")
        doc = _ns_doc(namespace, state.clock.now(), state)
        state.ds_namespaces[namespace] = doc
    return Response(201, doc, created=("datastore_namespace", namespace))


def list_namespaces(state: State, req: Request) -> Response:
    with state.lock:
        items = list(state.ds_namespaces.values())
    return Response(200, paginate(items, req, default_sort="namespace"))


def get_namespace(state: State, req: Request) -> Response:
    with state.lock:
        return Response(200, lookup(state.ds_namespaces, req.params["ns"], f"Namespace '{req.params['ns']}'"))


def delete_namespace(state: State, req: Request) -> Response:
    namespace = req.params["ns"]
    with state.lock:
        if namespace not in state.ds_namespaces:
            raise not_found(f"Namespace '{namespace}'")
        if any(ns == namespace for ns, _ in state.repos):
            raise ApiError(409, f"namespace '{namespace}' still holds repositories")
        del state.ds_namespaces[namespace]
    return Response(200, {"message": f"namespace '{namespace}' deleted"})


# --- HF API -------------------------------------------------------------------------------------------------------


def _repo_body(req: Request) -> tuple[str, str]:
    body = req.json_object()
    c = Checker()
    name = c.string(body, "name", ("body", "name"), required=True)
    organization = c.string(body, "organization", ("body", "organization"))
    repo_type = c.enum(body, "type", ("body", "type"), ("dataset", "model", "space"))
    c.done()
    assert name is not None
    if organization is None and "/" in name:
        organization, name = name.split("/", 1)
    if not organization:
        raise ApiError(400, "organization (the Data Store namespace) is required")
    if repo_type != "dataset":
        raise ApiError(400, "the sandbox Data Store holds dataset repositories only (type='dataset')")
    return organization, name


def create_repo(state: State, req: Request) -> Response:
    namespace, name = _repo_body(req)
    repo_id = f"{namespace}/{name}"
    with state.lock:
        if namespace not in state.ds_namespaces:
            raise not_found(f"Namespace '{namespace}'")
        if (namespace, name) in state.repos:
            raise ApiError(409, f"You already created this dataset repo: {repo_id}")
        state.repos[(namespace, name)] = Repo(namespace, name, state.clock.now())
    url = f"{state.base_url}/v1/hf/datasets/{repo_id}"
    return Response(200, {"url": url, "name": repo_id, "id": repo_id}, created=("repo", repo_id))


def delete_repo(state: State, req: Request) -> Response:
    namespace, name = _repo_body(req)
    with state.lock:
        if state.repos.pop((namespace, name), None) is None:
            raise not_found(f"Repository '{namespace}/{name}'")
    return Response(200, {})


def _repo(state: State, req: Request) -> Repo:
    key = (req.params["ns"], req.params["name"])
    return lookup(state.repos, key, f"Repository '{key[0]}/{key[1]}'")


def repo_info(state: State, req: Request) -> Response:
    with state.lock:
        repo = _repo(state, req)
        files = sorted(repo.files)
        sha = hashlib.sha1(b"".join(repo.files[p] for p in files) + str(repo.commits).encode()).hexdigest()
        doc = {
            "_id": sha[:24],
            "id": f"{repo.namespace}/{repo.name}",
            "author": repo.namespace,
            "sha": sha,
            "private": False,
            "lastModified": iso_z(state.clock.now()),
            "createdAt": iso_z(repo.created_at),
            "siblings": [{"rfilename": p, "size": len(repo.files[p])} for p in files],
        }
    return Response(200, doc)


def preupload(state: State, req: Request) -> Response:
    body = req.json_object()
    c = Checker()
    files = c.listing(body, "files", ("body", "files"), required=True)
    c.done()
    with state.lock:
        _repo(state, req)
    answer = [
        {"path": f.get("path"), "uploadMode": "regular", "shouldIgnore": False}
        for f in files or []
        if isinstance(f, dict)
    ]
    return Response(200, {"files": answer})


def _commit_ops(body: bytes) -> tuple[dict[str, Any] | None, list[tuple[str, str, Any]]]:
    """NDJSON commit (`{"key": "header"|"file"|"deletedFile"|"lfsFile", "value": ...}` lines) → header, ops."""
    header: dict[str, Any] | None = None
    ops: list[tuple[str, str, Any]] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ApiError(400, f"commit line {number} is not valid JSON") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), dict):
            raise ApiError(400, f"commit line {number} must be an object with 'key' and 'value'")
        key, value = entry.get("key"), entry["value"]
        if key == "header":
            header = value
        elif key in ("file", "deletedFile", "deletedFolder", "lfsFile"):
            path = value.get("path")
            if not isinstance(path, str) or not path:
                raise ApiError(400, f"commit line {number}: 'path' is required")
            ops.append((key, path.lstrip("/"), value))
        else:
            raise ApiError(400, f"commit line {number}: unknown key {key!r}")
    return header, ops


def commit(state: State, req: Request) -> Response:
    header, ops = _commit_ops(req.body)
    if header is None:
        raise ApiError(400, "the commit has no header line")
    writes: dict[str, bytes] = {}
    removes: list[str] = []
    for key, path, value in ops:
        if key == "lfsFile":
            raise ApiError(
                400, f"{path}: LFS uploads are not accepted here; preupload answers 'regular' for every file"
            )
        if key == "file":
            if value.get("encoding", "base64") != "base64" or not isinstance(value.get("content"), str):
                raise ApiError(400, f"{path}: file content must be a base64 string")
            try:
                writes[path] = base64.b64decode(value["content"], validate=True)
            except binascii.Error:
                raise ApiError(400, f"{path}: content is not valid base64") from None
        else:
            removes.append(path)
    with state.lock:
        repo = _repo(state, req)
        for path in removes:
            for existing in [p for p in repo.files if p == path or p.startswith(path.rstrip("/") + "/")]:
                del repo.files[existing]
        repo.files.update(writes)
        repo.commits += 1
        oid = hashlib.sha1(
            f"{repo.namespace}/{repo.name}#{repo.commits}".encode() + b"".join(writes.values())
        ).hexdigest()
    for path, content in writes.items():
        if path.endswith(".jsonl"):
            state.index.add_jsonl(content)
    return Response(200, {"commitOid": oid, "commitUrl": "", "commitMessage": header.get("summary", "")})


def resolve(state: State, req: Request) -> Response:
    with state.lock:
        repo = _repo(state, req)
        content = repo.files.get(req.params["path"])
    if content is None:
        raise not_found(f"File '{req.params['path']}'")
    return Response(
        200, content, content_type="application/octet-stream", headers={"ETag": hashlib.sha1(content).hexdigest()}
    )


ROUTES: list[Route] = [
    ("POST", "/v1/datastore/namespaces", create_namespace),
    ("GET", "/v1/datastore/namespaces", list_namespaces),
    ("GET", "/v1/datastore/namespaces/{ns}", get_namespace),
    ("DELETE", "/v1/datastore/namespaces/{ns}", delete_namespace),
    ("POST", "/v1/hf/api/repos/create", create_repo),
    ("DELETE", "/v1/hf/api/repos/delete", delete_repo),
    ("GET", "/v1/hf/api/datasets/{ns}/{name}", repo_info),
    ("GET", "/v1/hf/api/datasets/{ns}/{name}/revision/{rev}", repo_info),
    ("POST", "/v1/hf/api/datasets/{ns}/{name}/preupload/{rev}", preupload),
    ("POST", "/v1/hf/api/datasets/{ns}/{name}/commit/{rev}", commit),
    ("GET", "/v1/hf/datasets/{ns}/{name}/resolve/{rev}/{path:path}", resolve),
]
