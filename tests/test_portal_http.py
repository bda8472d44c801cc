"""Datasette serving sti.db over real HTTP on loopback."""

import csv
import io

import httpx


def get(url, **params):
    response = httpx.get(url, params=params, timeout=30)
    assert response.status_code == 200, (url, response.status_code, response.text[:500])
    return response


def test_observations_json_filtered_by_indicator_and_year(portal_url):
    rows = get(
        f"{portal_url}/sti/observations.json",
        indicator_id="rd_intensity",
        year="2023",
        region_level="province",
        _shape="array",
        _sort_desc="value",
        _size="max",
    ).json()
    assert len(rows) == 31
    top = [(row["region_en"], row["value"]) for row in rows[:3]]
    assert top == [("Beijing", 6.73), ("Shanghai", 4.34), ("Tianjin", 3.58)]
    assert rows[0]["unit"] == "%" and rows[0]["region_zh"] == "北京"
    assert rows[0]["source_ref"].endswith("rd_intensity_by_region__2023.xls#1!N7")


def test_observations_csv_filtered(portal_url):
    response = get(
        f"{portal_url}/sti/observations.csv",
        indicator_id="rd_expenditure",
        year="2023",
        region_code="100000",
        _size="max",
    )
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


# --------------------------------------------------------------------------- the response cache (sti_site.py)


def test_pages_and_json_are_served_again_from_the_response_cache(portal_url):
    for path in [
        "/indicator/patent_grants?year=2019",
        "/sti/observations.json?indicator_id=patent_grants&year=2019",
        "/sti/ranking.csv?indicator=patent_grants&year=2019",
    ]:
        first = httpx.get(f"{portal_url}{path}", timeout=30)
        again = httpx.get(f"{portal_url}{path}", timeout=30)
        assert first.status_code == again.status_code == 200, path
        assert first.headers["x-sti-cache"] in ("miss", "hit") and again.headers["x-sti-cache"] == "hit", path
        assert again.content == first.content and again.headers["content-type"] == first.headers["content-type"]
        assert "default-src 'self'" in again.headers["content-security-policy"]  # security headers on hits too


def test_errors_downloads_introspection_and_sql_are_never_cached(portal_url):
    for _ in range(2):
        missing = httpx.get(f"{portal_url}/indicator/no_such_indicator", timeout=30)
        assert missing.status_code == 404 and missing.headers.get("x-sti-cache") != "hit"
        sql = httpx.get(f"{portal_url}/sti.json", params={"sql": "select random() as r"}, timeout=30)
        assert sql.status_code == 200 and "x-sti-cache" not in sql.headers
        assert "x-sti-cache" not in httpx.get(f"{portal_url}/-/versions.json", timeout=30).headers
        download = httpx.get(f"{portal_url}/downloads/indicators/rd_intensity.csv", timeout=30)
        assert download.status_code == 200 and "x-sti-cache" not in download.headers
    posted = httpx.post(f"{portal_url}/indicator/rd_intensity", timeout=30)
    assert posted.status_code == 405 and "x-sti-cache" not in posted.headers


def _plugin_module():
    import importlib.util

    from conftest import REPO_ROOT

    spec = importlib.util.spec_from_file_location(
        "sti_site_for_tests", REPO_ROOT / "portal" / "plugins" / "sti_site.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_response_cache_is_bounded_in_bytes_and_entries_and_expires_partial_pages():
    site = _plugin_module()
    cache = site.ResponseCache(max_bytes=10_000, max_entries=3, max_entry_bytes=4_000)
    cache.use_generation(("publication-a", "2026-01-01"))

    def entry(n, expires=None):
        return site.CachedResponse(200, [(b"content-type", b"text/html")], b"x" * n, expires)

    cache.put("too-big", entry(5_000))
    assert cache.get("too-big") is None and cache.bytes == 0
    for key in "abcd":
        cache.put(key, entry(1_000))
    assert list(cache.entries) == ["b", "c", "d"] and cache.get("a") is None  # at most 3 entries, LRU
    cache.get("b")  # b is now the most recently used
    cache.put("e", entry(3_500))
    cache.put("f", entry(3_500))
    assert list(cache.entries) == ["b", "e", "f"] and cache.bytes <= 10_000
    cache.put("partial", entry(10, expires=0.0))  # a page whose facets timed out, already expired
    assert cache.get("partial") is None
    cache.use_generation(("publication-b", "2026-01-01"))  # a new publication empties it
    assert not cache.entries and cache.bytes == 0


def test_row_counts_and_cached_pages_follow_a_switch_to_a_new_publication(built_home, tmp_path):
    """Table row counts are counted per publication (Datasette's inspect data) and the response cache is
    emptied: after a switch to a sti.db with fewer rows, the count and the pages are the new file's."""
    import sqlite3

    from conftest import serving
    from test_portal_switch import make_generation, published_home, switch

    home = tmp_path / "home"
    published_home(home, built_home)
    with serving(home) as url:

        def count():
            response = get(f"{url}/sti/observations.json", _size="0")
            return response.json()["filtered_table_rows_count"], response.headers.get("x-sti-cache")

        before, _ = count()
        assert count() == (before, "hit")
        second = make_generation(home, "gen-b", built_home)
        with sqlite3.connect(second / "sti.db") as db:
            removed = db.execute("DELETE FROM observations WHERE indicator_id = 'population'").rowcount
        assert removed > 0
        switch(home, second)
        after, _ = count()
        assert after == before - removed
        assert "population" not in get(f"{url}/sti/observations.json", _facet="indicator_id", _size="0").text
