"""Workbook uploads (.xlsx, .xls): every sheet with the upload header, or a yearbook table."""

from __future__ import annotations

import html
import io
import re
import zipfile
from pathlib import Path

import openpyxl

from sources.common import SourceFormatError
from sources.yearbook_xls import cell_text, open_workbook
from sti_portal.uploads.limits import LimitExceeded, UploadLimits, check_zip_directory, columns_exceeded, rows_exceeded
from sti_portal.uploads.problems import Release, UploadRead, quote
from sti_portal.uploads.table import (
    HEADER_SEARCH_ROWS,
    NOTE_SHEETS,
    REQUIRED_COLUMNS,
    FormulaWithoutValue,
    find_header,
    read_grid,
)
from sti_portal.uploads.values import SPACES
from sti_portal.uploads.yearbook import read_yearbook

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
YEARBOOK_MAX_CELLS = 100_000  # a provincial yearbook table is about 40 rows by 20 columns
MERGE_CELL = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?ref="([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)"')


def read_zip(content: bytes, path: Path, release: Release, result: UploadRead, limits: UploadLimits) -> None:
    try:
        package = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile as exc:
        result.error(
            f"not a readable .xlsx: the file is damaged or truncated ({exc})",
            expected="a complete .xlsx file (save it again from Excel)",
            rule="not_xlsx",
        )
        return
    names = package.namelist()
    if "xl/workbook.xml" not in names:
        kind = (
            "an OpenDocument spreadsheet (.ods)"
            if "content.xml" in names and "mimetype" in names
            else "a Word document"
            if "word/document.xml" in names
            else "a ZIP archive, not a workbook"
        )
        result.error(f"this is {kind}", expected="an Excel .xlsx workbook or a CSV file", rule="wrong_format")
        return
    try:
        check_zip_directory(package, limits)
        sheets = _xlsx_sheets(content, package, limits)
    except LimitExceeded as exc:
        result.error(str(exc), found=exc.found, expected=exc.expected, rule=exc.rule)
        return
    except Exception as exc:  # openpyxl raises KeyError, ValueError, zipfile errors... for broken packages
        result.error(
            f"not a readable .xlsx: {_damage(exc)}",
            expected="a complete .xlsx file (save it again from Excel)",
            rule="not_xlsx",
        )
        return
    result.format = "xlsx"
    _read_workbook(result, sheets, path, release, limits)


def _damage(exc: Exception) -> str:
    text = str(exc)
    if "digits" in text and isinstance(exc, ValueError):  # Python's int() guard against huge digit strings
        return "a cell holds a number thousands of digits long, which no statistic has (a damaged or crafted file)"
    if isinstance(exc, (zipfile.BadZipFile, EOFError)) or "CRC" in text:
        return f"the file is damaged or truncated (an incomplete copy?) ({text[:200]})"
    return f"the workbook inside the file is damaged ({type(exc).__name__}: {text[:200]})"


def _xlsx_sheets(content: bytes, package: zipfile.ZipFile, limits: UploadLimits) -> list:
    """(title, grid, merged ranges, state) per sheet, read as streams (openpyxl read-only mode) with the row and
    column limits checked on the way; formulas saved without a value come from a second streaming pass."""
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    formulas = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    sheet_paths = _sheet_paths(package)
    sheets = []
    n_rows = 0
    for sheet, formula_sheet in zip(book.worksheets, formulas.worksheets):
        grid = []
        for r, (values, written) in enumerate(
            zip(sheet.iter_rows(values_only=True), formula_sheet.iter_rows(values_only=True)), start=1
        ):
            n_rows += 1
            if n_rows > limits.rows:
                raise rows_exceeded(limits)
            if len(values) > limits.columns:
                raise columns_exceeded(len(values), limits)
            grid.append(
                (
                    r,
                    [
                        FormulaWithoutValue(formula)
                        if value is None and isinstance(formula, str) and formula.startswith("=")
                        else value
                        for value, formula in zip(values, written)
                    ],
                )
            )
        while grid and not any(v is not None for v in grid[-1][1]):
            grid.pop()  # read-only mode reports the rows of the sheet's declared dimension, blank ones too
        merged = _merged_ranges(package, sheet_paths.get(sheet.title, ""))
        sheets.append((sheet.title, grid, merged, getattr(sheet, "sheet_state", "visible")))
    book.close()
    formulas.close()
    return sheets


