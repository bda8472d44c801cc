"""sti-portal's public site on top of Datasette 0.65: home, indicator, region and map pages, downloads.

Loaded by `sti serve` with ``--plugins-dir portal/plugins``. Hooks used (all Datasette 0.65 core):

- ``register_routes``: ``/`` (home), ``/indicator/<id>``, ``/region/<code>``, ``/map/<id>``,
  ``/targets`` (policy targets against the statistics, with the policy-document search),
  ``/downloads`` (the list of the files pre-built at publish time; the files themselves,
  ``/downloads/<file>``, are streamed by ``sti_downloads.py``, see ``sti_portal/downloads.py``);
- ``register_output_renderer``: ``.csvcite`` (CSV with ``source`` and ``retrieved`` columns),
  ``.csvbom`` (the same, UTF-8 with a byte-order mark for Excel) and ``.jsoncite`` (JSON with source,
  licence, retrieval date and citation) for every table and stored query;
- ``render_cell``: values rounded to the indicator's ``display_decimals`` in HTML tables;
- ``extra_template_vars`` / ``extra_css_urls`` / ``menu_links``: the citation line and navigation;
- ``asgi_wrapper``: a Content-Security-Policy that lets pages load nothing from outside the portal,
  405 for any method but GET/HEAD/OPTIONS (the public portal only reads), the switch to a newly
  published sti.db (``follow_publication``) so a running portal serves the new data, all of it, with
  that file's table row counts (``_install_counts``: Datasette's inspect data, per publication), and a
  response cache (``response_cache``): complete GET responses of the immutable publication, bounded,
  emptied by a switch;
- ``startup``: the first publication's row counts and the portal's data before the first request.

Scale (a county-level data set: millions of rows): the plugin never reads a whole table. It keeps the
small tables and the observations of the levels its pages rank (SITE_LEVELS: national, provinces,
HK/Macao/Taiwan, countries, world; a few thousand rows, read through the region_level index) and
reads any other region's rows by its code when its page is asked for.

Nothing here writes: the database is served immutable (``-i``) and no plugin offers a write path.
Values reach HTML only through Jinja's autoescaping; chart data is embedded as JSON with ``<``, ``>``
and ``&`` escaped, in a ``<script type="application/json">`` block.
"""
# (no "from __future__ import annotations": Datasette loads this file outside sys.modules, where dataclasses need real annotations)

import asyncio
import csv
import datetime as dt
import io
import json
import os
import re
import sqlite3
import time
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import datasette.handle_exception as _datasette_errors
from datasette import hookimpl
from datasette.database import Database
from datasette.database import connections as _datasette_connections
from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup

# Datasette's default error handler prints every exception, 404s included, with `rich` and all local
# variables: 0.3-3 s of blocking CPU per request for a bad URL, which lets anyone stall the public
# server. Without `rich` it prints tracebacks of real (500) errors only, with the standard library.
_datasette_errors.rich = None

DATABASE = "sti"
PORTAL_NAME = "sti-portal"
NATIONAL = "100000"
VENDOR_JS = ["/assets/vendor/vega-6.4.0/vega.min.js", "/assets/vendor/vega-lite-6.5.0/vega-lite.min.js",
             "/assets/vendor/vega-embed-7.3.0/vega-embed.min.js", "/assets/sti-charts.js"]
MAX_CHOSEN_REGIONS = 12
DEFAULT_MAP_INDICATOR = "rd_intensity"
# Categories in the order the home and region pages list them.
CATEGORY_ZH = {"R&D input": "研发投入", "Patents": "专利", "Technology market": "技术市场",
               "High-tech industry": "高技术产业", "Entrepreneurship": "创新创业", "Population": "人口",
               "International": "国际比较"}
LEVEL_LABEL = {"national": "全国 National", "province": "省级 Province", "sar_or_taiwan": "港澳台 HK, Macao, Taiwan",
               "country": "国家 Country", "world": "世界 World"}
# The levels the site's own pages rank, map and chart. Bounded by geography (national, 31 provinces, 3
# SAR/Taiwan, ~220 countries), so their rows are held in memory per publication; rows of any other level
# (counties: millions in a county-level data set) stay in SQLite and are read one region at a time.
SITE_LEVELS = tuple(LEVEL_LABEL)
VALUE_COLUMNS = {"value", "old_value", "new_value", "difference", "first_release_value", "yearbook_value",
                 "from_value", "to_value", "change", "first_value", "latest_value", "revision",
                 "national_value", "national_average", "above_by", "difference_from_national"}

# Tile-grid map: (column, row) of each province-level region, roughly where it lies.
TILE_GRID = {
    "230000": (7, 0),
    "150000": (3, 1), "110000": (4, 1), "120000": (5, 1), "210000": (6, 1), "220000": (7, 1),
    "650000": (0, 2), "620000": (1, 2), "640000": (2, 2), "140000": (3, 2), "130000": (4, 2), "370000": (5, 2),
    "630000": (0, 3), "510000": (1, 3), "610000": (2, 3), "410000": (3, 3), "340000": (4, 3), "320000": (5, 3),
    "310000": (6, 3),
    "540000": (0, 4), "530000": (1, 4), "500000": (2, 4), "420000": (3, 4), "360000": (4, 4), "330000": (5, 4),
    "520000": (2, 5), "430000": (3, 5), "350000": (4, 5), "710000": (5, 5),
    "450000": (2, 6), "440000": (3, 6), "810000": (4, 6),
    "460000": (2, 7), "820000": (3, 7),
}

READ_METHODS = {"GET", "HEAD", "OPTIONS"}
# Sent with every response: pages may load scripts, styles, images and data from the portal only.
# 'unsafe-eval' is for Vega's expression compiler; 'unsafe-inline' for Datasette's own inline scripts.
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
     b"img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
     b"base-uri 'self'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


# --------------------------------------------------------------------------- formatting

def fmt(value, decimals: int | None) -> str:
    """A value for display: rounded to the indicator's display_decimals, thousands separated."""
    if value is None:
        return "—"
    decimals = 2 if decimals is None else int(decimals)
    return f"{value:,.{decimals}f}"


def fmt_signed(value, decimals: int | None) -> str:
    if value is None:
        return "—"
    text = fmt(abs(value), decimals)
    if round(value, int(decimals or 0)) == 0:
        return text
    return ("+" if value > 0 else "−") + text


