"""Yearbook (中国科技统计年鉴) table adapters, tested on the real snapshot files.

Spot values were read off the raw cells by hand; each is also re-read here from the cell its
source_ref names, with xlrd and msoffcrypto directly (not through sources.yearbook_xls).
"""

from __future__ import annotations

import io
import itertools
import math
import re
import shutil
from pathlib import Path

import msoffcrypto
import msoffcrypto.format.ooxml
import openpyxl
import pandas as pd
import pytest
import xlrd

from sources import (
    yearbook_hightech_industry,
    yearbook_incubators,
    yearbook_patents,
    yearbook_rd_expenditure,
    yearbook_rd_intensity,
    yearbook_rd_personnel,
    yearbook_tech_market,
)
from sources.common import SNAPSHOT_DIR, TIDY_COLUMNS, SourceFormatError
from sources.footnotes import footnote_scope
from sources.yearbook_xls import YEARBOOK_DIR, normalise_label, open_workbook

YEARBOOK = SNAPSHOT_DIR / YEARBOOK_DIR

ADAPTERS = {
    yearbook_rd_intensity: {"rd_intensity"},
    yearbook_rd_expenditure: {
        "rd_expenditure",
        "rd_expenditure_government",
        "rd_expenditure_enterprise",
        "rd_expenditure_basic_research",
    },
    yearbook_rd_personnel: {"rd_personnel_fte"},
    yearbook_patents: {
        "patents_in_force",
        "invention_patents_in_force",
        "patent_applications",
        "invention_patent_applications",
        "patent_grants",
        "invention_patent_grants",
    },
    yearbook_tech_market: {
        "tech_contract_turnover",
        "tech_contracts",
        "tech_contract_turnover_inflow",
        "tech_contracts_inflow",
    },
    yearbook_hightech_industry: {"hightech_industry_enterprises", "hightech_industry_revenue"},
    yearbook_incubators: {"incubators", "maker_spaces"},
}


def by_edition(first_edition: int, counts: list[int]) -> dict[int, int]:
    return dict(zip(itertools.count(first_edition), counts))


# Rows per edition, counted by hand in the raw sheets: national + macro-regions (3 before the 2013
# edition, 4 after) + 31 provinces (+ HK, Macao, Taiwan for patents; + HK/Macao/TW and Others/Abroad
# for the technology market), times the year columns of multi-year tables.
EXPECTED_ROWS = {
    "rd_intensity": {2019: 8 * 32, 2020: 8 * 32, 2021: 9 * 32, 2022: 10 * 32, 2023: 11 * 32, 2024: 12 * 32},
    "rd_expenditure": by_edition(2011, [35, 35] + [36] * 12),
    "rd_expenditure_basic_research": by_edition(2019, [36] * 6),
    "rd_personnel_fte": by_edition(2011, [35, 35] + [36] * 12),
    "patents_in_force": by_edition(2011, [38, 38] + [39] * 5 + [35] * 7),
    "patent_grants": by_edition(2011, [38, 38] + [39] * 5 + [35] * 7),
    "tech_contract_turnover": {2020: 9 * 38, 2021: 9 * 38, 2022: 10 * 38, 2023: 11 * 38, 2024: 8 * 38},
    "tech_contracts_inflow": {2020: 9 * 38, 2021: 9 * 38, 2022: 10 * 38, 2023: 11 * 38, 2024: 8 * 38},
    # No file for data year 2017 (edition 2018).
    "hightech_industry_revenue": {**by_edition(2011, [35, 35] + [36] * 5), **by_edition(2019, [36] * 6)},
    "incubators": {2023: 32, 2024: 32},
    "maker_spaces": {2023: 32, 2024: 32},
}

PROVINCES_EN = {
    "beijing",
    "tianjin",
    "hebei",
    "shanxi",
    "innermongolia",
    "liaoning",
    "jilin",
    "heilongjiang",
    "shanghai",
    "jiangsu",
    "zhejiang",
    "anhui",
    "fujian",
    "jiangxi",
    "shandong",
    "henan",
    "hubei",
    "hunan",
    "guangdong",
    "guangxi",
    "hainan",
    "chongqing",
    "sichuan",
    "guizhou",
    "yunnan",
    "tibet",
    "shaanxi",
    "gansu",
    "qinghai",
    "ningxia",
    "xinjiang",
}
# Misprints of English labels found in the raw files.
EN_ALIASES = {
    "hbei": "hebei",
    "hcbci": "hebei",
    "hcnan": "henan",
    "jiangu": "jiangsu",
    "shanahai": "shanghai",
    "xizang": "tibet",
    "nationaltota1": "nationaltotal",
}

