"""The policy targets tracker (/targets): targets of policy documents against the statistics."""

from __future__ import annotations

import re
import urllib.parse

from datasette.utils.asgi import NotFound

from portal.site.constants import DATABASE
from portal.site.data import PortalData, figure_path, indicator_label, portal_data, query_links, rows_of
from portal.site.display import html_decimals
from portal.site.formatting import fmt, fmt_number, highlight, safe_href
from portal.site.pages import render_page
from portal.site.tracking import STATUS_WORDS, region_summary, reported_rows, summary_totals, target_tiles

TARGET_STATUS = {  # status -> (label, explanation shown in the legend)
    "off_track": (
        "落后 Off track",
        "below the straight line (or the target growth rate) from the baseline to the target",
    ),
    "on_track": ("正常 On track", "at or above the straight line (or the target growth rate) from the baseline"),
    "met": ("已达成 Met", "the latest value already reaches the target"),
    "no_data": ("无可比数据 No data", "no comparable series in the warehouse, or no value yet"),
}
COMPARATOR_WORDS = {
    "eq": ("≥", "达到 reach"),
    "ge": ("≥", "以上 / 不低于 at least"),
    "le": ("≤", "以下 / 不超过 at most"),
    "approx": ("≈", "左右 about"),
}
MAX_SEARCH_CHARS = 100


def target_words(row: dict) -> str:
    """The target in words: "≥ 2,000 亿元 by 2025", "年均增长 10 % a year to 2025"."""
    year = row.get("target_year")
    if row.get("comparator") == "growth":
        return f"年均增长 {fmt_number(row.get('value'))} % a year" + (f" to {year}" if year else "")
    sign, _ = COMPARATOR_WORDS.get(row.get("comparator"), ("=", ""))
    unit = row.get("unit") or ""
    return f"{sign} {fmt_number(row.get('value'))} {unit}".rstrip() + (f" by {year}" if year else "")


async def _query_rows(datasette, name: str, params: dict) -> list[dict]:
    """Run a stored query of metadata.yml: the page shows exactly what the query gives."""
    sql = (datasette.metadata("queries", database=DATABASE) or {})[name]["sql"]
    return await rows_of(datasette.get_database(DATABASE), sql, params)


async def _table_exists(db, name: str) -> bool:
    return bool(await rows_of(db, "SELECT 1 AS x FROM sqlite_master WHERE name = ?", [name]))


def _target_row(data: PortalData, row: dict) -> dict:
    """What the tracker shows for one target, formatted."""
    wid = row.get("warehouse_indicator")
    ind = data.indicators.get(wid) if wid and wid != "none" else None
    decimals = html_decimals(ind) if ind else 4
    unit = row.get("indicator_unit") or ""
    code = row.get("region_code")
    latest = None
    if ind and row.get("latest_year") is not None and row.get("latest_value") is not None:
        obs = data.cell.get((wid, code, row["latest_year"]))
        latest = {
            "display": fmt(row["latest_value"], decimals),
            "unit": unit,
            "year": row["latest_year"],
            "href": figure_path(wid, code, row["latest_year"]),
            "source_ref": row.get("latest_source_ref") or "",
            "source": data.source_title(obs["source_id"]) if obs else "",
        }
    related = None
    if row.get("related_indicator"):
        rid = row["related_indicator"]
        rind = data.indicators.get(rid)
        value = row.get("related_value")
        related = {
            "id": rid,
            "name": indicator_label(rind) if rind else rid,
            "value": fmt(value, html_decimals(rind) if rind else 2) if value is not None else None,
            "unit": rind["unit"] if rind else "",
            "year": row.get("related_year"),
            "kind": rind["stock_or_flow"] if rind else "",
        }
    region = data.regions.get(code) if code else None
    growth = row.get("growth_needed_pct")
    per_year = row.get("change_needed_per_year")
    doc_href = safe_href(row.get("doc_url")) or f"/{DATABASE}/policy_documents?" + urllib.parse.urlencode(
        {"doc_id": row["doc_id"]}
    )
    return {
        **row,
        "ind": ind,
        "latest": latest,
        "related": related,
        "region_label": row.get("region") or (region["name_zh"] if region else code or ""),
        "region_link": f"/region/{code}" if code in data.by_region else None,
        "doc_href": doc_href,
        "doc_external": doc_href.startswith("http"),
        "doc_row_href": f"/{DATABASE}/policy_documents?" + urllib.parse.urlencode({"doc_id": row["doc_id"]}),
        "target": target_words(row),
        "comparator_title": COMPARATOR_WORDS.get(row.get("comparator"), ("", row.get("comparator") or ""))[1],
        "status_label": TARGET_STATUS.get(row.get("status"), (row.get("status") or "", ""))[0],
        "status_reason": (
            ""
            if row.get("status") != "no_data"
            else "the series is broader than the target"
            if row.get("comparability") == "broader"
            else "no comparable series"
            if row.get("comparability") in (None, "none")
            else "no value yet"
        ),
        "baseline": fmt(row["baseline_value"], decimals) if row.get("baseline_value") is not None else None,
        "gap": f"{fmt(abs(row['gap']), decimals)} {unit}" if row.get("gap") is not None else None,
        "gap_note": ("还差 to go" if row["gap"] > 0 else "已超 above" if row["gap"] < 0 else "")
        if row.get("gap") is not None
        else "",
        "growth_needed": f"{growth:.2f} % a year" if growth is not None else None,
        "per_year": f"{fmt(per_year, decimals)} {unit} a year" if per_year is not None else None,
    }


