"""Reports of `sti check` / `sti load` for people: plain text (terminal, .txt) and one HTML page.

Each problem says where (file, sheet, row, column, cell), what was found and what was expected. The
HTML page is self-contained (no scripts, no external files) so it can be mailed or opened from the
Dagster UI.
"""

from __future__ import annotations

import html
from pathlib import Path

from sti_portal.core.settings import Paths
from sti_portal.quality.validate import load_suite

STATUS_WORDS = {
    "valid": "VALID",
    "invalid": "INVALID",
    "accepted": "LOADED",
    "rejected": "REJECTED",
    "unchanged": "ALREADY LOADED",
    "held": "NOT LOADED",
}


def headline(outcome) -> str:
    files = outcome.files
    n = len(files)
    if outcome.error:
        return f"sti {outcome.mode}: COULD NOT RUN (exit 2): {outcome.error}"
    if outcome.mode == "check":
        bad = sum(1 for f in files if f.errors)
        if outcome.foreign:
            return "sti check: the published data themselves fail validation (see above); no file can be loaded now"
        if bad:
            return f"sti check: {bad} of {n} file(s) INVALID; fix the errors listed above and check again"
        return (
            f"sti check: {n} file(s) valid"
            + (" (with warnings: read them)" if any(f.warnings for f in files) else "")
            + "; load with: sti load "
            + " ".join(f.name for f in files)
        )
    if outcome.rejected:
        moved = sum(1 for f in files if f.status == "rejected" and f.moved_to)
        return "sti load: REJECTED, nothing was published; the warehouse and sti.db are unchanged" + (
            f"; {moved} file(s) moved to quarantine/ with their report" if moved else ""
        )
    loaded = [f for f in files if f.status == "accepted"]
    if not loaded:
        return "sti load: nothing to do; every file was already loaded"
    return (
        f"sti load: {len(loaded)} file(s) loaded and published (generation {outcome.generation}) "
        f"in {outcome.elapsed:.1f} s; originals moved to archive/"
    )


def _file_line(file) -> str:
    status = STATUS_WORDS.get(file.status, file.status.upper() or "?")
    fmt = file.read.format if file.read is not None and file.read.format else ""
    counts = file.counts()
    parts = [p for p in (fmt, file.summary() if file.read is not None and file.read.rows else "", counts) if p]
    return f"[{status}] {file.name} — " + "; ".join(parts)


def render_text(outcome, files=None) -> str:
    files = outcome.files if files is None else files
    lines = [f"sti {outcome.mode} — {outcome.started_at:%Y-%m-%d %H:%M} UTC — {outcome.verdict.upper()}"]
    if outcome.base_description:
        lines.append(f"checked against {outcome.base_description}")
    for file in files:
        lines.append("")
        lines.append(_file_line(file))
        if file.release and file.status in ("accepted", "unchanged", "valid"):
            lines.append(f"    release {file.release}" + (f", sha256 {file.sha256}" if file.sha256 else ""))
        if file.note:
            lines.append(f"    {file.note}")
        if file.moved_to:
            lines.append(f"    moved to {file.moved_to}")
        for problem in file.problems:
            lines.append(f"  {problem.severity:<8} {problem.text()}")
        if file.unlisted():
            lines.append(f"  {file.unlisted()}")
    if outcome.foreign:
        lines.append("")
        lines.append("The published or bundled data themselves fail validation (not caused by these files):")
        for text in outcome.foreign:
            lines += ["  " + line for line in text.splitlines()]
    if outcome.suites:
        lines.append("")
        lines.append("Great Expectations suites (expectations/*.json) on the published data plus these files:")
        for suite in outcome.suites:
            lines.append("  " + _suite_line(suite, files))
    elif outcome.base_description and not outcome.error:
        lines.append("")
        lines.append("Great Expectations suites: not run, no value could be read from the file(s)")
    if outcome.timings:
        lines.append("")
        lines.append(
            "time: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in outcome.timings.items())
            + f"; total {outcome.elapsed:.1f} s"
        )
    for note in outcome.notes:
        lines += ["", note]
    lines.append("")
    lines.append(headline(outcome))
    return "\n".join(lines) + "\n"


def _suite_problems(suite_name: str, files) -> tuple[int, int]:
    errors = warnings = 0
    for file in files:
        for problem in file.problems:
            if problem.rule.startswith(f"gx:{suite_name}:"):
                errors += problem.severity == "error"
                warnings += problem.severity == "warning"
    return errors, warnings


def _suite_line(suite, files) -> str:
    errors, warnings = _suite_problems(suite.suite, files)
    if errors:
        state = f"FAILED: {errors} error(s) in these files"
    elif warnings:
        state = f"passed with {warnings} warning(s) in these files"
    else:
        state = "passed"
    return f"{suite.suite:<20} {suite.n_expectations:>3} expectation(s)  {state}"


