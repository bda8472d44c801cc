"""Publish the warehouse as the SQLite database Datasette serves (the "grapher" step).

The new sti.db is written next to the old one and swapped in with os.replace, so a reader sees the
old file or the new one, never a half-written one. The pre-built downloads (sti_portal.downloads) are
written from the new file before the swap, into a new version directory, and the `downloads` symlink
is swapped right after sti.db: a failure anywhere before the swap publishes nothing.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import duckdb

from sti_portal import downloads

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
}

INDEXES = {
    "observations": [("indicator_id", "year"), ("region_code", "indicator_id"), ("year",)],
    "observation_history": [("indicator_id", "year"), ("region_code", "indicator_id", "year")],
    "revisions": [("indicator_id", "year")],
}


def sqlite_extension_path() -> str:
    """The sqlite_scanner extension shipped as a PyPI wheel (INSTALL would need the internet)."""
    import duckdb_extension_sqlite_scanner as package

    found = sorted(Path(package.__path__[0]).glob("extensions/*/sqlite_scanner.duckdb_extension"))
    if not found:
        raise RuntimeError("duckdb-extension-sqlite-scanner is installed but holds no extension file")
    return str(found[-1])


def publish(warehouse: Path, portal_db: Path) -> dict[str, int]:
    """Write sti.db from the warehouse atomically; returns row counts per published table."""
    tmp = portal_db.with_name(portal_db.name + ".tmp")
    tmp.unlink(missing_ok=True)
    # A read-only DuckDB connection would attach the SQLite file read-only too, so attach both.
    con = duckdb.connect()
    try:
        con.execute(f"LOAD '{sqlite_extension_path()}'")
        con.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
        con.execute("USE wh")
        con.execute(f"ATTACH '{tmp}' AS portal (TYPE sqlite)")
        for table, select in PUBLISHED_TABLES.items():
            con.execute(f"CREATE TABLE portal.{table} AS {select}")
        con.execute("DETACH portal")
    finally:
        con.close()
    counts = _finish_sqlite(tmp)
    try:
        version_dir = downloads.prepare(tmp, portal_db.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, portal_db)
    downloads.activate(portal_db.parent, version_dir)
    return counts


def _finish_sqlite(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        for table, indexes in INDEXES.items():
            for columns in indexes:
                db.execute(f"CREATE INDEX idx_{table}_{'_'.join(columns)} ON {table} ({', '.join(columns)})")
        counts = {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in PUBLISHED_TABLES}
        db.execute("ANALYZE")
        db.commit()
        db.execute("VACUUM")
        from sti_portal.targets.tables import add_fulltext

        add_fulltext(db)  # after the VACUUM: an external-content FTS index maps to rowids
    finally:
        db.close()
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
    return counts
