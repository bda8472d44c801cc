"""Figures the documents report as achieved, held against the official statistics (`reported_vs_official`),
and the per-region count of judged targets (`target_region_summary`).

Matching: an achieved statement (kind ``achieved``, not rejected) whose indicator maps to a warehouse
series, for a province-level region (or 全国), in the year the span names (the extractor's
``target_year``) or, when it names none, the year before the document's (a work report looks back one
year: ``year_basis`` says which). The reported value is converted to the series' unit; a growth figure
(增长X%) is compared with the growth of the series over the year before, a change in percentage points
(提高0.1个百分点) with the change of a % series over the year before.

Every release of that region, indicator and year is looked at (observation history: bulletin first
release, each yearbook edition), because a document quotes the figure known when it was written: the
release that agrees (or else the current one) is named with its source cell.

Verdicts: ``agrees within rounding`` when the difference is at most half a unit of the last digit the
document prints (1595亿元: ±0.5亿元; 2.32%: ±0.005; 1.2万家: ±500) — for 超过/以上 when the official value
is at least the reported one, for 约/左右 within 1 % —, else ``differs``; ``not comparable`` with the
reason when there is no series, region, year, unit or value to compare.
"""

from __future__ import annotations

import pandas as pd

from sti_portal.core import catalogue
from sti_portal.core.releases import release_order

from .progress import APPROX_TOLERANCE, to_indicator_unit

REPORTED_COLUMNS = [
    "statement_id",
    "doc_id",
    "doc_title",
    "doc_date",
    "region_code",
    "region_zh",
    "indicator",
    "warehouse_indicator",
    "indicator_zh",
    "year",
    "year_basis",
    "span",
    "reported_value",
    "reported_unit",
    "comparator",
    "unit",
    "reported_in_unit",
    "official_value",
    "official_release",
    "official_source_ref",
    "official_obs_status",
    "current_value",
    "current_release",
    "difference",
    "difference_pct",
    "tolerance",
    "verdict",
    "reason",
    "judged_against",
]
AGREES, DIFFERS, NOT_COMPARABLE = "agrees within rounding", "differs", "not comparable"
CHANGE_WORDS = {"growth": "growth of ", "points": "change of ", "increase": "change of "}


def _decimals(value: float) -> int:
    text = f"{value:.6f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def _rounding(st: dict, converted: float) -> float:
    """Half a unit of the last printed digit, in the series' unit."""
    value = float(st["value"])
    scale = converted / value if value else 1.0
    return 0.5 * 10 ** (-_decimals(value)) * abs(scale)


def _year(st: dict, doc_years: dict) -> tuple[int | None, str]:
    if not pd.isna(st.get("target_year")):
        return int(st["target_year"]), "stated"
    doc_year = doc_years.get(st["doc_id"])
    if doc_year is None or pd.isna(doc_year):
        return None, "none"
    return int(doc_year) - 1, "assumed: the year before the document"


POINT_UNITS = ("个百分点", "百分点")


def _reported(st: dict, unit: str) -> tuple[float | None, str]:
    """(the reported value in the series' unit, or in % for a growth figure, or in percentage points for a
    change of a % series; how it compares: level | growth | points)."""
    if (st["unit"] or "") in POINT_UNITS:
        return (float(st["value_base"]) if unit == "%" else None), "points"
    if st["comparator"] == "growth" and (st["unit"] or "") != "%":
        return to_indicator_unit(st["value_base"], st["unit"], unit), "increase"  # 新增/增加 N 家
    if st["comparator"] == "growth":
        return float(st["value_base"]), "growth"
    return to_indicator_unit(st["value_base"], st["unit"], unit), "level"


def _history(candidate: pd.DataFrame, achieved: pd.DataFrame) -> dict:
    """(region, indicator, year) -> its releases, oldest first, for the series the statements name only."""
    wanted = (
        candidate["indicator_id"].isin(set(achieved["warehouse_indicator"]))
        & candidate["region_code"].isin(set(achieved["region_code"].dropna()))
        & candidate["value"].notna()
    )
    ordered = release_order(candidate[wanted])
    return {key: group for key, group in ordered.groupby(["region_code", "indicator_id", "year"], sort=False)}


def _change(history: dict, key: tuple, how: str) -> pd.DataFrame | None:
    """Year-on-year growth (%, how="growth") or change (percentage points, how="points") of each release
    that holds both years."""
    region, indicator, year = key
    now, before = history.get(key), history.get((region, indicator, year - 1))
    if now is None or before is None:
        return None
    merged = now.merge(before[["release", "value"]], on="release", suffixes=("", "_before"))
    if merged.empty:  # no release holds both: the newest of each
        merged = now.tail(1).assign(value_before=before["value"].iloc[-1])
    if how in ("points", "increase"):
        return merged.assign(value=merged["value"] - merged["value_before"])
    merged = merged[merged["value_before"] > 0]
    return merged.assign(value=100.0 * (merged["value"] / merged["value_before"] - 1.0)) if len(merged) else None


