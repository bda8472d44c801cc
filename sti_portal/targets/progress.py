"""Progress of confirmed policy targets against the warehouse's current values (`target_progress`).

The rule, in full (also written into every row's `rule` and into each target's `progress_rule`):

* Series: the current value (table `observations`) of the target's warehouse indicator for the
  target's region. Only province-level targets (and 全国) have one; a target whose indicator has no
  comparable series (`comparability` none, e.g. the stock of high-tech enterprises) is `no_data`.
* Target value in the indicator's unit: ``value_base`` (the extractor's value with 亿/万/成 multiplied
  out) divided by the unit's scale: 亿元 = value_base / 1e8, % stays, counts stay.
* Baseline: the value of the last year BEFORE the document's year (a plan issued in April 2022 starts
  from 2021, the last complete year it could know); the review file may set another baseline year
  where the document names one (比2020年…). Latest: the newest value up to the target year.
* Level targets (达到/提高到 = eq, 以上/超/突破 = ge, 左右 = approx, 以下/不高于 = le). eq is read as
  "at least" (达到), approx as reached at 99 % of the target.
  - met: the latest value reaches the target (le: is at or below it).
  - on_track: not met, the target year not yet in the data, and the latest value is at or above the
    straight line from (baseline year, baseline value) to (target year, target value), evaluated at
    the latest year (le: at or below it).
  - off_track: below that line, or the target year's value is in and falls short.
* Growth targets (年均增长 X%): the realised average annual growth since the baseline,
  (latest / baseline) ** (1 / years) - 1, against X. met: the target year's value is in and the
  realised rate reaches X; on_track: not yet the target year and the realised rate reaches X
  (equivalently the latest value is at or above baseline * (1 + X) ** years); off_track otherwise.
  A 个百分点 "growth" is an increase of the level: target = baseline + X, then the level rule.
* Other kinds (``target_kind``): 提高X个百分点 (points: baseline + X), 翻一番 / 增长N倍 (multiple: 2 × /
  (1 + N) × baseline), 比…增长X% without 年均 (total growth: baseline × (1 + X %)), 净增N (increase: baseline
  + N) — each a level target from there; 累计 (cumulative): the sum of the yearly values after the baseline
  year for a flow, the rise since the baseline for a stock, against the target pro rata over the period
  (never one year's value; a ratio cannot be cumulated: no_data).
* Estimated series (`comparability` estimate: the stock of high-tech enterprises against
  hightech_enterprises_valid_est) are judged like a comparable series, and the rule says it is an estimate.
* Series broader than the target (`comparability` broader, e.g. all incubators for a 省级以上 target):
  a broader series above a level says nothing about the part, so only a shortfall is kept
  (off_track; for le targets met/on_track); any other outcome is `no_data` (inconclusive).
* no_data also: sub-provincial region, no value for the region, units that do not convert, no value
  after the baseline year, an undated target not yet met.
* gap = target level - latest value (in the unit; negative = beyond the target). growth_needed_pct:
  the average annual growth from the latest value that reaches the target level in the target year;
  change_needed_per_year: the same as a constant yearly change (percentage points for % indicators).
"""

from __future__ import annotations

import math
import re

import pandas as pd

APPROX_TOLERANCE = 0.01  # 左右: reached at 99 % of the target
REL_EPS = 1e-9  # a value on the line (up to float rounding) counts as on it
BASELINE_LAG_YEARS = 1  # baseline = last value at or before (document year - 1)

STATUSES = ("met", "on_track", "off_track", "no_data")

PROGRESS_COLUMNS = [
    "statement_id",
    "doc_id",
    "doc_title",
    "doc_date",
    "region_code",
    "region_zh",
    "region",
    "indicator",
    "indicator_text",
    "warehouse_indicator",
    "indicator_zh",
    "unit",
    "stock_or_flow",
    "comparability",
    "comparator",
    "target_value",
    "target_unit",
    "target_year",
    "target_level",
    "baseline_year",
    "baseline_value",
    "baseline_source_ref",
    "latest_year",
    "latest_value",
    "latest_source_ref",
    "path_value",
    "gap",
    "realised_growth_pct",
    "growth_needed_pct",
    "change_needed_per_year",
    "status",
    "rule",
    "caveat",
    "span",
    "target_kind",
    "judged_against",
    "review_status",
]

