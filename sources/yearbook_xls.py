"""Shared reader for China Statistical Yearbook on Science and Technology (中国科技统计年鉴) tables.

A yearbook table, as CNKI distributes it, is a region × column grid: a title block (table number,
Chinese and English title, a 单位 unit line), a header block (bilingual, often split over several rows,
sometimes with line breaks inside cells), one row per region, then footnotes; a trailing ``CNKI``
sheet carries no data. Layouts drift between editions (extra title lines, blank spacer rows, merged or
split headers, numbers stored as text or as unrounded floats), so nothing here relies on positions:

* the header row is the row holding the 地区 / Region cells, and its columns are the label columns;
* the header block reaches up from there over rows that only hold column headers, and down to the
  first row that has a region label and a number;
* a column is chosen by the words in its (whitespace-free) header text, a year column by the year it
  names, a unit by the header's own "(万元)" or else the table's 单位 line.

Adapters describe their tables with :class:`YearbookTable` and call :func:`extract_rows`.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import msoffcrypto
import openpyxl
import xlrd

from sources.common import (
    CellRef,
    SourceFormatError,
    column_letter,
    parse_number,
    read_provenance,
    snapshot_relpath,
)
from sources.footnotes import footnote_scope
from sources.html_tables import page_grid

YEARBOOK_DIR = "cn_sti_yearbook_xls"
SOURCE_ID = "cn_sti_yearbook"

# Workbooks saved as "read-only recommended" are encrypted with this password built into Excel.
EXCEL_DEFAULT_PASSWORD = "VelvetSweatshop"
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and encrypted .xlsx packages
ZIP_SIGNATURE = b"PK\x03\x04"  # plain .xlsx
IGNORED_SHEETS = {"CNKI"}
WORKBOOK_SUFFIXES = (".xls", ".xlsx")

# "<folder>__2019.xls" or "<folder>__funds-2019.xls": the number is the data year, not the edition.
FILE_NAME = re.compile(r"__(?:(?P<kind>[a-z]+)-)?(?P<year>\d{4})$")
WHITESPACE = re.compile(r"[\s\u200b\ufeff]+")  # \s covers CR/LF, U+3000 and no-break space
YEAR_HEADER = re.compile(r"((?:19|20)\d{2})年?")
TITLE_DATA_YEAR = re.compile(r"[（(]((?:19|20)\d{2})年[)）]")
TITLE_EDITION = re.compile(r"中国科技统计年鉴[—–-]*((?:19|20)\d{2})")
PROVENANCE_EDITION = re.compile(r"((?:19|20)\d{2})")
HEADER_UNIT = re.compile(r"[（(]([\u4e00-\u9fff%‰]+)[)）]")
UNIT_LINE = re.compile(r"^单位[:：](.+)$")
UNIT_SEPARATORS = re.compile(r"[,，、;；.．]")
FOOTNOTE_START = ("注", "note", "资料来源", "source:", "摘编自")


# --------------------------------------------------------------------------------------------
# Workbooks


@dataclass(frozen=True)
class Sheet:
    """One worksheet as a 0-based grid of cell values ("" where empty), whatever the file format."""

    name: str
    grid: tuple[tuple, ...]

    @property
    def nrows(self) -> int:
        return len(self.grid)

    @property
    def ncols(self) -> int:
        return max((len(cells) for cells in self.grid), default=0)

    def value(self, row: int, col: int):
        cells = self.grid[row]
        return cells[col] if col < len(cells) else ""

    def text(self, row: int, col: int) -> str:
        return cell_text(self.value(row, col))


def open_workbook(path: Path) -> list[Sheet]:
    """The data sheets of an .xls or .xlsx workbook, decrypted in memory when it is encrypted."""
    content = _decrypted_content(path)
    if content.lstrip().startswith(b"<"):
        # A web page saved with an .xls name (a distributor's "Excel" export): one sheet holding its title
        # and unit lines and its tables, in page order.
        return [Sheet("html", tuple(tuple(row) for row in page_grid(content.decode("utf-8", errors="replace"))))]
    try:
        sheets = _xlsx_sheets(content) if content.startswith(ZIP_SIGNATURE) else _xls_sheets(content)
    except Exception as exc:  # xlrd and openpyxl raise many types; the reader needs the file name
        raise SourceFormatError(f"{path.name}: not a readable Excel workbook ({exc})") from exc
    return [sheet for sheet in sheets if sheet.name.strip() not in IGNORED_SHEETS]


def _decrypted_content(path: Path) -> bytes:
    content = path.read_bytes()
    if not content.startswith(OLE_SIGNATURE):
        return content
    office_file = msoffcrypto.OfficeFile(io.BytesIO(content))
    if not office_file.is_encrypted():
        return content
    decrypted = io.BytesIO()
    try:
        office_file.load_key(password=EXCEL_DEFAULT_PASSWORD)
        office_file.decrypt(decrypted)
    except Exception as exc:  # msoffcrypto signals a wrong password with several exception types
        raise SourceFormatError(
            f"{path.name}: encrypted with a password other than Excel's default read-only one ({exc})"
        ) from exc
    return decrypted.getvalue()


def _xls_sheets(content: bytes) -> list[Sheet]:
    book = xlrd.open_workbook(file_contents=content)
    return [Sheet(sheet.name, tuple(_xls_row(sheet, row) for row in range(sheet.nrows))) for sheet in book.sheets()]


def _xls_row(sheet, row: int) -> tuple:
    # xlrd gives error cells (#N/A …) as integer codes, which would read as numbers.
    return tuple(
        xlrd.error_text_from_code.get(value, "#ERROR") if cell_type == xlrd.XL_CELL_ERROR else value
        for value, cell_type in zip(sheet.row_values(row), sheet.row_types(row))
    )


def _xlsx_sheets(content: bytes) -> list[Sheet]:
    book = openpyxl.load_workbook(io.BytesIO(content), data_only=True)
    try:
        return [
            Sheet(
                sheet.title,
                tuple(
                    tuple("" if value is None else value for value in cells)
                    for cells in sheet.iter_rows(values_only=True)
                ),
            )
            for sheet in book.worksheets
        ]
    finally:
        book.close()


def cell_text(value) -> str:
    """A cell as text; whole floats lose their ".0" so that a year header 2012.0 reads "2012"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def normalise_label(value) -> str:
    """A label or header without any whitespace: "全    国" -> "全国", "发 明\\r\\nInvention" -> "发明Invention"."""
    return WHITESPACE.sub("", cell_text(value))


