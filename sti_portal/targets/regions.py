"""Region of a figure: places, scope words (全省/全市), named sub-areas, by position in a paragraph."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .context import DocContext
from .gazetteer import GAZETTEER, MUNICIPALITIES, NEW_AREAS, PLACE_GROUP_RE, PROVINCES, find_places
from .text import Segment, split_clauses, split_sentences

# ============================================================================================
# Region
# ============================================================================================

_PROVINCE_SCOPE = re.compile(r"全省|我省|本省|省内")
_CITY_SCOPE = re.compile(r"全市|我市|本市|市内|市域")
_SUB_AREA_MARK = re.compile(
    r"(?<!高)新区|大走廊|科创走廊|科学城|科技城|(?<=[\u4e00-\u9fa5]{2})高新区|经济技术开发区|经开区"
)
_AREA_LEAD_VERBS = re.compile(
    r"^(?:推动|推进|建设|加快|依托|支持|打造|高标准|高质量|规划|中国|其中|在|将|把|对|以|"
    r"和|与|及|全力|加速|聚焦|围绕|发挥|做强|做优|提升)+"
)
_GENERIC_AREA_NAME = re.compile(r"^(?:各|全|城市|国家|省级|市级|新|该|本|我|一批|重点|以上|等|各类|有关|相关|所在)")
_LOCAL_UNIT = re.compile(
    r"^(?:\s|□|在|其中|同时|另外|此外)*([\u4e00-\u9fa5]{2,3}?)(区|县|市|旗)"
    r"(?![、和与及等场民级政委属值域内外直辖管长])"
)
_GENERIC_LOCAL = re.compile(
    r"^(?:全|各|城|市|辖|园|社|片|景|本|该|我|新|郊|老|主|山|农|牧|重点|中心|核心|高新|开发|"
    r"示范|试验|功能|集聚|先行|经济|保税|自贸|产业|工业|省|地)|(?:高新|开发|示范|试验|功能|集聚|"
    r"先行|经济|保税|自贸|产业|工业|城乡|市县|区县|县市)$"
)


_COMMON_AREA_WORDS = set(
    "地区 社区 园区 城区 景区 市区 山区 林区 牧区 矿区 校区 片区 街区 灾区 老区 新区 特区 辖区 郊区 湾区 专区 库区 厂区 "
    "小区 港区 岛区 营区 展区 分区 学区 疫区 县区 区县 城市 都市 股市 楼市 超市 集市 上市 夜市 开市 县市 区市 各市 省市 "
    "红旗 国旗 彩旗 郡县 州县 市县 各县 全县 本县 该县 全区 各区 本区 该区".split()
)
_NOT_NAME_START = set("占在对向把将为以从由按经全各本该每其此这那等和与及或并且也都均共约近超达到了的是有")


def is_local_unit_name(name: str, suffix: str) -> bool:
    """``宁海``+``县`` names a place; ``占地``+``区`` (占地区生产总值) or ``园``+``区`` do not."""
    if not name or name[0] in _NOT_NAME_START or name[-1] + suffix in _COMMON_AREA_WORDS or name.endswith("自治"):
        return False
    return not _GENERIC_LOCAL.search(name)


@dataclass
class RegionEvent:
    pos: int
    region: str
    until: int | None = None  # sentence-scoped events stop applying here


def named_area(text_before: str) -> str | None:
    """Name of a sub-area ending right here: 中国(绵阳)科技城|新区 → 科技城; 各|新区 → None."""
    head = re.split(r"[，,。；;、()（）“”\s的和与及□]", text_before[-8:])[-1]
    head = _AREA_LEAD_VERBS.sub("", head)
    if not 2 <= len(head) <= 6 or _GENERIC_AREA_NAME.match(head) or re.search(r"\d", head):
        return None
    return head


def _city_level(ctx: DocContext, region: str) -> str:
    """Base for a sub-area: the city in force (if any) or the document's city / province."""
    if ctx.province and region.startswith(ctx.province) and region != ctx.province:
        return region
    if ctx.city_region and ctx.city_region != "unknown city":
        return ctx.city_region
    return ctx.province or ctx.region


_VENUE = re.compile(r"^(?:市)?(?:召开|举行|举办|开幕|隆重|闭幕)")