LEVEL_RULE = (
    "Level target: met when the latest value up to the target year reaches the target (达到/以上 read as "
    "'at least', 左右 within 1 %, 以下 as 'at most'); otherwise on_track when the latest value is at or "
    "above the straight line from the baseline (the value of the last year before the document's year) "
    "to the target in the target year, off_track when below it or when the target year's value falls "
    "short; no_data without a comparable provincial series or a value after the baseline."
)
GROWTH_RULE = (
    "Growth target: the realised average annual growth of the indicator since the baseline (the value "
    "of the last year before the document's year) is compared with the target rate; on_track (met once "
    "the target year's value is in) when it reaches the rate, else off_track; no_data without a "
    "comparable provincial series or a value after the baseline."
)
BROADER_RULE = (
    " The series is broader than the target's scope: only a shortfall is conclusive, any other outcome is no_data."
)
NONE_RULE = "No comparable series in the warehouse: no_data."
KINDS_RULE = (
    " Other kinds become a level from the baseline: 提高X个百分点 = baseline + X; 翻一番 = 2 × baseline "
    "(翻N番 2^N ×), 增长N倍 = (1 + N) × baseline; 比…增长X% without 年均 = baseline × (1 + X %); 净增/新增N = "
    "baseline + N. A cumulative target (累计) is compared with the sum of the yearly values after the "
    "baseline year (a flow) or the rise of the stock since it, pro rata over the period: never with one "
    "year's value. City and district targets are no_data (no city series)."
)
ESTIMATE_RULE = (
    " Judged against an ESTIMATE (observation status e), not a published count: the estimated "
    "stock of certified high-tech enterprises is three years of recognitions, with revoked, moved "
    "and merged firms not subtracted (catalogue/indicators.csv, hightech_enterprises_valid_est)."
)
JUDGED_AGAINST = {
    "same": "official series",
    "broader": "broader official series (only a shortfall is conclusive)",
    "estimate": "estimate (obs_status e)",
}


def progress_rule(comparator: str | None, comparability: str | None) -> str:
    """The general rule for a target (the `progress_rule` column of targets / policy_statements)."""
    if comparability == "none" or not comparability:
        return NONE_RULE
    rule = (GROWTH_RULE if comparator == "growth" else LEVEL_RULE) + KINDS_RULE
    return rule + {"broader": BROADER_RULE, "estimate": ESTIMATE_RULE}.get(comparability, "")


# ------------------------------------------------------------------------------------- units

_MONEY_SCALE = {"元": 1.0, "万元": 1e4, "亿元": 1e8, "万亿元": 1e12}
_COUNT_UNITS = {"个", "家", "户", "项", "件", "所", "座", "人", "人年"}
_PERCENT_UNITS = {"%", "成"}  # 成 is already ×10 in value_base (九成 → 90 %)
_POINT_UNITS = {"个百分点", "百分点"}


def to_indicator_unit(value_base: float | None, unit: str | None, indicator_unit: str) -> float | None:
    """The extractor's value_base expressed in the catalogue unit, or None when they do not convert."""
    if value_base is None or (isinstance(value_base, float) and math.isnan(value_base)):
        return None
    unit = (unit or "").strip().replace("萬", "万").replace("億", "亿")  # traditional-script documents
    if indicator_unit in _MONEY_SCALE:
        return value_base / _MONEY_SCALE[indicator_unit] if unit.endswith("元") else None
    if indicator_unit == "%":
        return value_base if unit in _PERCENT_UNITS else None
    if indicator_unit == "件/万人":
        return value_base if unit in ("件", "件/万人") else None
    if indicator_unit == "万人":
        return value_base / 1e4 if unit.endswith("人") else None
    if indicator_unit in _COUNT_UNITS:
        core = unit[1:] if unit.startswith("万") else unit
        return value_base if core in _COUNT_UNITS else None
    return None


# ------------------------------------------------------------------------------------- helpers


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "-"
    text = f"{x:,.4f}".rstrip("0").rstrip(".")
    return f"{text} {unit}".strip()


