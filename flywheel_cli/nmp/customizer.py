"""Customizer (`{nemo_url}/v1/customization/...`): configs and LoRA/SFT jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flywheel_cli.config import CustomizationConfig, TrainingConfig
from flywheel_cli.nmp.http import ServiceClient, create_once
from flywheel_cli.nmp.statuses import as_dict, customization_status
from flywheel_cli.platforms.base import JobStatus


@dataclass(frozen=True)
class CustomizationConfigInfo:
    name: str  # includes the version, e.g. "llama-3.2-1b-instruct@v1.0.0+80GB"
    namespace: str
    target: str | None  # "ns/name@version" of the target, when known
    base_model: str | None
    training_options: tuple[tuple[str, str], ...]  # (training_type, finetuning_type)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @classmethod
    def parse(cls, body: dict[str, Any]) -> CustomizationConfigInfo:
        target = body.get("target")
        target_ref: str | None = None
        base_model: str | None = None
        if isinstance(target, str):
            target_ref = target
        elif isinstance(target, dict):
            name, namespace = target.get("name"), target.get("namespace")
            if isinstance(name, str):
                target_ref = f"{namespace}/{name}" if isinstance(namespace, str) and namespace else name
            if isinstance(target.get("base_model"), str):
                base_model = target["base_model"]
        options = tuple(
            (str(o.get("training_type", "")).lower(), str(o.get("finetuning_type", "")).lower())
            for o in body.get("training_options") or []
            if isinstance(o, dict)
        )
        return cls(
            name=str(body.get("name") or ""),
            namespace=str(body.get("namespace") or ""),
            target=target_ref,
            base_model=base_model,
            training_options=options,
        )

    def offers(self, training_type: str, finetuning_type: str) -> bool:
        # A config that lists no options says nothing against them.
        return not self.training_options or (training_type.lower(), finetuning_type.lower()) in self.training_options


@dataclass(frozen=True)
class CustomizationJobInfo:
    id: str
    name: str
    output_model: str
    config: str | None  # "ns/name@version"; 25.4 answered an embedded object, reduced here to its name
    status: JobStatus
    custom_fields: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: dict[str, Any]) -> CustomizationJobInfo:
        config = body.get("config")
        if isinstance(config, dict):
            name, namespace = config.get("name"), config.get("namespace")
            config = f"{namespace}/{name}" if namespace and name else (name or config.get("base_model"))
        return cls(
            id=str(body.get("id") or ""),
            name=str(body.get("name") or ""),
            output_model=str(body.get("output_model") or ""),
            config=config if isinstance(config, str) else None,
            status=customization_status(body),
            custom_fields=as_dict(body.get("custom_fields")),
        )


def config_name(model_name: str) -> str:
    """The name of the config flywheel creates when the platform has none for a model."""
    return f"{model_name.split('/', 1)[-1]}@v1.0.0+flywheel"


def config_body(
    *, name: str, namespace: str, target: str, options: CustomizationConfig, training: TrainingConfig
) -> dict[str, Any]:
    """A customization config for `target` offering exactly the training option flywheel uses (blueprint §4.3)."""
    return {
        "name": name,
        "namespace": namespace,
        "target": target,
        "training_options": [
            {
                "training_type": training.training_type,
                "finetuning_type": training.finetuning_type,
                "num_gpus": options.gpus,
                "num_nodes": options.num_nodes,
                "tensor_parallel_size": options.tensor_parallel_size,
                "data_parallel_size": options.data_parallel_size,
                "use_sequence_parallel": options.use_sequence_parallel,
                "micro_batch_size": options.micro_batch_size,
            }
        ],
        "training_precision": options.training_precision,
        "max_seq_length": options.max_seq_length,
    }


def job_body(
    *, name: str, namespace: str, config: str, dataset: str, output_model_name: str, training: TrainingConfig
) -> dict[str, Any]:
    """A customization job body (blueprint §4.3): `config` is "ns/name@version", `dataset` a name in `namespace`."""
    lora: dict[str, Any] = {"adapter_dim": training.adapter_dim, "adapter_dropout": training.adapter_dropout}
    if training.alpha is not None:
        lora["alpha"] = training.alpha
    return {
        "name": name,
        "output_model": f"{namespace}/{output_model_name}",
        "config": config,
        "dataset": {"name": dataset, "namespace": namespace},
        "hyperparameters": {
            "training_type": training.training_type,
            "finetuning_type": training.finetuning_type,
            "epochs": training.epochs,
            "batch_size": training.batch_size,
            "learning_rate": training.learning_rate,
            "lora": lora,
        },
    }


class CustomizerClient:
    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    # --- configs ------------------------------------------------------------------------------------------------------

    def list_configs(self, *, target_base_model: str | None = None) -> list[CustomizationConfigInfo]:
        params = {"filter[target_base_model]": target_base_model} if target_base_model else None
        configs = self.http.paginate("/v1/customization/configs", params=params)
        return [CustomizationConfigInfo.parse(c) for c in configs]

    def create_config(self, body: dict[str, Any]) -> None:
        """Create a config; one that already exists (409) is fine."""
        self.http.post("/v1/customization/configs", body, idempotent=True, accept=(409,))

    # --- jobs ---------------------------------------------------------------------------------------------------------

    def create_job(self, body: dict[str, Any]) -> CustomizationJobInfo:
        """Start a job. Never starts two: after an ambiguous failure the job is looked up by name first."""
        name = body.get("name")

        def post() -> CustomizationJobInfo:
            return CustomizationJobInfo.parse(self.http.post("/v1/customization/jobs", body, idempotent=False))

        def find() -> CustomizationJobInfo | None:
            return self.find_job(name) if isinstance(name, str) and name else None

        return create_once(post, find)

    def get_job(self, job_id: str) -> CustomizationJobInfo:
        return CustomizationJobInfo.parse(self.http.get(f"/v1/customization/jobs/{job_id}"))

    def job_status(self, job_id: str) -> JobStatus:
        return customization_status(self.http.get(f"/v1/customization/jobs/{job_id}/status"))

    def cancel_job(self, job_id: str) -> None:
        self.http.post(f"/v1/customization/jobs/{job_id}/cancel", None, idempotent=True)

    def list_jobs(self, **filters: str) -> list[CustomizationJobInfo]:
        params = {"sort": "-created_at", **{f"filter[{k}]": v for k, v in filters.items()}}
        return [CustomizationJobInfo.parse(j) for j in self.http.paginate("/v1/customization/jobs", params=params)]

    def find_job(self, name: str) -> CustomizationJobInfo | None:
        """The newest job called `name` (jobs have no name filter, so the list is matched here)."""
        for job in self.list_jobs():
            if job.name == name:
                return job
        return None
