"""A Platform stand-in that records calls. The real NMP upload is tested with the NMP client; here only what the
datasets code asks of a platform matters."""

from __future__ import annotations

from typing import Any

from flywheel_cli.platforms.base import DatasetRef


class FakePlatform:
    kind = "nmp"

    def __init__(self, *, simulated: bool = False) -> None:
        self.simulated = simulated
        self.calls: list[tuple[Any, ...]] = []

    def ensure_scope(self) -> None:
        self.calls.append(("ensure_scope",))

    def upload_dataset(self, kind: str, name: str, files: dict[str, bytes]) -> DatasetRef:
        self.calls.append(("upload_dataset", kind, name, dict(files)))
        return DatasetRef(kind=kind, name=name, uri=f"hf://datasets/flywheel/{name}")  # type: ignore[arg-type]

    def close(self) -> None:
        self.calls.append(("close",))
