"""`flywheel config show`."""

from __future__ import annotations

import typer

from flywheel_cli.cli.context import get_ctx

app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context) -> None:
    """The effective configuration (defaults, config file, FLYWHEEL_* env). Secrets are shown only as set/unset."""
    from flywheel_cli.config import resolve_config_path

    app_ctx = get_ctx(ctx)
    settings = app_ctx.settings()
    path = resolve_config_path(app_ctx.config_path)
    data = settings.redacted()
    if app_ctx.json:
        app_ctx.emit_json("config", {"source": str(path) if path else None, "config": data})
        return

    app_ctx.info(f"# source: {path or 'built-in defaults'} + FLYWHEEL_* environment")
    app_ctx.print_data(_as_toml(data))


def _as_toml(data: dict) -> str:
    """The effective settings as TOML-shaped text: tables first, then arrays of tables ([[nims]])."""
    import orjson

    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items() if x is not None) + " }"
        return orjson.dumps(v).decode()

    def body(table: dict) -> list[str]:
        return [f"{key} = {value(v)}" for key, v in table.items() if v is not None]

    lines: list[str] = []
    for name, table in data.items():
        if isinstance(table, dict):
            lines += [f"[{name}]", *body(table), ""]
    for name, items in data.items():
        if isinstance(items, list) and items and isinstance(items[0], dict):
            for item in items:
                lines += [f"[[{name}]]", *body(item), ""]
    return "\n".join(lines).rstrip() + "\n"
