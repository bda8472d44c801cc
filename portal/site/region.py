"""Region pages (/region/<code or name>) and the region-vs-region comparison (/compare?a=...&b=...)."""

from __future__ import annotations

from datasette.utils.asgi import Response

from portal.site.constants import CATEGORY_ZH, DATABASE, LEVEL_LABEL, NATIONAL
from portal.site.data import category_key, download_links, figure_path, portal_data, query_links, region_rows
from portal.site.display import POPULATION, html_decimals, per_capita, per_capita_value
from portal.site.formatting import competition_ranks, fmt, fmt_signed, sparkline
from portal.site.pages import not_found_page, render_page
from portal.site.quality import yoy_warning
from portal.site.regions import resolve_region
from portal.site.targets import TARGET_STATUS, target_words
from portal.site.tracking import doc_row_href, region_summary, region_targets, reported_rows, table_exists

PAGE_LEVELS = ("national", "province", "sar_or_taiwan")


def _comparison(ind: dict, value, national_value) -> str:
    """How a region's value compares with the national figure, in words."""
    if value is None or national_value in (None, 0):
        return ""
    decimals = html_decimals(ind)
    if ind["stock_or_flow"] == "ratio":
        unit = " pp" if ind["unit"] == "%" else f" {ind['unit']}"
        difference = value - national_value
        word = "above" if difference > 0 else "below" if difference < 0 else "equal to"
        return f"{fmt_signed(difference, decimals)}{unit} ({word} national {fmt(national_value, decimals)})"
    share = 100 * value / national_value
    return f"{share:.1f} % of national total"


def _per_capita_words(data, indicator_id: str, code: str, year: int, value) -> str | None:
    """ "1,234 元/人 yuan per person" for a region's value, where the catalogue says a per-capita view makes sense."""
    spec = per_capita(indicator_id)
    population = data.cell.get((POPULATION, code, year))
    pc = per_capita_value(value, population["value"] if population else None, spec["factor"]) if spec else None
    return f"{fmt(pc, spec['decimals'])} {spec['unit']}" if pc is not None else None


def _spark_breaks(series: list[dict], spark: dict | None) -> list[dict]:
    """Where the sparkline's series breaks (obs_status b): the x, y of each such point, with its year."""
    if spark is None:
        return []
    drawn = [r for r in series if r["value"] is not None]  # the rows sparkline() draws, in its order
    coords = [tuple(point.split(",")) for point in spark["points"].split()]
    return [{"x": x, "y": y, "year": r["year"]} for r, (x, y) in zip(drawn, coords) if r.get("obs_status") == "b"]


def _region_row(data, region: dict, code: str, indicator_id: str, ind: dict, series: list[dict]) -> dict:
    latest = series[-1]
    decimals = html_decimals(ind)
    rank = n_ranked = None
    if region["level"] == "province":
        peers = data.level_rows(indicator_id, "province", latest["year"])
        ranks = competition_ranks([(r["region_code"], r["value"]) for r in peers])
        rank, n_ranked = ranks.get(code), len(peers)
    national_code = NATIONAL if region["level"] in ("province", "sar_or_taiwan") else None
    national_row = data.cell.get((indicator_id, national_code, latest["year"])) if national_code else None
    national_value = national_row["value"] if national_row else None
    return {
        "id": indicator_id,
        "ind": ind,
        "category": ind["category"],
        "category_zh": CATEGORY_ZH.get(ind["category"], ""),
        "year": latest["year"],
        "display": fmt(latest["value"], decimals),
        "value": latest["value"],
        "row": latest,
        "href": figure_path(indicator_id, code, latest["year"]),
        "yoy": yoy_warning(data, ind, code, latest["year"]),
        "rank": rank,
        "n_ranked": n_ranked,
        "national_display": fmt(national_value, decimals) if national_value is not None else None,
        "national_href": figure_path(indicator_id, national_code, latest["year"]) if national_row else None,
        "comparison": _comparison(ind, latest["value"], national_value),
        "per_capita": _per_capita_words(data, indicator_id, code, latest["year"], latest["value"]),
        "spark": (spark := sparkline([(r["year"], r["value"]) for r in series])),
        "spark_breaks": _spark_breaks(series, spark),
        "spark_title": f"{series[0]['year']}: {fmt(series[0]['value'], decimals)} → "
        f"{latest['year']}: {fmt(latest['value'], decimals)} {ind['unit']}",
        "source": data.source_title(latest["source_id"]),
    }


async def _targets(db, data, code: str) -> list[dict]:
    """The region's policy targets (its cities' too) with status, latest value (a figure link) and evidence."""
    if not await table_exists(db, "target_progress"):
        return []
    shown = []
    for r in await region_targets(db, code):
        wid, year = r.get("warehouse_indicator"), r.get("latest_year")
        ind = data.indicators.get(wid) if wid else None
        shown.append(
            {
                **r,
                "target": target_words(r),
                "status_label": TARGET_STATUS.get(r.get("status"), ("无统计指标 No statistic", ""))[0],
                "status_class": r.get("status") or "other",
                "latest": fmt(r["latest_value"], html_decimals(ind))
                if ind and r.get("latest_value") is not None
                else None,
                "latest_href": figure_path(wid, code, year) if ind and (wid, code, year) in data.cell else None,
                "doc_href": doc_row_href(r["doc_id"]),
            }
        )
    return shown


