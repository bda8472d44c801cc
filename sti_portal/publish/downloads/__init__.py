"""Pre-built downloads, written at publish time and swapped in with sti.db; composed when served.

Journalists get whole tables as files (never streamed row by row from SQLite): every published table,
every indicator and every Chinese region as CSV (UTF-8), CSV for Excel (UTF-8 with a byte-order mark,
so Excel shows Chinese correctly) and JSON, plus one ZIP with the tidy CSVs, a Frictionless
``datapackage.json`` (units, sources, licences) and a README saying how to cite.

Every CSV row carries ``source`` (the title of the row's source) and ``retrieved`` (the date this version
was published by sti-portal); every JSON file carries the same in its envelope.

**Parts.** Nothing is stored twice and nothing big is rewritten when little changes. DuckDB writes
(``COPY ... TO``, no row passes through Python) the *body rows* of

- the three big tables (observations, observation_history, revisions) as one part per
  (indicator_id, year), in the table's published order, so that the parts of a table in
  (indicator_id, year) order are exactly the whole table and an indicator's observation parts are
  exactly that indicator's file;
- every other table whole, and every Chinese region's current values whole (one part each);

each part once as CSV body (``.csv``: no header, CRLF line ends, RFC 4180 quoting, the ``retrieved``
field always quoted) and once as newline-delimited JSON objects (``.ndjson``). A full build writes each
big table (and all region files) with ONE COPY per format, in published order, and cuts the file into
its parts at record ends in a background thread, hashing them on the way (a COPY per part costs a few
milliseconds each: seconds for the ~1,000 partitions); an incremental build writes one COPY per touched
part, reading it from sti.db through SQLite's (indicator_id, year) index. A download is then
a *head* + parts + a *tail*, all described by ``manifest.json``: a CSV is its header line + the parts,
the Excel CSV the same after a BOM, a JSON file the envelope (title, source list, licence, retrieved,
citation, columns) + the parts' objects joined with commas + ``]}``. The portal streams that
composition (``portal/plugins/sti_downloads.py``, through `iter_download`) with its exact
Content-Length; the bulk ZIP is composed the same way and deflated while it is sent (zipfile on a
non-seekable sink: data descriptors, fixed timestamps, so the same data give the same bytes).

**Incremental.** `prepare_incremental` hard-links every part of the previous version that a load did
not touch and writes only the touched (indicator_id, year) partitions, the touched regions and the
small tables. A part keeps the ``retrieved`` date it was written with (recorded in the manifest); when
it is older than the version's date, the composition rewrites the date on the fly: every CSV record
ends with ``,"YYYY-MM-DD"\\r\\n`` and, since a quote inside a quoted field is always doubled, that
byte sequence occurs nowhere else, so a fixed-length replacement gives exactly the bytes a full
rebuild writes (tests/test_portal_downloads.py compares both).

Layout under STI_HOME (or a generation directory, sti_portal/publish/generations.py)::

    downloads -> downloads.d/<version>       (a symlink, swapped atomically with os.replace)
    downloads.d/<version>/manifest.json      every download: kind, rows, bytes, head/tail, parts; every part:
                                             rows, sources, retrieved date, bytes and sha256 of each file
    downloads.d/<version>/parts/<table>/<indicator_id>/<year>.csv | .ndjson   big tables
    downloads.d/<version>/parts/tables/<table>.csv | .ndjson                   other tables
    downloads.d/<version>/parts/regions/<region_code>.csv | .ndjson
    downloads.d/<version>/package/README.md, datapackage.json                  (ZIP members)

URLs (unchanged): /downloads/tables/<table>.csv | -excel.csv | .json, /downloads/indicators/<id>...,
/downloads/regions/<code>..., /downloads/sti-portal-data.zip.

Modules: layout.py (names, order, what a version holds), rows.py (staged tables or a sti.db file),
parts.py (COPY, cutting, hashing; full and incremental builds), manifest.py (manifest.json, README.md,
datapackage.json), compose.py (serving: head + parts + tail, the ZIP). This module publishes versions
(prepare, prepare_incremental, activate) and is what other layers import (__all__).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from sti_portal.publish.downloads.compose import content_length, find_file, iter_download, read_manifest
from sti_portal.publish.downloads.layout import KEEP_OLD_VERSIONS, LAYOUT, MANIFEST
from sti_portal.publish.downloads.parts import build_full, build_incremental
from sti_portal.publish.downloads.rows import StagedRows, open_sti_db, stage_sqlite, staged_tables

__all__ = [
    "activate",
    "content_length",
    "discard",
    "find_file",
    "iter_download",
    "prepare",
    "prepare_incremental",
    "read_manifest",
    "supports_incremental",
]


def downloads_link(home: Path) -> Path:
    return home / "downloads"


def versions_dir(home: Path) -> Path:
    return home / "downloads.d"


def _new_version_dir(home: Path, content_sha256: str) -> Path:
    return versions_dir(home) / f"{(content_sha256 or '')[:12] or 'nohash'}-{time.time_ns()}"


def prepare(portal_db: Path, home: Path, *, con=None, tables: Iterable[str] | None = None) -> Path:
    """Build every download for a not-yet-published sti.db into a new version directory under `home`.

    The rows come from `con` when given: a DuckDB connection (or cursor) whose `memory.main` schema holds
    the published tables as sti_portal.publish.portal_db stages them (`tables`: their names, each in its published
    order); else from the sti.db file at `portal_db`, copied into memory first. Both give the same bytes.
    """
    own = con is None
    if own:
        con, source = open_sti_db(portal_db)
    target = None
    try:
        rows = (
            stage_sqlite(con, source) if own else StagedRows(con, tables if tables is not None else staged_tables(con))
        )
        info = dict(rows.fetch(f"SELECT key, value FROM {rows.whole('build_info')}"))
        target = _new_version_dir(home, info.get("content_sha256", ""))
        build_full(rows, target)
        return target
    except BaseException:
        if target is not None:
            shutil.rmtree(target, ignore_errors=True)
        raise
    finally:
        if own:
            con.close()


def prepare_incremental(
    portal_db: Path, home: Path, *, previous: Path, partitions: Iterable[tuple[str, int]], regions: Iterable[str]
) -> Path:
    """Downloads for a sti.db that differs from the one `previous` was built for in a few partitions only.

    Contract:
    - `portal_db` is the new, complete sti.db (not yet published). Its three big tables
      (observations, observation_history, revisions) differ from the sti.db of `previous` only in
      the rows of `partitions`, a set of (indicator_id, year): every partition whose rows were added,
      changed or removed in ANY of the three must be listed (listing more is harmless, only slower).
      The tables need an index on (indicator_id, year) (sti_portal/publish/portal_db.INDEXES) and observations one
      starting with region_code: the touched rows are read through them.
    - `regions` holds every region_code whose current values (observations) changed; codes without a
      region file (counties, countries) are ignored. Region files are (re)written for these and for any
      region that has no file yet; the others are hard-linked.
    - The catalogue did not change: same indicator and region names, same `sources` titles for the
      untouched rows (a change there needs a full `prepare`). Every other table is small and written whole.
    - `previous` is the version directory to share parts with (a `downloads.d/<version>` of the published
      generation); it is only read. Parts not touched are hard-linked from it (copied if on another
      file system).

    Returns the new version directory under `home`/downloads.d, to be switched in with `activate` (or
    thrown away with `discard`). The downloads it serves are byte for byte those a full `prepare` of the
    same sti.db gives (a hard-linked part keeps its own `retrieved` date on disk, rewritten when served).
    A count of each big table against its parts catches a partition that changed size but was not
    declared (ValueError, nothing left behind); a changed value in an undeclared partition is not caught.
    """
    con, rows = open_sti_db(portal_db)
    target = None
    try:
        info = dict(rows.fetch(f"SELECT key, value FROM {rows.whole('build_info')}"))
        target = _new_version_dir(home, info.get("content_sha256", ""))
        build_incremental(rows, target, Path(previous), partitions, regions)
        return target
    except BaseException:
        if target is not None:
            shutil.rmtree(target, ignore_errors=True)
        raise
    finally:
        con.close()


def supports_incremental(version_dir: Path | None) -> bool:
    """Whether `version_dir` holds parts that prepare_incremental can share."""
    if version_dir is None:
        return False
    try:
        manifest = json.loads((Path(version_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return manifest.get("layout") == LAYOUT


def activate(home: Path, version_dir: Path) -> None:
    """Point `downloads` at `version_dir` atomically (symlink replaced with os.replace); prune old versions."""
    link = downloads_link(home)
    tmp_link = home / f".downloads.{os.getpid()}.tmp"
    tmp_link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(version_dir, home), tmp_link)
    if link.exists() and not link.is_symlink():  # a real directory from some manual copy: move it aside
        shutil.rmtree(link)
    os.replace(tmp_link, link)
    _prune(home, keep=version_dir.name)


def discard(version_dir: Path) -> None:
    shutil.rmtree(version_dir, ignore_errors=True)


def _prune(home: Path, keep: str) -> None:
    folder = versions_dir(home)
    others = sorted(
        (p for p in folder.iterdir() if p.is_dir() and p.name != keep), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for old in others[KEEP_OLD_VERSIONS:]:
        shutil.rmtree(old, ignore_errors=True)
