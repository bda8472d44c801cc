"""Statisticians' uploads: the upload format (CSV or Excel) and yearbook tables, one file at a time.

The upload format is a long table, one row per region, indicator and year::

    region,indicator,year,value,unit,obs_status,source,note
    河北,R&D经费投入强度,2023,2.08,%,,河北省2023年科技经费投入统计公报,

* region: GB/T 2260 code (130000) or Chinese or English name, with or without suffix (河北, 河北省, Hebei);
* indicator: catalogue id (rd_intensity) or its Chinese or English name or an alias
  (catalogue/indicator_aliases.csv);
* year: the data year; value: a number, full-width digits and thousands separators allowed; a missing
  marker (empty, —, …, -, x) is a gap, flagged obs_status "m", never a zero;
* unit: the indicator's unit or one convertible to it (元/万元/亿元, 件/万件, ...);
* optional obs_status (SDMX: p provisional, e estimated, b break, m missing), source, note.

Headers may be in English or Chinese (地区, 指标, 年份, 数值, 单位, 状态, 来源, 备注). CSV may be UTF-8
(with or without BOM), GBK/GB18030 or UTF-16; Excel files may be .xlsx or .xls; every sheet with the
header row is read. A workbook without that header but with a yearbook table (a 地区/Region column, see
sources/yearbook_xls.py) is read as that yearbook table.

`read_upload` returns the tidy rows (sources/common.TIDY_COLUMNS, value in the unit as written) and
every problem found in the file, each with sheet, row, column, the value found and what was expected.
Problems that need the published data (duplicates against it, year-on-year jumps, Great Expectations
suites) are found in sti_portal/checks.py.
"""
from __future__ import annotations

import codecs
import csv
import difflib
import io
import math
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd

from sources.common import MISSING_MARKERS, SourceFormatError, column_letter, tidy_frame
from sources.yearbook_xls import cell_text

UPLOAD_SOURCE_ID = "upload"
UPLOAD_RELEASE_KIND = "upload"

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
NOTE_SHEETS = ("说明", "注", "备注", "instructions", "readme", "notes", "note")   # sheets that are never data

OBS_STATUS_WORDS = {
    "": "", "p": "p", "e": "e", "b": "b", "m": "m", "u": "u", "d": "d", "c": "c",
    "provisional": "p", "初步": "p", "初步数": "p", "初步核算": "p",
    "estimated": "e", "estimate": "e", "估计": "e", "估算": "e", "推算": "e",
    "break": "b", "断点": "b", "口径变化": "b",
    "missing": "m", "缺失": "m",
}
# Written units -> catalogue spelling; anything else must already be a unit of UNIT_CONVERSIONS or the catalogue.
UNIT_WORDS = {
    "percent": "%", "pct": "%", "百分比": "%", "百分数": "%",
    "亿": "亿元", "亿元人民币": "亿元", "100millionyuan": "亿元",
    "万元人民币": "万元", "10000yuan": "万元", "10kyuan": "万元", "tenthousandyuan": "万元",
    "yuan": "元", "元人民币": "元", "rmb": "元",
    "人·年": "人年", "人/年": "人年", "personyears": "人年", "person-years": "人年", "personyear": "人年",
    "piece": "件", "pieces": "件", "contracts": "项", "contract": "项",
    "10000persons": "万人", "10000people": "万人", "persons": "人", "people": "人",
}
EXTRA_MISSING = {"——", "－－", "--", "n/a", "na", "n.a.", "null", "none", "…", "...", "……"}
AMBIGUOUS_WORDS = {"无", "零", "空", "暂无", "不详"}
EXCEL_ERRORS = {"#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#GETTING_DATA", "#SPILL!",
                "#CALC!", "#ERROR"}
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
SPACED_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?: \d{3})+(?:\.\d+)?")
YEAR_TEXT = re.compile(r"((?:1[89]|2[0-9])\d{2})(?:年|年度)?")
SPACES = re.compile(r"[\s\u00a0\u2000-\u200b\u202f\u3000\ufeff]+")
UNIT_SUFFIXES = ("万亿", "亿", "万", "千", "百", "元", "件", "个", "项", "家", "人")

ZIP_SIGNATURE = b"PK\x03\x04"
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


# ------------------------------------------------------------------------------------------ problems

