"""Dagster side of the statisticians' workflow (registered in pipelines/definitions.py).

* `inbox_sensor` watches STI_HOME/inbox and requests one `load_upload` run per new, complete file (run
  key: file name, sha256 and modification time, so dropping the same file again after fixing it runs
  again); see `inbox_sensor` for when a file counts as complete;
* `load_upload` runs the same load as `sti load` (sti_portal/uploads/load.py) on that file; the asset
  `statistician_upload` records the verdict: a rejected file fails the run with its problems as a table
  (severity, sheet, row, column, found, expected) and the report in the failure's metadata, its check
  results (file checks + the six Great Expectations suites) stay with that run, and nothing is
  materialised; an accepted file materialises the asset with the report, the generation and release;
  run tags sti/verdict and sti/report on every run;
* `release_calendar_<source>` schedules rebuild and revalidate everything when a source usually
  publishes (catalogue/release_calendar.csv), tagged with the source that is due.

Runs that write the warehouse carry the tag sti/writes; the instance's run queue starts one at a time
(dagster.yaml written by sti_portal/core/settings.py), and every writer takes STI_HOME's file lock anyway.
"""

import json
import time
from pathlib import Path

import dagster as dg

from pipelines.resources import StiHome
from sti_portal.core import catalogue
from sti_portal.core.settings import WRITER_TAGS, load_settings
from sti_portal.publish.archive import sha256_of
from sti_portal.quality.validate import GROUP_FRAMES
from sti_portal.uploads.load import load_files
from sti_portal.uploads.report import render_text

IGNORED_PREFIXES = (".", "~$")
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".swp", ".partial")
SUITES = list(GROUP_FRAMES)
CHECK_SPECS = [
    dg.AssetCheckSpec(
        "file_checks",
        asset="statistician_upload",
        blocking=True,
        description="File-level checks: readable, encoding, header, regions, indicators, units, "
        "years, duplicates, jumps against the published data",
    ),
    *[
        dg.AssetCheckSpec(
            f"gx_{suite}",
            asset="statistician_upload",
            blocking=True,
            description=f"Great Expectations suite expectations/{suite}.json on the published data plus the file",
        )
        for suite in SUITES
    ],
]


class UploadFile(dg.Config):
    path: str
    signature: str = ""  # "mtime_ns:size" when the sensor saw the file complete; a changed file is not loaded


@dg.asset(
    name="statistician_upload",
    group_name="uploads",
    kinds={"python"},
    check_specs=CHECK_SPECS,
    output_required=False,
    description="Each file loaded from STI_HOME/inbox: its verdict, report and checks (see `sti load`). "
    "Materialised only when the file is loaded; a rejected file fails its run with the "
    "problems as a table, and its check results stay with that run.",
)
def statistician_upload(context: dg.AssetExecutionContext, config: UploadFile, sti_home: StiHome):
    paths = sti_home.paths()
    changed = _changed_since_seen(Path(config.path), config.signature)
    if changed:
        raise dg.Failure(description=changed, allow_retries=False)
    outcome = load_files(paths, [Path(config.path)], from_inbox=True)
    file = outcome.files[0]
    report_path = file.reports[1] if len(file.reports) > 1 else outcome.report_html
    context.instance.add_run_tags(
        context.run.run_id, {"sti/verdict": outcome.verdict, "sti/report": str(report_path or "")}
    )
    text = render_text(outcome)
    context.log.info(text)
    report = {
        "verdict": outcome.verdict,
        "file": file.name,
        "problems": dg.MetadataValue.md(_problem_table(file)),
        "report": dg.MetadataValue.md(_fenced(text)),
        "report_html": dg.MetadataValue.path(str(report_path or "")),
    }
    if outcome.error:  # could not run (lock busy, disk full, ...): no verdict on the file, no check results
        raise dg.Failure(description=f"could not run: {outcome.error}", metadata=report, allow_retries=False)
    yield from _check_results(outcome, file)
    if outcome.rejected:  # no materialisation: the asset did not change
        raise dg.Failure(
            description=f"{file.name}: REJECTED, nothing published; {file.counts()}. "
            "The problems, row by row, are in the table below.",
            metadata={**report, "moved_to": dg.MetadataValue.path(str(file.moved_to or config.path))},
            allow_retries=False,
        )
    yield dg.MaterializeResult(
        metadata={
            **report,
            "sha256": file.sha256,
            "release": file.release,
            "values": len(file.read.rows) if file.read is not None else 0,
            "errors": file.read.count("error") if file.read is not None else 0,
            "warnings": file.read.count("warning") if file.read is not None else 0,
            "moved_to": dg.MetadataValue.path(str(file.moved_to or config.path)),
            # The warehouse and sti.db this load published (it runs the load itself, not Dagster's assets).
            "generation": outcome.generation or "",
            "publication": outcome.publication or "none (already loaded)",
        }
    )


