"""Domestic patents by region (件): in force (table 7-9/8-9), applications (7-7/8-7), grants (7-8/8-8).

Each table gives the total (合计) and the invention (发明), utility-model and design split; the total and
invention columns are emitted. Hong Kong, Macao and Taiwan rows are kept as printed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources.common import SNAPSHOT_DIR, tidy_frame
from sources.yearbook_xls import IndicatorColumn, YearbookTable, extract_rows


def _patent_table(folder: str, title_keywords: tuple[str, ...], total_id: str, invention_id: str) -> YearbookTable:
    return YearbookTable(
        folder=folder,
        title_keywords=title_keywords,
        columns=(
            IndicatorColumn(total_id, ("合计",), units=("件",)),
            IndicatorColumn(invention_id, ("发明",), units=("件",)),
        ),
    )


TABLES = (
    _patent_table("patents_in_force_by_region", ("专利有效数",), "patents_in_force", "invention_patents_in_force"),
    # Until the 2017 edition the titles read 申请受理数 / 申请授权数, later 申请数 / 授权数.
    _patent_table("patent_applications_by_region", ("申请",), "patent_applications", "invention_patent_applications"),
    _patent_table("patent_grants_by_region", ("授权数",), "patent_grants", "invention_patent_grants"),
)


def extract(snapshot_dir: Path = SNAPSHOT_DIR) -> pd.DataFrame:
    return tidy_frame(extract_rows(TABLES, snapshot_dir))
