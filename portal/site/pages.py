"""The portal's pages: home, map and downloads, and what every page handler shares (render_page, 404 pages).

The indicator page is in indicator.py, region and comparison pages in region.py, figure pages in figure.py,
the targets tracker in targets.py."""

from __future__ import annotations

import re

from datasette.utils.asgi import Response

from portal.site.constants import CATEGORY_ZH, DATABASE, DEFAULT_MAP_INDICATOR, NATIONAL, TILE_GRID, VENDOR_JS
from portal.site.data import category_key, downloads_manifest, figure_path, indicator_label, portal_data
from portal.site.display import POPULATION, html_decimals, per_capita, per_capita_value
from portal.site.formatting import fmt, human_bytes, json_for_script
from portal.site.http_cache import versioned_asset
from portal.site.tracking import region_summary, summary_totals


async def render_page(datasette, request, template: str, context: dict, status: int = 200) -> Response:
    context = {"metadata": datasette.metadata(), **context}
    if context.get("vendor_js"):
        # Our own scripts under their versioned URL (cached a year); the vendored libraries' URLs carry
        # their version already (http_cache.IMMUTABLE_PREFIXES).
        context["vendor_js"] = [versioned_asset(url) for url in context["vendor_js"]]
    html = await datasette.render_template(template, context, request=request, view_name=template.removesuffix(".html"))
    return Response.html(html, status=status)


async def not_found_page(datasette, request, message: str, links: list | None = None) -> Response:
    """A 404 in the portal's own look: what was asked for does not exist, said plainly, with where to go instead."""
    context = {"message": message, "links": links or [], "page_title": "未找到 Not found"}
    return await render_page(datasette, request, "sti_message.html", context, status=404)


def year_arg(request, years: list[int]) -> tuple[int | None, str | None]:
    """?year= as given: (year, None) when absent or among `years`, else (None, message) for a clear 404."""
    value = request.args.get("year")
    if value is None or value == "":
        return None, None
    year = int(value) if re.fullmatch(r"\d{4}", value) else None
    if year is not None and year in years:
        return year, None
    span = f"{years[0]}–{years[-1]}" if years else "none"
    return None, f"No data for year {value!r} (无该年数据): years with values are {span}"


async def home_page(datasette, request):
    data = await portal_data(datasette)
    categories: dict[str, list] = {}
    for indicator_id, ind in sorted(data.indicators.items(), key=lambda kv: category_key(kv[1], kv[0])):
        code, latest = data.national(indicator_id)
        level = data.rank_level(indicator_id)
        years = data.years(indicator_id, level)
        categories.setdefault(ind["category"], []).append(
            {
                "id": indicator_id,
                "ind": ind,
                "national_label": ("全国 National" if code == NATIONAL else "中国 China (World Bank)")
                if code
                else None,
                "value": fmt(latest["value"], html_decimals(ind)) if latest else None,
                "href": figure_path(indicator_id, code, latest["year"]) if latest else None,
                "year": latest["year"] if latest else None,
                "source": data.source_title(latest["source_id"])
                if latest
                else "; ".join(s["title_en"] for s in data.indicator_sources(indicator_id)),
                "source_id": latest["source_id"] if latest else None,
                "years": f"{years[0]}–{years[-1]}" if years else "",
                "stock_or_flow": ind["stock_or_flow"],
            }
        )
    provinces = sorted(
        (
            r
            for r in data.regions.values()
            if r["level"] in ("province", "sar_or_taiwan") and r["region_code"] in data.by_region
        ),
        key=lambda r: r["region_code"],
    )
    context = {
        "categories": [(name, CATEGORY_ZH.get(name, ""), rows) for name, rows in categories.items()],
        "provinces": provinces,
        "queries": canned_queries(datasette),
        "sources": list(data.sources.values()),
        "summary": (summary := await region_summary(datasette.get_database(DATABASE), data)),
        "totals": summary_totals(summary),
        "citation_source": "China Statistical Yearbook on Science and Technology (NBS, MOST) and the sources listed",
        "page_title": "sti-portal 区域科技创新统计",
    }
    return await render_page(datasette, request, "sti_home.html", context)


def canned_queries(datasette) -> list[dict]:
    queries = datasette.metadata("queries", database=DATABASE) or {}
    return [
        {
            "name": name,
            "title": q.get("title", name),
            "description": q.get("description", ""),
            "example": q.get("example", ""),
        }
        for name, q in queries.items()
    ]