# ------------------------------------------------------------------------------------------ HTML

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2rem;color:#222;max-width:80rem}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
.verdict{padding:.6rem 1rem;border-radius:.3rem;font-weight:600}
.ok{background:#e6f4ea;color:#137333}.bad{background:#fce8e6;color:#a50e0e}.warn{background:#fef7e0;color:#7a5b00}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.error{color:#a50e0e;font-weight:600}td.warning{color:#7a5b00}
code{background:#f5f5f5;padding:0 .2rem}.meta{color:#555}
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def render_html(outcome, files=None) -> str:
    files = outcome.files if files is None else files
    good = not outcome.rejected
    css_class = "ok" if good and not any(f.warnings for f in files) else ("warn" if good else "bad")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>sti {outcome.mode}: {_e(outcome.verdict)} — {_e(', '.join(f.name for f in files))}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>sti {outcome.mode} — {_e(', '.join(f.name for f in files))}</h1>",
        f"<p class='verdict {css_class}'>{_e(headline(outcome))}</p>",
        f"<p class='meta'>{outcome.started_at:%Y-%m-%d %H:%M} UTC"
        + (f" · checked against {_e(outcome.base_description)}" if outcome.base_description else "")
        + (f" · {outcome.elapsed:.1f} s" if outcome.elapsed else "")
        + "</p>",
    ]
    for file in files:
        parts.append(f"<h2>{_e(STATUS_WORDS.get(file.status, file.status.upper()))}: {_e(file.name)}</h2>")
        facts = []
        if file.read is not None and file.read.format:
            facts.append(("format", file.read.format))
        if file.read is not None and file.read.rows:
            facts.append(("values", file.summary()))
        release = file.release if file.status in ("accepted", "unchanged", "valid") else ""
        for label, value in (
            ("release", release),
            ("sha256", file.sha256),
            ("note", file.note),
            ("moved to", file.moved_to),
        ):
            if value:
                facts.append((label, value))
        facts.append(("problems", file.counts()))
        parts.append("<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts) + "</table>")
        if file.problems:
            parts.append(
                "<table><tr><th>severity</th><th>sheet</th><th>row</th><th>column</th><th>cell</th>"
                "<th>problem</th><th>found</th><th>expected</th></tr>"
            )
            for p in file.problems:
                parts.append(
                    f"<tr><td class='{p.severity}'>{_e(p.severity)}</td><td>{_e(p.sheet)}</td>"
                    f"<td>{_e(p.row if p.row is not None else '')}</td><td>{_e(p.column)}</td><td>{_e(p.cell)}</td>"
                    f"<td>{_e(p.message)}</td><td>{_e(p.found)}</td><td>{_e(p.expected)}</td></tr>"
                )
            parts.append("</table>")
        if file.unlisted():
            parts.append(f"<p class='meta'>{_e(file.unlisted())}</p>")
    if outcome.foreign:
        parts.append("<h2>The published or bundled data fail validation (not caused by these files)</h2>")
        parts.append("".join(f"<pre>{_e(text)}</pre>" for text in outcome.foreign))
    if outcome.suites:
        parts.append(
            "<h2>Great Expectations suites</h2><p class='meta'>The same suites <code>sti build</code> runs "
            "(expectations/*.json), on the published data plus these files.</p>"
        )
        parts.append("<table><tr><th>suite</th><th>about</th><th>expectations</th><th>result for these files</th></tr>")

        for suite in outcome.suites:
            errors, warnings = _suite_problems(suite.suite, files)
            state = (
                f"FAILED: {errors} error(s)" if errors else f"passed, {warnings} warning(s)" if warnings else "passed"
            )
            css = "error" if errors else "warning" if warnings else ""
            parts.append(
                f"<tr><td>{_e(suite.suite)}</td><td>{_e(load_suite(suite.suite).get('meta', {}).get('about', ''))}</td>"
                f"<td>{suite.n_expectations}</td><td class='{css}'>{_e(state)}</td></tr>"
            )
        parts.append("</table>")
    if outcome.error:
        parts.append(f"<h2>The run failed</h2><pre>{_e(outcome.error)}</pre>")
    parts.append("</body></html>\n")
    return "".join(parts)


# ------------------------------------------------------------------------------------------ files


def write_batch_reports(paths: Paths, outcome) -> None:
    folder = paths.reports / ("checks" if outcome.mode == "check" else "loads")
    stamp = f"{outcome.started_at:%Y%m%dT%H%M%S%f}-{outcome.verdict}"
    target = folder / stamp
    target.mkdir(parents=True, exist_ok=True)
    outcome.report_txt = target / "report.txt"
    outcome.report_html = target / "report.html"
    outcome.report_txt.write_text(render_text(outcome), encoding="utf-8")
    outcome.report_html.write_text(render_html(outcome), encoding="utf-8")


def write_file_reports(outcome) -> None:
    """Beside each file moved to quarantine/ or archive/: <file>.report.txt and <file>.report.html."""
    for file in outcome.files:
        if file.moved_to is None:
            continue
        txt = Path(f"{file.moved_to}.report.txt")
        page = Path(f"{file.moved_to}.report.html")
        txt.write_text(render_text(outcome, [file]), encoding="utf-8")
        page.write_text(render_html(outcome, [file]), encoding="utf-8")
        file.reports = [txt, page]
