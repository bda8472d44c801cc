"""A version's manifest.json (every download: its head, parts and size), and the ZIP's README.md and
Frictionless datapackage.json.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from sti_portal.core.settings import PORTAL_NAME
from sti_portal.publish.citation import citation
from sti_portal.publish.downloads import layout  # layout.CHUNK read at call time: one setting for all readers
from sti_portal.publish.downloads.layout import (
    BOM,
    LAYOUT,
    MANIFEST,
    PARTITIONED,
    PRIMARY_KEYS,
    ZIP_NAME,
    ZIP_TITLE,
    BuildStamp,
    State,
    TableInfo,
    csv_line,
    region_key,
    segment,
    table_key,
)


def _frictionless_type(duckdb_type: str) -> str:
    declared = duckdb_type.upper()
    if "INT" in declared or declared == "BOOLEAN":
        return "integer"
    if any(word in declared for word in ("DOUBLE", "REAL", "FLOAT", "DECIMAL", "NUMERIC")):
        return "number"
    return "string"


def _envelope_head(
    info: TableInfo,
    stamp: BuildStamp,
    title: str,
    description: str,
    sources: list[str],
    url_path: str,
    unit: str | None,
) -> str:
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


def _file_entries(
    state: State,
    folder: str,
    name: str,
    info: TableInfo,
    keys: list[str],
    about: dict,
    title: str,
    description: str,
    unit: str | None = None,
) -> list[dict]:
    parts = state.parts
    rows = sum(parts[k]["rows"] for k in keys)
    sources = sorted({s for k in keys for s in parts[k]["sources"]}) or [info.table_source]
    header = csv_line([c for c, _ in info.columns] + ["source", "retrieved"])
    csv_body = sum(parts[k]["csv"]["bytes"] for k in keys)
    formulas = sum(parts[k]["csv"].get("formulas", 0) for k in keys)  # one apostrophe each in the Excel CSV
    json_body = sum(parts[k]["json"]["bytes"] for k in keys)
    base = f"{folder}/{name}"
    head = _envelope_head(info, state.stamp, title, description, sources, f"/downloads/{base}.json", unit)
    common = {"title": title, "rows": rows, **about, "parts": keys}
    return [
        {"path": f"{base}.csv", "kind": "csv", "bytes": len(header.encode()) + csv_body, "head": header, **common},
        {
            "path": f"{base}-excel.csv",
            "kind": "csv_bom",
            "bytes": len((BOM + header).encode()) + csv_body + formulas,
            "head": BOM + header,
            **common,
        },
        {
            "path": f"{base}.json",
            "kind": "json",
            "head": head,
            "tail": "]}",
            "bytes": len(head.encode()) + json_body - (1 if json_body else 0) + 2,
            **common,
        },
    ]


def _field(name: str, type_: str, info: TableInfo, unit: str | None) -> dict:
    result = {"name": name, "type": _frictionless_type(type_)}
    description = info.column_descriptions.get(name)
    if name == "value" and unit:
        description = f"The value in {unit}" + (f". {description}" if description else "")
        result["unit"] = unit
    if description:
        result["description"] = str(description)
    return result


def _resource(
    path: str,
    entry: dict,
    info: TableInfo,
    description: str,
    unit: str | None,
    primary_key: list[str] | None,
    sources: list[str],
    digest: str | None,
) -> dict:
    fields = [_field(name, type_, info, unit) for name, type_ in info.columns]
    fields.append(
        {
            "name": "source",
            "type": "string",
            "description": "Title and publisher of the source of this row (see sources.csv)",
        }
    )
    fields.append(
        {
            "name": "retrieved",
            "type": "date",
            "description": "Date this version of the data was published by sti-portal (retrieval date for citation)",
        }
    )
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
    if digest:  # composed (multi-part) resources have none: the hash of the whole is never computed
        resource["hash"] = f"sha256:{digest}"
    resource["sources"] = [{"title": title} for title in sources]
    resource["schema"] = schema
    if info.license:
        resource["licenses"] = [{"name": "other", "title": info.license}]
    return resource


def _readme(state: State, meta: dict) -> str:
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
        lines.append(
            f"- **{source['title_en']}** ({source['title_zh']}), {source['publisher']}. {source['url']}. "
            f"Licence: {source['license']}. {source['caveats']}"
        )
    lines += [
        "",
        "## Licence",
        "",
        "The statistics are official statistics of their publishers (see each source's licence). sti-portal's",
        "catalogue, harmonisation and derived tables are CC BY 4.0.",
        "",
    ]
    return "\n".join(lines)


def _datapackage(state: State, resources: list[dict]) -> dict:
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
        "licenses": [
            {
                "name": "CC-BY-4.0",
                "title": "sti-portal catalogue, harmonisation and derived tables",
                "path": "https://creativecommons.org/licenses/by/4.0/",
            }
        ],
        "sources": [
            {
                "title": f"{s['title_en']} ({s['title_zh']})",
                "path": s["url"],
                "description": f"{s['publisher']}. Licence: {s['license']}. {s['caveats']}",
            }
            for s in state.sources.values()
        ],
        "resources": resources,
    }


def _small_digest(out_dir: Path, entry: dict) -> str:
    """sha256 of a single-part CSV as served (header + body); only for the small tables."""
    digest = hashlib.sha256(entry["head"].encode("utf-8"))
    with open(out_dir / (entry["parts"][0] + ".csv"), "rb") as handle:
        while chunk := handle.read(layout.CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _Listing:
    """What the manifest lists, collected table by table: the downloads, the ZIP's members, the package's resources."""

    def __init__(self):
        self.files: list[dict] = []
        self.zip_entries: list[dict] = []
        self.resources: list[dict] = []

    def add(self, entries: list[dict], zip_name: str | None = None, resource: dict | None = None) -> None:
        self.files += entries
        if zip_name is not None:
            self.zip_entries.append({"name": zip_name, "from": entries[0]["path"], "bytes": entries[0]["bytes"]})
        if resource is not None:
            self.resources.append(resource)


def _list_tables(listing: _Listing, out_dir: Path, state: State) -> None:
    for info in state.tables:
        keys = [e[2] for e in state.partitions[info.name]] if info.name in PARTITIONED else [table_key(info.name)]
        entries = _file_entries(
            state, "tables", info.name, info, keys, {"table": info.name}, info.title, info.description
        )
        digest = None if info.name in PARTITIONED else _small_digest(out_dir, entries[0])
        sources = sorted({s for k in keys for s in state.parts[k]["sources"]}) or [info.table_source]
        listing.add(
            entries,
            f"data/{info.name}.csv",
            _resource(
                f"data/{info.name}.csv",
                entries[0],
                info,
                info.description,
                None,
                PRIMARY_KEYS.get(info.name),
                sources,
                digest,
            ),
        )


def _list_indicators_and_regions(listing: _Listing, state: State, observations: TableInfo) -> None:
    by_indicator: dict = {}
    for indicator_id, _year, key in state.partitions.get("observations", []):
        by_indicator.setdefault(indicator_id, []).append(key)
    for indicator_id, name_zh, name_en, unit, unit_en, _kind, _caveats in state.indicators:
        keys = by_indicator.get(indicator_id, [])
        title = f"{name_zh} {name_en} ({unit})"
        description = f"Current values of {indicator_id} ({name_en}), every region and year, in {unit} ({unit_en})."
        entries = _file_entries(
            state,
            "indicators",
            segment(indicator_id),
            observations,
            keys,
            {"indicator_id": indicator_id, "unit": unit},
            title,
            description,
            unit,
        )
        path = f"by_indicator/{segment(indicator_id)}.csv"
        sources = sorted({s for k in keys for s in state.parts[k]["sources"]}) or [observations.table_source]
        listing.add(
            entries,
            path,
            _resource(path, entries[0], observations, description, unit, ["region_code", "year"], sources, None),
        )
    for code, name_zh, name_en in state.regions:
        listing.add(
            _file_entries(
                state,
                "regions",
                segment(code),
                observations,
                [region_key(code)],
                {"region_code": code},
                f"{name_zh} {name_en}",
                f"Current values of every indicator for {name_en} ({name_zh}), in each row's unit.",
            )
        )


def _write_package(listing: _Listing, out_dir: Path, state: State, meta: dict) -> dict:
    """README.md and datapackage.json (the ZIP's own members), and the ZIP's entry in the manifest."""
    package_dir = out_dir / "package"
    package_dir.mkdir(exist_ok=True)
    readme = _readme(state, meta).encode("utf-8")
    package = json.dumps(_datapackage(state, listing.resources), ensure_ascii=False, indent=1).encode("utf-8")
    (package_dir / "README.md").write_bytes(readme)
    (package_dir / "datapackage.json").write_bytes(package)
    members = [
        {"name": "README.md", "file": "package/README.md", "bytes": len(readme)},
        {"name": "datapackage.json", "file": "package/datapackage.json", "bytes": len(package)},
        *listing.zip_entries,
    ]
    return {
        "path": ZIP_NAME,
        "kind": "zip",
        "title": ZIP_TITLE,
        "bytes": None,
        "content_bytes": sum(m["bytes"] for m in members),
        "members": members,
    }


def write_manifest(out_dir: Path, state: State, meta: dict) -> dict:
    listing = _Listing()
    _list_tables(listing, out_dir, state)
    observations = next((info for info in state.tables if info.name == "observations"), None)
    if observations is not None:
        _list_indicators_and_regions(listing, state, observations)
    files = [*listing.files, _write_package(listing, out_dir, state, meta)]
    manifest = {
        "layout": LAYOUT,
        "built_at_utc": state.stamp.built_at_utc,
        "content_sha256": state.stamp.content_sha256,
        "retrieved": state.stamp.date,
        "files": files,
        "partitions": state.partitions,
        "regions": [{"region_code": code, "name_zh": zh, "name_en": en} for code, zh, en in state.regions],
        "parts": state.parts,
    }
    tmp = out_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=None, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, out_dir / MANIFEST)
    return manifest
