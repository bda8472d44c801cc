"""World Bank WDI bulk CSV: research and development expenditure (% of GDP), GB.XPD.RSDV.GD.ZS.

Kept as its own indicator (`rd_intensity_wdi`): the WDI/UIS series for China differs from the NBS one.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from sources.common import SNAPSHOT_DIR, SourceFormatError, parse_number, read_provenance, tidy_frame

SNAPSHOT = "world_bank_wdi/API_GB.XPD.RSDV.GD.ZS_DS2_en_csv_v2_232.csv"
INDICATOR_CODE = "GB.XPD.RSDV.GD.ZS"


def extract(snapshot_dir: Path = SNAPSHOT_DIR) -> pd.DataFrame:
    path = snapshot_dir / SNAPSHOT
    read_provenance(path)
    text = path.read_text(encoding="utf-8-sig")
    last_updated = _last_updated(text)
    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.startswith('"Country Name"')), None)
    if header_at is None:
        raise SourceFormatError(f'{SNAPSHOT}: no header row starting with "Country Name"')
    reader = csv.reader(io.StringIO("\n".join(lines[header_at:])))
    header = next(reader)
    year_cols = [(i, int(name)) for i, name in enumerate(header) if name.isdigit()]
    rows = []
    for offset, record in enumerate(reader):
        if not record or len(record) < 4:
            continue
        if record[3] != INDICATOR_CODE:
            raise SourceFormatError(
                f"{SNAPSHOT}: row {header_at + offset + 2}: expected indicator {INDICATOR_CODE}, found {record[3]}"
            )
        for col, year in year_cols:
            value = parse_number(record[col]) if col < len(record) else float("nan")
            if value != value:
                continue  # WDI leaves most country-years empty: an empty cell is "not collected", not a gap
            rows.append(
                {
                    "source_id": "world_bank_wdi",
                    "release": f"wdi_{last_updated}",
                    "release_kind": "compilation",
                    "vintage": last_updated,
                    "indicator_id": "rd_intensity_wdi",
                    "region_label": record[1],  # ISO 3166 alpha-3 (or a WDI aggregate code)
                    "region_label_en": record[0],
                    "year": year,
                    "value": value,
                    "unit": "%",
                    "obs_status": "",
                    "source_ref": f"{SNAPSHOT}#row={header_at + offset + 2},col={year}",
                    "note": "",
                }
            )
    return tidy_frame(rows)


def _last_updated(text: str) -> str:
    match = re.search(r'"Last Updated Date","(\d{4}-\d{2}-\d{2})"', text)
    if not match:
        raise SourceFormatError(f'{SNAPSHOT}: no "Last Updated Date" line')
    return match.group(1)