def _agrees(reported: float, official: float, tol: float, comparator: str) -> bool:
    if comparator == "ge":
        return official >= reported - tol
    if comparator == "le":
        return official <= reported + tol
    if comparator == "approx":
        return abs(official - reported) <= max(tol, APPROX_TOLERANCE * abs(reported))
    return abs(official - reported) <= tol + 1e-9 * abs(reported)


def _compare(st: dict, row: dict, releases: pd.DataFrame, reported: float, tol: float) -> dict:
    current = releases.iloc[-1]
    row.update(current_value=float(current["value"]), current_release=current["release"], tolerance=tol)
    agreeing = [r for r in releases.to_dict("records") if _agrees(reported, float(r["value"]), tol, st["comparator"])]
    chosen = agreeing[-1] if agreeing else current
    difference = reported - float(chosen["value"])
    row.update(
        official_value=float(chosen["value"]),
        official_release=chosen["release"],
        official_source_ref=chosen["source_ref"],
        official_obs_status=chosen.get("obs_status") or "",
        difference=difference,
        difference_pct=100.0 * difference / float(chosen["value"]) if float(chosen["value"]) else None,
        verdict=AGREES if agreeing else DIFFERS,
    )
    if agreeing:
        row["reason"] = f"agrees with {chosen['release']}" + (
            ""
            if chosen["release"] == current["release"]
            else f" (current release {current['release']}: {float(current['value']):g})"
        )
    else:
        row["reason"] = (
            f"differs from every release ({len(releases)}) by more than the rounding of the printed "
            f"figure (±{tol:g} {row['unit']}); compared with the current release"
        )
    return row


def _one(st: dict, indicators: dict, history: dict, doc_years: dict, names: dict) -> dict:
    row = {c: None for c in REPORTED_COLUMNS}
    row.update(
        {
            k: st.get(k)
            for k in (
                "statement_id",
                "doc_id",
                "doc_title",
                "doc_date",
                "region_code",
                "indicator",
                "warehouse_indicator",
                "span",
                "comparator",
            )
        },
        reported_value=st["value"],
        reported_unit=st["unit"],
        region_zh=names.get(st.get("region_code")),
        verdict=NOT_COMPARABLE,
    )
    wid = st["warehouse_indicator"]
    indicator = indicators.get(wid)
    row["judged_against"] = {"estimate": "estimate (obs_status e)"}.get(st["comparability"], "official series")

    def not_comparable(reason: str) -> dict:
        row["reason"] = reason
        return row

    if indicator is None or st["comparability"] == "none":
        return not_comparable("no comparable series in the warehouse")
    row.update(indicator_zh=indicator["name_zh"], unit=indicator["unit"])
    if st["comparability"] == "broader":
        return not_comparable(f"{wid} is broader than what the document counts")
    if pd.isna(st.get("region_code")) or not st.get("region_code"):
        return not_comparable(f"{st.get('region') or 'the region'} is not a province-level region (no city series)")
    year, row["year_basis"] = _year(st, doc_years)
    row["year"] = year
    if year is None:
        return not_comparable("no year: the span names none and the document has no date")
    if pd.isna(st["value_base"]):
        return not_comparable("the statement has no value")
    if st["comparator"] == "growth" and indicator["stock_or_flow"] == "ratio" and (st["unit"] or "") == "%":
        return not_comparable(f"a growth rate of a ratio ({wid}) is not a figure the statistics publish")
    reported, how = _reported(st, indicator["unit"])
    if reported is None:
        return not_comparable(f"the unit {st['unit']} does not convert to {indicator['unit']}")
    row["reported_in_unit"] = reported
    key = (st["region_code"], wid, year)
    releases = history.get(key) if how == "level" else _change(history, key, how)
    if releases is None or releases.empty:
        return not_comparable(f"no {CHANGE_WORDS.get(how, '')}{wid} value for {st['region_code']} in {year}")
    if how != "level":
        row["unit"] = {
            "growth": "% (growth on the year before)",
            "points": "percentage points (change on the year before)",
            "increase": f"{row['unit']} (change on the year before)",
        }[how]
    tol = _rounding(st, reported) if how in ("level", "increase") else 0.5 * 10 ** (-_decimals(float(st["value"])))
    return _compare(st, row, releases, reported, tol)


