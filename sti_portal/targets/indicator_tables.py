"""Rows of indicator tables (专栏: 指标（单位） | 2020年 | 2025年 | 属性)."""

from __future__ import annotations

import re

from .candidates import unique_span
from .context import DocContext
from .numbers import to_base
from .script import original_script
from .text import Segment
from .vocabulary import map_indicator

# ============================================================================================
# Indicator tables (专栏: 指标 | 2020年 | 2025年 | 属性)
# ============================================================================================

_TABLE_UNITS = r"%|‰|个百分点|亿元|万元|元|万家|家|万个|个|万件|件|项|万人年|人年|万人|人|所|座|倍"
_ROW_NAME = re.compile(
    r"^\s*(?:\d{1,2}\s*[.、]?\s*)?(?P<name>[\u4e00-\u9fa5A-Za-z&“”\"·、/]{2,40}?)\s*"
    rf"\((?P<unit>{_TABLE_UNITS})\)"
)
_CELL_VALUE = re.compile(r"^(?P<cmp>[><≥≤]?)\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<suf>左右|以上|以下)?$")
_PLACEHOLDER = re.compile(r"^(?:—+|-+|/|／|…+|无|暂无|--)$")
_YEAR_CELL = re.compile(r"^(?:19|20)\d\d\s*年(?:目标值?|基数|基期|值|底|末)?$")


def _cells(line: str) -> list[str]:
    return [c for c in re.split(r"\t+|\s{2,}| (?=[><≥≤]?\d)", line.strip()) if c.strip()]


def _row_values(lines: list[tuple[int, str]], i: int, row: re.Match) -> tuple[list[tuple], int] | None:
    """Values of the row whose name cell ``row`` opens line ``i``: [(abs start, abs end, match, column)]
    and the index of the first line after the row; None when the line is not a table row."""
    start, line = lines[i]
    rest = _cells(line[row.end() :])
    values: list[tuple[int, int, re.Match, int]] = []
    if rest and all(_CELL_VALUE.match(c) or not re.search(r"\d", c) for c in rest):
        search_from = row.end()  # a row kept on one line
        for col, c in enumerate(rest):
            off = line.index(c, search_from)
            search_from = off + len(c)
            vm = _CELL_VALUE.match(c)
            if vm:
                values.append((start + off, start + off + len(c), vm, col))
            elif not _PLACEHOLDER.match(c):
                break  # 预期性 / 约束性: the attribute column
        return values, i + 1
    if rest:
        return None
    j, col = i + 1, 0  # a table flattened to one cell per line
    while j < len(lines) and col < 4:
        cell = lines[j][1].strip()
        vm = _CELL_VALUE.match(cell)
        if not vm and not _PLACEHOLDER.match(cell):
            break
        if vm:
            s0 = lines[j][0] + lines[j][1].index(cell)
            values.append((s0, s0 + len(cell), vm, col))
        j, col = j + 1, col + 1
    return values, j


def _cell_comparator(name: str, unit: str, vm: re.Match) -> str:
    if re.search(r"年均增长|增速|增长率|年均增幅", name) and unit in ("%", "个百分点"):
        return "growth"
    if vm.group("cmp") in (">", "≥") or vm.group("suf") == "以上":
        return "ge"
    if vm.group("cmp") in ("<", "≤") or vm.group("suf") == "以下":
        return "le"
    if vm.group("suf") == "左右":
        return "approx"
    return "eq"


def _row_statements(
    ctx: DocContext, row: re.Match, row_start: int, values: list[tuple], header: list[int]
) -> list[dict]:
    """One statement per value cell: the column's year; a year up to the document's date is achieved."""
    out = []
    name, unit = row.group("name"), row.group("unit")
    name_start = row_start + row.start("name")
    n = len(values)
    for k, (v_start, v_end, vm, col) in enumerate(values):
        year = header[col] if col < len(header) else None
        if year is None and not header:
            year = ctx.plan_end_year if k == n - 1 else None
        if year is not None and ctx.year is not None:
            kind = "achieved" if year <= ctx.year else "target"
        else:
            kind = "target" if k == n - 1 else "achieved"
        value = float(vm.group("num"))
        comparator = _cell_comparator(name, unit, vm)
        span_start, span_end = unique_span(ctx, name_start, v_end, Segment(name_start, v_end))
        out.append(
            {
                "doc": ctx.name,
                "kind": kind,
                "span": ctx.text[span_start:span_end],
                "indicator_text": original_script(name, ctx.text, ctx.words),
                "indicator": map_indicator(name, unit, comparator, ctx.vocabulary),
                "value": value,
                "unit": original_script(unit, ctx.text, ctx.words),
                "value_base": to_base(value, unit),
                "comparator": comparator,
                "target_year": year,
                "region": ctx.region,
                "_pos": v_start,
                "_start": span_start,
                "_end": span_end,
            }
        )
    return out


def table_statements(ctx: DocContext, consumed: set[int]) -> list[dict]:
    """Rows of indicator tables: name（unit） followed by one value per year column.

    Works on rows kept on one line (tab or space separated) and on tables flattened to one cell per
    line (a header of year cells on consecutive lines). The first of two values is the baseline
    (achieved), the last the target. Adds the line numbers of the rows it read to ``consumed``.
    """
    lines, pos = [], 0
    for line in ctx.norm.split("\n"):
        lines.append((pos, line))
        pos += len(line) + 1
    out: list[dict] = []
    header: list[int] = []
    pending: list[int] = []
    i = 0
    while i < len(lines):
        start, line = lines[i]
        cells = _cells(line)
        years = [int(re.match(r"\d{4}", c).group(0)) for c in cells if _YEAR_CELL.match(c)]
        if len(years) >= 2 and len(line.strip()) <= 80:
            header, pending, i = years, [], i + 1
            continue
        if len(cells) == 1 and _YEAR_CELL.match(line.strip()):
            pending.append(int(line.strip()[:4]))
            i += 1
            continue
        if len(pending) >= 2:
            header = pending
        pending = []
        row = _ROW_NAME.match(line)
        found = None if not row or any(a <= start < b for a, b in ctx.skip) else _row_values(lines, i, row)
        if not found or not found[0]:
            i += 1
            continue
        values, j = found
        consumed.update(range(i, j))
        out += _row_statements(ctx, row, start, values, header)
        i = j
    return out