# (indicator, edition, year, English region label, value as printed)
SPOT_VALUES = [
    ("rd_intensity", 2024, 2023, "Beijing", 6.73),
    ("rd_intensity", 2019, 2018, "Beijing", 6.17),
    ("rd_intensity", 2020, 2018, "Beijing", 5.65),
    ("rd_intensity", 2021, 2012, "Xinjiang", 0.5360205239461779),
    ("rd_expenditure", 2024, 2023, "National Total", 333570688),
    ("rd_expenditure", 2011, 2010, "National Total", 70625774.5),
    ("rd_expenditure", 2014, 2013, "Beijing", 11850469),
    ("rd_expenditure_government", 2024, 2023, "National Total", 56933876),
    ("rd_expenditure_enterprise", 2024, 2023, "National Total", 264436960),
    ("rd_expenditure_basic_research", 2024, 2023, "National Total", 22591176),
    ("rd_expenditure_basic_research", 2021, 2020, "National Total", 14669963.9),
    ("rd_personnel_fte", 2024, 2023, "National Total", 7240582),
    ("rd_personnel_fte", 2011, 2010, "National Total", 2553828.8),
    ("patents_in_force", 2024, 2023, "National Total", 19279828),
    ("invention_patents_in_force", 2024, 2023, "National Total", 4088695),
    ("patents_in_force", 2011, 2010, "National Total", 1825403),
    ("patent_applications", 2021, 2020, "National Total", 5016030),
    ("invention_patent_applications", 2021, 2020, "National Total", 1344817),
    ("patent_grants", 2024, 2023, "National Total", 3532282),
    ("invention_patent_grants", 2024, 2023, "National Total", 819234),
    ("tech_contract_turnover", 2024, 2023, "National Total", 614756578),
    ("tech_contract_turnover", 2023, 2021, "Eastern Region", 203420567),
    ("tech_contract_turnover", 2024, 2021, "Eastern Region", 228198462),
    ("tech_contracts", 2024, 2023, "National Total", 945946),
    ("tech_contract_turnover_inflow", 2024, 2023, "Beijing", 50247266),
    ("tech_contracts_inflow", 2024, 2023, "Beijing", 81054),
    ("hightech_industry_enterprises", 2024, 2023, "National Total", 52878),
    ("hightech_industry_revenue", 2024, 2023, "National Total", 224693),
    ("hightech_industry_revenue", 2011, 2010, "National Total", 74482.8),
    ("hightech_industry_revenue", 2021, 2020, "National Total", 174613.10298),
    ("incubators", 2024, 2023, "National Total", 7015),
    ("maker_spaces", 2023, 2022, "National Total", 9409),
]


@pytest.fixture(scope="module")
def frames():
    return {adapter: adapter.extract() for adapter in ADAPTERS}


@pytest.fixture(scope="module")
def tidy(frames):
    return pd.concat(frames.values(), ignore_index=True)


# --------------------------------------------------------------------------------------------
# Independent access to the raw files


def raw_book(path: Path) -> xlrd.Book:
    content = path.read_bytes()
    office_file = msoffcrypto.OfficeFile(io.BytesIO(content))
    if office_file.is_encrypted():
        office_file.load_key(password="VelvetSweatshop")
        decrypted = io.BytesIO()
        office_file.decrypt(decrypted)
        content = decrypted.getvalue()
    return xlrd.open_workbook(file_contents=content)


def raw_cell(source_ref: str):
    relpath, cell = source_ref.split("#", 1)
    sheet_name, a1 = cell.rsplit("!", 1)
    letters, digits = re.fullmatch(r"([A-Z]+)(\d+)", a1).groups()
    col = 0
    for letter in letters:
        col = col * 26 + ord(letter) - 64
    return raw_book(SNAPSHOT_DIR / relpath).sheet_by_name(sheet_name).cell_value(int(digits) - 1, col - 1)


def canonical_en(label: str) -> str:
    key = re.sub(r"[^a-z0-9]", "", label.lower())
    return EN_ALIASES.get(key, key)


