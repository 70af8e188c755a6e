"""Evaluator v1 jobs: `custom` configs with `chat-completion` tasks, `tool-calling` and `llm-judge` metrics.

The job reads its dataset when it is created; a worker thread scores the rows once the job reaches `running` in
simulated time. The visible progress is the smaller of what the worker has done and what simulated time allows
(about 1 s per sample plus 0.5 s per judge metric), so a job never completes faster than a real one would.
"""

from __future__ import annotations

import io
import threading
import zipfile
from dataclasses import dataclass, field
from typing import Any

import orjson

from flywheel_cli.sandbox import datastore, scoring
from flywheel_cli.sandbox.api import ApiError, Request, Response, Route, lookup, not_found, paginate
from flywheel_cli.sandbox.clock import iso
from flywheel_cli.sandbox.eval_runner import EvalRunner, endpoint
from flywheel_cli.sandbox.messages import as_dict
from flywheel_cli.sandbox.scoring import EvalFailure
from flywheel_cli.sandbox.store import State, new_id, split_ref
from flywheel_cli.sandbox.validation import Checker, check_common

CREATED_S = 2.0
PENDING_S = 8.0
RUN_START_S = CREATED_S + PENDING_S
SAMPLE_S = 1.0
JUDGE_S = 0.5
TARGET_TYPES = ("model", "cached_outputs", "retriever", "rag", "rows", "dataset")
METRIC_TYPES = ("tool-calling", "llm-judge")
TERMINAL = ("completed", "failed", "cancelled")
MASK = "******"


@dataclass
class TaskPlan:
    name: str
    template: dict[str, Any]
    params: dict[str, Any]
    metrics: dict[str, dict[str, Any]] = field(repr=False)  # may hold a judge's api_key
    items: list[Any] = field(repr=False)

    @property
    def sample_cost(self) -> float:
        judges = sum(1 for m in self.metrics.values() if m.get("type") == "llm-judge")
        return SAMPLE_S + JUDGE_S * judges


@dataclass
class EvaluationJob:
    id: str
    doc: dict[str, Any]  # as answered: api keys masked
    created: float
    target_model: Any = field(repr=False)  # may hold an api_key
    tasks: list[TaskPlan] = field(repr=False)
    error: str | None = None
    done: bool = False
    processed: int = 0
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    cancelled_at: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    result_id: str = field(default_factory=lambda: new_id("evaluation_result"))

    @property
    def total(self) -> int:
        return sum(len(t.items) for t in self.tasks)

    def samples_by(self, run_sim: float) -> int:
        """Samples simulated time allows to be done `run_sim` seconds into the running phase."""
        count, spent = 0, 0.0
        for plan in self.tasks:
            for _ in plan.items:
                spent += plan.sample_cost
                if spent > run_sim:
                    return count
                count += 1
        return count


