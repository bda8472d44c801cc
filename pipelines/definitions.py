"""Dagster definitions: one asset per source adapter, the harmonise/derive/validate/store/publish chain.

Great Expectations suites run as blocking asset checks on `candidate_observations`: when one fails with
a critical expectation, `warehouse` and `portal_db` are not materialised and the published sti.db
stays as it was.

`warehouse` and `portal_db` write a new generation directory; `portal_db` then switches it in
atomically (sti_portal/publish/generations.py). A build_all run holds STI_HOME's write lock from start to end
(the `writer` resource; the job runs in one process), so it never overlaps a load. The statisticians'
load job, inbox sensor and release-calendar schedules are in pipelines/loads.py.
"""

import json
import os
from pathlib import Path

import dagster as dg
import pandas as pd

from pipelines import loads
from pipelines.resources import StiHome, WriterLock
from pipelines.targets import TARGET_ASSETS, TARGET_CHECKS
from sti_portal.core.settings import WRITER_TAGS, Paths
from sti_portal.publish import archive, assemble, generations
from sti_portal.quality.validate import GROUP_FRAMES, validate_all
from sti_portal.targets.tables import PolicyTargets
from sti_portal.transform import steps
from sti_portal.uploads.read import extract_archived


def _run_generation(paths: Paths, run_id: str) -> Path:
    return paths.generations / f"run-{run_id}"


def _inputs_file(paths: Paths, run_id: str) -> Path:
    return paths.reports / "runs" / run_id / "inputs" / "uploads.json"


def _source_asset(name: str) -> dg.AssetsDefinition:
    module = steps.SOURCE_ADAPTERS[name]

    @dg.asset(
        name=name,
        group_name="sources",
        kinds={"pandas"},
        description=f"Tidy rows read from the bundled snapshot by `{module}`.",
    )
    def _extract(context: dg.AssetExecutionContext) -> pd.DataFrame:
        frame = steps.extract_source(name)
        context.add_output_metadata({"rows": len(frame), "releases": frame["release"].nunique() if len(frame) else 0})
        return frame

    return _extract


SOURCE_ASSETS = [_source_asset(name) for name in steps.SOURCE_ADAPTERS]


@dg.asset(group_name="sources", kinds={"pandas"})
def archived_uploads(context: dg.AssetExecutionContext, sti_home: StiHome, writer: WriterLock) -> pd.DataFrame:
    """Tidy rows of every upload the published generation was built from (STI_HOME/archive/, see `sti load`)."""
    paths = sti_home.paths()
    entries = generations.published_uploads(paths)
    frame, problems = extract_archived(entries, lambda entry: archive.locate(paths, entry))
    if problems:
        raise dg.Failure(description="archived uploads no longer read cleanly:\n" + "\n".join(problems))
    inputs = _inputs_file(paths, context.run.run_id)
    inputs.parent.mkdir(parents=True, exist_ok=True)
    inputs.write_text(
        json.dumps(
            {"base": generations.current_id(paths), "uploads": [e.to_dict() for e in entries]}, ensure_ascii=False
        ),
        encoding="utf-8",
    )
    context.add_output_metadata({"rows": len(frame), "uploads": len(entries)})
    return frame


@dg.asset(
    group_name="garden",
    ins={name: dg.AssetIn(name) for name in [*steps.SOURCE_ADAPTERS, "archived_uploads"]},
    kinds={"pandas"},
)
def harmonised_observations(context: dg.AssetExecutionContext, **frames: pd.DataFrame) -> steps.HarmonisedBatch:
    """Region codes (GB/T 2260, ISO 3166) and catalogue units for every source row."""
    batch = steps.harmonise_sources(list(frames.values()))
    context.add_output_metadata(
        {"rows": len(batch.observations), "dropped_rows": len(batch.dropped), "aliases": len(batch.aliases)}
    )
    return batch


GX_CHECK_SPECS = [
    dg.AssetCheckSpec(
        name=f"gx_{suite}",
        asset="candidate_observations",
        blocking=True,
        description=f"Great Expectations suite expectations/{suite}.json",
    )
    for suite in GROUP_FRAMES
]


