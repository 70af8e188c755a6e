"""How a run ends when not everything goes well: a NIM that cannot deploy, no candidate good enough."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline_env import (
    EXPERIMENTS,
    NIM_1B,
    NIM_8B,
    Flywheel,
    creates,
    run_args,
    sandbox_env,
    write_config,
)

from flywheel_cli.sandbox import Sandbox


def test_a_failed_deployment_leaves_the_other_nims_results_and_the_run_partial(tmp_path: Path) -> None:
    with Sandbox(speed=1000, seed=42) as sb:
        fw = Flywheel(tmp_path / "state.db", write_config(tmp_path / "flywheel.toml", [(NIM_1B, "fail"), (NIM_8B, "1.8.3")]), sandbox_env(sb))
        done = fw.run("--json", *run_args())

        assert done.returncode == 1, done.stderr
        report = json.loads(done.stdout)
        run_id = report["run"]["id"]
        assert report["run"]["status"] == "partial"
        assert f"error: run {run_id} is partial: 1 step(s) failed" in done.stderr
        assert f"{NIM_1B} deploy failed: deployment of {NIM_1B} failed: " in done.stderr
        run = fw.json("runs", "show", run_id)["run"]
        steps = {(s["nim"], s["stage"]): s for s in run["steps"]}
        assert steps[(NIM_1B, "deploy")]["status"] == "failed"
        for stage in ("base", "icl", "customize", "customized"):
            assert (steps[(NIM_1B, stage)]["status"], steps[(NIM_1B, stage)]["detail"]) == (
                "skipped", {"reason": "the deployment failed"}
            )
        assert [steps[(NIM_8B, s)]["status"] for s in ("deploy", "base", "icl", "customize", "customized", "teardown")] == [
            "completed"
        ] * 6
        assert run["error"].startswith(f"{NIM_1B} deploy: deployment of {NIM_1B} failed")
        # The 8B results are all there, scored.
        eight = [e for e in report["experiments"] if e["nim"] == NIM_8B]
        assert [(e["experiment"], e["status"]) for e in eight] == [(exp, "completed") for exp in EXPERIMENTS]
        assert {(s["nim"], s["experiment"]) for s in report["scores"]} == {(NIM_8B, exp) for exp in EXPERIMENTS}
        one = [e for e in report["experiments"] if e["nim"] == NIM_1B]
        assert [(e["experiment"], e["failed_stage"]) for e in one] == [(exp, "deploy") for exp in EXPERIMENTS]
        assert creates(sb) == {"deployment": 2, "customization": 1, "evaluation": 3}
        # The failed deployment still held its slot: the teardown removed it too.
        assert (steps[(NIM_1B, "teardown")]["status"], steps[(NIM_1B, "teardown")]["detail"]) == (
            "completed", {"deployment": "meta-llama-3.2-1b-instruct"}
        )
        assert sb.state_summary()["deployments"] == []

        # Fixed in the config, the same command retries what failed and runs what was skipped because of it.
        write_config(fw.config, [(NIM_1B, "1.8.3"), (NIM_8B, "1.8.3")])
        again = fw.run("--json", *run_args())

        assert again.returncode == 0, again.stderr
        assert f"resuming {run_id} (partial)" in again.stderr
        final = json.loads(again.stdout)
        assert (final["run"]["id"], final["run"]["status"], final["run"]["error"]) == (run_id, "completed", None)
        assert [(e["nim"], e["experiment"], e["status"]) for e in final["experiments"]] == [
            (nim, exp, "completed") for nim in (NIM_1B, NIM_8B) for exp in EXPERIMENTS
        ]
        # Only the 1B work was done again; the 8B results are the ones from the first pass.
        assert creates(sb) == {"deployment": 3, "customization": 2, "evaluation": 6}
        assert [s for s in final["scores"] if s["nim"] == NIM_8B] == [s for s in report["scores"] if s["nim"] == NIM_8B]
        assert sb.state_summary()["deployments"] == []


def test_fail_if_no_candidate_exits_3_when_the_threshold_is_above_every_candidate(tmp_path: Path) -> None:
    with Sandbox(speed=1000, seed=42) as sb:
        fw = Flywheel(tmp_path / "state.db", write_config(tmp_path / "flywheel.toml", [(NIM_1B, "1.8.3")]), sandbox_env(sb))
        done = fw.run(*run_args("--fail-if-no-candidate"), env={"FLYWHEEL_REPORT__MIN_RELATIVE_SCORE": "2"})

    assert done.returncode == 3, done.stderr
    assert "error: no candidate qualified: " in done.stderr
    run = fw.json("runs", "list")["runs"][0]
    assert run["status"] == "completed"  # the run itself went well; only the verdict is no
    verdict = next(line for line in done.stdout.splitlines() if line.startswith("verdict: "))
    assert verdict.startswith(f"verdict: no candidate qualified: the best candidate, {NIM_1B} (customized), ")
    assert verdict.endswith("(a candidate needs ≥ 200.0% of the reference on function_name_accuracy)")
    assert done.stderr.rstrip().endswith("reference on function_name_accuracy)")
