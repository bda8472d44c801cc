"""Is this number a statement about a measurable indicator?"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .context import DocContext
from .numbers import Quantity, find_quantities
from .text import Segment, split_clauses

# ============================================================================================
# Is this number a statement about a measurable indicator?
# ============================================================================================

_RULE_CONTEXT = re.compile(
    r"给予|奖励|奖补|补助|补贴|资助(?!项目|的项目)|贴息|最高|一次性|按照?[^，。；]{0,15}(?:比例|标准)|每家|每个|每项|每人|每位|每名|"
    r"每户|每年度|单个|单项|扣除|减免|(?<!GDP)(?<!生产总值)比例为|罚款|门槛|申报条件|须具备|应具备|要求"
)
OUTPUT_VERB = re.compile(
    r"(?:建成|新建|建设|辟建|组建|创建|共建|筹建|培育|培养|孵化|引进|引育|招引|集聚|聚集|吸引|实施|转化|认定|"
    r"备案|新增|增加|打造|布局|设立|成立|攻克|突破|取得|获批|争创|落地|签约|推广|形成|制定|启动|储备|遴选|评选|"
    r"入选|获得|获|扶持|建立|部署|新设|设置|开发|研发|研制|申请|授权|登记|发布|举办|承办|落户|入驻|生成|"
    r"服务|带动|吸纳|新认定|拥有|现有|已有|共有|有|达到|达|超过|超|突破|提供|完成|攻关|立项|支持建设|"
    r"资助|兑现|解决|培训|选派|派驻|认定为|纳入|新培育|新引进|新建成|建好|办好|修订|制修订|新开工|开工|竣工|"
    r"投用|投产|挂牌|揭牌|授牌|命名|批复|批准|备案登记|推动|推进|开展|抓好|产生|引入|授予|签署)$"
)
_FILLER_TAIL = re.compile(
    r"(?:了|累计|共|共计|新|再|总计|合计|约|近|超过|超|突破|不少于|不低于|以上|逾|力争|"
    r"争取|确保|每年|年均|分别|各|至少|左右|达到|达|首批|[两三四五]批|全年)$"
)
_ACHIEVE_AFTER = re.compile(
    r"获批|入选|获得|荣获|获评|被认定|通过认定|通过评审|落地|落户|签约|建成|投产|开工|"
    r"上榜|进入|纳入|列入|晋级|获奖|参加|参与|达到|实现|完成|获|当选|用于|活跃|签署|成长为|跻身|"
    r"设立|顺利运行|赋能|发放"
)
_POST_FOLLOW = re.compile(
    r"^(?:[、，,。；;:!?！？)\]」”\"’和与及或而并]|以[上下内]|左右|上下|增|同比|比|较|占|居|位|分别|其中|是|为|实现|"
    r"达到|达|的目标|的水平|目标|任务|$|，|以|提高|提升|下降|降低|减少|规模|水平|大关|关口|台阶|等(?:[，,。；;]|$))"
)
_SCOPE_WORDS = re.compile(
    r"(?:全省|全市|全区|全县|我省|我市|本省|本市|省内|市内|全国|全社会|当年|今年|全年|"
    r"目前|截至[^，,]*|其中|同时|此外|另外|总计|合计|共)$"
)


_RECEIVED = re.compile(r"获得|荣获|获(?!批)|发放|兑现")
_SCOPE_NOUN = re.compile(
    r"^(?:个|大|条)?(?:重点|主导|优势|支柱|特色|战略性新兴|新兴|未来)?(?:产业|领域|方向|行业|产业链|链条|赛道)"
    r"(?!园|基地|集群|研究院|创新中心|联盟)"
)


def strip_fillers(before: str) -> str:
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


def is_statement(q: Quantity, before: str, after: str, clause_text: str, later_in_clause: bool) -> bool:
    """Decide whether quantity ``q`` is a figure about a measurable indicator.

    ``before``/``after`` are the clause text before the number and after its qualifier;
    ``later_in_clause`` says whether another candidate quantity follows in the same clause.
    """
    if not q.unit:
        return bool(re.search(r"(?:指数|得分|评分)(?:达到|达|为|提高到|提升到)?$", before)) and not q.chinese
    if re.search(r"等\s*(?:共|约|近|超过)?$", before) and not q.suffix:
        return False  # 等5项: sums up a list (等70个以上 is a target)
    if after.startswith(("级", "量级", "以上级", "元级")):
        return False  # 千亿元级: a threshold
    if _RULE_CONTEXT.search(clause_text) and not _RECEIVED.search(clause_text):
        return False  # subsidy rules, eligibility thresholds (not 获得…补助)
    pre = is_prenominal(after)
    if pre and _SCOPE_NOUN.match(after.lstrip()):
        return False  # 12个重点产业, 5大领域: a programme's scope
    if pre and later_in_clause:
        return False  # 超千亿元高新区超8家, 7个生态圈…共56家
    if q.is_measure:
        if q.single_char and q.unit not in ("成", "倍", "%"):
            return bool(q.suffix or q.inner)
        return True
    # classifier units (家, 个, 项, 件, 人 ...)
    if q.single_char:
        return bool(
            q.suffix
            or q.inner
            or re.search(r"(?:超过|突破|超|近|约|逾|不少于|新增|新建|建成|新认定)$", before)
            or (pre and re.search(r"(?:推动|推进|引进|培育|带动)$", before))  # 推动百家高校院所…
        )
    if not pre:
        return True  # post-nominal: 高新技术企业达到15000家
    verb_zone = strip_fillers(before)
    if OUTPUT_VERB.search(verb_zone) or re.search(r"(?:突破|超过|达到|新增|累计)$", before.rstrip()):
        return True
    lead = _SCOPE_WORDS.sub("", before.strip(" ，,")).strip()
    # N项成果获…奖, 与N家企业签约, …参与的N项科技成果获得…: the count is the subject of an outcome
    if (not lead or lead.endswith(("与", "同", "和", "为", "的"))) and _ACHIEVE_AFTER.search(after):
        return True
    return False


# The extractor
# ============================================================================================


@dataclass
class Candidate:
    q: Quantity
    clause: Segment
    sentence: Segment
    para: Segment
    clause_index: int
    clauses: list[Segment]


def candidates_in_sentence(ctx: DocContext, para: Segment, sentence: Segment) -> list[Candidate]:
    clauses = split_clauses(ctx.norm, sentence)
    out = []
    for ci, clause in enumerate(clauses):
        seg_text = ctx.masked[clause.start : clause.end]
        qs = [q for q in find_quantities(seg_text)]
        for q in qs:
            q.start += clause.start
            q.end += clause.start
            q.qual_end += clause.start
        qs = [q for q in qs if q.unit or re.search(r"(?:指数|得分|评分)", ctx.norm[clause.start : q.start])]
        kept = []
        for i, q in enumerate(qs):
            before = ctx.norm[clause.start : q.start]
            after = ctx.norm[q.qual_end : clause.end]
            later = any(
                o.unit and o.start >= q.qual_end and not _is_threshold(ctx, o) and not _coordinated(ctx, q, o)
                for o in qs[i + 1 :]
            )
            if is_statement(q, before, after, ctx.norm[clause.start : clause.end], later):
                kept.append(q)
            elif (
                kept
                and _coordinated(ctx, kept[-1], q)
                and is_prenominal(after)
                and is_statement(
                    q, ctx.norm[clause.start : kept[-1].start], after, ctx.norm[clause.start : clause.end], later
                )
            ):
                kept.append(q)  # 建设10家省实验室和20家以上技术创新中心: the verb is shared
        out.extend(Candidate(q, clause, sentence, para, ci, clauses) for q in kept)
    return out


def _is_threshold(ctx: DocContext, q: Quantity) -> bool:
    """千亿元级, 百亿级: a size class inside a noun phrase, not a figure."""
    return ctx.norm.startswith(("级", "量级"), q.qual_end)


def _coordinated(ctx: DocContext, first: Quantity, second: Quantity) -> bool:
    """``first`` … 和/、/及 ``second``: two objects of one verb, not a threshold and its count."""
    between = ctx.norm[first.qual_end : second.start]
    return bool(re.search(r"(?:和|、|及|与|以及|并)$", between)) and not re.search(r"[，,]", between)


def unique_span(ctx: DocContext, start: int, end: int, para: Segment) -> tuple[int, int]:
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