def _cagr(start: float, end: float, years: int) -> float | None:
    if years <= 0 or start is None or end is None or start <= 0 or end <= 0:
        return None
    return (end / start) ** (1.0 / years) - 1.0


def _is_missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA


def _int_or_none(x) -> int | None:
    return None if _is_missing(x) or x == "" else int(x)


def series_for(current: pd.DataFrame, region_code: str, indicator_id: str) -> pd.DataFrame:
    rows = current[
        (current["region_code"] == region_code) & (current["indicator_id"] == indicator_id) & current["value"].notna()
    ]
    return rows.sort_values("year")[["year", "value", "source_ref"]].reset_index(drop=True)


# ------------------------------------------------------------------------------------- one target

_ANNUAL_WORDS = re.compile(r"年均|每年|(?<![\d〇一二三四五六七八九十])年增长|年平均|平均每年|逐年")
_SINCE_WORDS = re.compile(r"比.{0,12}(?:增长|提高|增加)")
_DOUBLINGS = re.compile(r"翻([一二两三四1-4]?)番")  # 翻番 alone is 翻一番
_CN_DIGITS = {"": 1, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}


def target_kind(target: dict) -> str:
    """How a target is judged: ``rate`` (年均增长X%), ``total_growth`` (比…增长X%), ``points`` (提高X个百分点),
    ``multiple`` (翻一番, 增长N倍), ``increase`` (净增N家), ``cumulative`` (累计…), or ``level``. Read from the comparator, the unit and
    the words of the span (the rule text says which applied)."""
    span = target.get("span") or ""
    unit = (target.get("unit") or "").strip()
    growth = target.get("comparator") == "growth"
    if _DOUBLINGS.search(span) or (unit == "倍" and growth):
        return "multiple"
    if unit in _POINT_UNITS:
        return "points"
    if growth:
        if unit not in _PERCENT_UNITS:
            return "increase"  # 净增/新增 N 家 (in the indicator's own unit)
        # 比2020年增长50% (no 年均/每年) is a rise over the whole period; 年均增长, or no 比…, a yearly rate
        return "total_growth" if _SINCE_WORDS.search(span) and not _ANNUAL_WORDS.search(span) else "rate"
    if "累计" in span:
        return "cumulative"
    return "level"


def _multiple_factor(target: dict) -> float | None:
    doubling = _DOUBLINGS.search(target.get("span") or "")
    if doubling:
        return 2.0 ** _CN_DIGITS[doubling.group(1)]
    value = target.get("value_base")
    return None if _is_missing(value) else 1.0 + float(value)  # 增长N倍: N times more than the baseline


def _start_row(target: dict, indicator: dict | None) -> dict:
    row = {c: target.get(c) for c in PROGRESS_COLUMNS}
    comparability = target.get("comparability") or "none"
    row.update(
        indicator_zh=indicator["name_zh"] if indicator else None,
        unit=indicator["unit"] if indicator else None,
        stock_or_flow=indicator["stock_or_flow"] if indicator else None,
        comparability=comparability,
        comparator=target.get("comparator") or "eq",
        target_year=_int_or_none(target.get("target_year")),
        status="no_data",
        caveat=target.get("caveat") or "",
        judged_against=JUDGED_AGAINST.get(comparability),
        target_kind=target_kind(target),
    )
    return row


def _finish(row: dict, status: str, rule: str, note: str = "") -> dict:
    row["status"] = status
    row["rule"] = rule
    if note:
        row["caveat"] = (note + (" " + row["caveat"] if row["caveat"] else "")).strip()
    return row


def _unjudgeable(target: dict, indicator: dict | None) -> tuple[str, str] | None:
    """(rule, note) of a target that cannot be judged at all, else None."""
    if (target.get("comparability") or "none") == "none" or indicator is None:
        return NONE_RULE, ""
    if _is_missing(target.get("region_code")) or not target.get("region_code"):
        region = target.get("region") if not _is_missing(target.get("region")) else "unknown"
        return (
            f"The warehouse holds provinces (and the national total) only; no city or district series "
            f"exists for {region}: no_data.",
            f"Region {region} is not a province-level region.",
        )
    return None


