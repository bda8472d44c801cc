"""Pre-built downloads, written at publish time from the new sti.db and swapped in with it.

Journalists get whole tables as files (not streamed row by row from SQLite): every published table,
every indicator and every Chinese region as CSV (UTF-8), CSV for Excel (UTF-8 with a byte-order
mark, so Excel shows Chinese correctly) and JSON, plus one ZIP with the tidy CSVs, a Frictionless
``datapackage.json`` (units, sources, licences) and a README saying how to cite.

Every CSV row carries ``source`` (the title of the row's source) and ``retrieved`` (the date this
version was published by sti-portal); every JSON file carries the same in its envelope.

Layout under STI_HOME::

    downloads -> downloads.d/<version>       (a symlink, swapped atomically with os.replace)
    downloads.d/<version>/manifest.json      what is there, sizes, sha256, build date
    downloads.d/<version>/tables/<table>.csv | -excel.csv | .json
    downloads.d/<version>/indicators/<indicator_id>.csv | -excel.csv | .json
    downloads.d/<version>/regions/<region_code>.csv | -excel.csv | .json
    downloads.d/<version>/sti-portal-data.zip
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import sqlite3
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from sti_portal.config import PORTAL_DIR

PORTAL_NAME = "sti-portal"
BOM = "\ufeff"
ZIP_NAME = "sti-portal-data.zip"
# Tables in the order the ZIP and the downloads page list them (any other published table follows).
TABLE_ORDER = ["observations", "observation_history", "revisions", "release_differences", "indicators",
               "regions", "region_aliases", "sources", "releases",
               "target_progress", "targets", "policy_statements", "policy_documents", "target_indicators",
               "validation_results", "build_info"]
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


def _sql_type(declared: str) -> str:
    declared = (declared or "").upper()
    if "INT" in declared:
        return "integer"
    if any(word in declared for word in ("DOUBLE", "REAL", "FLOAT", "DECIMAL", "NUMERIC")):
        return "number"
    return "string"


def _cell(value) -> str:
    if value is None:
        return ""
    return str(value)


class _Db:
    """The new sti.db (read-only) and what every file needs from it."""

    def __init__(self, path: Path):
        self.con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        info = dict(self.con.execute("SELECT key, value FROM build_info"))
        self.stamp = BuildStamp(info.get("built_at_utc", ""), info.get("content_sha256", ""))
        self.sources = {row[0]: {"source_id": row[0], "title_zh": row[1], "title_en": row[2], "publisher": row[3],
                                 "url": row[4], "license": row[5], "caveats": row[6]}
                        for row in self.con.execute("SELECT source_id, title_zh, title_en, publisher, url, license, "
                                                    "caveats FROM sources")}
        self.tables = self._published_tables()

    def _published_tables(self) -> list[str]:
        """Every table a reader sees in Datasette: not SQLite's own, not full-text indexes or their shadow tables."""
        found = dict(self.con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                                      "AND name NOT LIKE 'sqlite_%'"))
        virtual = [name for name, sql in found.items() if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
        hidden = {name for name in found if any(name == v or name.startswith(v + "_") for v in virtual)}
        names = set(found) - hidden
        return [t for t in TABLE_ORDER if t in names] + sorted(names - set(TABLE_ORDER))

    def columns(self, table: str) -> list[tuple[str, str]]:
        return [(row[1], _sql_type(row[2])) for row in self.con.execute(f"PRAGMA table_info({table})")]

    def rows(self, sql: str, params=()) -> list[tuple]:
        return self.con.execute(sql, params).fetchall()

    def source_title(self, source_id: str | None) -> str:
        source = self.sources.get(source_id or "")
        if source:
            return f"{source['title_en']} ({source['title_zh']})"
        if source_id == "sti_portal_derived":
            return DERIVED_SOURCE_TITLE
        return source_id or ""


@dataclass
class _Table:
    """One file's worth of rows: the columns, the rows and what to say about them."""

    name: str
    title: str
    description: str
    columns: list[tuple[str, str]]
    rows: list[tuple]
    source_of_row: list[str]  # the `source` column, row by row
    table_source: str
    license: str
    column_descriptions: dict
    primary_key: list[str] | None = None
    unit: str | None = None


def _table_rows(db: _Db, meta: dict, table: str, where: str = "", params=(), name: str | None = None,
                title: str | None = None, description: str | None = None, unit: str | None = None,
                primary_key: list[str] | None = None) -> _Table:
    tables_meta = meta["databases"]["sti"]["tables"]
    table_meta = tables_meta.get(table, {})
    columns = db.columns(table)
    names = [c for c, _ in columns]
    rows = db.rows(f"SELECT * FROM {table} {where}", params)
    table_source = table_meta.get("source") or meta.get("source", "")
    if "source_id" in names:
        index = names.index("source_id")
        source_of_row = [db.source_title(row[index]) for row in rows]
    else:
        source_of_row = [table_source] * len(rows)
    return _Table(name=name or table, title=title or table_meta.get("title", table),
                  description=description or table_meta.get("description", ""), columns=columns, rows=rows,
                  source_of_row=source_of_row, table_source=table_source,
                  license=table_meta.get("license", meta.get("license", "")),
                  column_descriptions=dict(table_meta.get("columns") or {}),
                  primary_key=primary_key, unit=unit)


def _csv_text(table: _Table, retrieved: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c for c, _ in table.columns] + ["source", "retrieved"])
    for row, source in zip(table.rows, table.source_of_row):
        writer.writerow([_cell(v) for v in row] + [source, retrieved])
    return buffer.getvalue()


