"""Check a `flywheel --json run` report made against Helix: the platform it names, the stages that ran, and the
scores, which must equal the scores of the same simulated answers computed here without Helix.

    python scripts/helix/check_run.py REPORT.json --state STATE.db --nim-url SANDBOX_NIM_URL
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "helix"))

from expected import expected_samples, mean  # noqa: E402

from flywheel_cli.datasets.build import dataset_dir  # noqa: E402
from flywheel_cli.datasets.formats import FILE_EVAL, FILE_ICL  # noqa: E402
from flywheel_cli.state.store import Store  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("report", type=Path)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--nim-url", required=True)
    args = parser.parse_args()
    report = json.loads(args.report.read_text())
    problems: list[str] = []

    def expect(condition: bool, what: str) -> None:
        print(f"  {'ok  ' if condition else 'FAIL'} {what}")
        if not condition:
            problems.append(what)

    expect(report.get("kind") == "report" and report.get("version") == 1, "a version-1 report")
    expect(report["platform"]["kind"] == "helix", f"platform is helix ({report['platform']['endpoint']})")
    expect(report["simulated"] is True, "scores are marked simulated (sandbox models)")
    store = Store(args.state)
    dataset = report["datasets"]["id"]
    directory = dataset_dir(store, dataset)
    limit = report["datasets"]["eval_records"]
    scores = {(s["nim"], s["experiment"], s["metric"]): s for s in report["scores"]}
    for nim in report["nims"]:
        model = nim["model_name"]
        for experiment, file in (("base", FILE_EVAL), ("icl", FILE_ICL)):
            expected = expected_samples((directory / file).read_bytes(), nim_url=args.nim_url, model=model, limit=limit)
            for metric, values in expected.items():
                got = scores.get((model, experiment, metric))
                want = mean(values)
                expect(got is not None and abs(got["value"] - want) < 1e-9 and got["count"] == len(values),
                       f"{model} {experiment} {metric} = {want:.4f}"
                       + ("" if got is None else f" (helix {got['value']:.4f}, n={got['count']})"))  # fmt: skip
        expect(not nim["failures"], f"{model}: no stage failed ({[f['stage'] for f in nim['failures']]})")
        steps = {s.stage: s for s in store.run(report["run"]["id"]).steps if s.nim == model}
        for stage in ("customize", "customized"):
            reason = (steps[stage].detail or {}).get("reason", "") if stage in steps else ""
            expect(steps.get(stage) is not None and steps[stage].status == "skipped" and "needs GPUs" in reason,
                   f"{model} {stage} is skipped because it needs GPUs ({reason[:80]})")  # fmt: skip
    print(f"check_run: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