def _changed_since_seen(path: Path, signature: str) -> str:
    if not signature or not path.is_file():
        return ""
    stat = path.stat()
    if f"{stat.st_mtime_ns}:{stat.st_size}" == signature:
        return ""
    return (
        f"{path.name} changed after the sensor saw it complete: it is still being written. Nothing was read; "
        "it is picked up again once it stops changing (drop files as <name>.part and rename them when copied)"
    )


def _fenced(text: str, limit: int = 20_000) -> str:
    body = text if len(text) <= limit else text[:limit] + "\n… (cut here; the whole report is in report_html)"
    return f"```\n{body}\n```"


def _cell(value) -> str:
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")[:200]


def _problem_table(file, limit: int = 100) -> str:
    """The file's problems as a Markdown table (row, column, found, expected, problem): what the statistician reads."""
    problems = file.problems
    if not problems:
        return file.note or "no problems"
    lines = ["| severity | sheet | row | column | found | expected | problem |", "|---|---|---|---|---|---|---|"]
    lines += [
        f"| {p.severity} | {_cell(p.sheet)} | {_cell(p.row)} | {_cell(p.column or p.cell)} | {_cell(p.found)} | "
        f"{_cell(p.expected)} | {_cell(p.message)} |"
        for p in problems[:limit]
    ]
    rest = len(problems) - limit
    if rest > 0 or file.unlisted():
        lines.append("")
        lines.append(
            " ".join(x for x in (f"… {rest} more listed in the report." if rest > 0 else "", file.unlisted()) if x)
        )
    return "\n".join(lines)


def _check_results(outcome, file) -> list[dg.AssetCheckResult]:
    file_level = [p for p in file.problems if not p.rule.startswith("gx:")]
    errors = [p for p in file_level if p.severity == "error"]
    results = [
        dg.AssetCheckResult(
            check_name="file_checks",
            passed=not file_level,
            severity=dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN,
            metadata={
                "file": file.name,
                "sha256": file.sha256,
                "verdict": outcome.verdict,
                "errors": len(errors),
                "warnings": len(file_level) - len(errors),
                "problems": dg.MetadataValue.md(_problem_list(file_level) or file.note or "none"),
                "problem_table": dg.MetadataValue.md(_problem_table(file)),
            },
        )
    ]
    ran = {suite.suite: suite for suite in outcome.suites}
    for suite in SUITES:
        mine = [p for p in file.problems if p.rule.startswith(f"gx:{suite}:")]
        foreign = [text for text in outcome.foreign if text.startswith(f"{suite}:")]
        bad = [p for p in mine if p.severity == "error"] or foreign
        if suite in ran:
            summary = (
                ran[suite].report() if ran[suite].failures else f"{ran[suite].n_expectations} expectation(s) passed"
            )
        else:
            summary = "not run: " + (file.note or "the file could not be read")
        results.append(
            dg.AssetCheckResult(
                check_name=f"gx_{suite}",
                passed=not mine and not foreign,
                severity=dg.AssetCheckSeverity.ERROR if bad else dg.AssetCheckSeverity.WARN,
                metadata={
                    "file": file.name,
                    "problems_in_file": dg.MetadataValue.md(_problem_list(mine) or "none"),
                    "suite": dg.MetadataValue.md(f"```\n{summary[:4000]}\n```"),
                },
            )
        )
    return results


