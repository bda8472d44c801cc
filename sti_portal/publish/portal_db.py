"""Publish the warehouse as the SQLite database Datasette serves (the "grapher" step).

The new sti.db is written next to the old one and swapped in with os.replace, so a reader sees the
old file or the new one, never a half-written one. The pre-built downloads (sti_portal.publish.downloads) are
written from the same staged tables before the swap, into a new version directory, and the `downloads`
symlink is swapped right after sti.db: a failure anywhere before the swap publishes nothing.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from sti_portal.publish import downloads
from sti_portal.publish.sqlite_extension import sqlite_extension_path
from sti_portal.targets.tables import add_fulltext

# Tables copied to sti.db, with the SELECT that shapes each (dates and decimals as SQLite-friendly types).
PUBLISHED_TABLES = {
    "observations": "SELECT region_code, region_zh, region_en, region_level, indicator_id, indicator_zh, indicator_en, "
    "year, CAST(value AS DOUBLE) AS value, unit, obs_status, source_id, release, release_kind, "
    "CAST(vintage AS VARCHAR) AS vintage, source_ref, note, n_releases FROM observations "
    "ORDER BY indicator_id, year, region_code",
    "observation_history": "SELECT region_code, region_zh, region_en, region_level, indicator_id, indicator_zh, "
    "indicator_en, year, CAST(value AS DOUBLE) AS value, unit, obs_status, source_id, release, "
    "release_kind, CAST(vintage AS VARCHAR) AS vintage, source_ref, note FROM observation_history "
    "ORDER BY indicator_id, year, region_code, vintage NULLS FIRST, precedence, release",
    "revisions": "SELECT * FROM revisions ORDER BY indicator_id, year, region_code, new_release",
    "indicators": "SELECT * FROM indicators ORDER BY indicator_id",
    "regions": "SELECT * FROM regions ORDER BY region_code",
    "region_aliases": "SELECT * FROM region_aliases ORDER BY region_code, alias, source_id",
    "sources": "SELECT * FROM sources ORDER BY source_id",
    "releases": "SELECT release_id, source_id, release_kind, CAST(vintage AS VARCHAR) AS vintage, precedence "
    "FROM releases ORDER BY release_id",
    "release_differences": "SELECT * FROM release_differences ORDER BY indicator_id, year, region_code",
    "validation_results": "SELECT * FROM validation_results ORDER BY suite, expectation",
    "build_info": "SELECT * FROM build_info ORDER BY key",
    # Policy targets (warehouse/targets.sql); policy_documents gets a full-text index (add_fulltext).
    "policy_documents": "SELECT * FROM policy_documents ORDER BY doc_id",
    "policy_statements": "SELECT * FROM policy_statements ORDER BY doc_id, char_offset, statement_id",
    "targets": "SELECT * FROM targets ORDER BY doc_id, char_offset, statement_id",
    "target_progress": "SELECT * FROM target_progress ORDER BY region_code NULLS LAST, doc_id, statement_id",
    "target_indicators": "SELECT * FROM target_indicators ORDER BY indicator",
    "reported_vs_official": "SELECT * FROM reported_vs_official ORDER BY region_code NULLS LAST, indicator, year, "
    "statement_id",
    "target_region_summary": "SELECT * FROM target_region_summary ORDER BY region_code",
    # Copies of bulletin figures left out for the original page's (sources/bulletin_pages.py), with whether
    # they agree: the hand and third-party transcriptions' disagreements stay visible.
    "bulletin_copies": "SELECT source_ref, region_label, indicator_id, reason FROM dropped_rows "
    "WHERE starts_with(reason, 'another copy of') ORDER BY indicator_id, source_ref",
}

INDEXES = {
    # region_level first: the portal's summary of the province/national/country rows (portal/plugins/
    # sti_site.py) and Datasette's region_level filters with their counts and indicator_id/year facets,
    # none a scan of a county-level table (SQLite picks an index that gives the GROUP BY order).
    "observations": [
        ("indicator_id", "year"),
        ("region_code", "indicator_id"),
        ("year",),
        ("region_level", "indicator_id", "year"),
        ("region_level", "year"),
    ],
    "observation_history": [("indicator_id", "year"), ("region_code", "indicator_id", "year")],
    "revisions": [("indicator_id", "year")],
}


# Share of the machine's memory DuckDB may use for the staged tables while publishing.
STAGE_MEMORY_SHARE = 0.4


def publish(warehouse: Path, portal_db: Path) -> dict[str, int]:
    """Write sti.db and the downloads from the warehouse atomically; returns row counts per published table.

    Each published table is computed ONCE (the PUBLISHED_TABLES SELECT over the warehouse's views) into
    an in-memory DuckDB database; from there one thread copies it into the new sti.db (sqlite extension,
    then indexes, ANALYZE and the full-text index) while this one writes the downloads with DuckDB COPY
    (sti_portal/publish/downloads/). Nothing is swapped in before both are complete.
    """
    tmp = portal_db.with_name(portal_db.name + ".tmp")
    tmp.unlink(missing_ok=True)
    spill = portal_db.with_name(portal_db.name + ".spill")  # where DuckDB moves staged blocks beyond its limit
    version_dir = None
    con = duckdb.connect()  # in-memory: the staged tables (catalog "memory")
    try:
        con.execute(f"SET temp_directory = '{spill}'")
        con.execute(f"SET memory_limit = '{_memory_limit_mb()}MB'")
        con.execute(f"LOAD '{sqlite_extension_path()}'")
        con.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
        con.execute("USE wh")  # the SELECTs name the warehouse's tables and views unqualified
        for table, select in PUBLISHED_TABLES.items():
            con.execute(f"CREATE TABLE memory.main.{table} AS {select}")
        counts = {
            table: con.execute(f"SELECT count(*) FROM memory.main.{table}").fetchone()[0] for table in PUBLISHED_TABLES
        }
        con.execute("USE memory")
        # From here two statements run at a time (sti.db, downloads): one thread each, on 2 cores.
        con.execute("SET threads = 1")
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sti-publish-sqlite") as pool:
            written = pool.submit(_write_sqlite, con.cursor(), tmp)
            try:
                version_dir = downloads.prepare(tmp, portal_db.parent, con=con.cursor(), tables=list(PUBLISHED_TABLES))
            finally:
                written_error = written.exception()  # wait for the SQLite side in any case
            if written_error is not None:
                raise written_error
    except BaseException:
        if version_dir is not None:
            downloads.discard(version_dir)
        tmp.unlink(missing_ok=True)
        raise
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    os.replace(tmp, portal_db)
    downloads.activate(portal_db.parent, version_dir)
    return counts


def _memory_limit_mb() -> int:
    """DuckDB's memory for the staged tables: a share of the machine (the rest spills to disk), not its
    default 80 %, which a 10 M build would take while other processes need theirs."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 4096
    return max(1024, int(total * STAGE_MEMORY_SHARE) >> 20)


def _write_sqlite(cursor, path: Path) -> None:
    try:
        cursor.execute(f"ATTACH '{path}' AS portal (TYPE sqlite)")
        for table in PUBLISHED_TABLES:
            # A plain scan keeps the staged (published) order: preserve_insertion_order, DuckDB's default.
            cursor.execute(f"CREATE TABLE portal.{table} AS SELECT * FROM memory.main.{table}")
        cursor.execute("DETACH portal")
    finally:
        cursor.close()
    _finish_sqlite(path)


def _finish_sqlite(path: Path) -> None:
    """Indexes, statistics and the full-text index. No VACUUM: the file was just written table by table
    (no free pages to reclaim), and the full-text index maps to rowids that therefore stay as they are."""
    db = sqlite3.connect(path)
    try:
        for table, indexes in INDEXES.items():
            for columns in indexes:
                db.execute(f"CREATE INDEX idx_{table}_{'_'.join(columns)} ON {table} ({', '.join(columns)})")
        db.execute("ANALYZE")
        db.commit()
        add_fulltext(db)
    finally:
        db.close()
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
