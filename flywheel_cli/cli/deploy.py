"""`flywheel deploy up|down|list`: candidate NIMs through Deployment Management."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from flywheel_cli.cli.context import get_ctx

app = typer.Typer(help="Deploy candidate NIMs and take them down (Deployment Management).", no_args_is_help=True)


@app.command("up")
def up(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="A model_name from [[nims]] in the config.")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the model is served (default), or return at once.")] = True,
) -> None:
    """Deploy MODEL (unless it is already deployed) and wait until the NIM proxy serves it.

    Running it again attaches to the existing deployment. Ctrl-C stops waiting; the deployment goes on.
    """
    from flywheel_cli.cli.live import JobLines, job_json, step_context
    from flywheel_cli.errors import Interrupted
    from flywheel_cli.steps.deploy import deploy_up

    app_ctx = get_ctx(ctx)
    settings = app_ctx.settings()
    nim = settings.nim(model)
    lines = JobLines(app_ctx)
    step = step_context(app_ctx, lines, settings)
    try:
        with lines.shown():
            job = deploy_up(step, nim, wait=wait)
    except KeyboardInterrupt:
        raise Interrupted(
            f"stopped waiting for {model}; the deployment goes on",
            hint=f"`flywheel deploy up {model}` waits again; `flywheel deploy down {model}` removes it.",
        ) from None
    finally:
        step.platform.close()
    if app_ctx.json:
        app_ctx.emit_json("deployment", {"deployment": job_json(job), "simulated": job.simulated})
    else:
        state = "served" if job.status == "ready" else job.status
        app_ctx.success(f"{model}: {state} (deployment {job.name})")


@app.command("down")
def down(
    ctx: typer.Context,
    model: Annotated[Optional[str], typer.Argument(help="A model_name from [[nims]].", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every deployment flywheel made on this cluster.")] = False,
) -> None:
    """Delete MODEL's deployment (or all flywheel made, with --all) and record it."""
    from flywheel_cli.cli.live import step_context
    from flywheel_cli.errors import UsageError
    from flywheel_cli.steps.deploy import deployments, take_down

    app_ctx = get_ctx(ctx)
    if bool(model) == all_:
        raise UsageError("give a MODEL or --all")
    settings = app_ctx.settings()
    step = step_context(app_ctx, None, settings)
    try:
        if all_:
            configured = {n.model_name for n in settings.nims}
            names = [
                d["model"]
                for d in deployments(step)
                if d["live_status"] != "deleted" and not d["preexisting"] and d["model"] in configured
            ]
            nims = [settings.nim(n) for n in names]
        else:
            nims = [settings.nim(model)]  # type: ignore[arg-type]
        removed, absent = take_down(step, nims)
    finally:
        step.platform.close()
    if app_ctx.json:
        app_ctx.emit_json("deployments_removed", {"removed": removed, "not_deployed": absent})
        return
    if removed:
        app_ctx.success(f"removed: {', '.join(removed)}")
    if absent:
        app_ctx.info(f"not deployed: {', '.join(absent)}")
    if not removed and not absent:
        app_ctx.info("nothing to remove")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """What flywheel deployed on this cluster, with the live status."""
    from rich.table import Table

    from flywheel_cli.cli.live import step_context
    from flywheel_cli.steps.deploy import deployments

    app_ctx = get_ctx(ctx)
    step = step_context(app_ctx)
    try:
        rows = deployments(step)
    finally:
        step.platform.close()
    if app_ctx.json:
        app_ctx.emit_json("deployments", {"deployments": rows})
        return
    if not rows:
        app_ctx.info("flywheel has deployed nothing on this cluster")
        return
    table = Table(title="deployments", title_justify="left")
    for col in ("model", "name", "live status", "recorded", "run"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["model"], r["name"], r["live_status"], r["recorded_status"] + (" (preexisting)" if r["preexisting"] else ""), r["run_id"] or "-")
    app_ctx.print_data(table)
