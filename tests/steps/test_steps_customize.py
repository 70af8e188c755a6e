"""`flywheel customize` against the sandbox: create-or-attach, waiting until served, failures, Ctrl-C and --cancel."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3

import pytest

from .conftest import CUSTOMIZATIONS, NIM, Steps, interrupt_after_create

CUSTOMIZE = ("customize", "--workload", "tool_router", "--nim", NIM)
TRAIN_FILE = "train/training/train_data.jsonl"


def test_customize_from_fresh_state_then_again(steps: Steps) -> None:
    steps.json("deploy", "up", NIM)
    out = steps.json(*CUSTOMIZE)
    job = out["customization"]
    assert (out["kind"], out["simulated"]) == ("customization", True)
    [remote_id] = steps.creates(CUSTOMIZATIONS)
    name = job["name"]
    assert name.startswith("flywheel-tool-router-llama-3-2-1b-instruct-")
    assert (job["remote_id"], job["status"], job["progress"], job["error"]) == (remote_id, "completed", 100.0, None)
    assert job["output_model"] == f"flywheel/{name}-lora@{remote_id}"  # as the platform answered it
    assert (job["workload_id"], job["dataset_id"], job["nim"]) == ("tool_router", steps.datasets["tool_router"], NIM)
    detail = job["detail"]
    assert (detail["raw_status"], detail["epochs_completed"], detail["served"]) == ("completed", 2, True)
    assert detail["steps_completed"] == 12  # ceil(90 training rows / batch 16) × 2 epochs
    assert isinstance(detail["train_loss"], float) and isinstance(detail["val_loss"], float)

    # The config was discovered on the server; [training] went into the job as it is.
    assert steps.calls("GET", "/v1/customization/configs") == ["/v1/customization/configs"]
    remote = steps.remote(f"{CUSTOMIZATIONS}/{remote_id}")
    assert remote["config"] == "meta/llama-3.2-1b-instruct@v1.0.0+80GB"
    assert remote["hyperparameters"] == {
        "training_type": "sft",
        "finetuning_type": "lora",
        "epochs": 2,
        "batch_size": 16,
        "learning_rate": 0.0001,
        "log_every_n_steps": 10,
        "lora": {"adapter_dim": 32, "adapter_dropout": 0.1, "alpha": 16},
    }
    assert remote["dataset"] == f"flywheel/flywheel-train-tool-router-{steps.datasets['tool_router'][3:]}"
    # The wait ended on the NIM proxy listing the adapter.
    models = steps.remote("/nim/v1/models")["data"]
    assert job["output_model"] in [m["id"] for m in models]

    before = steps.mark()
    again = steps.json(*CUSTOMIZE)["customization"]
    assert (again["id"], again["remote_id"], again["status"]) == (job["id"], remote_id, "completed")
    assert steps.creates(CUSTOMIZATIONS) == [remote_id]
    # Attaching to a finished, served job asks nothing of the platform but the sandbox probe.
    assert [e["path"] for e in steps.sb.request_log(before)] == ["/_sandbox/info"]


def test_no_wait_then_a_second_call_finishes(steps: Steps) -> None:
    steps.json("deploy", "up", NIM)
    first = steps.json(*CUSTOMIZE, "--no-wait")["customization"]
    [remote_id] = steps.creates(CUSTOMIZATIONS)
    assert (first["remote_id"], first["status"], first["detail"]["raw_status"]) == (remote_id, "pending", "created")
    second = steps.json(*CUSTOMIZE)["customization"]
    assert (second["id"], second["remote_id"], second["status"]) == (first["id"], remote_id, "completed")
    assert second["detail"]["served"] is True
    assert steps.creates(CUSTOMIZATIONS) == [remote_id]


def _spoil_training_file(steps: Steps, dataset_id: str) -> str:
    """Make line 3 of the training file carry tool-call arguments as a string, and record the new hash as built."""
    path = steps.tmp / ".flywheel" / "datasets" / dataset_id / TRAIN_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    row = json.loads(lines[2])
    last = len(row["messages"]) - 1
    row["messages"][last]["tool_calls"][0]["function"]["arguments"] = "{not json"
    lines[2] = json.dumps(row).encode() + b"\n"
    data = b"".join(lines)
    path.write_bytes(data)
    with sqlite3.connect(steps.tmp / ".flywheel" / "state.db") as db:
        db.execute(
            "UPDATE dataset_files SET sha256 = ? WHERE dataset_id = ? AND path = ?",
            (hashlib.sha256(data).hexdigest(), dataset_id, TRAIN_FILE),
        )
    return (
        "Dataset validation failed: training/train_data.jsonl line 3: "
        f"messages[{last}].tool_calls[0].function.arguments must be a JSON object"
    )


def test_a_bad_training_file_fails_with_the_remote_reason(steps: Steps) -> None:
    reason = _spoil_training_file(steps, steps.datasets["tool_router"])
    failed = steps.run(*CUSTOMIZE)
    [remote_id] = steps.creates(CUSTOMIZATIONS)
    assert (failed.exit_code, failed.stdout) == (1, "")
    assert " ".join(failed.stderr.split()) == f"error: customization {remote_id} of {NIM} failed: {reason}"
    with steps.store() as store:
        [job] = store.jobs(kind="customization")
    assert (job.status, job.remote_id) == ("failed", remote_id)
    assert job.error == f"customization {remote_id} of {NIM} failed: {reason}"
    assert job.detail["raw_status"] == "failed"


def test_a_base_model_that_is_not_served_ends_the_wait_at_once(steps: Steps) -> None:
    result = steps.run(*CUSTOMIZE)
    [remote_id] = steps.creates(CUSTOMIZATIONS)
    assert result.exit_code == 1
    output = f"flywheel/{_job_name(steps)}-lora@{remote_id}"
    assert " ".join(result.stderr.split()) == (
        f"error: customization {remote_id} completed, but {output} cannot be served: its base model {NIM} is not "
        f"served by the NIM proxy `flywheel deploy up {NIM}`, then run the same command again to wait for the adapter."
    )
    with steps.store() as store:
        [job] = store.jobs(kind="customization")
    assert (job.status, job.detail.get("served"), job.error) == (
        "completed", None, f"customization {remote_id} completed, but {output} cannot be served: its base model {NIM} "
        "is not served by the NIM proxy",
    )
    steps.json("deploy", "up", NIM)
    served = steps.json(*CUSTOMIZE)["customization"]
    assert (served["remote_id"], served["output_model"], served["detail"]["served"]) == (remote_id, output, True)
    assert served["error"] is None
    assert steps.creates(CUSTOMIZATIONS) == [remote_id]


def _job_name(steps: Steps) -> str:
    with steps.store() as store:
        return store.jobs(kind="customization")[-1].name


def test_cancel_without_a_job_is_an_error(steps: Steps) -> None:
    result = steps.run(*CUSTOMIZE, "--cancel")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: no customization job to cancel for this workload, NIM and dataset"
    no_config = steps.run("customize", "--workload", "tool_router", "--nim", "meta/llama-3.2-1b-fail")
    assert (no_config.exit_code, no_config.stderr.splitlines()[0]) == (
        2,
        "error: NMP has no customization config for meta/llama-3.2-1b-fail and none can be created without a target",
    )
    assert steps.creates(CUSTOMIZATIONS) == []
    unknown = steps.run("customize", "--workload", "tool_router", "--nim", "meta/nope")
    assert unknown.exit_code == 2
    assert unknown.stderr.splitlines()[0] == "error: NIM 'meta/nope' is not configured"


def test_ctrl_c_detaches_and_cancel_cancels(slow_steps: Steps, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = slow_steps
    thread = interrupt_after_create(steps, CUSTOMIZATIONS)
    interrupted = steps.run(*CUSTOMIZE)
    thread.join()
    [remote_id] = steps.creates(CUSTOMIZATIONS)
    assert (interrupted.exit_code, interrupted.stdout) == (130, "")
    assert interrupted.stderr.splitlines() == [
        "error: detached; the customization job goes on",
        "Run the same command again to re-attach, or add --cancel to cancel it.",
    ]
    with steps.store() as store:
        [job] = store.jobs(kind="customization")
    assert (job.remote_id, job.status) == (remote_id, "pending")
    assert steps.remote(f"{CUSTOMIZATIONS}/{remote_id}")["status"] in ("created", "pending")

    # A wait that runs out of time leaves the job alone: it is still running, and the next call attaches to it.
    monkeypatch.setenv("FLYWHEEL_TIMEOUTS__JOB_TOTAL", "0.3")
    timed_out = steps.run(*CUSTOMIZE)
    assert timed_out.exit_code == 1
    assert " ".join(timed_out.stderr.split()).startswith(
        f"error: customization {remote_id} of {NIM} did not finish within 0.3s"
    )
    with steps.store() as store:
        [job] = store.jobs(kind="customization")
    assert job.status in ("pending", "running") and job.error is not None
    monkeypatch.delenv("FLYWHEEL_TIMEOUTS__JOB_TOTAL")
    still = steps.json(*CUSTOMIZE, "--no-wait")["customization"]
    assert (still["remote_id"], still["status"]) == (remote_id, job.status)

    cancelled = steps.json(*CUSTOMIZE, "--cancel")["customization"]
    assert (cancelled["remote_id"], cancelled["status"]) == (remote_id, "cancelled")
    assert cancelled["error"] == "cancelled by the user"
    assert steps.calls("POST", f"{CUSTOMIZATIONS}/") == [f"{CUSTOMIZATIONS}/{remote_id}/cancel"]
    assert steps.remote(f"{CUSTOMIZATIONS}/{remote_id}")["status"] in ("cancelling", "cancelled")
    assert steps.creates(CUSTOMIZATIONS) == [remote_id]
    # Cancelling what is already cancelled asks the platform nothing more.
    again = steps.run(*CUSTOMIZE, "--cancel")
    assert (again.exit_code, again.stderr.strip()) == (0, f"customization {remote_id} cancelled")
    assert len(steps.calls("POST", f"{CUSTOMIZATIONS}/")) == 1


def test_live_progress_on_a_terminal(steps: Steps, monkeypatch: pytest.MonkeyPatch) -> None:
    steps.json("deploy", "up", NIM)
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    result = steps.run(*CUSTOMIZE)
    assert result.exit_code == 0 and result.stdout == ""
    [remote_id] = steps.creates(CUSTOMIZATIONS)
    with steps.store() as store:
        [job] = store.jobs(kind="customization")
    # A live display redrawn in place (cursor hidden, line cleared), ending on the job's last state.
    assert result.stderr.startswith("\x1b[?25l")
    last = result.stderr.split("\r\x1b[2K")[-1].split("\n")[0]
    *fields, elapsed = last.split()
    assert fields == [
        "customize", NIM, "completed", "100%", "epoch", "2", "step", "12",
        "train", "loss", f"{job.detail['train_loss']:.3f}", "val", "loss", f"{job.detail['val_loss']:.3f}",
        f"[{remote_id}]",
    ]
    assert re.fullmatch(r"\d+:\d\d:\d\d", elapsed)
    assert f"{job.output_model} is served (customization {remote_id})" in result.stderr
