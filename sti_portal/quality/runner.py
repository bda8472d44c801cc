"""Running GX: the one place that touches Great Expectations (its ephemeral context, the pandas datasource,
validation results), on a whole frame (`run_suite`, the reference path) or on a compact batch (`run_compact`).

great_expectations is imported inside the functions that need it: importing it takes seconds (see
docs/benchmarks.md), which `sti check` on a file that cannot be read, and every importer of this layer, are spared.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import duckdb
import pandas as pd

from sti_portal.quality.batches import ROW_LEVEL, Frame, failing_rows
from sti_portal.quality.outcomes import Failure, SuiteOutcome, expectation_label, severity_of
from sti_portal.quality.suites import load_suite

_GX_LOCK = threading.Lock()


def _gx_context():
    """One ephemeral GX context per process, with a pandas datasource whose batches are whole frames."""
    with _GX_LOCK:
        return _make_gx_context()


@lru_cache(maxsize=1)
def _make_gx_context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    # Analytics off in the context's own configuration (it would try to reach the internet), rather than
    # by setting GX_ANALYTICS_ENABLED in the process environment; no progress bars in logs.
    config = DataContextConfig(
        analytics_enabled=False,
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        progress_bars=ProgressBarsConfig(globally=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    source = context.data_sources.add_pandas("sti")
    asset = source.add_dataframe_asset("frame")
    return context, asset.add_batch_definition_whole_dataframe("whole")


def prepare_gx_in_background() -> None:
    """Importing GX and making its context takes seconds (see docs/benchmarks.md): the first time, do it in a
    thread while DuckDB computes the compact batches (DuckDB releases the GIL while a query runs)."""
    if _make_gx_context.cache_info().currsize == 0 and not _GX_LOCK.locked():
        threading.Thread(target=_gx_context, name="gx-import", daemon=True).start()


def run_suite(name: str, frame: pd.DataFrame) -> SuiteOutcome:
    import great_expectations as gx

    suite_spec = load_suite(name)
    context, batch_definition = _gx_context()
    suite = gx.ExpectationSuite(
        name=suite_spec["name"], expectations=suite_spec["expectations"], meta=suite_spec.get("meta")
    )
    checked = frame.reset_index(drop=True)
    result = batch_definition.get_batch(batch_parameters={"dataframe": checked}).validate(
        suite, result_format={"result_format": "COMPLETE"}
    )
    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        details = item.result or {}
        index = details.get("unexpected_index_list") or []
        rows = checked.loc[[i for i in index if isinstance(i, int)]] if index else checked.iloc[0:0]
        observed = "" if rows.shape[0] else f"observed {details.get('observed_value', details)}"
        if item.exception_info and item.exception_info.get("raised_exception"):
            observed = f"could not be evaluated: {item.exception_info.get('exception_message')}"
        failures.append(
            Failure(
                expectation=expectation_label(config.type, config.kwargs),
                rule=(config.meta or {}).get("rule", ""),
                severity=severity_of(config),
                n_rows=len(rows),
                rows=rows,
                observed=observed,
            )
        )
    return SuiteOutcome(name, len(suite_spec["expectations"]), failures, len(checked))


def run_compact(con, suite_name: str, frame: Frame, batch: pd.DataFrame, n_rows: int, max_rows: int) -> SuiteOutcome:
    import great_expectations as gx

    suite_spec = load_suite(suite_name)
    specs = {expectation_label(s["type"], s["kwargs"]): s for s in suite_spec["expectations"]}
    context, batch_definition = _gx_context()
    suite = gx.ExpectationSuite(
        name=suite_spec["name"], expectations=suite_spec["expectations"], meta=suite_spec.get("meta")
    )
    result = batch_definition.get_batch(batch_parameters={"dataframe": batch}).validate(
        suite, result_format={"result_format": "BASIC"}
    )
    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        label = expectation_label(config.type, config.kwargs)
        spec = specs.get(label)
        details = item.result or {}
        raised = bool(item.exception_info and item.exception_info.get("raised_exception"))
        count, rows = 0, pd.DataFrame(columns=list(frame.types))
        observed = ""
        if spec and not raised and spec["type"] in ROW_LEVEL:
            try:
                count, rows = failing_rows(con, frame, spec, max_rows)
            except duckdb.Error as exc:
                observed = f"failing rows could not be fetched: {exc}"
        if not count and not observed:
            observed = f"observed {details.get('observed_value', details)}"
        if raised:
            observed = f"could not be evaluated: {item.exception_info.get('exception_message')}"
        failures.append(
            Failure(
                expectation=label,
                rule=(config.meta or {}).get("rule", ""),
                severity=severity_of(config),
                n_rows=count,
                rows=rows,
                observed=observed,
            )
        )
    return SuiteOutcome(suite_name, len(suite_spec["expectations"]), failures, n_rows)


def unevaluated(suite_name: str, error: Exception) -> SuiteOutcome:
    """A suite whose frame could not be computed (a column missing, say): every expectation fails."""
    spec = load_suite(suite_name)
    failures = [
        Failure(
            expectation_label(e["type"], e["kwargs"]),
            (e.get("meta") or {}).get("rule", ""),
            e.get("severity", "critical"),
            0,
            pd.DataFrame(),
            f"could not be evaluated: {error}",
        )
        for e in spec["expectations"]
    ]
    return SuiteOutcome(suite_name, len(spec["expectations"]), failures, 0)
