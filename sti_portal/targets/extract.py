"""Extract quantitative STI targets and achieved figures from Chinese policy documents.

The pipeline is a sequence of small rules, each a named function:

1. ``build_context``      document year, default kind (plan → target, news/report → achieved), the
                          plan's end year, the base region (province / city) from the sidecar;
2. ``mask_text``          blank out page furniture, dates, URLs, phone and registration numbers,
                          list numbers, quoted names (《60条》, “四个一批”), rankings, ratios, 1+N;
3. ``split_*``            paragraphs (lines) → sentences (。；！？) → clauses (，：);
4. ``find_quantities``    every number + unit (``numbers.py``);
5. ``is_statement``       keep figures about a measurable indicator, drop scope counts
                          (12个主导产业), list sums (等5项), thresholds (超千亿元高新区), subsidy rules;
6. ``_phrase``            the indicator as worded (reaching back for the noun when the clause omits
                          it: 同比增长25%, 分别为…) and the span; ``map_indicator`` → catalogue id;
7. ``_resolve_kind`` / ``_resolve_year`` / ``region_events``: from clause, sentence, paragraph,
                          section and document cues;
8. ``table_statements``   rows of indicator tables (指标（单位） 2020年值 2025年值).

Output dicts carry exactly the gold fields described in
``sources/snapshots/policy_docs/README.md``.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from .numbers import GROWTH_UNITS, Quantity, detect_comparator, find_quantities, normalize_text, to_base

__all__ = ["extract_statements", "extract_file", "html_to_text", "map_indicator", "INDICATOR_IDS",
           "FIELDS"]

FIELDS = ["doc", "kind", "span", "indicator_text", "indicator", "value", "unit", "value_base",
          "comparator", "target_year", "region"]

INDICATOR_IDS = (
    "rd_intensity", "rd_expenditure", "rd_expenditure_growth", "hightech_enterprises",
    "hightech_enterprises_new", "tech_contract_turnover", "invention_patents_per_10k",
    "hightech_output_share", "rd_personnel_per_10k_labour", "tech_progress_contribution",
    "incubators", "sci_tech_achievements_transformed", "other",
)

MASK = "□"

# ============================================================================================
# Gazetteer: provinces and prefecture-level cities (short names), for region resolution
# ============================================================================================

_PROVINCES = {
    "北京": "北京市", "天津": "天津市", "河北": "河北省", "山西": "山西省", "内蒙古": "内蒙古自治区",
    "辽宁": "辽宁省", "吉林": "吉林省", "黑龙江": "黑龙江省", "上海": "上海市", "江苏": "江苏省",
    "浙江": "浙江省", "安徽": "安徽省", "福建": "福建省", "江西": "江西省", "山东": "山东省",
    "河南": "河南省", "湖北": "湖北省", "湖南": "湖南省", "广东": "广东省", "广西": "广西壮族自治区",
    "海南": "海南省", "重庆": "重庆市", "四川": "四川省", "贵州": "贵州省", "云南": "云南省",
    "西藏": "西藏自治区", "陕西": "陕西省", "甘肃": "甘肃省", "青海": "青海省", "宁夏": "宁夏回族自治区",
    "新疆": "新疆维吾尔自治区",
}
_MUNICIPALITIES = {"北京市", "天津市", "上海市", "重庆市"}

# "short name" or "short name=full name" for places whose full name is not short+市.
_CITIES = """
河北:石家庄,唐山,秦皇岛,邯郸,邢台,保定,张家口,承德,沧州,廊坊,衡水,定州,辛集
山西:太原,大同,阳泉,长治,晋城,朔州,晋中,运城,忻州,临汾,吕梁
内蒙古:呼和浩特,包头,乌海,赤峰,通辽,鄂尔多斯,呼伦贝尔,巴彦淖尔,乌兰察布,兴安盟=兴安盟,锡林郭勒=锡林郭勒盟,阿拉善=阿拉善盟
辽宁:沈阳,大连,鞍山,抚顺,本溪,丹东,锦州,营口,阜新,辽阳,盘锦,铁岭,朝阳,葫芦岛
吉林:长春,吉林,四平,辽源,通化,白山,松原,白城,延边=延边朝鲜族自治州
黑龙江:哈尔滨,齐齐哈尔,鸡西,鹤岗,双鸭山,大庆,伊春,佳木斯,七台河,牡丹江,黑河,绥化,大兴安岭=大兴安岭地区
江苏:南京,无锡,徐州,常州,苏州,南通,连云港,淮安,盐城,扬州,镇江,泰州,宿迁
浙江:杭州,宁波,温州,嘉兴,湖州,绍兴,金华,衢州,舟山,台州,丽水
安徽:合肥,芜湖,蚌埠,淮南,马鞍山,淮北,铜陵,安庆,黄山,滁州,阜阳,宿州,六安,亳州,池州,宣城
福建:福州,厦门,莆田,三明,泉州,漳州,南平,龙岩,宁德
江西:南昌,景德镇,萍乡,九江,新余,鹰潭,赣州,吉安,宜春,抚州,上饶
山东:济南,青岛,淄博,枣庄,东营,烟台,潍坊,济宁,泰安,威海,日照,临沂,德州,聊城,滨州,菏泽
河南:郑州,开封,洛阳,平顶山,安阳,鹤壁,新乡,焦作,濮阳,许昌,漯河,三门峡,南阳,商丘,信阳,周口,驻马店,济源
湖北:武汉,黄石,十堰,宜昌,襄阳,鄂州,荆门,孝感,荆州,黄冈,咸宁,随州,恩施=恩施土家族苗族自治州,仙桃,潜江,天门
湖南:长沙,株洲,湘潭,衡阳,邵阳,岳阳,常德,张家界,益阳,郴州,永州,怀化,娄底,湘西=湘西土家族苗族自治州
广东:广州,韶关,深圳,珠海,汕头,佛山,江门,湛江,茂名,肇庆,惠州,梅州,汕尾,河源,阳江,清远,东莞,中山,潮州,揭阳,云浮
广西:南宁,柳州,桂林,梧州,北海,防城港,钦州,贵港,玉林,百色,贺州,河池,来宾,崇左
海南:海口,三亚,三沙,儋州
四川:成都,自贡,攀枝花,泸州,德阳,绵阳,广元,遂宁,内江,乐山,南充,眉山,宜宾,广安,达州,雅安,巴中,资阳,阿坝=阿坝藏族羌族自治州,甘孜=甘孜藏族自治州,凉山=凉山彝族自治州
贵州:贵阳,六盘水,遵义,安顺,毕节,铜仁,黔西南=黔西南布依族苗族自治州,黔东南=黔东南苗族侗族自治州,黔南=黔南布依族苗族自治州
云南:昆明,曲靖,玉溪,保山,昭通,丽江,普洱,临沧,楚雄=楚雄彝族自治州,红河=红河哈尼族彝族自治州,文山=文山壮族苗族自治州,西双版纳=西双版纳傣族自治州,大理=大理白族自治州,德宏=德宏傣族景颇族自治州,怒江=怒江傈僳族自治州,迪庆=迪庆藏族自治州
西藏:拉萨,日喀则,昌都,林芝,山南,那曲,阿里=阿里地区
陕西:西安,铜川,宝鸡,咸阳,渭南,延安,汉中,榆林,安康,商洛,杨凌=杨凌示范区
甘肃:兰州,嘉峪关,金昌,白银,天水,武威,张掖,平凉,酒泉,庆阳,定西,陇南,临夏=临夏回族自治州,甘南=甘南藏族自治州
青海:西宁,海东,海北=海北藏族自治州,黄南=黄南藏族自治州,果洛=果洛藏族自治州,玉树=玉树藏族自治州,海西=海西蒙古族藏族自治州
宁夏:银川,石嘴山,吴忠,固原,中卫
新疆:乌鲁木齐,克拉玛依,吐鲁番,哈密,昌吉=昌吉回族自治州,博尔塔拉=博尔塔拉蒙古自治州,巴音郭楞=巴音郭楞蒙古自治州,阿克苏=阿克苏地区,克孜勒苏=克孜勒苏柯尔克孜自治州,喀什=喀什地区,和田=和田地区,伊犁=伊犁哈萨克自治州,塔城=塔城地区,阿勒泰=阿勒泰地区,石河子
"""

# Short names that are also ordinary words or other places: only matched with their full name.
_AMBIGUOUS_SHORT = set(
    "吉林 朝阳 黄山 白山 中山 大同 长治 安康 三明 白银 来宾 日照 阿里 海东 山南 金昌 新余 长春 清远 普洱 "
    "吉安 泰安 保山 玉林 北海 延安 遵义 大庆 酒泉 通化 和田 金华 开封 常德 丽水 天水 中卫 红河 文山 大理 "
    "怒江 玉树 海西 伊犁 兴安盟 阿拉善 黄南 海北 甘南 湘西 南平 定西 宜春 永州 丽江 黑河 鸡西 四平 抚顺 "
    "安顺 铜仁 吴忠 随州 荆门 十堰 仙桃 天门 潜江 河源 江门 阳江 云浮 衡阳 岳阳 益阳 怀化 邵阳 娄底 "
    "辽阳 本溪 白城 松原 辽源 鹤岗 伊春 绥化 九江 上饶 抚州 鹰潭 萍乡 景德镇 泰州 台州 德州 滨州 "
    "榆林 汉中 商洛 咸阳 渭南 铜川 宝鸡 武威 张掖 平凉 庆阳 陇南 固原 哈密 塔城 喀什 阿克苏 昌都 林芝 那曲".split()
)

# National-level new areas (国家级新区) → province.
_NEW_AREAS = {
    "雄安新区": "河北省", "浦东新区": "上海市", "滨海新区": "天津市", "两江新区": "重庆市",
    "舟山群岛新区": "浙江省", "兰州新区": "甘肃省", "南沙新区": "广东省", "西咸新区": "陕西省",
    "贵安新区": "贵州省", "西海岸新区": "山东省", "金普新区": "辽宁省", "天府新区": "四川省",
    "湘江新区": "湖南省", "江北新区": "江苏省", "福州新区": "福建省", "滇中新区": "云南省",
    "哈尔滨新区": "黑龙江省", "长春新区": "吉林省", "赣江新区": "江西省",
}

_GENERIC_DISTRICT = re.compile(
    r"^(?:高新|开发|示范|园|城|市|辖|地|各|全|片|功能|自贸|试验|集聚|先行|核心|中心|新|主城|郊|老|本|该|"
    r"经开|保税|综保|产业|工业|农业|景|社|校|矿|库|街)"
)


@dataclass(frozen=True)
class Place:
    name: str            # full name as it should appear after the province (哈尔滨市, 哈尔滨新区)
    province: str        # full province name


def _build_gazetteer() -> dict[str, Place]:
    places: dict[str, Place] = {}
    for line in _CITIES.strip().splitlines():
        prov_short, _, items = line.partition(":")
        province = _PROVINCES[prov_short]
        for item in items.split(","):
            short, _, full = item.partition("=")
            full = full or short + "市"
            place = Place(full, province)
            places[full] = place
            if short not in _AMBIGUOUS_SHORT and short != full:
                places.setdefault(short, place)
    for area, province in _NEW_AREAS.items():
        places[area] = Place(area, province)
    return places


_GAZETTEER = _build_gazetteer()
_PROVINCE_FULL = {full: full for full in _PROVINCES.values()}
_PROVINCE_PATTERNS = {**_PROVINCE_FULL,
                      **{s: f for s, f in _PROVINCES.items() if len(s) == 3 or f in _MUNICIPALITIES}}
_PLACE_RE = re.compile(
    "|".join(sorted(map(re.escape, list(_GAZETTEER) + list(_PROVINCE_PATTERNS)), key=len, reverse=True))
)
_PLACE_GROUP_RE = re.compile(
    rf"(?:(?:{_PLACE_RE.pattern})市?[、和与及])+(?:{_PLACE_RE.pattern})市?")
_DISTRICT_AFTER_CITY = re.compile(r"^([\u4e00-\u9fa5]{2,3}?)(区|县)")


def find_places(text: str, offset: int = 0) -> list[tuple[int, str, str | None]]:
    """(position, region string, province) of every place name in ``text``.

    City mentions carry a district named right after them (哈尔滨市道里区); a city's national new area
    keeps its own name (哈尔滨新区 → 黑龙江省哈尔滨新区).
    """
    found = []
    for m in _PLACE_RE.finditer(text):
        key = m.group(0)
        if key in _PROVINCE_PATTERNS:
            province = _PROVINCE_PATTERNS[key]
            found.append((offset + m.start(), province, province))
            continue
        place = _GAZETTEER[key]
        rest = text[m.end(): m.end() + 6]
        if key in _NEW_AREAS:
            region = place.province + place.name
        elif rest.startswith("新区"):
            region = place.province + key.removesuffix("市") + "新区"
        else:
            region = place.province + place.name if place.province not in _MUNICIPALITIES else place.province
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
    for short, full in _PROVINCES.items():
        if region.startswith(full):
            return full, region
        if region.startswith(short):
            rest = region[len(short):].lstrip("省市")
            if region[len(short):].startswith(("壮族", "回族", "维吾尔", "自治区")):
                rest = re.sub(r"^[\u4e00-\u9fa5]*?自治区", "", region[len(short):])
            return full, full + rest if full not in _MUNICIPALITIES or not rest else full + rest
    for key, place in _GAZETTEER.items():
        if region.startswith(key):
            return place.province, place.province + place.name
    return None, region


# ============================================================================================
# Document context
# ============================================================================================

_PLAN_WORDS = re.compile(r"规划|方案|计划|意见|要点|纲要|行动|措施|通知|办法|决定|实施细则|安排|目标|部署")
_REPORT_WORDS = re.compile(r"报告|公报|总结|成效|成就|新闻|综述|回眸|盘点|落地生金|发布会|进展")
_PLAN_KIND = re.compile(r"plan|programme|program|outline|points|notice|opinion|measure|policy|scheme|"
                        r"guideline|action", re.I)
_REPORT_KIND = re.compile(r"report|news|progress|bulletin|review|summary|communiqu", re.I)


@dataclass
class DocContext:
    name: str
    text: str                       # original text
    norm: str                       # normalised (same length)
    masked: str                     # normalised with furniture / dates / names blanked
    cue: str                        # normalised with 《…》 contents blanked (for cue words)
    year: int | None
    month: int | None
    default_kind: str               # "target" | "achieved"
    plan_end_year: int | None
    province: str | None
    region: str                     # base region of the document
    city_region: str | None         # base city when the document is a city's
    report_like: bool = False
    report_year: int | None = None  # year an undated achieved figure is for, when the title says so
    skip: list[tuple[int, int]] = field(default_factory=list)


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
        if re.fullmatch(r"(19|20)\d\d\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日", s) or \
                re.match(r"(?:发布)?(?:时间|日期)\s*[:]\s*(19|20)\d\d[-/年.]\d{1,2}", s):
            return parse_date(s)
    return None, None


def classify_document(meta: dict, norm: str) -> tuple[str, bool]:
    """(default kind, report_like) from the sidecar's kind/title, else from the text's cues."""
    kind = str(meta.get("kind") or "")
    title = str(meta.get("title") or "")
    if _PLAN_KIND.search(kind):
        return "target", False
    if _REPORT_KIND.search(kind):
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


def plan_end_year(meta: dict, norm: str, doc_year: int | None, default_kind: str) -> int | None:
    """Year a plan's undated targets are for: 2022—2025年 / 十四五 in the title, else 到20XX年 in the body."""
    title = normalize_text(str(meta.get("title") or ""))
    m = re.search(r"(20\d\d)\s*[-—～至到]\s*(20\d\d)", title)
    if m:
        return int(m.group(2))
    m = re.search(r"十([三四五六])五", title)
    if m:
        return {"三": 2020, "四": 2025, "五": 2030, "六": 2035}[m.group(1)]
    if default_kind != "target":
        return None
    years = [int(y) for y in re.findall(r"(?<!截)[到至]\s*(20\d\d)\s*年", norm)]
    years = [y for y in years if doc_year is None or y >= doc_year]
    if years:
        return Counter(years).most_common(1)[0][0]
    m = re.search(r"(20\d\d)\s*年", title)
    if m:
        return int(m.group(1))
    m = re.search(r"十([三四五六])五", norm[:2000])
    if m:
        return {"三": 2020, "四": 2025, "五": 2030, "六": 2035}[m.group(1)]
    return doc_year


