"""The public pages in headless Chromium: charts drawn, downloads that return the right rows, screenshots.

Runs Debian's /usr/bin/chromium through Playwright against the real `sti serve` of the session build.
Every request a page makes is recorded: all must go to the portal on 127.0.0.1 (no CDN, no fonts, no
tiles). Screenshots are written to tmp/artifacts/screenshots/ (or $STI_ARTIFACTS_DIR/screenshots/).
"""

from __future__ import annotations

import csv
import io
import urllib.parse

import pytest
from browser.chromium import REPO_ROOT, RequestLog, artifacts_dir, launch

playwright_sync = pytest.importorskip("playwright.sync_api")

CHART_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, portal_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    log = RequestLog(portal_url)
    log.attach(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.request_log = log
    page.js_errors = errors
    yield page
    assert log.external() == [], f"requests left the portal: {log.external()}"
    hosts = {urllib.parse.urlsplit(url).hostname for url in log.urls if url.startswith("http")}
    assert hosts <= {"127.0.0.1"}, hosts
    assert errors == [], errors
    context.close()


def screenshot(page, name: str) -> None:
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


def wait_for_chart(page, selector: str) -> None:
    page.wait_for_selector(f"{selector}[data-rendered=true] svg", timeout=CHART_TIMEOUT_MS)


def count(page, selector: str) -> int:
    return page.locator(selector).count()


def fetch_csv(page, href: str) -> tuple[bytes, list[dict]]:
    href = urllib.parse.urljoin(page.url, href)
    response = page.request.get(href)
    assert response.status == 200, (href, response.status)
    body = response.body()
    return body, list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_home_page_lists_indicators_with_latest_national_value(page, portal_url):
    page.goto(f"{portal_url}/")
    row = page.locator("tr[data-indicator=rd_intensity]")
    assert "R&D经费投入强度" in row.inner_text() and "R&D expenditure as a share of GDP" in row.inner_text()
    assert "2.65" in row.inner_text() and "2023" in row.inner_text()
    with open(REPO_ROOT / "catalogue" / "indicators.csv", encoding="utf-8", newline="") as handle:
        n_indicators = sum(1 for _ in csv.DictReader(handle))
    assert count(page, "tr[data-indicator]") == n_indicators  # one row per catalogue indicator
    citation = page.locator("[data-citation]").inner_text()
    assert citation.startswith("Source:") and "retrieved" in citation and "sti-portal" in citation
    screenshot(page, "home")
    page.get_by_role("link", name="R&D经费投入强度 R&D expenditure as a share of GDP").first.click()
    page.wait_for_url("**/indicator/rd_intensity")


def test_indicator_page_draws_ranking_and_trend_and_its_csv_has_the_rows(page, portal_url):
    page.goto(f"{portal_url}/indicator/rd_intensity")
    wait_for_chart(page, "#bar-chart")
    wait_for_chart(page, "#line-chart")
    # 31 bars (one per province) and a dashed rule for the national figure (a ratio).
    assert count(page, "#bar-chart svg g.mark-rect.role-mark path") == 31
    assert count(page, "#bar-chart svg g.mark-rule.role-mark line") == 1
    assert "全国 National 2.65" in page.locator("#bar-chart svg").text_content()
    # Default trend: national + top three (Beijing, Shanghai, Tianjin): four lines.
    assert count(page, "#line-chart svg g.mark-line.role-mark path") == 4
    first_rows = page.locator("#ranking-table tbody tr").all_inner_texts()[:3]
    assert [r.split("\t")[0] for r in first_rows] == ["1", "2", "3"]
    assert (
        "北京" in first_rows[0] and "6.73" in first_rows[0] and "Tianjin" in first_rows[2] and "3.58" in first_rows[2]
    )
    assert "certified" not in page.locator(".sti-caveat").inner_text()  # this indicator's own caveat
    assert "newest edition" in page.locator(".sti-caveat").inner_text()
    screenshot(page, "indicator_rd_intensity")

    # Choosing another region redraws the trend without a reload and keeps it in the URL.
    page.check("#region-chooser input[value='440000']")
    page.wait_for_function(
        "document.querySelectorAll('#line-chart svg g.mark-line.role-mark path').length === 5", timeout=CHART_TIMEOUT_MS
    )
    assert "region=440000" in page.url

    # The indicator's CSV (pre-built) has every region and year; the ranking CSV has 31 rows, Beijing first.
    body, rows = fetch_csv(page, page.locator("a[data-download=csv]").get_attribute("href"))
    assert not body.startswith(b"\xef\xbb\xbf")
    assert len(rows) == 416 and {r["indicator_id"] for r in rows} == {"rd_intensity"}
    beijing = next(r for r in rows if r["region_code"] == "110000" and r["year"] == "2023")
    assert (
        float(beijing["value"]) == 6.73 and beijing["unit"] == "%" and beijing["source"].startswith("China Statistical")
    )
    assert beijing["retrieved"]
    body, rows = fetch_csv(page, page.locator("a[data-download=csv_bom]").get_attribute("href"))
    assert body.startswith(b"\xef\xbb\xbf") and len(rows) == 416
    ranking_href = page.get_by_role("link", name="CSV", exact=True).first.get_attribute("href")
    assert "/sti/ranking.csvcite" in ranking_href
    _, rows = fetch_csv(page, ranking_href)
    assert len(rows) == 31 and rows[0]["source"].startswith("China Statistical Yearbook") and rows[0]["retrieved"]
    assert [(r["region_en"], float(r["value"])) for r in rows[:3]] == [
        ("Beijing", 6.73),
        ("Shanghai", 4.34),
        ("Tianjin", 3.58),
    ]


def test_indicator_page_for_another_year_and_a_flow_indicator(page, portal_url):
    page.goto(f"{portal_url}/indicator/hightech_enterprises_certified?year=2020")
    wait_for_chart(page, "#bar-chart")
    assert "2020" in page.locator("#ranking h2").inner_text()
    assert "A FLOW, not the stock" in page.locator(".sti-caveat").inner_text()
    # A flow with no national row: the reference line is the provinces' mean; the trend shows the top three.
    assert count(page, "#bar-chart svg g.mark-rule.role-mark line") == 1
    assert "Province average" in page.locator("#bar-chart svg").text_content()
    wait_for_chart(page, "#line-chart")
    assert count(page, "#line-chart svg g.mark-line.role-mark path") == 3
    screenshot(page, "indicator_hightech_enterprises_certified_2020")


def test_region_page_shows_every_indicator_rank_and_trend(page, portal_url):
    page.goto(f"{portal_url}/region/110000")
    rows = page.locator("#profile-table tr[data-indicator]")
    assert rows.count() >= 20
    intensity = page.locator("#profile-table tr[data-indicator=rd_intensity]").inner_text()
    assert "6.73" in intensity and "1 / 31" in intensity and "2.65" in intensity and "+4.08 pp" in intensity
    spending = page.locator("#profile-table tr[data-indicator=rd_expenditure]").inner_text()
    assert "% of national total" in spending
    sparklines = page.locator("#profile-table svg.sti-sparkline polyline")
    assert sparklines.count() == rows.count()
    assert len(sparklines.first.get_attribute("points").split()) >= 2
    screenshot(page, "region_110000")
    _, csv_rows = fetch_csv(page, page.locator("a[data-download=csv]").get_attribute("href"))
    assert {r["region_code"] for r in csv_rows} == {"110000"}
    assert any(
        r["indicator_id"] == "rd_intensity" and r["year"] == "2023" and float(r["value"]) == 6.73 for r in csv_rows
    )


def test_map_colours_the_provinces_without_external_tiles(page, portal_url):
    page.goto(f"{portal_url}/map/rd_intensity?year=2023")
    wait_for_chart(page, "#map-chart")
    # 34 grey base tiles (31 provinces + HK, Macao, Taiwan) and 31 coloured ones.
    assert count(page, "#map-chart svg g.mark-rect.role-mark path") == 34 + 31
    texts = page.locator("#map-chart svg g.mark-text.role-mark text").all_text_contents()
    assert "北京" in texts and "6.73" in texts
    screenshot(page, "map_rd_intensity_2023")
    page.select_option("#map-form select[name=indicator]", "patent_grants")
    page.wait_for_url("**/map?indicator=patent_grants*")
    wait_for_chart(page, "#map-chart")
    assert "Domestic patent grants" in page.locator("h1").inner_text()


def test_downloads_page_and_a_datasette_table_page_carry_the_citation(page, portal_url):
    page.goto(f"{portal_url}/downloads")
    assert page.locator("a[data-download=zip]").count() == 1
    screenshot(page, "downloads")
    page.goto(f"{portal_url}/sti/observations?indicator_id=rd_intensity&year=2023")
    citation = page.locator("[data-citation]").inner_text()
    assert "Source:" in citation and "retrieved" in citation
    assert page.locator("[data-citation] a[href='/downloads/tables/observations.csv']").count() == 1
    screenshot(page, "datasette_observations_table")


def test_targets_tracker_shows_hebei_targets_with_badges_and_rules(page, portal_url):
    page.goto(f"{portal_url}/targets?region=130000")
    rows = page.locator("#targets-table tr[data-statement]")
    assert rows.count() == 10  # Hebei's targets with a statistic, in the 2022 plan and the 2018 work report
    contracts = page.locator("tr[data-indicator=tech_contract_turnover]")
    assert "≥ 2,000 亿元 by 2025" in contracts.inner_text() and "1,783.1" in contracts.inner_text()  # 亿元 at 0.1
    badge = contracts.locator(".sti-badge.sti-status-on_track")
    assert badge.is_visible() and badge.inner_text() == "正常 On track"
    assert badge.evaluate("b => getComputedStyle(b).backgroundColor") != "rgba(0, 0, 0, 0)"  # styled, not bare text
    assert page.locator("#targets-table .sti-badge.sti-status-no_data").count() == 6
    assert page.locator("#targets-table .sti-badge.sti-status-met").count() == 2
    rule = contracts.locator("details.sti-rule p")
    assert not rule.is_visible()
    contracts.locator("details.sti-rule summary").click()
    assert rule.is_visible() and "on_track" in rule.inner_text()
    evidence = page.locator("tr[data-evidence-for='002_a85baa3503116d35:1459-1475'] q.sti-evidence")
    assert evidence.inner_text() == "技术合同成交总额达到2000亿元"
    hightech = page.locator("tr[data-statement='002_a85baa3503116d35:1640-1654']")  # judged against the estimate
    assert "15,611" in hightech.inner_text() and hightech.locator(".sti-badge.sti-status-met").is_visible()
    # The table fits the page: the evidence is not pushed off to the right.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, width
    screenshot(page, "targets_hebei")
    # The region selector submits on change; the search box searches the documents.
    page.select_option("#target-region-form select[name=region]", "230000")
    page.wait_for_url("**/targets?region=230000")
    assert page.locator("#no-statistic-table tr[data-statement]").count() == 16
    page.fill("#policy-search input[name=q]", "高新技术企业")
    page.locator("#policy-search button").click()
    page.wait_for_selector("#documents-table mark")
    assert page.locator("#documents-table tr[data-doc]").count() == 26  # every document naming 高新技术企业
    assert page.locator("#documents-table mark").first.inner_text() == "高新技术企业"
    screenshot(page, "targets_search")


def test_a_series_break_is_drawn_as_a_dashed_rule_and_a_dark_diamond(page, portal_url):
    """Tianjin R&D intensity 2012 (status b: 2011 from the 2019 edition, 2012 from the 2024 edition) on the trend."""
    page.goto(f"{portal_url}/indicator/rd_intensity?region=120000#trend")
    wait_for_chart(page, "#line-chart")
    assert count(page, "#line-chart svg g.mark-line.role-mark path") == 1
    assert count(page, "#line-chart svg g.mark-rule.role-mark line") == 1  # one break in Tianjin's series
    assert count(page, "#line-chart svg g.mark-symbol.role-mark path[fill='#1a202c']") == 1
    assert "dark diamond" in page.locator("#status-legend").text_content()  # a closed <details>
    screenshot(page, "indicator_rd_intensity_series_break_tianjin")
