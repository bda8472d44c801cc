"""Incremental publication: a batch of uploads appended to the published generation, not a rebuild.

A statistician's file adds one release: new rows in the fact table, nothing else in the old releases
changes. So `sti load` need not read every input again and rewrite 10 M rows; it

1. reads from the published warehouse only the SERIES the batch touches (every release of each
   (region, indicator) pair in the files, plus the inputs of derived indicators of those regions);
2. checks and validates the new release's rows (row rules, coverage, additivity of the new release)
   and the touched series (year-on-year change), with the same suites as a full build;
3. writes a new generation from copies of the published files: the warehouse copy gets the new fact
   rows (and the re-derived rows of the touched keys), sti.db's copy gets the published rows of the
   touched keys (and of the year after each, whose series-break flag `b` may change) replaced in one
   transaction, and the downloads get new parts for the touched
   (indicator, year) partitions, every other part hard-linked from the published version;
4. switches the generation in like every writer (sti_portal/publish/generations.py): all or nothing.

The result is the full build's result for the same inputs: same fact rows and content digest (the
digest is kept per (indicator, year) partition in `partition_digests`, so only touched partitions are
hashed again), same published rows (tests/test_load_incremental.py compares both paths). What differs:
row order in sti.db's tables (replaced rows move to the end; every portal query orders explicitly) and
`validation_results`, which record the suites on the load's scope (say so in their `detail`).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from sti_portal.core.releases import OBSERVATION_COLUMNS
from sti_portal.core.settings import WAREHOUSE_SQL_DIR
from sti_portal.publish import downloads
from sti_portal.publish.portal_db import PUBLISHED_TABLES
from sti_portal.store import warehouse as store
from sti_portal.targets import tables as policy_targets_tables
from sti_portal.transform.derive import DERIVATION_INPUTS, DERIVATION_YEARS_AHEAD, DERIVED_SOURCE_ID

KEY = ["region_code", "indicator_id", "year"]

SERIES_SQL = """
SELECT f.source_id, f.release, r.release_kind, CAST(r.vintage AS VARCHAR) AS vintage, f.indicator_id,
       CAST(f.year AS BIGINT) AS year, CAST(f.value AS DOUBLE) AS value, i.unit, f.obs_status, f.source_ref,
       f.note, f.region_code
FROM observation_fact f JOIN releases r ON r.release_id = f.release JOIN indicators i USING (indicator_id)
JOIN touched_series t ON t.region_code = f.region_code AND t.indicator_id = f.indicator_id
WHERE f.source_id <> ?
"""


def touched_series(new_rows: pd.DataFrame) -> pd.DataFrame:
    """(region_code, indicator_id) pairs whose values or derived values the new rows can change."""
    pairs = new_rows[["region_code", "indicator_id"]].drop_duplicates()
    extra = []
    for derived, inputs in DERIVATION_INPUTS.items():
        regions = pairs.loc[pairs["indicator_id"].isin(inputs), "region_code"].unique()
        for indicator_id in inputs:
            extra.append(pd.DataFrame({"region_code": regions, "indicator_id": indicator_id}))
    return pd.concat([pairs, *extra], ignore_index=True).drop_duplicates().reset_index(drop=True)


def read_series(warehouse: Path, series: pd.DataFrame) -> pd.DataFrame:
    """Every non-derived row of every release of the given series, in the harmonised frame's columns."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.register("touched_series", series)
        frame = con.execute(SERIES_SQL, [DERIVED_SOURCE_ID]).df()
    frame["vintage"] = frame["vintage"].astype(object).where(frame["vintage"].notna(), None)
    for col in ("obs_status", "note"):
        frame[col] = frame[col].fillna("")
    return frame


# ------------------------------------------------------------------------------------------ what changes


@dataclass
class Change:
    """The rows a batch adds, and the keys whose published rows must be rewritten."""

    new_rows: pd.DataFrame  # candidate rows of the new release(s), derived rows included
    rederived: pd.DataFrame  # derived rows of the touched keys (every release), recomputed
    keys: pd.DataFrame  # (region_code, indicator_id, year) whose published rows change
    releases: list[str]

    @property
    def published_keys(self) -> pd.DataFrame:
        """The keys whose published rows are rewritten: the touched keys and the year after each, whose
        series-break flag (`b`, warehouse/views.sql) compares it with the touched year's current value."""
        following = self.keys[KEY].assign(year=self.keys["year"] + 1)
        return pd.concat([self.keys[KEY], following], ignore_index=True).drop_duplicates().reset_index(drop=True)

    @property
    def partitions(self) -> set[tuple[str, int]]:
        keys = self.published_keys
        return {(r.indicator_id, int(r.year)) for r in keys[["indicator_id", "year"]].drop_duplicates().itertuples()}

    @property
    def regions(self) -> set[str]:
        return set(self.keys["region_code"])


