"""The `flywheel` entry point: global options, command registration, and the one place errors become exit codes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
import typer.core

from flywheel_cli import __version__
from flywheel_cli.cli import config_cmd, datasets, deploy, ingest, report, run, runs, sandbox, steps, workloads
from flywheel_cli.cli.context import AppContext

try:  # typer ≥ 0.26 vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer on real click
    from click import ClickException  # type: ignore[no-redef]

_GLOBAL_FLAGS = {"--json", "-q", "--quiet", "-v", "--verbose", "--traceback"}
_GLOBAL_VALUED = {"--state", "--config", "--platform"}


def hoist_global_options(args: list[str]) -> list[str]:
    """Let global options stand anywhere (`flywheel ingest f.jsonl --json`), as users type them."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg in _GLOBAL_FLAGS:
            front.append(arg)
        elif arg in _GLOBAL_VALUED and i + 1 < len(args):
            front.extend(args[i : i + 2])
            i += 1
        elif any(arg.startswith(f"{opt}=") for opt in _GLOBAL_VALUED):
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


class FlywheelGroup(typer.core.TyperGroup):
    """Maps every error to an exit code in one place, for the console script and CliRunner alike."""

    def main(self, args=None, *a, **kw):  # type: ignore[override]
        import sys as _sys

        args = list(_sys.argv[1:] if args is None else args)
        return super().main(hoist_global_options(args), *a, **kw)

    def invoke(self, ctx):  # type: ignore[override]
        from flywheel_cli.errors import ExitCode, FlywheelError

        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, ClickException):
            raise
        except FlywheelError as exc:
            if _wants_traceback(ctx):
                raise
            _print_error(exc.message, exc.hint)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            if _wants_traceback(ctx):
                raise
            _print_error("interrupted", None)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback without --traceback
            if _wants_traceback(ctx):
                raise
            _print_error(f"internal error: {type(exc).__name__}: {exc}", "Re-run with --traceback and report it.")
            raise typer.Exit(int(ExitCode.ERROR)) from None


def _wants_traceback(ctx) -> bool:
    obj = ctx.find_root().obj
    return bool(getattr(obj, "traceback", False))


app = typer.Typer(
    cls=FlywheelGroup,
    name="flywheel",
    help=(
        "Ad-hoc data-flywheel runs: import LLM logs, build datasets per workload, try smaller NIMs on NMP "
        "(base, few-shot, LoRA-customized) and compare them with the production model."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"flywheel {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    state: Annotated[
        Optional[Path],
        typer.Option("--state", envvar="FLYWHEEL_STATE", help="State file. Default: ./.flywheel/state.db."),
    ] = None,
    config: Annotated[
        Optional[Path],
        typer.Option(
            "--config",
            envvar="FLYWHEEL_CONFIG",
            help="Config file. Default: ./configs/flywheel.toml if present, else built-in defaults.",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help='Print one JSON object {"version": 1, "kind": ...} on stdout and nothing else.')
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and data; no progress or messages.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More detail on stderr.")] = False,
    traceback: Annotated[bool, typer.Option("--traceback", help="Show Python tracebacks for errors.")] = False,
    platform: Annotated[
        Optional[str],
        typer.Option("--platform", help="nmp (NeMo Microservices 25.x) or helix (NeMo Platform 26.x). Default: [platform] kind."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    if platform is not None and platform not in ("nmp", "helix"):
        raise typer.BadParameter("must be nmp or helix", param_hint="--platform")
    ctx.obj = AppContext(
        state_path=state, config_path=config, json=json_out, quiet=quiet, verbose=verbose, traceback=traceback,
        platform=platform,
    )
    ctx.call_on_close(ctx.obj.close)


# Registration order is the order `flywheel --help` lists them: the workflow's order. Command modules import only
# typer at the top; everything heavy is imported inside the commands, which keeps `flywheel --help` fast.
ingest.register(app)
workloads.register(app)
app.add_typer(datasets.app, name="datasets")
app.add_typer(deploy.app, name="deploy")
steps.register(app)
run.register(app)
app.add_typer(runs.app, name="runs")
report.register(app)
runs.register_cleanup(app)
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(config_cmd.app, name="config")


def _print_error(message: str, hint: str | None) -> None:
    import os

    from rich.console import Console

    console = Console(file=sys.stderr, no_color=bool(os.environ.get("NO_COLOR")), highlight=False)
    console.print(f"error: {message}", style="bold red", markup=False, highlight=False)
    if hint:
        console.print(hint, markup=False, highlight=False)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. Exit codes follow SPEC §2 (see FlywheelGroup.invoke)."""
    try:
        app(args=argv, prog_name="flywheel")
    except BrokenPipeError:
        # `flywheel ... | head`: the reader went away; not an error worth a message.
        sys.stderr.close()
        sys.exit(0)
