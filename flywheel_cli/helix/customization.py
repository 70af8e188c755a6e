"""LoRA customization job bodies, in the two shapes Helix servers have had.

- `automodel` (OSS v0.2 → Helix): `POST /apis/customization/v2/workspaces/{ws}/automodel/jobs` with `spec.dataset`
  `{training: "ws/fileset"}` and nested `training`/`schedule`/`batch`/`optimizer`/`parallelism`/`output` sections.
- `legacy` (NeMo Platform 26.3): `POST /apis/customization/v2/workspaces/{ws}/jobs` with `spec.dataset`
  `"fileset://ws/name"` and flat hyperparameters under `training` with a `peft` block.

The output of a LoRA job is an adapter on the base model entity, named `output.name`.
"""

from __future__ import annotations

from typing import Any

from flywheel_cli.config import NimConfig, TrainingConfig
from flywheel_cli.helix.capabilities import CustomizationFlavour


def job_body(
    flavour: CustomizationFlavour,
    *,
    name: str,
    model: str,
    dataset: str,
    output_name: str,
    nim: NimConfig,
    training: TrainingConfig,
    project: str | None,
    custom_fields: dict[str, str],
) -> dict[str, Any]:
    """`model` and `dataset` are "workspace/name" references (a model entity, a fileset)."""
    options = nim.customization
    lora: dict[str, Any] = {"rank": training.adapter_dim, "dropout": training.adapter_dropout}
    if training.alpha is not None:
        lora["alpha"] = training.alpha
    if flavour == "automodel":
        spec: dict[str, Any] = {
            "model": model,
            "dataset": {"training": dataset},
            "training": {
                "training_type": training.training_type,
                "finetuning_type": training.finetuning_type,
                "lora": lora,
                "max_seq_length": options.max_seq_length,
            },
            "schedule": {"epochs": training.epochs},
            "batch": {"global_batch_size": training.batch_size, "micro_batch_size": options.micro_batch_size},
            "optimizer": {"learning_rate": training.learning_rate},
            "parallelism": {
                "num_nodes": options.num_nodes,
                "num_gpus_per_node": options.gpus,
                "tensor_parallel_size": options.tensor_parallel_size,
                "sequence_parallel": options.use_sequence_parallel,
            },
            "output": {"name": output_name},
        }
    else:
        spec = {
            "model": model,
            "dataset": f"fileset://{dataset}",
            "training": {
                "type": training.training_type,
                "peft": {"type": training.finetuning_type, **lora},
                "epochs": training.epochs,
                "batch_size": training.batch_size,
                "micro_batch_size": options.micro_batch_size,
                "learning_rate": training.learning_rate,
                "max_seq_length": options.max_seq_length,
                "parallelism": {"num_gpus_per_node": options.gpus, "num_nodes": options.num_nodes},
            },
            "output": {"name": output_name},
        }
    body: dict[str, Any] = {"name": name, "spec": spec, "custom_fields": custom_fields}
    if project:
        body["project"] = project
    return body
