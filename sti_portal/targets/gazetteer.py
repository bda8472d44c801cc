"""Place names for region resolution, read from the catalogue: provinces (catalogue/regions.csv) and
prefecture-level cities and national new areas (catalogue/places.csv, with the province's code)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sti_portal.core import catalogue

_REGIONS = catalogue.china_regions()
_PROVINCE_ROWS = _REGIONS[_REGIONS["level"] == "province"]
# short name → full name (黑龙江 → 黑龙江省), the 31 provincial-level regions of the mainland
PROVINCES = dict(zip(_PROVINCE_ROWS["name_zh"], _PROVINCE_ROWS["name_zh_full"]))
_PROVINCE_BY_CODE = dict(zip(_PROVINCE_ROWS["region_code"], _PROVINCE_ROWS["name_zh_full"]))
MUNICIPALITIES = {full for full in PROVINCES.values() if full.endswith("市")}
_PLACES = catalogue.places()
# National-level new areas (国家级新区) → province.
NEW_AREAS = {
    row.name_zh_full: _PROVINCE_BY_CODE[row.province_code]
    for row in _PLACES.itertuples()
    if row.level == "national_new_area"
}

_GENERIC_DISTRICT = re.compile(
    r"^(?:高新|开发|示范|园|城|市|辖|地|各|全|片|功能|自贸|试验|集聚|先行|核心|中心|新|主城|郊|老|本|该|"
    r"经开|保税|综保|产业|工业|农业|景|社|校|矿|库|街)"
)


@dataclass(frozen=True)
class Place:
    name: str  # full name as it should appear after the province (哈尔滨市, 哈尔滨新区)
    province: str  # full province name


def _build_gazetteer() -> dict[str, Place]:
    """Full names, and short names that are not ordinary words or other places (吉林, 朝阳: full name only)."""
    places: dict[str, Place] = {}
    for row in _PLACES.itertuples():
        province = _PROVINCE_BY_CODE[row.province_code]
        place = Place(row.name_zh_full, province)
        places[row.name_zh_full] = place
        if row.short_name_unambiguous == "true" and row.name_zh != row.name_zh_full:
            places.setdefault(row.name_zh, place)
    return places


GAZETTEER = _build_gazetteer()
_PROVINCE_FULL = {full: full for full in PROVINCES.values()}
_PROVINCE_PATTERNS = {**_PROVINCE_FULL, **{s: f for s, f in PROVINCES.items() if len(s) == 3 or f in MUNICIPALITIES}}
PLACE_RE = re.compile(
    "|".join(sorted(map(re.escape, list(GAZETTEER) + list(_PROVINCE_PATTERNS)), key=len, reverse=True))
)
# Any province name, short (宁夏, 西藏) or full, opening an indicator phrase: at the start of a phrase even
# the two-character short names are unambiguous.
LEADING_PROVINCE_RE = re.compile(
    "|".join(sorted(map(re.escape, list(PROVINCES) + list(PROVINCES.values())), key=len, reverse=True))
)
PLACE_GROUP_RE = re.compile(rf"(?:(?:{PLACE_RE.pattern})市?[、和与及])+(?:{PLACE_RE.pattern})市?")
_DISTRICT_AFTER_CITY = re.compile(r"^([\u4e00-\u9fa5]{2,3}?)(区|县)")


def find_places(text: str, offset: int = 0) -> list[tuple[int, str, str | None]]:
    """(position, region string, province) of every place name in ``text``.

    City mentions carry a district named right after them (哈尔滨市道里区); a city's national new area
    keeps its own name (哈尔滨新区 → 黑龙江省哈尔滨新区).
    """
    found = []
    for m in PLACE_RE.finditer(text):
        key = m.group(0)
        if key in _PROVINCE_PATTERNS:
            province = _PROVINCE_PATTERNS[key]
            found.append((offset + m.start(), province, province))
            continue
        place = GAZETTEER[key]
        rest = text[m.end() : m.end() + 6]
        if key in NEW_AREAS:
            region = place.province + place.name
        elif rest.startswith("新区"):
            region = place.province + key.removesuffix("市") + "新区"
        else:
            region = place.province + place.name if place.province not in MUNICIPALITIES else place.province
            after = rest[1:] if rest.startswith("市") or key.endswith("市") else None
            if key.endswith("市"):
                after = rest
            if after is not None:
                dm = _DISTRICT_AFTER_CITY.match(after)
                if dm and not _GENERIC_DISTRICT.match(dm.group(1)):
                    region += dm.group(0)
        found.append((offset + m.start(), region, place.province))
    return found


def normalise_region(region: str | None) -> tuple[str | None, str | None]:
    """(province, full region) for a sidecar region such as 黑龙江省, 黑龙江, 江苏省苏州市."""
    if not region:
        return None, None
    region = region.strip()
    for short, full in PROVINCES.items():
        if region.startswith(full):
            return full, region
        if region.startswith(short):
            rest = region[len(short) :].lstrip("省市")
            if region[len(short) :].startswith(("壮族", "回族", "维吾尔", "自治区")):
                rest = re.sub(r"^[\u4e00-\u9fa5]*?自治区", "", region[len(short) :])
            return full, full + rest if full not in MUNICIPALITIES or not rest else full + rest
    for key, place in GAZETTEER.items():
        if region.startswith(key):
            return place.province, place.province + place.name
    return None, region
