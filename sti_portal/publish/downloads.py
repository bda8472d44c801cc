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

Layout under STI_HOME (or a generation directory, sti_portal/generations.py)::

    downloads -> downloads.d/<version>       (a symlink, swapped atomically with os.replace)
    downloads.d/<version>/manifest.json      every download: kind, rows, bytes, head/tail, parts; every part:
                                             rows, sources, retrieved date, bytes and sha256 of each file
    downloads.d/<version>/parts/<table>/<indicator_id>/<year>.csv | .ndjson   big tables
    downloads.d/<version>/parts/tables/<table>.csv | .ndjson                   other tables
    downloads.d/<version>/parts/regions/<region_code>.csv | .ndjson
    downloads.d/<version>/package/README.md, datapackage.json                  (ZIP members)

URLs (unchanged): /downloads/tables/<table>.csv | -excel.csv | .json, /downloads/indicators/<id>...,
/downloads/regions/<code>..., /downloads/sti-portal-data.zip.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import yaml

from sti_portal.core.settings import PORTAL_DIR
from sti_portal.transform.derive import DERIVED_SOURCE_ID

PORTAL_NAME = "sti-portal"
BOM = "\ufeff"
ZIP_NAME = "sti-portal-data.zip"
ZIP_ROOT = "sti-portal-data"
MANIFEST = "manifest.json"
LAYOUT = "parts-1"   # manifest["layout"]: what supports_incremental() accepts
# Tables in the order the ZIP and the downloads page list them (any other published table follows).
TABLE_ORDER = ["observations", "observation_history", "revisions", "release_differences", "indicators",
               "regions", "region_aliases", "sources", "releases",
               "target_progress", "targets", "policy_statements", "policy_documents", "target_indicators",
               "validation_results", "build_info"]
# The tables stored as one part per (indicator_id, year), with the rest of their published order
# (sti_portal/publish.PUBLISHED_TABLES) inside a part. `_precedence` is the release's precedence
# (table releases): observation_history is ordered by it but does not publish it.
PARTITIONED = {
    "observations": "region_code NULLS LAST",
    "observation_history": "region_code NULLS LAST, vintage NULLS FIRST, _precedence NULLS LAST, release NULLS LAST",
    "revisions": "region_code NULLS LAST, new_release NULLS LAST",
}
# A region's file: its current values (observations) by indicator and year.
REGION_ORDER = "region_code NULLS LAST, indicator_id NULLS LAST, year NULLS LAST"
PRIMARY_KEYS = {
    "observations": ["region_code", "indicator_id", "year"],
    "observation_history": ["region_code", "indicator_id", "year", "release"],
    "indicators": ["indicator_id"],
    "regions": ["region_code"],
    "sources": ["source_id"],
    "releases": ["release_id"],
    "build_info": ["key"],
    "policy_documents": ["doc_id"],
    "policy_statements": ["statement_id"],
    "targets": ["statement_id"],
    "target_progress": ["statement_id"],
    "target_indicators": ["indicator"],
}
# Chinese regions get their own files (countries only have the World Bank series).
REGION_LEVELS_WITH_FILES = ("national", "province", "sar_or_taiwan")
DERIVED_SOURCE_TITLE = "Derived by sti-portal from its inputs' sources (see indicators.derivation)"
KEEP_OLD_VERSIONS = 1  # besides the current one, so a download already under way can finish
CHUNK = 1 << 20        # bytes read per step when composing a download
ZIP_LEVEL = 6          # deflate level of the bulk ZIP (compressed while it is sent)
ZIP_TITLE = "All tables: tidy CSVs, datapackage.json, README"


@dataclass(frozen=True)
class BuildStamp:
    built_at_utc: str
    content_sha256: str

    @property
    def date(self) -> str:
        return self.built_at_utc[:10]


def metadata() -> dict:
    return yaml.safe_load((PORTAL_DIR / "metadata.yml").read_text(encoding="utf-8"))


def citation(source: str, retrieved: str, url: str = "") -> str:
    where = f", {url}" if url else ""
    return f"Source: {source}, retrieved {retrieved}, {PORTAL_NAME}{where}"


def source_title(sources: dict, source_id: str | None) -> str:
    """The `source` column of a row: the title of its source (`title_en (title_zh)`)."""
    source = sources.get(source_id or "")
    if source:
        return f"{source['title_en']} ({source['title_zh']})"
    if source_id == DERIVED_SOURCE_ID:
        return DERIVED_SOURCE_TITLE
    return source_id or ""


def _frictionless_type(duckdb_type: str) -> str:
    declared = duckdb_type.upper()
    if "INT" in declared or declared == "BOOLEAN":
        return "integer"
    if any(word in declared for word in ("DOUBLE", "REAL", "FLOAT", "DECIMAL", "NUMERIC")):
        return "number"
    return "string"


def _lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _segment(value) -> str:
    """A file-name segment for an indicator id, year or region code (anything odd is hex-encoded)."""
    if value is None:
        return "~null"
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}", text):
        return text
    return "~" + text.encode("utf-8").hex()[:180] + "-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def _sort_key(indicator_id, year) -> tuple:
    """(indicator_id, year) in DuckDB's ORDER BY order: bytewise, NULLs last."""
    return (indicator_id is None, (indicator_id or "").encode("utf-8"), year is None, year or 0)


def _csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


def _retrieved_pattern(date: str) -> bytes:
    """How every CSV record of a part written on `date` ends (and nothing else in it, see the module doc)."""
    return f',"{date}"\r\n'.encode("ascii")


# --------------------------------------------------------------------------- where the rows come from

