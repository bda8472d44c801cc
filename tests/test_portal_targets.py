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
import urllib.parse

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
    # Hebei: the 2022 plan (002) and the 2018 work-conference report (27_hebei), 25 statements not rejected.
    assert len(rows) == expected == 25
    assert {r["doc_id"] for r in rows} == {HEBEI_DOC, "27_hebei"}
    # Targets with a statistic first, worst status first; `other` last.
    others = [r["indicator"] == "other" for r in rows]
    assert others == sorted(others)
    statuses = [r["status"] for r in rows if r["indicator"] != "other"]
    order = ["off_track", "on_track", "met", "no_data"]
    assert statuses == sorted(statuses, key=order.index)
    # A city's (district's) targets count for its province; an empty region gives every region.
    heilongjiang = query(portal_url, "region_targets", region="230000")
    expected_hlj = db.execute(
        "SELECT count(*) FROM targets WHERE (region_code = '230000' OR province_code = '230000') "
        "AND review_status <> 'rejected'"
    ).fetchone()[0]
    assert len(heilongjiang) == expected_hlj > 1
    harbin = [r for r in heilongjiang if r["region"] == "黑龙江省哈尔滨新区"]
    assert harbin and all(r["region_code"] == "230000" for r in harbin)
    everything = query(portal_url, "region_targets", region="")
    assert len(everything) == db.execute("SELECT count(*) FROM targets WHERE review_status <> 'rejected'").fetchone()[0]
    # Beijing's documents report achieved figures only: no target.
    assert db.execute("SELECT count(*) FROM policy_documents WHERE province_code = '110000'").fetchone()[0] > 0
    assert query(portal_url, "region_targets", region="110000") == []


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


def test_search_policy_documents_chinese_phrase_returns_the_hebei_document(portal_url, db):
    rows = query(portal_url, "search_policy_documents", q="高新技术企业")
    found = [r["doc_id"] for r in rows]
    # 26 of the 54 documents name high-tech enterprises, from many provinces; the Hebei plan is one of them.
    assert set(found) == substring_truth(db, "高新技术企业") and len(found) == 26 and HEBEI_DOC in found
    assert len({r["region_code"] for r in rows}) >= 15
    hebei = {r["doc_id"]: r for r in rows}[HEBEI_DOC]
    n_targets = db.execute(
        "SELECT count(*) FROM targets WHERE doc_id = ? AND review_status <> 'rejected'", (HEBEI_DOC,)
    ).fetchone()[0]
    assert hebei["region_code"] == HEBEI and hebei["n_targets"] == n_targets == 13
    # The table's own search box (Datasette, FTS5 trigram, escaped mode) agrees.
    table = get(
        f"{portal_url}/sti/policy_documents.json", _search="高新技术企业", _shape="array", _col="doc_id", _size="max"
    ).json()
    assert {r["doc_id"] for r in table} == set(found)


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


def test_targets_page_hebei(portal_url, db):
    page = get(f"{portal_url}/targets", region=HEBEI).text
    assert "目标追踪 Targets tracker" in page and "河北" in page
    assert '<option value="130000" selected>' in page
    # Counts per status, as target_progress and targets hold them.
    counts = {m[0]: int(m[1]) for m in re.findall(r'<li data-status="(\w+)"[^>]*>.*?<strong>(\d+)</strong>', page)}
    truth = dict(
        db.execute(
            "SELECT CASE WHEN t.indicator = 'other' THEN 'other' ELSE p.status END, count(*) FROM targets t "
            "LEFT JOIN target_progress p ON p.statement_id = t.statement_id "
            "WHERE (t.region_code = ? OR t.province_code = ?) AND t.review_status <> 'rejected' GROUP BY 1",
            (HEBEI, HEBEI),
        ).fetchall()
    )
    assert counts == {"off_track": 0, "on_track": 2, "met": 2, "no_data": 6, "other": 15, "extracted": 0}
    assert {k: v for k, v in counts.items() if v} == truth
    assert page.count('data-statement="') == 25

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

    # The stock target is judged against the ESTIMATED stock: 2022-2024 recognitions 4,864 + 4,934 + 5,813 = 15,611.
    hightech = text_of(row_html(page, HIGHTECH))
    assert "≥ 15,000 家 by 2025" in hightech and "已达成 Met" in hightech
    recognitions = [
        r[0]
        for r in db.execute(
            "SELECT value FROM observations WHERE indicator_id = 'hightech_enterprises_certified' "
            "AND region_code = ? AND year BETWEEN 2022 AND 2024",
            (HEBEI,),
        )
    ]
    assert len(recognitions) == 3 and sum(recognitions) == 15611
    assert "15,611 家 2024" in hightech and "ESTIMATE" in hightech and "估算" in hightech
    assert 'href="/figure/hightech_enterprises_valid_est/130000/2024"' in row_html(page, HIGHTECH)

    assert "年均增长 10 % a year to 2025" in text_of(page)
    assert "Targets without a statistic" in page and "Not reviewed yet" in page
    assert "科技特派员数量达到1万人" in page and "≥ 1 万人 by 2025" in text_of(page)
    # The document has no URL: it links to its row in policy_documents.
    assert f'href="/sti/policy_documents?doc_id={HEBEI_DOC}"' in page
    citation = text_of(page.split("data-citation>", 1)[1].split("</p>", 1)[0])
    assert citation.startswith("Source: policy documents of 河北省科学技术厅") and "全省科技工作会议" in citation
    assert "statistics: China Statistical Yearbook" in citation
    assert "retrieved" in citation and "/targets?region=130000" in citation
    assert 'href="/sti/region_targets?region=130000"' in page


