"""`flywheel workloads`: what was logged, per workload."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from flywheel_cli.cli.context import get_ctx


def register(app: typer.Typer) -> None:
    app.command("workloads")(workloads)


def workloads(
    ctx: typer.Context,
    client_id: Annotated[Optional[str], typer.Option(help="Only this client's records.")] = None,
) -> None:
    """Per workload: records, clients, first and last time, type, tools called, duplicate share seen at ingest."""
    from flywheel_cli.workloads import summarise

    app_ctx = get_ctx(ctx)
    summaries = summarise(app_ctx.store(), client_id=client_id)
    if app_ctx.json:
        app_ctx.emit_json("workloads", {"client_id": client_id, "workloads": [s.to_json() for s in summaries]})
        return
    if not summaries:
        app_ctx.info("no records yet: `flywheel ingest FILE.jsonl` imports logs")
        return
    from rich.table import Table

    table = Table(title="workloads", title_justify="left")
    for col, just in (("workload", "left"), ("records", "right"), ("clients", "left"), ("first", "left"),
                      ("last", "left"), ("type", "left"), ("tools (calls)", "left"), ("dup share", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for s in summaries:
        tools = ", ".join(f"{name} ({n})" for name, n in s.tools.items()) or "-"
        table.add_row(s.workload_id, f"{s.records:,}", ", ".join(s.clients), s.first_iso, s.last_iso, s.type, tools,
                      f"{s.duplicate_share:.1%}")
    app_ctx.print_data(table)
