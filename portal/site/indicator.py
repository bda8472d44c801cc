"""The indicator page: /indicator/<id>[?year=Y&region=CODE...&per=capita].

Definition, unit, caveats, source; that year's ranking (table + bar chart, every value linked to its
figure page); a line chart over time for the chosen regions; downloads of exactly that data. With
``per=capita`` (where catalogue/indicator_display.csv says a per-person view makes sense) the ranking
and the bar chart are per 10 000 people or yuan per person, from the same year's population.
"""

from __future__ import annotations

from portal.site.constants import DATABASE, LEVEL_LABEL, MAX_CHOSEN_REGIONS, NATIONAL, VENDOR_JS
from portal.site.data import download_links, figure_path, indicator_label, portal_data, query_links
from portal.site.display import POPULATION, html_decimals, per_capita, per_capita_value
from portal.site.formatting import competition_ranks, fmt, json_for_script, safe_href
from portal.site.pages import not_found_page, render_page, year_arg
from portal.site.quality import BREAK_WORDS, yoy_warning
from portal.site.tracking import first_release_vs_latest


def _line_chart_regions(data, request, indicator_id: str, level: str, ranking: list, national_code) -> tuple:
    """The line chart's regions (chosen, the chooser's groups) and its series."""
    ind = data.indicators[indicator_id]
    decimals = html_decimals(ind)
    # Regions for the line chart: the ones asked for (?region=...), else the national figure and the top three.
    all_codes = {r["region_code"] for r in data.by_indicator.get(indicator_id, [])}
    chosen = [c for c in request.args.getlist("region") if c in all_codes][:MAX_CHOSEN_REGIONS]
    if not chosen:  # the national line only for ratios: a national total would flatten the provinces
        with_national = national_code and ind["stock_or_flow"] == "ratio"
        chosen = ([national_code] if with_national else []) + [r["region_code"] for r in ranking[:3]]
        if level == "country" and "WLD" in all_codes:
            chosen.insert(1, "WLD")
    chooser_levels = ["national", "province", "sar_or_taiwan"] if level == "province" else ["country", "world"]
    chooser = []
    for lvl in chooser_levels:
        regions = sorted(
            {
                (r["region_code"], r["region_zh"], r["region_en"])
                for r in data.by_indicator.get(indicator_id, [])
                if r["region_level"] == lvl
            },
            key=lambda t: t[2] if lvl == "country" else t[0],
        )
        if regions:
            chooser.append(
                {
                    "level": LEVEL_LABEL.get(lvl, lvl),
                    "regions": [{"code": c, "zh": zh, "en": en, "checked": c in chosen} for c, zh, en in regions],
                }
            )
    series = [
        {
            "code": r["region_code"],
            "label": f"{r['region_zh']} {r['region_en']}",
            "year": r["year"],
            "value": r["value"],
            "display": fmt(r["value"], decimals),
            **({"warn": warn} if (warn := yoy_warning(data, ind, r["region_code"], r["year"])) else {}),
            # A series break (obs_status b, warehouse/views.sql): drawn as its own marker, with the legend's words.
            **({"brk": BREAK_WORDS} if r.get("obs_status") == "b" else {}),
        }
        for r in data.by_indicator.get(indicator_id, [])
        if r["value"] is not None and r["region_level"] in chooser_levels
    ]
    return chosen, chooser, series


def _ranking(data, ind: dict, rows: list[dict], year: int, national_value, per: dict | None) -> list[dict]:
    """The year's rows, ranked (by the per-capita value when `per`), each with its figure page link."""
    decimals = html_decimals(ind)
    show_share = ind["stock_or_flow"] != "ratio" and national_value not in (None, 0)
    shown = []
    for r in rows:
        population = data.cell.get((POPULATION, r["region_code"], year))
        pc = per_capita_value(r["value"], population["value"] if population else None, per["factor"]) if per else None
        shown.append(
            {
                **r,
                "display": fmt(r["value"], decimals),
                "href": figure_path(ind["indicator_id"], r["region_code"], year),
                "share": f"{100 * r['value'] / national_value:.1f} %" if show_share else None,
                "per_capita": pc,
                "per_capita_display": fmt(pc, per["decimals"]) if pc is not None else None,
                "rank_value": pc if per else r["value"],
                "yoy": yoy_warning(data, ind, r["region_code"], year),
                "link": r["region_level"] in ("province", "national", "sar_or_taiwan"),
            }
        )
    shown = [r for r in shown if r["rank_value"] is not None]
    ranks = competition_ranks([(r["region_code"], r["rank_value"]) for r in shown])
    for r in shown:
        r["rank"] = ranks[r["region_code"]]
    return sorted(shown, key=lambda r: (r["rank"], r["region_code"]))


def _line_table(indicator_id: str, series: list[dict], chosen: list[str]) -> dict:
    """The line chart's values as a table (its text alternative): a row per year, a column per chosen region."""
    cells = {(p["code"], p["year"]): p for p in series if p["code"] in chosen}
    labels = {p["code"]: p["label"] for p in cells.values()}
    codes = [c for c in chosen if c in labels]
    years = sorted({year for _, year in cells}, reverse=True)
    rows = [
        {
            "year": year,
            "cells": [
                {"display": cells[(c, year)]["display"], "href": figure_path(indicator_id, c, year)}
                if (c, year) in cells
                else None
                for c in codes
            ],
        }
        for year in years
    ]
    return {"labels": [labels[c] for c in codes], "rows": rows}


