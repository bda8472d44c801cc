"""Catalogue look-ups for uploads: indicator and region names to ids, with suggestions for near misses."""

from __future__ import annotations

import difflib
import os
import re
import unicodedata

from sti_portal.core import catalogue
from sti_portal.transform.harmonise import UNIT_CONVERSIONS, RegionResolver, en_key, zh_key


def closest(text: str, keys, limit: int = 5, cutoff: float = 0.5) -> list[str]:
    """Keys most like `text`, best first: difflib's ratio, ties broken by the length of the common prefix
    (北亰 is closer to 北京 than to 湖北)."""
    if not text:
        return []
    scored = []
    for key in keys:
        ratio = difflib.SequenceMatcher(None, text, key).ratio()
        if ratio >= cutoff:
            prefix = len(os.path.commonprefix([text, key]))
            scored.append((ratio + 0.05 * prefix, key))
    return [key for _score, key in sorted(scored, key=lambda item: (-item[0], item[1]))[:limit]]


def norm_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", str(text or "")).casefold()
    return re.sub(r"[\s_\-–—·:：()（）/]+", "", text)


class IndicatorResolver:
    """Indicator id, Chinese or English name, or alias -> indicator id."""

    def __init__(self) -> None:
        self.indicators = catalogue.indicators()
        self.keys: dict[str, str] = {}
        for row in self.indicators.itertuples():
            for label in (row.indicator_id, row.name_zh, row.name_en):
                self.keys.setdefault(norm_key(label), row.indicator_id)
        for row in catalogue.indicator_aliases().itertuples():
            self.keys.setdefault(norm_key(row.alias), row.indicator_id)
        # Per-row answers as plain dicts: a pandas .loc per row costs ~50 µs, most of reading 100,000 rows.
        self.units: dict[str, str] = dict(zip(self.indicators.index, self.indicators["unit"]))
        self.blockers: dict[str, str | None] = {i: self._blocker(i) for i in self.indicators.index}

    def resolve(self, text: str) -> str | None:
        return self.keys.get(norm_key(text))

    def label(self, indicator_id: str) -> str:
        row = self.indicators.loc[indicator_id]
        return f"{indicator_id} ({row['name_zh']})"

    def suggestions(self, text: str, limit: int = 3) -> list[str]:
        matches = closest(norm_key(text), self.keys, limit=10, cutoff=0.45)
        found = list(dict.fromkeys(self.keys[m] for m in matches))[:limit]
        return [self.label(indicator_id) for indicator_id in found]

    def not_uploadable(self, indicator_id: str) -> str | None:
        return self.blockers[indicator_id]

    def _blocker(self, indicator_id: str) -> str | None:
        row = self.indicators.loc[indicator_id]
        if row["derived"]:
            return (
                f"{self.label(indicator_id)} is derived by the portal ({row['derivation']}); "
                "upload the indicators it is computed from instead"
            )
        if row["source_ids"] == "world_bank_wdi":
            return f"{self.label(indicator_id)} is the World Bank series for countries; it is not loaded from uploads"
        return None

    def unit(self, indicator_id: str) -> str:
        return self.units[indicator_id]


class Regions:
    """Region code or Chinese/English name (with or without suffix) -> GB/T 2260 code, with suggestions."""

    def __init__(self) -> None:
        self.resolver = RegionResolver.from_catalogue()
        self.table = catalogue.china_regions().set_index("region_code")

    def resolve(self, label: str) -> str | None:
        return self.resolver.resolve(label)

    def label(self, code: str) -> str:
        row = self.table.loc[code]
        return f"{row['name_zh']} {row['name_en']} ({code})"

    def suggestions(self, label: str, limit: int = 3) -> list[str]:
        if re.fullmatch(r"\d{2}", label) and f"{label}0000" in self.table.index:
            return [self.label(f"{label}0000")]
        keys = list(self.resolver.keys)
        candidates = []
        for key in dict.fromkeys((zh_key(label), en_key(label))):
            candidates += closest(key, keys)
        codes = list(dict.fromkeys(self.resolver.keys[key] for key in candidates))
        return [self.label(code) for code in codes[:limit] if code in self.table.index]

    def ignore_reason(self, label: str, label_en: str = "") -> str | None:
        return self.resolver.ignore_reason(label, label_en)


def accepted_units(target_unit: str) -> list[str]:
    return [target_unit] + sorted(source for source, target in UNIT_CONVERSIONS if target == target_unit)


_RESOLVERS: dict[str, object] = {}


def indicator_lookup() -> IndicatorResolver:
    if "indicators" not in _RESOLVERS:
        _RESOLVERS["indicators"] = IndicatorResolver()
    return _RESOLVERS["indicators"]


def region_lookup() -> Regions:
    if "regions" not in _RESOLVERS:
        _RESOLVERS["regions"] = Regions()
    return _RESOLVERS["regions"]
