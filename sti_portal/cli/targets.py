"""Command line for the policy-target extractor.

    sti targets extract FILE... [--format jsonl|table]
    sti targets score [GOLD_DIR] [PRED.jsonl] [--errors] [--leave-one-region-out]

The click group ``targets`` is importable (``from sti_portal.cli.targets import targets``) so that it
can be registered under the main ``sti`` command. Unreadable input gives a one-line error naming the
file and exit code 1, never a traceback.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

import click

from sti_portal.targets.extract import FIELDS, extract_file
from sti_portal.targets.gold_reviews import write_reviews
from sti_portal.targets.score import (
    DEFAULT_GOLD_DIR,
    format_confusion,
    format_errors,
    format_table,
    leave_one_region_out,
    score_dir,
)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _read_statements(path: str) -> list[dict]:
    p = Path(path)
    try:
        if not p.exists():
            raise FileNotFoundError("no such file")
        if p.is_dir():
            raise IsADirectoryError("is a directory")
        return extract_file(p)
    except UnicodeDecodeError as exc:
        _fail(f"{path}: cannot decode as {exc.encoding} (byte {exc.start})")
    except json.JSONDecodeError as exc:
        _fail(f"{path}: sidecar .meta.json is not valid JSON ({exc.msg}, line {exc.lineno})")
    except (OSError, ValueError, LookupError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        _fail(f"{path}: {reason}")
    return []


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _table(rows: list[dict]) -> str:
    """Aligned table (CJK characters count as two columns)."""
    cols = ["doc", "kind", "indicator", "value", "unit", "value_base", "comparator", "target_year", "region"]
    cells = [
        [("" if r.get(c) is None else f"{r[c]:g}" if isinstance(r.get(c), float) else str(r[c])) for c in cols]
        for r in rows
    ]
    widths = [max([_width(c)] + [_width(row[i]) for row in cells]) for i, c in enumerate(cols)]
    lines = ["  ".join(_pad(c, w) for c, w in zip(cols, widths)) + "  span"]
    for r, row in zip(rows, cells):
        lines.append("  ".join(_pad(v, w) for v, w in zip(row, widths)) + "  " + r["span"])
    return "\n".join(lines)


def _ensure_utf8_stdout() -> None:
    try:
        sys.stdout.reconfigure(encoding="utf-8")  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        pass


@click.group(name="targets", help="Extract quantitative STI targets and achieved figures from policy texts.")
def targets() -> None:
    pass


@targets.command("extract")
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "table"]),
    default="jsonl",
    show_default=True,
    help="one JSON object per statement, or an aligned table",
)
def extract_cmd(files: tuple[str, ...], fmt: str) -> None:
    """Extract statements from FILE... (.txt UTF-8 or .html, with optional NAME.meta.json sidecar)."""
    _ensure_utf8_stdout()
    all_rows = []
    for path in files:
        rows = _read_statements(path)
        all_rows.extend(rows)
        if fmt == "jsonl":
            for row in rows:
                click.echo(json.dumps({k: row[k] for k in FIELDS}, ensure_ascii=False))
    if fmt == "table":
        click.echo(_table(all_rows))


@targets.command("score")
@click.argument("gold_dir", required=False, default=str(DEFAULT_GOLD_DIR))
@click.argument("pred", required=False)
@click.option("--errors", is_flag=True, help="also list misses, spurious statements and wrong attributes")
@click.option(
    "--leave-one-region-out",
    "loro",
    is_flag=True,
    help="also score each province with the vocabulary rows only its own labels use removed",
)
@click.option(
    "--write-reviews",
    "reviews_file",
    default=None,
    help="add a review row (from the hand labels) for every extracted target to this CSV "
    "(catalogue/target_reviews.csv), keeping its existing rows",
)
def score_cmd(gold_dir: str, pred: str | None, errors: bool, loro: bool, reviews_file: str | None) -> None:
    """Score PRED.jsonl (default: the extractor run on GOLD_DIR's texts) against GOLD_DIR/*.gold.jsonl
    (default GOLD_DIR: the bundled policy documents). Prints per-document precision, recall, F1 and the
    accuracy of each field on matched statements, then the confusion table of indicator ids."""
    _ensure_utf8_stdout()
    try:
        result = score_dir(gold_dir, pred)
        held_out = leave_one_region_out(gold_dir) if loro else None
    except UnicodeDecodeError as exc:
        _fail(f"{gold_dir}: cannot decode a file as {exc.encoding}")
    except (OSError, ValueError) as exc:
        _fail(str(exc))
    click.echo(format_table(result))
    click.echo("")
    click.echo(format_confusion(result["confusion"]))
    if held_out is not None:
        click.echo("")
        click.echo("leave one region out (vocabulary rows used only by that region's labels removed):")
        click.echo(format_table(held_out, title="region"))
    if errors and result["errors"]:
        click.echo("")
        click.echo(format_errors(result))
    if reviews_file:
        kept, added = write_reviews(Path(reviews_file), Path(gold_dir))
        click.echo(f"\n{reviews_file}: kept {kept} review(s), added {added} from the hand labels")


if __name__ == "__main__":
    targets()