def _is_number(value) -> bool:
    try:
        return not math.isnan(parse_number(value))
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------
# Locating the table in a sheet


@dataclass(frozen=True)
class RegionRow:
    row: int
    label: str  # Chinese label as printed, outer whitespace stripped ("北  京", "尔部地区" typos included)
    label_en: str  # English label as printed ("Hbei", "Hong Kong, Macao & Taiwan")


@dataclass(frozen=True)
class ParsedTable:
    ref_path: str  # snapshot-relative path, used in CellRefs and messages
    sheet: Sheet
    title: str  # whitespace-free text of the rows above the header block
    units: tuple[str, ...]  # units of the 单位 line, e.g. ("个", "亿元"); () when there is none
    header_rows: range
    headers: dict[int, str]  # value column -> whitespace-free header text
    regions: tuple[RegionRow, ...]
    note: str  # footnotes under the table, "" when none

    def cell_ref(self, row: int, col: int) -> CellRef:
        return CellRef(path=self.ref_path, sheet=self.sheet.name, row=row, col=col)

    def where(self, row: int | None = None, col: int | None = None) -> str:
        place = f"{self.ref_path}, sheet '{self.sheet.name}'"
        return place if row is None or col is None else f"{place}, cell {self.cell_ref(row, col).a1()}"

    def header_span(self) -> str:
        first, last = self.header_rows.start + 1, self.header_rows.stop
        return f"row {first}" if first == last else f"rows {first}-{last}"


