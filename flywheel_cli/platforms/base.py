"""What the steps need from a platform, in neutral words.

Everything platform-specific (NMP namespaces, `hf://` URLs, v1 status strings, customization config names, eval
config payloads) lives in an implementation of `Platform`. Steps, commands and state tables only see the types here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

from flywheel_cli.config import JudgeConfig, NimConfig, TrainingConfig


class JobState(StrEnum):
    PENDING = "pending"  # accepted, not yet running (created, pending, waiting for GPUs)
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"  # includes "cancelling"
    UNKNOWN = "unknown"  # a status string we do not know: keep polling, never crash

    @property
    def terminal(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)


class DeploymentState(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"
    DELETED = "deleted"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class JobStatus:
    state: JobState
    raw_status: str  # what the server said, lower-cased
    progress: float | None = None  # 0–100
    detail: str | None = None  # failure reason (e.g. status_logs[-1].detail)
    epochs_completed: int | None = None
    steps_completed: int | None = None
    train_loss: float | None = None
    val_loss: float | None = None
    samples_processed: int | None = None


@dataclass(frozen=True)
class DeploymentStatus:
    state: DeploymentState
    raw_status: str
    detail: str | None = None


@dataclass(frozen=True)
class DatasetRef:
    """A dataset the platform can read. `uri` is what jobs point at (e.g. hf://datasets/ns/name)."""

    kind: Literal["eval", "icl", "train"]
    name: str
    uri: str


@dataclass(frozen=True)
class CustomizationRequest:
    name: str  # unique per (workload, nim, dataset): the lookup key that makes creates idempotent
    nim: NimConfig
    dataset: DatasetRef
    training: TrainingConfig
    output_model_name: str  # requested name; the platform's answer (CustomizationJob.output_model) is authoritative


@dataclass(frozen=True)
class CustomizationJob:
    id: str
    name: str
    output_model: str  # the served model id, exactly as the platform returned it
    status: JobStatus


@dataclass(frozen=True)
class EvaluationRequest:
    name: str  # unique per (workload, nim, eval type, dataset, target): the lookup key
    workload_type: Literal["tool_calling", "generic"]
    target_model: str
    dataset: DatasetRef
    judge: JudgeConfig
    limit: int
    labels: dict[str, str] = field(default_factory=dict)  # stored with the job so cleanup can find it


@dataclass(frozen=True)
class EvaluationJob:
    id: str
    name: str
    status: JobStatus


@dataclass(frozen=True)
class Score:
    metric: str  # neutral name: function_name_accuracy, function_name_and_args_accuracy, tool_calling_correctness, similarity
    raw: float  # as the platform reported it (similarity is 1–10)
    normalised: float  # in [0, 1]
    count: int | None  # samples scored
    failed: int = 0  # samples with no parseable rating


@dataclass(frozen=True)
class EvaluationResults:
    scores: dict[str, Score]
    # Per-sample values by metric (normalised to [0, 1]; None = sample failed). Empty when not offered.
    samples: dict[str, list[float | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteResource:
    kind: Literal["deployment", "customization", "evaluation", "dataset", "model"]
    id: str
    name: str
    status: str
    labels: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Platform(Protocol):
    """One platform generation (NMP 25.x today). All methods raise flywheel_cli.errors.RemoteError on failure."""

    kind: str  # "nmp" or "helix"
    simulated: bool  # True when the models evaluated are the bundled sandbox's: every score is simulated
    capabilities: frozenset[str]  # of "evaluate", "customize", "deploy": what this platform can run here

    def close(self) -> None: ...

    # scopes and data
    def ensure_scope(self) -> None: ...
    def upload_dataset(self, kind: Literal["eval", "icl", "train"], name: str, files: dict[str, bytes]) -> DatasetRef: ...
    def delete_dataset(self, name: str) -> None: ...

    # deployments
    def get_deployment(self, nim: NimConfig) -> DeploymentStatus | None: ...
    def deploy(self, nim: NimConfig) -> DeploymentStatus: ...
    def undeploy(self, nim: NimConfig) -> None: ...
    def served_models(self) -> set[str]: ...

    # customization
    def find_customization(self, name: str) -> CustomizationJob | None: ...
    def start_customization(self, request: CustomizationRequest) -> CustomizationJob: ...
    def get_customization(self, job_id: str) -> CustomizationJob: ...
    def cancel_customization(self, job_id: str) -> None: ...

    # evaluation
    def find_evaluation(self, name: str) -> EvaluationJob | None: ...
    def start_evaluation(self, request: EvaluationRequest) -> EvaluationJob: ...
    def get_evaluation(self, job_id: str) -> EvaluationJob: ...
    def evaluation_results(self, job_id: str) -> EvaluationResults: ...
    def cancel_evaluation(self, job_id: str) -> None: ...

    # inference
    def chat(self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> dict[str, Any]: ...

    # housekeeping
    def list_resources(self) -> list[RemoteResource]: ...
    def delete_resource(self, resource: RemoteResource) -> None: ...
