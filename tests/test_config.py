"""Configuration: defaults → file → FLYWHEEL_* env → flags; clear errors; secrets never shown."""

from __future__ import annotations

import json

from flywheel_cli.config import load_settings


def test_defaults_follow_the_spec():
    s = load_settings()
    assert (s.split.eval_size, s.split.val_ratio, s.split.min_total_records, s.split.limit, s.split.seed) == (100, 0.1, 50, 1000, 42)
    assert (s.icl.max_examples, s.icl.selection) == (3, "uniform")
    t = s.training
    assert (t.training_type, t.finetuning_type, t.epochs, t.batch_size, t.learning_rate, t.adapter_dim, t.adapter_dropout) == (
        "sft", "lora", 2, 16, 1e-4, 32, 0.1)
    assert s.report.min_relative_score == 0.95
    assert s.nims[0].deployment_name == "meta-llama-3.2-1b-instruct"


def test_file_then_env_then_flags(tmp_path, monkeypatch):
    path = tmp_path / "c.toml"
    path.write_text('[split]\neval_size = 10\nseed = 1\nlimit = 500\n[[nims]]\nmodel_name = "a/b-1b"\n')
    monkeypatch.setenv("FLYWHEEL_SPLIT__SEED", "2")
    monkeypatch.setenv("FLYWHEEL_SPLIT__LIMIT", "700")
    s = load_settings(path, {"split": {"limit": 900}})
    assert (s.split.eval_size, s.split.seed, s.split.limit) == (10, 2, 900)
    assert [n.model_name for n in s.nims] == ["a/b-1b"]


def test_bad_config_gives_one_clear_message_per_problem(cli, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[split]\neval_size = "many"\ncolour = "red"\n[judge]\nkind = "remote"\n')
    result = cli("--config", str(path), "config", "show")
    assert result.exit_code == 2
    assert f"error: invalid configuration ({path} + FLYWHEEL_* environment):" in result.stderr
    assert "split.eval_size: Input should be a valid integer" in result.stderr
    assert "split.colour: unknown key" in result.stderr
    assert "judge.kind = 'remote' needs judge.url" in result.stderr
    assert "Traceback" not in result.stderr


def test_empty_or_duplicate_nims_are_rejected(cli, tmp_path):
    path = tmp_path / "n.toml"
    path.write_text("nims = []\n")
    result = cli("--config", str(path), "config", "show")
    assert result.exit_code == 2 and "at least one [[nims]] entry is required" in result.stderr
    path.write_text('[[nims]]\nmodel_name = "x"\n[[nims]]\nmodel_name = "x"\n')
    result = cli("--config", str(path), "config", "show")
    assert result.exit_code == 2 and "[[nims]] lists 'x' twice" in result.stderr


def test_missing_and_unparseable_config_files(cli, tmp_path):
    result = cli("--config", str(tmp_path / "nope.toml"), "config", "show")
    assert result.exit_code == 2 and "does not exist" in result.stderr
    (tmp_path / "x.toml").write_text("[split\n")
    result = cli("--config", str(tmp_path / "x.toml"), "config", "show")
    assert result.exit_code == 2 and "is not valid TOML" in result.stderr


def test_config_show_redacts_every_secret(cli, monkeypatch):
    planted = "sk-planted-value-123"
    for var in ("LLM_JUDGE_API_KEY", "NMP_TOKEN", "HF_TOKEN", "NIM_TOKEN", "EMB_API_KEY", "ES_API_KEY", "ES_PASSWORD"):
        monkeypatch.setenv(var, planted)
    text = cli("config", "show")
    doc = cli("--json", "config", "show")
    assert planted not in text.stdout + text.stderr + doc.stdout + doc.stderr
    data = json.loads(doc.stdout)
    assert data["kind"] == "config"
    assert data["config"]["judge"]["api_key_env"] == "LLM_JUDGE_API_KEY (set, value redacted)"
    assert data["config"]["nmp"]["nim_token_env"] == "NIM_TOKEN (set, value redacted)"
    assert data["config"]["elasticsearch"]["username_env"] == "ES_USERNAME (unset, value redacted)"


def test_env_override_of_a_nested_key(cli, monkeypatch):
    monkeypatch.setenv("FLYWHEEL_NMP__NAMESPACE", "team-a")
    data = json.loads(cli("--json", "config", "show").stdout)
    assert data["config"]["nmp"]["namespace"] == "team-a"


def test_platform_flag_overrides_the_config(cli):
    data = json.loads(cli("--platform", "helix", "--json", "config", "show").stdout)
    assert data["config"]["platform"]["kind"] == "helix"
    result = cli("--platform", "mars", "config", "show")
    assert result.exit_code == 2 and "must be nmp or helix" in result.stderr


def test_global_options_may_follow_the_command(cli, tmp_path):
    result = cli("config", "show", "--json")
    assert json.loads(result.stdout)["kind"] == "config"


def test_unknown_command_and_traceback_flag(cli):
    result = cli("frobnicate")
    assert result.exit_code == 2
    assert cli("--version").stdout.startswith("flywheel ")
