"""Upload: names, file layout, recorded uploads, no-op re-uploads, --force, tampered files."""

from __future__ import annotations

import hashlib
import re

import pytest
from ds_platform import FakePlatform
from ds_records import insert, tool_mix

from flywheel_cli.config import Settings
from flywheel_cli.datasets import build_dataset, remote_name, upload_dataset, upload_dataset_detailed
from flywheel_cli.datasets.formats import FILE_EVAL, FILE_ICL, FILE_TRAIN, FILE_VAL
from flywheel_cli.datasets.upload import sanitise
from flywheel_cli.errors import InputError
from flywheel_cli.platforms.base import DatasetRef


def _built(store, workload: str = "w"):
    insert(store, tool_mix({"lookup_order": 30, "start_return": 20}, workload=workload))
    return build_dataset(store, Settings(), workload, eval_size=10, min_total_records=10)


def test_sanitise_and_names() -> None:
    assert sanitise("Tool Router_v2!") == "tool-router-v2"
    assert sanitise("--__--") == "workload"
    assert sanitise("x" * 80) == "x" * 60
    assert remote_name("train", "Tool Router", "ds-0123456789ab") == "flywheel-train-tool-router-0123456789ab"


def test_upload_sends_three_datasets_with_the_reference_layout(store) -> None:
    result = _built(store, workload="Tool_Router")
    platform = FakePlatform()
    refs = upload_dataset(store, platform, result.dataset_id, endpoint="http://nemo.test")
    short = result.dataset_id.removeprefix("ds-")
    names = {kind: f"flywheel-{kind}-tool-router-{short}" for kind in ("eval", "icl", "train")}
    assert refs == {
        kind: DatasetRef(kind=kind, name=name, uri=f"hf://datasets/flywheel/{name}") for kind, name in names.items()
    }
    read = lambda rel: (result.path / rel).read_bytes()  # noqa: E731
    assert platform.calls == [
        ("ensure_scope",),
        ("upload_dataset", "eval", names["eval"], {"eval_data.jsonl": read(FILE_EVAL)}),
        ("upload_dataset", "icl", names["icl"], {"eval_data.jsonl": read(FILE_ICL)}),
        (
            "upload_dataset",
            "train",
            names["train"],
            {"training/train_data.jsonl": read(FILE_TRAIN), "validation/val_data.jsonl": read(FILE_VAL)},
        ),
    ]
    uploads = store.dataset_uploads(result.dataset_id)
    assert sorted((u.kind, u.platform, u.endpoint, u.name) for u in uploads) == [
        (kind, "nmp", "http://nemo.test", names[kind]) for kind in ("eval", "icl", "train")
    ]
    eval_upload = next(u for u in uploads if u.kind == "eval")
    digest = hashlib.sha256(read(FILE_EVAL)).hexdigest()
    assert eval_upload.files_sha256 == hashlib.sha256(f"eval_data.jsonl\0{digest}\n".encode()).hexdigest()
    assert eval_upload.ref == refs["eval"]


def test_same_content_same_destination_is_a_no_op(store) -> None:
    result = _built(store)
    upload_dataset(store, FakePlatform(), result.dataset_id, endpoint="http://nemo.test")
    again = FakePlatform()
    outcomes = upload_dataset_detailed(store, again, result.dataset_id, endpoint="http://nemo.test")
    assert again.calls == []
    assert [(o.kind, o.skipped) for o in outcomes] == [("eval", True), ("icl", True), ("train", True)]
    assert len(store.dataset_uploads(result.dataset_id)) == 3


def test_force_another_endpoint_or_a_simulated_platform_upload_again(store) -> None:
    result = _built(store)
    upload_dataset(store, FakePlatform(), result.dataset_id, endpoint="http://nemo.test")
    for platform, endpoint, force in (
        (FakePlatform(), "http://nemo.test", True),
        (FakePlatform(), "http://other.test", False),
        (FakePlatform(simulated=True), "http://nemo.test", False),
    ):
        outcomes = upload_dataset_detailed(store, platform, result.dataset_id, endpoint=endpoint, force=force)
        assert [o.skipped for o in outcomes] == [False, False, False]
        assert [c[0] for c in platform.calls] == ["ensure_scope"] + ["upload_dataset"] * 3
    assert len(store.dataset_uploads(result.dataset_id)) == 12
    assert len(store.dataset_uploads(result.dataset_id, endpoint="http://other.test")) == 3


def test_changed_or_missing_files_are_refused(store) -> None:
    result = _built(store)
    (result.path / FILE_ICL).write_bytes(b"{}\n")
    platform = FakePlatform()
    with pytest.raises(InputError, match=re.escape("icl/eval_data.jsonl changed since it was built")):
        upload_dataset(store, platform, result.dataset_id, endpoint="")
    build_dataset(store, Settings(), "w", eval_size=10, min_total_records=10)  # restores the file
    (result.path / FILE_TRAIN).unlink()
    with pytest.raises(InputError, match="train_data.jsonl is missing"):
        upload_dataset(store, platform, result.dataset_id[:6], endpoint="")
    # Every file is checked before anything is sent: nothing went up.
    assert platform.calls == []
    assert store.dataset_uploads(result.dataset_id) == []