def test_targets_page_lists_every_region_and_is_linked(portal_url, db):
    page = get(f"{portal_url}/targets").text
    assert '<option value="" selected>' in page
    # Every region with a policy document is in the selector, Beijing too (its documents hold no target).
    with_documents = {
        r[0]
        for r in db.execute("SELECT DISTINCT coalesce(region_code, province_code) FROM policy_documents")
        if r[0] is not None
    }
    options = set(
        re.findall(r'<option value="(\d{6})"', page.split('id="target-region-form"', 1)[1].split("</select>")[0])
    )
    with_targets = {r[0] for r in db.execute("SELECT region_code FROM target_region_summary WHERE targets > 0")}
    assert options == with_documents | with_targets and len(with_documents) >= 30 and "110000" in options
    n_targets = db.execute("SELECT count(*) FROM targets WHERE review_status <> 'rejected'").fetchone()[0]
    assert page.count('data-statement="') == n_targets == 194
    assert 'href="https://www.hlj.gov.cn/' in page  # a document with a URL links to it
    home = get(f"{portal_url}/").text
    assert 'href="/targets"' in home and "目标追踪" in home
    # A region without targets says so; nonsense falls back to every region.
    beijing = get(f"{portal_url}/targets", region="110000").text
    assert "No reviewed target with a statistic for Beijing" in text_of(beijing)
    assert get(f"{portal_url}/targets", region="<x>").text.count('data-statement="') == n_targets


def test_targets_page_search(portal_url, db):
    page = get(f"{portal_url}/targets", q="高新技术企业").text
    table = page.split('id="documents-table"', 1)[1].split("</table>", 1)[0]
    found = re.findall(r'data-doc="([^"]+)"', table)
    assert set(found) == substring_truth(db, "高新技术企业") and len(found) == 26 and HEBEI_DOC in found
    assert "<mark>高新技术企业</mark>" in table
    short = get(f"{portal_url}/targets", q="孵化").text.split('id="documents-table"', 1)[1].split("</table>", 1)[0]
    assert set(re.findall(r'data-doc="([^"]+)"', short)) == substring_truth(db, "孵化")
    assert HEBEI_DOC in short and "<mark>孵化</mark>" in short
    none = get(f"{portal_url}/targets", q="不存在的词语组合").text
    assert "No document matches" in none


def test_targets_page_sends_the_security_headers(portal_url):
    response = get(f"{portal_url}/targets", region=HEBEI)
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert not re.search(r'(src|href)="(https?:)?//(?!127\.0\.0\.1)[^"]*\.(js|css)', response.text)


# ------------------------------------------------------------------------------------ issue 12: surfaced


def summary_counts(page: str) -> dict[str, dict[str, int]]:
    """region code -> {count name: number} of the targets-by-region table (_target_summary.html)."""
    table = page.split('id="target-summary-table"', 1)[1].split("</tbody>", 1)[0]
    counts = {}
    for code, row in re.findall(r'<tr data-region="(\d{6})"(.*?)</tr>', table, flags=re.S):
        cells = dict(re.findall(r'data-count="(\w+)">(?:<a [^>]*>)?(\d+)', row))
        counts[code] = {k: int(v) for k, v in cells.items()}
    return counts


def summary_truth(db) -> dict[str, dict[str, int]]:
    """target_region_summary, for the regions with documents or targets, counted again from target_progress."""
    truth = {}
    for r in db.execute("SELECT * FROM target_region_summary"):
        documents = db.execute(
            "SELECT count(*) FROM policy_documents WHERE coalesce(region_code, province_code) = ?", (r["region_code"],)
        ).fetchone()[0]
        if documents or r["targets"] or r["reported_figures"]:
            truth[r["region_code"]] = {
                "documents": documents,
                "targets": r["targets"],
                **{s: r[s] for s in ("met", "on_track", "off_track", "no_data")},
                "reported": r["reported_figures"],
            }
    # the summary's counts are the statuses of target_progress, per province
    hebei = dict(
        db.execute("SELECT status, count(*) FROM target_progress WHERE region_code = ? GROUP BY 1", (HEBEI,)).fetchall()
    )
    assert {k: truth[HEBEI][k] for k in hebei} == hebei
    return truth


