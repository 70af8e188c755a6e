"""The one HTTP client every NMP service client sits on: auth, timeouts, retries, error bodies, pagination.

Retry policy (nmp-api.md §1.6): NMP create endpoints take no idempotency key, so a POST that starts GPU work
(customization job, evaluation job, deployment) is never re-sent blindly; its caller looks the resource up first
(`create_once`). Everything else (GET, DELETE, PATCH and POSTs that are safe to repeat) is retried with exponential
backoff and full jitter on connection failures, timeouts, 408/429 and 5xx.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import httpx
import orjson

from flywheel_cli import __version__
from flywheel_cli.nmp.errors import Conflict, NmpError, NotFound, Unreachable

log = logging.getLogger("flywheel.nmp")

T = TypeVar("T")

# Six tries: at a 20 % failure rate four failures in a row hit one request in 625, and a run sends hundreds.
DEFAULT_ATTEMPTS = 6
CREATE_ATTEMPTS = 4
USER_AGENT = f"flywheel/{__version__}"
# Nothing was sent when these happen, so repeating any request is safe.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_MAX_PAGES = 10_000  # a server that ignores `page` must not loop us forever


class Redactor:
    """Secret values (bearer tokens, a judge API key) to blank out of anything a server says back to us.

    A server may echo a request body in an error or a status message; what it echoes must not reach an error
    message, a log line or a stored status.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        self._secrets.update(s for s in secrets if s)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secret(s)>)"

    def __call__(self, value: Any) -> Any:
        if not self._secrets:
            return value
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, "***")
            return value
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        return value