def json_for_script(payload) -> Markup:
    """JSON that is safe inside <script type="application/json">: no <, > or & survive literally."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


def competition_ranks(values: list[tuple[str, float]]) -> dict[str, int]:
    """1224 ranking, highest value first."""
    ordered = sorted(values, key=lambda item: -item[1])
    ranks, previous, rank = {}, None, 0
    for position, (code, value) in enumerate(ordered, start=1):
        if value != previous:
            rank, previous = position, value
        ranks[code] = rank
    return ranks


def sparkline(points: list[tuple[int, float]], width: int = 132, height: int = 30, pad: int = 3) -> dict | None:
    """Coordinates for a small inline SVG trend line (rendered by the template, no JavaScript)."""
    points = [(year, value) for year, value in points if value is not None]
    if not points:
        return None
    years = [p[0] for p in points]
    values = [p[1] for p in points]
    y0, y1 = min(years), max(years)
    v0, v1 = min(values), max(values)

    def x(year):
        return pad + (width - 2 * pad) * ((year - y0) / (y1 - y0) if y1 > y0 else 0.5)

    def y(value):
        return height - pad - (height - 2 * pad) * ((value - v0) / (v1 - v0) if v1 > v0 else 0.5)

    coords = [(round(x(a), 1), round(y(b), 1)) for a, b in points]
    return {"width": width, "height": height, "points": " ".join(f"{a},{b}" for a, b in coords),
            "last": coords[-1], "first_year": y0, "last_year": y1}


# --------------------------------------------------------------------------- data (loaded once per sti.db)

@dataclass
class PortalData:
    identity: tuple
    indicators: dict
    sources: dict
    regions: dict
    build: dict
    # Observations of the SITE_LEVELS only (see _load); other levels through region_rows().
    by_indicator: dict = field(default_factory=dict)   # indicator_id -> list of observation dicts
    by_region: dict = field(default_factory=dict)      # region_code -> list of observation dicts
    cell: dict = field(default_factory=dict)           # (indicator_id, region_code, year) -> observation

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
        return [row for row in self.by_indicator.get(indicator_id, [])
                if row["region_level"] == level and row["year"] == year and row["value"] is not None]

    def years(self, indicator_id: str, level: str) -> list[int]:
        return sorted({row["year"] for row in self.by_indicator.get(indicator_id, [])
                       if row["region_level"] == level and row["value"] is not None})

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
            rows = [r for r in self.by_indicator.get(indicator_id, []) if r["region_code"] == code and r["value"] is not None]
            if rows:
                return code, max(rows, key=lambda r: r["year"])
        return None, None


_cache: dict = {"data": None}
_lock = asyncio.Lock()


def _identity(path: str | None) -> tuple:
    """Which file is published: its real path (through the `sti.db -> current/sti.db` links) and inode."""
    if not path:
        return ("memory",)
    real = os.path.realpath(path)
    stat = os.stat(real)
    return (real, stat.st_ino, stat.st_mtime_ns, stat.st_size)


class PublishedDatabase(Database):
    """sti.db of one publication, opened by its real path, with per-thread connections of its own.

    `sti build` / `sti load` publish by switching symlinks (STI_HOME/sti.db -> current/sti.db ->
    generations/<id>/sti.db) or by replacing the file. Datasette opens an immutable database once per
    SQL thread and keeps the connection under the database's *name*, so after a switch it would go on
    serving the old file, or a mix. `follow_publication` (run on every request) swaps in a new
    PublishedDatabase when the published file changes: new connections, pinned to the new file; the
    old ones are closed a minute later, after any query still running on them.
    """

    def __init__(self, ds, link_path: str, identity: tuple):
        super().__init__(ds, path=identity[0], is_mutable=False)
        self.link_path = link_path
        self.identity = identity
        self.counted: asyncio.Future | None = None  # _install_counts for this publication
        self._connection_key = f"sti_published_{abs(hash(identity))}"

    async def execute_fn(self, fn):
        if self.ds.executor is None:
            return await super().execute_fn(fn)
        key = self._connection_key

        def in_thread():
            conn = getattr(_datasette_connections, key, None)
            if not conn:
                conn = self.connect()
                self.ds._prepare_connection(conn, self.name)
                setattr(_datasette_connections, key, conn)
            return fn(conn)

        return await asyncio.get_event_loop().run_in_executor(self.ds.executor, in_thread)


def follow_publication(datasette) -> None:
    db = datasette.databases.get(DATABASE)
    if db is None or not db.path:
        return
    link = getattr(db, "link_path", db.path)
    try:
        identity = _identity(link)
    except OSError:  # mid-switch or gone: keep serving what is open
        return
    if getattr(db, "identity", None) == identity:
        return
    replacement = PublishedDatabase(datasette, link, identity)
    # No await between these calls: no request sees the portal without its database, or the new
    # database with the old one's row counts.
    datasette.remove_database(DATABASE)
    datasette.add_database(replacement, name=DATABASE)
    if datasette.inspect_data:
        datasette.inspect_data = {k: v for k, v in datasette.inspect_data.items() if k != DATABASE}
    try:
        replacement.counted = asyncio.ensure_future(_install_counts(datasette, replacement))
    except RuntimeError:  # no event loop running (called outside the server): Datasette counts per request
        pass
    if isinstance(db, PublishedDatabase):
        try:
            asyncio.get_running_loop().call_later(60, db.close)
        except RuntimeError:
            pass


def _count_tables(path: str) -> tuple[dict, str | None]:
    """Exact row counts of every table of one published file, and its build's content hash."""
    conn = sqlite3.connect(f"file:{urllib.parse.quote(path)}?immutable=1", uri=True)
    try:
        counts = {}
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            try:
                counts[name] = conn.execute(f"SELECT count(*) FROM [{name}]").fetchone()[0]
            except sqlite3.Error:
                pass
        try:
            row = conn.execute("SELECT value FROM build_info WHERE key = 'content_sha256'").fetchone()
        except sqlite3.Error:
            row = None
        return counts, (row[0] if row else None)
    finally:
        conn.close()


async def _install_counts(datasette, db: "PublishedDatabase") -> None:
    """Datasette's "inspect" data for this publication, so table pages do not count millions of rows per request.

    What `datasette inspect` + `--inspect-file` give, but per publication: a switch to a new sti.db
    (follow_publication) drops the old counts at once and installs the new ones when counted (about a
    second for 11 M rows), in a thread outside Datasette's SQL threads. The hash is the build's
    content_sha256 (build_info), not a SHA-256 of a multi-GB file, which Datasette would otherwise compute
    on the event loop the first time /-/databases.json is asked for.
    """
    try:
        counts, content_hash = await asyncio.to_thread(_count_tables, db.path)
    except Exception:  # unreadable: Datasette counts per request, as it would without this
        return
    if datasette.databases.get(DATABASE) is not db:
        return  # a newer publication replaced this one meanwhile
    info = {"hash": content_hash or f"{db.identity[2]:x}-{db.identity[3]:x}", "size": db.identity[3], "file": db.path,
            "tables": {name: {"count": n} for name, n in counts.items()}}
    datasette.inspect_data = {**(datasette.inspect_data or {}), DATABASE: info}
    db.cached_hash, db.cached_size, db._cached_table_counts = info["hash"], info["size"], counts


async def portal_data(datasette) -> PortalData:
    follow_publication(datasette)
    db = datasette.get_database(DATABASE)
    identity = getattr(db, "identity", None) or _identity(db.path)
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


async def _rows(db, sql: str, params=None) -> list[dict]:
    result = await db.execute(sql, params or [], custom_time_limit=30_000)
    columns = result.columns
    return [dict(zip(columns, row)) for row in result.rows]


OBSERVATION_COLUMNS = ("region_code, region_zh, region_en, region_level, indicator_id, year, value, unit, obs_status, "
                       "source_id, release, source_ref, note, n_releases")


