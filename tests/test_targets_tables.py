"""Policy documents and targets: the source adapter, the review file, the published tables, full-text search.

Real files: the three documents in sources/snapshots/policy_docs, a hand-written HTML page wrapping
document 003's text (tests/fixtures/policy_html), the real sti.db of the session build and a real
Datasette over HTTP.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest

from sources import policy_docs
from sources.policy_docs import PolicyDocumentError, read_document
from sti_portal.targets.extract import extract_statements
from sti_portal.targets.tables import (
    REVIEW_COLUMNS,
    TargetReviewError,
    apply_reviews,
    build_policy_targets,
    extract_document_statements,
    integrity_problems,
    load_indicator_map,
    load_reviews,
    review_warnings,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS = REPO_ROOT / "sources" / "snapshots" / "policy_docs"
HEBEI = DOCS / "002_a85baa3503116d35.txt"
DOC_003 = DOCS / "003_381669662495f4db.txt"
HTML_PAGE = Path(__file__).resolve().parent / "fixtures" / "policy_html" / "003_city_report_page.html"


def query(db_path, sql, *params):
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        return db.execute(sql, params).fetchall()


def gold(name: str) -> list[dict]:
    return [
        json.loads(line)
        for line in (DOCS / f"{name}.gold.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


# ----------------------------------------------------------------------------- source adapter


def test_txt_document_is_kept_byte_for_byte_with_its_sidecar():
    doc = read_document(HEBEI)
    assert doc.text == HEBEI.read_text(encoding="utf-8")
    assert doc.format == "txt" and doc.doc == HEBEI.name and doc.doc_id == "002_a85baa3503116d35"
    assert doc.meta["issuer"] == "河北省科学技术厅" and doc.meta["date"] == "2022-04-22" and doc.meta["url"] is None


def test_adapter_frame_resolves_region_codes():
    frame = policy_docs.extract(REPO_ROOT / "sources" / "snapshots").set_index("doc_id")
    assert list(frame.columns) == [c for c in policy_docs.DOCUMENT_COLUMNS if c != "doc_id"]
    assert len(frame) == 54  # every bundled document
    assert frame["province_code"].nunique() == 30  # every region but 河南 (no document)
    assert frame.loc["002_a85baa3503116d35", ["region_code", "province_code", "year"]].tolist() == [
        "130000",
        "130000",
        2022,
    ]
    assert frame.loc["001_74d3b60f1b7480a1", "region_code"] == "230000"  # 黑龙江省
    assert pd.isna(frame.loc["003_381669662495f4db", "region_code"])  # region null in the sidecar
    assert frame.loc["002_a85baa3503116d35", "source_ref"] == "policy_docs/002_a85baa3503116d35.txt"


def test_region_codes_of_cities_and_provinces():
    assert policy_docs.region_codes("河北省") == ("130000", "130000")
    assert policy_docs.region_codes("黑龙江省哈尔滨市") == (None, "230000")  # a city: no warehouse series
    assert policy_docs.region_codes("上海市") == ("310000", "310000")
    assert policy_docs.region_codes("unknown city") == (None, None)
    assert policy_docs.region_codes(None) == (None, None)


def test_html_page_is_reduced_to_the_article_text():
    doc = read_document(HTML_PAGE)
    assert doc.format == "html"
    body = [line.strip() for line in DOC_003.read_text(encoding="utf-8").splitlines() if line.strip()]
    lines = doc.text.splitlines()
    # the article's title, then exactly document 003's lines, in order: nothing else survives
    assert lines == ["全市科技工作会议报告（提纲）", *body]
    for furniture in (
        "首页",
        "当前位置",
        "打印本页",
        "关闭窗口",
        "分享到",
        "版权所有",
        "ICP",
        "网站标识码",
        "0371",
        "网站地图",
        "搜索",
        "浏览次数",
        "_hmt",
        "line-height",
        "市人民政府",
    ):
        assert furniture not in doc.text, furniture


def test_html_page_numbers_in_the_boilerplate_give_no_statements():
    # document 003 has no quantitative statement; the page around it has phone, ICP and visitor numbers
    doc = read_document(HTML_PAGE)
    assert extract_statements(doc.text, doc.meta, doc.doc) == []


BAD_SIDECARS = {
    "not_json": ('{"title": "x", }', "not valid JSON"),
    "not_object": ('["title"]', "must be a JSON object"),
    "no_title": ('{"issuer": "某省科技厅", "date": "2023-01-05"}', "field 'title' is missing or null"),
    "bad_date": ('{"title": "某规划", "date": "2022-13-40"}', "field 'date' is not a calendar date (got '2022-13-40')"),
    "date_format": ('{"title": "某规划", "date": "22/04/2022"}', "field 'date' must be YYYY-MM-DD, YYYY-MM or YYYY"),
    "bad_url": ('{"title": "某规划", "url": "www.hebei.gov.cn"}', "field 'url' must start with http:// or https://"),
    "typo_field": ('{"title": "某规划", "tilte": "x", "issuer": "某厅"}', "unknown field(s) 'tilte'"),
    "number_region": ('{"title": "某规划", "region": 130000}', "field 'region' must be a string or null, not 130000"),
    "empty_issuer": ('{"title": "某规划", "issuer": " "}', "field 'issuer' is empty; write null"),
}


@pytest.mark.parametrize("case", sorted(BAD_SIDECARS))
def test_bad_sidecar_is_a_clear_error(tmp_path, case):
    content, expected = BAD_SIDECARS[case]
    shutil.copy(HEBEI, tmp_path / "doc.txt")
    (tmp_path / "doc.meta.json").write_text(content, encoding="utf-8")
    with pytest.raises(PolicyDocumentError) as info:
        read_document(tmp_path / "doc.txt")
    message = str(info.value)
    assert "doc.meta.json" in message and expected in message, message


def test_missing_sidecar_and_orphan_sidecar(tmp_path):
    shutil.copy(HEBEI, tmp_path / "a.txt")
    with pytest.raises(PolicyDocumentError, match=r"a\.meta\.json: sidecar is missing"):
        read_document(tmp_path / "a.txt")
    (tmp_path / "b.meta.json").write_text('{"title": "x"}', encoding="utf-8")
    with pytest.raises(PolicyDocumentError, match=r"b\.meta\.json: sidecar without a document"):
        policy_docs.read_documents(tmp_path)


def test_checking_a_folder_with_bad_sidecars_prints_errors_not_a_traceback(tmp_path):
    for name in ("good", "bad_date", "not_json"):
        shutil.copy(HEBEI, tmp_path / f"{name}.txt")
    (tmp_path / "good.meta.json").write_text('{"title": "好", "date": "2022-04-22"}', encoding="utf-8")
    (tmp_path / "bad_date.meta.json").write_text(BAD_SIDECARS["bad_date"][0], encoding="utf-8")
    (tmp_path / "not_json.meta.json").write_text(BAD_SIDECARS["not_json"][0], encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "sources.policy_docs", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2, result.stderr  # both problems reported at once
    assert any("bad_date.meta.json: field 'date' is not a calendar date" in e for e in errors)
    assert any("not_json.meta.json: not valid JSON" in e for e in errors)


def test_checking_the_bundled_documents_passes():
    result = subprocess.run(
        [sys.executable, "-m", "sources.policy_docs"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\nok  ") + result.stdout.startswith("ok  ") == 54


# ----------------------------------------------------------------------------- statements and reviews


@pytest.fixture(scope="module")
def built_targets():
    return build_policy_targets(REPO_ROOT / "sources" / "snapshots")


def test_every_statement_points_at_its_span(built_targets):
    texts = dict(zip(built_targets.documents["doc_id"], built_targets.documents["text"]))
    for st in built_targets.statements.to_dict("records"):
        assert texts[st["doc_id"]][st["char_offset"] : st["char_end"]] == st["span"]
    assert integrity_problems(built_targets) == []
    assert built_targets.statements["statement_id"].is_unique


def test_statements_are_the_gold_statements_with_kinds(built_targets):
    st = built_targets.statements
    for name in ("001_74d3b60f1b7480a1", "002_a85baa3503116d35", "003_381669662495f4db"):
        labels = gold(name)
        mine = st[st["doc_id"] == name]
        assert len(mine) == len(labels), name
        assert sorted(mine["kind"]) == sorted(g["kind"] for g in labels)
        assert sorted(mine["value_base"]) == sorted(g["value_base"] for g in labels)
    assert (st["doc_id"] == "003_381669662495f4db").sum() == 0


def test_reviews_confirm_every_target_in_the_gold_documents(built_targets):
    targets = built_targets.targets
    assert set(targets["kind"]) == {"target"}
    assert set(targets["review_status"]) <= {"confirmed", "rejected"}  # every target is reviewed
    mine = targets[targets["doc_id"].isin(["001_74d3b60f1b7480a1", "002_a85baa3503116d35"])]
    assert len(mine) == 16 and set(mine["review_status"]) == {"confirmed"}
    achieved = built_targets.statements[built_targets.statements["kind"] == "achieved"]
    assert set(achieved["review_status"]) <= {"extracted", "confirmed"}
    assert bool(built_targets.reviews["matched"].all())
    assert [w for w in review_warnings(built_targets) if "户" not in w] == []


def test_indicator_mapping_and_flow_stock(built_targets):
    t = built_targets.targets.set_index("span")
    row = t.loc["高新技术企业达到15000家"]
    assert (row["indicator"], row["warehouse_indicator"], row["comparability"]) == (
        "hightech_enterprises",
        "hightech_enterprises_valid_est",
        "estimate",
    )
    assert "ESTIMATE" in row["indicator_caveat"] and "ESTIMATE" in row["progress_rule"]
    assert t.loc["全社会研发经费投入年均增长10%", ["indicator", "warehouse_indicator", "comparator"]].tolist() == [
        "rd_expenditure_growth",
        "rd_expenditure",
        "growth",
    ]
    assert t.loc["技术合同成交总额达到2000亿元", "warehouse_indicator"] == "tech_contract_turnover"
    incubators = t.loc["省级以上科技企业孵化器达到200家"]
    assert (incubators["warehouse_indicator"], incubators["comparability"]) == ("incubators", "broader")
    assert incubators["corrections"] == "comparability: same → broader"
    assert "Level target" in incubators["progress_rule"] and "broader" in incubators["progress_rule"]


def _review(**fields) -> dict:
    row = {c: "" for c in REVIEW_COLUMNS}
    row.update(reviewer="test", reviewed_on="2026-01-01", note="")
    row.update(fields)
    return row


def test_review_corrections_rejections_and_orphans(built_targets):
    raw = extract_document_statements(built_targets.documents)
    reviews = pd.DataFrame(
        [
            _review(
                doc=HEBEI.name,
                span="技术合同成交总额达到2000亿元",
                status="confirmed",
                value="2500",
                target_year="2027",
            ),
            _review(doc=HEBEI.name, span="科技领军企业达到100家", status="rejected", note="not a statistic"),
            _review(
                doc=HEBEI.name,
                span="高新技术企业达到15000家",
                status="confirmed",
                warehouse_indicator="hightech_enterprises_certified",
                comparability="broader",
            ),
            _review(doc=HEBEI.name, span="一个已经不存在的片段", status="confirmed"),
        ],
        columns=REVIEW_COLUMNS,
    )
    statements, matched = apply_reviews(raw, reviews, load_indicator_map(), built_targets.documents)
    s = statements.set_index("span")
    turnover = s.loc["技术合同成交总额达到2000亿元"]
    assert (turnover["value"], turnover["value_base"], turnover["target_year"]) == (2500.0, 2500e8, 2027)
    assert turnover["corrections"] == "value: 2000.0 → 2500.0; target_year: 2025 → 2027"
    assert json.loads(turnover["extracted"])["value_base"] == 2000e8  # the extractor's output is kept
    assert s.loc["科技领军企业达到100家", "review_status"] == "rejected"
    he = s.loc["高新技术企业达到15000家"]
    assert (he["warehouse_indicator"], he["comparability"]) == ("hightech_enterprises_certified", "broader")
    assert s.loc["科技特派员数量达到1万人", "review_status"] == "extracted"
    assert matched["matched"].tolist() == [True, True, True, False]


def test_malformed_review_file_names_row_and_column(tmp_path):
    bad = tmp_path / "reviews.csv"
    pd.DataFrame(
        [
            _review(doc="x.txt", span="y", status="approved"),
            _review(doc="x.txt", span="z", status="confirmed", comparator="gte", target_year="20x5"),
        ],
        columns=REVIEW_COLUMNS,
    ).to_csv(bad, index=False)
    with pytest.raises(TargetReviewError) as info:
        load_reviews(bad)
    message = str(info.value)
    assert "row 2: status must be one of confirmed, rejected (got 'approved')" in message
    assert "row 3: comparator 'gte' is not valid" in message and "row 3: target_year '20x5' is not valid" in message


def test_the_curated_review_file_is_valid():
    reviews = load_reviews()
    by_hand = reviews[~reviews["reviewer"].str.startswith("hand labels")]
    assert len(by_hand) == 16 and set(by_hand["status"]) == {"confirmed"}
    assert set(reviews["status"]) == {"confirmed", "rejected"} and len(reviews) > 200


# ----------------------------------------------------------------------------- sti.db and the portal


def test_published_target_tables(sti_db):
    counts = dict(
        query(
            sti_db,
            """SELECT 'policy_documents', count(*) FROM policy_documents
        UNION ALL SELECT 'policy_statements', count(*) FROM policy_statements
        UNION ALL SELECT 'targets', count(*) FROM targets
        UNION ALL SELECT 'target_progress', count(*) FROM target_progress
        UNION ALL SELECT 'target_indicators', count(*) FROM target_indicators""",
        )
    )
    assert counts["policy_documents"] == 54
    assert counts["policy_statements"] > 500 and 150 < counts["targets"] < counts["policy_statements"]
    assert counts["target_progress"] <= counts["targets"] and counts["target_indicators"] == 13
    assert query(sti_db, "SELECT count(*) FROM targets WHERE kind <> 'target'") == [(0,)]
    # the span is the evidence: it sits at its offset in the published text (SQLite substr is 1-based)
    assert query(
        sti_db,
        """SELECT count(*) FROM policy_statements s JOIN policy_documents d USING (doc_id)
                            WHERE substr(d.text, s.char_offset + 1, s.char_end - s.char_offset) <> s.span""",
    ) == [(0,)]


def fts_docs(sti_db, term: str) -> set[str]:
    rows = query(
        sti_db,
        """SELECT doc_id FROM policy_documents WHERE rowid IN (
                            SELECT rowid FROM policy_documents_fts WHERE policy_documents_fts MATCH ?)""",
        '"' + term.replace('"', '""') + '"',
    )
    return {r[0] for r in rows}


def test_full_text_search_in_chinese(sti_db):
    tokenizer = query(sti_db, "SELECT sql FROM sqlite_master WHERE name = 'policy_documents_fts'")[0][0]
    assert "trigram" in tokenizer and 'content="policy_documents"' in tokenizer
    assert "002_a85baa3503116d35" in fts_docs(sti_db, "高新技术企业")
    assert fts_docs(sti_db, "四个一批") == {"002_a85baa3503116d35"}
    assert fts_docs(sti_db, "可用孵化载体") == {"001_74d3b60f1b7480a1"}
    # the index maps to the right rows: it agrees with a plain substring scan
    for term in ("孵化器", "生态圈", "科技成果", "实验室", "哈尔滨", "中试熟化基地", "不存在的词语"):
        expected = {r[0] for r in query(sti_db, "SELECT doc_id FROM policy_documents WHERE instr(text, ?) > 0", term)}
        assert fts_docs(sti_db, term) == expected, term


def test_full_text_search_over_datasette_http(portal_url):
    response = httpx.get(
        f"{portal_url}/sti/policy_documents.json",
        params={"_search": "四个一批", "_shape": "objects", "_col": ["doc_id", "title"]},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    assert [r["doc_id"] for r in rows] == ["002_a85baa3503116d35"]
    assert rows[0]["title"].startswith("关于联动实施“四个一批”项目")
    none = httpx.get(
        f"{portal_url}/sti/policy_documents.json", params={"_search": "量子计算机", "_shape": "objects"}, timeout=30
    ).json()["rows"]
    assert none == []


def test_target_progress_over_datasette_http(portal_url):
    rows = httpx.get(
        f"{portal_url}/sti/target_progress.json",
        params={
            "region_code": "130000",
            "doc_id": "002_a85baa3503116d35",
            "review_status": "confirmed",
            "_shape": "objects",
            "_size": "max",
        },
        timeout=30,
    ).json()["rows"]
    statuses = {r["indicator"]: r["status"] for r in rows}
    assert statuses.pop("hightech_enterprises") in ("met", "on_track", "off_track")  # against the estimate
    assert statuses == {
        "rd_expenditure_growth": "on_track",
        "tech_contract_turnover": "on_track",
        "incubators": "no_data",
        "hightech_output_share": "no_data",
        "sci_tech_achievements_transformed": "no_data",
    }
