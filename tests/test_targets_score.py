"""The extractor measured the way it is judged: every bundled labelled document (54, all regions with a
document, about a fifth in traditional script), the floors of issue 11, the leave-one-region-out run, the
vocabulary as data, and the reading copy that maps spans back to the original text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sti_portal.targets.extract import extract_file, extract_statements
from sti_portal.targets.score import (
    DEFAULT_GOLD_DIR,
    format_confusion,
    format_table,
    leave_one_region_out,
    score_dir,
    vocabulary_rows_by_region,
)
from sti_portal.targets.text import strip_annotations
from sti_portal.targets.vocabulary import VocabularyError, default_vocabulary, lookup, read_vocabulary


@pytest.fixture(scope="module")
def result():
    return score_dir(DEFAULT_GOLD_DIR)


def test_all_labelled_documents_are_scored(result):
    assert len(result["docs"]) == 54
    assert result["overall"]["gold"] == 606


def test_floors_on_the_labelled_documents(result):
    overall = result["overall"]
    print("\n" + format_table(result) + "\n\n" + format_confusion(result["confusion"]))
    assert overall["f1"] >= 0.95
    assert overall["kind_acc"] >= 0.95
    assert overall["comparator_acc"] >= 0.95
    assert overall["named_acc"] >= 0.90
    assert overall["target_year_acc"] >= 0.90


def test_document_003_yields_nothing():
    assert extract_file(DEFAULT_GOLD_DIR / "003_381669662495f4db.txt") == []


def test_no_unknown_region_when_the_meta_file_or_the_text_names_it():
    for path in sorted(DEFAULT_GOLD_DIR.glob("*.txt")):
        meta = json.loads(path.with_name(path.stem + ".meta.json").read_text(encoding="utf-8"))
        for row in extract_file(path):
            if meta.get("region"):
                assert not row["region"].startswith("unknown"), (path.name, row["span"])
    text = "2023年，湖北省高新技术企业总数突破2.5万家。"
    (row,) = extract_statements(text, {"title": "新闻", "region": None, "date": "2024-01-10"}, "t.txt")
    assert row["region"] == "湖北省"
    city = "2023年，济南市科技工作成效显著。全市高新技术企业达到6500家。"
    (row,) = extract_statements(city, {"title": "科技工作总结", "region": None, "date": "2024-01-10"}, "t.txt")
    assert row["region"] == "山东省济南市"  # the city the text names, and 全市 speaks for


def test_confusion_table_counts_matched_pairs(result):
    confusion = result["confusion"]
    assert sum(confusion.values()) == result["overall"]["match"]
    assert confusion[("rd_intensity", "rd_intensity")] >= 20
    table = format_confusion(confusion)
    assert "rd_intensity" in table and "tech_contract_turnover" in table


def test_leave_one_region_out_removes_only_rows_a_single_region_needs():
    held_out = leave_one_region_out(DEFAULT_GOLD_DIR)
    used = vocabulary_rows_by_region(Path(DEFAULT_GOLD_DIR), default_vocabulary())
    for province, rows in held_out["removed_rows"].items():
        assert all(used[row] == {province} for row in rows)
    assert sum(len(r) for r in held_out["removed_rows"].values()) >= 1
    assert held_out["overall"]["gold"] == 606
    # removing a region's own wording can only lose named indicators, never gain them
    assert held_out["overall"]["named_acc"] <= score_dir(DEFAULT_GOLD_DIR)["overall"]["named_acc"]


def test_vocabulary_is_data_both_scripts_one_row():
    assert lookup("研究与试验发展经费投入强度", "%", "eq")[0] == "rd_intensity"
    assert lookup("研究與試驗發展經費投入強度", "%", "eq")[0] == "rd_intensity"
    assert lookup("技术市场成交合同金额", "亿元", "eq")[0] == "tech_contract_turnover"
    assert lookup("高企", "家", "eq")[0] == "hightech_enterprises"
    assert lookup("研发经费", "%", "growth")[0] == "rd_expenditure_growth"
    assert lookup("R&D经费投入强度", "个百分点", "growth")[0] == "rd_intensity"  # the level id
    assert lookup("科技型中小企业", "家", "eq")[0] == "other"
    assert lookup("完成科技成果转化", "项", "eq")[0] == "sci_tech_achievements_transformed"
    assert lookup("科技成果转化率", "%", "eq")[0] == "other"
    assert lookup("登记技术合同成交额", "亿元", "eq")[0] == "tech_contract_turnover"
    assert lookup("每万人口有效发明专利拥有量", "件", "eq")[0] == "invention_patents_per_10k"
    assert lookup("高技术制造业增加值占规上工业增加值比重", "%", "eq")[0] == "other"


def test_vocabulary_errors_name_row_and_column(tmp_path):
    bad = tmp_path / "vocabulary.csv"
    bad.write_text(
        "rule,pattern,replacement,indicator_id,unit_need,growth_id,example\n"
        "term,高企,,hightech_enterprises,pieces,,x\n",
        encoding="utf-8",
    )
    with pytest.raises(VocabularyError, match=r"row 2, column unit_need: expected one of percent"):
        read_vocabulary(bad)
    bad.write_text(
        "rule,pattern,replacement,indicator_id,unit_need,growth_id,example\nalias,(高企,,,,,x\n", encoding="utf-8"
    )
    with pytest.raises(VocabularyError, match=r"row 2, column pattern: not a regular expression"):
        read_vocabulary(bad)


def test_pinyin_annotations_are_read_through_and_spans_keep_them():
    text = "全社會(huì)研發(fā)經(jīng)費(fèi)達(dá)到79.38億元。"
    reading, offsets = strip_annotations(text)
    assert reading == "全社會研發經費達到79.38億元。"
    assert text[offsets[reading.index("達")]] == "達"
    meta = {"title": "科技工作会议", "region": "宁夏回族自治区", "date": "2024-02-01", "kind": "news report of results"}
    (row,) = extract_statements(text, meta, "t.txt")
    assert row["span"] in text and "(huì)" in row["span"]
    assert (row["indicator"], row["unit"], row["value_base"]) == ("rd_expenditure", "億元", 79.38e8)