def report_year(meta: dict, doc_year: int | None, default_kind: str) -> int | None:
    """A report titled "2023年…" dated 2024 reports 2023 figures: undated achieved figures get 2023.

    A government work report (政府工作报告, delivered early in the year) reviews the previous year.
    """
    if default_kind != "achieved":
        return None
    title = normalize_text(str(meta.get("title") or ""))
    years = {int(y) for y in re.findall(r"(20\d\d)\s*年", title)}
    if "工作报告" in title or re.search(r"work report", str(meta.get("kind") or ""), re.I):
        base = min(years) if years else doc_year
        return base - 1 if base else None
    if len(years) == 1:
        (year,) = years
        if doc_year is None or year <= doc_year:
            return year
    return None


def build_context(text: str, meta: dict | None, doc_name: str) -> DocContext:
    meta = meta or {}                      # no sidecar: region unknown, no date
    norm = normalize_text(text)
    year, month = parse_date(meta.get("date"))
    if year is None and meta:              # a sidecar without a date: a signature / byline date line
        year, month = infer_date_from_text(norm)
    default_kind, report_like = classify_document(meta, norm)
    province, region = normalise_region(meta.get("region"))
    hints = " ".join(str(meta.get(k) or "") for k in ("title", "issuer"))
    places = [p for p in find_places(normalize_text(hints))]
    if region is not None and region == province:
        # a province in the sidecar, but the title / issuer is a city of it (广州市政府工作报告)
        cities = [p for p in places if p[2] == province and p[1] != province]
        if cities and re.search(r"市(?:人民)?政府|市科(?:学)?技(?:术)?局|市委|全市|[市州盟]\s*[\u4e00-\u9fa5]{0,6}"
                                r"(?:报告|规划|方案|要点|意见|通知|计划)", hints):
            region = cities[0][1]
    if region is None:
        if places:
            region, province = places[0][1], places[0][2]
        elif re.search(r"\bcity\b|市(?:科技局|科学技术局|人民政府|政府)", hints, re.I) or \
                len(re.findall(r"全市|我市|本市", norm)) > len(re.findall(r"全省|我省|本省", norm)):
            region = "unknown city"
        else:
            region = "unknown"
    city_region = region if (region and province and region != province) else None
    if region == "unknown city":
        city_region = region
    masked, skip = mask_text(norm)
    cue = re.sub(r"《[^《》\n]{0,60}》", lambda m: "《" + MASK * (len(m.group(0)) - 2) + "》", norm)
    return DocContext(
        name=doc_name, text=text, norm=norm, masked=masked, cue=cue, year=year, month=month,
        default_kind=default_kind, plan_end_year=plan_end_year(meta, norm, year, default_kind),
        province=province, region=region or "unknown", city_region=city_region,
        report_like=report_like, report_year=report_year(meta, year, default_kind), skip=skip,
    )


# ============================================================================================
# Masking: page furniture and numbers that are never statistics
# ============================================================================================

