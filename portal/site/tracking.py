"""What the targets and revisions pages share: targets by region (target_region_summary), a region's targets and
the figures its documents report against the official series (reported_vs_official), and first release vs latest.

Kept apart from targets.py so that the home, region, map and indicator pages can use it without importing a page
module (targets.py imports pages.py, which the home page lives in).
"""

from __future__ import annotations

import urllib.parse

from portal.site.constants import DATABASE, TILE_GRID
from portal.site.data import PortalData, figure_path, rows_of
from portal.site.display import html_decimals
from portal.site.formatting import fmt, fmt_number, fmt_signed

# the colours of the status badges (portal/static/*.css .sti-status-*: background, text), for the tiles of /map/targets
STATUS_FILL = {
    "met": ("#c6f6d5", "#22543d"),
    "on_track": ("#bee3f8", "#2a4365"),
    "off_track": ("#fed7d7", "#742a2a"),
    "no_data": ("#edf2f7", "#4a5568"),
    "none": ("#ffffff", "#4a5568"),
}
STATUS_WORDS = {
    "met": "已达成 Met",
    "on_track": "正常 On track",
    "off_track": "落后 Off track",
    "no_data": "无法判断 Not judgeable",
    "none": "无目标 No target",
}
VERDICT_CLASS = {"agrees within rounding": "met", "differs": "off_track", "not comparable": "no_data"}


async def table_exists(db, name: str) -> bool:
    return bool(await rows_of(db, "SELECT 1 AS x FROM sqlite_master WHERE name = ?", [name]))


def map_status(row: dict) -> str:
    """The colour of a region on /map/targets: its most common judged status, ties to the worse one;
    not judgeable when no target is judged, none without targets."""
    if not row.get("targets"):
        return "none"
    if not row.get("judged"):
        return "no_data"
    counts = [(row.get(s) or 0, -rank, s) for rank, s in enumerate(("off_track", "on_track", "met"))]
    return max(counts)[2]


async def region_summary(db, data: PortalData) -> list[dict]:
    """Per region with policy documents: documents, targets met / on track / off track / not judgeable and why,
    reported figures and how many agree with the official series (table target_region_summary)."""
    if not await table_exists(db, "target_region_summary"):
        return []
    rows = await rows_of(
        db,
        "SELECT s.*, (SELECT count(*) FROM policy_documents d WHERE coalesce(d.region_code, d.province_code) "
        "= s.region_code) AS documents FROM target_region_summary s ORDER BY s.region_code",
    )
    summary = []
    for r in rows:
        if not (r["documents"] or r["targets"] or r["reported_figures"]):
            continue
        region = data.regions.get(r["region_code"], {})
        reasons = [part.strip() for part in (r.get("no_data_reasons") or "").split(";") if part.strip()]
        summary.append(
            {
                **r,
                "zh": region.get("name_zh", r.get("region_zh") or r["region_code"]),
                "en": region.get("name_en", ""),
                "reasons": reasons,
                "map_status": map_status(r),
                "targets_href": f"/targets?region={r['region_code']}",
                "region_href": f"/region/{r['region_code']}" if r["region_code"] in data.by_region else None,
            }
        )
    return summary


def summary_totals(summary: list[dict]) -> dict:
    keys = ("documents", "targets", "met", "on_track", "off_track", "no_data", "judged", "reported_figures")
    return {k: sum(r.get(k) or 0 for r in summary) for k in keys + ("reported_agree",)}


def target_tiles(summary: list[dict], data: PortalData) -> list[dict]:
    """One SVG tile per province-level region of TILE_GRID, coloured by map_status."""
    by_code = {r["region_code"]: r for r in summary}
    tiles = []
    for code, (col, row) in TILE_GRID.items():
        region = data.regions.get(code, {"name_zh": code, "name_en": code})
        s = by_code.get(code, {})
        status = map_status(s) if s else "none"
        tiles.append(
            {
                "code": code,
                "x": col * 40,
                "y": row * 40,
                "zh": region["name_zh"],
                "en": region["name_en"],
                "status": status,
                "fill": STATUS_FILL[status][0],
                "text_fill": STATUS_FILL[status][1],
                "words": STATUS_WORDS[status],
                "summary": s,
                "href": f"/targets?region={code}",
            }
        )
    return tiles


