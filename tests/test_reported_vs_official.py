"""reported_vs_official, target_region_summary and the estimated stock of high-tech enterprises in the built
sti.db, checked with plain SQL against observation_history (the rule restated here, not imported), plus
the matching rule on a small hand-made history."""

from __future__ import annotations

import sqlite3
import statistics

import pandas as pd
import pytest

from sti_portal.targets.reported import AGREES, DIFFERS, NOT_COMPARABLE, reported_vs_official


def query(db_path, sql, *params) -> list[dict]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql, params).fetchall()]


def history_value(sti_db, region, indicator, year, release):
    rows = query(
        sti_db,
        "SELECT value, obs_status FROM observation_history WHERE region_code = ? AND indicator_id = ? "
        "AND year = ? AND release = ?",
        region,
        indicator,
        year,
        release,
    )
    assert len(rows) == 1, (region, indicator, year, release)
    return rows[0]


def test_comparable_figures_cover_the_documents(sti_db):
    rows = query(sti_db, "SELECT * FROM reported_vs_official WHERE verdict <> ?", NOT_COMPARABLE)
    assert len(rows) >= 60 and len({r["region_code"] for r in rows}) >= 20
    assert {r["verdict"] for r in rows} == {AGREES, DIFFERS}
    assert sum(r["verdict"] == AGREES for r in rows) >= 20
    every = query(sti_db, "SELECT verdict, reason FROM reported_vs_official")
    assert all(r["reason"] for r in every)  # not comparable always says why


def test_level_figures_agree_with_the_release_they_name(sti_db):
    rows = query(
        sti_db,
        "SELECT * FROM reported_vs_official WHERE verdict <> ? AND unit NOT LIKE '%year before%'",
        NOT_COMPARABLE,
    )
    assert rows
    for r in rows:
        official = history_value(sti_db, r["region_code"], r["warehouse_indicator"], r["year"], r["official_release"])
        assert official["value"] == r["official_value"]
        assert r["difference"] == pytest.approx(r["reported_in_unit"] - official["value"])
        gap = r["reported_in_unit"] - official["value"]
        if r["comparator"] == "ge":
            within = official["value"] >= r["reported_in_unit"] - r["tolerance"]
        elif r["comparator"] == "le":
            within = official["value"] <= r["reported_in_unit"] + r["tolerance"]
        elif r["comparator"] == "approx":
            within = abs(gap) <= max(r["tolerance"], 0.01 * abs(r["reported_in_unit"]))
        else:
            within = abs(gap) <= r["tolerance"] * (1 + 1e-9)
        assert (r["verdict"] == AGREES) == within, r


def test_the_estimate_is_three_years_of_recognitions(sti_db):
    rows = query(
        sti_db,
        "SELECT * FROM reported_vs_official WHERE warehouse_indicator = "
        "'hightech_enterprises_valid_est' AND verdict <> ? AND unit = '家'",
        NOT_COMPARABLE,
    )
    assert len(rows) >= 10
    for r in rows:
        flows = query(
            sti_db,
            "SELECT sum(value) AS s, count(*) AS n FROM observations WHERE region_code = ? AND "
            "indicator_id = 'hightech_enterprises_certified' AND year BETWEEN ? AND ?",
            r["region_code"],
            r["year"] - 2,
            r["year"],
        )[0]
        assert flows["n"] == 3 and r["official_value"] == flows["s"]
        assert r["official_obs_status"] == "e" and r["judged_against"] == "estimate (obs_status e)"
    median = statistics.median(abs(r["difference_pct"]) for r in rows)
    assert 0 < median < 15  # the estimate runs close to, mostly above, the published stocks


def test_region_summary_counts_target_progress(sti_db):
    summary = {r["region_code"]: r for r in query(sti_db, "SELECT * FROM target_region_summary")}
    judged = query(sti_db, "SELECT region_code, status FROM target_progress WHERE region_code IS NOT NULL")
    for code in {r["region_code"] for r in judged}:
        mine = [r["status"] for r in judged if r["region_code"] == code]
        row = summary[code]
        for status in ("met", "on_track", "off_track"):
            assert row[status] == mine.count(status), (code, status)
        assert row["judged"] == row["met"] + row["on_track"] + row["off_track"]
    provinces = [r for r in summary.values() if r["judged"] > 0]
    assert len(provinces) >= 15 and sum(r["judged"] for r in provinces) >= 35
    assert all(r["no_data_reasons"] for r in summary.values() if r["no_data"])


