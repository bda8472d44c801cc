"""The pipeline's steps as plain functions: Dagster assets call these, and so can tests.

snapshot (sources/snapshots) -> tidy frames (sources/*.py) -> harmonised -> candidate (+ derived)
-> validated (expectations/) -> warehouse (DuckDB) -> portal (sti.db)
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from sources.bulletin_pages import merge_transcriptions
from sti_portal.core import catalogue
from sti_portal.core import settings as config
from sti_portal.transform.derive import derive_all
from sti_portal.transform.harmonise import HarmonisedBatch, RegionResolver, country_regions, harmonise
from sti_portal.transform.release_differences import bulletin_agreement_frame

# Asset name -> adapter module in sources/.
SOURCE_ADAPTERS = {
    "yearbook_rd_intensity": "sources.yearbook_rd_intensity",
    "yearbook_rd_expenditure": "sources.yearbook_rd_expenditure",
    "yearbook_rd_personnel": "sources.yearbook_rd_personnel",
    "yearbook_patents": "sources.yearbook_patents",
    "yearbook_tech_market": "sources.yearbook_tech_market",
    "yearbook_hightech_industry": "sources.yearbook_hightech_industry",
    "yearbook_incubators": "sources.yearbook_incubators",
    "nbs_rd_bulletin": "sources.bulletins",
    "nbs_rd_bulletin_pages": "sources.bulletin_pages",
    "yearbook_industrial_enterprises": "sources.yearbook_industrial_enterprises",
    "innocom_hitech_enterprises": "sources.innocom",
    "nbs_population": "sources.population",
    "world_bank_wdi": "sources.world_bank",
}


def extract_source(name: str, snapshot_dir: Path | None = None) -> pd.DataFrame:
    return importlib.import_module(SOURCE_ADAPTERS[name]).extract(snapshot_dir or config.snapshot_dir())


def harmonise_sources(frames: list[pd.DataFrame]) -> HarmonisedBatch:
    tidy = pd.concat([f for f in frames if len(f)], ignore_index=True)
    # One value per bulletin figure: the original page beats the transcriptions, whose copies are kept
    # as dropped rows saying whether they agree (sources/bulletin_pages.py).
    tidy, bulletin_copies = merge_transcriptions(tidy)
    batch = harmonise(tidy, RegionResolver.from_catalogue())
    if bulletin_copies.empty:
        return batch
    dropped = pd.concat([batch.dropped, bulletin_copies[batch.dropped.columns]], ignore_index=True)
    return HarmonisedBatch(batch.observations, dropped, batch.aliases)


def candidate_observations(batch: HarmonisedBatch) -> pd.DataFrame:
    """Every value of every release, harmonised, with derived indicators added, in a stable order."""
    candidate = derive_all(batch.observations)
    return candidate.sort_values(["indicator_id", "region_code", "year", "release"]).reset_index(drop=True)


def regions_table(candidate: pd.DataFrame) -> pd.DataFrame:
    china = catalogue.china_regions()
    countries = country_regions(candidate.loc[candidate["source_id"] == "world_bank_wdi", "region_code"])
    return pd.concat([china, countries], ignore_index=True)


VALIDATION_COLUMNS = ["suite", "expectation", "severity", "passed", "failing_rows", "detail"]


def validation_table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=VALIDATION_COLUMNS)


def build_info(candidate: pd.DataFrame) -> dict[str, str]:
    """What the build was made from. Deliberately no timestamp in the content digest's inputs."""
    return {
        "built_at_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "n_observations": str(len(candidate)),
        "n_releases": str(candidate["release"].nunique()),
        "sources": json.dumps(sorted(candidate["source_id"].unique().tolist())),
    }


def release_differences(candidate: pd.DataFrame) -> pd.DataFrame:
    return bulletin_agreement_frame(candidate)
