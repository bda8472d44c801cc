"""target_progress against the real warehouse, checked by hand.

Expected values are computed here from `observations` in the built sti.db with plain SQL, from the
target's own words (2000亿元, 年均增长10%, 15000家) and from the source cells of the yearbook file read
with this test's own reader, then compared with the rows the pipeline published. The rule
(sti_portal/targets/progress.py) is restated here in a few lines, not imported.
"""

from __future__ import annotations

import io
import math
import sqlite3
from pathlib import Path

import msoffcrypto
import pandas as pd
import pytest
import xlrd

from sti_portal.targets.progress import assess, to_indicator_unit

REPO_ROOT = Path(__file__).resolve().parent.parent
TECH_MARKET_2023 = (
    REPO_ROOT
    / "sources"
    / "snapshots"
    / "cn_sti_yearbook_xls"
    / "tech_market_export_by_region"
    / "tech_market_export_by_region__funds-2023.xls"
)
HEBEI = "130000"
HEBEI_DOC = "002_a85baa3503116d35"
DOC_YEAR = 2022  # the plan is dated 2022-04-22
TARGET_YEAR = 2025  # 到2025年


def query(db_path, sql, *params):
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql, params).fetchall()]


def progress_row(sti_db, span: str) -> dict:
    rows = query(sti_db, "SELECT * FROM target_progress WHERE doc_id = ? AND span = ?", HEBEI_DOC, span)
    assert len(rows) == 1, span
    return rows[0]


def current(sti_db, indicator: str, year: int) -> float:
    rows = query(
        sti_db,
        "SELECT value FROM observations WHERE region_code = ? AND indicator_id = ? AND year = ?",
        HEBEI,
        indicator,
        year,
    )
    return rows[0]["value"]


def latest_year(sti_db, indicator: str, up_to: int) -> int:
    return query(
        sti_db,
        "SELECT max(year) AS y FROM observations WHERE region_code = ? AND indicator_id = ? "
        "AND year <= ? AND value IS NOT NULL",
        HEBEI,
        indicator,
        up_to,
    )[0]["y"]


def yearbook_cell(path: Path, sheet: str, cell: str):
    """A cell of an encrypted yearbook .xls, read without the pipeline (Excel's default password)."""
    office = msoffcrypto.OfficeFile(path.open("rb"))
    office.load_key(password="VelvetSweatshop")
    out = io.BytesIO()
    office.decrypt(out)
    book = xlrd.open_workbook(file_contents=out.getvalue())
    col = ord(cell[0]) - ord("A")
    row = int(cell[1:]) - 1
    sh = book.sheet_by_name(sheet)
    return sh.cell_value(row, 0), sh.cell_value(row, col), sh.cell_value(4, col)


# ----------------------------------------------------------------------------- real rows, by hand


def test_hebei_tech_contract_turnover_2000_yi_by_2025(sti_db):
    # the source cells, read by hand: row 13 is 河北, J = 2023 and H = 2021, in 万元
    label, latest_wan, header = yearbook_cell(TECH_MARKET_2023, "1", "J13")
    assert (label, header, float(latest_wan)) == ("河北", "2023", 17830882.0)
    label, base_wan, header = yearbook_cell(TECH_MARKET_2023, "1", "H13")
    assert (label, header, float(base_wan)) == ("河北", "2021", 7473182.0)

    # the same values, current in the warehouse
    y = latest_year(sti_db, "tech_contract_turnover", TARGET_YEAR)
    a = current(sti_db, "tech_contract_turnover", y)
    b = DOC_YEAR - 1
    B = current(sti_db, "tech_contract_turnover", b)
    assert (y, a, B) == (2023, pytest.approx(1783.0882), pytest.approx(747.3182))
    assert a == pytest.approx(float(latest_wan) / 1e4) and B == pytest.approx(float(base_wan) / 1e4)

    target = 2000e8 / 1e8  # 技术合同成交总额达到2000亿元 -> 亿元
    path = B + (target - B) * (y - b) / (TARGET_YEAR - b)  # the straight line, at the latest year
    assert path == pytest.approx(1373.6591)
    expected_status = "met" if a >= target else "on_track" if a >= path else "off_track"
    assert expected_status == "on_track"

    row = progress_row(sti_db, "技术合同成交总额达到2000亿元")
    assert row["status"] == expected_status
    assert (row["region_code"], row["warehouse_indicator"], row["unit"], row["comparator"]) == (
        HEBEI,
        "tech_contract_turnover",
        "亿元",
        "eq",
    )
    assert (row["target_value"], row["target_level"], row["target_year"]) == (target, target, TARGET_YEAR)
    assert (row["baseline_year"], row["latest_year"]) == (b, y)
    assert row["baseline_value"] == pytest.approx(B) and row["latest_value"] == pytest.approx(a)
    assert row["latest_source_ref"].endswith("tech_market_export_by_region__funds-2023.xls#1!J13")
    assert row["path_value"] == pytest.approx(path)
    assert row["gap"] == pytest.approx(target - a) == pytest.approx(216.9118)
    needed = (target / a) ** (1 / (TARGET_YEAR - y)) - 1
    assert row["growth_needed_pct"] == pytest.approx(100 * needed) == pytest.approx(5.908, abs=1e-3)
    assert row["change_needed_per_year"] == pytest.approx((target - a) / 2)
    assert "1,373.6591" in row["rule"] and "on_track" in row["rule"]
    assert row["span"] == "技术合同成交总额达到2000亿元"


