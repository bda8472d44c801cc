"""One benchmark stage at scale, run in its own process so that its peak memory can be measured.

    python -m benchmarks.scale ours        --data DIR --out DIR   # the project's code path, timed per step
    python -m benchmarks.scale raw         --data DIR --out DIR   # DuckDB read_csv + SQL checks + export
    python -m benchmarks.scale incremental --data DIR --out DIR   # one province-year file into `ours`' output

Each prints one JSON line with the seconds per step. STI_EXTRA_REGIONS must name the data set's
county_regions.csv for `ours` and `incremental` (benchmarks/run.py sets it).

`ours` reads the upload-format CSVs the way a bulk source adapter does (pandas' C parser into the tidy
frame of sources/common.py), then runs the same functions `sti build` runs: harmonise, derive, the six
Great Expectations suites (sti_portal/quality/), write_warehouse and publish (sti.db + downloads).
`incremental` is what `sti load` does with a file: read it with sti_portal/uploads/read.py, check it against the
published data and the suites (sti_portal/load.evaluate), then write the warehouse and sti.db again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from benchmarks.synthetic import SyntheticSet
from sti_portal.core.settings import CATALOGUE_DIR, REPO_ROOT

FIRST_VINTAGE_YEAR = 2010


def release_of(index: int) -> tuple[str, str]:
    """(release id, vintage) of the index-th edition file."""
    return f"upload_county_{index + 1:02d}", f"{FIRST_VINTAGE_YEAR + index}-12-31"


class Timer:
    def __init__(self) -> None:
        self.steps: dict[str, float] = {}

    @contextmanager
    def step(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.steps[name] = round(time.perf_counter() - started, 3)


# ------------------------------------------------------------------------------------------ ours


def read_bulk(files: list[Path]) -> pd.DataFrame:
    """Upload-format CSVs (region codes, indicator ids) to the tidy frame of sources/common.py."""
    from sources.common import TIDY_COLUMNS

    frames = []
    for index, path in enumerate(files):
        raw = pd.read_csv(
            path,
            dtype={
                "region": str,
                "indicator": str,
                "year": "int64",
                "value": str,
                "unit": str,
                "obs_status": str,
                "source": str,
                "note": str,
            },
            keep_default_na=False,
            na_values=[],
            engine="c",
        )
        release, vintage = release_of(index)
        value = pd.to_numeric(raw["value"].where(raw["value"] != "", None), errors="raise").astype("float64")
        frames.append(
            pd.DataFrame(
                {
                    "source_id": "upload",
                    "release": release,
                    "release_kind": "upload",
                    "vintage": vintage,
                    "indicator_id": raw["indicator"],
                    "region_label": raw["region"],
                    "region_label_en": "",
                    "year": raw["year"],
                    "value": value,
                    "unit": raw["unit"],
                    "obs_status": raw["obs_status"].where(value.notna() | (raw["obs_status"] != ""), "m"),
                    "source_ref": path.name + "#row=" + (raw.index + 2).astype(str),
                    "note": raw["note"],
                },
                columns=TIDY_COLUMNS,
            )
        )
    return pd.concat(frames, ignore_index=True)


def run_ours(data: SyntheticSet, out: Path) -> dict:
    """`out` becomes a portal home (STI_HOME layout: generations/<id>/, current, sti.db, ...), as `sti build` writes."""
    from sti_portal.core.settings import Paths
    from sti_portal.publish import generations
    from sti_portal.publish.portal_db import publish
    from sti_portal.quality.validate import validate_all
    from sti_portal.store.warehouse import write_warehouse
    from sti_portal.transform import steps
    from sti_portal.transform.harmonise import harmonise

    out.mkdir(parents=True, exist_ok=True)
    paths = Paths(out)
    timer = Timer()
    with generations.writer_lock(paths, purpose="benchmark ours"):
        generation = generations.new_generation(paths, "build")
        with timer.step("ingest"):
            tidy = read_bulk(data.release_files)
            batch = harmonise(tidy)
            del tidy
            candidate = steps.candidate_observations(batch)
        with timer.step("validate"):
            suites = validate_all(candidate)
        blocking = [f"{s.suite}: {f.expectation}" for s in suites for f in s.blocking_failures]
        if blocking:
            raise SystemExit(f"the synthetic data fail validation: {blocking}")
        with timer.step("warehouse"):
            dropped = batch.dropped.rename(columns={"drop_reason": "reason"})
            digest = write_warehouse(
                generation / "warehouse.duckdb",
                observations=candidate,
                regions=steps.regions_table(candidate),
                aliases=batch.aliases,
                dropped=dropped[["source_ref", "region_label", "region_label_en", "indicator_id", "reason"]],
                release_differences=steps.release_differences(candidate),
                validation_results=steps.validation_table([row for suite in suites for row in suite.table_rows()]),
                build_info=steps.build_info(candidate),
            )
        del batch, candidate
        with timer.step("publish"):
            publish(generation / "warehouse.duckdb", generation / "sti.db")
            generations.commit(
                paths,
                generation,
                {"kind": "build", "uploads": [], "content_sha256": digest},
                expected_base=generations.current_id(paths),
            )
    return {"steps": timer.steps, "total": round(sum(timer.steps.values()), 3)}


def run_incremental(data: SyntheticSet, out: Path) -> dict:
    """One province-year file loaded with `sti load` (sti_portal/load.load_files) into the home `ours` wrote."""
    from sti_portal.core.settings import Paths
    from sti_portal.uploads import load

    inbox = out / "benchmark-inbox"
    inbox.mkdir(exist_ok=True)
    file = inbox / data.increment_file.name
    shutil.copyfile(data.increment_file, file)  # an accepted file is moved to the archive
    started = time.perf_counter()
    outcome = load.load_files(Paths(out), [file])
    total = time.perf_counter() - started
    if outcome.verdict != "accepted":
        from sti_portal.uploads.report import render_text

        raise SystemExit(f"the province-year file was not loaded ({outcome.verdict}):\n{render_text(outcome)[:5000]}")
    steps = {name: round(seconds, 3) for name, seconds in outcome.timings.items()}
    steps["other (lock, archive, switch)"] = round(total - sum(outcome.timings.values()), 3)
    return {
        "steps": steps,
        "total": round(total, 3),
        "rows_loaded": len(outcome.files[0].read.rows),
        "mode": outcome.publication,
    }


# ------------------------------------------------------------------------------------------ raw baseline


def _unit_conversions_sql() -> str:
    from sti_portal.transform.harmonise import UNIT_CONVERSIONS

    rows = ", ".join(f"('{a}', '{b}', {m!r}, {d!r})" for (a, b), (m, d) in UNIT_CONVERSIONS.items())
    return f"CREATE TABLE conversions (from_unit VARCHAR, to_unit VARCHAR, mul DOUBLE, div DOUBLE); INSERT INTO conversions VALUES {rows};"


def raw_checks_sql() -> dict[str, str]:
    """The rules of expectations/*.json as plain SQL over `fact`; each query returns the failing row count."""
    from sti_portal.core.releases import KIND_PRECEDENCE
    from sti_portal.quality.suites import (
        ADDITIVITY_REL_TOLERANCE,
        FIRST_DATA_YEAR,
        LAST_DATA_YEAR,
        N_PROVINCES,
        OBS_STATUS_CODES,
    )

    statuses = ", ".join(f"'{s}'" for s in OBS_STATUS_CODES)
    kinds = ", ".join(f"'{k}'" for k in KIND_PRECEDENCE)
    return {
        "not_null": "SELECT count(*) FROM fact WHERE region_code IS NULL OR indicator_id IS NULL OR year IS NULL "
        "OR release IS NULL OR source_id IS NULL OR source_ref IS NULL",
        "year_range": f"SELECT count(*) FROM fact WHERE year NOT BETWEEN {FIRST_DATA_YEAR} AND {LAST_DATA_YEAR}",
        "known_indicator": "SELECT count(*) FROM fact ANTI JOIN indicators USING (indicator_id)",
        "status_codes": f"SELECT count(*) FROM fact WHERE obs_status NOT IN ({statuses})",
        "release_kind": f"SELECT count(*) FROM fact JOIN releases ON release_id = release WHERE release_kind NOT IN ({kinds})",
        "unique_key": "SELECT count(*) FROM (SELECT region_code, indicator_id, year, release FROM fact GROUP BY ALL HAVING count(*) > 1)",
        "value_unless_missing": "SELECT count(*) FROM fact WHERE value IS NULL AND obs_status <> 'm'",
        "value_ranges": "SELECT count(*) FROM fact JOIN indicators USING (indicator_id) WHERE value NOT BETWEEN min_value AND max_value",
        "coverage": f"""SELECT count(*) FROM (SELECT indicator_id, year, release, count(DISTINCT region_code) n
                       FROM fact JOIN regions USING (region_code) JOIN indicators USING (indicator_id)
                       WHERE level = 'province' AND full_coverage AND source_id <> 'nbs_rd_bulletin' AND release NOT LIKE 'upload_%'
                       GROUP BY ALL HAVING n <> {N_PROVINCES})""",
        "additivity": f"""WITH parts AS (SELECT indicator_id, year, release, sum(value) s, count(DISTINCT region_code) FILTER (level = 'province') np
                         FROM fact JOIN regions USING (region_code) JOIN indicators USING (indicator_id)
                         WHERE additive AND value IS NOT NULL AND level IN ('province', 'sar_or_taiwan') GROUP BY ALL),
                         nat AS (SELECT indicator_id, year, release, value FROM fact WHERE region_code = '100000')
                         SELECT count(*) FROM parts JOIN nat USING (indicator_id, year, release)
                         WHERE np = {N_PROVINCES} AND abs((s - value) / value) > {ADDITIVITY_REL_TOLERANCE}""",
        "year_on_year (warning)": """WITH cur AS (SELECT f.* FROM fact f JOIN releases r ON r.release_id = f.release
                             QUALIFY row_number() OVER (PARTITION BY region_code, indicator_id, year
                                     ORDER BY vintage DESC NULLS LAST, precedence DESC, release DESC) = 1),
                         chg AS (SELECT region_code, indicator_id, year, value,
                                 lag(value) OVER w pv, lag(year) OVER w py FROM cur WHERE value IS NOT NULL
                                 WINDOW w AS (PARTITION BY region_code, indicator_id ORDER BY year))
                         SELECT count(*) FROM chg JOIN indicators USING (indicator_id)
                         WHERE py = year - 1 AND pv > 0 AND abs(value / pv - 1) > yoy_max_ratio""",
    }


def run_raw(data: SyntheticSet, out: Path) -> dict:
    """The same work done directly: DuckDB read_csv, the rules as SQL, current values, export to SQLite."""
    import duckdb

    from sti_portal.publish.portal_db import INDEXES
    from sti_portal.publish.sqlite_extension import sqlite_extension_path

    out.mkdir(parents=True, exist_ok=True)
    for name in ("raw.duckdb", "raw.db"):
        (out / name).unlink(missing_ok=True)
    timer = Timer()
    con = duckdb.connect(str(out / "raw.duckdb"))
    files = ", ".join(f"'{p}'" for p in data.release_files)
    releases = ", ".join(
        f"('{p.name}', '{release_of(i)[0]}', DATE '{release_of(i)[1]}', 5)" for i, p in enumerate(data.release_files)
    )
    with timer.step("ingest"):
        con.execute(f"""
            CREATE TABLE regions AS SELECT * FROM read_csv(['{CATALOGUE_DIR / "regions.csv"}', '{data.regions_csv}'], all_varchar = true);
            CREATE TABLE indicators AS SELECT * FROM read_csv('{CATALOGUE_DIR / "indicators.csv"}');
            CREATE TABLE releases (file VARCHAR, release_id VARCHAR, vintage DATE, precedence INTEGER);
            INSERT INTO releases VALUES {releases};
            ALTER TABLE releases ADD COLUMN release_kind VARCHAR DEFAULT 'upload';
            {_unit_conversions_sql()}
            CREATE TABLE fact AS
            SELECT g.region_code, x.indicator AS indicator_id, x.year, rl.release_id AS release,
                   CASE WHEN x.unit = i.unit THEN x.value ELSE x.value * c.mul / c.div END AS value,
                   CASE WHEN x.value IS NULL THEN 'm' ELSE coalesce(x.obs_status, '') END AS obs_status,
                   'upload' AS source_id, parse_filename(x.filename) || '#row=' || (row_number() OVER (PARTITION BY x.filename) + 1) AS source_ref,
                   coalesce(x.note, '') AS note, x.unit AS written_unit, i.unit AS catalogue_unit
            FROM read_csv([{files}], header = true, filename = true,
                          columns = {{'region': 'VARCHAR', 'indicator': 'VARCHAR', 'year': 'INTEGER', 'value': 'DOUBLE',
                                     'unit': 'VARCHAR', 'obs_status': 'VARCHAR', 'source': 'VARCHAR', 'note': 'VARCHAR'}}) x
            LEFT JOIN regions g ON g.region_code = x.region
            LEFT JOIN indicators i ON i.indicator_id = x.indicator
            LEFT JOIN conversions c ON c.from_unit = x.unit AND c.to_unit = i.unit
            JOIN releases rl ON rl.file = parse_filename(x.filename);
        """)
        unknown = con.execute(
            "SELECT count(*) FROM fact WHERE region_code IS NULL OR catalogue_unit IS NULL "
            "OR (written_unit <> catalogue_unit AND value IS NULL AND obs_status <> 'm')"
        ).fetchone()[0]
        # Derived: invention patents per 10 000 people against the newest population value.
        con.execute("""
            INSERT INTO fact
            WITH pop AS (SELECT f.region_code, f.year, f.value, f.source_ref FROM fact f JOIN releases r ON r.release_id = f.release
                         WHERE indicator_id = 'population'
                         QUALIFY row_number() OVER (PARTITION BY region_code, year ORDER BY vintage DESC, release DESC) = 1)
            SELECT p.region_code, 'invention_patents_per_10k', p.year, p.release, p.value / pop.value, p.obs_status,
                   'sti_portal_derived', p.source_ref || ' ÷ ' || pop.source_ref, 'derived', '件', '件/万人'
            FROM fact p JOIN pop USING (region_code, year)
            WHERE p.indicator_id = 'invention_patents_in_force' AND p.value IS NOT NULL AND pop.value > 0""")
    checks = {}
    with timer.step("validate"):
        for name, sql in raw_checks_sql().items():
            checks[name] = con.execute(sql).fetchone()[0]
    checks["unknown region or unit"] = unknown
    with timer.step("warehouse"):
        con.execute(
            "CREATE TABLE observation_fact AS SELECT * EXCLUDE (written_unit, catalogue_unit) FROM fact "
            "ORDER BY region_code, indicator_id, year, release"
        )
        con.execute("DROP TABLE fact")
        con.execute("CHECKPOINT")
    with timer.step("publish"):
        con.execute(f"LOAD '{sqlite_extension_path()}'")
        con.execute(f"ATTACH '{out / 'raw.db'}' AS portal (TYPE sqlite)")
        history = """SELECT f.region_code, g.name_zh AS region_zh, g.name_en AS region_en, g.level AS region_level,
                            f.indicator_id, i.name_zh AS indicator_zh, i.name_en AS indicator_en, f.year, f.value, i.unit,
                            f.obs_status, f.source_id, f.release, r.release_kind, CAST(r.vintage AS VARCHAR) AS vintage,
                            r.precedence, f.source_ref, f.note
                     FROM observation_fact f JOIN regions g USING (region_code) JOIN indicators i USING (indicator_id)
                     JOIN releases r ON r.release_id = f.release"""
        con.execute(
            f"CREATE TABLE portal.observation_history AS SELECT * EXCLUDE (precedence) FROM ({history}) "
            "ORDER BY indicator_id, year, region_code, vintage NULLS FIRST, precedence, release"
        )
        con.execute(f"""CREATE TABLE portal.observations AS SELECT * EXCLUDE (precedence, rn) FROM (
                          SELECT *, row_number() OVER (PARTITION BY region_code, indicator_id, year
                                 ORDER BY vintage DESC NULLS LAST, precedence DESC, release DESC) AS rn FROM ({history}))
                        WHERE rn = 1 ORDER BY indicator_id, year, region_code""")
        con.execute("DETACH portal")
        import sqlite3

        db = sqlite3.connect(out / "raw.db")
        for table in ("observations", "observation_history"):
            for columns in INDEXES[table]:
                db.execute(f"CREATE INDEX idx_{table}_{'_'.join(columns)} ON {table} ({', '.join(columns)})")
        db.commit()
        db.close()
    con.close()
    return {"steps": timer.steps, "total": round(sum(timer.steps.values()), 3), "failing_rows": checks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=["ours", "raw", "incremental"])
    parser.add_argument("--data", type=Path, required=True, help="a folder written by benchmarks.synthetic")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    data = SyntheticSet.load(args.data)
    run = {"ours": run_ours, "raw": run_raw, "incremental": run_incremental}[args.stage]
    print(json.dumps(run(data, args.out)))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    raise SystemExit(main())
