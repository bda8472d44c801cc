"""The curated reference data kept as files in catalogue/: indicators, regions, aliases, sources."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from sti_portal.core import settings
from sti_portal.core.settings import CATALOGUE_DIR

BOOLEAN_COLUMNS = ("additive", "full_coverage", "derived")
# Extra region catalogues (same columns as catalogue/regions.csv, e.g. prefecture- or county-level units),
# one or more paths separated by os.pathsep. Empty by default; the scale benchmark uses it for counties.
EXTRA_REGIONS_ENV = "STI_EXTRA_REGIONS"


@lru_cache(maxsize=1)
def indicators() -> pd.DataFrame:
    frame = _read("indicators.csv")
    for col in BOOLEAN_COLUMNS:
        frame[col] = frame[col].map({"true": True, "false": False})
    for col in ("min_value", "max_value", "yoy_max_ratio"):
        frame[col] = frame[col].astype(float)
    frame["display_decimals"] = frame["display_decimals"].astype(int)
    return frame.set_index("indicator_id", drop=False)


def _read(name: str) -> pd.DataFrame:
    """A catalogue file as text columns: codes like 110000 must stay strings, and "" stays "" (not NaN)."""
    return pd.read_csv(CATALOGUE_DIR / name, dtype=str, keep_default_na=False)


def extra_region_files() -> list[Path]:
    return settings.load_settings().extra_region_files()


@lru_cache(maxsize=1)
def china_regions() -> pd.DataFrame:
    """catalogue/regions.csv plus any extra region catalogue named in STI_EXTRA_REGIONS."""
    base = _read("regions.csv")
    extras = [pd.read_csv(path, dtype=str, keep_default_na=False) for path in extra_region_files()]
    if not extras:
        return base
    for path, extra in zip(extra_region_files(), extras):
        if list(extra.columns) != list(base.columns):
            raise ValueError(
                f"{path}: columns {list(extra.columns)}, expected those of regions.csv {list(base.columns)}"
            )
    frame = pd.concat([base, *extras], ignore_index=True)
    duplicated = frame.loc[frame["region_code"].duplicated(), "region_code"].tolist()
    if duplicated:
        raise ValueError(f"{EXTRA_REGIONS_ENV}: region codes already in the catalogue: {duplicated[:10]}")
    return frame


@lru_cache(maxsize=1)
def places() -> pd.DataFrame:
    """catalogue/places.csv: prefecture-level cities and national new areas with their province's code
    (the policy-target extractor's gazetteer; the warehouse itself holds provinces only)."""
    return _read("places.csv")


@lru_cache(maxsize=1)
def region_aliases() -> pd.DataFrame:
    return _read("region_aliases.csv")


@lru_cache(maxsize=1)
def ignored_region_labels() -> pd.DataFrame:
    return _read("ignored_region_labels.csv")


@lru_cache(maxsize=1)
def sources() -> pd.DataFrame:
    return _read("sources.csv")


@lru_cache(maxsize=1)
def documented_revisions() -> pd.DataFrame:
    return _read("documented_revisions.csv")


@lru_cache(maxsize=1)
def indicator_aliases() -> pd.DataFrame:
    """Other names statisticians use for an indicator (accepted in uploads)."""
    return _read("indicator_aliases.csv")


@lru_cache(maxsize=1)
def release_calendar() -> pd.DataFrame:
    """When each source publishes a new release (the Dagster schedules in pipelines/loads.py)."""
    return _read("release_calendar.csv")
