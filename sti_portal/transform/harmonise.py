"""Harmonise tidy source frames (the "garden" step): GB/T 2260 / ISO 3166 region codes, catalogue units.

Every label a source prints must resolve to a region code or be on the explicit ignore list
(macro-regions, residual rows, World Bank aggregates); anything else is an error that names the label
and where it was seen, so a new spelling is added to catalogue/region_aliases.csv on purpose.
"""

from __future__ import annotations

import difflib
import gettext
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pycountry

from sti_portal.core import catalogue

# Administrative suffixes dropped before matching Chinese names (longest first).
ZH_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")
WORLD_CODE = "WLD"

# (from unit, to unit) -> (multiply by, divide by). Division keeps 万元 -> 亿元 exact to the last digit
# more often than multiplying by 1e-4 does.
UNIT_CONVERSIONS: dict[tuple[str, str], tuple[float, float]] = {
    ("万元", "亿元"): (1.0, 1e4),
    ("元", "亿元"): (1.0, 1e8),
    ("千元", "亿元"): (1.0, 1e5),
    ("万项", "项"): (1e4, 1.0),
    ("万件", "件"): (1e4, 1.0),
    ("万个", "个"): (1e4, 1.0),
    ("万家", "家"): (1e4, 1.0),
    ("人", "万人"): (1.0, 1e4),
    ("个", "家"): (1.0, 1.0),
    ("家", "个"): (1.0, 1.0),
}


class HarmoniseError(ValueError):
    """Labels or units a source uses that the catalogue does not know."""


def normalise_label(label: str) -> str:
    """Drop every kind of whitespace: yearbooks pad names to equal width ('北  京', '全    国')."""
    return re.sub(r"[\s\u3000]+", "", str(label or ""))


def _en_key(label: str) -> str:
    return re.sub(r"[\s\-_'.]+", "", str(label or "")).casefold()


def _zh_key(label: str) -> str:
    text = normalise_label(label)
    for suffix in ZH_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


# Public names of the two lookup keys: sti_portal/uploads suggests regions with the resolver's own keys.
zh_key = _zh_key
en_key = _en_key


@dataclass
class RegionResolver:
    """Maps any printed region label to a code; built once from the catalogue files."""

    keys: dict[str, str] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_catalogue(cls) -> RegionResolver:
        resolver = cls()
        for row in catalogue.china_regions().itertuples():
            for label in (row.region_code, row.name_zh, row.name_zh_full):
                resolver.keys[_zh_key(label)] = row.region_code
            resolver.keys[_en_key(row.name_en)] = row.region_code
        for row in catalogue.region_aliases().itertuples():
            resolver.keys[_zh_key(row.alias)] = row.region_code
            resolver.keys[_en_key(row.alias)] = row.region_code
        for row in catalogue.ignored_region_labels().itertuples():
            resolver.ignored[_zh_key(row.label)] = row.reason
            resolver.ignored[_en_key(row.label)] = row.reason
        return resolver

    def resolve(self, label: str, label_en: str = "") -> str | None:
        """The code both labels agree on. A misprint in one (yearbooks print 江四, Hcnan) is carried by the
        other; two labels naming different regions are an error, never a silent pick."""
        found = {
            self.keys[key] for key in (_zh_key(label), _en_key(label), _en_key(label_en)) if key and key in self.keys
        }
        if len(found) > 1:
            raise HarmoniseError(f"region labels {label!r} and {label_en!r} name different regions: {sorted(found)}")
        return found.pop() if found else None

    def ignore_reason(self, label: str, label_en: str = "") -> str | None:
        for key in (_zh_key(label), _en_key(label), _en_key(label_en)):
            if key and key in self.ignored:
                return self.ignored[key]
        return None

    def suggestions(self, label: str, limit: int = 3) -> list[str]:
        return difflib.get_close_matches(_zh_key(label) or _en_key(label), list(self.keys), n=limit, cutoff=0.5)


def country_name_zh(name_en: str) -> str:
    try:
        translation = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"])
    except OSError:
        return name_en
    return translation.gettext(name_en)


def country_regions(iso3_codes) -> pd.DataFrame:
    """Region rows for the ISO 3166 economies a source uses (World Bank aggregates other than the World are not)."""
    rows = []
    for code in sorted(set(iso3_codes)):
        if code == WORLD_CODE:
            rows.append(
                {
                    "region_code": WORLD_CODE,
                    "name_zh": "世界",
                    "name_zh_full": "世界",
                    "name_en": "World",
                    "level": "world",
                    "macro_region": "",
                }
            )
            continue
        country = pycountry.countries.get(alpha_3=code)
        if country is None:
            continue
        name_en = getattr(country, "common_name", None) or country.name
        name_zh = country_name_zh(country.name)
        rows.append(
            {
                "region_code": code,
                "name_zh": name_zh,
                "name_zh_full": name_zh,
                "name_en": name_en,
                "level": "country",
                "macro_region": "",
            }
        )
    return pd.DataFrame(rows, columns=["region_code", "name_zh", "name_zh_full", "name_en", "level", "macro_region"])


def is_country_source(source_id: str) -> bool:
    return source_id == "world_bank_wdi"


