"""High-tech industry (manufacturing above designated size) by region, table 5-3 / 5-2.

Not the count of certified 高新技术企业. Revenue is 主营业务收入 up to the 2017 edition and 营业收入 from the
2019 edition on; the unit is taken from each edition (亿元 in all files seen).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources.common import SNAPSHOT_DIR, tidy_frame
from sources.yearbook_xls import IndicatorColumn, YearbookTable, extract_rows

TABLES = (
    YearbookTable(
        folder="hightech_industry_by_region",
        title_keywords=("高技术产业", "生产经营"),
        columns=(
            IndicatorColumn("hightech_industry_enterprises", ("企业数",), units=("个",)),
            IndicatorColumn("hightech_industry_revenue", ("营业收入", "主营业务收入"), units=("亿元", "万元")),
        ),
    ),
)


def extract(snapshot_dir: Path = SNAPSHOT_DIR) -> pd.DataFrame:
    return tidy_frame(extract_rows(TABLES, snapshot_dir))
