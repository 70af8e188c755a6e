"""Copy a built dataset's files out of the state directory."""

from __future__ import annotations

import shutil
from pathlib import Path

from flywheel_cli.datasets.build import dataset_dir, files_intact
from flywheel_cli.errors import InputError
from flywheel_cli.state.store import Store


def export_dataset(store: Store, dataset_id: str, out: Path, *, force: bool = False) -> list[Path]:
    """Copy the files, keeping their layout (eval/, icl/, train/). A non-empty `out` needs `force`."""
    source = dataset_dir(store, dataset_id)
    recorded = store.dataset_files(dataset_id)
    if not files_intact(source, recorded):
        raise InputError(
            f"the files of dataset {dataset_id} are missing or changed in {source}",
            hint="Rebuild it with `flywheel datasets build` (same inputs give the same id).",
        )
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError(f"{out} is not empty", hint="Pick an empty directory, or pass --force to write into it.")
    written = []
    try:
        for f in recorded:
            target = out / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / f.path, target)
            written.append(target)
    except OSError as exc:
        raise InputError(f"cannot write into {out}: {exc}") from None
    return written
