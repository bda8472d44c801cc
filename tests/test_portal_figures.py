"""Figure pages (/figure/<indicator>/<region>/<year>), links to them, region names, clear 404s, search,
comparison, releases and validation pages: over HTTP against a real `sti serve` of the session build,
started with STI_BASE_URL so citations must use it and not the host that served the request."""

from __future__ import annotations

import csv
import html as html_lib
import io
import re

import httpx
import pytest

BASE_URL = "https://sti.example.org"


@pytest.fixture(scope="module")
def cited_portal(built_home):
    from conftest import serving

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STI_BASE_URL", BASE_URL)
        with serving(built_home) as url:
            yield url


def get(url: str, **params) -> httpx.Response:
    response = httpx.get(url, params=params, timeout=30)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return response


def text_of(html: str) -> str:
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_figure_page_beijing_2018_rd_intensity_shows_latest_and_first_edition_with_cells(cited_portal):
    html = get(f"{cited_portal}/figure/rd_intensity/110000/2018").text
    words = text_of(html)
    assert re.search(r"<strong data-value>5\.65</strong>", html)  # the current value (2024 edition)
    releases = re.findall(
        r'<tr data-release="([^"]+)"[^>]*>.*?<td class="num" data-value>([^<]+)</td>', html, flags=re.S
    )
    assert releases[0][1] == "6.17"  # first release first (the NBS bulletin where bundled, else the 2019 edition)
    assert ("cn_sti_yearbook_2019", "6.17") in releases  # the 2019 edition
    assert releases[-1] == ("cn_sti_yearbook_2024", "5.65")  # the latest, the current value
    assert "rd_intensity_by_region__2018.xls#1!J7" in html  # the 2019 edition's cell
    assert "rd_intensity_by_region__2023.xls#1!I7" in html  # the latest edition's cell
    assert "−0.52" in words  # the revision between the 2019 and 2020 editions
    assert "正常值 Normal" in words and "China Statistical Yearbook on Science and Technology" in words
    citation = re.search(r"<p class=\"sti-cite-box\" data-figure-citation>(.*?)</p>", html, flags=re.S).group(1)
    assert f"{BASE_URL}/figure/rd_intensity/110000/2018" in citation and "127.0.0.1" not in citation
    assert f'<link rel="canonical" href="{BASE_URL}/figure/rd_intensity/110000/2018">' in html
    assert '<html lang="zh-Hans">' in html
    footer = re.search(r"<p class=\"sti-citation\" data-citation>(.*?)</p>", html, flags=re.S).group(1)
    assert f"{BASE_URL}/figure/rd_intensity/110000/2018" in footer and "127.0.0.1" not in footer


def test_figure_csv_and_json_are_exactly_that_figure_at_published_precision(cited_portal):
    response = get(f"{cited_portal}/figure/rd_intensity/110000/2018.csv")
    assert "sti-portal_rd_intensity_110000_2018_" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {(r["indicator_id"], r["region_code"], r["year"]) for r in rows} == {("rd_intensity", "110000", "2018")}
    by_release = {r["release"]: r["value"] for r in rows}
    assert by_release["cn_sti_yearbook_2019"] == "6.17" and by_release["cn_sti_yearbook_2024"] == "5.65"
    assert rows[0]["value"] == "6.17" and rows[-1]["release"] == "cn_sti_yearbook_2024"
    assert [r["release"] for r in rows if r["current"] == "true"] == ["cn_sti_yearbook_2024"]
    assert all(len(r["value"].replace(".", "").lstrip("0")) <= 15 for r in rows)  # no float noise
    body = get(f"{cited_portal}/figure/rd_intensity/110000/2018.json").json()
    assert body["value"] == 5.65 and body["url"] == f"{BASE_URL}/figure/rd_intensity/110000/2018"
    assert body["citation"].endswith(body["url"]) and len(body["releases"]) == len(rows)


def test_numbers_keep_every_printed_digit_without_float_noise():
    from portal.site.formatting import without_float_noise

    assert (
        without_float_noise(229.56437999999997) == 229.56438
        and repr(without_float_noise(229.56437999999997)) == "229.56438"
    )
    assert without_float_noise(46.1469749575) == 46.1469749575 and without_float_noise(6.17) == 6.17
    assert without_float_noise(None) is None and without_float_noise(3) == 3


def test_cited_csv_of_a_query_is_named_for_what_it_holds_with_optional_bilingual_headers(cited_portal):
    response = get(f"{cited_portal}/sti/ranking.csvcite", indicator="rd_expenditure", year="2022", _size="max")
    assert 'filename="sti-portal_ranking_rd_expenditure_2022_' in response.headers["content-disposition"]
    assert "/sti/ranking.jsoncite?" in response.headers["link"]  # the sidecar: name, unit, definition
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 31 and all(len(re.sub(r"\D", "", r["value"]).lstrip("0")) <= 15 for r in rows)
    bilingual = get(f"{cited_portal}/sti/ranking.csvbom", indicator="rd_expenditure", year="2022", _headers="bilingual")
    assert bilingual.text.lstrip("\ufeff").startswith("排名 rank,地区代码 region_code,")
    about = get(f"{cited_portal}/sti/ranking.jsoncite", indicator="rd_expenditure", year="2022").json()["indicators"]
    assert about["rd_expenditure"]["unit"] == "亿元" and "intramural" in about["rd_expenditure"]["definition"].lower()


