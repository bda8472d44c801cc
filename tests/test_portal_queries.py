"""Every stored (canned) query for journalists, over real HTTP with real parameters, with checked results.

The R&D intensity ranking is also checked against the original yearbook cells, read here with the
independent xlrd reader of test_published_values (not the pipeline's adapter).
"""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest
import yaml
from test_published_values import REPO_ROOT, to_number, xls_cell

QUERIES = [
    "ranking",
    "change_between_years",
    "region_profile",
    "first_release_vs_latest",
    "above_national_average",
    "region_targets",
    "search_policy_documents",
]


def rows(portal_url: str, query: str, **params) -> list[dict]:
    response = httpx.get(f"{portal_url}/sti/{query}.json", params={**params, "_shape": "array"}, timeout=30)
    assert response.status_code == 200, (query, params, response.text[:500])
    return response.json()


def by_region(result: list[dict]) -> dict[str, dict]:
    return {row["region_code"]: row for row in result}


def test_every_query_has_a_plain_language_title_and_description(portal_url):
    metadata = yaml.safe_load((REPO_ROOT / "portal" / "metadata.yml").read_text(encoding="utf-8"))
    queries = metadata["databases"]["sti"]["queries"]
    assert list(queries) == QUERIES
    for name, query in queries.items():
        assert re.search(r"[\u4e00-\u9fff]", query["title"]) and re.search(r"[A-Za-z]{4}", query["title"]), name
        assert len(query["description"]) > 80, name
        assert set(query["params"]) == set(re.findall(r":(\w+)", query["sql"])), name
    page = httpx.get(f"{portal_url}/sti/ranking", params={"indicator": "rd_intensity", "year": "2023"}, timeout=30).text
    assert "Ranking of the provinces for an indicator and year" in page and "equal values share a rank" in page


def test_ranking_rd_intensity_2023_matches_the_yearbook(portal_url):
    result = rows(portal_url, "ranking", indicator="rd_intensity", year="2023")
    assert len(result) == 31
    assert [(r["rank"], r["region_en"], r["value"]) for r in result[:3]] == [
        (1, "Beijing", 6.73),
        (2, "Shanghai", 4.34),
        (3, "Tianjin", 3.58),
    ]
    assert result[0]["region_zh"] == "北京" and result[0]["unit"] == "%"
    assert result[-1]["region_en"] == "Xizang" and result[-1]["rank"] == 31
    # The value of each of the top three is the number printed in the 2024 edition's table 1-8.
    for row in result[:3]:
        path, _, where = row["source_ref"].partition("#")
        sheet, _, cell = where.partition("!")
        assert path.endswith("rd_intensity_by_region__2023.xls")
        raw = xls_cell({"file": path, "sheet": sheet, "cell": cell}).value
        assert to_number(raw, row["source_ref"]) == pytest.approx(row["value"]), row


def test_ranking_shares_ranks_for_equal_values_and_ranks_countries_for_world_bank(portal_url):
    result = rows(portal_url, "ranking", indicator="hightech_enterprises_certified", year="2020")
    assert len(result) == 31
    tied = [r for r in result if r["value"] == 2989.0]
    assert [r["rank"] for r in tied] == [15, 15]  # Tianjin and Fujian
    assert result[16]["rank"] == 17
    world = rows(portal_url, "ranking", indicator="rd_intensity_wdi", year="2022")
    assert len(world) > 50 and {r["region_code"] for r in world} >= {"CHN", "USA", "ISR"}
    assert "WLD" not in {r["region_code"] for r in world}


def test_change_between_years(portal_url):
    result = rows(portal_url, "change_between_years", indicator="rd_intensity", from_year="2013", to_year="2023")
    assert len(result) == 32  # national + 31 provinces
    assert result[0]["region_code"] == "100000"
    national = result[0]
    assert (national["from_value"], national["to_value"]) == (2.0, 2.65)
    assert national["change"] == pytest.approx(0.65) and national["change_percent"] == 32.5
    provinces = result[1:]
    assert [r["rank_by_change"] for r in provinces[:3]] == [1, 2, 3]
    assert provinces[0]["region_en"] == "Guangdong" and provinces[0]["change"] == pytest.approx(3.54 - 2.31)
    beijing = by_region(result)["110000"]
    assert (beijing["from_value"], beijing["to_value"]) == (5.61, 6.73)


