"""`build_dataset`: curate → split → ICL → files, written atomically and recorded with their lineage.

A dataset is content-addressed: its id hashes the workload, the client filter, the ordered record ids of each split,
the effective split/ICL config, the ICL examples chosen and the bytes of every file. Building again from the same
records and config therefore finds the same id and writes nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from flywheel_cli.config import IclConfig, Settings, SplitConfig
from flywheel_cli.datasets import formats
from flywheel_cli.datasets.curate import curate, require_enough
from flywheel_cli.datasets.icl import Embedder, Source, build_icl
from flywheel_cli.datasets.split import class_balance, split
from flywheel_cli.datasets.tokens import estimate_bytes
from flywheel_cli.errors import ConfigError, StateError
from flywheel_cli.state.datasets import DatasetFile, DatasetRow
from flywheel_cli.state.store import Store

ID_VERSION = 1
DATASETS_DIR = "datasets"
# Flag names that differ from the config keys they set.
_ALIASES = {"icl_examples": "max_examples", "icl_selection": "selection"}
_STALE_TEMP_SECONDS = 24 * 3600


@dataclass(frozen=True)
class BuildResult:
    dataset_id: str
    created: bool  # False: an identical dataset was already recorded, nothing was written
    restored: bool  # the dataset was recorded but its files were missing or changed, and were written again
    path: Path
    manifest: dict[str, Any]


def effective_settings(settings: Settings, overrides: dict[str, Any]) -> Settings:
    """Settings with [split]/[icl] overrides applied (None values ignored), validated like the config file."""
    split_upd: dict[str, Any] = {}
    icl_upd: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        name = _ALIASES.get(key, key)
        if name in SplitConfig.model_fields:
            split_upd[name] = value
        elif name in IclConfig.model_fields:
            icl_upd[name] = value
        else:
            raise TypeError(f"build_dataset() got an unknown option {key!r}")
    if not split_upd and not icl_upd:
        return settings
    try:
        split_cfg = SplitConfig(**{**settings.split.model_dump(), **split_upd})
        icl_cfg = IclConfig(**{**settings.icl.model_dump(), **icl_upd})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid dataset options: {problems}") from None
    return settings.model_copy(update={"split": split_cfg, "icl": icl_cfg})


def dataset_dir(store: Store, dataset_id: str) -> Path:
    return store.state_dir / DATASETS_DIR / dataset_id


def get_dataset(store: Store, ref: str) -> DatasetRow:
    """A stored dataset by id or unique id prefix; raises NotFoundError."""
    row = store.get_dataset_row(store.resolve_dataset_id(ref))
    assert row is not None  # resolve_dataset_id only returns ids it found
    return row


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _describe(files: dict[str, bytes]) -> list[DatasetFile]:
    return [DatasetFile(path, _sha256(data), data.count(b"\n"), len(data)) for path, data in sorted(files.items())]


def files_intact(directory: Path, recorded: list[DatasetFile]) -> bool:
    for f in recorded:
        target = directory / f.path
        if not target.is_file() or _sha256(target.read_bytes()) != f.sha256:
            return False
    return bool(recorded)


def _clean_stale_temps(root: Path) -> None:
    cutoff = time.time() - _STALE_TEMP_SECONDS
    for entry in root.glob(".ds-*"):
        try:
            if entry.is_dir() and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue


def write_atomic(directory: Path, files: dict[str, bytes]) -> None:
    """Write every file into a temp dir beside the target, fsync, then rename: readers see all files or none."""
    root = directory.parent
    try:
        root.mkdir(parents=True, exist_ok=True)
        _clean_stale_temps(root)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=root))
    except OSError as exc:
        raise StateError(f"cannot write datasets under {root}: {exc}") from None
    try:
        for rel, data in files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        if directory.exists():
            # Same id, different bytes on disk (edited or truncated by hand): swap the whole directory.
            old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old.", dir=root))
            os.rename(directory, old / "dataset")
            os.rename(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, directory)
    except OSError as exc:
        raise StateError(f"cannot write dataset files into {directory}: {exc}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _dataset_id(
    workload_id: str,
    client_id: str | None,
    config_hash: str,
    split_ids: dict[str, list[str]],
    icl_ids: list[list[str]],
    files: list[DatasetFile],
) -> str:
    payload = {
        "v": ID_VERSION,
        "workload_id": workload_id,
        "client_id": client_id,
        "config": config_hash,
        "splits": split_ids,
        "icl": icl_ids,
        "files": {f.path: f.sha256 for f in files},
    }
    return "ds-" + _sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))[:12]


def build_dataset(
    store: Store,
    settings: Settings,
    workload_id: str,
    *,
    client_id: str | None = None,
    embedder: Embedder | None = None,
    **overrides: Any,
) -> BuildResult:
    """Build (or find) the dataset of a workload. Overrides are [split]/[icl] keys, plus icl_examples/icl_selection.

    Raises NotFoundError when the workload has no records, InputError when too few survive curation, RemoteError
    when semantic selection cannot reach the embeddings endpoint.
    """
    settings = effective_settings(settings, overrides)
    split_cfg, icl_cfg = settings.split, settings.icl
    curation = curate(store.iter_records(workload_id, client_id), split_cfg, client_id=client_id)
    require_enough(curation, split_cfg, workload_id, client_id)
    parts = split(curation.selected, eval_size=split_cfg.eval_size, val_ratio=split_cfg.val_ratio, seed=split_cfg.seed)
    bodies = store.records_by_id(c.id for c in (*parts.eval, *parts.train, *parts.val))
    wtype = curation.workload_type

    eval_records = [bodies[c.id].record for c in parts.eval]
    eval_bytes = [orjson.dumps(formats.eval_line(r), option=orjson.OPT_SORT_KEYS) for r in eval_records]
    sources = [Source(c.id, c.label, bodies[c.id].record) for c in parts.train]
    own_embedder = None
    if embedder is None and icl_cfg.selection == "semantic" and icl_cfg.max_examples and sources:
        from flywheel_cli.datasets.embeddings import HttpEmbedder

        embedder = own_embedder = HttpEmbedder.from_settings(settings)
    try:
        icl = build_icl(eval_records, [estimate_bytes(b) for b in eval_bytes], sources, icl_cfg, wtype, embedder)
    finally:
        if own_embedder is not None:
            own_embedder.close()

    files = {
        formats.FILE_EVAL: b"".join(b + b"\n" for b in eval_bytes),
        formats.FILE_ICL: formats.dump_lines(formats.eval_line(r) for r in icl.records),
        formats.FILE_TRAIN: formats.dump_lines(formats.train_line(bodies[c.id].record, wtype) for c in parts.train),
        formats.FILE_VAL: formats.dump_lines(formats.train_line(bodies[c.id].record, wtype) for c in parts.val),
    }
    described = _describe(files)
    split_ids = {name: [c.id for c in getattr(parts, name)] for name in ("eval", "train", "val")}
    config_hash = settings.fingerprint("split", "icl")
    dataset_id = _dataset_id(workload_id, client_id, config_hash, split_ids, icl.example_ids, described)
    directory = dataset_dir(store, dataset_id)

    existing = store.get_dataset_row(dataset_id)
    if existing is not None:
        if files_intact(directory, store.dataset_files(dataset_id)):
            return BuildResult(dataset_id, created=False, restored=False, path=directory, manifest=existing.manifest)
        write_atomic(directory, files)
        return BuildResult(dataset_id, created=False, restored=True, path=directory, manifest=existing.manifest)

    write_atomic(directory, files)
    created_at = time.time()
    manifest: dict[str, Any] = {
        "id": dataset_id,
        "workload_id": workload_id,
        "client_id": client_id,
        "created_at": created_at,
        "workload_type": wtype,
        "seed": split_cfg.seed,
        "config_hash": config_hash,
        "config": {"split": split_cfg.model_dump(mode="json"), "icl": icl_cfg.model_dump(mode="json")},
        "stages": [{"name": s.name, "label": s.label, "kept": s.kept, "dropped": s.dropped} for s in curation.stages],
        "splits": {name: len(ids) for name, ids in split_ids.items()},
        "class_balance": {
            "eval": class_balance(parts.eval),
            "train": class_balance(parts.train),
            "val": class_balance(parts.val),
        },
        "stratification": dict(parts.modes),
        "notes": list(parts.notes),
        "icl": icl.info,
        "files": [{"path": f.path, "sha256": f.sha256, "lines": f.lines, "bytes": f.bytes} for f in described],
        "path": f"{DATASETS_DIR}/{dataset_id}",
    }
    row = DatasetRow(
        id=dataset_id,
        workload_id=workload_id,
        client_id=client_id,
        created_at=created_at,
        workload_type=wtype,
        seed=split_cfg.seed,
        config_hash=config_hash,
        eval_records=len(parts.eval),
        train_records=len(parts.train),
        val_records=len(parts.val),
        path=manifest["path"],
        manifest=manifest,
    )
    try:
        store.insert_dataset(row, splits=split_ids, icl_examples=icl.example_ids, files=described)
    except sqlite3.IntegrityError:
        # Another build of the very same dataset recorded it first; its files are the ones just written.
        existing = store.get_dataset_row(dataset_id)
        if existing is None:
            raise
        return BuildResult(dataset_id, created=False, restored=False, path=directory, manifest=existing.manifest)
    return BuildResult(dataset_id, created=True, restored=False, path=directory, manifest=manifest)
