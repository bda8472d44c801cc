"""GX on compact batches pushed down to DuckDB gives the same verdicts, counts and rows as GX on the full frame.

The reference is the old path, kept in sti_portal/quality/: the pandas group frames (frames.py: coverage_frame, ...)
and `run_suite` (runner.py), which hands the whole frame to GX's pandas datasource with the COMPLETE result format.
Each case below breaks one rule on a small, clean candidate frame; both paths must agree on which
expectations fail, on the number of failing rows and on the rows themselves.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from sti_portal.core import catalogue
from sti_portal.quality import frames, runner, sql_frames, validate
from sti_portal.quality.suites import CANDIDATE_COLUMNS

YEARS = [2018, 2019, 2020, 2021]
OLD, NEW = "cn_sti_yearbook_2021", "cn_sti_yearbook_2022"
BULLETIN = "nbs_rd_bulletin_2021"


def _provinces() -> list[str]:
    regions = catalogue.china_regions()
    return sorted(regions.loc[regions["level"] == "province", "region_code"])


def _row(
    region,
    indicator,
    year,
    value,
    release=NEW,
    kind="yearbook",
    vintage="2022-12-31",
    source="cn_sti_yearbook",
    status="",
    note="",
) -> dict:
    unit = catalogue.indicators().loc[indicator, "unit"]
    return {
        "source_id": source,
        "release": release,
        "release_kind": kind,
        "vintage": vintage,
        "indicator_id": indicator,
        "year": year,
        "value": value,
        "unit": unit,
        "obs_status": status,
        "source_ref": f"{release}.xls#1!{region}-{year}",
        "note": note,
        "region_code": region,
    }


def clean_candidate() -> pd.DataFrame:
    """Two yearbook editions (the older one restates less), a bulletin first release; passes every suite."""
    rows = []
    provinces = _provinces()
    for edition, years, shift in ((OLD, YEARS[:-1], 0.999), (NEW, YEARS, 1.0)):
        vintage = f"{edition[-4:]}-12-31"
        for year in years:
            growth = 1.05 ** (year - YEARS[0])
            values = {p: (10.0 + i) * growth * shift for i, p in enumerate(provinces)}
            for p, value in values.items():
                rows.append(_row(p, "rd_expenditure", year, value, edition, vintage=vintage))
                rows.append(
                    _row(
                        p,
                        "rd_intensity",
                        year,
                        round(1.0 + i_of(p, provinces) * 0.05 * growth, 4),
                        edition,
                        vintage=vintage,
                    )
                )
            rows.append(_row("100000", "rd_expenditure", year, sum(values.values()), edition, vintage=vintage))
            rows.append(_row("100000", "rd_intensity", year, 2.4 * growth, edition, vintage=vintage))
    national_2021 = next(
        r["value"]
        for r in rows
        if r["region_code"] == "100000"
        and r["release"] == NEW
        and r["year"] == 2021
        and r["indicator_id"] == "rd_expenditure"
    )
    rows.append(
        _row(
            "100000",
            "rd_expenditure",
            2021,
            national_2021 * 1.001,
            BULLETIN,
            "first_release",
            "2022-09-30",
            "nbs_rd_bulletin",
        )
    )
    rows.append(
        _row(
            "100000",
            "rd_intensity",
            2021,
            2.4 * 1.05**3 + 0.01,
            BULLETIN,
            "first_release",
            "2022-09-30",
            "nbs_rd_bulletin",
        )
    )
    frame = pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)
    return frame.sort_values(["indicator_id", "region_code", "year", "release"]).reset_index(drop=True)


def i_of(code: str, provinces: list[str]) -> int:
    return provinces.index(code)


def _where(frame, region, indicator, year, release=NEW):
    return (
        (frame["region_code"] == region)
        & (frame["indicator_id"] == indicator)
        & (frame["year"] == year)
        & (frame["release"] == release)
    )


# ------------------------------------------------------------------------------------------ corruptions


def out_of_range(f):
    f.loc[_where(f, "110000", "rd_intensity", 2021), "value"] = 263.0
    return f


def infinite_value(f):
    f.loc[_where(f, "120000", "rd_expenditure", 2020), "value"] = math.inf
    return f


def duplicate_key(f):
    extra = f[_where(f, "110000", "rd_expenditure", 2019)].assign(value=1.5)
    return pd.concat([f, extra], ignore_index=True)


def everything_twice(f):
    return pd.concat([f, f], ignore_index=True)


def null_value_without_m(f):
    f.loc[_where(f, "130000", "rd_intensity", 2020), "value"] = np.nan
    return f


def null_value_null_status(f):  # the row condition obs_status != "m" keeps a null status (pandas semantics)
    mask = _where(f, "130000", "rd_intensity", 2020)
    f.loc[mask, "value"] = np.nan
    f.loc[mask, "obs_status"] = None
    return f


def gap_flagged_m(f):  # allowed: a missing value flagged m
    mask = _where(f, "130000", "rd_intensity", 2020)
    f.loc[mask, "value"] = np.nan
    f.loc[mask, "obs_status"] = "m"
    return f


def bad_status(f):
    f.loc[_where(f, "140000", "rd_expenditure", 2018), "obs_status"] = "x"
    return f


def bad_year(f):
    f.loc[_where(f, "150000", "rd_expenditure", 2018), "year"] = 20233
    return f


def unknown_indicator(f):
    f.loc[_where(f, "150000", "rd_intensity", 2019), "indicator_id"] = "rd_intensty"
    return f


def bad_release_kind(f):
    f.loc[f["release"] == BULLETIN, "release_kind"] = "communique"
    return f


def null_region(f):
    f.loc[_where(f, "210000", "rd_intensity", 2019), "region_code"] = None
    return f


def null_region_and_release(f):  # a row whose unique-key carriers are both null, alone: no duplicate
    mask = _where(f, "210000", "rd_intensity", 2019)
    f.loc[mask, ["region_code", "release"]] = None
    return f


def null_region_and_release_twice(f):  # ... and twice in different years: still no duplicate
    for year in (2019, 2020):
        f.loc[_where(f, "210000", "rd_intensity", year), ["region_code", "release"]] = None
    return f


def null_keys_duplicated(f):  # two rows with the same key (null region, null release): a duplicate
    mask = _where(f, "210000", "rd_intensity", 2019)
    f.loc[mask, ["region_code", "release"]] = None
    return pd.concat([f, f[mask.values].assign(value=9.0)], ignore_index=True)


def null_source_ref(f):
    f.loc[_where(f, "220000", "rd_expenditure", 2021), "source_ref"] = None
    return f


def coverage_gap(f):
    return f[~_where(f, "230000", "rd_expenditure", 2020)].reset_index(drop=True)


def additivity_break(f):
    f.loc[_where(f, "100000", "rd_expenditure", 2020), "value"] *= 1.05
    return f


def national_zero(f):
    f.loc[_where(f, "100000", "rd_expenditure", 2019, OLD), "value"] = 0.0
    return f


def yoy_jump(f):
    f.loc[_where(f, "310000", "rd_intensity", 2020), "value"] *= 3
    return f


def yoy_in_older_edition_only(f):  # not a current value: no warning
    f.loc[_where(f, "310000", "rd_intensity", 2019, OLD), "value"] *= 3
    return f


def bulletin_disagreement(f):
    f.loc[f["release"] == BULLETIN, "value"] *= 1.2
    return f


def bulletin_documented(f):
    f.loc[f["release"] == BULLETIN, "value"] *= 1.2
    f.loc[f["release"] == BULLETIN, "note"] = "revised in the yearbook"
    return f


def extra_column(f):
    return f.assign(comment="")


def year_as_float(f):
    return f.assign(year=f["year"].astype("float64"))


def null_year(f):
    f = f.assign(year=f["year"].astype("float64"))
    f.loc[_where(f, "320000", "rd_intensity", 2019), "year"] = np.nan
    return f


def many_failures(f):
    f.loc[f["indicator_id"] == "rd_intensity", "value"] = 50.0
    return f


CASES = [
    out_of_range,
    infinite_value,
    duplicate_key,
    everything_twice,
    null_value_without_m,
    null_value_null_status,
    gap_flagged_m,
    bad_status,
    bad_year,
    unknown_indicator,
    bad_release_kind,
    null_region,
    null_region_and_release,
    null_region_and_release_twice,
    null_keys_duplicated,
    null_source_ref,
    coverage_gap,
    additivity_break,
    national_zero,
    yoy_jump,
    yoy_in_older_edition_only,
    bulletin_disagreement,
    bulletin_documented,
    extra_column,
    year_as_float,
    null_year,
    many_failures,
]


# ------------------------------------------------------------------------------------------ comparison


def reference(frame: pd.DataFrame) -> list[validate.SuiteOutcome]:
    """The old path: the whole frame (and the pandas group frames) through GX, COMPLETE result format."""
    return [runner.run_suite(name, make(frame)) for name, make in frames.GROUP_FRAMES.items()]


def _records(rows: pd.DataFrame) -> list[tuple]:
    def norm(v):
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            return "<null>"
        if isinstance(v, (float, np.floating)):
            return f"{float(v):.10g}"
        if isinstance(v, (bool, np.bool_)):
            return str(bool(v))
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        return str(v)

    return sorted(tuple(norm(v) for v in rec) for rec in rows.itertuples(index=False))


def assert_same(
    expected: list[validate.SuiteOutcome], actual: list[validate.SuiteOutcome], rows_cap: int | None = None
):
    assert [o.suite for o in expected] == [o.suite for o in actual]
    for old, new in zip(expected, actual):
        assert new.frame_rows == old.frame_rows, old.suite
        assert new.n_expectations == old.n_expectations
        old_f = {f.expectation: f for f in old.failures}
        new_f = {f.expectation: f for f in new.failures}
        assert set(new_f) == set(old_f), (old.suite, set(old_f) ^ set(new_f))
        for label, want in old_f.items():
            got = new_f[label]
            assert (got.n_rows, got.severity, got.rule) == (want.n_rows, want.severity, want.rule), (old.suite, label)
            if want.n_rows == 0:
                assert got.rows.empty and got.observed == want.observed, (label, want.observed, got.observed)
                continue
            assert list(got.rows.columns) == list(want.rows.columns), label
            if rows_cap is None or want.n_rows <= rows_cap:
                assert _records(got.rows) == _records(want.rows), (old.suite, label)
            else:
                assert len(got.rows) == rows_cap
                assert set(_records(got.rows)) <= set(_records(want.rows))


@pytest.fixture(scope="module")
def clean():
    return clean_candidate()


def test_clean_candidate_passes_both_ways(clean):
    expected = reference(clean)
    assert all(not o.failures for o in expected), [o.report() for o in expected if o.failures]
    actual = validate.validate_all(clean)
    assert_same(expected, actual)
    assert [o.frame_rows for o in actual][:2] == [len(clean), len(clean)]


@pytest.mark.parametrize("corrupt", CASES, ids=[c.__name__ for c in CASES])
def test_compact_batches_fail_exactly_like_the_full_frame(clean, corrupt):
    frame = corrupt(clean.copy())
    expected = reference(frame)
    assert any(o.failures for o in expected) or corrupt in (
        gap_flagged_m,
        yoy_in_older_edition_only,
        bulletin_documented,
        null_region_and_release,
    )
    assert_same(expected, validate.validate_all(frame))


@pytest.mark.parametrize(
    "corrupt",
    [
        out_of_range,
        duplicate_key,
        null_keys_duplicated,
        coverage_gap,
        additivity_break,
        yoy_jump,
        bulletin_disagreement,
        null_value_null_status,
        many_failures,
    ],
    ids=lambda c: c.__name__,
)
def test_validate_relation_on_a_duckdb_table(clean, corrupt, tmp_path):
    frame = corrupt(clean.copy())
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.register("frame", frame)
        con.execute("CREATE TABLE fact AS SELECT * FROM frame")
    with duckdb.connect(str(path), read_only=True) as con:
        before = con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone()
        assert_same(reference(frame), validate.validate_relation(con, "fact"))
        assert con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone() == before


def test_failing_rows_are_capped_but_counted_exactly(clean):
    frame = many_failures(clean.copy())
    expected = reference(frame)
    with duckdb.connect() as con:
        con.register("frame", frame)
        actual = validate.validate_relation(con, "frame", max_rows=7)
    assert_same(expected, actual, rows_cap=7)
    ranges = next(o for o in actual if o.suite == "value_ranges").failures[0]
    assert ranges.n_rows == (frame["indicator_id"] == "rd_intensity").sum() and len(ranges.rows) == 7
    assert f"... and {ranges.n_rows - 10} more" in ranges.describe()


def test_compact_batches_stay_small(clean, monkeypatch):
    """Forty copies of the data (as forty releases) still give GX batches of the same size."""
    frame = pd.concat([clean.assign(release=clean["release"] + f"_{i}") for i in range(40)], ignore_index=True)
    sizes = {}
    original = validate.run_compact

    def spy(con, suite, frame_, batch, n_rows, max_rows):
        sizes[suite] = (len(batch), n_rows)
        return original(con, suite, frame_, batch, n_rows, max_rows)

    monkeypatch.setattr(validate, "run_compact", spy)
    outcomes = validate.validate_all(frame)
    assert not [o for o in outcomes if o.failures]
    assert sizes["observations"][1] == len(frame) and sizes["observations"][0] < 50
    assert sizes["year_on_year"][0] <= 2 and sizes["coverage"][0] <= 2


def test_group_frames_in_sql_equal_the_pandas_frames(clean):
    frame = bulletin_disagreement(additivity_break(coverage_gap(yoy_jump(clean.copy()))))
    with duckdb.connect() as con:
        con.register("frame", frame)
        names = sql_frames.register_catalogue(con, "t_")
        types = sql_frames.describe(con, "frame")
        for suite, pandas_frame in (
            ("coverage", frames.coverage_frame),
            ("additivity", frames.additivity_frame),
            ("year_on_year", frames.yoy_frame),
            ("bulletin_agreement", frames.bulletin_agreement_frame),
        ):
            sql = con.execute(sql_frames.GROUP_SQL[suite]("frame", names, types)).df()
            want = pandas_frame(frame)
            assert list(sql.columns) == list(want.columns), suite
            assert _records(sql) == _records(want), suite


def test_bulletin_agreement_sql_twin(clean):
    frame = bulletin_disagreement(clean.copy())
    with duckdb.connect() as con:
        con.register("frame", frame)
        twin = validate.bulletin_agreement_sql(con, "frame")
    want = frames.bulletin_agreement_frame(frame)
    assert list(twin.columns) == list(want.columns)
    assert [tuple(map(str, r)) for r in twin.itertuples(index=False)] == [
        tuple(map(str, r)) for r in want.itertuples(index=False)
    ]
    assert set(twin["verdict"]) == {"undocumented_difference"}


def test_failing_rows_of_the_files_being_loaded_come_first(clean):
    frame = many_failures(clean.copy())
    outcomes = validate.validate_all(frame, ["value_ranges"], first_releases=[BULLETIN], max_rows=3)
    failure = outcomes[0].failures[0]
    assert failure.n_rows == (frame["indicator_id"] == "rd_intensity").sum()
    assert list(failure.rows["release"])[0] == BULLETIN and BULLETIN not in list(failure.rows["release"])[1:]


def test_a_frame_duckdb_would_read_as_text_is_validated_the_old_way(clean):
    frame = clean.copy()
    frame["value"] = frame["value"].astype(object)
    frame.loc[3, "value"] = "n/a"
    suites = ["observations", "value_ranges"]  # (the old group frames cannot even be computed)
    assert_same([runner.run_suite(name, frame) for name in suites], validate.validate_all(frame, suites))
