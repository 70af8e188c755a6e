"""What flywheel writes for Helix: metric bundles (and their digests), evaluated rows, names."""

from __future__ import annotations

import hashlib
import json

import orjson
import pytest

from flywheel_cli.errors import InputError
from flywheel_cli.helix import eval_rows, metrics, names

from .conftest import openapi
from .openapi_schema import validate

SCHEMAS = openapi()["components"]["schemas"]


def test_digest_matches_the_evaluators_own() -> None:
    # Metric configurations and digests as Helix 0.8.1's own bundler (InlineMetricBundlePackager) produced them.
    tool_calling = {
        "type": "tool-calling",
        "description": None,
        "labels": {},
        "supported_job_types": ["online", "offline"],
        "reference": "{{ item.response.choices[0].message.tool_calls | tojson }}",
    }
    assert metrics.digest(tool_calling) == "14be89b8a556d0dc44b7ce23bc84114b9d531ab0521605cf4914f9cd7bdd9f8f"
    judge = {
        "type": "llm-judge", "description": None, "labels": {}, "supported_job_types": ["online", "offline"],
        "model": {"url": "http://127.0.0.1:9/v1", "name": "judge", "host_url": None, "served_model_name": None,
                  "inference": None, "api_key_secret": "judge-key", "format": "openai"},
        "scores": [{"name": "rating", "description": None,
                    "parser": {"type": "regex", "pattern": "RATING:\\s*(\\d+)", "method": "search"},
                    "minimum": 0, "maximum": 1, "is_integer": False}],
        "prompt_template": {"messages": [{"role": "system", "content": "sys \u2014 x"},
                                         {"role": "user", "content": "{{ item.a }}"}]},
        "optional_fields": [], "structured_output": None, "inference": None, "system_prompt": None,
        "reasoning": None, "ignore_request_failure": False, "job_type": "online",
    }  # fmt: skip
    # Non-ASCII text is digested \u-escaped, as the evaluator's json.dumps writes it.
    assert metrics.digest(judge) == "bbbc222ddabe18accdb788671a621d6f5f390b5d1d68c48f5248bbf3645efc26"


def test_tool_calling_bundle() -> None:
    bundle = metrics.tool_calling()
    metric = {"type": "tool-calling", "reference": "{{ item.tool_calls or ([] | tojson) }}"}
    canonical = b'{"reference":"{{ item.tool_calls or ([] | tojson) }}","type":"tool-calling"}'
    assert bundle == {
        "bundle_kind": "metric-bundle",
        "bundle_format_version": "v1",
        "metric_type": "tool-calling",
        "outputs": [
            {"name": "function_name_accuracy", "value_json_schema": metrics.CONTINUOUS_SCORE},
            {"name": "function_name_and_args_accuracy", "value_json_schema": metrics.CONTINUOUS_SCORE},
        ],
        "secrets": {},
        "payload": {"kind": "inline", "metric": metric, "digest": hashlib.sha256(canonical).hexdigest()},
    }
    assert validate(bundle, SCHEMAS["MetricInline"], SCHEMAS) == []


def test_judge_bundle_names_its_secret_and_never_holds_a_key() -> None:
    model = metrics.JudgeModel(url="https://judge.test/v1", name="meta/llama-3.3-70b-instruct",
                               api_key_secret="flywheel-judge-api-key")  # fmt: skip
    bundle = metrics.llm_judge(
        model, score="rating", minimum=0, maximum=1, pattern=r"RATING:\s*(\d+)", system="S", user="U {{ item.x }}"
    )
    assert bundle["metric_type"] == "llm-judge"
    assert bundle["outputs"] == [{"name": "rating", "value_json_schema": metrics.CONTINUOUS_SCORE}]
    assert bundle["secrets"] == {"flywheel_judge_api_key": "flywheel-judge-api-key"}
    metric = bundle["payload"]["metric"]
    assert metric == {
        "type": "llm-judge",
        "model": {"url": "https://judge.test/v1", "name": "meta/llama-3.3-70b-instruct",
                  "api_key_secret": "flywheel-judge-api-key"},
        "scores": [{"name": "rating", "minimum": 0, "maximum": 1,
                    "parser": {"type": "regex", "pattern": "RATING:\\s*(\\d+)", "method": "search"}}],
        "prompt_template": {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U {{ item.x }}"}]},
    }  # fmt: skip
    assert bundle["payload"]["digest"] == metrics.digest(metric)
    assert validate(bundle, SCHEMAS["MetricInline"], SCHEMAS) == []
    assert metrics.secret_env("9-key") == "_9_key"
    assert metrics.secret_env("ws/judge-key") == "ws_judge_key"


RECORD = {
    "request": {
        "model": "big",
        "messages": [{"role": "system", "content": "Use tools."}, {"role": "user", "content": "Where is HW-1?"}],
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
    },
    "response": {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"type": "function", "function": {"name": "lookup", "arguments": {"id": "HW-1"}}}],
                }
            }
        ]
    },
}