def reported_vs_official(
    statements: pd.DataFrame, candidate: pd.DataFrame, documents: pd.DataFrame, regions: pd.DataFrame
) -> pd.DataFrame:
    """One row per achieved statement with an indicator (not `other`, not rejected)."""
    achieved = statements[
        (statements["kind"] == "achieved")
        & (statements["review_status"] != "rejected")
        & (statements["indicator"] != "other")
    ]
    indicators = {r["indicator_id"]: r for r in catalogue.indicators().to_dict("records")}
    history = _history(candidate, achieved)
    doc_years = dict(zip(documents["doc_id"], documents["year"]))
    names = dict(zip(regions["region_code"], regions["name_zh"]))
    rows = [_one(st, indicators, history, doc_years, names) for st in achieved.to_dict("records")]
    frame = pd.DataFrame(rows, columns=REPORTED_COLUMNS)
    frame["year"] = frame["year"].astype("Int64")
    for col in (
        "reported_value",
        "reported_in_unit",
        "official_value",
        "current_value",
        "difference",
        "difference_pct",
        "tolerance",
    ):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame.sort_values(["region_code", "indicator", "year", "statement_id"], na_position="last").reset_index(
        drop=True
    )


# ------------------------------------------------------------------------------------ per region

NO_DATA_REASONS = (  # rule text start -> the reason a reader sees
    ("No comparable series", "no comparable series"),
    ("The warehouse holds provinces", "city or district target (no city series)"),
    ("The target's unit", "unit does not convert"),
    ("No value of", "no value in the series up to the target year"),
    ("A cumulative target on a ratio", "cumulative target on a ratio"),
)


def no_data_reason(rule: str) -> str:
    for start, reason in NO_DATA_REASONS:
        if (rule or "").startswith(start):
            return reason
    if "broader than the target" in (rule or ""):
        return "broader series, inconclusive"
    if "after the baseline" in (rule or ""):
        return "too early: no value after the baseline year yet"
    if "baseline" in (rule or ""):
        return "no baseline value"
    if "no year" in (rule or "") or "no target year" in (rule or ""):
        return "no target year"
    return "other"


def region_summary(
    statements: pd.DataFrame, progress: pd.DataFrame, reported: pd.DataFrame, regions: pd.DataFrame
) -> pd.DataFrame:
    """Per province (city targets count under their province): targets met / on track / off track / no data,
    the no-data reasons with their counts, and the reported figures that agree with the statistics."""
    province = dict(zip(statements["statement_id"], statements["province_code"].fillna(statements["region_code"])))
    names = dict(zip(regions["region_code"], regions["name_zh"]))
    p = progress.assign(
        province=progress["statement_id"].map(province),
        reason=[no_data_reason(r) if s == "no_data" else None for s, r in zip(progress["status"], progress["rule"])],
    )
    r = reported.assign(province=reported["statement_id"].map(province))
    rows = []
    for code in sorted(set(p["province"].dropna()) | set(r["province"].dropna())):
        mine, figures = p[p["province"] == code], r[r["province"] == code]
        counts = mine["status"].value_counts()
        reasons = mine["reason"].dropna().value_counts()
        rows.append(
            {
                "region_code": code,
                "region_zh": names.get(code),
                "targets": len(mine),
                **{s: int(counts.get(s, 0)) for s in ("met", "on_track", "off_track", "no_data")},
                "judged": int(sum(counts.get(s, 0) for s in ("met", "on_track", "off_track"))),
                "no_data_reasons": "; ".join(f"{k}: {v}" for k, v in reasons.items()) or None,
                "reported_figures": int((figures["verdict"] != NOT_COMPARABLE).sum()),
                "reported_agree": int((figures["verdict"] == AGREES).sum()),
            }
        )
    columns = [
        "region_code",
        "region_zh",
        "targets",
        "met",
        "on_track",
        "off_track",
        "no_data",
        "judged",
        "no_data_reasons",
        "reported_figures",
        "reported_agree",
    ]
    return pd.DataFrame(rows, columns=columns)


def estimate_vs_published(reported: pd.DataFrame) -> dict:
    """The estimated stock of high-tech enterprises against every published stock: n and median |diff| %."""
    rows = reported[
        (reported["warehouse_indicator"] == "hightech_enterprises_valid_est")
        & (reported["unit"] == "家")
        & reported["difference_pct"].notna()
    ]
    values = rows["difference_pct"].abs()
    return {
        "n": int(len(rows)),
        "median_abs_diff_pct": None if values.empty else float(values.median()),
        "regions": int(rows["region_code"].nunique()),
    }
