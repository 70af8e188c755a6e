"""Ingest: read log lines, validate, dedup by content id and store them in batches.

Each batch is one transaction that also updates the ingest's counters, so killing the process at any moment leaves a
consistent state file, and running the same command again completes the work: stored records are skipped by id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from flywheel_cli.errors import Interrupted
from flywheel_cli.logs.jsonl import Line, iter_lines
from flywheel_cli.logs.schema import Invalid, Overrides, normalise
from flywheel_cli.state.records import RecordRow
from flywheel_cli.state.store import Store

DEFAULT_BATCH = 5000
MAX_SHOWN_REJECTS = 20


@dataclass(frozen=True)
class IngestOptions:
    workload_id: str | None = None
    client_id: str | None = None
    strict: bool = False
    rejects_path: Path | None = None
    batch_size: int = DEFAULT_BATCH
    max_line_bytes: int = 16 * 1024 * 1024
    # Parse files in a helper process while this one writes: None decides by input size (see ingest_worker).
    parse_in_helper: bool | None = None


@dataclass(frozen=True)
class Reject:
    source: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.reason}"


@dataclass
class WorkloadCounts:
    read: int = 0
    ingested: int = 0
    duplicates: int = 0


@dataclass
class IngestSummary:
    ingest_id: int
    sources: list[str]
    read: int = 0
    ingested: int = 0
    duplicates: int = 0
    reimported: int = 0
    rejected: int = 0
    rejects: list[Reject] = field(default_factory=list)  # the first MAX_SHOWN_REJECTS
    rejects_path: str | None = None
    workloads: dict[str, WorkloadCounts] = field(default_factory=dict)
    strict_aborted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "ingest_id": self.ingest_id,
            "sources": self.sources,
            "read": self.read,
            "ingested": self.ingested,
            "duplicates": self.duplicates,
            "already_ingested": self.reimported,
            "rejected": self.rejected,
            "rejects_file": self.rejects_path,
            "rejects": [{"source": r.source, "line": r.line, "reason": r.reason} for r in self.rejects],
            "workloads": {w: vars(c) for w, c in sorted(self.workloads.items())},
            "strict_aborted": self.strict_aborted,
        }


class _RejectWriter:
    """Writes each rejected line whole (raw bytes) plus a reasons file beside it, opened only on the first reject."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lines: IO[bytes] | None = None
        self._reasons: IO[str] | None = None

    @property
    def reasons_path(self) -> Path:
        return self.path.with_name(self.path.name + ".errors.txt")

    def write(self, reject: Reject, raw: bytes) -> None:
        if self._lines is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lines = open(self.path, "ab")  # noqa: SIM115 - closed in close()
            self._reasons = open(self.reasons_path, "a", encoding="utf-8")  # noqa: SIM115
        self._lines.write(raw + b"\n")
        assert self._reasons is not None
        self._reasons.write(f"{reject}\n")

    def close(self) -> None:
        for handle in (self._lines, self._reasons):
            if handle is not None:
                handle.close()

    @property
    def used(self) -> bool:
        return self._lines is not None


def _decode_reason(raw: bytes, exc: Exception) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as ude:
        return f"not valid UTF-8 (byte 0x{raw[ude.start]:02x} at offset {ude.start})"
    message = str(exc)
    return f"invalid JSON: {message}"


def _parse(line: Line, overrides: Overrides, max_bytes: int):  # -> Normalised | Reject
    if len(line.raw) > max_bytes:
        return Reject(line.source, line.number, f"line is {len(line.raw):,} bytes, over the {max_bytes:,}-byte limit")
    try:
        data = orjson.loads(line.raw)
    except orjson.JSONDecodeError as exc:
        return Reject(line.source, line.number, _decode_reason(line.raw, exc))
    try:
        return normalise(data, overrides)
    except Invalid as exc:
        return Reject(line.source, line.number, str(exc))
    except RecursionError:
        return Reject(line.source, line.number, "JSON is nested too deeply")


def default_rejects_path(store: Store, ingest_id: int) -> Path:
    return store.state_dir / "rejects" / f"ingest-{ingest_id}.jsonl"


def ingest_lines(
    store: Store,
    sources: list[str],
    lines: Iterable[Line],
    options: IngestOptions,
) -> IngestSummary:
    """Validate and store lines. `sources` names what is being read (for the ingest row and messages)."""
    return _ingest(store, sources, lambda overrides: _rows(lines, overrides, options), options)


