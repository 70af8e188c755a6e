"""Upload a built dataset to a platform as three datasets (eval, icl, train), once per content and destination."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from flywheel_cli.datasets import formats
from flywheel_cli.datasets.build import dataset_dir, get_dataset
from flywheel_cli.errors import InputError
from flywheel_cli.platforms.base import DatasetRef, Platform
from flywheel_cli.state.store import Store

KINDS = ("eval", "icl", "train")
# Path inside the remote dataset → path inside the local dataset directory (reference §3.6).
LAYOUT: dict[str, dict[str, str]] = {
    "eval": {"eval_data.jsonl": formats.FILE_EVAL},
    "icl": {"eval_data.jsonl": formats.FILE_ICL},
    "train": {"training/train_data.jsonl": formats.FILE_TRAIN, "validation/val_data.jsonl": formats.FILE_VAL},
}
_MAX_WORKLOAD_PART = 60  # keeps names well under the 96 characters a Hub repo name may have


@dataclass(frozen=True)
class UploadOutcome:
    kind: str
    ref: DatasetRef
    files_sha256: str
    skipped: bool  # the same content was already uploaded to the same destination


def sanitise(workload_id: str) -> str:
    """A workload id as it may appear in a remote dataset name: [a-z0-9-], no leading/trailing/double dashes."""
    text = re.sub(r"[^a-z0-9-]+", "-", workload_id.lower())
    text = re.sub(r"-{2,}", "-", text).strip("-")[:_MAX_WORKLOAD_PART].strip("-")
    return text or "workload"


def remote_name(kind: str, workload_id: str, dataset_id: str) -> str:
    short = dataset_id.removeprefix("ds-")
    return f"flywheel-{kind}-{sanitise(workload_id)}-{short}"


def _files(directory: Path, kind: str, recorded: dict[str, str]) -> tuple[dict[str, bytes], str]:
    files: dict[str, bytes] = {}
    combined = hashlib.sha256()
    for remote, local in sorted(LAYOUT[kind].items()):
        path = directory / local
        if not path.is_file():
            raise InputError(
                f"dataset file {path} is missing",
                hint="Rebuild the dataset with `flywheel datasets build` (same inputs give the same id).",
            )
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if recorded.get(local) != digest:
            raise InputError(
                f"dataset file {path} changed since it was built (sha256 differs from the state file)",
                hint="Rebuild the dataset with `flywheel datasets build` to restore it.",
            )
        files[remote] = data
        combined.update(f"{remote}\0{digest}\n".encode())
    return files, combined.hexdigest()


def upload_dataset_detailed(
    store: Store, platform: Platform, dataset_id: str, *, force: bool = False, endpoint: str | None = None
) -> list[UploadOutcome]:
    """Upload the eval, icl and train datasets; skip those already recorded with the same content and destination.

    The destination is the platform kind plus `endpoint` (default: the platform's `endpoint` attribute). A
    simulated platform keeps what it was sent only while it runs, so uploads to it are never skipped.
    """
    row = get_dataset(store, dataset_id)
    directory = dataset_dir(store, row.id)
    recorded = {f.path: f.sha256 for f in store.dataset_files(row.id)}
    where = endpoint if endpoint is not None else str(getattr(platform, "endpoint", "") or "")
    reusable = not force and not getattr(platform, "simulated", False)
    scope_ready = False
    # Check every file before sending any, so a damaged dataset never goes up in part.
    prepared = {kind: _files(directory, kind, recorded) for kind in KINDS}
    outcomes = []
    for kind in KINDS:
        files, files_sha = prepared[kind]
        name = remote_name(kind, row.workload_id, row.id)
        if reusable:
            previous = [
                u
                for u in store.dataset_uploads(row.id, platform=platform.kind, endpoint=where)
                if u.kind == kind and u.files_sha256 == files_sha
            ]
            if previous:
                outcomes.append(UploadOutcome(kind, previous[0].ref, files_sha, skipped=True))
                continue
        if not scope_ready:
            platform.ensure_scope()
            scope_ready = True
        ref = platform.upload_dataset(kind, name, files)  # type: ignore[arg-type]
        store.record_dataset_upload(
            row.id,
            platform=platform.kind,
            endpoint=where,
            kind=kind,
            name=ref.name,
            uri=ref.uri,
            files_sha256=files_sha,
        )
        outcomes.append(UploadOutcome(kind, ref, files_sha, skipped=False))
    return outcomes


def upload_dataset(
    store: Store, platform: Platform, dataset_id: str, *, force: bool = False, endpoint: str | None = None
) -> dict[str, DatasetRef]:
    """The DatasetRef of each kind ("eval", "icl", "train"), uploading what is not there yet."""
    return {o.kind: o.ref for o in upload_dataset_detailed(store, platform, dataset_id, force=force, endpoint=endpoint)}
