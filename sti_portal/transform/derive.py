"""Derived indicators, computed from harmonised observations and marked as such."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:   # pandas is imported where it is used: the portal imports the constants below only
    import pandas as pd

DERIVED_SOURCE_ID = "sti_portal_derived"
# Derived indicator -> the indicators it is computed from (an incremental load re-derives a region's
# values when a batch brings one of these).
DERIVATION_INPUTS = {"invention_patents_per_10k": ("invention_patents_in_force", "population")}


def invention_patents_per_10k(observations: pd.DataFrame) -> pd.DataFrame:
    """每万人口发明专利拥有量: invention patents in force (件) / year-end population (万人).

    Each patent observation (every release) is divided by the newest population value of the same
    region and year, so the derived series carries the patent table's revisions.
    """
    import pandas as pd

    from sti_portal.core.releases import newest_per_key

    patents = observations[observations["indicator_id"] == "invention_patents_in_force"]
    population = newest_per_key(observations[observations["indicator_id"] == "population"])
    joined = patents.merge(
        population[["region_code", "year", "value", "source_ref"]],
        on=["region_code", "year"], suffixes=("", "_population"))
    joined = joined[joined["value"].notna() & (joined["value_population"] > 0)]
    return pd.DataFrame({
        "source_id": DERIVED_SOURCE_ID,
        "release": joined["release"],
        "release_kind": joined["release_kind"],
        "vintage": joined["vintage"],
        "indicator_id": "invention_patents_per_10k",
        "year": joined["year"],
        "value": joined["value"] / joined["value_population"],
        "unit": "件/万人",
        "obs_status": joined["obs_status"],
        "source_ref": joined["source_ref"] + " ÷ " + joined["source_ref_population"],
        "note": "derived: invention_patents_in_force / population (万人)",
        "region_code": joined["region_code"],
    }).reset_index(drop=True)


def derive_all(observations: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    derived = invention_patents_per_10k(observations)
    return pd.concat([observations, derived[observations.columns]], ignore_index=True)
