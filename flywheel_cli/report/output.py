"""Writing a rendered report to a file: whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flywheel_cli.errors import InputError


def write_atomic(path: Path, text: str) -> Path:
    """Write through a temporary file in the same directory and rename it over `path`, so a reader never sees half."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise InputError(f"cannot write the report to {path}: {exc.strerror or exc}") from None
    return path
