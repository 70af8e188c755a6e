"""`flywheel datasets`: build, list, show, export and upload the datasets of a workload."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from flywheel_cli.cli.context import AppContext, get_ctx

if TYPE_CHECKING:
    from flywheel_cli.config import Settings
    from flywheel_cli.datasets.upload import UploadOutcome
    from flywheel_cli.state import Store
    from flywheel_cli.state.datasets import DatasetRow

app = typer.Typer(
    help="Curate a workload's records into eval, ICL and training files; inspect, export and upload them.",
    no_args_is_help=True,
)


class Selection(str, Enum):
    uniform = "uniform"
    semantic = "semantic"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _balance(counts: dict[str, int]) -> str:
    return ", ".join(f"{label} {n}" for label, n in counts.items()) or "-"


def _upload_json(outcome: UploadOutcome) -> dict[str, Any]:
    return {
        "kind": outcome.kind,
        "name": outcome.ref.name,
        "uri": outcome.ref.uri,
        "files_sha256": outcome.files_sha256,
        "skipped": outcome.skipped,
    }


def _render_manifest(app_ctx: AppContext, manifest: dict[str, Any]) -> None:
    from rich.table import Table

    client = manifest["client_id"] if manifest["client_id"] is not None else "all clients"
    app_ctx.print_data(
        f"dataset {manifest['id']}  workload {manifest['workload_id']} ({client})  {manifest['workload_type']}"
        f"  created {_iso(manifest['created_at'])}  seed {manifest['seed']}  config {manifest['config_hash']}"
    )
    stages = Table(title="curation", title_justify="left")
    for col, just in (("stage", "left"), ("kept", "right"), ("dropped", "right")):
        stages.add_column(col, justify=just)  # type: ignore[arg-type]
    for s in manifest["stages"]:
        stages.add_row(s["label"], f"{s['kept']:,}", f"{s['dropped']:,}" if s["dropped"] else "")
    app_ctx.print_data(stages)

    splits = Table(title="splits", title_justify="left")
    for col, just in (("split", "left"), ("records", "right"), ("drawn", "left"), ("class balance", "left")):
        splits.add_column(col, justify=just)  # type: ignore[arg-type]
    drawn = {"eval": manifest["stratification"]["eval"], "val": manifest["stratification"]["val"], "train": "rest"}
    for name in ("eval", "train", "val"):
        splits.add_row(name, f"{manifest['splits'][name]:,}", drawn[name], _balance(manifest["class_balance"][name]))
    app_ctx.print_data(splits)

    icl = manifest["icl"]
    per, budget, used = icl["examples_per_record"], icl["budget_tokens"], icl["example_tokens"]
    share = f" ({used['mean'] / budget['mean']:.1%} of the mean budget)" if budget["mean"] > 0 else ""
    app_ctx.print_data(
        f"ICL: {icl['selection']} selection, up to {icl['max_examples']} examples from {icl['pool']} training records;"
        f" examples per record min {per['min']} / mean {per['mean']} / max {per['max']};"
        f" budget {budget['min']:,}–{budget['max']:,} tokens (context {icl['max_context_length']:,}"
        f" − reserved {icl['reserved_tokens']:,} − record); examples used mean {used['mean']:,} tokens{share}"
    )
    for note in manifest["notes"]:
        app_ctx.print_data(f"note: {note}")


def _render_audit(app_ctx: AppContext, audit: dict[str, Any]) -> None:
    pairs = ", ".join(f"{pair} {audit['exact'][pair]}/{audit['normalised'][pair]}" for pair in audit["exact"])
    verdict = "OK" if audit["ok"] else "LEAK"
    app_ctx.print_data(f"leakage audit (shared user queries, exact/normalised): {pairs} → {verdict}")
    if not audit["ok"]:
        app_ctx.warn("user queries appear in more than one split:")
        for sample in audit["samples"]:
            app_ctx.warn(f"  {sample['pair']}: {sample['query']}")


def _render_uploads(app_ctx: AppContext, outcomes: list[UploadOutcome]) -> None:
    for o in outcomes:
        verb = "already uploaded" if o.skipped else "uploaded"
        app_ctx.info(f"{o.kind}: {verb} as {o.ref.name} ({o.ref.uri})")


def _upload(app_ctx: AppContext, settings: Settings, store: Store, dataset_id: str, force: bool) -> list[UploadOutcome]:
    from flywheel_cli import platforms
    from flywheel_cli.datasets.upload import upload_dataset_detailed

    platform = platforms.connect(settings)
    try:
        return upload_dataset_detailed(
            store, platform, dataset_id, force=force, endpoint=platforms.endpoint_of(settings)
        )
    finally:
        platform.close()


@app.command()
def build(
    ctx: typer.Context,
    workload: Annotated[str, typer.Option("--workload", "-w", help="Workload id (see `flywheel workloads`).")],
    client_id: Annotated[Optional[str], typer.Option(help="Only this client's records. Default: every client.")] = None,
    limit: Annotated[
        Optional[int], typer.Option(help="Sample at most this many curated records. [split.limit]")
    ] = None,
    eval_size: Annotated[Optional[int], typer.Option(help="Records held out for evaluation. [split.eval_size]")] = None,
    val_ratio: Annotated[
        Optional[float], typer.Option(help="Share of the rest used for validation, 0 ≤ r < 1. [split.val_ratio]")
    ] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for sampling and splitting. [split.seed]")] = None,
    icl_examples: Annotated[
        Optional[int], typer.Option(help="Most ICL examples per eval record. [icl.max_examples]")
    ] = None,
    icl_selection: Annotated[
        Optional[Selection], typer.Option(help="How ICL examples are chosen. [icl.selection]")
    ] = None,
    keep_no_tool: Annotated[
        Optional[bool],
        typer.Option(
            "--keep-no-tool/--drop-no-tool",
            help="Tool-calling workloads: keep answers without a tool call as class 'no_tool'. [split.keep_no_tool]",
            show_default=False,
        ),
    ] = None,
    upload: Annotated[
        bool, typer.Option("--upload", help="Upload the eval, icl and train datasets after building.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="With --upload: upload even if already uploaded.")] = False,
) -> None:
    """Curate, split (seeded, stratified on the first tool), add ICL examples and write NMP-ready files.

    The same records and config always give the same dataset id and bytes; building again is then a no-op.
    """
    from flywheel_cli.datasets.build import build_dataset

    app_ctx = get_ctx(ctx)
    settings = app_ctx.settings()
    store = app_ctx.store()
    app_ctx.info(f"building a dataset for workload {workload!r}…")
    result = build_dataset(
        store,
        settings,
        workload,
        client_id=client_id,
        limit=limit,
        eval_size=eval_size,
        val_ratio=val_ratio,
        seed=seed,
        icl_examples=icl_examples,
        icl_selection=icl_selection.value if icl_selection is not None else None,
        keep_no_tool=keep_no_tool,
    )
    m = result.manifest
    counts = f"eval {m['splits']['eval']}, train {m['splits']['train']}, val {m['splits']['val']}"
    if result.created:
        app_ctx.success(f"built dataset {result.dataset_id} ({counts}) in {result.path}")
    elif result.restored:
        app_ctx.warn(f"dataset {result.dataset_id} was recorded but its files were missing or changed; rewrote them")
    else:
        app_ctx.info(f"dataset {result.dataset_id} already exists with identical content ({counts}); nothing written")
    outcomes = _upload(app_ctx, settings, store, result.dataset_id, force) if upload else []
    if app_ctx.json:
        payload = {**m, "created": result.created, "restored": result.restored, "path": str(result.path)}
        if upload:
            payload["uploads"] = [_upload_json(o) for o in outcomes]
        app_ctx.emit_json("dataset", payload)
        return
    _render_manifest(app_ctx, m)
    _render_uploads(app_ctx, outcomes)


@app.command("list")
def list_(
    ctx: typer.Context,
    workload: Annotated[Optional[str], typer.Option("--workload", "-w", help="Only this workload's datasets.")] = None,
) -> None:
    """Every dataset built so far, newest first."""
    app_ctx = get_ctx(ctx)
    store = app_ctx.store()
    rows = store.list_datasets(workload)
    uploads = {row.id: sorted({u.kind for u in store.dataset_uploads(row.id)}) for row in rows}
    if app_ctx.json:
        app_ctx.emit_json(
            "datasets",
            {
                "datasets": [
                    {
                        "id": r.id,
                        "workload_id": r.workload_id,
                        "client_id": r.client_id,
                        "created_at": r.created_at,
                        "workload_type": r.workload_type,
                        "eval": r.eval_records,
                        "train": r.train_records,
                        "val": r.val_records,
                        "uploaded": uploads[r.id],
                    }
                    for r in rows
                ]
            },
        )
        return
    if not rows:
        app_ctx.info("no datasets yet: `flywheel datasets build --workload W` builds one")
        return
    from rich.table import Table

    table = Table(title="datasets", title_justify="left")
    table.add_column("id", no_wrap=True)
    for col, just in (("workload", "left"), ("client", "left"), ("created", "left"), ("type", "left"),
                      ("eval", "right"), ("train", "right"), ("val", "right"), ("uploaded", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(r.id, r.workload_id, r.client_id or "all", _iso(r.created_at)[:16], r.workload_type,
                      str(r.eval_records), str(r.train_records), str(r.val_records), ", ".join(uploads[r.id]) or "no")
    app_ctx.print_data(table)


def _row(store: Store, ref: str) -> DatasetRow:
    from flywheel_cli.datasets.build import get_dataset

    return get_dataset(store, ref)


@app.command()
def show(
    ctx: typer.Context,
    dataset_id: Annotated[str, typer.Argument(metavar="ID", help="Dataset id or a unique prefix of it.")],
) -> None:
    """Counts per stage and split, class balance, ICL budget, files, uploads and a leakage audit of the files."""
    from flywheel_cli.datasets.audit import audit_dataset
    from flywheel_cli.datasets.build import dataset_dir
    from flywheel_cli.errors import InputError

    app_ctx = get_ctx(ctx)
    store = app_ctx.store()
    row = _row(store, dataset_id)
    directory = dataset_dir(store, row.id)
    audit_error: str | None = None
    try:
        audit: dict[str, Any] | None = audit_dataset(directory)
    except InputError as exc:
        # The record is still worth showing when the files are gone; the audit then cannot be done.
        audit, audit_error = None, exc.message
    uploads = store.dataset_uploads(row.id)
    if app_ctx.json:
        app_ctx.emit_json(
            "dataset",
            {
                **row.manifest,
                "path": str(directory),
                "audit": audit,
                "audit_error": audit_error,
                "uploads": [
                    {"platform": u.platform, "endpoint": u.endpoint, "kind": u.kind, "name": u.name, "uri": u.uri,
                     "files_sha256": u.files_sha256, "uploaded_at": u.uploaded_at}
                    for u in uploads
                ],
            },
        )
        return
    _render_manifest(app_ctx, row.manifest)
    if audit is not None:
        _render_audit(app_ctx, audit)
    else:
        app_ctx.warn(f"no leakage audit: {audit_error} (`flywheel datasets build` with the same inputs restores it)")
    from rich.table import Table

    files = Table(title=f"files in {directory}", title_justify="left")
    for col, just in (("file", "left"), ("lines", "right"), ("bytes", "right"), ("sha256", "left")):
        files.add_column(col, justify=just)  # type: ignore[arg-type]
    for f in store.dataset_files(row.id):
        files.add_row(f.path, f"{f.lines:,}", f"{f.bytes:,}", f.sha256[:16])
    app_ctx.print_data(files)
    for u in uploads:
        app_ctx.print_data(
            f"uploaded {u.kind} to {u.platform} {u.endpoint} as {u.name} ({u.uri}) at {_iso(u.uploaded_at)}"
        )


@app.command()
def export(
    ctx: typer.Context,
    dataset_id: Annotated[str, typer.Argument(metavar="ID", help="Dataset id or a unique prefix of it.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to copy the files into.")],
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty directory, replacing same-named files.")
    ] = False,
) -> None:
    """Copy a dataset's files (eval/, icl/, train/) into a directory."""
    from flywheel_cli.datasets.export import export_dataset

    app_ctx = get_ctx(ctx)
    store = app_ctx.store()
    row = _row(store, dataset_id)
    written = export_dataset(store, row.id, out, force=force)
    if app_ctx.json:
        app_ctx.emit_json("dataset_export", {"id": row.id, "out": str(out), "files": [str(p) for p in written]})
        return
    app_ctx.success(f"exported {row.id}: {len(written)} files into {out}")


@app.command("upload")
def upload_cmd(
    ctx: typer.Context,
    dataset_id: Annotated[str, typer.Argument(metavar="ID", help="Dataset id or a unique prefix of it.")],
    force: Annotated[
        bool, typer.Option("--force", help="Upload even if the same content was uploaded before.")
    ] = False,
) -> None:
    """Upload the eval, icl and train datasets to the platform (a no-op for content already there)."""
    app_ctx = get_ctx(ctx)
    store = app_ctx.store()
    row = _row(store, dataset_id)
    outcomes = _upload(app_ctx, app_ctx.settings(), store, row.id, force)
    if app_ctx.json:
        app_ctx.emit_json("dataset_upload", {"id": row.id, "uploads": [_upload_json(o) for o in outcomes]})
        return
    _render_uploads(app_ctx, outcomes)
    if all(o.skipped for o in outcomes):
        app_ctx.info("nothing to upload: the same content is already there (--force uploads again)")
