"""`flywheel run` end to end: 3 NIMs, 1,000 logged records, against the sandbox at two speeds.

flywheel runs as a subprocess against a sandbox served from this process, so its measured CPU time is its own.
Polling is configured as in production (first poll after 5 s, backing off to 30 s) in *simulated* seconds, i.e.
divided by the sandbox speed. Goals: requests per remote job stay about the same when jobs take 10x longer (the
polls follow the interval and its backoff, never a busy loop), and flywheel's CPU time is under 10 % of the wall time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from statistics import mean
from typing import Any

from benchmarks.common import BIN, OUT, measure, report, save
from benchmarks.gen_logs import write
from flywheel_cli.sandbox import Sandbox

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "flywheel.toml"  # the three candidate NIMs of `make demo`: 1B, 3B, 8B
RECORDS = 1000
WORKLOAD = "bench_router"
SPEEDS = (1000.0, 100.0)
POLL_S, MAX_POLL_S = 5.0, 30.0  # production defaults, in simulated seconds
JOB_KINDS = ("deployment", "customization", "evaluation")


def _job_requests(log: list[dict[str, Any]], speed: float) -> dict[str, list[dict[str, float]]]:
    """Per remote job: the GETs flywheel sent about it and the simulated seconds between the first and the last."""
    jobs = [(e["created"]["kind"], e["created"]["id"]) for e in log if e["created"] and e["created"]["kind"] in JOB_KINDS]
    out: dict[str, list[dict[str, float]]] = defaultdict(list)
    for kind, job_id in jobs:
        # Deployments are addressed by namespace/name, jobs by id (status, results and download all count).
        hits = [e for e in log if e["method"] == "GET" and (e["path"].endswith("/" + job_id) if kind == "deployment" else job_id in e["path"])]
        times = [datetime.fromisoformat(e["time"]).timestamp() for e in hits]
        span = (max(times) - min(times)) * speed if times else 0.0
        out[kind].append({"gets": len(hits), "sim_seconds": span})
    return out


def run_once(speed: float, logs: Path, work: Path) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with Sandbox(port=0, speed=speed, seed=42) as sb:
        env = {
            "FLYWHEEL_NMP__NEMO_URL": sb.url,
            "FLYWHEEL_NMP__DATASTORE_URL": sb.url,
            "FLYWHEEL_NMP__NIM_URL": sb.nim_url,
            "FLYWHEEL_TIMEOUTS__POLL_INTERVAL": str(POLL_S / speed),
            "FLYWHEEL_TIMEOUTS__MAX_POLL_INTERVAL": str(MAX_POLL_S / speed),
            "NO_COLOR": "1",
        }
        cmd = [str(BIN / "flywheel"), "--state", str(work / "state.db"), "--config", str(CONFIG), "-q",
               "run", "--workload", WORKLOAD, "--logs", str(logs)]
        m = measure(cmd, env=env, cwd=work)
        log = [e for e in sb.request_log() if not e["internal"]]
    per_job = _job_requests(log, speed)
    jobs = {
        kind: {
            "count": len(rows),
            "gets_per_job": round(mean(r["gets"] for r in rows), 1),
            "max_gets": max(r["gets"] for r in rows),
            "mean_sim_seconds": round(mean(r["sim_seconds"] for r in rows)),
            # The effective poll interval in simulated seconds: the policy keeps it between 5 and 30.
            "sim_seconds_between_gets": round(sum(r["sim_seconds"] for r in rows) / sum(max(1, r["gets"] - 1) for r in rows), 1),
        }
        for kind, rows in per_job.items()
    }
    served_polls = sum(1 for e in log if e["method"] == "GET" and e["path"].endswith("/v1/models"))
    return {
        "speed": speed,
        "wall_seconds": round(m.seconds, 2),
        "cpu_seconds": round(m.cpu_seconds, 2),
        "cpu_share": round(m.cpu_seconds / m.seconds, 3),
        "peak_rss_mb": round(m.peak_rss_mb, 1),
        "requests": len(log),
        "gets": sum(1 for e in log if e["method"] == "GET"),
        "served_model_polls": served_polls,
        "jobs": jobs,
    }


def main() -> dict[str, Any]:
    OUT.mkdir(exist_ok=True)
    logs = OUT / f"run-logs-{RECORDS}.jsonl"
    if not logs.exists():
        write(str(logs), RECORDS)
    plan = json.loads(subprocess.run(
        [str(BIN / "flywheel"), "--state", str(OUT / "run-plan.db"), "--config", str(CONFIG), "--json", "run",
         "--workload", WORKLOAD, "--logs", str(logs), "--dry-run"],
        capture_output=True, text=True, check=True,
    ).stdout)
    results = [run_once(speed, logs, OUT / "run") for speed in SPEEDS]
    shutil.rmtree(OUT / "run", ignore_errors=True)
    fast, slow = results
    growth = {k: round(slow["jobs"][k]["gets_per_job"] / fast["jobs"][k]["gets_per_job"], 2) for k in JOB_KINDS}
    result = {
        "records": RECORDS,
        "workload": WORKLOAD,
        "splits": plan["splits"],  # what the workload kept after curation (duplicates, other workload) and split
        "nims": 3,
        "poll": {"interval_sim_s": POLL_S, "max_interval_sim_s": MAX_POLL_S},
        "runs": results,
        "gets_per_job_growth": growth,
    }
    rows = []
    for r in results:
        rows.append((f"{r['speed']:g}x: wall / flywheel CPU (goal CPU < 10 % of wall)",
                     f"{r['wall_seconds']:.1f} s / {r['cpu_seconds']:.2f} s = {100 * r['cpu_share']:.1f} %  peak RSS {r['peak_rss_mb']:.0f} MB"))
        per_kind = "  ".join(
            f"{k} {j['gets_per_job']:g} (max {j['max_gets']}; job ~{j['mean_sim_seconds']} sim s, a GET every "
            f"{j['sim_seconds_between_gets']:g} sim s)"
            for k, j in sorted(r["jobs"].items())
        )
        rows.append((f"{r['speed']:g}x: GETs per remote job", per_kind))
        rows.append((f"{r['speed']:g}x: requests", f"{r['requests']} ({r['gets']} GETs, {r['served_model_polls']} model-list polls)"))
    rows.append(("GETs per job, 100x ÷ 1000x (goal ≈ 1: no busy-wait)", "  ".join(f"{k} {v:g}" for k, v in growth.items())))
    splits = ", ".join(f"{k} {v}" for k, v in plan["splits"].items())
    report(f"run: {RECORDS:,} records ({splits}), 3 NIMs, sandbox at {' and '.join(f'{s:g}x' for s in SPEEDS)}", rows)
    save("run", result)
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
