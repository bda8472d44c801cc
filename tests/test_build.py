"""The default build from the bundled snapshots: published interface, history, determinism."""

import ast
import sqlite3
import subprocess
import sys

import duckdb
from conftest import REPO_ROOT, run_sti

REQUIRED_INDICATORS = {
    "rd_intensity",
    "rd_expenditure",
    "rd_personnel_fte",
    "invention_patents_in_force",
    "invention_patents_per_10k",
    "patent_applications",
    "patent_grants",
    "tech_contract_turnover",
    "tech_contracts",
    "hightech_industry_enterprises",
    "hightech_enterprises_certified",
    "incubators",
    "population",
}
OBSERVATION_COLUMNS = {
    "region_code",
    "region_zh",
    "region_en",
    "indicator_id",
    "indicator_zh",
    "indicator_en",
    "year",
    "value",
    "unit",
    "obs_status",
    "source_id",
    "release",
    "source_ref",
}
PROVINCE_CODES = 31


def query(db_path, sql, *params):
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        return db.execute(sql, params).fetchall()


def test_published_tables_and_columns(sti_db):
    tables = {row[0] for row in query(sti_db, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"observations", "observation_history", "indicators", "regions", "sources", "revisions"} <= tables
    for table in ("observations", "observation_history"):
        columns = {row[1] for row in query(sti_db, f"PRAGMA table_info({table})")}
        assert OBSERVATION_COLUMNS <= columns, OBSERVATION_COLUMNS - columns
    types = {row[1]: row[2] for row in query(sti_db, "PRAGMA table_info(observations)")}
    assert "INT" in types["year"].upper() and types["value"].upper() in {"DOUBLE", "REAL", "FLOAT"}


def test_every_required_indicator_is_published_for_all_provinces(sti_db):
    rows = query(
        sti_db,
        """SELECT indicator_id, max(n) FROM (
        SELECT indicator_id, year, count(*) AS n FROM observations
        WHERE region_level = 'province' GROUP BY indicator_id, year) GROUP BY indicator_id""",
    )
    coverage = dict(rows)
    assert REQUIRED_INDICATORS <= set(coverage)
    for indicator in REQUIRED_INDICATORS:
        assert coverage[indicator] == PROVINCE_CODES, indicator


def test_one_current_row_per_region_indicator_year(sti_db):
    assert (
        query(
            sti_db,
            """SELECT count(*) FROM (SELECT region_code, indicator_id, year FROM observations
                            GROUP BY 1, 2, 3 HAVING count(*) > 1)""",
        )[0][0]
        == 0
    )


def test_history_keeps_every_edition_and_current_picks_the_newest(sti_db):
    current = query(
        sti_db,
        "SELECT value, release FROM observations WHERE region_code = '110000' "
        "AND indicator_id = 'rd_intensity' AND year = 2018",
    )
    assert current == [(5.65, "cn_sti_yearbook_2024")]
    history = dict(
        query(
            sti_db,
            "SELECT release, value FROM observation_history WHERE region_code = '110000' "
            "AND indicator_id = 'rd_intensity' AND year = 2018",
        )
    )
    assert history["cn_sti_yearbook_2019"] == 6.17
    assert history.pop("nbs_rd_bulletin_2018") == 6.17  # the bulletin page's first release (2019-08-30)
    assert len(history) == 6
    revision = query(
        sti_db,
        "SELECT old_value, new_value, round(difference, 2) FROM revisions WHERE region_code = '110000' "
        "AND indicator_id = 'rd_intensity' AND year = 2018 AND old_release = 'cn_sti_yearbook_2019'",
    )
    assert revision == [(6.17, 5.65, -0.52)]


def test_bulletin_first_release_never_wins_over_the_yearbook(sti_db):
    rows = query(
        sti_db,
        "SELECT value, release FROM observations WHERE region_code = '100000' "
        "AND indicator_id = 'rd_intensity' AND year = 2018",
    )
    assert rows == [(2.14, "cn_sti_yearbook_2024")]
    first = query(
        sti_db,
        "SELECT value FROM observation_history WHERE region_code = '100000' "
        "AND indicator_id = 'rd_intensity' AND year = 2018 AND source_id = 'nbs_rd_bulletin'",
    )
    assert first == [(2.19,)]


def test_certified_enterprises_are_labelled_a_flow(sti_db):
    ((caveats, stock_or_flow),) = query(
        sti_db, "SELECT caveats, stock_or_flow FROM indicators WHERE indicator_id = 'hightech_enterprises_certified'"
    )
    assert stock_or_flow == "flow" and "FLOW, not the stock" in caveats


def test_derived_indicator_is_marked_and_explained(sti_db):
    ((derived, derivation),) = query(
        sti_db, "SELECT derived, derivation FROM indicators WHERE indicator_id = 'invention_patents_per_10k'"
    )
    assert derived == 1 and "population" in derivation
    notes = query(sti_db, "SELECT DISTINCT note FROM observations WHERE indicator_id = 'invention_patents_per_10k'")
    assert notes == [("derived: invention_patents_in_force / population (万人)",)]


def test_region_aliases_record_the_spellings_seen(sti_db):
    aliases = {(alias, code) for alias, code in query(sti_db, "SELECT alias, region_code FROM region_aliases")}
    assert {("Hbei", "130000"), ("InnerMongolia", "150000"), ("Tibet", "540000")} <= aliases
    assert any(code == "110000" and " " in alias for alias, code in aliases)  # 北  京 as printed


def test_validation_results_are_published_and_blocking_suites_passed(sti_db):
    failed = query(
        sti_db, "SELECT suite, expectation FROM validation_results WHERE NOT passed AND severity = 'critical'"
    )
    assert failed == []
    suites = {row[0] for row in query(sti_db, "SELECT DISTINCT suite FROM validation_results")}
    assert suites == {"observations", "value_ranges", "coverage", "additivity", "year_on_year", "bulletin_agreement"}


def test_warehouse_current_view_matches_published_table(warehouse_db, sti_db):
    with duckdb.connect(str(warehouse_db), read_only=True) as con:
        warehouse_rows = con.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert warehouse_rows == query(sti_db, "SELECT count(*) FROM observations")[0][0]


def test_rebuilding_from_the_same_inputs_gives_the_same_warehouse(built_home, tmp_path):
    second = tmp_path / "again"
    result = run_sti(["build"], second)
    assert result.returncode == 0, result.stderr

    def digest(home):
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
            return con.execute("SELECT value FROM build_info WHERE key = 'content_sha256'").fetchone()[0]

    assert digest(second) == digest(built_home)
    for table in ("observations", "observation_history", "revisions", "regions", "indicators"):
        sql = f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5"
        assert query(second / "sti.db", sql) == query(built_home / "sti.db", sql), table


def test_dagster_definitions_load_with_every_asset_and_blocking_check():
    code = (
        "from pipelines.definitions import defs; g = defs.resolve_asset_graph();"
        "print(sorted(k.to_user_string() for k in g.get_all_asset_keys()));"
        "print(sorted(k.name for k in g.asset_check_keys))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    assets, checks = out.splitlines()[-2:]
    for name in (
        "yearbook_rd_intensity",
        "world_bank_wdi",
        "harmonised_observations",
        "candidate_observations",
        "warehouse",
        "portal_db",
    ):
        assert f"'{name}'" in assets
    expected = {
        f"gx_{s}"
        for s in ("observations", "value_ranges", "coverage", "additivity", "year_on_year", "bulletin_agreement")
    } | {"policy_targets_integrity"}
    assert expected <= set(ast.literal_eval(checks)), checks
    assert "'policy_targets'" in assets


def test_committed_suites_match_the_catalogue():
    """The GX suite files are generated from catalogue/indicators.csv; a stale file would validate old rules."""
    import json

    from sti_portal.quality.suites import load_suite, suite_definitions

    for name, suite in suite_definitions().items():
        assert json.loads(json.dumps(suite)) == load_suite(name), (
            f"expectations/{name}.json is stale: run python -m sti_portal.quality.suites --write-suites"
        )
