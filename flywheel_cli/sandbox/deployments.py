"""Deployment Management: NIM deployments that move created → pending → ready over simulated time.

A deployment whose `config.nim_deployment.image_tag` is "fail", or whose model name contains "fail", ends `failed`
with a status description, so clients can test their failure path. A duplicate create answers DMS's real quirk:
HTTP 500 with "model deployment already exists".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flywheel_cli.sandbox.api import ApiError, Request, Response, Route, lookup, not_found, paginate
from flywheel_cli.sandbox.clock import Timeline, iso
from flywheel_cli.sandbox.simulated import model_size_b
from flywheel_cli.sandbox.store import State, new_id
from flywheel_cli.sandbox.validation import Checker, check_common

CREATED_S = 5.0
FAIL_AFTER_S = 60.0


def ready_after(model: str) -> float:
    """Simulated seconds from create to ready: image pull and model load grow with size."""
    return 100.0 + 15.0 * math.log2(max(model_size_b(model), 1.0))


@dataclass
class Deployment:
    namespace: str
    name: str
    doc: dict[str, Any]
    created: float  # real time
    model: str
    failure: str | None

    def timeline(self) -> Timeline:
        if self.failure:
            return Timeline([("created", CREATED_S), ("pending", FAIL_AFTER_S - CREATED_S), ("failed", None)])
        return Timeline([("created", CREATED_S), ("pending", ready_after(self.model) - CREATED_S), ("ready", None)])

    def status(self, state: State) -> str:
        return self.timeline().at(state.clock.sim_since(self.created)).status


_DESCRIPTIONS = {
    "created": "Model deployment created",
    "pending": "Deploying NIM: pulling the image and loading the model",
    "ready": "Model deployment is ready",
}


def deployment_view(state: State, dep: Deployment, at: float | None = None) -> dict[str, Any]:
    phase = dep.timeline().at(state.clock.sim_since(dep.created) if at is None else at)
    description = dep.failure if phase.status == "failed" else _DESCRIPTIONS[phase.status]
    return dict(
        dep.doc,
        deployed=phase.status == "ready",
        status_details={"status": phase.status, "description": description},
        updated_at=iso(state.clock.real_at(dep.created, phase.start)),
    )


def _model_name(model: Any) -> str | None:
    if isinstance(model, str):
        return model
    if isinstance(model, dict) and isinstance(model.get("name"), str):
        ns = model.get("namespace")
        return f"{ns}/{model['name']}" if ns else model["name"]
    return None


def create_deployment(state: State, req: Request) -> Response:
    body = req.json_object()
    c = Checker()
    check_common(c, body)
    config = c.str_or_mapping(body, "config", ("body", "config"), required=True)
    models = c.listing(body, "models", ("body", "models"))
    c.boolean(body, "async_enabled", ("body", "async_enabled"))
    c.string(body, "hf_token", ("body", "hf_token"))
    name = body.get("name")
    if isinstance(name, str) and "/" in name:
        c.fail("string_pattern_mismatch", ("body", "name"), "Deployment names cannot contain '/'", name)
    nim: dict[str, Any] | None = None
    if isinstance(config, dict):
        loc = ("body", "config")
        nim = c.mapping(config, "nim_deployment", (*loc, "nim_deployment"))
        external = c.mapping(config, "external_endpoint", (*loc, "external_endpoint"))
        if nim is not None:
            c.integer(nim, "gpu", (*loc, "nim_deployment", "gpu"), required=True, minimum=0)
            c.string(nim, "image_name", (*loc, "nim_deployment", "image_name"), required=True)
            c.string(nim, "image_tag", (*loc, "nim_deployment", "image_tag"), required=True)
            c.mapping(nim, "additional_envs", (*loc, "nim_deployment", "additional_envs"))
            c.string(nim, "pvc_size", (*loc, "nim_deployment", "pvc_size"))
        if external is not None:
            c.string(external, "host_url", (*loc, "external_endpoint", "host_url"), required=True)
        if nim is None and external is None:
            c.value_error(loc, "either nim_deployment or external_endpoint is required", config)
        if _model_name(config.get("model")) is None and not models:
            c.fail("missing", (*loc, "model"), "Field required", config)
    c.done()
    if isinstance(config, str):
        raise not_found(f"Deployment config '{config}'")
    assert isinstance(config, dict)
    model = _model_name(config.get("model")) or str((models or [""])[0])
    namespace = body.get("namespace") or "default"
    name = name or new_id("model-deployment")
    failure = None
    if (nim or {}).get("image_tag") == "fail" or "fail" in model.lower():
        image = f"{(nim or {}).get('image_name', model)}:{(nim or {}).get('image_tag', '')}"
        failure = f"NIM failed to start: container for {image} exited with an error (simulated failure)"
    with state.lock:
        if (namespace, name) in state.deployments:
            raise ApiError(500, "model deployment already exists")
        now = state.clock.now()
        doc = {
            "name": name,
            "namespace": namespace,
            "config": config,
            "models": list(models or [model]),
            "url": state.nim_url,
            "async_enabled": bool(body.get("async_enabled", False)),
            "description": body.get("description"),
            "project": body.get("project"),
            "custom_fields": body.get("custom_fields") or {},
            "ownership": body.get("ownership"),
            "created_at": iso(now),
        }
        dep = Deployment(namespace, name, doc, now, model, failure)
        state.deployments[(namespace, name)] = dep
        return Response(200, deployment_view(state, dep, at=0.0), created=("deployment", f"{namespace}/{name}"))


def list_deployments(state: State, req: Request) -> Response:
    with state.lock:
        items = [deployment_view(state, d) for d in state.deployments.values()]
    return Response(200, paginate(items, req, {"status": lambda d: d["status_details"]["status"]}))


def _deployment(state: State, req: Request) -> Deployment:
    key = (req.params["ns"], req.params["name"])
    return lookup(state.deployments, key, f"Model deployment '{key[0]}/{key[1]}'")


def get_deployment(state: State, req: Request) -> Response:
    with state.lock:
        return Response(200, deployment_view(state, _deployment(state, req)))


def delete_deployment(state: State, req: Request) -> Response:
    with state.lock:
        dep = _deployment(state, req)
        del state.deployments[(dep.namespace, dep.name)]
    return Response(200, state.deleted(f"{dep.namespace}/{dep.name}"))


def ready_models(state: State) -> dict[str, Deployment]:
    """Model name → its ready deployment."""
    out: dict[str, Deployment] = {}
    with state.lock:
        for dep in state.deployments.values():
            if dep.status(state) == "ready":
                for model in dep.doc["models"]:
                    out.setdefault(model, dep)
    return out


ROUTES: list[Route] = [
    ("POST", "/v1/deployment/model-deployments", create_deployment),
    ("GET", "/v1/deployment/model-deployments", list_deployments),
    ("GET", "/v1/deployment/model-deployments/{ns}/{name}", get_deployment),
    ("DELETE", "/v1/deployment/model-deployments/{ns}/{name}", delete_deployment),
]