def _baseline(target: dict, series: pd.DataFrame):
    """The baseline row: the review's year, else the last value before the document's year."""
    b_override = _int_or_none(target.get("baseline_year"))
    if b_override is not None:
        hit = series[series["year"] == b_override]
        return hit.iloc[-1] if len(hit) else None
    doc_year = _int_or_none(target.get("doc_year"))
    if doc_year is None:
        return None
    before = series[series["year"] <= doc_year - BASELINE_LAG_YEARS]
    return before.iloc[-1] if len(before) else None


def _target_value(kind: str, target: dict, unit: str | None) -> tuple[float | None, str | None]:
    """(value as stated in the target's terms, the unit that value is in)."""
    value = target.get("value_base")
    if kind == "rate" or kind == "total_growth":
        return (value if (target.get("unit") or "") in _PERCENT_UNITS else None), (
            "% a year" if kind == "rate" else "%"
        )
    if kind == "points":
        return value, ("percentage points" if unit == "%" else unit)
    if kind == "multiple":
        return _multiple_factor(target), "times the baseline"
    return to_indicator_unit(value, target.get("unit"), unit), unit


def assess(target: dict, series: pd.DataFrame, indicator: dict | None) -> dict:
    """Progress of one target.

    ``target``: statement fields (region_code, indicator, warehouse_indicator, comparability,
    comparator, value_base, unit, target_year, doc_year, baseline_year override, span …);
    ``series``: year, value, source_ref of the current values for its region and indicator;
    ``indicator``: the catalogue row of the warehouse indicator (unit, stock_or_flow, name_zh) or None.
    """
    row = _start_row(target, indicator)
    blocked = _unjudgeable(target, indicator)
    if blocked:
        return _finish(row, "no_data", *blocked)
    unit, kind, T = row["unit"], row["target_kind"], row["target_year"]
    target_value, row["target_unit"] = _target_value(kind, target, unit)
    row["target_value"] = target_value
    if target_value is None:
        return _finish(
            row,
            "no_data",
            f"The target's unit ({target.get('unit')}) does not convert to the indicator's unit ({unit}): no_data.",
        )
    usable = series if T is None else series[series["year"] <= T]
    if usable.empty:
        return _finish(
            row,
            "no_data",
            f"No value of {target.get('warehouse_indicator')} for "
            f"{target.get('region_code')}{'' if T is None else f' up to {T}'}: no_data.",
        )
    latest = usable.iloc[-1]
    y, a = int(latest["year"]), float(latest["value"])
    row.update(latest_year=y, latest_value=a, latest_source_ref=latest["source_ref"])
    baseline = _baseline(target, series)
    b = B = None
    if baseline is not None:
        b, B = int(baseline["year"]), float(baseline["value"])
        row.update(baseline_year=b, baseline_value=B, baseline_source_ref=baseline["source_ref"])
    status, rule = _judge(kind, row, target_value, usable, T, y, a, b, B, unit)
    status, rule = _scope(row, kind, status, rule)
    return _finish(row, status, rule)


def _judge(kind, row, target_value, usable, T, y, a, b, B, unit) -> tuple[str, str]:
    comparator = row["comparator"]
    if kind == "rate":
        return _assess_growth(row, target_value, T, y, a, b, B, unit)
    if kind == "cumulative":
        return _assess_cumulative(row, target_value, usable, T, b, B, unit)
    if kind in KIND_WORDS:
        if B is None:
            return (
                "no_data",
                f"A {KIND_WORDS[kind]} target needs a baseline value (before the document's year): no_data.",
            )
        level = {
            "points": B + target_value,
            "multiple": B * target_value,
            "increase": B + target_value,
            "total_growth": B * (1 + target_value / 100.0),
        }[kind]
        row["target_level"] = level
        status, rule = _assess_level(
            row, level, "ge" if comparator == "growth" else comparator, comparator != "le", T, y, a, b, B, unit
        )
        return status, (
            f"{KIND_WORDS[kind].capitalize()} target: {_fmt(target_value)} {row['target_unit']} from the "
            f"baseline {_fmt(B, unit)} ({b}) gives the level {_fmt(level, unit)}. {rule}"
        )
    row["target_level"] = target_value
    return _assess_level(row, target_value, comparator, comparator != "le", T, y, a, b, B, unit)


