"""The statements of a document: every sentence's candidates turned into gold-format dicts."""

from __future__ import annotations

import re

from .candidates import Candidate, candidates_in_sentence, unique_span
from .context import DocContext, build_context
from .indicator_tables import table_statements
from .kinds import heading_kind, resolve_kind, resolve_year, update_frames, year_mentions
from .numbers import detect_comparator
from .phrases import clean_indicator, merge_indicator, phrase, respectively, skip_lead, strip_change_words
from .regions import RegionEvent, region_at, region_events
from .script import original_script
from .text import Segment, split_paragraphs, split_sentences, strip_annotations
from .vocabulary import Vocabulary, map_indicator


def resolve_region(ctx: DocContext, cand: Candidate, events: list[RegionEvent]) -> str:
    return region_at(events, cand.q.start, ctx.region)


_ANAPHORA = re.compile(r"这一指标|该指标|此项指标|这一比例|该比例|这一比重|该比重")


def extract_statements(text: str, meta: dict | None, doc_name: str, vocabulary: Vocabulary | None = None) -> list[dict]:
    """Every quantitative target and achieved figure in ``text`` as gold-format dicts (spans cut from
    ``text`` itself, in its own script); ``vocabulary`` defaults to catalogue/target_vocabulary.csv."""
    reading, offsets = strip_annotations(text)
    results = _statements_of(build_context(reading, meta, doc_name, vocabulary))
    for r in results:
        start, end = r.pop("_start"), r.pop("_end")
        if reading is not text:
            r["span"] = text[offsets[start] : offsets[end - 1] + 1]
    return results


def _statements_of(ctx: DocContext) -> list[dict]:
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
        is_head, sec_kind, sec_year = heading_kind(ctx.norm[para.start : para.end])
        if is_head:
            state["section_kind"] = sec_kind
            state["section_year"] = sec_year
        state.pop("frame_kind", None)
        state.pop("frame_year", None)
        events = region_events(ctx, para)
        for sentence in split_sentences(ctx.norm, para):
            results.extend(statements_in_sentence(ctx, para, sentence, events, state))
            update_frames(ctx, sentence, state)
    results.sort(key=lambda r: r["_pos"])
    for r in results:
        del r["_pos"]
    return results


def _borrowed_noun(ctx: DocContext, cand: Candidate, prev: dict | None) -> tuple[str | None, int | None]:
    """(noun, its start) for a clause without an indicator of its own (同比增长25%): the previous
    statement's head noun, else the words of the previous clause."""
    if prev is not None:
        return prev["_head"], prev["_start"]
    if cand.clause_index > 0:
        pc = cand.clauses[cand.clause_index - 1]
        noun = clean_indicator(ctx.words[skip_lead(ctx, pc.start, pc.end) : pc.end].rstrip("，,:："))
        if noun:
            return noun, pc.start + ctx.words[pc.start : pc.end].find(noun)
    return None, None


def statements_in_sentence(
    ctx: DocContext, para: Segment, sentence: Segment, events: list[RegionEvent], state: dict
) -> list[dict]:
    out: list[dict] = []
    prev: dict | None = None  # previous statement of the sentence (its head noun, span start)
    prev_end: int | None = None
    resp_seen: dict[int, int] = {}  # clause index → figures already given to 分别
    resp_cache: dict[int, str] = {}
    for cand in candidates_in_sentence(ctx, para, sentence):
        q = cand.q
        ph = phrase(ctx, cand, prev_end)
        comparator = detect_comparator(ctx.norm[cand.clause.start : q.start], q)
        indicator, head, start, region = ph.indicator, ph.indicator, ph.start, None
        k = resp_seen.get(cand.clause_index, 0)
        resp_indicator, resp_region = respectively(ctx, cand, k, resp_cache)
        if resp_indicator or resp_region:
            resp_seen[cand.clause_index] = k + 1
            if resp_indicator:
                indicator = head = resp_indicator
            region = resp_region
        elif ph.elliptical:
            base, base_start = _borrowed_noun(ctx, cand, prev)
            if base:
                indicator = merge_indicator(base, indicator)
                head = base
                start = min(start, base_start)
        if prev is not None and re.match(r"^合同(?:成交|登记|交易)", indicator) and "技术合同" in prev["_head"]:
            indicator = "技术" + indicator  # 技术合同登记1532项，合同成交额86.5亿元
            head = "技术" + head
        if _ANAPHORA.search(indicator) and state.get("named"):
            indicator = state["named"]  # 这一指标将升至4.5%: the indicator named just before
        ident = map_indicator(indicator, q.unit, comparator, ctx.vocabulary)
        if ident == "other" and prev is not None and len(ph.indicator) <= 6 and not resp_indicator:
            alt = map_indicator(merge_indicator(prev["_head"], ph.indicator), q.unit, comparator, ctx.vocabulary)
            if alt != "other":
                ident = alt
        clause_years = year_mentions(
            ctx.cue[cand.clause.start : q.start],
            cand.clause.start,
            ctx.year,
            own_clause=True,
            current_year=state.get("section_year"),
        )
        kind = resolve_kind(ctx, cand, clause_years[-1][1] if clause_years else None, state)
        year = resolve_year(ctx, cand, kind, state)
        start, end = unique_span(ctx, start, max(ph.end, q.qual_end), para)
        stmt = {
            "doc": ctx.name,
            "kind": kind,
            "span": ctx.text[start:end],
            "indicator_text": original_script(indicator, ctx.text, ctx.words),
            "indicator": ident,
            "value": q.value,
            "unit": original_script(q.unit, ctx.text, ctx.words),
            "value_base": q.value_base,
            "comparator": comparator,
            "target_year": year,
            "region": region or resolve_region(ctx, cand, events),
            "_pos": q.start,
            "_start": start,
            "_end": end,
        }
        out.append(stmt)
        if ident != "other":
            state["named"] = strip_change_words(indicator) or indicator
        prev = {"_head": strip_change_words(head) or head, "_start": start}
        prev_end = q.qual_end
    return out
