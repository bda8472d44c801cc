"""Kind (target / achieved) and year of a figure: cue words, year expressions, frames, sections."""

from __future__ import annotations

import re

from .candidates import Candidate
from .context import DocContext
from .numbers import normalize_text
from .text import MASK_RE, Segment, split_clauses

# ============================================================================================
# Kind (target / achieved)
# ============================================================================================

_TARGET_CUES = [
    r"(?<!截)[到至]\s*(?:19|20)\d\d\s*年",
    r"(?:19|20)\d\d\s*年(?:之)?前",
    r"到\s*[“\"]?十[三四五六]五",
    r"十[四五六]五\s*[”\"]?\s*(?:末|期末|时期|期间)",
    r"力争",
    r"争取(?=到|在|达|实现|突破|新增|建成|用|早日|全年|今年|明年|更多|\d|[一二三四五六七八九十两百千万])",  # not 争取国家项目706项
    r"确保",
    r"预计",
    r"预期",
    r"(?<!的)目标",
    r"(?<![\u4e00-\u9fa5]拟)拟",
    r"今年(?!以来)",
    r"本年度?(?!以来)",
    r"明年",
    r"年内",
    r"届时",
    r"期末",
    r"努力",
    r"规划(?=建设|布局|面积|用地|新建|打造|实施|总)",
    r"(?<![研发项技才动划作专点家省市级展])计划(?![项单书])",
    r"要(?=达到|实现|突破|确保)",
    r"将(?=达到|突破|超过|实现|新增|建成)",
    r"推动[^，。]{0,12}(?:达到|突破)",
]
_ACHIEVED_CUES = [
    r"截[至止]",
    r"目前",
    r"现有",
    r"已(?!于)",
    r"同比",
    r"比上年",
    r"较上年",
    r"上年",
    r"去年",
    r"过去",
    r"以来",
    r"十三五\s*[”\"]?\s*(?:期间|时期|以来)",
    r"共有",
    r"实现了",
    r"达到了",
    r"增长了",
    r"完成了",
    r"获批",
    r"位居",
    r"再创新高|创历史新高|创新高",
    r"前[一二三]季度|上半年|一季度|1-\d{1,2}月",
]
_TARGET_RE = re.compile("|".join(f"(?:{p})" for p in _TARGET_CUES))
_ACHIEVED_RE = re.compile("|".join(f"(?:{p})" for p in _ACHIEVED_CUES))
_FRAME_TARGET = re.compile(
    r"(?<!截)[到至]\s*(?:19|20)\d\d\s*年|十[四五六]五\s*[”\"]?\s*(?:末|期末|时期|期间)|"
    r"规划(?=建设|布局|面积|用地|新建)|(?<![研发项技才动划作专点家省市级展])计划(?![项单书])|"
    r"(?<!的)目标|今年(?!以来)|明年"
)
_STRONG_CUE = re.compile(
    r"(?<!截)[到至]\s*(?:19|20)\d\d\s*年|十[三四五六]五|目标|规划|计划|今年|明年|截[至止]|目前|以来|"
    r"过去[一二两三四五十]年|[两三四五]年来|过去|去年|上年|前[一二三]季度|上半年|1-\d{1,2}月"
)


FYP_END = {"三": 2020, "四": 2025, "五": 2030, "六": 2035}


def last_cue(text: str, doc_year: int | None = None, report: bool = False) -> tuple[int, str] | None:
    """(position, kind) of the last kind cue in ``text``.

    A time cue of a target (到2025年, “十四五”末) that the document's date has already passed reports
    an outcome: in a 2026 report, 到2025年底… is achieved; so is “十四五”期间 in a report of 2025.
    """
    best = None
    for regex, kind in ((_TARGET_RE, "target"), (_ACHIEVED_RE, "achieved")):
        for m in regex.finditer(text):
            if best is None or m.start() >= best[0]:
                if kind == "target" and doc_year is not None:
                    y = re.search(r"(?:19|20)\d\d", m.group(0))
                    fyp = re.search(r"十([三四五六])五", m.group(0))
                    year = int(y.group(0)) if y else (FYP_END[fyp.group(1)] if fyp else None)
                    if year is not None and (year < doc_year or (report and fyp and not y and year == doc_year)):
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
    r"|(?P<base3>比|较|相比|是|为)?\s*[“\"]?(?P<fyp>十[三四五六]五)\s*[”\"]?\s*(?:末|期末|时期|期间|以来)?"
    r"|(?P<since>今年以来|本年以来|今年前)"
    r"|(?P<past>过去[两三四五]年|[两三四五]年来)"
    r"|(?P<cur>截[至止]\s*(?:目前|\d{1,2}\s*月|[上下]半年|年底|年末)|前[一二三]季度|上半年|一季度|1-\d{1,2}月|"
    r"目前|当前|现阶段)"
)


