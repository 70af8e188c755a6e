"""`flywheel report [RUN]`: a run's results as a table, JSON, CSV, Markdown or HTML."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from flywheel_cli.cli.context import get_ctx

if TYPE_CHECKING:
    from flywheel_cli.state import Store


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    html = "html"


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    ctx: typer.Context,
    run: Annotated[
        Optional[str], typer.Argument(help="Run id (run-…). Default: the latest run.", show_default=False)
    ] = None,
    fmt: Annotated[
        Optional[Format],
        typer.Option("--format", "-f", help="table (default), json, csv, markdown or html.", show_default=False),
    ] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write to this file instead of stdout.")] = None,
    workload: Annotated[
        Optional[str], typer.Option("--workload", "-w", help="The latest run of this workload (when RUN is not given).")
    ] = None,
) -> None:
    """Per NIM and experiment (base, icl, customized): scores with 95% intervals, relative to the production model,
    runtime, status and the verdict — the cheapest candidate that reaches the threshold, or why none did.

    `--json` is `--format json`. Scores from the sandbox are marked SIMULATED in every format.
    """
    from flywheel_cli.errors import UsageError
    from flywheel_cli.report import build_report, render, render_table
    from flywheel_cli.report.output import write_atomic

    app_ctx = get_ctx(ctx)
    if app_ctx.json and fmt not in (None, Format.json):
        raise UsageError(f"--json prints JSON; it cannot be combined with --format {fmt.value}")
    chosen = Format.json if app_ctx.json else fmt or Format.table
    store = app_ctx.store()
    run_id = _resolve_run(store, run, workload)
    result = build_report(store, run_id, app_ctx.settings())

    if out is not None:
        write_atomic(out, render(result, chosen.value))
        app_ctx.info(f"wrote the {chosen.value} report of {run_id} to {out}")
        if app_ctx.json:
            app_ctx.emit_json("report_written", {"run_id": run_id, "format": chosen.value, "path": str(out)})
        return
    if chosen is Format.json:
        from flywheel_cli.report.render_json import payload

        app_ctx.emit_json("report", payload(result))
    elif chosen is Format.table and app_ctx.out.is_terminal:
        app_ctx.print_data(render_table(result))
    else:
        # Piped or redirected: plain text at the table's natural width, not squeezed to a guessed 80 columns.
        app_ctx.print_data(render(result, chosen.value))


def _resolve_run(store: Store, run: str | None, workload: str | None) -> str:
    from flywheel_cli.errors import NotFoundError, UsageError
    from flywheel_cli.report import latest_run_id

    if run is None:
        latest = latest_run_id(store, workload)
        if latest is None:
            where = f" for workload {workload!r}" if workload else ""
            raise NotFoundError(
                f"no runs{where} in the state file",
                hint="`flywheel run --workload W` starts one; `flywheel runs list` shows the runs so far.",
            )
        return latest
    for candidate in (run, f"run-{run}"):
        try:
            found = store.run(candidate)
        except KeyError:
            continue
        if workload and found.workload_id != workload:
            raise UsageError(f"run {found.id} is of workload {found.workload_id!r}, not {workload!r}")
        return found.id
    raise NotFoundError(f"no run {run!r} in the state file", hint="`flywheel runs list` shows the runs so far.")
