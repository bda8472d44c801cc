"""Validation with Great Expectations 1.x.

Rules live as GX suite files in expectations/ (generated from the indicator catalogue by
`python -m sti_portal.validate --write-suites` and committed, so a change of rule shows in review).
Some rules are about groups of rows (coverage, additivity, year-on-year change, first release versus
yearbook); for those we compute a small frame with one row per group and let GX validate that frame,
so every rule is still a GX expectation with a GX result.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from sti_portal import catalogue
from sti_portal.config import EXPECTATIONS_DIR
from sti_portal.releases import KIND_PRECEDENCE, OBSERVATION_KEY, newest_per_key, release_order

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


@lru_cache(maxsize=1)
def _gx_context():
    import great_expectations as gx

    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("sti")
    asset = source.add_dataframe_asset("frame")
    return context, asset.add_batch_definition_whole_dataframe("whole")


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


def validate_all(observations: pd.DataFrame) -> list[SuiteOutcome]:
    return [run_suite(name, make_frame(observations)) for name, make_frame in GROUP_FRAMES.items()]


if __name__ == "__main__":
    if "--write-suites" in sys.argv:
        for path in write_suites():
            print(path)
