"""A loopback Elasticsearch double for the log reader's tests.

It speaks the endpoints the official 8.x client uses to page through an index with a point in time and
`search_after`, and evaluates what it is sent for real: bool/term/range/match_all queries (a `date`-mapped
`timestamp`, so numbers are epoch milliseconds unless the range names `"format": "epoch_second"`), multi-key sorts
including `_shard_doc`, `search_after`, `size`. Errors have the shape and status codes of a real cluster. Every
request is recorded for assertions.
"""

from __future__ import annotations

import base64
import bisect
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

VERSION = "8.15.3"
DATE_FIELDS = frozenset({"timestamp"})


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: Any


@dataclass
class _Pit:
    index: str
    docs: tuple[dict[str, Any], ...]  # the snapshot taken when it was opened
    keep_alive: str
    open: bool = True
    results: dict[str, list[Any]] = field(default_factory=dict)


class EsError(Exception):
    def __init__(self, status: int, error: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(error.get("reason", ""))
        self.status = status
        self.error = error
        self.headers = headers or {}


@dataclass(repr=False)
class FakeElasticsearch:
    """In-memory indices of `{"_id", "_source"}` documents, plus optional credentials and faults.

    With `api_keys` or `users` set, every request must authenticate. `forbidden_indices` answer 403 to the
    authenticated caller; `failed_shards` makes searches answer 200 with that many shard failures, and
    `search_error` makes them fail outright;
    `product_header=False` impersonates a server that is not Elasticsearch.
    """

    indices: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    api_keys: set[str] = field(default_factory=set)
    users: dict[str, str] = field(default_factory=dict)
    forbidden_indices: set[str] = field(default_factory=set)
    failed_shards: int = 0
    search_error: tuple[int, dict[str, Any]] | None = None  # (status, error) that every search answers
    product_header: bool = True
    requests: list[RecordedRequest] = field(default_factory=list)
    pits: dict[str, _Pit] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pit_counter: int = 0

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}: {len(docs)} docs" for name, docs in self.indices.items())
        return f"FakeElasticsearch({sizes})"

    def add(self, index: str, docs: list[dict[str, Any]]) -> None:
        """Append documents (`{"_id": ..., "_source": {...}}`) to an index, creating it when missing."""
        self.indices.setdefault(index, []).extend(docs)

    def reset_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    # --- HTTP entry point -------------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._lock:
            self.requests.append(RecordedRequest(method, parts.path, query, headers, body))
        try:
            user = self._authenticate(headers)
            status, payload = self._route(method, parts.path, query, body, user)
            return status, payload, {}
        except EsError as exc:
            return exc.status, {"error": {"root_cause": [exc.error], **exc.error}, "status": exc.status}, exc.headers

    def _authenticate(self, headers: dict[str, str]) -> str | None:
        if not self.api_keys and not self.users:
            return None
        header = headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme == "ApiKey" and credential in self.api_keys:
            return "api_key"
        if scheme == "Basic":
            try:
                user, _, password = base64.b64decode(credential).decode().partition(":")
            except ValueError:
                user, password = "", ""
            if self.users.get(user) == password and user:
                return user
        reason = (
            "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
            if header
            else "missing authentication credentials for REST request [/]"
        )
        raise EsError(
            401,
            {"type": "security_exception", "reason": reason},
            {"WWW-Authenticate": 'Basic realm="security" charset="UTF-8", ApiKey'},
        )

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, user: str | None
    ) -> tuple[int, Any]:
        segments = [s for s in path.split("/") if s]
        if method in ("GET", "HEAD") and not segments:
            return 200, self._info()
        if method == "POST" and len(segments) == 2 and segments[1] == "_pit":
            return 200, self._open_pit(segments[0], query, user)
        if method in ("POST", "GET") and segments == ["_search"]:
            return 200, self._search(body)
        if method == "DELETE" and segments == ["_pit"]:
            return self._close_pit(body)
        reason = f"no handler found for uri [{path}] and method [{method}]"
        raise EsError(400, {"type": "illegal_argument_exception", "reason": reason})

    # --- endpoints --------------------------------------------------------------------------------------------

    @staticmethod
    def _info() -> dict[str, Any]:
        return {
            "name": "es-fake-0",
            "cluster_name": "flywheel-test",
            "cluster_uuid": "bHVrZS1mYWtlLWNsdXN0ZXI",
            "version": {
                "number": VERSION,
                "build_flavor": "default",
                "build_type": "docker",
                "lucene_version": "9.11.1",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0",
            },
            "tagline": "You Know, for Search",
        }

    def _open_pit(self, index: str, query: dict[str, str], user: str | None) -> dict[str, Any]:
        if "keep_alive" not in query:
            raise EsError(400, {"type": "action_request_validation_exception",
                                "reason": "Validation Failed: 1: [keep_alive] is not specified;"})
        if index not in self.indices:
            raise EsError(404, {
                "type": "index_not_found_exception",
                "reason": f"no such index [{index}]",
                "resource.type": "index_or_alias",
                "resource.id": index,
                "index_uuid": "_na_",
                "index": index,
            })
        if index in self.forbidden_indices:
            raise EsError(403, {
                "type": "security_exception",
                "reason": f"action [indices:data/read/open_point_in_time] is unauthorized for user [{user}] "
                f"with effective roles [reader] on indices [{index}], this action is granted by the index "
                "privileges [read,all]",
            })
        with self._lock:
            self._pit_counter += 1
            pit_id = f"pit-{self._pit_counter}-0"
            self.pits[pit_id] = _Pit(index, tuple(self.indices[index]), query["keep_alive"])
        return {"id": pit_id, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}

    def _search(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("pit"), dict):
            raise EsError(400, {"type": "parsing_exception", "reason": "this double only serves searches with a pit"})
        pit = self._live_pit(body["pit"].get("id"))
        if self.search_error is not None:
            raise EsError(*self.search_error)
        sort = _parse_sort(body.get("sort", [{"_score": "desc"}]))
        size = body.get("size", 10)
        if not isinstance(size, int) or size < 0:
            raise EsError(400, {"type": "x_content_parse_exception", "reason": "[size] must be a non-negative integer"})
        if size > 10_000:
            raise EsError(400, {"type": "illegal_argument_exception",
                                "reason": "Result window is too large, from + size must be less than or equal to: "
                                f"[10000] but was [{size}]."})
        query = body.get("query", {"match_all": {}})
        rows = self._evaluate(pit, query, sort)
        start = 0
        search_after = body.get("search_after")
        if search_after is not None:
            if len(search_after) != len(sort):
                raise EsError(400, {"type": "illegal_argument_exception",
                                    "reason": f"search_after has {len(search_after)} value(s) but sort has "
                                    f"{len(sort)}."})
            start = bisect.bisect_right(rows, _sort_key([o for _, o in sort], search_after), key=lambda row: row[0])
        page = rows[start:start + size]
        with self._lock:
            # Real clusters may return a new id for the same point in time; the client must use the newest one.
            new_id = _next_pit_id(body["pit"]["id"])
            self.pits[new_id] = pit
        failed = self.failed_shards
        shards: dict[str, Any] = {"total": 1 + failed, "successful": 1, "skipped": 0, "failed": failed}
        if failed:
            shards["failures"] = [{
                "shard": 1, "index": pit.index, "node": "es-fake-0",
                "reason": {"type": "node_not_connected_exception", "reason": "[es-fake-1] Node not connected"},
            }]
        return {
            "pit_id": new_id,
            "took": 1,
            "timed_out": False,
            "_shards": shards,
            "hits": {
                "max_score": None,
                "hits": [
                    {"_index": pit.index, "_id": doc["_id"], "_score": None, "_source": doc["_source"], "sort": values}
                    for _, values, doc in page
                ],
            },
        }

    @staticmethod
    def _evaluate(pit: _Pit, query: Any, sort: list[tuple[str, str]]) -> list[tuple[Any, list[Any], dict[str, Any]]]:
        """Matching documents in sort order, as (sort key, sort values, doc). Cached per point in time: the
        snapshot cannot change, and paging re-sends the same query and sort."""
        cache_key = json.dumps([query, sort], sort_keys=True)
        rows = pit.results.get(cache_key)
        if rows is None:
            matcher = _compile(query)
            orders = [order for _, order in sort]
            rows = []
            for pos, doc in enumerate(pit.docs):
                if matcher(doc["_source"]):
                    values = _sort_values(doc, pos, sort)
                    rows.append((_sort_key(orders, values), values, doc))
            rows.sort(key=lambda row: row[0])
            pit.results[cache_key] = rows
        return rows

    def _close_pit(self, body: Any) -> tuple[int, dict[str, Any]]:
        pit_id = body.get("id") if isinstance(body, dict) else None
        if not pit_id:
            raise EsError(400, {"type": "action_request_validation_exception",
                                "reason": "Validation Failed: 1: no pit ids specified;"})
        with self._lock:
            pit = self.pits.get(pit_id)
            if pit is None or not pit.open:
                return 404, {"succeeded": True, "num_freed": 0}
            pit.open = False
        return 200, {"succeeded": True, "num_freed": 1}

    def _live_pit(self, pit_id: Any) -> _Pit:
        with self._lock:
            pit = self.pits.get(pit_id) if isinstance(pit_id, str) else None
        if pit is None or not pit.open:
            raise EsError(404, {"type": "search_context_missing_exception",
                                "reason": f"No search context found for id [{pit_id}]"})
        return pit

    def open_pit_count(self) -> int:
        with self._lock:
            return len({id(p) for p in self.pits.values() if p.open})


