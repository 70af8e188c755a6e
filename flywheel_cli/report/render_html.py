"""The HTML view: one self-contained file (inline CSS and SVG, no external assets), autoescaped."""

from __future__ import annotations

from pathlib import Path

import jinja2

from flywheel_cli.report import rows as r
from flywheel_cli.report.chart import charts
from flywheel_cli.report.model import Report

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    # Model names, errors and labels come from logs and remote services: never let them become markup.
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


def render_html(report: Report) -> str:
    return _ENV.get_template("report.html.j2").render(
        **r.template_context(report),
        # Score, relative and runtime columns are right-aligned numbers; status and the names are not.
        numeric_until=2 + len(report.metrics) + 2,
        charts=charts(report),
    )
