"""Technology-market contracts by region (tables 8-32..8-39), multi-year series per edition.

Two views of the same contracts: by the seller's region (技术输出, export) and by the buyer's region
(技术流向, inflow). Files named ``__amount-YYYY`` hold the number of contracts (项), ``__funds-YYYY`` the
contract value (万元). Each edition restates 2000, 2005, 2010 and recent years; all are emitted.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources.common import SNAPSHOT_DIR, tidy_frame
from sources.yearbook_xls import YearbookTable, YearSeries, extract_rows

EXPORT_FOLDER = "tech_market_export_by_region"
IMPORT_FOLDER = "tech_market_import_by_region"

TABLES = (
    YearbookTable(
        EXPORT_FOLDER, ("技术输出", "合同数"), year_series=YearSeries("tech_contracts", ("项",)), file_kind="amount"
    ),
    YearbookTable(
        EXPORT_FOLDER,
        ("技术输出", "合同金额"),
        year_series=YearSeries("tech_contract_turnover", ("万元",)),
        file_kind="funds",
    ),
    YearbookTable(
        IMPORT_FOLDER,
        ("技术流向", "合同数"),
        year_series=YearSeries("tech_contracts_inflow", ("项",)),
        file_kind="amount",
    ),
    YearbookTable(
        IMPORT_FOLDER,
        ("技术流向", "合同金额"),
        year_series=YearSeries("tech_contract_turnover_inflow", ("万元",)),
        file_kind="funds",
    ),
)


def extract(snapshot_dir: Path = SNAPSHOT_DIR) -> pd.DataFrame:
    return tidy_frame(extract_rows(TABLES, snapshot_dir))