_FURNITURE_LINE = re.compile(
    r"ICP|备案|电话|传真|邮箱|E-?mail|QQ|版权所有|Copyright|©|主办[:单]|承办|技术支持|网站地图|免责声明|"
    r"联系我们|原文链接|当前位置|当前所在|首页\s*>|>\s*正文|浏览次数|阅读次数|点击数|字号|打印本页|关闭窗口|"
    r"分享到|扫一扫|^\s*来源[:]|作者[:]|发布时间|^\s*时间[:]|责任编辑|^\s*编辑[:]|^\s*附件[:]|办公区[:]|"
    r"^\s*地址[:]|邮编|欢迎访问|公网安备|网站标识码",
    re.I,
)

_MASK_PATTERNS = [
    r"https?://\S+|www\.[\w./-]+|[\w.-]+@[\w-]+\.[\w.]+",                         # URLs, e-mail
    r"\d{3,4}-\d{7,8}(?:-\d+)?|(?<!\d)1[3-9]\d{9}(?!\d)",                         # phones
    r"〔\s*\d{4}\s*〕\s*\d+\s*号|\[\s*\d{4}\s*\]\s*\d+\s*号",                      # document numbers
    r"(?<!\d)(?:19|20)\d\d\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?",           # full dates
    r"(?<!\d)(?:19|20)\d\d\s*[-—～至到]\s*(?:19|20)\d\d\s*年?",                     # year ranges
    r"(?<![\d.])(?:19|20)\d\d\s*年",                                               # years
    r"[〇零一二三四五六七八九]{4}\s*年",                                              # 二〇二五年
    r"(?<![\d.])\d{1,2}\s*月(?:份)?(?:\d{1,2}\s*[日号])?",                          # months
    r"(?<![\d.])\d{1,2}\s*[日号](?![益])",                                          # days, numbers 号
    r"\d{1,2}:\d{2}(?::\d{2})?",                                                   # times
    r"《[^《》\n]{0,60}》",                                                        # titles
    r"“[^“”\n]{0,25}”|「[^「」\n]{0,25}」|\"[^\"\n]{0,25}\"",                       # short quoted names
    r"第\s*[\d〇零一二两三四五六七八九十百千]+",                                     # ordinals
    r"(?<![目之以提当空超])前\s*[\d一二三四五六七八九十]+\s*(?:名|位|强)",               # rankings
    r"(?:居|排|列|进入|跻身|位于)[^，。；\n]{0,6}前\s*[\d一二三四五六七八九十]+",
    r"(?:排名|排在|位居|位列|居于?)\s*(?:全国|全省|全市|全球|世界|中部|西部|东部)?[^，。；\n]{0,6}?\d+\s*(?:位|名)",
    r"(?:提升|上升|前移|跃升|提高|下降|后退|下滑|进位|晋升|攀升)\s*[\d一二三四五六七八九十]+\s*(?:个)?(?:位|名)(?:次)?",
    r"[\dN]+(?:\s*\+\s*[\dNnX]+)+",                                                # 1+N, 1+4+N
    r"\d+(?:\.\d+)?\s*:\s*\d+(?:\.\d+)?",                                          # ratios 1:1
    r"[A-Za-z]+[\d.]*\d[A-Za-z0-9.]*|\d+(?:\.\d+)?[A-Za-z]+[A-Za-z0-9]*",             # 5G, C919, PM2.5
    r"\d+(?=\s*强)|\d+(?=\s*[周]年)",                                               # 500强, 70周年
    r"[(]\s*[\d一二三四五六七八九十]{1,3}\s*[)]|[①-⑳]",                              # (一) (1) ①
    r"(?:^|(?<=[\n。；;:\s]))[\d一二三四五六七八九十]{1,3}\s*[、.](?!\d)",             # 1. 一、
    r"十[一二三四五六七八九]五",                                                     # 十四五
    r"[\d〇零一二三四五六七八九十]+\s*(?:号线|号文|号令|周年|届|期(?!间))",
]
_MASK_RE = re.compile("|".join(f"(?:{p})" for p in _MASK_PATTERNS), re.M)


def is_furniture_line(line: str) -> bool:
    """Navigation, footer, byline and contact lines of a web page."""
    s = line.strip()
    if not s:
        return False
    if s.count("|") >= 2 or s.count("｜") >= 2:
        return True
    return bool(_FURNITURE_LINE.search(s)) and len(s) <= 200


def mask_text(norm: str) -> tuple[str, list[tuple[int, int]]]:
    """Copy of ``norm`` with non-statistical numbers replaced by MASK; also the skipped line spans."""
    chars = list(norm)
    skip = []
    pos = 0
    for line in norm.split("\n"):
        if is_furniture_line(line):
            skip.append((pos, pos + len(line)))
            for i in range(pos, pos + len(line)):
                chars[i] = MASK
        pos += len(line) + 1
    for m in _MASK_RE.finditer(norm):
        a, b = m.span()
        if norm[a] in "《“「\"" and b - a >= 2:
            a, b = a + 1, b - 1
        for i in range(a, b):
            if chars[i] != "\n":
                chars[i] = MASK
    return "".join(chars), skip


# ============================================================================================
# Segmentation
# ============================================================================================

@dataclass
class Segment:
    start: int
    end: int


def split_paragraphs(text: str) -> list[Segment]:
    segs, pos = [], 0
    for line in text.split("\n"):
        if line.strip():
            segs.append(Segment(pos, pos + len(line)))
        pos += len(line) + 1
    return segs


def _split(text: str, seg: Segment, boundary: re.Pattern) -> list[Segment]:
    out, start = [], seg.start
    for m in boundary.finditer(text, seg.start, seg.end):
        out.append(Segment(start, m.end()))
        start = m.end()
    if start < seg.end:
        out.append(Segment(start, seg.end))
    return [s for s in out if text[s.start:s.end].strip()]


_SENTENCE_END = re.compile(r"[。！？!?；;]+[”’」)]?")
_CLAUSE_END = re.compile(r"[，:]|,(?!\d{3}(?!\d))|(?<!\d),")


def split_sentences(text: str, para: Segment) -> list[Segment]:
    return _split(text, para, _SENTENCE_END)


def split_clauses(text: str, sentence: Segment) -> list[Segment]:
    return _split(text, sentence, _CLAUSE_END)


# ============================================================================================
# Is this number a statement about a measurable indicator?
# ============================================================================================

_RULE_CONTEXT = re.compile(
    r"给予|奖励|奖补|补助|补贴|资助|贴息|最高|一次性|按照?[^，。；]{0,15}(?:比例|标准)|每家|每个|每项|每人|每位|每名|"
    r"每户|每年度|单个|单项|扣除|减免|比例为|罚款|门槛|申报条件|须具备|应具备|要求"
)
_OUTPUT_VERB = re.compile(
    r"(?:建成|新建|建设|辟建|组建|创建|共建|筹建|培育|培养|孵化|引进|引育|招引|集聚|聚集|吸引|实施|转化|认定|"
    r"备案|新增|增加|打造|布局|设立|成立|攻克|突破|取得|获批|争创|落地|签约|推广|形成|制定|启动|储备|遴选|评选|"
    r"入选|获得|获|扶持|建立|部署|新设|设置|开发|研发|研制|申请|授权|登记|发布|举办|承办|落户|入驻|生成|"
    r"服务|带动|吸纳|新认定|拥有|现有|已有|共有|有|达到|达|超过|超|突破|提供|完成|攻关|立项|支持建设|"
    r"资助|兑现|解决|培训|选派|派驻|认定为|纳入|新培育|新引进|新建成|建好|办好|修订|制修订|新开工|开工|竣工|"
    r"投用|投产|挂牌|揭牌|授牌|命名|批复|批准|备案登记)$"
)
_FILLER_TAIL = re.compile(r"(?:了|累计|共|共计|新|再|总计|合计|约|近|超过|超|突破|不少于|不低于|以上|逾|力争|"
                          r"争取|确保|每年|年均|分别|各|至少|左右|达到|达)$")
_ACHIEVE_AFTER = re.compile(r"获批|入选|获得|荣获|获评|被认定|通过认定|通过评审|落地|落户|签约|建成|投产|开工|"
                            r"上榜|进入|纳入|列入|晋级|获奖|参加|参与|达到|实现|完成")
_POST_FOLLOW = re.compile(
    r"^(?:[、，,。；;:!?！？)\]」”\"’和与及或而并]|以[上下内]|左右|上下|增|同比|比|较|占|居|位|分别|其中|是|为|实现|"
    r"达到|达|的目标|的水平|目标|任务|$|，|以|提高|提升|下降|降低|减少|规模|水平|大关|关口|台阶)"
)
_SCOPE_WORDS = re.compile(r"(?:全省|全市|全区|全县|我省|我市|本省|本市|省内|市内|全国|全社会|当年|今年|全年|"
                          r"目前|截至[^，,]*|其中|同时|此外|另外|总计|合计|共)$")


def _strip_fillers(before: str) -> str:
    prev = None
    while prev != before:
        prev = before
        before = _FILLER_TAIL.sub("", before.rstrip())
    return before


def is_prenominal(after: str) -> bool:
    """The quantity modifies a noun that follows it (7个生态圈, 10家以上中试熟化基地)."""
    after = after.lstrip()
    if not after:
        return False
    if after.startswith("的"):
        return not re.match(r"^的(?:目标|水平|规模)", after)
    return not _POST_FOLLOW.match(after)


def is_statement(q: Quantity, before: str, after: str, clause_text: str,
                 later_in_clause: bool) -> bool:
    """Decide whether quantity ``q`` is a figure about a measurable indicator.

    ``before``/``after`` are the clause text before the number and after its qualifier;
    ``later_in_clause`` says whether another candidate quantity follows in the same clause.
    """
    if not q.unit:
        return bool(re.search(r"(?:指数|得分|评分)(?:达到|达|为|提高到|提升到)?$", before)) and not q.chinese
    if re.search(r"等\s*(?:共|约|近|超过)?$", before):
        return False                                   # 等5项: sums up a list
    if after.startswith(("级", "量级", "以上级", "元级")):
        return False                                   # 千亿元级: a threshold
    if _RULE_CONTEXT.search(clause_text):
        return False                                   # subsidy rules, eligibility thresholds
    pre = is_prenominal(after)
    if pre and later_in_clause:
        return False                                   # 超千亿元高新区超8家, 7个生态圈…共56家
    if q.is_measure:
        if q.single_char and q.unit not in ("成", "倍", "%"):
            return bool(q.suffix or q.inner)
        return True
    # classifier units (家, 个, 项, 件, 人 ...)
    if q.single_char:
        return bool(q.suffix or q.inner or re.search(r"(?:超过|突破|超|近|约|逾|不少于)$", before))
    if not pre:
        return True                                    # post-nominal: 高新技术企业达到15000家
    verb_zone = _strip_fillers(before)
    if _OUTPUT_VERB.search(verb_zone) or re.search(r"(?:突破|超过|达到|新增|累计)$", before.rstrip()):
        return True
    lead = _SCOPE_WORDS.sub("", before.strip(" ，,"))
    if not lead.strip() and _ACHIEVE_AFTER.search(after):
        return True
    return False


# ============================================================================================
# Kind (target / achieved)
# ============================================================================================

_TARGET_CUES = [
    r"(?<!截)[到至]\s*(?:19|20)\d\d\s*年", r"(?:19|20)\d\d\s*年(?:之)?前", r"到\s*[“\"]?十[三四五六]五",
    r"十[四五六]五\s*[”\"]?\s*(?:末|期末|时期|期间)", r"力争", r"争取", r"确保", r"预计", r"预期", r"目标",
    r"(?<![\u4e00-\u9fa5]拟)拟", r"今年(?!以来)", r"本年度?(?!以来)", r"明年", r"年内", r"届时", r"期末", r"努力",
    r"规划(?=建设|布局|面积|用地|新建|打造|实施|总)", r"(?<![研发项技才动划作专点家省市级展])计划(?![项单书])",
    r"要(?=达到|实现|突破|确保)", r"将(?=达到|突破|超过|实现|新增|建成)", r"推动[^，。]{0,12}(?:达到|突破)",
]
_ACHIEVED_CUES = [
    r"截[至止]", r"目前", r"现有", r"已(?!于)", r"同比", r"比上年", r"较上年", r"上年", r"去年", r"过去",
    r"以来", r"十三五\s*[”\"]?\s*(?:期间|时期|以来)", r"共有", r"实现了", r"达到了", r"增长了", r"完成了",
    r"获批", r"位居",
    r"前[一二三]季度|上半年|一季度|1-\d{1,2}月",
]
_TARGET_RE = re.compile("|".join(f"(?:{p})" for p in _TARGET_CUES))
_ACHIEVED_RE = re.compile("|".join(f"(?:{p})" for p in _ACHIEVED_CUES))
_FRAME_TARGET = re.compile(r"(?<!截)[到至]\s*(?:19|20)\d\d\s*年|十[四五六]五\s*[”\"]?\s*(?:末|期末|时期|期间)|"
                           r"规划(?=建设|布局|面积|用地|新建)|(?<![研发项技才动划作专点家省市级展])计划(?![项单书])|"
                           r"目标|今年(?!以来)|明年")
_STRONG_CUE = re.compile(r"(?<!截)[到至]\s*(?:19|20)\d\d\s*年|十[四五六]五|目标|规划|计划|今年|明年|截[至止]|目前|以来|"
                         r"过去|去年|上年|前[一二三]季度|上半年|1-\d{1,2}月")


_FYP_END = {"三": 2020, "四": 2025, "五": 2030, "六": 2035}


def last_cue(text: str, doc_year: int | None = None) -> tuple[int, str] | None:
    """(position, kind) of the last kind cue in ``text``.

    A time cue of a target (到2025年, “十四五”末) that the document's date has already passed reports
    an outcome: in a 2026 report, 到2025年底… is achieved.
    """
    best = None
    for regex, kind in ((_TARGET_RE, "target"), (_ACHIEVED_RE, "achieved")):
        for m in regex.finditer(text):
            if best is None or m.start() >= best[0]:
                if kind == "target" and doc_year is not None:
                    y = re.search(r"(?:19|20)\d\d", m.group(0))
                    fyp = re.search(r"十([三四五六])五", m.group(0))
                    year = int(y.group(0)) if y else (_FYP_END[fyp.group(1)] if fyp else None)
                    if year is not None and year < doc_year:
                        kind = "achieved"
                best = (m.start(), kind)
    return best


def year_kind(year: int | None, doc_year: int | None) -> str | None:
    if year is None or doc_year is None:
        return None
    if year < doc_year:
        return "achieved"
    if year > doc_year:
        return "target"
    return None


# ============================================================================================
# Year
# ============================================================================================

_YEAR_EXPR = re.compile(
    r"(?P<base>比|较|相比|与|同|较之|对比|高于|低于|是|为)?\s*"
    r"(?:(?P<y1>(?:19|20)\d\d)\s*[-—～至到]\s*)?(?P<y>(?:19|20)\d\d)\s*年(?!以来)"
    r"|(?P<base2>比|较|与|同)?(?P<rel>今年|本年|全年|年内|当年|明年|去年|上年|上一年|过去一年|前年)(?!以来)"
    r"|(?P<fyp>十[三四五六]五)\s*[”\"]?\s*(?:末|期末|时期|期间|以来)?"
    r"|(?P<since>今年以来|本年以来|今年前)"
    r"|(?P<cur>截[至止]\s*(?:目前|\d{1,2}\s*月|[上下]半年|年底|年末)|前[一二三]季度|上半年|一季度|1-\d{1,2}月|"
    r"目前|当前|现阶段)"
)


def year_mentions(text: str, offset: int, doc_year: int | None,
                  own_clause: bool = False, explicit: bool = False,
                  current_year: int | None = None) -> list[tuple[int, int]]:
    """(position, year) for every year expression in ``text`` that dates a figure (base years skipped).

    With ``own_clause`` (``text`` runs up to the number being dated), a year followed by another number
    dates that number, not ours (由2015年的1.04%提高到1.68%: 2015 is not the year of 1.68%).
    """
    out = []
    for m in _YEAR_EXPR.finditer(text):
        pos = offset + m.start()
        if own_clause and re.search(r"\d", _MASK_RE.sub("", text[m.end():])):
            continue
        if m.group("y"):
            if m.group("base"):
                continue
            out.append((pos, int(m.group("y"))))
        elif m.group("rel"):
            if m.group("base2") or doc_year is None:
                continue
            rel = m.group("rel")
            delta = {"明年": 1, "去年": -1, "上年": -1, "上一年": -1, "过去一年": -1, "前年": -2}.get(rel)
            if delta is None:       # 今年/全年/当年: the year of the section (工作回顾 of 2023) or document
                out.append((pos, current_year or doc_year))
            else:
                out.append((pos, doc_year + delta))
        elif m.group("since") and doc_year is not None:
            out.append((pos, doc_year))
        elif m.group("fyp"):
            out.append((pos, {"三": 2020, "四": 2025, "五": 2030, "六": 2035}[m.group("fyp")[1]]))
        elif m.group("cur") and doc_year is not None and not explicit:
            out.append((pos, doc_year))        # 目前, 截至10月: the document's year
    return out


# ============================================================================================
# Region
# ============================================================================================

_PROVINCE_SCOPE = re.compile(r"全省|我省|本省|省内")
_CITY_SCOPE = re.compile(r"全市|我市|本市|市内|市域")
_SUB_AREA_MARK = re.compile(r"(?<!高)新区|大走廊|科创走廊|科学城|科技城|(?<=[\u4e00-\u9fa5]{2})高新区|经济技术开发区|经开区")
_AREA_LEAD_VERBS = re.compile(r"^(?:推动|推进|建设|加快|依托|支持|打造|高标准|高质量|规划|中国|其中|在|将|把|对|以|"
                              r"和|与|及|全力|加速|聚焦|围绕|发挥|做强|做优|提升)+")
_GENERIC_AREA_NAME = re.compile(r"^(?:各|全|城市|国家|省级|市级|新|该|本|我|一批|重点|以上|等|各类|有关|相关|所在)")
_LOCAL_UNIT = re.compile(r"^(?:\s|□|在|其中|同时|另外|此外)*([\u4e00-\u9fa5]{2,3}?)(区|县|市|旗)"
                         r"(?![、和与及等场民级政委属值域内外直辖管长])")
_GENERIC_LOCAL = re.compile(r"^(?:全|各|城|市|辖|园|社|片|景|本|该|我|新|郊|老|主|山|农|牧|重点|中心|核心|高新|开发|"
                            r"示范|试验|功能|集聚|先行|经济|保税|自贸|产业|工业|省|地)|(?:高新|开发|示范|试验|功能|集聚|"
                            r"先行|经济|保税|自贸|产业|工业|城乡|市县|区县|县市)$")


_COMMON_AREA_WORDS = set(
    "地区 社区 园区 城区 景区 市区 山区 林区 牧区 矿区 校区 片区 街区 灾区 老区 新区 特区 辖区 郊区 湾区 专区 库区 厂区 "
    "小区 港区 岛区 营区 展区 分区 学区 疫区 县区 区县 城市 都市 股市 楼市 超市 集市 上市 夜市 开市 县市 区市 各市 省市 "
    "红旗 国旗 彩旗 郡县 州县 市县 各县 全县 本县 该县 全区 各区 本区 该区".split()
)
_NOT_NAME_START = set("占在对向把将为以从由按经全各本该每其此这那等和与及或并且也都均共约近超达到了的是有")


def is_local_unit_name(name: str, suffix: str) -> bool:
    """``宁海``+``县`` names a place; ``占地``+``区`` (占地区生产总值) or ``园``+``区`` do not."""
    if not name or name[0] in _NOT_NAME_START or name[-1] + suffix in _COMMON_AREA_WORDS:
        return False
    return not _GENERIC_LOCAL.search(name)


@dataclass
class RegionEvent:
    pos: int
    region: str
    until: int | None = None     # sentence-scoped events stop applying here


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


def region_events(ctx: DocContext, para: Segment) -> list[RegionEvent]:
    """Region switches inside a paragraph: places, 全省/全市 scope words, named sub-areas, by position."""
    text = ctx.cue[para.start:para.end]
    events: list[RegionEvent] = []
    groups = [(para.start + m.start(), para.start + m.end()) for m in _PLACE_GROUP_RE.finditer(text)]
    for start, _ in groups:                             # 济南、青岛两市…: several cities → the level above
        events.append(RegionEvent(start, ctx.city_region or ctx.province or ctx.region))
    for pos, region, province in find_places(text, para.start):
        if any(a <= pos < b for a, b in groups):
            continue
        if ctx.province and province and province != ctx.province:
            continue                                    # another province's experience, not ours
        if region == ctx.province:
            region = ctx.region if ctx.city_region is None else ctx.province
            if ctx.city_region is not None:
                continue                                # 居全省第一: a comparison in a city's text
        events.append(RegionEvent(pos, region))
    if ctx.city_region is None and ctx.province and "自治区" in ctx.province:
        for m in re.finditer(r"全区|我区|全自治区", text):     # 广西、宁夏…: 全区 is the whole region
            events.append(RegionEvent(para.start + m.start(), ctx.province))
    if ctx.city_region is None:
        for m in _PROVINCE_SCOPE.finditer(text):
            events.append(RegionEvent(para.start + m.start(), ctx.province or ctx.region))
    for m in _CITY_SCOPE.finditer(text):
        events.append(RegionEvent(para.start + m.start(), ctx.city_region or "unknown city"))
    events.sort(key=lambda e: e.pos)
    # sentence-scoped: named sub-areas (科技城新区, 甬江科创大走廊) and a county/district as subject
    for sentence in split_sentences(ctx.norm, para):
        s_text = ctx.cue[sentence.start:sentence.end]
        for m in _SUB_AREA_MARK.finditer(s_text):
            name = named_area(s_text[: m.start()])
            full = (name or "") + m.group(0)
            if not name or name in _GAZETTEER or full in _NEW_AREAS or full in _GAZETTEER:
                continue
            pos = sentence.start + m.start() - len(name)
            base = _city_level(ctx, _region_at(events, pos, ctx.region))
            events.append(RegionEvent(pos, base + full, sentence.end))
        for clause in split_clauses(ctx.norm, sentence):
            c_text = ctx.masked[clause.start:clause.end]
            m = _LOCAL_UNIT.match(c_text)
            if not m or not is_local_unit_name(m.group(1), m.group(2)) or m.group(1) in _GAZETTEER or \
                    m.group(1) + m.group(2) in _GAZETTEER or m.group(1) in _PROVINCES:
                continue
            pos = clause.start + m.start(1)
            base = _city_level(ctx, _region_at(events, pos, ctx.region))
            events.append(RegionEvent(pos, base + m.group(1) + m.group(2), sentence.end))
    events.sort(key=lambda e: e.pos)
    return events


def _region_at(events: list[RegionEvent], pos: int, default: str) -> str:
    region = default
    for e in events:
        if e.pos >= pos:
            break
        if e.until is None or pos < e.until:
            region = e.region
    return region


# ============================================================================================
# Indicator phrase and catalogue mapping
# ============================================================================================

_SCOPE_PREFIX = r"(?:全社会|全省|全市|全区|全县|全国|我省|我市|本省|本市)*"
_RD = r"(?:R&D|R＆D|研发|研究与试验发展|研究与实验发展|研究和试验发展|科研)"
_INDICATOR_RULES: list[tuple[str, re.Pattern, str]] = [
    ("rd_personnel_per_10k_labour",
     re.compile(rf"每万(?:名)?就业人员(?:中)?(?:的)?{_RD}人员|万名就业人员{_RD}人员"), "any"),
    ("invention_patents_per_10k",
     re.compile(r"(?<!高价值)(?:每万人口?|万人)(?:拥有)?(?:有效)?发明专利(?:拥有量|拥有数|数)?$"), "any"),
    ("tech_progress_contribution", re.compile(r"科技进步贡献率"), "any"),
    ("hightech_output_share",
     re.compile(r"高新技术产业(?:总)?(?:产值|增加值)(?:占[^，。]{0,20}(?:工业)[^，。]{0,12}(?:比重|比例)|占比)"),
     "percent"),
    ("rd_intensity",
     re.compile(rf"^{_SCOPE_PREFIX}{_RD}(?:经费)?(?:投入|支出)?(?:强度|"
                r"(?:占|相当于)[^，。]{0,8}(?:GDP|生产总值|地区生产总值)[^，。]{0,4}(?:的)?(?:比重|比例)?$)"), "percent"),
    ("tech_contract_turnover",
     re.compile(r"(?<!吸纳)(?<!输入)技术合同(?:成交|登记|交易|认定登记)?(?:总)?(?:金)?额|技术市场(?:成交|交易)(?:总)?(?:金)?额|"
                r"技术交易(?:总)?额"), "money_or_growth"),
    ("hightech_enterprises_new",
     re.compile(r"(?:新认定|新增|评审通过|新培育|认定|净增|新申报认定|通过认定)[^，。]{0,6}(?:国家级?)?高新技术企业(?:数|数量)?$|"
                r"(?:新认定|新增)(?:的)?高企(?:数|数量)?$"), "count"),
    ("hightech_enterprises",
     re.compile(r"(?:国家级?|有效期内(?:的)?)?(?:高新技术企业|高企)(?:数|数量|总数|总量|存量)?$"), "count_or_growth"),
    ("incubators",
     re.compile(r"(?:孵化器|孵化载体)(?:数|数量|总数)?$"), "count_or_growth"),
    ("sci_tech_achievements_transformed",
     re.compile(r"(?:转移转化|转化)(?:了)?(?:的)?[^，。]{0,8}成果(?:数|数量)?$|成果(?:转移)?转化(?:项目)?(?:数|数量|项数)$"),
     "count"),
]
_RD_SPEND = re.compile(rf"^{_SCOPE_PREFIX}(?:共|累计|共计)?(?:投入|投资|支出)?{_RD}(?:经费)?(?:投入|支出)(?:总量|总额|规模)?$|"
                       rf"^{_SCOPE_PREFIX}(?:共|累计|共计)?(?:投入|投资|支出)?{_RD}经费(?:投入|支出)?(?:总量|总额|规模)?$")
_GROWTH_TAIL = re.compile(r"(?:年均|同比|平均|年|每年|较上年|比上年)?(?:增长|增速|增幅|递增|提高|提升|增加)(?:率)?$")
_MONEY = re.compile(r"元$")
_COUNT_UNITS = {"家", "个", "座", "所", "项", "件"}


_LEADING_DISTRICT = re.compile(
    r"^[\u4e00-\u9fa5]{2,4}?(?:区|县|旗|新区)(?=R&D|研发|研究与|研究和|全社会|高新技术|技术合同|技术市场|每万|科技进步|"
    r"科技企业孵化|孵化|新认定|新增)")


def strip_leading_places(text: str) -> str:
    """武汉市R&D经费投入 → R&D经费投入 (the region is a separate field)."""
    prev = None
    while prev != text:
        prev = text
        m = _PLACE_RE.match(text)
        if m:
            text = re.sub(r"^(?:市|省|地区)?", "", text[m.end():])
        text = _LEADING_DISTRICT.sub("", text)
        text = re.sub(r"^(?:[、和与及]|全省|全市|全区|全县|我省|我市|本省|本市|各地|其中|推动|推进|支持|促进|引导|"
                      r"鼓励|力争|确保|争取|[两三四五六七八九十]个?(?:市|区|县|地)|等(?:市|地|区|县)|各(?:市|地|区|县))",
                      "", text)
    return text


def map_indicator(indicator_text: str, unit: str, comparator: str) -> str:
    """Catalogue id for an indicator phrase, ``other`` unless the meaning matches exactly."""
    text = re.sub(r"\s+", "", normalize_text(indicator_text))
    text = re.sub(r"[(（][^()（）]{0,12}[)）]", "", text)             # 研究与试验发展(R&D)经费
    text = re.sub(r"[“”\"《》()（）]", "", text)
    text = re.sub(r"(?:比|较|相比|同比|与)(?:上年|去年|上年同期|同期|(?:19|20)\d\d年(?:底|末)?)(?:相比)?", "", text)
    text = strip_leading_places(text)
    growth = comparator == "growth"
    core = _GROWTH_TAIL.sub("", text) if growth else text
    core = re.sub(r"(?:的)?(?:水平|规模|总量)$", "", core) if not growth else core
    percent = unit in ("%", "个百分点", "百分点") or (growth and unit in GROWTH_UNITS)
    money = bool(_MONEY.search(unit))
    count = re.sub(r"^(?:万亿|亿|万)", "", unit) in _COUNT_UNITS

    # R&D spending: level, growth, intensity
    if growth and percent and _RD_SPEND.search(core):
        return "rd_expenditure_growth"
    for ident, pattern, need in _INDICATOR_RULES:
        if not pattern.search(core):
            continue
        if need == "percent" and not percent:
            continue
        if need == "count" and not count:
            continue
        if need == "count_or_growth" and not (count or (growth and percent)):
            continue
        if need == "money_or_growth" and not (money or (growth and percent)):
            continue
        return ident
    if money and not growth and _RD_SPEND.search(core):
        return "rd_expenditure"
    return "other"