async def _load(db, identity) -> PortalData:
    """The small tables, and the observations of the site's levels (SITE_LEVELS) through the region_level index.

    Never the whole observations table: a county-level data set puts millions of rows in it, which the
    site's pages only reach one region at a time (`region_rows`)."""
    indicators = {row["indicator_id"]: row for row in await _rows(db, "SELECT * FROM indicators")}
    sources = {row["source_id"]: row for row in await _rows(db, "SELECT * FROM sources")}
    regions = {row["region_code"]: row for row in await _rows(db, "SELECT * FROM regions")}
    build = {row["key"]: row["value"] for row in await _rows(db, "SELECT key, value FROM build_info")}
    data = PortalData(identity, indicators, sources, regions, build)
    # likelihood(): ANALYZE (without STAT4) sees 5-6 levels and guesses a sixth of the table per level, so
    # it would scan; in fact the site's levels are a few thousand rows among millions of counties.
    levels = ", ".join("?" for _ in SITE_LEVELS)
    observations = await _rows(db, f"SELECT {OBSERVATION_COLUMNS} FROM observations "
                                    f"WHERE likelihood(region_level IN ({levels}), 0.001) "
                                    "ORDER BY indicator_id, year, region_code", list(SITE_LEVELS))
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
    return await _rows(datasette.get_database(DATABASE),
                       f"SELECT {OBSERVATION_COLUMNS} FROM observations WHERE region_code = ? ORDER BY indicator_id, year",
                       [code])


def downloads_dir(datasette) -> Path | None:
    """The downloads built with the sti.db being served (beside it, in the same generation)."""
    db = datasette.get_database(DATABASE)
    if not db.path:
        return None
    folder = Path(os.path.realpath(db.path)).parent / "downloads"
    return folder if folder.is_dir() else None


def downloads_manifest(datasette) -> dict | None:
    """The manifest of the served downloads (read once per version: sti_portal.publish.downloads caches it)."""
    from sti_portal.publish.downloads import read_manifest

    return read_manifest(downloads_dir(datasette))


def download_links(base: str) -> list[dict]:
    return [{"label": "CSV (UTF-8)", "href": f"/downloads/{base}.csv", "kind": "csv"},
            {"label": "CSV for Excel (UTF-8 with BOM)", "href": f"/downloads/{base}-excel.csv", "kind": "csv_bom"},
            {"label": "JSON", "href": f"/downloads/{base}.json", "kind": "json"}]


def query_links(name: str, params: dict) -> dict:
    query = urllib.parse.urlencode(params)
    return {"html": f"/{DATABASE}/{name}?{query}", "csv": f"/{DATABASE}/{name}.csvcite?{query}&_size=max",
            "csvbom": f"/{DATABASE}/{name}.csvbom?{query}&_size=max", "json": f"/{DATABASE}/{name}.jsoncite?{query}"}


def today() -> str:
    return dt.date.today().isoformat()


def page_url(datasette, request) -> str:
    path = request.path + (f"?{request.query_string}" if request.query_string else "")
    return datasette.absolute_url(request, path)


def _catalogue_order() -> dict[str, int]:
    """Indicators in the catalogue's order (rd_intensity first), not alphabetical."""
    try:
        from sti_portal.core.settings import CATALOGUE_DIR

        with open(CATALOGUE_DIR / "indicators.csv", encoding="utf-8", newline="") as handle:
            return {row["indicator_id"]: n for n, row in enumerate(csv.DictReader(handle))}
    except (ImportError, OSError, KeyError):
        return {}


CATALOGUE_ORDER = _catalogue_order()


def category_key(ind: dict, indicator_id: str) -> tuple:
    order = list(CATEGORY_ZH)
    category = ind["category"]
    return (order.index(category) if category in order else len(order), category,
            CATALOGUE_ORDER.get(indicator_id, len(CATALOGUE_ORDER)), indicator_id)


def indicator_label(ind: dict) -> str:
    return f"{ind['name_zh']} {ind['name_en']}"


# --------------------------------------------------------------------------- pages

def safe_href(url) -> str | None:
    """Only http(s) links are rendered as links (a `javascript:` URL in a source row stays text)."""
    url = (url or "").strip()
    return url if re.match(r"https?://", url, flags=re.IGNORECASE) else None


async def _render(datasette, request, template: str, context: dict) -> Response:
    context = {"metadata": datasette.metadata(), **context}
    html = await datasette.render_template(template, context, request=request, view_name=template.removesuffix(".html"))
    return Response.html(html)


def _int_arg(request, name: str) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if not re.fullmatch(r"-?\d{1,4}", value):
        return None
    return int(value)


async def home_page(datasette, request):
    data = await portal_data(datasette)
    categories: dict[str, list] = {}
    for indicator_id, ind in sorted(data.indicators.items(), key=lambda kv: category_key(kv[1], kv[0])):
        code, latest = data.national(indicator_id)
        level = data.rank_level(indicator_id)
        years = data.years(indicator_id, level)
        categories.setdefault(ind["category"], []).append({
            "id": indicator_id, "ind": ind,
            "national_label": ("全国 National" if code == NATIONAL else "中国 China (World Bank)") if code else None,
            "value": fmt(latest["value"], ind["display_decimals"]) if latest else None,
            "year": latest["year"] if latest else None,
            "source": data.source_title(latest["source_id"]) if latest else
            "; ".join(s["title_en"] for s in data.indicator_sources(indicator_id)),
            "source_id": latest["source_id"] if latest else None,
            "years": f"{years[0]}–{years[-1]}" if years else "",
            "stock_or_flow": ind["stock_or_flow"],
        })
    provinces = sorted((r for r in data.regions.values() if r["level"] in ("province", "sar_or_taiwan")
                        and r["region_code"] in data.by_region), key=lambda r: r["region_code"])
    context = {
        "categories": [(name, CATEGORY_ZH.get(name, ""), rows) for name, rows in categories.items()],
        "provinces": provinces,
        "queries": _canned_queries(datasette),
        "sources": list(data.sources.values()),
        "citation_source": "China Statistical Yearbook on Science and Technology (NBS, MOST) and the sources listed",
        "page_title": "sti-portal 区域科技创新统计",
    }
    return await _render(datasette, request, "sti_home.html", context)


def _canned_queries(datasette) -> list[dict]:
    queries = (datasette.metadata("queries", database=DATABASE) or {})
    return [{"name": name, "title": q.get("title", name), "description": q.get("description", ""),
             "example": q.get("example", "")} for name, q in queries.items()]


