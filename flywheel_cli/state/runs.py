"""Runs, their steps, remote jobs (deployments, customizations, evaluations) and scores.

The resumability contract lives here: a remote job is a row written *before* its create request is sent (status
`creating`, with the name the platform will know it by) and updated with the remote id right after, so a process
killed at any moment can find the job again by name instead of creating a second one.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from flywheel_cli.state.db import Migration

MIGRATIONS: list[Migration] = [
    (
        "003_runs",
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,                -- 'run-' + 8 hex
            workload_id TEXT NOT NULL,
            client_id TEXT,
            status TEXT NOT NULL,               -- running | completed | partial | failed | cancelled | interrupted
            created_at REAL NOT NULL,
            finished_at REAL,
            dataset_id TEXT,
            platform TEXT NOT NULL,             -- platform kind, e.g. 'nmp'
            endpoint TEXT NOT NULL,             -- where it ran (base URL), so a run never attaches to another cluster
            simulated INTEGER NOT NULL DEFAULT 0,
            nims TEXT NOT NULL,                 -- JSON list of model names, in order
            options TEXT NOT NULL,              -- JSON of the run's options
            error TEXT
        );
        CREATE INDEX runs_by_workload ON runs (workload_id, created_at DESC);
        CREATE TABLE steps (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            nim TEXT NOT NULL,                  -- '' for run-level steps
            stage TEXT NOT NULL,                -- ingest | datasets | upload | deploy | base | icl | customize | customized | teardown
            status TEXT NOT NULL,               -- pending | running | completed | failed | skipped | cancelled | interrupted
            job_id INTEGER REFERENCES jobs(id),
            progress REAL,
            detail TEXT,                        -- JSON: stage-specific facts (epochs, losses, counts)
            error TEXT,
            started_at REAL,
            finished_at REAL,
            PRIMARY KEY (run_id, nim, stage)
        );
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,                 -- deployment | customization | evaluation
            key TEXT NOT NULL,                  -- what the job is for: same key = same inputs = attach, never recreate
            attempt INTEGER NOT NULL DEFAULT 1,
            name TEXT NOT NULL,                 -- the name the platform knows it by (lookup after a lost answer)
            remote_id TEXT,                     -- platform id, once known
            platform TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            workload_id TEXT,
            nim TEXT,
            eval_type TEXT,                     -- base | icl | customized (evaluations)
            dataset_id TEXT,
            target_model TEXT,                  -- evaluations: the model evaluated
            output_model TEXT,                  -- customizations: the served adapter id, as the platform returned it
            status TEXT NOT NULL,               -- creating | pending | running | completed | failed | cancelled | unknown | ready | deleted
            progress REAL,
            detail TEXT,                        -- JSON of the last status seen
            error TEXT,
            run_id TEXT,                        -- the run that created it; NULL for a standalone command
            simulated INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            finished_at REAL,
            UNIQUE (key, attempt)
        );
        CREATE INDEX jobs_by_key ON jobs (key, attempt DESC);
        CREATE TABLE scores (
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            metric TEXT NOT NULL,
            raw REAL NOT NULL,                  -- as the platform reported it (similarity is 1–10)
            normalised REAL NOT NULL,           -- in [0, 1]
            count INTEGER,                      -- samples scored
            failed INTEGER NOT NULL DEFAULT 0,  -- samples without a parseable rating
            PRIMARY KEY (job_id, metric)
        );
        CREATE TABLE samples (
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            metric TEXT NOT NULL,
            idx INTEGER NOT NULL,
            value REAL,                         -- normalised; NULL = the sample failed
            PRIMARY KEY (job_id, metric, idx)
        );
        """,
    )
]

TERMINAL_JOB_STATES = {"completed", "failed", "cancelled", "deleted"}


