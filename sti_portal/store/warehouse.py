"""Write the DuckDB warehouse: a new file built beside the old one, then swapped in with os.replace."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb
import pandas as pd

from sti_portal.core import catalogue
from sti_portal.core.releases import KIND_PRECEDENCE
from sti_portal.core.settings import WAREHOUSE_SQL_DIR
from sti_portal.targets import tables as policy_targets_tables

# Sorted in DuckDB on the way in (not in pandas): the order the portal reads partitions in, so each
# (indicator, year) is a contiguous run that DuckDB's zone maps skip to.
STORAGE_ORDER = {"observation_fact": "ORDER BY indicator_id, year, region_code, release"}
FACT_COLUMNS = [
    "region_code",
    "indicator_id",
    "year",
    "release",
    "value",
    "obs_status",
    "source_id",
    "source_ref",
    "note",
]


def releases_frame(observations: pd.DataFrame) -> pd.DataFrame:
    releases = (
        observations[["release", "source_id", "release_kind", "vintage"]]
        .drop_duplicates("release")
        .rename(columns={"release": "release_id"})
    )
    releases["precedence"] = releases["release_kind"].map(KIND_PRECEDENCE).astype("int64")
    releases["vintage"] = pd.to_datetime(releases["vintage"]).dt.date
    return releases.sort_values("release_id").reset_index(drop=True)


# One text line per fact row: the columns joined by a unit separator, NULL spelt out (so NULL and '' differ).
_ROW_TEXT = " || chr(31) || ".join(f"coalesce(CAST({c} AS VARCHAR), '\\N')" for c in FACT_COLUMNS)
PARTITION_DIGESTS_SQL = f"""
    SELECT indicator_id, year, sha256(string_agg({_ROW_TEXT}, chr(10) ORDER BY region_code, release)) AS digest
    FROM observation_fact {{only}} GROUP BY indicator_id, year ORDER BY indicator_id, year"""


def content_digest(con: duckdb.DuckDBPyConnection) -> str:
    """A hash of the fact table's content, independent of how the file lays it out on disk.

    Computed in DuckDB: a sha256 per (indicator, year) partition over its rows in key order (kept in
    `partition_digests`, so an incremental load re-hashes only the partitions it touches), then one
    sha256 over the partitions' digests in order. No fact row travels into Python.
    """
    con.execute("DELETE FROM partition_digests")
    con.execute(f"INSERT INTO partition_digests {PARTITION_DIGESTS_SQL.format(only='')}")
    return combined_digest(con)


def update_partition_digests(con: duckdb.DuckDBPyConnection, partitions: set[tuple[str, int]]) -> str:
    """Re-hash the given (indicator_id, year) partitions after a change; returns the new content digest."""
    touched = pd.DataFrame(sorted(partitions), columns=["indicator_id", "year"])
    con.register("touched_partitions", touched)
    con.execute(
        "DELETE FROM partition_digests p USING touched_partitions t "
        "WHERE p.indicator_id = t.indicator_id AND p.year = t.year"
    )
    # The semi join filters the rows before they are aggregated (a filter on the aggregate's output
    # would hash all 10 M rows again).
    only = "SEMI JOIN touched_partitions USING (indicator_id, year)"
    con.execute(f"INSERT INTO partition_digests {PARTITION_DIGESTS_SQL.format(only=only)}")
    con.unregister("touched_partitions")
    return combined_digest(con)


def combined_digest(con: duckdb.DuckDBPyConnection) -> str:
    digest = hashlib.sha256()
    for indicator_id, year, partition in con.execute(
        "SELECT indicator_id, year, digest FROM partition_digests ORDER BY indicator_id, year"
    ).fetchall():
        digest.update(f"{indicator_id}\t{year}\t{partition}\n".encode())
    return digest.hexdigest()


def write_warehouse(
    path: Path,
    *,
    observations: pd.DataFrame,
    regions: pd.DataFrame,
    aliases: pd.DataFrame,
    dropped: pd.DataFrame,
    release_differences: pd.DataFrame,
    validation_results: pd.DataFrame,
    build_info: dict[str, str],
    policy_targets: policy_targets_tables.PolicyTargets | None = None,
) -> str:
    """Build the warehouse at `path` atomically; returns the content digest.

    The policy-target tables (warehouse/targets.sql) are written into the same file: from `policy_targets`
    (the Dagster asset's output) or, when not given, read afresh from the snapshots; their progress is
    judged against `observations`' current values.
    """
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        con.execute((WAREHOUSE_SQL_DIR / "schema.sql").read_text(encoding="utf-8"))
        con.execute((WAREHOUSE_SQL_DIR / "targets.sql").read_text(encoding="utf-8"))
        indicators = catalogue.indicators().reset_index(drop=True)
        tables = {
            "regions": regions,
            "region_aliases": aliases[["alias", "region_code", "source_id"]],
            "sources": catalogue.sources(),
            "indicators": indicators,
            "releases": releases_frame(observations),
            "observation_fact": observations[FACT_COLUMNS],
            "release_differences": release_differences,
            "validation_results": validation_results,
            "dropped_rows": dropped,
            **policy_targets_tables.warehouse_tables(policy_targets, _target_regions_rows(observations), regions),
        }
        for table, frame in tables.items():
            columns = [c[0] for c in con.execute(f"DESCRIBE {table}").fetchall()]
            con.register("incoming", frame[columns])
            con.execute(f"INSERT INTO {table} SELECT * FROM incoming {STORAGE_ORDER.get(table, '')}")
            con.unregister("incoming")
        con.execute((WAREHOUSE_SQL_DIR / "views.sql").read_text(encoding="utf-8"))
        digest = content_digest(con)
        info = {**build_info, "content_sha256": digest}
        con.executemany("INSERT INTO build_info VALUES (?, ?)", sorted(info.items()))
        con.execute("CHECKPOINT")
    finally:
        con.close()
    _fsync(tmp)
    os.replace(tmp, path)
    return digest


def _target_regions_rows(observations: pd.DataFrame) -> pd.DataFrame:
    """The rows policy targets can be judged against: targets name the nation or a province-level region
    (warehouse/targets.sql), so county rows need not go through the current-value ranking."""
    china = catalogue.china_regions()
    codes = china.loc[china["level"].isin(["national", "province", "sar_or_taiwan"]), "region_code"]
    return observations[observations["region_code"].isin(set(codes))]


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
