"""Per-invocation context: global options, lazily loaded settings and state, and the two output streams."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from flywheel_cli.config import Settings
    from flywheel_cli.state import Store


@dataclass
class AppContext:
    state_path: Path | None = None
    config_path: Path | None = None
    json: bool = False
    quiet: bool = False
    verbose: bool = False
    traceback: bool = False
    platform: str | None = None  # --platform: overrides [platform] kind
    _settings: Settings | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)
    _out: Console | None = field(default=None, repr=False)
    _err: Console | None = field(default=None, repr=False)

    # Consoles are created on first use, never at import time: under CliRunner the streams are swapped per call.
    @property
    def out(self) -> Console:
        if self._out is None:
            from rich.console import Console

            console = Console(file=sys.stdout, no_color=_no_color(), highlight=False, soft_wrap=False)
            if not console.is_terminal and not os.environ.get("COLUMNS"):
                # Tables piped to a file or a log are read later in full: do not squeeze them into 80 columns.
                console = Console(file=sys.stdout, no_color=_no_color(), highlight=False, soft_wrap=False, width=160)
            self._out = console
        return self._out

    @property
    def err(self) -> Console:
        if self._err is None:
            from rich.console import Console

            self._err = Console(file=sys.stderr, no_color=_no_color(), highlight=False, stderr=True)
        return self._err

    @property
    def interactive(self) -> bool:
        """Live displays and progress bars only on a terminal, never with --json, -q or NO_COLOR."""
        return self.err.is_terminal and not self.json and not self.quiet and not _no_color()

    def settings(self, overrides: dict[str, Any] | None = None) -> Settings:
        from flywheel_cli.config import _deep_merge, load_settings

        flags: dict[str, Any] = {"platform": {"kind": self.platform}} if self.platform else {}
        if overrides:
            return load_settings(self.config_path, _deep_merge(flags, overrides))
        if self._settings is None:
            self._settings = load_settings(self.config_path, flags or None)
        return self._settings

    def store(self) -> Store:
        from flywheel_cli.state import open_store

        if self._store is None:
            self._store = open_store(self.state_path)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- messages (stderr) ----------------------------------------------------------------------------------------
    def info(self, message: str) -> None:
        if not self.quiet:
            self.err.print(message, markup=False, highlight=False)

    def detail(self, message: str) -> None:
        if self.verbose and not self.quiet:
            self.err.print(message, markup=False, highlight=False, style="dim")

    def warn(self, message: str) -> None:
        self.err.print(f"warning: {message}", markup=False, highlight=False, style="yellow")

    def success(self, message: str) -> None:
        if not self.quiet:
            self.err.print(message, markup=False, highlight=False, style="green")

    # -- data (stdout) --------------------------------------------------------------------------------------------
    def emit_json(self, kind: str, payload: dict[str, Any]) -> None:
        """The --json contract: one object {"version": 1, "kind": ..., ...} and nothing else on stdout."""
        import orjson

        doc = {"version": 1, "kind": kind, **payload}
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")
        sys.stdout.flush()

    def print_data(self, renderable: Any) -> None:
        if isinstance(renderable, str):
            # Plain text data goes out verbatim: no markup parsing, no wrapping.
            sys.stdout.write(renderable if renderable.endswith("\n") else renderable + "\n")
            sys.stdout.flush()
            return
        self.out.print(renderable)


def _no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


def get_ctx(ctx: typer.Context) -> AppContext:
    root = ctx.find_root()
    if not isinstance(root.obj, AppContext):
        root.obj = AppContext()
    return root.obj