def write_xlsx_copy(source: Path, target: Path, edit=None) -> None:
    """Re-save a real table as .xlsx cell by cell (same positions), with its provenance sidecar."""
    out = openpyxl.Workbook()
    out.remove(out.active)
    for sheet in raw_book(source).sheets():
        ws = out.create_sheet(sheet.name)
        for row in range(sheet.nrows):
            for col in range(sheet.ncols):
                value = sheet.cell_value(row, col)
                if value != "":
                    ws.cell(row=row + 1, column=col + 1, value=value)
    if edit is not None:
        edit(out.worksheets[0])
    target.parent.mkdir(parents=True, exist_ok=True)
    out.save(target)
    sidecar = source.with_name(source.name.rsplit(".", 1)[0] + ".source.json")
    shutil.copy(sidecar, target.with_name(target.name.rsplit(".", 1)[0] + ".source.json"))


def copy_target(tmp_path: Path, source: Path, name: str | None = None) -> Path:
    folder = source.parent.name
    return tmp_path / YEARBOOK_DIR / folder / (name or source.with_suffix(".xlsx").name)


# --------------------------------------------------------------------------------------------
# Reader helpers


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("全    国", "全国"),
        ("北\u3000京", "北京"),
        ("内 蒙 古", "内蒙古"),
        ("  National Total", "NationalTotal"),
        ("Hong Kong,\r\nMacao & Taiwan", "HongKong,Macao&Taiwan"),
        ("发 明\nInvention", "发明Invention"),
        ("\u00a0地\t区\u200b", "地区"),
        (2012.0, "2012"),
    ],
)
def test_normalise_label_removes_every_kind_of_whitespace(raw, expected):
    assert normalise_label(raw) == expected


def test_open_workbook_decrypts_and_drops_the_cnki_sheet():
    path = YEARBOOK / "rd_intensity_by_region" / "rd_intensity_by_region__2023.xls"
    assert msoffcrypto.OfficeFile(io.BytesIO(path.read_bytes())).is_encrypted()
    sheets = open_workbook(path)
    assert [sheet.name for sheet in sheets] == ["1"]
    assert normalise_label(sheets[0].value(6, 0)) == "北京"


# --------------------------------------------------------------------------------------------
# Adapter output


