"""Values and policy text are shown escaped: a <script> placed in a source's title, an indicator's caveat,
a region name inside the chart data or a policy document never runs.

A copy of the session's sti.db is tainted with script tags and served by a real `sti serve`; the pages
are checked over HTTP (escaped text present, no live tag) and in headless Chromium (no dialog opens).
"""

from __future__ import annotations

import os
import shutil
import sqlite3

import httpx
import pytest
from conftest import serving

SCRIPT = '<script>alert("xss-{}")</script>'
BREAKOUT = '</script><script>alert("xss-{}")</script>'


def taint(db_path) -> None:
    with sqlite3.connect(db_path) as db:
        db.execute(
            "UPDATE sources SET title_en = ? || title_en, publisher = ? WHERE source_id = 'cn_sti_yearbook'",
            (SCRIPT.format("source-title"), '<img src=x onerror=alert("xss-publisher")>'),
        )
        db.execute(
            "UPDATE sources SET url = 'javascript:alert(\"xss-url\")' WHERE source_id = 'innocom_hitech_enterprises'"
        )
        db.execute(
            "UPDATE indicators SET caveats = ? || caveats, definition = ? WHERE indicator_id = 'rd_intensity'",
            (SCRIPT.format("caveat"), BREAKOUT.format("definition")),
        )
        db.execute(
            "UPDATE observations SET region_en = ? WHERE region_code = '110000'", (BREAKOUT.format("chart-data"),)
        )
        db.execute(
            "UPDATE observations SET note = ? WHERE region_code = '310000' AND indicator_id = 'rd_intensity'",
            (SCRIPT.format("note"),),
        )
        db.execute("UPDATE regions SET name_en = ? WHERE region_code = '440000'", (SCRIPT.format("region"),))
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "policy_documents" in tables:
            db.execute(
                "UPDATE policy_documents SET title = ? || title, text = ? || text",
                (SCRIPT.format("policy-title"), SCRIPT.format("policy-text")),
            )
        if "targets" in tables:
            db.execute(
                "UPDATE targets SET span = ? || span, indicator_text = ? WHERE statement_id = ?",
                (SCRIPT.format("span"), BREAKOUT.format("indicator-text"), "002_a85baa3503116d35:1459-1475"),
            )
            db.execute(
                "UPDATE target_progress SET rule = ? || rule, caveat = ? || caveat WHERE statement_id = ?",
                (
                    SCRIPT.format("rule"),
                    '<img src=x onerror=alert("xss-caveat-img")>',
                    "002_a85baa3503116d35:1459-1475",
                ),
            )
            db.execute("UPDATE policy_documents SET url = 'javascript:alert(\"xss-doc-url\")' WHERE url IS NOT NULL")
        db.commit()


@pytest.fixture(scope="module")
def tainted_url(built_home, tmp_path_factory):
    home = tmp_path_factory.mktemp("tainted-home")
    shutil.copy2((built_home / "sti.db").resolve(), home / "sti.db")
    os.symlink((built_home / "downloads").resolve(), home / "downloads")
    taint(home / "sti.db")
    with serving(home) as url:
        yield url


PAGES = [
    "/",
    "/indicator/rd_intensity",
    "/indicator/hightech_enterprises_certified",
    "/region/110000",
    "/region/440000",
    "/map/rd_intensity",
    "/downloads",
    "/sti/sources",
    "/sti/indicators",
    "/sti/observations?region_code=310000&indicator_id=rd_intensity",
    "/sti/ranking?indicator=rd_intensity&year=2023",
    "/targets",
    "/targets?region=130000",
    "/targets?q=xs",
    "/sti/region_targets?region=130000",
    "/sti/search_policy_documents?q=xs",
]


@pytest.mark.parametrize("path", PAGES)
def test_no_injected_tag_survives_in_any_page(tainted_url, path):
    response = httpx.get(f"{tainted_url}{path}", timeout=30)
    assert response.status_code == 200, (path, response.text[:300])
    html = response.text
    for marker in ("<script>alert(", "<img src=x onerror", 'href="javascript:'):
        assert marker not in html, (path, marker)


