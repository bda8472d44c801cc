"""Indicator phrase → catalogue id, from the vocabulary in catalogue/target_vocabulary.csv.

The vocabulary is data: ``alias`` rows rewrite word-order and wording variants to one canonical phrase
(研究与试验发展 → R&D, 技术市场成交合同金额 → 技术合同成交额, 高企 → 高新技术企业), then the first ``term``
row whose pattern matches gives the indicator id, provided the unit fits (``unit_need``: percent, count,
money, any). A growth statement (年均增长X%, 提高X个百分点, 增长N倍, 翻一番, 净增N家) takes the row's
``growth_id`` (R&D spending → rd_expenditure_growth; a level indicator keeps its own id), or ``other``.
Patterns are matched on the simplified, full-width-normalised phrase, so both scripts share one row.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from sti_portal.core.settings import CATALOGUE_DIR

from .gazetteer import LEADING_PROVINCE_RE, PLACE_RE
from .numbers import GROWTH_UNITS, normalize_text

VOCABULARY_FILE = "target_vocabulary.csv"
UNIT_NEEDS = ("percent", "count", "money", "any")


@dataclass(frozen=True)
class VocabularyRow:
    row: int  # line number in the CSV (2 = first data row): the row's identity
    rule: str  # alias | term
    pattern: re.Pattern
    replacement: str
    indicator_id: str
    unit_need: str
    growth_id: str


@dataclass(frozen=True)
class Vocabulary:
    rows: tuple[VocabularyRow, ...]

    def without(self, row_numbers: set[int]) -> Vocabulary:
        """The same vocabulary with some rows left out (leave-one-region-out scoring)."""
        return replace(self, rows=tuple(r for r in self.rows if r.row not in row_numbers))


class VocabularyError(ValueError):
    """The vocabulary file is unusable; the message names the file, row and column."""


def read_vocabulary(path: Path) -> Vocabulary:
    rows = []
    with open(path, encoding="utf-8", newline="") as handle:
        for n, rec in enumerate(csv.DictReader(handle), 2):
            where = f"{path}, row {n}"
            if None in rec:
                raise VocabularyError(f"{where}: more columns than the header; quote a pattern that holds a comma")
            if rec.get("rule") not in ("alias", "term"):
                raise VocabularyError(f"{where}, column rule: expected alias or term, got {rec.get('rule')!r}")
            if rec["rule"] == "term" and rec.get("unit_need") not in UNIT_NEEDS:
                raise VocabularyError(
                    f"{where}, column unit_need: expected one of {', '.join(UNIT_NEEDS)}, got {rec.get('unit_need')!r}"
                )
            try:
                pattern = re.compile(rec["pattern"])
            except re.error as exc:
                raise VocabularyError(f"{where}, column pattern: not a regular expression ({exc})") from None
            rows.append(
                VocabularyRow(
                    n,
                    rec["rule"],
                    pattern,
                    rec.get("replacement") or "",
                    rec.get("indicator_id") or "",
                    rec.get("unit_need") or "",
                    rec.get("growth_id") or "",
                )
            )
    return Vocabulary(tuple(rows))


@lru_cache(maxsize=1)
def default_vocabulary() -> Vocabulary:
    return read_vocabulary(CATALOGUE_DIR / VOCABULARY_FILE)


_GROWTH_TAIL = re.compile(
    r"(?:(?:比|较)?(?:上年|去年|(?:19|20)\d\d年)|年均|同比|平均|年|每年|一年|就)*"
    r"(?:增长|增速|增幅|递增|提高|提升|增加|净增|增)(?:了|率|目标)?$|"
    r"(?:是|为|相当于)[^，。]{0,14}(?:时期|期间|年|五年)(?:的)?$"
)
_MONEY = re.compile(r"元$")
_COUNT_UNITS = {"家", "个", "座", "所", "项", "件", "户"}


_LEADING_DISTRICT = re.compile(
    r"^[\u4e00-\u9fa5]{2,4}?(?:区|县|旗|新区)(?=R&D|研发|研究与|研究和|全社会|高新技术|技术合同|技术市场|每万|科技进步|"
    r"科技企业孵化|孵化|新认定|新增)"
)


def strip_leading_places(text: str) -> str:
    """武汉市R&D经费投入 → R&D经费投入 (the region is a separate field)."""
    prev = None
    while prev != text:
        prev = text
        m = PLACE_RE.match(text) or LEADING_PROVINCE_RE.match(text)
        if m:
            text = re.sub(r"^(?:市|省|地区)?", "", text[m.end() :])
        text = _LEADING_DISTRICT.sub("", text)
        text = re.sub(
            r"^(?:[、和与及]|全省|全市|全区|全县|我省|我市|本省|本市|该省|该市|各地|其中|推动|推进|支持|促进|引导|"
            r"鼓励|力争|确保|争取|[两三四五六七八九十]个?(?:市|区|县|地)|等(?:市|地|区|县)|各(?:市|地|区|县))",
            "",
            text,
        )
    return text


def core_phrase(indicator_text: str, comparator: str) -> str:
    """The indicator words to look up: normalised, brackets, comparisons, places and change words removed."""
    text = re.sub(r"\s+", "", normalize_text(indicator_text))
    text = re.sub(r"[(][^()]{0,12}[)]", "", text)  # 研究与试验发展(R&D)经费, 技術(shù)
    text = re.sub(r"[“”\"《》()]", "", text)
    text = re.sub(r"(?:比|较|相比|同比|与)(?:上年|去年|上年同期|同期|(?:19|20)\d\d年(?:底|末)?)(?:相比)?", "", text)
    text = strip_leading_places(text)
    text = re.sub(r"\[\d+\]", "", text)  # footnote markers
    if comparator == "growth":
        prev = None
        while prev != text:
            prev, text = text, _GROWTH_TAIL.sub("", text)
        return text
    text = re.sub(r"(?:增长|增加|提高|提升|上升|增)(?:至|到)$", "", text)  # (从A)增长至(B): B is a level
    return re.sub(r"(?:的)?(?:水平|规模|总量)$", "", text)


def _unit_fits(need: str, unit: str) -> bool:
    if need == "percent":
        return unit in ("%", "个百分点", "百分点")
    if need == "money":
        return bool(_MONEY.search(unit)) or unit in ("亿", "万亿")  # 突破千亿: the 元 is understood
    if need == "count":
        return re.sub(r"^(?:万亿|亿|万)", "", unit) in _COUNT_UNITS
    return True


def lookup(
    indicator_text: str, unit: str, comparator: str, vocabulary: Vocabulary | None = None
) -> tuple[str, list[int]]:
    """(indicator id, the vocabulary rows that decided it)."""
    vocabulary = vocabulary or default_vocabulary()
    growth = comparator == "growth"
    core = core_phrase(normalize_text(indicator_text), comparator)
    used = []
    for row in vocabulary.rows:
        if row.rule == "alias":
            new = row.pattern.sub(row.replacement, core)
            if new != core:
                core = new
                used.append(row.row)
            continue
        if not row.pattern.search(core):
            continue
        if growth:
            if row.growth_id and (unit in GROWTH_UNITS or unit in ("番", "") or _unit_fits("count", unit)):
                return row.growth_id, used + [row.row]
            continue
        if _unit_fits(row.unit_need, unit):
            return row.indicator_id, used + [row.row]
    return "other", []


def map_indicator(indicator_text: str, unit: str, comparator: str, vocabulary: Vocabulary | None = None) -> str:
    """Catalogue id for an indicator phrase, ``other`` unless the meaning matches exactly."""
    return lookup(indicator_text, unit, comparator, vocabulary)[0]