@pytest.mark.parametrize("adapter", list(ADAPTERS), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_adapter_honours_the_contract(frames, adapter):
    frame = frames[adapter]
    assert list(frame.columns) == TIDY_COLUMNS
    assert set(frame["indicator_id"]) == ADAPTERS[adapter]
    assert set(frame["source_id"]) == {"cn_sti_yearbook"}
    assert set(frame["release_kind"]) == {"yearbook"}
    editions = frame["release"].str.removeprefix("cn_sti_yearbook_").astype(int)
    assert (frame["vintage"] == editions.astype(str) + "-12-31").all()
    assert ((frame["obs_status"] == "m") == frame["value"].isna()).all()
    assert not frame.duplicated(["indicator_id", "release", "region_label", "region_label_en", "year"]).any()


@pytest.mark.parametrize("indicator_id", list(EXPECTED_ROWS))
def test_row_counts_per_edition(tidy, indicator_id):
    rows = tidy[tidy["indicator_id"] == indicator_id]
    counts = rows.groupby(rows["release"].str.removeprefix("cn_sti_yearbook_").astype(int)).size().to_dict()
    assert counts == EXPECTED_ROWS[indicator_id]


def test_every_edition_year_has_national_total_and_31_provinces(tidy):
    tidy = tidy.assign(region=tidy["region_label_en"].map(canonical_en))
    for (indicator_id, release, year), rows in tidy.groupby(["indicator_id", "release", "year"]):
        regions = list(rows["region"])
        provinces = [region for region in regions if region in PROVINCES_EN]
        assert sorted(provinces) == sorted(PROVINCES_EN), (indicator_id, release, year)
        assert regions.count("nationaltotal") == 1, (indicator_id, release, year)


def test_every_year_column_of_multi_year_tables_is_emitted(tidy):
    intensity_2024 = tidy[(tidy["indicator_id"] == "rd_intensity") & (tidy["release"] == "cn_sti_yearbook_2024")]
    assert sorted(set(intensity_2024["year"])) == list(range(2012, 2024))
    turnover_2024 = tidy[
        (tidy["indicator_id"] == "tech_contract_turnover") & (tidy["release"] == "cn_sti_yearbook_2024")
    ]
    assert sorted(set(turnover_2024["year"])) == [2000, 2005, 2010, 2015, 2020, 2021, 2022, 2023]
    turnover_2020 = tidy[
        (tidy["indicator_id"] == "tech_contract_turnover") & (tidy["release"] == "cn_sti_yearbook_2020")
    ]
    assert sorted(set(turnover_2020["year"])) == [2000, 2005, 2010, 2014, 2015, 2016, 2017, 2018, 2019]


@pytest.mark.parametrize("indicator_id, edition, year, region_en, expected", SPOT_VALUES)
def test_spot_value_and_its_source_cell(tidy, indicator_id, edition, year, region_en, expected):
    match = tidy[
        (tidy["indicator_id"] == indicator_id)
        & (tidy["release"] == f"cn_sti_yearbook_{edition}")
        & (tidy["year"] == year)
        & (tidy["region_label_en"] == region_en)
    ]
    assert len(match) == 1
    row = match.iloc[0]
    assert row["value"] == expected  # exact: no rounding anywhere
    assert float(str(raw_cell(row["source_ref"])).replace(",", "")) == expected


def test_units_are_as_printed(tidy):
    units = tidy.groupby("indicator_id")["unit"].unique().map(sorted).to_dict()
    assert units["rd_intensity"] == ["%"]
    assert units["rd_expenditure"] == ["万元"]
    assert units["rd_personnel_fte"] == ["人年"]
    assert units["patents_in_force"] == ["件"]
    assert units["tech_contracts"] == ["项"]
    assert units["tech_contract_turnover"] == ["万元"]
    assert units["hightech_industry_enterprises"] == ["个"]
    assert units["hightech_industry_revenue"] == ["亿元"]
    assert units["incubators"] == ["个"]


def test_release_is_the_edition_after_the_data_year(tidy):
    first = tidy[tidy["source_ref"].str.contains("rd_expenditure_by_region_source__2013.xls")]
    assert set(first["release"]) == {"cn_sti_yearbook_2014"}  # title line "中国科技统计年鉴—2014"
    assert set(first["year"]) == {2013}


def test_region_labels_are_kept_as_printed_and_normalise_cleanly(tidy):
    labels = tidy["region_label"]
    assert "全    国" in set(labels) and "北 京" in set(labels) and "北京" in set(labels)
    assert (labels == labels.str.strip()).all()
    normalised = labels.map(normalise_label)
    assert (normalised != "").all()
    assert not normalised.str.contains(r"\s").any()
    assert {"东部地区", "中部地区", "西部地区", "东北地区", "其他", "港澳台", "台湾"} <= set(normalised)


def test_wrapped_english_label_is_joined(tidy):
    hk = tidy[
        (tidy["release"] == "cn_sti_yearbook_2022")
        & (tidy["indicator_id"] == "tech_contracts")
        & (tidy["region_label"].map(normalise_label) == "港澳台")
    ]
    assert set(hk["region_label_en"]) == {"Hong Kong,Macao & Taiwan"}  # printed over two rows


def test_blank_cells_are_missing_observations(tidy):
    tibet = tidy[
        (tidy["indicator_id"] == "tech_contracts")
        & (tidy["release"] == "cn_sti_yearbook_2024")
        & (tidy["region_label"] == "西藏")
        & (tidy["year"] == 2000)
    ]
    assert len(tibet) == 1
    assert math.isnan(tibet.iloc[0]["value"]) and tibet.iloc[0]["obs_status"] == "m"
    assert raw_cell(tibet.iloc[0]["source_ref"]) == ""


def test_unreadable_cell_is_flagged_not_guessed(tidy):
    beijing = tidy[
        (tidy["indicator_id"] == "rd_expenditure_enterprise")
        & (tidy["release"] == "cn_sti_yearbook_2013")
        & (tidy["region_label_en"] == "Beijing")
    ]
    row = beijing.iloc[0]
    assert math.isnan(row["value"]) and row["obs_status"] == "m"
    assert "368633!" in row["note"]
    assert raw_cell(row["source_ref"]) == "368633!"


def test_footnote_under_the_table_becomes_the_note(tidy):
    notes = set(tidy[(tidy["indicator_id"] == "rd_intensity") & (tidy["release"] == "cn_sti_yearbook_2019")]["note"])
    assert len(notes - {""}) == 1  # on the row it names only (test_a_footnote_about_the_national_2018_value_...)
    note = (notes - {""}).pop()
    assert note.startswith("注:2018年全国R&D经费内部支出") and "历史数据暂未进行修订" in note and "Note:" in note
    assert set(tidy[tidy["indicator_id"] == "patents_in_force"]["note"]) == {""}


# --------------------------------------------------------------------------------------------
# xlsx uploads and broken layouts


def test_xlsx_copy_of_a_table_gives_the_same_rows(tmp_path):
    source = YEARBOOK / "rd_intensity_by_region" / "rd_intensity_by_region__2020.xls"  # unrounded floats, spacer rows
    write_xlsx_copy(source, copy_target(tmp_path, source))
    from_xlsx = yearbook_rd_intensity.extract(tmp_path)
    from_xls = yearbook_rd_intensity.extract()
    from_xls = from_xls[from_xls["release"] == "cn_sti_yearbook_2021"].reset_index(drop=True)
    assert len(from_xlsx) == len(from_xls) == 9 * 32
    assert from_xlsx.drop(columns=["source_ref", "value"]).equals(from_xls.drop(columns=["source_ref", "value"]))
    # openpyxl writes floats with 16 significant digits, so the copy itself is off in the 17th.
    assert from_xlsx["value"].tolist() == pytest.approx(from_xls["value"].tolist(), rel=1e-15)
    assert (from_xlsx["source_ref"] == from_xls["source_ref"].str.replace(".xls#", ".xlsx#", regex=False)).all()


def test_encrypted_xlsx_is_decrypted(tmp_path):
    source = YEARBOOK / "incubators_by_region" / "incubators_by_region__2023.xls"
    plain = tmp_path / "plain.xlsx"
    write_xlsx_copy(source, plain)
    target = copy_target(tmp_path, source)
    target.parent.mkdir(parents=True)
    with plain.open("rb") as handle, target.open("wb") as out:
        msoffcrypto.format.ooxml.OOXMLFile(handle).encrypt("VelvetSweatshop", out)
    shutil.copy(plain.with_suffix(".source.json"), target.with_suffix(".source.json"))
    shutil.copytree(YEARBOOK / "maker_spaces_by_region", tmp_path / YEARBOOK_DIR / "maker_spaces_by_region")
    frame = yearbook_incubators.extract(tmp_path)
    national = frame[(frame["indicator_id"] == "incubators") & (frame["region_label"] == "全国")]
    assert national["value"].tolist() == [7015.0]


def test_renamed_header_raises_with_file_and_expected_header(tmp_path):
    source = YEARBOOK / "rd_personnel_fte_by_region" / "rd_personnel_fte_by_region__2023.xls"

    def rename_total_header(ws):
        assert "全时当量" in ws["C5"].value
        ws["C5"] = "R&D人员\n合计\nTotal"

    write_xlsx_copy(source, copy_target(tmp_path, source), edit=rename_total_header)
    with pytest.raises(SourceFormatError) as error:
        yearbook_rd_personnel.extract(tmp_path)
    message = str(error.value)
    assert "rd_personnel_fte_by_region__2023.xlsx" in message
    assert "sheet '1'" in message and "'全时当量'" in message and "found none" in message


def test_missing_region_header_raises(tmp_path):
    source = YEARBOOK / "rd_intensity_by_region" / "rd_intensity_by_region__2023.xls"

    def drop_region_header(ws):
        ws["A5"], ws["B5"] = "省份", "Province"

    write_xlsx_copy(source, copy_target(tmp_path, source), edit=drop_region_header)
    with pytest.raises(SourceFormatError, match=r"rd_intensity_by_region__2023\.xlsx.*'地区'"):
        yearbook_rd_intensity.extract(tmp_path)


def test_file_named_for_the_wrong_year_raises(tmp_path):
    source = YEARBOOK / "rd_personnel_fte_by_region" / "rd_personnel_fte_by_region__2023.xls"
    write_xlsx_copy(source, copy_target(tmp_path, source, name="rd_personnel_fte_by_region__2022.xlsx"))
    with pytest.raises(SourceFormatError, match=r"__2022\.xlsx.*title says 2023"):
        yearbook_rd_personnel.extract(tmp_path)


# --------------------------------------------------------------------------------------------
# Footnotes on the rows they name only (sources/footnotes.py)

RD_INTENSITY_DIR = SNAPSHOT_DIR / YEARBOOK_DIR / "rd_intensity_by_region"
FULL_TO_HALF_WIDTH = str.maketrans("，：；（）。", ",:;().")


def _flat(text: str) -> str:
    """Text compared without whitespace and with full-width punctuation as half-width."""
    return re.sub(r"\s+", "", text).translate(FULL_TO_HALF_WIDTH)


def _raw_footnotes(path: Path) -> list[str]:
    """The footnote lines of a yearbook file as its cells hold them (xlrd, nothing from sources/)."""
    sheet = next(s for s in raw_book(path).sheets() if s.name != "CNKI")
    texts = [" ".join(str(v).strip() for v in sheet.row_values(r) if str(v).strip()) for r in range(sheet.nrows)]
    first = next((i for i, t in enumerate(texts) if re.sub(r"\s+", "", t).startswith(("注", "Note"))), len(texts))
    return [t for t in texts[first:] if t]  # the footnote and its wrapped lines, to the end of the sheet


def test_a_footnote_about_the_national_2018_value_is_only_on_that_row(tidy):
    """The 2019 edition's footnote says the NATIONAL 2018 ratio was revised (provinces not yet): it is on the
    national 2018 row, not on Beijing's 2018 row nor on any other row of the table."""
    raw = _raw_footnotes(RD_INTENSITY_DIR / "rd_intensity_by_region__2018.xls")
    assert raw and "2018年全国R&D经费内部支出与国内生产总值之比" in _flat(" ".join(raw))
    edition = tidy[(tidy["release"] == "cn_sti_yearbook_2019") & (tidy["indicator_id"] == "rd_intensity")]
    noted = edition[edition["note"] != ""]
    assert [(normalise_label(r.region_label), r.year) for r in noted.itertuples()] == [("全国", 2018)]
    assert _flat(noted["note"].iloc[0]) == _flat(" ".join(raw))
    beijing = edition[(edition["region_label_en"] == "Beijing") & (edition["year"] == 2018)]
    assert beijing["note"].tolist() == [""]
    assert len(edition) > 200


def test_table_level_footnotes_are_on_no_row_and_quoted_in_the_sources_caveats(tidy):
    """A footnote naming no region (2020 edition: the census revision) or every region's data (2021-2024:
    地区数据作相应修订) is on no row of its table, and the source's caveats quote it."""
    sources_csv = Path(__file__).resolve().parent.parent / "catalogue" / "sources.csv"
    caveats = pd.read_csv(sources_csv).set_index("source_id").loc["cn_sti_yearbook", "caveats"]
    checked = 0
    for data_year in range(2019, 2024):
        raw = " ".join(_raw_footnotes(RD_INTENSITY_DIR / f"rd_intensity_by_region__{data_year}.xls"))
        assert raw, data_year
        assert _flat(raw) in _flat(caveats), f"edition {data_year + 1}: footnote not quoted in catalogue/sources.csv"
        release = f"cn_sti_yearbook_{data_year + 1}"
        edition = tidy[(tidy["release"] == release) & (tidy["indicator_id"] == "rd_intensity")]
        assert len(edition) > 200 and (edition["note"] == "").all(), data_year
        checked += 1
    assert checked == 5


@pytest.mark.parametrize(
    "note,regions,years,table_level",
    [
        (
            "注:2018年全国R&D经费内部支出与国内生产总值之比已根据第四次全国经济普查结果进行了修订,截至本书定稿,分省数据及历史数据暂未进行修订。",
            {"全国"},
            {2018},
            False,
        ),
        ("注:R&D经费内部支出与国内生产总值之比已根据第四次全国经济普查结果进行了修订。", set(), set(), True),
        (
            "注:全国R&D经费支出与国内生产总值之比已根据国内生产总值最新数据进行了修订,地区数据作相应修订。",
            {"全国"},
            set(),
            True,
        ),
        ("注:北京数据含中央在京单位。", {"北京"}, set(), False),
    ],
)
def test_footnote_scope(note, regions, years, table_level):
    scope = footnote_scope(note, {"全国", "北京", "天津"})
    assert (set(scope.regions), set(scope.years), scope.table_level) == (regions, years, table_level)
    assert scope.concerns("北京", 2018) is ("北京" in regions)
