"""Typed errors. Each carries the exit code the CLI maps it to (SPEC §2) and a message that says what to do next.

Nothing below the CLI prints or exits: code raises one of these and `flywheel_cli.cli` renders it.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # bad input, failed step
    USAGE = 2
    NO_CANDIDATE = 3  # --fail-if-no-candidate and nothing qualified
    REMOTE = 4  # NMP, Elasticsearch or the judge failed or is unreachable
    INTERRUPTED = 130


class FlywheelError(Exception):
    """Base of every foreseeable error. `str(err)` is the full user-facing message."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message}\n{hint}")


class UsageError(FlywheelError):
    """Flags or arguments that do not fit together."""

    exit_code = ExitCode.USAGE


class ConfigError(FlywheelError):
    """The configuration file or environment is invalid."""

    exit_code = ExitCode.USAGE


class InputError(FlywheelError):
    """Bad input data: log files, dataset contents, unknown ids."""


class NotFoundError(InputError):
    """A workload, dataset, run or model that the state file does not know."""


class StateError(FlywheelError):
    """The state file cannot be opened, is locked by another run, or is from a newer version."""


class StepFailed(FlywheelError):
    """A remote step ran and ended in failure (the remote detail is in the message)."""


class RemoteError(FlywheelError):
    """A remote service (NMP, Elasticsearch, judge, embeddings) failed or could not be reached."""

    exit_code = ExitCode.REMOTE

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status_code: int | None = None,
        detail: object = None,
        url: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.detail = detail
        self.url = url
        super().__init__(message, hint=hint)


class NoCandidate(FlywheelError):
    """`--fail-if-no-candidate` was given and no candidate qualified."""

    exit_code = ExitCode.NO_CANDIDATE


class Interrupted(FlywheelError):
    """Ctrl-C or SIGTERM: polling stopped, state recorded, run resumable."""

    exit_code = ExitCode.INTERRUPTED
