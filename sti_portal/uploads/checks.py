"""Checks of uploaded files that need more than the file itself.

* keys: one row per region, indicator and year, within a file and across the files of a batch;
* years: a data year in the future is an error, the current (unfinished) year a warning;
* against the published data: a value 10 times (or a tenth of) the published value of the same key or
  of the neighbouring years is an error (a unit slip such as 万元 written as 亿元); a gap replacing a
  published value is a warning;
* the Great Expectations suites (sti_portal/quality/, the same ones `sti build` runs), run on the
  published data plus the files: each failing row is traced back to its file, sheet, row and column.

All of them add `sti_portal.uploads.read.Problem`s to the files' `UploadRead`s; none stops at the first problem.
"""

from __future__ import annotations

import math
from datetime import date
from functools import lru_cache

import pandas as pd

from sti_portal.core import catalogue
from sti_portal.core.releases import OBSERVATION_KEY, newest_per_key
from sti_portal.quality.validate import SuiteOutcome, expectation_label, load_suite
from sti_portal.transform.harmonise import UNIT_CONVERSIONS
from sti_portal.uploads.read import Problem, UploadRead

JUMP_FACTOR = 10.0
KEY_COLUMNS = "region, indicator, year"


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "(missing)"
    if isinstance(value, float):
        if abs(value) >= 1e15:  # never hundreds of digits in a message
            return f"{value:.6g}"
        return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.2f}"
    return str(value)


def _key_label(region_code: str, indicator_id: str, year) -> str:
    names = _region_names()
    return f"{names.get(region_code, region_code)} ({region_code}) {indicator_id} {year}"


@lru_cache(maxsize=1)
def _region_names() -> dict[str, str]:
    return dict(zip(catalogue.china_regions()["region_code"], catalogue.china_regions()["name_zh"]))


def _where(place) -> dict:
    return {"sheet": place.sheet, "row": place.row}


@lru_cache(maxsize=8)
def _column(name: str) -> dict:
    """indicator_id -> a catalogue column, as a dict: the checks ask once per row (a .loc costs ~50 µs)."""
    return catalogue.indicators()[name].to_dict()


def converted(value: float, unit: str, indicator_id: str) -> float:
    target = _column("unit")[indicator_id]
    if unit == target or math.isnan(value):
        return value
    multiply, divide = UNIT_CONVERSIONS[(unit, target)]
    return value * multiply / divide


def _drop_rows(read: UploadRead, bad: set[int]) -> None:
    read.rows = [row for i, row in enumerate(read.rows) if i not in bad]
    read.places = [place for i, place in enumerate(read.places) if i not in bad]


def key_checks(reads: list[UploadRead]) -> None:
    """One row per region, indicator and year: in a file and across the files loaded together."""
    seen: dict[tuple, tuple[UploadRead, object, float]] = {}
    for read in reads:
        bad = set()
        for i, (row, place) in enumerate(zip(read.rows, read.places)):
            key = (row["region_code"], row["indicator_id"], row["year"])
            if key not in seen:
                seen[key] = (read, place, row["value"])
                continue
            other, other_place, other_value = seen[key]
            where = (
                f"row {other_place.row}"
                + (f" of sheet '{other_place.sheet}'" if other_place.sheet else "")
                + ("" if other is read else f" of {other.name}")
            )
            same = (other_value == row["value"]) or (math.isnan(other_value) and math.isnan(row["value"]))
            read.error(
                f"duplicate: {_key_label(*key)} is also given in {where}"
                + (" (same value)" if same else f" with value {_fmt(other_value)}"),
                **_where(place),
                column=KEY_COLUMNS,
                found=_fmt(row["value"]),
                expected="one row per region, indicator and year",
                rule="duplicate_key",
            )
            bad.add(i)
        _drop_rows(read, bad)


def year_checks(reads: list[UploadRead], today: date) -> None:
    for read in reads:
        for row, place in zip(read.rows, read.places):
            year = row["year"]
            if year > today.year:
                read.error(
                    f"the year {year} is in the future (today is {today:%Y-%m-%d})",
                    **_where(place),
                    column="year",
                    found=str(year),
                    expected=f"a data year up to {today.year - 1}",
                    rule="future_year",
                )
            elif year == today.year and row["obs_status"] not in ("p", "e"):
                read.warning(
                    f"the year {year} has not ended: annual data for it can only be provisional",
                    **_where(place),
                    column="year",
                    found=str(year),
                    expected="obs_status p (provisional) or e (estimated) for the current year",
                    rule="current_year",
                )


def published_current(base: pd.DataFrame) -> pd.DataFrame:
    """The newest published value per region, indicator and year (the portal's `observations`)."""

    if base.empty:
        return base
    return newest_per_key(base).set_index(OBSERVATION_KEY)


