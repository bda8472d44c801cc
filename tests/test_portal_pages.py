"""The public site over HTTP: pages, stable URLs, citation line, rounding, public-safety settings."""

from __future__ import annotations

import json
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

STATIC = Path(__file__).resolve().parent.parent / "portal" / "static"
PAGES = [
    "/",
    "/indicator/rd_intensity",
    "/indicator/rd_intensity?year=2015&region=440000&region=100000",
    "/indicator/rd_intensity_wdi",
    "/indicator/invention_patents_per_10k",
    "/region/110000",
    "/region/100000",
    "/region/810000",
    "/map",
    "/map/patent_grants?year=2015",
    "/downloads",
    "/sti",
    "/sti/observations",
    "/sti/ranking?indicator=rd_intensity&year=2023",
]


def get(url, **params):
    response = httpx.get(url, params=params, timeout=30)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return response


class Resources(HTMLParser):
    """Every URL a page would load by itself (scripts, styles, images, frames), not links."""

    def __init__(self):
        super().__init__()
        self.loaded: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "video", "audio", "embed") and attrs.get("src"):
            self.loaded.append(attrs["src"])
        if tag == "link" and attrs.get("href") and "stylesheet" in (attrs.get("rel") or "") + " preload icon":
            self.loaded.append(attrs["href"])
        if tag == "object" and attrs.get("data"):
            self.loaded.append(attrs["data"])


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_a_citation_line_and_loads_nothing_from_outside(portal_url, path):
    response = get(f"{portal_url}{path}")
    html = response.text
    citation = re.search(r'<p class="sti-citation" data-citation>(.*?)</p>', html, flags=re.S)
    assert citation, path
    text = re.sub(r"<[^>]+>", "", citation.group(1))
    text = re.sub(r"\s+", " ", text)
    assert re.search(r"Source: .+, retrieved \d{4}-\d{2}-\d{2}, sti-portal, http://127\.0\.0\.1:\d+/", text), text
    parser = Resources()
    parser.feed(html)
    assert parser.loaded, path
    assert all(url.startswith("/") and not url.startswith("//") for url in parser.loaded), parser.loaded
    assert "@import" not in html and "url(http" not in html
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy and "img-src 'self' data:" in policy


def test_shipped_javascript_and_css_fetch_nothing_from_outside(portal_url):
    css = (STATIC / "sti.css").read_text(encoding="utf-8")
    assert "http" not in css and "@import" not in css
    charts = (STATIC / "sti-charts.js").read_text(encoding="utf-8")
    assert "http" not in charts and "actions: false" in charts
    for vendored in [
        "vega-6.4.0/vega.min.js",
        "vega-lite-6.5.0/vega-lite.min.js",
        "vega-embed-7.3.0/vega-embed.min.js",
    ]:
        assert (STATIC / "vendor" / vendored).parent.joinpath("LICENSE").exists()
        response = get(f"{portal_url}/assets/vendor/{vendored}")
        assert len(response.content) > 50_000 and b"sourceMappingURL" not in response.content


def test_home_lists_indicators_with_latest_national_value(portal_url):
    html = get(f"{portal_url}/").text
    row = re.search(r'<tr data-indicator="rd_expenditure">(.*?)</tr>', html, flags=re.S).group(1)
    assert "R&amp;D经费内部支出" in row and "Intramural expenditure on R&amp;D" in row
    # 亿元 at the display precision of catalogue/indicator_display.csv (1 decimal), linked to the figure page
    assert "33,357.1" in row and "33,357.0688" not in row and "亿元" in row and "2023" in row
    assert 'href="/figure/rd_expenditure/100000/2023"' in row
    assert "China Statistical Yearbook on Science and Technology" in row
    wdi = re.search(r'<tr data-indicator="rd_intensity_wdi">(.*?)</tr>', html, flags=re.S).group(1)
    assert "China (World Bank)" in wdi and "2.58" in wdi  # 2.57729 at 2 display decimals
    population = re.search(r'<tr data-indicator="population">(.*?)</tr>', html, flags=re.S).group(1)
    assert "no national figure" in population
    for path in (
        'href="/region/440000"',
        'href="/map"',
        'href="/downloads"',
        'href="/sti/ranking?indicator=rd_intensity&amp;year=2023"',
    ):
        assert path in html


