"""What's new (/releases): every release the warehouse holds, newest first, with what it added and revised.

"Added" = values (indicator, region, year) that no earlier release had; "revised" = values an earlier
release had with a different value (the `revisions` table, compared at display precision). Release
dates are the sources' publication dates where known (yearbook editions are dated at the end of the
edition year: the exact day is not in the files); releases without a date are listed last.
"""

from __future__ import annotations

from portal.site.constants import DATABASE
from portal.site.data import portal_data, rows_of
from portal.site.pages import render_page

RELEASE_SUMMARY_SQL = """
SELECT r.release_id, r.source_id, r.release_kind, r.vintage,
       count(h.value) AS n_values, count(DISTINCT h.indicator_id) AS n_indicators,
       min(h.year) AS first_year, max(h.year) AS last_year,
       sum(CASE WHEN NOT EXISTS (
             SELECT 1 FROM observation_history e JOIN releases er ON er.release_id = e.release
             WHERE e.region_code = h.region_code AND e.indicator_id = h.indicator_id AND e.year = h.year
               AND coalesce(er.vintage, '') < coalesce(r.vintage, '')) THEN 1 ELSE 0 END) AS n_added
FROM releases r LEFT JOIN observation_history h ON h.release = r.release_id
GROUP BY r.release_id, r.source_id, r.release_kind, r.vintage
ORDER BY r.vintage IS NULL, r.vintage DESC, r.release_id DESC
"""
REVISED_SQL = "SELECT new_release, count(*) AS n_revised FROM revisions GROUP BY new_release"


async def releases_page(datasette, request):
    data = await portal_data(datasette)
    db = datasette.get_database(DATABASE)
    revised = {r["new_release"]: r["n_revised"] for r in await rows_of(db, REVISED_SQL)}
    releases = [
        {**r, "n_revised": revised.get(r["release_id"], 0), "source": data.source_title(r["source_id"])}
        for r in await rows_of(db, RELEASE_SUMMARY_SQL)
    ]
    context = {
        "releases": releases,
        "built_at": data.build.get("built_at_utc", ""),
        "page_title": "更新记录 What's new: releases",
        "citation_source": "; ".join(sorted({r["source"] for r in releases})),
    }
    return await render_page(datasette, request, "sti_releases.html", context)
