"""Injected faults: every mode happens, control endpoints never fail, and some creates fail after being applied."""

from __future__ import annotations

import contextlib
import time
from collections import Counter

import httpx
from sandbox_workload import deployment_body

from flywheel_cli.sandbox import Sandbox


def _settle(sandbox: Sandbox, path: str, count: int) -> list[dict]:  # type: ignore[type-arg]
    # A "timeout" fault is logged when its hang ends, after the client has given up.
    deadline = time.monotonic() + 2.0
    while True:
        entries = [e for e in sandbox.request_log() if e["path"] == path]
        if len(entries) == count or time.monotonic() > deadline:
            return entries
        time.sleep(0.02)


def test_every_fault_mode_happens_and_control_endpoints_never_fail() -> None:
    seen: Counter[str] = Counter()
    with Sandbox(speed=1000.0, fault_rate=0.5, seed=3, hang_seconds=0.3, slow_seconds=0.08) as sb:
        with httpx.Client(base_url=sb.url, timeout=httpx.Timeout(2.0, read=0.2)) as client:
            for _ in range(60):
                try:
                    response = client.get("/v1/namespaces")
                except httpx.ReadTimeout:
                    seen["timeout"] += 1
                except (httpx.RemoteProtocolError, httpx.ReadError):
                    seen["drop"] += 1
                else:
                    seen[
                        "ok" if response.status_code == 200 else "5xx" if response.status_code >= 500 else "other"
                    ] += 1
            control = [
                client.get(path).status_code
                for path in ("/_sandbox/info", "/_sandbox/state", "/_sandbox/requests") * 10
            ]
        entries = _settle(sb, "/v1/namespaces", 60)
    faults = Counter(e["fault"] for e in entries)
    assert set(faults) == {None, "error", "slow", "timeout", "drop"}
    assert all(faults[mode] >= 3 for mode in ("error", "slow", "timeout", "drop")), faults
    assert seen == Counter(
        {
            "ok": faults[None] + faults["slow"],
            "5xx": faults["error"],
            "timeout": faults["timeout"],
            "drop": faults["drop"],
        }
    )
    assert all(e["status"] is None for e in entries if e["fault"] in ("timeout", "drop"))
    assert control == [200] * 30


def test_creates_fail_before_or_after_being_applied() -> None:
    with Sandbox(speed=1000.0, fault_rate=0.5, seed=5, fault_modes=("error", "drop")) as sb:
        with httpx.Client(base_url=sb.url, timeout=2.0) as client:
            for i in range(30):
                with contextlib.suppress(httpx.TransportError):
                    client.post("/v1/namespaces", json={"id": f"ns-{i}"})
                with contextlib.suppress(httpx.TransportError):
                    body = deployment_body(f"meta/model-{i}-1b", namespace="fw")
                    client.post("/v1/deployment/model-deployments", json=body)
            listed = None
            while listed is None:  # reads fail too; a client retries them
                try:
                    response = client.get("/v1/namespaces", params={"page_size": 100})
                except httpx.TransportError:
                    continue
                listed = response.json() if response.status_code == 200 else None
        posts = [e for e in sb.request_log() if e["method"] == "POST"]
        state = sb.state_summary()
    by_phase = {phase: [e for e in posts if e["fault_phase"] == phase] for phase in ("before", "after")}
    assert len(by_phase["before"]) >= 5 and len(by_phase["after"]) >= 5
    assert all(e["created"] is None for e in by_phase["before"])
    assert all(e["created"] is not None for e in by_phase["after"])
    created_namespaces = {e["created"]["id"] for e in posts if e["created"] and e["created"]["kind"] == "namespace"}
    assert {n["id"] for n in listed["data"]} == created_namespaces | {"default"}
    after_deployments = {e["created"]["id"] for e in by_phase["after"] if e["created"]["kind"] == "deployment"}
    assert after_deployments, "some deployment creates must fail after being applied"
    assert after_deployments <= {f"{d['namespace']}/{d['name']}" for d in state["deployments"]}
    unapplied = [e for e in by_phase["before"] if e["path"] == "/v1/deployment/model-deployments"]
    assert len(state["deployments"]) == 30 - len(unapplied)
