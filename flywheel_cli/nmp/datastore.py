"""NeMo Data Store (`{datastore_url}`): its namespace API and the Hugging Face Hub-compatible repo API at `/v1/hf`.

Uploads speak the HF commit protocol directly (preupload, then one NDJSON commit with base64 file lines) instead of
going through huggingface_hub:
- flywheel's dataset files are small JSONL files, which the protocol sends inline; no LFS or chunking is needed;
- huggingface_hub may switch to Xet storage, which a self-hosted Data Store does not speak, and fails without a
  fallback unless an env var is set;
- one HTTP stack (httpx, with the same auth, timeouts, retries and error messages as every other NMP call);
- the calls are plain HTTP, so respx and the sandbox can check them byte for byte.
A file the server wants through LFS is refused with a clear error rather than half-supported.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from flywheel_cli.nmp.errors import NmpError, NotFound
from flywheel_cli.nmp.http import ServiceClient
from flywheel_cli.nmp.statuses import as_int

_REVISION = "main"
_SAMPLE_BYTES = 512  # the HF preupload API decides regular vs LFS from the size and the first 512 bytes


@dataclass(frozen=True)
class RepoFile:
    path: str
    blob_id: str | None = None  # git blob sha1, when the server reports it
    size: int | None = None


def git_blob_id(content: bytes) -> str:
    """The id git (and the HF API's `blobId`) gives a file's content."""
    return hashlib.sha1(b"blob %d\x00" % len(content) + content, usedforsecurity=False).hexdigest()


class DataStoreClient:
    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    def ensure_namespace(self, namespace: str) -> None:
        # Form-encoded, unlike every other NMP create; an existing namespace answers 409 (some releases 422).
        self.http.request(
            "POST", "/v1/datastore/namespaces", data={"namespace": namespace}, idempotent=True, accept=(409, 422)
        )

    # --- repos --------------------------------------------------------------------------------------------------------

    def repo_files(self, namespace: str, name: str) -> dict[str, RepoFile] | None:
        """The files of dataset repo `namespace/name`, or None when the repo does not exist."""
        info = self.http.get_or_none(f"/v1/hf/api/datasets/{namespace}/{name}")
        if not isinstance(info, dict):
            return None
        files: dict[str, RepoFile] = {}
        for sibling in info.get("siblings") or []:
            if isinstance(sibling, dict) and isinstance(sibling.get("rfilename"), str):
                path = sibling["rfilename"]
                blob = sibling.get("blobId")
                files[path] = RepoFile(path, blob if isinstance(blob, str) else None, as_int(sibling.get("size")))
        return files

    def create_repo(self, namespace: str, name: str) -> None:
        body = {"name": name, "organization": namespace, "type": "dataset", "private": False}
        try:
            self.http.request("POST", "/v1/hf/api/repos/create", json=body, idempotent=True, accept=(409,))
        except NmpError as err:
            # Some releases refuse a repeat with 4xx and "... already created" instead of 409.
            if err.status_code is not None and err.status_code < 500 and "already" in str(err.detail).lower():
                return
            raise

    def delete_repo(self, namespace: str, name: str) -> bool:
        """Delete dataset repo `namespace/name`; False when it was already gone. The server deletes asynchronously."""
        body = {"name": name, "organization": namespace, "type": "dataset"}
        return self.http.delete("/v1/hf/api/repos/delete", json=body)

    def download(self, namespace: str, name: str, path: str) -> bytes | None:
        try:
            response = self.http.request("GET", f"/v1/hf/datasets/{namespace}/{name}/resolve/{_REVISION}/{path}")
        except NotFound:
            return None
        return response.content

    # --- upload -------------------------------------------------------------------------------------------------------

    def unchanged(self, namespace: str, name: str, files: dict[str, bytes], existing: dict[str, RepoFile]) -> bool:
        """True when every file is already in the repo with the same content."""
        for path, content in files.items():
            current = existing.get(path)
            if current is None:
                return False
            if current.blob_id is not None:
                if current.blob_id != git_blob_id(content):
                    return False
                continue
            if current.size is not None and current.size != len(content):
                return False
            if self.download(namespace, name, path) != content:
                return False
        return True

    def upload(self, namespace: str, name: str, files: dict[str, bytes], *, summary: str) -> None:
        """Commit `files` (repo path → content) to the main branch in one commit."""
        repo = f"/v1/hf/api/datasets/{namespace}/{name}"
        to_send = self._regular_files(repo, files)
        if not to_send:
            return
        lines = [{"key": "header", "value": {"summary": summary, "description": ""}}]
        for path in sorted(to_send):
            encoded = base64.b64encode(files[path]).decode("ascii")
            lines.append({"key": "file", "value": {"content": encoded, "path": path, "encoding": "base64"}})
        body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
        # Repeating a commit of the same content leaves the repo as it would be after one: safe to retry.
        self.http.request(
            "POST",
            f"{repo}/commit/{_REVISION}",
            content=body,
            headers={"Content-Type": "application/x-ndjson"},
            idempotent=True,
        )

    def _regular_files(self, repo: str, files: dict[str, bytes]) -> list[str]:
        body = {
            "files": [
                {
                    "path": path,
                    "size": len(content),
                    "sample": base64.b64encode(content[:_SAMPLE_BYTES]).decode("ascii"),
                }
                for path, content in sorted(files.items())
            ]
        }
        try:
            answer: Any = self.http.post(f"{repo}/preupload/{_REVISION}", body, idempotent=True)
        except NotFound:
            return sorted(files)  # a server without preupload takes every file inline
        modes = {
            entry.get("path"): entry
            for entry in (answer or {}).get("files") or []
            if isinstance(entry, dict) and isinstance(entry.get("path"), str)
        }
        send = []
        for path in sorted(files):
            entry = modes.get(path, {})
            if entry.get("shouldIgnore") is True:
                continue
            if str(entry.get("uploadMode", "regular")).lower() == "lfs":
                raise NmpError(
                    f"Data Store wants {path} ({len(files[path])} bytes) uploaded through Git LFS, "
                    "which flywheel does not implement",
                    hint="Lower [split].limit so the dataset files stay small.",
                    url=self.http.url(f"{repo}/preupload/{_REVISION}"),
                )
            send.append(path)
        return send