def _reference(ind, level, ranking, national_code, national_value, per, national_pc) -> dict | None:
    """The bar chart's reference line: the national figure for a ratio (R&D intensity, per 10 000
    people) or a per-capita view; for totals and counts the national total dwarfs every province, so the
    provinces' mean."""
    if per and national_pc is not None:
        return {"label": "全国 National", "value": national_pc, "display": fmt(national_pc, per["decimals"])}
    if ind["stock_or_flow"] == "ratio" and national_value is not None and not per:
        return {
            "label": "全国 National" if national_code == NATIONAL else "中国 China",
            "value": national_value,
            "display": fmt(national_value, html_decimals(ind)),
        }
    if ranking and level == "province":
        mean = sum(r["rank_value"] for r in ranking) / len(ranking)
        return {
            "label": "各省平均 Province average",
            "value": mean,
            "display": fmt(mean, per["decimals"] if per else html_decimals(ind)),
        }
    return None


def _queries(indicator_id: str, year: int, first_year: int) -> list:
    params = {"indicator": indicator_id, "year": year}
    return [
        ("排名 Ranking", query_links("ranking", params)),
        ("高于全国平均 Above the national average", query_links("above_national_average", params)),
        (
            f"变化 Change {first_year}–{year}",
            query_links("change_between_years", {"indicator": indicator_id, "from_year": first_year, "to_year": year}),
        ),
        (
            "首次发布与最新值 First release vs latest",
            query_links("first_release_vs_latest", {"indicator": indicator_id, "region": ""}),
        ),
    ]


def _chart(ind: dict, year, ranking: list[dict], per: dict | None, reference, series, chosen) -> dict:
    """The charts' data (bar: the ranking, per capita when `per`; line: the series of the chosen regions)."""
    return {
        "indicator": ind["indicator_id"],
        "unit": per["unit"] if per else ind["unit"],
        "unit_en": per["unit_en"] if per else ind["unit_en"],
        "decimals": per["decimals"] if per else html_decimals(ind),
        "year": year,
        "ranking": [
            {
                "code": r["region_code"],
                "label": f"{r['region_zh']} {r['region_en']}",
                "value": r["rank_value"],
                "display": r["per_capita_display"] if per else r["display"],
                "rank": r["rank"],
            }
            for r in ranking
        ],
        "reference": reference,
        "series": series,
        "chosen": chosen,
    }


async def indicator_page(datasette, request):
    data = await portal_data(datasette)
    indicator_id = request.url_vars["indicator_id"]
    ind = data.indicators.get(indicator_id)
    if ind is None:
        return await not_found_page(
            datasette,
            request,
            f"No indicator {indicator_id!r} 没有此指标",
            [("指标列表 All indicators", "/#indicators")],
        )
    level = data.rank_level(indicator_id)
    years = data.years(indicator_id, level)
    year, problem = year_arg(request, years)
    if problem:
        return await not_found_page(datasette, request, problem, [(indicator_label(ind), f"/indicator/{indicator_id}")])
    year = year or data.default_year(indicator_id, level)
    per_spec = per_capita(indicator_id)
    per = per_spec if request.args.get("per") == "capita" and level == "province" else None
    national_code, _ = data.national(indicator_id)
    national_row = data.cell.get((indicator_id, national_code, year)) if national_code else None
    national_value = national_row["value"] if national_row else None
    national_pop = data.cell.get((POPULATION, NATIONAL, year))
    national_pc = (
        per_capita_value(national_value, national_pop["value"] if national_pop else None, per["factor"])
        if per
        else None
    )
    rows = data.level_rows(indicator_id, level, year) if year is not None else []
    ranking = _ranking(data, ind, rows, year, national_value, per)
    chosen, chooser, series = _line_chart_regions(data, request, indicator_id, level, ranking, national_code)
    reference = _reference(ind, level, ranking, national_code, national_value, per, national_pc)
    chart = _chart(ind, year, ranking, per, reference, series, chosen)
    sources = [{**s, "href": safe_href(s["url"])} for s in data.indicator_sources(indicator_id)]
    db = datasette.get_database(DATABASE)
    revised_year, first_vs_latest = (
        await first_release_vs_latest(db, data, indicator_id, year) if year and level == "province" else (year, [])
    )
    context = {
        "ind": ind,
        "indicator_id": indicator_id,
        "year": year,
        "years": list(reversed(years)),
        "level": level,
        "level_label": LEVEL_LABEL.get(level, level),
        "per": per,
        "per_spec": per_spec if level == "province" else None,
        "ranking": ranking,
        "national_row": national_row,
        "show_share": any(r["share"] for r in ranking),
        "national_display": fmt(national_value, html_decimals(ind)) if national_value is not None else None,
        "national_href": figure_path(indicator_id, national_code, year) if national_row else None,
        "national_pc_display": fmt(national_pc, per["decimals"]) if per and national_pc is not None else None,
        "national_label": "全国 National" if national_code == NATIONAL else "中国 China",
        "chart_json": json_for_script(chart),
        "chooser": chooser,
        "chosen": chosen,
        "line_table": _line_table(indicator_id, series, chosen),
        "sources": sources,
        "first_vs_latest": first_vs_latest,
        "revised_year": revised_year,
        "first_vs_latest_query": query_links("first_release_vs_latest", {"indicator": indicator_id, "region": ""}),
        "downloads": download_links(f"indicators/{indicator_id}"),
        "ranking_query": query_links("ranking", {"indicator": indicator_id, "year": year}),
        "queries": _queries(indicator_id, year, years[0] if years else year),
        "map_url": f"/map/{indicator_id}?year={year}" if level == "province" else None,
        "citation_source": "; ".join(f"{s['title_en']} ({s['title_zh']})" for s in sources)
        or data.source_title(indicator_id),
        "page_title": indicator_label(ind),
        "vendor_js": VENDOR_JS,
    }
    return await render_page(datasette, request, "sti_indicator.html", context)
