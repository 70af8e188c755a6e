"""Embeddings from an OpenAI-compatible `/v1/embeddings` endpoint, for semantic ICL selection.

The API key is read from the environment variable the config names, sent only as a bearer header, and kept out of
every error message and repr.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import orjson

from flywheel_cli import __version__
from flywheel_cli.config import Settings
from flywheel_cli.errors import RemoteError

BATCH_SIZE = 32
# Embedding a batch of 32 short queries takes well under a second on a NIM; 60 s covers a cold model.
DEFAULT_TIMEOUT = 60.0
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def embeddings_url(settings: Settings) -> str:
    return settings.icl.embedding_url or f"{settings.nmp.nim_url.rstrip('/')}/v1/embeddings"


class HttpEmbedder:
    """POSTs `{"model", "input": [...], "input_type": "query"}` in batches and reads `data[].embedding`.

    Embedding is idempotent, so failed batches are retried (connection errors, timeouts, 408/429/5xx) with
    exponential backoff and full jitter; anything still failing raises RemoteError.
    """

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        batch_size: int = BATCH_SIZE,
        attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self.model = model
        self.batch_size = batch_size
        self._key = api_key
        self._attempts = max(1, attempts)
        self._sleep = sleep
        self._rng = rng or random.Random()
        headers = {"User-Agent": f"flywheel/{__version__}", "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> HttpEmbedder:
        key = os.environ.get(settings.icl.embedding_api_key_env) or None
        return cls(embeddings_url(settings), settings.icl.embedding_model, api_key=key, **kwargs)

    def __repr__(self) -> str:
        return f"HttpEmbedder({self.url!r}, {self.model!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._batch(list(texts[start : start + self.batch_size])))
        return vectors

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def _batch(self, batch: list[str]) -> list[list[float]]:
        body = {"model": self.model, "input": batch, "input_type": "query"}
        for attempt in range(1, self._attempts + 1):
            last = attempt == self._attempts
            try:
                response = self._http.post(
                    self.url, content=orjson.dumps(body), headers={"Content-Type": "application/json"}
                )
            except httpx.HTTPError as exc:
                if last:
                    raise RemoteError(
                        f"embeddings endpoint {self.url} is unreachable: {type(exc).__name__}",
                        hint="Check icl.embedding_url (or nmp.nim_url), or use --icl-selection uniform.",
                        url=self.url,
                    ) from None
                self._backoff(attempt)
                continue
            if response.status_code in _RETRY_STATUSES and not last:
                self._backoff(attempt)
                continue
            if response.status_code >= 400:
                detail = self._redact(response.text[:500])
                raise RemoteError(
                    f"embeddings endpoint {self.url} answered {response.status_code}: {detail}",
                    hint=f"Check icl.embedding_model ({self.model}) and the key in the env var the config names.",
                    status_code=response.status_code,
                    detail=detail,
                    url=self.url,
                )
            return self._vectors(response, len(batch))
        raise AssertionError("unreachable")  # the loop returns or raises on its last attempt

    def _vectors(self, response: httpx.Response, expected: int) -> list[list[float]]:
        try:
            data = orjson.loads(response.content)["data"]
            items = sorted(data, key=lambda item: item.get("index", 0)) if all("index" in d for d in data) else data
            vectors = [list(map(float, item["embedding"])) for item in items]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise RemoteError(
                f"embeddings endpoint {self.url} sent a body without data[].embedding",
                status_code=response.status_code,
                url=self.url,
            ) from None
        if len(vectors) != expected or len({len(v) for v in vectors}) > 1:
            raise RemoteError(
                f"embeddings endpoint {self.url} returned {len(vectors)} vectors for {expected} inputs"
                " (or vectors of different sizes)",
                status_code=response.status_code,
                url=self.url,
            )
        return vectors

    def _backoff(self, attempt: int) -> None:
        self._sleep(self._rng.uniform(0, min(8.0, 0.5 * 2 ** (attempt - 1))))
