"""Masking of numbers that are never statistics, and segmentation into paragraphs, sentences, clauses."""

from __future__ import annotations

import re
from dataclasses import dataclass

MASK = "□"

# Mirror sites annotate characters with their pinyin (技術(shù)合同, 達(dá)到): the annotations split the words the
# extractor reads, so it reads a copy without them and maps every span back to the original offsets.
_PINYIN_NOTE = re.compile(r"(?<=[\u4e00-\u9fff])\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]{1,6}\)")


def strip_annotations(text: str) -> tuple[str, list[int]]:
    """(reading copy, offsets): ``offsets[i]`` is the original position of the copy's character ``i``;
    one extra entry maps the end of the copy to the end of the text."""
    if not _PINYIN_NOTE.search(text):
        return text, list(range(len(text) + 1))
    keep = [True] * len(text)
    for m in _PINYIN_NOTE.finditer(text):
        for i in range(m.start(), m.end()):
            keep[i] = False
    offsets = [i for i, k in enumerate(keep) if k] + [len(text)]
    return "".join(ch for ch, k in zip(text, keep) if k), offsets


# ============================================================================================
# Masking: page furniture and numbers that are never statistics
# ============================================================================================

_FURNITURE_LINE = re.compile(
    r"ICP|备案号|网站备案|电话|传真|邮箱|E-?mail|QQ|版权所有|Copyright|©|主办[:单]|承办|技术支持|网站地图|免责声明|"
    r"联系我们|原文链接|当前位置|当前所在|首页\s*>|>\s*正文|浏览次数|阅读次数|点击数|字号|打印本页|关闭窗口|"
    r"分享到|扫一扫|^\s*来源[:]|作者[:]|发布时间|^\s*时间[:]|责任编辑|^\s*编辑[:]|^\s*附件[:]|办公区[:]|"
    r"^\s*地址[:]|邮编|欢迎访问|公网安备|网站标识码",
    re.I,
)

_MASK_PATTERNS = [
    r"https?://\S+|www\.[\w./-]+|[\w.-]+@[\w-]+\.[\w.]+",  # URLs, e-mail
    r"\d{3,4}-\d{7,8}(?:-\d+)?|(?<!\d)1[3-9]\d{9}(?!\d)",  # phones
    r"〔\s*\d{4}\s*〕\s*\d+\s*号|\[\s*\d{4}\s*\]\s*\d+\s*号",  # document numbers
    r"(?<!\d)(?:19|20)\d\d\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?",  # full dates
    r"(?<!\d)(?:19|20)\d\d\s*[-—～至到]\s*(?:19|20)\d\d\s*年?",  # year ranges
    r"(?<![\d.])(?:19|20)\d\d\s*年",  # years
    r"[〇零一二三四五六七八九]{4}\s*年",  # 二〇二五年
    r"(?<![\d.])\d{1,2}\s*月(?:份)?(?:\d{1,2}\s*[日号])?",  # months
    r"(?<![\d.])\d{1,2}\s*[日号](?![益])",  # days, numbers 号
    r"\d{1,2}:\d{2}(?::\d{2})?",  # times
    r"《[^《》\n]{0,60}》",  # titles
    r"“[^“”\n]{0,25}”|「[^「」\n]{0,25}」|\"[^\"\n]{0,25}\"",  # short quoted names
    r"第\s*[\d〇零一二两三四五六七八九十百千]+",  # ordinals
    r"(?<![目之以提当空超])前\s*[\d一二三四五六七八九十]+\s*(?:名|位|强)",  # rankings
    r"(?:居|排|列|进入|跻身|位于)[^，。；\n]{0,6}前\s*[\d一二三四五六七八九十]+",
    r"(?:排名|排在|位居|位列|居于?)\s*(?:全国|全省|全市|全球|世界|中部|西部|东部)?[^，。；\n]{0,6}?\d+\s*(?:位|名)",
    r"(?:提升|上升|前移|跃升|提高|下降|后退|下滑|进位|晋升|攀升)\s*[\d一二三四五六七八九十]+\s*(?:个)?(?:位|名)(?:次)?",
    r"[\dN]+(?:\s*\+\s*[\dNnX]+)+",  # 1+N, 1+4+N
    r"\d+(?:\.\d+)?\s*:\s*\d+(?:\.\d+)?",  # ratios 1:1
    r"[A-Za-z]+[\d.]*\d[A-Za-z0-9.]*|\d+(?:\.\d+)?(?!PF\b|PF[^A-Za-z0-9])[A-Za-z]+[A-Za-z0-9]*",  # 5G, C919, PM2.5 (not 7000PF)
    r"\d+(?=\s*强)|\d+(?=\s*[周]年)",  # 500强, 70周年
    r"[(]\s*[\d一二三四五六七八九十]{1,3}\s*[)]|[①-⑳]",  # (一) (1) ①
    r"(?:^|(?<=[\n。；;:\s]))[\d一二三四五六七八九十]{1,3}\s*[、.](?!\d)",  # 1. 一、
    r"十[一二三四五六七八九]五",  # 十四五
    r"[\d〇零一二三四五六七八九十]+\s*(?:号线|号文|号令|周年|届|期(?!间))",
]
MASK_RE = re.compile("|".join(f"(?:{p})" for p in _MASK_PATTERNS), re.M)


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
    for m in MASK_RE.finditer(norm):
        a, b = m.span()
        if norm[a] in '《“「"' and b - a >= 2:
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
    return [s for s in out if text[s.start : s.end].strip()]


_SENTENCE_END = re.compile(r"[。！？!?；;]+[”’」)]?")
_CLAUSE_END = re.compile(r"[，:]|,(?!\d{3}(?!\d))|(?<!\d),")


def split_sentences(text: str, para: Segment) -> list[Segment]:
    return _split(text, para, _SENTENCE_END)


def split_clauses(text: str, sentence: Segment) -> list[Segment]:
    return _split(text, sentence, _CLAUSE_END)