KIND_WORDS = {
    "points": "percentage-point",
    "multiple": "multiple",
    "total_growth": "total growth",
    "increase": "increase",
}


def _scope(row: dict, kind: str, status: str, rule: str) -> tuple[str, str]:
    """A broader series proves only a shortfall; an estimated series is judged but said to be one."""
    comparability = row["comparability"]
    if comparability == "estimate":
        return status, rule + ESTIMATE_RULE
    if comparability != "broader":
        return status, rule
    up = row["comparator"] != "le"
    conclusive = set() if kind == "rate" else ({"off_track"} if up else {"met", "on_track"})
    if status in conclusive or status == "no_data":
        return status, rule + BROADER_RULE
    return "no_data", (
        rule + f" But the series is broader than the target's scope, so reaching {status} on it "
        f"proves nothing about the target: no_data (inconclusive)."
    )


def _assess_cumulative(row, total, usable, T, b, B, unit) -> tuple[str, str]:
    """累计: the sum of the yearly values after the baseline year (a flow), or the rise since the baseline
    (a stock), against the target: never one year's value."""
    if row["stock_or_flow"] == "ratio":
        return "no_data", "A cumulative target on a ratio has no meaning the statistics can check: no_data."
    if b is None or T is None:
        return (
            "no_data",
            "A cumulative target needs a baseline year (before the document's year) and a target year: no_data.",
        )
    after = usable[usable["year"] > b]
    if after.empty:
        return "no_data", f"Cumulative target: no value after the baseline year {b} yet: no_data."
    y = int(after.iloc[-1]["year"])
    if row["stock_or_flow"] == "flow":
        achieved = float(after["value"].sum())
        how = f"the sum of the yearly values {b + 1}–{y}"
    else:
        achieved = float(after.iloc[-1]["value"]) - B
        how = f"the rise of the stock from {_fmt(B, unit)} ({b}) to {y}"
    row["target_level"] = total
    row["gap"] = total - achieved
    share = (y - b) / (T - b) if T > b else 1.0
    row["path_value"] = total * min(share, 1.0)
    head = f"Cumulative target: {_fmt(total, unit)} over {b + 1}–{T}; {how} is {_fmt(achieved, unit)}"
    if _at_least(achieved, total):
        return "met", f"{head}: met."
    if y >= T:
        return "off_track", f"{head}: the period is over and it falls short: off_track."
    on = _at_least(achieved, row["path_value"])
    return ("on_track" if on else "off_track"), (
        f"{head}, {'at or above' if on else 'below'} the pro-rata share {_fmt(row['path_value'], unit)} "
        f"({y - b} of {T - b} years): {'on_track' if on else 'off_track'}."
    )


def _at_least(x: float, bound: float) -> bool:
    return x >= bound - REL_EPS * abs(bound)


def _needed(row: dict, level: float, T: int | None, y: int, a: float, up: bool) -> None:
    reached = _at_least(a, level) if up else _at_least(level, a)
    if T is not None and T > y and not reached:
        row["change_needed_per_year"] = (level - a) / (T - y)
        rate = _cagr(a, level, T - y)
        row["growth_needed_pct"] = None if rate is None else 100.0 * rate


