"""`flywheel run --dry-run`: what a run would do and hold, computed locally; nothing remote is touched.

GPU-hours come from the config: each NIM's deployment holds `gpus` for its deploy + evaluation time, and its LoRA
job holds `customization.gpus` for training. Durations are typical figures from NVIDIA's published runs of the
reference blueprint (deploy ≈ 10 min; an evaluation ≈ 8 min per 100 samples; LoRA ≈ 10 min per 1,000 training
records per epoch); the upper bound is the configured timeouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flywheel_cli.config import NimConfig, Settings
from flywheel_cli.state.store import Store

DEPLOY_MIN = 10.0
EVAL_MIN_PER_100 = 8.0
LORA_MIN_PER_1000_PER_EPOCH = 10.0


@dataclass
class Plan:
    workload_id: str
    client_id: str | None
    workload_type: str
    stages: list[dict[str, Any]]
    splits: dict[str, int]
    nims: list[dict[str, Any]] = field(default_factory=list)
    gpu_hours_typical: float = 0.0
    gpu_hours_upper_bound: float = 0.0
    logs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "workload_id": self.workload_id,
            "client_id": self.client_id,
            "workload_type": self.workload_type,
            "logs": self.logs,
            "curation": self.stages,
            "splits": self.splits,
            "nims": self.nims,
            "gpu_hours": {"typical": round(self.gpu_hours_typical, 2), "upper_bound": round(self.gpu_hours_upper_bound, 2)},
        }


def _nim_plan(nim: NimConfig, settings: Settings, evals: int, train: int) -> tuple[dict[str, Any], float, float]:
    t = settings.timeouts
    eval_minutes = EVAL_MIN_PER_100 * max(evals, 1) / 100
    jobs = [
        {"job": "deployment", "name": nim.deployment_name, "image": f"{nim.image}:{nim.tag}", "gpus": nim.gpus},
        {"job": "evaluation", "type": "base", "samples": evals},
        {"job": "evaluation", "type": "icl", "samples": evals},
    ]
    lora_minutes = 0.0
    if nim.customization.enabled:
        epochs = settings.training.epochs
        lora_minutes = LORA_MIN_PER_1000_PER_EPOCH * max(train, 1) / 1000 * epochs
        jobs.append({"job": "customization", "target": nim.customization.target, "config": nim.customization.config,
                     "gpus": nim.customization.gpus, "epochs": epochs, "train_records": train})
        jobs.append({"job": "evaluation", "type": "customized", "samples": evals})
    # Evaluations run in parallel with the LoRA job, so the deployment is held for the longer of the two paths.
    held_minutes = DEPLOY_MIN + max(eval_minutes, lora_minutes + eval_minutes)
    typical = (nim.gpus * held_minutes + nim.customization.gpus * lora_minutes * nim.customization.enabled) / 60
    upper_held = (t.deploy + t.served + (t.job_total * 2 if nim.customization.enabled else t.job_total)) / 3600
    upper = nim.gpus * upper_held + (nim.customization.gpus * t.job_total / 3600 if nim.customization.enabled else 0)
    entry = {
        "model": nim.model_name,
        "jobs": jobs,
        "gpu_hours_typical": round(typical, 2),
        "gpu_hours_upper_bound": round(upper, 2),
    }
    return entry, typical, upper


def make_plan(store: Store, settings: Settings, workload_id: str, client_id: str | None, nims: list[NimConfig],
              logs: list[str]) -> Plan:
    """Curate and split in memory (nothing is written) and list every job the run would start."""
    from flywheel_cli.datasets.curate import curate, require_enough
    from flywheel_cli.datasets.split import split

    cfg = settings.split
    curation = curate(store.iter_records(workload_id, client_id), cfg, client_id=client_id)
    require_enough(curation, cfg, workload_id, client_id)
    parts = split(curation.selected, eval_size=cfg.eval_size, val_ratio=cfg.val_ratio, seed=cfg.seed)
    splits = {"eval": len(parts.eval), "train": len(parts.train), "val": len(parts.val)}
    plan = Plan(
        workload_id=workload_id,
        client_id=client_id,
        workload_type=curation.workload_type,
        stages=[{"stage": s.name, "label": s.label, "kept": s.kept, "dropped": s.dropped} for s in curation.stages],
        splits=splits,
        logs=logs,
    )
    for nim in nims:
        entry, typical, upper = _nim_plan(nim, settings, splits["eval"], splits["train"])
        plan.nims.append(entry)
        plan.gpu_hours_typical += typical
        plan.gpu_hours_upper_bound += upper
    return plan
