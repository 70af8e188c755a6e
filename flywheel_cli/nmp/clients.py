"""The NMP 25.x service clients, built from `[nmp]` settings: three hosts, one token env var each."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flywheel_cli.config import NmpConfig
from flywheel_cli.nmp.customizer import CustomizerClient
from flywheel_cli.nmp.datastore import DataStoreClient
from flywheel_cli.nmp.deployments import DeploymentsClient
from flywheel_cli.nmp.entity_store import EntityStoreClient
from flywheel_cli.nmp.evaluator import EvaluatorClient
from flywheel_cli.nmp.http import DEFAULT_ATTEMPTS, Redactor, ServiceClient
from flywheel_cli.nmp.proxy import NimProxyClient


@dataclass
class NmpClients:
    entity_store: EntityStoreClient
    datastore: DataStoreClient
    customizer: CustomizerClient
    evaluator: EvaluatorClient
    deployments: DeploymentsClient
    proxy: NimProxyClient
    nemo: ServiceClient  # the raw nemo host, for probes outside the service APIs

    @classmethod
    def from_config(
        cls,
        nmp: NmpConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = DEFAULT_ATTEMPTS,
        secrets: Iterable[str | None] = (),
    ) -> NmpClients:
        """`secrets` (and every bearer token) are blanked out of errors and answers of all the clients."""
        redact = Redactor(secrets)

        def client(service: str, base_url: str, setting: str, token_env: str) -> ServiceClient:
            return ServiceClient(
                service,
                base_url,
                setting=setting,
                token_env=token_env,
                timeout=nmp.timeout_seconds,
                attempts=attempts,
                sleep=sleep,
                redact=redact,
            )

        def nemo(service: str) -> ServiceClient:
            return client(service, nmp.nemo_url, "nmp.nemo_url", nmp.nemo_token_env)

        return cls(
            entity_store=EntityStoreClient(nemo("Entity Store")),
            datastore=DataStoreClient(
                client("Data Store", nmp.datastore_url, "nmp.datastore_url", nmp.datastore_token_env)
            ),
            customizer=CustomizerClient(nemo("Customizer")),
            evaluator=EvaluatorClient(nemo("Evaluator")),
            deployments=DeploymentsClient(nemo("Deployment Management")),
            proxy=NimProxyClient(client("NIM Proxy", nmp.nim_url, "nmp.nim_url", nmp.nim_token_env)),
            nemo=nemo("NMP"),
        )

    def close(self) -> None:
        for http in (
            self.entity_store.http,
            self.datastore.http,
            self.customizer.http,
            self.evaluator.http,
            self.deployments.http,
            self.proxy.http,
            self.nemo,
        ):
            http.close()
