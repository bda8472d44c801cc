"""Score extracted statements against hand labels.

A predicted statement matches a gold one when both are in the same document, their spans overlap
(spans located in the document text with ``str.find``; every occurrence is tried) and their
``value_base`` agree within a relative tolerance of 1e-9. Matching is one-to-one (maximum bipartite
matching, preferring larger overlaps). Reported: precision, recall and F1 of matched statements, and
on matched pairs the accuracy of ``indicator``, ``comparator``, ``target_year``, ``kind``, ``unit`` and
``region``; per document and overall (micro-averaged).

Spurious predictions whose span overlaps a span of ``GOLD_DIR/dev_neutral.jsonl`` (numeric-looking
text deliberately left unlabelled, each with a reason) count neither as hits nor as false positives.
**Named-indicator accuracy**: on matched pairs where the gold or the predicted indicator is a named id
(not ``other``), the share where they agree: the figure that says whether the extractor knows *which*
statistic a number is about. ``confusion`` counts (gold id, predicted id) over all matched pairs.

Usage: ``sti targets score [GOLD_DIR] [PRED.jsonl] [--errors] [--leave-one-region-out]`` (default
GOLD_DIR: the bundled ``sources/snapshots/policy_docs``), or ``python -m sti_portal.targets.score``.
"""

from __future__ import annotations

import json
import math
import sys
import unicodedata
from collections import Counter
from pathlib import Path

from sources.common import SNAPSHOT_DIR
from sources.policy_docs import read_meta, read_text

from .extract import extract_statements
from .gazetteer import normalise_region
from .vocabulary import Vocabulary, default_vocabulary, lookup

ATTRIBUTES = ("indicator", "comparator", "target_year", "kind", "unit", "region")
DEFAULT_GOLD_DIR = SNAPSHOT_DIR / "policy_docs"
NEUTRAL_FILE = "dev_neutral.jsonl"


def load_jsonl(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from None
    return rows


def span_intervals(text: str, span: str) -> list[tuple[int, int]]:
    """Every occurrence of ``span`` in ``text`` as (start, end)."""
    out, pos = [], 0
    if not span:
        return out
    while True:
        i = text.find(span, pos)
        if i < 0:
            return out
        out.append((i, i + len(span)))
        pos = i + 1


def overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    """Largest overlap (in characters) between any interval of ``a`` and any of ``b``."""
    best = 0
    for s1, e1 in a:
        for s2, e2 in b:
            best = max(best, min(e1, e2) - max(s1, s2))
    return best


def same_value(x, y) -> bool:
    try:
        x, y = float(x), float(y)
    except (TypeError, ValueError):
        return False
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)


def match_statements(text: str, gold: list[dict], pred: list[dict]) -> list[tuple[int, int]]:
    """One-to-one (gold index, pred index) pairs: overlapping spans and equal ``value_base``."""
    g_iv = [span_intervals(text, g.get("span", "")) for g in gold]
    p_iv = [span_intervals(text, p.get("span", "")) for p in pred]
    edges: dict[int, list[tuple[int, int]]] = {}
    for gi, g in enumerate(gold):
        for pi, p in enumerate(pred):
            ov = overlap(g_iv[gi], p_iv[pi])
            if ov > 0 and same_value(g.get("value_base"), p.get("value_base")):
                edges.setdefault(gi, []).append((ov, pi))
    for gi in edges:
        edges[gi].sort(reverse=True)
    pred_to_gold: dict[int, int] = {}

    def augment(gi: int, seen: set[int]) -> bool:  # Kuhn's algorithm
        for _, pi in edges.get(gi, []):
            if pi in seen:
                continue
            seen.add(pi)
            if pi not in pred_to_gold or augment(pred_to_gold[pi], seen):
                pred_to_gold[pi] = gi
                return True
        return False

    for gi in sorted(edges, key=lambda g: -max(ov for ov, _ in edges[g])):
        augment(gi, set())
    return sorted((gi, pi) for pi, gi in pred_to_gold.items())


