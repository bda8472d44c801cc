"""Pre-built downloads: every table, indicator and region as CSV / CSV with BOM / JSON, the bulk ZIP
(tidy CSVs + Frictionless datapackage.json + README), stored as parts written by DuckDB, composed and
streamed by the portal, built and swapped atomically, and updated incrementally part by part."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import sqlite3
import zipfile

import httpx
import pandas as pd
import pytest

from sti_portal.publish import downloads
from sti_portal.publish import portal_db as publish


def get(url, **params):
    response = httpx.get(url, params=params, timeout=60)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return response


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def composed(folder, path: str) -> bytes:
    folder = folder.resolve()
    manifest = downloads.read_manifest(folder)
    return b"".join(downloads.iter_download(folder, manifest, downloads.find_file(manifest, path)))


def every_download(folder) -> dict[str, bytes]:
    folder = folder.resolve()
    manifest = downloads.read_manifest(folder)
    return {item["path"]: b"".join(downloads.iter_download(folder, manifest, item)) for item in manifest["files"]}


def published_tables(sti_db) -> dict[str, int]:
    with sqlite3.connect(sti_db) as db:
        names = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'"
            )
        ]
        virtual = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'")]
        names = [n for n in names if not any(n.startswith(v + "_") for v in virtual)]
        return {name: db.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in names}


def test_every_table_indicator_and_region_is_prebuilt_in_three_formats(built_home, sti_db):
    folder = built_home / "downloads"
    assert folder.resolve().parent.name == "downloads.d"  # a version directory, switched in by a symlink
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    with sqlite3.connect(sti_db) as db:
        built_at = db.execute("SELECT value FROM build_info WHERE key = 'built_at_utc'").fetchone()[0]
        indicators = [r[0] for r in db.execute("SELECT indicator_id FROM indicators")]
        provinces = [r[0] for r in db.execute("SELECT region_code FROM regions WHERE level = 'province'")]
    assert manifest["built_at_utc"] == built_at and manifest["retrieved"] == built_at[:10]
    assert downloads.supports_incremental(folder.resolve())
    paths = {item["path"]: item for item in manifest["files"]}
    for table, rows in published_tables(sti_db).items():
        for suffix in (".csv", "-excel.csv", ".json"):
            assert f"tables/{table}{suffix}" in paths, table
        assert paths[f"tables/{table}.csv"]["rows"] == rows, table
    for indicator_id in indicators:
        assert f"indicators/{indicator_id}-excel.csv" in paths
    for code in provinces + ["100000"]:
        assert f"regions/{code}.json" in paths
    # Every part file is what the manifest says, and every download is exactly as long as announced.
    for key, part in manifest["parts"].items():
        for kind, suffix in (("csv", ".csv"), ("json", ".ndjson")):
            assert sha256(folder / (key + suffix)) == part[kind]["sha256"], key
            assert (folder / (key + suffix)).stat().st_size == part[kind]["bytes"], key
    for path, data in every_download(folder).items():
        if paths[path]["bytes"] is not None:
            assert len(data) == paths[path]["bytes"], path
    assert not (folder / "scratch").exists()


def test_big_tables_are_stored_once_as_indicator_year_parts(built_home, sti_db):
    """The parts of a table in (indicator_id, year) order are the whole table; an indicator's parts its file."""
    folder = (built_home / "downloads").resolve()
    manifest = downloads.read_manifest(folder)
    observations = manifest["partitions"]["observations"]
    assert [e[:2] for e in observations] == sorted(e[:2] for e in observations)
    assert len(observations) > 100 and all(key.startswith("parts/observations/") for *_, key in observations)
    whole = composed(folder, "tables/observations.csv")
    header = whole.split(b"\r\n", 1)[0] + b"\r\n"
    assert whole == header + b"".join((folder / (key + ".csv")).read_bytes() for *_, key in observations)
    rd = b"".join(
        (folder / (key + ".csv")).read_bytes()
        for indicator_id, _, key in observations
        if indicator_id == "rd_intensity"
    )
    assert composed(folder, "indicators/rd_intensity.csv") == header + rd
    # The same order as sti.db's published order.
    rows = list(csv.reader(io.StringIO(whole.decode("utf-8"))))[1:]
    with sqlite3.connect(sti_db) as db:
        expected = db.execute(
            "SELECT region_code, indicator_id, year FROM observations ORDER BY indicator_id, year, region_code"
        ).fetchall()
    assert [(r[0], r[4], int(r[7])) for r in rows] == expected
    # No table is stored twice: the downloads hold each big table's rows once per format.
    csv_bytes = sum(p["csv"]["bytes"] for k, p in manifest["parts"].items() if k.startswith("parts/observations/"))
    assert csv_bytes == len(whole) - len(header)


