"""The bulletin-page and industrial-enterprise adapters on the real snapshots, and their errors on broken copies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from sources import bulletin_pages, bulletins, yearbook_industrial_enterprises
from sources.common import SNAPSHOT_DIR, SourceFormatError


def test_pages_and_transcription_cover_every_province_and_year():
    frame = bulletin_pages.extract()
    kept, copies = bulletin_pages.merge_transcriptions(pd.concat([frame, bulletins.extract()], ignore_index=True))
    ours = kept[kept["source_id"] == "nbs_rd_bulletin"]
    provinces = ours[
        (ours["region_label"] != "全国")
        & ours["indicator_id"].isin(["rd_expenditure", "rd_intensity"])
        & ours["release"].str.fullmatch(r"nbs_rd_bulletin_\d{4}")
    ]
    counts = provinces.groupby(["indicator_id", "year"])["region_label"].nunique()
    assert set(counts.index.get_level_values("year")) == set(range(2011, 2024)) and set(counts) == {31}
    dated = ours[ours["year"] >= 2018].groupby("year")["vintage"].unique()
    assert {y: list(v) for y, v in dated.items()}[2023] == ["2024-10-02"]
    # the 2018 transcription holds the 2019 figures: every differing copy says so; 2019-2023 agree
    mislabelled = copies[copies["source_ref"].str.contains("techme_bulletin_table_2018")]
    assert mislabelled["drop_reason"].str.contains("DIFFERS").sum() == 62
    assert mislabelled["drop_reason"].str.contains("2019 bulletin's figure").sum() == 62
    later = copies[copies["source_ref"].str.contains(r"techme_bulletin_table_20(?:19|2\d)", regex=True)]
    assert len(later) == 320 and later["drop_reason"].str.contains("agrees").all()


def _copy_bulletins(tmp_path: Path) -> Path:
    shutil.copytree(SNAPSHOT_DIR / "cn_rd_bulletins", tmp_path / "cn_rd_bulletins")
    return tmp_path


def test_a_page_without_table_1_is_a_clear_error(tmp_path):
    snapshots = _copy_bulletins(tmp_path)
    page = snapshots / "cn_rd_bulletins" / "nbs_rd_bulletin_2021.html"
    page.write_text(page.read_text(encoding="utf-8").replace("投入强度", "投入比例"), encoding="utf-8")
    with pytest.raises(
        SourceFormatError, match=r"nbs_rd_bulletin_2021\.html: no table with a header row holding '地区'"
    ):
        bulletin_pages.extract(snapshots)


def test_a_page_dated_in_the_wrong_year_is_a_clear_error(tmp_path):
    snapshots = _copy_bulletins(tmp_path)
    page = snapshots / "cn_rd_bulletins" / "nbs_rd_bulletin_2020.html"
    page.write_text(page.read_text(encoding="utf-8").replace("2021-09-22", "2019-09-22"), encoding="utf-8")
    with pytest.raises(SourceFormatError, match=r"nbs_rd_bulletin_2020\.html: expected a publication date in 2021"):
        bulletin_pages.extract(snapshots)


def test_industrial_tables_by_header_meaning():
    frame = yearbook_industrial_enterprises.extract()
    national = frame[frame["region_label"].str.replace(" ", "") == "全国"].set_index(["indicator_id", "year"])["value"]
    assert national[("industrial_enterprises_with_rd", 2023)] == 151290.0
    # the 2022 edition swaps the two count columns; the header words still find each
    assert national[("industrial_enterprises_with_rd", 2022)] == 175619.0
    assert national[("industrial_enterprises_with_rd_institution", 2022)] == 124303.0
    assert national[("industrial_enterprises_with_rd", 2019)] == 129198.0  # empty 地区 header cells
    assert national[("industrial_rd_personnel_fte", 2019)] == 3151828.0  # the HTML ".xls"
    assert ("industrial_invention_patents_in_force", 2022) not in national.index  # by-industry file skipped


def test_a_corrected_misfiled_file_is_not_silently_skipped(tmp_path):
    folder = "industrial_enterprises_patents_by_region"
    target = tmp_path / "cn_sti_yearbook_xls" / folder
    target.mkdir(parents=True)
    source = SNAPSHOT_DIR / "cn_sti_yearbook_xls" / folder
    shutil.copy(source / f"{folder}__2023.xls", target / f"{folder}__2022.xls")
    with pytest.raises(SourceFormatError, match="listed as misfiled"):
        yearbook_industrial_enterprises.misfiled_files(tmp_path)
