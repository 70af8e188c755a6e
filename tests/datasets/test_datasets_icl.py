"""ICL: budget fitting at the boundary, uniform bins, injection, semantic selection over a mocked endpoint."""

from __future__ import annotations

import httpx
import orjson
import pytest
import respx
from ds_records import BASE_TS, insert, read_jsonl, text_record, tool_record

from flywheel_cli.config import IclConfig, Settings
from flywheel_cli.datasets import build_dataset
from flywheel_cli.datasets.embeddings import HttpEmbedder
from flywheel_cli.datasets.formats import FILE_ICL
from flywheel_cli.datasets.icl import PREAMBLE, Source, build_icl, example_text, inject, render_body, uniform_bins
from flywheel_cli.datasets.tokens import estimate_tokens
from flywheel_cli.errors import RemoteError

EMB_URL = "http://emb.test/v1/embeddings"


def _source(name: str, tool: str, query: str) -> Source:
    return Source(name, tool, tool_record(query, tool, {"p0": name}))


def _cost(source: Source, number: int) -> int:
    return estimate_tokens(example_text(number, render_body(source.record)))


def _examples(result, i: int = 0) -> int:
    return result.records[i]["request"]["messages"][0]["content"].count("### Example")


def test_token_estimate() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 2  # 4 bytes × 0.3 = 1.2 → 2
    assert estimate_tokens("a" * 10) == 3
    assert estimate_tokens("é" * 5) == 3  # 10 UTF-8 bytes


def test_uniform_bins() -> None:
    assert uniform_bins(3, 2) == [2, 1]
    assert uniform_bins(3, 5) == [1, 1, 1, 0, 0]
    assert uniform_bins(6, 3) == [2, 2, 2]
    assert uniform_bins(3, 0) == []


def test_an_example_that_fits_exactly_is_taken_one_token_more_is_not() -> None:
    target = tool_record("where is order 7", "lookup_order")
    example = _source("s1", "lookup_order", "where is order 1")
    cost = _cost(example, 1)
    reserved, size = 100, 250
    exact = IclConfig(max_context_length=reserved + size + cost, reserved_tokens=reserved)
    fits = build_icl([target], [size], [example], exact, "tool_calling")
    assert fits.example_ids == [["s1"]]
    assert fits.info["example_tokens"] == {"min": cost, "mean": cost, "max": cost}
    assert fits.info["budget_tokens"]["min"] == cost
    short = IclConfig(max_context_length=reserved + size + cost - 1, reserved_tokens=reserved)
    none = build_icl([target], [size], [example], short, "tool_calling")
    assert none.example_ids == [[]]
    assert none.records[0] is target  # nothing injected, nothing copied
    assert none.info["records_without_examples"] == 1


def test_fitting_stops_at_the_first_example_that_does_not_fit() -> None:
    short_a = _source("a1", "lookup_order", "short")
    long_b = _source("b1", "start_return", "a much longer question " * 40)
    short_a2 = _source("a2", "lookup_order", "shorter still? no, a bit longer")
    # Groups: lookup_order (2 records) first with 2 slots, start_return with 1: order a1, b1, a2.
    budget = _cost(short_a, 1) + _cost(short_a2, 2) + 5  # room for a1 and a2, not for b1
    icl = IclConfig(max_context_length=1000 + budget, reserved_tokens=1000)
    result = build_icl([tool_record("q", "lookup_order")], [0], [short_a, long_b, short_a2], icl, "tool_calling")
    assert result.example_ids == [["a1"]]
    roomy = IclConfig(max_context_length=100_000, reserved_tokens=0)
    result = build_icl([tool_record("q", "lookup_order")], [0], [short_a, long_b, short_a2], roomy, "tool_calling")
    assert result.example_ids == [["a1", "b1", "a2"]]


def test_uniform_spreads_over_tools_shortest_first() -> None:
    sources = [
        _source("a-long", "lookup_order", "a long lookup question with many words in it"),
        _source("a-short", "lookup_order", "lookup"),
        _source("a-mid", "lookup_order", "lookup question"),
        _source("b", "start_return", "return it"),
        _source("c", "product_qa", "does it float"),
        _source("d", "product_qa", "is it red"),
    ]
    icl = IclConfig(max_examples=4, max_context_length=100_000, reserved_tokens=0)
    result = build_icl([tool_record("q"), tool_record("r")], [10, 10], sources, icl, "tool_calling")
    # Groups by size then name: lookup_order (3), product_qa (2), start_return (1); bins [2, 1, 1].
    assert result.example_ids == [["a-short", "d", "b", "a-mid"]] * 2
    assert result.info["examples_per_record"] == {"min": 4, "mean": 4.0, "max": 4}


