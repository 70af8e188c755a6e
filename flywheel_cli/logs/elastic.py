"""Read log records from Elasticsearch (8.x client; talks to 8.x and 9.x clusters).

Paging uses a point in time plus `search_after`, so a pull is a consistent snapshot and is not capped at the
10,000 hits that `from`/`size` paging allows. Every failure becomes a `RemoteError` whose message names the cluster
and the index but never a credential.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConnectionError,
    ConnectionTimeout,
    Elasticsearch,
    NotFoundError,
    TransportError,
    UnsupportedProductError,
)
from elastic_transport import TlsError

from flywheel_cli.config import ElasticsearchConfig
from flywheel_cli.errors import ConfigError, RemoteError, UsageError

# Long enough for the consumer to process one page between requests; every search renews it.
PIT_KEEP_ALIVE = "2m"
MAX_PAGE_SIZE = 10_000  # index.max_result_window: the largest `size` a cluster accepts by default

# `_shard_doc` is the cheap, unique tiebreaker that a point in time provides: records with the same second keep a
# stable order across pages, so `search_after` neither skips nor repeats any of them.
_SORT: list[dict[str, Any]] = [{"timestamp": {"order": "desc"}}, {"_shard_doc": {"order": "asc"}}]

_T = TypeVar("_T")
# A generator, so that a caller that stops early can close() it and release the point in time at once.
Records = Generator[tuple[str, dict[str, Any]], None, None]
# `https://user:password@host` is a valid cluster URL; messages show it without the user part.
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)?[^/?#@]*@")


def build_query(
    *,
    workload_id: str | None = None,
    client_id: str | None = None,
    since: int | None = None,
    until: int | None = None,
) -> dict[str, Any]:
    """The query for the given filters. `workload_id`/`client_id` are keyword fields; `timestamp` is a date."""
    filters: list[dict[str, Any]] = []
    if workload_id is not None:
        filters.append({"term": {"workload_id": workload_id}})
    if client_id is not None:
        filters.append({"term": {"client_id": client_id}})
    if since is not None or until is not None:
        # Without a format, a number against a date field is read as epoch milliseconds.
        bounds: dict[str, Any] = {"format": "epoch_second"}
        if since is not None:
            bounds["gte"] = since
        if until is not None:
            bounds["lt"] = until
        filters.append({"range": {"timestamp": bounds}})
    if not filters:
        return {"match_all": {}}
    return {"bool": {"filter": filters}}


def iter_es_records(
    url: str,
    index: str,
    *,
    workload_id: str | None = None,
    client_id: str | None = None,
    since: int | None = None,
    until: int | None = None,
    limit: int | None = None,
    api_key: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    verify_certs: bool = True,
    page_size: int = 1000,
    request_timeout: float = 30.0,
) -> Records:
    """Yield (location, _source) pairs, newest first. location = f"es://{index}/{_id}" for error messages.

    `location` names the concrete index that holds the document, which differs from `index` when `index` is an
    alias or a pattern. Arguments are checked now; the cluster is contacted when iteration starts, and the point
    in time is closed when iteration ends, fails or the generator is closed early.
    """
    if not index:
        raise UsageError("no Elasticsearch index given", hint="Pass --es-index NAME or set elasticsearch.index.")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise UsageError(f"Elasticsearch page size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
    if limit is not None and limit < 0:
        raise UsageError(f"--limit must be 0 or more, got {limit}")
    if since is not None and until is not None and since >= until:
        raise UsageError(f"--since ({since}) must be earlier than --until ({until})")
    if api_key and basic_auth:
        raise UsageError(
            "both an Elasticsearch API key and a username/password were given",
            hint="Use one of them: unset the API key variable or the username/password variables.",
        )
    if limit == 0:
        return _no_records()
    target = _Target(url=_strip_userinfo(url), index=index, secrets=_secrets(url, api_key, basic_auth))
    client = _client(target, url, api_key, basic_auth, verify_certs, request_timeout)
    query = build_query(workload_id=workload_id, client_id=client_id, since=since, until=until)
    return _pages(client, target, query, limit, page_size)


def es_settings_from_env(cfg: ElasticsearchConfig) -> dict[str, Any]:
    """Keyword arguments for `iter_es_records` from the config and the env vars it names.

    An API key wins over a username/password when both are set. The result holds secrets: pass it on, never store
    or print it.
    """
    settings: dict[str, Any] = {"verify_certs": cfg.verify_certs, "page_size": cfg.page_size}
    api_key = os.environ.get(cfg.api_key_env) or None
    username = os.environ.get(cfg.username_env) or None
    password = os.environ.get(cfg.password_env) or None
    if api_key:
        settings["api_key"] = api_key
        return settings
    if username and password:
        settings["basic_auth"] = (username, password)
    elif username or password:
        present, missing = (cfg.username_env, cfg.password_env) if username else (cfg.password_env, cfg.username_env)
        raise ConfigError(
            f"{present} is set but {missing} is not",
            hint=f"Set both for basic auth, or set {cfg.api_key_env} to use an API key instead.",
        )
    return settings


@dataclass(frozen=True)
class _Target:
    url: str  # without credentials
    index: str
    secrets: tuple[str, ...] = field(repr=False)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def _secrets(url: str, api_key: str | None, basic_auth: tuple[str, str] | None) -> tuple[str, ...]:
    found = [api_key or "", basic_auth[1] if basic_auth else "", urlsplit(url).password or ""]
    # Longest first, so that a secret containing another one is replaced whole.
    return tuple(sorted({s for s in found if s}, key=len, reverse=True))


def _strip_userinfo(url: str) -> str:
    return _USERINFO.sub(r"\g<scheme>", url)


def _client(
    target: _Target,
    url: str,
    api_key: str | None,
    basic_auth: tuple[str, str] | None,
    verify_certs: bool,
    request_timeout: float,
) -> Elasticsearch:
    try:
        return Elasticsearch(
            url,
            api_key=api_key,
            basic_auth=basic_auth,
            verify_certs=verify_certs,
            # verify_certs=False is an explicit choice; the client would otherwise warn on every request.
            ssl_show_warn=verify_certs,
            request_timeout=request_timeout,
            # Searches and PIT calls are read-only, so retrying a timeout cannot duplicate work.
            retry_on_timeout=True,
            max_retries=2,
        )
    except ValueError as exc:
        raise UsageError(
            f"invalid Elasticsearch URL {target.url!r}: {target.scrub(str(exc))}",
            hint="Use a full URL such as http://localhost:9200 or https://es.example.com:443.",
        ) from None


def _no_records() -> Records:
    yield from ()


def _pages(
    client: Elasticsearch,
    target: _Target,
    query: dict[str, Any],
    limit: int | None,
    page_size: int,
) -> Records:
    try:
        opened = _call(target, "open a point in time on", client.open_point_in_time, index=target.index,
                       keep_alive=PIT_KEEP_ALIVE)
        pit_id: str = opened["id"]
        try:
            remaining = limit
            search_after: list[Any] | None = None
            while remaining is None or remaining > 0:
                size = page_size if remaining is None else min(page_size, remaining)
                page = _call(
                    target,
                    "search",
                    client.search,
                    pit={"id": pit_id, "keep_alive": PIT_KEEP_ALIVE},
                    query=query,
                    sort=_SORT,
                    size=size,
                    search_after=search_after,
                    track_total_hits=False,
                )
                # The cluster may hand back a new id for the same point in time; only the newest is valid.
                pit_id = page.get("pit_id", pit_id)
                _check_shards(target, page)
                hits = page["hits"]["hits"]
                for hit in hits:
                    yield _record(target, hit)
                if remaining is not None:
                    remaining -= len(hits)
                if len(hits) < size:
                    break
                search_after = hits[-1]["sort"]
        finally:
            _close_pit(client, pit_id)
    finally:
        client.close()


def _record(target: _Target, hit: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    location = f"es://{hit.get('_index', target.index)}/{hit['_id']}"
    source = hit.get("_source")
    if not isinstance(source, dict):
        raise RemoteError(
            f"Elasticsearch document {location} at {target.url} has no _source",
            hint="The index must keep _source (the default); flywheel reads the logged records from it.",
            url=target.url,
        )
    return location, source


def _check_shards(target: _Target, page: dict[str, Any]) -> None:
    # A search with failed shards still answers 200 with partial hits; a dataset built from it would silently
    # miss records.
    shards = page.get("_shards") or {}
    if not shards.get("failed"):
        return
    failures = shards.get("failures") or [{}]
    reason = (failures[0].get("reason") or {}).get("reason", "unknown reason")
    raise RemoteError(
        f"Elasticsearch at {target.url}: {shards['failed']} of {shards.get('total', '?')} shards of index "
        f"{target.index!r} failed during the search: {target.scrub(str(reason))}",
        hint="Check the cluster health (GET /_cluster/health) and retry once all shards are available.",
        status_code=200,
        detail=failures,
        url=target.url,
    )


def _close_pit(client: Elasticsearch, pit_id: str) -> None:
    # Best effort: an unclosed point in time expires after PIT_KEEP_ALIVE, and a failure here must not hide the
    # error (or the records) that ended the iteration.
    try:
        client.close_point_in_time(id=pit_id)
    except (ApiError, TransportError):
        pass


def _call(target: _Target, action: str, request: Callable[..., _T], **kwargs: Any) -> _T:
    try:
        return request(**kwargs)
    except UnsupportedProductError:
        raise RemoteError(
            f"the server at {target.url} is not Elasticsearch (it did not send the X-Elastic-Product header)",
            hint="Check --es-url: it must point at an Elasticsearch 8.x or 9.x cluster.",
            url=target.url,
        ) from None
    except AuthenticationException as exc:
        raise RemoteError(
            f"Elasticsearch at {target.url} rejected the credentials (HTTP 401) when asked to {action} "
            f"index {target.index!r}",
            hint="Check the API key, or the username and password, in the environment variables that "
            "elasticsearch.api_key_env / username_env / password_env name.",
            status_code=401,
            detail=_error_detail(target, exc),
            url=target.url,
        ) from None
    except AuthorizationException as exc:
        raise RemoteError(
            f"Elasticsearch at {target.url} refused to {action} index {target.index!r} (HTTP 403): "
            f"{_reason(target, exc)}",
            hint="The credentials need the 'read' privilege on the index.",
            status_code=403,
            detail=_error_detail(target, exc),
            url=target.url,
        ) from None
    except NotFoundError as exc:
        if _error_type(exc) == "index_not_found_exception":
            raise RemoteError(
                f"index {target.index!r} does not exist on Elasticsearch at {target.url}",
                hint="Check --es-index (GET /_cat/indices lists the indices).",
                status_code=404,
                detail=_error_detail(target, exc),
                url=target.url,
            ) from None
        raise RemoteError(
            f"Elasticsearch at {target.url} answered 404 when asked to {action} index {target.index!r}: "
            f"{_reason(target, exc)}",
            hint="If the point in time expired, run the import again.",
            status_code=404,
            detail=_error_detail(target, exc),
            url=target.url,
        ) from None
    except ApiError as exc:
        raise RemoteError(
            f"Elasticsearch at {target.url} failed to {action} index {target.index!r} "
            f"(HTTP {exc.status_code}): {_reason(target, exc)}",
            hint="Check the cluster logs; the request is read-only and safe to retry.",
            status_code=exc.status_code,
            detail=_error_detail(target, exc),
            url=target.url,
        ) from None
    except TlsError as exc:
        raise RemoteError(
            f"TLS handshake with Elasticsearch at {target.url} failed: {target.scrub(str(exc))}",
            hint="If the cluster uses a self-signed certificate, set elasticsearch.verify_certs = false "
            "(or FLYWHEEL_ELASTICSEARCH__VERIFY_CERTS=false).",
            url=target.url,
        ) from None
    except (ConnectionError, ConnectionTimeout) as exc:
        raise RemoteError(
            f"cannot reach Elasticsearch at {target.url}: {target.scrub(str(exc))}",
            hint="Check --es-url and that the cluster is up and reachable from this machine.",
            url=target.url,
        ) from None
    except TransportError as exc:
        raise RemoteError(
            f"talking to Elasticsearch at {target.url} failed: {target.scrub(str(exc))}",
            url=target.url,
        ) from None


def _error_type(exc: ApiError) -> str | None:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        kind = body["error"].get("type")
        return kind if isinstance(kind, str) else None
    return None


def _reason(target: _Target, exc: ApiError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}".rstrip(": ")
    elif isinstance(body, dict) and "error" in body:
        text = str(body["error"])
    else:
        text = str(exc.message)
    return target.scrub(text)


def _error_detail(target: _Target, exc: ApiError) -> dict[str, Any]:
    return {"status": exc.status_code, "type": _error_type(exc), "reason": _reason(target, exc)}
