"""Datasets and their lineage: what was built, from which records, into which files, uploaded where."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from flywheel_cli.errors import NotFoundError
from flywheel_cli.state.db import Migration

if TYPE_CHECKING:
    from flywheel_cli.platforms.base import DatasetRef

SPLITS = ("eval", "train", "val")

MIGRATIONS: list[Migration] = [
    (
        "002_datasets",
        """
        CREATE TABLE datasets (
            id TEXT PRIMARY KEY,            -- 'ds-' + 12 hex of a hash over workload, client, splits, config, ICL
            workload_id TEXT NOT NULL,
            client_id TEXT,                 -- NULL: every client of the workload
            created_at REAL NOT NULL,
            workload_type TEXT NOT NULL,    -- tool_calling | generic
            seed INTEGER NOT NULL,
            config_hash TEXT NOT NULL,      -- Settings.fingerprint("split", "icl") of the effective config
            eval_records INTEGER NOT NULL,
            train_records INTEGER NOT NULL,
            val_records INTEGER NOT NULL,
            path TEXT NOT NULL,             -- directory of the files, relative to the state directory
            manifest TEXT NOT NULL          -- JSON: stage counts, class balance, ICL figures, notes, effective config
        );
        CREATE INDEX datasets_by_workload ON datasets (workload_id, created_at);
        CREATE TABLE dataset_files (
            dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
            path TEXT NOT NULL,             -- relative to the dataset directory, e.g. 'eval/eval_data.jsonl'
            sha256 TEXT NOT NULL,
            lines INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            PRIMARY KEY (dataset_id, path)
        );
        CREATE TABLE dataset_records (
            dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
            split TEXT NOT NULL,            -- eval | train | val
            position INTEGER NOT NULL,      -- line index in the split's file, from 0
            record_id TEXT NOT NULL,
            PRIMARY KEY (dataset_id, split, position)
        );
        CREATE INDEX dataset_records_by_record ON dataset_records (record_id);
        CREATE TABLE dataset_icl_examples (
            dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
            eval_position INTEGER NOT NULL, -- line index in the ICL file (= in the eval file)
            rank INTEGER NOT NULL,          -- 1 for '### Example 1'
            record_id TEXT NOT NULL,
            PRIMARY KEY (dataset_id, eval_position, rank)
        );
        CREATE TABLE dataset_uploads (
            id INTEGER PRIMARY KEY,
            dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
            platform TEXT NOT NULL,         -- Platform.kind, e.g. 'nmp'
            endpoint TEXT NOT NULL,         -- where it went: the same content sent elsewhere is not "done"
            kind TEXT NOT NULL,             -- eval | icl | train
            name TEXT NOT NULL,             -- remote dataset name
            uri TEXT NOT NULL,              -- what jobs point at
            files_sha256 TEXT NOT NULL,     -- hash over the uploaded files' paths and contents
            uploaded_at REAL NOT NULL
        );
        CREATE INDEX dataset_uploads_by_dataset ON dataset_uploads (dataset_id, kind);
        """,
    )
]


@dataclass(frozen=True)
class DatasetFile:
    path: str
    sha256: str
    lines: int
    bytes: int


@dataclass(frozen=True)
class DatasetRow:
    id: str
    workload_id: str
    client_id: str | None
    created_at: float
    workload_type: str
    seed: int
    config_hash: str
    eval_records: int
    train_records: int
    val_records: int
    path: str
    manifest: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetUpload:
    dataset_id: str
    platform: str
    endpoint: str
    kind: str
    name: str
    uri: str
    files_sha256: str
    uploaded_at: float

    @property
    def ref(self) -> DatasetRef:
        # Imported here: the platform package may pull in clients that themselves use the state layer.
        from flywheel_cli.platforms.base import DatasetRef

        return DatasetRef(kind=self.kind, name=self.name, uri=self.uri)  # type: ignore[arg-type]


def _row(row: Any) -> DatasetRow:
    return DatasetRow(
        id=row["id"],
        workload_id=row["workload_id"],
        client_id=row["client_id"],
        created_at=row["created_at"],
        workload_type=row["workload_type"],
        seed=row["seed"],
        config_hash=row["config_hash"],
        eval_records=row["eval_records"],
        train_records=row["train_records"],
        val_records=row["val_records"],
        path=row["path"],
        manifest=orjson.loads(row["manifest"]),
    )


def _upload(row: Any) -> DatasetUpload:
    return DatasetUpload(
        dataset_id=row["dataset_id"],
        platform=row["platform"],
        endpoint=row["endpoint"],
        kind=row["kind"],
        name=row["name"],
        uri=row["uri"],
        files_sha256=row["files_sha256"],
        uploaded_at=row["uploaded_at"],
    )


class DatasetsMixin:
    db: Any  # flywheel_cli.state.db.Database

    def insert_dataset(
        self,
        row: DatasetRow,
        *,
        splits: Mapping[str, Sequence[str]],
        icl_examples: Sequence[Sequence[str]],
        files: Sequence[DatasetFile],
    ) -> None:
        """Store a built dataset with its lineage in one transaction: all of it or nothing."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO datasets (id, workload_id, client_id, created_at, workload_type, seed, config_hash,"
                " eval_records, train_records, val_records, path, manifest)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.id,
                    row.workload_id,
                    row.client_id,
                    row.created_at,
                    row.workload_type,
                    row.seed,
                    row.config_hash,
                    row.eval_records,
                    row.train_records,
                    row.val_records,
                    row.path,
                    orjson.dumps(row.manifest, option=orjson.OPT_SORT_KEYS).decode(),
                ),
            )
            conn.executemany(
                "INSERT INTO dataset_files (dataset_id, path, sha256, lines, bytes) VALUES (?, ?, ?, ?, ?)",
                [(row.id, f.path, f.sha256, f.lines, f.bytes) for f in files],
            )
            conn.executemany(
                "INSERT INTO dataset_records (dataset_id, split, position, record_id) VALUES (?, ?, ?, ?)",
                [(row.id, split, pos, rid) for split in SPLITS for pos, rid in enumerate(splits.get(split, ()))],
            )
            conn.executemany(
                "INSERT INTO dataset_icl_examples (dataset_id, eval_position, rank, record_id) VALUES (?, ?, ?, ?)",
                [
                    (row.id, pos, rank, rid)
                    for pos, example_ids in enumerate(icl_examples)
                    for rank, rid in enumerate(example_ids, start=1)
                ],
            )

    def get_dataset_row(self, dataset_id: str) -> DatasetRow | None:
        row = self.db.conn.execute("SELECT * FROM datasets WHERE id = ?", (dataset_id,)).fetchone()
        return _row(row) if row is not None else None

    def resolve_dataset_id(self, ref: str) -> str:
        """A full dataset id, or a prefix of exactly one (with or without the 'ds-' part)."""
        ref = ref.strip()
        candidates = [ref] if ref.startswith("ds-") else [ref, f"ds-{ref}"]
        for candidate in candidates:
            if self.db.conn.execute("SELECT 1 FROM datasets WHERE id = ?", (candidate,)).fetchone():
                return candidate
        matches: set[str] = set()
        for candidate in candidates:
            if not candidate:
                continue
            pattern = candidate.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            matches.update(
                r[0] for r in self.db.conn.execute("SELECT id FROM datasets WHERE id LIKE ? ESCAPE '\\'", (pattern,))
            )
        if len(matches) == 1:
            return matches.pop()
        if matches:
            raise NotFoundError(
                f"dataset id {ref!r} is ambiguous: it matches {', '.join(sorted(matches))}",
                hint="Give more characters of the id.",
            )
        raise NotFoundError(
            f"no dataset {ref!r} in the state file",
            hint="`flywheel datasets list` shows the datasets built so far.",
        )

    def list_datasets(self, workload_id: str | None = None) -> list[DatasetRow]:
        sql, args = "SELECT * FROM datasets", []
        if workload_id is not None:
            sql += " WHERE workload_id = ?"
            args.append(workload_id)
        sql += " ORDER BY created_at DESC, id"
        return [_row(r) for r in self.db.conn.execute(sql, args)]

    def dataset_files(self, dataset_id: str) -> list[DatasetFile]:
        rows = self.db.conn.execute(
            "SELECT path, sha256, lines, bytes FROM dataset_files WHERE dataset_id = ? ORDER BY path", (dataset_id,)
        )
        return [DatasetFile(r[0], r[1], r[2], r[3]) for r in rows]

    def dataset_split_ids(self, dataset_id: str) -> dict[str, list[str]]:
        """The record ids of each split, in file order (the lineage of every line)."""
        out: dict[str, list[str]] = {split: [] for split in SPLITS}
        for split, rid in self.db.conn.execute(
            "SELECT split, record_id FROM dataset_records WHERE dataset_id = ? ORDER BY split, position", (dataset_id,)
        ):
            out[split].append(rid)
        return out

    def dataset_icl_examples(self, dataset_id: str) -> list[list[str]]:
        """For each ICL line (eval order), the train record ids injected as examples, in example order."""
        row = self.db.conn.execute("SELECT eval_records FROM datasets WHERE id = ?", (dataset_id,)).fetchone()
        out: list[list[str]] = [[] for _ in range(row[0] if row else 0)]
        for pos, rid in self.db.conn.execute(
            "SELECT eval_position, record_id FROM dataset_icl_examples WHERE dataset_id = ?"
            " ORDER BY eval_position, rank",
            (dataset_id,),
        ):
            out[pos].append(rid)
        return out

    def datasets_with_record(self, record_id: str) -> list[tuple[str, str, int]]:
        """Where a record went: (dataset id, split, position) for every dataset that used it."""
        rows = self.db.conn.execute(
            "SELECT dataset_id, split, position FROM dataset_records WHERE record_id = ? ORDER BY dataset_id, split",
            (record_id,),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def record_dataset_upload(
        self,
        dataset_id: str,
        *,
        platform: str,
        endpoint: str,
        kind: str,
        name: str,
        uri: str,
        files_sha256: str,
        uploaded_at: float | None = None,
    ) -> DatasetUpload:
        upload = DatasetUpload(
            dataset_id=dataset_id,
            platform=platform,
            endpoint=endpoint,
            kind=kind,
            name=name,
            uri=uri,
            files_sha256=files_sha256,
            uploaded_at=time.time() if uploaded_at is None else uploaded_at,
        )
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO dataset_uploads"
                " (dataset_id, platform, endpoint, kind, name, uri, files_sha256, uploaded_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (dataset_id, platform, endpoint, kind, name, uri, files_sha256, upload.uploaded_at),
            )
        return upload

    def dataset_uploads(
        self, dataset_id: str, *, platform: str | None = None, endpoint: str | None = None
    ) -> list[DatasetUpload]:
        """Uploads of a dataset, newest first; `.ref` of each is the DatasetRef jobs point at."""
        sql = "SELECT * FROM dataset_uploads WHERE dataset_id = ?"
        args: list[Any] = [dataset_id]
        if platform is not None:
            sql += " AND platform = ?"
            args.append(platform)
        if endpoint is not None:
            sql += " AND endpoint = ?"
            args.append(endpoint)
        sql += " ORDER BY uploaded_at DESC, id DESC"
        return [_upload(r) for r in self.db.conn.execute(sql, args)]
