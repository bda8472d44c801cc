"""The group frames in DuckDB SQL: twins of the pandas functions in sti_portal/quality/frames.py (the tests
compare them), computed where the data are, with the catalogue registered beside them.
"""

from __future__ import annotations

import math

import duckdb
import pandas as pd

from sti_portal.core import catalogue
from sti_portal.core.releases import KIND_PRECEDENCE
from sti_portal.quality.suites import N_PROVINCES
from sti_portal.transform.release_differences import (
    BULLETIN_PRINTED_HALF_STEP_YIYUAN,
    BULLETIN_TOLERANCE,
    ROUNDING_INDICATORS,
    tolerance_label,
)

ROW_ORDER = "__sti_row_order"  # validate_all: the frame's row order (not one of the frame's columns)
FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8"}


def ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def literal(value) -> str:
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


def register_catalogue(con, prefix: str) -> dict[str, str]:
    indicators = catalogue.indicators()
    regions = catalogue.china_regions()
    documented = catalogue.documented_revisions()
    frames = {
        "ind": indicators[
            ["indicator_id", "min_value", "max_value", "yoy_max_ratio", "additive", "full_coverage"]
        ].reset_index(drop=True),
        "reg": regions[["region_code", "level"]].reset_index(drop=True),
        "doc": pd.DataFrame(
            {
                "region_code": documented["region_code"].astype(object),
                "indicator_id": documented["indicator_id"].astype(object),
                "year": documented["year"].astype("int64"),
                "first_release": documented["first_release"].astype(object),
            }
        ).drop_duplicates(),
        "tol": pd.DataFrame(
            [
                {
                    "indicator_id": k,
                    "kind": kind,
                    "tol": float(tol),
                    "tolerance": tolerance_label(k),
                    "half_step": BULLETIN_PRINTED_HALF_STEP_YIYUAN if k in ROUNDING_INDICATORS else -1.0,
                }
                for k, (kind, tol) in BULLETIN_TOLERANCE.items()
            ]
        ),
    }
    names = {}
    for key, frame in frames.items():
        names[key] = f"{prefix}{key}"
        con.register(names[key], frame)
    return names


def precedence_sql(column: str = "release_kind") -> str:
    cases = " ".join(f"WHEN {literal(kind)} THEN {rank}" for kind, rank in KIND_PRECEDENCE.items())
    return f"(CASE {ident(column)} {cases} ELSE 0 END)"


def _coverage_sql(src: str, names: dict[str, str], types: dict[str, str]) -> str:
    regions = catalogue.china_regions()
    provinces = sorted(regions.loc[regions["level"] == "province", "region_code"])
    every = "[" + ", ".join(literal(code) for code in provinces) + "]::VARCHAR[]"
    return f"""
        SELECT indicator_id, year, "release", source_id, n_provinces,
               array_to_string(list_sort(list_filter({every}, lambda x: NOT list_contains(codes, x))), ',') AS missing_provinces
        FROM (SELECT indicator_id, year, "release", source_id, count(DISTINCT region_code) AS n_provinces,
                     list(DISTINCT region_code) AS codes
              FROM {src}
              WHERE indicator_id IN (SELECT indicator_id FROM {names["ind"]} WHERE full_coverage)
                AND region_code IN (SELECT region_code FROM {names["reg"]} WHERE level = 'province')
                AND year IS NOT NULL AND "release" IS NOT NULL AND source_id IS NOT NULL
              GROUP BY ALL)
        -- the bulletin's regional tables and statisticians' uploads are partial by design
        WHERE NOT (source_id = 'nbs_rd_bulletin' OR starts_with("release", 'upload_'))"""


def _additivity_sql(src: str, names: dict[str, str], types: dict[str, str]) -> str:
    return f"""
        WITH f AS (SELECT s.indicator_id, s.year, s."release", s.region_code, s.value, r.level
                   FROM {src} s LEFT JOIN {names["reg"]} r ON r.region_code = s.region_code
                   WHERE s.indicator_id IN (SELECT indicator_id FROM {names["ind"]} WHERE additive)
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
    else:  # a DATE: compared as such, unknown first (the ISO text pandas compares sorts the same way)
        vintage = "'vn': vintage IS NOT NULL, 'v': vintage"
    rank = f"'p': {precedence_sql()}, " if precedence else ""
    order = f", 'i': {ident(ROW_ORDER)}" if ROW_ORDER in types else ""
    return f"""{{{vintage}, {rank}'n': "release" IS NULL, 'r': "release"{order}}}"""


def _current_sql(src: str, types: dict[str, str], lean: bool = False) -> str:
    """The newest release's row per region, indicator and year (releases.newest_per_key: among rows of the same
    release, which the uniqueness rule rejects anyway, the last in frame order; without a frame order, any).
    Lean: the value only (no release, no source_ref to carry through the aggregation)."""
    key = _release_key_sql(types)
    more = (
        ""
        if lean
        else f"""arg_max_null("release", {key}) AS "release", arg_max_null(source_ref, {key}) AS source_ref, """
    )
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
        LEFT JOIN {names["ind"]} i ON i.indicator_id = c.indicator_id
        WHERE c.previous_year = c.year - 1 AND c.previous_value > 0"""