def test_region_profile(portal_url):
    result = rows(portal_url, "region_profile", region="110000")
    profile = {r["indicator_id"]: r for r in result}
    assert len(profile) >= 22
    intensity = profile["rd_intensity"]
    assert intensity["year"] == 2023 and intensity["value"] == 6.73
    assert intensity["national_rank"] == 1 and intensity["provinces_ranked"] == 31
    assert intensity["national_value"] == 2.65
    assert intensity["difference_from_national"] == pytest.approx(4.08)
    spending = profile["rd_expenditure"]
    assert spending["national_value"] == 33357.0688 and spending["difference_from_national"] is None
    assert spending["percent_of_national"] == pytest.approx(round(100 * spending["value"] / 33357.0688, 2))
    certified = profile["hightech_enterprises_certified"]
    assert certified["year"] == 2024 and certified["national_value"] is None  # no national row in that source
    national = by_region(rows(portal_url, "region_profile", region="100000"))
    assert national and all(r["national_rank"] is None for r in rows(portal_url, "region_profile", region="100000"))


def test_first_release_vs_latest(portal_url):
    national = rows(portal_url, "first_release_vs_latest", indicator="rd_intensity", region="100000")
    by_year = {r["year"]: r for r in national}
    # 2012: the NBS bulletin said 1.98 %; the yearbooks now say 1.91 % (a documented revision).
    first_2012 = by_year[2012]
    assert first_2012["first_release"] == "nbs_rd_bulletin_2012" and first_2012["first_value"] == 1.98
    assert first_2012["latest_value"] == 1.91 and first_2012["revision"] == pytest.approx(-0.07)
    assert first_2012["latest_release"].startswith("cn_sti_yearbook_")
    # Beijing 2018: first published as 6.17 in the 2019 edition, later revised to 5.65.
    beijing = {
        r["year"]: r for r in rows(portal_url, "first_release_vs_latest", indicator="rd_intensity", region="110000")
    }
    assert beijing[2018]["first_value"] == 6.17 and beijing[2018]["latest_value"] == 5.65
    everything = rows(portal_url, "first_release_vs_latest", indicator="rd_intensity", region="")
    assert len(everything) > len(national)
    assert all(round(r["first_value"], 2) != round(r["latest_value"], 2) for r in everything)


def test_above_national_average(portal_url):
    result = rows(portal_url, "above_national_average", indicator="rd_intensity", year="2023")
    assert [r["region_en"] for r in result] == [
        "Beijing",
        "Shanghai",
        "Tianjin",
        "Guangdong",
        "Jiangsu",
        "Zhejiang",
        "Anhui",
    ]
    assert {r["national_average"] for r in result} == {2.65}
    assert result[0]["benchmark_basis"].startswith("national figure")
    assert result[-1]["value"] == 2.69
    grants = rows(portal_url, "above_national_average", indicator="patent_grants", year="2023")
    assert grants[0]["region_en"] == "Guangdong" and grants[0]["benchmark_basis"].startswith("average of the provinces")
    ranking = rows(portal_url, "ranking", indicator="patent_grants", year="2023")
    mean = sum(r["value"] for r in ranking) / len(ranking)
    assert grants[0]["national_average"] == pytest.approx(mean)
    assert [r["region_code"] for r in grants] == [r["region_code"] for r in ranking if r["value"] > mean]


@pytest.mark.parametrize(
    "query,params",
    [
        ("ranking", {"indicator": "rd_intensity", "year": "2023"}),
        ("change_between_years", {"indicator": "patent_grants", "from_year": "2015", "to_year": "2023"}),
        ("region_profile", {"region": "440000"}),
        ("first_release_vs_latest", {"indicator": "rd_expenditure", "region": "100000"}),
        ("above_national_average", {"indicator": "rd_intensity", "year": "2023"}),
    ],
)
def test_every_query_downloads_as_csv_bom_and_cited_json(portal_url, query, params):
    plain = httpx.get(f"{portal_url}/sti/{query}.csv", params={**params, "_size": "max"}, timeout=30)
    bom = httpx.get(f"{portal_url}/sti/{query}.csvbom", params={**params, "_size": "max"}, timeout=30)
    cited_csv = httpx.get(f"{portal_url}/sti/{query}.csvcite", params={**params, "_size": "max"}, timeout=30)
    cited = httpx.get(f"{portal_url}/sti/{query}.jsoncite", params=params, timeout=30)
    assert plain.status_code == bom.status_code == cited_csv.status_code == cited.status_code == 200
    assert bom.content.startswith(b"\xef\xbb\xbf") and not cited_csv.content.startswith(b"\xef\xbb\xbf")
    assert bom.content[3:] == cited_csv.content
    assert "attachment" in bom.headers["content-disposition"] and bom.headers["content-type"].startswith("text/csv")
    header = bom.content.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[-2:] == ["source", "retrieved"]
    assert header[:-2] == plain.text.splitlines()[0].split(",")
    body = cited.json()
    assert body["source"] and body["retrieved"] and body["citation"].startswith("Source: ")
    assert "sti-portal" in body["citation"] and body["rows"] and body["truncated"] is False
    assert len(body["rows"]) == len(list(csv.reader(io.StringIO(plain.text)))) - 1
