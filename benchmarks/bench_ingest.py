"""Ingest throughput: flywheel vs `sqlite-utils insert --nl` on the same 200,000-record file (baseline)."""

from __future__ import annotations

import os
import shutil
import sys

from benchmarks.common import BIN, OUT, measure, report, save
from benchmarks.gen_logs import write

N = int(os.environ.get("BENCH_INGEST_RECORDS", "200000"))


def main() -> dict:
    OUT.mkdir(exist_ok=True)
    logs = OUT / f"logs-{N}.jsonl"
    if not logs.exists():
        write(str(logs), N)
    work = OUT / "ingest"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    state = work / "state.db"
    fw = measure([str(BIN / "flywheel"), "--state", str(state), "-q", "ingest", str(logs)])
    baseline_db = work / "sqlite-utils.db"
    su = measure([str(BIN / "sqlite-utils"), "insert", str(baseline_db), "logs", str(logs), "--nl"])
    state_mb = sum(p.stat().st_size for p in work.glob("state.db*")) / 2**20
    su_mb = sum(p.stat().st_size for p in work.glob("sqlite-utils.db*")) / 2**20
    result = {
        "records": N,
        "file_mb": round(logs.stat().st_size / 2**20, 1),
        "flywheel": {"seconds": round(fw.seconds, 2), "records_per_s": round(N / fw.seconds), "peak_rss_mb": round(fw.peak_rss_mb, 1), "peak_rss_all_processes_mb": round(fw.peak_tree_rss_mb, 1), "db_mb": round(state_mb, 1)},
        "sqlite_utils": {"seconds": round(su.seconds, 2), "records_per_s": round(N / su.seconds), "peak_rss_mb": round(su.peak_rss_mb, 1), "db_mb": round(su_mb, 1)},
        "speedup": round(su.seconds / fw.seconds, 2),
    }
    report(
        f"ingest {N:,} records ({result['file_mb']} MB, ~10% duplicates)",
        [
            ("flywheel ingest", f"{fw.seconds:.2f} s  {N / fw.seconds:,.0f} rec/s  peak RSS {fw.peak_rss_mb:.0f} MB  state {state_mb:.0f} MB"),
            ("sqlite-utils insert --nl (baseline)", f"{su.seconds:.2f} s  {N / su.seconds:,.0f} rec/s  peak RSS {su.peak_rss_mb:.0f} MB  db {su_mb:.0f} MB"),
            ("throughput ratio (goal ≥ 4x)", f"{result['speedup']:.2f}x"),
            ("peak RSS (goal ≤ 150 MB)", f"{fw.peak_rss_mb:.0f} MB; with its parser process {fw.peak_tree_rss_mb:.0f} MB"),
        ],
    )
    save("ingest", result)
    shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
