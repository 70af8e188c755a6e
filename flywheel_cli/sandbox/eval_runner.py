"""The worker behind an evaluation job: scores every dataset row by calling the target model and judges over HTTP.

Calls go through the sandbox's own NIM proxy routes (or whatever `api_endpoint.url` a config names), exactly as a
client would see them; calls to this sandbox carry the internal header so injected faults stay on the client's side.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from flywheel_cli.sandbox import scoring
from flywheel_cli.sandbox.api import INTERNAL_HEADER
from flywheel_cli.sandbox.scoring import EvalFailure, first_message
from flywheel_cli.sandbox.store import State

if TYPE_CHECKING:
    from flywheel_cli.sandbox.evaluator import EvaluationJob, TaskPlan

ATTEMPTS = 3
REQUEST_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Endpoint:
    url: str
    model: str
    headers: dict[str, str]


def endpoint(state: State, ref: Any, what: str) -> Endpoint:
    """A model reference (a served model name, or {"api_endpoint": {url, model_id, api_key?}}) → where to call it."""
    if isinstance(ref, str) and ref:
        return Endpoint(state.nim_url + "/v1/chat/completions", ref, {INTERNAL_HEADER: "1"})
    api = ref.get("api_endpoint") if isinstance(ref, dict) else None
    if isinstance(api, dict) and isinstance(api.get("url"), str) and isinstance(api.get("model_id"), str):
        headers = {}
        if api.get("api_key"):
            headers["Authorization"] = f"Bearer {api['api_key']}"
        if api["url"].startswith(state.base_url + "/"):
            headers[INTERNAL_HEADER] = "1"
        return Endpoint(api["url"], api["model_id"], headers)
    raise EvalFailure(f"{what} must be a model name or {{'api_endpoint': {{'url', 'model_id'}}}}")


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("message") or body.get("error")
        return str(detail)[:200] if detail else str(body)[:200]
    return str(body)[:200]


def call_chat(client: httpx.Client, target: Endpoint, body: dict[str, Any], what: str) -> dict[str, Any]:
    """POST with a few retries on 5xx and transport errors, as the evaluator's `max_retries` does."""
    problem = ""
    for attempt in range(ATTEMPTS):
        try:
            response = client.post(target.url, json=body, headers=target.headers)
        except httpx.HTTPError as exc:
            problem = f"{what} is unreachable at {target.url} ({type(exc).__name__})"
        else:
            if response.status_code < 400:
                try:
                    data = response.json()
                except ValueError:
                    raise EvalFailure(f"{what} answered something that is not JSON") from None
                if isinstance(data, dict):
                    return data
                raise EvalFailure(f"{what} answered JSON that is not an object")
            problem = f"{what} answered HTTP {response.status_code}: {_detail(response)}"
            if response.status_code < 500 and response.status_code != 429:
                raise EvalFailure(problem)
        time.sleep(0.05 * (attempt + 1))
    raise EvalFailure(problem)


class EvalRunner(threading.Thread):
    def __init__(self, state: State, job: EvaluationJob, start_at: float) -> None:
        super().__init__(name=f"sandbox-{job.id}", daemon=True)
        self.state = state
        self.job = job
        self.start_at = start_at  # real time the job starts running

    def _stopped(self) -> bool:
        return self.job.stop.is_set() or self.state.stopping.is_set()

    def run(self) -> None:
        state, job = self.state, self.job
        try:
            wait = self.start_at - state.clock.now()
            if wait > 0 and job.stop.wait(wait):
                return
            target = endpoint(state, job.target_model, "target.model")
            with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
                for plan in job.tasks:
                    for item in plan.items:
                        if self._stopped():
                            return
                        row = self._sample(client, target, plan, item)
                        with state.lock:
                            job.rows[plan.name].append(row)
                            job.processed += 1
        except EvalFailure as exc:
            with state.lock:
                job.error = str(exc)
        except Exception as exc:  # a worker thread has no caller to raise to: the job records it and fails
            with state.lock:
                job.error = f"evaluation failed: {type(exc).__name__}: {exc}"
        finally:
            with state.lock:
                job.done = True

    def _sample(self, client: httpx.Client, target: Endpoint, plan: TaskPlan, item: Any) -> dict[str, Any]:
        body = scoring.chat_request(plan.template, item, target.model, plan.params)
        response = call_chat(client, target, body, f"target model {target.model!r}")
        sample = {"output_text": first_message(response).get("content") or "", "response": response}
        metrics: dict[str, Any] = {}
        for name, metric in plan.metrics.items():
            params = metric.get("params") or {}
            if metric["type"] == "tool-calling":
                scores: dict[str, float | None] = dict(scoring.tool_calling_scores(params, item, response))
            else:
                judge = endpoint(self.state, params.get("model"), f"metric {name!r} params.model")
                request = scoring.judge_request(params, item, sample, judge.model)
                answer = call_chat(client, judge, request, f"judge {judge.model!r}")
                scores = scoring.parse_scores(params.get("scores") or {}, first_message(answer).get("content") or "")
            metrics[name] = {"scores": {score: {"value": value} for score, value in scores.items()}}
        return {"item": item, "sample": sample, "metrics": metrics}
