"""The upload format's long table: find the header, then read each row into a tidy row or problems."""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Iterable

from openpyxl.utils import range_boundaries

from sources.common import column_letter
from sources.yearbook_xls import cell_text
from sti_portal.uploads.limits import UploadLimits, cell_too_long
from sti_portal.uploads.lookups import accepted_units, indicator_lookup, norm_key, region_lookup
from sti_portal.uploads.problems import (
    UPLOAD_RELEASE_KIND,
    UPLOAD_SOURCE_ID,
    CellError,
    Release,
    RowPlace,
    UploadRead,
    quote,
)
from sti_portal.uploads.values import (
    OBS_STATUS_WORDS,
    YEAR_TEXT,
    clean_text,
    display_text,
    free_text,
    normalise_unit,
    parse_value,
    parse_year,
)

REQUIRED_COLUMNS = ("region", "indicator", "year", "value", "unit")
OPTIONAL_COLUMNS = ("obs_status", "source", "note")
HEADER_NAMES = {
    "region": ("region", "地区", "省份", "地区名称", "region_code", "地区代码", "行政区划代码", "province"),
    "indicator": ("indicator", "指标", "指标名称", "indicator_id", "指标代码"),
    "year": ("year", "年份", "年度", "年"),
    "value": ("value", "数值", "值", "数据", "指标值"),
    "unit": ("unit", "单位", "计量单位"),
    "obs_status": ("obs_status", "status", "状态", "标记", "数据状态"),
    "source": ("source", "来源", "资料来源", "数据来源"),
    "note": ("note", "notes", "备注", "注", "说明"),
}
HEADER_SEARCH_ROWS = 10
NOTE_SHEETS = ("说明", "注", "备注", "instructions", "readme", "notes", "note")  # sheets that are never data


class FormulaWithoutValue(str):
    """A formula cell saved without its computed value (files written by scripts, not by Excel)."""


def _header_field(text) -> str | None:
    key = norm_key(cell_text(text))
    if not key:
        return None
    for field_name, names in HEADER_NAMES.items():
        if key in {norm_key(n) for n in names}:
            return field_name
    # bilingual headers: "地区 region", "年份/year"
    parts = [p for p in re.split(r"[\s/|()（）]+", unicodedata.normalize("NFKC", cell_text(text))) if p]
    for part in parts:
        for field_name, names in HEADER_NAMES.items():
            if norm_key(part) in {norm_key(n) for n in names}:
                return field_name
    return None


def find_header(grid) -> int | None:
    """Index (in grid) of the first row with at least three upload column names."""
    for index, (_r, row) in enumerate(grid[:HEADER_SEARCH_ROWS]):
        if sum(_header_field(value) is not None for value in row) >= 3:
            return index
    return None


def read_grid(
    result: UploadRead,
    sheet: str,
    grid: Iterable[tuple[int, list]],
    release: Release,
    *,
    workbook: bool,
    limits: UploadLimits,
    merged: list[str] | None = None,
) -> None:
    """Read one sheet (or a CSV) of the upload format. `grid` is consumed once, as a stream: a CSV is never
    held whole in memory; a workbook's merged cells need the rows they cover, so only then is it a list."""
    rows = iter(grid)
    head = list(itertools.islice(rows, HEADER_SEARCH_ROWS))
    header_index = find_header(head)
    if header_index is None:
        _explain_no_header(result, sheet, itertools.chain(head, rows))
        return
    header_row, header = head[header_index]
    columns = _header_columns(result, sheet, header_row, header, workbook)
    if columns is None:
        return
    merged_cells = _merged_fill(result, sheet, merged, grid, header_row) if merged else {}
    data_rows = 0
    for r, row in itertools.chain(head[header_index + 1 :], rows):
        cells = {name: (row[col] if col < len(row) else None) for name, col in columns.items()}
        for name, col in columns.items():
            if (r, col) in merged_cells:
                cells[name] = merged_cells[(r, col)]
        if all(cell_text(v).strip() == "" for v in cells.values()) and all(cell_text(v).strip() == "" for v in row):
            continue
        data_rows += 1
        place = RowPlace(
            sheet, r, {name: (f"{column_letter(col)}{r}" if workbook else "") for name, col in columns.items()}
        )
        if _cells_fit(result, row, columns, place, workbook, limits):
            _read_row(result, cells, place, release, workbook)
    if data_rows == 0:
        result.error(
            "the file has a header row but no data rows",
            sheet=sheet,
            row=header_row,
            expected="one row per region, indicator and year below the header",
            rule="empty_file",
        )