_LEAD_CUE = re.compile(
    r"^(?:[、，,:：;；\s—-]|[(]?[\d一二三四五六七八九十]{1,3}[)、.](?!\d)|和|与|及|以及|并|其中|同时|此外|另外|"
    r"(?:力争|争取|确保|预计|计划|努力)(?:到)?|(?:到|至)\s*(?:19|20)\d\d\s*年(?:底|末)?|(?:19|20)\d\d\s*年(?:底|末)?|"
    r"截[至止][^，,]{0,8}(?:底|末|月)|目前|今年|全年|当年|年内)+"
)
_TRAIL_VERB = re.compile(
    r"(?:分别达到|分别为|分别|力争达到|力争突破|力争|达到了|达到|达|突破|超过|超|为|是|共计|共|合计|总计|提高到|提高至|"
    r"提升到|提升至|增至|增加到|增长到|扩大到|扩大至|上升到|上升至|不低于|不少于|高于|约|近|接近|逾|至少|有|实现|完成|"
    r"稳定在|保持在|控制在|在|首次|再次|首度|均|均已|已|已经|历史性|累计已|预计|有望|将|可|要|力争|争取|确保|"
    r"预计将|预计可|计划|首破)$"
)


_TRAIL_DATE = re.compile(r"(?:由|从|是|为)?(?:(?:19|20)\d\d年(?:底|末)?|目前|当前|现在|上年|去年|今年)?的$|"
                         r"(?:由|从)(?:(?:19|20)\d\d年(?:底|末)?)?$")


def clean_indicator(raw: str) -> str:
    """Indicator words from the text before a number: lead cues and trailing verbs removed."""
    text = raw.strip()
    prev = None
    while prev != text:
        prev = text
        text = _LEAD_CUE.sub("", text).strip()
        text = _TRAIL_VERB.sub("", text).strip()
        text = _TRAIL_DATE.sub("", text).strip()
    return text.strip(" ，,、")


def is_elliptical(indicator: str) -> bool:
    """The clause names no indicator of its own (同比增长 25%, 增长 10%, 占比 3%)."""
    bare = re.sub(r"(?:(?:比|较|相比|与)?(?:(?:19|20)\d\d年(?:底|末)?|上年|去年|同期))", "", indicator)
    bare = re.sub(r"(?:年均|同比|平均|分别|目前|当前|的)", "", bare)
    if re.fullmatch(r"(?:总数|总量|数量|总额|规模|累计|合计|共计|总计|新增|净增)+", bare):
        return True                                  # 总数达到45家: the previous clause's noun
    if re.match(r"^(?:占|其中|分别占)", bare):
        return True                                  # 占地区生产总值比重: a share of the previous noun
    return len(bare) == 0 or bool(re.fullmatch(r"(?:增长|增速|增幅|提高|提升|下降|降低|增加|占比|强度|投入强度|"
                                               r"增长率|其中|增至|提高到|提升到|增加到|达到|达|为|共)+", bare))


# ============================================================================================
# Section headings
# ============================================================================================

_HEADING_MARK = re.compile(r"^\s*(?:[一二三四五六七八九十]+[、.]|第[一二三四五六七八九十]+[章节部分]|[(][一二三四五六七八九十]+[)])")
_SECTION_TARGET = re.compile(r"目标|任务|安排|计划|展望|思路|要点|重点工作|预期|部署")
_SECTION_ACHIEVED = re.compile(r"回顾|成效|成就|基础|进展|现状|成绩|亮点|总结|完成情况|发展情况|取得")


def heading_kind(line: str) -> tuple[bool, str | None, int | None]:
    """(is_heading, section kind, section year) for a paragraph line."""
    s = line.strip()
    if len(s) > 30 or s.endswith(("。", "；", ";")) or not (_HEADING_MARK.match(s) or len(s) <= 15):
        return False, None, None
    kind = None
    if _SECTION_ACHIEVED.search(s):
        kind = "achieved"
    elif _SECTION_TARGET.search(s):
        kind = "target"
    m = re.search(r"(20\d\d)\s*年", normalize_text(s))
    return True, kind, int(m.group(1)) if m else None


# ============================================================================================
# The extractor
# ============================================================================================

@dataclass
class _Candidate:
    q: Quantity
    clause: Segment
    sentence: Segment
    para: Segment
    clause_index: int
    clauses: list[Segment]


def _candidates_in_sentence(ctx: DocContext, para: Segment, sentence: Segment) -> list[_Candidate]:
    clauses = split_clauses(ctx.norm, sentence)
    out = []
    for ci, clause in enumerate(clauses):
        seg_text = ctx.masked[clause.start:clause.end]
        qs = [q for q in find_quantities(seg_text)]
        for q in qs:
            q.start += clause.start
            q.end += clause.start
            q.qual_end += clause.start
        qs = [q for q in qs if q.unit or re.search(r"(?:指数|得分|评分)", ctx.norm[clause.start:q.start])]
        kept = []
        for i, q in enumerate(qs):
            before = ctx.norm[clause.start:q.start]
            after = ctx.norm[q.qual_end:clause.end]
            later = any(o.unit and o.start >= q.qual_end and not _is_threshold(ctx, o)
                        and not _coordinated(ctx, q, o) for o in qs[i + 1:])
            if is_statement(q, before, after, ctx.norm[clause.start:clause.end], later):
                kept.append(q)
            elif kept and _coordinated(ctx, kept[-1], q) and is_prenominal(after) and \
                    is_statement(q, ctx.norm[clause.start:kept[-1].start], after,
                                 ctx.norm[clause.start:clause.end], later):
                kept.append(q)              # 建设10家省实验室和20家以上技术创新中心: the verb is shared
        out.extend(_Candidate(q, clause, sentence, para, ci, clauses) for q in kept)
    return out


def _is_threshold(ctx: DocContext, q: Quantity) -> bool:
    """千亿元级, 百亿级: a size class inside a noun phrase, not a figure."""
    return ctx.norm.startswith(("级", "量级"), q.qual_end)


def _coordinated(ctx: DocContext, first: Quantity, second: Quantity) -> bool:
    """``first`` … 和/、/及 ``second``: two objects of one verb, not a threshold and its count."""
    between = ctx.norm[first.qual_end:second.start]
    return bool(re.search(r"(?:和|、|及|与|以及|并)$", between)) and not re.search(r"[，,]", between)


def _unique_span(ctx: DocContext, start: int, end: int, para: Segment) -> tuple[int, int]:
    """Widen [start, end) inside its paragraph until the span is unique in the document."""
    text = ctx.text
    while text.count(text[start:end]) > 1:
        if start > para.start:
            start -= 1
        elif end < para.end:
            end += 1
        else:
            break
    return start, end


_COPULA_VERBS = {"达到", "达", "超过", "超", "突破", "有", "拥有", "现有", "已有", "共有"}
_LIST_LEAD = re.compile(r"[\s，,、:：—-]+|[(]?[\d一二三四五六七八九十]{1,3}[)、.](?!\d)|和|与|及|以及|并且|并")


def _skip_lead(ctx: DocContext, pos: int, limit: int) -> int:
    """Move ``pos`` past separators, list numbers and conjunctions (not past ``limit``)."""
    while pos < limit:
        m = _LIST_LEAD.match(ctx.norm, pos, limit)
        if not m or m.end() == pos:
            break
        pos = m.end()
    return pos


@dataclass
class _Phrase:
    start: int              # span start
    end: int                # span end
    indicator: str          # indicator words of this clause
    elliptical: bool        # no indicator noun of its own: borrow the previous one


def _phrase(ctx: DocContext, cand: _Candidate, prev_end: int | None) -> _Phrase:
    """Span and indicator words for one candidate quantity."""
    q, clause = cand.q, cand.clause
    left = clause.start if prev_end is None or prev_end < clause.start else prev_end
    left = _skip_lead(ctx, left, q.start)
    before_raw = ctx.text[left:q.start]
    body_end = clause.end
    while body_end > q.qual_end and ctx.norm[body_end - 1] in "，,。；;:：!?！？ ":
        body_end -= 1
    if is_prenominal(ctx.norm[q.qual_end:clause.end]):
        # verb + number + noun (建成10家以上中试熟化基地) or number + 的 + noun
        verb_zone = _strip_fillers(ctx.norm[left:q.start])
        vm = _OUTPUT_VERB.search(verb_zone)
        noun_start = q.qual_end
        while noun_start < body_end and ctx.norm[noun_start] in " 的":
            noun_start += 1
        noun_end = body_end
        stop = re.search(r"正在|已经|已|将|并|共|，|,|、|(?:和|及|与)(?=[\d一二三四五六七八九十两])",
                         ctx.norm[noun_start + 2:body_end])
        if stop:
            noun_end = noun_start + 2 + stop.start()
        noun = ctx.text[noun_start:noun_end]
        verb, start = "", q.start
        if vm:
            vstart = left + vm.start()
            if vstart > left and ctx.norm[vstart - 1] == "新":
                vstart -= 1
            start = vstart
            if vm.group(0) not in _COPULA_VERBS:
                verb = ctx.text[vstart: left + vm.end()]
        elif clean_indicator(before_raw):
            start = left
        return _Phrase(start, max(noun_end, q.qual_end), (verb + noun).strip(), False)
    indicator = clean_indicator(before_raw)
    return _Phrase(left, q.qual_end, indicator, is_elliptical(indicator))


_CHANGE_TAIL = re.compile(r"(?:(?:比|较|同比|相比)(?:上年|去年|同期|(?:19|20)\d\d年(?:底|末)?)?)?"
                          r"(?:年均|平均|同比|年)?(?:增长|增速|增幅|增加|提高|提升|下降|降低|减少|扩大)(?:了|率)?$")


