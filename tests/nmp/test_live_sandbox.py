"""NmpPlatform against a live sandbox over real loopback HTTP: the whole NMP side of a run, and surviving faults."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from flywheel_cli.config import JudgeConfig, Settings
from flywheel_cli.errors import RemoteError
from flywheel_cli.platforms.base import (
    CustomizationRequest,
    DatasetRef,
    DeploymentState,
    EvaluationRequest,
    JobState,
)
from flywheel_cli.platforms.nmp import NmpPlatform
from flywheel_cli.sandbox import Sandbox
from flywheel_cli.wait import deployment_failure, job_done, job_failure, wait_for

T = TypeVar("T")

JUDGE = JudgeConfig(kind="local", model="meta/llama-3.3-70b-instruct")
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} tool",
            "parameters": {"type": "object", "properties": {key: {"type": "string"}}, "required": [key]},
        },
    }
    for name, key in (("get_weather", "city"), ("get_time", "tz"))
]
CITIES = ("Lyon", "Oslo", "Rome", "Lima", "Kyiv")


def tool_record(i: int) -> dict[str, Any]:
    city = CITIES[i % len(CITIES)]
    name, args = ("get_time", {"tz": f"Europe/{city}"}) if i % 3 == 0 else ("get_weather", {"city": city})
    messages = [
        {"role": "system", "content": "Route the request to one tool."},
        {"role": "user", "content": f"#{i}: what is the {'time' if name == 'get_time' else 'weather'} in {city}?"},
    ]
    call = {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": args}}
    return {
        "timestamp": 1_757_664_843 + i,
        "workload_id": "tool_router",
        "client_id": "web",
        "request": {"model": "meta/llama-3.3-70b-instruct", "messages": messages, "tools": TOOLS},
        "response": {
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                }
            ]
        },
    }


def text_record(i: int) -> dict[str, Any]:
    messages = [{"role": "user", "content": f"Summarise note #{i} in one sentence."}]
    answer = {"role": "assistant", "content": f"Note {i} asks for a short summary of item {i}."}
    return {
        "timestamp": 1_757_664_843 + i,
        "workload_id": "notes",
        "client_id": "web",
        "request": {"model": "meta/llama-3.3-70b-instruct", "messages": messages},
        "response": {"choices": [{"index": 0, "finish_reason": "stop", "message": answer}]},
    }


def training_row(record: dict[str, Any]) -> dict[str, Any]:
    answer = dict(record["response"]["choices"][0]["message"], content="")
    return {"messages": [*record["request"]["messages"], answer], "tools": record["request"]["tools"]}


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


EVAL_FILES = {"eval_data.jsonl": jsonl([tool_record(i) for i in range(20)])}
TRAIN_ROWS = [training_row(tool_record(i)) for i in range(20, 100)]
TRAIN_FILES = {
    "training/train_data.jsonl": jsonl(TRAIN_ROWS[:72]),
    "validation/val_data.jsonl": jsonl(TRAIN_ROWS[72:]),
}


def settings_for(sandbox: Sandbox, **overrides: Any) -> Settings:
    return Settings(
        nmp={"nemo_url": sandbox.url, "datastore_url": sandbox.url, "nim_url": sandbox.nim_url}, **overrides
    )


def poll(fetch: Callable[[], T], done: Callable[[T], bool], **kw: Any) -> T:
    """Wait in real time: the sandbox runs simulated hours in seconds."""
    return wait_for(fetch, done=done, interval=0.02, max_interval=0.1, timeout=30.0, **kw)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port=0, speed=1000, seed=42) as sb:
        yield sb


def test_a_tool_calling_workload_end_to_end(sandbox: Sandbox) -> None:
    settings = settings_for(sandbox, judge=JUDGE)
    nim = settings.nims[0]
    with NmpPlatform(settings) as platform:
        assert platform.simulated is True
        platform.ensure_scope()

        eval_ref = platform.upload_dataset("eval", "flywheel-eval-tool_router-1", EVAL_FILES)
        train_ref = platform.upload_dataset("train", "flywheel-train-tool_router-1", TRAIN_FILES)
        assert train_ref == DatasetRef(
            "train", "flywheel-train-tool_router-1", "hf://datasets/flywheel/flywheel-train-tool_router-1"
        )

        # Re-uploading the same content only reads.
        since = sandbox.request_log()[-1]["seq"]
        platform.upload_dataset("train", "flywheel-train-tool_router-1", TRAIN_FILES)
        reupload = [(e["method"], e["path"]) for e in sandbox.request_log(since)]
        assert all(method == "GET" for method, _ in reupload), reupload
        assert not any(path.endswith("/commit/main") for _, path in reupload)

        assert platform.get_deployment(nim) is None
        assert platform.deploy(nim).state is DeploymentState.PENDING
        ready = poll(
            lambda: platform.get_deployment(nim),
            lambda d: d is not None and d.state is DeploymentState.READY,
            failure=lambda d: deployment_failure(d) if d else None,
        )
        assert ready is not None and ready.raw_status == "ready"
        poll(platform.served_models, lambda models: nim.model_name in models)
        assert platform.deploy(nim).state is DeploymentState.READY  # idempotent: no second deployment

        request = CustomizationRequest(
            name="flywheel-cust-tool_router-llama-3.2-1b",
            nim=nim,
            dataset=train_ref,
            training=settings.training,
            output_model_name="llama-3.2-1b-tool_router",
        )
        started = platform.start_customization(request)
        assert started.output_model.startswith("flywheel/llama-3.2-1b-tool_router")
        assert platform.find_customization(request.name).id == started.id
        finished = poll(
            lambda: platform.get_customization(started.id),
            lambda j: job_done(j.status),
            failure=lambda j: job_failure(j.status),
            progress=lambda j: j.status.progress,
        )
        assert (finished.status.epochs_completed, finished.output_model) == (2, started.output_model)
        assert finished.status.steps_completed and finished.status.steps_completed > 0
        poll(platform.served_models, lambda models: finished.output_model in models)

        scores = {}
        for target in (nim.model_name, finished.output_model):
            eval_request = EvaluationRequest(
                name=f"flywheel-eval-tool_router-{target.replace('/', '-')}",
                workload_type="tool_calling",
                target_model=target,
                dataset=eval_ref,
                judge=settings.judge,
                limit=100,
                labels={"workload": "tool_router"},
            )
            job = platform.start_evaluation(eval_request)
            assert platform.find_evaluation(eval_request.name).id == job.id
            done = poll(
                lambda: platform.get_evaluation(job.id),
                lambda j: job_done(j.status),
                failure=lambda j: job_failure(j.status),
                progress=lambda j: j.status.progress,
            )
            assert done.status.state is JobState.COMPLETED
            results = platform.evaluation_results(job.id)
            assert sorted(results.scores) == [
                "function_name_accuracy",
                "function_name_and_args_accuracy",
                "tool_calling_correctness",
            ]
            for score in results.scores.values():
                assert score.count == 20 and 0.0 <= score.normalised <= 1.0
                assert len(results.samples[score.metric]) == 20
                assert score.raw == pytest.approx(sum(v for v in results.samples[score.metric] if v is not None) / 20)
            scores[target] = results.scores

        kinds = sorted((r.kind, r.name) for r in platform.list_resources())
        assert kinds == sorted(
            [
                ("deployment", "meta-llama-3.2-1b-instruct"),
                ("model", finished.output_model),
                ("evaluation", f"flywheel-eval-tool_router-{nim.model_name.replace('/', '-')}"),
                ("evaluation", f"flywheel-eval-tool_router-{finished.output_model.replace('/', '-')}"),
                ("dataset", "flywheel-eval-tool_router-1"),
                ("dataset", "flywheel-train-tool_router-1"),
            ]
        )
        for resource in platform.list_resources():
            platform.delete_resource(resource)
        assert platform.list_resources() == []


def test_a_generic_workload_is_judged_for_similarity(sandbox: Sandbox) -> None:
    settings = settings_for(sandbox, judge=JUDGE)
    nim = settings.nims[0]
    with NmpPlatform(settings) as platform:
        ref = platform.upload_dataset(
            "eval", "flywheel-eval-notes-1", {"eval_data.jsonl": jsonl([text_record(i) for i in range(12)])}
        )
        platform.deploy(nim)
        poll(platform.served_models, lambda models: nim.model_name in models)
        job = platform.start_evaluation(
            EvaluationRequest("flywheel-eval-notes-base", "generic", nim.model_name, ref, settings.judge, 100)
        )
        poll(
            lambda: platform.get_evaluation(job.id),
            lambda j: job_done(j.status),
            failure=lambda j: job_failure(j.status),
        )
        results = platform.evaluation_results(job.id)
    similarity = results.scores["similarity"]
    assert 1.0 <= similarity.raw <= 10.0
    assert similarity.normalised == pytest.approx((similarity.raw - 1) / 9)
    assert len(results.samples["similarity"]) == 12


def retry(action: Callable[[], T], attempts: int = 12) -> T:
    """What a resumed step does after a remote failure: run the same (find-first) action again."""
    for _ in range(attempts - 1):
        try:
            return action()
        except RemoteError:
            continue
    return action()


CREATES = ("/v1/deployment/model-deployments", "/v1/customization/jobs", "/v1/evaluation/jobs")


def run_with_faults(seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with Sandbox(port=0, speed=1000, seed=seed, fault_rate=0.3, fault_modes=("error", "drop")) as sandbox:
        settings = settings_for(sandbox, judge=JUDGE)
        nim = settings.nims[0]
        with NmpPlatform(settings, sleep=lambda _: None) as platform:
            retry(platform.ensure_scope)
            train = retry(lambda: platform.upload_dataset("train", "flywheel-train-faults", TRAIN_FILES))
            evals = retry(lambda: platform.upload_dataset("eval", "flywheel-eval-faults", EVAL_FILES))
            for _ in range(2):
                retry(lambda: platform.deploy(nim))
            request = CustomizationRequest("flywheel-cust-faults", nim, train, settings.training, "faults")
            for _ in range(2):
                retry(lambda: platform.find_customization(request.name) or platform.start_customization(request))
            eval_request = EvaluationRequest("flywheel-eval-faults", "tool_calling", nim.model_name, evals, JUDGE, 100)
            for _ in range(2):
                retry(lambda: platform.find_evaluation(eval_request.name) or platform.start_evaluation(eval_request))
        return sandbox.state_summary(), sandbox.request_log()


def test_faults_never_duplicate_gpu_work() -> None:
    applied_then_failed = 0
    for seed in range(6):
        state, log = run_with_faults(seed)
        assert (len(state["deployments"]), len(state["customization_jobs"]), len(state["evaluation_jobs"])) == (1, 1, 1)
        assert state["repos"] == ["flywheel/flywheel-eval-faults", "flywheel/flywheel-train-faults"]
        assert sum(1 for e in log if e["fault"]) >= 5  # each run really was disturbed
        # A create that was applied but answered with an error or a dropped connection: only a lookup saves us.
        applied_then_failed += sum(
            1 for e in log if e["method"] == "POST" and e["path"] in CREATES and e["fault_phase"] == "after"
        )
    assert applied_then_failed >= 2
