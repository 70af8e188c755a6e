"""Connection handling: WAL mode, ordered migrations recorded in a table, nested transactions."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from flywheel_cli.errors import StateError

Migration = tuple[str, str]
LOCK_WAIT_S = 30.0  # how long any wait for another process's lock on the state file may take  # (name, SQL script); names sort in application order


class Database:
    def __init__(self, path: Path, migrations: Sequence[Migration]) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves so a batch is exactly one transaction.
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=LOCK_WAIT_S, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot open state file {path}: {exc}", hint="Check the path given by --state / FLYWHEEL_STATE.") from None
        self.conn.row_factory = sqlite3.Row
        self._depth = 0
        # One connection is shared by the run's worker threads; a transaction belongs to one thread at a time.
        self._lock = threading.RLock()
        try:
            self._enable_wal()
            # NORMAL is durable across application crashes in WAL mode; only an OS crash can lose the last commit.
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT_S * 1000)}")
            # 32 MB of page cache keeps the indexes of a few million records hot during bulk ingest.
            self.conn.execute("PRAGMA cache_size=-32768")
            self._migrate(migrations)
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise StateError(
                f"{path} is not a usable flywheel state file: {exc}",
                hint="Point --state at another path, or move this file away.",
            ) from None

    def _enable_wal(self) -> None:
        # Switching a new file to WAL needs it to itself, and SQLite answers "database is locked" at once instead of
        # waiting when another process is creating it at the same moment: wait here, as for any other lock.
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
        """One atomic unit. Nested calls become savepoints, so helpers can be composed."""
        with self._lock:
            with self._transaction(immediate) as conn:
                yield conn

    @contextmanager
    def _transaction(self, immediate: bool) -> Iterator[sqlite3.Connection]:
        if self._depth:
            name = f"sp{self._depth}"
            self.conn.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield self.conn
            except BaseException:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
                raise
            else:
                self.conn.execute(f"RELEASE {name}")
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._depth = 0

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        if self._pending(migrations):
            # Two processes can open a new state file at the same moment. The write lock serialises them, and what
            # is applied is read again under it, so the second one finds the first one's work done.
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for name, sql in self._pending(migrations):
                    for statement in _split_sql(sql):  # not executescript: it would commit on its own
                        self.conn.execute(statement)
                    self.conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def _pending(self, migrations: Sequence[Migration]) -> list[Migration]:
        applied = {row[0] for row in self.conn.execute("SELECT name FROM _migrations")}
        unknown = applied - {name for name, _ in migrations}
        if unknown:
            raise StateError(
                f"{self.path} was written by a newer flywheel (migrations {', '.join(sorted(unknown))})",
                hint="Upgrade flywheel, or use another --state file.",
            )
        return [(name, sql) for name, sql in migrations if name not in applied]


def _split_sql(script: str) -> list[str]:
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements
