"""Validation with Great Expectations 1.x, pushed down to DuckDB.

Rules live as GX suite files in expectations/ (generated from the indicator catalogue by
`python -m sti_portal.quality.validate --write-suites` and committed, so a change of rule shows in review).
Some rules are about groups of rows (coverage, additivity, year-on-year change, first release versus
yearbook); for those a frame with one row per group is computed and GX validates that frame, so every
rule is still a GX expectation with a GX result.

`validate_relation(con, relation)` (and `validate_all(frame)`, which registers a pandas frame in an
in-memory DuckDB) never hands the full data to GX. The group frames are computed in SQL (twins of the
pandas functions coverage_frame, additivity_frame, yoy_frame and bulletin_agreement_frame, which stay as
the reference: tests/test_validate_pushdown.py compares them). For every frame DuckDB computes a
*compact batch* that the same suite files validate with GX's pandas datasource, and each expectation
fails on the compact batch if and only if it fails on the full frame:

* rows are grouped by what the suite's expectations look at: the exact value of every column used in
  a value set or a row condition, whether each column checked for nulls (or for its type) is null, and
  for every column checked against a range the group's minimum and maximum (a range holds for every
  row iff it holds for the extremes). Each group becomes one row (the minimum) or two (minimum and
  maximum). Columns no expectation reads are typed nulls, so DuckDB does not even read them;
* compound uniqueness: every row of (up to MAX_DUPLICATE_KEYS) duplicated keys is added as it is, and
  the representative rows get a synthetic, unique value in a key column that is otherwise only checked
  for nulls (`region_code`, `release`), so they never form a duplicate of their own (where those are
  null, the rest of the key is grouped exactly: two such rows then share a key only if real rows do);
* the table's columns and the DuckDB types (hence the pandas dtypes) are those of the full frame.

When an expectation fails, its failing rows are fetched from the full frame by SQL (the handful of
expectation types the suites use are translated, with pandas' null semantics: NaN counts as null, a
row condition `x != v` keeps rows where x is null), so `Failure.n_rows` is the exact count and
`Failure.rows` the first MAX_FAILING_ROWS real rows. Expectations of other kinds (or with `mostly`)
would make GX validate the whole frame, which stays correct, only slower.
"""
from __future__ import annotations

import json
import math
import sys
import threading
import uuid
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Iterable

import duckdb
import numpy as np
import pandas as pd

from sti_portal.core import catalogue
from sti_portal.core.settings import EXPECTATIONS_DIR
from sti_portal.core.releases import KIND_PRECEDENCE, OBSERVATION_KEY, newest_per_key, release_order

N_PROVINCES = 31
FIRST_DATA_YEAR = 1990
LAST_DATA_YEAR = 2100  # the upload checks compare with today's date; the suite only catches typos like 20233
ADDITIVITY_REL_TOLERANCE = 0.01
BULLETIN_TOLERANCE = {"rd_intensity": ("abs", 0.05), "rd_expenditure": ("rel", 0.005), "rd_expenditure_basic_research": ("rel", 0.005)}
OBS_STATUS_CODES = ["", "p", "e", "b", "m", "u", "d", "c"]

CANDIDATE_COLUMNS = ["source_id", "release", "release_kind", "vintage", "indicator_id", "year", "value", "unit",
                     "obs_status", "source_ref", "note", "region_code"]


# ---------------------------------------------------------------- suites (as files)

def _expect(kind: str, severity: str = "critical", meta: dict | None = None, **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs, "meta": meta or {}, "severity": severity}


def _where(column: str, operator: str, parameter) -> dict:
    """A GX 1.x row condition (the serialised form of `Column(column) <operator> parameter`)."""
    return {"type": "comparison", "column": {"name": column}, "operator": operator, "parameter": parameter}


def suite_definitions() -> dict[str, dict]:
    indicators = catalogue.indicators()
    ranges = [
        _expect("expect_column_values_to_be_between", column="value",
                min_value=float(row.min_value), max_value=float(row.max_value),
                row_condition=_where("indicator_id", "==", row.indicator_id),
                meta={"rule": f"{row.indicator_id} must lie within {row.min_value:g}-{row.max_value:g} {row.unit}"})
        for row in indicators.itertuples()
    ]
    return {
        "observations": {
            "name": "observations",
            "meta": {"about": "schema, types and keys of every candidate observation (all releases)"},
            "expectations": [
                _expect("expect_table_columns_to_match_set", column_set=CANDIDATE_COLUMNS, exact_match=True),
                *[_expect("expect_column_values_to_not_be_null", column=col)
                  for col in ("region_code", "indicator_id", "year", "release", "source_id", "source_ref")],
                _expect("expect_column_values_to_be_in_type_list", column="value", type_list=["float64", "Float64"]),
                _expect("expect_column_values_to_be_in_type_list", column="year", type_list=["int64", "Int64"]),
                _expect("expect_column_values_to_be_between", column="year", min_value=FIRST_DATA_YEAR, max_value=LAST_DATA_YEAR),
                _expect("expect_column_values_to_be_in_set", column="indicator_id", value_set=sorted(indicators.index)),
                _expect("expect_column_values_to_be_in_set", column="obs_status", value_set=OBS_STATUS_CODES),
                _expect("expect_column_values_to_be_in_set", column="release_kind", value_set=sorted(KIND_PRECEDENCE)),
                _expect("expect_compound_columns_to_be_unique", column_list=[*OBSERVATION_KEY, "release"],
                        meta={"rule": "one value per region, indicator, year and release"}),
                _expect("expect_column_values_to_not_be_null", column="value", row_condition=_where("obs_status", "!=", "m"),
                        meta={"rule": "only values flagged m (missing) may be empty"}),
            ],
        },
        "value_ranges": {"name": "value_ranges", "meta": {"about": "plausible range per indicator, in its catalogue unit"},
                         "expectations": ranges},
        "coverage": {
            "name": "coverage",
            "meta": {"about": "every table that covers provinces covers all 31 in each year and release"},
            "expectations": [_expect("expect_column_values_to_be_between", column="n_provinces",
                                     min_value=N_PROVINCES, max_value=N_PROVINCES)],
        },
        "additivity": {
            "name": "additivity",
            "meta": {"about": f"provinces sum to the national total within {ADDITIVITY_REL_TOLERANCE:.0%} for additive indicators"},
            "expectations": [_expect("expect_column_values_to_be_between", column="relative_difference",
                                     min_value=-ADDITIVITY_REL_TOLERANCE, max_value=ADDITIVITY_REL_TOLERANCE)],
        },
        "year_on_year": {
            "name": "year_on_year",
            "meta": {"about": "year-on-year change beyond the indicator's bound is flagged for a statistician to look at"},
            "expectations": [_expect("expect_column_values_to_be_in_set", severity="warning",
                                     column="within_bound", value_set=[True])],
        },
        "bulletin_agreement": {
            "name": "bulletin_agreement",
            "meta": {"about": "first-release bulletin figures agree with the first yearbook edition, or the difference is a documented revision",
                     "tolerances": {k: f"{kind} {tol}" for k, (kind, tol) in BULLETIN_TOLERANCE.items()}},
            "expectations": [_expect("expect_column_values_to_be_in_set", column="verdict",
                                     value_set=["agrees", "documented_revision"])],
        },
    }


