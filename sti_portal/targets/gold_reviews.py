"""Reviews from the hand labels: every extracted target, and every extracted statement the labels
correct, becomes a row of catalogue/target_reviews.csv.

The labels (``*.gold.jsonl`` beside the bundled documents) are a person's reading of each figure, so
they are the review: an extracted statement that matches a label (spans overlap, same value) is
``confirmed`` with the label's fields where the extractor differs; an extracted target that matches
no label is ``rejected``. Rows written by a person (with their notes and mapping overrides) are kept;
the label-derived rows are rewritten for the extractor as it is. Run ``sti targets score
--write-reviews catalogue/target_reviews.csv`` after changing the extractor or the labels.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from .score import DEFAULT_GOLD_DIR, collect, match_statements

REVIEW_FIELDS = [
    "doc",
    "span",
    "status",
    "kind",
    "indicator",
    "value",
    "unit",
    "comparator",
    "target_year",
    "region",
    "warehouse_indicator",
    "comparability",
    "baseline_year",
    "reviewer",
    "reviewed_on",
    "note",
]
CORRECTABLE = ("kind", "indicator", "value", "unit", "comparator", "target_year", "region")
REVIEWER = "hand labels (sources/snapshots/policy_docs/*.gold.jsonl)"


def _cell(value) -> str:
    return "" if value is None else str(value)


def _confirm(pred: dict, gold: dict) -> dict:
    row = {"doc": pred["doc"], "span": pred["span"], "status": "confirmed"}
    diffs = []
    for field in CORRECTABLE:
        if gold.get(field) is not None and gold.get(field) != pred.get(field):
            row[field] = _cell(gold[field])
            diffs.append(field)
    row["note"] = "matches the hand label" + (f"; corrected: {', '.join(diffs)}" if diffs else "")
    return row


def _differs(pred: dict, gold: dict) -> bool:
    return any(gold.get(f) is not None and gold.get(f) != pred.get(f) for f in CORRECTABLE)


def reviews_from_gold(gold_dir: Path = DEFAULT_GOLD_DIR, reviewed_on: str | None = None) -> list[dict]:
    """Review rows for the extractor's statements on every labelled document of ``gold_dir``."""
    rows = []
    for _, (text, gold, pred) in sorted(collect(gold_dir).items()):
        pairs = dict((pi, gi) for gi, pi in match_statements(text, gold, pred))
        for pi, p in enumerate(pred):
            if pi in pairs:
                g = gold[pairs[pi]]
                if p["kind"] == "target" or g["kind"] == "target" or _differs(p, g):
                    rows.append(_confirm(p, g))
            elif p["kind"] == "target":
                rows.append(
                    {
                        "doc": p["doc"],
                        "span": p["span"],
                        "status": "rejected",
                        "note": "no hand label: not a target statement (see dev_neutral.jsonl)",
                    }
                )
    for row in rows:
        row.update(reviewer=REVIEWER, reviewed_on=reviewed_on or date.today().isoformat())
    return rows


def write_reviews(path: Path, gold_dir: Path = DEFAULT_GOLD_DIR) -> tuple[int, int]:
    """Rewrite the label-derived reviews of ``path`` for the extractor as it is now, keeping every row
    written by a person; (kept, added)."""
    existing = []
    if path.exists():
        with open(path, encoding="utf-8", newline="") as handle:
            existing = [r for r in csv.DictReader(handle) if r.get("reviewer") != REVIEWER]
    keys = {(r["doc"], r["span"]) for r in existing}
    added = [r for r in reviews_from_gold(gold_dir) if (r["doc"], r["span"]) not in keys]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=REVIEW_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in existing + added:
            writer.writerow({f: row.get(f, "") for f in REVIEW_FIELDS})
    return len(existing), len(added)