async def region_targets(db, code: str) -> list[dict]:
    """A region's targets (its cities' too), worst status first, with the evidence span, offset and document."""
    return await rows_of(
        db,
        "SELECT t.statement_id, t.doc_id, t.doc_title, t.doc_date, t.region, t.indicator, t.indicator_text, "
        "t.span AS evidence, t.char_offset, t.value, t.unit, t.comparator, t.target_year, p.status, p.rule, "
        "p.warehouse_indicator, p.unit AS indicator_unit, p.latest_year, p.latest_value, p.caveat, d.url AS doc_url "
        "FROM targets t JOIN policy_documents d ON d.doc_id = t.doc_id "
        "LEFT JOIN target_progress p ON p.statement_id = t.statement_id "
        "WHERE (t.region_code = :code OR t.province_code = :code) AND t.review_status <> 'rejected' "
        "ORDER BY t.indicator = 'other', CASE p.status WHEN 'off_track' THEN 0 WHEN 'on_track' THEN 1 "
        "WHEN 'met' THEN 2 WHEN 'no_data' THEN 3 ELSE 4 END, t.target_year, t.doc_id, t.char_offset",
        {"code": code},
    )


def doc_row_href(doc_id: str) -> str:
    return f"/{DATABASE}/policy_documents?" + urllib.parse.urlencode({"doc_id": doc_id})


def _official(data: PortalData, r: dict) -> tuple[int, str | None, str | None]:
    ind = data.indicators.get(r.get("warehouse_indicator") or "")
    decimals = html_decimals(ind) if ind else 2
    shown = fmt(r["official_value"], decimals) if r.get("official_value") is not None else None
    href = (
        figure_path(r["warehouse_indicator"], r["region_code"], r["year"])
        if shown and ind and (r["warehouse_indicator"], r["region_code"], r["year"]) in data.cell
        else None
    )
    return decimals, shown, href


async def reported_rows(db, data: PortalData, code: str) -> list[dict]:
    """The achieved figures a region's documents report, against the official value (reported_vs_official)."""
    if not await table_exists(db, "reported_vs_official"):
        return []
    rows = await rows_of(
        db,
        "SELECT * FROM reported_vs_official WHERE region_code = ? "
        "ORDER BY verdict = 'not comparable', year DESC, indicator, statement_id",
        [code],
    )
    shown = []
    for r in rows:
        decimals, official, href = _official(data, r)
        shown.append(
            {
                **r,
                "reported": f"{fmt_number(r['reported_value'])} {r.get('reported_unit') or ''}".strip(),
                "official": official,
                "official_href": href,
                "difference_display": fmt_signed(r["difference"], decimals)
                if r.get("difference") is not None
                else None,
                "difference_pct_display": f"{r['difference_pct']:+.2f} %"
                if r.get("difference_pct") is not None
                else "",
                "verdict_class": VERDICT_CLASS.get(r.get("verdict"), "no_data"),
                "doc_href": doc_row_href(r["doc_id"]),
                "offset": (r["statement_id"].rsplit(":", 1)[-1]).split("-")[0] if ":" in r["statement_id"] else "",
            }
        )
    return shown


FIRST_VS_LATEST_SQL = """
select o.region_code, o.region_zh, o.region_en, o.year, o.value as latest_value, o.release as latest_release,
       o.source_ref as latest_source_ref, f.value as first_value, f.release as first_release,
       f.source_ref as first_source_ref
from observations o
join observation_history f on f.rowid = (
  select h.rowid from observation_history h join releases r on r.release_id = h.release
  where h.region_code = o.region_code and h.indicator_id = o.indicator_id and h.year = o.year
  order by r.vintage, r.precedence, h.release limit 1)
where o.indicator_id = :indicator and o.year = :year and o.region_level in ('national', 'province')
  and o.value is not null
order by o.region_code
"""


async def first_release_vs_latest(db, data: PortalData, indicator_id: str, year: int) -> tuple[int, list[dict]]:
    """Every province's (and the national) first release of a year's value against the value now current, for the
    page's year or, when all of that year's values are still their first release (no later edition yet), the
    latest of the two years before it that has one; no rows for an indicator that is only released once."""
    for shown_year in (year, year - 1, year - 2):
        rows = await rows_of(db, FIRST_VS_LATEST_SQL, {"indicator": indicator_id, "year": shown_year})
        if any(r["first_release"] != r["latest_release"] for r in rows):
            return shown_year, _first_vs_latest_rows(data, indicator_id, shown_year, rows)
    return year, []


def _first_vs_latest_rows(data: PortalData, indicator_id: str, year: int, rows: list[dict]) -> list[dict]:
    decimals = html_decimals(data.indicators[indicator_id])
    return [
        {
            **r,
            "first_display": fmt(r["first_value"], decimals),
            "latest_display": fmt(r["latest_value"], decimals),
            "revision": r["latest_value"] - r["first_value"],
            "revision_display": fmt_signed(r["latest_value"] - r["first_value"], decimals),
            "revised": round(r["latest_value"], decimals) != round(r["first_value"], decimals),
            "href": figure_path(indicator_id, r["region_code"], year),
        }
        for r in rows
    ]
