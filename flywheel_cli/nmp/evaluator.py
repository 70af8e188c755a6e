"""Evaluator v1 (`{nemo_url}/v1/evaluation/jobs`): jobs, their status, results and result archives.

v1 evaluation jobs have no `name`; flywheel stores its lookup key in `custom_fields.flywheel_name`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flywheel_cli.nmp.errors import NotFound
from flywheel_cli.nmp.http import ServiceClient, create_once
from flywheel_cli.nmp.statuses import as_dict, evaluation_status
from flywheel_cli.platforms.base import JobStatus

NAME_FIELD = "flywheel_name"


@dataclass(frozen=True)
class EvaluationJobInfo:
    id: str
    name: str  # custom_fields.flywheel_name, else the id
    namespace: str
    status: JobStatus
    custom_fields: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: dict[str, Any]) -> EvaluationJobInfo:
        custom = as_dict(body.get("custom_fields"))
        job_id = str(body.get("id") or "")
        name = custom.get(NAME_FIELD)
        return cls(
            id=job_id,
            name=name if isinstance(name, str) and name else job_id,
            namespace=str(body.get("namespace") or ""),
            status=evaluation_status(body),
            custom_fields=custom,
        )


class EvaluatorClient:
    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    def create_job(self, body: dict[str, Any], *, secrets: tuple[str, ...] = ()) -> EvaluationJobInfo:
        """Start a job. Never starts two: after an ambiguous failure it is looked up by its flywheel name first.

        `secrets` (a judge API key inside `body`) are kept out of any error message.
        """
        name = as_dict(body.get("custom_fields")).get(NAME_FIELD)
        namespace = body.get("namespace")

        def post() -> EvaluationJobInfo:
            answer = self.http.post("/v1/evaluation/jobs", body, idempotent=False, secrets=secrets)
            return EvaluationJobInfo.parse(answer)

        def find() -> EvaluationJobInfo | None:
            if not isinstance(name, str) or not isinstance(namespace, str):
                return None
            return self.find_job(namespace, name)

        return create_once(post, find)

    def get_job(self, job_id: str) -> EvaluationJobInfo:
        return EvaluationJobInfo.parse(self.http.get(f"/v1/evaluation/jobs/{job_id}"))

    def job_status(self, job_id: str) -> dict[str, Any]:
        """The /status sub-resource: progress and per-task status, but no overall `status` (read GET job for that)."""
        return as_dict(self.http.get(f"/v1/evaluation/jobs/{job_id}/status"))

    def results(self, job_id: str) -> dict[str, Any]:
        return as_dict(self.http.get(f"/v1/evaluation/jobs/{job_id}/results"))

    def download_results(self, job_id: str) -> bytes | None:
        """The results archive (a zip), or None when the server has none for this job."""
        try:
            response = self.http.request("GET", f"/v1/evaluation/jobs/{job_id}/download-results")
        except NotFound:
            return None
        return response.content

    def cancel_job(self, job_id: str) -> None:
        self.http.post(f"/v1/evaluation/jobs/{job_id}/cancel", None, idempotent=True)

    def delete_job(self, job_id: str) -> bool:
        return self.http.delete(f"/v1/evaluation/jobs/{job_id}")

    def list_jobs(self, namespace: str) -> list[EvaluationJobInfo]:
        params = {"filter[namespace]": namespace, "sort": "-created_at"}
        return [EvaluationJobInfo.parse(j) for j in self.http.paginate("/v1/evaluation/jobs", params=params)]

    def find_job(self, namespace: str, name: str) -> EvaluationJobInfo | None:
        """The newest job in `namespace` whose custom_fields.flywheel_name is `name`."""
        for job in self.list_jobs(namespace):
            if job.custom_fields.get(NAME_FIELD) == name:
                return job
        return None
