"""Big inputs are parsed in a helper process while the main process writes SQLite (flywheel_cli.ingest_worker).

The helper must be invisible: the same rows, counters, rejects and errors as the one-process path, and it must never
outlive an ingest that stops early — by Ctrl-C, by its own death, or by a kill -9 of flywheel.
"""

from __future__ import annotations

import gzip
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from factories import dumps, text_record, tool_record
from flywheel_cli.errors import InputError, Interrupted
from flywheel_cli.ingest import IngestOptions, ingest_files
from flywheel_cli.state import open_store

COLUMNS = "id, h, workload_id, client_id, timestamp, first_tool, body, source, line"


def _files(tmp_path: Path) -> list[str]:
    plain = tmp_path / "a.jsonl"
    lines = [dumps(tool_record(f"question {i}", ts=1_780_000_000 + i)) for i in range(2500)]
    lines[7] = "{not json"
    lines[1800] = dumps(tool_record("question 3", ts=1_780_000_003))  # a duplicate of line 4
    plain.write_text("\n".join(lines) + "\n")
    packed = tmp_path / "b.jsonl.gz"
    with gzip.open(packed, "wt") as fh:
        fh.write(dumps(text_record("hello", "hi there")) + "\n[1]\n")
        fh.write("".join(dumps(tool_record(f"more {i}", tool="start_return")) + "\n" for i in range(1200)))
    return [str(plain), str(packed)]


def _ingest(state: Path, files: list[str], helper: bool, **options):
    store = open_store(state)
    seen: list[int] = []
    try:
        summary = ingest_files(store, files, IngestOptions(parse_in_helper=helper, batch_size=700, **options), seen.append)
        rows = store.db.conn.execute(f"SELECT {COLUMNS} FROM records ORDER BY seq").fetchall()
        counters = tuple(store.db.conn.execute("SELECT read, ingested, duplicates, rejected, status FROM ingests").fetchone())
        return summary, [tuple(r) for r in rows], counters, sum(seen)
    finally:
        store.close()


def test_the_helper_stores_exactly_what_one_process_stores(tmp_path):
    files = _files(tmp_path)
    here, rows_here, counters_here, bytes_here = _ingest(tmp_path / "here.db", files, helper=False)
    helped, rows_helped, counters_helped, bytes_helped = _ingest(tmp_path / "helped.db", files, helper=True)
    assert len(rows_here) == 2500 - 2 + 1 + 1200
    assert rows_helped == rows_here  # same rows, same bytes, same order
    assert counters_helped == counters_here == (3702, 3699, 1, 2, "completed")
    assert [str(r) for r in helped.rejects] == [str(r) for r in here.rejects] == [
        f"{files[0]}:8: invalid JSON: unexpected character, expected a string key: line 1 column 2 (char 1)",
        f"{files[1]}:2: expected a JSON object, got an array",
    ]
    # progress counts every byte read from disk, compressed bytes for .gz, on both paths
    assert bytes_helped == bytes_here == sum(os.path.getsize(f) for f in files)
    assert multiprocessing.active_children() == []


def _at_batch(monkeypatch, store, number: int, action) -> Callable[..., object]:
    """Run `action` just before the `number`-th batch is stored; returns the real `insert_records`."""
    original = store.insert_records
    calls = {"n": 0}

    def insert_records(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == number:
            action()
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "insert_records", insert_records)
    return original


def test_ctrl_c_stops_the_helper_and_the_same_command_resumes(tmp_path, monkeypatch):
    files = _files(tmp_path)
    store = open_store(tmp_path / "state.db")

    def ctrl_c() -> None:
        raise KeyboardInterrupt

    original = _at_batch(monkeypatch, store, 3, ctrl_c)
    with pytest.raises(Interrupted):
        ingest_files(store, files, IngestOptions(parse_in_helper=True, batch_size=700))
    assert multiprocessing.active_children() == []
    assert store.count_records() == 1400
    monkeypatch.setattr(store, "insert_records", original)
    summary = ingest_files(store, files, IngestOptions(parse_in_helper=True, batch_size=700))
    assert (summary.ingested, summary.reimported) == (3699 - 1400, 1400)
    assert store.count_records() == 3699
    store.close()