def test_hebei_rd_expenditure_growth_10_percent_a_year(sti_db):
    b, y = DOC_YEAR - 1, latest_year(sti_db, "rd_expenditure", TARGET_YEAR)
    B, a = current(sti_db, "rd_expenditure", b), current(sti_db, "rd_expenditure", y)
    realised = (a / B) ** (1 / (y - b)) - 1
    level = B * 1.10 ** (TARGET_YEAR - b)  # where 10 % a year from the baseline ends
    expected_status = "on_track" if realised >= 0.10 else "off_track"

    row = progress_row(sti_db, "全社会研发经费投入年均增长10%")
    assert (row["indicator"], row["warehouse_indicator"], row["comparator"]) == (
        "rd_expenditure_growth",
        "rd_expenditure",
        "growth",
    )
    assert (row["target_value"], row["target_unit"]) == (10.0, "% a year")
    assert (row["baseline_year"], row["latest_year"]) == (b, y) == (2021, 2023)
    assert row["realised_growth_pct"] == pytest.approx(100 * realised)
    assert row["target_level"] == pytest.approx(level)
    assert row["gap"] == pytest.approx(level - a)
    assert row["growth_needed_pct"] == pytest.approx(100 * ((level / a) ** (1 / (TARGET_YEAR - y)) - 1))
    assert row["status"] == expected_status == "on_track"  # 10.6 % a year 2021-2023
    # the rule is sensitive to the baseline: from the plan's own year (2022) Hebei grew only 7.4 %
    one_year = current(sti_db, "rd_expenditure", 2023) / current(sti_db, "rd_expenditure", 2022) - 1
    assert one_year == pytest.approx(0.0744, abs=1e-4)


def test_hebei_15000_hightech_enterprises_is_judged_against_the_estimated_stock(sti_db):
    row = progress_row(sti_db, "高新技术企业达到15000家")
    assert row["indicator"] == "hightech_enterprises"
    assert (row["warehouse_indicator"], row["comparability"]) == ("hightech_enterprises_valid_est", "estimate")
    assert row["judged_against"] == "estimate (obs_status e)" and "ESTIMATE" in row["rule"]
    # the estimate, recomputed here from the yearly recognitions (a flow): t-2 + t-1 + t
    flows = {
        r["year"]: r["value"]
        for r in query(
            sti_db,
            "SELECT year, value FROM observations WHERE region_code = ? AND "
            "indicator_id = 'hightech_enterprises_certified'",
            HEBEI,
        )
    }
    y = latest_year(sti_db, "hightech_enterprises_valid_est", TARGET_YEAR)
    assert y == 2024 and flows[2024] == 5813.0
    estimate = flows[y - 2] + flows[y - 1] + flows[y]
    assert (row["latest_year"], row["latest_value"]) == (y, estimate)
    status = query(
        sti_db,
        "SELECT obs_status FROM observations WHERE region_code = ? AND year = ? AND "
        "indicator_id = 'hightech_enterprises_valid_est'",
        HEBEI,
        y,
    )
    assert status == [{"obs_status": "e"}]
    assert row["status"] == (
        "met" if estimate >= 15000 else "on_track" if row["path_value"] <= estimate else "off_track"
    )
    # a single year's recognitions (5813) against the stock target would read as "off track": not done
    assert row["latest_value"] != flows[2024]


