"""Deployment Management (`{nemo_url}/v1/deployment/model-deployments`): NIM deployments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flywheel_cli.config import NimConfig
from flywheel_cli.nmp.errors import NmpError
from flywheel_cli.nmp.http import ServiceClient, create_once
from flywheel_cli.nmp.statuses import as_dict, deployment_status
from flywheel_cli.platforms.base import DeploymentStatus

_PATH = "/v1/deployment/model-deployments"


@dataclass(frozen=True)
class DeploymentInfo:
    name: str
    namespace: str
    model: str | None
    status: DeploymentStatus
    custom_fields: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: dict[str, Any]) -> DeploymentInfo:
        config = body.get("config")
        model = as_dict(config).get("model") if isinstance(config, dict) else None
        if isinstance(model, dict):
            model = model.get("name")
        return cls(
            name=str(body.get("name") or ""),
            namespace=str(body.get("namespace") or ""),
            model=model if isinstance(model, str) else None,
            status=deployment_status(body),
            custom_fields=as_dict(body.get("custom_fields")),
        )


def deployment_body(nim: NimConfig, namespace: str) -> dict[str, Any]:
    """The DMS create body for a NIM (blueprint §4.2); LoRA support stays on so customized adapters get served."""
    nim_deployment: dict[str, Any] = {
        "image_name": nim.image,
        "image_tag": nim.tag,
        "pvc_size": nim.pvc_size,
        "gpu": nim.gpus,
    }
    if nim.guided_decoding_backend:
        nim_deployment["additional_envs"] = {"NIM_GUIDED_DECODING_BACKEND": nim.guided_decoding_backend}
    return {
        "name": nim.deployment_name,
        "namespace": namespace,
        "config": {"model": nim.model_name, "nim_deployment": nim_deployment},
    }


class DeploymentsClient:
    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    def get(self, namespace: str, name: str) -> DeploymentInfo | None:
        body = self.http.get_or_none(f"{_PATH}/{namespace}/{name}")
        return DeploymentInfo.parse(body) if isinstance(body, dict) else None

    def create(self, body: dict[str, Any]) -> DeploymentInfo:
        """Create a deployment, or return the one that exists. Never posts twice blindly (a deployment holds GPUs)."""
        namespace, name = str(body.get("namespace", "")), str(body.get("name", ""))

        def post() -> DeploymentInfo:
            try:
                return DeploymentInfo.parse(self.http.post(_PATH, body, idempotent=False, accept=(409,)) or {})
            except NmpError as err:
                # DMS answers a duplicate create with HTTP 500 "model deployment already exists" (nmp-api.md §1.5).
                if err.status_code == 500 and "already exists" in str(err.detail).lower():
                    existing = self.get(namespace, name)
                    if existing is not None:
                        return existing
                raise

        def find() -> DeploymentInfo | None:
            return self.get(namespace, name)

        created = create_once(post, find)
        if not created.name:  # a 409 (or an empty answer) names nothing: read what is there
            return self.get(namespace, name) or created
        return created

    def delete(self, namespace: str, name: str) -> bool:
        return self.http.delete(f"{_PATH}/{namespace}/{name}")

    def list_deployments(self, namespace: str | None = None) -> list[DeploymentInfo]:
        params = {"filter[namespace]": namespace} if namespace else None
        return [DeploymentInfo.parse(d) for d in self.http.paginate(_PATH, params=params)]
