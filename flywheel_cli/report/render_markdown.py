"""The Markdown view: the same table and verdict as the terminal, for pull requests and wikis."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

from flywheel_cli.report import rows as r
from flywheel_cli.report.model import Report

_SPECIAL = re.compile(r"([\\|*`<>])")


def _md(text: object) -> str:
    # One line per cell; characters Markdown would read as table syntax, emphasis or HTML are escaped.
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=False,  # Markdown, not HTML: escaping is the `md` filter's job
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["md"] = _md


def render_markdown(report: Report) -> str:
    return _ENV.get_template("report.md.j2").render(
        **r.template_context(report),
    )