def _problem_list(problems) -> str:
    return "\n".join(f"- **{p.severity}** {p.text()}" for p in problems[:200])


load_upload = dg.define_asset_job(
    "load_upload",
    selection=dg.AssetSelection.assets("statistician_upload"),
    description="Check one file from STI_HOME/inbox and, if valid, load it and republish (same as `sti load`).",
    executor_def=dg.in_process_executor,
    tags=WRITER_TAGS,
)


def inbox_files(inbox: Path, settle_seconds: float) -> list[Path]:
    """Files waiting in the inbox: not hidden, not temporary, not links, not written in the last `settle_seconds`."""
    if not inbox.is_dir():
        return []
    now = time.time()
    found = []
    for path in sorted(inbox.iterdir()):
        if path.name.startswith(IGNORED_PREFIXES) or path.name.lower().endswith(IGNORED_SUFFIXES):
            continue
        if not path.is_symlink() and not path.is_file():
            continue
        if not path.is_symlink() and now - path.stat().st_mtime < settle_seconds:
            continue
        found.append(path)  # a link is handed to the load, which refuses it with its reason
    return found


@dg.sensor(
    job=load_upload,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One load_upload run per new file in STI_HOME/inbox, once the file has stopped changing.",
)
def inbox_sensor(context: dg.SensorEvaluationContext, sti_home: StiHome):
    """A file is requested when it is older than STI_INBOX_SETTLE_SECONDS *and* (with a settle time) it had the
    same size and modification time at the previous evaluation: a slow copy that pauses is not taken half-way.
    The safe drop protocol needs neither: copy as <name>.part (ignored), then rename (README: Dropping files)."""
    paths = sti_home.paths()
    settle = load_settings().inbox_settle_seconds
    seen = json.loads(context.cursor) if context.cursor else {}
    cursor, requests = {}, []
    for path in inbox_files(paths.inbox, settle):
        stat = path.lstat()
        signature = f"{stat.st_mtime_ns}:{stat.st_size}"
        previous = seen.get(path.name)
        if previous and previous["signature"] == signature and previous.get("requested", True):
            cursor[path.name] = previous  # requested already (its run moves it out of the inbox)
            continue
        if settle > 0 and not (previous and previous["signature"] == signature):
            cursor[path.name] = {"signature": signature, "requested": False}  # seen once: wait for it to hold still
            continue
        sha = "" if path.is_symlink() else sha256_of(path)
        cursor[path.name] = {"signature": signature, "sha256": sha, "requested": True}
        requests.append(
            dg.RunRequest(
                run_key=f"{path.name}:{sha}:{stat.st_mtime_ns}",
                run_config=dg.RunConfig(ops={"statistician_upload": UploadFile(path=str(path), signature=signature)}),
                tags={"sti/file": path.name, "sti/sha256": sha, **WRITER_TAGS},
            )
        )
    if not requests:
        waiting = sum(not entry.get("requested", True) for entry in cursor.values())
        reason = f"{waiting} file(s) in {paths.inbox} not yet complete" if waiting else f"no new file in {paths.inbox}"
        return dg.SensorResult(skip_reason=reason, cursor=json.dumps(cursor))
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor))


def _calendar_schedules() -> list[dg.ScheduleDefinition]:
    schedules = []
    for row in catalogue.release_calendar().itertuples():
        schedules.append(
            dg.ScheduleDefinition(
                name=f"release_calendar_{row.source_id}",
                cron_schedule=row.cron,
                execution_timezone=row.timezone,
                job_name="build_all",
                tags={"sti/calendar": row.source_id, **WRITER_TAGS},
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description=(
                    f"{row.note}. Usually published in {row.expected}: rebuild and revalidate every input, "
                    "so the new tables are checked and loaded against a fresh, validated base."
                ),
            )
        )
    return schedules


ASSETS = [statistician_upload]
JOBS = [load_upload]
SENSORS = [inbox_sensor]
SCHEDULES = _calendar_schedules()