def strip_change_words(indicator: str) -> str:
    """``技术合同成交额同比增长`` → ``技术合同成交额``: the noun a following figure can borrow."""
    return _CHANGE_TAIL.sub("", indicator).strip()


def merge_indicator(head: str, own: str) -> str:
    """``R&D经费投入`` + ``投入强度`` → ``R&D经费投入强度``; ``技术合同成交额`` + ``同比增长`` → joined."""
    for k in range(min(len(head), len(own)), 0, -1):
        if head.endswith(own[:k]):
            return head + own[k:]
    return head + own


def _place_prefix(ctx: DocContext, item: str) -> tuple[int, str | None]:
    """(length, region) of a place name opening ``item`` (城市 from the gazetteer or a 区/县), else (0, None)."""
    places = find_places(item)
    if places and places[0][0] == 0:
        m = _PLACE_RE.match(item)
        length = m.end() if m else 0
        if item[length:length + 1] in ("市", "省"):
            length += 1
        province = places[0][2]
        if ctx.province and province and province != ctx.province:
            return length, None
        return length, places[0][1]
    m = re.match(r"([\u4e00-\u9fa5]{2,3}?)(区|县|旗)", item)
    if m and is_local_unit_name(m.group(1), m.group(2)):
        base = ctx.city_region if ctx.city_region and ctx.city_region != "unknown city" else \
            (ctx.province or ctx.region)
        return m.end(), base + m.group(0)
    return 0, None


def _respectively(ctx: DocContext, cand: _Candidate, k: int, cache: dict) -> tuple[str | None, str | None]:
    """For ``A、B分别为X和Y``: (indicator, region) of the k-th figure.

    When A and B are places (天河区、黄埔区分别新增高新技术企业600家和900家) they share the indicator
    and each figure gets its own region; otherwise A and B are the indicators.
    """
    clause_text = ctx.norm[cand.clause.start:cand.q.start]
    i = clause_text.find("分别")
    if i < 0:
        return None, None
    key = cand.clause.start
    if key not in cache:
        cache[key] = ctx.text[cand.clause.start + i + 2: cand.q.start]     # words between 分别 and X
    lead = clean_indicator(ctx.text[_skip_lead(ctx, cand.clause.start, cand.q.start): cand.clause.start + i])
    items = [x for x in re.split(r"[、和与及]", lead) if x]
    if len(items) < 2 or k >= len(items):
        return None, None
    prefixes = [_place_prefix(ctx, item) for item in items]
    tail = clean_indicator(cache[key])
    if all(length for length, _ in prefixes):
        shared = items[-1][prefixes[-1][0]:] + tail
        return shared or None, prefixes[k][1]
    return items[k] + (tail if tail and not re.fullmatch(r"[为是达到]+", tail) else ""), None


def _resolve_kind(ctx: DocContext, cand: _Candidate, clause_year: int | None, state: dict) -> str:
    """target / achieved: the nearest cue wins — the number's own clause (cue words, then a year before
    or after the document's date), earlier clauses of the sentence, the paragraph's frame (到2025年…,
    截至…), the section heading (主要目标 / 发展基础), the document's kind."""
    q = cand.q
    if re.search(r"(?:由|从)\s*(?:(?:19|20)\d\d\s*年(?:底|末)?|上年|去年|目前)?(?:的)?$", ctx.norm[cand.clause.start:q.start]):
        return "achieved"                    # 由2022年的3.9% (提高到4.2%): the baseline is a reported value
    clause_cue = last_cue(ctx.cue[cand.clause.start:q.start], ctx.year)
    if clause_cue:
        return clause_cue[1]
    yk = year_kind(clause_year, ctx.year)
    if yk:
        return yk
    for clause in reversed(cand.clauses[: cand.clause_index]):
        cue = last_cue(ctx.cue[clause.start:clause.end], ctx.year)
        if cue:
            return cue[1]
        years = year_mentions(ctx.norm[clause.start:clause.end], clause.start, ctx.year,
                              current_year=state.get("section_year"))
        if years:
            yk = year_kind(years[-1][1], ctx.year)
            if yk:
                return yk
    if state.get("frame_kind"):
        return state["frame_kind"]
    if state.get("section_kind"):
        return state["section_kind"]
    return ctx.default_kind


def _resolve_year(ctx: DocContext, cand: _Candidate, kind: str, state: dict) -> int | None:
    """The year a figure is for: a year (or 今年/去年/十四五末) in its clause, then earlier clauses, the
    paragraph's frame year, the section's year; else a plan's end year for targets (null outside
    plans) and the reported year for achieved figures."""
    q = cand.q
    clause_years = year_mentions(ctx.norm[cand.clause.start:q.start], cand.clause.start, ctx.year,
                                 own_clause=True, current_year=state.get("section_year"))
    if clause_years:
        return clause_years[-1][1]
    if ctx.year is None and re.search(r"今年|本年|全年|当年|明年|去年|上年|目前|截至",
                                      ctx.norm[cand.sentence.start:q.start]):
        return None                            # relative to a date the document does not give
    for clause in reversed(cand.clauses[: cand.clause_index]):
        years = year_mentions(ctx.norm[clause.start:clause.end], clause.start, ctx.year,
                              current_year=state.get("section_year"))
        if years:
            return years[-1][1]
    frame = state.get("frame_year")
    if frame is not None:
        fy, fkind = frame
        if fkind == kind or (kind == "target" and ctx.year and fy >= ctx.year) or \
                (kind == "achieved" and ctx.year and fy <= ctx.year):
            return fy
    if state.get("section_year") is not None:
        return state["section_year"]
    if kind == "target":
        if ctx.default_kind == "target" or ctx.plan_end_year:
            return ctx.plan_end_year
        if re.search(r"预计", ctx.norm[cand.sentence.start:q.start]):
            return state.get("section_year") or ctx.year     # 预计全年…: an estimate for the report's year
        return None
    if ctx.report_year is not None:
        return ctx.report_year
    if ctx.year is None:
        return None
    if ctx.report_like and ctx.month is not None and ctx.month <= 2 and \
            re.search(r"全年|过去一年|去年", ctx.norm[cand.sentence.start:cand.sentence.end]):
        return ctx.year - 1
    return ctx.year


def _resolve_region(ctx: DocContext, cand: _Candidate, events: list[RegionEvent]) -> str:
    return _region_at(events, cand.q.start, ctx.region)


def _update_frames(ctx: DocContext, sentence: Segment, state: dict) -> None:
    """After a sentence: remember target frames (到2025年, 规划, 力争) and sentence-initial achieved cues."""
    text = ctx.cue[sentence.start:sentence.end]
    clauses = split_clauses(ctx.norm, sentence)
    first = ctx.cue[clauses[0].start:clauses[0].end] if clauses else text
    frame = _FRAME_TARGET.search(text)
    if frame and last_cue(frame.group(0), ctx.year) != (0, "achieved"):
        state["frame_kind"] = "target"
    first_cue = last_cue(first, ctx.year)
    if first_cue and _STRONG_CUE.match(first, first_cue[0]):
        state["frame_kind"] = first_cue[1]     # 截至… / 到2025年… opening a sentence frames what follows
    years = year_mentions(ctx.norm[sentence.start:sentence.end], sentence.start, ctx.year, explicit=True,
                          current_year=state.get("section_year"))
    if years:
        y = years[0][1]
        state["frame_year"] = (y, state.get("frame_kind") or year_kind(y, ctx.year) or ctx.default_kind)


def extract_statements(text: str, meta: dict | None, doc_name: str) -> list[dict]:
    """Every quantitative target and achieved figure in ``text`` as gold-format dicts."""
    ctx = build_context(text, meta, doc_name)
    consumed: set[int] = set()
    results: list[dict] = table_statements(ctx, consumed)
    table_lines, pos = set(), 0
    for n, line in enumerate(ctx.norm.split("\n")):
        if n in consumed:
            table_lines.add(pos)
        pos += len(line) + 1
    state: dict = {}
    for para in split_paragraphs(ctx.norm):
        if any(a <= para.start < b for a, b in ctx.skip) or para.start in table_lines:
            continue
        is_head, sec_kind, sec_year = heading_kind(ctx.norm[para.start:para.end])
        if is_head:
            state["section_kind"] = sec_kind
            state["section_year"] = sec_year
        state.pop("frame_kind", None)
        state.pop("frame_year", None)
        events = region_events(ctx, para)
        for sentence in split_sentences(ctx.norm, para):
            results.extend(_statements_in_sentence(ctx, para, sentence, events, state))
            _update_frames(ctx, sentence, state)
    results.sort(key=lambda r: r["_pos"])
    for r in results:
        del r["_pos"]
    return results