def _next_pit_id(pit_id: str) -> str:
    stem, _, generation = pit_id.rpartition("-")
    return f"{stem}-{int(generation) + 1}"


# --- query evaluation -----------------------------------------------------------------------------------------

def _compile(query: Any) -> Any:
    if not isinstance(query, dict) or len(query) != 1:
        raise EsError(400, {"type": "parsing_exception", "reason": "query malformed, must start with a single key"})
    (kind, spec), = query.items()
    if kind == "match_all":
        return lambda source: True
    if kind == "term":
        (name, value), = spec.items()
        if isinstance(value, dict):
            value = value["value"]
        return lambda source: source.get(name) == value
    if kind == "range":
        (name, bounds), = spec.items()
        return _range_matcher(name, bounds)
    if kind == "bool":
        unknown = set(spec) - {"filter", "must", "must_not", "should"}
        if unknown:
            raise EsError(400, {"type": "x_content_parse_exception",
                                "reason": f"[bool] unknown field {sorted(unknown)}"})
        parts = {
            key: [_compile(q) for q in _as_list(spec.get(key, []))] for key in ("filter", "must", "must_not", "should")
        }
        required = parts["filter"] + parts["must"]

        def matches(source: dict[str, Any]) -> bool:
            if not all(m(source) for m in required) or any(m(source) for m in parts["must_not"]):
                return False
            return not parts["should"] or bool(required) or any(m(source) for m in parts["should"])

        return matches
    raise EsError(400, {"type": "parsing_exception", "reason": f"unknown query [{kind}]"})


