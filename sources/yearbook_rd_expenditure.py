"""Intramural R&D expenditure by region (万元): total and funding sources from table 1-13/1-14,
basic research from table 1-7 (by type of activity)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources.common import SNAPSHOT_DIR, tidy_frame
from sources.yearbook_xls import IndicatorColumn, YearbookTable, extract_rows

TABLES = (
    YearbookTable(
        folder="rd_expenditure_by_region_source",
        title_keywords=("资金来源", "经费内部支出"),
        columns=(
            IndicatorColumn("rd_expenditure", ("内部支出",), units=("万元",)),
            IndicatorColumn("rd_expenditure_government", ("政府资金",), units=("万元",)),
            IndicatorColumn("rd_expenditure_enterprise", ("企业资金",), units=("万元",)),
        ),
    ),
    YearbookTable(
        folder="rd_expenditure_by_region_activity",
        title_keywords=("经费内部支出",),
        columns=(IndicatorColumn("rd_expenditure_basic_research", ("基础研究",), units=("万元",)),),
    ),
)


def extract(snapshot_dir: Path = SNAPSHOT_DIR) -> pd.DataFrame:
    return tidy_frame(extract_rows(TABLES, snapshot_dir))
