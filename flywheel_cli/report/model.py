"""The result model of a run: every view (table, JSON, CSV, Markdown, HTML) renders this one object.

`build_report` reads the run, its steps, jobs, scores and samples from the state file. The reference row is the
production model's own logged answers: they are the ground truth of the eval set, so by construction they score 1.0
on every metric, and each experiment's relative score is its score divided by that.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flywheel_cli.report.stats import bootstrap_ci, seed_for

if TYPE_CHECKING:
    from flywheel_cli.config import Settings
    from flywheel_cli.state.runs import RunRow, StepRow
    from flywheel_cli.state.store import Store

EXPERIMENTS = ("base", "icl", "customized")
TOOL_CALLING_METRICS = ("function_name_accuracy", "function_name_and_args_accuracy", "tool_calling_correctness")
GENERIC_METRICS = ("similarity",)
_METRIC_ORDER = {m: i for i, m in enumerate((*TOOL_CALLING_METRICS, *GENERIC_METRICS))}
# The judge rates similarity 1–10; every other metric is already a share in [0, 1].
_RAW_MAX = {"similarity": 10.0}
# The stages an experiment needs before it can run, in pipeline order.
_UPSTREAM = {"base": ("deploy",), "icl": ("deploy",), "customized": ("deploy", "customize")}
_NIM_STAGES = ("deploy", "base", "icl", "customize", "customized", "teardown")


@dataclass(frozen=True)
class Score:
    metric: str
    value: float  # normalised mean in [0, 1], as the platform reported it
    raw: float  # on the metric's own scale (similarity: 1–10)
    count: int | None
    failed: int
    ci_low: float | None  # 95 % bootstrap interval of the mean, failed samples as 0 (stats.py); None: no samples
    ci_high: float | None


@dataclass
class Experiment:
    nim: str
    name: str  # base | icl | customized
    status: str  # the step's status; "not run" when no step was recorded or it waits behind a failed stage
    failed_stage: str | None  # the stage whose failure this row shows: its own, or an upstream one (deploy, customize)
    error: str | None
    skip_reason: str | None  # why a skipped step was skipped, as the pipeline recorded it
    runtime_seconds: float | None
    job_id: int | None
    target_model: str | None
    scores: dict[str, Score] = field(default_factory=dict)
    relative: dict[str, float] = field(default_factory=dict)  # metric → score / reference score
    cost_per_1k: float | None = None
    saving_per_1k: float | None = None
    saving_share: float | None = None
    qualifies: bool = False

    def min_relative(self, metrics: list[str]) -> float | None:
        values = [self.relative[m] for m in metrics if m in self.relative]
        return min(values) if values and len(values) == len(metrics) else None


@dataclass(frozen=True)
class Customization:
    status: str
    error: str | None
    output_model: str | None
    epochs_completed: int | None
    steps_completed: int | None
    train_loss: float | None
    val_loss: float | None
    runtime_seconds: float | None
    job_id: int | None


@dataclass
class NimResult:
    model_name: str
    status: str  # completed | partial | failed | running | pending | cancelled | interrupted
    failures: list[tuple[str, str | None]]  # (stage, error) of every failed stage, in pipeline order
    size_b: float | None  # parameters in billions, parsed from the name
    price_per_1k: float | None
    customization: Customization | None
    experiments: list[Experiment]


@dataclass(frozen=True)
class Reference:
    label: str
    model: str | None
    scores: dict[str, Score]
    price_per_1k: float | None


@dataclass(frozen=True)
class DatasetInfo:
    id: str
    eval_records: int | None = None
    train_records: int | None = None
    val_records: int | None = None
    seed: int | None = None
    workload_type: str | None = None


@dataclass(frozen=True)
class RunInfo:
    id: str
    status: str
    client_id: str | None
    created_at: float
    finished_at: float | None
    error: str | None


@dataclass(frozen=True)
class Verdict:
    qualified: bool
    nim: str | None
    experiment: str | None
    basis: str  # "price" or "size": what "cheapest" was judged by
    threshold: float
    headline_metrics: list[str]
    qualifying: list[tuple[str, str]]  # every qualifying (nim, experiment), cheapest first
    best: tuple[str, str] | None  # when nothing qualified: the closest candidate
    shortfall: dict[str, float]  # when nothing qualified: per headline metric, how far the best one is below
    reason: str  # why this candidate, or why none qualified
    text: str  # the one-line verdict: "<nim> (<experiment>) qualifies: <reason>" or "no candidate qualified: <reason>"


@dataclass
class Report:
    run: RunInfo
    workload_id: str
    workload_type: str  # tool_calling | generic | unknown
    dataset: DatasetInfo | None
    platform: str
    endpoint: str
    simulated: bool
    metrics: list[str]  # every metric scored in the run, in display order
    headline_metrics: list[str]
    min_relative_score: float
    priced: bool
    reference: Reference
    nims: list[NimResult]
    verdict: Verdict
    notes: list[str]  # failures no experiment row shows (run-level stages, teardown, the run's own error)

    @property
    def experiments(self) -> list[Experiment]:
        return [e for n in self.nims for e in n.experiments]


def latest_run_id(store: Store, workload_id: str | None = None) -> str | None:
    runs = store.runs(workload_id, limit=1)
    return runs[0].id if runs else None


def build_report(store: Store, run_id: str, settings: Settings) -> Report:
    """Raises KeyError when the state file has no such run (the CLI turns it into NotFoundError)."""
    from flywheel_cli.report.verdict import decide, parameter_billions

    run = store.run(run_id)
    dataset = _dataset(store, run.dataset_id)
    prices = settings.report.prices
    by_nim: dict[str, dict[str, StepRow]] = {}
    for step in run.steps:
        by_nim.setdefault(step.nim, {})[step.stage] = step

    nims = [
        _nim_result(store, name, by_nim.get(name, {}), prices.get(name), parameter_billions(name))
        for name in run.nims
    ]
    metrics = sorted(
        {m for n in nims for e in n.experiments for m in e.scores},
        key=lambda m: (_METRIC_ORDER.get(m, len(_METRIC_ORDER)), m),
    )
    workload_type = _workload_type(run, dataset, metrics)
    configured = {
        "tool_calling": settings.report.tool_calling_metrics,
        "generic": settings.report.generic_metrics,
    }.get(workload_type, [*settings.report.tool_calling_metrics, *settings.report.generic_metrics])
    headline = [m for m in dict.fromkeys(configured) if m in metrics]

    reference = _reference(store, run, dataset, metrics, prices.get("reference"))
    for nim in nims:
        for exp in nim.experiments:
            exp.relative = {
                m: s.value / reference.scores[m].value for m, s in exp.scores.items() if reference.scores[m].value > 0
            }
            exp.cost_per_1k = nim.price_per_1k
            if nim.price_per_1k is not None and reference.price_per_1k is not None:
                exp.saving_per_1k = reference.price_per_1k - nim.price_per_1k
                if reference.price_per_1k > 0:
                    exp.saving_share = exp.saving_per_1k / reference.price_per_1k

    threshold = settings.report.min_relative_score
    verdict = decide(nims, headline, configured, threshold, priced=bool(prices))
    qualifying = set(verdict.qualifying)
    for exp in (e for n in nims for e in n.experiments):
        exp.qualifies = (exp.nim, exp.name) in qualifying

    return Report(
        run=RunInfo(run.id, run.status, run.client_id, run.created_at, run.finished_at, run.error),
        workload_id=run.workload_id,
        workload_type=workload_type,
        dataset=dataset,
        platform=run.platform,
        endpoint=run.endpoint,
        # A run is marked simulated when it starts against the sandbox; a job is too, and either one taints the scores.
        simulated=run.simulated or any(job.simulated for job in store.jobs(run_id=run.id)),
        metrics=metrics,
        headline_metrics=headline,
        min_relative_score=threshold,
        priced=bool(prices),
        reference=reference,
        nims=nims,
        verdict=verdict,
        notes=_notes(run, by_nim),
    )


def _runtime(start: float | None, end: float | None) -> float | None:
    return end - start if start is not None and end is not None else None


def _clean(error: str | None) -> str | None:
    # Errors from remote services can span lines; every view shows them on one.
    return " ".join(error.split()) if error else error


def _nim_result(
    store: Store, name: str, steps: dict[str, StepRow], price: float | None, size_b: float | None
) -> NimResult:
    failures = [
        (stage, _clean(steps[stage].error)) for stage in _NIM_STAGES if stage in steps and steps[stage].status == "failed"
    ]
    experiments = [_experiment(store, name, kind, steps) for kind in EXPERIMENTS]
    completed = sum(e.status == "completed" for e in experiments)
    statuses = {s.status for s in steps.values()}
    if failures:
        status = "partial" if completed else "failed"
    elif completed == len(experiments) or (completed and statuses <= {"completed", "skipped"}):
        status = "completed"
    else:
        status = next((s for s in ("running", "interrupted", "cancelled") if s in statuses), "pending")
    return NimResult(
        model_name=name,
        status=status,
        failures=failures,
        size_b=size_b,
        price_per_1k=price,
        customization=_customization(store, steps.get("customize")),
        experiments=experiments,
    )


def _experiment(store: Store, nim: str, kind: str, steps: dict[str, StepRow]) -> Experiment:
    step = steps.get(kind)
    failed_stage: str | None = None
    error: str | None = None
    if step is not None and step.status == "failed":
        failed_stage, error = kind, _clean(step.error)
    elif step is None or step.status != "completed":
        upstream = next((s for s in _UPSTREAM[kind] if s in steps and steps[s].status == "failed"), None)
        if upstream is not None:
            failed_stage, error = upstream, _clean(steps[upstream].error)
    status = step.status if step is not None else "not run"
    if status == "pending" and failed_stage is not None:
        # Steps are recorded as pending up front; behind a failed stage they will never run.
        status = "not run"
    reason = step.detail.get("reason") if step is not None and step.status == "skipped" else None
    exp = Experiment(
        nim=nim,
        name=kind,
        status=status,
        failed_stage=failed_stage,
        error=error,
        skip_reason=reason if isinstance(reason, str) else None,
        runtime_seconds=_runtime(step.started_at, step.finished_at) if step is not None else None,
        job_id=step.job_id if step is not None else None,
        target_model=None,
    )
    if exp.job_id is None:
        return exp
    try:
        job = store.job(exp.job_id)
    except KeyError:
        return exp
    exp.target_model = job.target_model
    if exp.runtime_seconds is None:
        exp.runtime_seconds = _runtime(job.created_at, job.finished_at)
    samples = store.samples(job.id)
    for row in store.scores(job.id):
        metric = row["metric"]
        ci = bootstrap_ci(samples.get(metric, []), seed_for(f"{job.nim}|{job.eval_type}", metric))
        exp.scores[metric] = Score(
            metric=metric,
            value=float(row["normalised"]),
            raw=float(row["raw"]),
            count=row["count"],
            failed=int(row["failed"] or 0),
            ci_low=ci[0] if ci else None,
            ci_high=ci[1] if ci else None,
        )
    return exp


def _number(detail: dict[str, Any], key: str, kind: type) -> Any:
    value = detail.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return kind(value)


def _customization(store: Store, step: StepRow | None) -> Customization | None:
    if step is None:
        return None
    output_model = None
    runtime = _runtime(step.started_at, step.finished_at)
    if step.job_id is not None:
        try:
            job = store.job(step.job_id)
        except KeyError:
            job = None
        if job is not None:
            output_model = job.output_model
            runtime = runtime if runtime is not None else _runtime(job.created_at, job.finished_at)
    detail = step.detail or {}
    return Customization(
        status=step.status,
        error=_clean(step.error),
        output_model=output_model or detail.get("output_model"),
        epochs_completed=_number(detail, "epochs_completed", int),
        steps_completed=_number(detail, "steps_completed", int),
        train_loss=_number(detail, "train_loss", float),
        val_loss=_number(detail, "val_loss", float),
        runtime_seconds=runtime,
        job_id=step.job_id,
    )


def _dataset(store: Store, dataset_id: str | None) -> DatasetInfo | None:
    if not dataset_id:
        return None
    try:
        # Owned by the datasets layer; a report must still render when that summary cannot be read.
        from flywheel_cli.datasets.build import get_dataset

        row = get_dataset(store, dataset_id)
    except Exception:  # noqa: BLE001 - any failure leaves just the id, which is all the run itself recorded
        return DatasetInfo(id=dataset_id)

    def attr(name: str) -> Any:
        return row.get(name) if isinstance(row, dict) else getattr(row, name, None)

    return DatasetInfo(
        id=attr("id") or dataset_id,
        eval_records=attr("eval_records"),
        train_records=attr("train_records"),
        val_records=attr("val_records"),
        seed=attr("seed"),
        workload_type=attr("workload_type"),
    )


def _workload_type(run: RunRow, dataset: DatasetInfo | None, metrics: list[str]) -> str:
    declared = run.options.get("workload_type") or (dataset.workload_type if dataset else None)
    if declared in ("tool_calling", "generic"):
        return declared
    if any(m in GENERIC_METRICS for m in metrics):
        return "generic"
    if any(m in TOOL_CALLING_METRICS for m in metrics):
        return "tool_calling"
    return "unknown"


def _production_model(store: Store, run: RunRow, dataset: DatasetInfo | None) -> str | None:
    """The model that answered the eval records in production: their `request.model`, most common first."""
    declared = run.options.get("reference_model")
    if isinstance(declared, str) and declared:
        return declared
    records = []
    if dataset is not None:
        try:
            ids = store.dataset_split_ids(dataset.id).get("eval", [])
            records = [r.record for r in store.records_by_id(ids).values()]
        except Exception:  # noqa: BLE001 - lineage tables belong to the datasets layer; fall back to the logs
            records = []
    if not records:
        newest = next(iter(store.iter_records(run.workload_id, run.client_id)), None)
        records = [newest.record] if newest is not None else []
    models = Counter(
        r["request"]["model"]
        for r in records
        if isinstance(r.get("request"), dict) and isinstance(r["request"].get("model"), str) and r["request"]["model"]
    )
    if not models:
        return None
    (top, _), *others = models.most_common()
    return top if not others else f"{top} (+{len(others)} other{'s' if len(others) > 1 else ''})"


def _reference(
    store: Store, run: RunRow, dataset: DatasetInfo | None, metrics: list[str], price: float | None
) -> Reference:
    model = _production_model(store, run, dataset)
    count = dataset.eval_records if dataset is not None else None
    scores = {
        m: Score(metric=m, value=1.0, raw=_RAW_MAX.get(m, 1.0), count=count, failed=0, ci_low=None, ci_high=None)
        for m in metrics
    }
    label = f"reference (production model: {model or 'logged responses'})"
    return Reference(label=label, model=model, scores=scores, price_per_1k=price)


def _notes(run: RunRow, by_nim: dict[str, dict[str, StepRow]]) -> list[str]:
    notes = [
        f"run stage {stage} failed: {_clean(step.error) or 'no error recorded'}"
        for stage, step in by_nim.get("", {}).items()
        if step.status == "failed"
    ]
    for nim in run.nims:
        teardown = by_nim.get(nim, {}).get("teardown")
        if teardown is not None and teardown.status == "failed":
            notes.append(f"{nim}: teardown failed: {_clean(teardown.error) or 'no error recorded'}")
    if run.error:
        notes.append(f"run error: {_clean(run.error)}")
    return notes
