"""In-context-learning variant of the eval set: worked examples from the training split in the system message.

Two ways to choose examples (reference §3.7):
- uniform: the same candidates for every eval record, spread evenly over tools, shortest first;
- semantic: per eval record, the training records whose last user message is closest (cosine) to its own, mixing
  pure relevance with coverage of tools not yet shown.
Either way candidates are fitted round-robin across tools into the record's token budget, stopping at the first
example that does not fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import orjson

from flywheel_cli.config import IclConfig
from flywheel_cli.datasets import queries
from flywheel_cli.datasets.curate import WorkloadType, parse_arguments
from flywheel_cli.datasets.tokens import estimate_tokens

PREAMBLE = (
    "Reply the way the worked examples below do. "
    "Each one shows a conversation and the answer that was expected for it."
)
EXAMPLE_MARKER = "### Example"


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


@dataclass(frozen=True)
class Source:
    """A training record that may serve as an example."""

    id: str
    label: str
    record: dict[str, Any]


@dataclass(frozen=True)
class _Candidate:
    id: str
    label: str
    body: str
    tokens: int  # of the body alone, for ordering


@dataclass(frozen=True)
class IclResult:
    records: list[dict[str, Any]]  # per eval record: a copy with examples injected (or unchanged when none fit)
    example_ids: list[list[str]]  # per eval record: ids of the examples, in example order
    info: dict[str, Any]


def _line(role: str, content: Any, calls: Any = None) -> str:
    body = queries.content_text(content)
    text = f"{role}: {body}" if body else f"{role}:"
    if isinstance(calls, list) and calls:
        text += "\n" + _calls_json(calls)
    return text


def _calls_json(calls: list[Any]) -> str:
    plain = [
        {"name": c["function"]["name"], "arguments": parse_arguments(c["function"].get("arguments", {}))}
        for c in calls
    ]
    return orjson.dumps(plain, option=orjson.OPT_SORT_KEYS).decode()


def render_body(record: dict[str, Any]) -> str:
    """An example without its header. System messages are left out: the target record carries its own."""
    convo = [
        _line(m["role"], m.get("content"), m.get("tool_calls"))
        for m in record["request"]["messages"]
        if m.get("role") != "system"
    ]
    answer = record["response"]["choices"][0]["message"]
    calls = answer.get("tool_calls")
    reply = "assistant calls:\n" + _calls_json(calls) if calls else _line("assistant", answer.get("content"))
    return "For this conversation:\n" + "\n".join(convo) + "\nthe expected reply is:\n" + reply


def example_text(number: int, body: str) -> str:
    return f"{EXAMPLE_MARKER} {number}\n{body}"


def uniform_bins(max_examples: int, groups: int) -> list[int]:
    """Slots per group: an even share each, the remainder one by one to the first groups."""
    if groups == 0:
        return []
    base, extra = divmod(max_examples, groups)
    return [base + (1 if i < extra else 0) for i in range(groups)]


def fit(
    groups: Sequence[Sequence[_Candidate]], budget: int, max_examples: int
) -> tuple[list[_Candidate], list[str], int]:
    """Round-robin over groups; stop at the first example that does not fit (an exact fit is taken)."""
    chosen: list[_Candidate] = []
    texts: list[str] = []
    used = 0
    depth = max((len(g) for g in groups), default=0)
    for i in range(depth):
        for group in groups:
            if i >= len(group):
                continue
            if len(chosen) == max_examples:
                return chosen, texts, used
            text = example_text(len(chosen) + 1, group[i].body)
            cost = estimate_tokens(text)
            if used + cost > budget:
                return chosen, texts, used
            chosen.append(group[i])
            texts.append(text)
            used += cost
    return chosen, texts, used


def inject(record: dict[str, Any], texts: Sequence[str]) -> dict[str, Any]:
    """A copy of the record with the examples in its system message (a new one at position 0 if it has none)."""
    if not texts:
        return record
    block = PREAMBLE + "\n\n" + "\n\n".join(texts)
    messages = list(record["request"]["messages"])
    for i, message in enumerate(messages):
        if message.get("role") != "system":
            continue
        content = message.get("content")
        if isinstance(content, list):
            new_content: Any = [{"type": "text", "text": block}, *content]
        elif content:
            new_content = f"{block}\n\n{content}"
        else:
            new_content = block
        messages[i] = {**message, "content": new_content}
        break
    else:
        messages.insert(0, {"role": "system", "content": block})
    return {**record, "request": {**record["request"], "messages": messages}}


def _candidates(sources: Sequence[Source]) -> list[_Candidate]:
    out = []
    for s in sources:
        body = render_body(s.record)
        out.append(_Candidate(s.id, s.label, body, estimate_tokens(body)))
    return out


def _uniform_groups(cands: Sequence[_Candidate], max_examples: int) -> list[list[_Candidate]]:
    by_label: dict[str, list[int]] = {}
    for i, c in enumerate(cands):
        by_label.setdefault(c.label, []).append(i)
    # Bigger tools first, so with more tools than slots the common ones are shown.
    labels = sorted(by_label, key=lambda label: (-len(by_label[label]), label))
    caps = uniform_bins(max_examples, len(labels))
    groups = []
    for label, cap in zip(labels, caps, strict=True):
        ordered = sorted(by_label[label], key=lambda i: (cands[i].tokens, i))
        groups.append([cands[i] for i in ordered[:cap]])
    return [g for g in groups if g]


def _relevance_groups(ranked: Sequence[_Candidate]) -> list[list[_Candidate]]:
    groups: dict[str, list[_Candidate]] = {}
    for c in ranked:
        groups.setdefault(c.label, []).append(c)
    return list(groups.values())


def pick_semantic(
    hits: Sequence[_Candidate], max_examples: int, relevance_ratio: float, workload_type: WorkloadType
) -> list[_Candidate]:
    """Relevance slots from the top hits, then coverage: the best hit of each tool not yet shown, then the next best."""
    if workload_type != "tool_calling":
        return list(hits[:max_examples])
    relevance = min(max_examples, int(max_examples * relevance_ratio))
    chosen = list(hits[:relevance])
    covered = {c.label for c in chosen}
    taken = set(range(relevance))
    for i in range(relevance, len(hits)):
        if len(chosen) == max_examples:
            break
        if hits[i].label not in covered:
            chosen.append(hits[i])
            covered.add(hits[i].label)
            taken.add(i)
    for i in range(relevance, len(hits)):
        if len(chosen) == max_examples:
            break
        if i not in taken:
            chosen.append(hits[i])
            taken.add(i)
    return chosen


def _unit_rows(vectors: list[list[float]]) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def _semantic_lists(
    eval_records: Sequence[dict[str, Any]],
    cands: Sequence[_Candidate],
    sources: Sequence[Source],
    icl: IclConfig,
    workload_type: WorkloadType,
    embedder: Embedder,
) -> list[list[_Candidate]]:
    train_idx = [i for i, s in enumerate(sources) if queries.last_user_text(s.record["request"]["messages"])]
    eval_idx = [i for i, r in enumerate(eval_records) if queries.last_user_text(r["request"]["messages"])]
    texts = [queries.last_user_text(sources[i].record["request"]["messages"]) or "" for i in train_idx]
    texts += [queries.last_user_text(eval_records[i]["request"]["messages"]) or "" for i in eval_idx]
    out: list[list[_Candidate]] = [[] for _ in eval_records]
    if not train_idx or not eval_idx:
        return out
    vectors = embedder.embed(texts)
    train_m = _unit_rows(vectors[: len(train_idx)])
    eval_m = _unit_rows(vectors[len(train_idx) :])
    scores = eval_m @ train_m.T
    k = min(len(train_idx), 5 * icl.max_examples if workload_type == "tool_calling" else icl.max_examples)
    for row, target in enumerate(eval_idx):
        # Stable sort on the negated score: equal scores keep training order, so ties are reproducible.
        order = np.argsort(-scores[row], kind="stable")[:k]
        hits = [cands[train_idx[j]] for j in order]
        out[target] = pick_semantic(hits, icl.max_examples, icl.relevance_ratio, workload_type)
    return out


def _stats(values: Sequence[int]) -> dict[str, float | int]:
    if not values:
        return {"min": 0, "mean": 0, "max": 0}
    return {"min": min(values), "mean": round(sum(values) / len(values), 2), "max": max(values)}


def build_icl(
    eval_records: Sequence[dict[str, Any]],
    eval_tokens: Sequence[int],
    sources: Sequence[Source],
    icl: IclConfig,
    workload_type: WorkloadType,
    embedder: Embedder | None = None,
) -> IclResult:
    """ICL copies of the eval records. `eval_tokens[i]` is the token estimate of eval record i as written."""
    cands = _candidates(sources)
    if icl.max_examples == 0 or not cands:
        per_record: list[list[list[_Candidate]]] = [[] for _ in eval_records]
    elif icl.selection == "semantic":
        if embedder is None:
            raise ValueError("semantic ICL selection needs an embedder")
        ranked = _semantic_lists(eval_records, cands, sources, icl, workload_type, embedder)
        per_record = [_relevance_groups(r) for r in ranked]
    else:
        shared = _uniform_groups(cands, icl.max_examples)
        per_record = [shared for _ in eval_records]

    records, ids, counts, used_tokens, budgets = [], [], [], [], []
    for record, size, groups in zip(eval_records, eval_tokens, per_record, strict=True):
        budget = icl.max_context_length - icl.reserved_tokens - size
        budgets.append(budget)
        chosen, texts, used = fit(groups, budget, icl.max_examples) if budget > 0 else ([], [], 0)
        records.append(inject(record, texts))
        ids.append([c.id for c in chosen])
        counts.append(len(chosen))
        used_tokens.append(used)
    info = {
        "selection": icl.selection,
        "max_examples": icl.max_examples,
        "max_context_length": icl.max_context_length,
        "reserved_tokens": icl.reserved_tokens,
        "token_estimate": "ceil(utf8_bytes / 4 * 1.2)",
        "examples_per_record": _stats(counts),
        "budget_tokens": _stats(budgets),
        "example_tokens": _stats(used_tokens),
        "records_without_examples": sum(1 for c in counts if c == 0),
        "pool": len(cands),
        "pool_classes": sorted({c.label for c in cands}),
    }
    if icl.selection == "semantic":
        info["embedding_model"] = icl.embedding_model
    return IclResult(records=records, example_ids=ids, info=info)
