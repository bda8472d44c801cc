"""The portal's data, read once per publication: small tables and the observations of the site's levels.

Scale (a county-level data set: millions of rows): the site never reads a whole table. It keeps the
small tables and the observations of the levels its pages rank (SITE_LEVELS: national, provinces,
HK/Macao/Taiwan, countries, world; a few thousand rows, read through the region_level index) and
reads any other region's rows by its code when its page is asked for.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from portal.site.constants import CATEGORY_ZH, DATABASE, NATIONAL, SITE_LEVELS
from portal.site.hotswap import follow_publication, identity_of
from sti_portal.core.settings import CATALOGUE_DIR, load_settings
from sti_portal.publish.downloads import read_manifest


@dataclass
class PortalData:
    identity: tuple
    indicators: dict
    sources: dict
    regions: dict
    build: dict
    # Observations of the SITE_LEVELS only (see _load); other levels through region_rows().
    by_indicator: dict = field(default_factory=dict)  # indicator_id -> list of observation dicts
    by_region: dict = field(default_factory=dict)  # region_code -> list of observation dicts
    cell: dict = field(default_factory=dict)  # (indicator_id, region_code, year) -> observation

    @property
    def version(self) -> str:
        return (self.build.get("built_at_utc") or "")[:10]

    def source_title(self, source_id: str) -> str:
        source = self.sources.get(source_id)
        if source:
            return source["title_en"]
        if source_id == "sti_portal_derived":
            return "Derived by sti-portal"
        return source_id or ""

    def indicator_sources(self, indicator_id: str) -> list[dict]:
        ids = [s for s in (self.indicators[indicator_id]["source_ids"] or "").split(";") if s]
        return [self.sources[s] for s in ids if s in self.sources]

    def rank_level(self, indicator_id: str) -> str:
        levels = {row["region_level"] for row in self.by_indicator.get(indicator_id, [])}
        return "province" if "province" in levels else "country"

    def level_rows(self, indicator_id: str, level: str, year: int) -> list[dict]:
        return [
            row
            for row in self.by_indicator.get(indicator_id, [])
            if row["region_level"] == level and row["year"] == year and row["value"] is not None
        ]

    def years(self, indicator_id: str, level: str) -> list[int]:
        return sorted(
            {
                row["year"]
                for row in self.by_indicator.get(indicator_id, [])
                if row["region_level"] == level and row["value"] is not None
            }
        )

    def default_year(self, indicator_id: str, level: str) -> int | None:
        """The latest year with (nearly) full coverage: a year a few countries have already reported is skipped."""
        counts: dict[int, int] = {}
        for row in self.by_indicator.get(indicator_id, []):
            if row["region_level"] == level and row["value"] is not None:
                counts[row["year"]] = counts.get(row["year"], 0) + 1
        if not counts:
            return None
        best = max(counts.values())
        return max(year for year, count in counts.items() if count >= 0.8 * best)

    def national(self, indicator_id: str) -> tuple[str | None, dict | None]:
        """The national figure's region (100000, or China for the World Bank series) and its latest row."""
        for code in (NATIONAL, "CHN"):
            rows = [
                r
                for r in self.by_indicator.get(indicator_id, [])
                if r["region_code"] == code and r["value"] is not None
            ]
            if rows:
                return code, max(rows, key=lambda r: r["year"])
        return None, None


# The data of the publication being served (replaced when a new one is published).
_cache: dict = {"data": None}
_lock = asyncio.Lock()


def current_data() -> PortalData | None:
    """The data loaded for the last publication served, without waiting (None before the first load)."""
    return _cache["data"]


async def portal_data(datasette) -> PortalData:
    follow_publication(datasette)
    db = datasette.get_database(DATABASE)
    identity = getattr(db, "identity", None) or identity_of(db.path)
    data = _cache["data"]
    if data is not None and data.identity == identity:
        return data
    async with _lock:
        data = _cache["data"]
        if data is not None and data.identity == identity:
            return data
        data = await _load(db, identity)
        _cache["data"] = data
        return data


async def rows_of(db, sql: str, params=None) -> list[dict]:
    result = await db.execute(sql, params or [], custom_time_limit=30_000)
    columns = result.columns
    return [dict(zip(columns, row)) for row in result.rows]


OBSERVATION_COLUMNS = (
    "region_code, region_zh, region_en, region_level, indicator_id, year, value, unit, obs_status, "
    "source_id, release, source_ref, note, n_releases"
)