def _prf(n_gold: int, n_pred: int, n_match: int) -> tuple[float, float, float]:
    p = n_match / n_pred if n_pred else (1.0 if n_gold == 0 else 0.0)
    r = n_match / n_gold if n_gold else (1.0 if n_pred == 0 else 0.0)
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def drop_neutral(text: str, pred: list[dict], neutral_spans: list[str], matched: set[int]) -> list[int]:
    """Indices of unmatched predictions that overlap a deliberately unlabelled span."""
    neutral = [iv for span in neutral_spans for iv in span_intervals(text, span)]
    return [
        i
        for i, p in enumerate(pred)
        if i not in matched and overlap(span_intervals(text, p.get("span", "")), neutral) > 0
    ]


def _doc_row(text: str, gold: list[dict], pred: list[dict], neutral_spans: list[str]) -> tuple[dict, list]:
    pairs = match_statements(text, gold, pred)
    matched_p = {pi for _, pi in pairs}
    neutral = set(drop_neutral(text, pred, neutral_spans, matched_p))
    row = {"gold": len(gold), "pred": len(pred) - len(neutral), "match": len(pairs)}
    for attr in ATTRIBUTES:
        row[attr] = sum(1 for gi, pi in pairs if gold[gi].get(attr) == pred[pi].get(attr))
    named = [
        (gold[gi]["indicator"], pred[pi]["indicator"])
        for gi, pi in pairs
        if "other" not in (gold[gi].get("indicator"), pred[pi].get("indicator"))
        or gold[gi].get("indicator") != pred[pi].get("indicator")
    ]
    row["named"] = len(named)
    row["named_ok"] = sum(1 for g, p in named if g == p)
    matched_g = {gi for gi, _ in pairs}
    errors = [("missed", g) for i, g in enumerate(gold) if i not in matched_g]
    errors += [("spurious", p) for i, p in enumerate(pred) if i not in matched_p and i not in neutral]
    errors += [
        ("wrong " + a, {"gold": gold[gi].get(a), "pred": pred[pi].get(a), "span": gold[gi].get("span")})
        for gi, pi in pairs
        for a in ATTRIBUTES
        if gold[gi].get(a) != pred[pi].get(a)
    ]
    row["_confusion"] = Counter((gold[gi].get("indicator"), pred[pi].get("indicator")) for gi, pi in pairs)
    return row, errors


def score_documents(docs: dict[str, tuple], neutral: dict[str, list[str]] | None = None) -> dict:
    """``docs``: name → (text, gold rows, predicted rows). Returns per-doc and overall figures, the errors
    and the confusion counts of indicator ids (gold, predicted) over matched pairs."""
    neutral = neutral or {}
    per_doc = {}
    totals = Counter()
    confusion: Counter = Counter()
    errors = []
    for name in sorted(docs):
        text, gold, pred = docs[name]
        row, doc_errors = _doc_row(text, gold, pred, neutral.get(name, []))
        confusion.update(row.pop("_confusion"))
        totals.update(row)
        errors += [(what, name, detail) for what, detail in doc_errors]
        per_doc[name] = _finish(row)
    return {"docs": per_doc, "overall": _finish(totals), "errors": errors, "confusion": confusion}


def _finish(row: dict) -> dict:
    p, r, f = _prf(row["gold"], row["pred"], row["match"])
    out = {"gold": row["gold"], "pred": row["pred"], "match": row["match"], "precision": p, "recall": r, "f1": f}
    for attr in ATTRIBUTES:
        out[f"{attr}_acc"] = row[attr] / row["match"] if row["match"] else None
    out["named_acc"] = row["named_ok"] / row["named"] if row.get("named") else None
    return out


