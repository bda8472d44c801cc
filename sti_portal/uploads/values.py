"""One cell at a time: numbers, years, units and status words as statisticians write them."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, time

from sources.common import MISSING_MARKERS
from sources.yearbook_xls import cell_text
from sti_portal.uploads.problems import CellError

OBS_STATUS_WORDS = {
    "": "",
    "p": "p",
    "e": "e",
    "b": "b",
    "m": "m",
    "u": "u",
    "d": "d",
    "c": "c",
    "provisional": "p",
    "初步": "p",
    "初步数": "p",
    "初步核算": "p",
    "estimated": "e",
    "estimate": "e",
    "估计": "e",
    "估算": "e",
    "推算": "e",
    "break": "b",
    "断点": "b",
    "口径变化": "b",
    "missing": "m",
    "缺失": "m",
}
# Written units -> catalogue spelling; anything else must already be a unit of UNIT_CONVERSIONS or the catalogue.
UNIT_WORDS = {
    "percent": "%",
    "pct": "%",
    "百分比": "%",
    "百分数": "%",
    "亿": "亿元",
    "亿元人民币": "亿元",
    "100millionyuan": "亿元",
    "万元人民币": "万元",
    "10000yuan": "万元",
    "10kyuan": "万元",
    "tenthousandyuan": "万元",
    "yuan": "元",
    "元人民币": "元",
    "rmb": "元",
    "人·年": "人年",
    "人/年": "人年",
    "personyears": "人年",
    "person-years": "人年",
    "personyear": "人年",
    "piece": "件",
    "pieces": "件",
    "contracts": "项",
    "contract": "项",
    "10000persons": "万人",
    "10000people": "万人",
    "persons": "人",
    "people": "人",
}
EXTRA_MISSING = {"——", "－－", "--", "n/a", "na", "n.a.", "null", "none", "…", "...", "……"}
AMBIGUOUS_WORDS = {"无", "零", "空", "暂无", "不详"}
EXCEL_ERRORS = {
    "#DIV/0!",
    "#N/A",
    "#VALUE!",
    "#REF!",
    "#NAME?",
    "#NUM!",
    "#NULL!",
    "#GETTING_DATA",
    "#SPILL!",
    "#CALC!",
    "#ERROR",
}
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
SPACED_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?: \d{3})+(?:\.\d+)?")
YEAR_TEXT = re.compile(r"((?:1[89]|2[0-9])\d{2})(?:年|年度)?")
SPACES = re.compile(r"[\s\u00a0\u2000-\u200b\u202f\u3000\ufeff]+")
# 10^15 is above every value in any unit the catalogue uses (China's GDP is about 1.3 x 10^14 元).
MAX_ABS_VALUE = 1e15
PLAUSIBLE = "a number below 10^15 in absolute value"
UNIT_SUFFIXES = ("万亿", "亿", "万", "千", "百", "元", "件", "个", "项", "家", "人")


def normalise_unit(raw) -> str:
    text = unicodedata.normalize("NFKC", cell_text(raw)).strip()
    text = re.sub(r"^[(\[（【]\s*(.*?)\s*[)\]）】]$", r"\1", text)
    text = SPACES.sub("", text)
    if text.startswith("单位:"):
        text = text[3:]
    return UNIT_WORDS.get(text.casefold(), text)


# ------------------------------------------------------------------------------------------ cells


def clean_text(value) -> str:
    text = unicodedata.normalize("NFKC", cell_text(value))
    text = SPACES.sub(" ", text).strip()
    return text[1:].strip() if text.startswith("'") else text


def free_text(value) -> str:
    """Notes and sources are kept as written (no width folding), only trimmed."""
    return SPACES.sub(" ", cell_text(value)).strip()


def parse_value(raw) -> tuple[float, bool]:
    """(value, had a % sign). A missing marker gives NaN; anything unreadable raises CellError."""
    if raw is None:
        return math.nan, False
    if isinstance(raw, bool):
        raise CellError("a TRUE/FALSE cell is not a number", "a number")
    if isinstance(raw, (int, float)):
        try:
            value = float(raw)
        except OverflowError:  # an int of hundreds of digits
            raise CellError("a number far larger than any statistic", PLAUSIBLE) from None
        if not math.isfinite(value):
            raise CellError("not a finite number", "a number")
        return _plausible(value), False
    if isinstance(raw, (datetime, date, time)):
        raise CellError("a date, not a number (Excel turned the value into a date?)", "a number")
    text = clean_text(raw)
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
            raise CellError(
                f"the value carries the unit word '{suffix}'; put the number in value and the unit in unit",
                "a plain number",
            )
    if text.startswith("(") and text.endswith(")") and NUMBER.fullmatch(text[1:-1].replace(",", "")):
        raise CellError(
            "a number in brackets (an accounting negative?)", "a plain number, with a minus sign if negative"
        )
    if THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    elif SPACED_THOUSANDS.fullmatch(text):
        text = text.replace(" ", "")
    elif "," in text and NUMBER.fullmatch(text.replace(",", ".", 1)):
        raise CellError(
            "a comma that is not a thousands separator (a decimal comma?)",
            "a decimal point, e.g. 2.63, and commas only between groups of three digits",
        )
    if not NUMBER.fullmatch(text):
        raise CellError("text, not a number", "a number, or a missing marker (empty, —, …, -)")
    return _plausible(float(text)), percent


def _plausible(value: float) -> float:
    if abs(value) > MAX_ABS_VALUE:
        raise CellError(f"the number {value:.6g} is larger than any statistic the portal holds", PLAUSIBLE)
    return value


def display_text(value) -> str:
    """A cell as messages show it: 1e308 stays 1e+308, not 309 digits."""
    if isinstance(value, float) and math.isfinite(value) and abs(value) >= MAX_ABS_VALUE:
        return f"{value:.6g}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= MAX_ABS_VALUE:
        return (
            f"{float(value):.6g}"
            if value.bit_length() < 1000
            else f"a number of about {int(value.bit_length() * 0.30103)} digits"
        )
    return cell_text(value)


def parse_year(raw) -> int:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise CellError("the year is empty", "a year such as 2023")
    if isinstance(raw, bool):
        raise CellError("a TRUE/FALSE cell", "a year such as 2023")
    if isinstance(raw, (datetime, date)):
        raise CellError(
            f"a date ({raw:%Y-%m-%d}), not a year: Excel turned the year into a date",
            "a year such as 2023, formatted as a number or text",
        )
    if isinstance(raw, float):
        if not raw.is_integer():
            raise CellError("a year with decimals", "a whole year such as 2023")
        raw = int(raw)
    if isinstance(raw, int):
        if 1800 <= raw <= 2999:
            return raw
        raise CellError("not a year", "a four-digit year such as 2023")
    text = clean_text(raw)
    match = YEAR_TEXT.fullmatch(text)
    if match:
        return int(match.group(1))
    if re.fullmatch(r"\d{4}\s*[-–—/~至到]\s*\d{2,4}", text):
        raise CellError("a range of years", "one year per row")
    raise CellError("not a year", "a four-digit year such as 2023")