async def _load(db, identity) -> PortalData:
    """The small tables, and the observations of the site's levels (SITE_LEVELS) through the region_level index.

    Never the whole observations table: a county-level data set puts millions of rows in it, which the
    site's pages only reach one region at a time (`region_rows`)."""
    indicators = {row["indicator_id"]: row for row in await rows_of(db, "SELECT * FROM indicators")}
    sources = {row["source_id"]: row for row in await rows_of(db, "SELECT * FROM sources")}
    regions = {row["region_code"]: row for row in await rows_of(db, "SELECT * FROM regions")}
    build = {row["key"]: row["value"] for row in await rows_of(db, "SELECT key, value FROM build_info")}
    data = PortalData(identity, indicators, sources, regions, build)
    # likelihood(): ANALYZE (without STAT4) sees 5-6 levels and guesses a sixth of the table per level, so
    # it would scan; in fact the site's levels are a few thousand rows among millions of counties.
    levels = ", ".join("?" for _ in SITE_LEVELS)
    observations = await rows_of(
        db,
        f"SELECT {OBSERVATION_COLUMNS} FROM observations "
        f"WHERE likelihood(region_level IN ({levels}), 0.001) "
        "ORDER BY indicator_id, year, region_code",
        list(SITE_LEVELS),
    )
    for row in observations:
        data.by_indicator.setdefault(row["indicator_id"], []).append(row)
        data.by_region.setdefault(row["region_code"], []).append(row)
        data.cell[(row["indicator_id"], row["region_code"], row["year"])] = row
    return data


async def region_rows(datasette, data: PortalData, code: str) -> list[dict]:
    """A region's observations: from memory for the site's levels, else one indexed query (region_code)."""
    if code in data.by_region:
        return data.by_region[code]
    region = data.regions.get(code)
    if region is None or region["level"] in SITE_LEVELS:
        return []
    return await rows_of(
        datasette.get_database(DATABASE),
        f"SELECT {OBSERVATION_COLUMNS} FROM observations WHERE region_code = ? ORDER BY indicator_id, year",
        [code],
    )


def downloads_dir(datasette) -> Path | None:
    """The downloads built with the sti.db being served (beside it, in the same generation)."""
    db = datasette.get_database(DATABASE)
    if not db.path:
        return None
    folder = Path(os.path.realpath(db.path)).parent / "downloads"
    return folder if folder.is_dir() else None


def downloads_manifest(datasette) -> dict | None:
    """The manifest of the served downloads (read once per version: sti_portal.publish.downloads caches it)."""
    return read_manifest(downloads_dir(datasette))


def download_links(base: str) -> list[dict]:
    return [
        {"label": "CSV (UTF-8)", "href": f"/downloads/{base}.csv", "kind": "csv"},
        {"label": "CSV for Excel (UTF-8 with BOM)", "href": f"/downloads/{base}-excel.csv", "kind": "csv_bom"},
        {"label": "JSON", "href": f"/downloads/{base}.json", "kind": "json"},
    ]


def query_links(name: str, params: dict) -> dict:
    query = urllib.parse.urlencode(params)
    return {
        "html": f"/{DATABASE}/{name}?{query}",
        "csv": f"/{DATABASE}/{name}.csvcite?{query}&_size=max",
        "csvbom": f"/{DATABASE}/{name}.csvbom?{query}&_size=max",
        "json": f"/{DATABASE}/{name}.jsoncite?{query}",
    }


def figure_path(indicator_id: str, region_code: str, year: int) -> str:
    """The stable address of one figure (portal/site/figure.py)."""
    return f"/figure/{indicator_id}/{urllib.parse.quote(region_code)}/{year}"


def today() -> str:
    return dt.date.today().isoformat()


# STI_BASE_URL: the public address citations use, so a citation does not name whatever host served the
# request (a proxy's internal name, 127.0.0.1). Read once: the settings do not change while serving.
BASE_URL = load_settings().base_url.rstrip("/")


def absolute_url(datasette, request, path: str) -> str:
    """The stable address of `path`: STI_BASE_URL + path when configured, else the request's host."""
    if BASE_URL:
        return BASE_URL + path
    return datasette.absolute_url(request, path)


def page_url(datasette, request) -> str:
    path = request.path + (f"?{request.query_string}" if request.query_string else "")
    return absolute_url(datasette, request, path)


def _catalogue_order() -> dict[str, int]:
    """Indicators in the catalogue's order (rd_intensity first), not alphabetical."""
    try:
        with open(CATALOGUE_DIR / "indicators.csv", encoding="utf-8", newline="") as handle:
            return {row["indicator_id"]: n for n, row in enumerate(csv.DictReader(handle))}
    except (OSError, KeyError):
        return {}


CATALOGUE_ORDER = _catalogue_order()


def category_key(ind: dict, indicator_id: str) -> tuple:
    order = list(CATEGORY_ZH)
    category = ind["category"]
    return (
        order.index(category) if category in order else len(order),
        category,
        CATALOGUE_ORDER.get(indicator_id, len(CATALOGUE_ORDER)),
        indicator_id,
    )


def indicator_label(ind: dict) -> str:
    return f"{ind['name_zh']} {ind['name_en']}"
