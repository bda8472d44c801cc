"""How each indicator is shown in HTML: catalogue/indicator_display.csv (display settings only).

``indicators.display_decimals`` (in sti.db) is the *published* precision, what the CSVs and JSON carry
(亿元 to 4 decimals: the yearbook's 万元 exactly). People read 亿元 to one decimal, so the pages round
to ``html_decimals`` and keep the full value in the cell's title and on the figure page. An indicator
without a row here is shown at its published precision.

``per_capita``: whether a per-person view makes sense and how: ``per_10k`` = value / population (万人),
i.e. per 10 000 people; ``yuan_per_person`` = value (亿元) × 10^8 / (population (万人) × 10^4).
Empty for ratios, the population itself and tiny counts (see the ``why`` column).
"""

from __future__ import annotations

import csv

from sti_portal.core.settings import CATALOGUE_DIR

DISPLAY_CSV = CATALOGUE_DIR / "indicator_display.csv"
PER_CAPITA_FACTOR = {"per_10k": 1.0, "yuan_per_person": 10_000.0}
POPULATION = "population"


def _read_display() -> dict[str, dict]:
    with open(DISPLAY_CSV, encoding="utf-8", newline="") as handle:
        return {row["indicator_id"]: row for row in csv.DictReader(handle)}


DISPLAY = _read_display()


def html_decimals(ind: dict) -> int:
    """Decimals the pages show for this indicator (the published precision when the catalogue has no row)."""
    row = DISPLAY.get(ind["indicator_id"])
    if row and row["html_decimals"] != "":
        return int(row["html_decimals"])
    return int(ind["display_decimals"] if ind["display_decimals"] is not None else 2)


def per_capita(indicator_id: str) -> dict | None:
    """{"kind", "factor", "unit", "unit_en", "decimals"} when a per-capita view makes sense, else None."""
    row = DISPLAY.get(indicator_id)
    if not row or row["per_capita"] not in PER_CAPITA_FACTOR:
        return None
    return {
        "kind": row["per_capita"],
        "factor": PER_CAPITA_FACTOR[row["per_capita"]],
        "unit": row["per_capita_unit"],
        "unit_en": row["per_capita_unit_en"],
        "decimals": int(row["per_capita_decimals"] or 2),
    }


def per_capita_value(value, population_10k, factor: float):
    """value / population (万人) × factor, or None when either is missing or the population is 0."""
    if value is None or not population_10k:
        return None
    return value / population_10k * factor
