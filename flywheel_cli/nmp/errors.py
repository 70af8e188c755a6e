"""NMP-specific refinements of RemoteError, so callers can tell "absent" and "already there" from real failures."""

from __future__ import annotations

from flywheel_cli.errors import RemoteError


class NmpError(RemoteError):
    """An NMP service answered with an error status or could not be reached."""

    @property
    def ambiguous(self) -> bool:
        """True when the server may have acted on the request even though we saw a failure.

        A read timeout, a dropped connection or a 5xx after the body was sent leaves a POST's outcome unknown.
        Callers that start GPU work look the resource up before posting again.
        """
        return self.status_code is None or self.status_code >= 500


class NotFound(NmpError):
    """HTTP 404."""


class Conflict(NmpError):
    """HTTP 409: the resource exists already (or is being deleted)."""


class Unreachable(NmpError):
    """No HTTP answer: connection refused or dropped, or a timeout."""