def test_indicator_page_rounds_to_display_decimals_and_shows_definition_caveats_source(portal_url):
    html = get(f"{portal_url}/indicator/invention_patents_per_10k", year="2023").text
    assert "262.73" in html and "262.727813" not in html.split('id="sti-chart-data"')[0].replace(
        'title="262.727813357731"', ""
    )
    assert "Computed here, not published by NBS or CNIPA" in html  # caveat
    assert "Derived 派生指标" in html
    html = get(f"{portal_url}/indicator/hightech_enterprises_certified").text
    assert "A FLOW, not the stock" in html and "2024 年排名" in html
    assert 'href="http://www.innocom.gov.cn/"' in html
    assert 'href="/downloads/indicators/hightech_enterprises_certified.csv"' in html
    assert 'href="/downloads/indicators/hightech_enterprises_certified-excel.csv"' in html
    assert 'href="/downloads/indicators/hightech_enterprises_certified.json"' in html


def test_indicator_page_year_and_regions_are_stable_url_parameters(portal_url):
    html = get(f"{portal_url}/indicator/rd_intensity", year="2015", region=["440000", "100000"]).text
    assert "2015 年排名" in html
    assert re.search(r'value="440000" checked', html) and re.search(r'value="100000" checked', html)
    assert not re.search(r'value="110000" checked', html)
    # An unknown region in the chart's choice is left out; an unknown year is a clear 404 (test_portal_figures.py).
    html = get(f"{portal_url}/indicator/rd_intensity", region="<x>").text
    assert "2023 年排名" in html
    assert httpx.get(f"{portal_url}/indicator/rd_intensity", params={"year": "1900"}, timeout=30).status_code == 404


def test_region_page_shows_rank_and_national_comparison(portal_url):
    html = get(f"{portal_url}/region/440000").text
    assert "广东" in html and "Guangdong" in html
    row = re.search(r'<tr data-indicator="patent_grants">(.*?)</tr>', html, flags=re.S).group(1)
    assert "703,695" in row and "1 / 31" in row and "% of national total" in row and "<polyline" in row
    html = get(f"{portal_url}/region/810000").text  # Hong Kong: patents only, no provincial rank
    assert "香港" in html and "National rank" not in html


@pytest.mark.parametrize(
    "path",
    [
        "/indicator/nope",
        "/region/999999",
        "/map/nope",
        "/map/population_x",
        "/downloads/../sti.db",
        "/downloads/tables/../../sti.db",
        "/downloads/nothing.csv",
        "/map/rd_intensity_wdi",
    ],
)
def test_unknown_pages_are_404_and_cheap(portal_url, path):
    started = time.perf_counter()
    response = httpx.get(f"{portal_url}{path}", timeout=30)
    # (httpx resolves "..", so those two reach Datasette as /sti.db, a download turned off: 403)
    assert response.status_code == (403 if path.startswith("/downloads/..") or "../.." in path else 404), path
    assert not response.content.startswith(b"SQLite format")
    assert time.perf_counter() - started < 1.0  # no rich traceback with locals per bad URL


def test_public_safety_settings(portal_url):
    settings = get(f"{portal_url}/-/settings.json").json()
    assert settings["sql_time_limit_ms"] <= 1000 and settings["max_returned_rows"] <= 1000
    assert settings["allow_download"] is False and settings["allow_csv_stream"] is False
    databases = get(f"{portal_url}/-/databases.json").json()
    assert [d["is_mutable"] for d in databases if d["name"] == "sti"] == [False]
    plugins = {p["name"]: p for p in get(f"{portal_url}/-/plugins.json").json()}
    assert "sti_site.py" in plugins and set(plugins) <= {"sti_site.py", "sti_downloads.py"}  # only the portal's own
    hooks = set(plugins["sti_site.py"]["hooks"])
    assert hooks == {
        "register_routes",
        "extra_template_vars",
        "extra_css_urls",
        "menu_links",
        "render_cell",
        "register_output_renderer",
        "asgi_wrapper",
        "startup",
        "prepare_connection",
        "handle_exception",
    }
    # Nothing writes: no .db download, no write SQL, no POST to a stored query.
    assert httpx.get(f"{portal_url}/sti.db", timeout=30).status_code in (403, 404)
    for sql in [
        "DELETE FROM observations",
        "UPDATE sources SET title_en = 'x'",
        "CREATE TABLE t (a)",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "PRAGMA writable_schema = 1",
    ]:
        assert httpx.get(f"{portal_url}/sti.json", params={"sql": sql}, timeout=30).status_code in (400, 403)
    response = httpx.post(f"{portal_url}/sti/ranking", data={"indicator": "rd_intensity", "year": "2023"}, timeout=30)
    assert response.status_code == 405 and "read-only" in response.text
    # A query that runs too long is stopped by the time limit.
    slow = httpx.get(
        f"{portal_url}/sti.json",
        params={"sql": "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"},
        timeout=30,
    )
    assert slow.status_code == 400 and "interrupted" in slow.text.lower()


