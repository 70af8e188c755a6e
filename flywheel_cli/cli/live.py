"""Live progress for remote jobs on a terminal, and a plain line per status change elsewhere (with -v)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flywheel_cli.cli.context import AppContext

if TYPE_CHECKING:
    from flywheel_cli.state.runs import JobRow
    from flywheel_cli.steps.common import StepContext


def describe(job: JobRow) -> str:
    """One line: what the job is, its status and the progress facts the platform gave."""
    what = {"deployment": "deploy", "customization": "customize", "evaluation": f"eval {job.eval_type}"}.get(job.kind, job.kind)
    parts = [f"{what:<14}", f"{job.nim or job.name}", f"{job.status}"]
    if job.progress is not None:
        parts.append(f"{job.progress:.0f}%")
    d = job.detail
    if d.get("epochs_completed") is not None:
        parts.append(f"epoch {d['epochs_completed']}")
    if d.get("steps_completed") is not None:
        parts.append(f"step {d['steps_completed']}")
    if d.get("train_loss") is not None:
        parts.append(f"train loss {d['train_loss']:.3f}")
    if d.get("val_loss") is not None:
        parts.append(f"val loss {d['val_loss']:.3f}")
    if d.get("samples_processed"):
        parts.append(f"{d['samples_processed']} samples")
    if job.remote_id:
        parts.append(f"[{job.remote_id}]")
    parts.append(_elapsed(job.created_at, job.finished_at))
    return "  ".join(parts)


def _elapsed(start: float, end: float | None) -> str:
    seconds = int((end or time.time()) - start)
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class JobLines:
    """Keeps the latest line per job and shows them live (terminal) or prints changes (verbose, non-terminal)."""

    def __init__(self, app_ctx: AppContext) -> None:
        self.app_ctx = app_ctx
        self.lines: dict[int, str] = {}
        self._status: dict[int, str] = {}
        self._live: Any = None

    def __call__(self, job: JobRow) -> None:
        self.lines[job.id] = describe(job)
        if self._live is not None:
            self._live.update(self._render())
        elif self._status.get(job.id) != job.status:
            self.app_ctx.detail(self.lines[job.id])
        self._status[job.id] = job.status

    def _render(self) -> Any:
        from rich.text import Text

        return Text("\n".join(self.lines.values()))

    @contextmanager
    def shown(self):
        if not self.app_ctx.interactive:
            yield self
            return
        from rich.live import Live

        with Live(self._render(), console=self.app_ctx.err, refresh_per_second=4, transient=False) as live:
            self._live = live
            try:
                yield self
            finally:
                self._live = None


def step_context(app_ctx: AppContext, observer: Any = None, settings: Any = None) -> StepContext:
    from flywheel_cli.platforms import connect
    from flywheel_cli.steps.common import StepContext

    settings = settings or app_ctx.settings()
    return StepContext(store=app_ctx.store(), platform=connect(settings), settings=settings, on_update=observer)


def job_json(job: JobRow, store: Any = None) -> dict[str, Any]:
    data = {
        "id": job.id,
        "kind": job.kind,
        "name": job.name,
        "remote_id": job.remote_id,
        "status": job.status,
        "nim": job.nim,
        "workload_id": job.workload_id,
        "dataset_id": job.dataset_id,
        "eval_type": job.eval_type,
        "target_model": job.target_model,
        "output_model": job.output_model,
        "progress": job.progress,
        "detail": job.detail,
        "error": job.error,
        "run_id": job.run_id,
        "simulated": job.simulated,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }
    if store is not None and job.kind == "evaluation":
        data["scores"] = store.scores(job.id)
    return data
