"""Model entities, providers and model deployments (`/apis/models/v2`).

A provider is an OpenAI-compatible endpoint registered in a workspace; the models controller lists its models and
creates an entity per model (`meta/llama-3.2-1b-instruct` → `ws/meta-llama-3-2-1b-instruct`), recorded in the
provider's `served_models`. A deployment starts a NIM or vLLM container from a deployment config and registers it
as a provider of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flywheel_cli.config import NimConfig
from flywheel_cli.nmp.http import ServiceClient


@dataclass(frozen=True)
class Provider:
    name: str
    host_url: str
    status: str
    served: dict[str, str]  # model entity id ("ws/name") → the model id the provider serves it as

    @classmethod
    def parse(cls, body: dict[str, Any]) -> Provider:
        served = {}
        for mapping in body.get("served_models") or []:
            if isinstance(mapping, dict) and mapping.get("model_entity_id") and mapping.get("served_model_name"):
                served[str(mapping["model_entity_id"])] = str(mapping["served_model_name"])
        return cls(
            name=str(body.get("name", "")),
            host_url=str(body.get("host_url", "")),
            status=str(body.get("status", "")),
            served=served,
        )


def deployment_config_body(name: str, nim: NimConfig) -> dict[str, Any]:
    """A NIM deployment config: the image, its GPUs and disk; LoRA on so customized adapters get served."""
    envs = {"NIM_MAX_MODEL_LEN": str(nim.context_length)}
    if nim.guided_decoding_backend:
        envs["NIM_GUIDED_DECODING_BACKEND"] = nim.guided_decoding_backend
    return {
        "name": name,
        "engine": "nim",
        "model_spec": {"model_type": "llm", "model_name": nim.model_name, "lora_enabled": nim.customization.enabled},
        "executor_config": {
            "gpu": nim.gpus,
            "image_name": nim.image,
            "image_tag": nim.tag,
            "disk_size": nim.pvc_size,
            "additional_envs": envs,
        },
    }


class ModelsClient:
    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    def _base(self, workspace: str) -> str:
        return f"/apis/models/v2/workspaces/{workspace}"

    # --- providers ----------------------------------------------------------------------------------------------------

    def providers(self, workspace: str) -> list[Provider]:
        return [Provider.parse(p) for p in self.http.paginate(f"{self._base(workspace)}/providers")]

    def get_provider(self, workspace: str, name: str) -> Provider | None:
        body = self.http.get_or_none(f"{self._base(workspace)}/providers/{name}")
        return Provider.parse(body) if isinstance(body, dict) else None

    def create_provider(
        self, workspace: str, name: str, host_url: str, *, description: str = "", api_key_secret: str | None = None
    ) -> Provider:
        """Register an OpenAI-compatible endpoint (`host_url` ends in /v1), or return the one of that name."""
        body: dict[str, Any] = {"name": name, "host_url": host_url, "description": description}
        if api_key_secret:
            body["api_key_secret_name"] = api_key_secret
        answer = self.http.post(f"{self._base(workspace)}/providers", body, idempotent=True, accept=(409,))
        existing = self.get_provider(workspace, name)
        return existing if existing is not None else Provider.parse(answer or body)

    # --- model entities -----------------------------------------------------------------------------------------------

    def models(self, workspace: str) -> Iterator[dict[str, Any]]:
        return self.http.paginate(f"{self._base(workspace)}/models")

    def delete_model(self, workspace: str, name: str) -> bool:
        return self.http.delete(f"{self._base(workspace)}/models/{name}")

    # --- deployments --------------------------------------------------------------------------------------------------

    def get_deployment(self, workspace: str, name: str) -> dict[str, Any] | None:
        return self.http.get_or_none(f"{self._base(workspace)}/deployments/{name}")

    def deployments(self, workspace: str) -> Iterator[dict[str, Any]]:
        return self.http.paginate(f"{self._base(workspace)}/deployments")

    def ensure_deployment_config(self, workspace: str, body: dict[str, Any]) -> None:
        """Create the config unless one of that name exists (configs are versioned; the first version is kept)."""
        if self.http.get_or_none(f"{self._base(workspace)}/deployment-configs/{body['name']}") is None:
            self.http.post(f"{self._base(workspace)}/deployment-configs", body, idempotent=True, accept=(409,))

    def create_deployment(self, workspace: str, name: str, config: str) -> dict[str, Any]:
        """Start a deployment (it claims GPUs: posted once; the caller looked it up first)."""
        answer = self.http.post(
            f"{self._base(workspace)}/deployments", {"name": name, "config": config}, idempotent=False
        )
        return answer if isinstance(answer, dict) else {"name": name}

    def delete_deployment(self, workspace: str, name: str) -> bool:
        return self.http.delete(f"{self._base(workspace)}/deployments/{name}")
