"""Reliability scenarios: markers, the results ledger, and the table printed (and written) when the session ends.

Every test here carries `@pytest.mark.scenario("<key>")`. A test may record how many independent trials it ran
(`record_property("trials", n)`, e.g. one per kill moment or per kind of bad line); otherwise it counts as one.
`record_property("note", text)` adds a line under the table (what a trial saw: faults injected, a resume).
The table is printed at the end of the session and written as Markdown to benchmarks/out/reliability.md (the full
`make reliability` selection) or benchmarks/out/reliability-quick.md (the fast subset that `make test` runs).

Tests marked `reliability` are the long trials: they run only when selected with `-m reliability`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reliability_harness import EXAMPLES, FILLER_RECORDS, Flywheel, comparable, filler_logs, sandbox

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "benchmarks" / "out"

SCENARIOS: dict[str, tuple[str, str]] = {
    "faults": (
        "1. remote faults",
        "5xx, timeouts, dropped connections and slow answers on every endpoint (rate 0.2, 0.5): the run completes, "
        "or exits 4 and resumes once faults stop, with the fault-free report; no deployment, customization or "
        "evaluation job launched twice; nothing left deployed",
    ),
    "crashes": (
        "2. crashes",
        "kill -9 of `flywheel run` at seeded moments in ingest, datasets, upload, deployment (after the create, while "
        "waiting), customization, evaluation and teardown; the same command resumes to the uninterrupted report; no "
        "remote job twice; no deployment left (`/_sandbox/state`)",
    ),
    "bad input": (
        "3. bad input",
        "malformed log lines mixed into good ones: each reported with its line number and reason and kept whole in "
        "the rejects file, every good line ingested; bad configs and bad flags: exit 2 with one clear message; "
        "never a traceback",
    ),
    "concurrency": (
        "4. concurrency",
        "a second `flywheel run` on the same state file is refused with a clear message; `ingest` during a run; "
        "`report` during a run is a consistent snapshot; `cleanup` during a run leaves the run's resources alone",
    ),
    "secrets": (
        "5. secrets",
        "planted values in every secret env var (judge key sent to a remote judge, NMP/HF/NIM tokens, embedding and "
        "Elasticsearch credentials): zero hits in stdout, stderr, --json, reports, logs, rejects and every byte of "
        "the state file and its WAL",
    ),
    "teardown": (
        "6. teardown",
        "after failed, cancelled and interrupted runs, `flywheel cleanup` lists every leftover the sandbox holds and "
        "`--yes` removes them; the sandbox confirms none remain",
    ),
    "regressions": (
        "regressions",
        "one minimal test per bug these scenarios found; each failed before its fix and keeps the bug from coming back",
    ),
}


@dataclass
class Tally:
    tests: int = 0
    tests_passed: int = 0
    trials: int = 0
    trials_passed: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_tally: dict[str, Tally] = {}
_selection = {"long": False}


@pytest.fixture(scope="session")
def filler(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Records of another workload, enough to make `ingest` last long enough to be killed in."""
    return filler_logs(tmp_path_factory.mktemp("filler") / "filler.jsonl", FILLER_RECORDS)


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., dict[str, Any]]:
    """`reference(nims=N)`: the comparable report of an uninterrupted, fault-free run on the examples (computed once).

    Scores depend on the records, the config and the sandbox's model seed, not on its speed, so one reference serves
    every scenario whatever speed its trials run at.
    """
    cache: dict[int, dict[str, Any]] = {}

    def get(*, nims: int) -> dict[str, Any]:
        if nims not in cache:
            with sandbox(1000.0) as sb:
                fw = Flywheel(tmp_path_factory.mktemp(f"reference-{nims}"), sb, nims=nims)
                result = fw("--json", *fw.run_cmd(logs=(EXAMPLES,)), timeout=300)
                assert result.returncode == 0, result
                cache[nims] = comparable(result.json)
        return cache[nims]

    return get


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "reliability: long reliability trials; run with -m reliability (make reliability)")
    config.addinivalue_line("markers", "scenario(key): the reliability scenario a test belongs to (results table row)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Unless `-m` names them, the long trials stay out of a test run; the fast subset of each scenario runs there.
    if "reliability" in (config.option.markexpr or ""):
        return
    here = Path(__file__).parent
    keep, drop = [], []
    for item in items:
        long_trial = item.get_closest_marker("reliability") is not None and here in item.path.parents
        (drop if long_trial else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("scenario")
    if marker is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        key = marker.args[0]
        tally = _tally.setdefault(key, Tally())
        trials = next((int(v) for k, v in item.user_properties if k == "trials"), 1)
        tally.tests += 1
        tally.trials += trials
        tally.seconds += report.duration
        tally.notes += [f"{item.name}: {v}" for k, v in item.user_properties if k == "note"]
        if report.passed:
            tally.tests_passed += 1
            tally.trials_passed += trials
        else:
            tally.failures.append(item.name)
        if item.get_closest_marker("reliability") is not None:
            _selection["long"] = True


def table_markdown() -> str:
    lines = [
        "| scenario | tests passed | trials | trials passed | time | what was checked |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for key, (title, checked) in SCENARIOS.items():
        t = _tally.get(key)
        if t is None:
            continue
        lines.append(
            f"| {title} | {t.tests_passed}/{t.tests} | {t.trials} | {t.trials_passed} | {t.seconds:.0f} s | {checked} |"
        )
    notes = [f"- {n}" for t in _tally.values() for n in t.notes]
    if notes:
        lines += ["", "Trial notes:", *notes]
    failing = [f"- {SCENARIOS[k][0]}: {', '.join(t.failures)}" for k, t in _tally.items() if t.failures]
    if failing:
        lines += ["", "Failing tests:", *failing]
    return "\n".join(lines) + "\n"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _tally:
        return
    which = "make reliability (-m reliability)" if _selection["long"] else "the fast subset (make test)"
    name = "reliability.md" if _selection["long"] else "reliability-quick.md"
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    (OUT / name).write_text(f"Reliability results: {which}, {stamp}.\n\n" + table_markdown(), encoding="utf-8")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _tally:
        return
    terminalreporter.section("reliability results")
    terminalreporter.write(table_markdown())
