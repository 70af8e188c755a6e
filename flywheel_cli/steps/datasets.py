"""Which dataset a step uses, and its platform references (uploading it first when needed)."""

from __future__ import annotations

from flywheel_cli.errors import NotFoundError
from flywheel_cli.platforms.base import DatasetRef
from flywheel_cli.state.datasets import DatasetRow
from flywheel_cli.steps.common import StepContext


def resolve_dataset(ctx: StepContext, workload_id: str, dataset: str | None) -> DatasetRow:
    """The dataset given (id or unique prefix), else the newest one built for the workload."""
    from flywheel_cli.datasets.build import get_dataset

    if dataset:
        row = get_dataset(ctx.store, dataset)
        if row.workload_id != workload_id:
            raise NotFoundError(
                f"dataset {row.id} belongs to workload {row.workload_id!r}, not {workload_id!r}",
                hint="`flywheel datasets list` shows the datasets of each workload.",
            )
        return row
    rows = ctx.store.list_datasets(workload_id)
    if not rows:
        raise NotFoundError(
            f"no dataset built for workload {workload_id!r}",
            hint=f"Build one first: `flywheel datasets build --workload {workload_id}`.",
        )
    return max(rows, key=lambda r: r.created_at)


def dataset_refs(ctx: StepContext, row: DatasetRow) -> dict[str, DatasetRef]:
    """eval/icl/train references on this platform; uploads whatever is not there yet (a no-op when it is).

    The upload sets up the platform's scope before it sends anything, and so does every job create.
    """
    from flywheel_cli.datasets.upload import upload_dataset

    return upload_dataset(ctx.store, ctx.platform, row.id, endpoint=ctx.endpoint)