def test_full_table_csv_is_served_with_source_and_retrieval_date(portal_url, sti_db):
    response = get(f"{portal_url}/downloads/tables/observations.csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.headers["content-disposition"].startswith('attachment; filename="sti-portal_tables_observations_')
    assert response.content.count(b"\r\n") == response.content.count(b"\n")  # RFC 4180 line ends
    rows = list(csv.DictReader(io.StringIO(response.text)))
    with sqlite3.connect(sti_db) as db:
        assert len(rows) == db.execute("SELECT count(*) FROM observations").fetchone()[0]
        built = db.execute("SELECT value FROM build_info WHERE key = 'built_at_utc'").fetchone()[0][:10]
        values = dict(
            ((r, i, y), v)
            for r, i, y, v in db.execute("SELECT region_code, indicator_id, year, value FROM observations")
        )
    assert {r["retrieved"] for r in rows} == {built}
    beijing = next(
        r for r in rows if (r["region_code"], r["indicator_id"], r["year"]) == ("110000", "rd_intensity", "2023")
    )
    assert beijing["source"] == "China Statistical Yearbook on Science and Technology (中国科技统计年鉴)"
    derived = next(r for r in rows if r["indicator_id"] == "invention_patents_per_10k")
    assert derived["source"].startswith("Derived by sti-portal")
    # Every printed digit, no float noise: each value is sti.db's double to 15 significant digits (229.56437999999997,
    # the division of 万元 2295643.8 by 10,000, is written 229.56438; 46.1469749575 keeps all its digits).
    for r in rows:
        expected = values[(r["region_code"], r["indicator_id"], int(r["year"]))]
        assert (float(r["value"]) if r["value"] else None) == (
            None if expected is None else float(f"{expected:.15g}")
        ), r
        assert len(re.sub(r"\D", "", r["value"]).lstrip("0")) <= 15, r
    assert any(r["value"] == "2947.0733" for r in rows)  # Beijing's R&D spending 2023 in 亿元 (万元 29470733 / 10,000)
    indicators = list(csv.DictReader(io.StringIO(get(f"{portal_url}/downloads/tables/indicators.csv").text)))
    assert {r["source"] for r in indicators} == {"sti-portal catalogue/indicators.csv"}


def test_bom_csv_opens_in_pandas_with_the_right_header_and_chinese_text(portal_url):
    content = get(f"{portal_url}/downloads/indicators/rd_intensity-excel.csv").content
    assert content.startswith(b"\xef\xbb\xbf")
    frame = pd.read_csv(io.BytesIO(content), encoding="utf-8", dtype={"region_code": str})
    assert frame.columns[0] == "region_code"  # the BOM is not glued to the first column name
    assert list(frame.columns[-2:]) == ["source", "retrieved"]
    beijing = frame[(frame.region_code == "110000") & (frame.year == 2023)].iloc[0]
    assert beijing.region_zh == "北京" and beijing.indicator_zh == "R&D经费投入强度" and beijing.value == 6.73
    # A query with Chinese column names, through the .csvbom renderer: the Chinese header survives.
    response = get(
        f"{portal_url}/sti.csvbom",
        sql="select region_zh as 地区, value as 数值 from observations "
        "where indicator_id = 'rd_intensity' and year = 2023 and region_level = 'province' order by value desc",
    )
    frame = pd.read_csv(io.BytesIO(response.content), encoding="utf-8")
    assert list(frame.columns) == ["地区", "数值", "source", "retrieved"]
    assert frame.iloc[0]["地区"] == "北京" and frame.iloc[0]["数值"] == 6.73
    # Read without BOM handling, the BOM would be the first character: it is really there for Excel.
    assert response.content.decode("utf-8").startswith("\ufeff地区,")


def test_json_download_carries_source_licence_and_citation(portal_url, sti_db):
    body = get(f"{portal_url}/downloads/indicators/rd_intensity.json").json()
    assert body["unit"] == "%" and body["retrieved"] and body["publisher"] == "sti-portal"
    assert body["citation"].startswith("Source: China Statistical Yearbook on Science and Technology")
    assert f"retrieved {body['retrieved']}, sti-portal" in body["citation"]
    assert len(body["rows"]) == 416 and body["columns"][0] == "region_code"
    # A whole table: its parts joined into one array, rows as in sti.db (types and empty strings kept).
    response = get(f"{portal_url}/downloads/tables/observation_history.json")
    assert int(response.headers["content-length"]) == len(response.content)
    body = response.json()
    with sqlite3.connect(sti_db) as db:
        db.row_factory = sqlite3.Row
        # numbers to 15 significant digits, as the downloads write them (no float noise, every printed digit)
        expected = [
            {k: float(f"{v:.15g}") + 0.0 if isinstance(v, float) else v for k, v in dict(r).items()}
            for r in db.execute("SELECT * FROM observation_history")
        ]
    key = lambda r: (r["indicator_id"], r["year"], r["region_code"], r["release"])  # noqa: E731
    assert sorted(body["rows"], key=key) == sorted(expected, key=key)
    assert body["columns"] == list(expected[0])


def test_head_request_gets_the_headers_only(portal_url):
    response = httpx.head(f"{portal_url}/downloads/tables/observations.json", timeout=30)
    assert response.status_code == 200 and response.content == b""
    assert int(response.headers["content-length"]) > 100_000


def test_bulk_zip_has_tidy_csvs_a_valid_datapackage_and_a_readme(portal_url, tmp_path):
    frictionless = pytest.importorskip("frictionless")
    response = get(f"{portal_url}/downloads/sti-portal-data.zip")
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None  # every member's CRC
    names = archive.namelist()
    assert "sti-portal-data/datapackage.json" in names and "sti-portal-data/README.md" in names
    assert "sti-portal-data/data/observations.csv" in names and "sti-portal-data/by_indicator/rd_intensity.csv" in names
    # The same data give the same bytes (fixed timestamps), and the members are the CSV downloads.
    assert get(f"{portal_url}/downloads/sti-portal-data.zip").content == response.content
    assert archive.read("sti-portal-data/data/regions.csv") == get(f"{portal_url}/downloads/tables/regions.csv").content
    archive.extractall(tmp_path)
    root = tmp_path / "sti-portal-data"
    report = frictionless.validate(str(root / "datapackage.json"))
    assert report.valid, report.flatten(["type", "message"])[:10]
    package = json.loads((root / "datapackage.json").read_text(encoding="utf-8"))
    resources = {r["path"]: r for r in package["resources"]}
    for path, resource in resources.items():
        assert resource["bytes"] == (root / path).stat().st_size, path
    value = next(f for f in resources["by_indicator/rd_intensity.csv"]["schema"]["fields"] if f["name"] == "value")
    assert value["unit"] == "%" and "%" in value["description"]
    money = next(f for f in resources["by_indicator/rd_expenditure.csv"]["schema"]["fields"] if f["name"] == "value")
    assert money["unit"] == "亿元"
    assert any("China Statistical Yearbook on Science and Technology" in s["title"] for s in package["sources"])
    assert resources["data/observations.csv"]["schema"]["primaryKey"] == ["region_code", "indicator_id", "year"]
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "## How to cite" in readme and "retrieved" in readme and "sti-portal" in readme
    assert "`rd_intensity`" in readme and "| % (percent of GDP) |" in readme


def test_download_route_refuses_anything_outside_the_downloads(portal_url):
    for path in [
        "/downloads/manifest.jsonx",
        "/downloads/tables/..%2F..%2Fsti.db",
        "/downloads/%2e%2e/sti.db",
        "/downloads/tables/observations.csv/x",
        "/downloads/.hidden",
        "/downloads/manifest.json",
        "/downloads/parts/tables/indicators.csv",
        "/downloads/package/README.md",
    ]:
        assert httpx.get(f"{portal_url}{path}", timeout=30, follow_redirects=True).status_code == 404, path


def test_downloads_from_sti_db_are_those_publish_writes(built_home, sti_db, tmp_path):
    """publish writes from its staged DuckDB tables; prepare() can read sti.db itself: same bytes."""
    again = downloads.prepare(sti_db, tmp_path)
    assert every_download(again) == every_download(built_home / "downloads")


def _modify(db_path, built_at: str) -> tuple[set, set]:
    """Change a value, drop a partition and add one in the three big tables; return (partitions, regions)."""
    regions: set = set()
    with sqlite3.connect(db_path) as db:
        for table, value in (("observations", "value"), ("observation_history", "value"), ("revisions", "new_value")):
            columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            for year in (2020, 2010, 2030):
                regions |= {
                    r[0]
                    for r in db.execute(
                        f"SELECT region_code FROM {table} WHERE year = ? AND "
                        "indicator_id IN ('rd_intensity', 'population')",
                        (year,),
                    )
                }
            db.execute(
                f"UPDATE {table} SET {value} = 1.5 WHERE indicator_id = 'rd_intensity' AND year = 2020 "
                "AND region_code = '110000'"
            )
            db.execute(f"DELETE FROM {table} WHERE indicator_id = 'population' AND year = 2010")
            db.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT "
                f"{', '.join('2030' if c == 'year' else c for c in columns)} FROM {table} "
                "WHERE indicator_id = 'rd_intensity' AND year = 2023"
            )
            regions |= {r[0] for r in db.execute(f"SELECT region_code FROM {table} WHERE year = 2030")}
        db.execute("UPDATE build_info SET value = ? WHERE key = 'built_at_utc'", (built_at,))
    return {("rd_intensity", 2020), ("population", 2010), ("rd_intensity", 2030)}, regions