@dataclass
class JobRow:
    id: int
    kind: str
    key: str
    attempt: int
    name: str
    remote_id: str | None
    platform: str
    endpoint: str
    workload_id: str | None
    nim: str | None
    eval_type: str | None
    dataset_id: str | None
    target_model: str | None
    output_model: str | None
    status: str
    progress: float | None
    detail: dict[str, Any]
    error: str | None
    run_id: str | None
    simulated: bool
    created_at: float
    updated_at: float
    finished_at: float | None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_JOB_STATES


@dataclass
class StepRow:
    run_id: str
    nim: str
    stage: str
    status: str
    job_id: int | None
    progress: float | None
    detail: dict[str, Any]
    error: str | None
    started_at: float | None
    finished_at: float | None


@dataclass
class RunRow:
    id: str
    workload_id: str
    client_id: str | None
    status: str
    created_at: float
    finished_at: float | None
    dataset_id: str | None
    platform: str
    endpoint: str
    simulated: bool
    nims: list[str]
    options: dict[str, Any]
    error: str | None
    steps: list[StepRow] = field(default_factory=list)


def _job(row: Any) -> JobRow:
    data = dict(row)
    data["detail"] = orjson.loads(data["detail"]) if data["detail"] else {}
    data["simulated"] = bool(data["simulated"])
    return JobRow(**data)


def _step(row: Any) -> StepRow:
    data = dict(row)
    data["detail"] = orjson.loads(data["detail"]) if data["detail"] else {}
    return StepRow(**data)


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


