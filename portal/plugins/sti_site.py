"""sti-portal's public site on top of Datasette 0.65: the plugin hooks only (the code is in portal/site/).

Loaded by `sti serve` with ``--plugins-dir portal/plugins``. Datasette loads every ``.py`` there as a
plugin, so the modules these hooks use live in the ``portal.site`` package. Hooks (all Datasette core):

- ``register_routes``: ``/`` (home), ``/indicator/<id>``, ``/region/<code or name>``, ``/map/<id>``,
  ``/figure/<indicator>/<region>/<year>[.csv|.json]`` (one figure, its releases, its citation),
  ``/compare?a=&b=``, ``/search?q=``, ``/releases`` (what's new), ``/validation`` (what was checked),
  ``/targets`` (policy targets against the statistics, with the policy-document search),
  ``/downloads`` (the list of pre-built files; the files themselves are streamed by ``sti_downloads.py``);
- ``register_output_renderer``: ``.csvcite``, ``.csvbom``, ``.jsoncite`` (``portal/site/renderers.py``);
- ``render_cell``: values rounded to the indicator's ``display_decimals`` in HTML tables;
- ``extra_template_vars`` / ``extra_css_urls`` / ``menu_links``: the citation line and navigation;
- ``asgi_wrapper``: security headers, read-only methods, the switch to a newly published sti.db and the
  response cache (``portal/site/cache.py``, ``portal/site/hotswap.py``);
- ``startup``: the first publication's row counts and the portal's data before the first request;
- ``prepare_connection`` / ``handle_exception`` and the SqlBox in ``asgi_wrapper``: the public SQL box's
  authorizer, limits and error pages (``portal/site/sql_guard.py``).

Nothing here writes: the database is served immutable (``-i``) and no plugin offers a write path.
Values reach HTML only through Jinja's autoescaping; chart data is embedded as JSON with ``<``, ``>``
and ``&`` escaped, in a ``<script type="application/json">`` block.
"""

from datasette import hookimpl
from datasette.utils.asgi import Response

from portal.site import figure, indicator, pages, quality, region, releases, search, targets
from portal.site.cache import CachedResponse, ResponseCache, wrap_portal_app  # noqa: F401 (tests use the cache here)
from portal.site.constants import DATABASE, PORTAL_NAME
from portal.site.data import page_url, portal_data, today
from portal.site.datasette_internals import silence_rich_tracebacks
from portal.site.hotswap import follow_publication
from portal.site.http_cache import asset_url
from portal.site.renderers import OUTPUT_RENDERERS, rounded_cell
from portal.site.sql_guard import SqlBox, guard_connection, public_error, setting_limit_ms

silence_rich_tracebacks()


@hookimpl
def register_routes(datasette):
    return [
        (r"^/$", pages.home_page),
        (r"^/indicator/(?P<indicator_id>[a-z0-9_]+)$", indicator.indicator_page),
        (r"^/region/(?P<region_code>[^/]{1,60})$", region.region_page),  # a code, or a name: /region/hebei
        (
            r"^/figure/(?P<indicator_id>[a-z0-9_]+)/(?P<region_code>[A-Za-z0-9]{3,6})/(?P<year>\d{4})(?P<format>\.csv|\.json)?$",
            figure.figure_page,
        ),
        (r"^/compare$", region.compare_page),
        (r"^/search$", search.search_page),
        (r"^/releases$", releases.releases_page),
        (r"^/validation$", quality.validation_page),
        (r"^/map$", pages.map_page),
        (r"^/map/targets$", targets.targets_map_page),  # before /map/<indicator>: "targets" is no indicator id
        (r"^/map/(?P<indicator_id>[a-z0-9_]+)$", pages.map_page),
        (r"^/targets$", targets.targets_page),
        (r"^/downloads$", pages.downloads_page),  # /downloads/ and /downloads/<file>: sti_downloads.py
    ]


@hookimpl
def extra_template_vars(request, datasette):
    async def inner():
        try:
            data = await portal_data(datasette)
            version = data.version
            sha = (data.build.get("content_sha256") or "")[:12]
        except Exception:  # a page must render even if the data cannot be read
            version, sha = "", ""
        return {
            "sti": {
                "today": today(),
                "version": version,
                "sha": sha,
                "page_url": page_url(datasette, request) if request else "",
                "portal": PORTAL_NAME,
            }
        }

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
    return [asset_url("/assets/sti.css")]  # versioned: cached a year, a new deployment changes the URL


@hookimpl
def menu_links(datasette):
    return [
        {"href": "/", "label": "首页 Home"},
        {"href": "/search", "label": "搜索 Search"},
        {"href": "/map", "label": "地图 Map"},
        {"href": "/compare", "label": "比较 Compare"},
        {"href": "/releases", "label": "更新 What's new"},
        {"href": "/validation", "label": "数据检查 What was checked"},
        {"href": "/targets", "label": "目标追踪 Targets"},
        {"href": "/downloads", "label": "下载 Downloads"},
        {"href": f"/{DATABASE}", "label": "数据表 Tables & SQL"},
    ]


@hookimpl
def render_cell(row, value, column, datasette):
    return rounded_cell(row, value, column, datasette)


@hookimpl
def register_output_renderer(datasette):
    return OUTPUT_RENDERERS


@hookimpl
def asgi_wrapper(datasette):
    return lambda app: wrap_portal_app(SqlBox(app), datasette)


@hookimpl
def prepare_connection(conn):
    guard_connection(conn)  # the SQLite authorizer: no fts3_tokenizer, load_extension, paths (sql_guard.py)


@hookimpl
def handle_exception(datasette, request, exception):
    status = getattr(exception, "status", 500) if hasattr(exception, "status") else 500
    shown = public_error(exception, status, getattr(exception, "title", None), setting_limit_ms())
    return None if shown is None else Response.html(shown[1], status=shown[0])
