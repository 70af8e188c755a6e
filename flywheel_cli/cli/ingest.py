"""`flywheel ingest`: JSONL files, stdin or Elasticsearch into the state file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from flywheel_cli.cli.context import AppContext, get_ctx


def register(app: typer.Typer) -> None:
    app.command("ingest", no_args_is_help=False)(ingest)


def ingest(
    ctx: typer.Context,
    paths: Annotated[
        Optional[list[str]],
        typer.Argument(help="JSONL files (.jsonl or .jsonl.gz), globs, or - for stdin.", show_default=False),
    ] = None,
    workload_id: Annotated[
        Optional[str],
        typer.Option(help="Workload id for shorthand {messages, tools} lines; overrides it on log lines. With --es-url: filter."),
    ] = None,
    client_id: Annotated[
        Optional[str], typer.Option(help="Client id for shorthand lines; overrides it on log lines. With --es-url: filter.")
    ] = None,
    rejects: Annotated[
        Optional[Path],
        typer.Option(help="Where to write rejected lines, whole. Default: rejects/ingest-<id>.jsonl beside the state file."),
    ] = None,
    strict: Annotated[bool, typer.Option(help="Store nothing if any line is rejected.")] = False,
    es_url: Annotated[Optional[str], typer.Option(help="Read from Elasticsearch at this URL instead of files.")] = None,
    es_index: Annotated[Optional[str], typer.Option(help="Elasticsearch index. Default: [elasticsearch] index.")] = None,
    since: Annotated[
        Optional[str], typer.Option(help="Elasticsearch: only records at or after this time (epoch seconds or ISO-8601).")
    ] = None,
    until: Annotated[
        Optional[str], typer.Option(help="Elasticsearch: only records before this time (epoch seconds or ISO-8601).")
    ] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Elasticsearch: at most this many records, newest first.")] = None,
    insecure: Annotated[bool, typer.Option(help="Elasticsearch: do not verify TLS certificates.")] = False,
    max_line_bytes: Annotated[
        int, typer.Option(min=1, help="Reject lines longer than this many bytes (they are still kept in the rejects file).")
    ] = 16 * 1024 * 1024,
) -> None:
    """Import logs into the state file: validate every line, dedup by content, keep rejected lines whole.

    Env for Elasticsearch credentials: ES_API_KEY, or ES_USERNAME and ES_PASSWORD (names set in [elasticsearch]).
    Running the same ingest again adds nothing; an interrupted ingest is completed by running it again.
    """
    from flywheel_cli.errors import UsageError
    from flywheel_cli.ingest import IngestOptions

    app_ctx = get_ctx(ctx)
    options = IngestOptions(
        workload_id=workload_id, client_id=client_id, strict=strict, rejects_path=rejects, max_line_bytes=max_line_bytes
    )
    if es_url or es_index:
        if paths:
            raise UsageError("give either files or --es-url/--es-index, not both")
        summary = _from_elasticsearch(app_ctx, es_url, es_index, options, since, until, limit, insecure)
    else:
        if not paths:
            raise UsageError("nothing to ingest", hint="Pass JSONL files, globs or - for stdin, or --es-url URL --es-index NAME.")
        if since or until or limit:
            raise UsageError("--since, --until and --limit apply to Elasticsearch (--es-url) only")
        summary = _from_files(app_ctx, paths, options)
    _render(app_ctx, summary)


def _from_files(app_ctx: AppContext, paths: list[str], options):
    from flywheel_cli.ingest import ingest_files
    from flywheel_cli.logs.jsonl import expand_paths, total_bytes

    files = expand_paths(paths)
    store = app_ctx.store()
    total = total_bytes(files)
    if not app_ctx.interactive or total is None:
        return ingest_files(store, files, options)
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=app_ctx.err,
        transient=True,
    ) as progress:
        task = progress.add_task("ingesting", total=total)
        return ingest_files(store, files, options, on_bytes=lambda n: progress.advance(task, n))


def _parse_time(value: str | None, flag: str) -> int | None:
    from flywheel_cli.errors import UsageError
    from flywheel_cli.logs.schema import Invalid, _timestamp

    if value is None:
        return None
    try:
        return _timestamp(int(value) if value.isdigit() else value)
    except Invalid:
        raise UsageError(f"{flag} {value!r} is not epoch seconds or an ISO-8601 time") from None


def _from_elasticsearch(app_ctx: AppContext, url, index, options, since, until, limit, insecure):
    from flywheel_cli.ingest import ingest_documents
    from flywheel_cli.logs.elastic import es_settings_from_env, iter_es_records

    settings = app_ctx.settings()
    es_cfg = settings.elasticsearch
    url = url or es_cfg.url
    index = index or es_cfg.index
    if not url:
        from flywheel_cli.errors import UsageError

        raise UsageError("--es-index needs --es-url (or [elasticsearch] url in the config)")
    connection = es_settings_from_env(es_cfg)  # credentials from the env vars the config names
    if insecure:
        connection["verify_certs"] = False
    docs = iter_es_records(
        url,
        index,
        workload_id=options.workload_id,
        client_id=options.client_id,
        since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"),
        limit=limit,
        **connection,
    )
    return ingest_documents(app_ctx.store(), f"es://{index}", docs, options)


def _render(app_ctx: AppContext, summary) -> None:
    from rich.table import Table

    from flywheel_cli.errors import InputError

    if app_ctx.json:
        app_ctx.emit_json("ingest", summary.to_json())
    else:
        for reject in summary.rejects:
            app_ctx.err.print(str(reject), markup=False, highlight=False, style="yellow")
        if summary.rejected > len(summary.rejects):
            app_ctx.info(f"... and {summary.rejected - len(summary.rejects):,} more rejected lines")
        table = Table(title="ingest", title_justify="left")
        for col in ("workload", "read", "ingested", "duplicates"):
            table.add_column(col, justify="left" if col == "workload" else "right")
        for name, counts in sorted(summary.workloads.items()):
            table.add_row(name, f"{counts.read:,}", f"{counts.ingested:,}", f"{counts.duplicates:,}")
        table.add_section()
        table.add_row("total", f"{summary.read:,}", f"{summary.ingested:,}", f"{summary.duplicates:,}")
        app_ctx.print_data(table)
        line = f"{summary.ingested:,} records ingested, {summary.duplicates:,} duplicates skipped, {summary.rejected:,} rejected"
        if summary.reimported:
            line += f" ({summary.reimported:,} of the duplicates were already ingested from the same lines)"
        app_ctx.info(line)
        if summary.rejects_path:
            app_ctx.info(f"rejected lines kept whole in {summary.rejects_path} (reasons in {summary.rejects_path}.errors.txt)")
    if summary.strict_aborted:
        raise InputError(
            f"--strict: {summary.rejected:,} lines were rejected, so nothing was stored",
            hint="Fix the lines listed above (also in the rejects file) or drop --strict to store the good lines.",
        )