def test_targets_page_and_home_show_targets_by_region(portal_url, db):
    truth = summary_truth(db)
    assert len(truth) >= 30 and sum(t["met"] + t["on_track"] + t["off_track"] for t in truth.values()) >= 35
    for url in (f"{portal_url}/targets", f"{portal_url}/"):
        page = get(url).text
        assert summary_counts(page) == truth, url
        assert "无法判断 Not judgeable" in page or "无法判断<br>Not judgeable" in page
    # Hebei's row says why six targets cannot be judged.
    hebei = get(f"{portal_url}/targets", region=HEBEI).text
    assert summary_counts(hebei) == {HEBEI: truth[HEBEI]}
    reasons = db.execute("SELECT no_data_reasons FROM target_region_summary WHERE region_code = ?", (HEBEI,)).fetchone()
    row = hebei.split('id="target-summary-table"', 1)[1].split("</tbody>", 1)[0]
    for reason in reasons[0].split(";"):
        assert f"<li>{html.escape(reason.strip())}</li>" in row
    assert "no comparable series: 3" in text_of(row)


def reported_truth(db, code: str) -> dict[str, sqlite3.Row]:
    return {
        r["statement_id"]: r for r in db.execute("SELECT * FROM reported_vs_official WHERE region_code = ?", (code,))
    }


@pytest.mark.parametrize(("url", "params"), [("/region/650000", {}), ("/targets", {"region": "650000"})])
def test_reported_vs_official_on_the_region_and_targets_pages(portal_url, db, url, params):
    """Xinjiang: 12 reported figures, 3 of them agreeing with the official value within rounding."""
    truth = reported_truth(db, "650000")
    assert len(truth) == 12 and sum(r["verdict"] == "agrees within rounding" for r in truth.values()) == 3
    page = get(f"{portal_url}{url}", **params).text
    table = page.split('id="reported-table"', 1)[1].split("</table>", 1)[0]
    shown = dict(re.findall(r'<tr data-reported="([^"]+)" data-verdict="([^"]+)"', table))
    assert shown == {k: r["verdict"] for k, r in truth.items()}
    for statement_id, r in truth.items():
        row = table.split(f'data-reported="{statement_id}"', 1)[1].split("</tr>", 2)
        cells, evidence = row[0], row[1]
        assert f'data-value="{r["reported_value"]}"' in cells
        # the evidence is the document's text at the statement's offset
        offset = int(statement_id.rsplit(":", 1)[1].split("-")[0])
        text = db.execute("SELECT text FROM policy_documents WHERE doc_id = ?", (r["doc_id"],)).fetchone()[0]
        assert text[offset : offset + len(r["span"])] == r["span"]
        assert r["span"] in html.unescape(evidence) and f"at character {offset}" in evidence
        if r["official_value"] is None:
            assert "—" in cells
            continue

        # the official value is the observation of its release (or its change on the year before, as the unit
        # says), linked to its figure page with its source cell
        def official(year: int) -> sqlite3.Row:
            return db.execute(
                "SELECT value, source_ref FROM observation_history WHERE indicator_id = ? AND region_code = ? "
                "AND year = ? ORDER BY release = ? DESC",
                (r["warehouse_indicator"], "650000", year, r["official_release"]),
            ).fetchone()

        obs = official(r["year"])
        assert obs is not None and obs["source_ref"] and html.escape(r["unit"]) in cells
        if r["unit"].endswith("(change on the year before)"):
            assert obs["value"] - official(r["year"] - 1)["value"] == pytest.approx(r["official_value"])
        elif "(" not in r["unit"]:
            assert obs["value"] == pytest.approx(r["official_value"])
        assert f'data-value="{r["official_value"]}"' in cells and r["official_release"] in cells
        assert f'href="/figure/{r["warehouse_indicator"]}/650000/{r["year"]}"' in cells
        assert html.escape(r["official_source_ref"]) in cells
        assert r["reported_in_unit"] - r["official_value"] == pytest.approx(r["difference"], abs=1e-6)


