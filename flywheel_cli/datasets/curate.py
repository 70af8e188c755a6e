"""Selection and curation: from a workload's stored records to the sampled set that gets split.

One streaming pass keeps only a few facts per record (id, class label, query digest, flags), so a workload of
hundreds of thousands of records never sits in memory whole; full bodies are fetched again for the sampled few.
Every stage is counted, because "why did 10,000 logs give 40 records?" is the first question a user asks.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from flywheel_cli.config import SplitConfig
from flywheel_cli.datasets import queries
from flywheel_cli.errors import InputError, NotFoundError
from flywheel_cli.state.records import StoredRecord

WorkloadType = Literal["tool_calling", "generic"]
NO_TOOL = "no_tool"


@dataclass(frozen=True)
class Stage:
    name: str
    label: str
    kept: int
    dropped: int


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    label: str  # name of the response's first tool call, or "no_tool"
    query: bytes | None  # digest of the normalised user query; None when the record has no user message


@dataclass(frozen=True)
class Curation:
    workload_type: WorkloadType
    stages: list[Stage]
    selected: list[Candidate]  # in sampled (seeded, shuffled) order


@dataclass(frozen=True, slots=True)
class _Facts:
    id: str
    label: str
    has_tool_call: bool
    calls_ok: bool  # every tool call, in the response and the history, is well-formed with object arguments
    max_properties: int
    query: bytes | None


def rng(seed: int, purpose: str) -> random.Random:
    """An independent, reproducible stream per purpose; never the global generator."""
    return random.Random(f"{seed}:{purpose}")


def response_message(record: dict[str, Any]) -> dict[str, Any] | None:
    try:
        message = record["response"]["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return None
    return message if isinstance(message, dict) else None


def response_tool_calls(record: dict[str, Any]) -> list[Any]:
    message = response_message(record)
    calls = message.get("tool_calls") if message else None
    return calls if isinstance(calls, list) else []


def parse_arguments(value: Any) -> dict[str, Any] | None:
    """Tool-call arguments as an object, or None when they are not a JSON object (string or already parsed).

    An empty string counts as `{}`: some servers send it for functions without parameters.
    """
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _call_ok(call: Any) -> bool:
    if not isinstance(call, dict) or call.get("type", "function") != "function":
        return False
    fn = call.get("function")
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        return False
    return parse_arguments(fn.get("arguments", {})) is not None


def _valid_shape(record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    request, response = record.get("request"), record.get("response")
    if not isinstance(request, dict) or not isinstance(response, dict):
        return False
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        return False
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            return False
        if m.get("content") is not None and not isinstance(m["content"], (str, list)):
            return False
    tools = request.get("tools")
    if tools is not None and not (isinstance(tools, list) and all(isinstance(t, dict) for t in tools)):
        return False
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices:
        return False
    if not all(isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices):
        return False
    return choices[0]["message"].get("role", "assistant") == "assistant"


def _max_properties(tools: Any) -> int:
    most = 0
    for tool in tools or ():
        fn = tool.get("function") if isinstance(tool, dict) else None
        params = fn.get("parameters") if isinstance(fn, dict) else None
        props = params.get("properties") if isinstance(params, dict) else None
        if isinstance(props, dict):
            most = max(most, len(props))
    return most


def _facts(stored: StoredRecord) -> _Facts | None:
    record = stored.record
    if not _valid_shape(record):
        return None
    messages = record["request"]["messages"]
    calls = response_tool_calls(record)
    history_calls = [
        c for m in messages if isinstance(m.get("tool_calls"), list) for c in m["tool_calls"]
    ]
    calls_ok = all(_call_ok(c) for c in calls) and all(_call_ok(c) for c in history_calls)
    label = NO_TOOL
    if calls and calls_ok:
        label = calls[0]["function"]["name"]
    key = queries.normalised_key(messages)
    return _Facts(
        id=stored.id,
        label=label,
        has_tool_call=bool(calls),
        calls_ok=calls_ok,
        max_properties=_max_properties(record["request"].get("tools")),
        query=queries.digest(key) if key is not None else None,
    )


def curate(records: Iterable[StoredRecord], split: SplitConfig, *, client_id: str | None = None) -> Curation:
    """Apply every stage in order. Records arrive newest first, so dedup keeps the newest of each query."""
    read = 0
    any_tool_call = False
    valid: list[_Facts] = []
    for stored in records:
        read += 1
        # Type detection looks at every record, valid or not, like the reference.
        if not any_tool_call and response_tool_calls(stored.record):
            any_tool_call = True
        facts = _facts(stored)
        if facts is not None:
            valid.append(facts)
    workload_type: WorkloadType = "tool_calling" if any_tool_call else "generic"

    who = f" (client {client_id})" if client_id is not None else ""
    stages = [
        Stage("records", f"records read{who}", read, 0),
        Stage("openai_format", "valid OpenAI request/response shape", len(valid), read - len(valid)),
    ]

    current = valid
    if workload_type == "tool_calling" and not split.keep_no_tool:
        kept = [f for f in current if f.has_tool_call]
        label = "answered with a tool call"
    else:
        kept = current
        label = (
            "tool-call filter (off: answers without a tool call kept as 'no_tool')"
            if workload_type == "tool_calling"
            else "tool-call filter (generic workload: not applied)"
        )
    stages.append(Stage("tool_call", label, len(kept), len(current) - len(kept)))
    current = kept

    kept = [f for f in current if f.calls_ok]
    label = "tool calls well-formed, arguments parse to objects"
    stages.append(Stage("arguments", label, len(kept), len(current) - len(kept)))
    current = kept

    limit = split.max_tool_properties
    if limit:
        kept = [f for f in current if f.max_properties <= limit]
        label = f"every tool has at most {limit} parameter properties"
    else:
        label = "tool property limit (off)"
    stages.append(Stage("tool_properties", label, len(kept), len(current) - len(kept)))
    current = kept

    seen: set[bytes] = set()
    kept = []
    for f in current:
        if f.query is not None:
            if f.query in seen:
                continue
            seen.add(f.query)
        kept.append(f)
    stages.append(Stage("dedup", "unique user queries (newest kept)", len(kept), len(current) - len(kept)))
    current = kept

    take = min(split.limit, len(current))
    sampled = rng(split.seed, "sample").sample(current, take)
    stages.append(Stage("sample", f"sampled (limit {split.limit}, seed {split.seed})", take, len(current) - take))

    return Curation(
        workload_type=workload_type,
        stages=stages,
        selected=[Candidate(f.id, f.label, f.query) for f in sampled],
    )


def stage_table(stages: list[Stage]) -> str:
    width = max(len(s.label) for s in stages)
    lines = []
    for s in stages:
        dropped = f"  (-{s.dropped})" if s.dropped else ""
        lines.append(f"  {s.label.ljust(width)}  {s.kept:>8}{dropped}")
    return "\n".join(lines)


def require_enough(curation: Curation, split: SplitConfig, workload_id: str, client_id: str | None) -> None:
    """Too few records is the common failure; say how many survived each stage and what to change."""
    read = curation.stages[0].kept
    who = f"workload {workload_id!r}" + (f" (client {client_id!r})" if client_id is not None else "")
    if read == 0:
        raise NotFoundError(
            f"no records for {who} in the state file",
            hint="`flywheel workloads` lists what was ingested; `flywheel ingest` adds logs.",
        )
    n = len(curation.selected)
    need = max(split.min_total_records, split.eval_size + 1)
    if n >= need:
        return
    lines = [
        f"{who} has too few usable records: {n} after curation, need at least {need} "
        f"(split.min_total_records = {split.min_total_records}; eval_size {split.eval_size} + 1 training record).",
        "Records at each stage:",
        stage_table(curation.stages),
    ]
    hints = []
    by_name = {s.name: s for s in curation.stages}
    if by_name["tool_call"].dropped:
        hints.append(f"--keep-no-tool keeps the {by_name['tool_call'].dropped} answers without a tool call")
    if by_name["tool_properties"].dropped:
        hints.append("split.max_tool_properties = 0 turns the tool-property filter off")
    if by_name["sample"].dropped:
        hints.append(f"--limit above {split.limit} keeps more of the curated records")
    if n <= split.eval_size and n >= 2:
        hints.append(f"--eval-size {max(1, n // 5)} leaves records for training")
    if n < split.min_total_records:
        hints.append(
                f"a lower split.min_total_records (now {split.min_total_records}; set in the config file or"
                " FLYWHEEL_SPLIT__MIN_TOTAL_RECORDS) accepts a smaller set"
            )
    hints.append("or ingest more logs for this workload")
    raise InputError("\n".join(lines), hint="To build anyway: " + "; ".join(hints) + ".")
