"""Workload summaries from the state file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flywheel_cli.state.store import Store


@dataclass(frozen=True)
class WorkloadSummary:
    workload_id: str
    records: int
    clients: list[str]
    first: int
    last: int
    type: str  # "tool_calling" if any response has tool calls, else "generic"
    tools: dict[str, int]  # first tool called → records, most called first
    duplicates: int  # records seen at ingest whose content was already stored from another line

    @property
    def duplicate_share(self) -> float:
        seen = self.records + self.duplicates
        return self.duplicates / seen if seen else 0.0

    @property
    def first_iso(self) -> str:
        return _iso(self.first)

    @property
    def last_iso(self) -> str:
        return _iso(self.last)

    def to_json(self) -> dict[str, Any]:
        return {
            "workload_id": self.workload_id,
            "records": self.records,
            "clients": self.clients,
            "first": self.first,
            "last": self.last,
            "type": self.type,
            "tools": self.tools,
            "duplicates_seen": self.duplicates,
            "duplicate_share": round(self.duplicate_share, 4),
        }


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def summarise(store: Store, client_id: str | None = None) -> list[WorkloadSummary]:
    merged: dict[str, dict[str, Any]] = {}
    duplicates = store.duplicate_counts(client_id)
    for row in store.workload_rows(client_id):
        m = merged.setdefault(
            row["workload_id"],
            {"records": 0, "clients": [], "first": row["first"], "last": row["last"], "with_tools": 0, "tools": {}},
        )
        m["records"] += row["records"]
        m["clients"].append(row["client_id"])
        m["first"] = min(m["first"], row["first"])
        m["last"] = max(m["last"], row["last"])
        m["with_tools"] += row["with_tool_calls"]
        for tool, n in row["tools"].items():
            m["tools"][tool] = m["tools"].get(tool, 0) + n
    return [
        WorkloadSummary(
            workload_id=w,
            records=m["records"],
            clients=sorted(m["clients"]),
            first=m["first"],
            last=m["last"],
            type="tool_calling" if m["with_tools"] else "generic",
            tools=dict(sorted(m["tools"].items(), key=lambda kv: (-kv[1], kv[0]))),
            duplicates=duplicates.get(w, 0),
        )
        for w, m in sorted(merged.items())
    ]