def test_hebei_provincial_incubators_against_a_broader_series_is_inconclusive(sti_db):
    row = progress_row(sti_db, "省级以上科技企业孵化器达到200家")
    y = latest_year(sti_db, "incubators", TARGET_YEAR)
    assert (row["latest_year"], row["latest_value"]) == (y, current(sti_db, "incubators", y)) == (2023, 354.0)
    assert row["comparability"] == "broader"
    # 354 incubators of every level >= 200 says nothing about the 省级以上 ones
    assert row["status"] == "no_data" and "inconclusive" in row["rule"]
    assert row["baseline_year"] is None  # the series starts in 2022


def test_every_progress_row_uses_the_current_value(sti_db):
    rows = query(sti_db, "SELECT * FROM target_progress WHERE latest_year IS NOT NULL")
    assert rows
    for row in rows:
        y = query(
            sti_db,
            "SELECT max(year) AS y FROM observations WHERE region_code = ? AND indicator_id = ? "
            "AND value IS NOT NULL AND year <= ?",
            row["region_code"],
            row["warehouse_indicator"],
            row["target_year"],
        )[0]["y"]
        assert row["latest_year"] == y
        value = query(
            sti_db,
            "SELECT value FROM observations WHERE region_code = ? AND indicator_id = ? AND year = ?",
            row["region_code"],
            row["warehouse_indicator"],
            y,
        )[0]["value"]
        assert row["latest_value"] == value
    statuses = {r["status"] for r in query(sti_db, "SELECT status FROM target_progress")}
    assert statuses <= {"met", "on_track", "off_track", "no_data"}
    assert query(sti_db, "SELECT count(*) AS n FROM target_progress WHERE rule IS NULL OR rule = ''") == [{"n": 0}]


# ----------------------------------------------------------------------------- the rule, on small series

CATALOGUE = {"unit": "亿元", "stock_or_flow": "flow", "name_zh": "x"}


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
    }
    base.update(fields)
    return base


def test_level_rule_path_and_deadline():
    s = series(y2020=100.0, y2022=150.0)
    on_path = assess(target(), s, CATALOGUE)  # path 2020→2025: 100 + 100*2/5 = 140 at 2022
    assert (on_path["status"], on_path["path_value"]) == ("on_track", pytest.approx(140.0))
    behind = assess(target(), series(y2020=100.0, y2022=139.0), CATALOGUE)
    assert behind["status"] == "off_track"
    exactly = assess(target(), series(y2020=100.0, y2022=140.0), CATALOGUE)
    assert exactly["status"] == "on_track"  # on the line counts as on track
    met_early = assess(target(), series(y2020=100.0, y2023=201.0), CATALOGUE)
    assert met_early["status"] == "met" and met_early["growth_needed_pct"] is None
    missed = assess(target(target_year=2022), series(y2020=100.0, y2022=150.0, y2023=300.0), CATALOGUE)
    assert (missed["status"], missed["latest_year"]) == ("off_track", 2022)  # values after the deadline don't count
    no_progress_yet = assess(target(), series(y2020=100.0), CATALOGUE)
    assert no_progress_yet["status"] == "no_data"


def test_le_approx_and_undated_targets():
    le = target(comparator="le", value_base=50e8)
    assert assess(le, series(y2020=100.0, y2022=70.0), CATALOGUE)["status"] == "on_track"  # path 80 at 2022
    assert assess(le, series(y2020=100.0, y2022=90.0), CATALOGUE)["status"] == "off_track"
    assert assess(le, series(y2020=100.0, y2022=50.0), CATALOGUE)["status"] == "met"
    approx = target(comparator="approx")
    assert assess(approx, series(y2020=100.0, y2022=198.5), CATALOGUE)["status"] == "met"  # within 1 %
    undated = target(target_year=None)
    assert assess(undated, series(y2020=100.0, y2022=150.0), CATALOGUE)["status"] == "no_data"
    assert assess(undated, series(y2020=100.0, y2022=250.0), CATALOGUE)["status"] == "met"


