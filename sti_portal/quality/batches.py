"""Compact batches: the few rows on which each expectation fails iff it fails on the full frame (see the
docstring of sti_portal/quality/validate.py), and the failing rows, fetched from the full frame by SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from sti_portal.quality.sql_frames import FLOAT_TYPES, ident, literal
from sti_portal.quality.suites import OBSERVATIONS_FRAME

MAX_DUPLICATE_KEYS = 1_000  # duplicated keys whose rows go into a compact batch
FRAME_ORDER = {
    OBSERVATIONS_FRAME: ["indicator_id", "region_code", "year", "release"],
    "coverage": ["indicator_id", "year", "release", "source_id"],
    "additivity": ["indicator_id", "year", "release"],
    "year_on_year": ["region_code", "indicator_id", "year"],
    "bulletin_agreement": ["indicator_id", "region_code", "year", "first_release"],
}
SYNTHETIC_PREFIX = "\x01sti-compact:"  # representative rows' key values: no real code or release looks like it
ROW_LEVEL = {
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_null",
    "expect_compound_columns_to_be_unique",
}


@dataclass
class Frame:
    """A frame as a (temporary) view in the connection: the rows GX would see, in SQL."""

    name: str
    view: str
    types: dict[str, str]  # column -> DuckDB type, in the frame's order
    lean_view: str | None = None  # the same rows, but only the columns the expectations read
    dtypes: dict | None = None  # pandas dtypes for the compact batch (validate_all: the frame's)
    alias: str = ""  # table alias to qualify column names with
    first_releases: tuple[str, ...] = ()  # failing rows of these releases are listed first

    def col(self, column: str) -> str:
        return f"{self.alias}.{ident(column)}" if self.alias else ident(column)

    def is_float(self, column: str) -> bool:
        return self.types[column].upper() in FLOAT_TYPES

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
            listed = ", ".join(literal(r) for r in self.first_releases)
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


def _condition_sql(condition: dict, frame: Frame) -> str:
    """A GX row condition with pandas' DataFrame.query semantics (a null compares unequal to everything)."""
    kind = condition["type"]
    if kind in ("and", "or"):
        return "(" + f" {kind.upper()} ".join(_condition_sql(c, frame) for c in condition["conditions"]) + ")"
    column = condition["column"]["name"]
    if kind == "nullity":
        return frame.nullish(column) if condition.get("is_null", True) else f"NOT {frame.nullish(column)}"
    col, op, parameter = frame.clean(column), condition["operator"], condition["parameter"]
    if op in ("IN", "NOT_IN"):
        inside = f"coalesce({col} IN ({', '.join(literal(v) for v in parameter)}), FALSE)" if parameter else "FALSE"
        return inside if op == "IN" else f"NOT {inside}"
    if op == "!=":
        return f"({col} IS DISTINCT FROM {literal(parameter)})"
    return f"coalesce({col} {'=' if op == '==' else op} {literal(parameter)}, FALSE)"


def _predicate_sql(spec: dict, frame: Frame) -> str:
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
                parts.append(f"{col} NOT IN ({', '.join(literal(v) for v in values)})")
        else:  # between
            inside = []
            if kwargs.get("min_value") is not None:
                inside.append(f"{col} {'>' if kwargs.get('strict_min') else '>='} {literal(kwargs['min_value'])}")
            if kwargs.get("max_value") is not None:
                inside.append(f"{col} {'<' if kwargs.get('strict_max') else '<='} {literal(kwargs['max_value'])}")
            if inside:
                parts.append(f"NOT ({' AND '.join(inside)})")
    return " AND ".join(parts)


