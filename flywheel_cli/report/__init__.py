"""Run results: one model (`build_report`) and its views — terminal table, versioned JSON, CSV, Markdown, HTML."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flywheel_cli.report.model import Report, build_report, latest_run_id

if TYPE_CHECKING:
    from rich.console import RenderableType

FORMATS = ("table", "json", "csv", "markdown", "html")


def render_table(report: Report) -> RenderableType:
    """The rich renderable `flywheel run` prints at its end and `flywheel report` prints on a terminal."""
    from flywheel_cli.report.render_table import render_table as _render_table

    return _render_table(report)


def render(report: Report, fmt: str) -> str:
    """The report as text in one of FORMATS ("table" is the terminal view without colour)."""
    if fmt == "table":
        from flywheel_cli.report.render_table import render_text

        return render_text(report)
    if fmt == "json":
        from flywheel_cli.report.render_json import render_json

        return render_json(report)
    if fmt == "csv":
        from flywheel_cli.report.render_csv import render_csv

        return render_csv(report)
    if fmt == "markdown":
        from flywheel_cli.report.render_markdown import render_markdown

        return render_markdown(report)
    if fmt == "html":
        from flywheel_cli.report.render_html import render_html

        return render_html(report)
    from flywheel_cli.errors import UsageError

    raise UsageError(f"unknown report format {fmt!r}", hint=f"Use one of: {', '.join(FORMATS)}.")


__all__ = ["FORMATS", "Report", "build_report", "latest_run_id", "render", "render_table"]
