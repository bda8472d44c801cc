"""Dagster side of the statisticians' workflow (registered in pipelines/definitions.py).

* `inbox_sensor` watches STI_HOME/inbox and requests one `load_upload` run per new file (run key: file
  name, sha256 and modification time, so dropping the same file again after fixing it runs again);
* `load_upload` runs the same load as `sti load` (sti_portal/load.py) on that file; the asset
  `statistician_upload` records the verdict: run status (a rejected file fails its blocking checks, so
  the run fails), asset check results (file checks + the six Great Expectations suites), the report as
  metadata (text, and the path of the HTML page), run tags sti/verdict and sti/report;
* `release_calendar_<source>` schedules rebuild and revalidate everything when a source usually
  publishes (catalogue/release_calendar.csv), tagged with the source that is due.

Runs that write the warehouse carry the tag sti/writes; the instance's run queue starts one at a time
(dagster.yaml written by sti_portal/config.py), and every writer takes STI_HOME's file lock anyway.
"""
import json
import os
import time
from pathlib import Path

import dagster as dg

from pipelines.resources import StiHome
from sti_portal.core import catalogue
from sti_portal.publish.archive import sha256_of
from sti_portal.quality.validate import GROUP_FRAMES

WRITER_TAGS = {"sti/writes": "warehouse"}
SETTLE_SECONDS_ENV = "STI_INBOX_SETTLE_SECONDS"   # a file younger than this may still be being copied
IGNORED_PREFIXES = (".", "~$")
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".swp", ".partial")
SUITES = list(GROUP_FRAMES)
CHECK_SPECS = [
    dg.AssetCheckSpec("file_checks", asset="statistician_upload", blocking=True,
                      description="File-level checks: readable, encoding, header, regions, indicators, units, "
                                  "years, duplicates, jumps against the published data"),
    *[dg.AssetCheckSpec(f"gx_{suite}", asset="statistician_upload", blocking=True,
                        description=f"Great Expectations suite expectations/{suite}.json on the published data plus the file")
      for suite in SUITES],
]


class UploadFile(dg.Config):
    path: str


@dg.asset(name="statistician_upload", group_name="uploads", kinds={"python"}, check_specs=CHECK_SPECS,
          description="The latest file loaded from STI_HOME/inbox: its verdict, report and checks (see `sti load`).")
def statistician_upload(context: dg.AssetExecutionContext, config: UploadFile, sti_home: StiHome) -> dg.MaterializeResult:
    from sti_portal.uploads.load import load_files
    from sti_portal.uploads.report import render_text

    paths = sti_home.paths()
    outcome = load_files(paths, [Path(config.path)], from_inbox=True)
    file = outcome.files[0]
    context.instance.add_run_tags(context.run.run_id, {"sti/verdict": outcome.verdict,
                                                        "sti/report": str(outcome.report_html or "")})
    text = render_text(outcome)
    context.log.info(text)
    if outcome.error:
        raise dg.Failure(description=outcome.error, metadata={"report": dg.MetadataValue.md(f"```\n{text}\n```")})
    report_path = file.reports[1] if len(file.reports) > 1 else outcome.report_html
    metadata = {
        "verdict": outcome.verdict,
        "file": file.name,
        "sha256": file.sha256,
        "release": file.release,
        "values": len(file.read.rows) if file.read is not None else 0,
        "errors": len(file.errors),
        "warnings": len(file.warnings),
        "moved_to": dg.MetadataValue.path(str(file.moved_to or config.path)),
        "report_html": dg.MetadataValue.path(str(report_path)),
        "report_link": dg.MetadataValue.url(Path(report_path).as_uri()),
        "report": dg.MetadataValue.md(f"```\n{text}\n```"),
    }
    if outcome.generation:
        metadata["generation"] = outcome.generation
        for key in ("warehouse", "portal_db"):
            context.log_event(dg.AssetMaterialization(
                asset_key=key, description=f"republished by load of {file.name}",
                metadata={"generation": outcome.generation, "release": file.release}))
    return dg.MaterializeResult(metadata=metadata, check_results=_check_results(outcome, file))


