"""Sentences in styles the labelled documents do not use (other provinces' phrasings, traditional script,
numbers in words, document context that only the meta file or the body gives). Written from the labelling
conventions (sources/snapshots/policy_docs/README.md) before the extractor was run on them: a failure
here is a generalisation gap, not a typo in the expectation."""

from __future__ import annotations

import pytest

from sti_portal.targets.extract import extract_statements

PLAN = {"title": "科技创新发展规划", "region": "浙江省", "date": "2023-05-10", "kind": "plan"}
REPORT = {"title": "全省科技工作会议报告", "region": "江西省", "date": "2024-02-05", "kind": "work conference report"}
CITY_REPORT = {
    "title": "成都市科技局2023年工作总结",
    "region": "四川省成都市",
    "date": "2024-01-20",
    "kind": "annual work summary",
}
ANNUAL_PLAN = {"title": "全省科技工作要点", "region": "河南省", "date": "2025-02-10", "kind": "annual work plan"}


def find(text: str, meta: dict, value_base: float) -> dict:
    rows = [r for r in extract_statements(text, meta, "t.txt") if abs(r["value_base"] - value_base) < 1e-6]
    assert len(rows) == 1, (value_base, extract_statements(text, meta, "t.txt"))
    return rows[0]


# (text, meta, value_base, expected fields)
CASES = [
    pytest.param(
        "到2027年，全省研究與試驗發展經費投入強度達到3.3%左右。",
        PLAN,
        3.3,
        dict(kind="target", indicator="rd_intensity", unit="%", comparator="approx", target_year=2027, region="浙江省"),
        id="traditional-intensity-approx",
    ),
    pytest.param(
        "力争到2026年全省高新技术企业总数突破两万家。",
        PLAN,
        20000,
        dict(kind="target", indicator="hightech_enterprises", value=2, unit="万家", comparator="ge", target_year=2026),
        id="numbers-in-words-wan",
    ),
    pytest.param(
        "2023年，全市技术合同登记成交额达到86.5亿元，同比增长12.3%。",
        CITY_REPORT,
        86.5e8,
        dict(
            kind="achieved",
            indicator="tech_contract_turnover",
            comparator="eq",
            target_year=2023,
            region="四川省成都市",
        ),
        id="city-contract-level",
    ),
    pytest.param(
        "2023年，全市技术合同登记成交额达到86.5亿元，同比增长12.3%。",
        CITY_REPORT,
        12.3,
        dict(kind="achieved", indicator="tech_contract_turnover", comparator="growth", target_year=2023),
        id="city-contract-growth-inherits",
    ),
    pytest.param(
        "2023年，全省R&D经费投入强度比上年提高0.15个百分点。",
        REPORT,
        0.15,
        dict(kind="achieved", indicator="rd_intensity", unit="个百分点", comparator="growth", target_year=2023),
        id="percentage-points-level-id",
    ),
    pytest.param(
        "到2030年，全省技术合同成交额实现翻一番。",
        PLAN,
        1,
        dict(kind="target", indicator="tech_contract_turnover", unit="番", comparator="growth", target_year=2030),
        id="double-fanyifan",
    ),
    pytest.param(
        "2022年全省研发经费投入总量达到1200亿元，投入强度达到2.1%。",
        REPORT,
        1200e8,
        dict(kind="achieved", indicator="rd_expenditure", comparator="eq", target_year=2022),
        id="rd-total",
    ),
    pytest.param(
        "2022年全省研发经费投入总量达到1200亿元，投入强度达到2.1%。",
        REPORT,
        2.1,
        dict(kind="achieved", indicator="rd_intensity", comparator="eq", target_year=2022),
        id="bare-intensity-after-rd-clause",
    ),
    pytest.param(
        "到2025年，每万名就业人员中研发人员数达到75人年。",
        PLAN,
        75,
        dict(kind="target", indicator="rd_personnel_per_10k_labour", unit="人年", target_year=2025),
        id="rd-staff-per-10k",
    ),
    pytest.param(
        "到2025年，科技进步对经济增长的贡献率达到65%以上。",
        PLAN,
        65,
        dict(kind="target", indicator="tech_progress_contribution", comparator="ge", target_year=2025),
        id="contribution-long-form",
    ),
    pytest.param(
        "2021年，全省技术市场成交合同金额达到380.2亿元。",
        REPORT,
        380.2e8,
        dict(kind="achieved", indicator="tech_contract_turnover", target_year=2021),
        id="tech-market-contract-amount",
    ),
    pytest.param(
        "截至2023年底，全省有效期内高企达到1.2万家。",
        REPORT,
        12000,
        dict(kind="achieved", indicator="hightech_enterprises", unit="万家", target_year=2023),
        id="gaoqi-stock",
    ),
    pytest.param(
        "2024年全省技術合同成交額達到1,050億元。",
        REPORT,
        1050e8,
        dict(kind="achieved", indicator="tech_contract_turnover", unit="億元", target_year=2024),
        id="traditional-unit-kept",
    ),
    pytest.param(
        "截至2022年底，全省高新技术企业总数达到6500家。",
        {"title": "高新技术企业发展情况", "region": "江西省", "date": None},
        6500,
        dict(kind="achieved", indicator="hightech_enterprises", target_year=2022),
        id="year-end-without-meta-date",
    ),
    pytest.param(
        "预计2023年全省研发经费投入增长10%以上。",
        {**REPORT, "date": "2024-01-15"},
        10,
        dict(kind="achieved", indicator="rd_expenditure_growth", comparator="growth", target_year=2023),
        id="estimate-of-year-just-ended",
    ),
    pytest.param(
        "预计到2026年，全省高新技术产业增加值占规模以上工业增加值比重达到25%。",
        PLAN,
        25,
        dict(kind="target", indicator="hightech_output_share", target_year=2026),
        id="estimate-of-future-year",
    ),
    pytest.param(
        "“十三五”时期，全省高新技术企业由2015年的1100家增至2020年的4500家。",
        REPORT,
        1100,
        dict(kind="achieved", indicator="hightech_enterprises", target_year=2015),
        id="period-review-base",
    ),
    pytest.param(
        "“十三五”时期，全省高新技术企业由2015年的1100家增至2020年的4500家。",
        REPORT,
        4500,
        dict(kind="achieved", indicator="hightech_enterprises", target_year=2020),
        id="period-review-end",
    ),
    pytest.param(
        "2020年，全省技术合同成交额是2015年的3.5倍。",
        REPORT,
        3.5,
        dict(kind="achieved", indicator="tech_contract_turnover", unit="倍", comparator="growth", target_year=2020),
        id="times-of-base-year",
    ),
    pytest.param(
        "2023年，湖北省高新技术企业总数突破2.5万家。",
        {"title": "高新技术企业总数突破2.5万家", "region": None, "date": "2024-01-10", "kind": "news"},
        25000,
        dict(kind="achieved", indicator="hightech_enterprises", comparator="ge", region="湖北省"),
        id="region-from-text",
    ),
    pytest.param(
        "今年全省将开展200场以上科技成果对接活动。",
        ANNUAL_PLAN,
        200,
        dict(kind="target", indicator="other", unit="场", comparator="ge", target_year=2025),
        id="recall-events",
    ),
    pytest.param(
        "2015年全市科技工作要点\n全年新增高新技术企业50家。",
        {"title": "全市科技工作要点", "region": "山东省济南市", "date": "2022-06-01", "kind": "annual work plan"},
        50,
        dict(kind="target", indicator="hightech_enterprises_new", target_year=2015),
        id="plan-year-in-body-beats-page-stamp",
    ),
    pytest.param(
        "谋划编制“十五五”科技创新规划。全年技术合同成交额力争达到500亿元。",
        ANNUAL_PLAN,
        500e8,
        dict(kind="target", indicator="tech_contract_turnover", target_year=2025),
        id="next-plan-drafting-not-horizon",
    ),
    pytest.param(
        "目前，全省科技企业孵化器达到一百二十家。",
        {**REPORT, "date": "2023-07-01"},
        120,
        dict(kind="achieved", indicator="incubators", unit="家", target_year=2023),
        id="chinese-numeral-incubators",
    ),
]


