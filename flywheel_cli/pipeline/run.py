"""The whole flywheel for one workload: ingest → datasets → upload → per NIM {deploy → (base ‖ icl ‖ customize →
customized) → teardown}.

A run is a row; each (NIM, stage) is a step row with its status, remote job and timings. Every remote job goes
through create-or-attach (flywheel_cli.remote_jobs), so a run killed at any moment is resumed by running the same
command: finished steps are kept, running remote jobs are re-attached, failed steps are tried again, and nothing is
launched twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from flywheel_cli.config import NimConfig, Settings
from flywheel_cli.errors import ConfigError, ExitCode, FlywheelError, Interrupted, RemoteError, StepFailed, UsageError
from flywheel_cli.platforms.base import Platform
from flywheel_cli.state.runs import JobRow, RunRow
from flywheel_cli.state.store import Store
from flywheel_cli.steps.common import StepContext

RUN_STAGES = ("ingest", "datasets", "upload")
NIM_STAGES = ("deploy", "base", "icl", "customize", "customized", "teardown")
DONE = {"completed", "skipped"}
RESUMABLE = {"running", "interrupted", "partial", "failed"}


@dataclass(frozen=True)
class RunOptions:
    workload_id: str
    client_id: str | None = None
    logs: tuple[str, ...] = ()
    nims: tuple[str, ...] | None = None  # default: every [[nims]] entry
    resume: str | None = None  # a run id
    new: bool = False
    max_parallel_nims: int = 1
    keep_deployments: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "logs": list(self.logs),
            "max_parallel_nims": self.max_parallel_nims,
            "keep_deployments": self.keep_deployments,
        }


@dataclass
class RunOutcome:
    run: RunRow
    resumed: bool
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (nim, stage, error)
    remote_failure: bool = False  # a failure came from an unreachable/failing service (exit 4)


def select_nims(settings: Settings, names: tuple[str, ...] | None) -> list[NimConfig]:
    if not names:
        return list(settings.nims)
    return [settings.nim(name) for name in names]


class Runner:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        platform: Platform,
        options: RunOptions,
        *,
        sleep: Callable[[float], None] | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.platform = platform
        self.options = options
        self.stop = threading.Event()
        self._sleep = sleep
        self.on_change = on_change or (lambda: None)
        self.nims = select_nims(settings, options.nims)
        self.run: RunRow | None = None
        self._remote_failure = False

    # -- choosing the run -------------------------------------------------------------------------------------------
    def resolve(self) -> tuple[RunRow, bool]:
        """The run to work on: --resume RUN, else the workload's latest unfinished run, else a new one (--new forces)."""
        store, opts = self.store, self.options
        if opts.resume and opts.new:
            raise UsageError("--resume and --new do not go together")
        if opts.resume:
            try:
                run = store.run(opts.resume)
            except KeyError:
                raise UsageError(f"no run {opts.resume!r}", hint="`flywheel runs list` shows the runs.") from None
            if run.workload_id != opts.workload_id:
                raise UsageError(f"run {run.id} is for workload {run.workload_id!r}, not {opts.workload_id!r}")
            if run.status not in RESUMABLE:
                raise UsageError(f"run {run.id} is {run.status}; nothing to resume", hint="Use --new to start over.")
            if not self._same_platform(run):
                raise UsageError(
                    f"run {run.id} ran on {run.platform} at {run.endpoint}; the config now points at "
                    f"{self.platform.kind} at {self._endpoint}",
                    hint="Its remote jobs live there: point the config back at it, or use --new to start over here.",
                )
            return run, True
        if not opts.new:
            for run in store.runs(opts.workload_id, limit=1):
                # Never continue a run on another cluster: its steps' remote work does not exist here.
                if run.status in RESUMABLE and run.nims == [n.model_name for n in self.nims] and self._same_platform(run):
                    return run, True
        run = store.create_run(
            workload_id=opts.workload_id,
            client_id=opts.client_id,
            platform=self.platform.kind,
            endpoint=self._endpoint,
            simulated=self.platform.simulated,
            nims=[n.model_name for n in self.nims],
            options=opts.to_json(),
        )
        return run, False

    def _same_platform(self, run: RunRow) -> bool:
        return run.platform == self.platform.kind and run.endpoint == self._endpoint

    @property
    def _endpoint(self) -> str:
        from flywheel_cli.platforms import endpoint_of

        return endpoint_of(self.settings)

    # -- running ----------------------------------------------------------------------------------------------------
    def execute(self, run: RunRow) -> RunOutcome:
        self.run = run
        store = self.store
        store.update_run(run.id, status="running", finished_at=None, error=None, endpoint=self._endpoint,
                         simulated=int(self.platform.simulated))
        self._mark_stale_running(run.id)
        try:
            dataset_id = self._prepare(run)
            self._run_nims(run, dataset_id)
        except (KeyboardInterrupt, Interrupted):
            self.stop.set()
            cancelled = self._interrupted(run)
            left = self.teardown_after_interrupt()
            if cancelled:
                message = f"run {run.id} was cancelled (`flywheel runs cancel`); finished steps are kept"
                hint = f"`flywheel run --workload {run.workload_id} --new` starts a new run."
            else:
                message = f"run {run.id} interrupted; finished steps are kept"
                hint = f"Resume with `flywheel run --workload {run.workload_id}` (or --resume {run.id})."
            if left:
                hint += f" Still deployed (take down with `flywheel deploy down MODEL`): {', '.join(left)}."
            elif not self.options.keep_deployments:
                hint += " The deployments this run started were taken down."
            raise Interrupted(message, hint=hint) from None
        except FlywheelError as exc:
            store.update_run(run.id, status="failed", finished_at=time.time(), error=exc.message)
            self.on_change()
            raise
        return self._finish(run)

    def _mark_stale_running(self, run_id: str) -> None:
        """Steps left `running` by a killed process are re-entered (their remote jobs are re-attached). Skipped steps
        are decided again: one skipped because an earlier step failed runs once that step is retried and succeeds."""
        for step in self.store.run(run_id).steps:
            if step.status in ("running", "interrupted"):
                self.store.upsert_step(run_id, step.nim, step.stage, status="pending")
            elif step.status == "skipped":
                self.store.upsert_step(run_id, step.nim, step.stage, status="pending", detail={}, finished_at=None)

    def _ctx(self, nim: str, stage: str) -> StepContext:
        run = self.run
        assert run is not None

        def observe(job: JobRow) -> None:
            fields: dict[str, Any] = {"job_id": job.id, "progress": job.progress}
            if job.kind == "customization":
                fields["detail"] = {k: job.detail.get(k) for k in ("epochs_completed", "steps_completed", "train_loss", "val_loss")}
                fields["detail"]["output_model"] = job.output_model
            self.store.upsert_step(run.id, nim, stage, **fields)
            self.on_change()

        ctx = StepContext(
            store=self.store,
            platform=self.platform,
            settings=self.settings,
            run_id=run.id,
            on_update=observe,
            should_stop=self.stop.is_set,
        )
        ctx.sleep = self._sleep or self._interruptible_sleep
        return ctx

    def _interruptible_sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise Interrupted("stopped")

    def _step(self, nim: str, stage: str, fn: Callable[[], dict[str, Any] | None]) -> bool:
        """Run one step unless it is done; record its outcome. True when the step is completed or skipped."""
        run = self.run
        assert run is not None
        current = self.store.step(run.id, nim, stage)
        if current is not None and current.status in DONE:
            return True
        if self.stop.is_set():
            raise Interrupted("stopped")
        self.store.upsert_step(run.id, nim, stage, status="running", error=None, started_at=time.time(), finished_at=None)
        self.on_change()
        try:
            detail = fn()
        except (KeyboardInterrupt, Interrupted):
            self.store.upsert_step(run.id, nim, stage, status="interrupted")
            self.on_change()
            raise
        except (StepFailed, RemoteError, ConfigError, FlywheelError) as exc:
            if self._cancelled():
                # `runs cancel` stopped the remote job under us: that is the cancellation, not a failure of the step.
                self.store.upsert_step(run.id, nim, stage, status="cancelled", error=exc.message, finished_at=time.time())
                self.on_change()
                raise Interrupted("the run was cancelled (`flywheel runs cancel`)") from None
            if isinstance(exc, RemoteError):
                self._remote_failure = True
            self.store.upsert_step(run.id, nim, stage, status="failed", error=exc.message, finished_at=time.time())
            self.on_change()
            return False
        except Exception as exc:  # noqa: BLE001 - a bug in one step must not hide the other NIMs' results
            self.store.upsert_step(
                run.id, nim, stage, status="failed", error=f"internal error: {type(exc).__name__}: {exc}", finished_at=time.time()
            )
            self.on_change()
            return False
        fields: dict[str, Any] = {"status": "completed", "finished_at": time.time(), "progress": 100.0}
        if detail:
            existing = self.store.step(run.id, nim, stage)
            fields["detail"] = {**(existing.detail if existing else {}), **detail}
        self.store.upsert_step(run.id, nim, stage, **fields)
        self.on_change()
        return True

    def _skip(self, nim: str, stage: str, reason: str) -> None:
        assert self.run is not None
        current = self.store.step(self.run.id, nim, stage)
        if current is None or current.status not in DONE:
            self.store.upsert_step(self.run.id, nim, stage, status="skipped", error=None, detail={"reason": reason},
                                   finished_at=time.time())
            self.on_change()

    def _prepare(self, run: RunRow) -> str:
        from flywheel_cli.steps.datasets import dataset_refs

        for nim in self.nims:  # every step shows from the start, pending
            for stage in NIM_STAGES:
                if self.store.step(run.id, nim.model_name, stage) is None:
                    self.store.upsert_step(run.id, nim.model_name, stage, status="pending")
        if self.options.logs:
            if not self._step("", "ingest", self._ingest):
                raise self._failed("", "ingest")
        if not self._step("", "datasets", lambda: self._datasets(run)):
            raise self._failed("", "datasets")
        dataset_id = self.store.run(run.id).dataset_id
        assert dataset_id is not None
        row = self.store.get_dataset_row(dataset_id)

        def upload() -> dict[str, Any]:
            refs = dataset_refs(self._ctx("", "upload"), row)  # type: ignore[arg-type]
            return {"datasets": {kind: ref.uri for kind, ref in refs.items()}}

        if not self._step("", "upload", upload):
            raise self._failed("", "upload")
        return dataset_id

    def _failed(self, nim: str, stage: str) -> StepFailed:
        """The error that ends the run when a step every NIM needs has failed; exit 4 when a service was the cause."""
        err = StepFailed(self._error(nim, stage))
        if self._remote_failure:
            err.exit_code = ExitCode.REMOTE
        return err

    def _error(self, nim: str, stage: str) -> str:
        assert self.run is not None
        step = self.store.step(self.run.id, nim, stage)
        return f"{stage} failed: {step.error if step else 'unknown error'}"

    def _ingest(self) -> dict[str, Any]:
        from flywheel_cli.ingest import IngestOptions, ingest_files
        from flywheel_cli.logs.jsonl import expand_paths

        summary = ingest_files(self.store, expand_paths(list(self.options.logs)), IngestOptions())
        return {
            "read": summary.read,
            "ingested": summary.ingested,
            "duplicates": summary.duplicates,
            "rejected": summary.rejected,
            "rejects_file": summary.rejects_path,
        }

    def _datasets(self, run: RunRow) -> dict[str, Any]:
        from flywheel_cli.datasets.build import build_dataset

        if run.dataset_id is None:
            result = build_dataset(self.store, self.settings, run.workload_id, client_id=run.client_id)
            row = self.store.get_dataset_row(result.dataset_id)
            assert row is not None
            options = {**self.store.run(run.id).options, "workload_type": row.workload_type}
            self.store.update_run(run.id, dataset_id=result.dataset_id, options=options)
        row = self.store.get_dataset_row(self.store.run(run.id).dataset_id)  # type: ignore[arg-type]
        assert row is not None
        return {"dataset_id": row.id, "eval": row.eval_records, "train": row.train_records, "val": row.val_records}

    def _run_nims(self, run: RunRow, dataset_id: str) -> None:
        workers = max(1, min(self.options.max_parallel_nims, len(self.nims)))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nim")
        futures: list[Future[None]] = [pool.submit(self._nim_chain, nim, dataset_id) for nim in self.nims]
        try:
            while True:
                done, pending = wait(futures, timeout=0.25, return_when=FIRST_EXCEPTION)
                self._check_cancelled(run.id)
                for f in done:
                    exc = f.exception()
                    if isinstance(exc, (Interrupted, KeyboardInterrupt)):
                        raise Interrupted("stopped")
                    if exc is not None:
                        raise exc
                if not pending:
                    return
        except BaseException:
            self.stop.set()
            wait(futures)
            raise
        finally:
            pool.shutdown(wait=True)

    def _cancelled(self) -> bool:
        assert self.run is not None
        return self.store.run(self.run.id).status == "cancelled"

    def _check_cancelled(self, run_id: str) -> None:
        if self.store.run(run_id).status == "cancelled":
            self.stop.set()
            raise Interrupted("the run was cancelled (`flywheel runs cancel`)")

    def _nim_chain(self, nim: NimConfig, dataset_id: str) -> None:
        from flywheel_cli.steps.deploy import deploy_up

        name = nim.model_name
        self._redeploy_if_gone(nim)
        deployed = self._step(name, "deploy", lambda: _job_detail(deploy_up(self._ctx(name, "deploy"), nim)))
        try:
            if not deployed:
                for stage in ("base", "icl", "customize", "customized"):
                    self._skip(name, stage, "the deployment failed")
                return
            with ThreadPoolExecutor(max_workers=3, thread_name_prefix=f"{name}-") as pool:
                futures = [
                    pool.submit(self._evaluate, nim, dataset_id, "base"),
                    pool.submit(self._evaluate, nim, dataset_id, "icl"),
                    pool.submit(self._customize_then_evaluate, nim, dataset_id),
                ]
                wait(futures)
                for f in futures:
                    if f.exception() is not None:
                        raise f.exception()  # type: ignore[misc]
        finally:
            if not self.stop.is_set():
                self._teardown(nim)

    def _redeploy_if_gone(self, nim: NimConfig) -> None:
        """A resumed run whose deployment was taken down (Ctrl-C tears it down) deploys again before it goes on, and
        a NIM deployed again in this pass is taken down again at its end."""
        from flywheel_cli.steps.deploy import GONE, deployment_key

        assert self.run is not None
        name = nim.model_name
        deploy = self.store.step(self.run.id, name, "deploy")
        if deploy is not None and deploy.status in DONE:
            needed = [self.store.step(self.run.id, name, s) for s in ("base", "icl", "customize", "customized")]
            if all(s is not None and s.status in DONE for s in needed):
                return
            job = self.store.latest_job(deployment_key(self._ctx(name, "deploy"), nim))
            if job is not None and job.status not in GONE:
                return
            self.store.upsert_step(self.run.id, name, "deploy", status="pending", finished_at=None)
        teardown = self.store.step(self.run.id, name, "teardown")
        if teardown is not None and teardown.status in DONE:
            self.store.upsert_step(self.run.id, name, "teardown", status="pending", detail={}, finished_at=None)

    def _evaluate(self, nim: NimConfig, dataset_id: str, eval_type: str) -> bool:
        from flywheel_cli.steps.evaluate import evaluate

        name = nim.model_name
        run = self.run
        assert run is not None

        def go() -> dict[str, Any]:
            job = evaluate(self._ctx(name, eval_type), workload_id=run.workload_id, nim=nim, dataset_id=dataset_id,
                           eval_type=eval_type)  # type: ignore[arg-type]
            return {**_job_detail(job), "scores": {s["metric"]: s["normalised"] for s in self.store.scores(job.id)}}

        return self._step(name, eval_type, go)

    def _customize_then_evaluate(self, nim: NimConfig, dataset_id: str) -> None:
        from flywheel_cli.steps.customize import customize

        name = nim.model_name
        run = self.run
        assert run is not None
        if not nim.customization.enabled:
            self._skip(name, "customize", "customization is disabled for this NIM in the config")
            self._skip(name, "customized", "customization is disabled for this NIM in the config")
            return
        if "customize" not in self.platform.capabilities:
            reason = f"this {self.platform.kind} platform cannot run customization (it needs GPUs)"
            self._skip(name, "customize", reason)
            self._skip(name, "customized", reason)
            return
        ok = self._step(
            name,
            "customize",
            lambda: _job_detail(customize(self._ctx(name, "customize"), workload_id=run.workload_id, nim=nim, dataset_id=dataset_id)),
        )
        if ok:
            self._evaluate(nim, dataset_id, "customized")
        else:
            self._skip(name, "customized", "the customization failed")

    def _teardown(self, nim: NimConfig) -> None:
        from flywheel_cli.steps.deploy import deploy_down, deployment_key, owned_by

        name = nim.model_name
        if self.options.keep_deployments:
            self._skip(name, "teardown", "--keep-deployments")
            return
        ctx = self._ctx(name, "teardown")
        job = self.store.latest_job(deployment_key(ctx, nim))
        if not owned_by(job, None):
            reason = "it was deployed before flywheel came" if job and job.detail.get("preexisting") else "nothing to take down"
            self._skip(name, "teardown", reason)
            return
        self._cancel_evaluations_of(nim)  # ones whose wait ran out: they would fail without their model anyway
        self._step(name, "teardown", lambda: (deploy_down(ctx, nim) and None) or {"deployment": nim.deployment_name})

    # -- endings ----------------------------------------------------------------------------------------------------
    def teardown_after_interrupt(self) -> list[str]:
        """Take down the deployments this run brought up; return what it could not (so the user can be told)."""
        from flywheel_cli.steps.deploy import deploy_down, deployment_key, owned_by

        left: list[str] = []
        if self.options.keep_deployments or self.run is None:
            return left
        for nim in self.nims:
            ctx = self._ctx(nim.model_name, "teardown")
            ctx.should_stop = lambda: False
            job = self.store.latest_job(deployment_key(ctx, nim))
            if not owned_by(job, self.run.id):
                continue
            self._cancel_evaluations_of(nim)
            try:
                deploy_down(ctx, nim)
            except (RemoteError, StepFailed):
                left.append(nim.model_name)
        return left

    def _cancel_evaluations_of(self, nim: NimConfig) -> None:
        """Evaluations still running against a deployment about to go would fail under it (after Ctrl-C, or when a
        wait timed out). Cancel them and record it, so the resumed run starts them again instead of attaching to jobs
        that lost their model."""
        from flywheel_cli.platforms.base import JobState

        assert self.run is not None
        for job in self.store.jobs(kind="evaluation", run_id=self.run.id, live_only=True):
            if job.nim != nim.model_name:
                continue
            try:
                remote = self.platform.get_evaluation(job.remote_id) if job.remote_id else self.platform.find_evaluation(job.name)
                if remote is not None and remote.status.state is JobState.COMPLETED:
                    continue  # finished in time: the resumed run collects its scores
                if remote is not None and not remote.status.state.terminal:
                    self.platform.cancel_evaluation(remote.id)
                    if self.platform.get_evaluation(remote.id).status.state is JobState.COMPLETED:
                        continue  # it finished while the cancel was on its way
            except RemoteError:
                continue  # unknown: leave the row as it is; the resumed run looks again
            self.store.update_job(job.id, status="cancelled", error="cancelled: the run was interrupted and its NIM taken down")

    def _interrupted(self, run: RunRow) -> bool:
        """Record where the run stopped; True when it stopped because it was cancelled."""
        cancelled = self._cancelled()
        stopped = "cancelled" if cancelled else "interrupted"
        for step in self.store.run(run.id).steps:
            if step.status in ("running", "interrupted"):
                self.store.upsert_step(run.id, step.nim, step.stage, status=stopped)
        if cancelled:
            self.store.update_run(run.id, finished_at=time.time())
        else:
            self.store.update_run(run.id, status="interrupted")
        self.on_change()
        return cancelled

    def _finish(self, run: RunRow) -> RunOutcome:
        final = self.store.run(run.id)
        failures = [(s.nim, s.stage, s.error or "") for s in final.steps if s.status == "failed"]
        evals_done = [s for s in final.steps if s.stage in ("base", "icl", "customized") and s.status == "completed"]
        if not failures:
            status = "completed"
        elif evals_done:
            status = "partial"
        else:
            status = "failed"
        error = "; ".join(f"{nim or 'run'} {stage}: {err}" for nim, stage, err in failures) or None
        self.store.update_run(run.id, status=status, finished_at=time.time(), error=error)
        self.on_change()
        return RunOutcome(self.store.run(run.id), resumed=False, failures=failures, remote_failure=self._remote_failure)


def _job_detail(job: JobRow) -> dict[str, Any]:
    return {"job": job.remote_id, "status": job.status}