def test_incremental_prepare_gives_the_bytes_of_a_full_prepare(sti_db, tmp_path):
    """prepare_incremental writes the touched partitions, links the rest and serves what a rebuild serves,
    also when the retrieval date changed (hard-linked parts keep theirs on disk) and a quoted field holds
    text that looks like the end of a record."""
    first = tmp_path / "first.db"
    shutil.copyfile(sti_db, first)
    with sqlite3.connect(first) as db:
        built = db.execute("SELECT value FROM build_info WHERE key = 'built_at_utc'").fetchone()[0]
        tricky = f'quoted,"{built[:10]}"\r\nnext line'
        db.execute(
            "UPDATE observations SET note = ? WHERE indicator_id = 'patent_grants' AND year = 2015 "
            "AND region_code = '440000'",
            (tricky,),
        )
    previous = downloads.prepare(first, tmp_path / "home-first")
    second = tmp_path / "second.db"
    shutil.copyfile(first, second)
    touched, regions = _modify(second, "2031-05-06T07:08:09Z")

    appended = downloads.prepare_incremental(
        second, tmp_path / "home-appended", previous=previous, partitions=touched, regions=regions
    )
    rebuilt = downloads.prepare(second, tmp_path / "home-rebuilt")
    new, full = every_download(appended), every_download(rebuilt)
    assert new.keys() == full.keys()
    assert [path for path in full if new[path] != full[path]] == []

    manifest = downloads.read_manifest(appended)
    assert manifest["files"] == downloads.read_manifest(rebuilt)["files"]  # same parts, heads, sizes, rows
    assert manifest["retrieved"] == "2031-05-06"
    assert {("rd_intensity", 2030)} <= {tuple(e[:2]) for e in manifest["partitions"]["observations"]}
    assert ("population", 2010) not in {tuple(e[:2]) for e in manifest["partitions"]["observations"]}
    linked = [key for key, part in manifest["parts"].items() if part["retrieved"] != "2031-05-06"]
    assert len(linked) > 10 * len(touched)
    for key in linked:
        for suffix in (".csv", ".ndjson"):
            assert (appended / (key + suffix)).stat().st_ino == (previous / (key + suffix)).stat().st_ino, key
    rows = list(csv.DictReader(io.StringIO(new["tables/observations.csv"].decode("utf-8"))))
    assert {r["retrieved"] for r in rows} == {"2031-05-06"}
    assert (
        next(
            r for r in rows if (r["indicator_id"], r["year"], r["region_code"]) == ("patent_grants", "2015", "440000")
        )["note"]
        == tricky
    )
    assert (
        next(r for r in rows if (r["indicator_id"], r["year"], r["region_code"]) == ("rd_intensity", "2020", "110000"))[
            "value"
        ]
        == "1.5"
    )


