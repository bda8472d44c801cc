"""The GX suites as files: generated from the indicator catalogue into expectations/*.json.

`python -m sti_portal.quality.suites --write-suites` writes them; they are committed, so a change of rule
shows in review (tests/test_build.py fails when a file is stale).
"""

from __future__ import annotations

import json
import sys

from sti_portal.core import catalogue
from sti_portal.core.releases import KIND_PRECEDENCE, OBSERVATION_COLUMNS, OBSERVATION_KEY
from sti_portal.core.settings import EXPECTATIONS_DIR
from sti_portal.transform.release_differences import BULLETIN_TOLERANCE, tolerance_label

N_PROVINCES = 31
FIRST_DATA_YEAR = 1990
LAST_DATA_YEAR = 2100  # the upload checks compare with today's date; the suite only catches typos like 20233
ADDITIVITY_REL_TOLERANCE = 0.01
OBS_STATUS_CODES = ["", "p", "e", "b", "m", "u", "d", "c"]
CANDIDATE_COLUMNS = OBSERVATION_COLUMNS
OBSERVATIONS_FRAME = "observations"
SUITE_FRAMES = {
    "observations": OBSERVATIONS_FRAME,
    "value_ranges": OBSERVATIONS_FRAME,
    "coverage": "coverage",
    "additivity": "additivity",
    "year_on_year": "year_on_year",
    "bulletin_agreement": "bulletin_agreement",
}


def _expect(kind: str, severity: str = "critical", meta: dict | None = None, **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs, "meta": meta or {}, "severity": severity}


def _where(column: str, operator: str, parameter) -> dict:
    """A GX 1.x row condition (the serialised form of `Column(column) <operator> parameter`)."""
    return {"type": "comparison", "column": {"name": column}, "operator": operator, "parameter": parameter}


def suite_definitions() -> dict[str, dict]:
    indicators = catalogue.indicators()
    return {
        "observations": {
            "name": "observations",
            "meta": {"about": "schema, types and keys of every candidate observation (all releases)"},
            "expectations": _observation_rules(indicators),
        },
        "value_ranges": {
            "name": "value_ranges",
            "meta": {"about": "plausible range per indicator, in its catalogue unit"},
            "expectations": _value_range_rules(indicators),
        },
        **_group_suites(),
    }


def _observation_rules(indicators) -> list[dict]:
    return [
        _expect("expect_table_columns_to_match_set", column_set=CANDIDATE_COLUMNS, exact_match=True),
        *[
            _expect("expect_column_values_to_not_be_null", column=col)
            for col in ("region_code", "indicator_id", "year", "release", "source_id", "source_ref")
        ],
        _expect("expect_column_values_to_be_in_type_list", column="value", type_list=["float64", "Float64"]),
        _expect("expect_column_values_to_be_in_type_list", column="year", type_list=["int64", "Int64"]),
        _expect(
            "expect_column_values_to_be_between", column="year", min_value=FIRST_DATA_YEAR, max_value=LAST_DATA_YEAR
        ),
        _expect("expect_column_values_to_be_in_set", column="indicator_id", value_set=sorted(indicators.index)),
        _expect("expect_column_values_to_be_in_set", column="obs_status", value_set=OBS_STATUS_CODES),
        _expect("expect_column_values_to_be_in_set", column="release_kind", value_set=sorted(KIND_PRECEDENCE)),
        _expect(
            "expect_compound_columns_to_be_unique",
            column_list=[*OBSERVATION_KEY, "release"],
            meta={"rule": "one value per region, indicator, year and release"},
        ),
        _expect(
            "expect_column_values_to_not_be_null",
            column="value",
            row_condition=_where("obs_status", "!=", "m"),
            meta={"rule": "only values flagged m (missing) may be empty"},
        ),
    ]


def _value_range_rules(indicators) -> list[dict]:
    return [
        _expect(
            "expect_column_values_to_be_between",
            column="value",
            min_value=float(row.min_value),
            max_value=float(row.max_value),
            row_condition=_where("indicator_id", "==", row.indicator_id),
            meta={"rule": f"{row.indicator_id} must lie within {row.min_value:g}-{row.max_value:g} {row.unit}"},
        )
        for row in indicators.itertuples()
    ]


def _group_suites() -> dict[str, dict]:
    """The suites on the group frames (one row per group: sti_portal/quality/frames.py)."""
    return {
        "coverage": {
            "name": "coverage",
            "meta": {"about": "every table that covers provinces covers all 31 in each year and release"},
            "expectations": [
                _expect(
                    "expect_column_values_to_be_between",
                    column="n_provinces",
                    min_value=N_PROVINCES,
                    max_value=N_PROVINCES,
                )
            ],
        },
        "additivity": {
            "name": "additivity",
            "meta": {
                "about": f"provinces sum to the national total within {ADDITIVITY_REL_TOLERANCE:.0%} for additive indicators"
            },
            "expectations": [
                _expect(
                    "expect_column_values_to_be_between",
                    column="relative_difference",
                    min_value=-ADDITIVITY_REL_TOLERANCE,
                    max_value=ADDITIVITY_REL_TOLERANCE,
                )
            ],
        },
        "year_on_year": {
            "name": "year_on_year",
            "meta": {
                "about": "year-on-year change beyond the indicator's bound is flagged for a statistician to look at"
            },
            "expectations": [
                _expect(
                    "expect_column_values_to_be_in_set", severity="warning", column="within_bound", value_set=[True]
                )
            ],
        },
        "bulletin_agreement": {
            "name": "bulletin_agreement",
            "meta": {
                "about": "first-release bulletin figures agree with the first yearbook edition, or the difference is a documented revision",
                "tolerances": {k: tolerance_label(k) for k in BULLETIN_TOLERANCE},
            },
            "expectations": [
                _expect(
                    "expect_column_values_to_be_in_set", column="verdict", value_set=["agrees", "documented_revision"]
                )
            ],
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


def main(argv: list[str]) -> int:
    if "--write-suites" not in argv:
        print(
            "usage: python -m sti_portal.quality.suites --write-suites\n"
            "  writes expectations/*.json from catalogue/indicators.csv (从指标目录生成校验规则文件)",
            file=sys.stderr,
        )
        return 2
    for path in write_suites():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
