"""`flywheel evaluate` against the sandbox: base/icl/customized, scores with counts, per-sample results, the judge."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import CHAT_EVAL, CUSTOMIZATIONS, EVALUATIONS, JUDGE_MODEL, NIM, TOOL_EVAL, Steps, judge_section

TOOL = ("evaluate", "--workload", "tool_router", "--nim", NIM)
CHAT = ("evaluate", "--workload", "chat_assistant", "--nim", NIM)
SECRET = "sk-planted-0123456789-judge-key"


def _task(steps: Steps, remote_id: str) -> tuple[dict[str, Any], str]:
    """The (only) task of an evaluation job as the platform holds it, and the model it targets."""
    job = steps.remote(f"{EVALUATIONS}/{remote_id}")
    [task] = job["config"]["tasks"].values()
    return task, job["target"]["model"]


def _scores(job: dict[str, Any]) -> dict[str, tuple[float, float, int, int]]:
    return {s["metric"]: (s["raw"], s["normalised"], s["count"], s["failed"]) for s in job["scores"]}


def test_all_three_types_from_fresh_state_then_again(steps: Steps) -> None:
    dataset = steps.datasets["tool_router"]
    short = dataset.removeprefix("ds-")
    steps.json("deploy", "up", NIM)

    early = steps.json(*TOOL, "--type", "all")
    assert [j["eval_type"] for j in early["evaluations"]] == ["base", "icl"]
    assert early["skipped"] == ["customized (no customized model yet: `flywheel customize`)"]
    assert len(steps.creates(EVALUATIONS)) == 2

    output_model = steps.json("customize", "--workload", "tool_router", "--nim", NIM)["customization"]["output_model"]
    out = steps.json(*TOOL, "--type", "all")
    assert (out["kind"], out["skipped"], out["simulated"]) == ("evaluation", [], True)
    jobs = {j["eval_type"]: j for j in out["evaluations"]}
    assert list(jobs) == ["base", "icl", "customized"]
    assert [j["remote_id"] for j in out["evaluations"][:2]] == [j["remote_id"] for j in early["evaluations"]]
    assert steps.creates(EVALUATIONS) == [j["remote_id"] for j in out["evaluations"]]

    for eval_type, job in jobs.items():
        assert (job["status"], job["progress"], job["dataset_id"], job["error"]) == ("completed", 100.0, dataset, None)
        assert job["detail"]["samples_processed"] == TOOL_EVAL
        scores = _scores(job)
        assert list(scores) == ["function_name_accuracy", "function_name_and_args_accuracy"]
        for raw, normalised, count, failed in scores.values():
            assert (raw == normalised, 0.0 <= raw <= 1.0, count, failed) == (True, True, TOOL_EVAL, 0)
        # Per-sample values were fetched and agree with the aggregate.
        with steps.store() as store:
            samples = store.samples(job["id"])
        for metric, (raw, _, count, _) in scores.items():
            assert len(samples[metric]) == count
            assert sum(samples[metric]) / count == pytest.approx(raw)
        task, target = _task(steps, job["remote_id"])
        expected_target = output_model if eval_type == "customized" else NIM
        eval_set = "icl" if eval_type == "icl" else "eval"
        assert (job["target_model"], target) == (expected_target, expected_target)
        assert task["dataset"] == {
            "files_url": f"hf://datasets/flywheel/flywheel-{eval_set}-tool-router-{short}/eval_data.jsonl",
            "limit": TOOL_EVAL,
        }
        assert list(task["metrics"]) == ["tool-calling-accuracy"]  # no judge configured: no LLM-judge correctness

    before = steps.mark()
    again = steps.json(*TOOL, "--type", "all")
    assert [(j["id"], j["remote_id"], j["scores"]) for j in again["evaluations"]] == [
        (j["id"], j["remote_id"], j["scores"]) for j in out["evaluations"]
    ]
    assert len(steps.creates(EVALUATIONS)) == 3
    assert [e["path"] for e in steps.sb.request_log(before)] == ["/_sandbox/info"]  # nothing re-fetched


def test_table_output(steps: Steps) -> None:
    steps.json("deploy", "up", NIM)
    table = steps.run(*TOOL, "--type", "base")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].strip() == "evaluation (SIMULATED: sandbox scores)"
    with steps.store() as store:
        [job] = store.jobs(kind="evaluation")
        scores = store.scores(job.id)
    rows = [[c.strip() for c in line.strip("│ ").split("│")] for line in lines if line.startswith("│")]
    assert rows == [
        ["base", NIM, "completed", s["metric"], f"{s['normalised']:.3f}", f"{s['raw']:g}", str(TOOL_EVAL), "0"]
        for s in scores
    ]


def test_no_wait_then_a_second_call_finishes(steps: Steps) -> None:
    steps.json("deploy", "up", NIM)
    first = steps.json(*TOOL, "--type", "icl", "--no-wait")["evaluations"]
    [remote_id] = steps.creates(EVALUATIONS)
    assert [(j["remote_id"], j["status"], j["scores"]) for j in first] == [(remote_id, "pending", [])]
    second = steps.json(*TOOL, "--type", "icl")["evaluations"]
    assert [(j["id"], j["remote_id"], j["status"]) for j in second] == [(first[0]["id"], remote_id, "completed")]
    assert [s["count"] for s in second[0]["scores"]] == [TOOL_EVAL, TOOL_EVAL]
    assert steps.creates(EVALUATIONS) == [remote_id]


def test_customized_needs_a_served_customization(steps: Steps) -> None:
    result = steps.run(*TOOL, "--type", "customized")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: no customized {NIM} is ready for workload 'tool_router' (none was started)",
        f"Run `flywheel customize --workload tool_router --nim {NIM}` first.",
    ]
    steps.json("customize", "--workload", "tool_router", "--nim", NIM, "--no-wait")
    pending = steps.run(*TOOL, "--type", "customized")
    assert pending.stderr.splitlines()[0] == (
        f"error: no customized {NIM} is ready for workload 'tool_router' (the last one is pending)"
    )
    assert steps.run(*TOOL, "--type", "bogus").exit_code == 2
    assert steps.creates(EVALUATIONS) == []


def test_a_generic_workload_needs_a_judge(steps: Steps) -> None:
    result = steps.run(*CHAT, "--type", "base")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "error: workload 'chat_assistant' is generic (text answers): it is scored by an LLM judge, and none is configured"
    )


def test_judge_scores_generic_similarity_and_tool_correctness(steps: Steps, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPS_JUDGE_KEY", SECRET)
    steps.configure(judge_section(steps.sb.nim_url + "/v1/chat/completions"))
    steps.json("deploy", "up", NIM)

    chat = steps.json(*CHAT, "--type", "icl")["evaluations"][0]
    [(metric, (raw, normalised, count, failed))] = _scores(chat).items()
    assert (metric, count, failed) == ("similarity", CHAT_EVAL, 0)
    assert 1.0 <= raw <= 10.0 and normalised == pytest.approx((raw - 1) / 9)
    with steps.store() as store:
        ratings = store.samples(chat["id"])["similarity"]
    assert len(ratings) == CHAT_EVAL and all(r is not None and 0.0 <= r <= 1.0 for r in ratings)
    # A rating of 10 is ten, not the "1" a one-digit pattern would read: it normalises to 1.0.
    assert 1.0 in ratings
    assert sum(r * 9 + 1 for r in ratings) / CHAT_EVAL == pytest.approx(raw)
    task, _ = _task(steps, chat["remote_id"])
    judge = task["metrics"]["llm-judge"]["params"]["model"]["api_endpoint"]
    assert judge == {"url": steps.sb.nim_url + "/v1/chat/completions", "model_id": JUDGE_MODEL, "api_key": "******"}

    tool = steps.json(*TOOL, "--type", "base")["evaluations"][0]
    assert list(_scores(tool)) == ["function_name_accuracy", "function_name_and_args_accuracy", "tool_calling_correctness"]
    raw, normalised, count, failed = _scores(tool)["tool_calling_correctness"]
    assert (raw == normalised, count, failed) == (True, TOOL_EVAL, 0)


def test_a_failing_evaluation_exits_1_with_the_remote_reason(steps: Steps, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPS_JUDGE_KEY", SECRET)
    steps.configure(judge_section(steps.sb.nim_url + "/v1/chat/completions", model="meta/not-a-served-judge"))
    steps.json("deploy", "up", NIM)
    failed = steps.run(*CHAT, "--type", "base")
    [remote_id] = steps.creates(EVALUATIONS)
    reason = (
        "judge 'meta/not-a-served-judge' answered HTTP 404: "
        "The model `meta/not-a-served-judge` does not exist or is not served."
    )
    assert (failed.exit_code, failed.stdout) == (1, "")
    assert " ".join(failed.stderr.split()) == f"error: evaluation {remote_id} (base) of {NIM} failed: {reason}"
    with steps.store() as store:
        [job] = store.jobs(kind="evaluation")
        assert (job.status, store.scores(job.id)) == ("failed", [])
        assert job.error == f"evaluation {remote_id} (base) of {NIM} failed: {reason}"


def test_the_judge_key_reaches_the_eval_config_and_nothing_else(steps: Steps, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPS_JUDGE_KEY", SECRET)
    steps.configure(judge_section(steps.sb.nim_url + "/v1/chat/completions"))
    outputs = [
        steps.run("-v", "deploy", "up", NIM),
        steps.run("--json", "deploy", "up", NIM),
        steps.run("-v", *CHAT, "--type", "base"),
        steps.run("--json", *CHAT, "--type", "all"),
        steps.run("-v", "customize", "--workload", "chat_assistant", "--nim", NIM),
        steps.run("--json", *CHAT, "--type", "customized"),
        steps.run("--json", *TOOL, "--type", "all", "--no-wait"),
        steps.run(*TOOL, "--type", "all"),
        steps.run("--json", "deploy", "list"),
        steps.run("config", "show"),
    ]
    assert [r.exit_code for r in outputs] == [0] * len(outputs)
    steps.configure(judge_section(steps.sb.nim_url + "/v1/chat/completions", model="meta/not-a-served-judge"))
    outputs.append(steps.run("-v", *TOOL, "--type", "base"))
    outputs.append(steps.run("--json", *TOOL, "--type", "icl"))
    assert [r.exit_code for r in outputs[-2:]] == [1, 1]

    for result in outputs:
        assert SECRET not in result.stdout and SECRET not in result.stderr
    files = [p for p in (steps.tmp / ".flywheel").rglob("*") if p.is_file()]
    assert any(p.name == "state.db" for p in files)
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
    # It did go where NMP needs it: every evaluation job's judge endpoint carried it.
    jobs = list(steps.sb.state.eval_jobs.values())
    assert len(jobs) == len(steps.creates(EVALUATIONS)) == 7
    for job in jobs:
        judges = [m for task in job.tasks for m in task.metrics.values() if m["type"] == "llm-judge"]
        keys = [m["params"]["model"]["api_endpoint"]["api_key"] for m in judges]
        assert keys == [SECRET]
    assert len(steps.creates(CUSTOMIZATIONS)) == 1


def test_a_wait_that_runs_out_of_time_leaves_the_job_to_attach_to(steps: Steps, monkeypatch: pytest.MonkeyPatch) -> None:
    steps.json("deploy", "up", NIM)
    monkeypatch.setenv("FLYWHEEL_TIMEOUTS__JOB_TOTAL", "0.001")
    timed_out = steps.run(*TOOL, "--type", "base")
    [remote_id] = steps.creates(EVALUATIONS)
    assert timed_out.exit_code == 1
    message, hint = timed_out.stderr.splitlines()
    assert re.fullmatch(
        rf"error: evaluation {remote_id} \(base\) of {re.escape(NIM)} did not finish within 0.001s "
        r"\(last progress \d+(\.\d+)?%\)",
        message,
    )
    assert hint == "The remote work may still be running; run the command again to keep waiting."
    with steps.store() as store:
        [job] = store.jobs(kind="evaluation")
    assert job.status in ("pending", "running") and job.remote_id == remote_id  # not "failed": nothing says so
    monkeypatch.delenv("FLYWHEEL_TIMEOUTS__JOB_TOTAL")
    done = steps.json(*TOOL, "--type", "base")["evaluations"][0]
    assert (done["id"], done["remote_id"], done["status"], done["error"]) == (job.id, remote_id, "completed", None)
    assert steps.creates(EVALUATIONS) == [remote_id]
