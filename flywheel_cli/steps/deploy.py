"""Deploy a candidate NIM and wait until it is served; take it down again.

Deployments are shared resources of the cluster, not of a run: one row per (cluster, namespace, NIM) tracks the
deployment flywheel made. A deployment that already existed when flywheel came is recorded as `preexisting` and is
never taken down by a run's teardown.
"""

from __future__ import annotations

from typing import Any

from flywheel_cli.config import NimConfig
from flywheel_cli.errors import StepFailed
from flywheel_cli.platforms.base import DeploymentState, DeploymentStatus
from flywheel_cli.state.runs import JobRow
from flywheel_cli.steps.common import StepContext
from flywheel_cli.wait import WaitTimeout, deployment_failure, wait_for

GONE = {"deleted", "failed", "cancelled"}


def _cluster_prefix(ctx: StepContext) -> str:
    from flywheel_cli.platforms import scope_of

    return f"deployment|{ctx.platform.kind}|{ctx.endpoint}|{scope_of(ctx.settings)}|"


def deployment_key(ctx: StepContext, nim: NimConfig) -> str:
    return _cluster_prefix(ctx) + nim.model_name


def _status_fields(status: DeploymentStatus) -> dict[str, Any]:
    return {"status": status.state.value, "detail": {"raw_status": status.raw_status, "detail": status.detail}}


def deploy_up(ctx: StepContext, nim: NimConfig, *, wait: bool = True) -> JobRow:
    """Deploy (GET before POST), then wait for `ready` and for the model id in the NIM proxy's model list."""
    store, platform = ctx.store, ctx.platform
    key = deployment_key(ctx, nim)
    job = store.latest_job(key)
    live = platform.get_deployment(nim)
    gone = live is None or live.state is DeploymentState.DELETED
    if job is not None and job.remote_id is not None and job.status not in GONE and live is None:
        # Removed behind flywheel's back (console, another tool): the row is history, deploy again.
        job = store.update_job(job.id, status="deleted", error="the deployment no longer exists")
    fields = {
        "kind": "deployment",
        "name": nim.deployment_name,
        "platform": platform.kind,
        "endpoint": ctx.endpoint,
        "nim": nim.model_name,
        "target_model": nim.model_name,
        "run_id": ctx.run_id,
        "simulated": platform.simulated,
    }
    if job is None or job.status in GONE:
        attempt = job.attempt + 1 if job else 1
        if not gone:
            assert live is not None
            # A deployment flywheel made and saw fail is still flywheel's; one found after flywheel deleted its own
            # (or before it ever deployed) belongs to someone else and is never taken down by a run.
            ours = job is not None and job.status != "deleted" and not job.detail.get("preexisting")
            job = store.create_job(key=key, attempt=attempt, remote_id=nim.deployment_name, **fields)
            job = store.update_job(job.id, **_status_fields(live), error=None)
            if not ours:
                job = store.update_job(job.id, detail={**job.detail, "preexisting": True})
        else:
            job = store.create_job(key=key, attempt=attempt, **fields)
    if job.remote_id is None:
        # `creating`: written just above, or left so by a process killed before DMS answered. The GET above is fresh;
        # the platform looks once more before it POSTs, so a deployment that exists is never created twice.
        status = live if not gone else platform.deploy(nim)
        assert status is not None
        job = store.update_job(job.id, remote_id=nim.deployment_name, **_status_fields(status))
    ctx.notify(job)
    if not wait:
        return job
    return wait_until_served(ctx, nim, job)


