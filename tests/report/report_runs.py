"""A stored run to report on, written through the Store methods the pipeline uses.

Two NIMs × three experiments on a tool-calling workload, simulated. The 1B's customization failed (so its
customized experiment never ran); the 8B completed everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flywheel_cli.config import Settings
from flywheel_cli.state import Store

NIM_1B = "meta/llama-3.2-1b-instruct"
NIM_8B = "meta/llama-3.1-8b-instruct"
METRICS = ("function_name_accuracy", "function_name_and_args_accuracy", "tool_calling_correctness")
T0 = 1_780_000_000.0
OOM = "customization job cust-1 failed:\n  CUDA out of memory"


def samples(ones: int, zeros: int, failed: int = 0) -> list[float | None]:
    """A per-sample vector: `ones` passes, `zeros` misses, `failed` unrated (None), interleaved deterministically."""
    values: list[float | None] = [1.0] * ones + [0.0] * zeros + [None] * failed
    # A fixed shuffle-free interleave keeps the vector readable in failure messages and stable across runs.
    return values[::2] + values[1::2]


# (nim, experiment) → {metric: (normalised, samples)}; function_name_accuracy is the headline metric.
SCORES: dict[tuple[str, str], dict[str, tuple[float, list[float | None]]]] = {
    (NIM_1B, "base"): {
        "function_name_accuracy": (0.62, samples(31, 19)),
        "function_name_and_args_accuracy": (0.1, samples(5, 45)),
        "tool_calling_correctness": (0.3, samples(15, 33, 2)),
    },
    (NIM_1B, "icl"): {
        "function_name_accuracy": (0.8, samples(40, 10)),
        "function_name_and_args_accuracy": (0.2, samples(10, 40)),
        "tool_calling_correctness": (0.5, samples(25, 25)),
    },
    (NIM_8B, "base"): {
        "function_name_accuracy": (0.9, samples(45, 5)),
        "function_name_and_args_accuracy": (0.4, samples(20, 30)),
        "tool_calling_correctness": (0.7, samples(35, 15)),
    },
    (NIM_8B, "icl"): {
        "function_name_accuracy": (0.92, samples(46, 4)),
        "function_name_and_args_accuracy": (0.44, samples(22, 28)),
        "tool_calling_correctness": (0.76, samples(38, 12)),
    },
    (NIM_8B, "customized"): {
        "function_name_accuracy": (0.97, samples(97, 3)),
        "function_name_and_args_accuracy": (0.6, samples(60, 40)),
        "tool_calling_correctness": (0.88, samples(86, 10, 4)),
    },
}


def settings(**report: object) -> Settings:
    """Built-in defaults with these [report] keys."""
    return Settings(report=report)


@dataclass
class StoredRun:
    run_id: str
    jobs: dict[tuple[str, str], int] = field(default_factory=dict)  # (nim, stage) → jobs.id


def _eval(store: Store, run_id: str, nim: str, kind: str, target: str, start: float, runtime: float, simulated: bool) -> int:
    job = store.create_job(
        kind="evaluation", key=f"eval:{run_id}:{nim}:{kind}", name=f"eval-{kind}", platform="nmp",
        endpoint="http://127.0.0.1:9", workload_id="tool_router", nim=nim, eval_type=kind, target_model=target,
        run_id=run_id, simulated=simulated,
    )
    store.update_job(job.id, status="completed", remote_id=f"eval-{job.id}", finished_at=start + runtime)
    scores = SCORES[(nim, kind)]
    store.save_scores(
        job.id,
        [
            {"metric": m, "raw": v, "normalised": v, "count": len(s), "failed": sum(x is None for x in s)}
            for m, (v, s) in scores.items()
        ],
        {m: s for m, (_, s) in scores.items()},
    )
    store.upsert_step(run_id, nim, kind, status="completed", job_id=job.id, started_at=start, finished_at=start + runtime)
    return job.id


def store_run(store: Store, *, simulated: bool = True, dataset_id: str | None = "ds-0123456789ab",
              options: dict | None = None) -> StoredRun:
    run = store.create_run(
        workload_id="tool_router", client_id=None, platform="nmp", endpoint="http://127.0.0.1:9", simulated=simulated,
        nims=[NIM_1B, NIM_8B], options={"workload_type": "tool_calling", **(options or {})},
    )
    stored = StoredRun(run.id)
    store.update_run(run.id, dataset_id=dataset_id, created_at=T0)
    for stage in ("datasets", "upload"):
        store.upsert_step(run.id, "", stage, status="completed", started_at=T0, finished_at=T0 + 5)

    # 1B: deployed, base and icl evaluated, customization failed, so the customized eval was skipped.
    store.upsert_step(run.id, NIM_1B, "deploy", status="completed", started_at=T0 + 10, finished_at=T0 + 70)
    stored.jobs[(NIM_1B, "base")] = _eval(store, run.id, NIM_1B, "base", NIM_1B, T0 + 100, 426.6, simulated)
    stored.jobs[(NIM_1B, "icl")] = _eval(store, run.id, NIM_1B, "icl", NIM_1B, T0 + 600, 95.0, simulated)
    cust = store.create_job(
        kind="customization", key=f"cust:{run.id}:1b", name="cust-1b", platform="nmp", endpoint="http://127.0.0.1:9",
        nim=NIM_1B, run_id=run.id, simulated=simulated,
    )
    store.update_job(cust.id, status="failed", error=OOM, finished_at=T0 + 900)
    stored.jobs[(NIM_1B, "customize")] = cust.id
    store.upsert_step(run.id, NIM_1B, "customize", status="failed", job_id=cust.id, error=OOM,
                      detail={"epochs_completed": 0, "steps_completed": 3}, started_at=T0 + 700, finished_at=T0 + 900)
    store.upsert_step(run.id, NIM_1B, "customized", status="skipped", detail={"reason": "the customization failed"})
    store.upsert_step(run.id, NIM_1B, "teardown", status="completed", started_at=T0 + 901, finished_at=T0 + 905)

    # 8B: everything completed.
    store.upsert_step(run.id, NIM_8B, "deploy", status="completed", started_at=T0 + 1000, finished_at=T0 + 1100)
    stored.jobs[(NIM_8B, "base")] = _eval(store, run.id, NIM_8B, "base", NIM_8B, T0 + 1100, 3725.0, simulated)
    stored.jobs[(NIM_8B, "icl")] = _eval(store, run.id, NIM_8B, "icl", NIM_8B, T0 + 1200, 42.4, simulated)
    cust8 = store.create_job(
        kind="customization", key=f"cust:{run.id}:8b", name="cust-8b", platform="nmp", endpoint="http://127.0.0.1:9",
        nim=NIM_8B, run_id=run.id, simulated=simulated,
    )
    adapter = "flywheel/customized-meta-llama-3.1-8b-instruct@cust-8b"
    store.update_job(cust8.id, status="completed", output_model=adapter, finished_at=T0 + 2000)
    stored.jobs[(NIM_8B, "customize")] = cust8.id
    store.upsert_step(run.id, NIM_8B, "customize", status="completed", job_id=cust8.id,
                      detail={"epochs_completed": 2, "steps_completed": 46, "train_loss": 0.4132, "val_loss": 0.5208},
                      started_at=T0 + 1300, finished_at=T0 + 2000)
    stored.jobs[(NIM_8B, "customized")] = _eval(store, run.id, NIM_8B, "customized", adapter, T0 + 2010, 61.0, simulated)
    store.upsert_step(run.id, NIM_8B, "teardown", status="completed", started_at=T0 + 2100, finished_at=T0 + 2110)
    store.update_run(run.id, status="partial", finished_at=T0 + 2110)
    return stored
