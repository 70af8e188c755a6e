"""Measuring helpers: wall time and peak RSS of a command run in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
BIN = Path(sys.executable).parent

_PROBE = (
    "import resource, subprocess, sys, time;"
    "t=time.perf_counter(); p=subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE);"
    "w=time.perf_counter()-t; r=resource.getrusage(resource.RUSAGE_CHILDREN);"
    "sys.stderr.write(p.stderr.decode()[-2000:]) if p.returncode else None;"
    "print(p.returncode, w, r.ru_maxrss, r.ru_utime + r.ru_stime)"
)


@dataclass
class Measure:
    seconds: float
    peak_rss_mb: float
    cpu_seconds: float


def measure(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Measure:
    """Run `cmd` in a fresh child process; its wall time, peak RSS (MB) and CPU time."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *cmd], capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd
    )
    parts = out.stdout.split()
    if out.returncode != 0 or not parts or parts[0] != "0":
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{out.stderr}")
    return Measure(float(parts[1]), int(parts[2]) / 1024, float(parts[3]))


def best_of(n: int, cmd: list[str], **kw) -> Measure:
    runs = [measure(cmd, **kw) for _ in range(n)]
    return min(runs, key=lambda m: m.seconds)


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n## {title}")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


def save(name: str, data: dict) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(data, indent=2))


def timer() -> float:
    return time.perf_counter()
