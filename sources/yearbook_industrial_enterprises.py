"""Industrial enterprises above designated size (规模以上工业企业) by region, yearbook part 2, data years 2018–2023.

Five tables whose numbers change between editions (2-4/2-7/2-10/2-22/2-25 in the 2019 edition, 2-8/2-11/
2-14/2-23/2-26 later), so every column is chosen by the words of its header (see sources/yearbook_xls.py).
The 2019 R&D-personnel file is an HTML page saved as .xls by another distributor (the repo's "soshu"
copy, no English labels, no table number): sources/yearbook_xls.py reads its <table>s as sheets.
The 2022 patents file holds the table by industry (按行业分), not by region: it is skipped (MISFILED), so
the patent indicators have no 2022 value.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources.common import SNAPSHOT_DIR, SourceFormatError, tidy_frame
from sources.yearbook_xls import (
    YEARBOOK_DIR,
    IndicatorColumn,
    YearbookTable,
    extract_rows,
    normalise_label,
    open_workbook,
)

TABLES = (
    YearbookTable(
        folder="industrial_enterprises_rd_activity_by_region",
        title_keywords=("规上工业企业",),
        columns=(
            IndicatorColumn("industrial_enterprises_with_rd", ("有R&D活动",), units=("个",)),
            IndicatorColumn("industrial_enterprises_with_rd_institution", ("有研发机构",), units=("个",)),
        ),
    ),
    YearbookTable(
        folder="industrial_enterprises_rd_personnel_by_region",
        title_keywords=("规上工业企业", "R&D人员"),
        # "R&D人员折合全时当量"; the head count column is "R&D人员" and the sub-columns "#女性", "#研究人员".
        columns=(IndicatorColumn("industrial_rd_personnel_fte", ("全时当量",), units=("人年",)),),
    ),
    YearbookTable(
        folder="industrial_enterprises_rd_expenditure_by_region",
        title_keywords=("规上工业", "R&D经费内部支出"),
        # The total is "R&D经费内部支出"; the split columns are "#试验发展支出", "日常性支出", "政府资金", …
        columns=(IndicatorColumn("industrial_rd_expenditure", ("内部支出",), units=("万元",)),),
    ),
    YearbookTable(
        folder="industrial_enterprises_new_products_by_region",
        title_keywords=("规上工业企业", "新产品"),
        columns=(
            IndicatorColumn("new_product_projects", ("项目数",), units=("项",)),
            IndicatorColumn("new_product_development_expenditure", ("经费支出",), units=("万元",)),
            IndicatorColumn("new_product_sales", ("销售收入",), units=("万元",)),
        ),
    ),
    YearbookTable(
        folder="industrial_enterprises_patents_by_region",
        title_keywords=("规上工业企业", "专利"),
        columns=(
            IndicatorColumn("industrial_patent_applications", ("专利申请数",), units=("件",)),
            IndicatorColumn("industrial_invention_patent_applications", ("#发明",), units=("件",)),
            IndicatorColumn("industrial_invention_patents_in_force", ("有效发明",), units=("件",)),
        ),
    ),
)


# Files in a folder that hold another table; each is checked to still hold it (its first cell must contain
# the words given), so that a corrected file is read instead of silently skipped.
MISFILED = {
    "industrial_enterprises_patents_by_region/industrial_enterprises_patents_by_region__2022.xls": "按行业分",  # 2-25 按行业分规上工业企业专利情况 (by industry, not by region)
}


def extract(snapshot_dir: Path = SNAPSHOT_DIR) -> pd.DataFrame:
    return tidy_frame(extract_rows(TABLES, snapshot_dir, skip_files=misfiled_files(snapshot_dir)))


def misfiled_files(snapshot_dir: Path) -> frozenset[str]:
    names = set()
    for relpath, words in MISFILED.items():
        path = snapshot_dir / YEARBOOK_DIR / relpath
        if not path.exists():
            continue
        first_cell = normalise_label(open_workbook(path)[0].value(0, 0))
        if words not in first_cell:
            raise SourceFormatError(
                f"{YEARBOOK_DIR}/{relpath}, cell A1: listed as misfiled (a table {words}), "
                f"but the title now reads {first_cell!r}: remove it from MISFILED"
            )
        names.add(path.name)
    return frozenset(names)
