"""`sti load` appends a batch to the published generation (sti_portal/publish/incremental.py) and must publish
exactly what a rebuild from every input publishes: same fact rows and content digest, same published
rows, same downloads for what changed, the untouched download parts shared with the old version."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import duckdb
import pytest
from upload_helpers import GOOD, build_digests, copy_home, query, stage

from sti_portal.core.settings import Paths
from sti_portal.publish import downloads
from sti_portal.uploads import base, load

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
# tianjin_2012_2019_edition.csv restates the 2019 edition's Tianjin R&D intensity 2012 (2.8, before the GDP
# revision): the current 2012 value then joins 2011 smoothly and 2013 (2024 edition, 4.3) becomes the break.
FILES = ["guangdong_2024_bom.csv", "beijing_2022_revision.csv", "tianjin_2012_2019_edition.csv"]
KEYED_TABLES = {
    "observations": "region_code, indicator_id, year",
    "observation_history": "region_code, indicator_id, year, release",
    "revisions": "region_code, indicator_id, year, new_release",
}
WHOLE_TABLES = [
    "releases",
    "region_aliases",
    "target_progress",
    "indicators",
    "regions",
    "sources",
    "reported_vs_official",
    "target_region_summary",
]


def _load(home, tmp_path, rebuild: bool):
    files = [stage(GOOD / name, tmp_path / ("desk-rebuild" if rebuild else "desk")) for name in FILES]
    outcome = load.load_files(Paths(home), files, now=NOW, rebuild=rebuild)
    assert outcome.verdict == "accepted", [p.text() for f in outcome.files for p in f.problems] + outcome.foreign
    return outcome


@pytest.fixture(scope="module")
def both_ways(built_home, tmp_path_factory):
    """The same batch loaded into two copies of the built home: appended, and rebuilt from every input."""
    tmp = tmp_path_factory.mktemp("incremental")
    appended, rebuilt = copy_home(built_home, tmp / "appended"), copy_home(built_home, tmp / "rebuilt")
    before = query(appended, "SELECT value FROM build_info WHERE key = 'content_sha256'")[0][0]
    old_version = (appended / "downloads").resolve()
    inodes_before = {str(p.relative_to(old_version)): p.stat().st_ino for p in old_version.rglob("*") if p.is_file()}
    outcomes = {"appended": _load(appended, tmp, rebuild=False), "rebuilt": _load(rebuilt, tmp, rebuild=True)}
    return appended, rebuilt, outcomes, (before, inodes_before)


def test_a_batch_is_appended_not_rebuilt(both_ways):
    appended, rebuilt, outcomes, (before, _) = both_ways
    assert outcomes["appended"].publication == "incremental"
    assert outcomes["rebuilt"].publication == "rebuild"
    assert "series the file(s) touch" in outcomes["appended"].base_description
    assert "read every input" not in outcomes["appended"].timings
    assert build_digests(appended)[0] != before


def test_appending_gives_the_rebuilds_fact_rows_and_digest(both_ways):
    appended, rebuilt, _, _ = both_ways
    assert build_digests(appended) == build_digests(rebuilt)
    facts = []
    for home in (appended, rebuilt):
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
            facts.append(con.execute("SELECT * FROM observation_fact ORDER BY ALL").fetchall())
    assert facts[0] == facts[1] and len(facts[0]) > 10_000


@pytest.mark.parametrize("table", list(KEYED_TABLES) + WHOLE_TABLES)
def test_appending_publishes_the_rebuilds_rows(both_ways, table):
    appended, rebuilt, _, _ = both_ways
    rows = [sorted(query(home, f"SELECT * FROM {table}"), key=repr) for home in (appended, rebuilt)]
    assert rows[0] == rows[1], table
    assert rows[0], table


def test_the_loaded_values_are_current_with_their_derived_value(both_ways):
    appended, _, _, _ = both_ways
    ((value, release),) = query(
        appended,
        "SELECT value, release FROM observations WHERE region_code = '440000' "
        "AND indicator_id = 'invention_patents_in_force' AND year = 2024",
    )
    assert value == 781000.0 and release.startswith("upload_")  # 78.1 万件 in guangdong_2024_bom.csv
    population = query(
        appended,
        "SELECT value FROM observations WHERE region_code = '440000' AND indicator_id = 'population' AND year = 2024",
    )
    derived = query(
        appended,
        "SELECT value FROM observations WHERE region_code = '440000' "
        "AND indicator_id = 'invention_patents_per_10k' AND year = 2024",
    )
    if population:
        assert derived == [(pytest.approx(781000.0 / population[0][0]),)]
    else:
        assert derived == []
    ((value,),) = query(
        appended,
        "SELECT value FROM observations WHERE region_code = '110000' AND indicator_id = 'rd_intensity' AND year = 2022",
    )
    assert value == 6.99


def test_a_load_moves_the_series_break_to_the_year_after_in_both_ways(both_ways, built_home):
    """The break flag of the year AFTER a loaded value is rewritten by the incremental path as by a rebuild."""
    sql = (
        "SELECT year, value, obs_status FROM observations WHERE region_code = '120000' "
        "AND indicator_id = 'rd_intensity' AND year BETWEEN 2011 AND 2013 ORDER BY year"
    )
    assert query(built_home, sql) == [(2011, 2.63, ""), (2012, 3.99, "b"), (2013, 4.3, "")]
    for home in both_ways[:2]:
        assert query(home, sql) == [(2011, 2.63, ""), (2012, 2.8, ""), (2013, 4.3, "b")], home
    history = (
        "SELECT obs_status FROM observation_history WHERE region_code = '120000' AND indicator_id = 'rd_intensity'"
    )
    assert {row[0] for row in query(both_ways[0], history)} == {""}  # the sources' own statuses are untouched


def test_untouched_download_parts_are_shared_with_the_old_version(both_ways):
    appended, _, _, (_, inodes_before) = both_ways
    new_version = (appended / "downloads").resolve()
    shared = changed = 0
    for path in new_version.rglob("*"):
        if not path.is_file() or path.name == "manifest.json":
            continue
        if inodes_before.get(str(path.relative_to(new_version))) == path.stat().st_ino:
            shared += 1  # hard-linked from the version published before the load
        else:
            changed += 1
    assert shared > changed > 0, (shared, changed)


def test_appended_downloads_equal_a_full_build_of_the_same_sti_db(both_ways, tmp_path):
    """What a reader downloads (parts joined as served) is what a full build of the new sti.db serves."""
    appended, _, _, _ = both_ways
    version = (appended / "downloads").resolve()
    full = downloads.prepare(appended / "sti.db", tmp_path)
    manifests = downloads.read_manifest(full), downloads.read_manifest(version)
    assert manifests[0]["files"] == manifests[1]["files"]
    for entry in manifests[0]["files"]:
        if entry["kind"] == "zip":
            continue  # assembled from the same parts; compressing it twice here would only cost time
        served = [
            b"".join(downloads.iter_download(folder, manifest, entry))
            for folder, manifest in ((full, manifests[0]), (version, manifests[1]))
        ]
        assert served[0] == served[1], entry["path"]


def test_a_load_into_a_home_without_a_publication_rebuilds(tmp_path, built_home):
    home = copy_home(built_home, tmp_path / "home")
    (home / "current").unlink()
    assert base.incremental_base(Paths(home)) is None


def test_validation_results_record_the_scoped_suites(both_ways):
    appended, _, _, _ = both_ways
    with sqlite3.connect(f"file:{appended / 'sti.db'}?mode=ro", uri=True) as db:
        suites = {row[0] for row in db.execute("SELECT DISTINCT suite FROM validation_results")}
    assert {"observations", "value_ranges", "coverage", "additivity", "year_on_year", "bulletin_agreement"} <= suites