def _statements_in_sentence(ctx: DocContext, para: Segment, sentence: Segment,
                            events: list[RegionEvent], state: dict) -> list[dict]:
    out: list[dict] = []
    prev: dict | None = None            # previous statement of the sentence (its head noun, span start)
    prev_end: int | None = None
    resp_seen: dict[int, int] = {}      # clause index → figures already given to 分别
    resp_cache: dict[int, str] = {}
    for cand in _candidates_in_sentence(ctx, para, sentence):
        q = cand.q
        ph = _phrase(ctx, cand, prev_end)
        comparator = detect_comparator(ctx.norm[cand.clause.start:q.start], q)
        indicator, head, start, region = ph.indicator, ph.indicator, ph.start, None
        k = resp_seen.get(cand.clause_index, 0)
        resp_indicator, resp_region = _respectively(ctx, cand, k, resp_cache)
        if resp_indicator or resp_region:
            resp_seen[cand.clause_index] = k + 1
            if resp_indicator:
                indicator = head = resp_indicator
            region = resp_region
        elif ph.elliptical:
            base, base_start = None, None
            if prev is not None:
                base, base_start = prev["_head"], prev["_start"]
            elif cand.clause_index > 0:
                pc = cand.clauses[cand.clause_index - 1]
                noun = clean_indicator(ctx.text[_skip_lead(ctx, pc.start, pc.end):pc.end].rstrip("，,:："))
                if noun:
                    base, base_start = noun, pc.start + ctx.text[pc.start:pc.end].find(noun)
            if base:
                indicator = merge_indicator(base, indicator)
                head = base
                start = min(start, base_start)
        if prev is not None and re.match(r"^合同(?:成交|登记|交易)", indicator) and "技术合同" in prev["_head"]:
            indicator = "技术" + indicator      # 技术合同登记1532项，合同成交额86.5亿元
            head = "技术" + head
        ident = map_indicator(indicator, q.unit, comparator)
        if ident == "other" and prev is not None and len(ph.indicator) <= 6 and not resp_indicator:
            alt = map_indicator(merge_indicator(prev["_head"], ph.indicator), q.unit, comparator)
            if alt != "other":
                ident = alt
        clause_years = year_mentions(ctx.norm[cand.clause.start:q.start], cand.clause.start, ctx.year,
                                     own_clause=True, current_year=state.get("section_year"))
        kind = _resolve_kind(ctx, cand, clause_years[-1][1] if clause_years else None, state)
        year = _resolve_year(ctx, cand, kind, state)
        start, end = _unique_span(ctx, start, max(ph.end, q.qual_end), para)
        stmt = {
            "doc": ctx.name,
            "kind": kind,
            "span": ctx.text[start:end],
            "indicator_text": indicator,
            "indicator": ident,
            "value": q.value,
            "unit": q.unit,
            "value_base": q.value_base,
            "comparator": comparator,
            "target_year": year,
            "region": region or _resolve_region(ctx, cand, events),
            "_pos": q.start,
        }
        out.append(stmt)
        prev = {"_head": strip_change_words(head) or head, "_start": start}
        prev_end = q.qual_end
    return out


# ============================================================================================
# Indicator tables (专栏: 指标 | 2020年 | 2025年 | 属性)
# ============================================================================================

_TABLE_UNITS = r"%|‰|个百分点|亿元|万元|元|万家|家|万个|个|万件|件|项|万人年|人年|万人|人|所|座|倍"
_ROW_NAME = re.compile(
    r"^\s*(?:\d{1,2}\s*[.、]?\s*)?(?P<name>[\u4e00-\u9fa5A-Za-z&“”\"·、/]{2,40}?)\s*"
    rf"\((?P<unit>{_TABLE_UNITS})\)")
_CELL_VALUE = re.compile(r"^(?P<cmp>[><≥≤]?)\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<suf>左右|以上|以下)?$")
_PLACEHOLDER = re.compile(r"^(?:—+|-+|/|／|…+|无|暂无|--)$")
_YEAR_CELL = re.compile(r"^(?:19|20)\d\d\s*年(?:目标值?|基数|基期|值|底|末)?$")


def _cells(line: str) -> list[str]:
    return [c for c in re.split(r"\t+|\s{2,}| (?=[><≥≤]?\d)", line.strip()) if c.strip()]


def table_statements(ctx: DocContext, consumed: set[int]) -> list[dict]:
    """Rows of indicator tables: name（unit） followed by one value per year column.

    Works on rows kept on one line (tab or space separated) and on tables flattened to one cell per
    line. The first of two values is the baseline (achieved), the last the target.
    """
    lines, pos = [], 0
    for line in ctx.norm.split("\n"):
        lines.append((pos, line))
        pos += len(line) + 1
    out: list[dict] = []
    header: list[int] = []
    pending: list[int] = []
    i = 0
    while i < len(lines):
        start, line = lines[i]
        stripped = line.strip()
        cells = _cells(line)
        years = [int(re.match(r"\d{4}", c).group(0)) for c in cells if _YEAR_CELL.match(c)]
        if len(years) >= 2 and len(stripped) <= 80:
            header, pending = years, []
            i += 1
            continue
        if len(cells) == 1 and _YEAR_CELL.match(stripped):
            pending.append(int(stripped[:4]))
            i += 1
            continue
        if len(pending) >= 2:
            header = pending
        pending = []
        m = _ROW_NAME.match(line)
        if not m or any(a <= start < b for a, b in ctx.skip):
            i += 1
            continue
        rest = _cells(line[m.end():])
        values: list[tuple[int, int, re.Match, int]] = []       # (abs start, abs end, match, column)
        if rest and all(_CELL_VALUE.match(c) or not re.search(r"\d", c) for c in rest):
            search_from = m.end()
            for col, c in enumerate(rest):
                off = line.index(c, search_from)
                search_from = off + len(c)
                vm = _CELL_VALUE.match(c)
                if vm:
                    values.append((start + off, start + off + len(c), vm, col))
                elif not _PLACEHOLDER.match(c):
                    break                                     # 预期性 / 约束性: the attribute column
            j = i + 1
        elif not rest:
            j, col = i + 1, 0
            while j < len(lines) and col < 4:
                cell = lines[j][1].strip()
                vm = _CELL_VALUE.match(cell)
                if not vm and not _PLACEHOLDER.match(cell):
                    break
                if vm:
                    s0 = lines[j][0] + lines[j][1].index(cell)
                    values.append((s0, s0 + len(cell), vm, col))
                j, col = j + 1, col + 1
        else:
            i += 1
            continue
        if not values:
            i += 1
            continue
        consumed.update(range(i, j))
        name, unit = m.group("name"), m.group("unit")
        name_start = start + m.start("name")
        n = len(values)
        for k, (v_start, v_end, vm, col) in enumerate(values):
            year = header[col] if col < len(header) else None
            if year is None and not header:
                year = ctx.plan_end_year if k == n - 1 else None
            if year is not None and ctx.year is not None:
                kind = "achieved" if year <= ctx.year else "target"
            else:
                kind = "target" if k == n - 1 else "achieved"
            value = float(vm.group("num"))
            if re.search(r"年均增长|增速|增长率|年均增幅", name) and unit in ("%", "个百分点"):
                comparator = "growth"
            elif vm.group("cmp") in (">", "≥") or vm.group("suf") == "以上":
                comparator = "ge"
            elif vm.group("cmp") in ("<", "≤") or vm.group("suf") == "以下":
                comparator = "le"
            elif vm.group("suf") == "左右":
                comparator = "approx"
            else:
                comparator = "eq"
            span_start, span_end = _unique_span(ctx, name_start, v_end, Segment(name_start, v_end))
            out.append({
                "doc": ctx.name, "kind": kind, "span": ctx.text[span_start:span_end], "indicator_text": name,
                "indicator": map_indicator(name, unit, comparator), "value": value, "unit": unit,
                "value_base": to_base(value, unit), "comparator": comparator, "target_year": year,
                "region": ctx.region, "_pos": v_start,
            })
        i = j
    return out


# ============================================================================================
# Files: .txt / .html and the sidecar NAME.meta.json
# ============================================================================================

class _TextExtractor(HTMLParser):
    """Visible text of an HTML page, one block element per line, navigation and footers dropped."""

    SKIP = {"script", "style", "noscript", "nav", "header", "footer", "aside", "form", "select", "button",
            "iframe", "svg", "template", "head"}
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
             "table", "ul", "ol", "dd", "dt", "blockquote", "pre", "hr", "thead", "tbody", "caption"}
    CELL = {"td", "th"}                  # cells of one table row stay on one line, tab-separated
    BOILER = re.compile(r"nav|menu|footer|header|breadcrumb|sidebar|copyright|share|crumb|banner|toolbar", re.I)
    VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []

    def _skipping(self) -> bool:
        return any(skip for _, skip in self.stack)

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCK:
            self.parts.append("\n")
        elif tag in self.CELL:
            self.parts.append("\t")
        if tag in self.VOID:
            return
        attr = " ".join(str(v) for k, v in attrs if k in ("class", "id", "role") and v)
        skip = tag in self.SKIP or bool(attr and self.BOILER.search(attr))
        self.stack.append((tag, skip))

    def handle_endtag(self, tag):
        if tag in self.BLOCK:
            self.parts.append("\n")
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if not self._skipping():
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Body text of an HTML page: tags stripped, boilerplate blocks skipped, blank lines squeezed."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = []
    for line in "".join(parser.parts).split("\n"):
        cells = [re.sub(r"[ \r\f\v]+", " ", c).strip() for c in line.split("\t")]
        lines.append("\t".join(c for c in cells if c))
    return "\n".join(line for line in lines if line)


def _decode_html(raw: bytes) -> str:
    m = re.search(rb"charset=[\"']?([A-Za-z0-9_-]+)", raw[:4096])
    encoding = m.group(1).decode("ascii").lower() if m else "utf-8"
    if encoding in ("gb2312", "gbk"):
        encoding = "gb18030"
    return raw.decode(encoding)


def read_meta(path: Path) -> dict:
    """The sidecar NAME.meta.json next to NAME.txt / NAME.html ({} when there is none)."""
    meta_path = path.with_name(path.name.rsplit(".", 1)[0] + ".meta.json")
    if not meta_path.exists():
        return {}
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if not isinstance(meta, dict):
        raise ValueError(f"{meta_path}: sidecar is not a JSON object")
    return meta


def read_text(path: str | Path) -> str:
    """Document text: UTF-8 ``.txt`` as is, ``.html`` reduced to its body text."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix.lower() in (".html", ".htm"):
        return html_to_text(_decode_html(raw))
    return raw.decode("utf-8-sig")


def extract_file(path: str | Path) -> list[dict]:
    """Statements of one ``.txt`` (UTF-8) or ``.html`` file, using its ``NAME.meta.json`` sidecar.

    Raises ``OSError`` for unreadable files and ``UnicodeDecodeError`` for undecodable bytes.
    """
    path = Path(path)
    text = read_text(path)
    return extract_statements(text, read_meta(path), path.name)
