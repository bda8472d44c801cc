"""Command line for the policy-target extractor.

    python -m sti_portal.cli.targets extract FILE... [--format jsonl|table]
    python -m sti_portal.cli.targets score GOLD_DIR [PRED.jsonl] [--errors]

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
from sti_portal.targets.score import format_errors, format_table, score_dir


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
    cells = [[("" if r.get(c) is None else f"{r[c]:g}" if isinstance(r.get(c), float) else str(r[c]))
              for c in cols] for r in rows]
    widths = [max([_width(c)] + [_width(row[i]) for row in cells]) for i, c in enumerate(cols)]
    lines = ["  ".join(_pad(c, w) for c, w in zip(cols, widths)) + "  span"]
    for r, row in zip(rows, cells):
        lines.append("  ".join(_pad(v, w) for v, w in zip(row, widths)) + "  " + r["span"])
    return "\n".join(lines)


def _ensure_utf8_stdout() -> None:
    try:
        sys.stdout.reconfigure(encoding="utf-8")   # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        pass


@click.group(name="targets", help="Extract quantitative STI targets and achieved figures from policy texts.")
def targets() -> None:
    pass


@targets.command("extract")
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "table"]), default="jsonl", show_default=True,
              help="one JSON object per statement, or an aligned table")
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
@click.argument("gold_dir")
@click.argument("pred", required=False)
@click.option("--errors", is_flag=True, help="also list misses, spurious statements and wrong attributes")
def score_cmd(gold_dir: str, pred: str | None, errors: bool) -> None:
    """Score PRED.jsonl (default: the extractor run on GOLD_DIR's texts) against GOLD_DIR/*.gold.jsonl."""
    _ensure_utf8_stdout()
    try:
        result = score_dir(gold_dir, pred)
    except UnicodeDecodeError as exc:
        _fail(f"{gold_dir}: cannot decode a file as {exc.encoding}")
    except (OSError, ValueError) as exc:
        _fail(str(exc))
    click.echo(format_table(result))
    if errors and result["errors"]:
        click.echo("")
        click.echo(format_errors(result))


if __name__ == "__main__":
    targets()
