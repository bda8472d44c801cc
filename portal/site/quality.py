"""Quality in plain sight: year-on-year warnings beside the values, and the plain-language validation page.

Year-on-year warnings are the rule of the `year_on_year` expectation suite (a change from the year
before larger than the indicator's ``yoy_max_ratio`` in the catalogue), applied here to the current
values the page shows, so every flagged value can carry its warning (validation_results keeps only the
first rows of each failing check as text).
"""

from __future__ import annotations

from portal.site.constants import DATABASE
from portal.site.data import PortalData, portal_data, rows_of
from portal.site.display import html_decimals
from portal.site.formatting import fmt
from portal.site.pages import render_page

# A series break (obs_status `b`, set on the current series by warehouse/views.sql), in the chart's tooltip.
BREAK_WORDS = (
    "b 序列中断 Break in series: this year's value comes from another release than the year before's, and the "
    "change is beyond this indicator's usual year-on-year bound; do not read the change as growth"
)

# What each suite checks, in words a reader of the statistics understands.
SUITE_WORDS = {
    "observations": (
        "每行完整 Every row is complete",
        "every value has a region, indicator, year, release, source "
        "and source cell; codes are known; no value appears twice in one release",
    ),
    "value_ranges": (
        "数值范围 Values within plausible bounds",
        "each indicator's values lie between the bounds in the catalogue (e.g. R&D intensity between 0 and 10 %)",
    ),
    "additivity": (
        "省份相加 Provinces add up",
        "for additive indicators the provinces sum to the national total within a small tolerance",
    ),
    "bulletin_agreement": (
        "公报与年鉴一致 Bulletin and yearbook agree",
        "the NBS bulletin's first release and the "
        "yearbook's value agree within the stated tolerance, or the difference is documented",
    ),
    "coverage": ("覆盖完整 Full coverage", "indicators that should cover all 31 provinces do, in every year"),
    "year_on_year": (
        "同比变化 Year-on-year changes",
        "a change from the year before larger than the indicator "
        "usually shows is noted (not blocking): often where two yearbook editions join",
    ),
}


def yoy_warning(data: PortalData, ind: dict, code: str, year: int) -> str | None:
    """Words for a year-on-year change beyond the indicator's yoy_max_ratio, or None."""
    bound = ind.get("yoy_max_ratio")
    row, previous = (
        data.cell.get((ind["indicator_id"], code, year)),
        data.cell.get((ind["indicator_id"], code, year - 1)),
    )
    if not bound or row is None or previous is None or not previous["value"] or row["value"] is None:
        return None
    change = row["value"] / previous["value"] - 1
    if abs(change) <= bound:
        return None
    decimals = html_decimals(ind)
    same = row["release"] == previous["release"]
    joined = "" if same else f" — the two years come from different releases ({previous['release']} → {row['release']})"
    return (
        f"同比变化 {change:+.0%} Year-on-year change {fmt(previous['value'], decimals)} → {fmt(row['value'], decimals)} "
        f"({year - 1}→{year}) is beyond this indicator's usual ±{bound:.0%}{joined}"
    )


async def validation_page(datasette, request):
    data = await portal_data(datasette)
    results = await rows_of(
        datasette.get_database(DATABASE), "SELECT * FROM validation_results ORDER BY suite, expectation"
    )
    suites: dict[str, dict] = {}
    for r in results:
        title, about = SUITE_WORDS.get(r["suite"], (r["suite"], ""))
        suite = suites.setdefault(
            r["suite"],
            {"suite": r["suite"], "title": title, "about": about, "checks": 0, "passed": 0, "noted": [], "failed": []},
        )
        suite["checks"] += 1
        if r["passed"]:
            suite["passed"] += 1
        else:
            (suite["noted"] if r["severity"] == "warning" else suite["failed"]).append(r)
    warnings = []
    for indicator_id, rows in data.by_indicator.items():
        ind = data.indicators[indicator_id]
        for row in rows:
            if row["region_level"] in ("province", "national") and (
                text := yoy_warning(data, ind, row["region_code"], row["year"])
            ):
                warnings.append(
                    {
                        "row": row,
                        "ind": ind,
                        "text": text,
                        "href": f"/figure/{indicator_id}/{row['region_code']}/{row['year']}",
                    }
                )
    context = {
        "suites": list(suites.values()),
        "warnings": warnings,
        "built_at": data.build.get("built_at_utc", ""),
        "page_title": "数据检查 What was checked",
        "citation_source": "sti-portal validation results (validation_results)",
    }
    return await render_page(datasette, request, "sti_validation.html", context)