@pytest.mark.parametrize("text, meta, value_base, expected", CASES)
def test_new_style_sentence(text, meta, value_base, expected):
    row = find(text, meta, value_base)
    assert {k: row[k] for k in expected} == expected
    assert row["span"] in text


def test_there_are_twenty_new_style_sentences():
    assert len({c.values[0] for c in CASES}) >= 20


# Second batch, also written before the first run: phrasings that must NOT give a statement, and a few
# more positive shapes (numbers in words, growth with 以上, thresholds inside a noun).
NOTHING = [
    pytest.param("对新认定的高新技术企业给予30万元奖励。", PLAN, id="subsidy-rule"),
    pytest.param("全省综合科技创新水平居全国第8位。", REPORT, id="ranking"),
    pytest.param("加快构建“1+N”科技政策体系。", PLAN, id="policy-name"),
    pytest.param("2024年3月15日，省科技厅召开专题会议。", REPORT, id="date"),
    pytest.param("联系电话：0571-87054321。", REPORT, id="phone"),
    pytest.param("深入实施“十四五”科技创新规划。", PLAN, id="plan-name"),
]


@pytest.mark.parametrize("text, meta", NOTHING)
def test_not_a_statement(text, meta):
    assert extract_statements(text, meta, "t.txt") == []


MORE = [
    pytest.param(
        "1-2月，全省技术合同成交额达到120亿元。",
        {**REPORT, "date": "2024-03-20"},
        120e8,
        dict(kind="achieved", indicator="tech_contract_turnover", target_year=2024),
        id="months-so-far-in-an-early-year-report",
    ),
    pytest.param(
        "综合科技创新水平从2012年的57%提高到2021年的68%。技术合同成交额增长到2300亿元。",
        {**REPORT, "date": "2022-11-20", "kind": "news report of results"},
        2300e8,
        dict(kind="achieved", indicator="tech_contract_turnover", target_year=2021),
        id="frame-is-the-latest-year-named",
    ),
    pytest.param(
        "到2027年，培育营业收入超百亿元企业10家。",
        PLAN,
        10,
        dict(kind="target", indicator="other", unit="家", comparator="eq", target_year=2027),
        id="threshold-inside-noun",
    ),
    pytest.param(
        "到2027年，全市技术合同成交额年均增长15%以上。",
        PLAN,
        15,
        dict(kind="target", indicator="tech_contract_turnover", comparator="growth", target_year=2027),
        id="growth-wins-over-ge",
    ),
    pytest.param(
        "2023年，全省高新技术企业数量增长1.5倍。",
        REPORT,
        1.5,
        dict(kind="achieved", indicator="hightech_enterprises", unit="倍", comparator="growth"),
        id="times-growth-level-id",
    ),
    pytest.param(
        "到2026年，新建省级重点实验室二十家。",
        PLAN,
        20,
        dict(kind="target", indicator="other", value=20, unit="家", comparator="eq", target_year=2026),
        id="chinese-numeral-count",
    ),
    pytest.param(
        "截至2023年底，全省研发人员达到十二万人。",
        REPORT,
        120000,
        dict(kind="achieved", value=12, unit="万人", comparator="eq", target_year=2023),
        id="chinese-numeral-wan-people",
    ),
    pytest.param(
        "到2025年，全省R&D經費投入強度達到2.8%以上。",
        PLAN,
        2.8,
        dict(kind="target", indicator="rd_intensity", comparator="ge", target_year=2025),
        id="traditional-ge",
    ),
]


@pytest.mark.parametrize("text, meta, value_base, expected", MORE)
def test_more_new_style_sentences(text, meta, value_base, expected):
    row = find(text, meta, value_base)
    assert {k: row[k] for k in expected} == expected