def mask_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (MASK if k == "api_key" and v else mask_secrets(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value


# --- status -------------------------------------------------------------------------------------------------------


def _progress(state: State, job: EvaluationJob, at: float | None = None) -> tuple[str, int]:
    sim = state.clock.sim_since(job.created) if at is None else at
    if job.cancelled_at is not None:
        sim = min(sim, job.cancelled_at)
    if sim < CREATED_S:
        status, processed = "created", 0
    elif sim < RUN_START_S:
        status, processed = "pending", 0
    else:
        processed = min(job.processed, job.samples_by(sim - RUN_START_S))
        if job.done and job.error:
            status = "failed"
        elif job.done and processed >= job.total:
            status = "completed"
        else:
            status = "running"
    if job.cancelled_at is not None and sim >= job.cancelled_at:
        # Cancel is refused once a job is terminal, so a cancelled job stays cancelled, even if its scoring worker
        # (which may lag simulated time) finishes the last samples afterwards.
        status = "cancelled"
    return status, processed


def status_details(state: State, job: EvaluationJob, at: float | None = None) -> dict[str, Any]:
    status, processed = _progress(state, job, at)
    task_status: dict[str, str] = {}
    start = 0
    for plan in job.tasks:
        end = start + len(plan.items)
        if status == "completed" or processed >= end:
            task_status[plan.name] = "completed"
        elif status == "failed":
            task_status[plan.name] = "failed"
        elif status == "running" and processed >= start:
            task_status[plan.name] = "running"
        else:
            task_status[plan.name] = "pending"
        start = end
    messages = {
        "created": "Job created",
        "pending": "Job is waiting for resources",
        "running": f"Evaluating: {processed}/{job.total} samples",
        "completed": "Job completed successfully",
        "failed": job.error or "Job failed",
        "cancelled": "Job cancelled by user",
    }
    return {
        "message": messages[status],
        "progress": round(100.0 * processed / job.total, 2) if job.total else (100.0 if status == "completed" else 0.0),
        "samples_processed": processed,
        "task_status": task_status,
    }


def job_view(state: State, job: EvaluationJob, at: float | None = None) -> dict[str, Any]:
    status, _ = _progress(state, job, at)
    return dict(
        job.doc,
        status=status,
        status_details=status_details(state, job, at),
        result=job.result_id if status == "completed" else None,
        updated_at=iso(state.clock.now()),
    )


# --- create -------------------------------------------------------------------------------------------------------


def _check_body(body: dict[str, Any]) -> tuple[Any, Any]:
    c = Checker()
    check_common(c, body)
    config = c.str_or_mapping(body, "config", ("body", "config"), required=True)
    target = c.str_or_mapping(body, "target", ("body", "target"), required=True)
    if isinstance(config, dict):
        c.string(config, "type", ("body", "config", "type"), required=True)
        tasks = c.mapping(config, "tasks", ("body", "config", "tasks"))
        for task_name, task in (tasks or {}).items():
            loc = ("body", "config", "tasks", task_name)
            if not isinstance(task, dict):
                c.fail("dict_type", loc, "Input should be a valid dictionary", task)
                continue
            c.string(task, "type", (*loc, "type"), required=True)
            dataset = c.str_or_mapping(task, "dataset", (*loc, "dataset"))
            if isinstance(dataset, dict):
                c.string(dataset, "files_url", (*loc, "dataset", "files_url"), required=True)
                c.integer(dataset, "limit", (*loc, "dataset", "limit"), minimum=1)
            for metric_name, metric in (c.mapping(task, "metrics", (*loc, "metrics")) or {}).items():
                if not isinstance(metric, dict):
                    c.fail("dict_type", (*loc, "metrics", metric_name), "Input should be a valid dictionary", metric)
                    continue
                c.string(metric, "type", (*loc, "metrics", metric_name, "type"), required=True)
                c.mapping(metric, "params", (*loc, "metrics", metric_name, "params"))
    if isinstance(target, dict):
        kind = c.enum(target, "type", ("body", "target", "type"), TARGET_TYPES, required=True)
        if kind == "model":
            model = c.str_or_mapping(target, "model", ("body", "target", "model"), required=True)
            api = (
                c.mapping(model, "api_endpoint", ("body", "target", "model", "api_endpoint"))
                if isinstance(model, dict)
                else None
            )
            if api is not None:
                for key in ("url", "model_id"):
                    c.string(api, key, ("body", "target", "model", "api_endpoint", key), required=True)
    c.done()
    return config, target


def _rows(state: State, files_url: str) -> list[Any]:
    parsed = datastore.parse_files_url(files_url)
    if parsed is None:
        raise EvalFailure(f"dataset files_url {files_url!r} is not an hf://datasets/<namespace>/<name> URL")
    namespace, name, path = parsed
    files = datastore.repo_files(state, namespace, name)
    if files is None:
        raise EvalFailure(f"dataset repository {namespace}/{name} not found in the Data Store")
    if path:
        if path not in files:
            raise EvalFailure(f"file {path} not found in dataset {namespace}/{name}")
        chosen = [path]
    else:
        chosen = sorted(p for p in files if p.endswith(".jsonl"))
        if not chosen:
            raise EvalFailure(f"dataset {namespace}/{name} holds no .jsonl files")
    rows: list[Any] = []
    for file in chosen:
        for number, line in enumerate(files[file].splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                raise EvalFailure(f"{file} line {number} of dataset {namespace}/{name} is not valid JSON") from None
    return rows


def _dataset_url(state: State, dataset: Any) -> str:
    if isinstance(dataset, dict):
        return str(dataset["files_url"])
    if isinstance(dataset, str) and not dataset.startswith("hf://"):
        key = split_ref(dataset) or ("default", dataset)
        doc = state.datasets.get(key)
        if doc is None:
            raise EvalFailure(f"dataset {key[0]}/{key[1]} not found in the Entity Store")
        return str(doc.get("files_url") or "")
    if isinstance(dataset, str):
        return dataset
    raise EvalFailure("every task needs a dataset")


def plan_tasks(state: State, config: dict[str, Any], target: dict[str, Any]) -> list[TaskPlan]:
    if config["type"] != "custom":
        raise EvalFailure(f"evaluation type {config['type']!r} is not simulated; the sandbox runs type 'custom'")
    if target["type"] != "model":
        raise EvalFailure(f"target type {target['type']!r} is not simulated; the sandbox evaluates type 'model'")
    endpoint(state, target["model"], "target.model")
    tasks = config.get("tasks") or {}
    if not tasks:
        raise EvalFailure("the evaluation config has no tasks")
    params = as_dict(config.get("params"))
    plans = []
    for name, task in tasks.items():
        if task["type"] != "chat-completion":
            raise EvalFailure(f"task {name!r}: task type {task['type']!r} is not simulated; use 'chat-completion'")
        metrics = task.get("metrics") or {}
        for metric_name, metric in metrics.items():
            if metric["type"] not in METRIC_TYPES:
                raise EvalFailure(
                    f"metric {metric_name!r}: type {metric['type']!r} is not simulated ({', '.join(METRIC_TYPES)})"
                )
            if metric["type"] == "llm-judge":
                judge_params = metric.get("params") or {}
                endpoint(state, judge_params.get("model"), f"metric {metric_name!r} params.model")
                if not isinstance(judge_params.get("scores"), dict) or not judge_params["scores"]:
                    raise EvalFailure(f"metric {metric_name!r}: llm-judge needs params.scores")
        dataset = task.get("dataset")
        rows = _rows(state, _dataset_url(state, dataset))
        limit = (dataset.get("limit") if isinstance(dataset, dict) else None) or params.get("limit_samples")
        if isinstance(limit, int) and limit > 0:
            rows = rows[:limit]
        template = as_dict(task.get("params")).get("template")
        if not isinstance(template, dict):
            raise EvalFailure(f"task {name!r} needs params.template with messages")
        plans.append(TaskPlan(name, template, params, metrics, rows))
    return plans


def create_job(state: State, req: Request) -> Response:
    body = req.json_object()
    config, target = _check_body(body)
    if isinstance(config, str):
        raise not_found(f"Evaluation config '{config}'")
    if isinstance(target, str):
        raise not_found(f"Evaluation target '{target}'")
    job_id = new_id("eval")
    now = state.clock.now()
    try:
        tasks, error = plan_tasks(state, config, target), None
    except EvalFailure as exc:
        tasks, error = [], str(exc)
    doc = {
        "id": job_id,
        "namespace": body.get("namespace") or "default",
        "project": body.get("project"),
        "description": body.get("description"),
        "custom_fields": body.get("custom_fields") or {},
        "ownership": body.get("ownership"),
        "config": mask_secrets(config),
        "target": mask_secrets(target),
        "output_files_url": f"hf://datasets/evaluation-results/{job_id}",
        "created_at": iso(now),
    }
    if body.get("name") is not None:
        doc["name"] = body["name"]
    job = EvaluationJob(job_id, doc, now, target.get("model"), tasks, error=error, done=error is not None)
    job.rows = {plan.name: [] for plan in tasks}
    with state.lock:
        state.eval_jobs[job_id] = job
        view = job_view(state, job, at=0.0)
    if error is None:
        EvalRunner(state, job, state.clock.real_at(now, RUN_START_S)).start()
    return Response(200, view, created=("evaluation", job_id))


# --- read, cancel, delete, results --------------------------------------------------------------------------------


def _job(state: State, req: Request) -> EvaluationJob:
    return lookup(state.eval_jobs, req.params["job_id"], f"Evaluation job '{req.params['job_id']}'")


def get_job(state: State, req: Request) -> Response:
    with state.lock:
        return Response(200, job_view(state, _job(state, req)))


def get_status(state: State, req: Request) -> Response:
    with state.lock:
        return Response(200, status_details(state, _job(state, req)))


def list_jobs(state: State, req: Request) -> Response:
    def target_model(d: dict[str, Any]) -> Any:
        model = (d.get("target") or {}).get("model")
        return model if isinstance(model, str) else (model or {}).get("api_endpoint", {}).get("model_id")

    with state.lock:
        items = [job_view(state, j) for j in state.eval_jobs.values()]
    return Response(
        200, paginate(items, req, {"target": target_model, "config": lambda d: (d.get("config") or {}).get("name")})
    )


def cancel_job(state: State, req: Request) -> Response:
    with state.lock:
        job = _job(state, req)
        status, _ = _progress(state, job)
        if status in TERMINAL:
            raise ApiError(409, f"Evaluation job '{job.id}' is {status} and cannot be cancelled")
        job.cancelled_at = state.clock.sim_since(job.created)
        job.stop.set()
        return Response(200, job_view(state, job))


def delete_job(state: State, req: Request) -> Response:
    with state.lock:
        job = _job(state, req)
        job.stop.set()
        del state.eval_jobs[job.id]
    return Response(200, state.deleted(job.id))


def _completed(state: State, req: Request) -> EvaluationJob:
    job = _job(state, req)
    status, _ = _progress(state, job)
    if status != "completed":
        raise ApiError(404, f"Evaluation results for job '{job.id}' are not available: the job is {status}")
    return job


def get_results(state: State, req: Request) -> Response:
    with state.lock:
        job = _completed(state, req)
        rows = {name: list(samples) for name, samples in job.rows.items()}
        body = {
            "id": job.result_id,
            "job": job.id,
            "namespace": job.doc["namespace"],
            "project": job.doc.get("project"),
            "custom_fields": {},
            "files_url": job.doc["output_files_url"],
            "groups": {},
            "tasks": scoring.aggregate(rows),
            "created_at": iso(state.clock.now()),
            "updated_at": iso(state.clock.now()),
            "simulated": True,
        }
    return Response(200, body)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def download_results(state: State, req: Request) -> Response:
    with state.lock:
        job = _completed(state, req)
        rows = {name: list(samples) for name, samples in job.rows.items()}
    note = b"Every score in this archive was produced by the flywheel sandbox's simulated models.\n"
    return Response(
        200, _zip({"results.json": orjson.dumps(rows), "SIMULATED.txt": note}), content_type="application/zip"
    )


def download_logs(state: State, req: Request) -> Response:
    with state.lock:
        job = _job(state, req)
        details = status_details(state, job)
        status, _ = _progress(state, job)
    text = f"job {job.id}: {status}\n{details['message']}\n".encode()
    return Response(200, _zip({"logs.txt": text}), content_type="application/zip")


ROUTES: list[Route] = [
    ("POST", "/v1/evaluation/jobs", create_job),
    ("GET", "/v1/evaluation/jobs", list_jobs),
    ("GET", "/v1/evaluation/jobs/{job_id}", get_job),
    ("DELETE", "/v1/evaluation/jobs/{job_id}", delete_job),
    ("GET", "/v1/evaluation/jobs/{job_id}/status", get_status),
    ("POST", "/v1/evaluation/jobs/{job_id}/cancel", cancel_job),
    ("GET", "/v1/evaluation/jobs/{job_id}/results", get_results),
    ("GET", "/v1/evaluation/jobs/{job_id}/download-results", download_results),
    ("GET", "/v1/evaluation/jobs/{job_id}/logs", download_logs),
]