class _Rows:
    """The published tables as DuckDB relations: staged tables (publish) or the sti.db file."""

    def __init__(self, con):
        self.con = con
        self._tables: list[str] = []
        self._columns: dict[str, list[tuple[str, str]]] = {}

    def tables(self) -> list[str]:
        return self._tables

    def relation(self, table: str) -> str:
        """The DuckDB name of a published table."""
        raise NotImplementedError

    def columns(self, table: str) -> list[tuple[str, str]]:
        if table not in self._columns:
            rel = self.con.sql(f"SELECT * FROM {self.relation(table)}")
            self._columns[table] = [(name, str(type_)) for name, type_ in zip(rel.columns, rel.types)]
        return self._columns[table]

    def whole(self, table: str) -> str:
        """Every row, with `_row`: the published order (the order the rows were inserted in)."""
        raise NotImplementedError

    def where(self, table: str, conditions: list[tuple[str, object]]) -> str:
        """The rows with column = value for every (column, value)."""
        raise NotImplementedError

    def fetch(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()

    @staticmethod
    def _condition(column: str, value) -> str:
        if value is None:
            return f"{_ident(column)} IS NULL"
        if isinstance(value, int):
            return f"{_ident(column)} = {int(value)}"
        return f"{_ident(column)} = {_lit(value)}"

    def ordered_tables(self, names: Iterable[str]) -> list[str]:
        names = set(names)
        return [t for t in TABLE_ORDER if t in names] + sorted(names - set(TABLE_ORDER))


class _StagedRows(_Rows):
    """Tables staged by sti_portal.publish.portal_db in the main schema of an in-memory DuckDB database."""

    def __init__(self, con, tables: Iterable[str], schema: str = "memory.main"):
        super().__init__(con)
        self.schema = schema
        self._tables = self.ordered_tables(tables)

    def relation(self, table: str) -> str:
        return f"{self.schema}.{_ident(table)}"

    def whole(self, table: str) -> str:
        return f"(SELECT *, rowid AS _row FROM {self.schema}.{_ident(table)})"

    def where(self, table: str, conditions: list[tuple[str, object]]) -> str:
        test = " AND ".join(self._condition(c, v) for c, v in conditions)
        return f"(SELECT * FROM {self.schema}.{_ident(table)} WHERE {test})"


class _SqliteRows(_Rows):
    """The tables of a sti.db file, read through the sqlite extension.

    Filters go to SQLite itself (`sqlite_query`, so the (indicator_id, year) and (region_code, ...) indexes
    are used: the attached tables' scans do not push filters down). sqlite_query returns text, so doubles
    travel as `printf('%!.20e')` (exact) and are cast back to the declared types.
    """

    ALIAS = "sti_src"

    def __init__(self, con, path: Path):
        super().__init__(con)
        from sti_portal.publish.portal_db import sqlite_extension_path

        con.execute(f"LOAD {_lit(sqlite_extension_path())}")
        con.execute(f"ATTACH {_lit(str(path))} AS {self.ALIAS} (TYPE sqlite, READ_ONLY)")
        master = "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        found = dict(self.fetch(f"SELECT name, sql FROM sqlite_query({_lit(self.ALIAS)}, {_lit(master)})"))
        virtual = [name for name, sql in found.items() if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
        hidden = {name for name in found if any(name == v or name.startswith(v + "_") for v in virtual)}
        self._tables = self.ordered_tables(set(found) - hidden)

    def relation(self, table: str) -> str:
        return f"{self.ALIAS}.{_ident(table)}"

    def _query(self, table: str, tail: str, row: bool = False) -> str:
        columns = self.columns(table)
        inner = ["rowid AS _row"] if row else []
        for name, type_ in columns:
            if type_ in ("DOUBLE", "FLOAT", "REAL"):
                inner.append(f"CASE WHEN {_ident(name)} IS NULL THEN NULL ELSE printf('%!.20e', {_ident(name)}) END "
                             f"AS {_ident(name)}")
            else:
                inner.append(_ident(name))
        sql = f"SELECT {', '.join(inner)} FROM {_ident(table)} {tail}"
        outer = ", ".join(f"CAST({_ident(n)} AS {t}) AS {_ident(n)}"
                          for n, t in ([("_row", "BIGINT")] if row else []) + columns)
        return f"(SELECT {outer} FROM sqlite_query({_lit(self.ALIAS)}, {_lit(sql)}))"

    def whole(self, table: str) -> str:
        return self._query(table, "", row=True)

    def where(self, table: str, conditions: list[tuple[str, object]]) -> str:
        return self._query(table, "WHERE " + " AND ".join(self._condition(c, v) for c, v in conditions))


# --------------------------------------------------------------------------- writing parts

@dataclass
class _TableInfo:
    name: str
    columns: list[tuple[str, str]]
    title: str
    description: str
    table_source: str
    license: str
    column_descriptions: dict
    has_source_id: bool


@dataclass
class _State:
    """What a version holds: enough to write its manifest, README and datapackage."""

    stamp: BuildStamp
    sources: dict
    tables: list[_TableInfo]
    indicators: list[tuple]                      # indicator_id, name_zh, name_en, unit, unit_en, stock_or_flow, caveats
    regions: list[tuple]                         # region_code, name_zh, name_en (regions with files)
    partitions: dict[str, list[list]] = field(default_factory=dict)   # table -> [[indicator_id, year, key], ...]
    parts: dict[str, dict] = field(default_factory=dict)             # key -> rows, sources, retrieved, csv, json


class _Writer:
    """Writes parts with DuckDB COPY: per part, or one file per table split into parts; hashes in a thread."""

    def __init__(self, rows: _Rows, out_dir: Path, state: _State):
        self.rows = rows
        self.con = rows.con
        self.out = out_dir
        self.state = state
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sti-downloads-split")
        self.jobs: list = []
        titles = {sid: source_title(state.sources, sid) for sid in state.sources}
        titles.setdefault(DERIVED_SOURCE_ID, DERIVED_SOURCE_TITLE)
        # The `source` column without a join, so a scan keeps its order: a CASE over the few sources.
        self.source_expr = ("CASE t.source_id " + " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in titles.items())
                            + " ELSE t.source_id END")
        self._precedence = False

    @property
    def date(self) -> str:
        return self.state.stamp.date

    # -- SQL
    @staticmethod
    def _value(name: str, type_: str, for_csv: bool) -> str:
        column = f"t.{_ident(name)}"
        declared = type_.upper()
        if declared == "BOOLEAN":        # SQLite has no booleans: 0/1, as sti.db serves them
            return f"CAST({column} AS INTEGER)"
        if declared in ("DOUBLE", "FLOAT", "REAL") or declared.startswith("DECIMAL"):
            return f"(CAST({column} AS DOUBLE) + 0.0)"   # + 0.0: no -0.0 (SQLite cannot keep it either)
        if declared in ("DATE", "TIME") or declared.startswith("TIMESTAMP"):
            return f"CAST({column} AS VARCHAR)"
        if declared == "VARCHAR" and for_csv:
            return f"NULLIF({column}, '')"  # an empty string and a NULL are both an empty field
        return column

    def precedence_table(self) -> None:
        if not self._precedence:
            self.con.execute("CREATE OR REPLACE TEMP TABLE _dl_precedence AS SELECT CAST(release_id AS VARCHAR) "
                             f"AS release_id, CAST(precedence AS BIGINT) AS precedence FROM {self.rows.whole('releases')}")
            self._precedence = True

    def select(self, info: _TableInfo, relation: str, order: str, for_csv: bool) -> str:
        """The rows as written: `relation` (alias t) in `order` ('' = as the relation yields them)."""
        items = [f"{self._value(n, ty, for_csv)} AS {_ident(n)}" for n, ty in info.columns]
        if for_csv:
            source = self.source_expr if info.has_source_id else _lit(info.table_source)
            items.append(f"NULLIF({source}, '') AS source")
            items.append(f"{_lit(self.date)} AS retrieved")
        join = ""
        if "_precedence" in order:
            self.precedence_table()
            join = " LEFT JOIN _dl_precedence r ON r.release_id = t.release"
        keys = [k.strip() for k in order.split(",") if k.strip()]
        order_sql = ", ".join(k.replace("_precedence", "r.precedence") if k.startswith("_precedence") else f"t.{k}"
                              for k in keys)
        return f"SELECT {', '.join(items)} FROM {relation} t{join}" + (f" ORDER BY {order_sql}" if order_sql else "")

    def _copy(self, select: str, path: Path, kind: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        options = ("FORMAT csv, HEADER false, NEW_LINE '\r\n', FORCE_QUOTE (retrieved)" if kind == "csv"
                   else "FORMAT json")
        self.con.execute(f"COPY ({select}) TO {_lit(str(path))} ({options})")

    def _new_part(self, key: str, rows: int, sources: list[str]) -> None:
        self.state.parts[key] = {"rows": rows, "sources": sources, "retrieved": self.date, "csv": {}, "json": {}}

    # -- writing
    def write_part(self, key: str, info: _TableInfo, relation: str, order: str, rows: int, sources: list[str]) -> None:
        """One part: its rows (`relation`, in `order`) as CSV body and NDJSON."""
        self._new_part(key, rows, sources)
        for kind, suffix in (("csv", ".csv"), ("json", ".ndjson")):
            path = self.out / (key + suffix)
            self._copy(self.select(info, relation, order, kind == "csv"), path, kind)
            self.jobs.append(self.pool.submit(_hash_job, path, key, kind))

    def write_segmented(self, info: _TableInfo, relation: str, order: str, segments: list[tuple[str, int, list]],
                        name: str) -> None:
        """Many parts in one COPY per format: `relation` in `order` yields the segments' rows one segment
        after the other; the file is then cut into the part files at record ends (in the background)."""
        if not segments:
            return
        for key, rows, sources in segments:
            self._new_part(key, rows, sources)
        cuts = [(key, rows) for key, rows, _ in segments]
        for kind, suffix, end in (("csv", ".csv", _retrieved_pattern(self.date)), ("json", ".ndjson", b"\n")):
            scratch = self.out / "scratch" / f"{name}{suffix}"
            self._copy(self.select(info, relation, order, kind == "csv"), scratch, kind)
            self.jobs.append(self.pool.submit(_split_job, scratch, self.out, cuts, suffix, end, kind))

    def link_part(self, key: str, previous_dir: Path, previous: dict) -> None:
        for suffix in (".csv", ".ndjson"):
            target = self.out / (key + suffix)
            target.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(previous_dir / (key + suffix), target)
        self.state.parts[key] = previous

    def finish(self) -> None:
        for job in self.jobs:
            for key, kind, size, digest in job.result():
                self.state.parts[key][kind] = {"bytes": size, "sha256": digest}
        self.jobs = []
        shutil.rmtree(self.out / "scratch", ignore_errors=True)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _hash_job(path: Path, key: str, kind: str) -> list[tuple]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return [(key, kind, size, digest.hexdigest())]


def _split_job(source: Path, out_dir: Path, cuts: list[tuple[str, int]], suffix: str, end: bytes,
               kind: str) -> list[tuple]:
    """Cut `source` into one file per (key, records), in order; every record ends with `end` (and no
    record contains it: see the module doc). Removes `source`."""
    results = []
    width = len(end)
    buffer = b""
    with open(source, "rb") as handle:
        for key, records in cuts:
            path = out_dir / (key + suffix)
            path.parent.mkdir(parents=True, exist_ok=True)
            digest, size = hashlib.sha256(), 0
            with open(path, "wb") as target:
                remaining = records
                while remaining > 0:
                    found = buffer.count(end)
                    if found >= remaining:
                        position = 0
                        for _ in range(remaining):
                            position = buffer.index(end, position) + width
                        piece, buffer, remaining = buffer[:position], buffer[position:], 0
                    else:
                        cut = buffer.rindex(end) + width if found else 0
                        piece, buffer, remaining = buffer[:cut], buffer[cut:], remaining - found
                        chunk = handle.read(CHUNK)
                        if not chunk:
                            raise ValueError(f"{source.name}: {key} lacks {remaining} of its {records} records")
                        buffer += chunk
                    if piece:
                        target.write(piece)
                        digest.update(piece)
                        size += len(piece)
            results.append((key, kind, size, digest.hexdigest()))
        if buffer or handle.read(1):
            raise ValueError(f"{source.name}: more records than its parts hold")
    source.unlink()
    return results


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


# --------------------------------------------------------------------------- what a version holds

def _read_state(rows: _Rows, meta: dict) -> _State:
    info = dict(rows.fetch(f"SELECT key, value FROM {rows.whole('build_info')}"))
    built = info.get("built_at_utc") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stamp = BuildStamp(built, info.get("content_sha256", "") or "")
    sources = {row[0]: {"source_id": row[0], "title_zh": row[1], "title_en": row[2], "publisher": row[3],
                        "url": row[4], "license": row[5], "caveats": row[6]}
               for row in rows.fetch("SELECT source_id, title_zh, title_en, publisher, url, license, caveats "
                                     f"FROM {rows.whole('sources')} t ORDER BY t._row")}
    tables_meta = meta["databases"]["sti"]["tables"]
    tables = []
    for name in rows.tables():
        table_meta = tables_meta.get(name, {})
        columns = rows.columns(name)
        tables.append(_TableInfo(
            name=name, columns=columns, title=table_meta.get("title", name),
            description=table_meta.get("description", ""),
            table_source=table_meta.get("source") or meta.get("source", ""),
            license=table_meta.get("license", meta.get("license", "")),
            column_descriptions=dict(table_meta.get("columns") or {}),
            has_source_id=any(c == "source_id" for c, _ in columns)))
    indicators = rows.fetch("SELECT indicator_id, name_zh, name_en, unit, unit_en, stock_or_flow, caveats "
                            f"FROM {rows.whole('indicators')} ORDER BY indicator_id")
    return _State(stamp=stamp, sources=sources, tables=tables, indicators=indicators, regions=[])


def _region_candidates(rows: _Rows) -> list[tuple]:
    levels = ", ".join(_lit(level) for level in REGION_LEVELS_WITH_FILES)
    return rows.fetch(f"SELECT region_code, name_zh, name_en FROM {rows.whole('regions')} "
                      f"WHERE level IN ({levels}) ORDER BY region_code")


def _part_key(table: str, indicator_id, year) -> str:
    return f"parts/{table}/{_segment(indicator_id)}/{_segment(year)}"


def _table_key(table: str) -> str:
    return f"parts/tables/{_segment(table)}"


def _region_key(code: str) -> str:
    return f"parts/regions/{_segment(code)}"


def _titles(state: _State, info: _TableInfo, counts: dict) -> list[str]:
    if not info.has_source_id:
        return [info.table_source]
    return sorted({source_title(state.sources, source_id) for source_id in counts})


def _counts(rows: _Rows, relation: str, keys: list[str], has_source: bool) -> dict:
    """{key values: {source_id: rows}} over `relation`."""
    source = "source_id" if has_source else "NULL"
    found: dict = {}
    # HAVING: with constant keys only, GROUP BY gives one row (count 0) even for no rows at all.
    for *key, source_id, n in rows.fetch(f"SELECT {', '.join(keys)}, {source} AS source_id, count(*) "
                                         f"FROM {relation} GROUP BY ALL HAVING count(*) > 0"):
        found.setdefault(tuple(key), {})[source_id] = n
    return found


def _partition(key: tuple) -> tuple:
    indicator_id, year = key
    return indicator_id, None if year is None else int(year)


def _write_small_table(writer: _Writer, state: _State, info: _TableInfo) -> None:
    counts = _counts(writer.rows, writer.rows.whole(info.name), ["1"], info.has_source_id).get((1,), {})
    writer.write_part(_table_key(info.name), info, writer.rows.whole(info.name), "_row", sum(counts.values()),
                      _titles(state, info, counts))


def _stage_sqlite(con, rows: _SqliteRows) -> "_StagedRows":
    """Copy a sti.db's tables into memory in their published order (what publish stages), for a full build."""
    writer_order = PARTITIONED
    con.execute("CREATE OR REPLACE TEMP TABLE _dl_precedence AS SELECT CAST(release_id AS VARCHAR) AS release_id, "
                f"CAST(precedence AS BIGINT) AS precedence FROM {rows.whole('releases')}")
    for table in rows.tables():
        if table in writer_order:
            keys = ["indicator_id NULLS LAST", "year NULLS LAST"] + [k.strip() for k in writer_order[table].split(",")]
            order = ", ".join(k.replace("_precedence", "r.precedence") if k.startswith("_precedence") else f"t.{k}"
                              for k in keys)
            con.execute(f"CREATE TABLE memory.main.{_ident(table)} AS SELECT t.* EXCLUDE (_row) FROM {rows.whole(table)} t "
                        f"LEFT JOIN _dl_precedence r ON r.release_id = t.release ORDER BY {order}"
                        if "_precedence" in writer_order[table] else
                        f"CREATE TABLE memory.main.{_ident(table)} AS SELECT t.* EXCLUDE (_row) FROM {rows.whole(table)} t "
                        f"ORDER BY {order}")
        else:
            con.execute(f"CREATE TABLE memory.main.{_ident(table)} AS SELECT t.* EXCLUDE (_row) "
                        f"FROM {rows.whole(table)} t ORDER BY t._row")
    return _StagedRows(con, rows.tables())


def build_full(rows: "_StagedRows", out_dir: Path) -> dict:
    """Write every part and the manifest into `out_dir` (must not exist) from staged tables: the three
    big ones in their published order (which starts with indicator_id, year), so that one COPY per
    table and format writes all its partitions, one after the other."""
    out_dir.mkdir(parents=True)
    meta = metadata()
    state = _read_state(rows, meta)
    writer = _Writer(rows, out_dir, state)
    try:
        by_name = {info.name: info for info in state.tables}
        for info in state.tables:
            if info.name not in PARTITIONED:
                _write_small_table(writer, state, info)
                continue
            table = f"{rows.schema}.{_ident(info.name)}"
            counts = _counts(rows, table, ["indicator_id", "year"], info.has_source_id)
            partitions = sorted((_partition(k) for k in counts), key=lambda p: _sort_key(*p))
            segments = []
            entries = []
            for indicator_id, year in partitions:
                by_source = counts[(indicator_id, year)]
                key = _part_key(info.name, indicator_id, year)
                segments.append((key, sum(by_source.values()), _titles(state, info, by_source)))
                entries.append([indicator_id, year, key])
            state.partitions[info.name] = entries
            writer.write_segmented(info, table, "", segments, info.name)   # "": the staged order
        observations = by_name.get("observations")
        if observations is not None:
            codes = [row for row in _region_candidates(rows)]
            wanted = ", ".join(_lit(code) for code, _, _ in codes) or "NULL"
            relation = f"(SELECT * FROM {rows.schema}.observations WHERE region_code IN ({wanted}))"
            counts = _counts(rows, relation, ["region_code"], True)
            state.regions = [row for row in codes if (row[0],) in counts]
            segments = [(_region_key(code), sum(counts[(code,)].values()), _titles(state, observations, counts[(code,)]))
                        for code, _, _ in state.regions]
            writer.write_segmented(observations, relation, REGION_ORDER, segments, "regions")
        writer.finish()
    finally:
        writer.close()
    return _write_manifest(out_dir, state, meta)


def build_incremental(rows: _SqliteRows, out_dir: Path, previous_dir: Path, partitions: Iterable[tuple[str, int]],
                      regions: Iterable[str]) -> dict:
    """See prepare_incremental."""
    previous = read_manifest(previous_dir)
    if not previous or previous.get("layout") != LAYOUT:
        raise ValueError(f"{previous_dir} holds no parts-based downloads: build them in full")
    touched = {(p[0], None if p[1] is None else int(p[1])) for p in partitions}
    touched_regions = set(regions)
    out_dir.mkdir(parents=True)
    meta = metadata()
    state = _read_state(rows, meta)
    writer = _Writer(rows, out_dir, state)
    try:
        by_name = {info.name: info for info in state.tables}
        for info in state.tables:
            if info.name not in PARTITIONED:
                _write_small_table(writer, state, info)
                continue
            entries = []
            for indicator_id, year, key in previous.get("partitions", {}).get(info.name, []):
                if (indicator_id, year) not in touched:
                    writer.link_part(key, previous_dir, previous["parts"][key])
                    entries.append([indicator_id, year, key])
            for indicator_id, year in sorted(touched, key=lambda p: _sort_key(*p)):
                relation = rows.where(info.name, [("indicator_id", indicator_id), ("year", year)])
                by_source = _counts(rows, relation, ["1"], info.has_source_id).get((1,), {})
                if by_source:
                    key = _part_key(info.name, indicator_id, year)
                    writer.write_part(key, info, relation, PARTITIONED[info.name], sum(by_source.values()),
                                      _titles(state, info, by_source))
                    entries.append([indicator_id, year, key])
            entries.sort(key=lambda e: _sort_key(e[0], e[1]))
            state.partitions[info.name] = entries
            # The contract (only the declared partitions changed) checked where it is cheap: row counts.
            total = _sqlite_count(rows, info.name)
            listed = sum(state.parts[e[2]]["rows"] for e in entries)
            if total != listed:
                raise ValueError(f"{info.name}: {total} rows in the database but {listed} in the parts: partitions "
                                 "changed that were not declared touched; build the downloads in full")
        observations = by_name.get("observations")
        if observations is not None:
            had = {entry["region_code"] for entry in previous.get("regions", [])}
            kept = []
            for row in _region_candidates(rows):
                code, key = row[0], _region_key(row[0])
                if code in had and code not in touched_regions:
                    writer.link_part(key, previous_dir, previous["parts"][key])
                    kept.append(row)
                    continue
                relation = rows.where("observations", [("region_code", code)])
                by_source = _counts(rows, relation, ["1"], True).get((1,), {})
                if by_source:
                    writer.write_part(key, observations, relation, REGION_ORDER, sum(by_source.values()),
                                      _titles(state, observations, by_source))
                    kept.append(row)
            state.regions = kept
        writer.finish()
    finally:
        writer.close()
    return _write_manifest(out_dir, state, meta)


def _sqlite_count(rows: _SqliteRows, table: str) -> int:
    sql = f"SELECT count(*) FROM {_ident(table)}"
    return int(rows.fetch(f"SELECT * FROM sqlite_query({_lit(rows.ALIAS)}, {_lit(sql)})")[0][0])


# --------------------------------------------------------------------------- manifest, README, datapackage

def _envelope_head(info: _TableInfo, stamp: BuildStamp, title: str, description: str, sources: list[str],
                   url_path: str, unit: str | None) -> str:
    envelope = {
        "title": title,
        "description": description,
        "source": sources,
        "license": info.license,
        "retrieved": stamp.date,
        "publisher": PORTAL_NAME,
        "url_path": url_path,
        "build": {"built_at_utc": stamp.built_at_utc, "content_sha256": stamp.content_sha256},
        "citation": citation("; ".join(sources), stamp.date),
        "unit": unit,
        "columns": [c for c, _ in info.columns],
    }
    if unit is None:
        envelope.pop("unit")
    text = json.dumps(envelope, ensure_ascii=False, indent=None, separators=(",", ":"))
    return text[:-1] + ',"rows":['


def _file_entries(state: _State, folder: str, name: str, info: _TableInfo, keys: list[str], about: dict,
                  title: str, description: str, unit: str | None = None) -> list[dict]:
    parts = state.parts
    rows = sum(parts[k]["rows"] for k in keys)
    sources = sorted({s for k in keys for s in parts[k]["sources"]}) or [info.table_source]
    header = _csv_line([c for c, _ in info.columns] + ["source", "retrieved"])
    csv_body = sum(parts[k]["csv"]["bytes"] for k in keys)
    json_body = sum(parts[k]["json"]["bytes"] for k in keys)
    base = f"{folder}/{name}"
    head = _envelope_head(info, state.stamp, title, description, sources, f"/downloads/{base}.json", unit)
    common = {"title": title, "rows": rows, **about, "parts": keys}
    return [
        {"path": f"{base}.csv", "kind": "csv", "bytes": len(header.encode()) + csv_body, "head": header, **common},
        {"path": f"{base}-excel.csv", "kind": "csv_bom", "bytes": len((BOM + header).encode()) + csv_body,
         "head": BOM + header, **common},
        {"path": f"{base}.json", "kind": "json", "head": head, "tail": "]}",
         "bytes": len(head.encode()) + json_body - (1 if json_body else 0) + 2, **common},
    ]


def _field(name: str, type_: str, info: _TableInfo, unit: str | None) -> dict:
    result = {"name": name, "type": _frictionless_type(type_)}
    description = info.column_descriptions.get(name)
    if name == "value" and unit:
        description = f"The value in {unit}" + (f". {description}" if description else "")
        result["unit"] = unit
    if description:
        result["description"] = str(description)
    return result


def _resource(path: str, entry: dict, info: _TableInfo, description: str, unit: str | None,
              primary_key: list[str] | None, sources: list[str], digest: str | None) -> dict:
    fields = [_field(name, type_, info, unit) for name, type_ in info.columns]
    fields.append({"name": "source", "type": "string",
                   "description": "Title and publisher of the source of this row (see sources.csv)"})
    fields.append({"name": "retrieved", "type": "date",
                   "description": "Date this version of the data was published by sti-portal (retrieval date for citation)"})
    schema = {"fields": fields, "missingValues": [""]}
    if primary_key:
        schema["primaryKey"] = primary_key
    resource = {
        "name": path.rsplit("/", 1)[-1].removesuffix(".csv").replace("_", "-").lower(),
        "path": path,
        "title": entry["title"],
        "description": description,
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "bytes": entry["bytes"],
    }
    if digest:   # composed (multi-part) resources have none: the hash of the whole is never computed
        resource["hash"] = f"sha256:{digest}"
    resource["sources"] = [{"title": title} for title in sources]
    resource["schema"] = schema
    if info.license:
        resource["licenses"] = [{"name": "other", "title": info.license}]
    return resource


def _readme(state: _State, meta: dict) -> str:
    stamp = state.stamp
    lines = [
        "# sti-portal data package — 区域科技创新统计数据包",
        "",
        "Science, technology and innovation statistics for China's provinces, compiled by sti-portal from",
        "official sources. Every value traces to a source file, sheet and cell (column `source_ref`).",
        "",
        f"- Published (retrieved from sti-portal): {stamp.date} (build {stamp.built_at_utc}, content sha256 {stamp.content_sha256})",
        "- `datapackage.json` describes every file (Frictionless Data Package: column types, units, sources, licences).",
        "- Every CSV row has `source` (its source) and `retrieved` (the date above).",
        "- CSVs are UTF-8 without a byte-order mark. For Excel, use the `-excel.csv` downloads on the portal,",
        "  or import with Data > From Text/CSV and choose UTF-8.",
        "",
        "## How to cite",
        "",
        "Cite the original source and sti-portal, with the retrieval date, e.g.:",
        "",
        f"> {citation('China Statistical Yearbook on Science and Technology (中国科技统计年鉴), National Bureau of Statistics of China and Ministry of Science and Technology', stamp.date)}",
        "",
        "For a single indicator, name its source from `indicators.csv` (`source_ids`) and `sources.csv`.",
        "Bulletin figures are first releases, later revised (see `revisions.csv`, `release_differences.csv`).",
        "",
        "## Files",
        "",
        "| file | contents |",
        "|---|---|",
    ]
    for info in state.tables:
        lines.append(f"| `data/{info.name}.csv` | {info.title} |")
    lines.append("| `by_indicator/<indicator_id>.csv` | current values of one indicator, every region and year |")
    lines += ["", "## Indicators and units", "", "| indicator_id | name | unit | note |", "|---|---|---|---|"]
    for indicator_id, name_zh, name_en, unit, unit_en, stock_or_flow, caveats in state.indicators:
        note = (caveats or "").replace("|", "/").replace("\n", " ")
        lines.append(f"| `{indicator_id}` | {name_zh} {name_en} | {unit} ({unit_en}) | {stock_or_flow}. {note} |")
    lines += ["", "## Sources", ""]
    for source in state.sources.values():
        lines.append(f"- **{source['title_en']}** ({source['title_zh']}), {source['publisher']}. {source['url']}. "
                     f"Licence: {source['license']}. {source['caveats']}")
    lines += ["", "## Licence", "",
              "The statistics are official statistics of their publishers (see each source's licence). sti-portal's",
              "catalogue, harmonisation and derived tables are CC BY 4.0.", ""]
    return "\n".join(lines)


def _datapackage(state: _State, resources: list[dict]) -> dict:
    stamp = state.stamp
    return {
        "profile": "data-package",
        "name": "sti-portal",
        "title": "sti-portal: regional science, technology and innovation statistics of China 区域科技创新统计",
        "description": "Current and historical values of STI indicators for China's provinces, with units, "
                       "definitions, sources and revisions. See README.md for how to cite.",
        "version": stamp.date,
        "created": stamp.built_at_utc,
        "homepage": "http://127.0.0.1:8001/",
        "contributors": [{"title": PORTAL_NAME, "role": "publisher"}],
        "licenses": [{"name": "CC-BY-4.0", "title": "sti-portal catalogue, harmonisation and derived tables",
                      "path": "https://creativecommons.org/licenses/by/4.0/"}],
        "sources": [{"title": f"{s['title_en']} ({s['title_zh']})", "path": s["url"],
                     "description": f"{s['publisher']}. Licence: {s['license']}. {s['caveats']}"}
                    for s in state.sources.values()],
        "resources": resources,
    }


def _small_digest(out_dir: Path, entry: dict) -> str:
    """sha256 of a single-part CSV as served (header + body); only for the small tables."""
    digest = hashlib.sha256(entry["head"].encode("utf-8"))
    with open(out_dir / (entry["parts"][0] + ".csv"), "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_manifest(out_dir: Path, state: _State, meta: dict) -> dict:
    files: list[dict] = []
    zip_entries: list[dict] = []
    resources: list[dict] = []
    by_name = {info.name: info for info in state.tables}
    for info in state.tables:
        keys = [e[2] for e in state.partitions[info.name]] if info.name in PARTITIONED else [_table_key(info.name)]
        entries = _file_entries(state, "tables", info.name, info, keys, {"table": info.name}, info.title,
                                info.description)
        files += entries
        zip_entries.append({"name": f"data/{info.name}.csv", "from": entries[0]["path"], "bytes": entries[0]["bytes"]})
        digest = None if info.name in PARTITIONED else _small_digest(out_dir, entries[0])
        sources = sorted({s for k in keys for s in state.parts[k]["sources"]}) or [info.table_source]
        resources.append(_resource(f"data/{info.name}.csv", entries[0], info, info.description, None,
                                   PRIMARY_KEYS.get(info.name), sources, digest))
    observations = by_name.get("observations")
    if observations is not None:
        by_indicator: dict = {}
        for indicator_id, _year, key in state.partitions.get("observations", []):
            by_indicator.setdefault(indicator_id, []).append(key)
        for indicator_id, name_zh, name_en, unit, unit_en, _kind, _caveats in state.indicators:
            keys = by_indicator.get(indicator_id, [])
            title = f"{name_zh} {name_en} ({unit})"
            description = f"Current values of {indicator_id} ({name_en}), every region and year, in {unit} ({unit_en})."
            entries = _file_entries(state, "indicators", _segment(indicator_id), observations, keys,
                                    {"indicator_id": indicator_id, "unit": unit}, title, description, unit)
            files += entries
            path = f"by_indicator/{_segment(indicator_id)}.csv"
            zip_entries.append({"name": path, "from": entries[0]["path"], "bytes": entries[0]["bytes"]})
            sources = sorted({s for k in keys for s in state.parts[k]["sources"]}) or [observations.table_source]
            resources.append(_resource(path, entries[0], observations, description, unit, ["region_code", "year"],
                                       sources, None))
        for code, name_zh, name_en in state.regions:
            files += _file_entries(state, "regions", _segment(code), observations, [_region_key(code)],
                                   {"region_code": code}, f"{name_zh} {name_en}",
                                   f"Current values of every indicator for {name_en} ({name_zh}), in each row's unit.")
    package_dir = out_dir / "package"
    package_dir.mkdir(exist_ok=True)
    readme = _readme(state, meta).encode("utf-8")
    package = json.dumps(_datapackage(state, resources), ensure_ascii=False, indent=1).encode("utf-8")
    (package_dir / "README.md").write_bytes(readme)
    (package_dir / "datapackage.json").write_bytes(package)
    members = [{"name": "README.md", "file": "package/README.md", "bytes": len(readme)},
               {"name": "datapackage.json", "file": "package/datapackage.json", "bytes": len(package)}, *zip_entries]
    files.append({"path": ZIP_NAME, "kind": "zip", "title": ZIP_TITLE, "bytes": None,
                  "content_bytes": sum(m["bytes"] for m in members), "members": members})
    manifest = {"layout": LAYOUT, "built_at_utc": state.stamp.built_at_utc,
                "content_sha256": state.stamp.content_sha256, "retrieved": state.stamp.date, "files": files,
                "partitions": state.partitions,
                "regions": [{"region_code": code, "name_zh": zh, "name_en": en} for code, zh, en in state.regions],
                "parts": state.parts}
    tmp = out_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=None, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, out_dir / MANIFEST)
    return manifest


# --------------------------------------------------------------------------- composing a download (the portal)

_MANIFESTS: dict = {}


def read_manifest(folder: Path | None) -> dict | None:
    """A version's manifest (cached by path and modification time: the portal asks on every request)."""
    if folder is None:
        return None
    path = Path(folder) / MANIFEST
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    cached = _MANIFESTS.get(str(path))
    if cached and cached[0] == key:
        return cached[1]
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("layout") == LAYOUT:
        manifest["_by_path"] = {item["path"]: item for item in manifest["files"]}
    if len(_MANIFESTS) > 8:
        _MANIFESTS.clear()
    _MANIFESTS[str(path)] = (key, manifest)
    return manifest


def find_file(manifest: dict | None, path: str) -> dict | None:
    """The manifest's entry for a download path (None: not a download)."""
    if not manifest:
        return None
    if manifest.get("layout") != LAYOUT:
        # A version written before parts existed (until the next build): its files are whole on disk.
        for item in manifest.get("files", []):
            if item.get("path") == path:   # only what the manifest lists: nothing else is reachable
                return {**item, "file": path}
        return None
    return manifest["_by_path"].get(path)


def _part_chunks(folder: Path, manifest: dict, key: str, suffix: str) -> Iterator[bytes]:
    """A part file's bytes; a CSV part written on an earlier date gets this version's date."""
    old = manifest["parts"][key]["retrieved"]
    new = manifest["retrieved"]
    patch = suffix == ".csv" and old != new
    pattern, replacement = (_retrieved_pattern(old), _retrieved_pattern(new)) if patch else (b"", b"")
    keep = len(pattern) - 1
    carry = b""
    with open(folder / (key + suffix), "rb") as handle:
        while chunk := handle.read(CHUNK):
            if not patch:
                yield chunk
                continue
            # A record end split between two reads is completed by the next one: hold back the last
            # len(pattern) - 1 bytes. (A replacement never creates a new match: the pattern cannot overlap
            # itself and the replacement differs from it.)
            data = (carry + chunk).replace(pattern, replacement)
            carry = data[-keep:]
            if len(data) > keep:
                yield data[:-keep]
            else:
                carry = data
    if carry:
        yield carry


def iter_download(folder: Path, manifest: dict, entry: dict) -> Iterator[bytes]:
    """The bytes of one download as served (constant memory: one chunk at a time)."""
    kind = entry["kind"]
    if "file" in entry:   # a whole file (versions written before parts existed)
        yield from _file_chunks(folder / entry["file"])
        return
    if kind == "zip":
        yield from _iter_zip(folder, manifest, entry)
        return
    yield entry["head"].encode("utf-8")
    if kind in ("csv", "csv_bom"):
        for key in entry["parts"]:
            yield from _part_chunks(folder, manifest, key, ".csv")
    else:   # json: the parts' objects, one per line, joined with commas (no line ends inside JSON text)
        held = b""
        for key in entry["parts"]:
            for chunk in _part_chunks(folder, manifest, key, ".ndjson"):
                chunk = held + chunk.replace(b"\n", b",")
                held = chunk[-1:]
                if len(chunk) > 1:
                    yield chunk[:-1]
        # `held` is the comma that replaced the last object's line end (or nothing if there are no rows)
    yield entry.get("tail", "").encode("utf-8")


def _zip_moment(manifest: dict) -> tuple:
    try:
        return time.strptime(manifest.get("built_at_utc", ""), "%Y-%m-%dT%H:%M:%SZ")[:6]
    except ValueError:
        return (1980, 1, 1, 0, 0, 0)


class _Sink:
    """A write-only, non-seekable file for zipfile: what is written is collected and handed on."""

    def __init__(self):
        self.chunks: list[bytes] = []
        self.size = 0

    def write(self, data) -> int:
        if data:
            self.chunks.append(bytes(data))
            self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks, self.size = [], 0
        return data


def _iter_zip(folder: Path, manifest: dict, entry: dict, level: int = ZIP_LEVEL) -> Iterator[bytes]:
    moment = _zip_moment(manifest)
    sink = _Sink()
    files = manifest["_by_path"] if "_by_path" in manifest else {f["path"]: f for f in manifest["files"]}
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for member in entry["members"]:
            info = zipfile.ZipInfo(f"{ZIP_ROOT}/{member['name']}", date_time=moment)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.file_size = member["bytes"]   # zipfile decides on ZIP64 from it
            if "file" in member:
                chunks: Iterable[bytes] = _file_chunks(folder / member["file"])
            else:
                chunks = iter_download(folder, manifest, files[member["from"]])
            with archive.open(info, "w") as stream:
                for chunk in chunks:
                    stream.write(chunk)
                    if sink.size >= CHUNK:
                        yield sink.take()
            if sink.size >= CHUNK:
                yield sink.take()
    yield sink.take()


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def content_length(entry: dict) -> int | None:
    """The exact size of a download, or None when it is only known once sent (the ZIP)."""
    return entry.get("bytes")


# --------------------------------------------------------------------------- atomic publication

def downloads_link(home: Path) -> Path:
    return home / "downloads"


def versions_dir(home: Path) -> Path:
    return home / "downloads.d"


def _new_version_dir(home: Path, content_sha256: str) -> Path:
    return versions_dir(home) / f"{(content_sha256 or '')[:12] or 'nohash'}-{time.time_ns()}"


def _open_sti_db(portal_db: Path):
    import duckdb

    con = duckdb.connect()
    return con, _SqliteRows(con, portal_db)


def prepare(portal_db: Path, home: Path, *, con=None, tables: Iterable[str] | None = None) -> Path:
    """Build every download for a not-yet-published sti.db into a new version directory under `home`.

    The rows come from `con` when given: a DuckDB connection (or cursor) whose `memory.main` schema holds
    the published tables as sti_portal.publish.portal_db stages them (`tables`: their names, each in its published
    order); else from the sti.db file at `portal_db`, copied into memory first. Both give the same bytes.
    """
    own = con is None
    if own:
        con, source = _open_sti_db(portal_db)
    target = None
    try:
        rows = _stage_sqlite(con, source) if own else _StagedRows(con, tables if tables is not None
                                                                      else _staged_tables(con))
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


def _staged_tables(con) -> list[str]:
    return [row[0] for row in con.execute("SELECT table_name FROM information_schema.tables "
                                          "WHERE table_catalog = 'memory' AND table_schema = 'main'").fetchall()]


def prepare_incremental(portal_db: Path, home: Path, *, previous: Path, partitions: Iterable[tuple[str, int]],
                        regions: Iterable[str]) -> Path:
    """Downloads for a sti.db that differs from the one `previous` was built for in a few partitions only.

    Contract:
    - `portal_db` is the new, complete sti.db (not yet published). Its three big tables
      (observations, observation_history, revisions) differ from the sti.db of `previous` only in
      the rows of `partitions`, a set of (indicator_id, year): every partition whose rows were added,
      changed or removed in ANY of the three must be listed (listing more is harmless, only slower).
      The tables need an index on (indicator_id, year) (sti_portal/publish.INDEXES) and observations one
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
    con, rows = _open_sti_db(portal_db)
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
    others = sorted((p for p in folder.iterdir() if p.is_dir() and p.name != keep), key=lambda p: p.stat().st_mtime,
                    reverse=True)
    for old in others[KEEP_OLD_VERSIONS:]:
        shutil.rmtree(old, ignore_errors=True)


def current_dir(home: Path) -> Path | None:
    link = downloads_link(home)
    return link.resolve() if link.exists() else None