def change_of(scope_candidate: pd.DataFrame, releases: list[str]) -> Change:
    """From the candidate of the touched series (old rows + new rows + derived), what the load writes."""
    is_new = scope_candidate["release"].isin(releases)
    new_rows = scope_candidate[is_new & (scope_candidate["source_id"] != DERIVED_SOURCE_ID)]
    derived = scope_candidate[scope_candidate["source_id"] == DERIVED_SOURCE_ID]
    keys = new_rows[KEY]
    # A new population value re-derives every release of the patents-per-person series of that region-year;
    # a new year of recognitions also the estimated high-tech stock of the next years (DERIVATION_YEARS_AHEAD).
    new_years = new_rows[["region_code", "year"]].drop_duplicates()
    reach = derived["indicator_id"].map(DERIVATION_YEARS_AHEAD).fillna(0)
    derived_keys = pd.concat(
        [
            derived[reach >= ahead].merge(new_years.assign(year=new_years["year"] + ahead), on=["region_code", "year"])
            for ahead in range(int(reach.max()) + 1 if len(reach) else 1)
        ],
        ignore_index=True,
    )
    rederived = derived_keys.reset_index(drop=True)
    all_keys = pd.concat([keys, rederived[KEY]], ignore_index=True).drop_duplicates().reset_index(drop=True)
    return Change(new_rows.reset_index(drop=True), rederived, all_keys, releases)


# ------------------------------------------------------------------------------------------ the warehouse


def write_warehouse_copy(
    published: Path,
    target: Path,
    change: Change,
    *,
    releases: pd.DataFrame,
    aliases: pd.DataFrame,
    validation_results: pd.DataFrame,
    built_at_utc: str,
) -> str:
    """A copy of the published warehouse with the change applied (atomically: tmp file, then rename)."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    shutil.copyfile(published, tmp)
    con = duckdb.connect(str(tmp))
    try:
        con.execute("BEGIN TRANSACTION")
        con.register("new_releases", releases)
        con.execute(
            "INSERT INTO releases SELECT * FROM new_releases WHERE release_id NOT IN (SELECT release_id FROM releases)"
        )
        con.register("touched_keys", change.keys)
        con.execute(
            "DELETE FROM observation_fact f USING touched_keys k WHERE f.source_id = ? AND "
            "f.region_code = k.region_code AND f.indicator_id = k.indicator_id AND f.year = k.year",
            [DERIVED_SOURCE_ID],
        )
        fact = pd.concat([change.new_rows, change.rederived], ignore_index=True)
        con.register("new_fact", fact[store.FACT_COLUMNS])
        con.execute(f"INSERT INTO observation_fact SELECT * FROM new_fact {store.STORAGE_ORDER['observation_fact']}")
        con.register("new_aliases", aliases[["alias", "region_code", "source_id"]])
        con.execute("INSERT INTO region_aliases SELECT * FROM new_aliases EXCEPT SELECT * FROM region_aliases")
        con.execute("DELETE FROM validation_results")
        con.register("results", validation_results)
        con.execute("INSERT INTO validation_results SELECT * FROM results")
        _update_target_progress(con, change)
        digest = store.update_partition_digests(con, change.partitions)
        counts = con.execute("SELECT count(*), count(DISTINCT release) FROM observation_fact").fetchone()
        sources = [
            row[0] for row in con.execute("SELECT DISTINCT source_id FROM observation_fact ORDER BY 1").fetchall()
        ]
        info = {
            "built_at_utc": built_at_utc,
            "n_observations": str(counts[0]),
            "n_releases": str(counts[1]),
            "sources": json.dumps(sources),
            "content_sha256": digest,
        }
        con.execute("DELETE FROM build_info")
        con.executemany("INSERT INTO build_info VALUES (?, ?)", sorted(info.items()))
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    _install(tmp, target)
    return digest


# The target tables judged against the statistics (warehouse/targets.sql), re-judged by an incremental load.
JUDGED_TABLES = ("target_progress", "reported_vs_official", "target_region_summary")


def _update_target_progress(con: duckdb.DuckDBPyConnection, change: Change) -> None:
    """Re-judge the policy targets when the batch touches a region that has targets (or the nation)."""
    target_regions = {
        row[0]
        for row in con.execute(
            "SELECT DISTINCT region_code FROM policy_statements WHERE region_code IS NOT NULL"
        ).fetchall()
    } | {"100000"}
    if not (change.regions & target_regions):
        return
    con.register("target_regions", pd.DataFrame({"region_code": sorted(target_regions)}))
    current = con.execute(
        SERIES_SQL.replace(
            "JOIN touched_series t ON t.region_code = f.region_code AND t.indicator_id = f.indicator_id",
            "JOIN target_regions t ON t.region_code = f.region_code",
        ).replace("WHERE f.source_id <> ?", ""),
    ).df()
    regions = con.execute("SELECT * FROM regions").df()
    # Every release of the target regions' series: progress uses the current values, reported_vs_official
    # every release; the per-region summary follows both.
    tables = policy_targets_tables.warehouse_tables(policy_targets_tables.build_policy_targets(), current, regions)
    for table in JUDGED_TABLES:
        columns = [c[0] for c in con.execute(f"DESCRIBE {table}").fetchall()]
        con.execute(f"DELETE FROM {table}")
        con.register("incoming_judged", tables[table][columns])
        con.execute(f"INSERT INTO {table} SELECT * FROM incoming_judged")
        con.unregister("incoming_judged")


# ------------------------------------------------------------------------------------------ sti.db

# The published tables whose rows are per key (region, indicator, year): replaced for the touched keys.
KEYED_TABLES = ("observations", "observation_history", "revisions")
# Small tables rewritten whole from the new warehouse.
WHOLE_TABLES = (
    "releases",
    "region_aliases",
    "validation_results",
    "build_info",
    "target_progress",
    "target_indicators",
    "reported_vs_official",
    "target_region_summary",
)


def touched_published_rows(warehouse: Path, keys: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The published shape (sti_portal/publish/portal_db.PUBLISHED_TABLES) of the touched keys, from the new warehouse.

    The views are evaluated over a copy of the touched keys' fact rows (every release of them) and of the
    year before each (the series-break flag of `observations` compares a year with the one before), so the
    window functions see whole keys; only the touched keys' rows are returned.
    """
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
        con.register("touched_keys", keys)
        for table in ("regions", "indicators", "releases"):
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM wh.{table}")
        con.execute(
            "CREATE TABLE observation_fact AS SELECT DISTINCT f.* FROM wh.observation_fact f "
            "JOIN touched_keys k ON f.region_code = k.region_code AND f.indicator_id = k.indicator_id "
            "AND f.year BETWEEN k.year - 1 AND k.year"
        )
        con.execute((WAREHOUSE_SQL_DIR / "views.sql").read_text(encoding="utf-8"))
        rows = {
            table: con.execute(
                f"SELECT * FROM ({PUBLISHED_TABLES[table]}) p SEMI JOIN touched_keys k "
                "ON p.region_code = k.region_code AND p.indicator_id = k.indicator_id "
                "AND p.year = k.year"
            ).df()
            for table in KEYED_TABLES
        }
        for table in WHOLE_TABLES:
            rows[table] = con.execute(PUBLISHED_TABLES[table].replace(f"FROM {table}", f"FROM wh.{table}")).df()
    finally:
        con.close()
    return rows