def test_injection_into_an_existing_or_a_new_system_message() -> None:
    record = tool_record("q", system="Route the request.")
    out = inject(record, ["### Example 1\nx", "### Example 2\ny"])
    assert out["request"]["messages"][0] == {
        "role": "system",
        "content": f"{PREAMBLE}\n\n### Example 1\nx\n\n### Example 2\ny\n\nRoute the request.",
    }
    assert record["request"]["messages"][0]["content"] == "Route the request."
    bare = tool_record("q", system=None)
    out = inject(bare, ["### Example 1\nx"])
    assert out["request"]["messages"][0] == {"role": "system", "content": f"{PREAMBLE}\n\n### Example 1\nx"}
    assert out["request"]["messages"][1:] == bare["request"]["messages"]
    assert len(bare["request"]["messages"]) == 1


def test_example_text_renders_conversation_and_expected_reply() -> None:
    record = tool_record("where is order 7", "lookup_order", {"p0": "7"}, history=True)
    assert example_text(2, render_body(record)) == (
        "### Example 2\n"
        "For this conversation:\n"
        "user: earlier question\n"
        'assistant:\n[{"arguments":{"p0":"old"},"name":"lookup_order"}]\n'
        "tool: order old: shipped\n"
        "user: where is order 7\n"
        "the expected reply is:\n"
        "assistant calls:\n"
        '[{"arguments":{"p0":"7"},"name":"lookup_order"}]'
    )
    assert render_body(text_record("hi", "hello")).endswith("the expected reply is:\nassistant: hello")


class _Vectors:
    """A mocked /v1/embeddings: vectors from a lookup table; records each request body."""

    def __init__(self, table) -> None:
        self.table = table
        self.bodies: list[dict] = []
        self.auth: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        self.bodies.append(body)
        self.auth.append(request.headers.get("authorization"))
        data = [{"index": i, "embedding": self.table(text)} for i, text in enumerate(body["input"])]
        return httpx.Response(200, json={"object": "list", "data": data, "model": body["model"]})


def _semantic_sources() -> tuple[list[Source], dict[str, list[float]]]:
    near = {
        "A1": ("lookup_order", [1.0, 0.05, 0.0]),
        "A2": ("lookup_order", [1.0, 0.1, 0.0]),
        "A3": ("lookup_order", [1.0, 0.3, 0.0]),
        "B1": ("start_return", [1.0, 0.5, 0.0]),
        "B2": ("start_return", [1.0, 0.6, 0.0]),
        "C1": ("product_qa", [1.0, 1.0, 0.0]),
    }
    sources = [_source(name, tool, f"text {name}") for name, (tool, _) in near.items()]
    vectors = {f"text {name}": vec for name, (_, vec) in near.items()}
    for i in range(30):
        sources.append(_source(f"F{i}", "product_qa", f"text F{i}"))
        vectors[f"text F{i}"] = [0.0, 0.0, 1.0]
    vectors["eval one"] = [1.0, 0.0, 0.0]
    vectors["eval two"] = [0.0, 0.0, 2.0]
    return sources, vectors


@respx.mock
def test_semantic_selection_over_the_embeddings_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    sources, vectors = _semantic_sources()
    mock = _Vectors(lambda text: vectors[text])
    respx.post(EMB_URL).mock(side_effect=mock)
    monkeypatch.setenv("EMB_TEST_KEY", "sekrit-123")
    icl = {"embedding_url": EMB_URL, "embedding_api_key_env": "EMB_TEST_KEY", "selection": "semantic"}
    settings = Settings(icl=icl)
    targets = [tool_record("eval one"), tool_record("eval two")]
    with HttpEmbedder.from_settings(settings) as embedder:
        result = build_icl(targets, [10, 10], sources, settings.icl, "tool_calling", embedder)
    # Train texts first, in pool order, then eval texts; batches of 32.
    expected_inputs = [f"text {s.id}" for s in sources] + ["eval one", "eval two"]
    assert [len(b["input"]) for b in mock.bodies] == [32, 6]
    assert [t for b in mock.bodies for t in b["input"]] == expected_inputs
    assert all(
        set(b) == {"model", "input", "input_type"}
        and b["model"] == "nvidia/llama-3.2-nv-embedqa-1b-v2"
        and b["input_type"] == "query"
        for b in mock.bodies
    )
    assert mock.auth == ["Bearer sekrit-123"] * 2
    # eval one: relevance slots A1, A2; coverage B1 (best uncovered tool); fitted round-robin by tool.
    # eval two: every filler ties at 1.0, so training order decides.
    assert result.example_ids == [["A1", "B1", "A2"], ["F0", "F1", "F2"]]
    assert _examples(result, 0) == 3