async def indicator_page(datasette, request):
    data = await portal_data(datasette)
    indicator_id = request.url_vars["indicator_id"]
    ind = data.indicators.get(indicator_id)
    if ind is None:
        raise NotFound(f"No indicator {indicator_id!r}")
    decimals = ind["display_decimals"]
    level = data.rank_level(indicator_id)
    years = data.years(indicator_id, level)
    year = _int_arg(request, "year")
    if year not in years:
        year = data.default_year(indicator_id, level)
    rows = data.level_rows(indicator_id, level, year) if year is not None else []
    ranks = competition_ranks([(r["region_code"], r["value"]) for r in rows])
    rows = sorted(rows, key=lambda r: (ranks[r["region_code"]], r["region_code"]))
    national_code, _ = data.national(indicator_id)
    national_row = data.cell.get((indicator_id, national_code, year)) if national_code else None
    national_value = national_row["value"] if national_row else None
    show_share = ind["stock_or_flow"] != "ratio" and national_value not in (None, 0)
    ranking = [{**r, "rank": ranks[r["region_code"]], "display": fmt(r["value"], decimals),
                "share": f"{100 * r['value'] / national_value:.1f} %" if show_share else None,
                "link": r["region_level"] in ("province", "national", "sar_or_taiwan")} for r in rows]

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
        regions = sorted({(r["region_code"], r["region_zh"], r["region_en"]) for r in data.by_indicator.get(indicator_id, [])
                          if r["region_level"] == lvl}, key=lambda t: (t[2] if lvl == "country" else t[0]))
        if regions:
            chooser.append({"level": LEVEL_LABEL.get(lvl, lvl),
                            "regions": [{"code": c, "zh": zh, "en": en, "checked": c in chosen} for c, zh, en in regions]})
    series = [{"code": r["region_code"], "label": f"{r['region_zh']} {r['region_en']}", "year": r["year"],
               "value": r["value"], "display": fmt(r["value"], decimals)}
              for r in data.by_indicator.get(indicator_id, []) if r["value"] is not None
              and r["region_level"] in chooser_levels]
    # The bar chart's reference line: the national figure for a ratio (R&D intensity, per 10 000
    # people); for totals and counts the national total dwarfs every province, so the provinces' mean.
    reference = None
    if ind["stock_or_flow"] == "ratio" and national_value is not None:
        reference = {"label": "全国 National" if national_code == NATIONAL else "中国 China", "value": national_value,
                     "display": fmt(national_value, decimals)}
    elif ranking and level == "province":
        mean = sum(r["value"] for r in ranking) / len(ranking)
        reference = {"label": "各省平均 Province average", "value": mean, "display": fmt(mean, decimals)}
    chart = {
        "indicator": indicator_id, "unit": ind["unit"], "unit_en": ind["unit_en"], "decimals": decimals,
        "year": year,
        "ranking": [{"code": r["region_code"], "label": f"{r['region_zh']} {r['region_en']}", "value": r["value"],
                     "display": r["display"], "rank": r["rank"]} for r in ranking],
        "reference": reference,
        "series": series, "chosen": chosen,
    }
    sources = [{**s, "href": safe_href(s["url"])} for s in data.indicator_sources(indicator_id)]
    params = {"indicator": indicator_id, "year": year}
    first_year = years[0] if years else year
    context = {
        "ind": ind, "indicator_id": indicator_id, "year": year, "years": list(reversed(years)), "level": level,
        "level_label": LEVEL_LABEL.get(level, level),
        "ranking": ranking, "national_row": national_row, "show_share": show_share,
        "national_display": fmt(national_value, decimals) if national_value is not None else None,
        "national_label": "全国 National" if national_code == NATIONAL else "中国 China",
        "chart_json": json_for_script(chart), "chooser": chooser, "chosen": chosen,
        "sources": sources, "downloads": download_links(f"indicators/{indicator_id}"),
        "ranking_query": query_links("ranking", params),
        "queries": [
            ("排名 Ranking", query_links("ranking", params)),
            ("高于全国平均 Above the national average", query_links("above_national_average", params)),
            (f"变化 Change {first_year}–{year}", query_links("change_between_years",
                                                           {"indicator": indicator_id, "from_year": first_year, "to_year": year})),
            ("首次发布与最新值 First release vs latest", query_links("first_release_vs_latest",
                                                                   {"indicator": indicator_id, "region": ""})),
        ],
        "map_url": f"/map/{indicator_id}?year={year}" if level == "province" else None,
        "citation_source": "; ".join(f"{s['title_en']} ({s['title_zh']})" for s in sources) or data.source_title(indicator_id),
        "page_title": indicator_label(ind),
        "vendor_js": VENDOR_JS,
    }
    return await _render(datasette, request, "sti_indicator.html", context)


def _comparison(ind: dict, value, national_value) -> str:
    """How a region's value compares with the national figure, in words."""
    if value is None or national_value in (None, 0):
        return ""
    decimals = ind["display_decimals"]
    if ind["stock_or_flow"] == "ratio":
        unit = " pp" if ind["unit"] == "%" else f" {ind['unit']}"
        difference = value - national_value
        word = "above" if difference > 0 else "below" if difference < 0 else "equal to"
        return f"{fmt_signed(difference, decimals)}{unit} ({word} national {fmt(national_value, decimals)})"
    share = 100 * value / national_value
    return f"{share:.1f} % of national total"


async def region_page(datasette, request):
    data = await portal_data(datasette)
    code = request.url_vars["region_code"]
    region = data.regions.get(code)
    rows = await region_rows(datasette, data, code) if region is not None else []
    if not rows:
        raise NotFound(f"No region {code!r}")
    by_indicator: dict[str, list] = {}
    for row in rows:
        by_indicator.setdefault(row["indicator_id"], []).append(row)
    table = []
    for indicator_id, ind in sorted(data.indicators.items(), key=lambda kv: category_key(kv[1], kv[0])):
        series = sorted((r for r in by_indicator.get(indicator_id, []) if r["value"] is not None), key=lambda r: r["year"])
        if not series:
            continue
        latest = series[-1]
        decimals = ind["display_decimals"]
        rank = n_ranked = None
        if region["level"] == "province":
            peers = data.level_rows(indicator_id, "province", latest["year"])
            ranks = competition_ranks([(r["region_code"], r["value"]) for r in peers])
            rank, n_ranked = ranks.get(code), len(peers)
        national_code = NATIONAL if region["level"] in ("province", "sar_or_taiwan") else None
        national_row = data.cell.get((indicator_id, national_code, latest["year"])) if national_code else None
        national_value = national_row["value"] if national_row else None
        table.append({
            "id": indicator_id, "ind": ind, "category": ind["category"],
            "category_zh": CATEGORY_ZH.get(ind["category"], ""), "year": latest["year"],
            "display": fmt(latest["value"], decimals), "value": latest["value"], "row": latest,
            "rank": rank, "n_ranked": n_ranked,
            "national_display": fmt(national_value, decimals) if national_value is not None else None,
            "comparison": _comparison(ind, latest["value"], national_value),
            "spark": sparkline([(r["year"], r["value"]) for r in series]),
            "spark_title": f"{series[0]['year']}: {fmt(series[0]['value'], decimals)} → "
                           f"{latest['year']}: {fmt(latest['value'], decimals)} {ind['unit']}",
            "source": data.source_title(latest["source_id"]),
        })
    neighbours = sorted((r for r in data.regions.values() if r["level"] in ("province", "sar_or_taiwan", "national")
                         and r["region_code"] in data.by_region), key=lambda r: r["region_code"])
    has_files = region["level"] in ("national", "province", "sar_or_taiwan")
    source_ids = sorted({row["source_id"] for row in rows})
    context = {
        "region": region, "code": code, "table": table, "neighbours": neighbours,
        "level_label": LEVEL_LABEL.get(region["level"], region["level"]),
        "downloads": download_links(f"regions/{code}") if has_files else [],
        "profile_query": query_links("region_profile", {"region": code}),
        "citation_source": "; ".join(data.source_title(s) for s in source_ids),
        "page_title": f"{region['name_zh']} {region['name_en']}",
    }
    return await _render(datasette, request, "sti_region.html", context)


