"""The portal at phone width (390 px) and desktop width (1400 px) in headless Chromium: no page wider than the
viewport, touch-sized controls, the figure page and its links. Screenshots of every page at both widths go to
tmp/artifacts/screenshots/ (or $STI_ARTIFACTS_DIR/screenshots/) as <page>-<width>.png.

Runs Debian's /usr/bin/chromium through Playwright (tests/browser/chromium.py), against a real `sti serve` of the
session build started with STI_BASE_URL, so the citation on the figure page must use that address."""

from __future__ import annotations

import urllib.parse

import pytest
from browser.chromium import RequestLog, artifacts_dir, launch

playwright_sync = pytest.importorskip("playwright.sync_api")

BASE_URL = "https://sti.example.org"
WIDTHS = [390, 1400]
PAGES = {
    "home": "/",
    "indicator": "/indicator/rd_intensity",
    "region": "/region/110000",
    "map": "/map/rd_intensity?year=2023",
    "targets": "/targets?region=130000",
    "targets_all": "/targets",
    "region_targets": "/region/130000",
    "region_reported": "/region/650000",
    "map_targets": "/map/targets",
    "indicator_first_release": "/indicator/rd_intensity?year=2022",
    "downloads": "/downloads",
    "figure": "/figure/rd_intensity/110000/2018",
    "comparison": "/compare?a=110000&b=310000",
}
CHART_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def cited_portal(built_home):
    from conftest import serving

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STI_BASE_URL", BASE_URL)
        with serving(built_home) as url:
            yield url


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def open_page(browser, origin: str, width: int):
    context = browser.new_context(
        viewport={"width": width, "height": 860}, locale="zh-CN", has_touch=width < 500, is_mobile=width < 500
    )
    page = context.new_page()
    log = RequestLog(origin)
    log.attach(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, log, errors


def page_width(page) -> int:
    return page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")


def too_wide(page, width: int) -> list[str]:
    """The elements that stick out of the viewport (what a failure should name)."""
    return page.evaluate(
        """(width) => Array.from(document.querySelectorAll('body *'))
        .filter(el => el.getBoundingClientRect().right > width + 1 && !el.closest('.sti-table-scroll, .sti-map-scroll, table.sti-table'))
        .slice(0, 8).map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right))""",
        width,
    )


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(PAGES))
def test_no_page_is_wider_than_the_viewport(browser, cited_portal, name, width):
    context, page, log, errors = open_page(browser, cited_portal, width)
    try:
        response = page.goto(f"{cited_portal}{PAGES[name]}")
        assert response.status == 200
        if page.locator("[data-chart]").count():
            page.wait_for_selector("[data-chart][data-rendered=true] svg", timeout=CHART_TIMEOUT_MS)
        path = artifacts_dir() / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
        assert page_width(page) <= width, (name, width, page_width(page), too_wide(page, width))
        assert page.evaluate("document.documentElement.lang") in ("zh-Hans", "en")
        assert log.external() == [] and errors == []
    finally:
        context.close()


def test_controls_are_touch_sized_at_phone_width(browser, cited_portal):
    context, page, _, _ = open_page(browser, cited_portal, 390)
    try:
        page.goto(f"{cited_portal}/indicator/rd_intensity")
        for selector in ["form.sti-search button", "form.sti-search input", "#ranking select[name=year]", ".sti-nav a"]:
            height = page.locator(selector).first.bounding_box()["height"]
            assert height >= 44, (selector, height)
    finally:
        context.close()


def test_figure_page_for_beijing_2018_rd_intensity(browser, cited_portal):
    context, page, _, errors = open_page(browser, cited_portal, 390)
    try:
        page.goto(f"{cited_portal}/figure/rd_intensity/110000/2018")
        assert page.locator(".sti-figure-value [data-value]").inner_text() == "5.65"
        releases = page.locator("#release-table tbody tr")
        edition_2019 = page.locator("#release-table tr[data-release=cn_sti_yearbook_2019]").inner_text()
        assert "6.17" in edition_2019 and "rd_intensity_by_region__2018.xls#1!J7" in edition_2019
        assert "6.17" in releases.first.inner_text()  # the first release (the bulletin, where bundled)
        last = releases.last.inner_text()
        assert "cn_sti_yearbook_2024" in last and "5.65" in last and "rd_intensity_by_region__2023.xls#1!I7" in last
        assert "rd_intensity_by_region__2023.xls#1!I7" in page.locator("[data-source-ref]").inner_text()
        citation = page.locator("[data-figure-citation]").inner_text()
        assert f"{BASE_URL}/figure/rd_intensity/110000/2018" in citation and "127.0.0.1" not in citation
        assert errors == []
    finally:
        context.close()


def test_every_value_on_the_indicator_page_opens_a_figure_page_with_the_same_value(browser, cited_portal):
    context, page, _, _ = open_page(browser, cited_portal, 1400)
    try:
        page.goto(f"{cited_portal}/indicator/rd_intensity?year=2019")
        links = page.locator("#ranking-table td.num a[data-figure-link]")
        values = [(links.nth(i).get_attribute("href"), links.nth(i).inner_text()) for i in range(links.count())]
        assert len(values) == 32  # 31 provinces + the national figure
        figure = context.new_page()
        for href, shown in values:
            figure.goto(urllib.parse.urljoin(cited_portal, href))
            assert figure.locator(".sti-figure-value [data-value]").inner_text() == shown, href
            assert "/2019" in href
    finally:
        context.close()
