"""The Platform implementation for the NeMo Microservices Platform 25.x (`/v1` APIs).

Everything NMP-specific stays here and in `flywheel_cli.nmp`: namespaces and projects, `hf://` dataset URLs,
customization config discovery, Evaluator payloads and score names, DMS deployment names.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from flywheel_cli.config import NimConfig, Settings, TrainingConfig
from flywheel_cli.errors import ConfigError
from flywheel_cli.nmp import NmpClients
from flywheel_cli.nmp.customizer import (
    CustomizationConfigInfo,
    CustomizationJobInfo,
    config_body,
    config_name,
    job_body,
)
from flywheel_cli.nmp.deployments import deployment_body
from flywheel_cli.nmp.errors import Conflict, NmpError, NotFound
from flywheel_cli.nmp.eval_config import evaluation_job
from flywheel_cli.nmp.eval_results import parse_results
from flywheel_cli.nmp.evaluator import EvaluationJobInfo
from flywheel_cli.nmp.statuses import job_state
from flywheel_cli.platforms.base import (
    CustomizationJob,
    CustomizationRequest,
    DatasetRef,
    DeploymentStatus,
    EvaluationJob,
    EvaluationRequest,
    EvaluationResults,
    RemoteResource,
)

FLYWHEEL_PREFIX = "flywheel-"


class NmpPlatform:
    """NMP 25.x behind the neutral Platform interface. Every method raises RemoteError (NmpError) on failure."""

    kind = "nmp"
    capabilities = frozenset({"evaluate", "customize", "deploy"})

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._settings = settings
        self._namespace = settings.nmp.namespace
        self._project = settings.nmp.project
        # The judge key travels in evaluation payloads; a server echoing it back must not get it into our output.
        self._clients = NmpClients.from_config(settings.nmp, sleep=sleep, secrets=(settings.judge.api_key(),))
        self._scoped = False
        self._simulated: bool | None = None
        self._config_refs: dict[tuple[str, str, str], str] = {}

    def __repr__(self) -> str:
        return f"NmpPlatform(nemo_url={self._settings.nmp.nemo_url!r}, namespace={self._namespace!r})"

    def __enter__(self) -> NmpPlatform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def clients(self) -> NmpClients:
        return self._clients

    @property
    def simulated(self) -> bool:
        """True when nemo_url is the bundled sandbox (probed once, lazily; any failure means False)."""
        if self._simulated is None:
            info = self._clients.nemo.probe("/_sandbox/info")
            self._simulated = isinstance(info, dict) and info.get("sandbox") is True
        return self._simulated

    def close(self) -> None:
        self._clients.close()

    # --- scopes and data ----------------------------------------------------------------------------------------------

    def ensure_scope(self) -> None:
        """Entity Store namespace and project, Data Store namespace; all idempotent."""
        self._clients.entity_store.ensure_namespace(self._namespace)
        self._clients.entity_store.ensure_project(self._namespace, self._project)
        self._clients.datastore.ensure_namespace(self._namespace)
        self._scoped = True

    def upload_dataset(self, kind: Literal["eval", "icl", "train"], name: str, files: dict[str, bytes]) -> DatasetRef:
        """Put `files` (repo path → content) in dataset repo `{namespace}/{name}` and register it.

        Uploading content the repo already holds commits nothing.
        """
        self._ensure_scoped()
        store, ns = self._clients.datastore, self._namespace
        existing = store.repo_files(ns, name)
        if existing is None:
            store.create_repo(ns, name)
        if existing is None or not store.unchanged(ns, name, files, existing):
            store.upload(ns, name, files, summary=f"flywheel {kind} dataset {name}")
        uri = self._dataset_uri(name)
        self._clients.entity_store.upsert_dataset(ns, name, files_url=uri, project=self._project)
        return DatasetRef(kind=kind, name=name, uri=uri)

    def delete_dataset(self, name: str) -> None:
        self._clients.datastore.delete_repo(self._namespace, name)
        self._clients.entity_store.delete_dataset(self._namespace, name)

    # --- deployments --------------------------------------------------------------------------------------------------

    def get_deployment(self, nim: NimConfig) -> DeploymentStatus | None:
        info = self._clients.deployments.get(self._namespace, nim.deployment_name)
        return info.status if info is not None else None

    def deploy(self, nim: NimConfig) -> DeploymentStatus:
        """Deploy a NIM unless a deployment of that name exists; either way return its status as it is now."""
        self._ensure_scoped()
        existing = self._clients.deployments.get(self._namespace, nim.deployment_name)
        if existing is not None:
            return existing.status
        return self._clients.deployments.create(deployment_body(nim, self._namespace)).status

    def undeploy(self, nim: NimConfig) -> None:
        self._clients.deployments.delete(self._namespace, nim.deployment_name)

    def served_models(self) -> set[str]:
        return set(self._clients.proxy.model_ids())

    # --- customization ------------------------------------------------------------------------------------------------

    def find_customization(self, name: str) -> CustomizationJob | None:
        info = self._clients.customizer.find_job(name)
        return _customization(info) if info is not None else None

    def start_customization(self, request: CustomizationRequest) -> CustomizationJob:
        self._ensure_scoped()
        body = job_body(
            name=request.name,
            namespace=self._namespace,
            config=self.customization_config(request.nim, request.training),
            dataset=request.dataset.name,
            output_model_name=request.output_model_name,
            training=request.training,
        )
        info = self._clients.customizer.create_job(body)
        return _customization(info, requested_output=body["output_model"])

    def get_customization(self, job_id: str) -> CustomizationJob:
        return _customization(self._clients.customizer.get_job(job_id))

    def cancel_customization(self, job_id: str) -> None:
        _already_over_ok(lambda: self._clients.customizer.cancel_job(job_id))

    def customization_config(self, nim: NimConfig, training: TrainingConfig) -> str:
        """The "ns/name@version" config to train `nim` with: the configured one, a discovered one, or a new one.

        Config names carry a GPU or memory suffix that differs per cluster and release, so they are looked up,
        never guessed.
        """
        options = nim.customization
        if options.config:
            return options.config
        key = (nim.model_name, training.training_type, training.finetuning_type)
        if key in self._config_refs:
            return self._config_refs[key]
        base_model = (options.target or nim.model_name).split("@", 1)[0]
        candidates = [
            cfg
            for cfg in self._clients.customizer.list_configs(target_base_model=base_model)
            if cfg.offers(training.training_type, training.finetuning_type)
            and _targets(cfg, options.target, base_model)
        ]
        exact = [cfg for cfg in candidates if options.target and cfg.target == options.target]
        if exact or candidates:
            ref = (exact or candidates)[0].ref
        elif options.target:
            name = config_name(nim.model_name)
            self._clients.customizer.create_config(
                config_body(
                    name=name, namespace=self._namespace, target=options.target, options=options, training=training
                )
            )
            ref = f"{self._namespace}/{name}"
        else:
            raise ConfigError(
                f"NMP has no customization config for {nim.model_name} and none can be created without a target",
                hint=f"Set customization.target (e.g. '{nim.model_name}@2.0') or customization.config "
                f"for {nim.model_name} in the [[nims]] entry.",
            )
        self._config_refs[key] = ref
        return ref

    # --- evaluation ---------------------------------------------------------------------------------------------------

    def find_evaluation(self, name: str) -> EvaluationJob | None:
        info = self._clients.evaluator.find_job(self._namespace, name)
        return _evaluation(info) if info is not None else None

    def start_evaluation(self, request: EvaluationRequest) -> EvaluationJob:
        self._ensure_scoped()
        payload = evaluation_job(
            name=request.name,
            namespace=self._namespace,
            project=self._project,
            workload_type=request.workload_type,
            dataset_uri=request.dataset.uri,
            limit=request.limit,
            target_model=request.target_model,
            judge=request.judge,
            labels=request.labels,
        )
        info = self._clients.evaluator.create_job(payload.body, secrets=payload.secrets)
        return EvaluationJob(id=info.id, name=request.name, status=info.status)

    def get_evaluation(self, job_id: str) -> EvaluationJob:
        return _evaluation(self._clients.evaluator.get_job(job_id))

    def evaluation_results(self, job_id: str) -> EvaluationResults:
        evaluator = self._clients.evaluator
        aggregate = evaluator.results(job_id)
        try:
            archive = evaluator.download_results(job_id)
        except NmpError:
            archive = None  # per-sample values are a bonus; the aggregate scores stand on their own
        return parse_results(aggregate, archive)

    def cancel_evaluation(self, job_id: str) -> None:
        _already_over_ok(lambda: self._clients.evaluator.cancel_job(job_id))

    # --- inference ----------------------------------------------------------------------------------------------------

    def chat(
        self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        return self._clients.proxy.chat(model, messages, tools)

    def embed(self, model: str, inputs: list[str]) -> list[list[float]]:
        return self._clients.proxy.embed(model, inputs, input_type="query")

    # --- housekeeping -------------------------------------------------------------------------------------------------

    def list_resources(self) -> list[RemoteResource]:
        """What flywheel created: deployments of configured NIMs (or labelled), `flywheel-*` customization jobs
        (running ones as jobs, finished ones as their output models), labelled evaluation jobs, `flywheel-*`
        datasets."""
        ns = self._namespace
        clients = self._clients
        resources: list[RemoteResource] = []
        ours = {nim.deployment_name for nim in self._settings.nims}
        if self._settings.judge.kind == "local":
            ours.add(self._settings.judge.model.replace("/", "-"))
        for dep in clients.deployments.list_deployments(ns):
            if dep.name in ours or dep.custom_fields.get("flywheel"):
                resources.append(
                    RemoteResource("deployment", f"{dep.namespace or ns}/{dep.name}", dep.name, dep.status.raw_status)
                )
        finished_outputs: dict[str, CustomizationJobInfo] = {}
        for job in clients.customizer.list_jobs():
            if not job.name.startswith(FLYWHEEL_PREFIX):
                continue
            if not job.status.state.terminal:
                resources.append(RemoteResource("customization", job.id, job.name, job.status.raw_status))
            elif job.output_model:
                finished_outputs[job.output_model] = job
        if finished_outputs:
            for model in clients.entity_store.list_models(ns):
                model_id = f"{model.get('namespace') or ns}/{model.get('name')}"
                job = finished_outputs.get(model_id)
                if job is not None:
                    labels = {"customization": job.name, "job_id": job.id}
                    resources.append(RemoteResource("model", model_id, model_id, "registered", labels))
        for ev in clients.evaluator.list_jobs(ns):
            if ev.custom_fields.get("flywheel"):
                labels = {k: str(v) for k, v in ev.custom_fields.items()}
                resources.append(RemoteResource("evaluation", ev.id, ev.name, ev.status.raw_status, labels))
        for dataset in clients.entity_store.list_datasets(ns):
            if dataset.name.startswith(FLYWHEEL_PREFIX):
                resources.append(RemoteResource("dataset", f"{ns}/{dataset.name}", dataset.name, "registered"))
        return resources

    def delete_resource(self, resource: RemoteResource) -> None:
        clients = self._clients
        if resource.kind == "deployment":
            namespace, _, name = resource.id.rpartition("/")
            clients.deployments.delete(namespace or self._namespace, name)
        elif resource.kind == "customization":
            self.cancel_customization(resource.id)
        elif resource.kind == "evaluation":
            # A running job may refuse deletion; stop it first.
            if resource.status and not job_state(resource.status).terminal:
                self.cancel_evaluation(resource.id)
            clients.evaluator.delete_job(resource.id)
        elif resource.kind == "dataset":
            self.delete_dataset(resource.name)
        elif resource.kind == "model":
            clients.entity_store.delete_model(resource.id)
        else:
            raise ValueError(f"unknown resource kind {resource.kind!r}")

    # --- internals ----------------------------------------------------------------------------------------------------

    def _ensure_scoped(self) -> None:
        if not self._scoped:
            self.ensure_scope()

    def _dataset_uri(self, name: str) -> str:
        return f"hf://datasets/{self._namespace}/{name}"


def _customization(info: CustomizationJobInfo, *, requested_output: str = "") -> CustomizationJob:
    # The platform's `output_model` is authoritative (it may append a version); the requested name only fills a gap.
    return CustomizationJob(
        id=info.id, name=info.name, output_model=info.output_model or requested_output, status=info.status
    )


def _evaluation(info: EvaluationJobInfo) -> EvaluationJob:
    return EvaluationJob(id=info.id, name=info.name, status=info.status)


def _targets(cfg: CustomizationConfigInfo, target: str | None, base_model: str) -> bool:
    """Whether a config trains `target` (or, with no target configured, some version of `base_model`)."""
    if target and cfg.target == target:
        return True
    if cfg.base_model == base_model:
        return True
    return cfg.target is not None and cfg.target.split("@", 1)[0] == base_model


def _already_over_ok(cancel: Callable[[], None]) -> None:
    """Cancel, treating "no such job" (404) and "already finished" (409) as done."""
    try:
        cancel()
    except (NotFound, Conflict):
        return