def test_rows_keep_every_record_exact_as_json_text() -> None:
    generic = {
        "request": {"messages": [{"role": "user", "content": "Hi"}]},
        "response": {"choices": [{"message": {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]}}]},
    }
    data = orjson.dumps(RECORD) + b"\n\n" + orjson.dumps(generic) + b"\n"
    lines = eval_rows.rows_file(data).splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first == {
        "messages": '[{"role":"system","content":"Use tools."},{"role":"user","content":"Where is HW-1?"}]',
        "tools": '[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}]',
        "tool_calls": '[{"type":"function","function":{"name":"lookup","arguments":{"id":"HW-1"}}}]',
        "reference": "",
    }
    assert json.loads(first["tool_calls"]) == RECORD["response"]["choices"][0]["message"]["tool_calls"]
    assert second == {"messages": '[{"role":"user","content":"Hi"}]', "tools": "[]", "tool_calls": "[]",
                      "reference": "Hello"}  # fmt: skip
    assert eval_rows.rows_file(b"") == b""


@pytest.mark.parametrize(
    ("line", "message"),
    [(b"{nope", "eval file line 1 is not JSON"), (b"[1]", "eval file line 1 is not an object"),
     (b'{"request": {}}', "an eval record has no request or no response choice")],
)  # fmt: skip
def test_bad_eval_lines_are_input_errors(line: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        eval_rows.rows_file(line)


def test_templates_read_the_json_columns_back() -> None:
    # The evaluator parses a single-expression template's string result as JSON when the template uses tojson.
    for template in (eval_rows.MESSAGES_TEMPLATE, eval_rows.TOOLS_TEMPLATE, eval_rows.REFERENCE_TEMPLATE):
        assert template.count("{{") == template.count("}}") == 1 and "tojson" in template
    # Judge prompts render to text: a `tojson` there would make the evaluator parse the whole prompt as JSON.
    for prompt in (eval_rows.TOOL_CALL_JUDGE_PROMPT, eval_rows.SIMILARITY_JUDGE_PROMPT):
        assert "tojson" not in prompt
    assert eval_rows.TOOL_CALLING_REQUEST["tool_choice"] == "required"
    assert set(eval_rows.GENERIC_REQUEST) == {"messages"}


@pytest.mark.parametrize(
    ("model", "entity"),
    [("meta/llama-3.2-1b-instruct", "meta-llama-3-2-1b-instruct"), ("Mistral_7B", "mistral-7b"),
     ("7b-model", "m-7b-model"), ("a" * 80, "a" * 54 + "-" + hashlib.sha256(("a" * 80).encode()).hexdigest()[:8])],
)  # fmt: skip
def test_entity_names_follow_helix_discovery(model: str, entity: str) -> None:
    assert names.entity_name(model) == entity
    assert names.valid(entity)


def test_long_job_names_are_shortened_stably() -> None:
    short = "flywheel-base-tool-router-llama-0123abcd"
    assert names.job_name(short) == short
    long = "flywheel-customized-tool-router-llama-3.2-1b-instruct-0123abcd"
    shortened = names.job_name(long)
    assert shortened == "flywheel-customized-tool-router-llama-3-2-" + hashlib.sha256(long.encode()).hexdigest()[:8]
    assert len(shortened) == 50 and names.valid(shortened)
    assert names.job_name(long) == shortened
    assert names.job_name(long + "-a2") != shortened
