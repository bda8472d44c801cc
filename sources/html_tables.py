"""The <table> elements of an HTML page as grids of cell text, with row and column spans expanded.

Used for the bulletin pages (sources/bulletin_pages.py) and for "Excel" files that are really HTML
pages (a distributor's .xls export, read by sources/yearbook_xls.py). Written on the standard
library's HTMLParser because no HTML table reader (lxml, BeautifulSoup) is a dependency and these
tables need nothing beyond cell text and spans.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

WHITESPACE = re.compile(r"[\s\u3000\xa0]+")
BLOCK_TAGS = {"table", "div", "p", "br", "h1", "h2", "h3", "h4", "title", "body", "tr"}


class _TableCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[tuple[str, int, int]]]] = []  # table -> row -> (text, rowspan, colspan)
        self._open: list[list[list[tuple[str, int, int]]]] = []
        self._cell: list[str] | None = None
        self._spans = (1, 1)
        self.page_rows: list[object] = []  # text blocks outside tables (str) and tables (their index), in order
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in BLOCK_TAGS and not self._open:
            self._flush_text()
        if tag == "table":
            if not self._open:
                self.page_rows.append(len(self.tables))
            self._open.append([])
            self.tables.append(self._open[-1])
        elif tag == "tr" and self._open:
            self._open[-1].append([])
        elif tag in ("td", "th") and self._open:
            named = dict(attrs)
            self._cell = []
            self._spans = (_span(named.get("rowspan")), _span(named.get("colspan")))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._open and self._open[-1]:
            self._open[-1][-1].append((WHITESPACE.sub(" ", "".join(self._cell)).strip(), *self._spans))
            self._cell = None
        elif tag == "table" and self._open:
            self._open.pop()

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif not self._open:
            self._text.append(data)

    def _flush_text(self):
        text = WHITESPACE.sub(" ", "".join(self._text)).strip()
        if text:
            self.page_rows.append(text)
        self._text = []


def _span(raw) -> int:
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        return 1


def _expand(rows: list[list[tuple[str, int, int]]]) -> list[list[str]]:
    """Place each cell at its grid position; the cells a span covers hold ""."""
    grid: dict[tuple[int, int], str] = {}
    for r, cells in enumerate(rows):
        c = 0
        for text, rowspan, colspan in cells:
            while (r, c) in grid:
                c += 1
            for dr in range(rowspan):
                for dc in range(colspan):
                    grid[(r + dr, c + dc)] = text if (dr, dc) == (0, 0) else ""
            c += colspan
    n_rows = len(rows)
    n_cols = max((c for _, c in grid), default=-1) + 1
    return [[grid.get((r, c), "") for c in range(n_cols)] for r in range(n_rows)]


def html_tables(text: str) -> list[list[list[str]]]:
    """Every table of the page, in document order, as a rectangular grid of cell texts."""
    collector = _TableCollector()
    collector.feed(text)
    return [_expand(rows) for rows in collector.tables]


def page_grid(text: str) -> list[list[str]]:
    """The page as one sheet: each text block outside the tables is a one-cell row (a title, a 单位 line),
    followed in document order by the rows of each table (spans expanded)."""
    collector = _TableCollector()
    collector.feed(text)
    collector._flush_text()
    grid: list[list[str]] = []
    for item in collector.page_rows:
        grid.extend([[item]] if isinstance(item, str) else _expand(collector.tables[item]))
    return grid