def write_suites() -> list[str]:
    EXPECTATIONS_DIR.mkdir(exist_ok=True)
    written = []
    for name, suite in suite_definitions().items():
        path = EXPECTATIONS_DIR / f"{name}.json"
        path.write_text(json.dumps(suite, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(str(path))
    return written


def load_suite(name: str) -> dict:
    return json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------- group frames

def province_rows(frame: pd.DataFrame, levels: tuple[str, ...] = ("province",)) -> pd.DataFrame:
    codes = catalogue.china_regions()
    wanted = set(codes.loc[codes["level"].isin(levels), "region_code"])
    return frame[frame["region_code"].isin(wanted)]


def coverage_frame(observations: pd.DataFrame) -> pd.DataFrame:
    """Provinces per indicator, year and release, for tables that claim provincial coverage."""
    full = set(catalogue.indicators().query("full_coverage").index)
    provincial = province_rows(observations[observations["indicator_id"].isin(full)])
    # A release with no province at all for an indicator-year (a national headline) claims no coverage.
    all_provinces = set(province_rows(catalogue.china_regions())["region_code"])
    keys = ["indicator_id", "year", "release", "source_id"]
    counts = provincial.groupby(keys)["region_code"].agg(
        n_provinces="nunique",
        missing_provinces=lambda codes: ",".join(sorted(all_provinces - set(codes)))).reset_index()
    # The bulletin's regional figures are partial ranked tables by design (see INDEX.md), and so are
    # statisticians' uploads (a communiqué, one revised value): neither claims all provinces.
    partial = (counts["source_id"] == "nbs_rd_bulletin") | counts["release"].str.startswith("upload_")
    return counts[~partial].reset_index(drop=True)


def additivity_frame(observations: pd.DataFrame) -> pd.DataFrame:
    additive = set(catalogue.indicators().query("additive").index)
    frame = observations[observations["indicator_id"].isin(additive) & observations["value"].notna()]
    keys = ["indicator_id", "year", "release"]
    national = frame[frame["region_code"] == "100000"].set_index(keys)["value"].rename("national")
    # The patent tables' national totals include Hong Kong, Macao and Taiwan, which they also list.
    parts = province_rows(frame, levels=("province", "sar_or_taiwan"))
    sums = parts.groupby(keys).agg(province_sum=("value", "sum"), n_regions=("region_code", "nunique"))
    n_provinces = province_rows(frame).groupby(keys)["region_code"].nunique().rename("n_provinces")
    joined = sums.join(n_provinces).join(national, how="inner")
    joined = joined[joined["n_provinces"] == N_PROVINCES]
    joined["relative_difference"] = (joined["province_sum"] - joined["national"]) / joined["national"]
    return joined.reset_index()


def yoy_frame(observations: pd.DataFrame) -> pd.DataFrame:
    """Change of each current value against the previous year's current value, with the indicator's bound."""
    bounds = catalogue.indicators()["yoy_max_ratio"]
    current = newest_per_key(observations)
    frame = current[current["value"].notna()].sort_values(["region_code", "indicator_id", "year"])
    previous = frame.groupby(["region_code", "indicator_id"])["value"].shift(1)
    previous_year = frame.groupby(["region_code", "indicator_id"])["year"].shift(1)
    out = frame.assign(previous_value=previous, previous_year=previous_year)
    out = out[(out["previous_year"] == out["year"] - 1) & (out["previous_value"] > 0)].copy()
    out["change_ratio"] = out["value"] / out["previous_value"] - 1
    out["bound"] = out["indicator_id"].map(bounds)
    out["within_bound"] = out["change_ratio"].abs() <= out["bound"]
    return out[["region_code", "indicator_id", "year", "release", "previous_value", "value", "change_ratio", "bound",
                "within_bound", "source_ref"]].reset_index(drop=True)


def bulletin_agreement_frame(observations: pd.DataFrame) -> pd.DataFrame:
    """Each bulletin figure against the first yearbook edition that reports the same region and year."""
    bulletin = observations[observations["source_id"] == "nbs_rd_bulletin"]
    yearbook = release_order(observations[observations["release_kind"] == "yearbook"])
    first_yearbook = yearbook.drop_duplicates(OBSERVATION_KEY, keep="first")
    joined = bulletin.merge(first_yearbook[[*OBSERVATION_KEY, "value", "release", "source_ref"]],
                            on=OBSERVATION_KEY, suffixes=("", "_yearbook"))
    rows = []
    for rec in joined.itertuples():
        kind, tol = BULLETIN_TOLERANCE[rec.indicator_id]
        difference = rec.value_yearbook - rec.value
        measured = abs(difference) if kind == "abs" else abs(difference) / abs(rec.value)
        documented = (rec.obs_status == "p" or "revised" in rec.note
                      or (rec.region_code, rec.indicator_id, rec.year, rec.release) in documented_revisions())
        verdict = "agrees" if measured <= tol + 1e-12 else ("documented_revision" if documented else "undocumented_difference")
        rows.append({
            "region_code": rec.region_code, "indicator_id": rec.indicator_id, "year": rec.year,
            "first_release": rec.release, "first_release_value": rec.value,
            "yearbook_release": rec.release_yearbook, "yearbook_value": rec.value_yearbook,
            "difference": difference, "tolerance": f"{kind} {tol}", "verdict": verdict,
            "first_release_ref": rec.source_ref, "yearbook_ref": rec.source_ref_yearbook,
        })
    return pd.DataFrame(rows, columns=["region_code", "indicator_id", "year", "first_release", "first_release_value",
                                       "yearbook_release", "yearbook_value", "difference", "tolerance", "verdict",
                                       "first_release_ref", "yearbook_ref"])


@lru_cache(maxsize=1)
def documented_revisions() -> set[tuple[str, str, int, str]]:
    """(region, indicator, year, first release) whose difference from the yearbook is explained in
    catalogue/documented_revisions.csv."""
    table = catalogue.documented_revisions()
    return {(r.region_code, r.indicator_id, int(r.year), r.first_release) for r in table.itertuples()}


GROUP_FRAMES = {
    "observations": lambda obs: obs,
    "value_ranges": lambda obs: obs,
    "coverage": coverage_frame,
    "additivity": additivity_frame,
    "year_on_year": yoy_frame,
    "bulletin_agreement": bulletin_agreement_frame,
}


# ---------------------------------------------------------------- running GX

@dataclass
class Failure:
    expectation: str
    rule: str
    severity: str
    n_rows: int
    rows: pd.DataFrame = field(repr=False)
    observed: str = ""

    def describe(self, limit: int = 10) -> str:
        head = f"{self.expectation} ({self.rule})" if self.rule else self.expectation
        lines = [f"{head}: {self.n_rows} row(s) fail" if self.n_rows else f"{head}: {self.observed}"]
        for rec in self.rows.head(limit).to_dict("records"):
            lines.append("    " + ", ".join(f"{k}={_fmt(v)}" for k, v in rec.items()))
        if self.n_rows > limit:
            lines.append(f"    ... and {self.n_rows - limit} more")
        return "\n".join(lines)


def _fmt(value) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


@dataclass
class SuiteOutcome:
    suite: str
    n_expectations: int
    failures: list[Failure]
    frame_rows: int

    @property
    def blocking_failures(self) -> list[Failure]:
        return [f for f in self.failures if f.severity == "critical"]

    @property
    def success(self) -> bool:
        return not self.blocking_failures

    def table_rows(self) -> list[dict]:
        """One row per expectation of the suite, passed or not (for the validation_results table)."""
        failed = {f.expectation: f for f in self.failures}
        rows = []
        for spec in load_suite(self.suite)["expectations"]:
            label = expectation_label(spec["type"], spec["kwargs"])
            failure = failed.get(label)
            rows.append({"suite": self.suite, "expectation": label, "severity": spec.get("severity", "critical"),
                         "passed": failure is None, "failing_rows": failure.n_rows if failure else 0,
                         "detail": failure.describe() if failure else ""})
        return rows

    def report(self) -> str:
        if not self.failures:
            return f"{self.suite}: {self.n_expectations} expectation(s) passed on {self.frame_rows} row(s)"
        return "\n".join([f"{self.suite}: {len(self.failures)} of {self.n_expectations} expectation(s) failed"]
                         + [f.describe() for f in self.failures])


_GX_LOCK = threading.Lock()


def _gx_context():
    """One ephemeral GX context per process, with a pandas datasource whose batches are whole frames."""
    with _GX_LOCK:
        return _make_gx_context()


@lru_cache(maxsize=1)
def _make_gx_context():
    import great_expectations as gx

    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("sti")
    asset = source.add_dataframe_asset("frame")
    return context, asset.add_batch_definition_whole_dataframe("whole")


def _prepare_gx_in_background() -> None:
    """Importing GX and making its context takes seconds (see docs/benchmarks.md): the first time, do it in a
    thread while DuckDB computes the compact batches (DuckDB releases the GIL while a query runs)."""
    if _make_gx_context.cache_info().currsize == 0 and not _GX_LOCK.locked():
        threading.Thread(target=_gx_context, name="gx-import", daemon=True).start()


def run_suite(name: str, frame: pd.DataFrame) -> SuiteOutcome:
    import great_expectations as gx

    suite_spec = load_suite(name)
    context, batch_definition = _gx_context()
    suite = gx.ExpectationSuite(name=suite_spec["name"], expectations=suite_spec["expectations"], meta=suite_spec.get("meta"))
    checked = frame.reset_index(drop=True)
    result = batch_definition.get_batch(batch_parameters={"dataframe": checked}).validate(
        suite, result_format={"result_format": "COMPLETE"})
    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        details = item.result or {}
        index = details.get("unexpected_index_list") or []
        rows = checked.loc[[i for i in index if isinstance(i, int)]] if index else checked.iloc[0:0]
        observed = "" if rows.shape[0] else f"observed {details.get('observed_value', details)}"
        if item.exception_info and item.exception_info.get("raised_exception"):
            observed = f"could not be evaluated: {item.exception_info.get('exception_message')}"
        failures.append(Failure(
            expectation=expectation_label(config.type, config.kwargs),
            rule=(config.meta or {}).get("rule", ""),
            severity=_severity(config),
            n_rows=len(rows),
            rows=rows,
            observed=observed,
        ))
    return SuiteOutcome(name, len(suite_spec["expectations"]), failures, len(checked))


def expectation_label(kind: str, kwargs: dict) -> str:
    """A name unique within a suite: type, column and row condition."""
    column = kwargs.get("column") or kwargs.get("column_list")
    condition = kwargs.get("row_condition")
    if condition is not None and not isinstance(condition, (dict, str)):
        condition = condition.dict()   # a GX Condition object (a pydantic model)
    if isinstance(condition, dict):
        condition = f'{condition["column"]["name"]}{condition["operator"]}"{condition["parameter"]}"'
    return kind + (f"[{column}]" if column else "") + (f" where {condition}" if condition else "")


def _severity(config) -> str:
    severity = getattr(config, "severity", None)
    return str(getattr(severity, "value", severity) or "critical")


# ---------------------------------------------------------------- pushed down to DuckDB

MAX_FAILING_ROWS = 10_000      # real failing rows fetched per failed expectation (n_rows stays exact)
MAX_DUPLICATE_KEYS = 1_000     # duplicated keys whose rows go into a compact batch
OBSERVATIONS_FRAME = "observations"
SUITE_FRAMES = {"observations": OBSERVATIONS_FRAME, "value_ranges": OBSERVATIONS_FRAME, "coverage": "coverage",
                "additivity": "additivity", "year_on_year": "year_on_year", "bulletin_agreement": "bulletin_agreement"}
# Order of the failing rows shown (the candidate frame's own sort order for the observations).
FRAME_ORDER = {OBSERVATIONS_FRAME: ["indicator_id", "region_code", "year", "release"],
               "coverage": ["indicator_id", "year", "release", "source_id"],
               "additivity": ["indicator_id", "year", "release"],
               "year_on_year": ["region_code", "indicator_id", "year"],
               "bulletin_agreement": ["indicator_id", "region_code", "year", "first_release"]}
ROW_ORDER = "__sti_row_order"           # validate_all: the frame's row order (not one of the frame's columns)
SYNTHETIC_PREFIX = "\x01sti-compact:"   # representative rows' key values: no real code or release looks like it
ROW_LEVEL = {"expect_column_values_to_be_between", "expect_column_values_to_be_in_set",
             "expect_column_values_to_not_be_null", "expect_compound_columns_to_be_unique"}
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8"}


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "'NaN'::DOUBLE"
        if math.isinf(value):
            return "'inf'::DOUBLE" if value > 0 else "'-inf'::DOUBLE"
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class _Frame:
    """A frame as a (temporary) view in the connection: the rows GX would see, in SQL."""
    name: str
    view: str
    types: dict[str, str]                    # column -> DuckDB type, in the frame's order
    lean_view: str | None = None             # the same rows, but only the columns the expectations read
    dtypes: dict | None = None               # pandas dtypes for the compact batch (validate_all: the frame's)
    alias: str = ""                          # table alias to qualify column names with
    first_releases: tuple[str, ...] = ()     # failing rows of these releases are listed first

    def col(self, column: str) -> str:
        return f"{self.alias}.{_ident(column)}" if self.alias else _ident(column)

    def is_float(self, column: str) -> bool:
        return self.types[column].upper() in _FLOAT_TYPES

    def has(self, column) -> bool:
        return isinstance(column, str) and column in self.types

    def nullish(self, column: str) -> str:
        """Null the way pandas sees it: NaN is null too."""
        col = self.col(column)
        return f"({col} IS NULL OR isnan({col}))" if self.is_float(column) else f"({col} IS NULL)"

    def clean(self, column: str) -> str:
        col = self.col(column)
        return f"(CASE WHEN isnan({col}) THEN NULL ELSE {col} END)" if self.is_float(column) else col

    def select(self) -> str:
        return ", ".join(self.col(c) for c in self.types)

    def order_by(self) -> str:
        terms = [self.col(c) for c in FRAME_ORDER.get(self.name, []) if self.has(c)]
        if self.first_releases and self.has("release"):
            listed = ", ".join(_literal(r) for r in self.first_releases)
            terms.insert(0, f"coalesce({self.col('release')} IN ({listed}), FALSE) DESC")
        return ("ORDER BY " + ", ".join(terms)) if terms else ""


def _condition_columns(condition) -> list[str] | None:
    """Columns a serialised GX row condition reads; None for a condition we do not translate."""
    if not isinstance(condition, dict):
        return None
    kind = condition.get("type")
    if kind in ("comparison", "nullity"):
        return [condition["column"]["name"]]
    if kind in ("and", "or"):
        columns = [_condition_columns(c) for c in condition.get("conditions", [])]
        return None if any(c is None for c in columns) else [c for part in columns for c in part]
    return None


def _condition_sql(condition: dict, frame: _Frame) -> str:
    """A GX row condition with pandas' DataFrame.query semantics (a null compares unequal to everything)."""
    kind = condition["type"]
    if kind in ("and", "or"):
        return "(" + f" {kind.upper()} ".join(_condition_sql(c, frame) for c in condition["conditions"]) + ")"
    column = condition["column"]["name"]
    if kind == "nullity":
        return frame.nullish(column) if condition.get("is_null", True) else f"NOT {frame.nullish(column)}"
    col, op, parameter = frame.clean(column), condition["operator"], condition["parameter"]
    if op in ("IN", "NOT_IN"):
        inside = f"coalesce({col} IN ({', '.join(_literal(v) for v in parameter)}), FALSE)" if parameter else "FALSE"
        return inside if op == "IN" else f"NOT {inside}"
    if op == "!=":
        return f"({col} IS DISTINCT FROM {_literal(parameter)})"
    return f"coalesce({col} {'=' if op == '==' else op} {_literal(parameter)}, FALSE)"


def _predicate_sql(spec: dict, frame: _Frame) -> str:
    """Rows of the frame on which a row-level expectation fails (GX skips nulls in value checks)."""
    kind, kwargs = spec["type"], spec["kwargs"]
    parts = []
    if kwargs.get("row_condition") is not None:
        parts.append(_condition_sql(kwargs["row_condition"], frame))
    if kind == "expect_column_values_to_not_be_null":
        parts.append(frame.nullish(kwargs["column"]))
    else:
        column = kwargs["column"]
        col = frame.col(column)
        parts.append(f"NOT {frame.nullish(column)}")
        if kind == "expect_column_values_to_be_in_set":
            values = kwargs.get("value_set") or []
            if values:
                parts.append(f"{col} NOT IN ({', '.join(_literal(v) for v in values)})")
        else:   # between
            inside = []
            if kwargs.get("min_value") is not None:
                inside.append(f"{col} {'>' if kwargs.get('strict_min') else '>='} {_literal(kwargs['min_value'])}")
            if kwargs.get("max_value") is not None:
                inside.append(f"{col} {'<' if kwargs.get('strict_max') else '<='} {_literal(kwargs['max_value'])}")
            if inside:
                parts.append(f"NOT ({' AND '.join(inside)})")
    return " AND ".join(parts)


def _duplicate_keys_sql(spec: dict, frame: _Frame, limit: int | None = None) -> tuple[str, str]:
    """(keys occurring more than once, the ON clause joining rows `f` to them `d`) for a compound uniqueness
    rule; rows GX ignores (ignore_row_if, default: every key column missing) are left out as GX does."""
    kwargs = spec["kwargs"]
    columns = list(kwargs["column_list"])
    ignore = kwargs.get("ignore_row_if", "all_values_are_missing")

    def kept(f: _Frame) -> list[str]:
        where = []
        if ignore == "all_values_are_missing":
            where.append("NOT (" + " AND ".join(f.nullish(c) for c in columns) + ")")
        elif ignore == "any_value_is_missing":
            where.append("NOT (" + " OR ".join(f.nullish(c) for c in columns) + ")")
        if kwargs.get("row_condition") is not None:
            where.append(_condition_sql(kwargs["row_condition"], f))
        return where

    where = kept(frame)
    keys = (f"SELECT {', '.join(_ident(c) for c in columns)} FROM {frame.view} "
            f"{'WHERE ' + ' AND '.join(where) if where else ''} GROUP BY ALL HAVING count(*) > 1"
            + (f" LIMIT {limit}" if limit else ""))
    on = [f"f.{_ident(c)} IS NOT DISTINCT FROM d.{_ident(c)}" for c in columns] + kept(replace(frame, alias="f"))
    return keys, " AND ".join(on)


@dataclass
class _Plan:
    """What a compact batch keeps of each column (see the module docstring)."""
    keys: list[str] = field(default_factory=list)       # exact values
    ranges: list[str] = field(default_factory=list)     # minimum and maximum
    nulls: list[str] = field(default_factory=list)      # null or not
    carriers: list[str] = field(default_factory=list)   # synthetic unique value where not null
    uniques: list[dict] = field(default_factory=list)   # compound uniqueness specs (duplicated rows kept)
    exact_if_no_carrier: dict[str, list[str]] = field(default_factory=dict)  # column -> carriers


def _plan(frame: _Frame, expectations: list[dict]) -> _Plan | None:
    plan = _Plan()

    def add(target: list[str], column) -> None:
        if frame.has(column) and column not in target:
            target.append(column)

    for spec in expectations:
        kind, kwargs = spec["type"], spec["kwargs"]
        if kwargs.get("mostly", 1) != 1 or kwargs.get("condition_parser") not in (None, "great_expectations"):
            return None
        if kwargs.get("row_condition") is not None:
            columns = _condition_columns(kwargs["row_condition"])
            if columns is None:
                return None
            for column in columns:
                add(plan.keys, column)
        if kind == "expect_column_values_to_be_between":
            add(plan.ranges, kwargs["column"])
        elif kind == "expect_column_values_to_be_in_set":
            add(plan.keys, kwargs["column"])
        elif kind in ("expect_column_values_to_not_be_null", "expect_column_values_to_be_in_type_list"):
            add(plan.nulls, kwargs["column"])   # an integer column with a null has another dtype (Int64)
        elif kind == "expect_compound_columns_to_be_unique":
            if all(frame.has(c) for c in kwargs["column_list"]):
                plan.uniques.append(spec)
        elif kind != "expect_table_columns_to_match_set":
            return None
    plan.ranges = [c for c in plan.ranges if c not in plan.keys]
    for spec in plan.uniques:
        columns = spec["kwargs"]["column_list"]
        carriers = [c for c in columns if frame.types[c].upper() == "VARCHAR" and c not in plan.keys and c not in plan.ranges]
        if not carriers:   # nothing to make representative rows unique with: group on the whole key
            for column in columns:
                add(plan.keys, column)
            plan.ranges = [c for c in plan.ranges if c not in plan.keys]
            continue
        for column in carriers:
            add(plan.carriers, column)
            add(plan.nulls, column)
        for column in columns:
            if column not in carriers and column not in plan.keys:
                plan.exact_if_no_carrier.setdefault(column, [])
                plan.exact_if_no_carrier[column] += [c for c in carriers if c not in plan.exact_if_no_carrier[column]]
    return plan


def _compact_sql(frame: _Frame, plan: _Plan, duplicated: list[dict]) -> str:
    """The compact batch: representative rows per group, then the rows of duplicated keys (for the uniqueness
    rules in `duplicated`), with two helper columns (__count: the group's size; __part)."""
    columns = list(frame.types)
    group, aggregates = [], []
    for i, column in enumerate(plan.keys):
        group.append(f"{_ident(column)} AS k{i}")
    flags = {column: f"n{i}" for i, column in enumerate(c for c in plan.nulls if c not in plan.keys)}
    for column, alias in flags.items():
        group.append(f"{frame.nullish(column)} AS {alias}")
    exact = {}
    for i, (column, carriers) in enumerate(plan.exact_if_no_carrier.items()):
        none = " AND ".join(frame.nullish(c) for c in carriers)
        exact[column] = (f"x{i}", " AND ".join(flags[c] for c in carriers))
        group.append(f"CASE WHEN {none} THEN {frame.clean(column)} END AS x{i}")
    ranges = {column: i for i, column in enumerate(plan.ranges)}
    for column, i in ranges.items():
        aggregates += [f"min({frame.clean(column)}) AS lo{i}", f"max({frame.clean(column)}) AS hi{i}"]
    others = {column: f"a{i}" for i, column in enumerate(columns)
              if column not in plan.keys and column not in ranges and column not in plan.carriers}
    for column, alias in others.items():
        if column in flags:   # checked for nulls: any value of the group (all null, or none)
            aggregates.append(f"any_value({frame.clean(column)}) AS {alias}")
        else:                 # read by no expectation: not read at all
            aggregates.append(f"CAST(NULL AS {frame.types[column]}) AS {alias}")
    aggregates.append("count(*) AS __count")

    def row(side: str) -> str:
        out = []
        for column in columns:
            if column in plan.keys:
                expr = f"k{plan.keys.index(column)}"
            elif column in plan.carriers:
                expr = f"CASE WHEN {flags[column]} THEN NULL ELSE '{SYNTHETIC_PREFIX}{side}' || row_number() OVER () END"
            elif column in ranges:
                expr = f"{'lo' if side == 'min' else 'hi'}{ranges[column]}"
            elif column in flags:
                expr = f"CASE WHEN {flags[column]} THEN NULL ELSE {others[column]} END"
            else:
                expr = others[column]
            if column in exact:
                alias, none = exact[column]
                expr = f"CASE WHEN {none} THEN {alias} ELSE {expr} END"
            out.append(f"{expr} AS {_ident(column)}")
        return ", ".join(out)

    differs = " OR ".join(f"lo{i} IS DISTINCT FROM hi{i}" for i in ranges.values())
    parts = [f"SELECT {row('min')}, __count, 'min' AS __part FROM g"]
    if ranges:
        parts.append(f"SELECT {row('max')}, __count, 'max' AS __part FROM g WHERE __count > 1 AND ({differs})")
    for spec in duplicated:
        keys, on = _duplicate_keys_sql(spec, frame, MAX_DUPLICATE_KEYS)
        parts.append(f"SELECT {replace(frame, alias='f').select()}, NULL::BIGINT AS __count, 'duplicate' AS __part "
                     f"FROM {frame.view} f "
                     f"SEMI JOIN ({keys}) d ON {on}")
    grouped = (f"SELECT {', '.join(group + aggregates)} FROM {frame.view}" + (" GROUP BY ALL" if group else ""))
    return f"WITH g AS MATERIALIZED ({grouped}) " + " UNION ALL ".join(parts)


def _compact_batch(con, frame: _Frame, expectations: list[dict]) -> tuple[pd.DataFrame, int]:
    """(compact batch, rows of the full frame)."""
    plan = _plan(frame, expectations)
    if plan is None:   # an expectation we cannot compact: GX gets the whole frame
        full = con.execute(f"SELECT {frame.select()} FROM {frame.view}").df()
        return _with_dtypes(full, frame), len(full)
    duplicated = [spec for spec in plan.uniques   # (usually none: then the rows need not be read again)
                  if con.execute(f"SELECT count(*) FROM ({_duplicate_keys_sql(spec, frame, 1)[0]})").fetchone()[0]]
    batch = con.execute(_compact_sql(replace(frame, view=frame.lean_view or frame.view), plan, duplicated)).df()
    n_rows = int(batch.loc[batch["__part"] == "min", "__count"].sum())
    batch = batch.drop(columns=["__count", "__part"]).reset_index(drop=True)
    return _with_dtypes(batch, frame), n_rows


def _with_dtypes(batch: pd.DataFrame, frame: _Frame) -> pd.DataFrame:
    for column, dtype in (frame.dtypes or {}).items():
        if column in batch.columns and batch[column].dtype != dtype:
            try:
                batch[column] = batch[column].astype(dtype)
            except (TypeError, ValueError):
                pass   # GX then sees DuckDB's dtype for that column
    return batch


def _failing_rows(con, frame: _Frame, spec: dict, max_rows: int) -> tuple[int, pd.DataFrame]:
    """(exact number of failing rows, the first max_rows of them) in the full frame."""
    if spec["type"] == "expect_compound_columns_to_be_unique":
        keys, on = _duplicate_keys_sql(spec, frame)
        sql = (f"SELECT {replace(frame, alias='f').select()}, count(*) OVER () AS __n FROM {frame.view} f "
               f"SEMI JOIN ({keys}) d ON {on} "
               f"{replace(frame, alias='f').order_by()} LIMIT {max_rows}")
    else:
        sql = (f"SELECT {frame.select()}, count(*) OVER () AS __n FROM {frame.view} WHERE {_predicate_sql(spec, frame)} "
               f"{frame.order_by()} LIMIT {max_rows}")
    rows = con.execute(sql).df()
    n_rows = int(rows["__n"].iloc[0]) if len(rows) else 0
    return n_rows, rows.drop(columns="__n").reset_index(drop=True)


def _run_compact(con, suite_name: str, frame: _Frame, batch: pd.DataFrame, n_rows: int, max_rows: int) -> SuiteOutcome:
    import great_expectations as gx

    suite_spec = load_suite(suite_name)
    specs = {expectation_label(s["type"], s["kwargs"]): s for s in suite_spec["expectations"]}
    context, batch_definition = _gx_context()
    suite = gx.ExpectationSuite(name=suite_spec["name"], expectations=suite_spec["expectations"], meta=suite_spec.get("meta"))
    result = batch_definition.get_batch(batch_parameters={"dataframe": batch}).validate(
        suite, result_format={"result_format": "BASIC"})
    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        label = expectation_label(config.type, config.kwargs)
        spec = specs.get(label)
        details = item.result or {}
        raised = bool(item.exception_info and item.exception_info.get("raised_exception"))
        count, rows = 0, pd.DataFrame(columns=list(frame.types))
        observed = ""
        if spec and not raised and spec["type"] in ROW_LEVEL:
            try:
                count, rows = _failing_rows(con, frame, spec, max_rows)
            except duckdb.Error as exc:
                observed = f"failing rows could not be fetched: {exc}"
        if not count and not observed:
            observed = f"observed {details.get('observed_value', details)}"
        if raised:
            observed = f"could not be evaluated: {item.exception_info.get('exception_message')}"
        failures.append(Failure(expectation=label, rule=(config.meta or {}).get("rule", ""), severity=_severity(config),
                                n_rows=count, rows=rows, observed=observed))
    return SuiteOutcome(suite_name, len(suite_spec["expectations"]), failures, n_rows)


def _unevaluated(suite_name: str, error: Exception) -> SuiteOutcome:
    """A suite whose frame could not be computed (a column missing, say): every expectation fails."""
    spec = load_suite(suite_name)
    failures = [Failure(expectation_label(e["type"], e["kwargs"]), (e.get("meta") or {}).get("rule", ""),
                        e.get("severity", "critical"), 0, pd.DataFrame(), f"could not be evaluated: {error}")
                for e in spec["expectations"]]
    return SuiteOutcome(suite_name, len(spec["expectations"]), failures, 0)


# ---- the frames in SQL (twins of the pandas functions above; tests compare them)

def _register_catalogue(con, prefix: str) -> dict[str, str]:
    indicators = catalogue.indicators()
    regions = catalogue.china_regions()
    documented = catalogue.documented_revisions()
    frames = {
        "ind": indicators[["indicator_id", "min_value", "max_value", "yoy_max_ratio", "additive", "full_coverage"]]
        .reset_index(drop=True),
        "reg": regions[["region_code", "level"]].reset_index(drop=True),
        "doc": pd.DataFrame({"region_code": documented["region_code"].astype(object),
                             "indicator_id": documented["indicator_id"].astype(object),
                             "year": documented["year"].astype("int64"),
                             "first_release": documented["first_release"].astype(object)}).drop_duplicates(),
        "tol": pd.DataFrame([{"indicator_id": k, "kind": kind, "tol": float(tol), "tolerance": f"{kind} {tol}"}
                             for k, (kind, tol) in BULLETIN_TOLERANCE.items()]),
    }
    names = {}
    for key, frame in frames.items():
        names[key] = f"{prefix}{key}"
        con.register(names[key], frame)
    return names


def _precedence_sql(column: str = "release_kind") -> str:
    cases = " ".join(f"WHEN {_literal(kind)} THEN {rank}" for kind, rank in KIND_PRECEDENCE.items())
    return f"(CASE {_ident(column)} {cases} ELSE 0 END)"


def _coverage_sql(src: str, names: dict[str, str], types: dict[str, str]) -> str:
    regions = catalogue.china_regions()
    provinces = sorted(regions.loc[regions["level"] == "province", "region_code"])
    every = "[" + ", ".join(_literal(code) for code in provinces) + "]::VARCHAR[]"
    return f"""
        SELECT indicator_id, year, "release", source_id, n_provinces,
               array_to_string(list_sort(list_filter({every}, lambda x: NOT list_contains(codes, x))), ',') AS missing_provinces
        FROM (SELECT indicator_id, year, "release", source_id, count(DISTINCT region_code) AS n_provinces,
                     list(DISTINCT region_code) AS codes
              FROM {src}
              WHERE indicator_id IN (SELECT indicator_id FROM {names['ind']} WHERE full_coverage)
                AND region_code IN (SELECT region_code FROM {names['reg']} WHERE level = 'province')
                AND year IS NOT NULL AND "release" IS NOT NULL AND source_id IS NOT NULL
              GROUP BY ALL)
        -- the bulletin's regional tables and statisticians' uploads are partial by design
        WHERE NOT (source_id = 'nbs_rd_bulletin' OR starts_with("release", 'upload_'))"""


def _additivity_sql(src: str, names: dict[str, str], types: dict[str, str]) -> str:
    return f"""
        WITH f AS (SELECT s.indicator_id, s.year, s."release", s.region_code, s.value, r.level
                   FROM {src} s LEFT JOIN {names['reg']} r ON r.region_code = s.region_code
                   WHERE s.indicator_id IN (SELECT indicator_id FROM {names['ind']} WHERE additive)
                     AND s.value IS NOT NULL
                     AND (s.region_code = '100000' OR r.level IN ('province', 'sar_or_taiwan'))),
             -- fsum: compensated summation, like pandas' groupby sum (so that both give the same double);
             -- it turns an infinite value into NaN, where the plain sum keeps it infinite as pandas does
             parts AS (SELECT indicator_id, year, "release",
                              CASE WHEN bool_or(isinf(value)) THEN sum(value) ELSE fsum(value) END AS province_sum,
                              count(DISTINCT region_code) AS n_regions,
                              count(DISTINCT region_code) FILTER (WHERE level = 'province') AS n_provinces
                       FROM f WHERE level IN ('province', 'sar_or_taiwan') AND year IS NOT NULL AND "release" IS NOT NULL
                       GROUP BY ALL),
             nat AS (SELECT indicator_id, year, "release", value AS national FROM f WHERE region_code = '100000')
        SELECT p.indicator_id, p.year, p."release", p.province_sum, p.n_regions, p.n_provinces, n.national,
               (p.province_sum - n.national) / n.national AS relative_difference
        FROM parts p JOIN nat n ON n.indicator_id = p.indicator_id AND n.year = p.year AND n."release" = p."release"
        WHERE p.n_provinces = {N_PROVINCES}"""


def _release_key_sql(types: dict[str, str], precedence: bool = True) -> str:
    """releases.release_order as a sortable struct: vintage (unknown = oldest), kind precedence, release id,
    then (validate_all) the frame's row order, which pandas' stable sort keeps among ties."""
    if types.get("vintage", "VARCHAR").upper() == "VARCHAR":
        vintage = "'v': coalesce(vintage, '')"
    else:   # a DATE: compared as such, unknown first (the ISO text pandas compares sorts the same way)
        vintage = "'vn': vintage IS NOT NULL, 'v': vintage"
    rank = f"'p': {_precedence_sql()}, " if precedence else ""
    order = f", 'i': {_ident(ROW_ORDER)}" if ROW_ORDER in types else ""
    return f"""{{{vintage}, {rank}'n': "release" IS NULL, 'r': "release"{order}}}"""


def _current_sql(src: str, types: dict[str, str], lean: bool = False) -> str:
    """The newest release's row per region, indicator and year (releases.newest_per_key: among rows of the same
    release, which the uniqueness rule rejects anyway, the last in frame order; without a frame order, any).
    Lean: the value only (no release, no source_ref to carry through the aggregation)."""
    key = _release_key_sql(types)
    more = "" if lean else f"""arg_max_null("release", {key}) AS "release", arg_max_null(source_ref, {key}) AS source_ref, """
    return f"""
        SELECT region_code, indicator_id, year, {more}arg_max_null(value, {key}) AS value
        FROM {src} GROUP BY region_code, indicator_id, year"""


def _yoy_sql(src: str, names: dict[str, str], types: dict[str, str]) -> str:
    """yoy_frame: each current value against the previous current value, when that is of the year before."""
    return f"""
        SELECT c.region_code, c.indicator_id, c.year, c."release", c.previous_value, c.value,
               c.value / c.previous_value - 1 AS change_ratio, i.yoy_max_ratio AS bound,
               coalesce(abs(c.value / c.previous_value - 1) <= i.yoy_max_ratio, FALSE) AS within_bound, c.source_ref
        FROM (SELECT *, lag(value) OVER w AS previous_value, lag(year) OVER w AS previous_year
              FROM ({_current_sql(src, types)})
              WHERE value IS NOT NULL AND region_code IS NOT NULL AND indicator_id IS NOT NULL AND year IS NOT NULL
              WINDOW w AS (PARTITION BY region_code, indicator_id ORDER BY year)) c
        LEFT JOIN {names['ind']} i ON i.indicator_id = c.indicator_id
        WHERE c.previous_year = c.year - 1 AND c.previous_value > 0"""


def _yoy_lean_sql(src: str, names: dict[str, str], types: dict[str, str]) -> str:
    """The same rows as _yoy_sql with release and source_ref left empty (what the compact batch needs;
    about half the time of the full frame at 10 M rows)."""
    return f"""
        WITH c AS MATERIALIZED (SELECT * FROM ({_current_sql(src, types, lean=True)})
                   WHERE value IS NOT NULL AND region_code IS NOT NULL AND indicator_id IS NOT NULL AND year IS NOT NULL)
        SELECT c.region_code, c.indicator_id, c.year, CAST(NULL AS {types.get('release', 'VARCHAR')}) AS "release",
               p.value AS previous_value, c.value, c.value / p.value - 1 AS change_ratio, i.yoy_max_ratio AS bound,
               coalesce(abs(c.value / p.value - 1) <= i.yoy_max_ratio, FALSE) AS within_bound,
               CAST(NULL AS {types.get('source_ref', 'VARCHAR')}) AS source_ref
        FROM c JOIN c AS p ON p.region_code = c.region_code AND p.indicator_id = c.indicator_id AND p.year = c.year - 1
        LEFT JOIN {names['ind']} i ON i.indicator_id = c.indicator_id
        WHERE p.value > 0"""


def _bulletin_sql(src: str, names: dict[str, str], types: dict[str, str]) -> str:
    same = " AND ".join(f"y.{c} IS NOT DISTINCT FROM b.{c}" for c in ("region_code", "indicator_id", "year"))
    key = _release_key_sql(types, precedence=False)   # yearbooks only: the same precedence
    return f"""
        WITH b AS (SELECT * FROM {src} WHERE source_id = 'nbs_rd_bulletin'),
             y AS (SELECT region_code, indicator_id, year,
                          arg_min_null({{'value': value, 'release': "release", 'source_ref': source_ref}}, {key}) AS k
                   FROM {src} WHERE release_kind = 'yearbook' GROUP BY region_code, indicator_id, year),
             j AS (SELECT b.region_code, b.indicator_id, b.year, b."release" AS first_release, b.value AS first_release_value,
                          y.k."release" AS yearbook_release, y.k.value AS yearbook_value, y.k.value - b.value AS difference,
                          t.tolerance, t.kind, t.tol, b.obs_status, b.note,
                          b.source_ref AS first_release_ref, y.k.source_ref AS yearbook_ref,
                          d.region_code IS NOT NULL AS listed
                   FROM b JOIN y ON {same}
                   LEFT JOIN {names['tol']} t ON t.indicator_id = b.indicator_id
                   LEFT JOIN {names['doc']} d ON d.region_code = b.region_code AND d.indicator_id = b.indicator_id
                                             AND d.year = b.year AND d.first_release = b."release")
        SELECT region_code, indicator_id, year, first_release, first_release_value, yearbook_release, yearbook_value,
               difference, tolerance,
               CASE WHEN coalesce((CASE kind WHEN 'abs' THEN abs(difference)
                                             ELSE abs(difference) / abs(first_release_value) END) <= tol + 1e-12, FALSE)
                    THEN 'agrees'
                    WHEN coalesce(obs_status = 'p', FALSE) OR coalesce(contains(note, 'revised'), FALSE) OR listed
                    THEN 'documented_revision'
                    ELSE 'undocumented_difference' END AS verdict,
               first_release_ref, yearbook_ref
        FROM j"""


GROUP_SQL = {"coverage": _coverage_sql, "additivity": _additivity_sql, "year_on_year": _yoy_sql,
             "bulletin_agreement": _bulletin_sql}
LEAN_SQL = {"year_on_year": _yoy_lean_sql}   # the same frame without the columns no expectation reads


def _source(con, relation: str) -> tuple[str, dict[str, str], str | None]:
    """(SQL of the relation with NaN values as nulls, as pandas and GX take them; its column types; the
    column giving the row order). The row order is ROW_ORDER where validate_all added it, else a table's
    rowid (its insertion order), else none (a view)."""
    types = _describe(con, relation)
    extra, row_order = "", None
    if ROW_ORDER in types:
        row_order = ROW_ORDER
    else:
        try:
            con.execute(f"SELECT rowid FROM {relation} LIMIT 0").fetchall()
            extra, row_order = f", rowid AS {_ident(ROW_ORDER)}", ROW_ORDER
        except duckdb.Error:
            pass
    star = "*"
    if "value" in types and types["value"].upper() in _FLOAT_TYPES:
        star = "* REPLACE (CASE WHEN isnan(value) THEN NULL ELSE value END AS value)"
    full = {**types, **({ROW_ORDER: "BIGINT"} if extra else {})}
    return f"SELECT {star}{extra} FROM {relation}", full, row_order


def _describe(con, relation: str) -> dict[str, str]:
    return {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


def _validate(con, relation: str, suites: list[str], dtypes: dict | None = None, max_rows: int | None = None,
              first_releases: tuple[str, ...] = ()) -> list[SuiteOutcome]:
    max_rows = MAX_FAILING_ROWS if max_rows is None else max_rows
    _prepare_gx_in_background()
    prefix = f"_sti_gx_{uuid.uuid4().hex[:12]}_"
    views, registered = [], []
    try:
        source_sql, types, row_order = _source(con, relation)
        src = f"{prefix}src"
        con.execute(f"CREATE TEMP VIEW {src} AS {source_sql}")
        views.append(src)
        names = _register_catalogue(con, prefix)
        registered += list(names.values())
        wanted: dict[str, list[str]] = {}
        for suite in suites:
            wanted.setdefault(SUITE_FRAMES[suite], []).append(suite)
        outcomes = {}
        for frame_name, frame_suites in wanted.items():
            try:
                if frame_name == OBSERVATIONS_FRAME:
                    frame = _Frame(frame_name, src, {c: t for c, t in types.items() if c != row_order}, dtypes=dtypes,
                                   first_releases=first_releases)
                else:
                    view = f"{prefix}{frame_name}"
                    con.execute(f"CREATE TEMP VIEW {view} AS {GROUP_SQL[frame_name](src, names, types)}")
                    views.append(view)
                    frame = _Frame(frame_name, view, _describe(con, view), first_releases=first_releases)
                    if frame_name in LEAN_SQL:
                        lean = f"{prefix}{frame_name}_lean"
                        con.execute(f"CREATE TEMP VIEW {lean} AS {LEAN_SQL[frame_name](src, names, types)}")
                        views.append(lean)
                        frame.lean_view = lean
                expectations = [e for s in frame_suites for e in load_suite(s)["expectations"]]
                batch, n_rows = _compact_batch(con, frame, expectations)
            except duckdb.Error as exc:
                for suite in frame_suites:
                    outcomes[suite] = _unevaluated(suite, exc)
                continue
            for suite in frame_suites:
                outcomes[suite] = _run_compact(con, suite, frame, batch, n_rows, max_rows)
        return [outcomes[suite] for suite in suites]
    finally:
        for view in reversed(views):
            con.execute(f"DROP VIEW IF EXISTS {view}")
        for name in registered:
            con.unregister(name)


def validate_all(observations: pd.DataFrame, suites: list[str] | None = None, *,
                 first_releases: Iterable[str] = (), max_rows: int | None = None) -> list[SuiteOutcome]:
    """The suites (all six, or those named) on a pandas frame: registered in an in-memory DuckDB, then
    validated as `validate_relation` does, the compact batches with the frame's own dtypes.

    A frame DuckDB would read otherwise than pandas holds it (an object column with other values than
    text, which DuckDB turns into text) is validated the old way, the whole frame through GX's pandas
    datasource: such a frame fails the type rules anyway, and this keeps the details of the failure."""
    names = list(suites or SUITE_FRAMES)
    if not all(pd.api.types.infer_dtype(observations[c], skipna=True) in ("string", "empty")
               for c in observations.columns if observations[c].dtype == object):
        return [run_suite(name, GROUP_FRAMES[name](observations)) for name in names]
    con = duckdb.connect()
    try:
        try:   # with the row order, which breaks ties between rows of the same release as pandas does
            con.register("candidate_observations", observations.assign(**{ROW_ORDER: np.arange(len(observations))}))
            con.execute("DESCRIBE SELECT * FROM candidate_observations").fetchall()
        except (duckdb.Error, TypeError, ValueError):
            return [run_suite(name, GROUP_FRAMES[name](observations)) for name in names]
        return _validate(con, "candidate_observations", names, dtypes=dict(observations.dtypes),
                         first_releases=tuple(first_releases), max_rows=max_rows)
    finally:
        con.close()


def validate_relation(con: duckdb.DuckDBPyConnection, relation: str, suites: list[str] | None = None, *,
                      first_releases: Iterable[str] = (), max_rows: int | None = None) -> list[SuiteOutcome]:
    """The suites (all six, or those named) on data already in DuckDB.

    `relation`: a table or view name (or any FROM item) with the candidate columns, CANDIDATE_COLUMNS, typed
    as the candidate frame is (year BIGINT, value DOUBLE: the type expectations check them). Failing rows of
    `first_releases` (the releases being loaded) are listed first; each failure lists at most `max_rows`
    rows (MAX_FAILING_ROWS) and counts them all. Between rows of the same key and release (which fail the
    uniqueness rule anyway) a table's row order decides which is current, as in pandas; in a view, any.
    Only temporary views and registered catalogue frames are created in `con`, and dropped again, so a
    read-only connection will do."""
    return _validate(con, relation, list(suites or SUITE_FRAMES), first_releases=tuple(first_releases),
                     max_rows=max_rows)


def bulletin_agreement_sql(con: duckdb.DuckDBPyConnection, relation: str) -> pd.DataFrame:
    """bulletin_agreement_frame in SQL, for observations already in DuckDB (same rows, same order on a
    candidate frame sorted like steps.candidate_observations)."""
    prefix = f"_sti_ba_{uuid.uuid4().hex[:12]}_"
    names = _register_catalogue(con, prefix)
    src = f"{prefix}src"
    try:
        source_sql, types, _ = _source(con, relation)
        con.execute(f"CREATE TEMP VIEW {src} AS {source_sql}")
        return con.execute(f"SELECT * FROM ({_bulletin_sql(src, names, types)}) "
                           f"ORDER BY indicator_id, region_code, year, first_release").df()
    finally:
        con.execute(f"DROP VIEW IF EXISTS {src}")
        for name in names.values():
            con.unregister(name)


if __name__ == "__main__":
    if "--write-suites" in sys.argv:
        for path in write_suites():
            print(path)
