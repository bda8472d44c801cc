"""DuckDB's sqlite extension, from its PyPI wheel: publish writes sti.db through it, the downloads read it back.

Its own module so that portal_db and downloads both import it from below (neither imports the other for it).
"""

from __future__ import annotations

from pathlib import Path

import duckdb_extension_sqlite_scanner


def sqlite_extension_path() -> str:
    """The sqlite_scanner extension shipped as a PyPI wheel (INSTALL would need the internet)."""
    found = sorted(
        Path(duckdb_extension_sqlite_scanner.__path__[0]).glob("extensions/*/sqlite_scanner.duckdb_extension")
    )
    if not found:
        raise RuntimeError("duckdb-extension-sqlite-scanner is installed but holds no extension file")
    return str(found[-1])
