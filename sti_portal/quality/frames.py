"""The group frames as pandas functions: one row per group (coverage, additivity, year-on-year change,
first release versus yearbook) for GX to validate. They are the reference: sti_portal/quality/sql_frames.py
computes the same frames in DuckDB, and tests/test_validate_pushdown.py compares both.
"""

from __future__ import annotations

import pandas as pd

from sti_portal.core import catalogue
from sti_portal.core.releases import newest_per_key
from sti_portal.quality.suites import N_PROVINCES
from sti_portal.transform.release_differences import bulletin_agreement_frame


def province_rows(frame: pd.DataFrame, levels: tuple[str, ...] = ("province",)) -> pd.DataFrame:
    codes = catalogue.china_regions()
    wanted = set(codes.loc[codes["level"].isin(levels), "region_code"])
    return frame[frame["region_code"].isin(wanted)]


def coverage_frame(observations: pd.DataFrame) -> pd.DataFrame:
    """Provinces per indicator, year and release, for tables that claim provincial coverage."""
    full = set(catalogue.indicators().query("full_coverage").index)
    provincial = province_rows(observations[observations["indicator_id"].isin(full)])
    # A release with no province at all for an indicator-year (a national headline) claims no coverage.
    all_provinces = set(province_rows(catalogue.china_regions())["region_code"])
    keys = ["indicator_id", "year", "release", "source_id"]
    counts = (
        provincial.groupby(keys)["region_code"]
        .agg(n_provinces="nunique", missing_provinces=lambda codes: ",".join(sorted(all_provinces - set(codes))))
        .reset_index()
    )
    # The bulletin's regional figures are partial ranked tables by design (see INDEX.md), and so are
    # statisticians' uploads (a communiqué, one revised value): neither claims all provinces.
    partial = (counts["source_id"] == "nbs_rd_bulletin") | counts["release"].str.startswith("upload_")
    return counts[~partial].reset_index(drop=True)


def additivity_frame(observations: pd.DataFrame) -> pd.DataFrame:
    additive = set(catalogue.indicators().query("additive").index)
    frame = observations[observations["indicator_id"].isin(additive) & observations["value"].notna()]
    keys = ["indicator_id", "year", "release"]
    national = frame[frame["region_code"] == "100000"].set_index(keys)["value"].rename("national")
    # The patent tables' national totals include Hong Kong, Macao and Taiwan, which they also list.
    parts = province_rows(frame, levels=("province", "sar_or_taiwan"))
    sums = parts.groupby(keys).agg(province_sum=("value", "sum"), n_regions=("region_code", "nunique"))
    n_provinces = province_rows(frame).groupby(keys)["region_code"].nunique().rename("n_provinces")
    joined = sums.join(n_provinces).join(national, how="inner")
    joined = joined[joined["n_provinces"] == N_PROVINCES]
    joined["relative_difference"] = (joined["province_sum"] - joined["national"]) / joined["national"]
    return joined.reset_index()


def yoy_frame(observations: pd.DataFrame) -> pd.DataFrame:
    """Change of each current value against the previous year's current value, with the indicator's bound."""
    bounds = catalogue.indicators()["yoy_max_ratio"]
    current = newest_per_key(observations)
    frame = current[current["value"].notna()].sort_values(["region_code", "indicator_id", "year"])
    previous = frame.groupby(["region_code", "indicator_id"])["value"].shift(1)
    previous_year = frame.groupby(["region_code", "indicator_id"])["year"].shift(1)
    out = frame.assign(previous_value=previous, previous_year=previous_year)
    out = out[(out["previous_year"] == out["year"] - 1) & (out["previous_value"] > 0)].copy()
    out["change_ratio"] = out["value"] / out["previous_value"] - 1
    out["bound"] = out["indicator_id"].map(bounds)
    out["within_bound"] = out["change_ratio"].abs() <= out["bound"]
    return out[
        [
            "region_code",
            "indicator_id",
            "year",
            "release",
            "previous_value",
            "value",
            "change_ratio",
            "bound",
            "within_bound",
            "source_ref",
        ]
    ].reset_index(drop=True)


GROUP_FRAMES = {
    "observations": lambda obs: obs,
    "value_ranges": lambda obs: obs,
    "coverage": coverage_frame,
    "additivity": additivity_frame,
    "year_on_year": yoy_frame,
    "bulletin_agreement": bulletin_agreement_frame,
}