def _json_text(table: _Table, stamp: BuildStamp, url_path: str) -> str:
    names = [c for c, _ in table.columns]
    sources = sorted(set(table.source_of_row)) or [table.table_source]
    envelope = {
        "title": table.title,
        "description": table.description,
        "source": sources,
        "license": table.license,
        "retrieved": stamp.date,
        "publisher": PORTAL_NAME,
        "url_path": url_path,
        "build": {"built_at_utc": stamp.built_at_utc, "content_sha256": stamp.content_sha256},
        "citation": citation("; ".join(sources), stamp.date),
        "unit": table.unit,
        "columns": names,
        "rows": [dict(zip(names, row)) for row in table.rows],
    }
    if table.unit is None:
        envelope.pop("unit")
    return json.dumps(envelope, ensure_ascii=False, indent=None, separators=(",", ":"))


def _field(name: str, type_: str, table: _Table) -> dict:
    field = {"name": name, "type": type_}
    description = table.column_descriptions.get(name)
    if name == "value" and table.unit:
        description = f"The value in {table.unit}" + (f". {description}" if description else "")
        field["unit"] = table.unit
    if description:
        field["description"] = str(description)
    return field


def _schema(table: _Table) -> dict:
    fields = [_field(name, type_, table) for name, type_ in table.columns]
    fields.append({"name": "source", "type": "string",
                   "description": "Title and publisher of the source of this row (see sources.csv)"})
    fields.append({"name": "retrieved", "type": "date",
                   "description": "Date this version of the data was published by sti-portal (retrieval date for citation)"})
    schema = {"fields": fields, "missingValues": [""]}
    if table.primary_key:
        schema["primaryKey"] = table.primary_key
    return schema


class _Writer:
    def __init__(self, root: Path, stamp: BuildStamp):
        self.root = root
        self.stamp = stamp
        self.files: list[dict] = []

    def write(self, relative: str, text: str, kind: str, about: dict) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        path.write_bytes(data)
        self.files.append({"path": relative, "kind": kind, "bytes": len(data),
                           "sha256": hashlib.sha256(data).hexdigest(), **about})

    def write_table(self, folder: str, table: _Table, about: dict) -> str:
        """CSV, CSV with BOM and JSON for one table; returns the plain CSV text."""
        text = _csv_text(table, self.stamp.date)
        base = f"{folder}/{table.name}"
        about = {"title": table.title, "rows": len(table.rows), **about}
        self.write(f"{base}.csv", text, "csv", about)
        self.write(f"{base}-excel.csv", BOM + text, "csv_bom", about)
        self.write(f"{base}.json", _json_text(table, self.stamp, f"/downloads/{base}.json"), "json", about)
        return text


def _readme(db: _Db, meta: dict, indicators: list[tuple]) -> str:
    stamp = db.stamp
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
    tables_meta = meta["databases"]["sti"]["tables"]
    for table in db.tables:
        lines.append(f"| `data/{table}.csv` | {tables_meta.get(table, {}).get('title', table)} |")
    lines.append("| `by_indicator/<indicator_id>.csv` | current values of one indicator, every region and year |")
    lines += ["", "## Indicators and units", "", "| indicator_id | name | unit | note |", "|---|---|---|---|"]
    for indicator_id, name_zh, name_en, unit, unit_en, stock_or_flow, caveats in indicators:
        note = (caveats or "").replace("|", "/").replace("\n", " ")
        lines.append(f"| `{indicator_id}` | {name_zh} {name_en} | {unit} ({unit_en}) | {stock_or_flow}. {note} |")
    lines += ["", "## Sources", ""]
    for source in db.sources.values():
        lines.append(f"- **{source['title_en']}** ({source['title_zh']}), {source['publisher']}. {source['url']}. "
                     f"Licence: {source['license']}. {source['caveats']}")
    lines += ["", "## Licence", "",
              "The statistics are official statistics of their publishers (see each source's licence). sti-portal's",
              "catalogue, harmonisation and derived tables are CC BY 4.0.", ""]
    return "\n".join(lines)


def _datapackage(db: _Db, meta: dict, resources: list[dict]) -> dict:
    stamp = db.stamp
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
                    for s in db.sources.values()],
        "resources": resources,
    }