@dg.multi_asset(
    group_name="garden",
    check_specs=GX_CHECK_SPECS,
    outs={
        "candidate_observations": dg.AssetOut(
            kinds={"pandas"},
            description=(
                "Every value of every release, with derived indicators: what the checks validate before storing."
            ),
        ),
        "validation_results": dg.AssetOut(
            kinds={"pandas"},
            description=(
                "The Great Expectations suites' results on candidate_observations, one row per expectation "
                "(published as the table validation_results)."
            ),
        ),
    },
)
def candidate_observations(harmonised_observations: steps.HarmonisedBatch):
    """Derive, then run every Great Expectations suite as a blocking asset check of candidate_observations.

    The check results and their rows flow through Dagster: the checks' results and metadata, and the
    `validation_results` asset the warehouse stores (no files passed between steps)."""
    candidate = steps.candidate_observations(harmonised_observations)
    yield dg.Output(
        candidate,
        output_name="candidate_observations",
        metadata={"rows": len(candidate), "indicators": candidate["indicator_id"].nunique()},
    )
    outcomes = validate_all(candidate, list(GROUP_FRAMES))
    validation_rows = [row for outcome in outcomes for row in outcome.table_rows()]
    yield dg.Output(validation_rows, output_name="validation_results", metadata={"rows": len(validation_rows)})
    for suite, outcome in zip(GROUP_FRAMES, outcomes):
        yield _check_result(suite, outcome)


def _check_result(suite: str, outcome) -> dg.AssetCheckResult:
    severity = dg.AssetCheckSeverity.ERROR if outcome.blocking_failures else dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(
        asset_key="candidate_observations",
        check_name=f"gx_{suite}",
        passed=not outcome.failures,
        severity=severity,
        metadata={
            "report": dg.MetadataValue.md(f"```\n{outcome.report()}\n```"),
            "failing_expectations": len(outcome.failures),
            "rows_checked": outcome.frame_rows,
        },
    )


@dg.asset(group_name="warehouse", kinds={"duckdb"})
def warehouse(
    context: dg.AssetExecutionContext,
    sti_home: StiHome,
    writer: WriterLock,
    harmonised_observations: steps.HarmonisedBatch,
    candidate_observations: pd.DataFrame,
    validation_results: list[dict],
    policy_targets: PolicyTargets,
) -> None:
    """The DuckDB warehouse: dimensions, the long fact table with every release, current and revision views.

    Written into this run's new generation; published when `portal_db` switches the generation in."""
    paths = sti_home.paths()
    generation = _run_generation(paths, context.run.run_id)
    generation.mkdir(parents=True, exist_ok=True)
    digest = assemble.write_warehouse_into(
        generation,
        assemble.GenerationInputs(
            candidate=candidate_observations,
            aliases=harmonised_observations.aliases,
            dropped=harmonised_observations.dropped,
            validation_rows=validation_results,
            policy_targets=policy_targets,
        ),
    )
    context.add_output_metadata(
        {
            "path": str(paths.warehouse),
            "generation": generation.name,
            "content_sha256": digest,
            "observation_history_rows": len(candidate_observations),
        }
    )


@dg.asset(group_name="portal", deps=[warehouse], kinds={"sqlite"})
def portal_db(context: dg.AssetExecutionContext, sti_home: StiHome, writer: WriterLock) -> None:
    """sti.db for Datasette (and the downloads), then the whole generation switched in atomically."""
    paths = sti_home.paths()
    run_id = context.run.run_id
    generation = _run_generation(paths, run_id)
    if not (generation / assemble.WAREHOUSE_FILE).exists():  # portal_db materialised on its own: republish as is
        generation.mkdir(parents=True, exist_ok=True)
        os.link(paths.warehouse.resolve(), generation / assemble.WAREHOUSE_FILE)
    counts = assemble.write_portal_into(generation)
    inputs_file = _inputs_file(paths, run_id)
    if inputs_file.exists():
        inputs = json.loads(inputs_file.read_text(encoding="utf-8"))
    else:
        inputs = {
            "base": generations.current_id(paths),
            "uploads": generations.current_manifest(paths).get("uploads", []),
        }
    with generations.writer_lock(paths, purpose=f"dagster run {run_id}"):
        generations.commit(
            paths,
            generation,
            {"kind": "build", "run_id": run_id, "uploads": inputs["uploads"]},
            expected_base=inputs["base"],
        )
    context.add_output_metadata(
        {"path": str(paths.portal_db), "generation": generation.name, **{f"rows_{k}": v for k, v in counts.items()}}
    )


build_all = dg.define_asset_job(
    "build_all",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("uploads"),
    description="Build the warehouse from the bundled sources and the archived uploads, and publish sti.db.",
    executor_def=dg.in_process_executor,
    tags=WRITER_TAGS,
)

defs = dg.Definitions(
    assets=[
        *SOURCE_ASSETS,
        archived_uploads,
        harmonised_observations,
        candidate_observations,
        warehouse,
        portal_db,
        *TARGET_ASSETS,
        *loads.ASSETS,
    ],
    asset_checks=[*TARGET_CHECKS],
    jobs=[build_all, *loads.JOBS],
    sensors=loads.SENSORS,
    schedules=loads.SCHEDULES,
    resources={"sti_home": StiHome(), "writer": WriterLock()},
    # One process per run, so the write lock (the `writer` resource) spans all of a run's steps, also for
    # assets materialised ad hoc from the UI.
    executor=dg.in_process_executor,
)
