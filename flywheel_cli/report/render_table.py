"""The terminal view: a rich table, the verdict under it, then customization facts and failures nothing else shows."""

from __future__ import annotations

import io

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from flywheel_cli.report import rows as r
from flywheel_cli.report.model import Report


def render_table(report: Report) -> RenderableType:
    table = Table(title=r.title(report), title_justify="left", title_style="bold red" if report.simulated else "bold")
    right = set(report.metrics) | {"relative", "runtime", "cost / 1k req", "saving"}
    for col in r.columns(report):
        table.add_column(col, justify="right" if col in right else "left", overflow="fold")
    for row in r.table_rows(report):
        style = "bold green" if row.chosen else "red" if row.failed else "dim" if row.reference else None
        table.add_row(*r.cells(row, report), style=style)

    parts: list[RenderableType] = [table]
    verdict_style = "bold green" if report.verdict.qualified else "bold yellow"
    parts.append(Text(r.verdict_line(report), style=verdict_style))
    parts.append(Text(r.legend(report), style="dim"))
    for label, value in r.facts(report):
        parts.append(Text(f"{label}: {value}", style="dim"))
    custom = r.customization_rows(report)
    if custom:
        sub = Table(title="customization", title_justify="left")
        for col in custom[0]:
            sub.add_column(col, overflow="fold")
        for line in custom[1:]:
            sub.add_row(*line)
        parts.append(sub)
    for note in report.notes:
        parts.append(Text(note, style="red"))
    return Group(*parts)


def render_text(report: Report, width: int = 1000) -> str:
    """The terminal view as plain text at the table's natural width (no terminal to fit), for files and pipes."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, no_color=True, color_system=None, highlight=False, soft_wrap=False)
    console.print(render_table(report))
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())
