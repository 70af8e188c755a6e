"""Request, response and error types shared by the emulated services, plus NMP-style list envelopes."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson

JSON_TYPE = "application/json"
# Marks the sandbox's own calls (evaluator → its NIM proxy): faults model the client's network, not the cluster's.
INTERNAL_HEADER = "X-Sandbox-Internal"


class ApiError(Exception):
    """An answer with a FastAPI-shaped body: `{"detail": ...}`."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def lookup(table: Mapping[Any, Any], key: Any, what: str) -> Any:
    """The item stored under `key`, or NMP's 404 naming `what`."""
    item = table.get(key)
    if item is None:
        raise not_found(what)
    return item


def conflict(what: str) -> ApiError:
    return ApiError(409, f"{what} already exists")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        if not self.body:
            raise ApiError(422, [field_error("missing", ("body",), "Field required", None)])
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise ApiError(
                422, [field_error("json_invalid", ("body", exc.pos), "JSON decode error", {}, {"error": exc.msg})]
            ) from None

    def json_object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise ApiError(
                422,
                [
                    field_error(
                        "model_attributes_type",
                        ("body",),
                        "Input should be a valid dictionary or object to extract fields from",
                        data,
                    )
                ],
            )
        return data

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True).items()}

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def int_arg(self, name: str, default: int, minimum: int = 1) -> int:
        raw = self.arg(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(
                422,
                [
                    field_error(
                        "int_parsing",
                        ("query", name),
                        "Input should be a valid integer, unable to parse string as an integer",
                        raw,
                    )
                ],
            ) from None
        if value < minimum:
            raise ApiError(
                422,
                [
                    field_error(
                        "greater_than_equal",
                        ("query", name),
                        f"Input should be greater than or equal to {minimum}",
                        raw,
                        {"ge": minimum},
                    )
                ],
            )
        return value


@dataclass
class Response:
    status: int = 200
    body: Any = None
    content_type: str = JSON_TYPE
    created: tuple[str, str] | None = None  # (kind, id) when the request created a resource
    headers: dict[str, str] = field(default_factory=dict)
    trace: str | None = None  # an unexpected error's traceback: kept in the request log, never sent

    def encode(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if self.body is None:
            return b""
        return orjson.dumps(self.body)


def field_error(
    kind: str, loc: tuple[Any, ...], msg: str, value: Any, ctx: dict[str, Any] | None = None
) -> dict[str, Any]:
    err: dict[str, Any] = {"type": kind, "loc": list(loc), "msg": msg, "input": value}
    if ctx:
        err["ctx"] = ctx
    return err


def error_body(err: ApiError) -> dict[str, Any]:
    return {"detail": err.detail}


def parse_filters(query: Mapping[str, list[str]], prefix: str = "filter") -> dict[tuple[str, ...], str]:
    """`filter[a][b]=v` → {("a", "b"): "v"}."""
    out: dict[tuple[str, ...], str] = {}
    for key, values in query.items():
        if not key.startswith(prefix + "[") or not key.endswith("]"):
            continue
        parts = tuple(p for p in key[len(prefix) + 1 : -1].split("][") if p)
        if parts and values:
            out[parts] = values[0]
    return out


def value_at(obj: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def matches(value: Any, wanted: str) -> bool:
    if isinstance(value, bool):
        return wanted.lower() == str(value).lower()
    if isinstance(value, list):
        return any(matches(v, wanted) for v in value)
    if value is None:
        return wanted.lower() in ("", "null", "none")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value) == wanted or (wanted.isdigit() and str(value) == str(int(wanted)))


Getter = Callable[[dict[str, Any]], Any]
# Handlers take the sandbox State (typed Any here to keep this module free of the state's imports).
Handler = Callable[[Any, Request], Response]
Route = tuple[str, str, Handler]  # (method, path pattern with {param} / {param:path}, handler)


def paginate(
    items: list[dict[str, Any]],
    req: Request,
    getters: Mapping[str, Getter] | None = None,
    default_sort: str = "-created_at",
) -> dict[str, Any]:
    """Filter, sort and page a list the way NMP v1 list endpoints do."""
    filters = parse_filters(req.query)
    getters = getters or {}
    selected = []
    for item in items:
        ok = True
        for path, wanted in filters.items():
            getter = getters.get(path[0]) if len(path) == 1 else None
            value = getter(item) if getter else value_at(item, path)
            if not matches(value, wanted):
                ok = False
                break
        if ok:
            selected.append(item)
    sort = req.arg("sort") or default_sort
    key = sort.lstrip("-")
    selected.sort(key=lambda d: str(d.get(key) or ""), reverse=sort.startswith("-"))
    page = req.int_arg("page", 1)
    page_size = req.int_arg("page_size", 10)
    chunk = selected[(page - 1) * page_size : page * page_size]
    return {
        "object": "list",
        "data": chunk,
        "pagination": {
            "page": page,
            "page_size": page_size,
            "current_page_size": len(chunk),
            "total_pages": max(1, math.ceil(len(selected) / page_size)),
            "total_results": len(selected),
        },
        "sort": sort,
        "filter": {".".join(path): v for path, v in filters.items()},
    }
