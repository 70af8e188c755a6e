"""Entity Store: namespaces, projects, datasets and models (create, list, get, PATCH, delete)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flywheel_cli.sandbox import customizer
from flywheel_cli.sandbox.api import Handler, Request, Response, Route, conflict, lookup, not_found, paginate
from flywheel_cli.sandbox.store import Key, State, new_id
from flywheel_cli.sandbox.validation import Checker, check_common

_IMMUTABLE = ("id", "name", "namespace", "created_at", "updated_at")


# --- namespaces -------------------------------------------------------------------------------------------------


def create_namespace(state: State, req: Request) -> Response:
    body = req.json_object()
    c = Checker()
    ns_id = c.string(body, "id", ("body", "id"), required=True)
    c.string(body, "description", ("body", "description"))
    c.mapping(body, "custom_fields", ("body", "custom_fields"))
    c.done()
    assert ns_id is not None
    with state.lock:
        if ns_id in state.namespaces:
            raise conflict(f"Namespace '{ns_id}'")
        doc = state.stamp(
            {
                "id": ns_id,
                "description": body.get("description"),
                "project": body.get("project"),
                "custom_fields": body.get("custom_fields") or {},
                "ownership": body.get("ownership"),
            }
        )
        state.namespaces[ns_id] = doc
    return Response(200, doc, created=("namespace", ns_id))


def list_namespaces(state: State, req: Request) -> Response:
    with state.lock:
        items = list(state.namespaces.values())
    return Response(200, paginate(items, req))


def _namespace(state: State, req: Request) -> dict[str, Any]:
    return lookup(state.namespaces, req.params["ns"], f"Namespace '{req.params['ns']}'")


def get_namespace(state: State, req: Request) -> Response:
    with state.lock:
        return Response(200, _namespace(state, req))


def patch_namespace(state: State, req: Request) -> Response:
    body = req.json_object()
    with state.lock:
        doc = _namespace(state, req)
        doc.update({k: v for k, v in body.items() if k not in _IMMUTABLE})
        return Response(200, state.stamp(doc))


def delete_namespace(state: State, req: Request) -> Response:
    with state.lock:
        doc = _namespace(state, req)
        del state.namespaces[doc["id"]]
    return Response(200, state.deleted(doc["id"]))


# --- namespaced entities ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    label: str  # for messages: "Dataset"
    kind: str  # for the request log: "dataset"
    attr: str  # State attribute holding the docs
    id_prefix: str
    required: tuple[str, ...] = ()


PROJECT = Kind("Project", "project", "projects", "project")
DATASET = Kind("Dataset", "dataset", "datasets", "dataset", ("files_url",))
MODEL = Kind("Model", "model", "models", "model")


def _docs(state: State, kind: Kind) -> dict[Key, dict[str, Any]]:
    docs: dict[Key, dict[str, Any]] = getattr(state, kind.attr)
    return docs


def model_view(state: State, doc: dict[str, Any]) -> dict[str, Any]:
    """A model entity as read: a customized model's artifact status follows its customization job."""
    job_id = state.model_jobs.get((doc["namespace"], doc["name"]))
    if job_id is None:
        return doc
    job = state.cust_jobs.get(job_id)
    view = dict(doc)
    view["artifact"] = dict(doc.get("artifact") or {}, status=customizer.artifact_status(state, job))
    return view


def _view(state: State, kind: Kind, doc: dict[str, Any]) -> dict[str, Any]:
    return model_view(state, doc) if kind is MODEL else doc


def create_entity(kind: Kind) -> Handler:
    def handler(state: State, req: Request) -> Response:
        body = req.json_object()
        c = Checker()
        check_common(c, body)
        c.string(body, "name", ("body", "name"), required=True)
        for field in kind.required:
            c.string(body, field, ("body", field), required=True)
        if kind is DATASET:
            c.integer(body, "limit", ("body", "limit"), minimum=0)
        c.done()
        namespace = body.get("namespace") or "default"
        key = (namespace, body["name"])
        with state.lock:
            if namespace not in state.namespaces:
                raise not_found(f"Namespace '{namespace}'")
            docs = _docs(state, kind)
            if key in docs:
                raise conflict(f"{kind.label} '{namespace}/{body['name']}'")
            doc = dict(body, id=new_id(kind.id_prefix), namespace=namespace)
            doc.setdefault("custom_fields", {})
            if kind is DATASET:
                for field in ("format", "split", "limit", "hf_endpoint", "description", "project"):
                    doc.setdefault(field, None)
            docs[key] = state.stamp(doc)
            return Response(200, _view(state, kind, doc), created=(kind.kind, doc["id"]))

    return handler


def list_entities(kind: Kind) -> Handler:
    getters = {"peft": lambda d: bool(d.get("peft"))} if kind is MODEL else None

    def handler(state: State, req: Request) -> Response:
        with state.lock:
            items = [_view(state, kind, d) for d in _docs(state, kind).values()]
        return Response(200, paginate(items, req, getters))

    return handler


def _lookup(state: State, kind: Kind, req: Request) -> dict[str, Any]:
    key = (req.params["ns"], req.params["name"])
    return lookup(_docs(state, kind), key, f"{kind.label} '{key[0]}/{key[1]}'")


def get_entity(kind: Kind) -> Handler:
    def handler(state: State, req: Request) -> Response:
        with state.lock:
            return Response(200, _view(state, kind, _lookup(state, kind, req)))

    return handler


def patch_entity(kind: Kind) -> Handler:
    def handler(state: State, req: Request) -> Response:
        body = req.json_object()
        c = Checker()
        check_common(c, body)
        for key in kind.required:
            c.string(body, key, ("body", key))
        c.done()
        with state.lock:
            doc = _lookup(state, kind, req)
            doc.update({k: v for k, v in body.items() if k not in _IMMUTABLE})
            return Response(200, _view(state, kind, state.stamp(doc)))

    return handler


def delete_entity(kind: Kind) -> Handler:
    def handler(state: State, req: Request) -> Response:
        with state.lock:
            doc = _lookup(state, kind, req)
            key = (doc["namespace"], doc["name"])
            del _docs(state, kind)[key]
            if kind is MODEL:
                state.model_jobs.pop(key, None)
        return Response(200, state.deleted(doc["id"]))

    return handler


def seed(state: State) -> None:
    state.namespaces["default"] = state.stamp({"id": "default", "description": None, "custom_fields": {}})


ROUTES: list[Route] = [
    ("POST", "/v1/namespaces", create_namespace),
    ("GET", "/v1/namespaces", list_namespaces),
    ("GET", "/v1/namespaces/{ns}", get_namespace),
    ("PATCH", "/v1/namespaces/{ns}", patch_namespace),
    ("DELETE", "/v1/namespaces/{ns}", delete_namespace),
]
for _kind, _path in ((PROJECT, "/v1/projects"), (DATASET, "/v1/datasets"), (MODEL, "/v1/models")):
    ROUTES += [
        ("POST", _path, create_entity(_kind)),
        ("GET", _path, list_entities(_kind)),
        ("GET", _path + "/{ns}/{name}", get_entity(_kind)),
        ("PATCH", _path + "/{ns}/{name}", patch_entity(_kind)),
        ("DELETE", _path + "/{ns}/{name}", delete_entity(_kind)),
    ]