def test_escaped_text_is_shown_where_it_was_put(tainted_url):
    home = httpx.get(f"{tainted_url}/", timeout=30).text
    assert "&lt;script&gt;alert(&#34;xss-source-title&#34;)&lt;/script&gt;China Statistical Yearbook" in home
    indicator = httpx.get(f"{tainted_url}/indicator/rd_intensity", timeout=30).text
    assert "&lt;script&gt;alert(&#34;xss-caveat&#34;)&lt;/script&gt;Every yearbook edition" in indicator
    assert "&lt;/script&gt;&lt;script&gt;alert(&#34;xss-definition&#34;)" in indicator
    # Chart data: the region name is inside <script type="application/json"> with < and > escaped.
    data = indicator.split('<script type="application/json" id="sti-chart-data">', 1)[1].split("</script>", 1)[0]
    assert '\\u003c/script\\u003e\\u003cscript\\u003ealert(\\"xss-chart-data\\")' in data
    assert "<" not in data and ">" not in data
    certified = httpx.get(f"{tainted_url}/indicator/hightech_enterprises_certified", timeout=30).text
    assert 'javascript:alert("xss-url")' in certified.replace("&#34;", '"')  # shown as text
    assert 'href="javascript:' not in certified
    sources = httpx.get(f"{tainted_url}/sti/sources", timeout=30).text
    assert (
        "&lt;script&gt;alert(&#34;xss-source-title&#34;)" in sources
        or "&lt;script&gt;alert(&quot;xss-source-title" in sources
    )


def test_policy_text_is_escaped(tainted_url):
    tables = httpx.get(f"{tainted_url}/sti.json", timeout=30).json()["tables"]
    if "policy_documents" not in {t["name"] for t in tables}:
        pytest.skip("this sti.db has no policy_documents table")
    html = httpx.get(f"{tainted_url}/sti/policy_documents", params={"_size": "5"}, timeout=30).text
    assert "<script>alert(" not in html
    assert "xss-policy-title" in html


def test_targets_page_shows_policy_text_as_text(tainted_url):
    page = httpx.get(f"{tainted_url}/targets", params={"region": "130000"}, timeout=30).text
    assert "&lt;script&gt;alert(&#34;xss-span&#34;)&lt;/script&gt;技术合同成交总额达到2000亿元" in page
    assert "&lt;/script&gt;&lt;script&gt;alert(&#34;xss-indicator-text&#34;)" in page
    assert "&lt;script&gt;alert(&#34;xss-rule&#34;)&lt;/script&gt;Level target" in page
    assert "&lt;img src=x onerror=alert(&#34;xss-caveat-img&#34;)&gt;" in page
    assert "&lt;script&gt;alert(&#34;xss-policy-title&#34;)&lt;/script&gt;关于联动实施" in page
    every = httpx.get(f"{tainted_url}/targets", timeout=30).text
    assert 'href="javascript:' not in every  # a javascript: document URL is no link (the row is linked instead)
    # The search excerpt (a two-character substring match) highlights inside escaped text.
    found = httpx.get(f"{tainted_url}/targets", params={"q": "xs"}, timeout=30).text
    assert "&lt;script&gt;alert(&#34;<mark>xs</mark>s-policy-text&#34;)" in found
    for html in (page, every, found):
        assert "<script>alert(" not in html and "<img src=x" not in html


def test_nothing_runs_in_the_browser(tainted_url):
    playwright_sync = pytest.importorskip("playwright.sync_api")
    from browser.chromium import RequestLog, artifacts_dir, launch

    dialogs: list[str] = []
    with playwright_sync.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            log = RequestLog(tainted_url)
            log.attach(page)
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            for path in PAGES:
                page.goto(f"{tainted_url}{path}")
                page.wait_for_load_state("load")
            page.goto(f"{tainted_url}/indicator/rd_intensity")
            page.wait_for_selector("#bar-chart[data-rendered=true] svg", timeout=20_000)
            labels = page.locator("#bar-chart svg g.role-axis-label text").all_text_contents()
            assert any(label.startswith("北京 </script><script>") for label in labels), labels  # drawn as text
            page.screenshot(path=str(artifacts_dir() / "escaping_indicator.png"), full_page=True)
            assert log.external() == []
        finally:
            browser.close()
    assert dialogs == []
