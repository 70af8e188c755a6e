"""Dataset build on a 100,000-record tool-calling workload. Goal: ≤ 5 s, ≤ 300 MB peak RSS.

Baseline in the same run: only reading the workload's records back out of the same state file and parsing them
(sqlite3 + json.loads) — the floor any build must pay before curating anything.
"""

from __future__ import annotations

import shutil
import sys

from benchmarks.common import BIN, OUT, measure, report, save
from benchmarks.gen_logs import write

RECORDS = 124_000  # ~100,000 distinct records in the tool-calling workload "bench_router"

_READ_ONLY = (
    "import json, sqlite3, sys;"
    "c=sqlite3.connect(sys.argv[1]);"
    "n=sum(1 for (b,) in c.execute(\"SELECT body FROM records WHERE workload_id='bench_router' ORDER BY timestamp DESC\") if json.loads(b));"
    "print(n)"
)


def main() -> dict:
    OUT.mkdir(exist_ok=True)
    logs = OUT / f"logs-{RECORDS}.jsonl"
    if not logs.exists():
        write(str(logs), RECORDS)
    work = OUT / "datasets"
    shutil.rmtree(work, ignore_errors=True)
    state = work / "state.db"
    measure([str(BIN / "flywheel"), "--state", str(state), "-q", "ingest", str(logs)])
    baseline = measure([sys.executable, "-c", _READ_ONLY, str(state)])
    build = measure([str(BIN / "flywheel"), "--state", str(state), "-q", "datasets", "build", "--workload", "bench_router"])
    rebuild = measure([str(BIN / "flywheel"), "--state", str(state), "-q", "datasets", "build", "--workload", "bench_router"])
    result = {
        "workload_records": None,
        "build_seconds": round(build.seconds, 2),
        "build_peak_rss_mb": round(build.peak_rss_mb, 1),
        "rebuild_seconds": round(rebuild.seconds, 2),
        "baseline_read_parse_seconds": round(baseline.seconds, 2),
        "ratio_to_baseline": round(build.seconds / baseline.seconds, 2),
    }
    import sqlite3

    with sqlite3.connect(state) as conn:
        result["workload_records"] = conn.execute("SELECT COUNT(*) FROM records WHERE workload_id='bench_router'").fetchone()[0]
    report(
        f"datasets build, {result['workload_records']:,}-record tool-calling workload",
        [
            ("read + parse the records only (baseline)", f"{baseline.seconds:.2f} s  peak RSS {baseline.peak_rss_mb:.0f} MB"),
            ("flywheel datasets build", f"{build.seconds:.2f} s  peak RSS {build.peak_rss_mb:.0f} MB  (goal ≤ 5 s, ≤ 300 MB)"),
            ("same build again (no-op, same id)", f"{rebuild.seconds:.2f} s"),
            ("build / baseline", f"{result['ratio_to_baseline']}x"),
        ],
    )
    save("datasets", result)
    shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    main()