def test_growth_rule():
    g = target(comparator="growth", value_base=10.0, unit="%")
    on = assess(g, series(y2020=100.0, y2022=121.0), CATALOGUE)
    assert on["status"] == "on_track" and on["realised_growth_pct"] == pytest.approx(10.0)
    assert on["target_level"] == pytest.approx(100 * 1.1**5)
    assert assess(g, series(y2020=100.0, y2022=120.0), CATALOGUE)["status"] == "off_track"
    done = assess(g, series(y2020=100.0, y2025=170.0), CATALOGUE)
    assert done["status"] == "met"  # 11.2 % a year, target year in
    assert assess(g, series(y2020=100.0, y2025=150.0), CATALOGUE)["status"] == "off_track"
    points = target(comparator="growth", value_base=0.5, unit="个百分点")
    pct = {"unit": "%", "stock_or_flow": "ratio", "name_zh": "x"}
    p = assess(points, series(y2020=2.0, y2022=2.3), pct)
    assert p["target_level"] == pytest.approx(2.5) and p["status"] == "on_track"  # path 2.2 at 2022


def test_broader_series_keeps_only_conclusive_outcomes():
    broader = target(comparability="broader")
    assert assess(broader, series(y2020=100.0, y2022=120.0), CATALOGUE)["status"] == "off_track"
    assert assess(broader, series(y2020=100.0, y2022=150.0), CATALOGUE)["status"] == "no_data"
    assert assess(broader, series(y2020=100.0, y2022=250.0), CATALOGUE)["status"] == "no_data"
    growth = target(comparability="broader", comparator="growth", value_base=10.0, unit="%")
    assert assess(growth, series(y2020=100.0, y2022=100.0), CATALOGUE)["status"] == "no_data"


def test_no_data_cases():
    s = series(y2020=100.0, y2022=150.0)
    assert assess(target(comparability="none", warehouse_indicator="none"), s, None)["status"] == "no_data"
    city = assess(target(region_code=None, region="黑龙江省哈尔滨市"), s, CATALOGUE)
    assert city["status"] == "no_data" and "哈尔滨市" in city["caveat"]
    wrong_unit = assess(target(unit="家", value_base=200.0), s, CATALOGUE)
    assert wrong_unit["status"] == "no_data" and "does not convert" in wrong_unit["rule"]
    assert assess(target(), series(), CATALOGUE)["status"] == "no_data"


def test_units_convert_to_the_catalogue_unit():
    assert to_indicator_unit(2000e8, "亿元", "亿元") == 2000.0
    assert to_indicator_unit(5e7, "万元", "亿元") == 0.5
    assert to_indicator_unit(90.0, "成", "%") == 90.0
    assert to_indicator_unit(2.63, "%", "%") == 2.63
    assert to_indicator_unit(15000.0, "家", "个") == 15000.0
    assert to_indicator_unit(1.2e4, "万家", "个") == 1.2e4
    assert to_indicator_unit(12.0, "件", "件/万人") == 12.0
    assert to_indicator_unit(2000e8, "亿元", "%") is None
    assert to_indicator_unit(25.0, "%", "亿元") is None
    assert to_indicator_unit(float("nan"), "亿元", "亿元") is None
    assert not math.isnan(to_indicator_unit(1.0, "元", "亿元"))


def test_progress_follows_new_data_when_written_outside_dagster(sti_db):
    """`sti load` calls write_warehouse without the asset's output: the targets are read afresh and
    judged against the candidate observations it writes, uploads included."""
    from sti_portal.targets.tables import warehouse_tables

    history = pd.DataFrame(
        query(
            sti_db,
            "SELECT region_code, indicator_id, year, value, release, release_kind, vintage, "
            "source_id, source_ref FROM observation_history WHERE region_code = ?",
            HEBEI,
        )
    )
    tables = warehouse_tables(None, history)
    rebuilt = tables["target_progress"].set_index("span")
    assert rebuilt.loc["技术合同成交总额达到2000亿元", "status"] == "on_track"
    published = {
        t: query(sti_db, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("policy_documents", "policy_statements")
    }
    assert (len(tables["policy_documents"]), len(tables["policy_statements"])) == (
        published["policy_documents"],
        published["policy_statements"],
    )

    upload = {
        "region_code": HEBEI,
        "indicator_id": "tech_contract_turnover",
        "year": 2024,
        "value": 2100.5,
        "release": "upload_test",
        "release_kind": "upload",
        "vintage": "2026-06-30",
        "source_id": "upload",
        "source_ref": "upload.csv#row=2",
    }
    with_upload = warehouse_tables(None, pd.concat([history, pd.DataFrame([upload])], ignore_index=True))
    row = with_upload["target_progress"].set_index("span").loc["技术合同成交总额达到2000亿元"]
    assert (row["status"], row["latest_year"], row["latest_value"], row["latest_source_ref"]) == (
        "met",
        2024,
        2100.5,
        "upload.csv#row=2",
    )