def _sheet_paths(package: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title -> its part in the package (xl/worksheets/sheetN.xml), from the workbook and its relations."""
    workbook = package.read("xl/workbook.xml").decode("utf-8", errors="replace")
    relations = package.read("xl/_rels/workbook.xml.rels").decode("utf-8", errors="replace")
    targets = {
        m.group(1): m.group(2)
        for m in re.finditer(r'<Relationship\b[^>]*?Id="([^"]+)"[^>]*?Target="([^"]+)"', relations)
    }
    targets.update(
        {
            m.group(2): m.group(1)
            for m in re.finditer(r'<Relationship\b[^>]*?Target="([^"]+)"[^>]*?Id="([^"]+)"', relations)
        }
    )
    paths = {}
    for m in re.finditer(r'<sheet\b[^>]*?name="([^"]+)"[^>]*?r:id="([^"]+)"', workbook):
        target = targets.get(m.group(2), "")
        paths[html.unescape(m.group(1))] = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return paths


def _merged_ranges(package: zipfile.ZipFile, part: str) -> list[str]:
    """The sheet's <mergeCell ref=...> ranges, scanned from its XML in chunks (read-only mode does not give them)."""
    if part not in package.namelist():
        return []
    found, carry = [], b""
    with package.open(part) as stream:
        while True:
            chunk = stream.read(1024 * 1024)
            text = carry + chunk
            if not chunk:
                found += [m.group(1).decode() for m in MERGE_CELL.finditer(text)]
                break
            keep_from = max(len(text) - 200, 0)  # a tag cut by the chunk boundary is read with the next chunk
            found += [m.group(1).decode() for m in MERGE_CELL.finditer(text) if m.start() < keep_from]
            carry = text[keep_from:]
    return list(dict.fromkeys(found))


def read_ole(content: bytes, path: Path, release: Release, result: UploadRead, limits: UploadLimits) -> None:
    try:
        book = open_workbook(path)
    except SourceFormatError as exc:
        result.error(
            f"not a readable Excel workbook: {str(exc).split(': ', 1)[-1]}",
            expected="an .xlsx or .xls file saved by Excel",
            rule="not_xls",
        )
        return
    result.format = (
        "xlsx (encrypted)" if content.startswith(OLE_SIGNATURE) and path.suffix.lower() == ".xlsx" else "xls"
    )
    sheets = [
        (sheet.name, [(r + 1, list(cells)) for r, cells in enumerate(sheet.grid)], [], "visible") for sheet in book
    ]
    try:  # an .xls is read whole by xlrd (the file size limit bounds it); the other limits are checked after
        if len(sheets) > limits.sheets:
            raise LimitExceeded(
                f"the workbook has {len(sheets)} sheets, more than the {limits.sheets} an upload may have",
                found=f"{len(sheets)} sheets",
                expected=f"at most {limits.sheets} (STI_UPLOAD_MAX_SHEETS)",
                rule="too_many_sheets",
            )
        if sum(len(grid) for _name, grid, *_ in sheets) > limits.rows:
            raise rows_exceeded(limits)
        widest = max((len(row) for _name, grid, *_ in sheets for _r, row in grid), default=0)
        if widest > limits.columns:
            raise columns_exceeded(widest, limits)
    except LimitExceeded as exc:
        result.error(str(exc), found=exc.found, expected=exc.expected, rule=exc.rule)
        return
    _read_workbook(result, sheets, path, release, limits)


def _read_workbook(result: UploadRead, sheets: list, path: Path, release: Release, limits: UploadLimits) -> None:
    with_header = [sheet for sheet in sheets if find_header(sheet[1]) is not None]
    if not with_header:
        if any(_has_region_header(grid) for _name, grid, _merged, _state in sheets):
            cells = sum(len(row) for _name, grid, *_ in sheets for _r, row in grid)
            if cells > YEARBOOK_MAX_CELLS:  # the yearbook reader loads the whole workbook (openpyxl, xlrd)
                result.error(
                    f"a sheet with a 地区/Region column, read as a yearbook table, but it has {cells:,} cells; "
                    f"yearbook tables have a few thousand",
                    found=f"{cells:,} cells",
                    expected=f"a yearbook table of at most {YEARBOOK_MAX_CELLS:,} cells, or the upload format",
                    rule="yearbook_layout",
                )
                return
            read_yearbook(result, path, release)
            return
        _explain_missing_header(result, sheets)
        return
    for name, grid, merged, state in with_header:
        if state != "visible":
            result.warning(f"sheet '{name}' is hidden; it was read all the same", sheet=name, rule="hidden_sheet")
        read_grid(result, name, grid, release, workbook=True, limits=limits, merged=merged)
    read_names = {sheet[0] for sheet in with_header}
    for name, grid, _merged, _state in sheets:
        if name.strip().casefold().startswith(NOTE_SHEETS):
            continue
        if name not in read_names and any(cell_text(v).strip() for _r, row in grid for v in row):
            result.warning(
                f"sheet '{name}' has no header row of the upload format and was not read",
                sheet=name,
                rule="sheet_ignored",
            )


def _has_region_header(grid) -> bool:
    return any(
        SPACES.sub("", cell_text(value)) in ("地区", "Region", "region") for _r, row in grid[:30] for value in row
    )


def _explain_missing_header(result: UploadRead, sheets: list) -> None:
    where = "; ".join(f"'{name}'" for name, *_ in sheets) or "none"
    first = next(
        ((name, r, row) for name, grid, *_ in sheets for r, row in grid if any(cell_text(v).strip() for v in row)), None
    )
    if first is None:
        result.error(
            "the workbook has no data: every sheet is empty", expected="a header row and data rows", rule="empty_file"
        )
        return
    name, r, row = first
    texts = [cell_text(v).strip() for v in row if cell_text(v).strip()]
    result.error(
        f"no sheet has a header row with the upload columns {', '.join(REQUIRED_COLUMNS)} "
        f"(looked at the first {HEADER_SEARCH_ROWS} rows of sheets {where}), and no sheet is a yearbook table "
        "with a 地区/Region column",
        sheet=name,
        row=r,
        found=quote(", ".join(texts)[:120]),
        expected="the header of the upload template (docs/upload-template.xlsx)",
        rule="no_header",
    )
