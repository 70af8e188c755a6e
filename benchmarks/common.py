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

_PROBE = r"""
import os, resource, subprocess, sys, threading, time

def tree_rss_kb(root):
    # Sum of VmRSS over `root` and its descendants, from /proc (Linux); 0 where /proc is missing.
    kids, total = {}, 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    kids.setdefault(int(fh.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
            except OSError:
                pass
    todo = [root]
    while todo:
        pid = todo.pop()
        todo += kids.get(pid, [])
        try:
            with open(f"/proc/{pid}/status") as fh:
                total += next((int(l.split()[1]) for l in fh if l.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return total

t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
peak = [0]
def sample():
    while p.poll() is None:
        peak[0] = max(peak[0], tree_rss_kb(p.pid))
        time.sleep(0.05)
threading.Thread(target=sample, daemon=True).start()
err = p.communicate()[1]
w = time.perf_counter() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.write(err.decode()[-2000:]) if p.returncode else None
print(p.returncode, w, r.ru_maxrss, r.ru_utime + r.ru_stime, peak[0])
"""


@dataclass
class Measure:
    seconds: float
    peak_rss_mb: float  # the largest single process
    cpu_seconds: float
    peak_tree_rss_mb: float = 0.0  # all its processes together, sampled every 50 ms (Linux; 0 elsewhere)


def measure(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Measure:
    """Run `cmd` in a fresh child process; its wall time, peak RSS (MB, one process and all together) and CPU time."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *cmd], capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd
    )
    parts = out.stdout.split()
    if out.returncode != 0 or not parts or parts[0] != "0":
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{out.stderr}")
    return Measure(float(parts[1]), int(parts[2]) / 1024, float(parts[3]), int(parts[4]) / 1024)


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
