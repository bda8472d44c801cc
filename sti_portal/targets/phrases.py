"""Indicator words and span of a figure: reaching back for the noun, 分别, elliptical clauses."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .candidates import OUTPUT_VERB, Candidate, is_prenominal, strip_fillers
from .context import DocContext
from .gazetteer import PLACE_RE, find_places
from .regions import is_local_unit_name
from .vocabulary import strip_leading_places

_LEAD_CUE = re.compile(
    r"^(?:[、，,:：;；\s—-]|[(]?[\d一二三四五六七八九十]{1,3}[)、.](?!\d)|和|与|及|以及|并|其中|同时|此外|另外|"
    r"(?:力争|争取|确保|预计|计划|努力)(?:到)?|(?:到|至)\s*(?:19|20)\d\d\s*年(?:底|末)?|(?:19|20)\d\d\s*年(?:底|末|度)?|"
    r"(?:到|至|于)?[“\"]?十[三四五六]五[”\"]?(?:末期|期末|末|时期|期间)?|"
    r"截[至止][^，,]{0,8}(?:底|末|月)|目前|今年|全年|当年|年内)+"
)
_TRAIL_VERB = re.compile(
    r"(?:分别达到|分别为|分别|力争达到|力争突破|力争|达到了|达到|达|突破|超过|超|为|是|共计|共|合计|总计|提高到|提高至|"
    r"提升到|提升至|增至|增加到|增长到|扩大到|扩大至|上升到|上升至|不低于|不少于|高于|约|近|接近|逾|至少|有|实现|完成|"
    r"稳定在|保持在|控制在|在|首次|再次|首度|均|均已|已|已经|历史性|累计已|预计|有望|将|可|要|力争|争取|确保|"
    r"预计将|预计可|计划|首破)$"
)


_TRAIL_DATE = re.compile(
    r"(?:由|从|是|为)?(?:(?:19|20)\d\d年(?:底|末)?|目前|当前|现在|上年|去年|今年)?的$|"
    r"(?:由|从)(?:(?:19|20)\d\d年(?:底|末)?)?$"
)


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
    bare = re.sub(r"\[\d+\]", "", indicator)  # footnote markers
    bare = re.sub(r"(?:(?:比|较|相比|与)?(?:(?:19|20)\d\d年(?:底|末)?|上年|去年|同期))", "", bare)
    bare = re.sub(r"(?:年均|同比|平均|分别|目前|当前|现在|一年|就|了|的)", "", bare)
    bare = re.sub(r"^(?:是|为|相当于)[^，。]{0,14}(?:时期|期间|年|五年)$", "", bare)  # 是“十二五”时期(的2.4倍)
    bare = re.sub(
        r"(?:增长|增加|提高|提升|上升)(?:至|到)[“\"]?(?:十[三四五六]五[”\"]?末|(?:19|20)\d\d年|目前)?$", "", bare
    )
    bare = strip_leading_places(bare)  # 其中北京(为6.58%): the noun is the previous one
    if re.fullmatch(r"(?:总数|总量|数量|总额|规模|累计|合计|共计|总计|新增|净增)+", bare):
        return True  # 总数达到45家: the previous clause's noun
    if re.match(r"^(?:占|其中|分别占)", bare):
        return True  # 占地区生产总值比重: a share of the previous noun
    return len(bare) == 0 or bool(
        re.fullmatch(
            r"(?:增长|增速|增幅|提高|提升|下降|降低|增加|占比|强度|投入强度|"
            r"增长率|其中|增至|提高到|提升到|增加到|达到|达|为|共)+",
            bare,
        )
    )


# ============================================================================================
_COPULA_VERBS = {"达到", "达", "超过", "超", "突破", "有", "拥有", "现有", "已有", "共有"}
_LIST_LEAD = re.compile(r"[\s，,、:：—-]+|[(]?[\d一二三四五六七八九十]{1,3}[)、.](?!\d)|和|与|及|以及|并且|并")


def skip_lead(ctx: DocContext, pos: int, limit: int) -> int:
    """Move ``pos`` past separators, list numbers and conjunctions (not past ``limit``)."""
    while pos < limit:
        m = _LIST_LEAD.match(ctx.norm, pos, limit)
        if not m or m.end() == pos:
            break
        pos = m.end()
    return pos


@dataclass
class Phrase:
    start: int  # span start
    end: int  # span end
    indicator: str  # indicator words of this clause
    elliptical: bool  # no indicator noun of its own: borrow the previous one


def phrase(ctx: DocContext, cand: Candidate, prev_end: int | None) -> Phrase:
    """Span and indicator words for one candidate quantity."""
    q, clause = cand.q, cand.clause
    left = clause.start if prev_end is None or prev_end < clause.start else prev_end
    left = skip_lead(ctx, left, q.start)
    before_raw = ctx.words[left : q.start]
    body_end = clause.end
    while body_end > q.qual_end and ctx.norm[body_end - 1] in "，,。；;:：!?！？ ":
        body_end -= 1
    if is_prenominal(ctx.norm[q.qual_end : clause.end]):
        # verb + number + noun (建成10家以上中试熟化基地) or number + 的 + noun
        verb_zone = strip_fillers(ctx.norm[left : q.start])
        vm = OUTPUT_VERB.search(verb_zone)
        noun_start = q.qual_end
        while noun_start < body_end and ctx.norm[noun_start] in " 的":
            noun_start += 1
        noun_end = body_end
        stop = re.search(
            r"正在|已经|已|将|并|共|，|,|、|(?:和|及|与)(?=[\d一二三四五六七八九十两])",
            ctx.norm[noun_start + 2 : body_end],
        )
        if stop:
            noun_end = noun_start + 2 + stop.start()
        noun = ctx.words[noun_start:noun_end]
        verb, start = "", q.start
        if vm:
            vstart = left + vm.start()
            if vstart > left and ctx.norm[vstart - 1] == "新":
                vstart -= 1
            start = vstart
            if vm.group(0) not in _COPULA_VERBS:
                verb = ctx.words[vstart : left + vm.end()]
        elif clean_indicator(before_raw):
            start = left
        return Phrase(start, max(noun_end, q.qual_end), (verb + noun).strip(), False)
    indicator = clean_indicator(before_raw)
    return Phrase(left, q.qual_end, indicator, is_elliptical(indicator))


_CHANGE_TAIL = re.compile(
    r"(?:(?:比|较|同比|相比)(?:上年|去年|同期|(?:19|20)\d\d年(?:底|末)?)?)?"
    r"(?:年均|平均|同比|年)?(?:增长|增速|增幅|增加|提高|提升|下降|降低|减少|扩大)(?:了|率|目标)?$"
)


def strip_change_words(indicator: str) -> str:
    """``技术合同成交额同比增长`` → ``技术合同成交额``: the noun a following figure can borrow."""
    return _CHANGE_TAIL.sub("", indicator).strip()


def merge_indicator(head: str, own: str) -> str:
    """``R&D经费投入`` + ``投入强度`` → ``R&D经费投入强度``; ``技术合同成交额`` + ``同比增长`` → joined;
    ``其中北京`` (a place only) → the head itself."""
    own = re.sub(r"\[\d+\]", "", own)
    if not strip_leading_places(own).strip("，,、 "):
        return head
    for k in range(min(len(head), len(own)), 0, -1):
        if head.endswith(own[:k]):
            return head + own[k:]
    shared = head.find(own[:2]) if len(own) >= 3 else -1
    if shared > 0:
        return head[:shared] + own  # 研发投入强度 + 投入总量 → 研发投入总量
    return head + own


def _place_prefix(ctx: DocContext, item: str) -> tuple[int, str | None]:
    """(length, region) of a place name opening ``item`` (城市 from the gazetteer or a 区/县), else (0, None)."""
    places = find_places(item)
    if places and places[0][0] == 0:
        m = PLACE_RE.match(item)
        length = m.end() if m else 0
        if item[length : length + 1] in ("市", "省"):
            length += 1
        province = places[0][2]
        if ctx.province and province and province != ctx.province:
            return length, None
        return length, places[0][1]
    m = re.match(r"([\u4e00-\u9fa5]{2,3}?)(区|县|旗)", item)
    if m and is_local_unit_name(m.group(1), m.group(2)):
        base = (
            ctx.city_region if ctx.city_region and ctx.city_region != "unknown city" else (ctx.province or ctx.region)
        )
        return m.end(), base + m.group(0)
    return 0, None


def respectively(ctx: DocContext, cand: Candidate, k: int, cache: dict) -> tuple[str | None, str | None]:
    """For ``A、B分别为X和Y``: (indicator, region) of the k-th figure.

    When A and B are places (天河区、黄埔区分别新增高新技术企业600家和900家) they share the indicator
    and each figure gets its own region; otherwise A and B are the indicators.
    """
    clause_text = ctx.norm[cand.clause.start : cand.q.start]
    i = clause_text.find("分别")
    if i < 0:
        return None, None
    key = cand.clause.start
    if key not in cache:
        cache[key] = ctx.words[cand.clause.start + i + 2 : cand.q.start]  # words between 分别 and X
    lead = clean_indicator(ctx.words[skip_lead(ctx, cand.clause.start, cand.q.start) : cand.clause.start + i])
    items = [x for x in re.split(r"[、和与及]", lead) if x]
    if len(items) < 2 or k >= len(items):
        return None, None
    prefixes = [_place_prefix(ctx, item) for item in items]
    tail = clean_indicator(cache[key])
    if all(length for length, _ in prefixes):
        shared = items[-1][prefixes[-1][0] :] + tail
        return shared or None, prefixes[k][1]
    return items[k] + (tail if tail and not re.fullmatch(r"[为是达到]+", tail) else ""), None
