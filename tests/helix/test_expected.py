"""The independent scorer the live tests compare Helix against agrees with Helix's documented semantics."""

from __future__ import annotations

from .expected import mean, scores


def call(name: str, arguments: object) -> dict[str, object]:
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


def test_names_are_compared_as_a_set_and_arguments_after_parsing() -> None:
    reference = [call("lookup", {"id": "HW-1"})]
    assert scores(reference, {"tool_calls": [call("lookup", '{"id": "HW-1"}')]}) == (1.0, 1.0)
    assert scores(reference, {"tool_calls": [call("lookup", '{"id": "HW-2"}')]}) == (1.0, 0.0)
    assert scores(reference, {"tool_calls": [call("Lookup", '{"id": "HW-1"}')]}) == (0.0, 0.0)
    assert scores(reference, {"content": "I cannot"}) == (0.0, 0.0)
    assert scores(reference, {"tool_calls": [call("lookup", "{not json")]}) == (1.0, None)
    two = [call("a", {}), call("b", {"x": 1})]
    assert scores(two, {"tool_calls": [call("b", '{"x": 1}'), call("a", None)]}) == (1.0, 1.0)
    assert mean([1.0, None, 0.0]) == 0.5