def test_derived_figure_shows_its_derivation_and_links_its_inputs(cited_portal):
    html = get(f"{cited_portal}/figure/invention_patents_per_10k/110000/2020").text
    assert "计算方法 Derivation" in html and "invention_patents_in_force (件) / population (万人)" in html
    assert 'href="/figure/invention_patents_in_force/110000/2020"' in html
    assert 'href="/figure/population/110000/2020"' in html


def test_every_value_on_the_indicator_page_links_to_a_figure_page_with_the_same_value(cited_portal):
    html = get(f"{cited_portal}/indicator/rd_expenditure", year="2022").text
    table = re.search(r'<table class="sti-table" id="ranking-table">(.*?)</table>', html, flags=re.S).group(1)
    cells = re.findall(r'<td class="num" title="[^"]*"><a href="(/figure/[^"]+)" data-figure-link>([^<]+)</a>', table)
    assert len(cells) == 31
    assert all(href.endswith("/2022") for href, _ in cells)
    for href, shown in cells[:8] + cells[-3:]:
        figure = get(f"{cited_portal}{href}").text
        assert re.search(rf"<strong data-value>{re.escape(shown)}</strong>", figure), (href, shown)
    assert "33,357.1" not in table  # 亿元 at one decimal, not four: 2022's national total is a different number
    assert not re.search(r"\d,\d{3}\.\d{4}", table)


def test_region_map_and_targets_values_link_to_figure_pages(cited_portal):
    region = get(f"{cited_portal}/region/110000").text
    row = re.search(r'<tr data-indicator="rd_intensity">(.*?)</tr>', region, flags=re.S).group(1)
    assert 'href="/figure/rd_intensity/110000/2023"' in row and "6.73" in row
    spending = re.search(r'<tr data-indicator="rd_expenditure">(.*?)</tr>', region, flags=re.S).group(1)
    assert "元/人" in spending  # per-capita view where the catalogue says it makes sense
    mapped = get(f"{cited_portal}/map/rd_intensity", year="2023").text
    assert len(re.findall(r'href="/figure/rd_intensity/\d{6}/2023" data-figure-link', mapped)) == 32  # 31 + national
    targets = get(f"{cited_portal}/targets", region="130000").text
    assert re.search(r'href="/figure/tech_contract_turnover/130000/20\d\d"', targets)


