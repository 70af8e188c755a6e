"""Checking request bodies against a Helix server's OpenAPI component schemas, without a schema library.

Covers the JSON Schema subset FastAPI emits for these models: $ref, type (with null), properties, required,
additionalProperties (false or a schema), anyOf/oneOf, enum, const, items, minItems, min/maxLength, pattern,
minimum/maximum. `trim` keeps only the paths flywheel calls and the components they reach, for a fixture.
"""

from __future__ import annotations

import re
from typing import Any

# Paths flywheel calls on Helix (with the collection routes of the job plugins).
FLYWHEEL_PATHS = (
    "/apis/auth/discovery",
    "/apis/entities/v2/workspaces",
    "/apis/entities/v2/workspaces/{name}",
    "/apis/entities/v2/workspaces/{workspace}/projects",
    "/apis/entities/v2/workspaces/{workspace}/projects/{name}",
    "/apis/secrets/v2/workspaces/{workspace}/secrets",
    "/apis/secrets/v2/workspaces/{workspace}/secrets/{name}",
    "/apis/files/v2/workspaces/{workspace}/filesets",
    "/apis/files/v2/workspaces/{workspace}/filesets/{name}",
    "/apis/files/v2/workspaces/{workspace}/filesets/{name}/-/{path}",
    "/apis/files/v2/workspaces/{workspace}/filesets/{name}/files",
    "/apis/models/v2/workspaces/{workspace}/providers",
    "/apis/models/v2/workspaces/{workspace}/providers/{name}",
    "/apis/models/v2/workspaces/{workspace}/models",
    "/apis/models/v2/workspaces/{workspace}/models/{name}",
    "/apis/models/v2/workspaces/{workspace}/deployment-configs",
    "/apis/models/v2/workspaces/{workspace}/deployment-configs/{name}",
    "/apis/models/v2/workspaces/{workspace}/deployments",
    "/apis/models/v2/workspaces/{workspace}/deployments/{name}",
    "/apis/inference-gateway/v2/workspaces/{workspace}/openai/-/v1/models",
    "/apis/inference-gateway/v2/workspaces/{workspace}/openai/-/{trailing_uri}",
    "/apis/jobs/v2/execution-profiles",
    "/apis/evals/v2/workspaces/{workspace}/evaluate/jobs",
    "/apis/evals/v2/workspaces/{workspace}/evaluate/jobs/{name}",
    "/apis/evals/v2/workspaces/{workspace}/evaluate/jobs/{name}/status",
    "/apis/evals/v2/workspaces/{workspace}/evaluate/jobs/{name}/cancel",
    "/apis/evals/v2/workspaces/{workspace}/evaluate/jobs/{name}/logs",
    "/apis/evals/v2/workspaces/{workspace}/evaluate/jobs/{job}/results/{name}/download",
    "/apis/customization/v2/workspaces/{workspace}/automodel/jobs",
    "/apis/customization/v2/workspaces/{workspace}/automodel/jobs/{name}",
    "/apis/customization/v2/workspaces/{workspace}/automodel/jobs/{name}/status",
    "/apis/customization/v2/workspaces/{workspace}/automodel/jobs/{name}/cancel",
)


def validate(value: Any, schema: dict[str, Any], components: dict[str, Any], path: str = "$") -> list[str]:
    """Every place where `value` does not fit `schema` (empty when it fits)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return validate(value, components[name], components, path)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [validate(value, option, components, path) for option in schema[key]]
            if any(not problems for problems in options):
                return []
            return min(options, key=len)
    problems: list[str] = []
    if "const" in schema and value != schema["const"]:
        return [f"{path}: {value!r} is not {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} is not one of {schema['enum']}"]
    kind = schema.get("type")
    if kind is not None and not _is(value, kind):
        return [f"{path}: {type(value).__name__} is not {kind}"]
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"{path}: missing required {name!r}")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                problems += validate(item, properties[name], components, f"{path}.{name}")
            elif extra is False:
                problems.append(f"{path}: unknown key {name!r}")
            elif isinstance(extra, dict):
                problems += validate(item, extra, components, f"{path}.{name}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{path}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                problems += validate(item, schema["items"], components, f"{path}[{i}]")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            problems.append(f"{path}: length {len(value)} out of bounds")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{path}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{path}: {value} > {schema['maximum']}")
    return problems


def request_schema(document: dict[str, Any], path: str, method: str = "post") -> dict[str, Any]:
    body = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return body


def trim(document: dict[str, Any]) -> dict[str, Any]:
    """The paths flywheel calls and every component schema they reach, from a full Helix OpenAPI document."""
    paths = {p: document["paths"][p] for p in FLYWHEEL_PATHS if p in document["paths"]}
    schemas = document["components"]["schemas"]
    keep: dict[str, Any] = {}
    pending = _refs(paths)
    while pending:
        name = pending.pop()
        if name in keep or name not in schemas:
            continue
        keep[name] = schemas[name]
        pending |= _refs(schemas[name])
    return {"info": document.get("info", {}), "paths": paths, "components": {"schemas": dict(sorted(keep.items()))}}


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _is(value: Any, kind: str | list[str]) -> bool:
    kinds = kind if isinstance(kind, list) else [kind]
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    return any(checks[k](value) for k in kinds)
