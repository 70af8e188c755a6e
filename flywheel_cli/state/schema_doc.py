"""Renders docs/state-schema.md from a freshly migrated state file, so the document cannot drift from the code.

Regenerate: python -m flywheel_cli.state.schema_doc > docs/state-schema.md (a test compares the two).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from flywheel_cli.state.store import MIGRATIONS, Store

HEADER = """# The state file

flywheel keeps everything in one SQLite file (default `./.flywheel/state.db`, or `--state PATH` /
`FLYWHEEL_STATE`), in WAL mode so a report or an ingest can read while a run writes. Migrations are applied in
order when the file is opened and recorded in `_migrations`; a file written by a newer flywheel is refused.
Dataset files and rejected log lines live beside it (`datasets/`, `rejects/`). Secrets are never stored.

This page is generated from the code (`python -m flywheel_cli.state.schema_doc > docs/state-schema.md`);
a test fails when it no longer matches.

## Migrations

"""


def render() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "state.db")
        try:
            rows = store.db.conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
                " ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, rowid"
            ).fetchall()
        finally:
            store.close()
    out = [HEADER]
    out.extend(f"- `{name}`\n" for name, _ in MIGRATIONS)
    tables = [r for r in rows if r[0] == "table"]
    for table in tables:
        out.append(f"\n## `{table[1]}`\n\n```sql\n{_clean(table[3])};\n")
        for index in rows:
            if index[0] == "index" and index[2] == table[1]:
                out.append(f"{_clean(index[3])};\n")
        out.append("```\n")
    return "".join(out)


def _clean(sql: str) -> str:
    lines = [line.rstrip() for line in sql.strip().splitlines()]
    # Migrations are indented inside Python strings; strip the common indent of the body lines.
    body = [line for line in lines[1:-1] if line.strip()]
    indent = min((len(line) - len(line.lstrip()) for line in body), default=0)
    middle = [("    " + line[indent:]) if line.strip() else "" for line in lines[1:-1]]
    last = [lines[-1].strip()] if len(lines) > 1 else []
    return "\n".join([lines[0], *middle, *last])


if __name__ == "__main__":
    sys.stdout.write(render())
