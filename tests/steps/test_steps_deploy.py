"""`flywheel deploy up|down|list` against the sandbox (and respx for DMS statuses the sandbox never shows)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from .conftest import BAD_TAG_NIM, DEPLOYMENTS, FAILING_NIM, NIM, Steps, interrupt_after_create

NAME = NIM.replace("/", "-")
ONE = f"{DEPLOYMENTS}/flywheel/{NAME}"


def test_up_from_fresh_state_then_again_then_down(steps: Steps) -> None:
    up = steps.json("deploy", "up", NIM)
    dep = up["deployment"]
    assert (up["kind"], up["simulated"]) == ("deployment", True)
    assert (dep["name"], dep["remote_id"], dep["status"], dep["nim"]) == (NAME, NAME, "ready", NIM)
    assert dep["detail"] == {"raw_status": "ready", "detail": "Model deployment is ready", "served": True}
    assert dep["error"] is None
    assert steps.creates(DEPLOYMENTS) == [f"flywheel/{NAME}"]
    # GET before POST, and the wait ends on the NIM proxy's model list.
    log = [(e["method"], e["path"]) for e in steps.sb.request_log()]
    assert log.index(("GET", ONE)) < log.index(("POST", DEPLOYMENTS))
    assert ("GET", "/nim/v1/models") in log

    before = steps.mark()
    again = steps.json("deploy", "up", NIM)
    assert again["deployment"]["id"] == dep["id"] and again["deployment"]["status"] == "ready"
    assert steps.creates(DEPLOYMENTS) == [f"flywheel/{NAME}"]  # attached, not re-created
    assert [e["method"] for e in steps.sb.request_log(before) if e["path"] == DEPLOYMENTS] == []

    listed = steps.json("deploy", "list")["deployments"]
    assert [(d["model"], d["live_status"], d["recorded_status"], d["preexisting"]) for d in listed] == [
        (NIM, "ready", "ready", False)
    ]

    down = steps.json("deploy", "down", NIM)
    assert (down["removed"], down["not_deployed"]) == ([NIM], [])
    assert steps.calls("DELETE", DEPLOYMENTS) == [ONE]
    listed = steps.json("deploy", "list")["deployments"]
    assert [(d["live_status"], d["recorded_status"]) for d in listed] == [("deleted", "deleted")]
    with steps.store() as store:
        assert [(j.kind, j.status, j.remote_id) for j in store.jobs()] == [("deployment", "deleted", NAME)]


def test_table_output_and_progress_lines(steps: Steps) -> None:
    up = steps.run("-v", "deploy", "up", NIM)
    assert up.exit_code == 0 and up.stdout == ""
    lines = up.stderr.splitlines()
    assert lines[0].split()[:3] == ["deploy", NIM, "pending"]
    assert lines[-2].split()[:3] == ["deploy", NIM, "ready"]
    assert lines[-1] == f"{NIM}: served (deployment {NAME})"
    listed = steps.run("deploy", "list")
    row = next(line for line in listed.stdout.splitlines() if NIM in line)
    assert [cell.strip() for cell in row.strip("│ ").split("│")] == [NIM, NAME, "ready", "ready", "-"]


def test_no_wait_then_a_second_call_finishes(steps: Steps) -> None:
    first = steps.json("deploy", "up", NIM, "--no-wait")["deployment"]
    assert (first["status"], first["remote_id"], first["detail"].get("served")) == ("pending", NAME, None)
    second = steps.json("deploy", "up", NIM)["deployment"]
    assert (second["id"], second["status"], second["detail"]["served"]) == (first["id"], "ready", True)
    assert steps.creates(DEPLOYMENTS) == [f"flywheel/{NAME}"]


def test_ctrl_c_stops_waiting_and_the_deployment_goes_on(slow_steps: Steps) -> None:
    steps = slow_steps
    thread = interrupt_after_create(steps, DEPLOYMENTS)
    interrupted = steps.run("deploy", "up", NIM)
    thread.join()
    assert (interrupted.exit_code, interrupted.stdout) == (130, "")
    assert interrupted.stderr.splitlines() == [
        f"error: stopped waiting for {NIM}; the deployment goes on",
        f"`flywheel deploy up {NIM}` waits again; `flywheel deploy down {NIM}` removes it.",
    ]
    with steps.store() as store:
        [job] = store.jobs(kind="deployment")
    assert (job.remote_id, job.status) == (NAME, "pending")
    again = steps.json("deploy", "up", NIM, "--no-wait")["deployment"]
    assert (again["id"], again["status"]) == (job.id, "pending")
    assert steps.creates(DEPLOYMENTS) == [f"flywheel/{NAME}"]


@pytest.mark.parametrize(
    ("model", "image"),
    [(FAILING_NIM, f"nvcr.io/nim/{FAILING_NIM}:1.8.3"), (BAD_TAG_NIM, f"nvcr.io/nim/{BAD_TAG_NIM}:fail")],
)
def test_a_failed_deployment_ends_the_wait_with_its_reason(steps: Steps, model: str, image: str) -> None:
    reason = f"NIM failed to start: container for {image} exited with an error (simulated failure)"
    failed = steps.run("deploy", "up", model)
    assert failed.exit_code == 1 and failed.stdout == ""
    assert " ".join(failed.stderr.split()) == (
        f"error: deployment of {model} failed: {reason} `flywheel deploy down {model}` removes it."
    )
    again = steps.run("--json", "deploy", "up", model)
    assert (again.exit_code, again.stdout) == (1, "")
    assert len(steps.creates(DEPLOYMENTS)) == 1
    # flywheel made it, so it is flywheel's to take down: `down --all` removes it (it is not "preexisting").
    listed = steps.json("deploy", "list")["deployments"]
    assert [(d["model"], d["live_status"], d["recorded_status"], d["preexisting"]) for d in listed] == [
        (model, "failed", "failed", False)
    ]
    with steps.store() as store:
        assert [(j.status, j.error) for j in store.jobs(kind="deployment")] == [
            ("failed", f"deployment of {model} failed: {reason}")
        ] * 2
    assert steps.json("deploy", "down", "--all")["removed"] == [model]


def test_down_all_leaves_a_deployment_that_was_there_before(steps: Steps) -> None:
    theirs = {
        "name": NAME,
        "namespace": "flywheel",
        "config": {"model": NIM, "nim_deployment": {"image_name": f"nvcr.io/nim/{NIM}", "image_tag": "1.8.3", "gpu": 1}},
    }
    httpx.post(steps.sb.url + DEPLOYMENTS, json=theirs, timeout=5.0).raise_for_status()
    assert steps.json("deploy", "up", NIM)["deployment"]["detail"]["preexisting"] is True
    assert steps.json("deploy", "up", FAILING_NIM, "--no-wait")["deployment"]["status"] == "pending"
    assert len(steps.creates(DEPLOYMENTS)) == 2  # theirs, and flywheel's FAILING_NIM
    assert steps.json("deploy", "down", "--all") == {
        "version": 1,
        "kind": "deployments_removed",
        "removed": [FAILING_NIM],
        "not_deployed": [],
    }
    assert steps.calls("DELETE", DEPLOYMENTS) == [f"{DEPLOYMENTS}/flywheel/{FAILING_NIM.replace('/', '-')}"]
    # Naming it removes it all the same.
    assert steps.json("deploy", "down", NIM)["removed"] == [NIM]


def test_up_deploys_again_after_the_deployment_vanished(steps: Steps) -> None:
    steps.json("deploy", "up", NIM)
    httpx.delete(steps.sb.url + ONE, timeout=5.0).raise_for_status()
    again = steps.json("deploy", "up", NIM)["deployment"]
    assert (again["status"], again["detail"]["served"]) == ("ready", True)
    assert steps.creates(DEPLOYMENTS) == [f"flywheel/{NAME}"] * 2
    with steps.store() as store:
        assert [(j.attempt, j.status, j.error) for j in store.jobs(kind="deployment")] == [
            (1, "deleted", "the deployment no longer exists"),
            (2, "ready", None),
        ]


def test_down_of_what_is_not_deployed_deletes_nothing(steps: Steps) -> None:
    down = steps.run("deploy", "down", NIM)
    assert (down.exit_code, down.stderr.strip()) == (0, f"not deployed: {NIM}")
    assert steps.calls("DELETE", DEPLOYMENTS) == []
    assert steps.run("deploy", "down").exit_code == 2
    assert steps.run("deploy", "down", NIM, "--all").exit_code == 2
    nothing = steps.run("deploy", "list")
    assert (nothing.exit_code, nothing.stderr.strip()) == (0, "flywheel has deployed nothing on this cluster")


def test_an_unreachable_service_exits_4(steps: Steps) -> None:
    steps.sb.stop()
    result = steps.run("deploy", "up", NIM)
    assert result.exit_code == 4
    message = " ".join(result.stderr.split())
    assert message.startswith(f"error: Deployment Management: GET {steps.sb.url}{ONE} failed")
    assert message.endswith(f"Check that {steps.sb.url} (nmp.nemo_url) is reachable from this machine.")


def test_an_unknown_dms_status_ends_the_wait_but_an_unseen_one_does_not(
    steps: Steps, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DMS's own `unknown` is terminal; a status string nobody has seen yet keeps the wait polling."""
    base = "http://dms.test"
    url = f"{base}{ONE}"
    for key in ("NEMO_URL", "DATASTORE_URL", "NIM_URL"):
        monkeypatch.delenv(f"FLYWHEEL_NMP__{key}")
    steps.configure(f'\n[nmp]\nnemo_url = "{base}"\ndatastore_url = "{base}"\nnim_url = "{base}/nim"\n')

    def deployment(status: str, description: str) -> dict:
        return {"name": NAME, "namespace": "flywheel", "status_details": {"status": status, "description": description}}

    with respx.mock(assert_all_mocked=True) as mock:
        mock.get(f"{base}/_sandbox/info").respond(404, json={"detail": "Not Found"})
        mock.get(url).respond(200, json=deployment("unknown", "the NIM pod was evicted"))
        failed = steps.run("deploy", "up", NIM)
        assert failed.exit_code == 1
        assert " ".join(failed.stderr.split()).startswith(
            f"error: deployment of {NIM} failed: the NIM pod was evicted"
        )
        assert mock.calls.call_count == 3  # the probe, the GET before anything, one poll

    with respx.mock(assert_all_mocked=True) as mock:
        mock.get(f"{base}/_sandbox/info").respond(404, json={"detail": "Not Found"})
        polls = mock.get(url)
        polls.side_effect = [
            httpx.Response(200, json=deployment("provisioning", "scheduling pods")),
            httpx.Response(200, json=deployment("provisioning", "scheduling pods")),
            httpx.Response(200, json=deployment("ready", "ready")),
        ]
        mock.get(f"{base}/nim/v1/models").respond(200, json={"object": "list", "data": [{"id": NIM}]})
        done = steps.run("--json", "deploy", "up", NIM)
        assert done.exit_code == 0, done.stderr
        assert json.loads(done.stdout)["deployment"]["status"] == "ready"
        assert polls.call_count == 3


def test_a_wait_that_runs_out_of_time_leaves_the_deployment_to_attach_to(
    steps: Steps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLYWHEEL_TIMEOUTS__DEPLOY", "0.001")
    timed_out = steps.run("deploy", "up", NIM)
    assert timed_out.exit_code == 1
    assert timed_out.stderr.splitlines()[0] == f"error: deployment of {NIM} did not finish within 0.001s"
    with steps.store() as store:
        [job] = store.jobs(kind="deployment")
    assert (job.status, job.remote_id) == ("pending", NAME)
    monkeypatch.delenv("FLYWHEEL_TIMEOUTS__DEPLOY")
    done = steps.json("deploy", "up", NIM)["deployment"]
    assert (done["id"], done["status"], done["error"]) == (job.id, "ready", None)
    assert steps.creates(DEPLOYMENTS) == [f"flywheel/{NAME}"]
