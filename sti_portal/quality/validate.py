"""Validation with Great Expectations 1.x, pushed down to DuckDB.

Rules live as GX suite files in expectations/ (generated from the indicator catalogue by
`python -m sti_portal.quality.suites --write-suites` and committed, so a change of rule shows in review).
Some rules are about groups of rows (coverage, additivity, year-on-year change, first release versus
yearbook); for those a frame with one row per group is computed and GX validates that frame, so every
rule is still a GX expectation with a GX result.

`validate_relation(con, relation)` (and `validate_all(frame)`, which registers a pandas frame in an
in-memory DuckDB) never hands the full data to GX. The group frames are computed in SQL (twins of the
pandas functions coverage_frame, additivity_frame, yoy_frame and bulletin_agreement_frame, which stay as
the reference: tests/test_validate_pushdown.py compares them). For every frame DuckDB computes a
*compact batch* that the same suite files validate with GX's pandas datasource, and each expectation
fails on the compact batch if and only if it fails on the full frame:

* rows are grouped by what the suite's expectations look at: the exact value of every column used in
  a value set or a row condition, whether each column checked for nulls (or for its type) is null, and
  for every column checked against a range the group's minimum and maximum (a range holds for every
  row iff it holds for the extremes). Each group becomes one row (the minimum) or two (minimum and
  maximum). Columns no expectation reads are typed nulls, so DuckDB does not even read them;
* compound uniqueness: every row of (up to MAX_DUPLICATE_KEYS) duplicated keys is added as it is, and
  the representative rows get a synthetic, unique value in a key column that is otherwise only checked
  for nulls (`region_code`, `release`), so they never form a duplicate of their own (where those are
  null, the rest of the key is grouped exactly: two such rows then share a key only if real rows do);
* the table's columns and the DuckDB types (hence the pandas dtypes) are those of the full frame.

When an expectation fails, its failing rows are fetched from the full frame by SQL (the handful of
expectation types the suites use are translated, with pandas' null semantics: NaN counts as null, a
row condition `x != v` keeps rows where x is null), so `Failure.n_rows` is the exact count and
`Failure.rows` the first MAX_FAILING_ROWS real rows. Expectations of other kinds (or with `mostly`)
would make GX validate the whole frame, which stays correct, only slower.

The modules of this layer: suites.py (the suite files), frames.py (the pandas reference frames),
sql_frames.py (their SQL twins), batches.py (compact batches, failing rows), runner.py (GX itself),
outcomes.py (what a run gives). This module is the layer's entry point: other layers import the names
in __all__ from here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import duckdb
import numpy as np
import pandas as pd

from sti_portal.quality.batches import Frame, compact_batch
from sti_portal.quality.frames import GROUP_FRAMES
from sti_portal.quality.outcomes import Failure, SuiteOutcome, expectation_label
from sti_portal.quality.runner import prepare_gx_in_background, run_compact, run_suite, unevaluated
from sti_portal.quality.sql_frames import (
    GROUP_SQL,
    LEAN_SQL,
    ROW_ORDER,
    bulletin_sql,
    describe,
    nan_free_source,
    register_catalogue,
)
from sti_portal.quality.suites import OBSERVATIONS_FRAME, SUITE_FRAMES, load_suite

__all__ = [
    "GROUP_FRAMES",
    "MAX_FAILING_ROWS",
    "SUITE_FRAMES",
    "Failure",
    "SuiteOutcome",
    "bulletin_agreement_sql",
    "expectation_label",
    "load_suite",
    "run_suite",
    "validate_all",
    "validate_relation",
]

MAX_FAILING_ROWS = 10_000  # real failing rows fetched per failed expectation (n_rows stays exact)


def _validate(
    con,
    relation: str,
    suites: list[str],
    dtypes: dict | None = None,
    max_rows: int | None = None,
    first_releases: tuple[str, ...] = (),
) -> list[SuiteOutcome]:
    max_rows = MAX_FAILING_ROWS if max_rows is None else max_rows
    prepare_gx_in_background()
    prefix = f"_sti_gx_{uuid.uuid4().hex[:12]}_"
    views, registered = [], []
    try:
        source_sql, types, row_order = nan_free_source(con, relation)
        src = f"{prefix}src"
        con.execute(f"CREATE TEMP VIEW {src} AS {source_sql}")
        views.append(src)
        names = register_catalogue(con, prefix)
        registered += list(names.values())
        wanted: dict[str, list[str]] = {}
        for suite in suites:
            wanted.setdefault(SUITE_FRAMES[suite], []).append(suite)
        outcomes = {}
        for frame_name, frame_suites in wanted.items():
            try:
                if frame_name == OBSERVATIONS_FRAME:
                    frame = Frame(
                        frame_name,
                        src,
                        {c: t for c, t in types.items() if c != row_order},
                        dtypes=dtypes,
                        first_releases=first_releases,
                    )
                else:
                    view = f"{prefix}{frame_name}"
                    con.execute(f"CREATE TEMP VIEW {view} AS {GROUP_SQL[frame_name](src, names, types)}")
                    views.append(view)
                    frame = Frame(frame_name, view, describe(con, view), first_releases=first_releases)
                    if frame_name in LEAN_SQL:
                        lean = f"{prefix}{frame_name}_lean"
                        con.execute(f"CREATE TEMP VIEW {lean} AS {LEAN_SQL[frame_name](src, names, types)}")
                        views.append(lean)
                        frame.lean_view = lean
                expectations = [e for s in frame_suites for e in load_suite(s)["expectations"]]
                batch, n_rows = compact_batch(con, frame, expectations)
            except duckdb.Error as exc:
                for suite in frame_suites:
                    outcomes[suite] = unevaluated(suite, exc)
                continue
            for suite in frame_suites:
                outcomes[suite] = run_compact(con, suite, frame, batch, n_rows, max_rows)
        return [outcomes[suite] for suite in suites]
    finally:
        for view in reversed(views):
            con.execute(f"DROP VIEW IF EXISTS {view}")
        for name in registered:
            con.unregister(name)


def validate_all(
    observations: pd.DataFrame,
    suites: list[str] | None = None,
    *,
    first_releases: Iterable[str] = (),
    max_rows: int | None = None,
) -> list[SuiteOutcome]:
    """The suites (all six, or those named) on a pandas frame: registered in an in-memory DuckDB, then
    validated as `validate_relation` does, the compact batches with the frame's own dtypes.

    A frame DuckDB would read otherwise than pandas holds it (an object column with other values than
    text, which DuckDB turns into text) is validated the old way, the whole frame through GX's pandas
    datasource: such a frame fails the type rules anyway, and this keeps the details of the failure."""
    names = list(suites or SUITE_FRAMES)
    if not all(
        pd.api.types.infer_dtype(observations[c], skipna=True) in ("string", "empty")
        for c in observations.columns
        if observations[c].dtype == object
    ):
        return [run_suite(name, GROUP_FRAMES[name](observations)) for name in names]
    con = duckdb.connect()
    try:
        try:  # with the row order, which breaks ties between rows of the same release as pandas does
            con.register("candidate_observations", observations.assign(**{ROW_ORDER: np.arange(len(observations))}))
            con.execute("DESCRIBE SELECT * FROM candidate_observations").fetchall()
        except (duckdb.Error, TypeError, ValueError):
            return [run_suite(name, GROUP_FRAMES[name](observations)) for name in names]
        return _validate(
            con,
            "candidate_observations",
            names,
            dtypes=dict(observations.dtypes),
            first_releases=tuple(first_releases),
            max_rows=max_rows,
        )
    finally:
        con.close()


def validate_relation(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    suites: list[str] | None = None,
    *,
    first_releases: Iterable[str] = (),
    max_rows: int | None = None,
) -> list[SuiteOutcome]:
    """The suites (all six, or those named) on data already in DuckDB.

    `relation`: a table or view name (or any FROM item) with the candidate columns, CANDIDATE_COLUMNS, typed
    as the candidate frame is (year BIGINT, value DOUBLE: the type expectations check them). Failing rows of
    `first_releases` (the releases being loaded) are listed first; each failure lists at most `max_rows`
    rows (MAX_FAILING_ROWS) and counts them all. Between rows of the same key and release (which fail the
    uniqueness rule anyway) a table's row order decides which is current, as in pandas; in a view, any.
    Only temporary views and registered catalogue frames are created in `con`, and dropped again, so a
    read-only connection will do."""
    return _validate(
        con, relation, list(suites or SUITE_FRAMES), first_releases=tuple(first_releases), max_rows=max_rows
    )


def bulletin_agreement_sql(con: duckdb.DuckDBPyConnection, relation: str) -> pd.DataFrame:
    """bulletin_agreement_frame in SQL, for observations already in DuckDB (same rows, same order on a
    candidate frame sorted like steps.candidate_observations)."""
    prefix = f"_sti_ba_{uuid.uuid4().hex[:12]}_"
    names = register_catalogue(con, prefix)
    src = f"{prefix}src"
    try:
        source_sql, types, _ = nan_free_source(con, relation)
        con.execute(f"CREATE TEMP VIEW {src} AS {source_sql}")
        return con.execute(
            f"SELECT * FROM ({bulletin_sql(src, names, types)}) ORDER BY indicator_id, region_code, year, first_release"
        ).df()
    finally:
        con.execute(f"DROP VIEW IF EXISTS {src}")
        for name in names.values():
            con.unregister(name)
