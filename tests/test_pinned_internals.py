"""The Great Expectations and Dagster APIs the project relies on beyond the documented basics.

Each is used in one place (sti_portal/quality/runner.py for GX, sti_portal/cli/build.py for Dagster);
when a pinned version changes them this test names what moved, instead of a build failing somewhere
downstream. Datasette's are in portal/site/datasette_internals.py (tests/test_datasette_internals.py).
"""

import dagster as dg
import great_expectations as gx
from great_expectations.data_context.types.base import DataContextConfig

from sti_portal.quality import runner


def test_gx_context_is_ephemeral_without_analytics_or_progress_bars():
    context, batch_definition = runner._make_gx_context()
    assert type(context).__name__ == "EphemeralDataContext"
    assert context.variables.analytics_enabled is False
    assert context.variables.progress_bars.globally is False
    assert batch_definition.name == "whole"


def test_gx_project_config_still_takes_the_fields_we_set():
    fields = set(DataContextConfig.__init__.__code__.co_varnames)
    assert {"analytics_enabled", "store_backend_defaults", "progress_bars"} <= fields
    assert gx.__version__.startswith("1."), gx.__version__


def test_dagster_events_carry_what_sti_build_prints():
    @dg.asset
    def tiny() -> int:
        return 1

    @dg.asset_check(asset=tiny, blocking=True)
    def tiny_check() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, metadata={"report": "r"})

    result = dg.materialize([tiny, tiny_check], raise_on_error=False)
    materialised = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
    assert materialised[0].event_specific_data.materialization.asset_key.to_user_string() == "tiny"
    evaluation = result.get_asset_check_evaluations()[0]
    assert (evaluation.check_name, evaluation.passed, evaluation.severity.value) == ("tiny_check", False, "WARN")
    assert evaluation.metadata["report"].value == "r"