async def map_page(datasette, request):
    data = await portal_data(datasette)
    indicator_id = request.url_vars.get("indicator_id") or request.args.get("indicator") or DEFAULT_MAP_INDICATOR
    ind = data.indicators.get(indicator_id)
    if ind is None:
        raise NotFound(f"No indicator {indicator_id!r}")
    mappable = [i for i in sorted(data.indicators) if data.rank_level(i) == "province"]
    if indicator_id not in mappable:
        raise NotFound(f"{indicator_id} has no provincial values to map")
    years = data.years(indicator_id, "province")
    year = _int_arg(request, "year")
    if year not in years:
        year = data.default_year(indicator_id, "province")
    decimals = ind["display_decimals"]
    tiles = []
    for code, (col, row) in TILE_GRID.items():
        region = data.regions.get(code, {"name_zh": code, "name_en": code})
        obs = data.cell.get((indicator_id, code, year))
        value = obs["value"] if obs else None
        tiles.append({"code": code, "col": col, "row": row, "zh": region["name_zh"], "en": region["name_en"],
                      "value": value, "display": fmt(value, decimals) if value is not None else "n/a",
                      "url": f"/region/{code}"})
    values = [t["value"] for t in tiles if t["value"] is not None]
    national = data.cell.get((indicator_id, NATIONAL, year))
    payload = {"indicator": indicator_id, "unit": ind["unit"], "year": year, "tiles": tiles,
               "columns": 1 + max(c for c, _ in TILE_GRID.values()), "rows": 1 + max(r for _, r in TILE_GRID.values()),
               "midpoint": (min(values) + max(values)) / 2 if values else 0}
    context = {
        "ind": ind, "indicator_id": indicator_id, "year": year, "years": list(reversed(years)),
        "indicators": [data.indicators[i] for i in mappable], "tiles": sorted(tiles, key=lambda t: -(t["value"] or -1e18)),
        "chart_json": json_for_script(payload),
        "national_display": fmt(national["value"], decimals) if national else None,
        "citation_source": "; ".join(s["title_en"] for s in data.indicator_sources(indicator_id)),
        "page_title": f"地图 Map: {indicator_label(ind)}",
        "vendor_js": VENDOR_JS,
    }
    return await _render(datasette, request, "sti_map.html", context)


# --------------------------------------------------------------------------- policy targets tracker

TARGET_STATUS = {  # status -> (label, explanation shown in the legend)
    "off_track": ("落后 Off track", "below the straight line (or the target growth rate) from the baseline to the target"),
    "on_track": ("正常 On track", "at or above the straight line (or the target growth rate) from the baseline"),
    "met": ("已达成 Met", "the latest value already reaches the target"),
    "no_data": ("无可比数据 No data", "no comparable series in the warehouse, or no value yet"),
}
COMPARATOR_WORDS = {"eq": ("≥", "达到 reach"), "ge": ("≥", "以上 / 不低于 at least"), "le": ("≤", "以下 / 不超过 at most"),
                    "approx": ("≈", "左右 about")}
MAX_SEARCH_CHARS = 100


def fmt_number(value, max_decimals: int = 4) -> str:
    """A number as a document writes it: thousands separated, no trailing zeros (2000.0 -> 2,000)."""
    if value is None:
        return "—"
    text = f"{value:,.{max_decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def target_words(row: dict) -> str:
    """The target in words: "≥ 2,000 亿元 by 2025", "年均增长 10 % a year to 2025"."""
    year = row.get("target_year")
    if row.get("comparator") == "growth":
        return f"年均增长 {fmt_number(row.get('value'))} % a year" + (f" to {year}" if year else "")
    sign, _ = COMPARATOR_WORDS.get(row.get("comparator"), ("=", ""))
    unit = row.get("unit") or ""
    return f"{sign} {fmt_number(row.get('value'))} {unit}".rstrip() + (f" by {year}" if year else "")


def highlight(text: str, term: str) -> Markup:
    """`text` escaped, with each case-insensitive occurrence of `term` in <mark>."""
    if not text:
        return Markup("")
    if not term:
        return Markup.escape(text)
    parts = re.split(f"({re.escape(term)})", text, flags=re.IGNORECASE)
    return Markup("").join(Markup("<mark>{}</mark>").format(p) if i % 2 else Markup.escape(p)
                           for i, p in enumerate(parts))


async def _query_rows(datasette, name: str, params: dict) -> list[dict]:
    """Run a stored query of metadata.yml: the page shows exactly what the query gives."""
    sql = (datasette.metadata("queries", database=DATABASE) or {})[name]["sql"]
    return await _rows(datasette.get_database(DATABASE), sql, params)


async def _table_exists(db, name: str) -> bool:
    return bool(await _rows(db, "SELECT 1 AS x FROM sqlite_master WHERE name = ?", [name]))


def _target_row(data: PortalData, row: dict) -> dict:
    """What the tracker shows for one target, formatted."""
    wid = row.get("warehouse_indicator")
    ind = data.indicators.get(wid) if wid and wid != "none" else None
    decimals = ind["display_decimals"] if ind else 4
    unit = row.get("indicator_unit") or ""
    code = row.get("region_code")
    latest = None
    if ind and row.get("latest_year") is not None and row.get("latest_value") is not None:
        obs = data.cell.get((wid, code, row["latest_year"]))
        latest = {"display": fmt(row["latest_value"], decimals), "unit": unit, "year": row["latest_year"],
                  "href": f"/{DATABASE}/observations?" + urllib.parse.urlencode(
                      {"region_code": code, "indicator_id": wid, "year": row["latest_year"]}),
                  "source_ref": row.get("latest_source_ref") or "",
                  "source": data.source_title(obs["source_id"]) if obs else ""}
    related = None
    if row.get("related_indicator"):
        rid = row["related_indicator"]
        rind = data.indicators.get(rid)
        value = row.get("related_value")
        related = {"id": rid, "name": indicator_label(rind) if rind else rid,
                   "value": fmt(value, rind["display_decimals"] if rind else 2) if value is not None else None,
                   "unit": rind["unit"] if rind else "", "year": row.get("related_year"),
                   "kind": rind["stock_or_flow"] if rind else ""}
    region = data.regions.get(code) if code else None
    growth = row.get("growth_needed_pct")
    per_year = row.get("change_needed_per_year")
    doc_href = safe_href(row.get("doc_url")) or f"/{DATABASE}/policy_documents?" + urllib.parse.urlencode({"doc_id": row["doc_id"]})
    return {
        **row,
        "ind": ind, "latest": latest, "related": related,
        "region_label": row.get("region") or (region["name_zh"] if region else code or ""),
        "region_link": f"/region/{code}" if code in data.by_region else None,
        "doc_href": doc_href, "doc_external": doc_href.startswith("http"),
        "doc_row_href": f"/{DATABASE}/policy_documents?" + urllib.parse.urlencode({"doc_id": row["doc_id"]}),
        "target": target_words(row),
        "comparator_title": COMPARATOR_WORDS.get(row.get("comparator"), ("", row.get("comparator") or ""))[1],
        "status_label": TARGET_STATUS.get(row.get("status"), (row.get("status") or "", ""))[0],
        "status_reason": ("" if row.get("status") != "no_data" else
                          "the series is broader than the target" if row.get("comparability") == "broader" else
                          "no comparable series" if row.get("comparability") in (None, "none") else "no value yet"),
        "baseline": fmt(row["baseline_value"], decimals) if row.get("baseline_value") is not None else None,
        "gap": f"{fmt(abs(row['gap']), decimals)} {unit}" if row.get("gap") is not None else None,
        "gap_note": ("还差 to go" if row["gap"] > 0 else "已超 above" if row["gap"] < 0 else "") if row.get("gap") is not None else "",
        "growth_needed": f"{growth:.2f} % a year" if growth is not None else None,
        "per_year": f"{fmt(per_year, decimals)} {unit} a year" if per_year is not None else None,
    }