@dataclass(frozen=True)
class _LabelColumns:
    header_row: int
    zh: int | None
    en: int | None

    @property
    def columns(self) -> list[int]:
        return [col for col in (self.zh, self.en) if col is not None]


def read_table(path: Path, snapshot_dir: Path) -> ParsedTable:
    """Locate the region table in the first sheet that has a 地区/Region header row."""
    ref_path = snapshot_relpath(path, snapshot_dir)
    for sheet in open_workbook(path):
        labels = _find_label_columns(sheet)
        if labels is not None:
            return _parse_sheet(sheet, labels, ref_path)
    raise SourceFormatError(
        f"{ref_path}: no sheet has a region header row (a cell reading '地区' or 'Region' above the region labels)"
    )


def _find_label_columns(sheet: Sheet) -> _LabelColumns | None:
    for row in range(sheet.nrows):
        texts = [normalise_label(value) for value in sheet.grid[row]]
        zh = next((col for col, text in enumerate(texts) if text == "地区"), None)
        en = next((col for col, text in enumerate(texts) if text.lower() == "region"), None)
        if zh is not None or en is not None:
            return _LabelColumns(row, zh, en)
    return _label_columns_above_national_row(sheet)


def _label_columns_above_national_row(sheet: Sheet) -> _LabelColumns | None:
    """Some editions leave the 地区/Region header cells empty (2-4 of the 2020 edition): the header row is
    then the row above the first 全国 / National Total row, with the labels in that row's columns."""
    for row in range(1, sheet.nrows):
        texts = [normalise_label(value) for value in sheet.grid[row]]
        if texts and texts[0] == "全国":
            en = 1 if len(texts) > 1 and texts[1].lower().startswith("national") else None
            above = [normalise_label(sheet.value(row - 1, col)) for col in (0, en) if col is not None]
            # only EMPTY label cells: a header reading 省份/Province is another layout, not a missing header
            return _LabelColumns(row - 1, 0, en) if not any(above) else None
    return None


def _parse_sheet(sheet: Sheet, labels: _LabelColumns, ref_path: str) -> ParsedTable:
    first_value_col = max(labels.columns) + 1
    value_cols = range(first_value_col, sheet.ncols)
    first_data_row = _first_data_row(sheet, labels, value_cols, ref_path)
    header_top = _header_top(sheet, labels, value_cols)
    header_rows = range(header_top, first_data_row)
    headers = {col: "".join(normalise_label(sheet.value(row, col)) for row in header_rows) for col in value_cols}
    headers = {col: text for col, text in headers.items() if text}
    regions, footer_row = _region_rows(sheet, labels, list(headers), first_data_row, ref_path)
    title_rows = range(0, header_top)
    return ParsedTable(
        ref_path=ref_path,
        sheet=sheet,
        title="".join(normalise_label(value) for row in title_rows for value in sheet.grid[row]),
        units=_unit_line(sheet, title_rows),
        header_rows=header_rows,
        headers=headers,
        regions=tuple(regions),
        note=_footnote(sheet, range(footer_row, sheet.nrows)),
    )


def _has_label(sheet: Sheet, row: int, labels: _LabelColumns) -> bool:
    return any(sheet.text(row, col).strip() for col in labels.columns)


def _first_data_row(sheet: Sheet, labels: _LabelColumns, value_cols: range, ref_path: str) -> int:
    for row in range(labels.header_row + 1, sheet.nrows):
        if _has_label(sheet, row, labels) and any(_is_number(sheet.value(row, col)) for col in value_cols):
            return row
    raise SourceFormatError(
        f"{ref_path}, sheet '{sheet.name}': no region row with numbers below the header row {labels.header_row + 1}"
    )


