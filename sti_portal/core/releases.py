"""Which release of a value is the current one.

Releases are ordered by vintage (publication date; unknown dates count as oldest), then by kind
(a yearbook beats a first release of the same date), then by id so that the order is total.
The same rule is written in SQL in warehouse/views.sql; tests check that both agree.
"""

from __future__ import annotations

import pandas as pd

KIND_PRECEDENCE = {"first_release": 1, "revision": 2, "compilation": 3, "yearbook": 4, "upload": 5}
OBSERVATION_KEY = ["region_code", "indicator_id", "year"]
# The columns of a harmonised observation row (every release), as the steps pass them on.
OBSERVATION_COLUMNS = [
    "source_id",
    "release",
    "release_kind",
    "vintage",
    "indicator_id",
    "year",
    "value",
    "unit",
    "obs_status",
    "source_ref",
    "note",
    "region_code",
]


def release_order(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame sorted oldest release first within each key."""
    return (
        frame.assign(
            _vintage=frame["vintage"].fillna(""),
            _precedence=frame["release_kind"].map(KIND_PRECEDENCE).fillna(0),
        )
        .sort_values(["_vintage", "_precedence", "release"], kind="stable")
        .drop(columns=["_vintage", "_precedence"])
    )


def newest_per_key(frame: pd.DataFrame) -> pd.DataFrame:
    return release_order(frame).drop_duplicates(OBSERVATION_KEY, keep="last").reset_index(drop=True)
