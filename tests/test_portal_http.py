"""Datasette serving sti.db over real HTTP on loopback."""
import csv
import io

import httpx


def get(url, **params):
    response = httpx.get(url, params=params, timeout=30)
    assert response.status_code == 200, (url, response.status_code, response.text[:500])
    return response


def test_observations_json_filtered_by_indicator_and_year(portal_url):
    rows = get(f"{portal_url}/sti/observations.json", indicator_id="rd_intensity", year="2023",
               region_level="province", _shape="array", _sort_desc="value", _size="max").json()
    assert len(rows) == 31
    top = [(row["region_en"], row["value"]) for row in rows[:3]]
    assert top == [("Beijing", 6.73), ("Shanghai", 4.34), ("Tianjin", 3.58)]
    assert rows[0]["unit"] == "%" and rows[0]["region_zh"] == "北京"
    assert rows[0]["source_ref"].endswith("rd_intensity_by_region__2023.xls#1!N7")


def test_observations_csv_filtered(portal_url):
    response = get(f"{portal_url}/sti/observations.csv", indicator_id="rd_expenditure", year="2023",
                   region_code="100000", _size="max")
    assert response.headers["content-type"].startswith("text/plain") or "csv" in response.headers["content-type"]
    records = list(csv.DictReader(io.StringIO(response.text)))
    assert len(records) == 1
    assert records[0]["region_zh"] == "全国" and records[0]["unit"] == "亿元"
    assert float(records[0]["value"]) == 33357.0688


def test_metadata_shows_source_and_license_on_tables(portal_url):
    metadata = get(f"{portal_url}/-/metadata.json").json()
    table = metadata["databases"]["sti"]["tables"]["observations"]
    assert table["source"] and table["license"]
    assert "unit" in table["columns"]["value"]
    page = get(f"{portal_url}/sti/observations").text
    assert "China Statistical Yearbook on Science and Technology" in page
    assert "Official statistics" in page


def test_database_is_immutable_and_refuses_writes(portal_url):
    databases = get(f"{portal_url}/-/databases.json").json()
    assert databases[0]["name"] == "sti" and databases[0]["is_mutable"] is False
    response = httpx.get(f"{portal_url}/sti.json", params={"sql": "DELETE FROM observations"}, timeout=30)
    assert response.status_code == 400
    assert get(f"{portal_url}/sti/observations.json", _size="0").json()["filtered_table_rows_count"] > 10000


def test_sql_time_limit_and_row_limit_are_set(portal_url):
    settings = get(f"{portal_url}/-/settings.json").json()
    assert settings["sql_time_limit_ms"] <= 1000
    assert settings["max_returned_rows"] <= 1000