@dataclass
class HarmonisedBatch:
    observations: pd.DataFrame  # coded, converted rows
    dropped: pd.DataFrame  # rows left out on purpose, with the reason
    aliases: pd.DataFrame  # every raw label seen -> region code


def assign_region_codes(tidy: pd.DataFrame, resolver: RegionResolver) -> tuple[pd.Series, pd.Series]:
    """(region_code, drop_reason) per row; raises HarmoniseError listing every unknown label.

    Each distinct (label, English label, country source) is resolved once and mapped back to the rows
    through its group number, so 10 M rows with a few thousand labels cost a groupby, not a Python loop.
    """
    keys = pd.DataFrame(
        {
            "label": tidy["region_label"],
            "label_en": tidy["region_label_en"],
            "country": tidy["source_id"].map(is_country_source).astype(bool),
        },
        index=tidy.index,
    )
    group = keys.groupby(["label", "label_en", "country"], sort=False, dropna=False).ngroup().to_numpy()
    first = pd.Series(range(len(keys)), index=group).groupby(level=0).min().sort_index()
    distinct = keys.iloc[first.to_numpy()]
    resolved = [
        _code_for(label, label_en, country, resolver)
        for label, label_en, country in zip(distinct["label"], distinct["label_en"], distinct["country"])
    ]
    unknown = {}
    for (code, reason), label, label_en, row in zip(
        resolved, distinct["label"], distinct["label_en"], first.to_numpy()
    ):
        if code is None and reason is None:
            unknown.setdefault(label or label_en, tidy["source_ref"].iloc[row])
    if unknown:
        lines = [
            f"  {label!r} (first seen at {ref}); did you mean {resolver.suggestions(label)}?"
            for label, ref in unknown.items()
        ]
        raise HarmoniseError("unknown region label(s); add them to catalogue/region_aliases.csv:\n" + "\n".join(lines))
    codes = np.array([code for code, _ in resolved], dtype=object)
    reasons = np.array([reason for _, reason in resolved], dtype=object)
    return (
        pd.Series(codes[group], index=tidy.index, dtype=object),
        pd.Series(reasons[group], index=tidy.index, dtype=object),
    )


def _code_for(label: str, label_en: str, is_country: bool, resolver: RegionResolver) -> tuple[str | None, str | None]:
    if is_country:
        if label == WORLD_CODE or pycountry.countries.get(alpha_3=label) is not None:
            return label, None
        return None, "World Bank aggregate (not an ISO 3166 economy)"
    code = resolver.resolve(label, label_en)
    if code is not None:
        return code, None
    reason = resolver.ignore_reason(label, label_en)
    return None, reason


def convert_units(frame: pd.DataFrame) -> pd.DataFrame:
    """Values to each indicator's catalogue unit, at full precision."""
    indicators = catalogue.indicators()
    unknown_ids = sorted(set(frame["indicator_id"]) - set(indicators.index))
    if unknown_ids:
        raise HarmoniseError(f"indicator id(s) not in catalogue/indicators.csv: {unknown_ids}")
    target_units = frame["indicator_id"].map(indicators["unit"])
    out = frame.copy()
    for (from_unit, to_unit), index in out.groupby([out["unit"], target_units]).groups.items():
        if from_unit == to_unit:
            continue
        if (from_unit, to_unit) not in UNIT_CONVERSIONS:
            sample = out.loc[index[0]]
            raise HarmoniseError(
                f"{sample['source_ref']}: unit {from_unit!r} cannot be converted to {to_unit!r} "
                f"(the unit of indicator {sample['indicator_id']})"
            )
        multiply, divide = UNIT_CONVERSIONS[(from_unit, to_unit)]
        out.loc[index, "value"] = out.loc[index, "value"] * multiply / divide
    out["unit"] = target_units
    return out


def harmonise(tidy: pd.DataFrame, resolver: RegionResolver | None = None) -> HarmonisedBatch:
    resolver = resolver or RegionResolver.from_catalogue()
    codes, reasons = assign_region_codes(tidy, resolver)
    coded = tidy.assign(region_code=codes, drop_reason=reasons)
    dropped = coded[coded["region_code"].isna()].drop(columns=["region_code"])
    kept = coded[coded["region_code"].notna()].drop(columns=["drop_reason"])
    aliases = (
        kept.assign(alias=kept["region_label"].where(kept["region_label"] != "", kept["region_label_en"]))[
            ["alias", "region_code", "source_id"]
        ]
        .drop_duplicates()
        .sort_values(["region_code", "alias", "source_id"])
        .reset_index(drop=True)
    )
    english = kept[kept["region_label_en"] != ""][["region_label_en", "region_code", "source_id"]].rename(
        columns={"region_label_en": "alias"}
    )
    aliases = (
        pd.concat([aliases, english])
        .drop_duplicates()
        .sort_values(["region_code", "alias", "source_id"])
        .reset_index(drop=True)
    )
    observations = convert_units(kept).drop(columns=["region_label", "region_label_en"])
    return HarmonisedBatch(observations.reset_index(drop=True), dropped.reset_index(drop=True), aliases)