def _map_tiles(data, ind: dict, year: int, per: dict | None) -> list[dict]:
    """One tile per province-level region: its value (per capita when `per`) and its figure page."""
    decimals, tiles = html_decimals(ind), []
    for code, (col, row) in TILE_GRID.items():
        region = data.regions.get(code, {"name_zh": code, "name_en": code})
        obs = data.cell.get((ind["indicator_id"], code, year))
        value = obs["value"] if obs else None
        population = data.cell.get((POPULATION, code, year))
        pc = per_capita_value(value, population["value"] if population else None, per["factor"]) if per else None
        shown = pc if per else value
        tiles.append(
            {
                "code": code,
                "col": col,
                "row": row,
                "zh": region["name_zh"],
                "en": region["name_en"],
                "value": shown,
                "display": fmt(shown, per["decimals"] if per else decimals) if shown is not None else "n/a",
                "total_display": fmt(value, decimals) if value is not None else "n/a",
                "url": f"/region/{code}",
                "figure": figure_path(ind["indicator_id"], code, year) if obs else None,
            }
        )
    return tiles


async def map_page(datasette, request):
    data = await portal_data(datasette)
    indicator_id = request.url_vars.get("indicator_id") or request.args.get("indicator") or DEFAULT_MAP_INDICATOR
    ind = data.indicators.get(indicator_id)
    if ind is None:
        return await not_found_page(datasette, request, f"No indicator {indicator_id!r} 没有此指标")
    mappable = [i for i in sorted(data.indicators) if data.rank_level(i) == "province"]
    if indicator_id not in mappable:
        return await not_found_page(datasette, request, f"{indicator_id} has no provincial values to map 无省级数据")
    years = data.years(indicator_id, "province")
    year, problem = year_arg(request, years)
    if problem:
        return await not_found_page(datasette, request, problem, [(indicator_label(ind), f"/map/{indicator_id}")])
    year = year or data.default_year(indicator_id, "province")
    spec = per_capita(indicator_id)
    per = spec if request.args.get("per") == "capita" else None
    tiles = _map_tiles(data, ind, year, per)
    values = [t["value"] for t in tiles if t["value"] is not None]
    national = data.cell.get((indicator_id, NATIONAL, year))
    payload = {
        "indicator": indicator_id,
        "unit": per["unit"] if per else ind["unit"],
        "year": year,
        "tiles": tiles,
        "columns": 1 + max(c for c, _ in TILE_GRID.values()),
        "rows": 1 + max(r for _, r in TILE_GRID.values()),
        "midpoint": (min(values) + max(values)) / 2 if values else 0,
    }
    context = {
        "ind": ind,
        "indicator_id": indicator_id,
        "year": year,
        "years": list(reversed(years)),
        "indicators": [data.indicators[i] for i in mappable],
        "tiles": sorted(tiles, key=lambda t: -(t["value"] or -1e18)),
        "chart_json": json_for_script(payload),
        "national_display": fmt(national["value"], html_decimals(ind)) if national else None,
        "national_href": figure_path(indicator_id, NATIONAL, year) if national else None,
        "per": per,
        "per_spec": spec,
        "citation_source": "; ".join(s["title_en"] for s in data.indicator_sources(indicator_id)),
        "page_title": f"地图 Map: {indicator_label(ind)}",
        "vendor_js": VENDOR_JS,
    }
    return await render_page(datasette, request, "sti_map.html", context)


async def downloads_page(datasette, request):
    data = await portal_data(datasette)
    manifest = downloads_manifest(datasette)
    groups = {"tables": [], "indicators": [], "regions": []}
    zip_file = None
    if manifest:
        by_base: dict[str, dict] = {}
        for item in manifest["files"]:
            if item["kind"] == "zip":  # deflated while sent: only the size of what it holds is known
                size = (
                    human_bytes(item["bytes"])
                    if item.get("bytes") is not None
                    else human_bytes(item.get("content_bytes") or 0) + " before compression"
                )
                zip_file = {**item, "size": size}
                continue
            folder, name = item["path"].split("/", 1)
            base = name.removesuffix(".json").removesuffix("-excel.csv").removesuffix(".csv")
            entry = by_base.setdefault(
                f"{folder}/{base}",
                {
                    "folder": folder,
                    "base": base,
                    "title": item.get("title", base),
                    "rows": item.get("rows"),
                    "files": {},
                },
            )
            entry["files"][item["kind"]] = {"href": f"/downloads/{item['path']}", "size": human_bytes(item["bytes"])}
        for entry in by_base.values():
            groups[entry["folder"]].append(entry)
    context = {
        "manifest": manifest,
        "zip_file": zip_file,
        "groups": groups,
        "queries": canned_queries(datasette),
        "citation_source": "China Statistical Yearbook on Science and Technology (NBS, MOST) and the sources listed",
        "page_title": "下载 Downloads",
        "version": data.version,
    }
    return await render_page(datasette, request, "sti_downloads.html", context)