def _ingest(
    store: Store,
    sources: list[str],
    parse: Callable[[Overrides], Generator[tuple[bytes, RecordRow | Reject], None, None]],
    options: IngestOptions,
) -> IngestSummary:
    ingest_id = store.start_ingest(sources, None)
    summary = IngestSummary(ingest_id=ingest_id, sources=sources)
    rejects_path = options.rejects_path or default_rejects_path(store, ingest_id)
    writer = _RejectWriter(rejects_path)
    overrides = Overrides(options.workload_id, options.client_id, default_timestamp=int(time.time()))
    status = "failed"
    rows = parse(overrides)
    try:
        if options.strict:
            # One outer transaction: every batch is a savepoint inside it, and any reject rolls all of it back.
            with store.db.transaction():
                _consume(store, rows, options, summary, writer)
                if summary.rejected:
                    summary.strict_aborted = True
                    raise _StrictAbort
        else:
            _consume(store, rows, options, summary, writer)
        status = "completed"
    except _StrictAbort:
        status = "rejected"
        summary.ingested = summary.duplicates = summary.reimported = 0
        summary.workloads = {}
    except KeyboardInterrupt:
        status = "interrupted"
        raise Interrupted(
            f"ingest interrupted after {summary.read:,} lines; {summary.ingested:,} records were stored",
            hint="Run the same command again to finish: records already stored are skipped.",
        ) from None
    finally:
        rows.close()  # stops a parser process at once, whatever ended the ingest
        writer.close()
        summary.rejects_path = str(rejects_path) if writer.used else None
        store.finish_ingest(ingest_id, status)
    return summary


class _StrictAbort(Exception):
    pass


def _consume(
    store: Store,
    rows: Iterator[tuple[bytes, RecordRow | Reject]],
    options: IngestOptions,
    summary: IngestSummary,
    writer: _RejectWriter,
) -> None:
    batch: list[RecordRow] = []
    batch_read = batch_rejected = 0

    def flush() -> None:
        nonlocal batch, batch_read, batch_rejected
        if not batch and not batch_read:
            return
        result = store.insert_records(summary.ingest_id, batch, read=batch_read, rejected=batch_rejected)
        summary.ingested += result.ingested
        summary.duplicates += result.duplicates
        summary.reimported += result.reimported
        _count_workloads(summary, batch, result.stored_ids)
        batch, batch_read, batch_rejected = [], 0, 0

    for raw, item in rows:
        summary.read += 1
        batch_read += 1
        if isinstance(item, Reject):
            summary.rejected += 1
            batch_rejected += 1
            if len(summary.rejects) < MAX_SHOWN_REJECTS:
                summary.rejects.append(item)
            writer.write(item, raw)
            continue
        batch.append(item)
        if len(batch) >= options.batch_size:
            flush()
    flush()


def _to_row(line: Line, overrides: Overrides, max_bytes: int) -> RecordRow | Reject:
    parsed = _parse(line, overrides, max_bytes)
    if isinstance(parsed, Reject):
        return parsed
    return RecordRow(
        id=parsed.id,
        workload_id=parsed.workload_id,
        client_id=parsed.client_id,
        timestamp=parsed.timestamp,
        first_tool=parsed.first_tool,
        record=None,
        body=line.raw if parsed.verbatim else orjson.dumps(parsed.record),
        source=line.source,
        line=line.number,
    )


def _rows(
    lines: Iterable[Line], overrides: Overrides, options: IngestOptions
) -> Generator[tuple[bytes, RecordRow | Reject], None, None]:
    """Parsed lines in input order, each with its raw bytes when rejected (for the rejects file).

    Here in this process; `ingest_worker.parsed_rows` gives the same for big files from a helper process.
    """
    for line in lines:
        item = _to_row(line, overrides, options.max_line_bytes)
        yield (line.raw if isinstance(item, Reject) else b""), item


def _count_workloads(summary: IngestSummary, batch: list[RecordRow], stored: frozenset[str]) -> None:
    stored_now = set(stored)
    for row in batch:
        counts = summary.workloads.setdefault(row.workload_id, WorkloadCounts())
        counts.read += 1
        if row.id in stored_now:
            counts.ingested += 1
            stored_now.discard(row.id)  # a repeat of the same id later in the batch is a duplicate
        else:
            counts.duplicates += 1


def ingest_files(
    store: Store,
    paths: list[str],
    options: IngestOptions,
    on_bytes: Callable[[int], None] | None = None,
) -> IngestSummary:
    from flywheel_cli import ingest_worker

    use_helper = options.parse_in_helper
    if use_helper if use_helper is not None else ingest_worker.worth_a_helper(paths):
        parse = lambda ov: ingest_worker.parsed_rows(paths, ov, options.max_line_bytes, on_bytes)  # noqa: E731
        return _ingest(store, paths, parse, options)

    def lines() -> Iterator[Line]:
        for path in paths:
            yield from iter_lines(path, on_bytes)

    return ingest_lines(store, paths, lines(), options)


def ingest_documents(
    store: Store,
    source: str,
    documents: Iterable[tuple[str, dict[str, Any]]],
    options: IngestOptions,
) -> IngestSummary:
    """Ingest already-parsed documents (Elasticsearch hits). Each is re-serialised so rejects keep the whole document."""

    def lines() -> Iterator[Line]:
        for location, doc in documents:
            yield Line(location, None, orjson.dumps(doc))

    return ingest_lines(store, [source], lines(), options)