def _citation(rows: list[dict], tracked: list[dict]) -> str:
    """The page's citation: the documents' issuers and the statistics' sources."""
    issuers = sorted({r["doc_issuer"] for r in rows if r.get("doc_issuer")})
    stat_sources = sorted({r["latest"]["source"] for r in tracked if r["latest"] and r["latest"]["source"]})
    citation = "; ".join(
        filter(
            None,
            [
                f"policy documents of {', '.join(issuers)}" if issuers else "policy documents (see each row)",
                f"statistics: {'; '.join(stat_sources)}" if stat_sources else "",
            ],
        )
    )
    return citation


async def _documents(datasette, db, q: str) -> list[dict]:
    """The policy documents: those the search finds (stored query search_policy_documents), else the newest 200."""
    if q:
        documents = await _query_rows(datasette, "search_policy_documents", {"q": q})
    else:
        documents = await rows_of(
            db,
            "SELECT d.doc_id, d.title, d.issuer, d.region, coalesce(d.region_code, d.province_code) "
            "AS region_code, d.date, d.url, d.kind, NULL AS excerpt, (SELECT count(*) FROM targets t "
            "WHERE t.doc_id = d.doc_id AND t.review_status <> 'rejected') AS n_targets "
            "FROM policy_documents d ORDER BY d.date DESC, d.doc_id LIMIT 200",
        )
    documents = [
        {
            **d,
            "href": safe_href(d["url"]),
            "row_href": f"/{DATABASE}/policy_documents?" + urllib.parse.urlencode({"doc_id": d["doc_id"]}),
            "excerpt_html": highlight(d.get("excerpt") or "", q),
        }
        for d in documents
    ]
    return documents


async def targets_page(datasette, request):
    data = await portal_data(datasette)
    db = datasette.get_database(DATABASE)
    if not await _table_exists(db, "target_progress"):
        raise NotFound("This sti.db has no policy targets: run `sti build`")
    summary = await region_summary(db, data)
    # every region with documents (or targets): Beijing's documents report achieved figures only
    regions = [{"code": r["region_code"], "n": r["targets"], "zh": r["zh"], "en": r["en"]} for r in summary]
    code = request.args.get("region") or ""
    if not re.fullmatch(r"\d{6}", code) or (code not in data.regions and code not in {r["code"] for r in regions}):
        code = ""
    rows = [_target_row(data, r) for r in await _query_rows(datasette, "region_targets", {"region": code})]
    tracked = [r for r in rows if r["indicator"] != "other" and r["review_status"] != "extracted"]
    no_statistic = [r for r in rows if r["indicator"] == "other" and r["review_status"] != "extracted"]
    unreviewed = [r for r in rows if r["review_status"] == "extracted"]

    def by_document(group: list[dict]) -> list[dict]:
        """Rows under their document (in the order the query gives: worst status first)."""
        docs: dict[str, dict] = {}
        for r in group:
            docs.setdefault(r["doc_id"], {"doc": r, "rows": []})["rows"].append(r)
        return list(docs.values())

    counts = [
        {"status": s, "label": label, "about": about, "n": sum(1 for r in tracked if r["status"] == s)}
        for s, (label, about) in TARGET_STATUS.items()
    ]

    q = (request.args.get("q") or "").strip()[:MAX_SEARCH_CHARS]
    documents = await _documents(datasette, db, q)

    region = data.regions.get(code) if code else None
    citation = _citation(rows, tracked)
    context = {
        "summary": [r for r in summary if not code or r["region_code"] == code],
        "totals": summary_totals(summary),
        "reported": await reported_rows(db, data, code) if code else [],
        "code": code,
        "region": region,
        "regions": regions,
        "rows": rows,
        "tracked": tracked,
        "tracked_docs": by_document(tracked),
        "no_statistic_docs": by_document(no_statistic),
        "unreviewed_docs": by_document(unreviewed),
        "no_statistic": no_statistic,
        "unreviewed": unreviewed,
        "counts": counts,
        "q": q,
        "documents": documents,
        "min_fts_chars": 3,
        "query": query_links("region_targets", {"region": code}),
        "search_query": query_links("search_policy_documents", {"q": q}) if q else None,
        "citation_source": citation,
        "page_title": "目标追踪 Targets tracker" + (f": {region['name_zh']} {region['name_en']}" if region else ""),
        "vendor_js": ["/assets/sti-charts.js"],  # only for the region selector's submit-on-change
    }
    return await render_page(datasette, request, "sti_targets.html", context)


async def targets_map_page(datasette, request):
    """/map/targets: the province tiles coloured by their targets' most common judged status."""
    data = await portal_data(datasette)
    db = datasette.get_database(DATABASE)
    if not await _table_exists(db, "target_region_summary"):
        raise NotFound("This sti.db has no policy targets: run `sti build`")
    summary = await region_summary(db, data)
    tiles = target_tiles(summary, data)
    context = {
        "tiles": tiles,
        "summary": summary,
        "totals": summary_totals(summary),
        "legend": [
            {"status": s, "words": w, "n": sum(t["status"] == s for t in tiles)} for s, w in STATUS_WORDS.items()
        ],
        "width": 40 * (max(t["x"] for t in tiles) // 40 + 1),
        "height": 40 * (max(t["y"] for t in tiles) // 40 + 1),
        "citation_source": "policy documents of the regions (see /targets); statistics: the sources of each target",
        "page_title": "地图：政策目标进展 Map: progress towards the policy targets",
    }
    return await render_page(datasette, request, "sti_map_targets.html", context)