def year_mentions(
    text: str,
    offset: int,
    doc_year: int | None,
    own_clause: bool = False,
    explicit: bool = False,
    current_year: int | None = None,
) -> list[tuple[int, int]]:
    """(position, year) for every year expression in ``text`` that dates a figure (base years skipped).

    With ``own_clause`` (``text`` runs up to the number being dated), a year followed by another number
    dates that number, not ours (由2015年的1.04%提高到1.68%: 2015 is not the year of 1.68%).
    """
    out = []
    for m in _YEAR_EXPR.finditer(text):
        pos = offset + m.start()
        if own_clause and re.search(r"\d", MASK_RE.sub("", text[m.end() :])):
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
            if delta is None:  # 今年/全年/当年: the year of the section (工作回顾 of 2023) or document
                out.append((pos, current_year or doc_year))
            else:
                out.append((pos, doc_year + delta))
        elif m.group("past") and doc_year is not None:
            out.append((pos, doc_year - 1))  # 过去五年 in a 2021 report: the period ending in 2020
        elif m.group("since") and doc_year is not None:
            out.append((pos, doc_year))
        elif m.group("fyp") and m.group("base3"):
            continue  # 是“十三五”时期的近2倍: the period compared with, not the figure's year
        elif m.group("fyp"):
            out.append((pos, {"三": 2020, "四": 2025, "五": 2030, "六": 2035}[m.group("fyp")[1]]))
        elif m.group("cur") and doc_year is not None and not explicit:
            out.append((pos, doc_year))  # 目前, 截至10月: the document's year
    return out


# Section headings
# ============================================================================================

_HEADING_MARK = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+[、.]|第[一二三四五六七八九十]+[章节部分]|[(][一二三四五六七八九十]+[)])"
)
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
_OUTCOME_AFTER = re.compile(r"^[^，。；,;]{0,12}?(?:荣获|获评|获批|当选|入选|获得(?!感)|获(?=[^得]{0,10}奖))")
_MEETING_NAME = re.compile(r"(?:19|20)\d\d\s*年[^，。；,;]{0,16}(?:会议|大会|论坛|发布会)")


def _is_estimate_of_past_year(ctx: DocContext, cand: Candidate, cue: tuple[int, str]) -> bool:
    """预计 about a year before the document's (2019年…预计达1648亿元 in a 2020 plan; 过去一年…预计), or, in a
    report published January–March, about no named future year (预计全年经济增速5%左右): an estimate of
    an outcome, so an achieved figure."""
    if not ctx.cue.startswith("预计", cand.clause.start + cue[0]) or ctx.year is None:
        return False
    before = _MEETING_NAME.sub("", ctx.cue[cand.sentence.start : cand.q.start])
    if re.search(r"(?<!截)[到至]\s*20\d\d|今年|本年|明年|十[四五六]五", before):
        return False
    years = [int(y) for y in re.findall(r"((?:19|20)\d\d)\s*年", before)]
    years += [ctx.year - 1 for _ in re.finditer(r"过去一年|去年|上年", before)]
    if any(y >= ctx.year for y in years):
        return False
    return bool(years) or (ctx.report_like and ctx.month is not None and ctx.month <= 3)


def resolve_kind(ctx: DocContext, cand: Candidate, clause_year: int | None, state: dict) -> str:
    """target / achieved: the nearest cue wins — the number's own clause (cue words, then a year before
    or after the document's date), earlier clauses of the sentence, the paragraph's frame (到2025年…,
    截至…), the section heading (主要目标 / 发展基础), the document's kind."""
    q = cand.q
    if re.search(
        r"(?:由|从)\s*(?:(?:19|20)\d\d\s*年(?:底|末)?|上年|去年|目前)?(?:的)?$", ctx.norm[cand.clause.start : q.start]
    ):
        return "achieved"  # 由2022年的3.9% (提高到4.2%): the baseline is a reported value
    clause_cue = last_cue(ctx.cue[cand.clause.start : q.start], ctx.year, ctx.report_like)
    if clause_cue and _is_estimate_of_past_year(ctx, cand, clause_cue):
        return "achieved"  # 预计全年… in a January report: the year just ended
    if clause_cue:
        return clause_cue[1]
    after = ctx.cue[cand.q.qual_end : cand.clause.end]
    if after.startswith("的目标"):
        return "target"  # 超额完成2件的目标任务: the 2 was the goal
    if _OUTCOME_AFTER.match(after):
        return "achieved"  # 1人荣获…, 119项成果获…奖: the count is the subject of an outcome
    yk = year_kind(clause_year, ctx.year)
    if yk:
        return yk
    for clause in reversed(cand.clauses[: cand.clause_index]):
        cue = last_cue(ctx.cue[clause.start : clause.end], ctx.year, ctx.report_like)
        if cue and ctx.cue.startswith("预计", clause.start + cue[0]):
            own = Candidate(cand.q, clause, cand.sentence, cand.para, cand.clause_index, cand.clauses)
            return "achieved" if _is_estimate_of_past_year(ctx, own, cue) else "target"
        if cue:
            return cue[1]
        years = year_mentions(
            ctx.cue[clause.start : clause.end], clause.start, ctx.year, current_year=state.get("section_year")
        )
        if years:
            yk = year_kind(years[-1][1], ctx.year)
            if yk:
                return yk
    if state.get("frame_kind"):
        return state["frame_kind"]
    if state.get("section_kind"):
        return state["section_kind"]
    return ctx.default_kind


