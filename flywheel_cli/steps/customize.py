"""LoRA fine-tuning of a NIM on a workload's training split, until the adapter is served."""

from __future__ import annotations

from flywheel_cli.config import NimConfig
from flywheel_cli.errors import ConfigError, NotFoundError, RemoteError, StepFailed
from flywheel_cli.platforms.base import CustomizationJob, CustomizationRequest
from flywheel_cli.remote_jobs import create_or_attach, short_hash, slug
from flywheel_cli.state.runs import JobRow
from flywheel_cli.steps.common import StepContext, wait_for_job
from flywheel_cli.steps.datasets import dataset_refs
from flywheel_cli.wait import wait_for


def customization_key(ctx: StepContext, workload_id: str, nim: NimConfig, dataset_id: str) -> str:
    training = ctx.settings.fingerprint("training")
    return f"customization|{ctx.scope}|{workload_id}|{nim.model_name}|{dataset_id}|{training}"


def _job_fields(job: CustomizationJob) -> dict:
    s = job.status
    return {
        "status": s.state.value,
        "progress": s.progress,
        "output_model": job.output_model or None,
        "detail": {
            "raw_status": s.raw_status,
            "epochs_completed": s.epochs_completed,
            "steps_completed": s.steps_completed,
            "train_loss": s.train_loss,
            "val_loss": s.val_loss,
            "detail": s.detail,
        },
    }


def find_customization_job(ctx: StepContext, workload_id: str, nim: NimConfig, dataset_id: str) -> JobRow | None:
    return ctx.store.latest_job(customization_key(ctx, workload_id, nim, dataset_id))


def customize(
    ctx: StepContext, *, workload_id: str, nim: NimConfig, dataset_id: str, wait: bool = True, cancel: bool = False
) -> JobRow:
    """Start (or attach to) the LoRA job, wait for it, then wait until its output model is served."""
    if not nim.customization.enabled:
        raise ConfigError(
            f"customization is disabled for {nim.model_name}",
            hint="Set [nims.customization] enabled = true for it in the config.",
        )
    store, platform = ctx.store, ctx.platform
    key = customization_key(ctx, workload_id, nim, dataset_id)
    if cancel:
        return _cancel(ctx, key)
    dataset = store.get_dataset_row(dataset_id)
    if dataset is None:
        raise NotFoundError(f"no dataset {dataset_id!r} in the state file", hint="`flywheel datasets list` shows them.")

    def start(name: str) -> CustomizationJob:
        # Uploaded only when a job is about to be created: attaching to a running job needs no dataset at hand.
        train = dataset_refs(ctx, dataset)["train"]
        return platform.start_customization(
            CustomizationRequest(
                name=name, nim=nim, dataset=train, training=ctx.settings.training, output_model_name=f"{name}-lora"
            )
        )

    base = f"flywheel-{slug(workload_id, 20)}-{slug(nim.model_name.split('/')[-1], 24)}-{short_hash(key)}"
    attached = create_or_attach(
        store,
        key=key,
        name=lambda attempt: base if attempt == 1 else f"{base}-a{attempt}",
        fields=ctx.job_fields("customization", workload_id=workload_id, nim=nim.model_name, dataset_id=dataset_id),
        find=platform.find_customization,
        create=start,
        remote_id=lambda job: job.id,
        extra=_job_fields,
    )
    job = attached.job
    ctx.notify(job)
    if not wait:
        return job
    return wait_customization(ctx, job)


def wait_customization(ctx: StepContext, job: JobRow) -> JobRow:
    store, platform = ctx.store, ctx.platform
    timeouts = ctx.settings.timeouts
    assert job.remote_id is not None

    if job.status != "completed":
        job = wait_for_job(
            ctx,
            job,
            lambda: platform.get_customization(job.remote_id),  # type: ignore[arg-type]
            _job_fields,
            progress=_progress_marker,  # type: ignore[arg-type]
            what=f"customization {job.remote_id} of {job.nim}",
        )
    if not job.detail.get("served"):
        output = job.output_model
        try:
            served: set[str] | None = platform.served_models()
        except RemoteError:
            served = None  # a flaky proxy is the wait's business below; this check is only a shortcut
        if served is not None and output not in served and job.nim not in served:
            # The adapter is served by its base NIM: without one, the wait below could only time out, an hour later.
            message = (
                f"customization {job.remote_id} completed, but {output} cannot be served: its base model {job.nim} "
                "is not served by the NIM proxy"
            )
            job = store.update_job(job.id, error=message)
            ctx.notify(job)
            hint = f"`flywheel deploy up {job.nim}`, then run the same command again to wait for the adapter."
            raise StepFailed(message, hint=hint)
        wait_for(
            platform.served_models,
            done=lambda served: output in served,
            what=f"the customized model {output} to be served",
            **ctx.wait_kwargs(timeout=timeouts.served),
        )
        job = store.update_job(job.id, detail={**job.detail, "served": True}, error=None)
        ctx.notify(job)
    return job


def _progress_marker(remote: CustomizationJob) -> tuple[float | None, int | None] | None:
    s = remote.status
    # Steps move more often than the percentage (which is per epoch), so both count as progress. A pair, not a
    # number folded from both: the wait reports a numeric marker as "last progress N%", which this is not.
    if s.progress is None and s.steps_completed is None:
        return None
    return (s.progress, s.steps_completed)


def _cancel(ctx: StepContext, key: str) -> JobRow:
    job = ctx.store.latest_job(key)
    if job is None or job.remote_id is None:
        raise StepFailed("no customization job to cancel for this workload, NIM and dataset")
    if job.status in ("completed", "failed", "cancelled"):
        return job
    ctx.platform.cancel_customization(job.remote_id)
    job = ctx.store.update_job(job.id, status="cancelled", error="cancelled by the user")
    ctx.notify(job)
    return job