def _explain_no_header(result: UploadRead, sheet: str, rows: Iterable[tuple[int, list]]) -> None:
    first = next(((r, row) for r, row in rows if any(cell_text(v).strip() for v in row)), None)
    if first is None:
        result.error("the file has no rows", expected="a header row and data rows", rule="empty_file")
        return
    r, row = first
    texts = [cell_text(v).strip() for v in row]
    years = [t for t in texts if YEAR_TEXT.fullmatch(t)]
    if len(years) >= 2:
        result.error(
            "the columns look like years (a wide table); the upload format has one row per region, indicator and year",
            sheet=sheet,
            row=r,
            found=quote(", ".join(texts)[:120]),
            expected=f"columns {', '.join(REQUIRED_COLUMNS)}",
            rule="wide_table",
        )
    else:
        result.error(
            f"no header row with the upload columns {', '.join(REQUIRED_COLUMNS)} "
            f"in the first {HEADER_SEARCH_ROWS} rows",
            sheet=sheet,
            row=r,
            found=quote(", ".join(texts)[:120]),
            expected="the header of docs/upload-template.csv",
            rule="no_header",
        )


def _header_columns(result: UploadRead, sheet: str, header_row: int, header: list, workbook: bool) -> dict | None:
    """Upload column -> index in the row; None (with the problem reported) when a required one is missing."""
    columns: dict[str, int] = {}
    for col, value in enumerate(header):
        field_name = _header_field(value)
        label = cell_text(value).strip()
        if field_name is None:
            if label:
                result.warning(
                    f"column '{label[:80]}' is not part of the upload format and was ignored",
                    sheet=sheet,
                    row=header_row,
                    column=column_letter(col) if workbook else label[:80],
                    rule="extra_column",
                )
            continue
        if field_name in columns:
            result.error(
                f"two columns are headed {field_name} ({column_letter(columns[field_name])} and {column_letter(col)})",
                sheet=sheet,
                row=header_row,
                column=field_name,
                expected="each column once",
                rule="duplicate_column",
            )
            continue
        columns[field_name] = col
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if not missing:
        return columns
    found = [cell_text(v).strip() for v in header if cell_text(v).strip()]
    if {"year", "value"} & set(missing) and sum(bool(YEAR_TEXT.fullmatch(t)) for t in found) >= 2:
        result.error(
            "the columns look like years (a wide table); the upload format has one row per region, "
            "indicator and year, with the year in column year and the number in column value",
            sheet=sheet,
            row=header_row,
            found=quote(", ".join(found)),
            expected=f"columns {', '.join(REQUIRED_COLUMNS)}",
            rule="wide_table",
        )
        return None
    result.error(
        f"missing column(s) {', '.join(missing)}",
        sheet=sheet,
        row=header_row,
        found=quote(", ".join(found)),
        expected=f"columns {', '.join(REQUIRED_COLUMNS)} (optional: {', '.join(OPTIONAL_COLUMNS)})",
        rule="missing_column",
    )
    return None


def _cells_fit(
    result: UploadRead, row: list, columns: dict[str, int], place: RowPlace, workbook: bool, limits: UploadLimits
) -> bool:
    """No text longer than the cell limit (a pasted document, or a zip bomb's one cell): such a row is not read."""
    names = {col: name for name, col in columns.items()}
    fits = True
    for col, value in enumerate(row):
        if isinstance(value, str) and len(value) > limits.cell_chars:
            fits = False
            name = names.get(col, column_letter(col))
            result.error(
                cell_too_long(len(value), limits),
                sheet=place.sheet,
                row=place.row,
                column=name,
                cell=f"{column_letter(col)}{place.row}" if workbook else "",
                found=quote(value),
                expected=f"at most {limits.cell_chars:,} characters (STI_UPLOAD_MAX_CELL_CHARS)",
                rule="cell_too_long",
            )
    return fits


