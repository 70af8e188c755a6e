"""Simulated models: deterministic chat answers whose quality depends on model size, ICL examples and LoRA data.

How a model knows the right answer: every uploaded JSONL line that holds a logged exchange (an eval record with
`request.messages` + `response`, or a training row with `messages`) is indexed by the text of its last user
message. At chat time the last user message is looked up; a deterministic draw (seeded by the sandbox seed, the base
model and the prompt) against the model's hit probability decides between the reference answer and a plausible miss.
Draws for a customized model and its base share one seed, so a better variant never loses a sample its base got right.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson

from flywheel_cli.sandbox import judge
from flywheel_cli.sandbox.messages import (
    ToolCall,
    as_dict,
    content_text,
    last_user_text,
    parse_tool_calls,
    tokens,
    tool_name,
)

# Each few-shot example in an ICL system message starts with this text; the number of occurrences is the number of
# examples the model sees. flywheel's dataset builder writes the same marker.
ICL_EXAMPLE_MARKER = "### Example"

# Quality model (see hit_probability): a share of the remaining misses is removed by each improvement.
ICL_GAIN = 0.3  # with 3 or more examples
LORA_GAIN = 0.9  # asymptotic, with many training records
LORA_RECORDS_SCALE = 150.0
EMBEDDING_DIMS = 64

_SIZE = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)b(?![a-z0-9])")
_GENERIC_REPLIES = (
    "Thanks for reaching out. Could you share a few more details so I can help?",
    "I can help with that. Let me look into it and get back to you shortly.",
    "Sure. Here is what I found based on the information you provided.",
    "I'm sorry, I don't have enough information to answer that yet.",
)


def draw(*parts: Any) -> float:
    """A uniform number in [0, 1) fixed by its inputs (stable across processes, unlike hash())."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def pick(seq: list[Any] | tuple[Any, ...], *parts: Any) -> Any:
    return seq[int(draw(*parts) * len(seq))]


@dataclass(frozen=True)
class Reference:
    tool_calls: tuple[ToolCall, ...]
    text: str


class ReferenceIndex:
    """Logged answers by the text of the last user message, plus the production models that produced them."""

    def __init__(self) -> None:
        self._refs: dict[str, Reference] = {}
        self.production_models: set[str] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._refs)

    def add_jsonl(self, data: bytes) -> int:
        added = 0
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            added += self.add_record(record)
        return added

    def add_record(self, record: Any) -> bool:
        if not isinstance(record, dict):
            return False
        request, response = record.get("request"), record.get("response")
        if isinstance(request, dict) and isinstance(response, dict):
            choices = response.get("choices")
            if not (isinstance(choices, list) and choices and isinstance(choices[0], dict)):
                return False
            model = request.get("model")
            if isinstance(model, str) and model:
                with self._lock:
                    self.production_models.add(model)
            return self._put(request.get("messages"), choices[0].get("message"))
        messages = record.get("messages")
        if not isinstance(messages, list) or not messages:
            return False
        last = messages[-1]
        if isinstance(last, dict) and last.get("role") == "assistant":
            return self._put(messages[:-1], last)
        if "tool_calls" in record:
            return self._put(messages, {"role": "assistant", "content": "", "tool_calls": record["tool_calls"]})
        return False

    def _put(self, messages: Any, answer: Any) -> bool:
        key = last_user_text(messages)
        if key is None or not isinstance(answer, dict):
            return False
        calls = parse_tool_calls(answer.get("tool_calls"))
        if calls is None:
            return False
        reference = Reference(calls, content_text(answer.get("content")))
        with self._lock:
            self._refs.setdefault(key, reference)
        return True

    def lookup(self, messages: Any) -> tuple[str, Reference] | None:
        key = last_user_text(messages)
        if key is None:
            return None
        with self._lock:
            ref = self._refs.get(key)
        return (key, ref) if ref is not None else None


def model_size_b(name: str) -> float:
    """Billions of parameters from a model name (`meta/llama-3.2-1b-instruct` → 1.0); 7 when the name says nothing."""
    found = _SIZE.findall(name.lower())
    return float(found[-1]) if found else 7.0


@dataclass(frozen=True)
class ModelProfile:
    name: str
    family: str  # the base model: customized models draw hits with their base's seed
    size_b: float
    lora_records: int = 0
    production: bool = False

    @classmethod
    def base(cls, name: str, production: bool = False) -> ModelProfile:
        return cls(name=name, family=name, size_b=model_size_b(name), production=production)

    @property
    def variant(self) -> str:
        """Seeds how this model misses; stable across runs (a customized model's id holds a random job id)."""
        return f"{self.family}+lora:{self.lora_records}" if self.lora_records else self.name


def base_quality(size_b: float) -> float:
    return min(0.95, max(0.05, 0.30 + 0.16 * math.log2(max(size_b, 0.1))))


def icl_examples(messages: Any) -> int:
    if not isinstance(messages, list):
        return 0
    return sum(
        content_text(m.get("content")).count(ICL_EXAMPLE_MARKER)
        for m in messages
        if isinstance(m, dict) and m.get("role") in ("system", "developer")
    )


def hit_probability(profile: ModelProfile, examples: int) -> float:
    if profile.production:
        return 1.0
    miss = 1.0 - base_quality(profile.size_b)
    miss *= 1.0 - ICL_GAIN * min(examples, 3) / 3
    if profile.lora_records > 0:
        miss *= 1.0 - LORA_GAIN * (1.0 - math.exp(-profile.lora_records / LORA_RECORDS_SCALE))
    return 1.0 - miss


@dataclass(frozen=True)
class Answer:
    content: str | None
    tool_calls: tuple[ToolCall, ...] = field(default=())