def _header_top(sheet: Sheet, labels: _LabelColumns, value_cols: range) -> int:
    """Headers may start above the 地区 row (e.g. "合  计" one row higher); the unit line or title stops them."""
    top = labels.header_row
    while top > 0:
        above = top - 1
        holds_headers = any(sheet.text(above, col).strip() for col in value_cols)
        holds_title = _has_label(sheet, above, labels) or any(
            normalise_label(value).startswith("单位") for value in sheet.grid[above]
        )
        if not holds_headers or holds_title:
            break
        top = above
    return top


def _is_footnote(text: str) -> bool:
    return normalise_label(text).lower().startswith(FOOTNOTE_START)


def _region_rows(
    sheet: Sheet, labels: _LabelColumns, value_cols: list[int], first_row: int, ref_path: str
) -> tuple[list[RegionRow], int]:
    """The region rows and the row where the footnotes start (nrows when there are none)."""
    regions: list[RegionRow] = []
    for row in range(first_row, sheet.nrows):
        label = sheet.text(row, labels.zh).strip() if labels.zh is not None else ""
        label_en = sheet.text(row, labels.en).strip() if labels.en is not None else ""
        has_values = any(sheet.text(row, col).strip() for col in value_cols)
        if _is_footnote(label or label_en):
            return regions, row
        if not (label or label_en):
            if has_values:
                raise SourceFormatError(
                    f"{ref_path}, sheet '{sheet.name}', row {row + 1}: values without a region label"
                )
            continue  # spacer row
        if labels.zh is not None and not label and not has_values and regions:
            # A long English label wrapped onto the next row ("Hong Kong," / "Macao & Taiwan").
            regions[-1] = replace(regions[-1], label_en=f"{regions[-1].label_en} {label_en}")
            continue
        regions.append(RegionRow(row, label, label_en))
    return regions, sheet.nrows


def _unit_line(sheet: Sheet, rows: range) -> tuple[str, ...]:
    for row in rows:
        for value in sheet.grid[row]:
            match = UNIT_LINE.match(normalise_label(value))
            if match:
                return tuple(unit for unit in UNIT_SEPARATORS.split(match.group(1)) if unit)
    return ()


def _footnote(sheet: Sheet, rows: range) -> str:
    lines = [" ".join(cell_text(v).strip() for v in sheet.grid[row] if cell_text(v).strip()) for row in rows]
    return _join_wrapped_lines([line for line in lines if line])


def _join_wrapped_lines(lines: list[str]) -> str:
    # Chinese footnotes wrap mid-word ("…历史数" / "据暂未…"): no space between two Chinese characters.
    text = ""
    for line in lines:
        glue = "" if text and _is_cjk(text[-1]) and _is_cjk(line[0]) else " "
        text = f"{text}{glue}{line}" if text else line
    return text


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3000" <= char <= "\u303f" or "\uff00" <= char <= "\uffef"


# --------------------------------------------------------------------------------------------
# Columns


def find_column(table: ParsedTable, keywords: Sequence[str]) -> int:
    """The one value column whose header contains any of ``keywords`` (whitespace-free Chinese text)."""
    matches = [col for col, header in table.headers.items() if any(keyword in header for keyword in keywords)]
    if len(matches) != 1:
        found = "none" if not matches else f"{len(matches)} ({', '.join(table.headers[c] for c in matches)})"
        raise SourceFormatError(
            f"{table.where()}: expected exactly one column whose header ({table.header_span()}) contains "
            f"{' or '.join(repr(k) for k in keywords)}, found {found}; headers are {_header_list(table)}"
        )
    return matches[0]


def year_columns(table: ParsedTable) -> dict[int, int]:
    """Column -> year, for a table whose value columns are all years (a multi-year series)."""
    years = {}
    for col, header in table.headers.items():
        year = YEAR_HEADER.fullmatch(header)
        if not year:
            raise SourceFormatError(
                f"{table.where(table.header_rows.start, col)}: expected a year as column header "
                f"({table.header_span()}), found {header!r}"
            )
        years[col] = int(year.group(1))
    if not years:
        raise SourceFormatError(f"{table.where()}: expected year columns right of the region labels, found none")
    return years


