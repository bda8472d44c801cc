"""Year-end resident population (年末常住人口) by province, NBS data.stats.gov.cn set E0103, 万人."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from sources.common import SNAPSHOT_DIR, SourceFormatError, parse_number, read_provenance, tidy_frame

SNAPSHOT = "cn_population/historical_population.csv"


def extract(snapshot_dir: Path = SNAPSHOT_DIR) -> pd.DataFrame:
    path = snapshot_dir / SNAPSHOT
    read_provenance(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    # The first line is a comment naming the source, the second the header.
    if not lines or not lines[0].startswith("#"):
        raise SourceFormatError(f"{SNAPSHOT}: row 1: expected a '#' comment naming the source")
    if "10000 persons" not in lines[0]:
        raise SourceFormatError(f"{SNAPSHOT}: row 1: expected the unit '10000 persons' in the comment")
    reader = csv.reader(lines[1:])
    header = next(reader)
    if header[0] != "region" or not all(col.isdigit() for col in header[1:]):
        raise SourceFormatError(f"{SNAPSHOT}: row 2: expected 'region' followed by year columns, found {header}")
    rows = []
    for line_no, record in enumerate(reader, start=3):
        for col_name, cell in zip(header[1:], record[1:]):
            value = parse_number(cell)
            rows.append(
                {
                    "source_id": "nbs_population",
                    "release": "nbs_population_e0103",
                    "release_kind": "compilation",
                    "vintage": None,
                    "indicator_id": "population",
                    "region_label": "",
                    "region_label_en": record[0],
                    "year": int(col_name),
                    "value": value,
                    "unit": "万人",
                    "obs_status": "m" if value != value else "",
                    "source_ref": f"{SNAPSHOT}#row={line_no},col={col_name}",
                    "note": "",
                }
            )
    return tidy_frame(rows)