def published_checks(reads: list[UploadRead], current: pd.DataFrame) -> None:
    """Against what is published: huge jumps (likely unit slips), gaps replacing values, nothing new."""
    units = _column("unit")
    in_files = {}
    for read in reads:
        for row in read.rows:
            in_files[(row["region_code"], row["indicator_id"], row["year"])] = converted(
                row["value"], row["unit"], row["indicator_id"]
            )
    decimals = _column("display_decimals")
    for read in reads:
        unchanged = 0
        for row, place in zip(read.rows, read.places):
            key = (row["region_code"], row["indicator_id"], row["year"])
            value = in_files[key]
            unit = units[row["indicator_id"]]
            published = current.loc[key] if not current.empty and key in current.index else None
            if published is not None and math.isnan(value) and not math.isnan(published["value"]):
                read.warning(
                    f"the value is missing: a gap (obs_status m) would replace the published "
                    f"{_fmt(published['value'])} {unit} ({published['release']})",
                    **_where(place),
                    column="value",
                    rule="gap_replaces_value",
                )
                continue
            if published is not None and not math.isnan(value) and not math.isnan(published["value"]):
                if round(value, int(decimals[row["indicator_id"]])) == round(
                    published["value"], int(decimals[row["indicator_id"]])
                ):
                    unchanged += 1
            if value == 0 and _drops_to_zero(read, row, place, published, current, in_files, unit):
                continue
            if math.isnan(value) or value <= 0:
                continue
            references = []
            if published is not None:
                references.append(
                    (f"the published value of the same year ({published['release']})", published["value"])
                )
            for neighbour in (row["year"] - 1, row["year"] + 1):
                other_key = (row["region_code"], row["indicator_id"], neighbour)
                if other_key in in_files and not math.isnan(in_files[other_key]):
                    references.append((f"the {neighbour} value in this file", in_files[other_key]))
                elif not current.empty and other_key in current.index:
                    other = current.loc[other_key]
                    references.append((f"the published {neighbour} value ({other['release']})", other["value"]))
            for label, reference in references:
                if reference is None or math.isnan(reference) or reference <= 0:
                    continue
                ratio = value / reference
                if ratio >= JUMP_FACTOR or ratio <= 1 / JUMP_FACTOR:
                    shown = f"{_fmt(value)} {unit}" + (
                        "" if row["unit"] == unit else f" (= {_fmt(row['value'])} {row['unit']})"
                    )
                    change = (
                        f"{ratio:,.0f} times"
                        if ratio >= 100
                        else f"{ratio:.3g} times"
                        if ratio > 1
                        else f"1/{1 / ratio:,.0f} of"
                    )
                    read.error(
                        f"the value is {change} {label}, {_fmt(reference)} {unit}: "
                        "is the unit right (万元 vs 亿元, % vs ‰)?",
                        **_where(place),
                        column="value",
                        cell=place.cells.get("value", ""),
                        found=shown,
                        expected=f"within a factor of {JUMP_FACTOR:g} of {_fmt(reference)} {unit}",
                        rule="huge_jump",
                    )
                    break
        if read.rows and unchanged == len(read.rows):
            read.warning(
                f"all {unchanged} values are already published with the same values; loading the file "
                "adds a release but changes no value",
                rule="nothing_new",
            )


CONFIRM_ZERO = ("confirmed zero", "确认为零", "确认为0")


def _drops_to_zero(
    read: UploadRead, row: dict, place, published, current: pd.DataFrame, in_files: dict, unit: str
) -> bool:
    """A ratio indicator (R&D intensity, ...) that falls from a positive value to exactly 0 is almost always a
    typing slip (-0, 0 for a missing value): it blocks unless the note confirms it ("confirmed zero"/"确认为零")."""
    if _column("stock_or_flow")[row["indicator_id"]] != "ratio":
        return False
    if any(word in str(row.get("note", "")).casefold() for word in CONFIRM_ZERO):
        return False
    reference = None
    if published is not None and not math.isnan(published["value"]) and published["value"] > 0:
        reference = (f"the published value of the same year ({published['release']})", published["value"])
    else:
        previous = (row["region_code"], row["indicator_id"], row["year"] - 1)
        earlier = in_files.get(previous)
        if earlier is None and not current.empty and previous in current.index:
            earlier = current.loc[previous]["value"]
        if earlier is not None and not math.isnan(earlier) and earlier > 0:
            reference = (f"the {row['year'] - 1} value", earlier)
    if reference is None:
        return False
    read.error(
        f"a ratio indicator drops to 0 from {_fmt(reference[1])} {unit} ({reference[0]}); a zero here is "
        "almost always a slip (-0, or 0 written for a missing value)",
        **_where(place),
        column="value",
        cell=place.cells.get("value", ""),
        found=f"0 {unit}",
        expected="the value; empty or — if it is missing; or, if 0 is right, the note 'confirmed zero' (确认为零)",
        rule="ratio_drops_to_zero",
    )
    return True


# ------------------------------------------------------------------------------------------ GX results

FIELD_OF_COLUMN = {
    "value": "value",
    "year": "year",
    "region_code": "region",
    "indicator_id": "indicator",
    "obs_status": "obs_status",
}


