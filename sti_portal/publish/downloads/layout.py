"""What a downloads version holds and where: file names, part keys, the tables' published order, and the
state a build collects (sources, tables, parts) to write the manifest from. See the package docstring.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field

import yaml

from sti_portal.core.settings import PORTAL_DIR

BOM = "\ufeff"
ZIP_NAME = "sti-portal-data.zip"
ZIP_ROOT = "sti-portal-data"
MANIFEST = "manifest.json"
LAYOUT = "parts-1"  # manifest["layout"]: what supports_incremental() accepts
# Tables in the order the ZIP and the downloads page list them (any other published table follows).
TABLE_ORDER = [
    "observations",
    "observation_history",
    "revisions",
    "release_differences",
    "indicators",
    "regions",
    "region_aliases",
    "sources",
    "releases",
    "target_progress",
    "targets",
    "policy_statements",
    "policy_documents",
    "target_indicators",
    "validation_results",
    "build_info",
]
# The tables stored as one part per (indicator_id, year), with the rest of their published order
# (sti_portal/publish/portal_db.PUBLISHED_TABLES) inside a part. `_precedence` is the release's precedence
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
CHUNK = 1 << 20  # bytes read per step when composing a download
ZIP_LEVEL = 6  # deflate level of the bulk ZIP (compressed while it is sent)
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


def sql_literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def segment(value) -> str:
    """A file-name segment for an indicator id, year or region code (anything odd is hex-encoded)."""
    if value is None:
        return "~null"
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}", text):
        return text
    return "~" + text.encode("utf-8").hex()[:180] + "-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def sort_key(indicator_id, year) -> tuple:
    """(indicator_id, year) in DuckDB's ORDER BY order: bytewise, NULLs last."""
    return (indicator_id is None, (indicator_id or "").encode("utf-8"), year is None, year or 0)


def csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


def retrieved_pattern(date: str) -> bytes:
    """How every CSV record of a part written on `date` ends (and nothing else in it, see the module doc)."""
    return f',"{date}"\r\n'.encode("ascii")


@dataclass
class TableInfo:
    name: str
    columns: list[tuple[str, str]]
    title: str
    description: str
    table_source: str
    license: str
    column_descriptions: dict
    has_source_id: bool


@dataclass
class State:
    """What a version holds: enough to write its manifest, README and datapackage."""

    stamp: BuildStamp
    sources: dict
    tables: list[TableInfo]
    indicators: list[tuple]  # indicator_id, name_zh, name_en, unit, unit_en, stock_or_flow, caveats
    regions: list[tuple]  # region_code, name_zh, name_en (regions with files)
    partitions: dict[str, list[list]] = field(default_factory=dict)  # table -> [[indicator_id, year, key], ...]
    parts: dict[str, dict] = field(default_factory=dict)  # key -> rows, sources, retrieved, csv, json


def part_key(table: str, indicator_id, year) -> str:
    return f"parts/{table}/{segment(indicator_id)}/{segment(year)}"


def table_key(table: str) -> str:
    return f"parts/tables/{segment(table)}"


def region_key(code: str) -> str:
    return f"parts/regions/{segment(code)}"
