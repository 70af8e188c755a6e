"""Workspaces, projects and secrets (`/apis/entities/v2`, `/apis/secrets/v2`)."""

from __future__ import annotations

from flywheel_cli.nmp.http import ServiceClient


class EntitiesClient:
    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    def ensure_workspace(self, workspace: str, description: str) -> None:
        """Create the workspace unless it exists (409). The creator becomes its Admin."""
        if self.http.get_or_none(f"/apis/entities/v2/workspaces/{workspace}") is None:
            self.http.post(
                "/apis/entities/v2/workspaces",
                {"name": workspace, "description": description},
                idempotent=True,
                accept=(409,),
            )

    def ensure_project(self, workspace: str, project: str, description: str) -> None:
        if self.http.get_or_none(f"/apis/entities/v2/workspaces/{workspace}/projects/{project}") is None:
            self.http.post(
                f"/apis/entities/v2/workspaces/{workspace}/projects",
                {"name": project, "description": description},
                idempotent=True,
                accept=(409,),
            )

    def put_secret(self, workspace: str, name: str, value: str, description: str) -> None:
        """Store `value` as secret `name` (create, or update the one that exists). The value never comes back."""
        path = f"/apis/secrets/v2/workspaces/{workspace}/secrets"
        response = self.http.request(
            "POST",
            path,
            json={"name": name, "value": value, "description": description},
            idempotent=True,
            accept=(409,),
            secrets=(value,),
        )
        if response.status_code == 409:
            self.http.request("PATCH", f"{path}/{name}", json={"value": value}, secrets=(value,))