def _merged_fill(
    result: UploadRead, sheet: str, merged: list[str], grid, header_row: int
) -> dict[tuple[int, int], object]:
    """Report merged cells in the table; return the value each covered cell shows, so other checks still run."""
    values = {(r, col): value for r, row in grid for col, value in enumerate(row)}
    filled = {}
    for rng in merged:
        min_col, min_row, max_col, max_row = range_boundaries(rng)
        if max_row < header_row:
            continue  # a merged title above the table is fine
        result.error(
            f"cells {rng} are merged; every row of the upload format needs its own values",
            sheet=sheet,
            row=min_row,
            cell=rng,
            expected="unmerged cells, the value repeated in each row",
            rule="merged_cells",
        )
        anchor = values.get((min_row, min_col - 1))
        for r in range(min_row, max_row + 1):
            for c in range(min_col - 1, max_col):
                if (r, c) != (min_row, min_col - 1):
                    filled[(r, c)] = anchor
    return filled


class _Row:
    """The problems of one row: each bad cell is reported, and the row is kept only when none is."""

    def __init__(self, result: UploadRead, place: RowPlace, workbook: bool):
        self.result, self.place, self.workbook = result, place, workbook
        self.ok = True

    def where(self, column: str) -> dict:
        return {
            "sheet": self.place.sheet,
            "row": self.place.row,
            "column": column,
            "cell": self.place.cells.get(column, "") if self.workbook else "",
        }

    def bad(self, column: str, message: str, found, expected: str, rule: str) -> None:
        self.ok = False
        self.result.error(message, **self.where(column), found=quote(display_text(found)), expected=expected, rule=rule)

    def warn(self, column: str, message: str, rule: str, found: str = "") -> None:
        self.result.warning(message, **self.where(column), found=found, rule=rule)


def _region(cells: dict, row: _Row) -> tuple[str, str | None]:
    regions = region_lookup()
    region_text = clean_text(cells["region"])
    if not region_text:
        row.bad("region", "the region is empty", cells["region"], "a GB/T 2260 code or a region name", "missing_region")
        return region_text, None
    region_code = regions.resolve(region_text)
    if region_code is None:
        reason = regions.ignore_reason(region_text)
        if reason:
            row.bad(
                "region",
                f"'{region_text}' is not a province-level region ({reason})",
                cells["region"],
                "a province, Hong Kong, Macao, Taiwan or the national total (全国, 100000)",
                "not_a_region",
            )
        else:
            hints = regions.suggestions(region_text)
            row.bad(
                "region",
                "unknown region" + (f"; did you mean {' or '.join(hints)}?" if hints else ""),
                cells["region"],
                "a GB/T 2260 code or a Chinese or English region name",
                "unknown_region",
            )
    return region_text, region_code


def _indicator(cells: dict, row: _Row) -> str | None:
    indicators = indicator_lookup()
    indicator_text = clean_text(cells["indicator"])
    if not indicator_text:
        row.bad(
            "indicator", "the indicator is empty", cells["indicator"], "an indicator id or name", "missing_indicator"
        )
        return None
    indicator_id = indicators.resolve(indicator_text)
    if indicator_id is None:
        hints = indicators.suggestions(indicator_text)
        row.bad(
            "indicator",
            "unknown indicator" + (f"; did you mean {' or '.join(hints)}?" if hints else ""),
            cells["indicator"],
            "an id or name from catalogue/indicators.csv (the portal's indicators table)",
            "unknown_indicator",
        )
        return None
    why_not = indicators.not_uploadable(indicator_id)
    if why_not:
        row.bad(
            "indicator",
            why_not,
            cells["indicator"],
            "an indicator the portal loads from sources",
            "indicator_not_uploadable",
        )
        return None
    return indicator_id


