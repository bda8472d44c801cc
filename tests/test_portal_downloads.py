"""Pre-built downloads: every table, indicator and region as CSV / CSV with BOM / JSON, the bulk ZIP
(tidy CSVs + Frictionless datapackage.json + README), served as files, built and swapped atomically."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import zipfile

import httpx
import pandas as pd
import pytest

from sti_portal import downloads, publish


def get(url, **params):
    response = httpx.get(url, params=params, timeout=60)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return response


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def published_tables(sti_db) -> dict[str, int]:
    with sqlite3.connect(sti_db) as db:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                                           "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'")]
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
    paths = {item["path"]: item for item in manifest["files"]}
    for table, rows in published_tables(sti_db).items():
        for suffix in (".csv", "-excel.csv", ".json"):
            assert f"tables/{table}{suffix}" in paths, table
        assert paths[f"tables/{table}.csv"]["rows"] == rows, table
    for indicator_id in indicators:
        assert f"indicators/{indicator_id}-excel.csv" in paths
    for code in provinces + ["100000"]:
        assert f"regions/{code}.json" in paths
    for item in manifest["files"]:
        assert sha256(folder / item["path"]) == item["sha256"], item["path"]


def test_full_table_csv_is_served_as_a_file_with_source_and_retrieval_date(portal_url, sti_db):
    response = get(f"{portal_url}/downloads/tables/observations.csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.headers["content-disposition"].startswith('attachment; filename="sti-portal_tables_observations_')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    with sqlite3.connect(sti_db) as db:
        assert len(rows) == db.execute("SELECT count(*) FROM observations").fetchone()[0]
        built = db.execute("SELECT value FROM build_info WHERE key = 'built_at_utc'").fetchone()[0][:10]
    assert {r["retrieved"] for r in rows} == {built}
    beijing = next(r for r in rows if (r["region_code"], r["indicator_id"], r["year"]) == ("110000", "rd_intensity", "2023"))
    assert beijing["source"] == "China Statistical Yearbook on Science and Technology (中国科技统计年鉴)"
    derived = next(r for r in rows if r["indicator_id"] == "invention_patents_per_10k")
    assert derived["source"].startswith("Derived by sti-portal")
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
    response = get(f"{portal_url}/sti.csvbom", sql="select region_zh as 地区, value as 数值 from observations "
                   "where indicator_id = 'rd_intensity' and year = 2023 and region_level = 'province' order by value desc")
    frame = pd.read_csv(io.BytesIO(response.content), encoding="utf-8")
    assert list(frame.columns) == ["地区", "数值", "source", "retrieved"]
    assert frame.iloc[0]["地区"] == "北京" and frame.iloc[0]["数值"] == 6.73
    # Read without BOM handling, the BOM would be the first character: it is really there for Excel.
    assert response.content.decode("utf-8").startswith("\ufeff地区,")


def test_json_download_carries_source_licence_and_citation(portal_url):
    body = get(f"{portal_url}/downloads/indicators/rd_intensity.json").json()
    assert body["unit"] == "%" and body["retrieved"] and body["publisher"] == "sti-portal"
    assert body["citation"].startswith("Source: China Statistical Yearbook on Science and Technology")
    assert f"retrieved {body['retrieved']}, sti-portal" in body["citation"]
    assert len(body["rows"]) == 416 and body["columns"][0] == "region_code"


def test_bulk_zip_has_tidy_csvs_a_valid_datapackage_and_a_readme(portal_url, tmp_path):
    frictionless = pytest.importorskip("frictionless")
    response = get(f"{portal_url}/downloads/sti-portal-data.zip")
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = archive.namelist()
    assert "sti-portal-data/datapackage.json" in names and "sti-portal-data/README.md" in names
    assert "sti-portal-data/data/observations.csv" in names and "sti-portal-data/by_indicator/rd_intensity.csv" in names
    archive.extractall(tmp_path)
    root = tmp_path / "sti-portal-data"
    report = frictionless.validate(str(root / "datapackage.json"))
    assert report.valid, report.flatten(["type", "message"])[:10]
    package = json.loads((root / "datapackage.json").read_text(encoding="utf-8"))
    resources = {r["path"]: r for r in package["resources"]}
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
    for path in ["/downloads/manifest.jsonx", "/downloads/tables/..%2F..%2Fsti.db", "/downloads/%2e%2e/sti.db",
                 "/downloads/tables/observations.csv/x", "/downloads/.hidden"]:
        assert httpx.get(f"{portal_url}{path}", timeout=30, follow_redirects=True).status_code == 404, path


def test_publish_swaps_the_downloads_with_the_database_and_keeps_them_on_failure(built_home, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    portal_db = home / "sti.db"
    publish.publish(built_home / "warehouse.duckdb", portal_db)
    first = (home / "downloads").resolve()
    assert (first / "sti-portal-data.zip").exists()
    publish.publish(built_home / "warehouse.duckdb", portal_db)
    second = (home / "downloads").resolve()
    assert second != first and first.exists()  # the previous version stays for a download under way
    publish.publish(built_home / "warehouse.duckdb", portal_db)
    third = (home / "downloads").resolve()
    assert not first.exists() and second.exists() and third.exists()

    before = sha256(portal_db)

    def broken(portal_db, out_dir):
        out_dir.mkdir(parents=True)
        (out_dir / "half-written.csv").write_text("region_code\n")
        raise RuntimeError("disk full")

    monkeypatch.setattr(downloads, "build_downloads", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        publish.publish(built_home / "warehouse.duckdb", portal_db)
    assert sha256(portal_db) == before
    assert (home / "downloads").resolve() == third
    assert sorted(p.name for p in (home / "downloads.d").iterdir()) == sorted([second.name, third.name])
    assert not (home / "sti.db.tmp").exists()
    assert not list(home.glob(".downloads.*"))
