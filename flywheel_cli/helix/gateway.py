"""The inference gateway's OpenAI route (`/apis/inference-gateway/v2/workspaces/{ws}/openai/-/v1/...`).

Models are addressed as "workspace/entity"; the gateway lists only the models it can route to right now (a new
provider becomes routable a few seconds after it turns READY).
"""

from __future__ import annotations

from typing import Any

from flywheel_cli.nmp.http import ServiceClient


def openai_path(workspace: str) -> str:
    return f"/apis/inference-gateway/v2/workspaces/{workspace}/openai/-/v1"


class GatewayClient:
    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    def base_url(self, workspace: str) -> str:
        """The OpenAI base URL of the workspace, as the server's own jobs call it."""
        return self.http.url(openai_path(workspace))

    def model_ids(self, workspace: str) -> list[str]:
        body = self.http.get(f"{openai_path(workspace)}/models")
        items = body.get("data") if isinstance(body, dict) else None
        return [str(m["id"]) for m in items or [] if isinstance(m, dict) and m.get("id")]

    def chat(
        self, workspace: str, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": messages}
        if tools:
            body["tools"] = tools
        # Generating is not idempotent in cost, but a lost answer is worth one more generation: retry like a GET.
        answer = self.http.post(f"{openai_path(workspace)}/chat/completions", body, idempotent=True)
        return answer if isinstance(answer, dict) else {}
