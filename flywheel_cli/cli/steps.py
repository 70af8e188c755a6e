"""`flywheel customize` and `flywheel evaluate`: one remote step by hand."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from flywheel_cli.cli.context import get_ctx


def register(app: typer.Typer) -> None:
    app.command("customize")(customize)
    app.command("evaluate")(evaluate)


def customize(
    ctx: typer.Context,
    workload: Annotated[str, typer.Option("--workload", "-w", help="Workload id.")],
    nim: Annotated[str, typer.Option(help="A model_name from [[nims]] in the config.")],
    dataset: Annotated[Optional[str], typer.Option(help="Dataset id (default: the newest built for the workload).")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the adapter is served (default), or return at once.")] = True,
    cancel: Annotated[bool, typer.Option("--cancel", help="Cancel the running customization job instead.")] = False,
) -> None:
    """LoRA fine-tuning of NIM on the workload's training split, until the adapter is served by the NIM proxy.

    Uploads the dataset if needed. Running it again attaches to the existing job (it never starts a second one);
    Ctrl-C detaches and leaves the job running; --cancel cancels it.
    """
    from flywheel_cli.cli.live import JobLines, job_json, step_context
    from flywheel_cli.errors import Interrupted
    from flywheel_cli.steps.customize import customize as run_customize
    from flywheel_cli.steps.datasets import resolve_dataset

    app_ctx = get_ctx(ctx)
    settings = app_ctx.settings()
    nim_cfg = settings.nim(nim)
    lines = JobLines(app_ctx)
    step = step_context(app_ctx, lines, settings)
    try:
        row = resolve_dataset(step, workload, dataset)
        with lines.shown():
            job = run_customize(step, workload_id=workload, nim=nim_cfg, dataset_id=row.id, wait=wait, cancel=cancel)
    except KeyboardInterrupt:
        raise Interrupted(
            "detached; the customization job goes on",
            hint="Run the same command again to re-attach, or add --cancel to cancel it.",
        ) from None
    finally:
        step.platform.close()
    if app_ctx.json:
        app_ctx.emit_json("customization", {"customization": job_json(job), "simulated": job.simulated})
        return
    if job.status == "cancelled":
        app_ctx.success(f"customization {job.remote_id} cancelled")
    elif job.detail.get("served"):
        app_ctx.success(f"{job.output_model} is served (customization {job.remote_id})")
    else:
        app_ctx.info(f"customization {job.remote_id} is {job.status}; run the same command with --wait to wait for it")


def evaluate(
    ctx: typer.Context,
    workload: Annotated[str, typer.Option("--workload", "-w", help="Workload id.")],
    nim: Annotated[str, typer.Option(help="A model_name from [[nims]] in the config.")],
    type_: Annotated[
        str, typer.Option("--type", help="base (the NIM as it is), icl (few-shot), customized (its LoRA adapter) or all.")
    ] = "all",
    dataset: Annotated[Optional[str], typer.Option(help="Dataset id (default: the newest built for the workload).")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the scores (default), or return at once.")] = True,
) -> None:
    """Evaluate NIM on the workload's eval set and store every score with its sample count.

    Tool-calling workloads: function-name and name+args accuracy, plus an LLM-judge correctness rating when a
    judge is configured. Generic workloads: an LLM-judge similarity rating (1–10, shown normalised to 0–1).
    `all` skips `customized` when no customized model exists. Running it again attaches to existing jobs.
    """
    from flywheel_cli.cli.live import JobLines, job_json, step_context
    from flywheel_cli.errors import Interrupted, UsageError
    from flywheel_cli.steps.customize import find_customization_job
    from flywheel_cli.steps.datasets import resolve_dataset
    from flywheel_cli.steps.evaluate import EVAL_TYPES, evaluate as run_evaluate

    if type_ not in (*EVAL_TYPES, "all"):
        raise UsageError(f"--type must be base, icl, customized or all, not {type_!r}")
    app_ctx = get_ctx(ctx)
    settings = app_ctx.settings()
    nim_cfg = settings.nim(nim)
    lines = JobLines(app_ctx)
    step = step_context(app_ctx, lines, settings)
    jobs = []
    skipped: list[str] = []
    try:
        row = resolve_dataset(step, workload, dataset)
        types = list(EVAL_TYPES) if type_ == "all" else [type_]
        if type_ == "all":
            cust = find_customization_job(step, workload, nim_cfg, row.id)
            if cust is None or not cust.detail.get("served"):
                types.remove("customized")
                skipped.append("customized (no customized model yet: `flywheel customize`)")
        with lines.shown():
            for eval_type in types:
                jobs.append(run_evaluate(step, workload_id=workload, nim=nim_cfg, dataset_id=row.id, eval_type=eval_type, wait=wait))  # type: ignore[arg-type]
    except KeyboardInterrupt:
        raise Interrupted(
            "stopped waiting; the evaluation jobs go on",
            hint="Run the same command again to re-attach and collect the scores.",
        ) from None
    finally:
        step.platform.close()
    store = app_ctx.store()
    if app_ctx.json:
        app_ctx.emit_json(
            "evaluation",
            {"evaluations": [job_json(j, store) for j in jobs], "skipped": skipped, "simulated": any(j.simulated for j in jobs)},
        )
        return
    from rich.table import Table

    title = "evaluation" + (" (SIMULATED: sandbox scores)" if any(j.simulated for j in jobs) else "")
    table = Table(title=title, title_justify="left")
    for col in ("type", "target", "status", "metric", "score", "raw", "samples", "failed"):
        table.add_column(col)
    for job in jobs:
        scores = store.scores(job.id) or [None]
        for s in scores:
            if s is None:
                table.add_row(job.eval_type, job.target_model, job.status, "-", "-", "-", "-", "-")
            else:
                table.add_row(job.eval_type, job.target_model, job.status, s["metric"], f"{s['normalised']:.3f}",
                              f"{s['raw']:g}", str(s["count"] or "-"), str(s["failed"]))
    app_ctx.print_data(table)
    for note in skipped:
        app_ctx.info(f"skipped: {note}")
