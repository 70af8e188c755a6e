"""Documents that cannot drift: the state schema page, the README's commands and every command's --help."""

from __future__ import annotations

import re
from pathlib import Path

from flywheel_cli.state.schema_doc import render

REPO = Path(__file__).resolve().parent.parent


def test_state_schema_document_matches_the_migrations():
    doc = (REPO / "docs" / "state-schema.md").read_text()
    assert doc == render(), "docs/state-schema.md is stale: python -m flywheel_cli.state.schema_doc > docs/state-schema.md"


def test_readme_opens_with_the_two_setup_commands():
    readme = (REPO / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line and not line.startswith("#")]
    assert commands == ["make demo", "make test"]
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_every_command_has_help(cli):
    from flywheel_cli.cli.app import app

    import typer.main

    group = typer.main.get_command(app)
    paths: list[list[str]] = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        paths.append([name])
        for sub in getattr(command, "commands", {}) or {}:
            paths.append([name, sub])
    assert len(paths) >= 20
    for path in paths:
        result = cli(*path, "--help")
        assert result.exit_code == 0, path
        assert "Usage: " in result.stdout
        text = result.stdout.split("Options")[0]
        assert len(text.split("\n", 2)[-1].strip()) > 20, f"{' '.join(path)} has no description"