# Words that date a figure in the document's own year even in a report that reviews the year before:
# 今年一季度, 1-2月, 目前 (the stock as the report speaks).
_THIS_YEAR_SO_FAR = (
    r"今年|本年|季度|上半年|前\d{1,2}个?月|\d{1,2}\s*-\s*\d{1,2}\s*月|截至\d{1,2}月|目前|当前|现有|截至目前"
)


def resolve_year(ctx: DocContext, cand: Candidate, kind: str, state: dict) -> int | None:
    """The year a figure is for (``_year_cue``); an achieved figure dated only by the document's own year
    (全年, 当年, no year at all) in a report that reviews an earlier year is for that year."""
    year = _year_cue(ctx, cand, kind, state)
    if (
        kind == "achieved"
        and year is not None
        and year == ctx.year
        and ctx.report_year is not None
        and ctx.report_year < year
        and not re.search(rf"{year}\s*年|{_THIS_YEAR_SO_FAR}", ctx.norm[cand.sentence.start : cand.q.start])
    ):
        return ctx.report_year
    return year


def _year_cue(ctx: DocContext, cand: Candidate, kind: str, state: dict) -> int | None:
    """A year (or 今年/去年/十四五末) in the figure's clause, then earlier clauses, the paragraph's frame
    year, the section's year; else a plan's end year for targets (null outside plans) and the reported
    year for achieved figures."""
    q = cand.q
    clause_years = year_mentions(
        ctx.cue[cand.clause.start : q.start],
        cand.clause.start,
        ctx.year,
        own_clause=True,
        current_year=state.get("section_year"),
    )
    if clause_years:
        return clause_years[-1][1]
    before = ctx.norm[cand.sentence.start : q.start]
    if (
        ctx.year is None
        and re.search(r"今年|本年|全年|当年|明年|去年|上年|目前|截至", before)
        and not re.search(r"(?:19|20)\d\d\s*年", before)
    ):
        return None  # relative to a date the document does not give
    for clause in reversed(cand.clauses[: cand.clause_index]):
        years = year_mentions(
            ctx.cue[clause.start : clause.end], clause.start, ctx.year, current_year=state.get("section_year")
        )
        if years:
            return years[-1][1]
    frame = state.get("frame_year")
    if frame is not None:
        fy, fkind = frame
        if (
            fkind == kind
            or (kind == "target" and ctx.year and fy >= ctx.year)
            or (kind == "achieved" and ctx.year and fy <= ctx.year)
        ):
            return fy
    if state.get("section_year") is not None:
        return state["section_year"]
    if kind == "target":
        if ctx.default_kind == "target" or ctx.plan_end_year:
            return ctx.plan_end_year
        if re.search(r"预计", ctx.norm[cand.sentence.start : q.start]):
            return state.get("section_year") or ctx.year  # 预计全年…: an estimate for the report's year
        return None
    if ctx.report_year is not None:
        return ctx.report_year
    if ctx.year is None:
        return None
    if (
        ctx.report_like
        and ctx.month is not None
        and ctx.month <= 2
        and re.search(r"全年|过去一年|去年", ctx.norm[cand.sentence.start : cand.sentence.end])
    ):
        return ctx.year - 1
    return ctx.year


def update_frames(ctx: DocContext, sentence: Segment, state: dict) -> None:
    """After a sentence: remember target frames (到2025年, 规划, 力争) and sentence-initial achieved cues."""
    text = ctx.cue[sentence.start : sentence.end]
    clauses = split_clauses(ctx.norm, sentence)
    first = ctx.cue[clauses[0].start : clauses[0].end] if clauses else text
    frame = _FRAME_TARGET.search(text)
    if frame and last_cue(frame.group(0), ctx.year) != (0, "achieved"):
        state["frame_kind"] = "target"
    first_cue = last_cue(first, ctx.year)
    if first_cue and _STRONG_CUE.match(first, first_cue[0]):
        state["frame_kind"] = first_cue[1]  # 截至… / 到2025年… opening a sentence frames what follows
    years = year_mentions(
        ctx.cue[sentence.start : sentence.end],
        sentence.start,
        ctx.year,
        explicit=True,
        current_year=state.get("section_year"),
    )
    years = [(p, y) for p, y in years if ctx.cue[max(0, p - 1) : p] not in ("由", "从")]  # 由2015年的: a base
    if years:
        y = years[-1][1]  # the latest year named: 从2012年的…提高到2021年的… frames 2021
        state["frame_year"] = (y, state.get("frame_kind") or year_kind(y, ctx.year) or ctx.default_kind)
    elif ctx.year is not None and re.match(r"^\s*(?:截至目前|目前|当前|现阶段)", first):
        state["frame_year"] = (ctx.year, "achieved")  # 当前,已建设…; 已有…: the document's own year