def _resource(path: str, table: _Table, text: str) -> dict:
    data = text.encode("utf-8")
    resource = {
        "name": path.rsplit("/", 1)[-1].removesuffix(".csv").replace("_", "-").lower(),
        "path": path,
        "title": table.title,
        "description": table.description,
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "bytes": len(data),
        "hash": f"sha256:{hashlib.sha256(data).hexdigest()}",
        "sources": [{"title": title} for title in sorted(set(table.source_of_row)) or [table.table_source]],
        "schema": _schema(table),
    }
    if table.license:
        resource["licenses"] = [{"name": "other", "title": table.license}]
    return resource


def build_downloads(portal_db: Path, out_dir: Path) -> dict:
    """Write every download for the sti.db at `portal_db` into `out_dir` (which must not exist)."""
    out_dir.mkdir(parents=True)
    meta = metadata()
    db = _Db(portal_db)
    try:
        writer = _Writer(out_dir, db.stamp)
        zip_entries: list[tuple[str, str]] = []
        resources: list[dict] = []
        for table_name in db.tables:
            table = _table_rows(db, meta, table_name, primary_key=PRIMARY_KEYS.get(table_name))
            text = writer.write_table("tables", table, {"table": table_name})
            zip_entries.append((f"data/{table_name}.csv", text))
            resources.append(_resource(f"data/{table_name}.csv", table, text))

        indicators = db.rows("SELECT indicator_id, name_zh, name_en, unit, unit_en, stock_or_flow, caveats "
                             "FROM indicators ORDER BY indicator_id")
        for indicator_id, name_zh, name_en, unit, unit_en, _kind, _caveats in indicators:
            table = _table_rows(
                db, meta, "observations", "WHERE indicator_id = ? ORDER BY year, region_code", (indicator_id,),
                name=indicator_id, title=f"{name_zh} {name_en} ({unit})",
                description=f"Current values of {indicator_id} ({name_en}), every region and year, in {unit} ({unit_en}).",
                unit=unit, primary_key=["region_code", "year"])
            text = writer.write_table("indicators", table, {"indicator_id": indicator_id, "unit": unit})
            zip_entries.append((f"by_indicator/{indicator_id}.csv", text))
            resources.append(_resource(f"by_indicator/{indicator_id}.csv", table, text))

        placeholders = ", ".join("?" for _ in REGION_LEVELS_WITH_FILES)
        regions = db.rows(f"SELECT region_code, name_zh, name_en FROM regions WHERE level IN ({placeholders}) "
                          "AND region_code IN (SELECT region_code FROM observations) ORDER BY region_code",
                          REGION_LEVELS_WITH_FILES)
        for region_code, name_zh, name_en in regions:
            table = _table_rows(
                db, meta, "observations", "WHERE region_code = ? ORDER BY indicator_id, year", (region_code,),
                name=region_code, title=f"{name_zh} {name_en}",
                description=f"Current values of every indicator for {name_en} ({name_zh}), in each row's unit.")
            writer.write_table("regions", table, {"region_code": region_code})

        readme = _readme(db, meta, indicators)
        package = _datapackage(db, meta, resources)
        _write_zip(out_dir / ZIP_NAME, db.stamp, zip_entries, readme, package)
        data = (out_dir / ZIP_NAME).read_bytes()
        writer.files.append({"path": ZIP_NAME, "kind": "zip", "bytes": len(data),
                             "sha256": hashlib.sha256(data).hexdigest(),
                             "title": "All tables: tidy CSVs, datapackage.json, README"})
        manifest = {"built_at_utc": db.stamp.built_at_utc, "content_sha256": db.stamp.content_sha256,
                    "retrieved": db.stamp.date, "files": writer.files}
        (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        return manifest
    finally:
        db.con.close()


def _write_zip(path: Path, stamp: BuildStamp, entries: list[tuple[str, str]], readme: str, package: dict) -> None:
    # Fixed timestamps so a rebuild of the same data gives the same archive.
    try:
        moment = time.strptime(stamp.built_at_utc, "%Y-%m-%dT%H:%M:%SZ")[:6]
    except ValueError:
        moment = (1980, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name, text in [("README.md", readme),
                           ("datapackage.json", json.dumps(package, ensure_ascii=False, indent=1)), *entries]:
            info = zipfile.ZipInfo(f"sti-portal-data/{name}", date_time=moment)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, text.encode("utf-8"))


# --------------------------------------------------------------------------- atomic publication

def downloads_link(home: Path) -> Path:
    return home / "downloads"


def versions_dir(home: Path) -> Path:
    return home / "downloads.d"


def prepare(portal_db: Path, home: Path) -> Path:
    """Build the downloads for a not-yet-published sti.db into a new version directory."""
    stamp = _Db(portal_db)
    try:
        version = f"{stamp.stamp.content_sha256[:12] or 'nohash'}-{time.time_ns()}"
    finally:
        stamp.con.close()
    target = versions_dir(home) / version
    try:
        build_downloads(portal_db, target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


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
