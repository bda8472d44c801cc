"""R&D expenditure as a share of GDP by region, yearbook table 1-8 (%).

Every edition restates its back years with revised GDP, so each edition's whole year range is emitted:
together the editions form the revision history (e.g. Beijing 2018 is 6.17 in the 2019 edition and
5.65 from the 2020 edition on). The 2021 and 2022 editions store unrounded floats; they are kept as found.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources.common import SNAPSHOT_DIR, tidy_frame
from sources.yearbook_xls import YearbookTable, YearSeries, extract_rows

TABLES = (
    YearbookTable(
        folder="rd_intensity_by_region",
        title_keywords=("经费投入强度",),
        year_series=YearSeries("rd_intensity", units=("%",)),
    ),
)


def extract(snapshot_dir: Path = SNAPSHOT_DIR) -> pd.DataFrame:
    return tidy_frame(extract_rows(TABLES, snapshot_dir))
