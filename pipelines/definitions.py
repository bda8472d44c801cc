"""Dagster definitions: one asset per source adapter, the harmonise/derive/validate/store/publish chain.

Great Expectations suites run as blocking asset checks on `candidate_observations`: when one fails with
a critical expectation, `warehouse` and `portal_db` are not materialised and the published sti.db
stays as it was.
"""

import json
from pathlib import Path

import dagster as dg
import pandas as pd

from sti_portal import config, publish as publishing, steps
from sti_portal.validate import GROUP_FRAMES, run_suite
from warehouse.store import write_warehouse


class StiHome(dg.ConfigurableResource):
    """Where the warehouse, sti.db and reports live (STI_HOME)."""

    home: str = ""

    def paths(self) -> config.Paths:
        return (config.Paths(Path(self.home)) if self.home else config.paths()).ensure()


def _source_asset(name: str) -> dg.AssetsDefinition:
    module = steps.SOURCE_ADAPTERS[name]

    @dg.asset(name=name, group_name="sources", kinds={"pandas"},
              description=f"Tidy rows read from the bundled snapshot by `{module}`.")
    def _extract(context: dg.AssetExecutionContext) -> pd.DataFrame:
        frame = steps.extract_source(name)
        context.add_output_metadata({"rows": len(frame), "releases": frame["release"].nunique() if len(frame) else 0})
        return frame

    return _extract


SOURCE_ASSETS = [_source_asset(name) for name in steps.SOURCE_ADAPTERS]


@dg.asset(group_name="garden", ins={name: dg.AssetIn(name) for name in steps.SOURCE_ADAPTERS}, kinds={"pandas"})
def harmonised_observations(context: dg.AssetExecutionContext, **frames: pd.DataFrame) -> steps.HarmonisedBatch:
    """Region codes (GB/T 2260, ISO 3166) and catalogue units for every source row."""
    batch = steps.harmonise_sources(list(frames.values()))
    context.add_output_metadata({"rows": len(batch.observations), "dropped_rows": len(batch.dropped),
                                 "aliases": len(batch.aliases)})
    return batch


@dg.asset(group_name="garden", kinds={"pandas"})
def candidate_observations(context: dg.AssetExecutionContext, harmonised_observations: steps.HarmonisedBatch) -> pd.DataFrame:
    """Every value of every release, with derived indicators: what the checks validate before storing."""
    candidate = steps.candidate_observations(harmonised_observations)
    context.add_output_metadata({"rows": len(candidate), "indicators": candidate["indicator_id"].nunique()})
    return candidate


def _gx_check(suite: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=candidate_observations, name=f"gx_{suite}", blocking=True,
                    description=f"Great Expectations suite expectations/{suite}.json")
    def _check(context: dg.AssetCheckExecutionContext, sti_home: StiHome,
               candidate_observations: pd.DataFrame) -> dg.AssetCheckResult:
        outcome = run_suite(suite, GROUP_FRAMES[suite](candidate_observations))
        report_dir = sti_home.paths().reports / "runs" / context.run.run_id
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / f"{suite}.json").write_text(json.dumps(outcome.table_rows(), ensure_ascii=False, indent=1), encoding="utf-8")
        severity = dg.AssetCheckSeverity.ERROR if outcome.blocking_failures else dg.AssetCheckSeverity.WARN
        return dg.AssetCheckResult(
            passed=not outcome.failures, severity=severity,
            metadata={"report": dg.MetadataValue.md(f"```\n{outcome.report()}\n```"),
                      "failing_expectations": len(outcome.failures), "rows_checked": outcome.frame_rows})

    return _check


GX_CHECKS = [_gx_check(suite) for suite in GROUP_FRAMES]


@dg.asset(group_name="warehouse", kinds={"duckdb"})
def warehouse(context: dg.AssetExecutionContext, sti_home: StiHome, harmonised_observations: steps.HarmonisedBatch,
              candidate_observations: pd.DataFrame) -> None:
    """The DuckDB warehouse: dimensions, the long fact table with every release, current and revision views."""
    paths = sti_home.paths()
    report_dir = paths.reports / "runs" / context.run.run_id
    validation_rows = [row for path in sorted(report_dir.glob("*.json"))
                       for row in json.loads(path.read_text(encoding="utf-8"))]
    dropped = harmonised_observations.dropped.rename(columns={"drop_reason": "reason"})
    digest = write_warehouse(
        paths.warehouse,
        observations=candidate_observations,
        regions=steps.regions_table(candidate_observations),
        aliases=harmonised_observations.aliases,
        dropped=dropped[["source_ref", "region_label", "region_label_en", "indicator_id", "reason"]],
        release_differences=steps.release_differences(candidate_observations),
        validation_results=steps.validation_table(validation_rows),
        build_info=steps.build_info(candidate_observations),
    )
    context.add_output_metadata({"path": str(paths.warehouse), "content_sha256": digest,
                                 "observation_history_rows": len(candidate_observations)})


@dg.asset(group_name="portal", deps=[warehouse], kinds={"sqlite"})
def portal_db(context: dg.AssetExecutionContext, sti_home: StiHome) -> None:
    """sti.db for Datasette, swapped in atomically."""
    paths = sti_home.paths()
    counts = publishing.publish(paths.warehouse, paths.portal_db)
    context.add_output_metadata({"path": str(paths.portal_db), **{f"rows_{k}": v for k, v in counts.items()}})


build_all = dg.define_asset_job("build_all", selection=dg.AssetSelection.all(),
                                description="Build the warehouse from the bundled sources and publish sti.db.")

defs = dg.Definitions(
    assets=[*SOURCE_ASSETS, harmonised_observations, candidate_observations, warehouse, portal_db],
    asset_checks=GX_CHECKS,
    jobs=[build_all],
    resources={"sti_home": StiHome()},
)