def read_neutral(gold_dir: Path) -> dict[str, list[str]]:
    """doc → spans deliberately left unlabelled (GOLD_DIR/dev_neutral.jsonl, when present)."""
    path = gold_dir / NEUTRAL_FILE
    out: dict[str, list[str]] = {}
    for row in load_jsonl(path) if path.exists() else []:
        out.setdefault(row.get("doc", ""), []).append(row.get("span", ""))
    return out


def labelled_documents(gold_dir: str | Path) -> list[tuple[Path, Path]]:
    """(document file, gold file) for every ``*.gold.jsonl`` in ``gold_dir``."""
    gold_dir = Path(gold_dir)
    if not gold_dir.is_dir():
        raise FileNotFoundError(f"{gold_dir}: not a directory")
    out = []
    for gold_file in sorted(gold_dir.glob("*.gold.jsonl")):
        stem = gold_file.name[: -len(".gold.jsonl")]
        text_file = next(
            (gold_dir / f"{stem}{ext}" for ext in (".txt", ".html", ".htm") if (gold_dir / f"{stem}{ext}").exists()),
            None,
        )
        if text_file is None:
            raise FileNotFoundError(f"{gold_file}: no {stem}.txt or {stem}.html next to it")
        out.append((text_file, gold_file))
    return out


def collect(
    gold_dir: str | Path, pred_path: str | Path | None = None, vocabulary=None, only: set[str] | None = None
) -> dict[str, tuple]:
    """Text, gold and predictions (the extractor's, or those of ``pred_path``) for every labelled
    document of ``gold_dir`` (or only the document files named in ``only``)."""
    preds_by_doc: dict[str, list[dict]] | None = None
    if pred_path is not None:
        preds_by_doc = {}
        for row in load_jsonl(Path(pred_path)):
            preds_by_doc.setdefault(row.get("doc", ""), []).append(row)
    docs = {}
    for text_file, gold_file in labelled_documents(gold_dir):
        if only is not None and text_file.name not in only:
            continue
        text = read_text(text_file)
        if preds_by_doc is None:
            pred = extract_statements(text, read_meta(text_file), text_file.name, vocabulary=vocabulary)
        else:
            pred = preds_by_doc.get(text_file.name, [])
        docs[text_file.name] = (text, load_jsonl(gold_file), pred)
    return docs


def score_dir(gold_dir: str | Path = DEFAULT_GOLD_DIR, pred_path: str | Path | None = None) -> dict:
    """Score predictions (or the extractor's output) against the gold labels in ``gold_dir``."""
    return score_documents(collect(gold_dir, pred_path), read_neutral(Path(gold_dir)))


# ------------------------------------------------------------------------------ leave one region out


def document_province(text_file: Path, gold: list[dict]) -> str:
    """The province a labelled document is about: its meta file's region, else its gold statements'."""
    province, _ = normalise_region(read_meta(text_file).get("region"))
    if province is None:
        provinces = {normalise_region(g.get("region"))[0] for g in gold} - {None}
        province = min(provinces) if len(provinces) == 1 else None
    return province or "(no region)"


def vocabulary_rows_by_region(gold_dir: Path, vocabulary: Vocabulary) -> dict[int, set[str]]:
    """Vocabulary row → the provinces whose gold statements that row helps to name correctly."""
    used: dict[int, set[str]] = {}
    for text_file, gold_file in labelled_documents(gold_dir):
        gold = load_jsonl(gold_file)
        province = document_province(text_file, gold)
        for g in gold:
            if g.get("indicator") in (None, "other"):
                continue
            ident, rows = lookup(
                g.get("indicator_text") or "", g.get("unit") or "", g.get("comparator") or "", vocabulary
            )
            if ident == g["indicator"]:
                for row in rows:
                    used.setdefault(row, set()).add(province)
    return used


