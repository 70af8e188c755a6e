"""Cancelling runs and finding what flywheel left on the platform."""

from __future__ import annotations

from dataclasses import dataclass

from flywheel_cli.errors import RemoteError, UsageError
from flywheel_cli.platforms.base import Platform, RemoteResource
from flywheel_cli.state.store import Store
from flywheel_cli.steps.common import StepContext


@dataclass
class CancelResult:
    run_id: str
    cancelled_jobs: list[str]
    removed_deployments: list[str]
    problems: list[str]


def cancel_run(ctx: StepContext, run_id: str) -> CancelResult:
    """Mark the run cancelled (a live run notices and stops), cancel its remote jobs, take down its deployments."""
    from flywheel_cli.steps.deploy import deploy_down, deployment_key, owned_by

    store, platform = ctx.store, ctx.platform
    try:
        run = store.run(run_id)
    except KeyError:
        raise UsageError(f"no run {run_id!r}", hint="`flywheel runs list` shows the runs.") from None
    if run.status in ("completed", "cancelled"):
        # A finished run keeps its status: its results stand, and it owns nothing that is still running.
        raise UsageError(f"run {run_id} is {run.status}; there is nothing to cancel")
    store.update_run(run_id, status="cancelled")
    result = CancelResult(run_id, [], [], [])
    for job in store.jobs(run_id=run_id, live_only=True):
        if job.remote_id is None or job.kind == "deployment":
            continue
        try:
            if job.kind == "customization":
                platform.cancel_customization(job.remote_id)
            elif job.kind == "evaluation":
                platform.cancel_evaluation(job.remote_id)
            store.update_job(job.id, status="cancelled", error=f"cancelled with run {run_id}")
            result.cancelled_jobs.append(job.remote_id)
        except RemoteError as exc:
            result.problems.append(f"{job.kind} {job.remote_id}: {exc.message}")
    for name in run.nims:
        nim = next((n for n in ctx.settings.nims if n.model_name == name), None)
        if nim is None:
            continue
        job = store.latest_job(deployment_key(ctx, nim))
        if job is None or job.run_id != run_id or not owned_by(job, run_id):
            continue
        try:
            deploy_down(ctx, nim)
            result.removed_deployments.append(name)
        except RemoteError as exc:
            result.problems.append(f"deployment {name}: {exc.message}")
    return result


def live_run_ids(store: Store, lock_held: bool) -> set[str]:
    """Runs that may still own remote resources: status running while some process holds the run lock."""
    if not lock_held:
        return set()
    return {r.id for r in store.runs(limit=1000) if r.status == "running"}


def leftovers(store: Store, platform: Platform, protected_runs: set[str]) -> list[RemoteResource]:
    """flywheel-created resources on the platform that no live run owns."""
    from flywheel_cli.datasets.upload import KINDS, remote_name

    # Listed before the state is read: a run writes a job's row before it asks for the job, so whatever this list
    # holds of a live run's is already in the state file below.
    resources = platform.list_resources()
    protected_remote: set[str] = set()
    for run_id in protected_runs:
        for job in store.jobs(run_id=run_id):
            if job.remote_id:
                protected_remote.add(job.remote_id)
            if job.output_model:
                protected_remote.add(job.output_model)
            protected_remote.add(job.name)
        # The datasets it uploads are not jobs, but its jobs read them.
        run = store.run(run_id)
        if run.dataset_id:
            protected_remote.update(remote_name(kind, run.workload_id, run.dataset_id) for kind in KINDS)
            protected_remote.update(u.name for u in store.dataset_uploads(run.dataset_id))
    out = []
    for res in resources:
        # A label can name the owner: an output model carries the name of the customization job that made it.
        if {res.id, res.name, *res.labels.values()} & protected_remote:
            continue
        if res.labels.get("run") in protected_runs:
            continue
        out.append(res)
    return out


def clean(store: Store, platform: Platform, protected_runs: set[str]) -> tuple[list[RemoteResource], list[RemoteResource], list[str]]:
    """Remove every leftover: (found, removed, problems).

    Removing one thing can orphan another (a cancelled LoRA job leaves its output model registered), so what turns
    up after the first pass is removed too.
    """
    found = leftovers(store, platform, protected_runs)
    removed, problems = remove(store, platform, found)
    seen = {(r.kind, r.id) for r in found}
    more = [r for r in leftovers(store, platform, protected_runs) if (r.kind, r.id) not in seen]
    if more:
        found += more
        also, trouble = remove(store, platform, more)
        removed += also
        problems += trouble
    return found, removed, problems


def remove(store: Store, platform: Platform, resources: list[RemoteResource]) -> tuple[list[RemoteResource], list[str]]:
    removed, problems = [], []
    for res in resources:
        try:
            platform.delete_resource(res)
            removed.append(res)
        except RemoteError as exc:
            problems.append(f"{res.kind} {res.name}: {exc.message}")
            continue
        for job in store.jobs():
            if job.remote_id in (res.id, res.name) and job.kind == res.kind and not job.terminal:
                store.update_job(job.id, status="deleted" if res.kind == "deployment" else "cancelled", error="removed by cleanup")
    return removed, problems