def _duplicate_keys_sql(spec: dict, frame: Frame, limit: int | None = None) -> tuple[str, str]:
    """(keys occurring more than once, the ON clause joining rows `f` to them `d`) for a compound uniqueness
    rule; rows GX ignores (ignore_row_if, default: every key column missing) are left out as GX does."""
    kwargs = spec["kwargs"]
    columns = list(kwargs["column_list"])
    ignore = kwargs.get("ignore_row_if", "all_values_are_missing")

    def kept(f: Frame) -> list[str]:
        where = []
        if ignore == "all_values_are_missing":
            where.append("NOT (" + " AND ".join(f.nullish(c) for c in columns) + ")")
        elif ignore == "any_value_is_missing":
            where.append("NOT (" + " OR ".join(f.nullish(c) for c in columns) + ")")
        if kwargs.get("row_condition") is not None:
            where.append(_condition_sql(kwargs["row_condition"], f))
        return where

    where = kept(frame)
    keys = (
        f"SELECT {', '.join(ident(c) for c in columns)} FROM {frame.view} "
        f"{'WHERE ' + ' AND '.join(where) if where else ''} GROUP BY ALL HAVING count(*) > 1"
        + (f" LIMIT {limit}" if limit else "")
    )
    on = [f"f.{ident(c)} IS NOT DISTINCT FROM d.{ident(c)}" for c in columns] + kept(replace(frame, alias="f"))
    return keys, " AND ".join(on)


@dataclass
class _Plan:
    """What a compact batch keeps of each column (see the module docstring)."""

    keys: list[str] = field(default_factory=list)  # exact values
    ranges: list[str] = field(default_factory=list)  # minimum and maximum
    nulls: list[str] = field(default_factory=list)  # null or not
    carriers: list[str] = field(default_factory=list)  # synthetic unique value where not null
    uniques: list[dict] = field(default_factory=list)  # compound uniqueness specs (duplicated rows kept)
    exact_if_no_carrier: dict[str, list[str]] = field(default_factory=dict)  # column -> carriers


def _plan(frame: Frame, expectations: list[dict]) -> _Plan | None:
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
            add(plan.nulls, kwargs["column"])  # an integer column with a null has another dtype (Int64)
        elif kind == "expect_compound_columns_to_be_unique":
            if all(frame.has(c) for c in kwargs["column_list"]):
                plan.uniques.append(spec)
        elif kind != "expect_table_columns_to_match_set":
            return None
    plan.ranges = [c for c in plan.ranges if c not in plan.keys]
    for spec in plan.uniques:
        columns = spec["kwargs"]["column_list"]
        carriers = [
            c for c in columns if frame.types[c].upper() == "VARCHAR" and c not in plan.keys and c not in plan.ranges
        ]
        if not carriers:  # nothing to make representative rows unique with: group on the whole key
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