def _value(cells: dict, row: _Row) -> tuple[float, bool]:
    """The number and whether it had a % sign. NaN (any spelling) is a missing value, -0 is 0: both said so."""
    raw = cells["value"]
    try:
        value, percent = parse_value(raw)
    except CellError as exc:
        row.bad("value", str(exc), raw, exc.expected, "bad_value")
        return math.nan, False
    if isinstance(raw, str) and clean_text(raw).casefold() == "nan" or isinstance(raw, float) and math.isnan(raw):
        row.warn(
            "value",
            "NaN is read as a missing value: a gap flagged m (missing), never a number",
            "nan_is_gap",
            found=quote(display_text(raw)),
        )
    if value == 0 and math.copysign(1.0, value) < 0:
        row.warn(
            "value",
            "-0 is read as 0 (zero); if the value is missing, leave the cell empty or write —",
            "negative_zero",
            found=quote(display_text(raw)),
        )
        value = 0.0
    return value, percent


def _unit(cells: dict, row: _Row, indicator_id: str | None, percent: bool) -> str:
    unit = normalise_unit(cells["unit"])
    if indicator_id is None:
        return unit
    indicators = indicator_lookup()
    target = indicators.unit(indicator_id)
    allowed = accepted_units(target)
    if not unit:
        row.bad(
            "unit",
            "the unit is empty",
            cells["unit"],
            f"the unit of {indicators.label(indicator_id)}: {' or '.join(allowed)}",
            "missing_unit",
        )
    elif unit not in allowed:
        row.bad(
            "unit",
            f"unit '{unit}' does not fit {indicators.label(indicator_id)}, whose unit is {target}",
            cells["unit"],
            f"{' or '.join(allowed)}",
            "unit_mismatch",
        )
    elif percent and unit != "%":
        row.bad(
            "value",
            f"the value has a % sign but the unit is {unit}",
            cells["value"],
            f"a number in {unit}",
            "unit_mismatch",
        )
    return unit


def _status(cells: dict, row: _Row, value: float) -> str:
    status = OBS_STATUS_WORDS.get(clean_text(cells.get("obs_status")).casefold())
    if status is None:
        row.bad(
            "obs_status",
            "unknown observation status",
            cells.get("obs_status"),
            "empty, p (provisional), e (estimated), b (break in series) or m (missing)",
            "bad_status",
        )
        status = ""
    if math.isnan(value) and row.ok:
        if status and status != "m":
            row.result.warning(
                f"the value is missing, so the status is recorded as m (missing), not {status}",
                **row.where("obs_status"),
                rule="missing_value",
            )
        return "m"
    if status == "m" and not math.isnan(value):
        row.bad(
            "obs_status",
            "the status says m (missing) but there is a value",
            cells.get("obs_status"),
            "empty status for a value, or an empty value for m",
            "bad_status",
        )
    return status


def _read_row(result: UploadRead, cells: dict, place: RowPlace, release: Release, workbook: bool) -> None:
    row = _Row(result, place, workbook)
    for name, value in cells.items():
        if isinstance(value, FormulaWithoutValue):
            row.bad(
                name,
                "a formula saved without its computed value",
                value,
                "a value: open the file in Excel and save it, or paste values",
                "formula_without_value",
            )
            cells[name] = None
    region_text, region_code = _region(cells, row)
    indicator_id = _indicator(cells, row)
    year = None
    try:
        year = parse_year(cells["year"])
    except CellError as exc:
        row.bad("year", str(exc), cells["year"], exc.expected, "bad_year")
    value, percent = _value(cells, row)
    unit = _unit(cells, row, indicator_id, percent)
    status = _status(cells, row, value)
    if not row.ok:
        return
    notes = [free_text(cells.get("note"))]
    source_text = free_text(cells.get("source"))
    if source_text:
        notes.append(f"source: {source_text}")
    value_cell = place.cells.get("value") or ""
    source_ref = (
        f"{release.ref_name}#{place.sheet}!{value_cell}"
        if workbook
        else f"{release.ref_name}#row={place.row},col=value"
    )
    result.rows.append(
        {
            "source_id": UPLOAD_SOURCE_ID,
            "release": release.release,
            "release_kind": UPLOAD_RELEASE_KIND,
            "vintage": release.vintage,
            "indicator_id": indicator_id,
            "region_label": region_text,
            "region_label_en": "",
            "year": year,
            "value": value,
            "unit": unit,
            "obs_status": status,
            "source_ref": source_ref,
            "note": "; ".join(n for n in notes if n),
            "region_code": region_code,
        }
    )
    result.places.append(place)