def test_record_ends_split_between_reads_are_handled(built_home, sti_db, tmp_path, monkeypatch):
    """Cutting a table's file into parts and rewriting the date of a stale part both look for record
    ends: with tiny reads, most of them straddle two reads."""
    published = every_download(built_home / "downloads")
    monkeypatch.setattr(downloads.layout, "CHUNK", 4099)
    small_reads = downloads.prepare(sti_db, tmp_path)
    assert every_download(small_reads) == published
    manifest = downloads.read_manifest(small_reads)
    stale = {**manifest, "retrieved": "2099-12-31"}  # every part is now older than the version
    entry = downloads.find_file(stale, "tables/observation_history.csv")
    data = b"".join(downloads.iter_download(small_reads, stale, entry))
    expected = published["tables/observation_history.csv"].replace(
        f',"{manifest["retrieved"]}"\r\n'.encode(), b',"2099-12-31"\r\n'
    )
    assert data == expected and data.count(b',"2099-12-31"\r\n') == entry["rows"]


def test_incremental_prepare_refuses_undeclared_changes(sti_db, tmp_path):
    first = tmp_path / "first.db"
    shutil.copyfile(sti_db, first)
    previous = downloads.prepare(first, tmp_path / "home-first")
    second = tmp_path / "second.db"
    shutil.copyfile(first, second)
    touched, regions = _modify(second, "2031-05-06T07:08:09Z")
    with pytest.raises(ValueError, match="not declared"):
        downloads.prepare_incremental(
            second,
            tmp_path / "home-second",
            previous=previous,
            partitions=touched - {("rd_intensity", 2030)},
            regions=regions,
        )
    assert not list((tmp_path / "home-second" / "downloads.d").iterdir())


