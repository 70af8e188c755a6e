"""`flywheel run`: the whole flywheel for a workload, resumable, ending with the results table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from flywheel_cli.cli.context import AppContext, get_ctx


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    ctx: typer.Context,
    workload: Annotated[str, typer.Option("--workload", "-w", help="Workload id (see `flywheel workloads`).")],
    client_id: Annotated[Optional[str], typer.Option(help="Only this client's records.")] = None,
    logs: Annotated[Optional[list[str]], typer.Option("--logs", help="JSONL files to ingest first (repeatable; globs ok).")] = None,
    nims: Annotated[Optional[str], typer.Option(help="Comma-separated model names from [[nims]] (default: all).")] = None,
    sandbox: Annotated[bool, typer.Option("--sandbox", help="Run against the bundled NMP emulator (simulated scores).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan (splits, jobs, GPU-hours); touch nothing remote.")] = False,
    resume: Annotated[Optional[str], typer.Option(help="Resume this run id.")] = None,
    new: Annotated[bool, typer.Option("--new", help="Start a new run even if an unfinished one exists.")] = False,
    max_parallel_nims: Annotated[int, typer.Option(min=1, help="NIMs in flight at once (each may claim GPUs).")] = 1,
    keep_deployments: Annotated[bool, typer.Option(help="Leave the NIMs deployed at the end.")] = False,
    fail_if_no_candidate: Annotated[bool, typer.Option(help="Exit 3 when no candidate qualifies (for scripts and CI).")] = False,
) -> None:
    """Datasets → deploy → base / icl / customize → evaluate → table, for every configured NIM.

    Resumable: running the same command again continues the workload's unfinished run (finished steps are kept,
    running remote jobs are re-attached, failed steps are retried, nothing is launched twice); --new starts over.
    Ctrl-C stops waiting, takes down the deployments this run started and exits 130.
    Exit codes: 0 all steps completed, 1 a step failed, 3 --fail-if-no-candidate and none qualified, 4 a remote
    service failed, 130 interrupted.
    """
    from flywheel_cli.errors import UsageError
    from flywheel_cli.pipeline.run import RunOptions

    if resume and new:
        raise UsageError("--resume and --new do not go together")
    app_ctx = get_ctx(ctx)
    options = RunOptions(
        workload_id=workload,
        client_id=client_id,
        logs=tuple(logs or ()),
        nims=tuple(n.strip() for n in nims.split(",") if n.strip()) if nims else None,
        resume=resume,
        new=new,
        max_parallel_nims=max_parallel_nims,
        keep_deployments=keep_deployments,
    )
    if dry_run:
        _dry_run(app_ctx, options)
        return
    if sandbox:
        _with_sandbox(app_ctx, options, fail_if_no_candidate)
    else:
        _execute(app_ctx, app_ctx.settings(), options, fail_if_no_candidate)


def _with_sandbox(app_ctx: AppContext, options, fail_if_no_candidate: bool) -> None:
    from flywheel_cli.errors import Interrupted
    from flywheel_cli.sandbox import Sandbox

    base = app_ctx.settings()
    sb = Sandbox(host="127.0.0.1", port=0, speed=base.sandbox.speed, fault_rate=base.sandbox.fault_rate, seed=base.sandbox.seed)
    sb.start()
    try:
        app_ctx.info(f"sandbox: NMP emulator on {sb.url} (speed {base.sandbox.speed:g}x, scores are SIMULATED)")
        settings = app_ctx.settings(sandbox_overrides(base, sb.url, sb.nim_url))
        _execute(app_ctx, settings, options, fail_if_no_candidate)
    except Interrupted as exc:
        # This sandbox lives and dies with the process: there is nothing left to resume against.
        raise Interrupted(
            exc.message,
            hint="The sandbox stopped with this run and its jobs are gone; `flywheel run --sandbox` again starts a new run.",
        ) from None
    finally:
        sb.stop()


def sandbox_overrides(settings, url: str, nim_url: str) -> dict:
    """Point every client at the emulator; poll at the pace of its simulated clock."""
    scale = max(settings.sandbox.speed, 1.0)
    return {
        "nmp": {"nemo_url": url, "datastore_url": url, "nim_url": nim_url},
        "timeouts": {
            "poll_interval": min(settings.timeouts.poll_interval, max(0.05, 5.0 / scale)),
            "max_poll_interval": min(settings.timeouts.max_poll_interval, max(0.25, 30.0 / scale)),
        },
    }


def _dry_run(app_ctx: AppContext, options) -> None:
    import sqlite3
    import tempfile
    from contextlib import closing

    from flywheel_cli.pipeline.plan import make_plan
    from flywheel_cli.pipeline.run import select_nims
    from flywheel_cli.state.store import Store, resolve_state_path

    settings = app_ctx.settings()
    nims = select_nims(settings, options.nims)
    state_path = resolve_state_path(app_ctx.state_path)
    if state_path.exists() and not options.logs:
        plan = make_plan(app_ctx.store(), settings, options.workload_id, options.client_id, nims, [])
    else:
        # Plan on a copy: a dry run changes nothing, and does not even create the local state file.
        with tempfile.TemporaryDirectory(prefix="flywheel-plan-") as tmp:
            copy_path = Path(tmp) / "state.db"
            if state_path.exists():
                with closing(sqlite3.connect(copy_path)) as dst:
                    app_ctx.store().db.conn.backup(dst)
            with Store(copy_path) as store:
                if options.logs:
                    from flywheel_cli.ingest import IngestOptions, ingest_files
                    from flywheel_cli.logs.jsonl import expand_paths

                    ingest_files(store, expand_paths(list(options.logs)), IngestOptions())
                plan = make_plan(store, settings, options.workload_id, options.client_id, nims, list(options.logs))
    if app_ctx.json:
        app_ctx.emit_json("plan", plan.to_json())
        return
    from rich.table import Table

    app_ctx.print_data(f"plan for workload {plan.workload_id!r} ({plan.workload_type}); nothing remote was touched")
    stages = Table(title="curation", title_justify="left")
    for col in ("stage", "kept", "dropped"):
        stages.add_column(col)
    for s in plan.stages:
        stages.add_row(s["label"], str(s["kept"]), str(s["dropped"]))
    app_ctx.print_data(stages)
    app_ctx.print_data(f"splits: eval {plan.splits['eval']}, train {plan.splits['train']}, validation {plan.splits['val']}")
    jobs = Table(title="jobs it would start", title_justify="left")
    for col in ("NIM", "job", "what", "GPU-hours (typical / upper bound)"):
        jobs.add_column(col)
    for nim in plan.nims:
        for i, job in enumerate(nim["jobs"]):
            what = ", ".join(f"{k} {v}" for k, v in job.items() if k != "job" and v is not None)
            hours = f"{nim['gpu_hours_typical']:.2f} / {nim['gpu_hours_upper_bound']:.1f}" if i == 0 else ""
            jobs.add_row(nim["model"] if i == 0 else "", job["job"], what, hours)
    app_ctx.print_data(jobs)
    app_ctx.print_data(
        f"GPU-hours held: about {plan.gpu_hours_typical:.2f} (at most {plan.gpu_hours_upper_bound:.1f} with the configured timeouts)"
    )


def _execute(app_ctx: AppContext, settings, options, fail_if_no_candidate: bool) -> None:
    import signal

    from flywheel_cli.errors import ExitCode, NoCandidate, StepFailed
    from flywheel_cli.pipeline.lock import RunLock
    from flywheel_cli.pipeline.run import Runner
    from flywheel_cli.platforms import connect

    store = app_ctx.store()
    platform = connect(settings)
    display = RunDisplay(app_ctx)
    runner = Runner(store, settings, platform, options, on_change=display.changed)
    lock = RunLock(store.path)
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):  # SIGTERM behaves like Ctrl-C: stop, record, tear down, exit 130
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (embedded use): keep the default
        previous = None
    try:
        lock.acquire(f"workload {options.workload_id}")
        run_row, resumed = runner.resolve()
        display.bind(store, run_row.id)
        if resumed:
            app_ctx.info(f"resuming {run_row.id} ({run_row.status}): finished steps are kept, running jobs re-attached")
        else:
            app_ctx.info(f"{run_row.id}: workload {options.workload_id!r}, NIMs {', '.join(run_row.nims)}")
        with display.shown():
            outcome = runner.execute(run_row)
    finally:
        lock.release()
        platform.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    report = _report(app_ctx, store, settings, outcome.run.id)
    if outcome.failures:
        for nim, stage, error in outcome.failures:
            app_ctx.err.print(f"{nim or 'run'} {stage} failed: {error}", markup=False, highlight=False, style="red")
        err = StepFailed(
            f"run {outcome.run.id} is {outcome.run.status}: {len(outcome.failures)} step(s) failed",
            hint=f"Fix the cause and run `flywheel run --workload {options.workload_id}` again to retry the failed steps.",
        )
        if outcome.remote_failure:
            err.exit_code = ExitCode.REMOTE
        raise err
    if fail_if_no_candidate and report is not None and not report.verdict.qualified:
        raise NoCandidate(f"no candidate qualified: {report.verdict.reason}")


def _report(app_ctx: AppContext, store, settings, run_id: str):
    from flywheel_cli.report import build_report, render, render_table

    report = build_report(store, run_id, settings)
    if app_ctx.json:
        from flywheel_cli.report.render_json import payload

        app_ctx.emit_json("report", payload(report))
    elif app_ctx.out.is_terminal:
        app_ctx.print_data(render_table(report))
    else:
        # Piped or redirected: plain text at the table's natural width (same as `flywheel report`).
        app_ctx.print_data(render(report, "table"))
    return report


class RunDisplay:
    """One line per NIM and stage: status, progress, elapsed. Live on a terminal; changes as lines otherwise."""

    def __init__(self, app_ctx: AppContext) -> None:
        self.app_ctx = app_ctx
        self.store = None
        self.run_id: str | None = None
        self._live = None
        self._seen: dict[tuple[str, str], str] = {}

    def bind(self, store, run_id: str) -> None:
        self.store, self.run_id = store, run_id

    def changed(self) -> None:
        if self.store is None:
            return
        if self._live is not None:
            self._live.update(self._table())
            return
        if self.app_ctx.quiet or self.app_ctx.json:
            return
        for step in self.store.run(self.run_id).steps:
            key = (step.nim, step.stage)
            if self._seen.get(key) != step.status and step.status != "pending":
                self._seen[key] = step.status
                tail = f": {step.error}" if step.error and step.status == "failed" else ""
                self.app_ctx.info(f"{step.nim or 'run'} {step.stage}: {step.status}{tail}")

    def _table(self):
        import time

        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for col in ("NIM", "stage", "status", "progress", "elapsed", "detail"):
            table.add_column(col)
        for step in self.store.run(self.run_id).steps:  # type: ignore[union-attr]
            elapsed = ""
            if step.started_at:
                secs = int((step.finished_at or time.time()) - step.started_at)
                elapsed = f"{secs // 60}:{secs % 60:02d}"
            progress = f"{step.progress:.0f}%" if step.progress is not None and step.status == "running" else ""
            d = step.detail or {}
            facts = []
            if d.get("epochs_completed") is not None:
                facts.append(f"epoch {d['epochs_completed']} step {d.get('steps_completed')}")
            if d.get("train_loss") is not None:
                facts.append(f"loss {d['train_loss']:.3f}")
            if d.get("scores"):
                facts.append(" ".join(f"{k.split('_')[0]}={v:.2f}" for k, v in d["scores"].items()))
            if step.error:
                facts.append(step.error[:80])
            if d.get("reason"):
                facts.append(d["reason"])
            style = {"failed": "red", "completed": "green", "running": "cyan", "skipped": "dim"}.get(step.status, "")
            table.add_row(step.nim or "(run)", step.stage, f"[{style}]{step.status}[/]" if style else step.status,
                          progress, elapsed, " ".join(facts))
        return table

    def shown(self):
        from contextlib import contextmanager

        @contextmanager
        def cm():
            if not self.app_ctx.interactive:
                yield
                return
            from rich.live import Live

            with Live(self._table(), console=self.app_ctx.err, refresh_per_second=4, transient=True) as live:
                self._live = live
                try:
                    yield
                finally:
                    self._live = None

        return cm()
