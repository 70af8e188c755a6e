"""Filesets (`/apis/files/v2`): the datasets flywheel uploads, as named folders of files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flywheel_cli.nmp.http import ServiceClient


class FilesClient:
    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    def _base(self, workspace: str) -> str:
        return f"/apis/files/v2/workspaces/{workspace}/filesets"

    def get_fileset(self, workspace: str, name: str) -> dict[str, Any] | None:
        return self.http.get_or_none(f"{self._base(workspace)}/{name}")

    def ensure_fileset(
        self, workspace: str, name: str, *, project: str | None, description: str, custom_fields: dict[str, str]
    ) -> None:
        """Create a dataset fileset unless it exists (the create answers 200, or 409 when the name is taken)."""
        if self.get_fileset(workspace, name) is not None:
            return
        body: dict[str, Any] = {
            "name": name,
            "purpose": "dataset",
            "description": description,
            "custom_fields": custom_fields,
        }
        if project:
            body["project"] = project
        self.http.post(self._base(workspace), body, idempotent=True, accept=(409,))

    def put_file(self, workspace: str, name: str, path: str, content: bytes) -> None:
        """Upload (or replace) one file: the raw bytes, not multipart."""
        self.http.request(
            "PUT",
            f"{self._base(workspace)}/{name}/-/{path}",
            content=content,
            headers={"Content-Type": "application/octet-stream"},
        )

    def list_files(self, workspace: str, name: str) -> list[str]:
        body = self.http.get(f"{self._base(workspace)}/{name}/files")
        items = body.get("data") if isinstance(body, dict) else None
        return [str(f.get("path")) for f in items or [] if isinstance(f, dict)]

    def list_filesets(self, workspace: str) -> Iterator[dict[str, Any]]:
        return self.http.paginate(self._base(workspace))

    def delete_fileset(self, workspace: str, name: str) -> bool:
        return self.http.delete(f"{self._base(workspace)}/{name}")
