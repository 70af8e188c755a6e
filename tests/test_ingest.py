"""`flywheel ingest`: validation, rejects, dedup, strict mode, stdin, gzip, resumability."""

from __future__ import annotations

import copy
import gzip
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from factories import dumps, text_record, tool_record


@pytest.fixture(params=["here", "in a helper process"])
def parse_where(request, monkeypatch) -> Iterator[str]:
    """Big file sets are parsed in a helper process (flywheel_cli.ingest_worker); both paths must behave the same."""
    from flywheel_cli import ingest_worker

    helper = request.param != "here"
    monkeypatch.setattr(ingest_worker, "MIN_BYTES", 0 if helper else 10**15)
    started = []
    real = ingest_worker.parsed_rows
    monkeypatch.setattr(ingest_worker, "parsed_rows", lambda *a, **k: started.append(1) or real(*a, **k))
    yield request.param
    assert bool(started) == helper, "the test did not take the path it names"


def _bad_lines() -> list[tuple[bytes, str]]:
    """(line, expected reason) for every kind of bad line the validator must catch."""
    good = tool_record("where is my order?")

    def variant(mutate) -> bytes:
        rec = copy.deepcopy(good)
        mutate(rec)
        return dumps(rec).encode()

    def set_path(path: list, value):
        def mutate(rec):
            target = rec
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        return mutate

    def delete(path: list):
        def mutate(rec):
            target = rec
            for key in path[:-1]:
                target = target[key]
            del target[path[-1]]
        return mutate

    msg = ["response", "choices", 0, "message"]
    return [
        (b"this is not json", "invalid JSON: invalid literal"),
        (dumps(good).encode()[:-7], "invalid JSON: unexpected end of data"),
        (b"[1, 2, 3]", "expected a JSON object, got an array"),
        (b'"just a string"', "expected a JSON object, got a string"),
        (b'{"timestamp": NaN}', "invalid JSON: unexpected character"),
        (b"[" * 2000 + b"]" * 2000, "invalid JSON: depth limit exceeded"),
        (b'{"workload_id": "caf\xe9"}', "not valid UTF-8 (byte 0xe9 at offset 20)"),
        (variant(delete(["workload_id"])), "workload_id is missing (pass --workload-id to set it for every line)"),
        (variant(set_path(["workload_id"], "  ")), "workload_id is empty"),
        (variant(set_path(["workload_id"], 42)), "workload_id must be a string, got a number"),
        (variant(delete(["client_id"])), "client_id is missing (pass --client-id to set it for every line)"),
        (variant(delete(["timestamp"])), "timestamp is missing"),
        (variant(set_path(["timestamp"], True)), "timestamp must be epoch seconds or an ISO-8601 string, got a boolean"),
        (variant(set_path(["timestamp"], "yesterday")), "timestamp 'yesterday' is not epoch seconds or ISO-8601"),
        (variant(delete(["request"])), "request is missing (expected the log schema or a {messages, tools} shorthand line)"),
        (variant(set_path(["request"], "hello")), "request must be an object, got a string"),
        (variant(delete(["request", "messages"])), "request.messages is missing"),
        (variant(set_path(["request", "messages"], [])), "request.messages is empty"),
        (variant(set_path(["request", "messages"], {"role": "user"})), "request.messages must be an array, got an object"),
        (variant(set_path(["request", "messages", 1, "role"], "robot")), "request.messages[1].role 'robot' is not one of"),
        (variant(set_path(["request", "messages", 0], "hi")), "request.messages[0] must be an object, got a string"),
        (variant(set_path(["request", "messages", 1, "content"], 7)), "request.messages[1].content must be a string, an array of parts or null, got a number"),
        (variant(set_path(["request", "tools"], "all")), "request.tools must be an array, got a string"),
        (variant(delete(["response"])), "response is missing"),
        (variant(set_path(["response", "choices"], [])), "response.choices is empty"),
        (variant(delete(["response", "choices"])), "response.choices is missing"),
        (variant(set_path(msg + ["tool_calls"], [])), "response.choices[0].message has no content and no tool calls"),
        (variant(set_path(msg + ["tool_calls", 0, "function", "arguments"], "{id: A1")), "response.choices[0].message.tool_calls[0].function.arguments is not valid JSON"),
        (variant(set_path(msg + ["tool_calls", 0, "function", "name"], "")), "response.choices[0].message.tool_calls[0].function.name must be a non-empty string"),
        (variant(set_path(msg + ["role"], "user")), "response.choices[0].message.role must be 'assistant', got 'user'"),
        (b'{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}', "a shorthand {messages, tools} line needs --workload-id"),
    ]


