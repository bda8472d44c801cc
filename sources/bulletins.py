"""Hand-transcribed first-release figures of the national R&D expenditure bulletins (全国科技经费投入统计公报).

These are the values as FIRST published; the yearbook later revises them. They enter the warehouse as
their own releases so that first-release-versus-latest comparisons are possible, and they never win
over a yearbook edition in the current view.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from sources.common import SNAPSHOT_DIR, SourceFormatError, parse_number, read_provenance, tidy_frame

NATIONAL = "cn_bulletins_extracted/nbs_rd_bulletin_national_headlines.csv"
REGIONAL = "cn_bulletins_extracted/nbs_rd_bulletin_regional_first_release.csv"

# Bulletin indicator names -> catalogue ids. Rows for other indicators (performer breakdowns, rounded
# innovation-index figures, census counts) have no catalogue indicator yet and are left out.
INDICATOR_MAP = {
    "rd_expenditure": "rd_expenditure",
    "rd_intensity_pct_gdp": "rd_intensity",
    "rd_basic_research": "rd_expenditure_basic_research",
}
UNIT_MAP = {"%": "%", "亿元": "亿元"}
# The preliminary estimate and the GDP-verification revision come from one NBS press release.
JAN_2022_RELEASE_DATE = "2022-01-27"


def extract(snapshot_dir: Path = SNAPSHOT_DIR) -> pd.DataFrame:
    rows = _national_rows(snapshot_dir) + _regional_rows(snapshot_dir)
    return tidy_frame(rows)


def _read(snapshot_dir: Path, relpath: str, required: list[str]) -> list[tuple[int, dict]]:
    path = snapshot_dir / relpath
    read_provenance(path)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [col for col in required if col not in (reader.fieldnames or [])]
        if missing:
            raise SourceFormatError(f"{relpath}: row 1: missing column(s) {missing}; found {reader.fieldnames}")
        return list(enumerate(reader, start=2))


def _release_of(status: str, data_year: int) -> tuple[str, str, str | None, str]:
    """(release id, release kind, vintage, obs_status) for a bulletin row's release_status text."""
    if status.startswith("preliminary estimate"):
        return f"nbs_preliminary_{data_year}", "first_release", JAN_2022_RELEASE_DATE, "p"
    if status.startswith("revised after final GDP verification"):
        return "nbs_gdp_verification_revision_2022", "revision", JAN_2022_RELEASE_DATE, ""
    if status.startswith("bulletin first release"):
        dated = re.search(r"\((\d{4}-\d{2}-\d{2})\)", status)
        return f"nbs_rd_bulletin_{data_year}", "first_release", dated.group(1) if dated else None, ""
    raise ValueError(status)


def _unit(raw: str, relpath: str, line_no: int) -> str:
    core = raw.split("(")[0].strip()
    if core not in UNIT_MAP:
        raise SourceFormatError(
            f"{relpath}: row {line_no}, column unit: expected one of {sorted(UNIT_MAP)}, found {raw!r}"
        )
    return UNIT_MAP[core]


def _national_rows(snapshot_dir: Path) -> list[dict]:
    rows = []
    for line_no, rec in _read(
        snapshot_dir, NATIONAL, ["data_year", "indicator", "value", "unit", "release_status", "source_url"]
    ):
        indicator = INDICATOR_MAP.get(rec["indicator"])
        status = rec["release_status"]
        if indicator is None or not status.startswith(
            ("bulletin first release", "preliminary estimate", "revised after")
        ):
            continue
        year = int(rec["data_year"])
        release, kind, vintage, obs_status = _release_of(status, year)
        rows.append(_row(rec, line_no, NATIONAL, indicator, "全国", release, kind, vintage, obs_status))
    return rows


def _regional_rows(snapshot_dir: Path) -> list[dict]:
    rows = []
    for line_no, rec in _read(
        snapshot_dir, REGIONAL, ["data_year", "province", "indicator", "value", "unit", "source_url"]
    ):
        indicator = INDICATOR_MAP.get(rec["indicator"])
        if indicator is None:
            raise SourceFormatError(
                f"{REGIONAL}: row {line_no}, column indicator: unknown indicator {rec['indicator']!r}"
            )
        year = int(rec["data_year"])
        rows.append(
            _row(
                rec, line_no, REGIONAL, indicator, rec["province"], f"nbs_rd_bulletin_{year}", "first_release", None, ""
            )
        )
    return rows


def _row(rec, line_no, relpath, indicator, region_label, release, kind, vintage, obs_status) -> dict:
    provenance = f"read from {rec['source_url']}"
    if rec.get("source_type"):
        provenance += f" ({rec['source_type']})"
    note = "; ".join(part for part in (rec.get("note", "").strip(), provenance) if part)
    return {
        "source_id": "nbs_rd_bulletin",
        "release": release,
        "release_kind": kind,
        "vintage": vintage,
        "indicator_id": indicator,
        "region_label": region_label,
        "region_label_en": "",
        "year": int(rec["data_year"]),
        "value": parse_number(rec["value"]),
        "unit": _unit(rec["unit"], relpath, line_no),
        "obs_status": obs_status,
        "source_ref": f"{relpath}#row={line_no},col=value",
        "note": note,
    }
