"""`flywheel runs list|show|cancel` and `flywheel cleanup`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from flywheel_cli.cli.context import get_ctx

app = typer.Typer(help="Run history: list, show, cancel.", no_args_is_help=True)


def _when(ts: float | None) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def _run_json(run) -> dict:
    return {
        "id": run.id,
        "workload_id": run.workload_id,
        "client_id": run.client_id,
        "status": run.status,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "dataset_id": run.dataset_id,
        "platform": run.platform,
        "endpoint": run.endpoint,
        "simulated": run.simulated,
        "nims": run.nims,
        "error": run.error,
        "steps": [
            {"nim": s.nim, "stage": s.stage, "status": s.status, "job_id": s.job_id, "progress": s.progress,
             "detail": s.detail, "error": s.error, "started_at": s.started_at, "finished_at": s.finished_at}
            for s in run.steps
        ],
    }


@app.command("list")
def list_(
    ctx: typer.Context,
    workload: Annotated[Optional[str], typer.Option("--workload", "-w", help="Only this workload's runs.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 20,
) -> None:
    """Runs, newest first: id, workload, status, NIMs, when."""
    app_ctx = get_ctx(ctx)
    runs = app_ctx.store().runs(workload, limit=limit)
    if app_ctx.json:
        app_ctx.emit_json("runs", {"runs": [{k: v for k, v in _run_json(r).items() if k != "steps"} for r in runs]})
        return
    if not runs:
        app_ctx.info("no runs yet: `flywheel run --workload W` starts one")
        return
    from rich.table import Table

    table = Table(title="runs", title_justify="left")
    for col in ("run", "workload", "status", "NIMs", "started", "finished", "dataset"):
        table.add_column(col)
    for r in runs:
        status = r.status + (" (simulated)" if r.simulated else "")
        table.add_row(r.id, r.workload_id, status, ", ".join(r.nims), _when(r.created_at), _when(r.finished_at), r.dataset_id or "-")
    app_ctx.print_data(table)


@app.command("show")
def show(ctx: typer.Context, run_id: Annotated[str, typer.Argument(help="Run id.")]) -> None:
    """Every step of a run: status, remote job, timings, errors."""
    from flywheel_cli.errors import NotFoundError

    app_ctx = get_ctx(ctx)
    store = app_ctx.store()
    try:
        run = store.run(run_id)
    except KeyError:
        raise NotFoundError(f"no run {run_id!r}", hint="`flywheel runs list` shows the runs.") from None
    if app_ctx.json:
        app_ctx.emit_json("run", {"run": _run_json(run)})
        return
    from rich.table import Table

    app_ctx.print_data(
        f"{run.id}  workload {run.workload_id}  {run.status}{'  SIMULATED (sandbox)' if run.simulated else ''}\n"
        f"platform {run.platform} at {run.endpoint}  dataset {run.dataset_id or '-'}  started {_when(run.created_at)}"
        f"  finished {_when(run.finished_at)}"
    )
    table = Table(title="steps", title_justify="left")
    for col in ("NIM", "stage", "status", "remote job", "started", "finished", "error / note"):
        table.add_column(col)
    for s in run.steps:
        remote = ""
        if s.job_id:
            job = store.job(s.job_id)
            remote = job.remote_id or job.name
        note = s.error or (s.detail or {}).get("reason", "")
        table.add_row(s.nim or "(run)", s.stage, s.status, remote, _when(s.started_at), _when(s.finished_at), note)
    app_ctx.print_data(table)


@app.command("cancel")
def cancel(ctx: typer.Context, run_id: Annotated[str, typer.Argument(help="Run id.")]) -> None:
    """Cancel a run: its remote customization and evaluation jobs, and the deployments it started.

    A run still going in another process notices within a second and stops.
    """
    from flywheel_cli.cli.live import step_context
    from flywheel_cli.pipeline.cleanup import cancel_run

    app_ctx = get_ctx(ctx)
    step = step_context(app_ctx)
    try:
        result = cancel_run(step, run_id)
    finally:
        step.platform.close()
    if app_ctx.json:
        app_ctx.emit_json("run_cancelled", {"run_id": run_id, "cancelled_jobs": result.cancelled_jobs,
                                            "removed_deployments": result.removed_deployments, "problems": result.problems})
    else:
        app_ctx.success(
            f"{run_id} cancelled: {len(result.cancelled_jobs)} job(s) cancelled, "
            f"{len(result.removed_deployments)} deployment(s) taken down"
        )
        for p in result.problems:
            app_ctx.warn(p)
    if result.problems:
        from flywheel_cli.errors import RemoteError

        raise RemoteError(f"{len(result.problems)} resource(s) could not be cancelled or removed", hint="See above; retry later.")


def register_cleanup(app_: typer.Typer) -> None:
    app_.command("cleanup")(cleanup)


def cleanup(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Remove what was found (default: only list it).")] = False,
) -> None:
    """Find deployments, jobs and datasets flywheel created in the namespace that no live run owns; --yes removes them."""
    from flywheel_cli.cli.live import step_context
    from flywheel_cli.pipeline.cleanup import clean, leftovers, live_run_ids
    from flywheel_cli.pipeline.lock import RunLock

    app_ctx = get_ctx(ctx)
    step = step_context(app_ctx)
    store = app_ctx.store()
    try:
        protected = live_run_ids(store, RunLock(store.path).held_elsewhere())
        if yes:
            found, removed, problems = clean(store, step.platform, protected)
        else:
            found, removed, problems = leftovers(store, step.platform, protected), [], []
    finally:
        step.platform.close()
    rows = [{"kind": r.kind, "id": r.id, "name": r.name, "status": r.status} for r in found]
    if app_ctx.json:
        app_ctx.emit_json("cleanup", {"found": rows, "removed": [r.id for r in removed], "problems": problems,
                                      "protected_runs": sorted(protected)})
    else:
        if not found:
            app_ctx.info("nothing left over")
        else:
            from rich.table import Table

            table = Table(title="left over" + (" (removed)" if yes else ""), title_justify="left")
            for col in ("kind", "name", "id", "status"):
                table.add_column(col)
            for r in rows:
                table.add_row(r["kind"], r["name"], r["id"], r["status"])
            app_ctx.print_data(table)
            if not yes:
                app_ctx.info("run `flywheel cleanup --yes` to remove them")
        for p in problems:
            app_ctx.warn(p)
    if problems:
        from flywheel_cli.errors import RemoteError

        raise RemoteError(f"{len(problems)} resource(s) could not be removed", hint="Retry `flywheel cleanup --yes` later.")
