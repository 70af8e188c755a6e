"""One connection to a Helix server: auth discovery, the bearer token, the API flavours, one HTTP client.

Everything is lazy: nothing is sent until the first call that needs the server, so building a platform object
(e.g. for `flywheel config show` or a dry run) never touches the network.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from flywheel_cli.errors import ConfigError
from flywheel_cli.helix.capabilities import Capabilities
from flywheel_cli.nmp.http import Redactor, ServiceClient

# Listing every route takes the server over a second on the first call (the document is ~600 KB).
DEFAULT_TIMEOUT = 60.0
SETTING = "platform.base_url"


class HelixSession:
    """The HTTP edge to one Helix server (the NMP client's retry and error policy, one base URL).

    Auth: `GET /apis/auth/discovery` says whether the server checks tokens. When it does, every request carries
    `Authorization: Bearer <token>` from the env var named `token_env`; when it does not, no token is sent at all.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token_env: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        secrets: Iterable[str | None] = (),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_env = token_env
        self._timeout = timeout
        self._sleep = sleep
        self.redact = Redactor(secrets)
        self._http: ServiceClient | None = None
        self._auth_enabled: bool | None = None
        self._capabilities: Capabilities | None = None

    def __repr__(self) -> str:
        return f"HelixSession({self.base_url!r})"

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    @property
    def http(self) -> ServiceClient:
        if self._http is None:
            self._http = self._connect()
        return self._http

    @property
    def auth_enabled(self) -> bool:
        self.http  # noqa: B018 - discovery happens on connect
        return bool(self._auth_enabled)

    @property
    def capabilities(self) -> Capabilities:
        if self._capabilities is None:
            self._capabilities = Capabilities.from_openapi(self.http.get("/openapi.json"))
        return self._capabilities

    def client(self, base_url: str, *, service: str, setting: str) -> ServiceClient:
        """A client for another host (a provider, a judge), with this session's retry policy and no token."""
        return ServiceClient(service, base_url, setting=setting, timeout=10.0, attempts=1, sleep=self._sleep)

    def _connect(self) -> ServiceClient:
        anonymous = ServiceClient(
            "helix", self.base_url, setting=SETTING, timeout=self._timeout, sleep=self._sleep, redact=self.redact
        )
        discovery = anonymous.get_or_none("/apis/auth/discovery")
        # A server without the discovery route predates it; send a token if one is configured and let it decide.
        enabled = discovery.get("auth_enabled") is True if isinstance(discovery, dict) else None
        self._auth_enabled = bool(enabled)
        token = os.environ.get(self.token_env) if self.token_env else None
        if enabled and not token:
            anonymous.close()
            raise ConfigError(
                f"the Helix server at {self.base_url} requires authentication and env {self.token_env} is not set",
                hint=f"Put a bearer token for it in {self.token_env} (e.g. from `nemo auth login`), "
                "or name another variable in [platform] token_env.",
            )
        if enabled is False or not token:
            return anonymous
        anonymous.close()
        return ServiceClient(
            "helix",
            self.base_url,
            setting=SETTING,
            token_env=self.token_env,
            timeout=self._timeout,
            sleep=self._sleep,
            redact=self.redact,
        )
