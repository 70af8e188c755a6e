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
    import orjson

    lines: list[str] = []

    def value(v):
        return orjson.dumps(v).decode() if not isinstance(v, bool) else ("true" if v else "false")

    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
    for name, table in tables.items():
        lines.append(f"[{name}]")
        for key, v in table.items():
            if v is None:
                continue
            if isinstance(v, dict):
                lines.append(f"{key} = {{ {', '.join(f'{k!s} = {value(x)}' for k, x in v.items())} }}")
            else:
                lines.append(f"{key} = {value(v)}")
        lines.append("")
    for name, items in arrays.items():
        for item in items:
            lines.append(f"[[{name}]]")
            for key, v in item.items():
                if v is None:
                    continue
                if isinstance(v, dict):
                    lines.append(f"{key} = {{ {', '.join(f'{k} = {value(x)}' for k, x in v.items() if x is not None)} }}")
                else:
                    lines.append(f"{key} = {value(v)}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