async def targets_page(datasette, request):
    data = await portal_data(datasette)
    db = datasette.get_database(DATABASE)
    if not await _table_exists(db, "target_progress"):
        raise NotFound("This sti.db has no policy targets: run `sti build`")
    region_rows = await _rows(db, "SELECT coalesce(region_code, province_code) AS code, count(*) AS n FROM targets "
                                  "WHERE review_status <> 'rejected' AND coalesce(region_code, province_code) IS NOT NULL "
                                  "GROUP BY 1 ORDER BY 1")
    regions = [{"code": r["code"], "n": r["n"],
                "zh": data.regions.get(r["code"], {}).get("name_zh", r["code"]),
                "en": data.regions.get(r["code"], {}).get("name_en", "")} for r in region_rows]
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

    counts = [{"status": s, "label": label, "about": about, "n": sum(1 for r in tracked if r["status"] == s)}
              for s, (label, about) in TARGET_STATUS.items()]

    q = (request.args.get("q") or "").strip()[:MAX_SEARCH_CHARS]
    if q:
        documents = await _query_rows(datasette, "search_policy_documents", {"q": q})
    else:
        documents = await _rows(db, "SELECT d.doc_id, d.title, d.issuer, d.region, coalesce(d.region_code, d.province_code) "
                                    "AS region_code, d.date, d.url, d.kind, NULL AS excerpt, (SELECT count(*) FROM targets t "
                                    "WHERE t.doc_id = d.doc_id AND t.review_status <> 'rejected') AS n_targets "
                                    "FROM policy_documents d ORDER BY d.date DESC, d.doc_id LIMIT 200")
    documents = [{**d, "href": safe_href(d["url"]),
                  "row_href": f"/{DATABASE}/policy_documents?" + urllib.parse.urlencode({"doc_id": d["doc_id"]}),
                  "excerpt_html": highlight(d.get("excerpt") or "", q)} for d in documents]

    region = data.regions.get(code) if code else None
    issuers = sorted({r["doc_issuer"] for r in rows if r.get("doc_issuer")})
    stat_sources = sorted({r["latest"]["source"] for r in tracked if r["latest"] and r["latest"]["source"]})
    citation = "; ".join(filter(None, [
        f"policy documents of {', '.join(issuers)}" if issuers else "policy documents (see each row)",
        f"statistics: {'; '.join(stat_sources)}" if stat_sources else ""]))
    context = {
        "code": code, "region": region, "regions": regions, "rows": rows, "tracked": tracked,
        "tracked_docs": by_document(tracked), "no_statistic_docs": by_document(no_statistic),
        "unreviewed_docs": by_document(unreviewed),
        "no_statistic": no_statistic, "unreviewed": unreviewed, "counts": counts, "q": q,
        "documents": documents, "min_fts_chars": 3,
        "query": query_links("region_targets", {"region": code}),
        "search_query": query_links("search_policy_documents", {"q": q}) if q else None,
        "citation_source": citation,
        "page_title": "目标追踪 Targets tracker" + (f": {region['name_zh']} {region['name_en']}" if region else ""),
        "vendor_js": ["/assets/sti-charts.js"],  # only for the region selector's submit-on-change
    }
    return await _render(datasette, request, "sti_targets.html", context)


