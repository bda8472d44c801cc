"""How sti-portal cites itself and its sources wherever a person reads a citation: download envelopes,
READMEs, datapackage.json (one wording; the name itself is sti_portal.core.settings.PORTAL_NAME)."""

from __future__ import annotations

from sti_portal.core.settings import PORTAL_NAME
from sti_portal.transform.derive import DERIVED_SOURCE_ID

DERIVED_SOURCE_TITLE = "Derived by sti-portal from its inputs' sources (see indicators.derivation)"


def citation(source: str, retrieved: str, url: str = "") -> str:
    where = f", {url}" if url else ""
    return f"Source: {source}, retrieved {retrieved}, {PORTAL_NAME}{where}"


def source_title(sources: dict, source_id: str | None) -> str:
    """The `source` column of a row: the title of its source (`title_en (title_zh)`)."""
    source = sources.get(source_id or "")
    if source:
        return f"{source['title_en']} ({source['title_zh']})"
    if source_id == DERIVED_SOURCE_ID:
        return DERIVED_SOURCE_TITLE
    return source_id or ""
