"""Parsing log files in a helper process.

Parsing, validating and hashing a line costs about as much CPU as storing it, and both hold the GIL, so threads do not
overlap them. A second process does: it reads and parses the files while this process writes SQLite. Only the
parsed rows cross the pipe, in input order, so the writer sees exactly what the one-process path would have given it.

The helper never touches the state file, so killing either process at any moment leaves the state as consistent as
the one-process path does: the writer commits whole batches, and the helper dies with its pipe.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import traceback
from collections.abc import Callable, Generator, Iterator
from multiprocessing.connection import Connection
from typing import Any

from flywheel_cli.errors import FlywheelError, InputError
from flywheel_cli.logs.jsonl import STDIN, iter_lines
from flywheel_cli.logs.schema import Overrides

# Below this much input the helper's start-up (~0.2 s to spawn and import) costs more than it saves.
MIN_BYTES = 16 * 2**20
# Lines per message: large enough that pickling overhead is small, small enough to keep the writer busy early.
CHUNK = 1000
QUEUED_CHUNKS = 10


def worth_a_helper(paths: list[str]) -> bool:
    if (os.cpu_count() or 1) < 2 or STDIN in paths:
        return False
    try:
        return sum(os.path.getsize(p) for p in paths) >= MIN_BYTES
    except OSError:
        return False  # the one-process path reports the unreadable file properly


def parsed_rows(
    paths: list[str], overrides: Overrides, max_line_bytes: int, on_bytes: Callable[[int], None] | None
) -> Generator[tuple[bytes, Any], None, None]:
    """What `ingest._rows` yields for these files, parsed in a helper process. Close the iterator to stop the helper."""
    # spawn, not fork: the caller may have threads (progress display, a run's workers) that fork would copy mid-lock.
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    helper = ctx.Process(
        target=_parse_files, args=(send, paths, overrides, max_line_bytes), name="flywheel-ingest-parser", daemon=True
    )
    helper.start()
    send.close()  # the helper holds the only writing end: its death is an EOF here
    # A pipe holds 64 KiB, so a helper whose messages wait to be read stalls while this process writes SQLite. A
    # thread keeps reading them into a bounded queue (about 16 MB of parsed lines), so both processes keep working.
    inbox: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=QUEUED_CHUNKS)
    stop = threading.Event()
    reader = threading.Thread(target=_drain, args=(receive, inbox, stop), name="flywheel-ingest-reader", daemon=True)
    reader.start()
    finished = False
    try:
        while True:
            message = inbox.get()
            kind = message[0]
            if kind == "rows":
                _, source, metas, buf, consumed = message
                if on_bytes is not None and consumed:
                    on_bytes(consumed)
                yield from _unpack(source, metas, buf)
            elif kind == "done":
                finished = True
                return
            elif kind == "error":
                raise InputError(message[1], hint=message[2])
            elif kind == "eof":
                helper.join(5)
                raise InputError(
                    f"the log parser process stopped unexpectedly (exit code {helper.exitcode})",
                    hint="The batches before it were stored; run the same command again to finish.",
                )
            else:  # "crash": a bug in the parser; shown with its helper-side traceback under --traceback
                raise RuntimeError(f"the log parser process failed:\n{message[1]}")
    finally:
        stop.set()
        if finished:
            helper.join(5)  # it has sent everything and is exiting by itself
        if helper.is_alive():
            helper.terminate()  # its end of the pipe closes, which ends the reader's wait
        helper.join(5)
        reader.join(5)
        receive.close()


def _drain(receive: Connection, inbox: queue.Queue[tuple[Any, ...]], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            message = receive.recv()
        except (EOFError, OSError):
            message = ("eof",)
        while not stop.is_set():
            try:
                inbox.put(message, timeout=0.1)
                break
            except queue.Full:
                continue
        if message[0] in ("done", "error", "crash", "eof"):
            return


def _unpack(source: str, metas: list[tuple[Any, ...]], buf: bytes) -> Iterator[tuple[bytes, Any]]:
    from flywheel_cli.ingest import Reject
    from flywheel_cli.state.records import RecordRow

    view = memoryview(buf)
    for meta in metas:
        if meta[0] is None:  # a reject: (None, line, reason, start, end), its raw line in the buffer
            yield bytes(view[meta[3] : meta[4]]), Reject(source, meta[1], meta[2])
        else:
            record_id, workload, client, ts, first_tool, line, start, end = meta
            yield b"", RecordRow(record_id, workload, client, ts, first_tool, None, source, line, bytes(view[start:end]))


def _parse_files(send: Connection, paths: list[str], overrides: Overrides, max_line_bytes: int) -> None:
    # Ctrl-C reaches the whole process group; the parent decides what it means and stops this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from flywheel_cli.ingest import Reject, _to_row

    consumed = 0

    def count(n: int) -> None:
        nonlocal consumed
        consumed += n

    # One message per CHUNK lines: small tuples for what was parsed, and one buffer holding the bytes to store (or the
    # rejected lines): pickling one big buffer is far cheaper than thousands of small ones.
    metas: list[tuple[Any, ...]] = []
    parts: list[bytes] = []
    size = 0
    source = ""

    def flush() -> None:
        nonlocal metas, parts, size, consumed
        if metas or consumed:
            send.send(("rows", source, metas, b"".join(parts), consumed))
        metas, parts, size, consumed = [], [], 0, 0

    try:
        for path in paths:
            source = path
            for line in iter_lines(path, count):
                source = line.source
                item = _to_row(line, overrides, max_line_bytes)
                data = line.raw if isinstance(item, Reject) else item.body
                if isinstance(item, Reject):
                    metas.append((None, item.line, item.reason, size, size + len(data)))
                else:
                    metas.append((item.id, item.workload_id, item.client_id, item.timestamp, item.first_tool, item.line, size, size + len(data)))
                parts.append(data)
                size += len(data)
                if len(metas) >= CHUNK:
                    flush()
            flush()  # a chunk never spans two files: each message names its one source
        send.send(("done",))
    except (BrokenPipeError, ConnectionResetError):
        return  # the writer is gone (killed or finished early): nothing is left to do
    except FlywheelError as exc:
        # The lines before an unreadable part are good: they go first, as they would in one process.
        try:
            flush()
        except OSError:
            return
        _send_quietly(send, ("error", exc.message, exc.hint))
    except BaseException:
        _send_quietly(send, ("crash", traceback.format_exc()))
    finally:
        send.close()


def _send_quietly(send: Connection, message: tuple[Any, ...]) -> None:
    try:
        send.send(message)
    except OSError:
        pass
