"""Run the Dagster build job in-process, print progress, and turn the outcome into an exit code."""

from __future__ import annotations

import logging
import time

import click
from dagster import DagsterInstance

from pipelines.definitions import defs
from sti_portal.core.settings import Paths
from sti_portal.publish import generations
from sti_portal.uploads import resources


def _instance(paths: Paths) -> DagsterInstance:
    # The instance of STI_HOME/dagster (its dagster.yaml: telemetry off, one writer run at a time), opened
    # without setting DAGSTER_HOME in this process's environment.
    return DagsterInstance.from_config(str(paths.dagster_home))


def _quiet_dagster_logs() -> None:
    # Dagster's per-event log lines drown the progress lines a statistician needs to see.
    for name in ("dagster", "dagster.builtin", "great_expectations"):
        logging.getLogger(name).setLevel(logging.WARNING)


def run_build(paths: Paths) -> int:
    started = time.perf_counter()
    click.echo(f"sti build: STI_HOME={paths.home}")
    _quiet_dagster_logs()
    try:
        # A full disk is a "could not run" (exit 2) before anything is written, not a failure half way.
        resources.preflight(paths, "a new build")
    except resources.ResourceFault as exc:
        click.echo(f"sti build: COULD NOT RUN / 无法运行: {exc}", err=True)
        return 2
    job = defs.resolve_job_def("build_all")
    try:
        # One writer at a time (loads too); taking the lock also cleans up after a killed build or load.
        with generations.writer_lock(paths, purpose="sti build"), _instance(paths) as instance:
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            )
            for event in result.all_events:
                _print_progress(event)
            failed_checks = [e for e in result.get_asset_check_evaluations() if not e.passed]
    except generations.WriterBusy as exc:
        click.echo(f"sti build: {exc}", err=True)
        return 1
    elapsed = time.perf_counter() - started
    blocking = [e for e in failed_checks if e.severity.value == "ERROR"]
    for evaluation in failed_checks:
        blocking_failure = evaluation.severity.value == "ERROR"
        report = _text(evaluation.metadata.get("report"))
        if not blocking_failure:
            # Warnings are for a statistician to review, not a reason to stop: show the first rows only.
            report = "\n".join(report.splitlines()[:5]) + "\n    (all rows: table validation_results in sti.db)"
        click.echo(
            f"\n[{'FAILED' if blocking_failure else 'warning'}] check {evaluation.check_name}:\n{report}",
            err=blocking_failure,
        )
    if blocking or not result.success:
        click.echo(
            f"\nsti build: FAILED after {elapsed:.1f}s; nothing was published, {paths.portal_db} is unchanged.",
            err=True,
        )
        for failure in _step_failures(result):
            click.echo(failure, err=True)
        return 1
    click.echo(f"sti build: done in {elapsed:.1f}s -> {paths.warehouse} and {paths.portal_db}")
    return 0


def _print_progress(event) -> None:
    if event.event_type_value == "ASSET_MATERIALIZATION":
        materialization = event.event_specific_data.materialization
        rows = materialization.metadata.get("rows") or materialization.metadata.get("observation_history_rows")
        suffix = f" ({rows.value} rows)" if rows is not None else ""
        click.echo(f"  materialised {materialization.asset_key.to_user_string()}{suffix}")
    elif event.event_type_value == "ASSET_CHECK_EVALUATION":
        evaluation = event.event_specific_data
        click.echo(
            f"  check {evaluation.check_name}: {'passed' if evaluation.passed else 'FAILED' if evaluation.severity.value == 'ERROR' else 'warning'}"
        )


def _text(metadata_value) -> str:
    if metadata_value is None:
        return ""
    text = str(getattr(metadata_value, "value", metadata_value))
    return text.replace("```", "").strip()


def _step_failures(result) -> list[str]:
    lines = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            message = error.message.strip() if error else "unknown error"
            # User-code errors arrive wrapped; the cause holds the specific message.
            cause = error.cause if error else None
            while cause is not None:
                message = cause.message.strip()
                cause = cause.cause
            lines.append(f"  step {event.step_key} failed: {message}")
    return lines
