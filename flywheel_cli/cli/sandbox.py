"""`flywheel sandbox serve`: the NMP emulator on loopback, for trying flywheel without a cluster."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from flywheel_cli.cli.context import get_ctx

app = typer.Typer(help="The bundled NMP emulator (simulated models and jobs).", no_args_is_help=True)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on (keep it on loopback).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 8900,
    speed: Annotated[Optional[float], typer.Option(min=0.001, help="Simulated seconds per real second. Default: [sandbox] speed.")] = None,
    fault_rate: Annotated[
        Optional[float], typer.Option(min=0.0, max=1.0, help="Share of requests that fail (5xx, timeouts, dropped connections, slow answers).")
    ] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for simulated answers and faults. Default: [sandbox] seed.")] = None,
) -> None:
    """Serve the NMP endpoints flywheel uses until Ctrl-C. Point flywheel at it with
    FLYWHEEL_NMP__NEMO_URL=URL FLYWHEEL_NMP__DATASTORE_URL=URL FLYWHEEL_NMP__NIM_URL=URL/nim.
    Every score it produces is simulated.
    """
    from flywheel_cli.sandbox import Sandbox

    app_ctx = get_ctx(ctx)
    cfg = app_ctx.settings().sandbox
    sb = Sandbox(
        host=host,
        port=port,
        speed=speed if speed is not None else cfg.speed,
        fault_rate=fault_rate if fault_rate is not None else cfg.fault_rate,
        seed=seed if seed is not None else cfg.seed,
    )
    info = sb.describe()  # binds the port, so the URLs below are final
    if app_ctx.json:
        app_ctx.emit_json("sandbox", info)
    else:
        app_ctx.info(f"sandbox listening on {sb.url} (NIM proxy {sb.nim_url}); Ctrl-C stops it")
        app_ctx.info(f"export FLYWHEEL_NMP__NEMO_URL={sb.url} FLYWHEEL_NMP__DATASTORE_URL={sb.url} FLYWHEEL_NMP__NIM_URL={sb.nim_url}")
    sb.serve_forever()  # until Ctrl-C