class RunsMixin:
    db: Any

    # -- jobs -----------------------------------------------------------------------------------------------------
    def latest_job(self, key: str) -> JobRow | None:
        row = self.db.conn.execute("SELECT * FROM jobs WHERE key = ? ORDER BY attempt DESC LIMIT 1", (key,)).fetchone()
        return _job(row) if row else None

    def job(self, job_id: int) -> JobRow:
        row = self.db.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return _job(row)

    def jobs(self, *, kind: str | None = None, run_id: str | None = None, live_only: bool = False) -> list[JobRow]:
        sql, args, where = "SELECT * FROM jobs", [], []
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if run_id:
            where.append("run_id = ?")
            args.append(run_id)
        if live_only:
            where.append("status NOT IN ('completed', 'failed', 'cancelled', 'deleted')")
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_job(r) for r in self.db.conn.execute(sql + " ORDER BY id", args)]

    def create_job(self, **fields: Any) -> JobRow:
        """Record a job as `creating` before the platform is asked to create it."""
        now = time.time()
        fields.setdefault("attempt", 1)
        fields.setdefault("status", "creating")
        fields["detail"] = _json(fields.get("detail") or {})
        fields["simulated"] = int(bool(fields.get("simulated")))
        fields["created_at"] = fields["updated_at"] = now
        cols = ", ".join(fields)
        marks = ", ".join("?" * len(fields))
        with self.db.transaction() as conn:
            cur = conn.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", list(fields.values()))
            return self.job(int(cur.lastrowid))

    def update_job(self, job_id: int, **fields: Any) -> JobRow:
        if "detail" in fields:
            fields["detail"] = _json(fields["detail"] or {})
        fields["updated_at"] = time.time()
        if fields.get("status") in TERMINAL_JOB_STATES and "finished_at" not in fields:
            fields["finished_at"] = fields["updated_at"]
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.db.transaction() as conn:
            conn.execute(f"UPDATE jobs SET {sets} WHERE id = ?", [*fields.values(), job_id])
        return self.job(job_id)

    def save_scores(self, job_id: int, scores: list[dict[str, Any]], samples: dict[str, list[float | None]]) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM scores WHERE job_id = ?", (job_id,))
            conn.execute("DELETE FROM samples WHERE job_id = ?", (job_id,))
            conn.executemany(
                "INSERT INTO scores (job_id, metric, raw, normalised, count, failed) VALUES (?, ?, ?, ?, ?, ?)",
                [(job_id, s["metric"], s["raw"], s["normalised"], s["count"], s["failed"]) for s in scores],
            )
            conn.executemany(
                "INSERT INTO samples (job_id, metric, idx, value) VALUES (?, ?, ?, ?)",
                [(job_id, metric, i, v) for metric, values in samples.items() for i, v in enumerate(values)],
            )

    def scores(self, job_id: int) -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self.db.conn.execute(
                "SELECT metric, raw, normalised, count, failed FROM scores WHERE job_id = ? ORDER BY metric", (job_id,)
            )
        ]

    def samples(self, job_id: int) -> dict[str, list[float | None]]:
        out: dict[str, list[float | None]] = {}
        for metric, value in self.db.conn.execute(
            "SELECT metric, value FROM samples WHERE job_id = ? ORDER BY metric, idx", (job_id,)
        ):
            out.setdefault(metric, []).append(value)
        return out

    # -- runs -----------------------------------------------------------------------------------------------------
    def create_run(self, *, workload_id: str, client_id: str | None, platform: str, endpoint: str, simulated: bool,
                   nims: list[str], options: dict[str, Any]) -> RunRow:
        run_id = f"run-{secrets.token_hex(4)}"
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO runs (id, workload_id, client_id, status, created_at, platform, endpoint, simulated, nims, options)"
                " VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                (run_id, workload_id, client_id, time.time(), platform, endpoint, int(simulated), _json(nims), _json(options)),
            )
        return self.run(run_id)

    def run(self, run_id: str) -> RunRow:
        row = self.db.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(run_id)
        data = dict(row)
        data["nims"] = orjson.loads(data["nims"])
        data["options"] = orjson.loads(data["options"])
        data["simulated"] = bool(data["simulated"])
        run = RunRow(**data)
        run.steps = [
            _step(r) for r in self.db.conn.execute("SELECT * FROM steps WHERE run_id = ? ORDER BY rowid", (run_id,))
        ]
        return run

    def runs(self, workload_id: str | None = None, limit: int = 50) -> list[RunRow]:
        sql, args = "SELECT id FROM runs", []
        if workload_id:
            sql += " WHERE workload_id = ?"
            args.append(workload_id)
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        args.append(limit)
        return [self.run(r[0]) for r in self.db.conn.execute(sql, args).fetchall()]

    def latest_unfinished_run(self, workload_id: str) -> RunRow | None:
        row = self.db.conn.execute(
            "SELECT id FROM runs WHERE workload_id = ? AND status IN ('running', 'interrupted')"
            " ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (workload_id,),
        ).fetchone()
        return self.run(row[0]) if row else None

    def update_run(self, run_id: str, **fields: Any) -> None:
        if "options" in fields:
            fields["options"] = _json(fields["options"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.db.transaction() as conn:
            conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", [*fields.values(), run_id])

    def step(self, run_id: str, nim: str, stage: str) -> StepRow | None:
        row = self.db.conn.execute(
            "SELECT * FROM steps WHERE run_id = ? AND nim = ? AND stage = ?", (run_id, nim, stage)
        ).fetchone()
        return _step(row) if row else None

    def upsert_step(self, run_id: str, nim: str, stage: str, **fields: Any) -> StepRow:
        if "detail" in fields:
            fields["detail"] = _json(fields["detail"] or {})
        with self.db.transaction() as conn:
            exists = conn.execute(
                "SELECT 1 FROM steps WHERE run_id = ? AND nim = ? AND stage = ?", (run_id, nim, stage)
            ).fetchone()
            if exists:
                if fields:
                    sets = ", ".join(f"{k} = ?" for k in fields)
                    conn.execute(
                        f"UPDATE steps SET {sets} WHERE run_id = ? AND nim = ? AND stage = ?",
                        [*fields.values(), run_id, nim, stage],
                    )
            else:
                fields.setdefault("status", "pending")
                cols = ", ".join(["run_id", "nim", "stage", *fields])
                marks = ", ".join("?" * (3 + len(fields)))
                conn.execute(f"INSERT INTO steps ({cols}) VALUES ({marks})", [run_id, nim, stage, *fields.values()])
        step = self.step(run_id, nim, stage)
        assert step is not None
        return step