def test_a_helper_that_dies_is_a_clear_error_and_keeps_what_was_stored(tmp_path, monkeypatch):
    files = _files(tmp_path)
    # Enough lines that the helper cannot have sent them all by the kill: the writer's queue is cut to one message,
    # so at most a few thousand lines wait beyond the 1,400 stored.
    more = tmp_path / "c.jsonl"
    more.write_text("".join(dumps(tool_record(f"later {i}")) + "\n" for i in range(20_000)))
    files.append(str(more))
    monkeypatch.setattr("flywheel_cli.ingest_worker.QUEUED_CHUNKS", 1)
    store = open_store(tmp_path / "state.db")

    def kill_the_helper() -> None:
        (helper,) = multiprocessing.active_children()
        os.kill(helper.pid, signal.SIGKILL)
        helper.join(10)

    original = _at_batch(monkeypatch, store, 2, kill_the_helper)
    with pytest.raises(InputError) as err:
        ingest_files(store, files, IngestOptions(parse_in_helper=True, batch_size=700))
    assert err.value.message == "the log parser process stopped unexpectedly (exit code -9)"
    assert err.value.hint == "The batches before it were stored; run the same command again to finish."
    stored = store.count_records()
    assert stored >= 1400 and stored % 700 == 0 and stored < 23_699
    monkeypatch.setattr(store, "insert_records", original)
    assert ingest_files(store, files, IngestOptions(parse_in_helper=True)).ingested == 23_699 - stored
    store.close()


@pytest.mark.parametrize("helper", [False, True], ids=["here", "in a helper process"])
def test_an_unreadable_gzip_tail_is_the_same_error_either_way(tmp_path, helper):
    path = tmp_path / "cut.jsonl.gz"
    whole = gzip.compress("".join(dumps(tool_record(f"q {i}")) + "\n" for i in range(3000)).encode())
    path.write_bytes(whole[: len(whole) // 2])
    store = open_store(tmp_path / "state.db")
    with pytest.raises(InputError) as err:
        ingest_files(store, [str(path)], IngestOptions(parse_in_helper=helper, batch_size=500))
    assert err.value.message.startswith(f"{path}: cannot read past line ")
    number = int(err.value.message.split("cannot read past line ")[1].split(":")[0])
    assert 0 < number < 3000
    # every whole batch before the damage is stored; the lines after it never arrive
    assert store.count_records() == number // 500 * 500
    assert store.db.conn.execute("SELECT status FROM ingests").fetchone()[0] == "failed"
    store.close()
    assert multiprocessing.active_children() == []


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process, from `ps` (Linux and macOS alike)."""
    out = subprocess.run(["ps", "-A", "-o", "pid=,ppid=,stat="], capture_output=True, text=True, check=True).stdout
    return {int(pid): (int(ppid), stat) for pid, ppid, stat in (line.split()[:3] for line in out.splitlines() if line.strip())}


def _children_of(pid: int) -> list[int]:
    return [child for child, (parent, _) in _processes().items() if parent == pid]


def _alive(pids: list[int]) -> bool:
    table = _processes()
    return any(pid in table and not table[pid][1].startswith("Z") for pid in pids)


def test_kill_9_of_flywheel_leaves_no_parser_running(tmp_path):
    from flywheel_cli.ingest_worker import MIN_BYTES

    path = tmp_path / "big.jsonl"
    line_size = len(dumps(tool_record("q 000000")))
    with path.open("w") as fh:
        for i in range(MIN_BYTES // line_size + 2000):
            fh.write(dumps(tool_record(f"q {i:06d}")) + "\n")
    state = tmp_path / "state.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYWHEEL_")}
    proc = subprocess.Popen([sys.executable, "-m", "flywheel_cli", "--state", str(state), "-q", "ingest", str(path)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    helpers: list[int] = []
    while time.monotonic() < deadline and not helpers:
        helpers = _children_of(proc.pid)
        time.sleep(0.01)
    assert helpers, "flywheel started no parser process"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _alive(helpers):
        time.sleep(0.05)
    assert not _alive(helpers), "the parser outlived flywheel"
    # whatever was committed is whole, and the same command finishes the job
    done = subprocess.run([sys.executable, "-m", "flywheel_cli", "--state", str(state), "--json", "ingest", str(path)],
                          env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(state) as conn:
        assert conn.execute("SELECT COUNT(*) FROM records").fetchone()[0] == MIN_BYTES // line_size + 2000
