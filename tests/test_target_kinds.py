"""The kinds of target progress.py judges besides plain levels and yearly rates, on small series whose
outcome is worked out by hand here (the rule restated, not imported)."""

from __future__ import annotations

import pandas as pd
import pytest

from sti_portal.targets.progress import assess, target_kind

FLOW = {"unit": "亿元", "stock_or_flow": "flow", "name_zh": "x"}
STOCK = {"unit": "家", "stock_or_flow": "stock", "name_zh": "x"}
RATIO = {"unit": "%", "stock_or_flow": "ratio", "name_zh": "x"}


def series(**values) -> pd.DataFrame:
    return pd.DataFrame(
        [{"year": int(k[1:]), "value": v, "source_ref": f"cell{k}"} for k, v in values.items()],
        columns=["year", "value", "source_ref"],
    )


def target(**fields) -> dict:
    base = {
        "statement_id": "d:1-2",
        "doc_id": "d",
        "region_code": "130000",
        "indicator": "tech_contract_turnover",
        "warehouse_indicator": "tech_contract_turnover",
        "comparability": "same",
        "comparator": "eq",
        "value_base": 200e8,
        "unit": "亿元",
        "target_year": 2025,
        "doc_year": 2021,
        "span": "",
    }
    base.update(fields)
    return base


def test_kinds_are_read_from_comparator_unit_and_words():
    assert (
        target_kind(target(span="技术合同成交额翻一番", comparator="growth", unit="倍", value_base=1.0)) == "multiple"
    )
    assert target_kind(target(span="研发投入强度提高0.5个百分点", comparator="growth", unit="个百分点")) == "points"
    assert target_kind(target(span="研发经费年均增长10%", comparator="growth", unit="%")) == "rate"
    assert target_kind(target(span="比2020年增长50%", comparator="growth", unit="%")) == "total_growth"
    assert target_kind(target(span="净增高新技术企业500家", comparator="growth", unit="家")) == "increase"
    assert target_kind(target(span="累计实现技术合同成交额1000亿元")) == "cumulative"
    assert target_kind(target(span="技术合同成交额达到200亿元")) == "level"


def test_doubling_is_twice_the_baseline():
    doubling = target(span="技术合同成交额比2020年翻一番", comparator="growth", unit="倍", value_base=1.0)
    on = assess(doubling, series(y2020=100.0, y2022=150.0), FLOW)  # line 100 -> 200 (2025): 140 at 2022
    assert (on["target_level"], on["path_value"], on["status"]) == (200.0, pytest.approx(140.0), "on_track")
    assert assess(doubling, series(y2020=100.0, y2022=130.0), FLOW)["status"] == "off_track"
    assert assess(doubling, series(y2020=100.0, y2023=201.0), FLOW)["status"] == "met"
    fanfan = target(span="高新技术企业实现翻番", comparator="growth", unit="番", value_base=None)
    assert assess(fanfan, series(y2020=100.0, y2022=150.0), FLOW)["target_level"] == 200.0  # 翻番 = 翻一番
    twice = target(span="翻两番", comparator="growth", unit="番", value_base=2.0)
    assert assess(twice, series(y2020=100.0, y2022=150.0), FLOW)["target_level"] == 400.0
    twice_more = target(span="增长2倍", comparator="growth", unit="倍", value_base=2.0)  # 增长N倍: (1 + N) ×
    assert assess(twice_more, series(y2020=100.0, y2022=150.0), FLOW)["target_level"] == 300.0
    no_base = assess(doubling, series(y2022=150.0), FLOW)
    assert no_base["status"] == "no_data" and "baseline" in no_base["rule"]


def test_percentage_points_and_total_growth_become_levels():
    points = target(span="提高0.5个百分点", comparator="growth", unit="个百分点", value_base=0.5)
    p = assess(points, series(y2020=2.0, y2025=2.4), RATIO)
    assert (p["target_level"], p["status"]) == (2.5, "off_track")  # the target year is in and short
    total = target(span="比2020年增长50%", comparator="growth", unit="%", value_base=50.0)
    t = assess(total, series(y2020=100.0, y2024=151.0), FLOW)
    assert (t["target_level"], t["status"]) == (150.0, "met")
    increase = target(span="净增500家", comparator="growth", unit="家", value_base=500.0)
    i = assess(increase, series(y2020=1000.0, y2023=1300.0), STOCK)  # line 1000 -> 1500: 1300 at 2023
    assert (i["target_level"], i["path_value"], i["status"]) == (1500.0, pytest.approx(1300.0), "on_track")


def test_cumulative_targets_sum_the_years_never_one_year():
    flow = target(span="五年累计技术合同成交额1000亿元", value_base=1000e8)
    # baseline 2020; 2021-2023 sum 600 >= pro rata 1000 * 3/5 = 600
    on = assess(flow, series(y2020=500.0, y2021=150.0, y2022=200.0, y2023=250.0), FLOW)
    assert (on["status"], on["gap"], on["path_value"]) == ("on_track", pytest.approx(400.0), pytest.approx(600.0))
    # one year's 250 would be far below 1000, the sum is what counts
    behind = assess(flow, series(y2020=500.0, y2021=150.0, y2022=150.0, y2023=250.0), FLOW)
    assert behind["status"] == "off_track"
    done = assess(flow, series(y2020=500.0, y2021=300.0, y2022=300.0, y2023=450.0), FLOW)
    assert done["status"] == "met"
    stock = target(span="累计新增高新技术企业500家", value_base=500.0, unit="家")
    s = assess(stock, series(y2020=1000.0, y2023=1550.0), STOCK)  # rise 550 >= 500
    assert s["status"] == "met"
    ratio = assess(target(span="累计提高到3%", unit="%", value_base=3.0), series(y2020=2.0, y2023=2.5), RATIO)
    assert ratio["status"] == "no_data" and "ratio" in ratio["rule"]


def test_estimate_is_judged_and_says_so_city_targets_are_no_data():
    est = assess(
        target(comparability="estimate", unit="家", value_base=1500.0), series(y2020=1000.0, y2023=1600.0), STOCK
    )
    assert est["status"] == "met" and "ESTIMATE" in est["rule"] and est["judged_against"] == "estimate (obs_status e)"
    city = assess(target(region_code=None, region="广东省深圳市"), series(y2020=100.0, y2022=150.0), FLOW)
    assert city["status"] == "no_data" and "no city or district series" in city["rule"] and "深圳市" in city["rule"]
