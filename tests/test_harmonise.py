"""Region codes, aliases and unit conversion."""

import pandas as pd
import pytest

from sources.common import TIDY_COLUMNS
from sti_portal.transform.harmonise import HarmoniseError, RegionResolver, convert_units, harmonise, normalise_label


@pytest.fixture(scope="module")
def resolver():
    return RegionResolver.from_catalogue()


@pytest.mark.parametrize(
    "label, label_en, code",
    [
        ("北  京", "Beijing", "110000"),
        ("全    国", "National Total", "100000"),
        ("北京市", "", "110000"),
        ("", "Tibet", "540000"),
        ("", "Xizang", "540000"),
        ("西藏", "", "540000"),
        ("西藏自治区", "", "540000"),
        ("", "InnerMongolia", "150000"),
        ("内蒙古", "Inner Mongolia", "150000"),
        ("河 北", "Hbei", "130000"),  # the 2019 edition's misprint
        ("江四", "Jiangxi", "360000"),  # a Chinese misprint carried by the English label
        ("广西壮族自治区", "", "450000"),
        ("香港", "Hong Kong", "810000"),
        ("澳门特别行政区", "", "820000"),
        ("台湾", "", "710000"),
        ("130000", "", "130000"),
    ],
)
def test_every_spelling_seen_resolves(resolver, label, label_en, code):
    assert resolver.resolve(label, label_en) == code


def test_labels_naming_two_regions_are_an_error(resolver):
    with pytest.raises(HarmoniseError, match="name different regions"):
        resolver.resolve("山西", "Shaanxi")


def test_macro_regions_are_dropped_with_a_reason(resolver):
    assert resolver.resolve("东部地区", "Eastern Region") is None
    assert "macro-region" in resolver.ignore_reason("东部地区", "Eastern Region")


def test_normalise_label_removes_full_width_and_padding_spaces():
    assert normalise_label("全\u3000\u3000国") == "全国"
    assert normalise_label(" 北  京\r\n") == "北京"


def _tidy(**overrides):
    row = {
        "source_id": "cn_sti_yearbook",
        "release": "r",
        "release_kind": "yearbook",
        "vintage": "2024-12-31",
        "indicator_id": "rd_expenditure",
        "region_label": "北京",
        "region_label_en": "Beijing",
        "year": 2023,
        "value": 333570688.0,
        "unit": "万元",
        "obs_status": "",
        "source_ref": "f.xls#1!C7",
        "note": "",
    }
    row.update(overrides)
    return pd.DataFrame([row], columns=TIDY_COLUMNS)


def test_wan_yuan_becomes_yi_yuan_at_full_precision():
    converted = convert_units(_tidy())
    assert converted.loc[0, "unit"] == "亿元"
    assert converted.loc[0, "value"] == 33357.0688


def test_a_unit_that_does_not_fit_is_an_error_naming_the_cell():
    with pytest.raises(HarmoniseError, match=r"f.xls#1!C7: unit '万元' cannot be converted to '%'"):
        convert_units(_tidy(indicator_id="rd_intensity"))


def test_unknown_region_label_names_label_cell_and_suggestion():
    with pytest.raises(HarmoniseError) as error:
        harmonise(_tidy(region_label="北亰", region_label_en="Bejing"))
    message = str(error.value)
    assert "'北亰'" in message and "f.xls#1!C7" in message and "did you mean" in message


def test_world_bank_aggregates_are_dropped_countries_kept():
    frame = pd.concat(
        [
            _tidy(
                source_id="world_bank_wdi",
                indicator_id="rd_intensity_wdi",
                region_label="DEU",
                region_label_en="Germany",
                unit="%",
                value=3.1,
            ),
            _tidy(
                source_id="world_bank_wdi",
                indicator_id="rd_intensity_wdi",
                region_label="EUU",
                region_label_en="European Union",
                unit="%",
                value=2.2,
            ),
        ],
        ignore_index=True,
    )
    batch = harmonise(frame)
    assert batch.observations["region_code"].tolist() == ["DEU"]
    assert "aggregate" in batch.dropped.loc[0, "drop_reason"]
