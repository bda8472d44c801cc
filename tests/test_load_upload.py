"""`sti load`: revisions, idempotent reloads, rebuilds that reproduce loads, batches, the write lock.

Real files, real `sti` processes, real DuckDB and SQLite files, a real Datasette over HTTP.
"""

import json
import subprocess
import sys
import time

import httpx
import pytest
from conftest import REPO_ROOT, run_sti
from upload_helpers import BAD, GOOD, Serving, build_digests, copy_home, published_state, query, sha256, stage

BEIJING_2022 = (
    "SELECT value, release, source_ref FROM observations WHERE region_code = '110000' "
    "AND indicator_id = 'rd_intensity' AND year = 2022"
)


def test_revision_round_trip_idempotent_reload_and_rebuild(built_home, tmp_path):
    home = copy_home(built_home, tmp_path / "home")
    assert query(home, BEIJING_2022)[0][:2] == (6.84, "cn_sti_yearbook_2024")
    upload = stage(GOOD / "beijing_2022_revision.csv", tmp_path / "desk")
    digest = sha256(upload)

    result = run_sti(["load", str(upload)], home)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "[LOADED] beijing_2022_revision.csv" in output and "Traceback" not in output

    # observations shows the new value, with the archived file as its source
    ((value, release, source_ref),) = query(home, BEIJING_2022)
    assert value == 6.99 and release == f"upload_{release.split('_')[1]}_{digest[:8]}"
    assert source_ref == f"archive/{release}__beijing_2022_revision.csv#row=2,col=value"
    archived = home / source_ref.split("#")[0]
    assert archived.read_bytes() == (GOOD / "beijing_2022_revision.csv").read_bytes() and not upload.exists()
    sidecar = json.loads((archived.parent / (archived.name + ".source.json")).read_text(encoding="utf-8"))
    assert sidecar["sha256"] == digest and sidecar["original_name"] == "beijing_2022_revision.csv"
    assert sidecar["release"] == release and sidecar["loaded_at"].endswith("Z")
    # the history keeps every release, the revisions view lists the change
    history = query(
        home,
        "SELECT release, value FROM observation_history WHERE region_code = '110000' "
        "AND indicator_id = 'rd_intensity' AND year = 2022 ORDER BY vintage, release",
    )
    assert history[-1] == (release, 6.99) and ("cn_sti_yearbook_2024", 6.84) in history and len(history) == 4
    revision = query(
        home,
        "SELECT old_release, new_release, old_value, new_value, round(difference, 2) FROM revisions "
        "WHERE region_code = '110000' AND indicator_id = 'rd_intensity' AND year = 2022 "
        "AND new_release = ?",
        release,
    )
    assert revision == [("cn_sti_yearbook_2024", release, 6.84, 6.99, 0.15)]
    assert query(home, "SELECT release_kind, vintage FROM releases WHERE release_id = ?", release) == [
        ("upload", sidecar["vintage"])
    ]
    # the portal serves it
    with Serving(home) as url:
        rows = httpx.get(
            f"{url}/sti/observations.json",
            params={"region_code": "110000", "indicator_id": "rd_intensity", "year": "2022", "_shape": "array"},
            timeout=30,
        ).json()
        assert [(r["value"], r["release"]) for r in rows] == [(6.99, release)]

    # the same bytes again: nothing to do, nothing changes
    after_load = published_state(home)
    again = stage(GOOD / "beijing_2022_revision.csv", tmp_path / "desk", "renamed_copy.csv")
    result = run_sti(["load", str(again)], home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "already loaded as release " + release in result.stdout
    assert published_state(home) == after_load

    # `sti build` rebuilds from the snapshots and the archive: the same content, the revision included
    loaded_digest = build_digests(home)[0]
    result = run_sti(["build"], home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "materialised archived_uploads (1 rows)" in result.stdout
    assert build_digests(home) == (loaded_digest, loaded_digest)
    assert query(home, BEIJING_2022)[0][:2] == (6.99, release)


def test_gbk_bom_xlsx_and_yearbook_files_load_in_one_batch(built_home, tmp_path):
    home = copy_home(built_home, tmp_path / "home")
    names = ["hebei_2024_gbk.csv", "guangdong_2024_bom.csv", "zhejiang_2024.xlsx", "yearbook_table_1-8_revised.xlsx"]
    files = [stage(GOOD / name, tmp_path / "desk") for name in names]
    result = run_sti(["load", *map(str, files)], home)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert output.count("[LOADED]") == 4 and "Traceback" not in output

    def current(region, indicator, year):
        return query(
            home,
            "SELECT value, obs_status, unit, release FROM observations WHERE region_code = ? "
            "AND indicator_id = ? AND year = ?",
            region,
            indicator,
            year,
        )[0]

    assert current("130000", "rd_intensity", 2024)[:3] == (2.16, "p", "%")  # GBK, ２０２４, 初步
    assert current("130000", "rd_expenditure", 2024)[:3] == (982.31, "p", "亿元")  # "9,823,100" 万元
    assert current("120000", "tech_contract_turnover", 2024)[:2] == (None, "m")  # "—": a gap, not 0
    assert current("440000", "invention_patents_in_force", 2024)[0] == 781000  # 78.1 万件
    assert current("440000", "hightech_enterprises_certified", 2024)[0] == 27000  # 2.7 万家
    assert current("330000", "tech_contract_turnover", 2024)[0] == 3156.2
    beijing_2023 = current("110000", "rd_intensity", 2023)  # the yearbook table upload
    assert beijing_2023[0] == 6.80 and beijing_2023[3].startswith("upload_")
    per_10k = current("440000", "invention_patents_per_10k", 2024)[0]
    population = current("440000", "population", 2024)[0]
    assert per_10k == pytest.approx(781000 / population)
    assert len(list((home / "archive").glob("*.source.json"))) == 4
    assert build_digests(home)[0] == build_digests(home)[1]


def test_a_batch_is_loaded_whole_or_not_at_all(built_home, tmp_path):
    home = copy_home(built_home, tmp_path / "home")
    before = published_state(home)
    good = stage(GOOD / "zhejiang_2024.xlsx", tmp_path / "desk")
    bad = stage(BAD / "unknown_province_zh.csv", tmp_path / "desk")
    result = run_sti(["load", str(good), str(bad)], home)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "[NOT LOADED] zhejiang_2024.xlsx" in output and "the batch is loaded whole or not at all" in output
    assert "[REJECTED] unknown_province_zh.csv" in output and "did you mean 北京" in output
    assert published_state(home) == before
    assert good.exists() and not bad.exists()
    assert not list((home / "archive").glob("*.source.json"))
    assert list((home / "quarantine").glob("*__unknown_province_zh.csv.report.html"))


def test_a_second_writer_waits_for_the_lock_then_gives_up_clearly(built_home, tmp_path):
    home = copy_home(built_home, tmp_path / "home")
    upload = stage(GOOD / "beijing_2022_revision.csv", tmp_path / "desk")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from sti_portal.core import settings as config;"
            "from sti_portal.publish import generations;"
            "paths = config.Paths(Path(sys.argv[1]));"
            "ctx = generations.writer_lock(paths, purpose='test holder'); ctx.__enter__();"
            "print('locked', flush=True); time.sleep(120)",
            str(home),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = published_state(home)
        started = time.monotonic()
        result = run_sti(["load", "--wait", "2", str(upload)], home)
        output = result.stdout + result.stderr
        assert result.returncode == 2, output
        assert "another build or load is writing" in output and "test holder" in output
        assert time.monotonic() - started < 60
        assert upload.exists() and published_state(home) == before
        build = run_sti(["build"], home, env_extra={"STI_LOCK_TIMEOUT": "1"})
        assert build.returncode == 1 and "another build or load is writing" in build.stderr
    finally:
        holder.kill()
        holder.wait()
