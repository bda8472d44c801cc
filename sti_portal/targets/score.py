"""Score extracted statements against hand labels.

A predicted statement matches a gold one when both are in the same document, their spans overlap
(spans located in the document text with ``str.find``; every occurrence is tried) and their
``value_base`` agree within a relative tolerance of 1e-9. Matching is one-to-one (maximum bipartite
matching, preferring larger overlaps). Reported: precision, recall and F1 of matched statements, and
on matched pairs the accuracy of ``indicator``, ``comparator``, ``target_year``, ``kind``, ``unit`` and
``region``; per document and overall (micro-averaged).

Usage::

    python -m sti_portal.targets.score GOLD_DIR [PRED.jsonl]

Without ``PRED.jsonl`` the extractor is run on every ``.txt`` file of ``GOLD_DIR``.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ATTRIBUTES = ("indicator", "comparator", "target_year", "kind", "unit", "region")


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

    def augment(gi: int, seen: set[int]) -> bool:          # Kuhn's algorithm
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


def score_documents(docs: dict[str, tuple[str, list[dict], list[dict]]]) -> dict:
    """``docs``: name → (text, gold rows, predicted rows). Returns per-doc and overall figures."""
    per_doc = {}
    totals = {"gold": 0, "pred": 0, "match": 0, **{a: 0 for a in ATTRIBUTES}}
    misses = []
    for name in sorted(docs):
        text, gold, pred = docs[name]
        pairs = match_statements(text, gold, pred)
        row = {"gold": len(gold), "pred": len(pred), "match": len(pairs)}
        for attr in ATTRIBUTES:
            row[attr] = sum(1 for gi, pi in pairs if gold[gi].get(attr) == pred[pi].get(attr))
        for key in totals:
            totals[key] += row[key]
        matched_g = {gi for gi, _ in pairs}
        matched_p = {pi for _, pi in pairs}
        misses += [("missed", name, g) for i, g in enumerate(gold) if i not in matched_g]
        misses += [("spurious", name, p) for i, p in enumerate(pred) if i not in matched_p]
        misses += [("wrong " + a, name, {"gold": gold[gi].get(a), "pred": pred[pi].get(a),
                                          "span": gold[gi].get("span")})
                   for gi, pi in pairs for a in ATTRIBUTES if gold[gi].get(a) != pred[pi].get(a)]
        per_doc[name] = _finish(row)
    return {"docs": per_doc, "overall": _finish(totals), "errors": misses}


def _finish(row: dict) -> dict:
    p, r, f = _prf(row["gold"], row["pred"], row["match"])
    out = {"gold": row["gold"], "pred": row["pred"], "match": row["match"],
           "precision": p, "recall": r, "f1": f}
    for attr in ATTRIBUTES:
        out[f"{attr}_acc"] = row[attr] / row["match"] if row["match"] else None
    return out


def read_document_text(path: Path) -> str:
    """The text spans refer to: the file itself, or for HTML the extracted body text."""
    from .extract import read_text

    return read_text(path)


def collect(gold_dir: str | Path, pred_path: str | Path | None = None) -> dict[str, tuple]:
    """Gold, text and predictions for every ``*.gold.jsonl`` in ``gold_dir``."""
    from .extract import extract_file

    gold_dir = Path(gold_dir)
    if not gold_dir.is_dir():
        raise FileNotFoundError(f"{gold_dir}: not a directory")
    preds_by_doc: dict[str, list[dict]] | None = None
    if pred_path is not None:
        preds_by_doc = {}
        for row in load_jsonl(Path(pred_path)):
            preds_by_doc.setdefault(row.get("doc", ""), []).append(row)
    docs = {}
    for gold_file in sorted(gold_dir.glob("*.gold.jsonl")):
        stem = gold_file.name[: -len(".gold.jsonl")]
        text_file = next((gold_dir / f"{stem}{ext}" for ext in (".txt", ".html", ".htm")
                          if (gold_dir / f"{stem}{ext}").exists()), None)
        if text_file is None:
            raise FileNotFoundError(f"{gold_file}: no {stem}.txt next to it")
        text = read_document_text(text_file)
        gold = load_jsonl(gold_file)
        if preds_by_doc is None:
            pred = extract_file(text_file)
        else:
            pred = preds_by_doc.get(text_file.name, [])
        docs[text_file.name] = (text, gold, pred)
    return docs


def score_dir(gold_dir: str | Path, pred_path: str | Path | None = None) -> dict:
    """Score predictions (or the extractor's output) against the gold labels in ``gold_dir``."""
    return score_documents(collect(gold_dir, pred_path))


def _fmt(x) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def format_table(result: dict) -> str:
    head = (f"{'doc':<32} {'gold':>4} {'pred':>4} {'match':>5} {'P':>6} {'R':>6} {'F1':>6} "
            f"{'indic':>6} {'comp':>6} {'year':>6} {'kind':>6} {'unit':>6} {'region':>6}")
    lines = [head, "-" * len(head)]
    rows = list(result["docs"].items()) + [("OVERALL", result["overall"])]
    for name, r in rows:
        if name == "OVERALL":
            lines.append("-" * len(head))
        lines.append(
            f"{name[:32]:<32} {r['gold']:>4} {r['pred']:>4} {r['match']:>5} {_fmt(r['precision']):>6} "
            f"{_fmt(r['recall']):>6} {_fmt(r['f1']):>6} {_fmt(r['indicator_acc']):>6} "
            f"{_fmt(r['comparator_acc']):>6} {_fmt(r['target_year_acc']):>6} {_fmt(r['kind_acc']):>6} "
            f"{_fmt(r['unit_acc']):>6} {_fmt(r['region_acc']):>6}")
    return "\n".join(lines)


def format_errors(result: dict) -> str:
    out = []
    for what, doc, row in result["errors"]:
        if what in ("missed", "spurious"):
            out.append(f"{what:<9} {doc[:12]} {row.get('span')!s:.60} = {row.get('value_base')} "
                       f"[{row.get('indicator')}/{row.get('kind')}]")
        else:
            out.append(f"{what:<9} {doc[:12]} gold={row['gold']!r} pred={row['pred']!r} | {row['span']}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    if not 1 <= len(args) <= 2:
        print("usage: python -m sti_portal.targets.score GOLD_DIR [PRED.jsonl] [-v]", file=sys.stderr)
        return 2
    try:
        result = score_dir(args[0], args[1] if len(args) == 2 else None)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_table(result))
    if verbose and result["errors"]:
        print()
        print(format_errors(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
