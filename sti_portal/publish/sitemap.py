"""The portal's own URLs for one publication: what its pages link to, and what a crawler finds.

Used to warm the reverse proxy's cache for a new publication before the proxy switches to it
(`sti replicas publish --warm`, sti_portal/cli/replicas.py), and by the crawl benchmark
(benchmarks/crawl.py). Read from the published sti.db itself, so the list is exactly that publication's.
"""

from __future__ import annotations

import random
import sqlite3
import urllib.parse
from pathlib import Path


def site_urls(sti_db: Path, limit: int | None = None) -> list[str]:
    """Distinct portal URLs: pages per indicator and year, regions, maps, JSON, CSV and facet views.

    In a fixed shuffled order (the same for every caller), so a prefix of it is a fair sample.
    """
    with sqlite3.connect(f"file:{urllib.parse.quote(str(sti_db))}?immutable=1", uri=True) as db:
        # pages rank provinces (or countries): years with rows at those levels
        pairs = db.execute(
            "SELECT DISTINCT indicator_id, year FROM observations "
            "WHERE region_level IN ('province', 'country') ORDER BY 1, 2"
        ).fetchall()
        # the tile-grid map shows provinces: only indicators and years with province rows have one
        mapped = db.execute(
            "SELECT DISTINCT indicator_id, year FROM observations WHERE region_level = 'province' ORDER BY 1, 2"
        ).fetchall()
        regions = [r for (r,) in db.execute("SELECT DISTINCT region_code FROM observations ORDER BY 1")]
    indicators = sorted({i for i, _ in pairs})
    urls = ["/", "/map", "/downloads", "/targets", "/sti"]
    urls += [f"/indicator/{i}" for i in indicators] + [f"/region/{r}" for r in regions]
    for indicator, year in pairs:
        urls += [
            f"/indicator/{indicator}?year={year}",
            f"/sti/observations.json?indicator_id={indicator}&year={year}",
            f"/sti/ranking.json?indicator={indicator}&year={year}",
        ]
    urls += [f"/map/{indicator}?year={year}" for indicator, year in mapped]
    for indicator in indicators:
        urls += [
            f"/sti/observations?indicator_id={indicator}&_facet=year&_facet=region_level",
            f"/sti/observations.csv?indicator_id={indicator}&_size=max",
        ]
    for region in regions:
        urls += [f"/sti/observations.json?region_code={region}", f"/sti/region_profile.json?region={region}"]
    unique = list(dict.fromkeys(urls))
    random.Random(2026).shuffle(unique)
    return unique[:limit] if limit else unique
