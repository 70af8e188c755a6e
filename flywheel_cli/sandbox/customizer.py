"""Customizer jobs: LoRA/SFT runs that move created → pending → running → completed over simulated time.

A job's status is computed from the simulated time since it was created: a few seconds `created`, a wait for GPUs
(`pending`), model loading, then steps at a pace set by the model size. The training files are read and checked when
the job is created; a malformed row fails the job shortly after it starts running, with the file and line in
`status_logs[-1].detail`. The customized model entity exists from job creation; the adapter is served (NIM
`/v1/models`) a refresh interval after the job completes, while its base model is deployed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flywheel_cli.sandbox import datastore
from flywheel_cli.sandbox.api import ApiError, Request, Response, Route, conflict, lookup, not_found, paginate
from flywheel_cli.sandbox.clock import Timeline, iso
from flywheel_cli.sandbox.customization_configs import (
    FINETUNING_TYPES,
    TRAINING_TYPES,
    check_training_options,
    config_base_model,
    config_by_ref,
)
from flywheel_cli.sandbox.simulated import draw, model_size_b
from flywheel_cli.sandbox.store import State, new_id, split_ref
from flywheel_cli.sandbox.training_data import read_training_data
from flywheel_cli.sandbox.validation import Checker, check_common

CREATED_S = 5.0
PENDING_S = 25.0  # waiting for a GPU
SETUP_S = 60.0  # pulling the training container, loading the checkpoint
FAIL_AFTER_S = 10.0  # a bad dataset fails this long after the pod starts
CANCELLING_S = 5.0
ADAPTER_SYNC_S = 60.0  # the NIM's LoRA refresh interval
TERMINAL = ("completed", "failed", "cancelled")


def step_seconds(size_b: float) -> float:
    return 3.0 * math.sqrt(max(size_b, 0.5))


@dataclass
class CustomizationJob:
    id: str
    doc: dict[str, Any]
    created: float  # real time
    base_model: str
    output_model: str | None
    epochs: int
    batch_size: int
    log_every: int
    train_records: int
    val_records: int
    failure: str | None
    cancelled_at: float | None = None  # simulated seconds since creation

    @property
    def steps_per_epoch(self) -> int:
        return max(1, math.ceil(self.train_records / self.batch_size))

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    @property
    def train_start(self) -> float:
        return CREATED_S + PENDING_S + SETUP_S

    def timeline(self) -> Timeline:
        if self.failure:
            phases: list[tuple[str, float | None]] = [
                ("created", CREATED_S),
                ("pending", PENDING_S),
                ("running", FAIL_AFTER_S),
                ("failed", None),
            ]
        else:
            running = SETUP_S + self.total_steps * step_seconds(model_size_b(self.base_model))
            phases = [("created", CREATED_S), ("pending", PENDING_S), ("running", running), ("completed", None)]
        if self.cancelled_at is None:
            return Timeline(phases)
        cut: list[tuple[str, float | None]] = []
        start = 0.0
        for status, duration in phases:
            if duration is None or start + duration > self.cancelled_at:
                cut.append((status, self.cancelled_at - start))
                break
            cut.append((status, duration))
            start += duration
        return Timeline([*cut, ("cancelling", CANCELLING_S), ("cancelled", None)])

    def steps_at(self, sim: float) -> int:
        if self.failure:
            return 0
        if self.cancelled_at is not None:
            sim = min(sim, self.cancelled_at)
        done = (sim - self.train_start) / step_seconds(model_size_b(self.base_model))
        return max(0, min(self.total_steps, math.floor(done)))


def _train_loss(state: State, job: CustomizationJob, step: int) -> float:
    floor = 0.05 + 0.45 * math.exp(-job.train_records / 400)
    noise = (draw(state.seed, job.base_model, job.train_records, step, "loss") - 0.5) * 0.04
    return round(floor + (2.2 - floor) * math.exp(-5 * step / job.total_steps) + noise, 4)


def _status_logs(state: State, job: CustomizationJob, timeline: Timeline, sim: float) -> list[dict[str, Any]]:
    details = {
        "pending": "Waiting for GPU resources",
        "running": "Training pod is running",
        "completed": f"Training completed; adapter uploaded as {job.output_model}"
        if job.output_model
        else "Training completed",
        "failed": job.failure,
        "cancelled": "Job cancelled by user",
    }
    messages = {"running": "PodRunning"}
    logs = []
    for phase in timeline.reached(sim):
        entry: dict[str, Any] = {
            "updated_at": iso(state.clock.real_at(job.created, phase.start)),
            "message": messages.get(phase.status, phase.status),
        }
        if details.get(phase.status):
            entry["detail"] = details[phase.status]
        logs.append(entry)
    return logs


def status_details(state: State, job: CustomizationJob, at: float | None = None) -> dict[str, Any]:
    """The status at `at` simulated seconds after creation (default: now)."""
    sim = state.clock.sim_since(job.created) if at is None else at
    timeline = job.timeline()
    phase = timeline.at(sim)
    steps = job.steps_at(sim)
    epochs_done = steps // job.steps_per_epoch
    step_s = step_seconds(model_size_b(job.base_model))
    end = phase.start if phase.status in TERMINAL else sim
    train_points = [s for s in range(job.log_every, steps + 1, job.log_every)]
    if steps and (not train_points or train_points[-1] != steps) and phase.status in TERMINAL:
        train_points.append(steps)
    val_points = [(e, e * job.steps_per_epoch) for e in range(1, epochs_done + 1)]

    def stamp(step: int) -> str:
        return iso(state.clock.real_at(job.created, job.train_start + step * step_s))

    train_series: list[dict[str, Any]] = [
        {"step": s, "value": _train_loss(state, job, s), "timestamp": stamp(s)} for s in train_points
    ]
    val_series: list[dict[str, Any]] = [
        {"step": s, "value": round(_train_loss(state, job, s) * 1.08 + 0.02, 4), "timestamp": stamp(s), "epoch": e}
        for e, s in val_points
    ]
    best = min(val_series, key=lambda v: v["value"]) if val_series else None
    last_change = max(phase.start, job.train_start + steps * step_s) if steps else phase.start
    return {
        "status": phase.status,
        "created_at": iso(job.created),
        "updated_at": iso(state.clock.real_at(job.created, last_change)),
        "elapsed_time": round(end, 1),
        "percentage_done": round(100.0 * steps / job.total_steps, 2),
        "epochs_completed": epochs_done,
        "steps_completed": steps,
        "steps_per_epoch": job.steps_per_epoch,
        "best_epoch": best["epoch"] if best else None,
        "train_loss": _train_loss(state, job, steps) if steps else None,
        "val_loss": best["value"] if best else None,
        "metrics": {
            "keys": ["train_loss", "val_loss"],
            "metrics": {
                "train_loss": train_series,
                "val_loss": [{k: v[k] for k in ("step", "value", "timestamp")} for v in val_series],
            },
        },
        "status_logs": _status_logs(state, job, timeline, sim),
    }


def job_view(state: State, job: CustomizationJob, at: float | None = None) -> dict[str, Any]:
    details = status_details(state, job, at)
    return dict(job.doc, status=details["status"], status_details=details, updated_at=details["updated_at"])


def completed_at(state: State, job: CustomizationJob) -> float | None:
    """Real time the job completed, or None if it has not (or never will)."""
    timeline = job.timeline()
    start = timeline.start_of("completed")
    if start is None or state.clock.sim_since(job.created) < start:
        return None
    return state.clock.real_at(job.created, start)


def adapter_ready(state: State, job: CustomizationJob) -> bool:
    done = completed_at(state, job)
    return done is not None and state.clock.now() >= state.clock.real_at(done, ADAPTER_SYNC_S)


def artifact_status(state: State, job: CustomizationJob | None) -> str:
    if job is None:
        return "upload_failed"
    status = job.timeline().at(state.clock.sim_since(job.created)).status
    return {"completed": "upload_completed", "failed": "upload_failed", "cancelled": "upload_failed"}.get(
        status, "created"
    )


# --- create -------------------------------------------------------------------------------------------------------


def _check_hyperparameters(c: Checker, hp: dict[str, Any]) -> None:
    loc = ("body", "hyperparameters")
    c.enum(hp, "finetuning_type", (*loc, "finetuning_type"), FINETUNING_TYPES, required=True)
    c.enum(hp, "training_type", (*loc, "training_type"), TRAINING_TYPES)
    for key in ("epochs", "batch_size", "log_every_n_steps", "max_steps", "warmup_steps"):
        c.integer(hp, key, (*loc, key), minimum=1 if key != "warmup_steps" else 0)
    c.integer(hp, "seed", (*loc, "seed"))
    c.number(hp, "learning_rate", (*loc, "learning_rate"), minimum=0.0, exclusive_minimum=True)
    c.number(hp, "weight_decay", (*loc, "weight_decay"), minimum=0.0)
    c.boolean(hp, "sequence_packing_enabled", (*loc, "sequence_packing_enabled"))
    lora = c.mapping(hp, "lora", (*loc, "lora"))
    if lora is not None:
        c.integer(lora, "adapter_dim", (*loc, "lora", "adapter_dim"), minimum=1)
        c.number(lora, "adapter_dropout", (*loc, "lora", "adapter_dropout"), minimum=0.0, maximum=1.0)
        c.integer(lora, "alpha", (*loc, "lora", "alpha"), minimum=1)
        c.listing(lora, "target_modules", (*loc, "lora", "target_modules"))
    sft = c.mapping(hp, "sft", (*loc, "sft"))
    if sft is not None:
        for key in ("hidden_dropout", "attention_dropout"):
            c.number(sft, key, (*loc, "sft", key), minimum=0.0, maximum=1.0)


def _resolve_config(state: State, ref: str | dict[str, Any]) -> tuple[str | dict[str, Any], str]:
    """(config as echoed in the job, base model)."""
    if isinstance(ref, dict):
        c = Checker()
        c.integer(ref, "max_seq_length", ("body", "config", "max_seq_length"), required=True, minimum=1)
        options = c.listing(ref, "training_options", ("body", "config", "training_options"), required=True)
        if options is not None:
            check_training_options(c, options, ("body", "config", "training_options"))
        target = c.mapping(ref, "target", ("body", "config", "target"), required=True)
        if target is not None:
            c.string(target, "base_model", ("body", "config", "target", "base_model"), required=True)
        c.done()
        assert target is not None
        return ref, target["base_model"]
    doc = config_by_ref(state, ref)
    if doc is None:
        raise not_found(f"Customization config '{ref}'")
    base_model = config_base_model(state, doc)
    if base_model is None:
        raise ApiError(422, f"Customization config '{ref}' has no target with a base_model")
    return ref, base_model


def _config_doc(state: State, config: str | dict[str, Any]) -> dict[str, Any]:
    return config if isinstance(config, dict) else config_by_ref(state, config) or {}


def _resolve_dataset(state: State, ref: str | dict[str, Any]) -> tuple[str, str]:
    """(dataset as echoed in the job, files_url)."""
    if isinstance(ref, dict) and isinstance(ref.get("files_url"), str) and not ref.get("name"):
        return ref["files_url"], ref["files_url"]
    if isinstance(ref, dict):
        name, namespace = ref.get("name"), ref.get("namespace") or "default"
        if not isinstance(name, str) or not name:
            c = Checker()
            c.fail("missing", ("body", "dataset", "name"), "Field required", ref)
            c.done()
        key = (str(namespace), str(name))
    else:
        key = split_ref(ref) or ("default", ref)
    doc = lookup(state.datasets, key, f"Dataset '{key[0]}/{key[1]}'")
    return f"{key[0]}/{key[1]}", str(doc.get("files_url") or "")


def create_job(state: State, req: Request) -> Response:
    body = req.json_object()
    c = Checker()
    check_common(c, body)
    config_ref = c.str_or_mapping(body, "config", ("body", "config"), required=True)
    dataset_ref = c.str_or_mapping(body, "dataset", ("body", "dataset"), required=True)
    hp = c.mapping(body, "hyperparameters", ("body", "hyperparameters"), required=True)
    output_model = c.string(body, "output_model", ("body", "output_model"))
    if hp is not None:
        _check_hyperparameters(c, hp)
    if output_model is not None and split_ref(output_model) is None:
        c.value_error(
            ("body", "output_model"), "output_model must be 'namespace/name' or 'namespace/name@version'", output_model
        )
    c.done()
    assert config_ref is not None and dataset_ref is not None and hp is not None
    hyper = dict(hp)
    hyper.setdefault("training_type", "sft")
    hyper.setdefault("epochs", 1)
    hyper.setdefault("batch_size", 8)
    hyper.setdefault("learning_rate", 0.0001)
    hyper.setdefault("log_every_n_steps", 10)
    if hyper["finetuning_type"] == "lora":
        hyper["lora"] = {"adapter_dim": 8, "adapter_dropout": 0.0, "alpha": 16, **(hyper.get("lora") or {})}
    with state.lock:
        config, base_model = _resolve_config(state, config_ref)
        config_doc = _config_doc(state, config)
        options = [o for o in config_doc.get("training_options") or [] if isinstance(o, dict)]
        if not any(
            o.get("training_type") == hyper["training_type"] and o.get("finetuning_type") == hyper["finetuning_type"]
            for o in options
        ):
            c.value_error(
                ("body", "hyperparameters"),
                f"the config offers no training option with training_type={hyper['training_type']!r} "
                f"and finetuning_type={hyper['finetuning_type']!r}",
                hp,
            )
            c.done()
        dataset, files_url = _resolve_dataset(state, dataset_ref)
    parsed = datastore.parse_files_url(files_url)
    files = datastore.repo_files(state, parsed[0], parsed[1]) if parsed else None
    data = read_training_data(files, dataset)
    job_id = new_id("cust")
    namespace = body.get("namespace") or "default"
    with state.lock:
        output = None
        if output_model is not None:
            output = output_model if "@" in output_model else f"{output_model}@{job_id}"
            model_key = split_ref(output)
            assert model_key is not None
            if model_key in state.models:
                raise conflict(f"Model '{output}'")
            state.models[model_key] = state.stamp(
                {
                    "id": new_id("model"),
                    "name": model_key[1],
                    "namespace": model_key[0],
                    "base_model": base_model,
                    "peft": {"finetuning_type": hyper["finetuning_type"]},
                    "artifact": {"files_url": f"hf://models/{output}", "status": "created", "precision": "bf16-mixed"},
                    "spec": {"is_chat": True},
                    "project": body.get("project"),
                    "custom_fields": {},
                    "description": f"Customized {base_model} (job {job_id})",
                }
            )
            state.model_jobs[model_key] = job_id
        option = next(o for o in options if o.get("finetuning_type") == hyper["finetuning_type"])
        doc = {
            "id": job_id,
            "name": body.get("name") or job_id,
            "namespace": namespace,
            "description": body.get("description"),
            "project": body.get("project"),
            "custom_fields": body.get("custom_fields") or {},
            "ownership": body.get("ownership"),
            "config": config,
            "config_snapshot": {
                "base_model": base_model,
                "max_seq_length": config_doc.get("max_seq_length"),
                "precision": "bf16-mixed",
                "training_option": option,
                "prompt_template": "{prompt} {completion}",
            },
            "dataset": dataset,
            "hyperparameters": hyper,
            "output_model": output,
            "dataset_parameters": body.get("dataset_parameters"),
            "integrations": body.get("integrations"),
            "warnings": None,
            "created_at": iso(state.clock.now()),
        }
        job = CustomizationJob(
            id=job_id,
            doc=doc,
            created=state.clock.now(),
            base_model=base_model,
            output_model=output,
            epochs=int(hyper["epochs"]),
            batch_size=int(hyper["batch_size"]),
            log_every=int(hyper["log_every_n_steps"]),
            train_records=data.train_records,
            val_records=data.val_records,
            failure=data.failure,
        )
        state.cust_jobs[job_id] = job
        # The create answer describes the job as created, however long the request took to return.
        return Response(200, job_view(state, job, at=0.0), created=("customization", job_id))


# --- read, cancel -------------------------------------------------------------------------------------------------


def _job(state: State, req: Request) -> CustomizationJob:
    return lookup(state.cust_jobs, req.params["job_id"], f"Customization job '{req.params['job_id']}'")


def get_job(state: State, req: Request) -> Response:
    with state.lock:
        return Response(200, job_view(state, _job(state, req)))


def get_status(state: State, req: Request) -> Response:
    with state.lock:
        return Response(200, status_details(state, _job(state, req)))


def list_jobs(state: State, req: Request) -> Response:
    def hp(field: str) -> Any:
        return lambda d: d["hyperparameters"].get(field)

    getters = {
        "base_model": lambda d: d["config_snapshot"]["base_model"],
        "finetuning_type": hp("finetuning_type"),
        "training_type": hp("training_type"),
        "epochs": hp("epochs"),
        "batch_size": hp("batch_size"),
        "log_every_n_steps": hp("log_every_n_steps"),
    }
    with state.lock:
        items = [job_view(state, j) for j in state.cust_jobs.values()]
    return Response(200, paginate(items, req, getters))


def cancel_job(state: State, req: Request) -> Response:
    with state.lock:
        job = _job(state, req)
        sim = state.clock.sim_since(job.created)
        status = job.timeline().at(sim).status
        if status in TERMINAL or status == "cancelling":
            raise ApiError(409, f"Customization job '{job.id}' is {status} and cannot be cancelled")
        job.cancelled_at = sim
        return Response(200, job_view(state, job))


def container_logs(state: State, req: Request) -> Response:
    with state.lock:
        job = _job(state, req)
        details = status_details(state, job)
    events = [
        {"message": log["message"], "detail": log.get("detail"), "timestamp": log["updated_at"]}
        for log in details["status_logs"]
    ]
    return Response(
        200,
        {
            "entries": {f"{job.id}-trainer": {"events": events, "logs": {}, "status": {"phase": details["status"]}}},
            "error": None,
        },
    )


ROUTES: list[Route] = [
    ("POST", "/v1/customization/jobs", create_job),
    ("GET", "/v1/customization/jobs", list_jobs),
    ("GET", "/v1/customization/jobs/{job_id}", get_job),
    ("GET", "/v1/customization/jobs/{job_id}/status", get_status),
    ("POST", "/v1/customization/jobs/{job_id}/cancel", cancel_job),
    ("GET", "/v1/customization/jobs/{job_id}/container-logs", container_logs),
]
