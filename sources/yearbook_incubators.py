"""Technology business incubators (table 9-12) and maker spaces (table 9-14) by region: their number (个)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources.common import SNAPSHOT_DIR, tidy_frame
from sources.yearbook_xls import IndicatorColumn, YearbookTable, extract_rows

TABLES = (
    YearbookTable(
        folder="incubators_by_region",
        title_keywords=("孵化器",),
        # "在统孵化器数量", not "孵化器内企业总数".
        columns=(IndicatorColumn("incubators", ("孵化器数量",), units=("个",)),),
    ),
    YearbookTable(
        folder="maker_spaces_by_region",
        title_keywords=("众创空间",),
        columns=(IndicatorColumn("maker_spaces", ("众创空间数量",), units=("个",)),),
    ),
)


def extract(snapshot_dir: Path = SNAPSHOT_DIR) -> pd.DataFrame:
    return tidy_frame(extract_rows(TABLES, snapshot_dir))
