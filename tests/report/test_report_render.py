"""The views: JSON against its schema, CSV exactly, Markdown, HTML (parsed), the rich table."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser

import pytest
from report_runs import NIM_1B, NIM_8B, StoredRun, settings, store_run

from flywheel_cli.errors import UsageError
from flywheel_cli.report import build_report, render, render_table
from flywheel_cli.report.schema import schema_errors
from flywheel_cli.report.render_json import to_json
from flywheel_cli.report.schema import REPORT_SCHEMA
from flywheel_cli.state import Store



@pytest.fixture
def report(store: Store, stored: StoredRun):
    return build_report(store, stored.run_id, settings())


# -- JSON -------------------------------------------------------------------------------------------------------------
def test_json_validates_against_the_schema(report) -> None:
    doc = json.loads(render(report, "json"))
    assert schema_errors(doc, REPORT_SCHEMA) == []
    assert doc == to_json(report)
    assert (doc["version"], doc["kind"], doc["simulated"]) == (1, "report", True)
    assert doc["workload"] == {"id": "tool_router", "type": "tool_calling"}
    assert doc["datasets"] == {"id": "ds-0123456789ab", "eval_records": None, "train_records": None,
                               "val_records": None, "seed": None}
    assert [(e["nim"], e["experiment"], e["status"], e["qualifies"]) for e in doc["experiments"]] == [
        (NIM_1B, "base", "completed", False), (NIM_1B, "icl", "completed", False),
        (NIM_1B, "customized", "skipped", False), (NIM_8B, "base", "completed", False),
        (NIM_8B, "icl", "completed", False), (NIM_8B, "customized", "completed", True),
    ]
    assert len(doc["scores"]) == 15
    assert doc["verdict"]["nim"] == NIM_8B and doc["verdict"]["experiment"] == "customized"
    assert doc["nims"][0]["failures"] == [{"stage": "customize", "error": "customization job cust-1 failed: CUDA out of memory"}]


def test_json_schema_validator_catches_drift(report) -> None:
    doc = to_json(report)
    del doc["verdict"]["text"]
    doc["simulated"] = "yes"
    doc["scores"][0]["ci_low"] = "0.5"
    doc["extra"] = 1
    assert sorted(schema_errors(doc, REPORT_SCHEMA)) == [
        "$.scores[0].ci_low: '0.5' is not number/null",
        "$.simulated: 'yes' is not boolean",
        "$.verdict: missing 'text'",
        "$: unexpected 'extra'",
    ]


def test_json_of_a_run_with_nothing_scored_validates(store: Store) -> None:
    run = store.create_run(workload_id="w", client_id="c", platform="nmp", endpoint="x", simulated=False,
                           nims=[NIM_1B], options={})
    doc = to_json(build_report(store, run.id, settings()))
    assert schema_errors(doc, REPORT_SCHEMA) == []
    assert (doc["simulated"], doc["datasets"]["id"], doc["verdict"]["best"]) == (False, None, None)


# -- CSV --------------------------------------------------------------------------------------------------------------
def test_csv_rows_and_columns_exact(report) -> None:
    run = report.run.id
    ref = "reference (production model: logged responses)"
    oom = "customization job cust-1 failed: CUDA out of memory"
    expected = f"""\