@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, said so that a statistician can fix it."""

    severity: str            # "error" (the file is rejected) | "warning" (shown, does not block)
    file: str                # the file's name
    message: str             # what is wrong, in one sentence
    sheet: str = ""
    row: int | None = None   # 1-based, as Excel or a text editor numbers lines
    column: str = ""         # upload column (region, value, ...) or a letter
    cell: str = ""           # A1 reference, for workbooks
    found: str = ""          # the value found, as text
    expected: str = ""       # what was expected
    rule: str = ""           # short id of the rule (empty_file, unknown_region, gx:value_ranges, ...)

    def where(self) -> str:
        parts = []
        if self.sheet:
            parts.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}" + (f" ({self.cell})" if self.cell else ""))
        elif self.cell:
            parts.append(f"cell {self.cell}")
        return ", ".join(parts) or "whole file"

    def text(self) -> str:
        detail = []
        if self.found:
            detail.append(f"found {self.found}")
        if self.expected:
            detail.append(f"expected {self.expected}")
        return f"{self.where()}: {self.message}" + (f" ({'; '.join(detail)})" if detail else "")


def _quote(value) -> str:
    text = "" if value is None else str(value)
    return "(empty)" if text == "" else repr(text)


# ------------------------------------------------------------------------------------------ catalogue look-ups

def closest(text: str, keys, limit: int = 5, cutoff: float = 0.5) -> list[str]:
    """Keys most like `text`, best first: difflib's ratio, ties broken by the length of the common prefix
    (北亰 is closer to 北京 than to 湖北)."""
    if not text:
        return []
    scored = []
    for key in keys:
        ratio = difflib.SequenceMatcher(None, text, key).ratio()
        if ratio >= cutoff:
            prefix = len(os.path.commonprefix([text, key]))
            scored.append((ratio + 0.05 * prefix, key))
    return [key for _score, key in sorted(scored, key=lambda item: (-item[0], item[1]))[:limit]]


def _norm_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", str(text or "")).casefold()
    return re.sub(r"[\s_\-–—·:：()（）/]+", "", text)


class IndicatorResolver:
    """Indicator id, Chinese or English name, or alias -> indicator id."""

    def __init__(self) -> None:
        from sti_portal.core import catalogue

        self.indicators = catalogue.indicators()
        self.keys: dict[str, str] = {}
        for row in self.indicators.itertuples():
            for label in (row.indicator_id, row.name_zh, row.name_en):
                self.keys.setdefault(_norm_key(label), row.indicator_id)
        for row in catalogue.indicator_aliases().itertuples():
            self.keys.setdefault(_norm_key(row.alias), row.indicator_id)

    def resolve(self, text: str) -> str | None:
        return self.keys.get(_norm_key(text))

    def label(self, indicator_id: str) -> str:
        row = self.indicators.loc[indicator_id]
        return f"{indicator_id} ({row['name_zh']})"

    def suggestions(self, text: str, limit: int = 3) -> list[str]:
        matches = closest(_norm_key(text), self.keys, limit=10, cutoff=0.45)
        found = list(dict.fromkeys(self.keys[m] for m in matches))[:limit]
        return [self.label(indicator_id) for indicator_id in found]

    def not_uploadable(self, indicator_id: str) -> str | None:
        row = self.indicators.loc[indicator_id]
        if row["derived"]:
            return (f"{self.label(indicator_id)} is derived by the portal ({row['derivation']}); "
                    "upload the indicators it is computed from instead")
        if row["source_ids"] == "world_bank_wdi":
            return f"{self.label(indicator_id)} is the World Bank series for countries; it is not loaded from uploads"
        return None

    def unit(self, indicator_id: str) -> str:
        return self.indicators.loc[indicator_id, "unit"]


class Regions:
    """Region code or Chinese/English name (with or without suffix) -> GB/T 2260 code, with suggestions."""

    def __init__(self) -> None:
        from sti_portal.core import catalogue
        from sti_portal.transform.harmonise import RegionResolver

        self.resolver = RegionResolver.from_catalogue()
        self.table = catalogue.china_regions().set_index("region_code")

    def resolve(self, label: str) -> str | None:
        return self.resolver.resolve(label)

    def label(self, code: str) -> str:
        row = self.table.loc[code]
        return f"{row['name_zh']} {row['name_en']} ({code})"

    def suggestions(self, label: str, limit: int = 3) -> list[str]:
        if re.fullmatch(r"\d{2}", label) and f"{label}0000" in self.table.index:
            return [self.label(f"{label}0000")]
        keys = list(self.resolver.keys)
        candidates = []
        for key in dict.fromkeys((_zh_key(label), _en_key(label))):
            candidates += closest(key, keys)
        codes = list(dict.fromkeys(self.resolver.keys[key] for key in candidates))
        return [self.label(code) for code in codes[:limit] if code in self.table.index]

    def ignore_reason(self, label: str, label_en: str = "") -> str | None:
        return self.resolver.ignore_reason(label, label_en)


def _zh_key(label: str) -> str:
    from sti_portal.transform.harmonise import _zh_key as key

    return key(label)


def _en_key(label: str) -> str:
    from sti_portal.transform.harmonise import _en_key as key

    return key(label)


def accepted_units(target_unit: str) -> list[str]:
    from sti_portal.transform.harmonise import UNIT_CONVERSIONS

    return [target_unit] + sorted(source for source, target in UNIT_CONVERSIONS if target == target_unit)


def normalise_unit(raw) -> str:
    text = unicodedata.normalize("NFKC", cell_text(raw)).strip()
    text = re.sub(r"^[(\[（【]\s*(.*?)\s*[)\]）】]$", r"\1", text)
    text = SPACES.sub("", text)
    if text.startswith("单位:"):
        text = text[3:]
    return UNIT_WORDS.get(text.casefold(), text)


# ------------------------------------------------------------------------------------------ cells

def _clean_text(value) -> str:
    text = unicodedata.normalize("NFKC", cell_text(value))
    text = SPACES.sub(" ", text).strip()
    return text[1:].strip() if text.startswith("'") else text


def _free_text(value) -> str:
    """Notes and sources are kept as written (no width folding), only trimmed."""
    return SPACES.sub(" ", cell_text(value)).strip()


class CellError(ValueError):
    """A cell that cannot be read: the message says what was found and what was expected."""

    def __init__(self, message: str, expected: str = ""):
        super().__init__(message)
        self.expected = expected


def parse_value(raw) -> tuple[float, bool]:
    """(value, had a % sign). A missing marker gives NaN; anything unreadable raises CellError."""
    if raw is None:
        return math.nan, False
    if isinstance(raw, bool):
        raise CellError("a TRUE/FALSE cell is not a number", "a number")
    if isinstance(raw, (int, float)):
        value = float(raw)
        if not math.isfinite(value):
            raise CellError("not a finite number", "a number")
        return value, False
    if isinstance(raw, (datetime, date, time)):
        raise CellError("a date, not a number (Excel turned the value into a date?)", "a number")
    text = _clean_text(raw)
    if text in MISSING_MARKERS or text.casefold() in EXTRA_MISSING:
        return math.nan, False
    if text.upper() in EXCEL_ERRORS:
        raise CellError("an Excel error value, not a number (fix the formula or type the value)", "a number")
    if text in AMBIGUOUS_WORDS:
        raise CellError("a word that could mean zero or missing", "0 for zero, or empty / — for a missing value")
    percent = text.endswith("%")
    if percent:
        text = text[:-1].strip()
    for suffix in UNIT_SUFFIXES:
        if text.endswith(suffix) and NUMBER.fullmatch(text[: -len(suffix)].replace(",", "").strip() or "x"):
            raise CellError(f"the value carries the unit word '{suffix}'; put the number in value and the unit in unit",
                            "a plain number")
    if text.startswith("(") and text.endswith(")") and NUMBER.fullmatch(text[1:-1].replace(",", "")):
        raise CellError("a number in brackets (an accounting negative?)", "a plain number, with a minus sign if negative")
    if THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    elif SPACED_THOUSANDS.fullmatch(text):
        text = text.replace(" ", "")
    elif "," in text and NUMBER.fullmatch(text.replace(",", ".", 1)):
        raise CellError("a comma that is not a thousands separator (a decimal comma?)",
                        "a decimal point, e.g. 2.63, and commas only between groups of three digits")
    if not NUMBER.fullmatch(text):
        raise CellError("text, not a number", "a number, or a missing marker (empty, —, …, -)")
    return float(text), percent


def parse_year(raw) -> int:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise CellError("the year is empty", "a year such as 2023")
    if isinstance(raw, bool):
        raise CellError("a TRUE/FALSE cell", "a year such as 2023")
    if isinstance(raw, (datetime, date)):
        raise CellError(f"a date ({raw:%Y-%m-%d}), not a year: Excel turned the year into a date",
                        "a year such as 2023, formatted as a number or text")
    if isinstance(raw, float):
        if not raw.is_integer():
            raise CellError("a year with decimals", "a whole year such as 2023")
        raw = int(raw)
    if isinstance(raw, int):
        if 1800 <= raw <= 2999:
            return raw
        raise CellError("not a year", "a four-digit year such as 2023")
    text = _clean_text(raw)
    match = YEAR_TEXT.fullmatch(text)
    if match:
        return int(match.group(1))
    if re.fullmatch(r"\d{4}\s*[-–—/~至到]\s*\d{2,4}", text):
        raise CellError("a range of years", "one year per row")
    raise CellError("not a year", "a four-digit year such as 2023")


# ------------------------------------------------------------------------------------------ reading files

@dataclass
class RowPlace:
    """Where a tidy row came from: for messages about it."""

    sheet: str
    row: int
    cells: dict[str, str] = field(default_factory=dict)   # upload column -> A1 (workbooks) or "" (CSV)


@dataclass
class UploadRead:
    name: str                    # the file's name, as shown in messages
    format: str = ""             # "CSV (UTF-8)", "xlsx", "yearbook table 1-8 (.xls)", ...
    rows: list[dict] = field(default_factory=list)       # tidy rows (TIDY_COLUMNS) + "region_code"
    places: list[RowPlace] = field(default_factory=list)  # aligned with rows
    problems: list[Problem] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)    # rows left out on purpose (yearbook macro-regions)

    def error(self, message: str, **where) -> None:
        self.problems.append(Problem("error", self.name, message, **where))

    def warning(self, message: str, **where) -> None:
        self.problems.append(Problem("warning", self.name, message, **where))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def tidy(self) -> pd.DataFrame:
        return tidy_frame(self.rows)

    def place_of(self, source_ref: str) -> RowPlace | None:
        """Where the row with this source_ref came from (a derived value's ref starts with its input's)."""
        index = {row["source_ref"]: place for row, place in zip(self.rows, self.places)}
        return index.get(source_ref.split(" ÷ ")[0])


@dataclass(frozen=True)
class Release:
    """The release the rows of one file belong to."""

    release: str
    vintage: str        # YYYY-MM-DD
    ref_name: str       # how source_ref names the file (archive/<name> once archived)


def read_upload(path: Path, release: Release, name: str | None = None) -> UploadRead:
    """Read one uploaded file; never raises for a problem in the file (it is reported instead)."""
    result = UploadRead(name=name or path.name)
    try:
        content = path.read_bytes()
    except OSError as exc:
        result.error(f"the file cannot be opened: {exc.strerror or exc}", rule="unreadable")
        return result
    try:
        _read_content(content, path, release, result)
    except Exception as exc:   # a reader failing in an unforeseen way must still give a verdict, not a traceback
        result.error(f"the file could not be read ({type(exc).__name__}: {exc}); "
                     "save it again as .xlsx or as CSV UTF-8 and retry", rule="unreadable")
    return result


def _read_content(content: bytes, path: Path, release: Release, result: UploadRead) -> None:
    if not content.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        result.error("the file is empty" if not content else "the file holds only blank space",
                     expected="a header row and at least one data row", rule="empty_file")
        return
    if content[:4] in (ZIP_SIGNATURE, b"PK\x05\x06"):
        _read_zip(content, path, release, result)
    elif content.startswith(OLE_SIGNATURE):
        _read_ole(content, path, release, result)
    elif content.startswith(b"%PDF"):
        result.error("this is a PDF document, not a table", expected="a CSV or Excel (.xlsx) file in the upload format",
                     rule="wrong_format")
    elif re.match(rb"\s*<(!doctype\s+html|html|table|\?xml)", content[:200], re.IGNORECASE):
        result.error("this is an HTML/XML page (often saved with an .xls name by web sites), not a workbook",
                     expected="open it in Excel and save it as .xlsx, or as CSV UTF-8", rule="wrong_format")
    else:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            result.error("the file is named .xlsx but is not an Excel workbook (no .xlsx package inside)",
                         expected="a file saved by Excel as .xlsx", rule="not_xlsx")
            return
        _read_csv(content, release, result)


# ---------------------------------------------------------------------------- CSV

def decode_text(content: bytes) -> tuple[str, str]:
    """(text, encoding label) for UTF-8 (with or without BOM), UTF-16 with BOM, or GBK/GB18030.

    Raises CellError naming the first byte that fits none of them."""
    if content.startswith(codecs.BOM_UTF8):
        try:
            return content[3:].decode("utf-8"), "UTF-8 with BOM"
        except UnicodeDecodeError as exc:
            raise CellError(_decode_message(content[3:], exc, "UTF-8 (it starts with a UTF-8 byte-order mark)")) from None
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError as exc:
            raise CellError(_decode_message(content, exc, "UTF-16")) from None
    try:
        return content.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        text = content.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise CellError(_decode_message(content, exc, "UTF-8 or GBK/GB18030", guess=_guess_encoding(content))) from None
    other = _looks_like_other_encoding(text, content)
    if other:
        raise CellError(f"the text reads as GBK only as nonsense characters; it looks like {other}, "
                        "which the upload does not accept")
    return text, "GBK/GB18030"


def _decode_message(content: bytes, exc: UnicodeDecodeError, tried: str, guess: str | None = None) -> str:
    line = content[: exc.start].count(b"\n") + 1
    hint = f"; it looks like {guess}" if guess else ""
    return (f"the text is not {tried}: byte 0x{content[exc.start]:02X} on line {line} does not decode{hint}")


def _guess_encoding(content: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:   # pragma: no cover - installed with the project
        return None
    best = from_bytes(content[:20000]).best()
    return _describe_encoding(best.encoding) if best is not None else None


ENCODING_NAMES = {"cp1250": "Windows-1250 (Central European)", "cp1251": "Windows-1251 (Cyrillic)",
                  "mac_roman": "Mac Roman", "big5": "Big5 (traditional Chinese)", "cp950": "Big5 (traditional Chinese)",
                  "shift_jis": "Shift-JIS (Japanese)", "cp932": "Shift-JIS (Japanese)", "euc_jp": "EUC-JP (Japanese)",
                  "euc_kr": "EUC-KR (Korean)", "cp949": "EUC-KR (Korean)", "utf_16": "UTF-16",
                  "cp1252": "Windows-1252 (Western European)", "latin_1": "Latin-1 (Western European)",
                  "iso8859_1": "Latin-1 (Western European)"}


def _describe_encoding(name: str) -> str:
    return ENCODING_NAMES.get(name.lower(), name)


def _looks_like_other_encoding(text: str, content: bytes) -> str | None:
    """Big5 and other double-byte encodings decode as GB18030 without error, into rare characters.

    Statistical tables use common characters (all in GB2312); when many are outside it, ask
    charset-normalizer what the file is."""
    cjk = [ch for ch in text if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"]
    if len(cjk) < 4:
        return None
    rare = 0
    for ch in cjk:
        try:
            ch.encode("gb2312")
        except UnicodeEncodeError:
            rare += 1
    if rare / len(cjk) < 0.2:
        return None
    guess = _guess_encoding(content)
    if guess and not guess.lower().startswith(("gb", "utf")):
        return guess
    return "an encoding other than GBK (characters outside the common GB2312 set)"


def _read_csv(content: bytes, release: Release, result: UploadRead) -> None:
    try:
        text, encoding = decode_text(content)
    except CellError as exc:
        result.error(str(exc), expected="CSV saved as UTF-8 (Excel: Save as → 'CSV UTF-8') or GBK (Excel: 'CSV')",
                     rule="encoding")
        return
    result.format = f"CSV ({encoding})"
    if "\x00" in text:
        result.error("the text holds NUL bytes: it is a binary file or saved in an encoding without a byte-order mark",
                     expected="CSV saved as UTF-8 or GBK", rule="encoding")
        return
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", "\t", ";"), key=first_line.count)
    if first_line.count("，") > first_line.count(delimiter):
        result.error("the columns are separated by full-width commas '，' (Chinese input mode)",
                     row=1, found=_quote(first_line[:80]), expected="ASCII commas ',' between columns", rule="delimiter")
        return
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    grid: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for record in reader:
            grid.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        result.error(f"the CSV cannot be split into columns ({exc}): a quotation mark is not closed or a quoted "
                     "value is followed by more text", row=start, rule="csv_syntax",
                     expected="values with quotes written as \"...\" (Excel does this when saving)")
        return
    _read_grid(result, "", grid, release, workbook=False)


# ---------------------------------------------------------------------------- workbooks

def _read_zip(content: bytes, path: Path, release: Release, result: UploadRead) -> None:
    try:
        names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    except zipfile.BadZipFile as exc:
        result.error(f"not a readable .xlsx: the file is damaged or truncated ({exc})",
                     expected="a complete .xlsx file (save it again from Excel)", rule="not_xlsx")
        return
    if "xl/workbook.xml" not in names:
        kind = ("an OpenDocument spreadsheet (.ods)" if "content.xml" in names and "mimetype" in names
                else "a Word document" if "word/document.xml" in names
                else "a ZIP archive, not a workbook")
        result.error(f"this is {kind}", expected="an Excel .xlsx workbook or a CSV file", rule="wrong_format")
        return
    try:
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(content), data_only=True)
        formulas = openpyxl.load_workbook(io.BytesIO(content), data_only=False)
    except Exception as exc:   # openpyxl raises KeyError, ValueError, zipfile errors... for broken packages
        result.error(f"not a readable .xlsx: the workbook inside the file is damaged ({type(exc).__name__}: {exc})",
                     expected="a complete .xlsx file (save it again from Excel)", rule="not_xlsx")
        return
    result.format = "xlsx"
    sheets = []
    for sheet in book.worksheets:
        formula_sheet = formulas[sheet.title]
        grid = []
        for r, cells in enumerate(sheet.iter_rows(), start=1):
            values = []
            for cell in cells:
                value = cell.value
                if value is None:
                    formula = formula_sheet.cell(row=cell.row, column=cell.column).value
                    if isinstance(formula, str) and formula.startswith("="):
                        value = _FormulaWithoutValue(formula)
                values.append(value)
            grid.append((r, values))
        merged = [str(rng) for rng in sheet.merged_cells.ranges]
        sheets.append((sheet.title, grid, merged, sheet.sheet_state))
    _read_workbook(result, sheets, path, release)


def _read_ole(content: bytes, path: Path, release: Release, result: UploadRead) -> None:
    from sources.yearbook_xls import open_workbook

    try:
        book = open_workbook(path)
    except SourceFormatError as exc:
        result.error(f"not a readable Excel workbook: {str(exc).split(': ', 1)[-1]}",
                     expected="an .xlsx or .xls file saved by Excel", rule="not_xls")
        return
    result.format = "xlsx (encrypted)" if content.startswith(OLE_SIGNATURE) and path.suffix.lower() == ".xlsx" else "xls"
    sheets = [(sheet.name, [(r + 1, list(cells)) for r, cells in enumerate(sheet.grid)], [], "visible")
              for sheet in book]
    _read_workbook(result, sheets, path, release)


class _FormulaWithoutValue(str):
    """A formula cell saved without its computed value (files written by scripts, not by Excel)."""


def _read_workbook(result: UploadRead, sheets: list, path: Path, release: Release) -> None:
    with_header = [sheet for sheet in sheets if _find_header(sheet[1]) is not None]
    if not with_header:
        if any(_has_region_header(grid) for _name, grid, _merged, _state in sheets):
            _read_yearbook(result, path, release)
            return
        _explain_missing_header(result, sheets)
        return
    for name, grid, merged, state in with_header:
        if state != "visible":
            result.warning(f"sheet '{name}' is hidden; it was read all the same", sheet=name, rule="hidden_sheet")
        _read_grid(result, name, grid, release, workbook=True, merged=merged)
    read_names = {sheet[0] for sheet in with_header}
    for name, grid, _merged, _state in sheets:
        if name.strip().casefold().startswith(NOTE_SHEETS):
            continue
        if name not in read_names and any(cell_text(v).strip() for _r, row in grid for v in row):
            result.warning(f"sheet '{name}' has no header row of the upload format and was not read",
                           sheet=name, rule="sheet_ignored")


def _has_region_header(grid) -> bool:
    return any(SPACES.sub("", cell_text(value)) in ("地区", "Region", "region")
               for _r, row in grid[:30] for value in row)


def _explain_missing_header(result: UploadRead, sheets: list) -> None:
    where = "; ".join(f"'{name}'" for name, *_ in sheets) or "none"
    first = next(((name, r, row) for name, grid, *_ in sheets for r, row in grid
                  if any(cell_text(v).strip() for v in row)), None)
    if first is None:
        result.error("the workbook has no data: every sheet is empty", expected="a header row and data rows",
                     rule="empty_file")
        return
    name, r, row = first
    texts = [cell_text(v).strip() for v in row if cell_text(v).strip()]
    result.error(f"no sheet has a header row with the upload columns {', '.join(REQUIRED_COLUMNS)} "
                 f"(looked at the first {HEADER_SEARCH_ROWS} rows of sheets {where}), and no sheet is a yearbook table "
                 "with a 地区/Region column", sheet=name, row=r, found=_quote(", ".join(texts)[:120]),
                 expected="the header of the upload template (docs/upload-template.xlsx)", rule="no_header")


# ---------------------------------------------------------------------------- the long table

def _header_field(text) -> str | None:
    key = _norm_key(cell_text(text))
    if not key:
        return None
    for field_name, names in HEADER_NAMES.items():
        if key in {_norm_key(n) for n in names}:
            return field_name
    # bilingual headers: "地区 region", "年份/year"
    parts = [p for p in re.split(r"[\s/|()（）]+", unicodedata.normalize("NFKC", cell_text(text))) if p]
    for part in parts:
        for field_name, names in HEADER_NAMES.items():
            if _norm_key(part) in {_norm_key(n) for n in names}:
                return field_name
    return None


def _find_header(grid) -> int | None:
    """Index (in grid) of the first row with at least three upload column names."""
    for index, (_r, row) in enumerate(grid[:HEADER_SEARCH_ROWS]):
        if sum(_header_field(value) is not None for value in row) >= 3:
            return index
    return None


def _read_grid(result: UploadRead, sheet: str, grid: list[tuple[int, list]], release: Release, *, workbook: bool,
               merged: list[str] | None = None) -> None:
    header_index = _find_header(grid)
    if header_index is None:
        first = next(((r, row) for r, row in grid if any(cell_text(v).strip() for v in row)), None)
        if first is None:
            result.error("the file has no rows", expected="a header row and data rows", rule="empty_file")
            return
        r, row = first
        texts = [cell_text(v).strip() for v in row]
        years = [t for t in texts if YEAR_TEXT.fullmatch(t)]
        if len(years) >= 2:
            result.error("the columns look like years (a wide table); the upload format has one row per region, "
                         "indicator and year", sheet=sheet, row=r, found=_quote(", ".join(texts)[:120]),
                         expected=f"columns {', '.join(REQUIRED_COLUMNS)}", rule="wide_table")
        else:
            result.error(f"no header row with the upload columns {', '.join(REQUIRED_COLUMNS)} "
                         f"in the first {HEADER_SEARCH_ROWS} rows", sheet=sheet, row=r,
                         found=_quote(", ".join(texts)[:120]), expected="the header of docs/upload-template.csv",
                         rule="no_header")
        return
    header_row, header = grid[header_index]
    columns: dict[str, int] = {}
    for col, value in enumerate(header):
        field_name = _header_field(value)
        label = cell_text(value).strip()
        if field_name is None:
            if label:
                result.warning(f"column '{label}' is not part of the upload format and was ignored", sheet=sheet,
                               row=header_row, column=column_letter(col) if workbook else label, rule="extra_column")
            continue
        if field_name in columns:
            result.error(f"two columns are headed {field_name} ({column_letter(columns[field_name])} and "
                         f"{column_letter(col)})", sheet=sheet, row=header_row, column=field_name,
                         expected="each column once", rule="duplicate_column")
            continue
        columns[field_name] = col
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        found = [cell_text(v).strip() for v in header if cell_text(v).strip()]
        if {"year", "value"} & set(missing) and sum(bool(YEAR_TEXT.fullmatch(t)) for t in found) >= 2:
            result.error("the columns look like years (a wide table); the upload format has one row per region, "
                         "indicator and year, with the year in column year and the number in column value",
                         sheet=sheet, row=header_row, found=_quote(", ".join(found)),
                         expected=f"columns {', '.join(REQUIRED_COLUMNS)}", rule="wide_table")
            return
        result.error(f"missing column(s) {', '.join(missing)}", sheet=sheet, row=header_row,
                     found=_quote(", ".join(found)), expected=f"columns {', '.join(REQUIRED_COLUMNS)} "
                     f"(optional: {', '.join(OPTIONAL_COLUMNS)})", rule="missing_column")
        return
    merged_cells = _merged_fill(result, sheet, merged or [], grid, header_row)
    indicators = _indicator_resolver()
    regions = _regions()
    data_rows = 0
    for r, row in grid[header_index + 1:]:
        cells = {name: (row[col] if col < len(row) else None) for name, col in columns.items()}
        for name, col in columns.items():
            if (r, col) in merged_cells:
                cells[name] = merged_cells[(r, col)]
        if all(cell_text(v).strip() == "" for v in cells.values()) and all(cell_text(v).strip() == "" for v in row):
            continue
        data_rows += 1
        place = RowPlace(sheet, r, {name: (f"{column_letter(col)}{r}" if workbook else "") for name, col in columns.items()})
        _read_row(result, cells, place, release, indicators, regions, workbook, columns)
    if data_rows == 0:
        result.error("the file has a header row but no data rows", sheet=sheet, row=header_row,
                     expected="one row per region, indicator and year below the header", rule="empty_file")


def _merged_fill(result: UploadRead, sheet: str, merged: list[str], grid, header_row: int) -> dict[tuple[int, int], object]:
    """Report merged cells in the table; return the value each covered cell shows, so other checks still run."""
    from openpyxl.utils import range_boundaries

    values = {(r, col): value for r, row in grid for col, value in enumerate(row)}
    filled = {}
    for rng in merged:
        min_col, min_row, max_col, max_row = range_boundaries(rng)
        if max_row < header_row:
            continue   # a merged title above the table is fine
        result.error(f"cells {rng} are merged; every row of the upload format needs its own values",
                     sheet=sheet, row=min_row, cell=rng, expected="unmerged cells, the value repeated in each row",
                     rule="merged_cells")
        anchor = values.get((min_row, min_col - 1))
        for r in range(min_row, max_row + 1):
            for c in range(min_col - 1, max_col):
                if (r, c) != (min_row, min_col - 1):
                    filled[(r, c)] = anchor
    return filled


def _where(place: RowPlace, column: str, workbook: bool) -> dict:
    return {"sheet": place.sheet, "row": place.row, "column": column, "cell": place.cells.get(column, "") if workbook else ""}


def _read_row(result: UploadRead, cells: dict, place: RowPlace, release: Release, indicators: IndicatorResolver,
              regions: Regions, workbook: bool, columns: dict[str, int]) -> None:
    ok = True

    def bad(column: str, message: str, found, expected: str, rule: str) -> None:
        nonlocal ok
        ok = False
        result.error(message, **_where(place, column, workbook), found=_quote(cell_text(found)), expected=expected,
                     rule=rule)

    for name, value in cells.items():
        if isinstance(value, _FormulaWithoutValue):
            bad(name, "a formula saved without its computed value", value,
                "a value: open the file in Excel and save it, or paste values", "formula_without_value")
            cells[name] = None
    # region
    region_text = _clean_text(cells["region"])
    region_code = None
    if not region_text:
        bad("region", "the region is empty", cells["region"], "a GB/T 2260 code or a region name", "missing_region")
    else:
        region_code = regions.resolve(region_text)
        if region_code is None:
            reason = regions.ignore_reason(region_text)
            if reason:
                bad("region", f"'{region_text}' is not a province-level region ({reason})", cells["region"],
                    "a province, Hong Kong, Macao, Taiwan or the national total (全国, 100000)", "not_a_region")
            else:
                hints = regions.suggestions(region_text)
                bad("region", "unknown region" + (f"; did you mean {' or '.join(hints)}?" if hints else ""),
                    cells["region"], "a GB/T 2260 code or a Chinese or English region name", "unknown_region")
    # indicator
    indicator_text = _clean_text(cells["indicator"])
    indicator_id = None
    if not indicator_text:
        bad("indicator", "the indicator is empty", cells["indicator"], "an indicator id or name", "missing_indicator")
    else:
        indicator_id = indicators.resolve(indicator_text)
        if indicator_id is None:
            hints = indicators.suggestions(indicator_text)
            bad("indicator", "unknown indicator" + (f"; did you mean {' or '.join(hints)}?" if hints else ""),
                cells["indicator"], "an id or name from catalogue/indicators.csv (the portal's indicators table)",
                "unknown_indicator")
        else:
            why_not = indicators.not_uploadable(indicator_id)
            if why_not:
                bad("indicator", why_not, cells["indicator"], "an indicator the portal loads from sources",
                    "indicator_not_uploadable")
                indicator_id = None
    # year
    year = None
    try:
        year = parse_year(cells["year"])
    except CellError as exc:
        bad("year", str(exc), cells["year"], exc.expected, "bad_year")
    # value
    value, percent = math.nan, False
    try:
        value, percent = parse_value(cells["value"])
    except CellError as exc:
        bad("value", str(exc), cells["value"], exc.expected, "bad_value")
    # unit
    unit = normalise_unit(cells["unit"])
    if indicator_id is not None:
        target = indicators.unit(indicator_id)
        allowed = accepted_units(target)
        if not unit:
            bad("unit", "the unit is empty", cells["unit"], f"the unit of {indicators.label(indicator_id)}: "
                f"{' or '.join(allowed)}", "missing_unit")
        elif unit not in allowed:
            bad("unit", f"unit '{unit}' does not fit {indicators.label(indicator_id)}, whose unit is {target}",
                cells["unit"], f"{' or '.join(allowed)}", "unit_mismatch")
        elif percent and unit != "%":
            bad("value", f"the value has a % sign but the unit is {unit}", cells["value"], f"a number in {unit}",
                "unit_mismatch")
    # status
    status_text = _clean_text(cells.get("obs_status")).casefold()
    status = OBS_STATUS_WORDS.get(status_text)
    if status is None:
        bad("obs_status", "unknown observation status", cells.get("obs_status"),
            "empty, p (provisional), e (estimated), b (break in series) or m (missing)", "bad_status")
        status = ""
    if math.isnan(value) and ok:
        if status and status != "m":
            result.warning(f"the value is missing, so the status is recorded as m (missing), not {status}",
                           **_where(place, "obs_status", workbook), rule="missing_value")
        status = "m"
    elif status == "m" and not math.isnan(value):
        bad("obs_status", "the status says m (missing) but there is a value", cells.get("obs_status"),
            "empty status for a value, or an empty value for m", "bad_status")
    if not ok:
        return
    notes = [_free_text(cells.get("note"))]
    source_text = _free_text(cells.get("source"))
    if source_text:
        notes.append(f"source: {source_text}")
    value_cell = place.cells.get("value") or ""
    source_ref = (f"{release.ref_name}#{place.sheet}!{value_cell}" if workbook
                  else f"{release.ref_name}#row={place.row},col=value")
    result.rows.append({
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
    })
    result.places.append(place)


_RESOLVERS: dict[str, object] = {}


def _indicator_resolver() -> IndicatorResolver:
    if "indicators" not in _RESOLVERS:
        _RESOLVERS["indicators"] = IndicatorResolver()
    return _RESOLVERS["indicators"]


def _regions() -> Regions:
    if "regions" not in _RESOLVERS:
        _RESOLVERS["regions"] = Regions()
    return _RESOLVERS["regions"]


# ---------------------------------------------------------------------------- yearbook tables

def yearbook_specs() -> list:
    """Every yearbook table the source adapters read (their TABLES), with the adapter module name."""
    import importlib

    from sti_portal.transform.steps import SOURCE_ADAPTERS

    specs = []
    for module_name in SOURCE_ADAPTERS.values():
        if module_name.startswith("sources.yearbook_"):
            specs += list(importlib.import_module(module_name).TABLES)
    return specs


def _read_yearbook(result: UploadRead, path: Path, release: Release) -> None:
    from sources import yearbook_xls as yb

    result.format = "yearbook table"
    try:
        table = yb.read_table(path, path.parent)
    except SourceFormatError as exc:
        result.error(f"read as a yearbook table (it has a 地区/Region column): {_strip_path(str(exc), path)}",
                     expected="a yearbook table as CNKI distributes it, or the upload format", rule="yearbook_layout")
        return
    table = replace(table, ref_path=release.ref_name)
    matches = [spec for spec in yearbook_specs() if all(k in table.title for k in spec.title_keywords)]
    best = max((len(spec.title_keywords) for spec in matches), default=0)
    matches = [spec for spec in matches if len(spec.title_keywords) == best]
    if len(matches) != 1:
        known = "; ".join(sorted({" + ".join(spec.title_keywords) for spec in yearbook_specs()}))
        result.error("a yearbook table the portal does not read" if not matches else
                     f"the title fits {len(matches)} yearbook tables; cannot tell which",
                     sheet=table.sheet.name, found=_quote(table.title[:100]),
                     expected=f"a table whose title contains one of: {known}", rule="unknown_yearbook_table")
        return
    spec = matches[0]
    data_year = _yearbook_data_year(table, spec, path)
    if data_year is None:
        result.error("cannot tell the data year of this yearbook table: neither the title '(YYYY年)' nor the file "
                     "name '__YYYY' nor year columns give it", sheet=table.sheet.name, found=_quote(table.title[:100]),
                     expected="a title with the data year, or a file name ending __YYYY", rule="yearbook_year")
        return
    result.format = f"yearbook table {spec.folder} ({path.suffix.lstrip('.').lower() or 'xls'}), data year {data_year}"
    file = yb.YearbookFile(path, data_year, spec.file_kind)
    try:
        rows = list(yb._table_rows(table, spec, file))
    except SourceFormatError as exc:
        message = str(exc).replace(f"{release.ref_name}, ", "").replace(f"sheet '{table.sheet.name}': ", "")
        result.error(f"read as yearbook table {spec.folder}: {message}", sheet=table.sheet.name,
                     expected="the layout of that yearbook table", rule="yearbook_layout")
        return
    regions = _regions()
    unknown: dict[str, RowPlace] = {}
    for row in rows:
        ref = row["source_ref"]
        cell = ref.rsplit("!", 1)[-1]
        row_number = int(re.sub(r"^[A-Z]+", "", cell))
        place = RowPlace(table.sheet.name, row_number, {"value": cell})
        code = regions.resolver.resolve(row["region_label"], row["region_label_en"])
        if code is None:
            reason = regions.ignore_reason(row["region_label"], row["region_label_en"])
            if reason:
                result.dropped.append({**row, "reason": reason})
                continue
            unknown.setdefault(row["region_label"] or row["region_label_en"], place)
            continue
        if "unreadable text" in row["note"]:
            result.error("text, not a number", sheet=place.sheet, row=row_number, cell=cell,
                         found=_quote(row["note"].rsplit("unreadable text ", 1)[-1]),
                         expected="a number, or a missing marker (empty, —, …, -)", rule="bad_value")
            continue
        note = "; ".join(n for n in (row["note"], f"yearbook table {spec.folder}, data year {data_year}") if n)
        result.rows.append({**row, "source_id": UPLOAD_SOURCE_ID, "release": release.release,
                            "release_kind": UPLOAD_RELEASE_KIND, "vintage": release.vintage, "note": note,
                            "region_code": code})
        result.places.append(place)
    for label, place in unknown.items():
        hints = regions.suggestions(label)
        result.error("unknown region" + (f"; did you mean {' or '.join(hints)}?" if hints else ""), sheet=place.sheet,
                     row=place.row, column="地区/Region", found=_quote(label), expected="a region name the catalogue "
                     "knows (catalogue/region_aliases.csv)", rule="unknown_region")


def _yearbook_data_year(table, spec, path: Path) -> int | None:
    from sources import yearbook_xls as yb

    if spec.year_series is not None:
        try:
            return max(yb.year_columns(table).values())
        except SourceFormatError:
            return None
    name_year = yb.FILE_NAME.search(path.stem)
    title_year = yb.TITLE_DATA_YEAR.search(table.title)
    if title_year:
        return int(title_year.group(1))
    if name_year:
        return int(name_year.group("year"))
    edition = yb.TITLE_EDITION.search(table.title)
    return int(edition.group(1)) - 1 if edition else None


def _strip_path(message: str, path: Path) -> str:
    return message.replace(f"{path.name}, ", "").replace(f"{path.name}: ", "").replace(path.name, "the file")


# ------------------------------------------------------------------------------------------ archived uploads

def extract_archived(entries, locate) -> tuple[pd.DataFrame, list[str]]:
    """Tidy rows of every archived upload (for `sti build`), and any problem re-reading them.

    `entries` are sti_portal.publish.archive.ArchivedUpload, `locate(entry)` gives the archived file's path.
    """
    frames, problems = [], []
    for entry in entries:
        try:
            path = locate(entry)
        except FileNotFoundError as exc:
            problems.append(str(exc))
            continue
        read = read_upload(path, Release(entry.release, entry.vintage, entry.source_prefix), name=entry.archived_name)
        problems += [f"{entry.archived_name}: {p.text()}" for p in read.errors]
        if read.rows:
            frames.append(read.tidy())
    if not frames:
        return tidy_frame([]), problems
    return pd.concat(frames, ignore_index=True), problems
