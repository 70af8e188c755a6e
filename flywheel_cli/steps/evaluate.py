"""Evaluate a NIM on a workload's eval set: as it is (base), with few-shot examples (icl), or its LoRA adapter."""

from __future__ import annotations

from typing import Literal

from flywheel_cli.config import NimConfig
from flywheel_cli.errors import ConfigError, StepFailed
from flywheel_cli.platforms.base import EvaluationJob, EvaluationRequest
from flywheel_cli.remote_jobs import create_or_attach, short_hash, slug
from flywheel_cli.state.runs import JobRow
from flywheel_cli.steps.common import StepContext, wait_for_job
from flywheel_cli.steps.customize import find_customization_job
from flywheel_cli.steps.datasets import dataset_refs

EvalType = Literal["base", "icl", "customized"]
EVAL_TYPES: tuple[EvalType, ...] = ("base", "icl", "customized")


def _judge_fingerprint(ctx: StepContext) -> str:
    judge = ctx.settings.judge
    # The key names the judge but never its secret: only the env var's name is part of the config.
    return short_hash(judge.kind, judge.url, judge.model)


def evaluation_key(ctx: StepContext, workload_id: str, nim: NimConfig, dataset_id: str, eval_type: str, target: str) -> str:
    return f"evaluation|{ctx.scope}|{workload_id}|{nim.model_name}|{dataset_id}|{eval_type}|{target}|{_judge_fingerprint(ctx)}"


def _target(ctx: StepContext, workload_id: str, nim: NimConfig, dataset_id: str, eval_type: EvalType) -> str:
    if eval_type != "customized":
        return nim.model_name
    job = find_customization_job(ctx, workload_id, nim, dataset_id)
    if job is None or job.status != "completed" or not job.output_model or not job.detail.get("served"):
        state = "none was started" if job is None else f"the last one is {job.status}"
        raise StepFailed(
            f"no customized {nim.model_name} is ready for workload {workload_id!r} ({state})",
            hint=f"Run `flywheel customize --workload {workload_id} --nim {nim.model_name}` first.",
        )
    return job.output_model


def _fields(remote: EvaluationJob) -> dict:
    s = remote.status
    return {
        "status": s.state.value,
        "progress": s.progress,
        "detail": {"raw_status": s.raw_status, "samples_processed": s.samples_processed, "detail": s.detail},
    }


def evaluate(
    ctx: StepContext, *, workload_id: str, nim: NimConfig, dataset_id: str, eval_type: EvalType, wait: bool = True
) -> JobRow:
    """Start (or attach to) the evaluation job, wait for it, store its scores and per-sample results."""
    store, platform = ctx.store, ctx.platform
    dataset = store.get_dataset_row(dataset_id)
    assert dataset is not None
    workload_type = "tool_calling" if dataset.workload_type == "tool_calling" else "generic"
    if workload_type == "generic" and ctx.settings.judge.kind == "none":
        raise ConfigError(
            f"workload {workload_id!r} is generic (text answers): it is scored by an LLM judge, and none is configured",
            hint='Set [judge] kind = "remote" (url, model, api_key_env) or "local" in the config.',
        )
    target = _target(ctx, workload_id, nim, dataset_id, eval_type)
    key = evaluation_key(ctx, workload_id, nim, dataset_id, eval_type, target)
    base = f"flywheel-{eval_type}-{slug(workload_id, 20)}-{slug(nim.model_name.split('/')[-1], 24)}-{short_hash(key)}"
    labels = {"workload": workload_id, "eval_type": eval_type, "dataset": dataset_id, "run": ctx.run_id or ""}
    attached = create_or_attach(
        store,
        key=key,
        name=lambda attempt: base if attempt == 1 else f"{base}-a{attempt}",
        fields=ctx.job_fields(
            "evaluation",
            workload_id=workload_id,
            nim=nim.model_name,
            eval_type=eval_type,
            dataset_id=dataset_id,
            target_model=target,
        ),
        find=platform.find_evaluation,
        create=lambda name: platform.start_evaluation(
            EvaluationRequest(
                name=name,
                workload_type=workload_type,
                target_model=target,
                # Uploaded only when a job is about to be created. icl: the eval set with examples in the system
                # message; base and customized: the plain eval set.
                dataset=dataset_refs(ctx, dataset)["icl" if eval_type == "icl" else "eval"],
                judge=ctx.settings.judge,
                limit=dataset.eval_records,
                labels=labels,
            )
        ),
        remote_id=lambda job: job.id,
        extra=_fields,
    )
    job = attached.job
    ctx.notify(job)
    if not wait:
        return job
    return wait_evaluation(ctx, job)


def wait_evaluation(ctx: StepContext, job: JobRow) -> JobRow:
    store, platform = ctx.store, ctx.platform
    assert job.remote_id is not None
    if job.status == "completed" and store.scores(job.id):
        return job

    job = wait_for_job(
        ctx,
        job,
        lambda: platform.get_evaluation(job.remote_id),  # type: ignore[arg-type]
        _fields,
        progress=_progress_marker,  # type: ignore[arg-type]
        what=f"evaluation {job.remote_id} ({job.eval_type}) of {job.target_model}",
    )
    results = platform.evaluation_results(job.remote_id)
    store.save_scores(
        job.id,
        [
            {"metric": s.metric, "raw": s.raw, "normalised": s.normalised, "count": s.count, "failed": s.failed}
            for s in results.scores.values()
        ],
        results.samples,
    )
    job = store.update_job(job.id, status="completed", progress=100.0, error=None)
    ctx.notify(job)
    return job


def _progress_marker(remote: EvaluationJob) -> float | tuple[None, int] | None:
    s = remote.status
    if s.progress is not None:
        return s.progress
    # A sample count is progress too, but not a percentage: a pair keeps the wait from reporting it as one.
    return None if s.samples_processed is None else (None, s.samples_processed)
