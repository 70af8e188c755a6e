"""The Platform implementation for NeMo Helix (NeMo Platform 26.x successor: `/apis/<service>/v2/workspaces/{ws}`).

Everything Helix-specific stays here and in `flywheel_cli.helix`: the workspace and project, filesets and the
row format Helix evaluates, metric bundles, gateway model ids (`ws/entity`), job names, path flavours and statuses.

Models are reached through the inference gateway. A model that a provider already serves (an OpenAI-compatible
endpoint registered in the workspace) needs no deployment: `get_deployment` reports it ready and `undeploy` leaves
it alone. Deployments and customization need GPUs; on a server that cannot run them they stop with a StepFailed
whose message starts with "needs GPUs:".
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit

from flywheel_cli.config import NimConfig, Settings
from flywheel_cli.errors import FlywheelError, RemoteError, StepFailed
from flywheel_cli.helix import customization, eval_rows, metrics, names
from flywheel_cli.helix.capabilities import Capabilities
from flywheel_cli.helix.entities import EntitiesClient
from flywheel_cli.helix.files import FilesClient
from flywheel_cli.helix.gateway import GatewayClient
from flywheel_cli.helix.jobs import JobsClient
from flywheel_cli.helix.models import ModelsClient, deployment_config_body
from flywheel_cli.helix.scores import parse_json, parse_results, parse_rows
from flywheel_cli.helix.session import HelixSession
from flywheel_cli.helix.statuses import deployment_status, failure_from_logs, job_state, job_status
from flywheel_cli.nmp.errors import Conflict, NotFound
from flywheel_cli.nmp.eval_config import SIMILARITY_RUBRIC, TOOL_CALL_RUBRIC
from flywheel_cli.platforms.base import (
    CustomizationJob,
    CustomizationRequest,
    DatasetRef,
    DeploymentState,
    DeploymentStatus,
    EvaluationJob,
    EvaluationRequest,
    EvaluationResults,
    JobState,
    RemoteResource,
)

FLYWHEEL_PREFIX = "flywheel-"
PROJECT = "flywheel"
JUDGE_SECRET = "flywheel-judge-api-key"
EVAL_PARALLELISM = 8
# The evaluator needs at least one inference setting to treat the target as a chat model; a cap on the answer
# length is the one that changes nothing for tool calls and short answers.
EVAL_MAX_TOKENS = 1024
GPU_PROVIDERS = ("gpu", "gpu_distributed")
# What a server says when it cannot run GPU work here (no Docker daemon, runtime "none", no GPU executor).
_CANNOT_RUN = re.compile(r"docker|gpu|runtime|kubernetes|not enabled|executor|not available", re.IGNORECASE)


class HelixPlatform:
    """NeMo Helix behind the neutral Platform interface. Every method raises RemoteError on failure."""

    kind = "helix"

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        session: HelixSession | None = None,
    ) -> None:
        self._settings = settings
        self._workspace = settings.platform.workspace
        # The judge key goes to the server as a secret; a server echoing it back must not get it into our output.
        self._session = session or HelixSession(
            settings.platform.base_url,
            token_env=settings.platform.token_env,
            sleep=sleep,
            secrets=(settings.judge.api_key(),),
        )
        self._scoped = False
        self._simulated: bool | None = None
        self._outputs: dict[str, str] = {}  # customization job name → its output model id

    def __repr__(self) -> str:
        return f"HelixPlatform(base_url={self._session.base_url!r}, workspace={self._workspace!r})"

    def __enter__(self) -> HelixPlatform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    @property
    def session(self) -> HelixSession:
        return self._session

    @property
    def workspace(self) -> str:
        return self._workspace

    # --- clients ------------------------------------------------------------------------------------------------------

    @property
    def entities(self) -> EntitiesClient:
        return EntitiesClient(self._session.http)

    @property
    def files(self) -> FilesClient:
        return FilesClient(self._session.http)

    @property
    def models(self) -> ModelsClient:
        return ModelsClient(self._session.http)

    @property
    def gateway(self) -> GatewayClient:
        return GatewayClient(self._session.http)

    @property
    def evaluations(self) -> JobsClient:
        prefix = self._session.capabilities.require_evals(self._session.base_url)
        return JobsClient(self._session.http, f"{prefix}/workspaces/{{workspace}}/evaluate/jobs", "evaluation")

    def _customizations(self) -> JobsClient | None:
        path = self._session.capabilities.customization_path()
        return JobsClient(self._session.http, path, "customization") if path else None

    @property
    def capabilities(self) -> frozenset[str]:
        """What this server can run: "evaluate" always; "customize" and "deploy" when it offers their API and has a
        GPU job executor (a CPU-only server answers their creates with "requires a reachable Docker daemon" or
        "Deployments are not enabled")."""
        caps: Capabilities = self._session.capabilities
        found = {"evaluate"}
        if self._gpu_executors():
            if caps.customization is not None:
                found.add("customize")
            if caps.deployments:
                found.add("deploy")
        return frozenset(found)

    # --- simulated? ---------------------------------------------------------------------------------------------------

    @property
    def simulated(self) -> bool:
        """True when the models evaluated (or the judge) are flywheel sandbox models, known by the sandbox's
        `/_sandbox/info` at the provider's host. Decided once the workspace's providers can be read; never raises."""
        if self._simulated is None:
            try:
                found = self._probe_simulated()
            except FlywheelError:
                found = None
            if found is None:
                return False
            self._simulated = found
        return self._simulated

    def _probe_simulated(self) -> bool | None:
        try:
            providers = self.models.providers(self._workspace)
        except NotFound:
            return None  # no workspace yet: ask again later
        wanted = {nim.model_name for nim in self._settings.nims} | {self._settings.judge.model}
        serving = [p for p in providers if wanted & set(p.served.values())] or providers
        urls = [p.host_url for p in serving]
        judge = self._settings.judge
        if judge.kind == "remote" and judge.url:
            urls.append(judge.url)
        for origin in dict.fromkeys(_origin(u) for u in urls if _origin(u)):
            client = self._session.client(origin, service="provider", setting="a provider's host_url")
            try:
                info = client.probe("/_sandbox/info")
            finally:
                client.close()
            if isinstance(info, dict) and info.get("sandbox") is True:
                return True
        return False

    # --- scopes and data ----------------------------------------------------------------------------------------------

    def ensure_scope(self) -> None:
        """The workspace and flywheel's project in it; both idempotent."""
        self.entities.ensure_workspace(self._workspace, "flywheel: datasets, evaluations and customizations")
        self.entities.ensure_project(self._workspace, PROJECT, "resources created by flywheel")
        self._scoped = True

    def upload_dataset(self, kind: Literal["eval", "icl", "train"], name: str, files: dict[str, bytes]) -> DatasetRef:
        """Put `files` (path → content) in fileset `{workspace}/{name}`; eval sets also get the rows Helix
        evaluates (see `flywheel_cli.helix.eval_rows`). Uploading replaces files of the same path."""
        self._ensure_scoped()
        ws = self._workspace
        self.files.ensure_fileset(
            ws,
            name,
            project=PROJECT,
            description=f"flywheel {kind} dataset",
            custom_fields={"flywheel": "1", "kind": kind},
        )
        uploads = dict(files)
        if kind in ("eval", "icl"):
            source = next((content for path, content in files.items() if path.endswith(".jsonl")), b"")
            uploads[eval_rows.ROWS_FILE] = eval_rows.rows_file(source)
        for path, content in uploads.items():
            self.files.put_file(ws, name, path, content)
        return DatasetRef(kind=kind, name=name, uri=f"{ws}/{name}")

    def delete_dataset(self, name: str) -> None:
        self.files.delete_fileset(self._workspace, name)

    # --- models and deployments ---------------------------------------------------------------------------------------

    def served_models(self) -> set[str]:
        """Gateway model ids ("ws/entity") and the model names their providers serve them as."""
        served = self._served()
        return set(served) | set(served.values())

    def get_deployment(self, nim: NimConfig) -> DeploymentStatus | None:
        """The NIM's deployment, or "ready" when a provider already serves the model through the gateway."""
        if self._session.capabilities.deployments:
            body = self.models.get_deployment(self._workspace, _deployment_name(nim))
            if body is not None:
                return deployment_status(body)
        served = self._served()
        model_id = self._model_id(nim.model_name, served)
        if model_id in served:
            return DeploymentStatus(
                DeploymentState.READY, "served", f"served through the inference gateway as {model_id}"
            )
        return None

    def deploy(self, nim: NimConfig) -> DeploymentStatus:
        """Deploy a NIM from a deployment config (created once) unless its deployment exists."""
        self._ensure_scoped()
        ws, name = self._workspace, _deployment_name(nim)
        if not self._session.capabilities.deployments:
            raise _needs_gpus(
                f"the Helix server at {self._session.base_url} offers no model deployment API, "
                f"and no provider in workspace {ws!r} serves {nim.model_name}",
                self._provider_hint(nim),
            )
        try:
            self.models.ensure_deployment_config(ws, deployment_config_body(name, nim))
            existing = self.models.get_deployment(ws, name)
            body = existing if existing is not None else self.models.create_deployment(ws, name, name)
        except RemoteError as err:
            if _refused_for_hardware(err):
                raise _needs_gpus(
                    f"Helix cannot deploy {nim.model_name} here: {_detail(err)}", self._provider_hint(nim)
                ) from None
            raise
        return deployment_status(body)

    def undeploy(self, nim: NimConfig) -> None:
        """Delete the NIM's deployment if there is one; a model served by a provider is not flywheel's to remove."""
        if not self._session.capabilities.deployments:
            return
        name = _deployment_name(nim)
        if self.models.get_deployment(self._workspace, name) is not None:
            self.models.delete_deployment(self._workspace, name)

    # --- customization ------------------------------------------------------------------------------------------------

    def find_customization(self, name: str) -> CustomizationJob | None:
        jobs = self._customizations()
        if jobs is None:
            return None
        body = jobs.get(self._workspace, names.job_name(name))
        return self._customization(body) if body is not None else None

    def start_customization(self, request: CustomizationRequest) -> CustomizationJob:
        self._ensure_scoped()
        ws, caps = self._workspace, self._session.capabilities
        jobs = self._customizations()
        if jobs is None or caps.customization is None:
            raise _needs_gpus(
                f"the Helix server at {self._session.base_url} runs no customization service",
                "LoRA customization runs on a Helix with the customization service and GPU job executors; "
                "the base and icl evaluations do not need it.",
            )
        output = names.fit(names.entity_name(request.output_model_name), names.NAME_LIMIT)
        body = customization.job_body(
            caps.customization,
            name=names.job_name(request.name),
            model=self._model_id(request.nim.model_name),  # the base model entity, "ws/entity"
            dataset=request.dataset.uri,
            output_name=output,
            nim=request.nim,
            training=request.training,
            project=PROJECT,
            custom_fields={"flywheel": "1", "flywheel_name": request.name},
        )
        try:
            answer = jobs.create(ws, body)
        except RemoteError as err:
            if _refused_for_hardware(err):
                raise _needs_gpus(
                    f"Helix cannot run the customization of {request.nim.model_name} here: {_detail(err)}",
                    "LoRA customization needs a Helix with GPU job executors (Docker or Kubernetes runtime); "
                    "the base and icl evaluations do not need it.",
                ) from None
            raise
        self._outputs[body["name"]] = f"{ws}/{output}"
        return self._customization({**body, **answer})

    def get_customization(self, job_id: str) -> CustomizationJob:
        jobs = self._require_customizations()
        status = jobs.status(self._workspace, job_id)
        if job_id not in self._outputs:
            body = jobs.get(self._workspace, job_id) or {}
            self._outputs[job_id] = self._output_of(body)
        return CustomizationJob(
            id=job_id,
            name=job_id,
            output_model=self._outputs[job_id],
            status=job_status(status, detail=self._failure(jobs, job_id, status)),
        )

    def cancel_customization(self, job_id: str) -> None:
        _already_over_ok(lambda: self._require_customizations().cancel(self._workspace, job_id))

    # --- evaluation ---------------------------------------------------------------------------------------------------

    def find_evaluation(self, name: str) -> EvaluationJob | None:
        body = self.evaluations.get(self._workspace, names.job_name(name))
        if body is None:
            return None
        job_id = str(body.get("name") or names.job_name(name))
        return EvaluationJob(id=job_id, name=job_id, status=job_status(body))

    def start_evaluation(self, request: EvaluationRequest) -> EvaluationJob:
        self._ensure_scoped()
        ws = self._workspace
        tool_calling = request.workload_type == "tool_calling"
        bundles = [metrics.tool_calling()] if tool_calling else []
        if request.judge.kind != "none":
            bundles.append(self._judge_metric(request, tool_calling=tool_calling))
        elif not tool_calling:
            raise StepFailed(f"evaluation {request.name}: a generic workload is scored by an LLM judge; none is set")
        body = {
            "name": names.job_name(request.name),
            "project": PROJECT,
            "description": f"flywheel evaluation {request.name}",
            # flywheel's keys last: a label must not be able to hide the job from its own lookup.
            "custom_fields": {**request.labels, "flywheel": "1", "flywheel_name": request.name},
            "spec": {
                "dataset": f"{request.dataset.uri}#{eval_rows.ROWS_FILE}",
                "target": {"url": self.gateway.base_url(ws), "name": self._model_id(request.target_model)},
                "prompt_template": eval_rows.TOOL_CALLING_REQUEST if tool_calling else eval_rows.GENERIC_REQUEST,
                "params": {
                    "parallelism": EVAL_PARALLELISM,
                    "limit_samples": request.limit,
                    "max_retries": 3,
                    "inference": {"max_tokens": EVAL_MAX_TOKENS},
                },
                "metrics": bundles,
            },
        }
        answer = self.evaluations.create(ws, body)
        job_id = str(answer.get("name") or body["name"])
        return EvaluationJob(id=job_id, name=job_id, status=job_status(answer))

    def get_evaluation(self, job_id: str) -> EvaluationJob:
        jobs = self.evaluations
        status = jobs.status(self._workspace, job_id)
        return EvaluationJob(
            id=job_id, name=job_id, status=job_status(status, detail=self._failure(jobs, job_id, status))
        )

    def evaluation_results(self, job_id: str) -> EvaluationResults:
        jobs = self.evaluations
        aggregate = parse_json(jobs.download(self._workspace, job_id, "aggregate-scores"), "aggregate-scores")
        try:
            rows = parse_rows(jobs.download(self._workspace, job_id, "row-scores"))
        except RemoteError:
            rows = None  # per-sample values are a bonus; the aggregate scores stand on their own
        return parse_results(aggregate, rows)

    def cancel_evaluation(self, job_id: str) -> None:
        _already_over_ok(lambda: self.evaluations.cancel(self._workspace, job_id))

    # --- inference ----------------------------------------------------------------------------------------------------

    def chat(
        self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        return self.gateway.chat(self._workspace, self._model_id(model), messages, tools)

    # --- housekeeping -------------------------------------------------------------------------------------------------

    def list_resources(self) -> list[RemoteResource]:
        """What flywheel created: deployments of configured NIMs, running flywheel customization jobs, flywheel
        evaluation jobs, `flywheel-*` filesets."""
        ws, caps = self._workspace, self._session.capabilities
        resources: list[RemoteResource] = []
        if caps.deployments:
            ours = {_deployment_name(nim) for nim in self._settings.nims}
            for dep in self.models.deployments(ws):
                if dep.get("name") in ours:
                    name = str(dep["name"])
                    resources.append(RemoteResource("deployment", f"{ws}/{name}", name, str(dep.get("status", ""))))
        jobs = self._customizations()
        for job in jobs.list(ws) if jobs is not None else []:
            fields = job.get("custom_fields") or {}
            if fields.get("flywheel") and not job_state(job.get("status")).terminal:
                resources.append(
                    RemoteResource("customization", str(job["name"]), str(fields.get("flywheel_name", job["name"])),
                                   str(job.get("status", "")))
                )
        if caps.evals_prefix is not None:
            for job in self.evaluations.list(ws):
                fields = job.get("custom_fields") or {}
                if fields.get("flywheel"):
                    labels = {k: str(v) for k, v in fields.items() if not k.startswith("_")}
                    resources.append(
                        RemoteResource("evaluation", str(job["name"]), str(fields.get("flywheel_name", job["name"])),
                                       str(job.get("status", "")), labels)
                    )
        for fileset in self.files.list_filesets(ws):
            name = str(fileset.get("name", ""))
            if name.startswith(FLYWHEEL_PREFIX):
                resources.append(RemoteResource("dataset", f"{ws}/{name}", name, "registered"))
        return resources

    def delete_resource(self, resource: RemoteResource) -> None:
        ws = self._workspace
        if resource.kind == "deployment":
            self.models.delete_deployment(ws, resource.id.rpartition("/")[2])
        elif resource.kind == "customization":
            self.cancel_customization(resource.id)
        elif resource.kind == "evaluation":
            # A running job may refuse deletion; stop it first.
            if resource.status and not job_state(resource.status).terminal:
                self.cancel_evaluation(resource.id)
            self.evaluations.delete(ws, resource.id)
        elif resource.kind == "dataset":
            self.delete_dataset(resource.name)
        elif resource.kind == "model":
            self.models.delete_model(ws, resource.id.rpartition("/")[2])
        else:
            raise ValueError(f"unknown resource kind {resource.kind!r}")

    # --- internals ----------------------------------------------------------------------------------------------------

    def _ensure_scoped(self) -> None:
        if not self._scoped:
            self.ensure_scope()

    def _served(self) -> dict[str, str]:
        """Gateway model id → the model name its provider serves it as (the id itself when no provider says)."""
        ws = self._workspace
        try:
            ids = self.gateway.model_ids(ws)
            providers = self.models.providers(ws)
        except NotFound:
            return {}  # no workspace yet: nothing is served in it
        served_as = {entity: model for p in providers for entity, model in p.served.items()}
        return {model_id: served_as.get(model_id, model_id) for model_id in ids}

    def _model_id(self, model: str, served: dict[str, str] | None = None) -> str:
        """The gateway id ("ws/entity") for a model flywheel names as configured (a NIM's model name)."""
        ws = self._workspace
        if served is None:
            served = self._served()
        if model in served:
            return model
        for model_id, served_as in served.items():
            if served_as == model:
                return model_id
        if model.startswith(f"{ws}/") and "/" not in model[len(ws) + 1 :]:
            return model
        try:
            # A provider that turned READY is routable a few seconds later; its mapping already names the entity.
            for provider in self.models.providers(ws):
                for entity, served_as in provider.served.items():
                    if served_as == model:
                        return entity
        except NotFound:
            pass
        return f"{ws}/{names.entity_name(model)}"

    def _judge_metric(self, request: EvaluationRequest, *, tool_calling: bool) -> dict[str, Any]:
        judge = request.judge
        if judge.kind == "local":
            model = metrics.JudgeModel(url=self.gateway.base_url(self._workspace), name=self._model_id(judge.model))
        else:
            url = (judge.url or "").rstrip("/")
            url = url.removesuffix("/chat/completions")
            secret = None
            key = judge.api_key()
            if key:
                self.entities.put_secret(self._workspace, JUDGE_SECRET, key, f"API key for the judge {judge.model}")
                secret = JUDGE_SECRET
            model = metrics.JudgeModel(url=url, name=judge.model, api_key_secret=secret)
        if tool_calling:
            return metrics.llm_judge(
                model, score="rating", minimum=0, maximum=1, pattern=r"RATING:\s*(\d+)",
                system=TOOL_CALL_RUBRIC, user=eval_rows.TOOL_CALL_JUDGE_PROMPT,
            )
        # `(\d+)`, not `(\d)`: a rating of 10 must read as ten.
        return metrics.llm_judge(
            model, score="similarity", minimum=1, maximum=10, pattern=r"(\d+)",
            system=SIMILARITY_RUBRIC, user=eval_rows.SIMILARITY_JUDGE_PROMPT,
        )

    def _failure(self, jobs: JobsClient, job_id: str, status: dict[str, Any]) -> str | None:
        """Why a failed job failed: the status says "Job exited with code 1"; the job's log says why."""
        if job_state(status.get("status")) is not JobState.FAILED:
            return None
        summary = ((status.get("error_details") or {}).get("message") or "").strip() or None
        try:
            cause = failure_from_logs(jobs.logs(self._workspace, job_id))
        except RemoteError:
            cause = None
        if summary and cause:
            return f"{summary}: {cause}"
        return cause or summary

    def _require_customizations(self) -> JobsClient:
        jobs = self._customizations()
        if jobs is None:
            raise _needs_gpus(f"the Helix server at {self._session.base_url} runs no customization service", None)
        return jobs

    def _customization(self, body: dict[str, Any]) -> CustomizationJob:
        name = str(body.get("name", ""))
        output = self._outputs.get(name) or self._output_of(body)
        self._outputs[name] = output
        return CustomizationJob(id=name, name=name, output_model=output, status=job_status(body))

    def _output_of(self, body: dict[str, Any]) -> str:
        output = ((body.get("spec") or {}).get("output") or {}).get("name")
        return f"{self._workspace}/{output}" if output else ""

    def _gpu_executors(self) -> bool:
        try:
            profiles = self._session.http.get("/apis/jobs/v2/execution-profiles")
        except RemoteError:
            return False
        return any(isinstance(p, dict) and p.get("provider") in GPU_PROVIDERS for p in profiles or [])

    def _provider_hint(self, nim: NimConfig) -> str:
        return (
            f"On a server without GPUs, serve {nim.model_name} elsewhere and register that OpenAI-compatible "
            f"endpoint as a provider in workspace {self._workspace!r} (see docs/helix.md); flywheel then "
            "evaluates it through the inference gateway."
        )


def _deployment_name(nim: NimConfig) -> str:
    return names.entity_name(nim.model_name)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def _detail(err: RemoteError) -> str:
    return err.detail if isinstance(err.detail, str) and err.detail else err.message


def _refused_for_hardware(err: RemoteError) -> bool:
    """A create refused because this server cannot run GPU work (not because the body is wrong: a schema error
    has a list of field errors as its detail)."""
    return (
        err.status_code in (400, 422, 501, 503)
        and isinstance(err.detail, str)
        and bool(_CANNOT_RUN.search(err.detail))
    )


def _needs_gpus(message: str, hint: str | None) -> StepFailed:
    return StepFailed(f"needs GPUs: {message}", hint=hint)


def _already_over_ok(cancel: Callable[[], None]) -> None:
    """Cancel, treating "no such job" (404) and "already finished" (409) as done."""
    try:
        cancel()
    except (NotFound, Conflict):
        return