def test_region_page_lists_its_targets_with_evidence(portal_url, db):
    page = get(f"{portal_url}/region/{HEBEI}").text
    table = page.split('id="region-targets-table"', 1)[1].split("</table>", 1)[0]
    shown = dict(re.findall(r'<tr data-statement="([^"]+)" data-status="(\w+)"', table))
    truth = {
        r[0]: r[1] or "other"
        for r in db.execute(
            "SELECT t.statement_id, p.status FROM targets t LEFT JOIN target_progress p USING (statement_id) "
            "WHERE (t.region_code = ? OR t.province_code = ?) AND t.review_status <> 'rejected'",
            (HEBEI, HEBEI),
        )
    }
    assert shown == truth and len(shown) == 25
    contracts = table.split(f'data-statement="{CONTRACTS}"', 1)[1].split("</tr>", 1)[0]
    assert "≥ 2,000 亿元 by 2025" in text_of(contracts) and "at character 1459" in text_of(contracts)
    assert 'href="/figure/tech_contract_turnover/130000/2023"' in contracts and ">1,783.1</a>" in contracts
    assert f'href="/sti/policy_documents?doc_id={HEBEI_DOC}"' in contracts
    counts = page.split('class="sti-target-counts"', 1)[1].split("</p>", 1)[0]
    assert dict(re.findall(r'data-count="(\w+)">(\d+)<', counts)) == {
        "met": "2",
        "on_track": "2",
        "off_track": "0",
        "no_data": "6",
    }


def expected_colour(row) -> str:
    """The rule of /map/targets, written again: the most common judged status, a tie to the worse one."""
    if not row["targets"]:
        return "none"
    if not row["judged"]:
        return "no_data"
    best = max(row["off_track"], row["on_track"], row["met"])
    return next(s for s in ("off_track", "on_track", "met") if row[s] == best)


def test_map_colours_regions_by_target_status(portal_url, db):
    page = get(f"{portal_url}/map/targets").text
    tiles = dict(re.findall(r'<a href="/targets\?region=(\d{6})" data-region="\d{6}" data-status="(\w+)"', page))
    assert len(tiles) == 34  # 31 provinces, Hong Kong, Macao, Taiwan
    truth = {r["region_code"]: expected_colour(r) for r in db.execute("SELECT * FROM target_region_summary")}
    assert tiles == {code: truth.get(code, "none") for code in tiles}
    assert {"met", "off_track", "no_data"} <= set(tiles.values())  # the map says something
    assert summary_counts(page) == summary_truth(db)  # the same counts as a table
    assert 'href="/map/targets"' in get(f"{portal_url}/targets").text


def test_indicator_page_shows_first_release_vs_latest_for_every_province(portal_url, db):
    """R&D intensity 2022: the NBS bulletin's first release against the 2023 yearbook (GDP revised since)."""
    page = get(f"{portal_url}/indicator/rd_intensity", year="2022").text
    section = page.split('id="first-release"', 1)[1].split("</section>", 1)[0]
    assert "First release vs latest, 2022" in text_of(section)
    rows = re.findall(
        r'<tr data-region="(\d{6})".*?data-label="首次发布 First release" data-value="([^"]+)".*?'
        r'data-label="最新值 Latest" data-value="([^"]+)"',
        section,
        flags=re.S,
    )
    shown = {code: (float(first), float(latest)) for code, first, latest in rows}
    bulletin = dict(
        db.execute(
            "SELECT region_code, value FROM observation_history WHERE indicator_id = 'rd_intensity' AND year = 2022 "
            "AND release = 'nbs_rd_bulletin_2022' AND region_level IN ('national', 'province')"
        ).fetchall()
    )
    current = dict(
        db.execute(
            "SELECT region_code, value FROM observations WHERE indicator_id = 'rd_intensity' AND year = 2022 "
            "AND region_level IN ('national', 'province')"
        ).fetchall()
    )
    assert len(shown) == len(bulletin) == 32
    assert shown == {code: (bulletin[code], current[code]) for code in bulletin}
    revised = [c for c, (first, latest) in shown.items() if round(first, 2) != round(latest, 2)]
    assert len(revised) >= 20 and section.count('class="sti-revised"') == len(revised)
    assert 'href="/figure/rd_intensity/110000/2022"' in section
    # an indicator released once (no bulletin) has no such table
    assert 'id="first-release"' not in get(f"{portal_url}/indicator/hightech_enterprises_certified").text


def test_the_reported_count_links_to_exactly_the_rows_it_counts(portal_url, db):
    """A region's "comparable reported figures" number opens the reported_vs_official rows it counts."""
    page = get(f"{portal_url}/targets").text
    row = re.search(rf'<tr data-region="{HEBEI}".*?</tr>', page, re.S).group(0)
    link, shown = re.search(r'data-count="reported"><a href="([^"]+)">(\d+)</a>', row).groups()
    path, _, query = html.unescape(link).partition("?")
    rows = get(f"{portal_url}{path}.json", **dict(urllib.parse.parse_qsl(query)), _shape="array").json()
    assert len(rows) == int(shown) >= 1 and all(r["verdict"] != "not comparable" for r in rows)
    everything = db.execute("SELECT count(*) FROM reported_vs_official WHERE region_code = ?", (HEBEI,)).fetchone()[0]
    assert everything > len(rows)  # Hebei also has a figure that cannot be compared: not counted, not listed