run_id,workload_id,nim,experiment,metric,value,raw,count,failed,ci_low,ci_high,relative,status,failed_stage,error,runtime_seconds,cost_per_1k,simulated
{run},tool_router,{ref},reference,function_name_accuracy,1.0,1.0,,0,,,1.0,logged,,,,,true
{run},tool_router,{ref},reference,function_name_and_args_accuracy,1.0,1.0,,0,,,1.0,logged,,,,,true
{run},tool_router,{ref},reference,tool_calling_correctness,1.0,1.0,,0,,,1.0,logged,,,,,true
{run},tool_router,{NIM_1B},base,function_name_accuracy,0.62,0.62,50,0,0.48,0.7405,0.62,completed,,,426.6,,true
{run},tool_router,{NIM_1B},base,function_name_and_args_accuracy,0.1,0.1,50,0,0.02,0.18,0.1,completed,,,426.6,,true
{run},tool_router,{NIM_1B},base,tool_calling_correctness,0.3,0.3,50,2,0.18,0.42,0.3,completed,,,426.6,,true
{run},tool_router,{NIM_1B},icl,function_name_accuracy,0.8,0.8,50,0,0.68,0.9,0.8,completed,,,95.0,,true
{run},tool_router,{NIM_1B},icl,function_name_and_args_accuracy,0.2,0.2,50,0,0.1,0.32,0.2,completed,,,95.0,,true
{run},tool_router,{NIM_1B},icl,tool_calling_correctness,0.5,0.5,50,0,0.36,0.6205,0.5,completed,,,95.0,,true
{run},tool_router,{NIM_1B},customized,function_name_accuracy,,,,,,,,skipped,customize,{oom},,,true
{run},tool_router,{NIM_1B},customized,function_name_and_args_accuracy,,,,,,,,skipped,customize,{oom},,,true
{run},tool_router,{NIM_1B},customized,tool_calling_correctness,,,,,,,,skipped,customize,{oom},,,true
{run},tool_router,{NIM_8B},base,function_name_accuracy,0.9,0.9,50,0,0.82,0.98,0.9,completed,,,3725.0,,true
{run},tool_router,{NIM_8B},base,function_name_and_args_accuracy,0.4,0.4,50,0,0.2795,0.54,0.4,completed,,,3725.0,,true
{run},tool_router,{NIM_8B},base,tool_calling_correctness,0.7,0.7,50,0,0.5795,0.82,0.7,completed,,,3725.0,,true
{run},tool_router,{NIM_8B},icl,function_name_accuracy,0.92,0.92,50,0,0.84,0.98,0.92,completed,,,42.4,,true
{run},tool_router,{NIM_8B},icl,function_name_and_args_accuracy,0.44,0.44,50,0,0.3,0.56,0.44,completed,,,42.4,,true
{run},tool_router,{NIM_8B},icl,tool_calling_correctness,0.76,0.76,50,0,0.64,0.88,0.76,completed,,,42.4,,true
{run},tool_router,{NIM_8B},customized,function_name_accuracy,0.97,0.97,100,0,0.93,1.0,0.97,completed,,,61.0,,true
{run},tool_router,{NIM_8B},customized,function_name_and_args_accuracy,0.6,0.6,100,0,0.5,0.69,0.6,completed,,,61.0,,true
{run},tool_router,{NIM_8B},customized,tool_calling_correctness,0.88,0.88,100,4,0.78975,0.93,0.88,completed,,,61.0,,true
"""
    assert render(report, "csv") == expected


def test_csv_cost_column_and_not_simulated(store: Store) -> None:
    stored = store_run(store, simulated=False)
    text = render(build_report(store, stored.run_id, settings(prices={NIM_8B: 0.4})), "csv")
    rows = [line.split(",") for line in text.splitlines()[1:]]
    assert {r[-1] for r in rows} == {"false"}
    assert [r[-2] for r in rows if r[2] == NIM_8B] == ["0.4"] * 9
    assert [r[-2] for r in rows if r[2] != NIM_8B] == [""] * 12


# -- Markdown ---------------------------------------------------------------------------------------------------------
def test_markdown_has_table_verdict_and_says_simulated(report) -> None:
    text = render(report, "markdown")
    assert text.startswith(f"# SIMULATED (sandbox) · flywheel report · {report.run.id} · workload tool_router · run partial\n")
    assert "> **SIMULATED — sandbox scores.**" in text
    assert f"**verdict: {report.verdict.text}**" in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    # header, reference, 6 experiments; then the customization table's header and 2 rows
    assert len(table) == 1 + 1 + 6 + 1 + 2
    assert table[0] == ("| NIM | experiment | function_name_accuracy | function_name_and_args_accuracy | "
                        "tool_calling_correctness | relative | runtime | status |")
    assert table[3] == (f"| {NIM_1B} | icl | 0.80 [0.68–0.90] n=50 | 0.20 [0.10–0.32] n=50 | "
                        "0.50 [0.36–0.62] n=50 | 80.0% | 1m 35s | completed |")
    assert table[4] == (f"| {NIM_1B} | customized | – | – | – | – | – | skipped — customize failed: "
                        "customization job cust-1 failed: CUDA out of memory |")
    assert table[7].startswith(f"| **{NIM_8B}** | **customized** | **0.97 [0.93–1.00] n=100** |")


def test_markdown_escapes_table_syntax(store: Store, stored: StoredRun) -> None:
    store.upsert_step(stored.run_id, NIM_1B, "customize", error="bad | pipe *and* <tag>")
    text = render(build_report(store, stored.run_id, settings()), "markdown")
    assert "skipped — customize failed: bad \\| pipe \\*and\\* \\<tag\\> |" in text


def test_markdown_not_simulated(store: Store) -> None:
    stored = store_run(store, simulated=False)
    text = render(build_report(store, stored.run_id, settings()), "markdown")
    assert "SIMULATED" not in text and "**scores**: measured" in text


# -- HTML -------------------------------------------------------------------------------------------------------------
class _Walker(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None], tuple[str, ...]]] = []  # (tag, attrs, ancestors)
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs), tuple(self.stack)))
        if tag not in ("meta", "line", "circle", "br"):
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs), tuple(self.stack)))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _walk(html: str) -> _Walker:
    walker = _Walker()
    walker.feed(html)
    walker.close()
    assert walker.stack == []
    return walker


def test_html_table_chart_and_banner(report) -> None:
    walker = _walk(render(report, "html"))
    results = [t for t in walker.tags if t[0] == "tr" and "tbody" in t[2] and "table" in t[2]]
    classes = [attrs["class"] for tag, attrs, _ in walker.tags if tag == "tr" and attrs.get("class")]
    assert classes[:7] == ["reference", "experiment", "experiment", "failed", "experiment", "experiment", "chosen"]
    assert len(results) == 7 + 2  # results table (reference + 6) and customization table (2)
    svgs = [i for i, t in enumerate(walker.tags) if t[0] == "svg"]
    assert len(svgs) == 3  # one chart per metric
    rects = [t for t in walker.tags if t[0] == "rect"]
    assert len(rects) == 3 * 5  # per metric: 1B base, icl; 8B base, icl, customized (the failed one has no bar)
    assert all("svg" in ancestors for _, _, ancestors in rects)
    ci = [t for t in walker.tags if t[0] == "line" and t[1].get("class") == "ci"]
    assert len(ci) == 3 * len(rects)  # whisker and two caps per bar
    assert len([t for t in walker.tags if t[0] == "line" and t[1].get("class") == "threshold"]) == 1  # headline only
    text = "".join(walker.text)
    assert "SIMULATED — sandbox scores" in text
    assert f"verdict: {report.verdict.text}" in text
    assert "skipped — customize failed: customization job cust-1 failed: CUDA out of memory" in text


def test_html_bar_heights_and_whiskers_match_scores(report) -> None:
    walker = _walk(render(report, "html"))
    first_svg = walker.tags.index(next(t for t in walker.tags if t[0] == "svg"))
    rects = [t[1] for t in walker.tags[first_svg:] if t[0] == "rect"][:5]
    # Plot area: y = 28 at 1.0, 208 at 0.0 (180 px tall).
    assert [(float(r["y"]), float(r["height"])) for r in rects] == [
        (96.4, 111.6), (64.0, 144.0), (46.0, 162.0), (42.4, 165.6), (33.4, 174.6)
    ]
    assert [r["fill"] for r in rects] == ["#8da0cb", "#66c2a5", "#8da0cb", "#66c2a5", "#fc8d62"]


def test_html_is_self_contained(report) -> None:
    walker = _walk(render(report, "html"))
    assert not [t for t in walker.tags if t[0] in ("script", "link", "img", "iframe")]
    assert not [t for t in walker.tags if "src" in t[1] or "href" in t[1]]


def test_html_escapes_what_came_from_outside(store: Store, stored: StoredRun) -> None:
    store.upsert_step(stored.run_id, NIM_1B, "customize", error="<script>alert(1)</script>")
    html = render(build_report(store, stored.run_id, settings()), "html")
    walker = _walk(html)
    assert not [t for t in walker.tags if t[0] == "script"]
    assert "customize failed: <script>alert(1)</script>" in "".join(walker.text)
    assert "&lt;script&gt;" in html


def test_html_not_simulated_has_no_banner(store: Store) -> None:
    stored = store_run(store, simulated=False)
    walker = _walk(render(build_report(store, stored.run_id, settings()), "html"))
    assert not [t for t in walker.tags if t[1].get("class") == "banner"]
    assert "SIMULATED" not in "".join(walker.text)


# -- terminal ---------------------------------------------------------------------------------------------------------
def test_rich_table_has_rows_title_and_verdict(report) -> None:
    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=400, no_color=True).print(render_table(report))
    text = buffer.getvalue()
    assert f"SIMULATED (sandbox) · flywheel report · {report.run.id} · workload tool_router · run partial" in text
    assert f"verdict: {report.verdict.text}" in text
    assert "0.97 [0.93–1.00] n=100" in text
    assert "skipped — customize failed: customization job cust-1 failed: CUDA out of memory" in text
    assert "reference (production model: logged responses)" in text
    assert text.count(NIM_1B) == 3 + 1  # three experiment rows and its customization row


def test_table_text_has_cost_columns_when_priced(store: Store, stored: StoredRun) -> None:
    prices = {NIM_1B: 0.5, NIM_8B: 1.5, "reference": 6.0}
    text = render(build_report(store, stored.run_id, settings(prices=prices)), "table")
    header = next(line for line in text.splitlines() if "experiment" in line)
    assert "cost / 1k req" in header and "saving" in header
    row = next(line for line in text.splitlines() if NIM_8B in line and "customized" in line)
    assert "1.50" in row and "4.50 (75%)" in row
    assert all(line == line.rstrip() for line in text.splitlines())


def test_unknown_format() -> None:
    with pytest.raises(UsageError, match="unknown report format 'pdf'"):
        render(None, "pdf")  # type: ignore[arg-type]
