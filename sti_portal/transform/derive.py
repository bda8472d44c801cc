"""Derived indicators, computed from harmonised observations and marked as such."""

from __future__ import annotations

from typing import TYPE_CHECKING

# pandas (and core.releases, which imports it) is imported where it is used: the portal (through
# sti_portal.publish.downloads) imports the constants below only and is spared pandas' import time.
if TYPE_CHECKING:
    import pandas as pd

DERIVED_SOURCE_ID = "sti_portal_derived"
# Derived indicator -> the indicators it is computed from (an incremental load re-derives a region's
# values when a batch brings one of these).
DERIVATION_INPUTS = {
    "invention_patents_per_10k": ("invention_patents_in_force", "population"),
    "hightech_enterprises_valid_est": ("hightech_enterprises_certified",),
}
# A high-tech enterprise certificate is valid for three years (高新技术企业认定管理办法, art. 9).
CERTIFICATE_YEARS = 3
# Derived indicator -> how many later years an input value of year t reaches (the estimate of t+1 and t+2
# still counts the recognitions of t): an incremental load re-derives those years too.
DERIVATION_YEARS_AHEAD = {"hightech_enterprises_valid_est": CERTIFICATE_YEARS - 1}


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
        on=["region_code", "year"],
        suffixes=("", "_population"),
    )
    joined = joined[joined["value"].notna() & (joined["value_population"] > 0)]
    return pd.DataFrame(
        {
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
        }
    ).reset_index(drop=True)


def hightech_enterprises_valid_est(observations: pd.DataFrame) -> pd.DataFrame:
    """有效期内高新技术企业数（估算）: recognitions of t, t-1 and t-2, status e.

    One estimate per release of the recognitions, like the patents-per-person series: release R's estimate
    uses R's values and, for years R does not hold, the newest value of an older release; it is written
    only where R holds one of the three years, so an upload of one province's year adds that province's
    estimates without taking them away from the full release. Only years with all three recognition
    years; revocations, moves and mergers are not subtracted (catalogue/indicators.csv states the biases).
    """
    import pandas as pd

    from sti_portal.core.releases import OBSERVATION_COLUMNS, newest_per_key, release_order

    flow = release_order(
        observations[(observations["indicator_id"] == "hightech_enterprises_certified") & observations["value"].notna()]
    )
    releases = list(dict.fromkeys(flow["release"]))
    frames = []
    for n, release in enumerate(releases):
        as_of = newest_per_key(flow[flow["release"].isin(releases[: n + 1])])
        frames.append(_estimate_rows(as_of, release))
    columns = OBSERVATION_COLUMNS
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def _estimate_rows(as_of: pd.DataFrame, release: str) -> pd.DataFrame:
    import pandas as pd

    by_key = {(r.region_code, int(r.year)): r for r in as_of.itertuples()}
    rows = []
    for (region, year), _ in sorted(by_key.items()):
        window = [by_key.get((region, year - lag)) for lag in range(CERTIFICATE_YEARS - 1, -1, -1)]
        if any(w is None for w in window) or not any(w.release == release for w in window):
            continue
        own = next(w for w in reversed(window) if w.release == release)
        rows.append(
            {
                "source_id": DERIVED_SOURCE_ID,
                "release": release,
                "release_kind": own.release_kind,
                "vintage": own.vintage,
                "indicator_id": "hightech_enterprises_valid_est",
                "year": year,
                "value": float(sum(w.value for w in window)),
                "unit": "家",
                "obs_status": "e",
                "source_ref": " + ".join(w.source_ref for w in window),
                "note": (
                    f"estimate: hightech_enterprises_certified {year - 2}+{year - 1}+{year} "
                    "(certificates last three years; revoked, moved or merged firms not subtracted)"
                ),
                "region_code": region,
            }
        )
    return pd.DataFrame(rows)


def derive_all(observations: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    derived = [invention_patents_per_10k(observations), hightech_enterprises_valid_est(observations)]
    return pd.concat([observations, *(d[observations.columns] for d in derived if len(d))], ignore_index=True)
