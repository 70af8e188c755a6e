"""`flywheel datasets …` through the real CLI (CliRunner on the full app), with --json output."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from ds_platform import FakePlatform
from ds_records import insert, text_record, tool_mix

from flywheel_cli import platforms
from flywheel_cli.datasets.formats import FILE_EVAL, FILE_ICL, FILE_TRAIN, FILE_VAL
from flywheel_cli.state import Store


@pytest.fixture
def seeded(state_path: Path) -> Path:
    with Store(state_path) as store:
        insert(store, tool_mix({"lookup_order": 40, "start_return": 25, "product_qa": 5}))
        insert(store, [text_record(f"hello {i}") for i in range(3)], prefix="t")
    return state_path


def _json(result) -> dict:
    assert result.exit_code == 0, result.stderr
    doc = orjson.loads(result.stdout)
    assert doc["version"] == 1
    return doc


BUILD = ("datasets", "build", "--workload", "w", "--eval-size", "10")


def test_build_json_then_rebuild_is_a_no_op(cli, seeded) -> None:
    doc = _json(cli(*BUILD, "--json"))
    assert doc["kind"] == "dataset"
    assert doc["created"] is True and doc["restored"] is False
    assert doc["splits"] == {"eval": 10, "train": 54, "val": 6}
    assert [(s["name"], s["kept"], s["dropped"]) for s in doc["stages"]] == [
        ("records", 73, 0),
        ("openai_format", 73, 0),
        ("tool_call", 70, 3),
        ("arguments", 70, 0),
        ("tool_properties", 70, 0),
        ("dedup", 70, 0),
        ("sample", 70, 0),
    ]
    assert doc["class_balance"]["eval"] == {"lookup_order": 6, "product_qa": 1, "start_return": 3}
    assert Path(doc["path"]).is_dir()
    again = cli(*BUILD)
    assert again.exit_code == 0
    assert f"dataset {doc['id']} already exists with identical content (eval 10, train 54, val 6); nothing written" in (
        " ".join(again.stderr.split())
    )
    assert "leakage" not in again.stdout and "curation" in again.stdout


def test_build_flags_override_the_config(cli, seeded) -> None:
    flags = ("--val-ratio", "0", "--seed", "3", "--icl-examples", "1", "--keep-no-tool", "--limit", "60")
    doc = _json(cli(*BUILD, "--json", *flags))
    assert doc["splits"] == {"eval": 10, "train": 50, "val": 0}
    assert doc["seed"] == 3
    assert doc["icl"]["examples_per_record"]["max"] == 1
    assert doc["stages"][2]["dropped"] == 0
    assert doc["stages"][-1] == {"name": "sample", "label": "sampled (limit 60, seed 3)", "kept": 60, "dropped": 13}
    assert doc["config"]["split"]["keep_no_tool"] is True


def test_too_few_records_exit_1_with_the_stage_table(cli, seeded) -> None:
    result = cli("datasets", "build", "--workload", "w")
    assert result.exit_code == 1
    err = " ".join(result.stderr.split())
    assert "error: workload 'w' has too few usable records: 70 after curation, need at least 101" in err
    assert "answered with a tool call 70 (-3)" in err
    assert "--eval-size 14 leaves records for training" in err
    missing = cli("datasets", "build", "--workload", "nope")
    assert missing.exit_code == 1
    assert "no records for workload 'nope'" in missing.stderr


def test_list_show_and_audit(cli, seeded) -> None:
    empty = _json(cli("datasets", "list", "--json"))
    assert empty == {"version": 1, "kind": "datasets", "datasets": []}
    built = _json(cli(*BUILD, "--json"))
    listed = _json(cli("datasets", "list", "--json"))
    assert listed["datasets"] == [
        {
            "id": built["id"],
            "workload_id": "w",
            "client_id": None,
            "created_at": built["created_at"],
            "workload_type": "tool_calling",
            "eval": 10,
            "train": 54,
            "val": 6,
            "uploaded": [],
        }
    ]
    shown = _json(cli("datasets", "show", built["id"][:6], "--json"))
    assert shown["kind"] == "dataset" and shown["id"] == built["id"]
    assert shown["audit"]["ok"] is True and shown["audit_error"] is None
    assert shown["audit"]["queries"] == {"eval": 10, "train": 54, "val": 6}
    assert shown["uploads"] == []
    assert {f["path"]: f["lines"] for f in shown["files"]} == {FILE_EVAL: 10, FILE_ICL: 10, FILE_TRAIN: 54, FILE_VAL: 6}
    text = cli("datasets", "show", built["id"])
    assert text.exit_code == 0
    assert (
        "leakage audit (shared user queries, exact/normalised): eval/train 0/0, eval/val 0/0, train/val 0/0 → OK"
        in text.stdout
    )
    assert "ICL: uniform selection, up to 3 examples from 54 training records" in text.stdout
    (Path(built["path"]) / FILE_VAL).unlink()
    damaged = _json(cli("datasets", "show", built["id"], "--json"))
    assert damaged["audit"] is None and damaged["audit_error"].endswith("val_data.jsonl is missing")
    assert "no leakage audit:" in cli("datasets", "show", built["id"]).stderr
    unknown = cli("datasets", "show", "ds-000")
    assert unknown.exit_code == 1 and "no dataset 'ds-000'" in unknown.stderr


def test_export_refuses_a_non_empty_directory_without_force(cli, seeded, tmp_path: Path) -> None:
    built = _json(cli(*BUILD, "--json"))
    out = tmp_path / "out"
    doc = _json(cli("datasets", "export", built["id"], "--out", str(out), "--json"))
    assert doc["kind"] == "dataset_export"
    source = Path(built["path"])
    for rel in (FILE_EVAL, FILE_ICL, FILE_TRAIN, FILE_VAL):
        assert (out / rel).read_bytes() == (source / rel).read_bytes()
    refused = cli("datasets", "export", built["id"], "--out", str(out))
    assert refused.exit_code == 1
    assert "is not empty" in refused.stderr and "--force" in refused.stderr
    assert cli("datasets", "export", built["id"], "--out", str(out), "--force").exit_code == 0


def test_upload_and_build_with_upload(cli, seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[FakePlatform] = []

    def connect(settings):
        made.append(FakePlatform())
        return made[-1]

    monkeypatch.setattr(platforms, "connect", connect)
    built = _json(cli(*BUILD, "--json", "--upload"))
    short = built["id"].removeprefix("ds-")
    assert [(u["kind"], u["name"], u["skipped"]) for u in built["uploads"]] == [
        ("eval", f"flywheel-eval-w-{short}", False),
        ("icl", f"flywheel-icl-w-{short}", False),
        ("train", f"flywheel-train-w-{short}", False),
    ]
    assert made[0].calls[0] == ("ensure_scope",) and made[0].calls[-1] == ("close",)
    again = _json(cli("datasets", "upload", built["id"], "--json"))
    assert again["kind"] == "dataset_upload"
    assert [u["skipped"] for u in again["uploads"]] == [True, True, True]
    assert made[1].calls == [("close",)]
    text = cli("datasets", "upload", built["id"])
    assert "nothing to upload: the same content is already there (--force uploads again)" in text.stderr
    forced = _json(cli("datasets", "upload", built["id"], "--force", "--json"))
    assert [u["skipped"] for u in forced["uploads"]] == [False, False, False]
    listed = _json(cli("datasets", "list", "--json"))
    assert listed["datasets"][0]["uploaded"] == ["eval", "icl", "train"]
    shown = _json(cli("datasets", "show", built["id"], "--json"))
    assert len(shown["uploads"]) == 6
    assert {u["endpoint"] for u in shown["uploads"]} == {"http://nemo.test"}