def _yoy_lean_sql(src: str, names: dict[str, str], types: dict[str, str]) -> str:
    """The same rows as _yoy_sql with release and source_ref left empty (what the compact batch needs;
    about half the time of the full frame at 10 M rows)."""
    return f"""
        WITH c AS MATERIALIZED (SELECT * FROM ({_current_sql(src, types, lean=True)})
                   WHERE value IS NOT NULL AND region_code IS NOT NULL AND indicator_id IS NOT NULL AND year IS NOT NULL)
        SELECT c.region_code, c.indicator_id, c.year, CAST(NULL AS {types.get("release", "VARCHAR")}) AS "release",
               p.value AS previous_value, c.value, c.value / p.value - 1 AS change_ratio, i.yoy_max_ratio AS bound,
               coalesce(abs(c.value / p.value - 1) <= i.yoy_max_ratio, FALSE) AS within_bound,
               CAST(NULL AS {types.get("source_ref", "VARCHAR")}) AS source_ref
        FROM c JOIN c AS p ON p.region_code = c.region_code AND p.indicator_id = c.indicator_id AND p.year = c.year - 1
        LEFT JOIN {names["ind"]} i ON i.indicator_id = c.indicator_id
        WHERE p.value > 0"""


def bulletin_sql(src: str, names: dict[str, str], types: dict[str, str]) -> str:
    same = " AND ".join(f"y.{c} IS NOT DISTINCT FROM b.{c}" for c in ("region_code", "indicator_id", "year"))
    key = _release_key_sql(types, precedence=False)  # yearbooks only: the same precedence
    return f"""
        WITH b AS (SELECT * FROM {src} WHERE source_id = 'nbs_rd_bulletin'),
             y AS (SELECT region_code, indicator_id, year,
                          arg_min_null({{'value': value, 'release': "release", 'source_ref': source_ref}}, {key}) AS k
                   FROM {src} WHERE release_kind = 'yearbook' GROUP BY region_code, indicator_id, year),
             j AS (SELECT b.region_code, b.indicator_id, b.year, b."release" AS first_release, b.value AS first_release_value,
                          y.k."release" AS yearbook_release, y.k.value AS yearbook_value, y.k.value - b.value AS difference,
                          t.tolerance, t.kind, t.tol, t.half_step, b.obs_status, b.note,
                          b.source_ref AS first_release_ref, y.k.source_ref AS yearbook_ref,
                          d.region_code IS NOT NULL AS listed
                   FROM b JOIN y ON {same}
                   LEFT JOIN {names["tol"]} t ON t.indicator_id = b.indicator_id
                   LEFT JOIN {names["doc"]} d ON d.region_code = b.region_code AND d.indicator_id = b.indicator_id
                                             AND d.year = b.year AND d.first_release = b."release")
        SELECT region_code, indicator_id, year, first_release, first_release_value, yearbook_release, yearbook_value,
               difference, tolerance,
               CASE WHEN coalesce((CASE kind WHEN 'abs' THEN abs(difference)
                                             ELSE abs(difference) / abs(first_release_value) END) <= tol + 1e-12, FALSE)
                         OR coalesce(abs(difference) <= half_step + 1e-9, FALSE)
                    THEN 'agrees'
                    WHEN coalesce(obs_status = 'p', FALSE) OR coalesce(contains(note, 'revised'), FALSE) OR listed
                    THEN 'documented_revision'
                    ELSE 'undocumented_difference' END AS verdict,
               first_release_ref, yearbook_ref
        FROM j"""


GROUP_SQL = {
    "coverage": _coverage_sql,
    "additivity": _additivity_sql,
    "year_on_year": _yoy_sql,
    "bulletin_agreement": bulletin_sql,
}
LEAN_SQL = {"year_on_year": _yoy_lean_sql}  # the same frame without the columns no expectation reads


def nan_free_source(con, relation: str) -> tuple[str, dict[str, str], str | None]:
    """(SQL of the relation with NaN values as nulls, as pandas and GX take them; its column types; the
    column giving the row order). The row order is ROW_ORDER where validate_all added it, else a table's
    rowid (its insertion order), else none (a view)."""
    types = describe(con, relation)
    extra, row_order = "", None
    if ROW_ORDER in types:
        row_order = ROW_ORDER
    else:
        try:
            con.execute(f"SELECT rowid FROM {relation} LIMIT 0").fetchall()
            extra, row_order = f", rowid AS {ident(ROW_ORDER)}", ROW_ORDER
        except duckdb.Error:
            pass
    star = "*"
    if "value" in types and types["value"].upper() in FLOAT_TYPES:
        star = "* REPLACE (CASE WHEN isnan(value) THEN NULL ELSE value END AS value)"
    full = {**types, **({ROW_ORDER: "BIGINT"} if extra else {})}
    return f"SELECT {star}{extra} FROM {relation}", full, row_order


def describe(con, relation: str) -> dict[str, str]:
    return {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}