def test_cumulative_targets_are_never_compared_with_one_year(sti_db):
    rows = query(
        sti_db,
        "SELECT rule, status FROM target_progress WHERE target_kind = 'cumulative' "
        "AND comparability <> 'none' AND region_code IS NOT NULL",
    )
    for r in rows:
        assert r["rule"].startswith(("Cumulative target", "A cumulative target")), r
        assert "Level target" not in r["rule"] and "latest value" not in r["rule"]


# ----------------------------------------------------------------------------- the rule, by hand


def test_matching_picks_the_release_that_agrees_and_rounds_to_the_printed_digit():
    statement = {
        "statement_id": "d:1-9",
        "doc_id": "d",
        "doc_title": "t",
        "doc_date": "2024-01-20",
        "kind": "achieved",
        "region_code": "130000",
        "region": "河北省",
        "indicator": "tech_contract_turnover",
        "warehouse_indicator": "tech_contract_turnover",
        "comparability": "same",
        "span": "技术合同成交额1595亿元",
        "value": 1595.0,
        "unit": "亿元",
        "value_base": 1595e8,
        "comparator": "eq",
        "target_year": None,
        "review_status": "extracted",
    }
    candidate = pd.DataFrame(
        [
            {
                "region_code": "130000",
                "indicator_id": "tech_contract_turnover",
                "year": 2023,
                "value": 1595.4,
                "release": "cn_sti_yearbook_2024",
                "release_kind": "yearbook",
                "vintage": "2024-12-31",
                "source_ref": "a#1!B2",
                "obs_status": "",
            },
            {
                "region_code": "130000",
                "indicator_id": "tech_contract_turnover",
                "year": 2023,
                "value": 1601.0,
                "release": "cn_sti_yearbook_2025",
                "release_kind": "yearbook",
                "vintage": "2025-12-31",
                "source_ref": "b#1!B2",
                "obs_status": "",
            },
        ]
    )
    documents = pd.DataFrame([{"doc_id": "d", "year": 2024}])
    regions = pd.DataFrame([{"region_code": "130000", "name_zh": "河北"}])
    row = reported_vs_official(pd.DataFrame([statement]), candidate, documents, regions).iloc[0]
    # no year in the span: the year before the document; 1595 ±0.5 matches the older edition, not the current
    assert (row["year"], row["year_basis"]) == (2023, "assumed: the year before the document")
    assert (row["verdict"], row["official_release"], row["official_source_ref"]) == (
        AGREES,
        "cn_sti_yearbook_2024",
        "a#1!B2",
    )
    assert (row["current_release"], row["current_value"]) == ("cn_sti_yearbook_2025", 1601.0)
    off = reported_vs_official(
        pd.DataFrame([{**statement, "value": 1590.0, "value_base": 1590e8}]), candidate, documents, regions
    ).iloc[0]
    assert (off["verdict"], off["official_release"], off["difference"]) == (
        DIFFERS,
        "cn_sti_yearbook_2025",
        pytest.approx(-11.0),
    )
    city = reported_vs_official(
        pd.DataFrame([{**statement, "region_code": None, "region": "河北省石家庄市"}]), candidate, documents, regions
    ).iloc[0]
    assert city["verdict"] == NOT_COMPARABLE and "石家庄市" in city["reason"]


def test_a_first_release_is_revised_only_beyond_its_printed_digits(sti_db):
    def revision(region, indicator, year):
        return query(
            sti_db,
            "SELECT old_value, new_value, new_release FROM revisions WHERE region_code = ? AND "
            "indicator_id = ? AND year = ? AND old_release = ?",
            region,
            indicator,
            year,
            f"nbs_rd_bulletin_{year}",
        )

    # Beijing 2023: the bulletin's 2947.1 亿元 is the yearbook's 2947.0733 printed to one decimal
    assert revision("110000", "rd_expenditure", 2023) == []
    history = query(
        sti_db,
        "SELECT release, value FROM observation_history WHERE region_code = '110000' AND "
        "indicator_id = 'rd_expenditure' AND year = 2023 ORDER BY release",
    )
    assert [r["release"] for r in history] == ["cn_sti_yearbook_2024", "nbs_rd_bulletin_2023"]
    assert abs(history[0]["value"] - history[1]["value"]) <= 0.05
    # Hebei 2017: first release 1.33 %, restated 1.26 % by the 2019 edition after GDP revisions
    assert revision("130000", "rd_intensity", 2017) == [
        {"old_value": 1.33, "new_value": 1.26, "new_release": "cn_sti_yearbook_2019"}
    ]