class ServiceClient:
    """An httpx client for one NMP host.

    `base_url` may carry a path prefix (`http://host/nim`): request paths are appended to it, never resolved
    against it. The bearer token is read from the named env var once and only ever sent as a header.
    """

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        setting: str,
        token_env: str | None = None,
        timeout: float = 30.0,
        attempts: int = DEFAULT_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        redact: Redactor | None = None,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self._setting = setting
        self._token_env = token_env
        self._attempts = max(1, attempts)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._base_delay = base_delay
        self._max_delay = max_delay
        headers = {"User-Agent": USER_AGENT}
        token = os.environ.get(token_env) if token_env else None
        self.redact = redact if redact is not None else Redactor()
        if token:
            headers["Authorization"] = f"Bearer {token}"
            self.redact.add(token)
        # Connecting should be quick even when a request may legitimately take long (a judge, a big listing).
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=True,
            verify=_tls_context(),
        )

    def __repr__(self) -> str:
        return f"ServiceClient({self.service!r}, {self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def url(self, path: str) -> str:
        return self.base_url + path

    # --- requests -------------------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        accept: Iterable[int] = (),
        secrets: Iterable[str] = (),
    ) -> httpx.Response:
        """Send one request; return the response if it is 2xx or in `accept`, else raise an NmpError.

        `idempotent` defaults to True for everything but POST. `secrets` are values (an API key in the body) that
        must not appear in an error message or a parsed answer even if the server echoes them back; they are
        remembered for the client's lifetime.
        """
        if idempotent is None:
            idempotent = method.upper() != "POST"
        accepted = set(accept)
        url = self.url(path)
        self.redact.add(*secrets)
        attempt = 0
        while True:
            attempt += 1
            last_try = attempt >= self._attempts
            try:
                response = self._http.request(
                    method, url, params=params, json=json, data=data, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                retryable = isinstance(exc, _NOT_SENT) or idempotent
                if retryable and not last_try:
                    self._backoff(attempt, method, url, type(exc).__name__)
                    continue
                raise self._unreachable(method, url, exc) from None
            if response.is_success or response.status_code in accepted:
                return response
            retryable = response.status_code in _RETRY_STATUSES and (idempotent or response.status_code == 429)
            if retryable and not last_try:
                self._backoff(attempt, method, url, f"HTTP {response.status_code}")
                continue
            raise self._http_error(method, url, response)

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return _json(self, "GET", self.request("GET", path, params=params))

    def get_or_none(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        try:
            return self.get(path, params=params)
        except NotFound:
            return None

    def post(self, path: str, body: Any = None, *, idempotent: bool, accept: Iterable[int] = (), **kw: Any) -> Any:
        return _json(self, "POST", self.request("POST", path, json=body, idempotent=idempotent, accept=accept, **kw))

    def patch(self, path: str, body: Any) -> Any:
        return _json(self, "PATCH", self.request("PATCH", path, json=body))

    def delete(self, path: str, *, json: Any = None, missing_ok: bool = True) -> bool:
        """DELETE; returns False when the resource was already gone (404) and `missing_ok`."""
        try:
            self.request("DELETE", path, json=json)
        except NotFound:
            if missing_ok:
                return False
            raise
        return True

    def paginate(
        self, path: str, *, params: Mapping[str, Any] | None = None, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Yield the items of every page of an NMP v1 list (`data` + `pagination.total_pages`)."""
        page = 1
        while page <= _MAX_PAGES:
            body = self.get(path, params={**(params or {}), "page": page, "page_size": page_size})
            items = body.get("data") if isinstance(body, dict) else body
            if not isinstance(items, list) or not items:
                return
            yield from (item for item in items if isinstance(item, dict))
            pagination = body.get("pagination") if isinstance(body, dict) else None
            # No envelope means the server does not paginate this list: one page is all there is.
            if not isinstance(pagination, dict):
                return
            total = pagination.get("total_pages")
            if isinstance(total, int) and page >= total:
                return
            page += 1

    def probe(self, path: str) -> Any:
        """One GET, no retries; the JSON answer of a 2xx, or None on anything else (a probe never fails a command)."""
        try:
            response = self._http.get(self.url(path))
            return orjson.loads(response.content) if response.is_success and response.content else None
        except Exception:  # whatever goes wrong, the answer is "no"
            return None

    # --- internals ------------------------------------------------------------------------------------------------

    def _backoff(self, attempt: int, method: str, url: str, reason: str) -> None:
        # Full jitter (uniform in [0, cap]) spreads retries of many clients hitting the same failing service.
        delay = self._rng.uniform(0.0, min(self._max_delay, self._base_delay * 2 ** (attempt - 1)))
        log.debug("%s %s failed (%s); retry %d in %.2fs", method, url, reason, attempt, delay)
        self._sleep(delay)

    def _unreachable(self, method: str, url: str, exc: httpx.TransportError) -> Unreachable:
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else f"failed ({type(exc).__name__})"
        return Unreachable(
            f"{self.service}: {method} {url} {kind}",
            hint=f"Check that {self.base_url} ({self._setting}) is reachable from this machine.",
            url=url,
        )

    def _http_error(self, method: str, url: str, response: httpx.Response) -> NmpError:
        status = response.status_code
        detail = self.redact(_error_detail(response))
        text = _detail_text(detail) or response.reason_phrase or "no detail"
        message = f"{self.service}: {method} {url} answered HTTP {status}: {text}"
        cls: type[NmpError] = NmpError
        hint = None
        if status == 404:
            cls = NotFound
        elif status == 409:
            cls = Conflict
        elif status in (401, 403):
            hint = (
                f"Set the bearer token in env {self._token_env}, or check the ingress in front of {self.base_url}."
                if self._token_env
                else None
            )
        elif status >= 500:
            hint = f"{self.service} failed on its side; its logs have the cause. Retrying later may help."
        return cls(message, hint=hint, status_code=status, detail=detail, url=url)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds; the platform opens one client per service.
    return httpx.create_ssl_context()


def create_once(post: Callable[[], T], find: Callable[[], T | None], attempts: int = CREATE_ATTEMPTS) -> T:
    """POST something that starts GPU work without ever starting it twice.

    On an ambiguous failure (timeout, dropped connection, 5xx) the resource may exist anyway: look it up, and post
    again only if it does not. Every repeat is preceded by such a lookup, so it can never launch a second job.
    """
    for attempt in range(1, attempts + 1):
        try:
            return post()
        except NmpError as err:
            if not err.ambiguous or attempt == attempts:
                raise
            log.debug("create failed ambiguously (%s); looking it up before posting again", err.message)
            found = find()
            if found is not None:
                return found
    raise AssertionError("unreachable")


def _json(client: ServiceClient, method: str, response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return client.redact(orjson.loads(response.content))
    except orjson.JSONDecodeError:
        raise NmpError(
            f"{client.service}: {method} {response.request.url} answered HTTP {response.status_code} "
            "with a body that is not JSON",
            status_code=response.status_code,
            url=str(response.request.url),
        ) from None


def _error_detail(response: httpx.Response) -> Any:
    """The server's explanation: FastAPI `detail` (a string or a 422 list), an OpenAI-style error, or the text."""
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return response.text.strip()[:500] or None
    if isinstance(body, dict):
        if "detail" in body:
            detail = body["detail"]
            if isinstance(detail, list):
                # Keep loc/msg/type only: pydantic's `input` echoes the request body, which may hold an API key.
                return [
                    {k: item[k] for k in ("loc", "msg", "type") if k in item} if isinstance(item, dict) else item
                    for item in detail
                ]
            return detail
        error = body.get("error")
        if isinstance(error, dict) and "message" in error:
            return error["message"]
        if "message" in body:
            return body["message"]
    return body


def _detail_text(detail: Any) -> str:
    if detail is None:
        return ""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc") or [])
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if isinstance(detail, str):
        return detail
    return orjson.dumps(detail).decode()[:500]
