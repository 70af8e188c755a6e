"""Evaluator v1 `custom` config semantics: jinja templates over dataset rows, and the metrics flywheel uses.

Templates see `item` (the dataset row) and, in judge templates, `sample` ({"output_text", "response"}).
`tool-calling` yields function_name_accuracy and function_name_and_args_accuracy per sample (arguments compared as
parsed JSON, so string and object encodings are equal). `llm-judge` yields the scores declared under
`params.scores`, each read from the judge's answer with its regex parser; an answer the parser cannot read gives None
(counted as NaN in the aggregate, never a crash).
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

import jinja2

from flywheel_cli.sandbox.messages import as_dict, parse_tool_calls, same_value

DEFAULT_GROUND_TRUTH = "{{ item.tool_calls | tojson }}"
_PASSTHROUGH = ("max_tokens", "temperature", "top_p", "stop", "seed", "n", "nvext")


class EvalFailure(Exception):
    """The job cannot go on; the message becomes the job's status message."""


def _plain(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _tojson(value: Any, indent: int | None = None) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, indent=indent)


_ENV = jinja2.Environment(undefined=jinja2.ChainableUndefined, autoescape=False, keep_trailing_newline=True)
_ENV.filters["tojson"] = _tojson


@lru_cache(maxsize=256)
def _compiled(template: str) -> jinja2.Template:
    return _ENV.from_string(template)


def render(template: str, **context: Any) -> str:
    try:
        return _compiled(template).render(**context)
    except jinja2.TemplateError as exc:
        raise EvalFailure(f"template error: {exc}") from None


def _render_json(template: str, what: str, **context: Any) -> Any:
    text = render(template, **context).strip()
    if text in ("", "null", "None"):
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise EvalFailure(f"{what} did not render to JSON: {text[:120]!r}") from None


def render_messages(template: Any, what: str, **context: Any) -> list[dict[str, Any]]:
    if isinstance(template, str):
        messages = _render_json(template, what, **context)
    elif isinstance(template, list):
        messages = [
            dict(m, content=render(m["content"], **context))
            if isinstance(m, dict) and isinstance(m.get("content"), str)
            else m
            for m in template
        ]
    else:
        raise EvalFailure(f"{what} is required (a jinja string or a list of messages)")
    if not isinstance(messages, list) or not messages:
        raise EvalFailure(f"{what} rendered to {type(messages).__name__}, not a list of messages")
    return messages


def _render_value(value: Any, **context: Any) -> Any:
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        text = render(value, **context).strip()
        if text.startswith(("{", "[")):
            try:
                return json.loads(text)
            except ValueError:
                return text
        return text
    return value


def chat_request(template: dict[str, Any], item: Any, model: str, params: dict[str, Any]) -> dict[str, Any]:
    """The chat-completions body for one dataset row of a `chat-completion` task."""
    body: dict[str, Any] = {
        "model": model,
        "messages": render_messages(template.get("messages"), "template.messages", item=item),
    }
    tools = template.get("tools")
    if isinstance(tools, str):
        tools = _render_json(tools, "template.tools", item=item)
    if tools:
        body["tools"] = tools
    if template.get("tool_choice") is not None and tools:
        body["tool_choice"] = _render_value(template["tool_choice"], item=item)
    for key in _PASSTHROUGH:
        if key in template:
            body[key] = _render_value(template[key], item=item)
        elif key in params:
            body[key] = params[key]
    return body


def tool_calling_scores(metric_params: dict[str, Any], item: Any, response: dict[str, Any]) -> dict[str, float]:
    truth_template = metric_params.get("tool_calls_ground_truth", DEFAULT_GROUND_TRUTH)
    truth_raw = (
        _render_json(truth_template, "tool_calls_ground_truth", item=item)
        if isinstance(truth_template, str)
        else truth_template
    )
    truth = parse_tool_calls(truth_raw) or ()
    message = first_message(response)
    predicted = parse_tool_calls(message.get("tool_calls")) or ()
    names = len(truth) == len(predicted) and all(t.name == p.name for t, p in zip(truth, predicted, strict=True))
    args = names and all(
        t.arguments is not None and p.arguments is not None and same_value(t.arguments, p.arguments)
        for t, p in zip(truth, predicted, strict=True)
    )
    return {"function_name_accuracy": float(names), "function_name_and_args_accuracy": float(args)}


def first_message(response: dict[str, Any]) -> dict[str, Any]:
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict):
            return message
    return {}


def judge_request(metric_params: dict[str, Any], item: Any, sample: dict[str, Any], model: str) -> dict[str, Any]:
    template = metric_params.get("template")
    if not isinstance(template, dict):
        raise EvalFailure("llm-judge metric needs params.template with messages")
    body: dict[str, Any] = {
        "model": model,
        "messages": render_messages(template.get("messages"), "judge template.messages", item=item, sample=sample),
    }
    for key in _PASSTHROUGH:
        if key in template:
            body[key] = template[key]
    return body


def parse_scores(scores: dict[str, Any], answer: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, spec in scores.items():
        spec = as_dict(spec)
        pattern = as_dict(spec.get("parser")).get("pattern")
        if not isinstance(pattern, str):
            pattern = r"(-?\d+(?:\.\d+)?)"
        found = re.search(pattern, answer)
        if found is None:
            out[name] = None
            continue
        raw = found.group(1) if found.groups() else found.group(0)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            out[name] = None
            continue
        out[name] = float(int(value)) if spec.get("type") == "int" else value
    return out


def aggregate(rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per-sample rows → `tasks.<task>.metrics.<metric>.scores.<score>` with value and stats."""
    tasks: dict[str, Any] = {}
    for task, samples in rows.items():
        collected: dict[str, dict[str, list[float | None]]] = {}
        for sample in samples:
            for metric, result in sample["metrics"].items():
                for score, entry in result["scores"].items():
                    collected.setdefault(metric, {}).setdefault(score, []).append(entry["value"])
        metrics: dict[str, Any] = {}
        for metric, scores in collected.items():
            metrics[metric] = {"scores": {}}
            for score, values in scores.items():
                valid = [v for v in values if v is not None and not math.isnan(v)]
                total = sum(valid)
                mean = total / len(valid) if valid else None
                stats: dict[str, Any] = {
                    "count": len(valid),
                    "sum": total,
                    "mean": mean,
                    "nan_count": len(values) - len(valid),
                }
                if valid:
                    stats["min"], stats["max"] = min(valid), max(valid)
                metrics[metric]["scores"][score] = {"value": mean, "stats": stats}
        tasks[task] = {"metrics": metrics}
    return tasks
