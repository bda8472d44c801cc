"""First releases against the yearbook: each bulletin figure beside the first yearbook edition of the same
region, indicator and year, with a verdict (agrees, documented revision, undocumented difference).

A transform step (the published `release_differences` table); the quality layer's `bulletin_agreement`
suite validates the same frame (sti_portal/quality/frames.py) and its SQL twin (sql_frames.py).
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from sti_portal.core import catalogue
from sti_portal.core.releases import OBSERVATION_KEY, release_order

BULLETIN_TOLERANCE = {
    "rd_intensity": ("abs", 0.05),
    "rd_expenditure": ("rel", 0.005),
    "rd_expenditure_basic_research": ("rel", 0.005),
}
# The bulletins print 亿元 to one decimal: a yearbook value that rounds to the printed figure agrees, however
# small the total (Tibet's 1.2 亿元 against the yearbook's 1.153 is 4 % apart, and no revision).
BULLETIN_PRINTED_HALF_STEP_YIYUAN = 0.05
ROUNDING_INDICATORS = ("rd_expenditure", "rd_expenditure_basic_research")


def tolerance_label(indicator_id: str) -> str:
    kind, tol = BULLETIN_TOLERANCE[indicator_id]
    rounding = (
        f" or within ±{BULLETIN_PRINTED_HALF_STEP_YIYUAN} (printed rounding)"
        if indicator_id in ROUNDING_INDICATORS
        else ""
    )
    return f"{kind} {tol}{rounding}"


def within_tolerance(indicator_id: str, first_release_value: float, difference: float) -> bool:
    kind, tol = BULLETIN_TOLERANCE[indicator_id]
    measured = abs(difference) if kind == "abs" else abs(difference) / abs(first_release_value)
    rounding = indicator_id in ROUNDING_INDICATORS and abs(difference) <= BULLETIN_PRINTED_HALF_STEP_YIYUAN + 1e-9
    return measured <= tol + 1e-12 or rounding


def bulletin_agreement_frame(observations: pd.DataFrame) -> pd.DataFrame:
    """Each bulletin figure against the first yearbook edition that reports the same region and year."""
    bulletin = observations[observations["source_id"] == "nbs_rd_bulletin"]
    yearbook = release_order(observations[observations["release_kind"] == "yearbook"])
    first_yearbook = yearbook.drop_duplicates(OBSERVATION_KEY, keep="first")
    joined = bulletin.merge(
        first_yearbook[[*OBSERVATION_KEY, "value", "release", "source_ref"]],
        on=OBSERVATION_KEY,
        suffixes=("", "_yearbook"),
    )
    rows = []
    for rec in joined.itertuples():
        difference = rec.value_yearbook - rec.value
        documented = (
            rec.obs_status == "p"
            or "revised" in rec.note
            or (rec.region_code, rec.indicator_id, rec.year, rec.release) in documented_revisions()
        )
        verdict = (
            "agrees"
            if within_tolerance(rec.indicator_id, rec.value, difference)
            else ("documented_revision" if documented else "undocumented_difference")
        )
        rows.append(
            {
                "region_code": rec.region_code,
                "indicator_id": rec.indicator_id,
                "year": rec.year,
                "first_release": rec.release,
                "first_release_value": rec.value,
                "yearbook_release": rec.release_yearbook,
                "yearbook_value": rec.value_yearbook,
                "difference": difference,
                "tolerance": tolerance_label(rec.indicator_id),
                "verdict": verdict,
                "first_release_ref": rec.source_ref,
                "yearbook_ref": rec.source_ref_yearbook,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "region_code",
            "indicator_id",
            "year",
            "first_release",
            "first_release_value",
            "yearbook_release",
            "yearbook_value",
            "difference",
            "tolerance",
            "verdict",
            "first_release_ref",
            "yearbook_ref",
        ],
    )


@lru_cache(maxsize=1)
def documented_revisions() -> set[tuple[str, str, int, str]]:
    """(region, indicator, year, first release) whose difference from the yearbook is explained in
    catalogue/documented_revisions.csv."""
    table = catalogue.documented_revisions()
    return {(r.region_code, r.indicator_id, int(r.year), r.first_release) for r in table.itertuples()}
