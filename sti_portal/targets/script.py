"""Both scripts: documents in traditional characters are read on a simplified copy of the same length."""

from __future__ import annotations

from opencc import OpenCC

# Traditional → simplified, one character at a time so that offsets stay put (a span found in the
# simplified copy is cut from the original). OpenCC's phrase tables would change lengths and only matter
# for word choice (e.g. 軟體 → 软件), never for the words the extractor looks for.
_T2S = OpenCC("t2s")
_SIMPLIFIED: dict[str, str] = {}


def to_simplified_char(ch: str) -> str:
    out = _SIMPLIFIED.get(ch)
    if out is None:
        converted = _T2S.convert(ch) if ord(ch) >= 0x2E80 else ch
        out = _SIMPLIFIED[ch] = converted if len(converted) == 1 else ch
    return out


def to_simplified(text: str) -> str:
    """``text`` in simplified characters, character for character (same length)."""
    return "".join(to_simplified_char(ch) for ch in text)


def original_script(simplified: str, original_text: str, norm_text: str) -> str:
    """``simplified`` (a unit, a word from the normalised copy) in the characters of a document: each
    character the document wrote differently (億 for 亿) is written as the document wrote it."""
    back = {n: o for n, o in zip(norm_text, original_text) if n != o and n in simplified}
    return "".join(back.get(ch, ch) for ch in simplified)
