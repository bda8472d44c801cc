"""The curated reference data kept as files in catalogue/: indicators, regions, aliases, sources."""
from __future__ import annotations

from functools import lru_cache

import pandas as pd

from sti_portal.config import CATALOGUE_DIR

BOOLEAN_COLUMNS = ("additive", "full_coverage", "derived")


@lru_cache(maxsize=1)
def indicators() -> pd.DataFrame:
    frame = pd.read_csv(CATALOGUE_DIR / "indicators.csv", dtype=str, keep_default_na=False)
    for col in BOOLEAN_COLUMNS:
        frame[col] = frame[col].map({"true": True, "false": False})
    for col in ("min_value", "max_value", "yoy_max_ratio"):
        frame[col] = frame[col].astype(float)
    frame["display_decimals"] = frame["display_decimals"].astype(int)
    return frame.set_index("indicator_id", drop=False)


@lru_cache(maxsize=1)
def china_regions() -> pd.DataFrame:
    return pd.read_csv(CATALOGUE_DIR / "regions.csv", dtype=str, keep_default_na=False)


@lru_cache(maxsize=1)
def region_aliases() -> pd.DataFrame:
    return pd.read_csv(CATALOGUE_DIR / "region_aliases.csv", dtype=str, keep_default_na=False)


@lru_cache(maxsize=1)
def ignored_region_labels() -> pd.DataFrame:
    return pd.read_csv(CATALOGUE_DIR / "ignored_region_labels.csv", dtype=str, keep_default_na=False)


@lru_cache(maxsize=1)
def sources() -> pd.DataFrame:
    return pd.read_csv(CATALOGUE_DIR / "sources.csv", dtype=str, keep_default_na=False)


@lru_cache(maxsize=1)
def documented_revisions() -> pd.DataFrame:
    return pd.read_csv(CATALOGUE_DIR / "documented_revisions.csv", dtype=str, keep_default_na=False)


@lru_cache(maxsize=1)
def indicator_aliases() -> pd.DataFrame:
    """Other names statisticians use for an indicator (accepted in uploads)."""
    return pd.read_csv(CATALOGUE_DIR / "indicator_aliases.csv", dtype=str, keep_default_na=False)


@lru_cache(maxsize=1)
def release_calendar() -> pd.DataFrame:
    """When each source publishes a new release (the Dagster schedules in pipelines/loads.py)."""
    return pd.read_csv(CATALOGUE_DIR / "release_calendar.csv", dtype=str, keep_default_na=False)
