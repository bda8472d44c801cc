"""The policy-target tables: documents, extracted statements with their review, and target progress.

    policy_documents    one row per document (sources/policy_docs.py), with its full text
    policy_statements   every statement the extractor finds (kind target AND achieved), with its
                        character offset in policy_documents.text, the review (catalogue/
                        target_reviews.csv) applied, the warehouse indicator and the progress rule
    targets             the statements of kind target (a view of policy_statements in the warehouse)
    target_progress     each target with an indicator (not `other`) that no review rejected, against
                        the warehouse (sti_portal/targets/progress.py)
    target_indicators   the extractor's indicator ids mapped to warehouse indicators (catalogue/
                        target_indicators.csv) with comparability, caveat and progress rule
    reported_vs_official  achieved figures against every release of the statistics (targets/reported.py)
    target_region_summary per province: targets met / on track / off track / no data, and why

Achieved statements are kept (in policy_statements, not in targets): they are what the documents
say was reached, evidence a reader can hold against the statistics, and a reviewer may re-classify
a statement's kind, which must not make it disappear.

A review row is keyed by document file name + span (the exact extracted span). Its status
`confirmed` or `rejected` replaces `extracted`; its non-empty columns correct the extracted fields
(indicator, value, unit, comparator, target_year, region, kind) or the mapping (warehouse_indicator,
comparability, baseline_year). A review whose span no longer matches an extracted statement is
reported by the `policy_targets` asset check (the extractor changed: review it again).
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sources import policy_docs
from sti_portal.core import catalogue
from sti_portal.core import settings as config
from sti_portal.core.releases import newest_per_key
from sti_portal.core.settings import CATALOGUE_DIR

from .extract import FIELDS, INDICATOR_IDS, extract_statements
from .numbers import to_base
from .progress import progress_rule, target_progress, to_indicator_unit
from .reported import region_summary, reported_vs_official

REVIEWS_FILE = CATALOGUE_DIR / "target_reviews.csv"
INDICATOR_MAP_FILE = CATALOGUE_DIR / "target_indicators.csv"

REVIEW_STATUSES = ("confirmed", "rejected")
CORRECTABLE = ("kind", "indicator", "value", "unit", "comparator", "target_year", "region")
MAPPING_OVERRIDES = ("warehouse_indicator", "comparability", "baseline_year")
REVIEW_COLUMNS = ["doc", "span", "status", *CORRECTABLE, *MAPPING_OVERRIDES, "reviewer", "reviewed_on", "note"]
COMPARATORS = ("eq", "ge", "le", "approx", "growth")
COMPARABILITY = ("same", "broader", "estimate", "none")
KINDS = ("target", "achieved")

STATEMENT_COLUMNS = [
    "statement_id",
    "doc_id",
    "doc",
    "doc_title",
    "doc_date",
    "kind",
    "span",
    "char_offset",
    "char_end",
    "indicator_text",
    "indicator",
    "value",
    "unit",
    "value_base",
    "comparator",
    "target_year",
    "region",
    "region_code",
    "province_code",
    "warehouse_indicator",
    "comparability",
    "indicator_caveat",
    "review_status",
    "corrections",
    "reviewer",
    "reviewed_on",
    "review_note",
    "baseline_year",
    "progress_rule",
    "extracted",
]
INDICATOR_MAP_COLUMNS = [
    "indicator",
    "name_zh",
    "warehouse_indicator",
    "comparability",
    "caveat",
    "progress_rule_level",
    "progress_rule_growth",
]


class TargetReviewError(ValueError):
    """The review file or the indicator map is malformed; the message names the row and column."""


@dataclass
class PolicyTargets:
    """What the `policy_targets` asset produces."""

    documents: pd.DataFrame  # policy_documents
    statements: pd.DataFrame  # policy_statements
    reviews: pd.DataFrame  # the review file, with `matched` (bool)
    indicator_map: pd.DataFrame  # target_indicators

    @property
    def targets(self) -> pd.DataFrame:
        return self.statements[self.statements["kind"] == "target"].reset_index(drop=True)

    def confirmed_targets(self) -> pd.DataFrame:
        t = self.targets
        return t[(t["review_status"] == "confirmed") & (t["indicator"] != "other")].reset_index(drop=True)

    def judged_targets(self) -> pd.DataFrame:
        """Every target with an indicator that no review rejected: confirmed and extracted alike (the
        row's review_status tells them apart), so each improvement of the extractor is judged at once."""
        t = self.targets
        return t[(t["review_status"] != "rejected") & (t["indicator"] != "other")].reset_index(drop=True)


# ------------------------------------------------------------------------------------ curated files


def _blank(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or str(x).strip() == ""


def load_indicator_map(path: Path = INDICATOR_MAP_FILE) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    known = set(catalogue.indicators()["indicator_id"])
    problems = []
    missing = set(INDICATOR_IDS) - set(frame["indicator"])
    if missing:
        problems.append(f"{path}: no row for {', '.join(sorted(missing))}")
    for i, row in frame.iterrows():
        where = f"{path}, row {i + 2}"
        if row["warehouse_indicator"] != "none" and row["warehouse_indicator"] not in known:
            problems.append(
                f"{where}: warehouse_indicator {row['warehouse_indicator']!r} is not in "
                f"catalogue/indicators.csv (or 'none')"
            )
        if row["comparability"] not in COMPARABILITY:
            problems.append(f"{where}: comparability must be one of {', '.join(COMPARABILITY)}")
        if (row["warehouse_indicator"] == "none") != (row["comparability"] == "none"):
            problems.append(f"{where}: comparability 'none' goes with warehouse_indicator 'none' and only with it")
    if problems:
        raise TargetReviewError("\n".join(problems))
    frame["progress_rule_level"] = [progress_rule("eq", c) for c in frame["comparability"]]
    frame["progress_rule_growth"] = [progress_rule("growth", c) for c in frame["comparability"]]
    return frame[INDICATOR_MAP_COLUMNS]


def load_reviews(path: Path = REVIEWS_FILE) -> pd.DataFrame:
    """The curated review file, validated: every problem names its row and column."""
    if not Path(path).exists():
        return pd.DataFrame(columns=REVIEW_COLUMNS)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing_cols = [c for c in REVIEW_COLUMNS if c not in frame.columns]
    if missing_cols:
        raise TargetReviewError(f"{path}: missing column(s) {', '.join(missing_cols)}")
    known = set(catalogue.indicators()["indicator_id"])
    problems = []
    for i, row in frame.iterrows():
        where = f"{path}, row {i + 2}"
        if not row["doc"] or not row["span"]:
            problems.append(f"{where}: doc and span are required")
        if row["status"] not in REVIEW_STATUSES:
            problems.append(f"{where}: status must be one of {', '.join(REVIEW_STATUSES)} (got {row['status']!r})")
        checks = {
            "kind": lambda v: v in KINDS,
            "indicator": lambda v: v in INDICATOR_IDS,
            "comparator": lambda v: v in COMPARATORS,
            "comparability": lambda v: v in COMPARABILITY,
            "warehouse_indicator": lambda v: v == "none" or v in known,
            "value": _is_float,
            "target_year": lambda v: v.isdigit() and 1949 <= int(v) <= 2100,
            "baseline_year": lambda v: v.isdigit() and 1949 <= int(v) <= 2100,
        }
        for col, ok in checks.items():
            if row[col] and not ok(row[col]):
                problems.append(f"{where}: {col} {row[col]!r} is not valid")
    duplicated = frame[frame.duplicated(["doc", "span"], keep=False)]
    for (doc, span), _ in duplicated.groupby(["doc", "span"]):
        problems.append(f"{path}: more than one review for {doc} / {span}")
    if problems:
        raise TargetReviewError("\n".join(problems))
    return frame[REVIEW_COLUMNS]


def _is_float(v: str) -> bool:
    try:
        return math.isfinite(float(v))
    except ValueError:
        return False


# ------------------------------------------------------------------------------------ extraction


def _meta_of(doc: dict) -> dict:
    return {k: doc[k] for k in ("title", "issuer", "region", "date", "url", "kind") if not _blank(doc.get(k))}


def extract_document_statements(documents: pd.DataFrame) -> pd.DataFrame:
    """The extractor's statements for every document, with their character offsets in the text."""
    rows = []
    for doc in documents.to_dict("records"):
        text = doc["text"]
        next_from: dict[str, int] = {}
        for st in extract_statements(text, _meta_of(doc), doc["doc"]):
            start = text.find(st["span"], next_from.get(st["span"], 0))
            if start < 0:
                start = text.find(st["span"])
            next_from[st["span"]] = start + 1 if start >= 0 else 0
            rows.append(
                {
                    **{k: st[k] for k in FIELDS},
                    "doc_id": doc["doc_id"],
                    "char_offset": start if start >= 0 else None,
                    "char_end": start + len(st["span"]) if start >= 0 else None,
                    "extracted": json.dumps({k: st[k] for k in FIELDS}, ensure_ascii=False),
                }
            )
    frame = pd.DataFrame(rows, columns=[*FIELDS, "doc_id", "char_offset", "char_end", "extracted"])
    ids = [
        f"{d}:{o if o is not None and not pd.isna(o) else 'x'}-{e if e is not None and not pd.isna(e) else i}"
        for i, (d, o, e) in enumerate(zip(frame["doc_id"], frame["char_offset"], frame["char_end"]))
    ]
    seen: dict[str, int] = {}
    unique = []
    for sid in ids:
        seen[sid] = seen.get(sid, 0) + 1
        unique.append(sid if seen[sid] == 1 else f"{sid}#{seen[sid]}")
    frame.insert(0, "statement_id", unique)
    return frame


def _apply_one(st: dict, review: dict | None, mapping: dict[str, dict]) -> dict:
    """A statement with its review applied and its indicator mapped."""

    out = dict(st)
    corrections = []
    if review is None:
        out.update(review_status="extracted", reviewer=None, reviewed_on=None, review_note=None, baseline_year=None)
    else:
        out.update(
            review_status=review["status"],
            reviewer=review["reviewer"] or None,
            reviewed_on=review["reviewed_on"] or None,
            review_note=review["note"] or None,
            baseline_year=int(review["baseline_year"]) if review["baseline_year"] else None,
        )
        for col in CORRECTABLE:
            if review[col] == "":
                continue
            new = review[col]
            new = float(new) if col == "value" else int(new) if col == "target_year" else new
            old = st[col]
            if col == "target_year" and not _blank(old):
                old = int(old)
            if new != old:
                corrections.append(f"{col}: {old} → {new}")
                out[col] = new
        if any(c.startswith(("value:", "unit:")) for c in corrections):
            out["value_base"] = to_base(float(out["value"]), out["unit"])
    m = mapping.get(out["indicator"]) or mapping["other"]
    warehouse, comparability = m["warehouse_indicator"], m["comparability"]
    if review is not None and review["warehouse_indicator"]:
        warehouse = review["warehouse_indicator"]
        comparability = "none" if warehouse == "none" else (review["comparability"] or "same")
        corrections.append(f"warehouse_indicator: {m['warehouse_indicator']} → {warehouse}")
    elif review is not None and review["comparability"] and warehouse != "none":
        if review["comparability"] != comparability:
            corrections.append(f"comparability: {comparability} → {review['comparability']}")
        comparability = review["comparability"]
    region_code, province_code = policy_docs.region_codes(out["region"])
    out.update(
        warehouse_indicator=warehouse,
        comparability=comparability,
        indicator_caveat=m["caveat"] or None,
        region_code=region_code,
        province_code=province_code,
        corrections="; ".join(corrections) or None,
        progress_rule=progress_rule(out["comparator"], comparability) if out["kind"] == "target" else None,
    )
    return out


def apply_reviews(
    statements: pd.DataFrame, reviews: pd.DataFrame, indicator_map: pd.DataFrame, documents: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(policy_statements, reviews with `matched`)."""
    by_key = {(r["doc"], r["span"]): r for r in reviews.to_dict("records")}
    mapping = {r["indicator"]: r for r in indicator_map.to_dict("records")}
    docs = documents.set_index("doc_id")
    rows, matched = [], set()
    for st in statements.to_dict("records"):
        key = (st["doc"], st["span"])
        review = by_key.get(key)
        if review is not None:
            matched.add(key)
        doc = docs.loc[st["doc_id"]]
        row = _apply_one(st, review, mapping)
        row.update(doc_title=doc["title"], doc_date=None if _blank(doc["date"]) else doc["date"])
        rows.append(row)
    frame = pd.DataFrame(rows, columns=STATEMENT_COLUMNS)
    for col in ("char_offset", "char_end", "target_year", "baseline_year"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
    for col in ("value", "value_base"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    reviews = reviews.assign(matched=[(d, s) in matched for d, s in zip(reviews["doc"], reviews["span"])])
    return frame, reviews


def build_policy_targets(
    snapshot_dir: Path | None = None, reviews_path: Path = REVIEWS_FILE, indicator_map_path: Path = INDICATOR_MAP_FILE
) -> PolicyTargets:

    documents = policy_docs.extract(snapshot_dir or config.snapshot_dir())
    indicator_map = load_indicator_map(indicator_map_path)
    reviews = load_reviews(reviews_path)
    raw = extract_document_statements(documents)
    statements, reviews = apply_reviews(raw, reviews, indicator_map, documents)
    return PolicyTargets(documents=documents, statements=statements, reviews=reviews, indicator_map=indicator_map)


# ------------------------------------------------------------------------------------ checks


def integrity_problems(pt: PolicyTargets) -> list[str]:
    """Blocking: offsets that do not point at the span, duplicate ids, unknown documents."""
    problems = []
    texts = dict(zip(pt.documents["doc_id"], pt.documents["text"]))
    for st in pt.statements.to_dict("records"):
        off, end = st["char_offset"], st["char_end"]
        if pd.isna(off) or texts.get(st["doc_id"], "")[int(off) : int(end)] != st["span"]:
            problems.append(f"{st['statement_id']}: span {st['span']!r} is not at its offset in the document text")
    dup = pt.statements["statement_id"][pt.statements["statement_id"].duplicated()]
    problems += [f"duplicate statement_id {s}" for s in dup]
    return problems


def review_warnings(pt: PolicyTargets) -> list[str]:
    """Non-blocking: reviews that match no extracted statement; confirmed targets whose unit does not
    convert to their warehouse indicator's unit."""
    warnings = [
        f"catalogue/target_reviews.csv: no extracted statement for {r['doc']} / {r['span']} "
        f"(the extractor's span changed or the document is gone: review it again)"
        for r in pt.reviews.to_dict("records")
        if not r["matched"]
    ]
    units = dict(zip(catalogue.indicators()["indicator_id"], catalogue.indicators()["unit"]))
    for t in pt.confirmed_targets().to_dict("records"):
        wid = t["warehouse_indicator"]
        if (
            wid != "none"
            and t["comparator"] != "growth"
            and to_indicator_unit(t["value_base"], t["unit"], units[wid]) is None
        ):
            warnings.append(f"{t['statement_id']}: unit {t['unit']} does not convert to {wid} ({units[wid]})")
    return warnings


# ------------------------------------------------------------------------------------ warehouse frames


def current_observations(candidate_observations: pd.DataFrame) -> pd.DataFrame:
    """The current value per region, indicator and year (the rule of sti_portal/core/releases.py)."""
    return newest_per_key(candidate_observations)


def progress_frame(pt: PolicyTargets, current: pd.DataFrame, regions: pd.DataFrame | None = None) -> pd.DataFrame:
    targets = pt.judged_targets()
    years = dict(zip(pt.documents["doc_id"], pt.documents["year"]))
    targets = targets.assign(doc_year=[years.get(d) for d in targets["doc_id"]], caveat=targets["indicator_caveat"])
    frame = target_progress(
        targets,
        current,
        catalogue.indicators().reset_index(drop=True),
        regions if regions is not None else catalogue.china_regions(),
    )
    return _add_related(frame, current)


def _add_related(frame: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """For a target without a comparable series, what the warehouse does hold (named, not compared)."""
    related = {
        "hightech_enterprises": "hightech_enterprises_certified",
        "hightech_output_share": "hightech_industry_revenue",
        "rd_personnel_per_10k_labour": "rd_personnel_fte",
    }
    out = frame.copy()
    out["related_indicator"] = None
    out["related_year"] = pd.array([None] * len(out), dtype="Int64")
    out["related_value"] = float("nan")
    for i, row in out.iterrows():
        rid = related.get(row["indicator"])
        if row["comparability"] != "none" or rid is None or not row["region_code"]:
            continue
        s = current[
            (current["region_code"] == row["region_code"]) & (current["indicator_id"] == rid) & current["value"].notna()
        ].sort_values("year")
        out.at[i, "related_indicator"] = rid
        if len(s):
            out.at[i, "related_year"] = int(s.iloc[-1]["year"])
            out.at[i, "related_value"] = float(s.iloc[-1]["value"])
    return out


def warehouse_tables(
    pt: PolicyTargets | None, candidate_observations: pd.DataFrame, regions: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """The frames write_warehouse stores next to the statistics (DDL: warehouse/targets.sql).

    ``pt`` None: read the documents and reviews afresh (a writer outside Dagster, e.g. ``sti load``).
    """
    pt = pt if pt is not None else build_policy_targets()
    current = current_observations(candidate_observations)
    progress = progress_frame(pt, current, regions)
    names = regions if regions is not None else catalogue.china_regions()
    reported = reported_vs_official(pt.statements, candidate_observations, pt.documents, names)
    return {
        "policy_documents": pt.documents,
        "policy_statements": pt.statements,
        "target_progress": progress,
        "target_indicators": pt.indicator_map,
        "reported_vs_official": reported,
        "target_region_summary": region_summary(pt.statements, progress, reported, names),
    }


# ------------------------------------------------------------------------------------ sti.db

FTS_TABLE = "policy_documents_fts"


def add_fulltext(db: sqlite3.Connection) -> None:
    """Full-text index over policy_documents in sti.db: FTS5 with the trigram tokenizer (SQLite >= 3.34),
    so any Chinese substring of three or more characters matches.

    External content (`content="policy_documents"`, which is also how Datasette detects it): the index
    maps to policy_documents' rowids, so it must be built after the last VACUUM of the file.
    """
    if sqlite3.sqlite_version_info < (3, 34, 0):
        raise RuntimeError(f"SQLite {sqlite3.sqlite_version} has no trigram tokenizer (3.34 or later needed)")
    db.execute(
        f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title, issuer, region, text, "
        f'content="policy_documents", tokenize="trigram")'
    )
    db.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
    db.commit()
