"""Search (/search?q=): indicators, regions and policy documents from one box on every page.

Indicators and regions are matched in memory (names in Chinese and English, ids, definitions; region
names, pinyin and codes: a few hundred entries). Documents go through the stored query
``search_policy_documents`` (SQLite FTS5 trigram index, as the targets page uses), so the page shows
exactly what that query gives.
"""

from __future__ import annotations

from portal.site.constants import DATABASE, SITE_LEVELS
from portal.site.data import category_key, portal_data, rows_of
from portal.site.formatting import highlight, safe_href
from portal.site.pages import render_page
from portal.site.regions import region_slugs, slug

MAX_QUERY_CHARS = 100
MAX_HITS = 50


def _indicator_hits(data, q: str) -> list[dict]:
    needle = q.lower()
    hits = []
    for indicator_id, ind in sorted(data.indicators.items(), key=lambda kv: category_key(kv[1], kv[0])):
        names = f"{indicator_id} {ind['name_zh']} {ind['name_en']} {ind['unit']}".lower()
        definition = (ind.get("definition") or "").lower()
        if needle in names or needle in definition:
            hits.append(
                {
                    "id": indicator_id,
                    "ind": ind,
                    "in_name": needle in names,
                    "name_html": highlight(f"{ind['name_zh']} {ind['name_en']}", q),
                }
            )
    return sorted(hits, key=lambda h: not h["in_name"])[:MAX_HITS]


def _region_hits(data, q: str) -> list[dict]:
    needle, as_slug = q.lower(), slug(q)
    codes = {
        code for name, code in region_slugs(data).items() if needle in name.lower() or (as_slug and as_slug in name)
    }
    codes |= {
        code
        for code, r in data.regions.items()
        if r["level"] in SITE_LEVELS
        and (needle in r["name_en"].lower() or needle in r["name_zh"] or code.lower() == needle)
    }
    regions = [data.regions[c] for c in codes if c in data.by_region]
    regions.sort(key=lambda r: (SITE_LEVELS.index(r["level"]), r["region_code"]))
    return [{"region": r, "name_html": highlight(f"{r['name_zh']} {r['name_en']}", q)} for r in regions[:MAX_HITS]]


async def _document_hits(datasette, q: str) -> list[dict]:
    db = datasette.get_database(DATABASE)
    if not await rows_of(db, "SELECT 1 AS x FROM sqlite_master WHERE name = 'policy_documents'"):
        return []
    sql = (datasette.metadata("queries", database=DATABASE) or {}).get("search_policy_documents", {}).get("sql")
    if not sql:
        return []
    rows = await rows_of(db, sql, {"q": q})
    return [
        {**d, "href": safe_href(d.get("url")), "excerpt_html": highlight(d.get("excerpt") or "", q)}
        for d in rows[:MAX_HITS]
    ]


async def search_page(datasette, request):
    data = await portal_data(datasette)
    q = (request.args.get("q") or "").strip()[:MAX_QUERY_CHARS]
    indicators = _indicator_hits(data, q) if q else []
    regions = _region_hits(data, q) if q else []
    documents = await _document_hits(datasette, q) if q else []
    context = {
        "q": q,
        "search_q": q,
        "indicators": indicators,
        "regions": regions,
        "documents": documents,
        "n_hits": len(indicators) + len(regions) + len(documents),
        "page_title": f"搜索 Search{': ' + q if q else ''}",
    }
    return await render_page(datasette, request, "sti_search.html", context)