@respx.mock
def test_coverage_only_when_relevance_ratio_is_zero() -> None:
    sources, vectors = _semantic_sources()
    respx.post(EMB_URL).mock(side_effect=_Vectors(lambda text: vectors[text]))
    icl = IclConfig(selection="semantic", relevance_ratio=0.0)
    with HttpEmbedder(EMB_URL, icl.embedding_model) as embedder:
        result = build_icl([tool_record("eval one")], [10], sources, icl, "tool_calling", embedder)
    assert result.example_ids == [["A1", "B1", "C1"]]


@respx.mock
def test_embedding_errors_are_remote_errors_without_the_key() -> None:
    respx.post(EMB_URL).mock(return_value=httpx.Response(401, text="bad key sekrit-123"))
    embedder = HttpEmbedder(EMB_URL, "m", api_key="sekrit-123", sleep=lambda s: None)
    with pytest.raises(RemoteError) as info:
        embedder.embed(["a"])
    assert info.value.status_code == 401
    assert "sekrit" not in str(info.value) and "sekrit" not in str(info.value.detail)
    assert str(info.value).startswith(f"embeddings endpoint {EMB_URL} answered 401: bad key ***")
    assert "sekrit" not in repr(embedder)


@respx.mock
def test_embedding_retries_then_fails_on_connection_errors() -> None:
    route = respx.post(EMB_URL).mock(side_effect=httpx.ConnectError("refused"))
    waits: list[float] = []
    embedder = HttpEmbedder(EMB_URL, "m", attempts=3, sleep=waits.append)
    with pytest.raises(RemoteError, match="is unreachable: ConnectError"):
        embedder.embed(["a"])
    assert route.call_count == 3 and len(waits) == 2


@respx.mock
def test_embedding_recovers_after_a_503_and_rejects_short_answers() -> None:
    route = respx.post(EMB_URL).mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(200, json={"data": [{"index": 0, "embedding": [1, 0]}]}),
            httpx.Response(200, json={"data": []}),
        ]
    )
    embedder = HttpEmbedder(EMB_URL, "m", sleep=lambda s: None)
    assert embedder.embed(["a"]) == [[1.0, 0.0]]
    with pytest.raises(RemoteError, match="returned 0 vectors for 1 inputs"):
        embedder.embed(["b"])
    assert route.call_count == 3


@respx.mock
def test_semantic_build_end_to_end(store, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = ["lookup_order", "start_return", "product_qa"]
    records = [tool_record(f"question {i} about {tools[i % 3]}", tools[i % 3], ts=BASE_TS + i) for i in range(45)]
    insert(store, records)
    axis = {tool: [1.0 if t == tool else 0.0 for t in tools] for tool in tools}
    mock = _Vectors(lambda text: axis[text.rsplit(" ", 1)[1]])
    respx.post("http://nim.test/v1/embeddings").mock(side_effect=mock)
    monkeypatch.delenv("EMB_API_KEY", raising=False)
    result = build_dataset(
        store, Settings(), "w", eval_size=6, val_ratio=0.0, min_total_records=10, icl_selection="semantic"
    )
    splits = store.dataset_split_ids(result.dataset_id)
    bodies = store.records_by_id(splits["train"] + splits["eval"])
    last = {rid: bodies[rid].record["request"]["messages"][-1]["content"] for rid in bodies}
    assert [t for b in mock.bodies for t in b["input"]] == [last[r] for r in splits["train"] + splits["eval"]]
    assert [len(b["input"]) for b in mock.bodies] == [32, 13]
    assert mock.auth == [None, None]
    tool_of = {rid: last[rid].rsplit(" ", 1)[1] for rid in bodies}
    for eval_id, chosen in zip(splits["eval"], store.dataset_icl_examples(result.dataset_id), strict=True):
        same = [r for r in splits["train"] if tool_of[r] == tool_of[eval_id]]
        other = next(r for r in splits["train"] if tool_of[r] != tool_of[eval_id])
        assert chosen == [same[0], other, same[1]]
    icl_lines = read_jsonl(result.path / FILE_ICL)
    assert all(line["request"]["messages"][0]["content"].count("### Example") == 3 for line in icl_lines)
    assert result.manifest["icl"]["selection"] == "semantic"
    assert result.manifest["icl"]["embedding_model"] == "nvidia/llama-3.2-nv-embedqa-1b-v2"