def _assess_level(row, level, comparator, up, T, y, a, b, B, unit):
    row["gap"] = level - a
    if b is not None and y > b:
        rate = _cagr(B, a, y - b)
        row["realised_growth_pct"] = None if rate is None else 100.0 * rate
    threshold = level * (1 - APPROX_TOLERANCE) if comparator == "approx" else level
    reached = _at_least(a, threshold) if up else _at_least(threshold, a)
    word = "at most" if not up else ("about" if comparator == "approx" else "at least")
    head = (
        f"Level target: {word} {_fmt(level, unit)}"
        f"{f' by {T}' if T else ' (no target year)'}; latest value {_fmt(a, unit)} ({y})"
    )
    _needed(row, level, T, y, a, up)
    if reached:
        return "met", f"{head} {'reaches' if up else 'is within'} the target: met."
    if T is None:
        return "no_data", f"{head} has not reached it and the target has no year to measure progress against: no_data."
    if y >= T:
        return "off_track", f"{head}: the target year's value falls short: off_track."
    if b is None or y <= b:
        return "no_data", (
            f"{head}: no value after the baseline year "
            f"({'none found' if b is None else b}) to measure progress: no_data."
        )
    path = B + (level - B) * (y - b) / (T - b)
    row["path_value"] = path
    on = _at_least(a, path) if up else _at_least(path, a)
    return ("on_track" if on else "off_track"), (
        f"{head}; straight line from the baseline {_fmt(B, unit)} ({b}) to {_fmt(level, unit)} ({T}) stands at "
        f"{_fmt(path, unit)} in {y}: the latest value is {_side(on, up)} it: {'on_track' if on else 'off_track'}."
    )


def _side(on: bool, up: bool) -> str:
    if up:
        return "at or above" if on else "below"
    return "at or below" if on else "above"


def _assess_growth(row, rate_pct, T, y, a, b, B, unit):
    r = rate_pct / 100.0
    head = f"Growth target: {_fmt(rate_pct)} % a year{f' to {T}' if T else ''}"
    if b is None:
        return "no_data", f"{head}; no baseline value before the document's year: no_data."
    if T is None:
        return "no_data", f"{head}; no target year: no_data."
    row["target_level"] = B * (1 + r) ** (T - b)
    row["gap"] = row["target_level"] - a
    if y <= b:
        return "no_data", f"{head}; no value after the baseline year {b} yet: no_data."
    g = _cagr(B, a, y - b)
    row["realised_growth_pct"] = None if g is None else 100.0 * g
    row["path_value"] = B * (1 + r) ** (y - b)
    _needed(row, row["target_level"], T, y, a, True)
    ok = _at_least(a, row["path_value"])
    realised = "-" if g is None else f"{100 * g:.2f} %"
    text = (
        f"{head}; realised {realised} a year from {_fmt(B, unit)} ({b}) to {_fmt(a, unit)} ({y}), "
        f"{'at or above' if ok else 'below'} the target rate (the target path stands at "
        f"{_fmt(row['path_value'], unit)} in {y}, {_fmt(row['target_level'], unit)} in {T})"
    )
    if y >= T:
        return ("met" if ok else "off_track"), f"{text}; the target year's value is in: {'met' if ok else 'off_track'}."
    return ("on_track" if ok else "off_track"), f"{text}: {'on_track' if ok else 'off_track'}."


# ------------------------------------------------------------------------------------- all targets


def target_progress(
    targets: pd.DataFrame, current: pd.DataFrame, indicators: pd.DataFrame, regions: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per target in ``targets`` (confirmed, with an indicator other than ``other``).

    ``current``: current observations (region_code, indicator_id, year, value, source_ref);
    ``indicators``: the catalogue (indicator_id, name_zh, unit, stock_or_flow);
    ``regions``: region_code → name_zh, for display.
    """
    catalogue = {r["indicator_id"]: r for r in indicators.to_dict("records")}
    names = dict(zip(regions["region_code"], regions["name_zh"])) if regions is not None else {}
    rows = []
    for target in targets.to_dict("records"):
        wid = target.get("warehouse_indicator")
        indicator = catalogue.get(wid) if wid and wid != "none" else None
        series = (
            series_for(current, target["region_code"], wid)
            if indicator is not None and not _is_missing(target.get("region_code"))
            else pd.DataFrame(columns=["year", "value", "source_ref"])
        )
        row = assess(target, series, indicator)
        row["region_zh"] = names.get(target.get("region_code"))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=PROGRESS_COLUMNS)
    for col in ("target_year", "baseline_year", "latest_year"):
        frame[col] = frame[col].astype("Int64")
    for col in (
        "target_value",
        "target_level",
        "baseline_value",
        "latest_value",
        "path_value",
        "gap",
        "realised_growth_pct",
        "growth_needed_pct",
        "change_needed_per_year",
    ):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame.sort_values(["region_code", "doc_id", "statement_id"], na_position="last").reset_index(drop=True)
