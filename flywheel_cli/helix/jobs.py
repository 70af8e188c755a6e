"""Platform jobs (evaluation, customization): every plugin mounts the same route set under its own collection.

    POST/GET {collection}                    GET/DELETE {collection}/{name}     GET {collection}/{name}/status
    POST {collection}/{name}/cancel          GET {collection}/{name}/logs       GET {collection}/{name}/results
    GET {collection}/{job}/results/{result}/download

Jobs are addressed by name within a workspace; flywheel uses that name as the job's id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flywheel_cli.nmp.errors import NmpError
from flywheel_cli.nmp.http import ServiceClient, create_once


class JobsClient:
    def __init__(self, http: ServiceClient, collection: str, what: str) -> None:
        """`collection` holds `{workspace}`, e.g. "/apis/evals/v2/workspaces/{workspace}/evaluate/jobs"."""
        self.http = http
        self.collection = collection
        self.what = what

    def _path(self, workspace: str, *parts: str) -> str:
        return "/".join([self.collection.format(workspace=workspace), *parts])

    def create(self, workspace: str, body: dict[str, Any], *, secrets: tuple[str, ...] = ()) -> dict[str, Any]:
        """Start a job. Never starts two: after an ambiguous failure the job is looked up by name first."""
        name = str(body["name"])

        def post() -> dict[str, Any]:
            answer = self.http.post(self._path(workspace), body, idempotent=False, secrets=secrets)
            return answer if isinstance(answer, dict) else {"name": name}

        return create_once(post, lambda: self.get(workspace, name))

    def get(self, workspace: str, name: str) -> dict[str, Any] | None:
        return self.http.get_or_none(self._path(workspace, name))

    def status(self, workspace: str, name: str) -> dict[str, Any]:
        body = self.http.get(self._path(workspace, name, "status"))
        if not isinstance(body, dict):
            raise NmpError(f"helix: the status of {self.what} {name} is not an object")
        return body

    def list(self, workspace: str) -> Iterator[dict[str, Any]]:
        return self.http.paginate(self._path(workspace))

    def cancel(self, workspace: str, name: str) -> None:
        self.http.post(self._path(workspace, name, "cancel"), None, idempotent=True)

    def delete(self, workspace: str, name: str) -> bool:
        return self.http.delete(self._path(workspace, name))

    def logs(self, workspace: str, name: str) -> list[dict[str, Any]]:
        body = self.http.get(self._path(workspace, name, "logs"))
        items = body.get("data") if isinstance(body, dict) else None
        return [e for e in items or [] if isinstance(e, dict)]

    def download(self, workspace: str, name: str, result: str) -> bytes:
        """A result's raw bytes (JSON or JSONL that may hold NaN, which the caller parses)."""
        return self.http.request("GET", self._path(workspace, name, "results", result, "download")).content