def _human_bytes(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


async def downloads_page(datasette, request):
    data = await portal_data(datasette)
    manifest = downloads_manifest(datasette)
    groups = {"tables": [], "indicators": [], "regions": []}
    zip_file = None
    if manifest:
        by_base: dict[str, dict] = {}
        for item in manifest["files"]:
            if item["kind"] == "zip":   # deflated while sent: only the size of what it holds is known
                size = (_human_bytes(item["bytes"]) if item.get("bytes") is not None
                        else _human_bytes(item.get("content_bytes") or 0) + " before compression")
                zip_file = {**item, "size": size}
                continue
            folder, name = item["path"].split("/", 1)
            base = name.removesuffix(".json").removesuffix("-excel.csv").removesuffix(".csv")
            entry = by_base.setdefault(f"{folder}/{base}", {"folder": folder, "base": base, "title": item.get("title", base),
                                                             "rows": item.get("rows"), "files": {}})
            entry["files"][item["kind"]] = {"href": f"/downloads/{item['path']}", "size": _human_bytes(item["bytes"])}
        for entry in by_base.values():
            groups[entry["folder"]].append(entry)
    context = {
        "manifest": manifest, "zip_file": zip_file, "groups": groups, "queries": _canned_queries(datasette),
        "citation_source": "China Statistical Yearbook on Science and Technology (NBS, MOST) and the sources listed",
        "page_title": "下载 Downloads", "version": data.version,
    }
    return await _render(datasette, request, "sti_downloads.html", context)


@hookimpl
def register_routes(datasette):
    return [
        (r"^/$", home_page),
        (r"^/indicator/(?P<indicator_id>[a-z0-9_]+)$", indicator_page),
        (r"^/region/(?P<region_code>[A-Z0-9]{3,6})$", region_page),
        (r"^/map$", map_page),
        (r"^/map/(?P<indicator_id>[a-z0-9_]+)$", map_page),
        (r"^/targets$", targets_page),
        (r"^/downloads$", downloads_page),   # /downloads/ and /downloads/<file>: sti_downloads.py
    ]


# --------------------------------------------------------------------------- template variables, CSS, menu

@hookimpl
def extra_template_vars(request, datasette):
    async def inner():
        try:
            data = await portal_data(datasette)
            version = data.version
            sha = (data.build.get("content_sha256") or "")[:12]
        except Exception:  # a page must render even if the data cannot be read
            version, sha = "", ""
        return {"sti": {"today": today(), "version": version, "sha": sha,
                        "page_url": page_url(datasette, request) if request else "",
                        "portal": PORTAL_NAME}}
    return inner


@hookimpl
def startup(datasette):
    async def load():
        follow_publication(datasette)
        db = datasette.databases.get(DATABASE)
        if getattr(db, "counted", None) is not None:
            await db.counted  # row counts before the first request (Datasette would count on it, slower)
        try:
            await portal_data(datasette)  # so the first table page already rounds values (render_cell)
        except Exception:  # a missing or unreadable table must not stop the server: pages will say so
            pass
    return load


@hookimpl
def extra_css_urls():
    return ["/assets/sti.css"]


@hookimpl
def menu_links(datasette):
    return [{"href": "/", "label": "首页 Home"}, {"href": "/map", "label": "地图 Map"},
            {"href": "/targets", "label": "目标追踪 Targets"}, {"href": "/downloads", "label": "下载 Downloads"}, {"href": f"/{DATABASE}", "label": "数据表 Tables & SQL"}]


# --------------------------------------------------------------------------- values in Datasette's HTML tables

def _decimals_for(row, datasette) -> int | None:
    data = _cache["data"]
    if data is None:
        return None
    try:
        indicator_id = row["indicator_id"]
    except (IndexError, KeyError, TypeError):
        return None
    ind = data.indicators.get(indicator_id)
    return ind["display_decimals"] if ind else None


@hookimpl
def render_cell(row, value, column, datasette):
    if column not in VALUE_COLUMNS or not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    decimals = _decimals_for(row, datasette)
    if decimals is None:
        return None
    return Markup('<span class="sti-value" title="{full}">{shown}</span>').format(full=repr(value), shown=fmt(value, decimals))


# --------------------------------------------------------------------------- CSV with BOM and cited JSON for any table or query

async def _citation_parts(datasette, columns, rows, database, table, query_name):
    data = await portal_data(datasette)
    names = list(columns)
    if table:
        meta = datasette.metadata(database=database, table=table) or {}
    elif query_name:
        meta = (datasette.metadata("queries", database=database) or {}).get(query_name, {})
    else:
        meta = {}
    default_source = meta.get("source") or datasette.metadata("source") or ""
    if "source_id" in names:
        index = names.index("source_id")
        per_row = [data.source_title(row[index]) for row in rows]
    else:
        per_row = [default_source] * len(rows)
    return data, meta, names, per_row, default_source


def _download_name(table, query_name, suffix: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", table or query_name or "query")
    return f"sti-portal_{base}_{today()}{suffix}"


async def _render_cited_csv(datasette, columns, rows, request, database, table, query_name, data, bom: bool):
    _, meta, names, per_row, _ = await _citation_parts(datasette, columns, rows, database, table, query_name)
    buffer = io.StringIO()
    if bom:
        buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(names + ["source", "retrieved"])
    retrieved = today()
    for row, source in zip(rows, per_row):
        writer.writerow(["" if row[i] is None else row[i] for i in range(len(names))] + [source, retrieved])
    headers = {"content-disposition": f'attachment; filename="{_download_name(table, query_name, ".csv")}"',
               "x-sti-retrieved": retrieved}
    if data.get("next_url") or data.get("truncated"):
        headers["x-sti-truncated"] = "more rows exist: use the pre-built downloads at /downloads"
    return Response(buffer.getvalue(), content_type="text/csv; charset=utf-8", headers=headers)


async def render_csv_bom(datasette, columns, rows, request, database, table, query_name, data):
    """CSV for Excel: UTF-8 with a byte-order mark, plus `source` and `retrieved` columns."""
    return await _render_cited_csv(datasette, columns, rows, request, database, table, query_name, data, bom=True)


async def render_csv_cited(datasette, columns, rows, request, database, table, query_name, data):
    """CSV (UTF-8, no BOM) with `source` and `retrieved` columns."""
    return await _render_cited_csv(datasette, columns, rows, request, database, table, query_name, data, bom=False)


async def render_json_cited(datasette, columns, rows, request, database, table, query_name, data):
    portal, meta, names, per_row, default_source = await _citation_parts(datasette, columns, rows, database, table, query_name)
    sources = sorted(set(per_row)) or [default_source]
    retrieved = today()
    body = {
        "title": meta.get("title") or table or query_name,
        "description": meta.get("description", ""),
        "source": sources,
        "license": meta.get("license") or datasette.metadata("license"),
        "retrieved": retrieved,
        "data_version": portal.version,
        "url": page_url(datasette, request),
        "citation": f"Source: {'; '.join(sources)}, retrieved {retrieved}, {PORTAL_NAME}, {page_url(datasette, request)}",
        "truncated": bool(data.get("next_url") or data.get("truncated")),
        "next_url": data.get("next_url"),
        "columns": names,
        "rows": [dict(zip(names, (row[i] for i in range(len(names))))) for row in rows],
    }
    return Response(json.dumps(body, ensure_ascii=False, default=str), content_type="application/json; charset=utf-8",
                    headers={"x-sti-retrieved": retrieved})


@hookimpl
def register_output_renderer(datasette):
    return [
        {"extension": "csvcite", "render": render_csv_cited, "can_render": lambda: True},
        {"extension": "csvbom", "render": render_csv_bom, "can_render": lambda: True},
        {"extension": "jsoncite", "render": render_json_cited, "can_render": lambda: True},
    ]


# --------------------------------------------------------------------------- response cache

# The published sti.db is immutable, so a GET answers the same until the next publication: complete
# responses are kept in memory, keyed by publication, scheme, host, path, query string and day (the
# citation line names the page's URL and the retrieval date), and sent again without Datasette or the
# plugin rendering anything. Never kept: errors and anything but 200, responses that set a cookie or
# forbid storing, bodies over RESPONSE_CACHE_ENTRY_BYTES, the files under /downloads/, /-/ (Datasette's
# introspection, static files), /assets/, arbitrary SQL (?sql=, it may call random() or date('now')),
# requests with a login cookie or credentials. A page whose facets timed out is kept PARTIAL_TTL_S only.
# A new publication (or a new day) empties the cache; concurrent requests for the same uncached URL
# wait for the first one instead of rendering it again each.
def _cache_megabytes() -> int:
    """STI_RESPONSE_CACHE_MB: the cache's size in MB (default 128; 0 turns it off, e.g. to measure rendering)."""
    try:
        return max(0, int(os.environ.get("STI_RESPONSE_CACHE_MB", "128")))
    except ValueError:
        return 128


RESPONSE_CACHE_BYTES = _cache_megabytes() * 1024 * 1024
RESPONSE_CACHE_ENTRIES = 5000
RESPONSE_CACHE_ENTRY_BYTES = 2 * 1024 * 1024
RESPONSE_CACHE_WAIT_S = 30.0
COUNTS_WAIT_S = 10.0
PARTIAL_TTL_S = 60.0
UNCACHED_PREFIXES = (b"/downloads/", b"/-/", b"/assets/")
PARTIAL_MARKERS = (b"These facets timed out", b'"facets_timed_out": ["')


@dataclass
class CachedResponse:
    status: int
    headers: list
    body: bytes
    expires: float | None  # time.monotonic() deadline, None = until the publication changes

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(n) + len(v) for n, v in self.headers) + 200


class ResponseCache:
    """A bounded LRU of CachedResponse for one publication (and day) at a time."""

    def __init__(self, max_bytes: int = RESPONSE_CACHE_BYTES, max_entries: int = RESPONSE_CACHE_ENTRIES,
                 max_entry_bytes: int = RESPONSE_CACHE_ENTRY_BYTES):
        self.max_bytes, self.max_entries, self.max_entry_bytes = max_bytes, max_entries, max_entry_bytes
        self.entries: "OrderedDict[tuple, CachedResponse]" = OrderedDict()
        self.bytes = 0
        self.generation = None
        self.in_flight: dict[tuple, asyncio.Future] = {}

    def use_generation(self, generation) -> None:
        if generation != self.generation:
            self.entries.clear()
            self.bytes = 0
            self.generation = generation

    def get(self, key) -> CachedResponse | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry.expires is not None and entry.expires < time.monotonic():
            self._drop(key)
            return None
        self.entries.move_to_end(key)
        return entry

    def put(self, key, entry: CachedResponse) -> None:
        if entry.size > self.max_entry_bytes:
            return
        if key in self.entries:
            self._drop(key)
        self.entries[key] = entry
        self.bytes += entry.size
        while self.entries and (self.bytes > self.max_bytes or len(self.entries) > self.max_entries):
            self._drop(next(iter(self.entries)))

    def _drop(self, key) -> None:
        self.bytes -= self.entries.pop(key).size


_responses = ResponseCache()


def _response_key(datasette, scope) -> tuple | None:
    """The cache key of a request, or None when its response must not be cached."""
    if scope["method"] != "GET" or not _responses.max_bytes:
        return None
    path = scope.get("raw_path") or scope["path"].encode("utf-8")
    if path.startswith(UNCACHED_PREFIXES):
        return None
    host = b""
    for name, value in scope.get("headers", []):
        if name == b"host":
            host = value
        elif name == b"authorization" or (name == b"cookie" and (b"ds_actor" in value or b"ds_messages" in value)):
            return None  # pages for a signed-in actor, or with a message for this visitor
    query = scope.get("query_string", b"")
    if query and any(name in ("sql", "_trace", "_context") for name, _ in
                     urllib.parse.parse_qsl(query.decode("latin-1"), keep_blank_values=True)):
        return None
    identity = getattr(datasette.databases.get(DATABASE), "identity", None)
    if identity is None:
        return None
    _responses.use_generation((identity, today()))
    return (scope.get("scheme", "http"), host, path, query)


def _storable_headers(headers: list) -> bool:
    for name, value in headers:
        lower = name.lower()
        if lower == b"set-cookie":
            return False
        if lower == b"cache-control" and (b"no-store" in value or b"private" in value):
            return False
    return True


async def _send_cached(entry: CachedResponse, send) -> None:
    headers = list(entry.headers)
    if not any(name.lower() == b"content-length" for name, _ in headers):
        headers.append((b"content-length", str(len(entry.body)).encode("latin-1")))
    await send({"type": "http.response.start", "status": entry.status, "headers": [*headers, (b"x-sti-cache", b"hit")]})
    await send({"type": "http.response.body", "body": entry.body})


def response_cache(app, datasette):
    """ASGI middleware: serve and keep complete responses (see RESPONSE_CACHE_BYTES above)."""

    async def cached(scope, receive, send):
        key = _response_key(datasette, scope) if scope["type"] == "http" else None
        if key is None:
            return await app(scope, receive, send)
        counted = getattr(datasette.databases.get(DATABASE), "counted", None)
        if counted is not None and not counted.done():
            # Just switched to a new publication: its row counts come within a second or two (11 M rows).
            # Wait for them rather than render (and keep) table pages without, or count per request.
            try:
                await asyncio.wait_for(asyncio.shield(counted), COUNTS_WAIT_S)
            except Exception:
                return await app(scope, receive, send)
            key = _response_key(datasette, scope)
            if key is None:
                return await app(scope, receive, send)
        generation = _responses.generation
        flight = (generation, key)
        entry = _responses.get(key)
        if entry is None and flight in _responses.in_flight:
            try:  # the same URL is being rendered: wait for it rather than render it again
                entry = await asyncio.wait_for(asyncio.shield(_responses.in_flight[flight]), RESPONSE_CACHE_WAIT_S)
            except Exception:
                entry = None
        if entry is not None:
            return await _send_cached(entry, send)
        leader = flight not in _responses.in_flight
        if leader:
            _responses.in_flight[flight] = asyncio.get_running_loop().create_future()
        state = {"status": None, "headers": None, "chunks": [], "size": 0, "keep": True, "complete": False}

        async def recording_send(event):
            if event["type"] == "http.response.start":
                state["status"], state["headers"] = event["status"], list(event.get("headers", []))
                state["keep"] = event["status"] == 200 and _storable_headers(state["headers"])
                event = {**event, "headers": [*event.get("headers", []), (b"x-sti-cache", b"miss")]}
            elif event["type"] == "http.response.body" and state["keep"]:
                body = event.get("body", b"")
                state["size"] += len(body)
                if state["size"] > _responses.max_entry_bytes:
                    state["keep"], state["chunks"] = False, []
                else:
                    state["chunks"].append(body)
                    state["complete"] = not event.get("more_body", False)
            await send(event)

        stored = None
        try:
            await app(scope, receive, recording_send)
            if state["keep"] and state["complete"] and _responses.generation == generation:
                body = b"".join(state["chunks"])
                partial = any(marker in body for marker in PARTIAL_MARKERS)
                stored = CachedResponse(state["status"], state["headers"], body,
                                        time.monotonic() + PARTIAL_TTL_S if partial else None)
                _responses.put(key, stored)
        finally:
            if leader:
                future = _responses.in_flight.pop(flight, None)
                if future is not None and not future.done():
                    future.set_result(stored)

    return cached


# --------------------------------------------------------------------------- headers, access log

# uvicorn's access log writes one line per request to stdout, synchronously on the event loop: it costs
# about a third of the throughput of cached pages, and a stdout pipe nobody reads (a supervisor, a test
# harness) fills after a few hundred requests and then stalls the whole server. So it is off unless
# STI_ACCESS_LOG=1. Errors are still logged (uvicorn.error, on stderr). Set on the first request, after
# uvicorn has configured its loggers (which `datasette serve` gives no option for).
_access_log = {"set": False}


def _set_access_log() -> None:
    import logging

    if os.environ.get("STI_ACCESS_LOG", "") != "1":
        logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    _access_log["set"] = True


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        app = response_cache(app, datasette)

        async def with_headers(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            if not _access_log["set"]:
                _set_access_log()
            follow_publication(datasette)
            if scope["method"] not in READ_METHODS:
                # The public portal only reads: no POST to a stored query, no login, no write API.
                await send({"type": "http.response.start", "status": 405,
                            "headers": [(b"allow", b"GET, HEAD, OPTIONS"), (b"content-type", b"text/plain; charset=utf-8"),
                                        *SECURITY_HEADERS]})
                await send({"type": "http.response.body", "body": b"405 Method Not Allowed: this portal is read-only\n"})
                return

            async def send_with_headers(event):
                if event["type"] == "http.response.start":
                    present = {name.lower() for name, _ in event.get("headers", [])}
                    extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                    event = {**event, "headers": [*event.get("headers", []), *extra]}
                await send(event)

            return await app(scope, receive, send_with_headers)

        return with_headers

    return wrap
