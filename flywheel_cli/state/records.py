"""Log records and ingest bookkeeping."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

MIGRATIONS = [
    (
        "001_records",
        """
        CREATE TABLE records (
            seq INTEGER PRIMARY KEY,        -- insertion order; rows are appended, never moved
            id TEXT NOT NULL,               -- versioned content hash, e.g. 'r1:<sha256>' (see logs/identity.py)
            h INTEGER NOT NULL,             -- the hash's first 64 bits: a compact index key (ids are unique by code)
            workload_id TEXT NOT NULL,
            client_id TEXT NOT NULL,
            timestamp INTEGER NOT NULL,     -- epoch seconds
            first_tool TEXT,                -- name of the response's first tool call, NULL when none
            body BLOB NOT NULL,             -- the whole record as ingested, JSON (query it with json_extract)
            source TEXT NOT NULL,           -- file path, '-' for stdin, or es://index/_id
            line INTEGER,                   -- line number in source (NULL for Elasticsearch)
            ingest_id INTEGER NOT NULL REFERENCES ingests(id)
        );
        CREATE INDEX records_by_hash ON records (h);
        CREATE INDEX records_by_workload ON records (workload_id, timestamp DESC);
        CREATE TABLE ingests (
            id INTEGER PRIMARY KEY,
            started_at REAL NOT NULL,
            finished_at REAL,
            status TEXT NOT NULL,           -- running | completed | interrupted | failed
            sources TEXT NOT NULL,          -- JSON list of what was read
            read INTEGER NOT NULL DEFAULT 0,
            ingested INTEGER NOT NULL DEFAULT 0,
            duplicates INTEGER NOT NULL DEFAULT 0,
            rejected INTEGER NOT NULL DEFAULT 0,
            rejects_path TEXT
        );
        CREATE TABLE workload_duplicates (
            workload_id TEXT NOT NULL,
            client_id TEXT NOT NULL,
            duplicates INTEGER NOT NULL,    -- records seen at ingest whose content was already stored from another line
            PRIMARY KEY (workload_id, client_id)
        );
        """,
    )
]


class RecordRow(NamedTuple):
    """What ingest hands to the store: identity, provenance and the record itself.

    A NamedTuple rather than a dataclass: ingest builds one per line, and tuples build several times faster."""

    id: str
    workload_id: str
    client_id: str
    timestamp: int
    first_tool: str | None
    record: dict[str, Any] | None  # the record; or None when `body` already holds its JSON
    source: str
    line: int | None
    body: bytes | None = None  # the record's JSON as it arrived, when it needed no normalisation


@dataclass(frozen=True)
class StoredRecord:
    id: str
    workload_id: str
    client_id: str
    timestamp: int
    record: dict[str, Any]  # {"timestamp","workload_id","client_id","request","response", ...}


@dataclass(frozen=True)
class BatchResult:
    ingested: int
    duplicates: int  # already stored (from an earlier line, file or ingest), or repeated within the batch
    reimported: int  # of the duplicates: the very same source and line again (a re-run), not a duplicate in the data
    stored_ids: frozenset[str] = frozenset()


def _by_id(rows: list[Any]) -> Iterator[StoredRecord]:
    for row in sorted(rows, key=lambda r: r[0]) if len(rows) > 1 else rows:
        yield StoredRecord(row[0], row[1], row[2], row[3], _unpack(row[4]))


def _pack(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)


def _unpack(blob: bytes) -> dict[str, Any]:
    return orjson.loads(blob)


_LOOKUP_CHUNK = 900


def id_key(record_id: str) -> int:
    """The indexed key of an id: its digest's first 64 bits as a signed integer.

    Why not index the 67-character id itself: content hashes arrive in random order, and a wide random-order index
    dirties a different page per insert, which made bulk ingest several times slower. The small integer index stays
    in cache; the full id is compared in code, so a 64-bit collision can never merge two different records.
    """
    if _R1_ID.match(record_id):
        return int(record_id[3:19], 16) - (1 << 63)
    # Any other id (tests, a future id version): hash it to the same 64-bit range.
    return int.from_bytes(hashlib.sha256(record_id.encode()).digest()[:8], "big", signed=True)


_R1_ID = re.compile(r"r1:[0-9a-f]{16}")


class RecordsMixin:
    db: Any  # flywheel_cli.state.db.Database

    # -- ingest ---------------------------------------------------------------------------------------------------
    def start_ingest(self, sources: Sequence[str], rejects_path: str | None) -> int:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO ingests (started_at, status, sources, rejects_path) VALUES (?, 'running', ?, ?)",
                (time.time(), orjson.dumps(list(sources)).decode(), rejects_path),
            )
            return int(cur.lastrowid)

    def insert_records(self, ingest_id: int, rows: Sequence[RecordRow], *, read: int, rejected: int) -> BatchResult:
        """Insert one batch atomically, together with the ingest's counters, so a kill never half-counts a batch."""
        with self.db.transaction() as conn:
            keys = {r.id: id_key(r.id) for r in rows}
            prior = self._existing(conn, keys)
            fresh: list[tuple[Any, ...]] = []
            stored: set[str] = set()
            dup = reimported = 0
            per_workload: dict[tuple[str, str], int] = {}
            for r in rows:
                if r.id not in prior and r.id not in stored:
                    stored.add(r.id)
                    body = r.body if r.body is not None else _pack(r.record)  # type: ignore[arg-type]
                    fresh.append((r.id, keys[r.id], r.workload_id, r.client_id, r.timestamp, r.first_tool, body, r.source, r.line, ingest_id))
                    continue
                dup += 1
                if prior.get(r.id) == (r.source, r.line):
                    reimported += 1  # the same line of the same source again: a re-run, not a duplicate in the data
                else:
                    key = (r.workload_id, r.client_id)
                    per_workload[key] = per_workload.get(key, 0) + 1
            conn.executemany(
                "INSERT INTO records (id, h, workload_id, client_id, timestamp, first_tool, body, source, line, ingest_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                fresh,
            )
            ingested = len(fresh)
            conn.executemany(
                "INSERT INTO workload_duplicates (workload_id, client_id, duplicates) VALUES (?, ?, ?)"
                " ON CONFLICT (workload_id, client_id) DO UPDATE SET duplicates = duplicates + excluded.duplicates",
                [(w, c, n) for (w, c), n in per_workload.items()],
            )
            conn.execute(
                "UPDATE ingests SET read = read + ?, ingested = ingested + ?, duplicates = duplicates + ?,"
                " rejected = rejected + ? WHERE id = ?",
                (read, ingested, dup, rejected, ingest_id),
            )
        return BatchResult(ingested=ingested, duplicates=dup, reimported=reimported, stored_ids=frozenset(stored))

    @staticmethod
    def _existing(conn: sqlite3.Connection, ids: dict[str, int]) -> dict[str, tuple[str, int | None]]:
        """Stored ids among `ids` (id -> its index key), with where each was first seen."""
        wanted = ids.keys()
        keys = sorted(set(ids.values()))
        found: dict[str, tuple[str, int | None]] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(f"SELECT id, source, line FROM records WHERE h IN ({marks})", chunk):
                if row[0] in wanted:
                    found[row[0]] = (row[1], row[2])
        return found

    def finish_ingest(self, ingest_id: int, status: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE ingests SET status = ?, finished_at = ? WHERE id = ?", (status, time.time(), ingest_id))

    # -- queries --------------------------------------------------------------------------------------------------
    def count_records(self, workload_id: str | None = None, client_id: str | None = None) -> int:
        sql, args = "SELECT COUNT(*) FROM records", []
        clauses = []
        if workload_id is not None:
            clauses.append("workload_id = ?")
            args.append(workload_id)
        if client_id is not None:
            clauses.append("client_id = ?")
            args.append(client_id)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        return int(self.db.conn.execute(sql, args).fetchone()[0])

    def iter_records(self, workload_id: str, client_id: str | None = None) -> Iterator[StoredRecord]:
        """The workload's records, newest first; ties broken by id, so the order depends only on the content."""
        sql = "SELECT id, workload_id, client_id, timestamp, body FROM records WHERE workload_id = ?"
        args: list[Any] = [workload_id]
        if client_id is not None:
            sql += " AND client_id = ?"
            args.append(client_id)
        # The index gives timestamp order without a sort of every body; equal timestamps are ordered here.
        sql += " ORDER BY timestamp DESC"
        group: list[Any] = []
        for row in self.db.conn.execute(sql, args):
            if group and row[3] != group[0][3]:
                yield from _by_id(group)
                group = []
            group.append(row)
        yield from _by_id(group)

    def records_by_id(self, ids: Iterable[str]) -> dict[str, StoredRecord]:
        out: dict[str, StoredRecord] = {}
        wanted = set(ids)
        keys = sorted({id_key(i) for i in wanted})
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in self.db.conn.execute(
                f"SELECT id, workload_id, client_id, timestamp, body FROM records WHERE h IN ({marks})", chunk
            ):
                if row[0] in wanted:
                    out[row[0]] = StoredRecord(row[0], row[1], row[2], row[3], _unpack(row[4]))
        return out

    def workload_rows(self, client_id: str | None = None) -> list[dict[str, Any]]:
        """Per (workload, client): counts, time span, tool-call counts per tool."""
        where, args = "", []
        if client_id is not None:
            where, args = "WHERE client_id = ?", [client_id]
        rows = self.db.conn.execute(
            f"SELECT workload_id, client_id, COUNT(*) AS records, MIN(timestamp) AS first, MAX(timestamp) AS last,"
            f" SUM(first_tool IS NOT NULL) AS with_tools FROM records {where} GROUP BY workload_id, client_id"
            f" ORDER BY workload_id, client_id",
            args,
        ).fetchall()
        tools = self.db.conn.execute(
            f"SELECT workload_id, client_id, first_tool, COUNT(*) FROM records {where}"
            f" {'AND' if where else 'WHERE'} first_tool IS NOT NULL GROUP BY workload_id, client_id, first_tool",
            args,
        ).fetchall()
        tool_counts: dict[tuple[str, str], dict[str, int]] = {}
        for w, c, tool, n in tools:
            tool_counts.setdefault((w, c), {})[tool] = n
        return [
            {
                "workload_id": r["workload_id"],
                "client_id": r["client_id"],
                "records": r["records"],
                "first": r["first"],
                "last": r["last"],
                "with_tool_calls": r["with_tools"],
                "tools": tool_counts.get((r["workload_id"], r["client_id"]), {}),
            }
            for r in rows
        ]

    def duplicate_counts(self, client_id: str | None = None) -> dict[str, int]:
        """Per workload: records seen at ingest whose content was already stored from another line."""
        sql = "SELECT workload_id, SUM(duplicates) FROM workload_duplicates"
        args: list[Any] = []
        if client_id is not None:
            sql += " WHERE client_id = ?"
            args.append(client_id)
        return {row[0]: int(row[1]) for row in self.db.conn.execute(sql + " GROUP BY workload_id", args)}
