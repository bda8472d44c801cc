"""Number grammar for Chinese policy texts.

Pure functions that turn the way Chinese government documents write quantities into numbers:

* Arabic digits (also full-width), thousands separators and decimals: ``15,000``, ``2.64``, ``１５０``;
* Chinese numerals: ``六百五十``, ``两千``, ``一万二千``, ``一百零五``, ``二〇二五``, ``二点五``;
* mixed forms: ``3.5万``, ``1.2亿``, ``3千``, ``千亿``;
* scale prefixes that belong to the unit: ``亿`` ×1e8, ``万`` ×1e4 (``2000亿元`` → value 2000, unit
  ``亿元``, base 2e11), ``成`` ×10 → percent (``九成`` → 9 成 → 90);
* ranges ``1-2``, ``1～2``, ``1至2`` (first value, comparator ``ge``), ``百分之十五``, ``%``, ``个百分点``;
* qualifiers mapped to a comparator: 以上/不低于/超/超过/突破/余/多 → ``ge``; 以下/以内/不超过/不高于 →
  ``le``; 左右/约/近 → ``approx``; 年均增长/同比增长/增长 X% → ``growth``; otherwise ``eq``.

Everything here works on plain strings and keeps character offsets, so callers can map a match back
to the original document (``normalize_text`` is length-preserving).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .script import to_simplified

# --------------------------------------------------------------------------------------------
# Character normalisation
# --------------------------------------------------------------------------------------------

_FULLWIDTH = {chr(0xFF10 + i): str(i) for i in range(10)}
_FULLWIDTH.update({chr(0xFF21 + i): chr(0x41 + i) for i in range(26)})
_FULLWIDTH.update({chr(0xFF41 + i): chr(0x61 + i) for i in range(26)})
_FULLWIDTH.update(
    {
        "．": ".",
        "％": "%",
        "－": "-",
        "＋": "+",
        "：": ":",
        "∶": ":",
        "（": "(",
        "）": ")",
        "＆": "&",
        "／": "/",
        "\u3000": " ",
        "\xa0": " ",
        "﹪": "%",
        "〜": "～",
        "~": "～",
        "—": "—",
        "–": "-",
        "‐": "-",
        "‑": "-",
        "―": "—",
        "＞": ">",
        "＜": "<",
        "≧": "≥",
        "≦": "≤",
    }
)
_FULLWIDTH_TABLE = str.maketrans(_FULLWIDTH)
_FULLWIDTH_THOUSANDS = re.compile(r"(?<=\d)，(?=\d{3}(?!\d))")


def normalize_text(text: str) -> str:
    """Map full-width digits, letters and signs to ASCII and traditional characters to simplified ones;
    the result has the same length as ``text``."""
    out = to_simplified(text.translate(_FULLWIDTH_TABLE))
    out = _FULLWIDTH_THOUSANDS.sub(",", out)
    assert len(out) == len(text)
    return out


# --------------------------------------------------------------------------------------------
# Numerals
# --------------------------------------------------------------------------------------------

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_BIG_UNITS = {"万": 10_000, "亿": 100_000_000}
SCALE_FACTORS = {"万亿": 1e12, "亿": 1e8, "万": 1e4}


def parse_arabic(text: str) -> float:
    """``'15,000'`` → 15000.0, ``'2.64'`` → 2.64 (input already half-width)."""
    return float(normalize_text(text).replace(",", ""))


def _parse_cn_below_wan(text: str) -> int | None:
    """Chinese integer below 10,000 (``六百五十``, ``十五``, ``两千``, ``一百零五``, colloquial ``一百五``)."""
    if not text:
        return 0
    if len(text) > 1 and all(ch in CN_DIGITS for ch in text):
        # 二〇二五 read digit by digit; 三四 (three or four) and 四五 (of 十四五) are not numbers
        if len(text) >= 3 and any(ch in "〇零" for ch in text):
            return int("".join(str(CN_DIGITS[ch]) for ch in text))
        return None
    total = 0
    digit: int | None = None
    last_unit = None
    seen_zero = False
    for ch in text:
        if ch in CN_DIGITS:
            if digit is not None and digit != 0:  # two digits in a row: invalid
                return None
            digit = CN_DIGITS[ch]
            if digit == 0:
                seen_zero = True
        elif ch in CN_SMALL_UNITS:
            unit = CN_SMALL_UNITS[ch]
            if last_unit is not None and unit >= last_unit:  # 十百 / 百百: invalid order
                return None
            total += (digit if digit is not None else 1) * unit
            digit = None
            last_unit = unit
        else:
            return None
    if digit:
        # colloquial 一百五 = 150, 两千五 = 2500 (a trailing digit right after 百/千, no 零)
        if last_unit in (100, 1000) and not seen_zero and text[-2] in "百千":
            total += digit * last_unit // 10
        else:
            total += digit
    return total


def parse_chinese_numeral(text: str) -> float | None:
    """Value of a Chinese numeral, or None when ``text`` is not one.

    >>> parse_chinese_numeral("六百五十"), parse_chinese_numeral("一万二千"), parse_chinese_numeral("千亿")
    (650.0, 12000.0, 100000000000.0)
    """
    if not text or text[0] in "万亿点":  # a bare scale (万人, 亿元) is not a number
        return None
    if "点" in text:  # 二点五, 百分之三点五
        whole, _, frac = text.partition("点")
        if not frac or not all(ch in CN_DIGITS for ch in frac):
            return None
        head = parse_chinese_numeral(whole) if whole else 0.0
        if head is None:
            return None
        return head + float("0." + "".join(str(CN_DIGITS[ch]) for ch in frac))
    if "亿" in text:
        left, _, right = text.partition("亿")
        high = parse_chinese_numeral(left) if left else 1.0
        low = parse_chinese_numeral(right) if right else 0.0
        if high is None or low is None:
            return None
        return high * 1e8 + low
    if "万" in text:
        left, _, right = text.partition("万")
        high = _parse_cn_below_wan(left) if left else 1
        if right and len(right) == 1 and right in CN_DIGITS and right not in "零〇":
            low = CN_DIGITS[right] * 1000  # colloquial 一万二 = 12000
        else:
            low = _parse_cn_below_wan(right)
        if high is None or low is None:
            return None
        return float(high * 10_000 + low)
    value = _parse_cn_below_wan(text)
    return None if value is None else float(value)


_MIXED = re.compile(r"^(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(?P<mult>[十百千]?)$")


def parse_numeral(text: str) -> float | None:
    """Arabic, Chinese or mixed (``3千``, ``1.5``) numeral without scale suffix → float or None."""
    text = normalize_text(text).strip()
    m = _MIXED.match(text)
    if m:
        value = parse_arabic(m.group("num"))
        if m.group("mult"):
            value *= CN_SMALL_UNITS[m.group("mult")]
        return value
    return parse_chinese_numeral(text)


def split_scale(numeral: str) -> tuple[str, str]:
    """Split a trailing scale (万, 亿, 万亿) off a numeral: ``'一百五十万'`` → ``('一百五十', '万')``.

    Internal scale characters stay in the numeral (``一万二千`` has no trailing scale).
    """
    m = re.search(r"(万亿|亿|万)$", numeral)
    if not m or m.start() == 0:
        return numeral, ""
    return numeral[: m.start()], m.group(1)


def unit_scale(unit: str) -> float:
    """Multiplier that takes a value in ``unit`` to base units: 亿元 → 1e8, 万人 → 1e4, 成 → 10."""
    if not unit:
        return 1.0
    if unit == "成":
        return 10.0
    for prefix, factor in SCALE_FACTORS.items():
        if unit.startswith(prefix):
            return factor
    return 1.0


def to_base(value: float, unit: str) -> float:
    """``value`` expressed in base units (``%`` stays percent)."""
    base = value * unit_scale(unit)
    return float(round(base, 6)) if abs(base) >= 1 else base


# --------------------------------------------------------------------------------------------
# Quantities (number + unit + qualifiers) in running text
# --------------------------------------------------------------------------------------------

# Units, longest first.  Time units (年, 月, 日, 天) are deliberately absent: durations and dates
# are never indicator values.
MEASURE_UNITS = [
    "个百分点",
    "百分点",
    "平方公里",
    "平方千米",
    "平方米",
    "万千瓦",
    "千瓦时",
    "千瓦",
    "兆瓦",
    "亿美元",
    "万美元",
    "美元",
    "万亿元",
    "亿元",
    "万元",
    "元",
    "人年",
    "%",
    "‰",
    "成",
    "倍",
    "亩",
    "公顷",
    "吨",
    "PF",
]
DOUBLING_UNIT = "番"  # set only by find_doublings: 番 is never read after a digit
COUNT_UNITS = [
    "人次",
    "家次",
    "场次",
    "家",
    "个",
    "项",
    "件",
    "人",
    "名",
    "位",
    "所",
    "座",
    "支",
    "台",
    "套",
    "户",
    "篇",
    "部",
    "种",
    "款",
    "场",
    "次",
    "辆",
    "株",
    "只",
    "艘",
    "架",
]
ALL_UNITS = sorted(MEASURE_UNITS + COUNT_UNITS, key=len, reverse=True)

# A unit character that is really the first character of a word ("5项目" does not occur, "成果" does).
_UNIT_WORD_CLASH = re.compile(
    r"^(?:成(?:果|为|立|功|本|效|员|熟|长|交|型|都|绩)|支(?:持|撑|付|出)|部(?:门|署|分|委|省)|项(?:目)|"
    r"名(?:单|称|义)|位(?:于|居|列)|台(?:阶)|所(?:有|属|在|得)|座(?:谈)|倍(?:增)|次(?:数)|人(?:员|才|民|口)|"
    r"件(?:事)|个(?:人|体)|家(?:庭|乡)|户(?:籍)|种(?:业|子|植|质)|款(?:项)|场(?:景|所|地|馆))"
)

_ARABIC = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_CN_NUM = r"[〇零一二两三四五六七八九十百千][〇零一二两三四五六七八九十百千万亿]*(?:点[〇零一二三四五六七八九]+)?"
# 超万家, 突破万亿元: a bare scale after 超/突破/近/逾 is one of it (1 万家)
_BARE_SCALE = r"(?<=[超破近逾])(?:万亿|亿|万)(?=[家项件个人户所元])"
_NUM = rf"(?:{_ARABIC}(?:[十百千](?![瓦克米]))?(?:万亿|亿|万)?|{_CN_NUM}|{_BARE_SCALE})"
_RANGE_CONN = r"[-～—至到]"
_QTY_RE = re.compile(
    rf"(?P<pct_prefix>百分之)?(?P<n1>{_NUM})(?P<u1>%)?"
    rf"(?:(?P<conn>{_RANGE_CONN})(?P<pct2>百分之)?(?P<n2>{_NUM}))?"
)
_SUFFIX_RE = re.compile(r"^\s*(?P<suffix>及以上|以上|以下|以内|左右|上下)")


@dataclass
class Quantity:
    """A number with its unit as found in text. Offsets are into the searched string."""

    start: int  # first character of the number (or of 百分之)
    end: int  # end of the unit
    qual_end: int  # end including a trailing qualifier (以上, 左右, ...)
    raw: str  # text[start:qual_end]
    value: float  # the number as written, Chinese numerals converted (九成 → 9)
    unit: str  # unit with its scale prefix (亿元, 万人, %, 成, 个百分点, ...); "" if none
    value_base: float  # value × unit scale
    is_range: bool = False
    inner: str = ""  # 余 / 多 between number and unit
    suffix: str = ""  # 以上 / 及以上 / 以下 / 以内 / 左右 / 上下
    chinese: bool = False  # the numeral is written in Chinese characters
    single_char: bool = False  # one Chinese character (一个, 两家, 千家) - usually not a statistic

    @property
    def is_measure(self) -> bool:
        """True for money, area, percent, ... units; False for classifiers (家, 个, 项)."""
        core = self.unit
        for prefix in ("万亿", "亿", "万"):
            if core.startswith(prefix) and len(core) > len(prefix):
                core = core[len(prefix) :]
                break
        return core in MEASURE_UNITS or core in ("万", "亿", "万亿", DOUBLING_UNIT)


def _numeral_value(numeral: str) -> tuple[float | None, str, bool]:
    """(value, scale, is_chinese) for a numeral token such as ``2000亿``, ``一万二千``, ``3.5万``."""
    if numeral in ("万", "亿", "万亿"):
        return 1.0, numeral, True  # 超万家 → 1 万家
    core, scale = split_scale(numeral)
    chinese = not re.match(r"\d", core)
    value = parse_numeral(core)
    return value, scale, chinese


def _match_unit(text: str, pos: int) -> str:
    for unit in ALL_UNITS:
        if text.startswith(unit, pos):
            if _UNIT_WORD_CLASH.match(text[pos : pos + len(unit) + 1]) and len(unit) == 1:
                return ""
            return unit
    return ""


def find_quantities(text: str) -> list[Quantity]:
    """Every number-with-unit in ``text`` (already normalised), left to right.

    Numbers without a unit are returned with ``unit == ""``; callers decide whether a bare number
    can be a statistic.
    """
    found: list[Quantity] = []
    pos = 0
    while True:
        m = _QTY_RE.search(text, pos)
        if not m:
            break
        q = _quantity_from_match(text, m)
        if q is None:
            pos = m.end("n1")  # skip the whole invalid numeral (十四五)
            continue
        found.append(q)
        pos = max(q.end, m.start() + 1)
    doublings = find_doublings(text)
    taken = [(d.start, d.end) for d in doublings]
    found = [q for q in found if not any(a <= q.start < b for a, b in taken)] + doublings
    return sorted(found, key=lambda q: q.start)


_DOUBLING = re.compile(r"翻(?P<n>[一两二三四])?番|(?<!增长)(?<!年)倍增(?!计划|行动|工程|计)")
_DOUBLINGS = {None: 1, "一": 1, "两": 2, "二": 2, "三": 3, "四": 4}


def find_doublings(text: str) -> list[Quantity]:
    """翻一番 (1 番), 翻两番 (2 番), 翻番 and 倍增 (1 番): a change of level written without digits."""
    out = []
    for m in _DOUBLING.finditer(text):
        value = float(_DOUBLINGS[m.group("n")] if m.group(0).startswith("翻") else 1)
        out.append(
            Quantity(
                start=m.start(),
                end=m.end(),
                qual_end=m.end(),
                raw=m.group(0),
                value=value,
                unit="番",
                value_base=value,
                chinese=True,
            )
        )
    return out


def _quantity_from_match(text: str, m: re.Match) -> Quantity | None:
    v1, scale1, chinese = _numeral_value(m.group("n1"))
    if v1 is None:  # 十四五 and the like: not a number
        return None
    end = m.end("n1")
    percent = bool(m.group("pct_prefix"))
    if m.group("u1"):
        percent = True
        end = m.end("u1")
    scale = scale1
    is_range = False
    if m.group("n2"):
        v2, scale2, _ = _numeral_value(m.group("n2"))
        if v2 is not None and v2 > v1 and (not scale1 or not scale2 or scale1 == scale2):
            is_range = True
            scale = scale2 or scale1
            end = m.end("n2")
            percent = percent or bool(m.group("pct2"))
    inner = ""
    if percent:
        if is_range and text.startswith("%", end):
            end += 1
        unit_base = "%"
    else:
        k = end + (1 if text[end : end + 1] in ("余", "多") else 0)
        unit_base = _match_unit(text, k)
        if unit_base:
            inner = text[end:k]
            end = k + len(unit_base)
        elif k > end and scale:  # 3亿余 (no unit after)
            inner = text[end:k]
            end = k
    if unit_base in ("%", "‰", "成") and scale:
        return None  # 3万% is not a quantity
    if unit_base == "成" and not chinese and v1 > 10:
        return None
    unit = unit_base if unit_base in ("%", "‰", "成") else scale + unit_base
    suffix = ""
    qual_end = end
    sm = _SUFFIX_RE.match(text[end : end + 4])
    if sm and unit:
        suffix = sm.group("suffix")
        qual_end = end + sm.end()
    start = m.start()
    return Quantity(
        start=start,
        end=end,
        qual_end=qual_end,
        raw=text[start:qual_end],
        value=float(v1),
        unit=unit,
        value_base=to_base(float(v1), unit),
        is_range=is_range,
        inner=inner,
        suffix=suffix,
        chinese=chinese,
        single_char=chinese and len(m.group("n1")) == 1 and not is_range,
    )


def parse_quantity(text: str) -> Quantity | None:
    """The first quantity in ``text`` (convenience for callers and tests)."""
    found = find_quantities(normalize_text(text))
    return found[0] if found else None


# --------------------------------------------------------------------------------------------
# Comparators
# --------------------------------------------------------------------------------------------

GROWTH_UNITS = {"%", "个百分点", "百分点", "倍", "成", "‰", "番"}
_GROWTH_BEFORE = re.compile(
    r"(?:增长|增速|增幅|递增|提高|提升|上升|下降|降低|减少|增加|扩大|翻)"
    r"(?:了|率|分别|分别为|分别达到?|达到|达|为|超过|超|约|近|在|保持在|高于|不低于|目标|目标为|达到了)?$"
)
_PREFIX_COMPARATORS = {
    "ge": [
        "不低于",
        "不少于",
        "不小于",
        "超过",
        "超出",
        "超",
        "突破",
        "逾",
        "高于",
        "大于",
        "多于",
        "至少",
        "以上",
        "首破",
        "破",
        "迈上",
        "跨越",
    ],
    "le": [
        "不超过",
        "不高于",
        "不多于",
        "不大于",
        "低于",
        "少于",
        "小于",
        "控制在",
        "压缩到",
        "压缩至",
        "降至",
        "降到",
    ],
    "approx": ["约", "近", "接近", "将近", "大约", "约为", "大概", "近乎"],
}
_PREFIX_WORDS = sorted(
    ((w, c) for c, ws in _PREFIX_COMPARATORS.items() for w in ws), key=lambda wc: len(wc[0]), reverse=True
)
_FILLER_BEFORE = re.compile(
    r"(?:达到|达|到|为|了|在|共|共计|累计|合计|总计|分别|力争|争取|确保|有|实现|完成|增至|"
    r"提高到|提升到|首次|再次|均|已)$"
)


def detect_comparator(before: str, q: Quantity) -> str:
    """Comparator for quantity ``q`` given the text right before it (same clause).

    Priority: ``growth`` > range/以上/余 (``ge``) > 以下 (``le``) > 左右 (``approx``) > prefix words.
    """
    if q.unit == "番":
        return "growth"  # 翻一番, 倍增
    before = _LISTED_FIGURES.sub("", before.rstrip())  # 分别增长了55.7%、15.4%: the verb is shared
    if q.unit in GROWTH_UNITS and is_growth_context(before):
        return "growth"
    if q.unit == "倍" and _TIMES_OF.search(before):
        return "growth"  # 是2015年的2.4倍: a change of level
    if is_change_of_level(before, q.unit):
        return "growth"  # 净增529家, 提高7件, 新增20亿元
    if q.is_range:
        return "ge"
    if q.suffix in ("以上", "及以上"):
        return "ge"
    if q.suffix in ("以下", "以内"):
        return "le"
    if q.suffix in ("左右", "上下"):
        return "approx"
    if q.inner in ("余", "多"):
        return "ge"
    return comparator_from_prefix(before)


_LISTED_FIGURES = re.compile(r"(?:\d+(?:\.\d+)?\s*(?:%|个百分点|倍)?\s*[、和及与]\s*)+$")
_TIMES_OF = re.compile(r"(?:是|为|相当于|达到?)[^，。；,;]{0,16}的\s*(?:近|约|超过|超)?$")
_CHANGE_OF_LEVEL = re.compile(r"(?:净增|净增加|增加|提高|提升|增长|多增|增多)(?:了)?(?:超过|超|近|约|逾)?$")
_NEW_MONEY = re.compile(r"新增(?:了)?(?:超过|超|近|约|逾)?$")


def is_change_of_level(before: str, unit: str) -> bool:
    """净增/增加/提高 N of a stock (家, 件, 人, 亿元): the value is a change, not a level. A count
    of new items (新增高新技术企业N家) stays a count; new money (新增20亿元) is a change of a stock."""
    tail = before.rstrip()[-12:]
    if _CHANGE_OF_LEVEL.search(tail) or re.search(r"净增(?:加)?[^，。；,;\d]{1,12}$", tail):
        return True  # 净增529家, 净增高新技术企业550家
    return bool(unit.endswith("元") and (_NEW_MONEY.search(tail) or re.search(r"新增[^，。；,;\d]{1,14}$", tail)))


def comparator_from_prefix(before: str) -> str:
    """``ge``/``le``/``approx``/``eq`` from the words just before a number (filler verbs skipped).

    The longest qualifier wins, so 不低于 is ``ge`` although it ends with 低于.
    """
    tail = before.rstrip()[-10:]
    for _ in range(3):
        for word, comp in _PREFIX_WORDS:
            if tail.endswith(word):
                return comp
        m = _FILLER_BEFORE.search(tail)
        if not m:
            break
        tail = tail[: m.start()]
    return "eq"


def is_growth_context(before: str) -> bool:
    """True when the words right before a percentage make it a growth rate (年均增长, 同比增长, 增长)."""
    tail = before.rstrip()[-10:]
    # 提高到 / 增长到 / 增至 give a level, not a rate
    if re.search(r"(?:到|至|为)$", tail) and not re.search(r"(?:增长|增速|增幅)(?:率)?(?:达到|为)$", tail):
        return False
    return bool(_GROWTH_BEFORE.search(tail))