def write_portal_copy(published: Path, target: Path, warehouse: Path, change: Change) -> None:
    """A copy of the published sti.db with the touched keys' rows (and the next year's) replaced, in one transaction."""
    keys = change.published_keys
    rows = touched_published_rows(warehouse, keys)
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    shutil.copyfile(published, tmp)
    db = sqlite3.connect(tmp, isolation_level=None)
    try:
        db.execute("BEGIN")
        db.execute("CREATE TEMP TABLE touched_keys (region_code TEXT, indicator_id TEXT, year INTEGER)")
        db.executemany(
            "INSERT INTO touched_keys VALUES (?, ?, ?)", keys[KEY].astype(object).itertuples(index=False, name=None)
        )
        for table in KEYED_TABLES:
            # Through the (indicator_id, year) index: a handful of index seeks per touched key.
            db.execute(
                f"DELETE FROM {table} WHERE rowid IN (SELECT t.rowid FROM touched_keys k JOIN {table} t "
                "ON t.indicator_id = k.indicator_id AND t.year = k.year AND t.region_code = k.region_code)"
            )
            _insert(db, table, rows[table])
        for table in WHOLE_TABLES:
            db.execute(f"DELETE FROM {table}")
            _insert(db, table, rows[table])
        db.execute("COMMIT")
    except BaseException:
        db.close()
        tmp.unlink(missing_ok=True)
        raise
    db.close()
    _install(tmp, target)


def _install(tmp: Path, target: Path) -> None:
    """The written copy made durable, then renamed over its target (not yet published: the generation
    switch publishes it)."""
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def _insert(db: sqlite3.Connection, table: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
    values = frame[columns].astype(object).where(frame[columns].notna(), None)
    placeholders = ", ".join("?" for _ in columns)
    db.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", values.itertuples(index=False, name=None)
    )


def timed(timings: dict[str, float], name: str):
    """Context manager adding the elapsed seconds of a block to `timings[name]`."""

    class _Timer:
        def __enter__(self):
            self.started = time.perf_counter()

        def __exit__(self, *exc):
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - self.started
            return False

    return _Timer()


HARMONISED_COLUMNS = tuple(OBSERVATION_COLUMNS)


def appendable(generation: Path) -> bool:
    """Whether a published generation can take an incremental load: its warehouse keeps partition digests
    and its downloads are stored as parts (generations written before either must be rebuilt once)."""
    warehouse, portal, folder = generation / "warehouse.duckdb", generation / "sti.db", generation / "downloads"
    if not (warehouse.exists() and portal.exists() and folder.exists()):
        return False
    if not downloads.supports_incremental(folder.resolve()):
        return False
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    return "partition_digests" in tables


def previous_validation_results(warehouse: Path, skipped: tuple[str, ...]) -> pd.DataFrame:
    """The published results of the suites a scoped validation does not run (they cannot change)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT * FROM validation_results WHERE list_contains(?, suite)", [list(skipped)]).df()