def _check_results(outcome, file) -> list[dg.AssetCheckResult]:
    file_level = [p for p in file.problems if not p.rule.startswith("gx:")]
    errors = [p for p in file_level if p.severity == "error"]
    results = [dg.AssetCheckResult(
        check_name="file_checks", passed=not file_level,
        severity=dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN,
        metadata={"errors": len(errors), "warnings": len(file_level) - len(errors),
                  "problems": dg.MetadataValue.md(_problem_list(file_level) or file.note or "none")})]
    ran = {suite.suite: suite for suite in outcome.suites}
    for suite in SUITES:
        mine = [p for p in file.problems if p.rule.startswith(f"gx:{suite}:")]
        foreign = [text for text in outcome.foreign if text.startswith(f"{suite}:")]
        bad = [p for p in mine if p.severity == "error"] or foreign
        if suite in ran:
            summary = ran[suite].report() if ran[suite].failures else f"{ran[suite].n_expectations} expectation(s) passed"
        else:
            summary = "not run: " + (file.note or "the file could not be read")
        results.append(dg.AssetCheckResult(
            check_name=f"gx_{suite}", passed=not mine and not foreign,
            severity=dg.AssetCheckSeverity.ERROR if bad else dg.AssetCheckSeverity.WARN,
            metadata={"problems_in_file": dg.MetadataValue.md(_problem_list(mine) or "none"),
                      "suite": dg.MetadataValue.md(f"```\n{summary[:4000]}\n```")}))
    return results


def _problem_list(problems) -> str:
    return "\n".join(f"- **{p.severity}** {p.text()}" for p in problems[:200])


load_upload = dg.define_asset_job(
    "load_upload", selection=dg.AssetSelection.assets("statistician_upload"),
    description="Check one file from STI_HOME/inbox and, if valid, load it and republish (same as `sti load`).",
    executor_def=dg.in_process_executor, tags=WRITER_TAGS)


def inbox_files(inbox: Path, settle_seconds: float) -> list[Path]:
    """Files waiting in the inbox: not hidden, not temporary, not still being written."""
    if not inbox.is_dir():
        return []
    now = time.time()
    found = []
    for path in sorted(inbox.iterdir()):
        if not path.is_file() or path.name.startswith(IGNORED_PREFIXES) or path.name.lower().endswith(IGNORED_SUFFIXES):
            continue
        if now - path.stat().st_mtime < settle_seconds:
            continue
        found.append(path)
    return found


@dg.sensor(job=load_upload, minimum_interval_seconds=15, default_status=dg.DefaultSensorStatus.RUNNING,
           description="One load_upload run per new file in STI_HOME/inbox.")
def inbox_sensor(context: dg.SensorEvaluationContext, sti_home: StiHome):
    paths = sti_home.paths()
    settle = float(os.environ.get(SETTLE_SECONDS_ENV, "5"))
    seen = json.loads(context.cursor) if context.cursor else {}
    cursor, requests = {}, []
    for path in inbox_files(paths.inbox, settle):
        stat = path.stat()
        signature = f"{stat.st_mtime_ns}:{stat.st_size}"
        previous = seen.get(path.name)
        if previous and previous["signature"] == signature:
            cursor[path.name] = previous   # requested already (its run moves it out of the inbox)
            continue
        sha = sha256_of(path)
        cursor[path.name] = {"signature": signature, "sha256": sha}
        requests.append(dg.RunRequest(
            run_key=f"{path.name}:{sha}:{stat.st_mtime_ns}",
            run_config=dg.RunConfig(ops={"statistician_upload": UploadFile(path=str(path))}),
            tags={"sti/file": path.name, "sti/sha256": sha, **WRITER_TAGS}))
    if not requests:
        return dg.SensorResult(skip_reason=f"no new file in {paths.inbox}", cursor=json.dumps(cursor))
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor))


def _calendar_schedules() -> list[dg.ScheduleDefinition]:
    schedules = []
    for row in catalogue.release_calendar().itertuples():
        schedules.append(dg.ScheduleDefinition(
            name=f"release_calendar_{row.source_id}", cron_schedule=row.cron, execution_timezone=row.timezone,
            job_name="build_all", tags={"sti/calendar": row.source_id, **WRITER_TAGS},
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=(f"{row.note}. Usually published in {row.expected}: rebuild and revalidate every input, "
                         "so the new tables are checked and loaded against a fresh, validated base.")))
    return schedules


ASSETS = [statistician_upload]
JOBS = [load_upload]
SENSORS = [inbox_sensor]
SCHEDULES = _calendar_schedules()