async def region_page(datasette, request):
    data = await portal_data(datasette)
    asked = request.url_vars["region_code"]
    code = resolve_region(data, asked)
    if code is not None and code != asked:
        return Response.redirect(f"/region/{code}")  # /region/hebei -> /region/130000, the stable address
    region = data.regions.get(code) if code else None
    rows = await region_rows(datasette, data, code) if region is not None else []
    if not rows:
        return await not_found_page(
            datasette,
            request,
            f"No region {asked!r} 没有此地区 (a code such as 130000, or a name such as hebei or 河北)",
            [("地区列表 All regions", "/#regions")],
        )
    by_indicator: dict[str, list] = {}
    for row in rows:
        by_indicator.setdefault(row["indicator_id"], []).append(row)
    table = []
    for indicator_id, ind in sorted(data.indicators.items(), key=lambda kv: category_key(kv[1], kv[0])):
        series = sorted(
            (r for r in by_indicator.get(indicator_id, []) if r["value"] is not None), key=lambda r: r["year"]
        )
        if series:
            table.append(_region_row(data, region, code, indicator_id, ind, series))
    neighbours = sorted(
        (r for r in data.regions.values() if r["level"] in PAGE_LEVELS and r["region_code"] in data.by_region),
        key=lambda r: r["region_code"],
    )
    has_files = region["level"] in PAGE_LEVELS
    db = datasette.get_database(DATABASE)
    targets = await _targets(db, data, code) if region["level"] in PAGE_LEVELS else []
    source_ids = sorted({row["source_id"] for row in rows})
    context = {
        "region": region,
        "code": code,
        "table": table,
        "neighbours": neighbours,
        "level_label": LEVEL_LABEL.get(region["level"], region["level"]),
        "downloads": download_links(f"regions/{code}") if has_files else [],
        "profile_query": query_links("region_profile", {"region": code}),
        "targets": targets,
        "target_summary": next((r for r in await region_summary(db, data) if r["region_code"] == code), None),
        "reported": await reported_rows(db, data, code) if region["level"] in PAGE_LEVELS else [],
        "compare_href": f"/compare?a={code}&b={NATIONAL if code != NATIONAL else '110000'}",
        "citation_source": "; ".join(data.source_title(s) for s in source_ids),
        "page_title": f"{region['name_zh']} {region['name_en']}",
    }
    return await render_page(datasette, request, "sti_region.html", context)


def _compare_row(data, indicator_id: str, ind: dict, a: str, b: str) -> dict | None:
    """Both regions' values in the latest year both have, each linked to its figure page."""
    years_a = {
        r["year"] for r in data.by_region.get(a, []) if r["indicator_id"] == indicator_id and r["value"] is not None
    }
    years_b = {
        r["year"] for r in data.by_region.get(b, []) if r["indicator_id"] == indicator_id and r["value"] is not None
    }
    common = years_a & years_b
    if not common:
        return None
    year = max(common)
    decimals = html_decimals(ind)
    row_a, row_b = data.cell[(indicator_id, a, year)], data.cell[(indicator_id, b, year)]
    ratio = row_a["value"] / row_b["value"] if row_b["value"] else None
    return {
        "id": indicator_id,
        "ind": ind,
        "year": year,
        "category": ind["category"],
        "category_zh": CATEGORY_ZH.get(ind["category"], ""),
        "a": {
            "display": fmt(row_a["value"], decimals),
            "href": figure_path(indicator_id, a, year),
            "status": row_a["obs_status"],
            "per_capita": _per_capita_words(data, indicator_id, a, year, row_a["value"]),
        },
        "b": {
            "display": fmt(row_b["value"], decimals),
            "href": figure_path(indicator_id, b, year),
            "status": row_b["obs_status"],
            "per_capita": _per_capita_words(data, indicator_id, b, year, row_b["value"]),
        },
        "difference": fmt_signed(row_a["value"] - row_b["value"], decimals),
        "ratio": f"{ratio:.2f}×" if ratio is not None and ind["stock_or_flow"] != "ratio" else None,
    }


async def compare_page(datasette, request):
    data = await portal_data(datasette)
    choices = sorted(
        (r for r in data.regions.values() if r["level"] in PAGE_LEVELS and r["region_code"] in data.by_region),
        key=lambda r: r["region_code"],
    )
    asked = {side: (request.args.get(side) or "").strip() for side in ("a", "b")}
    codes = {side: resolve_region(data, text) if text else None for side, text in asked.items()}
    for side, text in asked.items():
        if text and (codes[side] is None or codes[side] not in data.by_region):
            return await not_found_page(
                datasette, request, f"No region {text!r} 没有此地区", [("比较 Compare", "/compare")]
            )
    a, b = codes["a"] or "110000", codes["b"] or "310000"
    rows = [
        row
        for indicator_id, ind in sorted(data.indicators.items(), key=lambda kv: category_key(kv[1], kv[0]))
        if (row := _compare_row(data, indicator_id, ind, a, b)) is not None
    ]
    region_a, region_b = data.regions[a], data.regions[b]
    context = {
        "a": a,
        "b": b,
        "region_a": region_a,
        "region_b": region_b,
        "rows": rows,
        "choices": choices,
        "citation_source": "; ".join(
            sorted({data.source_title(data.cell[(r["id"], a, r["year"])]["source_id"]) for r in rows})
        ),
        "page_title": f"比较 Compare: {region_a['name_zh']} {region_a['name_en']} – {region_b['name_zh']} {region_b['name_en']}",
    }
    return await render_page(datasette, request, "sti_compare.html", context)