def leave_one_region_out(gold_dir: str | Path = DEFAULT_GOLD_DIR) -> dict:
    """Score each province's documents with the vocabulary rows that only its own gold statements need
    removed. The rules themselves are hand-written, not learned; this measures how much of the
    named-indicator accuracy rests on wording seen in one region only."""
    gold_dir = Path(gold_dir)
    vocabulary = default_vocabulary()
    used = vocabulary_rows_by_region(gold_dir, vocabulary)
    by_province: dict[str, set[str]] = {}
    for text_file, gold_file in labelled_documents(gold_dir):
        province = document_province(text_file, load_jsonl(gold_file))
        by_province.setdefault(province, set()).add(text_file.name)
    neutral = read_neutral(gold_dir)
    docs, per_region, removed = {}, {}, {}
    for province, names in sorted(by_province.items()):
        own = {row for row, provinces in used.items() if provinces == {province}}
        removed[province] = sorted(own)
        region_docs = collect(gold_dir, vocabulary=vocabulary.without(own), only=names)
        docs.update(region_docs)
        per_region[f"{province} (-{len(own)} rows)"] = score_documents(region_docs, neutral)["overall"]
    result = score_documents(docs, neutral)
    result["docs"] = per_region
    result["removed_rows"] = removed
    return result


def _fmt(x) -> str:
    return "  -  " if x is None else f"{x:.3f}"


_COLUMNS = (
    ("P", "precision"),
    ("R", "recall"),
    ("F1", "f1"),
    ("indic", "indicator_acc"),
    ("named", "named_acc"),
    ("comp", "comparator_acc"),
    ("year", "target_year_acc"),
    ("kind", "kind_acc"),
    ("unit", "unit_acc"),
    ("region", "region_acc"),
)


def _pad(text: str, width: int) -> str:
    """Left-aligned in ``width`` terminal columns (a CJK character takes two)."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - used)


def format_table(result: dict, title: str = "doc") -> str:
    head = f"{title:<32} {'gold':>4} {'pred':>4} {'match':>5} " + " ".join(f"{c:>6}" for c, _ in _COLUMNS)
    lines = [head, "-" * len(head)]
    rows = list(result["docs"].items()) + [("OVERALL", result["overall"])]
    for name, r in rows:
        if name == "OVERALL":
            lines.append("-" * len(head))
        lines.append(
            f"{_pad(name[:32], 32)} {r['gold']:>4} {r['pred']:>4} {r['match']:>5} "
            + " ".join(f"{_fmt(r[key]):>6}" for _, key in _COLUMNS)
        )
    return "\n".join(lines)


def format_confusion(confusion: Counter) -> str:
    """Rows: gold indicator id; columns: predicted id (numbered as the rows); matched pairs only."""
    ids = sorted({i for pair in confusion for i in pair}, key=lambda i: (i == "other", i))
    lines = [
        "indicator confusion (rows gold, columns predicted):",
        f"{'':<36}" + "".join(f"{n:>5}" for n in range(1, len(ids) + 1)),
    ]
    for n, gold_id in enumerate(ids, 1):
        lines.append(f"{n:>2} {gold_id:<33}" + "".join(f"{confusion.get((gold_id, p), 0) or '.':>5}" for p in ids))
    return "\n".join(lines)


def format_errors(result: dict) -> str:
    out = []
    for what, doc, row in result["errors"]:
        if what in ("missed", "spurious"):
            out.append(
                f"{what:<9} {doc[:12]} {row.get('span')!s:.60} = {row.get('value_base')} "
                f"[{row.get('indicator')}/{row.get('kind')}]"
            )
        else:
            out.append(f"{what:<9} {doc[:12]} gold={row['gold']!r} pred={row['pred']!r} | {row['span']}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    if len(args) > 2:
        print("usage: python -m sti_portal.targets.score [GOLD_DIR] [PRED.jsonl] [-v]", file=sys.stderr)
        return 2
    try:
        result = score_dir(args[0] if args else DEFAULT_GOLD_DIR, args[1] if len(args) == 2 else None)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_table(result))
    print()
    print(format_confusion(result["confusion"]))
    if verbose and result["errors"]:
        print()
        print(format_errors(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
