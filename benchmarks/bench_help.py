"""Start-up cost: `flywheel --help` vs a minimal Typer app's --help (baseline). Goal: ≤ 1.2x."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.common import BIN, best_of, report, save

RUNS = 15


def main() -> dict:
    minimal = Path(__file__).with_name("minimal_typer_app.py")
    base = best_of(RUNS, [sys.executable, str(minimal), "--help"])
    ours = best_of(RUNS, [str(BIN / "flywheel"), "--help"])
    sub = best_of(RUNS, [str(BIN / "flywheel"), "run", "--help"])
    result = {
        "minimal_typer_ms": round(base.seconds * 1000, 1),
        "flywheel_help_ms": round(ours.seconds * 1000, 1),
        "flywheel_run_help_ms": round(sub.seconds * 1000, 1),
        "ratio": round(ours.seconds / base.seconds, 2),
    }
    report(
        f"start-up (best of {RUNS})",
        [
            ("minimal Typer app --help (baseline)", f"{result['minimal_typer_ms']} ms"),
            ("flywheel --help", f"{result['flywheel_help_ms']} ms"),
            ("flywheel run --help", f"{result['flywheel_run_help_ms']} ms"),
            ("ratio (goal ≤ 1.2x)", f"{result['ratio']}x"),
        ],
    )
    save("help", result)
    return result


if __name__ == "__main__":
    main()