def _corpus(tmp_path: Path) -> tuple[Path, list[tuple[int, str]], int]:
    """A file of good and bad lines; returns (path, [(line number, reason)], number of good lines)."""
    bad = _bad_lines()
    lines: list[bytes] = []
    expected: list[tuple[int, str]] = []
    good_count = 0
    for i, (raw, reason) in enumerate(bad):
        lines.append(dumps(tool_record(f"good query number {i}", ts=1_780_000_000 + i)).encode())
        good_count += 1
        lines.append(raw)
        expected.append((len(lines), reason))
        if i % 5 == 0:
            lines.append(b"")  # blank lines are skipped, not rejected
    # a BOM on the first line and CRLF endings are accepted
    lines[0] = b"\xef\xbb\xbf" + lines[0]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    return path, expected, good_count


def test_bad_lines_are_reported_kept_whole_and_good_lines_go_in(cli, tmp_path, state_path, parse_where):
    path, expected, good = _corpus(tmp_path)
    assert len(expected) >= 30
    result = cli("--json", "ingest", str(path), "--rejects", "rejects.jsonl")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["version"] == 1 and doc["kind"] == "ingest"
    assert doc["ingested"] == good
    assert doc["rejected"] == len(expected)
    assert doc["read"] == good + len(expected)
    # the first 20 rejects are in the JSON, all of them in the reasons file, in order, with line numbers
    for got, (line, reason) in zip(doc["rejects"], expected):
        assert got["line"] == line
        assert got["reason"].startswith(reason), (line, got["reason"], reason)
    reasons = (tmp_path / "rejects.jsonl.errors.txt").read_text().splitlines()
    assert len(reasons) == len(expected)
    for text, (line, reason) in zip(reasons, expected):
        assert text.startswith(f"{path}:{line}: {reason}")
    # the rejects file holds every bad line byte for byte
    raw_lines = path.read_bytes().split(b"\r\n")
    kept = (tmp_path / "rejects.jsonl").read_bytes().split(b"\n")[:-1]
    assert kept == [raw_lines[line - 1] for line, _ in expected]
    assert "Traceback" not in result.stderr
    with sqlite3.connect(state_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM records").fetchone()[0] == good


def test_human_output_lists_file_line_reason(cli, tmp_path):
    path = tmp_path / "two.jsonl"
    path.write_text(dumps(tool_record("q1")) + "\n{broken\n")
    result = cli("ingest", str(path))
    assert result.exit_code == 0
    assert f"{path}:2: invalid JSON" in result.stderr
    assert "1 records ingested, 0 duplicates skipped, 1 rejected" in result.stderr
    assert "tool_router" in result.stdout


def test_second_ingest_adds_nothing_and_says_so(cli, tmp_path, parse_where):
    path = tmp_path / "logs.jsonl"
    path.write_text("".join(dumps(tool_record(f"q{i}", ts=1_780_000_000 + i)) + "\n" for i in range(50)))
    first = json.loads(cli("--json", "ingest", str(path)).stdout)
    second = json.loads(cli("--json", "ingest", str(path)).stdout)
    assert (first["ingested"], first["duplicates"]) == (50, 0)
    assert (second["ingested"], second["duplicates"], second["already_ingested"]) == (0, 50, 50)
    human = cli("ingest", str(path))
    assert "0 records ingested, 50 duplicates skipped" in human.stderr
    # re-imports are not duplicates in the data: the workload's duplicate share stays 0
    workloads = json.loads(cli("--json", "workloads").stdout)
    assert workloads["workloads"][0]["duplicates_seen"] == 0


def test_argument_encodings_and_call_ids_do_not_split_identity(cli, tmp_path):
    as_string = tool_record("same question", args='{"id": "A1"}', call_id="call_x")
    as_object = tool_record("same question", args={"id": "A1"}, call_id="call_y", ts=1_780_000_500, client="mobile")
    other_args = tool_record("same question", args={"id": "B2"})
    path = tmp_path / "enc.jsonl"
    path.write_text("\n".join(dumps(r) for r in (as_string, as_object, other_args)) + "\n")
    doc = json.loads(cli("--json", "ingest", str(path)).stdout)
    assert (doc["ingested"], doc["duplicates"]) == (2, 1)
    workloads = json.loads(cli("--json", "workloads").stdout)["workloads"]
    assert workloads[0]["duplicates_seen"] == 1
    assert workloads[0]["duplicate_share"] == pytest.approx(1 / 3, abs=1e-4)


def test_strict_stores_nothing_when_a_line_is_bad(cli, tmp_path, state_path, parse_where):
    path = tmp_path / "s.jsonl"
    path.write_text(dumps(tool_record("ok")) + "\nnot json\n")
    result = cli("ingest", "--strict", str(path))
    assert result.exit_code == 1
    assert "--strict: 1 lines were rejected, so nothing was stored" in result.stderr
    with sqlite3.connect(state_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 0
    assert cli("ingest", "--strict", str(tmp_path / "s.jsonl")).exit_code == 1
    path.write_text(dumps(tool_record("ok")) + "\n")
    assert json.loads(cli("--json", "ingest", "--strict", str(path)).stdout)["ingested"] == 1


def test_stdin_shorthand_with_workload_and_client(cli):
    lines = [
        {"messages": [{"role": "user", "content": f"faq {i}"}, {"role": "assistant", "content": f"answer {i}"}]}
        for i in range(3)
    ]
    result = cli("--json", "ingest", "-", "--workload-id", "faq", "--client-id", "docs", input="\n".join(map(dumps, lines)) + "\n")
    doc = json.loads(result.stdout)
    assert doc["ingested"] == 3 and doc["sources"] == ["-"]
    workloads = json.loads(cli("--json", "workloads").stdout)["workloads"]
    assert [(w["workload_id"], w["clients"], w["type"]) for w in workloads] == [("faq", ["docs"], "generic")]


def test_workload_and_client_flags_override_log_lines(cli, tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_text(dumps(tool_record("q", workload="a", client="b")) + "\n")
    cli("ingest", str(path), "--workload-id", "renamed", "--client-id", "c9")
    workloads = json.loads(cli("--json", "workloads").stdout)["workloads"]
    assert [(w["workload_id"], w["clients"]) for w in workloads] == [("renamed", ["c9"])]


def test_gzip_and_glob_and_iso_timestamps(cli, tmp_path, parse_where):
    rec = tool_record("gz one")
    rec["timestamp"] = "2026-06-01T12:00:00Z"
    with gzip.open(tmp_path / "a.jsonl.gz", "wt") as fh:
        fh.write(dumps(rec) + "\n")
    (tmp_path / "b.jsonl").write_text(dumps(text_record("hello", "hi there")) + "\n")
    doc = json.loads(cli("--json", "ingest", str(tmp_path / "*.jsonl*")).stdout)
    assert doc["ingested"] == 2
    workloads = {w["workload_id"]: w for w in json.loads(cli("--json", "workloads").stdout)["workloads"]}
    assert workloads["tool_router"]["first"] == 1780315200
    assert workloads["chat"]["type"] == "generic"


def test_huge_line_is_rejected_with_its_size(cli, tmp_path, parse_where):
    big = tool_record("x" * 5000)
    path = tmp_path / "h.jsonl"
    path.write_text(dumps(tool_record("small")) + "\n" + dumps(big) + "\n")
    doc = json.loads(cli("--json", "ingest", str(path), "--max-line-bytes", "4096").stdout)
    assert doc["ingested"] == 1
    size = len(dumps(big).encode())
    assert doc["rejects"] == [{"source": str(path), "line": 2, "reason": f"line is {size:,} bytes, over the 4,096-byte limit"}]


def test_missing_file_is_a_clear_error_and_nothing_is_read(cli, tmp_path):
    (tmp_path / "ok.jsonl").write_text(dumps(tool_record("q")) + "\n")
    result = cli("ingest", str(tmp_path / "ok.jsonl"), str(tmp_path / "missing.jsonl"))
    assert result.exit_code == 1
    assert f"error: no such file: {tmp_path / 'missing.jsonl'}" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2(cli, tmp_path):
    assert cli("ingest").exit_code == 2
    result = cli("ingest", "x.jsonl", "--since", "2026-01-01")
    assert result.exit_code == 2
    assert "--since, --until and --limit apply to Elasticsearch" in result.stderr


def test_interrupted_ingest_keeps_committed_batches_and_resumes(tmp_path, state_path, monkeypatch):
    """A Ctrl-C (or kill) between batches leaves whole batches only; running again completes without duplicates."""
    from flywheel_cli.errors import Interrupted
    from flywheel_cli.ingest import IngestOptions, ingest_files
    from flywheel_cli.state import open_store

    path = tmp_path / "many.jsonl"
    path.write_text("".join(dumps(tool_record(f"q{i}", ts=1_780_000_000 + i)) + "\n" for i in range(1000)))
    store = open_store(state_path)
    original = store.insert_records
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "insert_records", flaky)
    with pytest.raises(Interrupted) as err:
        ingest_files(store, [str(path)], IngestOptions(batch_size=300))
    assert "Run the same command again" in (err.value.hint or "")
    assert store.count_records() == 600
    status = store.db.conn.execute("SELECT status, ingested FROM ingests").fetchone()
    assert tuple(status) == ("interrupted", 600)
    monkeypatch.setattr(store, "insert_records", original)
    summary = ingest_files(store, [str(path)], IngestOptions(batch_size=300))
    assert (summary.ingested, summary.duplicates, summary.reimported) == (400, 600, 600)
    assert store.count_records() == 1000
    store.close()


def test_workloads_table_and_client_filter(cli, tmp_path):
    records = [tool_record(f"q{i}", tool=["lookup_order", "start_return"][i % 2], client=["web", "app"][i % 2], ts=1_780_000_000 + i) for i in range(6)]
    records.append(text_record("hi", "hello", workload="chat"))
    path = tmp_path / "w.jsonl"
    path.write_text("\n".join(map(dumps, records)) + "\n")
    cli("ingest", str(path))
    doc = json.loads(cli("--json", "workloads").stdout)
    router = doc["workloads"][1]
    assert router["workload_id"] == "tool_router"
    assert router["clients"] == ["app", "web"]
    assert router["tools"] == {"lookup_order": 3, "start_return": 3}
    assert (router["first"], router["last"]) == (1_780_000_000, 1_780_000_005)
    only_app = json.loads(cli("--json", "workloads", "--client-id", "app").stdout)["workloads"]
    assert [(w["workload_id"], w["records"], w["tools"]) for w in only_app] == [("tool_router", 3, {"start_return": 3})]
    table = cli("workloads")
    assert "tool_router" in table.stdout and "tool_calling" in table.stdout and "lookup_order (3)" in table.stdout
