"""Evaluator payloads for both workload types, with and without a judge; the judge key's one place."""

from __future__ import annotations

import re

import pytest

from flywheel_cli.config import JudgeConfig
from flywheel_cli.errors import ConfigError
from flywheel_cli.nmp.eval_config import (
    SIMILARITY_PROMPT,
    SIMILARITY_RUBRIC,
    TOOL_CALL_PROMPT,
    TOOL_CALL_RUBRIC,
    evaluation_config,
    evaluation_job,
)

URI = "hf://datasets/flywheel/flywheel-eval-tool_router-1757664843"
REMOTE = JudgeConfig(
    kind="remote", url="https://judge.example/v1/chat/completions", model="meta/llama-3.3-70b-instruct"
)
TOOL_TEMPLATE = {
    "messages": "{{ item.request.messages | tojson }}",
    "tools": "{{ item.request.tools | tojson }}",
    "tool_choice": "required",
}
ACCURACY = {
    "type": "tool-calling",
    "params": {"tool_calls_ground_truth": "{{ item.response.choices[0].message.tool_calls | tojson }}"},
}


def test_tool_calling_without_judge() -> None:
    config, secrets = evaluation_config("tool_calling", URI, 100, JudgeConfig(kind="none"))
    assert secrets == ()
    assert config == {
        "type": "custom",
        "tasks": {
            "custom-tool-calling": {
                "type": "chat-completion",
                "dataset": {"files_url": f"{URI}/eval_data.jsonl", "limit": 100},
                "params": {"template": TOOL_TEMPLATE},
                "metrics": {"tool-calling-accuracy": ACCURACY},
            }
        },
    }


def test_tool_calling_with_local_judge() -> None:
    config, secrets = evaluation_config(
        "tool_calling", URI, 50, JudgeConfig(kind="local", model="meta/llama-3.3-70b-instruct")
    )
    assert secrets == ()
    metrics = config["tasks"]["custom-tool-calling"]["metrics"]
    assert metrics["tool-calling-accuracy"] == ACCURACY
    assert metrics["correctness"] == {
        "type": "llm-judge",
        "params": {
            "model": "meta/llama-3.3-70b-instruct",
            "template": {
                "messages": [
                    {"role": "system", "content": TOOL_CALL_RUBRIC},
                    {"role": "user", "content": TOOL_CALL_PROMPT},
                ]
            },
            "scores": {"rating": {"type": "int", "parser": {"type": "regex", "pattern": r"RATING:\s*(\d+)"}}},
        },
    }
    assert TOOL_CALL_PROMPT.splitlines() == [
        "*Ground Truth*: {{ item.response.choices[0].message.tool_calls | tojson }}",
        "*Prediction*: {{ sample.response.choices[0].message.tool_calls | tojson }}",
    ]
    assert "RATING: <0 or 1>" in TOOL_CALL_RUBRIC


def test_remote_judge_carries_the_key_only_in_the_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_JUDGE_API_KEY", "sk-planted-789")
    payload = evaluation_job(
        name="flywheel-eval-x",
        namespace="flywheel",
        project="flywheel",
        workload_type="tool_calling",
        dataset_uri=URI,
        limit=100,
        target_model="meta/llama-3.2-1b-instruct",
        judge=REMOTE,
        labels={"workload": "tool_router", "flywheel_name": "spoofed"},
    )
    judge = payload.body["config"]["tasks"]["custom-tool-calling"]["metrics"]["correctness"]["params"]["model"]
    assert judge == {
        "api_endpoint": {
            "url": "https://judge.example/v1/chat/completions",
            "model_id": "meta/llama-3.3-70b-instruct",
            "api_key": "sk-planted-789",
        }
    }
    assert payload.secrets == ("sk-planted-789",)
    assert "sk-planted-789" not in repr(payload)
    assert payload.body["custom_fields"] == {
        "workload": "tool_router",
        "flywheel": "1",
        "flywheel_name": "flywheel-eval-x",
    }
    assert payload.body["target"] == {"type": "model", "model": "meta/llama-3.2-1b-instruct"}
    assert (payload.body["namespace"], payload.body["project"]) == ("flywheel", "flywheel")


def test_remote_judge_without_a_key_sends_no_key() -> None:
    config, secrets = evaluation_config("tool_calling", URI, 10, REMOTE)
    judge = config["tasks"]["custom-tool-calling"]["metrics"]["correctness"]["params"]["model"]
    assert judge == {
        "api_endpoint": {"url": "https://judge.example/v1/chat/completions", "model_id": "meta/llama-3.3-70b-instruct"}
    }
    assert secrets == ()


def test_generic_workload_uses_a_1_to_10_similarity_judge() -> None:
    config, _ = evaluation_config("generic", URI + "/", 20, JudgeConfig(kind="local", model="judge/m"))
    assert config == {
        "type": "custom",
        "tasks": {
            "llm-as-judge": {
                "type": "chat-completion",
                "dataset": {"files_url": f"{URI}/eval_data.jsonl", "limit": 20},
                "params": {"template": {"messages": "{{ item.request.messages | tojson }}"}},
                "metrics": {
                    "llm-judge": {
                        "type": "llm-judge",
                        "params": {
                            "model": "judge/m",
                            "template": {
                                "messages": [
                                    {"role": "system", "content": SIMILARITY_RUBRIC},
                                    {"role": "user", "content": SIMILARITY_PROMPT},
                                ]
                            },
                            "scores": {"similarity": {"type": "int", "parser": {"type": "regex", "pattern": r"(\d+)"}}},
                        },
                    }
                },
            }
        },
    }
    assert "REFERENCE:\n{{ item.response.choices[0].message.content }}" in SIMILARITY_PROMPT
    assert "CANDIDATE:\n{{ sample.output_text }}" in SIMILARITY_PROMPT
    assert "from 1 to 10" in SIMILARITY_RUBRIC
    # The parser must read a 10 as ten.
    assert re.search(r"(\d+)", "10").group(1) == "10"


def test_generic_workload_without_a_judge_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        evaluation_config("generic", URI, 20, JudgeConfig(kind="none"))
    assert err.value.message == "this evaluation needs an LLM judge, but [judge].kind is 'none'"
