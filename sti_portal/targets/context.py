"""Document context, resolved once per document: date, default kind, plan year, region."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from .gazetteer import find_places, normalise_region
from .numbers import normalize_text
from .script import to_simplified
from .text import MASK, mask_text
from .vocabulary import Vocabulary

# ============================================================================================
# Document context
# ============================================================================================

_PLAN_WORDS = re.compile(r"规划|方案|计划|意见|要点|纲要|行动|措施|通知|办法|决定|实施细则|安排|目标|部署")
_REPORT_WORDS = re.compile(r"报告|公报|总结|成效|成就|新闻|综述|回眸|盘点|落地生金|发布会|进展")
_PLAN_KIND = re.compile(
    r"plan|programme|program|outline|points|notice|opinion|measure|policy|scheme|"
    r"guideline|action",
    re.I,
)
_REPORT_KIND = re.compile(r"report|news|progress|bulletin|review|summary|communiqu", re.I)


@dataclass
class DocContext:
    name: str
    text: str  # original text
    words: str  # original text in simplified characters (same length)
    norm: str  # normalised (same length)
    masked: str  # normalised with furniture / dates / names blanked
    cue: str  # normalised with 《…》 contents blanked (for cue words)
    year: int | None
    month: int | None
    default_kind: str  # "target" | "achieved"
    plan_end_year: int | None
    province: str | None
    region: str  # base region of the document
    city_region: str | None  # base city when the document is a city's
    report_like: bool = False
    report_year: int | None = None  # year an undated achieved figure is for, when the title says so
    skip: list[tuple[int, int]] = field(default_factory=list)
    vocabulary: Vocabulary | None = None  # None: catalogue/target_vocabulary.csv


def parse_date(value: str | None) -> tuple[int | None, int | None]:
    if not value:
        return None, None
    m = re.search(r"(19|20)(\d\d)\D{0,2}(\d{1,2})?", normalize_text(str(value)))
    if not m:
        return None, None
    year = int(m.group(1) + m.group(2))
    month = int(m.group(3)) if m.group(3) and 1 <= int(m.group(3)) <= 12 else None
    return year, month


def infer_date_from_text(norm: str) -> tuple[int | None, int | None]:
    """Date of a document without sidecar date: a signature line or a 发布时间/时间: header line."""
    for line in norm.splitlines():
        s = line.strip()
        if re.fullmatch(r"(19|20)\d\d\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日", s) or re.match(
            r"(?:发布)?(?:时间|日期)\s*[:]\s*(19|20)\d\d[-/年.]\d{1,2}", s
        ):
            return parse_date(s)
    return None, None


_ANNOUNCES_WORK = re.compile(
    r"今年[^。\n]{0,30}将|(?:20\d\d年|今年|未来五年)\s*[,，]?\s*[^。\n]{0,12}将(?:实施|力争|聚焦|加快|全力|重点)|"
    r"工作部署"
)


def classify_document(meta: dict, norm: str) -> tuple[str, bool]:
    """(default kind, report_like) from the sidecar's kind/title, else from the text's cues."""
    kind = str(meta.get("kind") or "")
    title = str(meta.get("title") or "")
    if _PLAN_KIND.search(kind):
        return "target", False
    if _REPORT_KIND.search(kind):
        # a work conference that announces this year's work (今年我省将…) reads as a plan with a review
        title_norm = normalize_text(title)
        announces = (
            _ANNOUNCES_WORK.search(title_norm)
            or (re.search(r"work report", kind, re.I) and re.search(r"力争|争创", title_norm))
            or _ANNOUNCES_WORK.search(norm[:400])
        )
        if re.search(r"conference|work report", kind, re.I) and announces:
            return "target", True
        return "achieved", True
    if "工作报告" in title:
        return "achieved", True
    if _PLAN_WORDS.search(title):
        return "target", False
    if _REPORT_WORDS.search(title):
        return "achieved", True
    head = norm[:3000]
    future = len(re.findall(r"(?<!截)[到至]\s*20\d\d\s*年|力争|确保|预计|目标", head))
    past = len(re.findall(r"截[至止]|同比|比上年|目前|以来|已", head))
    return ("target", False) if future > past else ("achieved", True)


_FYP = {"三": 2020, "四": 2025, "五": 2030, "六": 2035}
# Drafting the next five-year plan (谋划编制“十五五”规划) names a period, not the horizon of this document.
_DRAFTING_NEXT_PLAN = re.compile(
    r"(?:谋划|编制|研究|启动|开展|做好|前期)[^，。；\n]{0,8}十[三四五六]五[^，。；\n]{0,8}规划"
)
# An annual plan states its year in the body (2015年全市科技工作…): it wins over a page stamp.
_BODY_PLAN_YEAR = re.compile(
    r"((?:19|20)\d\d)\s*年\s*(?:全市|全省|全区|全县|全州|全盟|我市|我省)?\s*"
    r"(?:科技|科学技术|科技创新|科技创新工作|科技工作)(?:工作)?(?:要点|计划|安排|实施意见|思路|目标)?"
)


def plan_end_year(meta: dict, norm: str, doc_year: int | None, default_kind: str) -> int | None:
    """Year a plan's undated targets are for: 2022—2025年 / 十四五 in the title, else 到20XX年 in the body,
    else the year of an annual plan."""
    title = normalize_text(str(meta.get("title") or ""))
    m = re.search(r"(20\d\d)\s*[-—～至到]\s*(20\d\d)", title)
    if m:
        return int(m.group(2))
    m = re.search(r"十([三四五六])五", title)
    if m:
        return _FYP[m.group(1)]
    if default_kind != "target":
        return None
    years = [int(y) for y in re.findall(r"(?<!截)[到至]\s*(20\d\d)\s*年", norm)]
    years = [y for y in years if doc_year is None or y >= doc_year]
    if years:
        return Counter(years).most_common(1)[0][0]
    m = re.search(r"(20\d\d)\s*年", title)
    if m:
        return int(m.group(1))
    if re.search(r"annual|年度|工作要点|工作计划", str(meta.get("kind") or "") + title, re.I):
        return doc_year
    m = re.search(r"十([三四五六])五", _DRAFTING_NEXT_PLAN.sub("", norm[:2000]))
    if m:
        return _FYP[m.group(1)]
    return doc_year


def body_plan_year(norm: str, default_kind: str) -> int | None:
    """The year an annual plan states near its top (2015年全市科技工作要点), for plans only."""
    if default_kind != "target":
        return None
    m = _BODY_PLAN_YEAR.search(norm[:400])
    return int(m.group(1)) if m else None


def report_year(meta: dict, doc_year: int | None, doc_month: int | None, report_like: bool) -> int | None:
    """The year undated achieved figures of a report are for.

    A report titled "2019年…" dated 2020 reports 2019; a government work report (政府工作报告) and any
    report published in January–March review the year just ended; else the title's year.
    """
    if not report_like:
        return None
    title = normalize_text(str(meta.get("title") or ""))
    years = {int(y) for y in re.findall(r"(20\d\d)\s*年", title)}
    if "工作报告" in title or re.search(r"government work report", str(meta.get("kind") or ""), re.I):
        base = min(years) if years else doc_year
        return base - 1 if base else None
    if len(years) == 1 and doc_year is not None and min(years) < doc_year:
        return min(years)
    if doc_year is not None and doc_month is not None and doc_month <= 3:
        return doc_year - 1
    if len(years) == 1 and (doc_year is None or min(years) <= doc_year):
        return min(years)
    return None


def document_region(meta: dict, norm: str) -> tuple[str | None, str]:
    """(province, region) of a document: the sidecar's region (a city named in its title or issuer wins
    over its province), else a place in the title or issuer, else the province the text names most."""
    province, region = normalise_region(meta.get("region"))
    # an issuer that only reposted the text (reposted by 乌兰察布市科学技术局) does not make it the city's
    issuer = re.sub(r"(?:reposted|reprinted|转载|转发)[^;；]*", "", str(meta.get("issuer") or ""), flags=re.I)
    hints = normalize_text(str(meta.get("title") or "") + " " + issuer)
    places = find_places(hints)
    if region is not None and region == province:
        # a province in the sidecar, but the title / issuer is a city of it (广州市政府工作报告)
        cities = [p for p in places if p[2] == province and p[1] != province]
        if cities and re.search(
            r"市(?:人民)?政府|市科(?:学)?技(?:术)?局|市委|全市|[市州盟]\s*[\u4e00-\u9fa5]{0,6}"
            r"(?:报告|规划|方案|要点|意见|通知|计划)",
            hints,
        ):
            region = cities[0][1]
    if region is not None:
        return province, region
    if places:
        return places[0][2], places[0][1]
    places_in_text = [p for p in find_places(norm[:3000]) if p[2]]
    if places_in_text:
        province = Counter(p[2] for p in places_in_text).most_common(1)[0][0]
        cities = Counter(p[1] for p in places_in_text if p[2] == province and p[1] != province)
        city_text = len(re.findall(r"全市|我市|本市", norm)) > len(re.findall(r"全省|我省|本省|全区|我区", norm))
        if cities and city_text:
            return province, cities.most_common(1)[0][0]  # 济南市… 全市: the city the text speaks for
        return province, province
    if re.search(r"\bcity\b|市(?:科技局|科学技术局|人民政府|政府)", hints, re.I) or len(
        re.findall(r"全市|我市|本市", norm)
    ) > len(re.findall(r"全省|我省|本省", norm)):
        return None, "unknown city"
    return None, "unknown"


_MEETING_YEAR = re.compile(r"((?:19|20)\d\d\s*年)(?=[^，。；,;\n]{0,14}(?:会议|大会|论坛|发布会|新闻发布))")


def build_context(text: str, meta: dict | None, doc_name: str, vocabulary: Vocabulary | None = None) -> DocContext:
    """Everything about a document that every statement in it shares, resolved once."""
    meta = meta or {}  # no sidecar: region unknown, no date
    norm = normalize_text(text)
    year, month = parse_date(meta.get("date"))
    if year is None and meta:  # a sidecar without a date: a signature / byline date line
        year, month = infer_date_from_text(norm)
    default_kind, report_like = classify_document(meta, norm)
    stated = body_plan_year(norm, default_kind)
    if stated is not None and stated != year:
        year, month = stated, None  # the plan's own year beats a page stamp (a 2022 repost)
    province, region = document_region(meta, norm)
    city_region = region if (province and region != province) else None
    if region == "unknown city":
        city_region = region
    masked, skip = mask_text(norm)
    cue = re.sub(r"《[^《》\n]{0,60}》", lambda m: "《" + MASK * (len(m.group(0)) - 2) + "》", norm)
    # 从2024年全区科技工作会议上获悉: the year names the meeting, it does not date the figures reported there
    cue = _MEETING_YEAR.sub(lambda m: MASK * len(m.group(1)) + m.group(0)[len(m.group(1)) :], cue)
    return DocContext(
        name=doc_name,
        text=text,
        words=to_simplified(text),
        norm=norm,
        masked=masked,
        cue=cue,
        year=year,
        month=month,
        default_kind=default_kind,
        plan_end_year=plan_end_year(meta, norm, year, default_kind),
        province=province,
        region=region,
        city_region=city_region,
        report_like=report_like,
        report_year=report_year(meta, year, month, report_like),
        skip=skip,
        vocabulary=vocabulary,
    )
