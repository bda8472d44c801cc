"""Certified high-tech enterprises (国家高新技术企业) recognised per year, by province.

A FLOW: firms newly recognised or re-recognised in that year's published lists (certification lasts
three years), tallied by a third party from innocom.gov.cn. Not the official year-end stock.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from sources.common import SNAPSHOT_DIR, SourceFormatError, parse_number, read_provenance, snapshot_relpath, tidy_frame

FOLDER = "cn_hitech_enterprises_innocom"
EXPECTED_HEADER = ["index", "year", "province", "num"]


def extract(snapshot_dir: Path = SNAPSHOT_DIR) -> pd.DataFrame:
    rows: list[dict] = []
    for path in sorted((snapshot_dir / FOLDER).glob("*.csv")):
        read_provenance(path)
        rows.extend(_rows_of(path, snapshot_dir))
    return tidy_frame(rows)


def _rows_of(path: Path, snapshot_dir: Path) -> list[dict]:
    relpath = snapshot_relpath(path, snapshot_dir)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != EXPECTED_HEADER:
            raise SourceFormatError(f"{relpath}: row 1: expected header {EXPECTED_HEADER}, found {header}")
        rows = []
        for line_no, record in enumerate(reader, start=2):
            year, province, num = record[1], record[2], record[3]
            rows.append(
                {
                    "source_id": "innocom_hitech_enterprises",
                    "release": "innocom_recognition_lists_tally",
                    "release_kind": "compilation",
                    "vintage": None,
                    "indicator_id": "hightech_enterprises_certified",
                    "region_label": province,
                    "region_label_en": "",
                    "year": int(year),
                    "value": parse_number(num),
                    "unit": "家",
                    "obs_status": "",
                    "source_ref": f"{relpath}#row={line_no},col=num",
                    "note": "",
                }
            )
    return rows