def respond(profile: ModelProfile, request: dict[str, Any], index: ReferenceIndex, seed: int) -> Answer:
    messages = request.get("messages")
    verdict = judge.reply(messages)
    if verdict is not None:
        return Answer(verdict)
    tools = [t for t in request.get("tools") or [] if tool_name(t)]
    choice = request.get("tool_choice")
    if isinstance(choice, dict) and tool_name(choice):
        tools = [t for t in tools if tool_name(t) == tool_name(choice)] or tools
    can_call = bool(tools) and choice != "none"
    user = last_user_text(messages) or ""
    found = index.lookup(messages)
    if found is None:
        return _generic(profile, user, tools, can_call, seed)
    key, ref = found
    if profile.production:
        return Answer(ref.text or None, ref.tool_calls) if ref.tool_calls else Answer(ref.text)
    hit = draw(seed, profile.family, key, "hit") < hit_probability(profile, icl_examples(messages))
    if ref.tool_calls:
        if not can_call:
            return Answer(f"I would use {ref.tool_calls[0].name} for this request.")
        if hit:
            return Answer(ref.text or None, ref.tool_calls)
        return _tool_miss(profile, key, ref, tools, user, seed)
    if choice == "required" and can_call:
        return _generic(profile, user, tools, True, seed)
    if hit:
        return Answer(ref.text)
    return Answer(_shorten(ref.text, profile, key, seed) or pick(_GENERIC_REPLIES, seed, profile.variant, key))


def _tool_miss(
    profile: ModelProfile, key: str, ref: Reference, tools: list[dict[str, Any]], user: str, seed: int
) -> Answer:
    right = ref.tool_calls[0]
    others = [t for t in tools if tool_name(t) != right.name]
    wrong_tool = draw(seed, profile.variant, key, "miss") < 0.5
    if others and (wrong_tool or not right.arguments):
        tool = pick(others, seed, profile.variant, key, "tool")
        return Answer(None, (ToolCall(tool_name(tool) or "", plausible_arguments(tool, user, seed, key)),))
    if right.arguments:
        perturbed = perturb(right.arguments, seed, profile.variant, key)
        return Answer(None, (ToolCall(right.name, perturbed), *ref.tool_calls[1:]))
    return Answer(pick(_GENERIC_REPLIES, seed, profile.variant, key))


def _generic(profile: ModelProfile, user: str, tools: list[dict[str, Any]], can_call: bool, seed: int) -> Answer:
    if can_call:
        tool = pick(tools, seed, profile.variant, user, "generic-tool")
        return Answer(None, (ToolCall(tool_name(tool) or "", plausible_arguments(tool, user, seed, user)),))
    return Answer(pick(_GENERIC_REPLIES, seed, profile.variant, user, "generic"))


def _shorten(text: str, profile: ModelProfile, key: str, seed: int) -> str:
    words = text.split()
    if len(words) < 2:
        return ""
    if draw(seed, profile.variant, key, "paraphrase") < 0.5:
        return " ".join(words[: max(1, len(words) // 2)])
    return "In short: " + " ".join(words[: max(1, (2 * len(words)) // 3)])


def plausible_arguments(tool: dict[str, Any], user: str, *salt: Any) -> dict[str, Any]:
    """Arguments that fit the tool's JSON schema, filled from words of the user message."""
    params = as_dict(as_dict(tool.get("function")).get("parameters"))
    props = as_dict(params.get("properties"))
    required = params.get("required")
    if not isinstance(required, list):
        required = list(props)
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9'-]+", user) if len(w) > 3] or ["request"]
    args: dict[str, Any] = {}
    for name in required:
        spec = as_dict(props.get(name))
        kind = spec.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        if isinstance(spec.get("enum"), list) and spec["enum"]:
            args[name] = pick(spec["enum"], *salt, name)
        elif kind == "integer":
            args[name] = 1 + int(draw(*salt, name) * 10)
        elif kind == "number":
            args[name] = round(1 + draw(*salt, name) * 99, 2)
        elif kind == "boolean":
            args[name] = draw(*salt, name) < 0.5
        elif kind == "array":
            args[name] = []
        elif kind == "object":
            args[name] = {}
        else:
            args[name] = pick(words, *salt, name)
    return args


def perturb(arguments: dict[str, Any], *salt: Any) -> dict[str, Any]:
    """The same arguments with one of them dropped or changed."""
    keys = sorted(arguments)
    key = pick(keys, *salt, "key")
    out = dict(arguments)
    if len(keys) > 1 and draw(*salt, "drop") < 0.3:
        del out[key]
        return out
    value = arguments[key]
    if isinstance(value, bool):
        out[key] = not value
    elif isinstance(value, int):
        out[key] = value + 1
    elif isinstance(value, float):
        out[key] = round(value * 1.5 + 1, 2)
    elif isinstance(value, str):
        words = value.split()
        if len(words) > 1:
            out[key] = " ".join(words[: len(words) // 2])
        elif value.lower() != value:
            out[key] = value.lower()
        else:
            out[key] = value + "s" if value else "unknown"
    elif isinstance(value, list):
        out[key] = value[:-1] if value else ["unknown"]
    elif isinstance(value, dict):
        out[key] = {} if value else {"value": "unknown"}
    else:
        out[key] = "unknown"
    return out


def embed(text: str, dims: int = EMBEDDING_DIMS) -> list[float]:
    """Feature-hashed bag of words (plus word pairs), L2-normalised: texts sharing words are close."""
    vec = [0.0] * dims
    words = tokens(text)
    features = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
    for feature in features:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "big")
        vec[value % dims] += 1.0 if (value >> 32) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    if norm == 0:
        vec[0] = 1.0
        return vec
    return [v / norm for v in vec]


def count_tokens(text: str) -> int:
    return max(1, round(len(text.split()) * 1.3)) if text.strip() else 0
