"""R&D personnel full-time equivalent by region, yearbook table 1-4 (人年): the total column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources.common import SNAPSHOT_DIR, tidy_frame
from sources.yearbook_xls import IndicatorColumn, YearbookTable, extract_rows

TABLES = (
    YearbookTable(
        folder="rd_personnel_fte_by_region",
        title_keywords=("人员全时当量",),
        # Only the total column says 全时当量; the others are "#研究人员", "基础研究", …
        columns=(IndicatorColumn("rd_personnel_fte", ("全时当量",), units=("人年",)),),
    ),
)


def extract(snapshot_dir: Path = SNAPSHOT_DIR) -> pd.DataFrame:
    return tidy_frame(extract_rows(TABLES, snapshot_dir))