def test_datasette_tables_show_values_rounded_with_full_value_on_hover(portal_url):
    html = get(
        f"{portal_url}/sti/observations", indicator_id="invention_patents_per_10k", year="2023", region_code="110000"
    ).text
    assert '<span class="sti-value" title="262.727813357731">262.73</span>' in html
    json_rows = get(
        f"{portal_url}/sti/observations.json",
        indicator_id="invention_patents_per_10k",
        year="2023",
        region_code="110000",
        _shape="array",
    ).json()
    assert json_rows[0]["value"] == pytest.approx(262.727813357731)  # JSON keeps full precision


def test_county_level_rows_stay_in_sqlite_and_have_region_pages(built_home, tmp_path):
    """Observations of levels the site does not rank (counties, in a county-level data set) are not read
    into the portal's memory: the indicator page ranks the provinces as before, and a county's region
    page is read from SQLite by its code."""
    import shutil
    import sqlite3

    from conftest import serving

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy2((built_home / "sti.db").resolve(), home / "sti.db")
    with sqlite3.connect(home / "sti.db") as db:
        db.execute(
            "INSERT INTO regions (region_code, name_zh, name_zh_full, name_en, level, macro_region) "
            "VALUES ('110108', '海淀', '北京市海淀区', 'Haidian District', 'county', 'east')"
        )
        db.execute(
            "INSERT INTO observations SELECT '110108', '海淀', 'Haidian District', 'county', indicator_id, "
            "indicator_zh, indicator_en, year, value * 2, unit, obs_status, source_id, release, release_kind, "
            "vintage, source_ref, note, n_releases FROM observations WHERE region_code = '110000'"
        )
    with serving(home) as url:
        ranking = get(f"{url}/indicator/rd_intensity", year="2023").text
        assert "Beijing" in ranking and "Haidian" not in ranking
        county = get(f"{url}/region/110108").text
        assert "Haidian District" in county and "13.46" in county  # Beijing's 6.73 % doubled
        assert httpx.get(f"{url}/region/110109", timeout=30).status_code == 404


def test_series_breaks_are_marked_on_the_charts_and_in_the_legend(portal_url):
    """Tianjin R&D intensity 2012 (status b, warehouse/views.sql) carries the break marker in the line chart's
    data; 2013 (same edition as 2012) does not; the region page's sparkline draws it; the legend names both."""
    html = get(f"{portal_url}/indicator/rd_intensity", region="120000").text
    data = json.loads(
        re.search(r'<script type="application/json" id="sti-chart-data">(.*?)</script>', html, flags=re.S).group(1)
    )
    tianjin = {p["year"]: p for p in data["series"] if p["code"] == "120000"}
    assert tianjin[2012]["display"] == "3.99" and "序列中断 Break in series" in tianjin[2012]["brk"]
    assert tianjin[2011]["display"] == "2.63" and "brk" not in tianjin[2011] and "brk" not in tianjin[2013]
    assert "dark diamond" in html and "series breaks (b)" in html  # legend entry and the chart's aria label
    region = get(f"{portal_url}/region/120000").text
    assert re.search(r'<line class="sti-spark-break"[^>]*><title>2012: b 序列中断', region)
    assert "sti-spark-break" not in get(f"{portal_url}/region/810000").text  # Hong Kong: no edition joins
    figure = get(f"{portal_url}/figure/rd_intensity/120000/2012").text
    assert "序列中断 Break in series" in figure and "different releases" in figure