def _range_matcher(name: str, bounds: dict[str, Any]) -> Any:
    unknown = set(bounds) - {"gte", "gt", "lte", "lt", "format"}
    if unknown:
        raise EsError(400, {"type": "parsing_exception", "reason": f"[range] query does not support {sorted(unknown)}"})
    fmt = bounds.get("format")
    if fmt not in (None, "epoch_second", "epoch_millis"):
        raise EsError(400, {"type": "parse_exception", "reason": f"this double does not parse date format [{fmt}]"})
    scale = 1000 if (name in DATE_FIELDS and fmt == "epoch_second") else 1
    limits = {op: float(value) * scale for op, value in bounds.items() if op != "format"}

    def matches(source: dict[str, Any]) -> bool:
        value = _field_value(source, name)
        if value is None:
            return False
        return (
            ("gte" not in limits or value >= limits["gte"])
            and ("gt" not in limits or value > limits["gt"])
            and ("lte" not in limits or value <= limits["lte"])
            and ("lt" not in limits or value < limits["lt"])
        )

    return matches


def _field_value(source: dict[str, Any], name: str) -> Any:
    value = source.get(name)
    if name in DATE_FIELDS and isinstance(value, int | float):
        # Documents hold epoch seconds; a `date` field indexes them as epoch milliseconds.
        return int(value * 1000)
    return value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _parse_sort(spec: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for item in _as_list(spec):
        if isinstance(item, str):
            out.append((item, "desc" if item == "_score" else "asc"))
            continue
        (name, how), = item.items()
        order = how if isinstance(how, str) else how.get("order", "asc")
        if order not in ("asc", "desc"):
            raise EsError(400, {"type": "illegal_argument_exception", "reason": f"Unknown SortOrder [{order}]"})
        out.append((name, order))
    return out


def _sort_values(doc: dict[str, Any], position: int, sort: list[tuple[str, str]]) -> list[Any]:
    values: list[Any] = []
    for name, _ in sort:
        if name == "_shard_doc":
            values.append(position)  # one shard: the segment-level doc id is the insertion position
        elif name == "_score":
            values.append(None)
        else:
            values.append(_field_value(doc["_source"], name))
    return values


def _sort_key(orders: list[str], values: list[Any]) -> tuple[Any, ...]:
    key: list[Any] = []
    for order, value in zip(orders, values, strict=True):
        # Missing values sort last in either direction, like Elasticsearch's default `missing: _last`.
        if value is None:
            key.append((1, 0))
        elif order == "asc":
            key.append((0, value))
        elif isinstance(value, int | float):
            key.append((0, -value))
        else:
            raise EsError(400, {"type": "illegal_argument_exception",
                                "reason": "this double sorts descending on numeric fields only"})
    return tuple(key)


# --- serving --------------------------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; do not wait for a delayed ACK
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra = self.server.fake.handle(self.command, self.path, headers, raw)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.elasticsearch+json;compatible-with=8")
        self.send_header("Content-Length", str(len(data)))
        # A real cluster's security layer answers 401 before the product header is added.
        if status != 401 and self.server.fake.product_header:
            self.send_header("X-Elastic-Product", "Elasticsearch")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeElasticsearch) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


@contextmanager
def serve(fake: FakeElasticsearch) -> Iterator[str]:
    """Serve `fake` on 127.0.0.1 (a free port) for the duration of the block; yields the base URL."""
    server = _Server(fake)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
