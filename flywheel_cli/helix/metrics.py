"""Helix metric bundles: plain JSON around a built-in metric's configuration (no code is shipped).

A bundle carries the metric type, its output contracts, the secrets it needs and an `inline` payload: the metric's
JSON configuration plus the sha256 of that configuration in compact, key-sorted JSON (the digest the evaluator
computes for itself; the server recomputes it and treats ours as informational). The server checks that the
outputs are exactly the ones the metric type produces, so they are spelled here as the evaluator spells them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flywheel_cli.helix import eval_rows

# The output contract every built-in numeric score declares (`MetricOutputSpec.continuous_score`).
CONTINUOUS_SCORE = {"description": "Continuous numeric metric value.", "title": "ContinuousScore", "type": "number"}
TOOL_CALLING_OUTPUTS = ("function_name_accuracy", "function_name_and_args_accuracy")


def digest(metric: dict[str, Any]) -> str:
    """sha256 of the metric in compact, key-sorted JSON, ASCII-escaped (as Python's json.dumps writes it)."""
    canonical = json.dumps(metric, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def bundle(
    metric: dict[str, Any], outputs: tuple[str, ...], *, secrets: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "bundle_kind": "metric-bundle",
        "bundle_format_version": "v1",
        "metric_type": metric["type"],
        "outputs": [{"name": name, "value_json_schema": dict(CONTINUOUS_SCORE)} for name in outputs],
        "secrets": dict(secrets or {}),
        "payload": {"kind": "inline", "metric": metric, "digest": digest(metric)},
    }


def tool_calling() -> dict[str, Any]:
    """Exact function names, and names plus arguments, against the logged tool calls."""
    return bundle({"type": "tool-calling", "reference": eval_rows.REFERENCE_TEMPLATE}, TOOL_CALLING_OUTPUTS)


@dataclass(frozen=True)
class JudgeModel:
    """An OpenAI-compatible endpoint the judge is called at (`url` ends before /chat/completions)."""

    url: str
    name: str
    api_key_secret: str | None = None  # a Helix secret ("name" or "workspace/name"), never the key itself


def secret_env(secret: str) -> str:
    """The environment variable the evaluator exposes a secret as (its own naming rule)."""
    env = secret.replace("-", "_").replace("/", "_")
    return f"_{env}" if env[:1].isdigit() else env


def llm_judge(
    model: JudgeModel, *, score: str, minimum: int, maximum: int, pattern: str, system: str, user: str
) -> dict[str, Any]:
    """An LLM judge that rates one score, read from its answer with `pattern` (first group)."""
    endpoint: dict[str, Any] = {"url": model.url, "name": model.name}
    secrets: dict[str, str] = {}
    if model.api_key_secret:
        endpoint["api_key_secret"] = model.api_key_secret
        secrets[secret_env(model.api_key_secret)] = model.api_key_secret
    metric = {
        "type": "llm-judge",
        "model": endpoint,
        "scores": [
            {
                "name": score,
                "minimum": minimum,
                "maximum": maximum,
                "parser": {"type": "regex", "pattern": pattern, "method": "search"},
            }
        ],
        "prompt_template": {"messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]},
    }
    return bundle(metric, (score,), secrets=secrets)
