"""Which run `flywheel run` works on: the workload's unfinished run on the same cluster with the same NIMs, the one
named by --resume, or a new one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_env import NIM_1B, NIM_8B, WORKLOAD, sandbox_env, write_config

from flywheel_cli.config import load_settings
from flywheel_cli.errors import UsageError
from flywheel_cli.pipeline.run import RunOptions, Runner
from flywheel_cli.platforms import connect
from flywheel_cli.sandbox import Sandbox
from flywheel_cli.state import Store
from flywheel_cli.state.runs import RunRow


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(speed=1000, seed=42) as sb:
        yield sb


@pytest.fixture
def store(state_path: Path) -> Iterator[Store]:
    with Store(state_path) as s:
        yield s


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "flywheel.toml", [(NIM_1B, "1.8.3"), (NIM_8B, "1.8.3")])


def _runner(store: Store, config: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, **options) -> Runner:
    for key, value in sandbox_env(sandbox).items():
        monkeypatch.setenv(key, value)
    settings = load_settings(config)
    return Runner(store, settings, connect(settings), RunOptions(workload_id=options.pop("workload_id", WORKLOAD), **options))


def _past_run(store: Store, status: str, *, endpoint: str, nims: list[str], workload: str = WORKLOAD) -> RunRow:
    run = store.create_run(workload_id=workload, client_id=None, platform="nmp", endpoint=endpoint, simulated=True,
                           nims=nims, options={})
    store.update_run(run.id, status=status)
    return store.run(run.id)


@pytest.mark.parametrize("status", ["running", "interrupted", "partial", "failed"])
def test_an_unfinished_run_on_the_same_cluster_is_resumed(store, config, sandbox, monkeypatch, status: str) -> None:
    past = _past_run(store, status, endpoint=sandbox.url, nims=[NIM_1B, NIM_8B])
    run, resumed = _runner(store, config, sandbox, monkeypatch).resolve()
    assert (run.id, resumed) == (past.id, True)


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_a_finished_run_is_not_resumed(store, config, sandbox, monkeypatch, status: str) -> None:
    past = _past_run(store, status, endpoint=sandbox.url, nims=[NIM_1B, NIM_8B])
    run, resumed = _runner(store, config, sandbox, monkeypatch).resolve()
    assert resumed is False
    assert run.id != past.id
    assert (run.status, run.endpoint, run.nims, run.simulated) == ("running", sandbox.url, [NIM_1B, NIM_8B], True)


def test_other_nims_or_new_start_a_new_run(store, config, sandbox, monkeypatch) -> None:
    past = _past_run(store, "interrupted", endpoint=sandbox.url, nims=[NIM_1B, NIM_8B])
    only_one, resumed = _runner(store, config, sandbox, monkeypatch, nims=(NIM_1B,)).resolve()
    assert (only_one.nims, resumed) == ([NIM_1B], False)
    store.update_run(only_one.id, status="completed")
    fresh, resumed = _runner(store, config, sandbox, monkeypatch, new=True).resolve()
    assert resumed is False
    assert fresh.id not in (past.id, only_one.id)


def test_a_run_on_another_cluster_is_never_continued_here(store, config, sandbox, monkeypatch) -> None:
    past = _past_run(store, "interrupted", endpoint="http://127.0.0.1:1", nims=[NIM_1B, NIM_8B])
    run, resumed = _runner(store, config, sandbox, monkeypatch).resolve()
    assert resumed is False
    assert run.id != past.id
    with pytest.raises(UsageError) as err:
        _runner(store, config, sandbox, monkeypatch, resume=past.id).resolve()
    assert err.value.message == (
        f"run {past.id} ran on nmp at http://127.0.0.1:1; the config now points at nmp at {sandbox.url}"
    )


def test_resume_names_a_run_that_can_be_resumed(store, config, sandbox, monkeypatch) -> None:
    done = _past_run(store, "completed", endpoint=sandbox.url, nims=[NIM_1B])
    other = _past_run(store, "interrupted", endpoint=sandbox.url, nims=[NIM_1B], workload="other")
    cases = {
        "run-nope": "no run 'run-nope'",
        done.id: f"run {done.id} is completed; nothing to resume",
        other.id: f"run {other.id} is for workload 'other', not {WORKLOAD!r}",
    }
    for run_id, message in cases.items():
        with pytest.raises(UsageError) as err:
            _runner(store, config, sandbox, monkeypatch, resume=run_id).resolve()
        assert err.value.message == message
    with pytest.raises(UsageError) as err:
        _runner(store, config, sandbox, monkeypatch, resume=other.id, new=True).resolve()
    assert err.value.message == "--resume and --new do not go together"


def test_resume_errors_exit_2_before_anything_runs(cli, state_path: Path, config: Path, sandbox: Sandbox) -> None:
    result = cli("--state", str(state_path), "--config", str(config), "run", "--workload", WORKLOAD, "--resume", "run-nope",
                 env=sandbox_env(sandbox))
    assert result.exit_code == 2
    assert result.stderr == "error: no run 'run-nope'\n`flywheel runs list` shows the runs.\n"
    with Store(state_path) as store:
        assert store.runs() == []
