"""Region addresses people can type: /region/hebei, /region/inner-mongolia, /region/neimenggu, /region/河北.

A region is found by its code (110000, CHN), its English name as a slug ("hebei", "inner-mongolia",
"innermongolia"), the pinyin of its Chinese name ("neimenggu", from pypinyin rather than a hand-kept
table) or its Chinese name (short or full). English names win a clash: 陕西's pinyin is "shanxi", which
is 山西 Shanxi's English name, so /region/shanxi is Shanxi and 陕西 is /region/shaanxi. A slug two
regions share any other way is not used (their codes still work).
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse

from pypinyin import lazy_pinyin

from portal.site.constants import SITE_LEVELS

_slugs: dict = {"identity": None, "map": {}}


def slug(text: str) -> str:
    """ "Inner Mongolia" -> "inner-mongolia"; accents dropped, anything but a-z0-9 becomes one hyphen."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _names(region: dict) -> tuple[list[str], list[str]]:
    """(English-name slugs, other names) of one region."""
    english = slug(region["name_en"])
    strong = [english, english.replace("-", "")] if english else []
    weak = [region["name_zh"], region.get("name_zh_full") or ""]
    pinyin = "".join(lazy_pinyin(region["name_zh"] or ""))
    if pinyin.isascii():
        weak.append(pinyin.lower())
    return strong, [w for w in weak if w]


def _build(data) -> dict[str, str]:
    strong: dict[str, set] = {}
    weak: dict[str, set] = {}
    for code, region in data.regions.items():
        if region["level"] not in SITE_LEVELS:
            continue  # counties etc. are reached by code: their names repeat across provinces
        english, other = _names(region)
        for name in english:
            strong.setdefault(name, set()).add(code)
        for name in other:
            weak.setdefault(name, set()).add(code)
    found = {name: next(iter(codes)) for name, codes in weak.items() if len(codes) == 1 and name not in strong}
    found.update({name: next(iter(codes)) for name, codes in strong.items() if len(codes) == 1})
    return found


def region_slugs(data) -> dict[str, str]:
    """name or slug -> region code, for the publication `data` belongs to (built once per publication)."""
    if _slugs["identity"] != data.identity:
        _slugs["map"], _slugs["identity"] = _build(data), data.identity
    return _slugs["map"]


def resolve_region(data, text: str) -> str | None:
    """The region code `text` names (a code, an English or pinyin slug, a Chinese name), or None."""
    text = urllib.parse.unquote(
        text or ""
    ).strip()  # route variables arrive percent-encoded (/region/%E6%B2%B3%E5%8C%97)
    if text in data.regions:
        return text
    if text.upper() in data.regions:
        return text.upper()
    names = region_slugs(data)
    return names.get(text) or names.get(slug(text)) or names.get(slug(text).replace("-", ""))


def preferred_slug(region: dict) -> str:
    """The readable address of a province-level region: its English name as a slug."""
    return slug(region["name_en"])