@pytest.mark.parametrize("name", ["hebei", "Hebei", "河北", "河北省"])
def test_region_pages_by_english_pinyin_and_chinese_name(cited_portal, name):
    response = httpx.get(f"{cited_portal}/region/{name}", timeout=30, follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"] == "/region/130000"


def test_pinyin_that_clashes_with_an_english_name_goes_to_the_english_name():
    from types import SimpleNamespace

    from portal.site.regions import resolve_region

    regions = {
        "140000": {
            "region_code": "140000",
            "name_zh": "山西",
            "name_zh_full": "山西省",
            "name_en": "Shanxi",
            "level": "province",
        },
        "610000": {
            "region_code": "610000",
            "name_zh": "陕西",
            "name_zh_full": "陕西省",
            "name_en": "Shaanxi",
            "level": "province",
        },
        "150000": {
            "region_code": "150000",
            "name_zh": "内蒙古",
            "name_zh_full": "内蒙古自治区",
            "name_en": "Inner Mongolia",
            "level": "province",
        },
    }
    data = SimpleNamespace(regions=regions, identity=("test",))
    assert resolve_region(data, "shanxi") == "140000" and resolve_region(data, "shaanxi") == "610000"
    assert resolve_region(data, "neimenggu") == "150000" and resolve_region(data, "inner-mongolia") == "150000"
    assert resolve_region(data, "innermongolia") == "150000" and resolve_region(data, "nowhere") is None


@pytest.mark.parametrize(
    "path, words",
    [
        ("/indicator/rd_intensity?year=2099", "No data for year '2099'"),
        ("/indicator/rd_intensity?year=abc", "No data for year 'abc'"),
        ("/map/rd_intensity?year=1900", "No data for year '1900'"),
        ("/region/atlantis", "No region 'atlantis'"),
        ("/figure/rd_intensity/110000/1990", "No value of rd_intensity for 110000 in 1990"),
        ("/figure/rd_intensity/999999/2018", "No region '999999'"),
        ("/figure/nope/110000/2018", "No indicator 'nope'"),
        ("/compare?a=110000&b=atlantis", "No region 'atlantis'"),
    ],
)
def test_unknown_years_and_regions_get_a_clear_message_and_404(cited_portal, path, words):
    response = httpx.get(f"{cited_portal}{path}", timeout=30)
    assert response.status_code == 404
    assert words in html_lib.unescape(response.text) and "data-not-found" in response.text


def test_comparison_page_links_both_regions_values(cited_portal):
    html = get(f"{cited_portal}/compare", a="110000", b="shanghai").text
    row = re.search(r'<tr data-indicator="rd_intensity">(.*?)</tr>', html, flags=re.S).group(1)
    assert 'href="/figure/rd_intensity/110000/2023"' in row and 'href="/figure/rd_intensity/310000/2023"' in row
    assert "6.73" in row and "4.34" in row


def test_search_finds_indicators_regions_and_documents(cited_portal):
    html = get(f"{cited_portal}/search", q="patent").text
    assert 'href="/indicator/invention_patent_grants"' in html
    html = get(f"{cited_portal}/search", q="hebei").text
    assert 'href="/region/130000"' in html
    html = get(f"{cited_portal}/search", q="高新技术企业").text
    assert 'id="document-hits"' in html and "<mark>高新技术企业</mark>" in html
    assert 'id="sti-q"' in get(f"{cited_portal}/sti/observations").text  # the search box on Datasette's pages too


def test_every_page_has_lang_navigation_and_a_status_legend_where_values_have_status(cited_portal):
    for path in [
        "/",
        "/indicator/rd_intensity",
        "/region/110000",
        "/map/rd_intensity",
        "/figure/rd_intensity/110000/2018",
        "/compare",
        "/search",
        "/releases",
        "/validation",
        "/downloads",
        "/targets",
    ]:
        html = get(f"{cited_portal}{path}").text
        assert '<html lang="zh-Hans">' in html, path
        assert 'href="/compare"' in html and 'action="/search"' in html, path
    for path in ["/sti", "/sti/observations", "/sti/ranking?indicator=rd_intensity&year=2023"]:
        html = get(f"{cited_portal}{path}").text
        assert '<html lang="en">' in html and 'class="crumbs sti-nav"' in html, path  # Datasette's pages
    for path in ["/indicator/rd_intensity", "/region/110000", "/figure/rd_intensity/110000/2018"]:
        assert 'id="status-legend"' in get(f"{cited_portal}{path}").text


def test_charts_have_a_text_alternative(cited_portal):
    html = get(f"{cited_portal}/indicator/rd_intensity").text
    assert re.search(r'id="bar-chart"[^>]*role="img"\s+aria-label="[^"]*31 regions ranked', html)
    assert re.search(r'id="line-chart"[^>]*role="img"\s+aria-label="', html) and 'id="line-table"' in html
    assert re.search(r'id="map-chart"[^>]*role="img"\s+aria-label="', get(f"{cited_portal}/map/rd_intensity").text)


def test_year_on_year_warnings_are_shown_beside_the_values(cited_portal):
    """Tianjin's R&D intensity 2.63 (2011) -> 3.99 (2012): where two yearbook editions join."""
    figure = text_of(get(f"{cited_portal}/figure/rd_intensity/120000/2012").text)
    assert "Year-on-year change 2.63 → 3.99" in figure
    ranking = get(f"{cited_portal}/indicator/rd_intensity", year="2012").text
    row = re.search(r'<tr data-region="120000">(.*?)</tr>', ranking, flags=re.S).group(1)
    assert "sti-warn" in row
    validation = text_of(get(f"{cited_portal}/validation").text)
    assert "Year-on-year change 2.63 → 3.99" in validation and "省份相加 Provinces add up" in validation


def test_per_capita_ranking_uses_the_same_years_population(cited_portal):
    html = get(f"{cited_portal}/indicator/rd_expenditure", year="2022", per="capita").text
    table = re.search(r'<table class="sti-table" id="ranking-table">(.*?)</table>', html, flags=re.S).group(1)
    first = re.search(r'<tr data-region="(\d+)">', table).group(1)
    assert first == "110000"  # Beijing first per person, though Guangdong spends the most in total
    assert "元/人" in table


def test_releases_changelog_lists_each_release_with_what_it_added_and_revised(cited_portal):
    html = get(f"{cited_portal}/releases").text
    assert '<tr data-release="cn_sti_yearbook_2024">' in html and '<tr data-release="cn_sti_yearbook_2011">' in html
    row = re.search(r'<tr data-release="cn_sti_yearbook_2020">(.*?)</tr>', html, flags=re.S).group(1)
    assert 'href="/sti/revisions?new_release=cn_sti_yearbook_2020"' in row  # it revised Beijing's 2018 intensity


def test_map_per_capita_view_keeps_the_totals_linked(cited_portal):
    html = get(f"{cited_portal}/map/patent_grants", year="2022", per="capita").text
    table = re.search(r'<table class="sti-table" id="map-table">(.*?)</table>', html, flags=re.S).group(1)
    assert "件/万人" in table and 'href="/figure/patent_grants/440000/2022" data-figure-link' in table
    assert "人均 Per capita (件/万人" in text_of(html)