def _expected_from_kwargs(kind: str, kwargs: dict) -> str:
    if "min_value" in kwargs or "max_value" in kwargs:
        return f"between {kwargs.get('min_value'):g} and {kwargs.get('max_value'):g}"
    if "value_set" in kwargs:
        values = [repr(v) for v in kwargs["value_set"]]
        return "one of " + ", ".join(values[:12]) + (" ..." if len(values) > 12 else "")
    if kind.endswith("not_be_null"):
        return "a value"
    if "unique" in kind:
        return "one row per region, indicator, year and release"
    return kind


def gx_problems(outcomes: list[SuiteOutcome], reads_by_release: dict[str, UploadRead]) -> list[str]:
    """Turn GX failures on the combined data into problems of the files they come from.

    Returns the blocking failures that no file caused (the bundled sources themselves fail)."""
    foreign = []
    places = {
        release: {row["source_ref"]: place for row, place in zip(read.rows, read.places)}
        for release, read in reads_by_release.items()
    }
    for outcome in outcomes:
        specs = {
            expectation_label(spec["type"], spec["kwargs"]): spec for spec in load_suite(outcome.suite)["expectations"]
        }
        for failure in outcome.failures:
            rows = failure.rows
            severity = "error" if failure.severity == "critical" else "warning"
            if rows.empty or "release" not in rows.columns:
                if severity == "error":
                    foreign.append(f"{outcome.suite}: {failure.describe()}")
                continue
            mine = rows[rows["release"].isin(list(reads_by_release))]
            # failure.rows holds at most validate.MAX_FAILING_ROWS rows (the files' own first, when
            # validate_all was given first_releases); failure.n_rows counts them all.
            n_others = max(failure.n_rows, len(rows)) - len(mine)
            if n_others > 0 and severity == "error":
                others = rows[~rows["release"].isin(list(reads_by_release))]
                example = f", e.g. {others.head(3).to_dict('records')}" if len(others) else ""
                foreign.append(
                    f"{outcome.suite}: {failure.expectation}: {n_others} row(s) of published or "
                    f"bundled data fail{example}"
                )
            spec = specs.get(failure.expectation, {"type": failure.expectation, "kwargs": {}})
            for rec in mine.to_dict("records"):
                read = reads_by_release[rec["release"]]
                read.add(_problem_for(outcome.suite, failure, spec, rec, read, severity, places))
    return foreign


def _problem_for(
    suite: str, failure, spec: dict, rec: dict, read: UploadRead, severity: str, places: dict[str, dict]
) -> Problem:
    ref = str(rec.get("source_ref") or "").split(" ÷ ")[0]  # a derived value: the uploaded input's cell
    place = places.get(rec["release"], {}).get(ref)
    where = {"sheet": place.sheet, "row": place.row} if place else {}
    rule = f"gx:{suite}:{failure.expectation}"
    indicator = rec.get("indicator_id", "")
    unit = catalogue.indicators()["unit"].get(indicator, "") if indicator else ""
    if suite == "year_on_year":
        message = (
            f"{_key_label(rec['region_code'], indicator, rec['year'])}: change of {rec['change_ratio']:+.0%} "
            f"from {_fmt(rec['previous_value'])} {unit} in {rec['year'] - 1} (Great Expectations suite year_on_year)"
        )
        return Problem(
            severity,
            read.name,
            message,
            **where,
            column="value",
            cell=place.cells.get("value", "") if place else "",
            found=f"{_fmt(rec['value'])} {unit}",
            expected=f"a change within ±{rec['bound']:.0%} year on year; check the figure",
            rule=rule,
        )
    if suite == "additivity":
        message = (
            f"{indicator} {rec['year']}: the provinces add up to {_fmt(rec['province_sum'])} {unit} but the "
            f"national total is {_fmt(rec['national'])} {unit} ({rec['relative_difference']:+.2%}) "
            "(Great Expectations suite additivity)"
        )
        return Problem(
            severity,
            read.name,
            message,
            column="value",
            found=f"{rec['relative_difference']:+.2%}",
            expected="provinces within ±1 % of the national total",
            rule=rule,
        )
    if suite == "coverage":
        message = (
            f"{indicator} {rec['year']}: {rec['n_provinces']} provinces; missing {rec.get('missing_provinces', '')} "
            "(Great Expectations suite coverage)"
        )
        return Problem(
            severity, read.name, message, found=str(rec["n_provinces"]), expected="all 31 provinces", rule=rule
        )
    column = spec["kwargs"].get("column") or "value"
    field = FIELD_OF_COLUMN.get(column, column)
    found_value = rec.get(column)
    found = f"{_fmt(found_value)} {unit}".strip() if column == "value" else _fmt(found_value)
    rule_text = failure.rule or _expected_from_kwargs(spec["type"], spec["kwargs"])
    key = _key_label(rec["region_code"], indicator, rec["year"]) if {"region_code", "year"} <= rec.keys() else ""
    message = f"{key} breaks the rule '{rule_text}' (Great Expectations suite {suite}: {failure.expectation})"
    return Problem(
        severity,
        read.name,
        message,
        **where,
        column=field,
        cell=place.cells.get(field, "") if place else "",
        found=found,
        expected=rule_text,
        rule=rule,
    )
