"""Which rows a yearbook table's footnote concerns.

A footnote printed under a table used to be copied onto every row of the table, so "2018年全国R&D经费
内部支出与国内生产总值之比已…修订" showed on Beijing's 2011 row. The rule (README, Data):

* a footnote naming a year and a region of the table ("2018年全国…") concerns those regions' rows of
  those years (the row's data year);
* a footnote naming regions but no year concerns those regions' rows, unless it also speaks of every
  region's data ("地区数据作相应修订", "分省数据"): then it is about the whole table;
* a footnote naming no region, or about the whole table, is a TABLE-LEVEL note: it is on no row, and is
  quoted in the source's caveats (catalogue/sources.csv, published in `sources`), which
  tests/test_sources_yearbook.py checks against the files' own footnotes.

Region names are the table's own region labels (its rows); "全国" inside "全国经济普查" (the National
Economic Census) names no region. Hand-written, short and specific to the yearbook's wording: no
library parses statistical footnotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Phrases that contain a region label without naming a region.
NOT_A_REGION = re.compile(r"第.次全国经济普查|全国经济普查")
# Words that make a footnote about every region's data (the whole table).
WHOLE_TABLE_WORDS = ("地区数据", "分省数据", "各地区", "各省")
NAMED_YEAR = re.compile(r"((?:19|20)\d{2})年")


@dataclass(frozen=True)
class FootnoteScope:
    regions: frozenset[str]  # region labels (as printed in the table) the footnote names
    years: frozenset[int]  # data years it names; empty: every year
    table_level: bool  # about the whole table: attached to no row

    def concerns(self, region_label: str, year: int) -> bool:
        if self.table_level or region_label not in self.regions:
            return False
        return not self.years or year in self.years


def footnote_scope(note: str, region_labels: set[str]) -> FootnoteScope:
    """Where a footnote applies, from the region labels and years its Chinese text names."""
    chinese = NOT_A_REGION.sub("", note)
    regions = frozenset(label for label in region_labels if label and label in chinese)
    years = frozenset(int(year) for year in NAMED_YEAR.findall(chinese))
    whole_table = any(word in chinese for word in WHOLE_TABLE_WORDS)
    table_level = not regions or (not years and whole_table)
    return FootnoteScope(regions, years, table_level)
