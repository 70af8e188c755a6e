"""Checking a report as a consumer would: JSON against the documented schema, HTML parsed into its table and charts."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class HtmlReport:
    """What a browser would show: the results table's rows (cell texts), the charts' bar titles, all text."""

    results: list[list[str]] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    svgs: int = 0
    bars: list[str] = field(default_factory=list)
    text: str = ""


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.out = HtmlReport()
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._title: list[str] | None = None
        self._text: list[str] = []

    def _in(self, tag: str, cls: str | None = None) -> bool:
        return any(t == tag and (cls is None or a.get("class") == cls) for t, a in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self.out.svgs += 1
        if tag == "tr" and self._in("table", "results"):
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = []
        if tag == "title" and self._in("rect"):
            self._title = []
        if tag not in ("meta", "line", "circle", "br"):
            self.stack.append((tag, a))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.out.svgs += 1

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1][0] == tag, f"</{tag}> closes {self.stack[-1:]}"
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            if self._in("thead"):
                self.out.headers = self._row
            else:
                self.out.results.append(self._row)
            self._row = None
        if tag == "title" and self._title is not None:
            self.out.bars.append("".join(self._title))
            self._title = None
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        for buf in (self._cell, self._title):
            if buf is not None:
                buf.append(data)


def parse_html(html: str) -> HtmlReport:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    assert parser.stack == [], f"unclosed tags: {[t for t, _ in parser.stack]}"
    parser.out.text = "".join(parser._text)
    return parser.out
