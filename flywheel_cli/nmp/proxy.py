"""NIM Proxy (`{nim_url}`): the OpenAI-compatible endpoints of every served model and adapter."""

from __future__ import annotations

from typing import Any

from flywheel_cli.nmp.errors import NmpError
from flywheel_cli.nmp.http import ServiceClient


class NimProxyClient:
    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    def model_ids(self) -> list[str]:
        """Ids of the served models, LoRA adapters included (`ns/name@version`); match on `id` only."""
        body = self.http.get("/v1/models")
        items = body.get("data") if isinstance(body, dict) else body
        return [m["id"] for m in items or [] if isinstance(m, dict) and isinstance(m.get("id"), str)]

    def chat(
        self,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": messages, **params}
        if tools:
            body["tools"] = tools
        # Inference starts no job and holds no resource: repeating it after a timeout is harmless.
        answer = self.http.post("/v1/chat/completions", body, idempotent=True)
        if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list):
            raise NmpError(
                f"{self.http.service}: POST {self.http.url('/v1/chat/completions')} answered without `choices`",
                url=self.http.url("/v1/chat/completions"),
            )
        return answer

    def embed(self, model: str, inputs: list[str], *, input_type: str = "query") -> list[list[float]]:
        """One embedding per input, in input order (NIM embedding models need `input_type`)."""
        body = {"model": model, "input": inputs, "input_type": input_type}
        answer = self.http.post("/v1/embeddings", body, idempotent=True)
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list) or len(data) != len(inputs):
            raise NmpError(
                f"{self.http.service}: POST {self.http.url('/v1/embeddings')} answered "
                f"{len(data) if isinstance(data, list) else 'no'} embeddings for {len(inputs)} inputs",
                url=self.http.url("/v1/embeddings"),
            )
        ordered = sorted(data, key=lambda d: d.get("index", 0) if isinstance(d, dict) else 0)
        return [[float(x) for x in d.get("embedding") or []] for d in ordered]