def column_unit(table: ParsedTable, col: int) -> str:
    """The column's own "(单位)" in its header, else the table's 单位 line.

    A 单位 line may list several units ("个,亿元"); the column then takes the one no other column claims.
    """
    own = HEADER_UNIT.search(table.headers[col])
    if own:
        return own.group(1)
    if len(table.units) == 1:
        return table.units[0]
    claimed = {m.group(1) for c, header in table.headers.items() if c != col and (m := HEADER_UNIT.search(header))}
    candidates = [unit for unit in table.units if unit not in claimed]
    if len(candidates) != 1:
        raise SourceFormatError(
            f"{table.where(table.header_rows.start, col)}: cannot tell the unit of column {table.headers[col]!r}: "
            f"no unit in its header and the 单位 line lists {list(table.units) or 'nothing'}"
        )
    return candidates[0]


def _header_list(table: ParsedTable) -> str:
    return "; ".join(f"{column_letter(col)}={header!r}" for col, header in table.headers.items())


# --------------------------------------------------------------------------------------------
# Adapter-facing table descriptions


@dataclass(frozen=True)
class IndicatorColumn:
    """An indicator held in one column; the column is the one whose header contains a keyword."""

    indicator_id: str
    header_keywords: tuple[str, ...]
    units: tuple[str, ...]  # units the source may print for it; anything else is a layout error


@dataclass(frozen=True)
class YearSeries:
    """An indicator held in year columns (one column per year, each edition restating back years)."""

    indicator_id: str
    units: tuple[str, ...]


@dataclass(frozen=True)
class YearbookTable:
    folder: str  # folder under cn_sti_yearbook_xls/
    title_keywords: tuple[str, ...]  # words the table title must contain (guards against misfiled files)
    columns: tuple[IndicatorColumn, ...] = ()  # region × indicator table: year = the file's data year
    year_series: YearSeries | None = None  # region × year table
    file_kind: str | None = None  # only files named "__<kind>-YYYY" ("amount", "funds")


@dataclass(frozen=True)
class YearbookFile:
    path: Path
    data_year: int
    kind: str | None

    @property
    def edition(self) -> int:
        return self.data_year + 1


def yearbook_files(snapshot_dir: Path, folder: str) -> list[YearbookFile]:
    directory = snapshot_dir / YEARBOOK_DIR / folder
    paths = sorted(p for p in directory.glob(f"{folder}__*") if p.suffix.lower() in WORKBOOK_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"no .xls/.xlsx yearbook tables named {folder}__YYYY in {directory}")
    files = [_yearbook_file(path) for path in paths]
    seen: dict[tuple, Path] = {}
    for file in files:
        key = (file.kind, file.data_year)
        if key in seen:
            raise SourceFormatError(f"{file.path.name} and {seen[key].name}: two files for the same table and year")
        seen[key] = file.path
    return files


def _yearbook_file(path: Path) -> YearbookFile:
    match = FILE_NAME.search(path.stem)
    if not match:
        raise SourceFormatError(f"{path.name}: file name should end in __YYYY or __<kind>-YYYY (YYYY = data year)")
    return YearbookFile(path, int(match.group("year")), match.group("kind"))


def extract_rows(
    tables: Sequence[YearbookTable], snapshot_dir: Path, skip_files: frozenset[str] = frozenset()
) -> list[dict]:
    """Tidy rows (common.TIDY_COLUMNS) for every file of every table, except files named in ``skip_files``
    (the adapter says why, e.g. a misfiled table)."""
    rows: list[dict] = []
    for spec in tables:
        for file in yearbook_files(snapshot_dir, spec.folder):
            if file.kind != spec.file_kind or file.path.name in skip_files:
                continue
            table = read_table(file.path, snapshot_dir)
            _check_identity(table, spec, file)
            rows.extend(_table_rows(table, spec, file))
    return rows


