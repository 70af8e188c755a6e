"""Geometry of the HTML report's bar charts: one small chart per metric, bars grouped by NIM, one per experiment.

Only coordinates and labels live here; the template draws them. Every bar is exactly one <rect>, and every interval
is three <line class="ci"> (the whisker and its two caps), so the chart can be checked by counting elements.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flywheel_cli.report.model import EXPERIMENTS, Report

COLORS = {"base": "#8da0cb", "icl": "#66c2a5", "customized": "#fc8d62"}
_BAR = 26
_BAR_GAP = 4
_GROUP_GAP = 64
_LEFT = 48
_RIGHT = 112  # room for the reference and threshold labels beside the plot
_TOP = 28
_PLOT = 180
_BOTTOM = 58
_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    cls: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    cls: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


@dataclass
class Chart:
    metric: str
    width: float
    height: float
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    legend: list[tuple[float, str, str]] = field(default_factory=list)  # (x, colour, experiment)


def _y(value: float) -> float:
    return round(_TOP + (1.0 - min(max(value, 0.0), 1.0)) * _PLOT, 1)


def _short(model_name: str) -> str:
    return model_name.rsplit("/", 1)[-1]


def charts(report: Report) -> list[Chart]:
    group = len(EXPERIMENTS) * _BAR + (len(EXPERIMENTS) - 1) * _BAR_GAP
    right = _LEFT + max(len(report.nims), 2) * (group + _GROUP_GAP)
    width = right + _RIGHT
    out = []
    for metric in report.metrics:
        chart = Chart(metric=metric, width=width, height=_TOP + _PLOT + _BOTTOM)
        for tick in _TICKS:
            chart.lines.append(Line(_LEFT, _y(tick), right, _y(tick), "grid"))
            chart.labels.append(Label(_LEFT - 6, _y(tick) + 4, f"{tick:.2f}", "tick", "end"))
        chart.lines.append(Line(_LEFT, _TOP, _LEFT, _y(0.0), "axis"))
        chart.lines.append(Line(_LEFT, _y(0.0), right, _y(0.0), "axis"))
        ref = report.reference.scores[metric].value
        chart.lines.append(Line(_LEFT, _y(ref), right, _y(ref), "reference"))
        chart.labels.append(Label(right + 6, _y(ref) - 2, f"reference {ref:.2f}", "reference-label", "start"))
        if metric in report.headline_metrics:
            bar_at = report.min_relative_score * ref
            chart.lines.append(Line(_LEFT, _y(bar_at), right, _y(bar_at), "threshold"))
            label = f"qualifies ≥ {bar_at:.2f}"
            chart.labels.append(Label(right + 6, _y(bar_at) + 11, label, "threshold-label", "start"))
        chart.labels.append(Label(_LEFT, _TOP - 12, metric, "metric", "start"))
        for i, nim in enumerate(report.nims):
            x0 = _LEFT + _GROUP_GAP / 2 + i * (group + _GROUP_GAP)
            chart.labels.append(Label(x0 + group / 2, _y(0.0) + 16, _short(nim.model_name), "nim"))
            for j, exp in enumerate(nim.experiments):
                x = x0 + j * (_BAR + _BAR_GAP)
                score = exp.scores.get(metric)
                if score is None:
                    chart.labels.append(Label(x + _BAR / 2, _y(0.0) - 4, "n/a", "missing"))
                    continue
                top = _y(score.value)
                ci = "" if score.ci_low is None else f" [{score.ci_low:.2f}–{score.ci_high:.2f}]"
                title = f"{nim.model_name} · {exp.name}: {score.value:.2f}{ci}"
                chart.bars.append(Bar(x, top, _BAR, round(_y(0.0) - top, 1), COLORS[exp.name], title))
                if score.ci_low is not None and score.ci_high is not None:
                    mid, lo, hi = x + _BAR / 2, _y(score.ci_low), _y(score.ci_high)
                    chart.lines += [
                        Line(mid, lo, mid, hi, "ci"),
                        Line(mid - 5, lo, mid + 5, lo, "ci"),
                        Line(mid - 5, hi, mid + 5, hi, "ci"),
                    ]
        chart.legend = [(_LEFT + 8 + k * 96, COLORS[name], name) for k, name in enumerate(EXPERIMENTS)]
        out.append(chart)
    return out