def _place_events(ctx: DocContext, para: Segment, text: str) -> list[RegionEvent]:
    """Places named in a paragraph. The document's own region holds for the rest of the paragraph; a
    city inside a province's document only for the rest of its sentence (an example, not a new scope);
    a venue (在银川召开) not at all."""
    events = []
    groups = [(para.start + m.start(), para.start + m.end()) for m in PLACE_GROUP_RE.finditer(text)]
    for start, _ in groups:  # 济南、青岛两市…: several cities → the level above
        events.append(RegionEvent(start, ctx.city_region or ctx.province or ctx.region))
    sentence_ends = [s.end for s in split_sentences(ctx.norm, para)]
    for pos, region, province in find_places(text, para.start):
        if any(a <= pos < b for a, b in groups):
            continue
        if ctx.province and province and province != ctx.province:
            continue  # another province's experience, not ours
        if region == ctx.province:
            region = ctx.region if ctx.city_region is None else ctx.province
            if ctx.city_region is not None:
                continue  # 居全省第一: a comparison in a city's text
        end = next((e for e in sentence_ends if e > pos), para.end)
        rest = ctx.norm[pos:end]
        name = next((k for k in (region, region.removeprefix(province or "")) if rest.startswith(k)), "")
        if _VENUE.match(ctx.norm[pos + len(name) : pos + len(name) + 4]) or rest[:6].find("召开") > 0:
            continue
        city_in_province_doc = ctx.city_region is None and region != ctx.region
        events.append(RegionEvent(pos, region, end if city_in_province_doc else None))
    return events


def region_events(ctx: DocContext, para: Segment) -> list[RegionEvent]:
    """Region switches inside a paragraph: places, 全省/全市 scope words, named sub-areas, by position."""
    text = ctx.cue[para.start : para.end]
    events = _place_events(ctx, para, text)
    if ctx.city_region is None and ctx.province and "自治区" in ctx.province:
        for m in re.finditer(r"全区|我区|全自治区", text):  # 广西、宁夏…: 全区 is the whole region
            events.append(RegionEvent(para.start + m.start(), ctx.province))
    if ctx.city_region is None:
        for m in _PROVINCE_SCOPE.finditer(text):
            events.append(RegionEvent(para.start + m.start(), ctx.province or ctx.region))
    for m in _CITY_SCOPE.finditer(text):
        city = ctx.city_region or (ctx.province if ctx.province in MUNICIPALITIES else "unknown city")
        events.append(RegionEvent(para.start + m.start(), city))  # 全市 in Shanghai's plan: 上海市
    events.sort(key=lambda e: e.pos)
    # sentence-scoped: named sub-areas (科技城新区, 甬江科创大走廊) and a county/district as subject
    for sentence in split_sentences(ctx.norm, para):
        s_text = ctx.cue[sentence.start : sentence.end]
        for m in _SUB_AREA_MARK.finditer(s_text):
            name = named_area(s_text[: m.start()])
            full = (name or "") + m.group(0)
            if not name or name in GAZETTEER or full in NEW_AREAS or full in GAZETTEER:
                continue
            pos = sentence.start + m.start() - len(name)
            base = _city_level(ctx, region_at(events, pos, ctx.region))
            events.append(RegionEvent(pos, base + full, sentence.end))
        for clause in split_clauses(ctx.norm, sentence):
            c_text = ctx.masked[clause.start : clause.end]
            m = _LOCAL_UNIT.match(c_text)
            if (
                not m
                or not is_local_unit_name(m.group(1), m.group(2))
                or m.group(1) in GAZETTEER
                or m.group(1) + m.group(2) in GAZETTEER
                or m.group(1) in PROVINCES
            ):
                continue
            pos = clause.start + m.start(1)
            base = _city_level(ctx, region_at(events, pos, ctx.region))
            events.append(RegionEvent(pos, base + m.group(1) + m.group(2), sentence.end))
    events.sort(key=lambda e: e.pos)
    return events


def region_at(events: list[RegionEvent], pos: int, default: str) -> str:
    region = default
    for e in events:
        if e.pos >= pos:
            break
        if e.until is None or pos < e.until:
            region = e.region
    return region