def _check_identity(table: ParsedTable, spec: YearbookTable, file: YearbookFile) -> None:
    """The file is the table and year its name says: title words, title year and sidecar edition agree."""
    missing = [keyword for keyword in spec.title_keywords if keyword not in table.title]
    if missing:
        raise SourceFormatError(f"{table.where()}: expected a title containing {missing}, found {table.title!r}")
    title_year = TITLE_DATA_YEAR.search(table.title)
    if title_year and int(title_year.group(1)) != file.data_year:
        raise SourceFormatError(
            f"{table.where()}: the title says {title_year.group(1)} but the file name says data year {file.data_year}"
        )
    title_edition = TITLE_EDITION.search(table.title)
    if title_edition and int(title_edition.group(1)) != file.edition:
        raise SourceFormatError(
            f"{table.where()}: the title names edition {title_edition.group(1)}, "
            f"expected {file.edition} for data year {file.data_year}"
        )
    provenance_edition = PROVENANCE_EDITION.search(read_provenance(file.path).get("source_yearbook_edition", ""))
    if provenance_edition and int(provenance_edition.group(1)) != file.edition:
        raise SourceFormatError(
            f"{table.ref_path}: the provenance sidecar names edition {provenance_edition.group(1)}, "
            f"expected {file.edition} for data year {file.data_year}"
        )


def _table_rows(table: ParsedTable, spec: YearbookTable, file: YearbookFile) -> Iterator[dict]:
    if spec.year_series is not None:
        years = year_columns(table)
        if max(years.values()) != file.data_year:
            raise SourceFormatError(
                f"{table.where()}: latest year column is {max(years.values())}, the file name says {file.data_year}"
            )
        for col, year in years.items():
            unit = _checked_unit(table, col, spec.year_series.units)
            yield from _column_rows(table, file, spec.year_series.indicator_id, col, year, unit)
    for column in spec.columns:
        col = find_column(table, column.header_keywords)
        unit = _checked_unit(table, col, column.units)
        yield from _column_rows(table, file, column.indicator_id, col, file.data_year, unit)


def _checked_unit(table: ParsedTable, col: int, expected: tuple[str, ...]) -> str:
    try:
        unit = column_unit(table, col)
    except SourceFormatError:
        # A 单位 line listing several units ("个,人,万元") for columns that name none: the column takes the
        # one listed unit its indicator can be in, when exactly one is.
        listed = [u for u in table.units if u in expected]
        if len(listed) != 1:
            raise
        unit = listed[0]
    if unit not in expected:
        raise SourceFormatError(
            f"{table.where(table.header_rows.start, col)}: column {table.headers[col]!r} is in {unit!r}, "
            f"expected one of {list(expected)}"
        )
    return unit


def _column_rows(
    table: ParsedTable, file: YearbookFile, indicator_id: str, col: int, year: int, unit: str
) -> Iterator[dict]:
    # The footnote goes only on the rows it names (sources/footnotes.py); a table-level one on none.
    scope = footnote_scope(table.note, {normalise_label(region.label) for region in table.regions})
    for region in table.regions:
        note = table.note if scope.concerns(normalise_label(region.label), year) else ""
        raw = table.sheet.value(region.row, col)
        value, problem = _read_value(raw)
        yield {
            "source_id": SOURCE_ID,
            "release": f"{SOURCE_ID}_{file.edition}",
            "release_kind": "yearbook",
            "vintage": f"{file.edition}-12-31",
            "indicator_id": indicator_id,
            "region_label": region.label,
            "region_label_en": region.label_en,
            "year": year,
            "value": value,
            "unit": unit,
            "obs_status": "m" if math.isnan(value) else "",
            "source_ref": str(table.cell_ref(region.row, col)),
            "note": "; ".join(text for text in (note, problem) if text),
        }


def _read_value(raw) -> tuple[float, str]:
    """The cell as a number, or NaN and a note when it holds neither a number nor a missing marker."""
    try:
        return parse_number(raw), ""
    except ValueError:
        # e.g. "368633!" (2013 edition, Beijing enterprise funds): a typo we must not guess at.
        return math.nan, f"source cell holds unreadable text {cell_text(raw)!r}"