def _compact_sql(frame: Frame, plan: _Plan, duplicated: list[dict]) -> str:
    """The compact batch: representative rows per group, then the rows of duplicated keys (for the uniqueness
    rules in `duplicated`), with two helper columns (__count: the group's size; __part)."""
    columns = list(frame.types)
    group, aggregates = [], []
    for i, column in enumerate(plan.keys):
        group.append(f"{ident(column)} AS k{i}")
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
    others = {
        column: f"a{i}"
        for i, column in enumerate(columns)
        if column not in plan.keys and column not in ranges and column not in plan.carriers
    }
    for column, alias in others.items():
        if column in flags:  # checked for nulls: any value of the group (all null, or none)
            aggregates.append(f"any_value({frame.clean(column)}) AS {alias}")
        else:  # read by no expectation: not read at all
            aggregates.append(f"CAST(NULL AS {frame.types[column]}) AS {alias}")
    aggregates.append("count(*) AS __count")

    def row(side: str) -> str:
        out = []
        for column in columns:
            if column in plan.keys:
                expr = f"k{plan.keys.index(column)}"
            elif column in plan.carriers:
                expr = (
                    f"CASE WHEN {flags[column]} THEN NULL ELSE '{SYNTHETIC_PREFIX}{side}' || row_number() OVER () END"
                )
            elif column in ranges:
                expr = f"{'lo' if side == 'min' else 'hi'}{ranges[column]}"
            elif column in flags:
                expr = f"CASE WHEN {flags[column]} THEN NULL ELSE {others[column]} END"
            else:
                expr = others[column]
            if column in exact:
                alias, none = exact[column]
                expr = f"CASE WHEN {none} THEN {alias} ELSE {expr} END"
            out.append(f"{expr} AS {ident(column)}")
        return ", ".join(out)

    differs = " OR ".join(f"lo{i} IS DISTINCT FROM hi{i}" for i in ranges.values())
    parts = [f"SELECT {row('min')}, __count, 'min' AS __part FROM g"]
    if ranges:
        parts.append(f"SELECT {row('max')}, __count, 'max' AS __part FROM g WHERE __count > 1 AND ({differs})")
    for spec in duplicated:
        keys, on = _duplicate_keys_sql(spec, frame, MAX_DUPLICATE_KEYS)
        parts.append(
            f"SELECT {replace(frame, alias='f').select()}, NULL::BIGINT AS __count, 'duplicate' AS __part "
            f"FROM {frame.view} f "
            f"SEMI JOIN ({keys}) d ON {on}"
        )
    grouped = f"SELECT {', '.join(group + aggregates)} FROM {frame.view}" + (" GROUP BY ALL" if group else "")
    return f"WITH g AS MATERIALIZED ({grouped}) " + " UNION ALL ".join(parts)


def compact_batch(con, frame: Frame, expectations: list[dict]) -> tuple[pd.DataFrame, int]:
    """(compact batch, rows of the full frame)."""
    plan = _plan(frame, expectations)
    if plan is None:  # an expectation we cannot compact: GX gets the whole frame
        full = con.execute(f"SELECT {frame.select()} FROM {frame.view}").df()
        return _with_dtypes(full, frame), len(full)
    duplicated = [
        spec
        for spec in plan.uniques  # (usually none: then the rows need not be read again)
        if con.execute(f"SELECT count(*) FROM ({_duplicate_keys_sql(spec, frame, 1)[0]})").fetchone()[0]
    ]
    batch = con.execute(_compact_sql(replace(frame, view=frame.lean_view or frame.view), plan, duplicated)).df()
    n_rows = int(batch.loc[batch["__part"] == "min", "__count"].sum())
    batch = batch.drop(columns=["__count", "__part"]).reset_index(drop=True)
    return _with_dtypes(batch, frame), n_rows


def _with_dtypes(batch: pd.DataFrame, frame: Frame) -> pd.DataFrame:
    for column, dtype in (frame.dtypes or {}).items():
        if column in batch.columns and batch[column].dtype != dtype:
            try:
                batch[column] = batch[column].astype(dtype)
            except (TypeError, ValueError):
                pass  # GX then sees DuckDB's dtype for that column
    return batch


def failing_rows(con, frame: Frame, spec: dict, max_rows: int) -> tuple[int, pd.DataFrame]:
    """(exact number of failing rows, the first max_rows of them) in the full frame."""
    if spec["type"] == "expect_compound_columns_to_be_unique":
        keys, on = _duplicate_keys_sql(spec, frame)
        sql = (
            f"SELECT {replace(frame, alias='f').select()}, count(*) OVER () AS __n FROM {frame.view} f "
            f"SEMI JOIN ({keys}) d ON {on} "
            f"{replace(frame, alias='f').order_by()} LIMIT {max_rows}"
        )
    else:
        sql = (
            f"SELECT {frame.select()}, count(*) OVER () AS __n FROM {frame.view} WHERE {_predicate_sql(spec, frame)} "
            f"{frame.order_by()} LIMIT {max_rows}"
        )
    rows = con.execute(sql).df()
    n_rows = int(rows["__n"].iloc[0]) if len(rows) else 0
    return n_rows, rows.drop(columns="__n").reset_index(drop=True)
