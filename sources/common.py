"""The contract every source adapter honours, and the helpers they share.

An adapter is a module in ``sources/`` with a function ``extract(snapshot_dir: Path) -> pd.DataFrame``
that returns a *tidy* frame (the OWID "meadow" stage): one row per published cell, with the value in
the unit the source prints and the region as the source labels it. Harmonisation (region codes, unit
conversion to the catalogue unit) happens later, in ``sti_portal.transform.harmonise``, so that an adapter only
knows its own file layout.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

SNAPSHOT_DIR = Path(__file__).resolve().parent / "snapshots"

# Column order of every adapter's output.
TIDY_COLUMNS = [
    "source_id",  # id in catalogue/sources.csv, e.g. "cn_sti_yearbook"
    "release",  # id of the release the value was published in, e.g. "cn_sti_yearbook_2024"
    "release_kind",  # "first_release" | "yearbook" | "compilation" | "upload"
    "vintage",  # ISO date (YYYY-MM-DD) the release was (approximately) published; orders releases
    "indicator_id",  # id in catalogue/indicators.csv
    "region_label",  # region as printed (Chinese label where the table has one), e.g. "北  京"
    "region_label_en",  # English label as printed, "" when the table has none
    "year",  # data year (int)
    "value",  # float in `unit`; NaN when the cell is a missing marker (then obs_status "m")
    "unit",  # unit as printed by the source, e.g. "万元", "%", "人年", "件", "项", "个", "家", "万人"
    "obs_status",  # SDMX observation status: "" normal, "p" provisional, "e" estimated, "b" break, "m" missing
    "source_ref",  # "<snapshot-relative path>#<sheet>!<A1 cell>" (or "#row=<n>,col=<name>" for CSV)
    "note",  # free text footnote for this value, "" when none
]

# Marker strings the yearbooks and bulletins print for "no data".
MISSING_MARKERS = {"", "-", "—", "－", "...", "…", "……", "x", "X", "/", "nan", "NaN"}


class SourceFormatError(ValueError):
    """A source file does not have the layout its adapter expects.

    The message always names the file (and sheet, row, column where known) and what was expected,
    because it is shown to a statistician, not a programmer.
    """


@dataclass(frozen=True)
class CellRef:
    path: str  # snapshot-relative path, forward slashes
    sheet: str
    row: int  # 0-based
    col: int  # 0-based

    def a1(self) -> str:
        return f"{column_letter(self.col)}{self.row + 1}"

    def __str__(self) -> str:
        return f"{self.path}#{self.sheet}!{self.a1()}"


def column_letter(col: int) -> str:
    """0-based column index to Excel letters (0 -> A, 26 -> AA)."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def snapshot_relpath(path: Path, snapshot_dir: Path = SNAPSHOT_DIR) -> str:
    try:
        return path.resolve().relative_to(snapshot_dir.resolve()).as_posix()
    except ValueError:
        return path.name


def read_provenance(data_file: Path) -> dict:
    """The ``.source.json`` sidecar of a snapshot file (``foo.xls`` -> ``foo.source.json``)."""
    sidecar = data_file.with_name(data_file.name.rsplit(".", 1)[0] + ".source.json")
    if not sidecar.exists():
        raise SourceFormatError(f"{data_file}: provenance sidecar {sidecar.name} is missing")
    return json.loads(sidecar.read_text(encoding="utf-8"))


def parse_number(raw) -> float:
    """A cell to float. Missing markers give NaN; anything else unparseable raises ValueError."""
    if raw is None:
        return math.nan
    if isinstance(raw, (int, float)):
        return float(raw)
    text = str(raw).strip().replace(",", "").replace("\u3000", "").replace(" ", "")
    if text in MISSING_MARKERS:
        return math.nan
    return float(text)


def tidy_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows (dicts with the TIDY_COLUMNS keys) to a frame with the contract's columns and dtypes."""
    frame = pd.DataFrame(rows, columns=TIDY_COLUMNS)
    for col in ("region_label_en", "obs_status", "note"):
        frame[col] = frame[col].fillna("").astype(str)
    frame["year"] = frame["year"].astype("int64")
    frame["value"] = frame["value"].astype("float64")
    return frame