def test_publish_swaps_the_downloads_with_the_database_and_keeps_them_on_failure(built_home, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    portal_db = home / "sti.db"
    publish.publish(built_home / "warehouse.duckdb", portal_db)
    first = (home / "downloads").resolve()
    assert (first / "manifest.json").exists()
    publish.publish(built_home / "warehouse.duckdb", portal_db)
    second = (home / "downloads").resolve()
    assert second != first and first.exists()  # the previous version stays for a download under way
    publish.publish(built_home / "warehouse.duckdb", portal_db)
    third = (home / "downloads").resolve()
    assert not first.exists() and second.exists() and third.exists()
    with sqlite3.connect(portal_db) as db:  # no VACUUM: the full-text index maps to the documents' rowids
        found = db.execute(
            "SELECT ifnull(d.title, '') || ifnull(d.issuer, '') || ifnull(d.region, '') || d.text FROM policy_documents_fts f "
            "JOIN policy_documents d ON d.rowid = f.rowid WHERE policy_documents_fts MATCH '科技创新'"
        ).fetchall()
        # every hit holds the phrase in one of the indexed columns (a wrong rowid mapping would not)
        assert found and all("科技创新" in text for (text,) in found)

    before = sha256(portal_db)

    def broken(rows, out_dir):
        out_dir.mkdir(parents=True)
        (out_dir / "half-written.csv").write_text("region_code\n")
        raise RuntimeError("disk full")

    monkeypatch.setattr(downloads, "build_full", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        publish.publish(built_home / "warehouse.duckdb", portal_db)
    assert sha256(portal_db) == before
    assert (home / "downloads").resolve() == third
    assert sorted(p.name for p in (home / "downloads.d").iterdir()) == sorted([second.name, third.name])
    assert not (home / "sti.db.tmp").exists()
    assert not list(home.glob(".downloads.*"))
