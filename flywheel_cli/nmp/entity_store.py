"""Entity Store (`{nemo_url}/v1/namespaces|projects|datasets|models`): registrations other services look up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flywheel_cli.nmp.http import ServiceClient
from flywheel_cli.nmp.statuses import as_dict

# An existing namespace answers 409 on some releases and 422 on others (nmp-api.md §1.5).
_EXISTS = (409, 422)


@dataclass(frozen=True)
class DatasetEntity:
    name: str
    namespace: str
    files_url: str
    project: str | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: dict[str, Any]) -> DatasetEntity:
        return cls(
            name=str(body.get("name") or ""),
            namespace=str(body.get("namespace") or ""),
            files_url=str(body.get("files_url") or ""),
            project=body.get("project") if isinstance(body.get("project"), str) else None,
            custom_fields=as_dict(body.get("custom_fields")),
        )


class EntityStoreClient:
    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    def ensure_namespace(self, namespace: str) -> None:
        self.http.post("/v1/namespaces", {"id": namespace}, idempotent=True, accept=_EXISTS)

    def ensure_project(self, namespace: str, name: str) -> None:
        body = {"name": name, "namespace": namespace}
        self.http.post("/v1/projects", body, idempotent=True, accept=_EXISTS)

    # --- datasets ---------------------------------------------------------------------------------------------------

    def get_dataset(self, namespace: str, name: str) -> DatasetEntity | None:
        body = self.http.get_or_none(f"/v1/datasets/{namespace}/{name}")
        return DatasetEntity.parse(body) if isinstance(body, dict) else None

    def upsert_dataset(
        self, namespace: str, name: str, *, files_url: str, project: str | None = None, description: str = ""
    ) -> DatasetEntity:
        """Register a dataset, or point an existing registration at `files_url` (GET, then PATCH or POST)."""
        existing = self.get_dataset(namespace, name)
        if existing is not None and existing.files_url == files_url and project in (None, existing.project):
            return existing
        body: Any = None
        created = False
        if existing is None:
            create: dict[str, Any] = {"name": name, "namespace": namespace, "description": description}
            create["files_url"] = files_url
            if project is not None:
                create["project"] = project
            # Safe to repeat: a second create of the same name is refused (409), never duplicated.
            response = self.http.request("POST", "/v1/datasets", json=create, idempotent=True, accept=(409,))
            created = response.status_code != 409
            body = response.json() if created and response.content else None
        if not created:
            patch: dict[str, Any] = {"files_url": files_url}
            if project is not None:
                patch["project"] = project
            body = self.http.patch(f"/v1/datasets/{namespace}/{name}", patch)
        if isinstance(body, dict) and body.get("files_url"):
            return DatasetEntity.parse(body)
        return DatasetEntity(name=name, namespace=namespace, files_url=files_url, project=project)

    def delete_dataset(self, namespace: str, name: str) -> bool:
        return self.http.delete(f"/v1/datasets/{namespace}/{name}")

    def list_datasets(self, namespace: str) -> list[DatasetEntity]:
        items = self.http.paginate("/v1/datasets", params={"filter[namespace]": namespace})
        return [DatasetEntity.parse(item) for item in items]

    # --- models (customized adapters are registered here by Customizer) ---------------------------------------------

    def get_model(self, model_id: str) -> dict[str, Any] | None:
        body = self.http.get_or_none(f"/v1/models/{model_id}")
        return body if isinstance(body, dict) else None

    def list_models(self, namespace: str) -> list[dict[str, Any]]:
        return list(self.http.paginate("/v1/models", params={"filter[namespace]": namespace}))

    def delete_model(self, model_id: str) -> bool:
        """`model_id` is `namespace/name[@version]`; the slash is a path separator, not encoded."""
        return self.http.delete(f"/v1/models/{model_id}")