def wait_until_served(ctx: StepContext, nim: NimConfig, job: JobRow) -> JobRow:
    store, platform = ctx.store, ctx.platform
    timeouts = ctx.settings.timeouts

    def fetch() -> DeploymentStatus:
        status = platform.get_deployment(nim)
        if status is None:
            return DeploymentStatus(DeploymentState.FAILED, "missing", "the deployment no longer exists")
        return status

    def record(status: DeploymentStatus) -> None:
        nonlocal job
        fields = _status_fields(status)
        fields["detail"] = {**job.detail, **fields["detail"]}
        job = store.update_job(job.id, **fields)
        ctx.notify(job)

    try:
        wait_for(
            fetch,
            done=lambda s: s.state is DeploymentState.READY,
            failure=_failure,
            on_update=record,
            what=f"deployment of {nim.model_name}",
            **ctx.wait_kwargs(timeout=timeouts.deploy),
        )
    except WaitTimeout as exc:
        # Still deploying as far as anyone knows: keep the row live so the next `deploy up` waits for the same one.
        job = store.update_job(job.id, error=exc.message)
        ctx.notify(job)
        raise
    except StepFailed as exc:
        job = store.update_job(job.id, status="failed", error=exc.message)
        ctx.notify(job)
        raise StepFailed(exc.message, hint=f"`flywheel deploy down {nim.model_name}` removes it.") from None
    wait_for(
        platform.served_models,
        done=lambda served: nim.model_name in served,
        what=f"{nim.model_name} to be listed by the NIM proxy",
        **ctx.wait_kwargs(timeout=timeouts.served),
    )
    job = store.update_job(job.id, status="ready", detail={**job.detail, "served": True}, error=None)
    ctx.notify(job)
    return job


def deploy_down(ctx: StepContext, nim: NimConfig) -> JobRow | None:
    """Delete the deployment and record it. Returns the deployment's row (None if flywheel never tracked it)."""
    ctx.platform.undeploy(nim)
    return _record_deleted(ctx, nim)


def take_down(ctx: StepContext, nims: list[NimConfig]) -> tuple[list[str], list[str]]:
    """`deploy down`: (models whose deployment was deleted, models that had none). Either way the row says deleted."""
    removed, absent = [], []
    for nim in nims:
        if ctx.platform.get_deployment(nim) is None:
            _record_deleted(ctx, nim)
            absent.append(nim.model_name)
        else:
            deploy_down(ctx, nim)
            removed.append(nim.model_name)
    return removed, absent


def _record_deleted(ctx: StepContext, nim: NimConfig) -> JobRow | None:
    job = ctx.store.latest_job(deployment_key(ctx, nim))
    if job is not None and job.status != "deleted":
        job = ctx.store.update_job(job.id, status="deleted")
        ctx.notify(job)
    return job


def owned_by(job: JobRow | None, run_id: str | None) -> bool:
    """Whether a run may take this deployment down: flywheel made it (a failed one too: it still holds its slot)."""
    return job is not None and job.status != "deleted" and not job.detail.get("preexisting")


def _failure(status: DeploymentStatus) -> str | None:
    reason = deployment_failure(status)
    # DMS's own `unknown` is terminal (its pods are gone or were never scheduled); a status string flywheel has never
    # seen is not, and keeps the wait polling.
    if reason is None and status.raw_status == "unknown":
        reason = status.detail or "the deployment's status is 'unknown'"
    return reason


def deployments(ctx: StepContext) -> list[dict[str, Any]]:
    """What flywheel deployed on this cluster, with the live status from the platform."""
    rows: dict[str, JobRow] = {}
    prefix = _cluster_prefix(ctx)
    for job in ctx.store.jobs(kind="deployment"):
        if job.key.startswith(prefix):  # this cluster and namespace
            rows[job.key] = job  # ordered by id: the last attempt wins
    out = []
    for job in rows.values():
        nim = next((n for n in ctx.settings.nims if n.model_name == job.nim), None)
        live = ctx.platform.get_deployment(nim) if nim is not None else None
        out.append(
            {
                "model": job.nim,
                "name": job.name,
                "recorded_status": job.status,
                "live_status": live.state.value if live else ("deleted" if nim else "unknown (not in config)"),
                "preexisting": bool(job.detail.get("preexisting")),
                "run_id": job.run_id,
                "created_at": job.created_at,
            }
        )
    return out
