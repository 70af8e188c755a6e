"""The documented shape of `flywheel report --format json` (version 1), as JSON Schema (draft 2020-12).

Consumers check `version` first: a new version may change any field; version 1 only ever gains optional ones.
Scores are normalised to [0, 1]; `raw` is on the metric's own scale (similarity 1–10). CI bounds are the 95 %
percentile-bootstrap interval of the mean (failed samples counted as 0), null when no samples were stored.
"""

from __future__ import annotations

from typing import Any


def _obj(props: dict[str, Any], *, extra: Any = False) -> dict[str, Any]:
    return {"type": "object", "required": list(props), "properties": props, "additionalProperties": extra}


def _t(*types: str) -> dict[str, Any]:
    return {"type": list(types) if len(types) > 1 else types[0]}


_STR = _t("string")
_STR_N = _t("string", "null")
_NUM = _t("number")
_NUM_N = _t("number", "null")
_INT_N = _t("integer", "null")
_BOOL = _t("boolean")
_RATIOS = {"type": "object", "additionalProperties": _NUM}
_PAIR = _obj({"nim": _STR, "experiment": {"enum": ["base", "icl", "customized"]}})

SCORE = _obj(
    {
        "value": _NUM,
        "raw": _NUM,
        "count": _INT_N,
        "failed": _t("integer"),
        "ci_low": _NUM_N,
        "ci_high": _NUM_N,
    }
)

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "flywheel report",
    **_obj(
        {
            "version": {"const": 1},
            "kind": {"const": "report"},
            "run": _obj(
                {
                    "id": _STR,
                    "status": _STR,
                    "client_id": _STR_N,
                    "created_at": _NUM,
                    "finished_at": _NUM_N,
                    "error": _STR_N,
                }
            ),
            "workload": _obj({"id": _STR, "type": {"enum": ["tool_calling", "generic", "unknown"]}}),
            "datasets": _obj(
                {"id": _STR_N, "eval_records": _INT_N, "train_records": _INT_N, "val_records": _INT_N, "seed": _INT_N}
            ),
            "platform": _obj({"kind": _STR, "endpoint": _STR}),
            "simulated": _BOOL,
            "metrics": {"type": "array", "items": _STR},
            "headline_metrics": {"type": "array", "items": _STR},
            "reference": _obj(
                {
                    "label": _STR,
                    "model": _STR_N,
                    "price_per_1k": _NUM_N,
                    "scores": {"type": "object", "additionalProperties": SCORE},
                }
            ),
            "nims": {
                "type": "array",
                "items": _obj(
                    {
                        "model_name": _STR,
                        "status": _STR,
                        "failures": {"type": "array", "items": _obj({"stage": _STR, "error": _STR_N})},
                        "size_b": _NUM_N,
                        "price_per_1k": _NUM_N,
                        "customization": {
                            "anyOf": [
                                {"type": "null"},
                                _obj(
                                    {
                                        "status": _STR,
                                        "error": _STR_N,
                                        "output_model": _STR_N,
                                        "epochs_completed": _INT_N,
                                        "steps_completed": _INT_N,
                                        "train_loss": _NUM_N,
                                        "val_loss": _NUM_N,
                                        "runtime_seconds": _NUM_N,
                                        "job_id": _INT_N,
                                    }
                                ),
                            ]
                        },
                    }
                ),
            },
            "experiments": {
                "type": "array",
                "items": _obj(
                    {
                        "nim": _STR,
                        "experiment": {"enum": ["base", "icl", "customized"]},
                        "status": _STR,
                        "failed_stage": _STR_N,
                        "error": _STR_N,
                        "skip_reason": _STR_N,
                        "runtime_seconds": _NUM_N,
                        "job_id": _INT_N,
                        "target_model": _STR_N,
                        "relative": _RATIOS,
                        "min_relative": _NUM_N,
                        "qualifies": _BOOL,
                        "cost_per_1k": _NUM_N,
                        "saving_per_1k": _NUM_N,
                        "saving_share": _NUM_N,
                    }
                ),
            },
            "scores": {
                "type": "array",
                "items": _obj(
                    {
                        "nim": _STR,
                        "experiment": {"enum": ["base", "icl", "customized"]},
                        "metric": _STR,
                        **SCORE["properties"],
                        "relative": _NUM_N,
                    }
                ),
            },
            "verdict": _obj(
                {
                    "qualified": _BOOL,
                    "nim": _STR_N,
                    "experiment": {"enum": ["base", "icl", "customized", None]},
                    "basis": {"enum": ["price", "size"]},
                    "threshold": _NUM,
                    "headline_metrics": {"type": "array", "items": _STR},
                    "qualifying": {"type": "array", "items": _PAIR},
                    "best": {"anyOf": [{"type": "null"}, _PAIR]},
                    "shortfall": _RATIOS,
                    "reason": _STR,
                    "text": _STR,
                }
            ),
            "notes": {"type": "array", "items": _STR},
        }
    ),
}


# A small checker for the JSON Schema keywords REPORT_SCHEMA uses, so that consumers (and the tests) can validate a
# report without a jsonschema dependency: `schema_errors(doc, REPORT_SCHEMA) == []`.
_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def schema_errors(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """The JSON Schema keywords REPORT_SCHEMA uses: type, const, enum, anyOf, required, properties,
    additionalProperties, items. Unknown keywords would be a silent pass, so they fail loudly."""
    known = {"$schema", "title", "type", "const", "enum", "anyOf", "required", "properties", "additionalProperties", "items"}
    if not set(schema) <= known:
        # An unknown keyword would silently pass: refuse to give a verdict instead.
        raise ValueError(f"{path}: schema keywords this checker does not know: {sorted(set(schema) - known)}")
    if "anyOf" in schema:
        if all(schema_errors(value, option, path) for option in schema["anyOf"]):
            return [f"{path}: matches no alternative"]
        return []
    if "const" in schema and value != schema["const"]:
        return [f"{path}: {value!r} is not {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} not in {schema['enum']!r}"]
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            return [f"{path}: {value!r} is not {'/'.join(types)}"]
    errors: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties", {})
        errors += [f"{path}: missing {key!r}" for key in schema.get("required", []) if key not in value]
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                errors += schema_errors(item, props[key], f"{path}.{key}")
            elif extra is False:
                errors.append(f"{path}: unexpected {key!r}")
            elif isinstance(extra, dict):
                errors += schema_errors(item, extra, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{path}[{i}]")
    return errors
