"""Line reader for JSONL log files: plain, gzip or stdin, with line numbers and byte progress."""

from __future__ import annotations

import glob
import gzip
import os
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flywheel_cli.errors import InputError

STDIN = "-"


@dataclass(frozen=True)
class Line:
    source: str
    number: int | None  # 1-based; None for sources without lines (Elasticsearch)
    raw: bytes  # without the line ending


def expand_paths(patterns: list[str]) -> list[str]:
    """Paths and globs (quoted globs are expanded here, not only by the shell). Missing paths are an error up front."""
    out: list[str] = []
    missing: list[str] = []
    for pattern in patterns:
        if pattern == STDIN:
            out.append(pattern)
            continue
        if any(ch in pattern for ch in "*?["):
            matches = sorted(glob.glob(pattern, recursive=True))
            if not matches:
                missing.append(pattern)
            out.extend(m for m in matches if os.path.isfile(m))
        elif os.path.isdir(pattern):
            raise InputError(f"{pattern} is a directory", hint=f"Pass its files, e.g. '{pattern}/*.jsonl'.")
        elif not os.path.exists(pattern):
            missing.append(pattern)
        else:
            out.append(pattern)
    if missing:
        raise InputError(f"no such file: {', '.join(missing)}", hint="Nothing was ingested. Check the paths and globs.")
    if out.count(STDIN) > 1:
        raise InputError("'-' (stdin) can be given only once")
    return out


def total_bytes(paths: list[str]) -> int | None:
    if STDIN in paths:
        return None
    return sum(Path(p).stat().st_size for p in paths)


def iter_lines(path: str, on_bytes: Callable[[int], None] | None = None) -> Iterator[Line]:
    """Yield every non-blank line. `on_bytes(n)` reports bytes consumed from disk (compressed bytes for .gz)."""
    source = "<stdin>" if path == STDIN else path
    if path == STDIN:
        yield from _lines(source, sys.stdin.buffer, None, None)
        return
    raw = open(path, "rb")  # noqa: SIM115 - closed below; gzip wraps it
    try:
        stream: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb") if path.endswith(".gz") else raw
        yield from _lines(source, stream, raw, on_bytes)
    finally:
        raw.close()


def _lines(source: str, stream: BinaryIO, raw: BinaryIO | None, on_bytes: Callable[[int], None] | None) -> Iterator[Line]:
    number = 0
    last_pos = 0
    try:
        for chunk in stream:
            number += 1
            if on_bytes is not None and raw is not None:
                pos = raw.tell()
                if pos != last_pos:
                    on_bytes(pos - last_pos)
                    last_pos = pos
            line = chunk.rstrip(b"\r\n")
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]  # a UTF-8 byte-order mark from Windows editors
            if not line.strip():
                continue
            yield Line(source, number, line)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(
            f"{source}: cannot read past line {number}: {exc}",
            hint="The lines before it were ingested; repair or re-export the file and ingest it again (nothing is duplicated).",
        ) from None
