"""Evaluator v1 custom-evaluation payloads for flywheel's two workload types.

Tool-calling workloads are scored by the built-in `tool-calling` metric (exact function name, name + arguments) and,
when a judge is configured, by an LLM judge that rates each call 0/1 with a strict rubric. Generic workloads are
scored by an LLM judge rating similarity to the reference answer from 1 to 10.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from flywheel_cli.config import JudgeConfig
from flywheel_cli.errors import ConfigError

TOOL_CALLING_TASK = "custom-tool-calling"
TOOL_CALLING_METRIC = "tool-calling-accuracy"
CORRECTNESS_METRIC = "correctness"
GENERIC_TASK = "llm-as-judge"
GENERIC_METRIC = "llm-judge"
EVAL_FILE = "eval_data.jsonl"

TOOL_CALL_RUBRIC = """\
You check whether a predicted tool call does what the expected tool call does.

Give RATING: 1 only if every rule holds, otherwise RATING: 0.
- The prediction is not empty, is valid JSON and calls at least one function.
- Each expected call has a predicted call with exactly the same function name.
- Its arguments are a JSON object (or a string holding one) that contains every expected argument.
- Identifiers, numbers, dates, enum values and other short exact values are identical.
- Free-text values (search queries, messages, descriptions) may be worded differently if they mean the same.

Answer with exactly two lines:
RATING: <0 or 1>
EXPLANATION: <one sentence on the deciding rule>"""

TOOL_CALL_PROMPT = (
    "*Ground Truth*: {{ item.response.choices[0].message.tool_calls | tojson }}\n"
    "*Prediction*: {{ sample.response.choices[0].message.tool_calls | tojson }}"
)

SIMILARITY_RUBRIC = """\
You compare a candidate answer with a reference answer written for the same conversation.
Rate how well the candidate matches the reference in meaning and usefulness, from 1 to 10:
10 - the same meaning and the same key facts;
7 to 9 - the same meaning with small omissions or different wording;
4 to 6 - partly the same, with important differences or missing facts;
2 to 3 - mostly different, wrong or misleading;
1 - unrelated, empty, or a refusal.
Judge the content, not the style or the length. Reply with the number only."""

SIMILARITY_PROMPT = (
    "CONVERSATION:\n{{ item.request.messages | tojson }}\n\n"
    "REFERENCE:\n{{ item.response.choices[0].message.content }}\n\n"
    "CANDIDATE:\n{{ sample.output_text }}"
)


@dataclass(frozen=True)
class JobPayload:
    """An evaluation job body and the secret values inside it (to keep out of error messages)."""

    body: dict[str, Any]
    secrets: tuple[str, ...]

    def __repr__(self) -> str:
        return f"JobPayload(<{len(self.secrets)} secret(s) redacted>)"


def judge_model(judge: JudgeConfig) -> tuple[Any, tuple[str, ...]]:
    """The judge as an Evaluator model reference, and the secrets it carries.

    A local judge is a model name the platform serves; a remote one is an OpenAI-compatible endpoint whose API key
    (read from the env var the config names) goes into this payload and nowhere else.
    """
    if judge.kind == "local":
        return judge.model, ()
    if judge.kind == "remote":
        endpoint: dict[str, Any] = {"url": judge.url, "model_id": judge.model}
        key = judge.api_key()
        if key:
            endpoint["api_key"] = key
        return {"api_endpoint": endpoint}, ((key,) if key else ())
    raise ConfigError(
        "this evaluation needs an LLM judge, but [judge].kind is 'none'",
        hint="Set [judge].kind = 'remote' (with url and api_key_env) or 'local' in the config file.",
    )


def evaluation_config(
    workload_type: Literal["tool_calling", "generic"], dataset_uri: str, limit: int, judge: JudgeConfig
) -> tuple[dict[str, Any], tuple[str, ...]]:
    dataset = {"files_url": f"{dataset_uri.rstrip('/')}/{EVAL_FILE}", "limit": limit}
    if workload_type == "tool_calling":
        metrics: dict[str, Any] = {
            TOOL_CALLING_METRIC: {
                "type": "tool-calling",
                "params": {"tool_calls_ground_truth": "{{ item.response.choices[0].message.tool_calls | tojson }}"},
            }
        }
        secrets: tuple[str, ...] = ()
        if judge.kind != "none":
            model, secrets = judge_model(judge)
            metrics[CORRECTNESS_METRIC] = _judge_metric(
                model, TOOL_CALL_RUBRIC, TOOL_CALL_PROMPT, score="rating", pattern=r"RATING:\s*(\d+)"
            )
        task = {
            "type": "chat-completion",
            "dataset": dataset,
            "params": {
                "template": {
                    "messages": "{{ item.request.messages | tojson }}",
                    "tools": "{{ item.request.tools | tojson }}",
                    "tool_choice": "required",
                }
            },
            "metrics": metrics,
        }
        return {"type": "custom", "tasks": {TOOL_CALLING_TASK: task}}, secrets
    model, secrets = judge_model(judge)
    task = {
        "type": "chat-completion",
        "dataset": dataset,
        "params": {"template": {"messages": "{{ item.request.messages | tojson }}"}},
        # `(\d+)`, not `(\d)`: a rating of 10 must read as ten.
        "metrics": {
            GENERIC_METRIC: _judge_metric(
                model, SIMILARITY_RUBRIC, SIMILARITY_PROMPT, score="similarity", pattern=r"(\d+)"
            )
        },
    }
    return {"type": "custom", "tasks": {GENERIC_TASK: task}}, secrets


def evaluation_job(
    *,
    name: str,
    namespace: str,
    project: str,
    workload_type: Literal["tool_calling", "generic"],
    dataset_uri: str,
    limit: int,
    target_model: str,
    judge: JudgeConfig,
    labels: dict[str, str],
) -> JobPayload:
    config, secrets = evaluation_config(workload_type, dataset_uri, limit, judge)
    body = {
        "namespace": namespace,
        "project": project,
        # flywheel's keys last: a label must not be able to hide the job from its own lookup.
        "custom_fields": {**labels, "flywheel": "1", "flywheel_name": name},
        "config": config,
        "target": {"type": "model", "model": target_model},
    }
    return JobPayload(body=body, secrets=secrets)


def _judge_metric(model: Any, system: str, user: str, *, score: str, pattern: str) -> dict[str, Any]:
    return {
        "type": "llm-judge",
        "params": {
            "model": model,
            "template": {"messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]},
            "scores": {score: {"type": "int", "parser": {"type": "regex", "pattern": pattern}}},
        },
    }
