"""The targets tracker (/targets) and its two stored queries, over real HTTP against the session build.

Values are checked against what the sources hold: the Hebei plan's text (the evidence spans are at
their offsets in policy_documents.text), the yearbook cell the latest technology-contract figure was
read from (independent xlrd reader of test_published_values), and plain substring search over the
documents for the full-text search.
"""

from __future__ import annotations

import html
import re
import sqlite3

import httpx
import pytest
from test_published_values import to_number, xls_cell

HEBEI = "130000"
CONTRACTS = "002_a85baa3503116d35:1459-1475"
HIGHTECH = "002_a85baa3503116d35:1640-1654"
HEBEI_DOC = "002_a85baa3503116d35"


def get(url: str, **params) -> httpx.Response:
    response = httpx.get(url, params=params, timeout=30)
    assert response.status_code == 200, (url, params, response.text[:500])
    return response


def query(portal_url: str, name: str, **params) -> list[dict]:
    return get(f"{portal_url}/sti/{name}.json", **params, _shape="array").json()


def text_of(fragment: str) -> str:
    """Visible text of an HTML fragment, whitespace collapsed."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


def row_html(page: str, statement_id: str) -> str:
    """The table row of one target plus its evidence row."""
    start = page.index(f'data-statement="{statement_id}"')
    end = page.index("</tr>", page.index(f'data-evidence-for="{statement_id}"'))
    return page[start:end]


@pytest.fixture(scope="module")
def db(sti_db):
    con = sqlite3.connect(f"file:{sti_db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    yield con
    con.close()


# ------------------------------------------------------------------------------------ stored queries


def test_region_targets_hebei_contract_turnover_against_the_yearbook_cell(portal_url, db):
    rows = query(portal_url, "region_targets", region=HEBEI)
    by_id = {r["statement_id"]: r for r in rows}
    t = by_id[CONTRACTS]
    assert (t["evidence"], t["value"], t["unit"], t["comparator"], t["target_year"]) == (
        "技术合同成交总额达到2000亿元",
        2000.0,
        "亿元",
        "eq",
        2025,
    )
    assert t["status"] == "on_track" and t["review_status"] == "confirmed"
    assert (t["latest_year"], t["indicator_unit"]) == (2023, "亿元")
    assert t["latest_value"] == pytest.approx(1783.0882)
    # The yearbook cell the latest value was read from holds 17830882 万元 = 1783.0882 亿元.
    path, _, where = t["latest_source_ref"].partition("#")
    sheet, _, cell = where.partition("!")
    raw = to_number(xls_cell({"file": path, "sheet": sheet, "cell": cell}).value, t["latest_source_ref"])
    assert raw == 17830882
    assert raw / 1e4 == pytest.approx(t["latest_value"])
    assert t["gap"] == pytest.approx(2000 - 1783.0882)
    assert t["growth_needed_pct"] == pytest.approx(100 * ((2000 / 1783.0882) ** (1 / 2) - 1))
    assert "on_track" in t["rule"] and "2,000" in t["rule"]
    # The evidence is the document's own text at the statement's offset.
    text = db.execute("SELECT text FROM policy_documents WHERE doc_id = ?", (HEBEI_DOC,)).fetchone()[0]
    assert text[t["char_offset"] : t["char_offset"] + len(t["evidence"])] == t["evidence"]
    assert t["doc_title"].startswith("关于联动实施") and t["doc_date"] == "2022-04-22"


def test_region_targets_hebei_high_tech_enterprises_are_judged_against_the_estimate(portal_url):
    rows = query(portal_url, "region_targets", region=HEBEI)
    t = {r["statement_id"]: r for r in rows}[HIGHTECH]
    assert (t["evidence"], t["value"], t["unit"], t["target_year"]) == ("高新技术企业达到15000家", 15000.0, "家", 2025)
    # the stock target is judged against the estimated stock (three years of recognitions), and says so
    assert t["status"] in ("met", "on_track", "off_track") and "ESTIMATE" in t["caveat"]
    estimate = query(portal_url, "ranking", indicator="hightech_enterprises_valid_est", year="2024")
    assert {r["region_code"]: r["value"] for r in estimate}[HEBEI] == t["latest_value"]


def test_region_targets_order_and_scope(portal_url, db):
    rows = query(portal_url, "region_targets", region=HEBEI)
    expected = db.execute(
        "SELECT count(*) FROM targets WHERE (region_code = ? OR province_code = ?) AND review_status <> 'rejected'",
        (HEBEI, HEBEI),
    ).fetchone()[0]
    assert len(rows) == expected == 13
    # Targets with a statistic first, worst status first; `other` last.
    others = [r["indicator"] == "other" for r in rows]
    assert others == sorted(others)
    statuses = [r["status"] for r in rows if r["indicator"] != "other"]
    order = ["off_track", "on_track", "met", "no_data"]
    assert statuses == sorted(statuses, key=order.index)
    # A city's targets count for its province; an empty region gives every region.
    harbin = query(portal_url, "region_targets", region="230000")
    assert len(harbin) == 3 and {r["region"] for r in harbin} == {"黑龙江省哈尔滨新区"}
    everything = query(portal_url, "region_targets", region="")
    assert len(everything) == db.execute("SELECT count(*) FROM targets WHERE review_status <> 'rejected'").fetchone()[0]
    assert query(portal_url, "region_targets", region="440000") == []


def substring_truth(db, term: str) -> set[str]:
    return {
        r[0]
        for r in db.execute("SELECT doc_id, title, issuer, text FROM policy_documents")
        if any(term.lower() in (v or "").lower() for v in r[1:])
    }


@pytest.mark.parametrize("term", ["高新技术企业", "技术合同成交", "哈尔滨新区", "高新", "孵化"])
def test_search_policy_documents_finds_what_the_texts_contain(portal_url, db, term):
    rows = query(portal_url, "search_policy_documents", q=term)
    assert {r["doc_id"] for r in rows} == substring_truth(db, term) != set()
    for r in rows:
        assert term in r["excerpt"] or term in r["title"], r


def test_search_policy_documents_chinese_phrase_returns_the_hebei_document(portal_url):
    rows = query(portal_url, "search_policy_documents", q="高新技术企业")
    assert [r["doc_id"] for r in rows] == [HEBEI_DOC]
    assert rows[0]["region_code"] == HEBEI and rows[0]["n_targets"] == 13
    # The table's own search box (Datasette, FTS5 trigram, escaped mode) agrees.
    table = get(f"{portal_url}/sti/policy_documents.json", _search="高新技术企业", _shape="array", _col="doc_id").json()
    assert [r["doc_id"] for r in table] == [HEBEI_DOC]


@pytest.mark.parametrize("term", ['"', 'a"b', "AND", "OR NOT", "*", "高新 OR", ""])
def test_search_policy_documents_takes_operators_literally(portal_url, db, term):
    rows = query(portal_url, "search_policy_documents", q=term)
    if term.strip():
        assert {r["doc_id"] for r in rows} <= substring_truth(db, term.strip())
    else:
        assert rows == []


def test_metadata_describes_the_target_tables(portal_url):
    meta = get(f"{portal_url}/-/metadata.json").json()["databases"]["sti"]
    for table in ("policy_documents", "policy_statements", "targets", "target_progress", "target_indicators"):
        m = meta["tables"][table]
        assert m["title"] and len(m["description"]) > 60 and m["source"] and m["license"], table
    assert meta["tables"]["policy_documents"]["fts_table"] == "policy_documents_fts"
    page = get(f"{portal_url}/sti/target_progress").text
    assert "Target progress" in page and "no_data" in page


# ------------------------------------------------------------------------------------ the page


def test_targets_page_hebei(portal_url):
    page = get(f"{portal_url}/targets", region=HEBEI).text
    assert "目标追踪 Targets tracker" in page and "河北" in page
    assert '<option value="130000" selected>' in page
    # Counts per status.
    counts = {m[0]: int(m[1]) for m in re.findall(r'<li data-status="(\w+)"[^>]*>.*?<strong>(\d+)</strong>', page)}
    assert counts == {"off_track": 0, "on_track": 2, "met": 0, "no_data": 4, "other": 7, "extracted": 0}
    assert page.count('data-statement="') == 13

    contracts = row_html(page, CONTRACTS)
    words = text_of(contracts)
    assert 'data-status="on_track"' in contracts and "正常 On track" in words
    assert "≥ 2,000 亿元 by 2025" in words
    assert "1,783.1 亿元 2023" in words and "747.3 亿元 2021" in words  # 亿元 at 0.1 (catalogue/indicator_display.csv)
    assert "216.9 亿元" in words and "5.91 % a year" in words
    assert (
        "“技术合同成交总额达到2000亿元”" in words
        or '<q class="sti-evidence" lang="zh">技术合同成交总额达到2000亿元</q>' in contracts
    )
    assert "straight line from the baseline" in words  # the rule, under the badge
    assert 'href="/figure/tech_contract_turnover/130000/2023"' in contracts  # the figure page of the latest value
    assert "tech_market_export_by_region__funds-2023.xls#1!J13" in contracts  # the cell, on hover

    hightech = text_of(row_html(page, HIGHTECH))
    assert "≥ 15,000 家 by 2025" in hightech and "无可比数据 No data" in hightech
    assert "The warehouse has 当年认定高新技术企业数" in hightech and "— not comparable" in hightech
    assert re.search(r"\([\d,]+ 家, 20\d\d\) — not comparable", hightech)
    assert "FLOW" in hightech

    assert "年均增长 10 % a year to 2025" in text_of(page)
    assert "Targets without a statistic" in page and "Not reviewed yet" in page
    assert "科技特派员数量达到1万人" in page and "≥ 1 万人 by 2025" in text_of(page)
    # The document has no URL: it links to its row in policy_documents.
    assert f'href="/sti/policy_documents?doc_id={HEBEI_DOC}"' in page
    citation = text_of(page.split("data-citation>", 1)[1].split("</p>", 1)[0])
    assert citation.startswith("Source: policy documents of 河北省科学技术厅; statistics: China Statistical Yearbook")
    assert "retrieved" in citation and "/targets?region=130000" in citation
    assert 'href="/sti/region_targets?region=130000"' in page


def test_targets_page_lists_every_region_and_is_linked(portal_url):
    page = get(f"{portal_url}/targets").text
    assert '<option value="" selected>' in page and 'value="230000"' in page and 'value="130000"' in page
    assert page.count('data-statement="') == 16
    assert 'href="https://www.hlj.gov.cn/' in page  # a document with a URL links to it
    home = get(f"{portal_url}/").text
    assert 'href="/targets"' in home and "目标追踪" in home
    # A region without targets says so; nonsense falls back to every region.
    guangdong = get(f"{portal_url}/targets", region="440000").text
    assert "No reviewed target with a statistic for Guangdong" in text_of(guangdong)
    assert get(f"{portal_url}/targets", region="<x>").text.count('data-statement="') == 16


def test_targets_page_search(portal_url):
    page = get(f"{portal_url}/targets", q="高新技术企业").text
    table = page.split('id="documents-table"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'data-doc="([^"]+)"', table) == [HEBEI_DOC]
    assert "<mark>高新技术企业</mark>" in table
    short = get(f"{portal_url}/targets", q="孵化").text.split('id="documents-table"', 1)[1].split("</table>", 1)[0]
    assert HEBEI_DOC in short and "<mark>孵化</mark>" in short
    none = get(f"{portal_url}/targets", q="不存在的词语组合").text
    assert "No document matches" in none


def test_targets_page_sends_the_security_headers(portal_url):
    response = get(f"{portal_url}/targets", region=HEBEI)
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert not re.search(r'(src|href)="(https?:)?//(?!127\.0\.0\.1)[^"]*\.(js|css)', response.text)
