"""A page per figure: /figure/<indicator_id>/<region_code>/<year> (and .csv / .json of exactly that figure).

What a person citing one number needs on one page: the value and unit, its status and what the status
means, the source file, sheet and cell and the release it comes from, every release of it from the
first to the latest with the revisions, the derivation of a derived value (with links to its inputs'
figure pages), and a citation with a stable absolute URL. The URL is built from STI_BASE_URL when it is
set (so citations do not name whatever host served the request), else from the request.
"""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.parse

from datasette.utils.asgi import NotFound, Response

from portal.site.constants import DATABASE, NATIONAL, PORTAL_NAME
from portal.site.data import PortalData, absolute_url, figure_path, portal_data, rows_of, today
from portal.site.display import html_decimals
from portal.site.formatting import fmt, fmt_signed, without_float_noise
from portal.site.pages import not_found_page, render_page
from portal.site.quality import yoy_warning
from portal.site.regions import resolve_region

# SDMX observation status codes used in sti.db (README: Published interface), in words.
STATUS_MEANING = {
    "": ("正常值 Normal", "a value as published, with no flag"),
    "p": ("初步数 Provisional", "a first release (e.g. the NBS bulletin): a later edition may revise it"),
    "e": ("估计值 Estimated", "estimated by the source, not measured"),
    "b": (
        "序列中断 Break in series",
        "not comparable with the year before: the two come from different releases (editions) and the change "
        "is beyond this indicator's usual year-on-year bound",
    ),
    "m": ("缺失 Missing", "the source prints no value for this cell"),
}
HISTORY_COLUMNS = "h.release, h.release_kind, h.vintage, h.value, h.obs_status, h.source_id, h.source_ref, h.note"


def status_words(code) -> tuple[str, str]:
    return STATUS_MEANING.get(code or "", (code or "", "see the README's list of status codes"))


def published(value) -> float | None:
    """A value with every digit the source printed and no float noise (229.56437999999997 -> 229.56438)."""
    return without_float_noise(value)


async def _history(datasette, indicator_id: str, code: str, year: int) -> list[dict]:
    """Every release of one figure, first release first (release order: vintage, then the releases table's precedence)."""
    return await rows_of(
        datasette.get_database(DATABASE),
        f"SELECT {HISTORY_COLUMNS} FROM observation_history h "
        "LEFT JOIN releases r ON r.release_id = h.release "
        "WHERE h.region_code = ? AND h.indicator_id = ? AND h.year = ? "
        "ORDER BY h.vintage IS NULL DESC, h.vintage, r.precedence, h.release",
        [code, indicator_id, year],
    )


async def _current(datasette, data: PortalData, indicator_id: str, code: str, year: int) -> dict | None:
    row = data.cell.get((indicator_id, code, year))
    if row is not None:
        return row
    found = await rows_of(
        datasette.get_database(DATABASE),
        "SELECT * FROM observations WHERE region_code = ? AND indicator_id = ? AND year = ?",
        [code, indicator_id, year],
    )
    return found[0] if found else None


def _releases(history: list[dict], ind: dict, current: dict) -> list[dict]:
    """The release history with the revision each release made (compared at the published precision,
    indicators.display_decimals, as the `revisions` table is: 5.65 and 5.65084903 are the same figure)."""
    decimals, published_decimals = html_decimals(ind), int(ind["display_decimals"] or 0)
    shown, previous = [], None
    for row in history:
        value = published(row["value"])
        compared = round(value, published_decimals) if value is not None else None
        revision = None
        if previous is not None and compared is not None and compared != previous:
            revision = fmt_signed(compared - previous, max(decimals, published_decimals))
        shown.append(
            {
                **row,
                "published": value,
                "display": fmt(value, decimals) if value is not None else "—",
                "revision": revision,
                "is_current": row["release"] == current["release"],
                "status_label": status_words(row["obs_status"])[0],
            }
        )
        if compared is not None:
            previous = compared
    return shown


def _inputs(data: PortalData, ind: dict, code: str, year: int) -> list[dict]:
    """For a derived value, its inputs (indicators named in the derivation) at the same region and year."""
    if not ind.get("derived"):
        return []
    inputs = []
    for input_id in re.findall(r"[a-z][a-z0-9_]+", ind.get("derivation") or ""):
        source = data.indicators.get(input_id)
        row = data.cell.get((input_id, code, year))
        if source is None or row is None or any(i["id"] == input_id for i in inputs):
            continue
        inputs.append(
            {
                "id": input_id,
                "ind": source,
                "row": row,
                "href": figure_path(input_id, code, year),
                "display": fmt(row["value"], html_decimals(source)),
            }
        )
    return inputs


async def figure_parts(datasette, request) -> dict:
    """Everything the page and its CSV/JSON show, or NotFound with a message saying what does not exist."""
    data = await portal_data(datasette)
    indicator_id = request.url_vars["indicator_id"]
    ind = data.indicators.get(indicator_id)
    if ind is None:
        raise NotFound(f"No indicator {indicator_id!r} 没有此指标")
    code = resolve_region(data, request.url_vars["region_code"])
    if code is None:
        raise NotFound(f"No region {request.url_vars['region_code']!r} 没有此地区")
    year = int(request.url_vars["year"])
    current = await _current(datasette, data, indicator_id, code, year)
    if current is None:
        years = sorted({r["year"] for r in data.by_region.get(code, []) if r["indicator_id"] == indicator_id})
        span = f"{years[0]}–{years[-1]}" if years else "none"
        raise NotFound(f"No value of {indicator_id} for {code} in {year} ({year}年无数据): years with values: {span}")
    history = _history(datasette, indicator_id, code, year)
    releases = _releases(await history, ind, current)
    path = figure_path(indicator_id, code, year)
    url = absolute_url(datasette, request, path)
    source = data.source_title(current["source_id"])
    citation = (
        f"Source: {source}, {current['release']} ({current['source_ref']}), retrieved {today()}, {PORTAL_NAME}, {url}"
    )
    return {
        "data": data,
        "ind": ind,
        "indicator_id": indicator_id,
        "code": code,
        "year": year,
        "current": current,
        "releases": releases,
        "path": path,
        "url": url,
        "source": source,
        "citation": citation,
        "region": data.regions.get(code, {"name_zh": current["region_zh"], "name_en": current["region_en"]}),
    }


async def figure_page(datasette, request):
    try:
        parts = await figure_parts(datasette, request)
    except NotFound as missing:
        return await not_found_page(datasette, request, str(missing))
    fmt_name = request.url_vars.get("format")
    if fmt_name == ".json":
        return _figure_json(parts)
    if fmt_name == ".csv":
        return _figure_csv(parts)
    ind, current, data = parts["ind"], parts["current"], parts["data"]
    decimals = html_decimals(ind)
    national = data.cell.get((parts["indicator_id"], NATIONAL, parts["year"]))
    first = parts["releases"][0] if parts["releases"] else None
    label, meaning = status_words(current["obs_status"])
    context = {
        **parts,
        "display": fmt(current["value"], decimals),
        "published": repr(published(current["value"])) if current["value"] is not None else "—",
        "status_label": label,
        "status_meaning": meaning,
        "statuses": STATUS_MEANING,
        "first": first,
        "n_revisions": sum(1 for r in parts["releases"] if r["revision"]),
        "inputs": _inputs(data, ind, parts["code"], parts["year"]),
        "yoy": yoy_warning(data, ind, parts["code"], parts["year"]),
        "national_display": fmt(national["value"], decimals) if national and parts["code"] != NATIONAL else None,
        "source_row": data.sources.get(current["source_id"]),
        "citation_source": f"{parts['source']}, {current['release']} ({current['source_ref']})",
        "page_title": f"{parts['region']['name_zh']} {ind['name_zh']} {parts['year']} · "
        f"{parts['region']['name_en']}, {ind['name_en']}, {parts['year']}",
        "canonical_url": parts["url"],
    }
    return await render_page(datasette, request, "sti_figure.html", context)


FIGURE_FIELDS = [
    "indicator_id",
    "indicator_zh",
    "indicator_en",
    "region_code",
    "region_zh",
    "region_en",
    "year",
    "value",
    "unit",
    "obs_status",
    "release",
    "release_kind",
    "vintage",
    "current",
    "source_id",
    "source_ref",
    "note",
]


def _figure_records(parts: dict) -> list[dict]:
    ind, region = parts["ind"], parts["region"]
    return [
        {
            "indicator_id": parts["indicator_id"],
            "indicator_zh": ind["name_zh"],
            "indicator_en": ind["name_en"],
            "region_code": parts["code"],
            "region_zh": region["name_zh"],
            "region_en": region["name_en"],
            "year": parts["year"],
            "value": r["published"],
            "unit": ind["unit"],
            "obs_status": r["obs_status"] or "",
            "release": r["release"],
            "release_kind": r["release_kind"],
            "vintage": r["vintage"],
            "current": r["is_current"],
            "source_id": r["source_id"],
            "source_ref": r["source_ref"],
            "note": r["note"] or "",
        }
        for r in parts["releases"]
    ]


def _download_headers(parts: dict, suffix: str) -> dict:
    name = f"sti-portal_{parts['indicator_id']}_{parts['code']}_{parts['year']}_{today()}{suffix}"
    return {
        "content-disposition": f'attachment; filename="{name}"',
        "x-sti-retrieved": today(),
        "link": f'<{parts["url"]}>; rel="canonical"',
    }


def _figure_csv(parts: dict) -> Response:
    """One row per release of the figure (the current one marked), values at the published precision."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIGURE_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for record in _figure_records(parts):
        value = record["value"]
        writer.writerow(
            {
                **record,
                "value": "" if value is None else repr(value),
                "current": "true" if record["current"] else "false",
            }
        )
    return Response(buffer.getvalue(), content_type="text/csv; charset=utf-8", headers=_download_headers(parts, ".csv"))


def _figure_json(parts: dict) -> Response:
    current = parts["current"]
    body = {
        "url": parts["url"],
        "citation": parts["citation"],
        "retrieved": today(),
        "indicator": {
            k: parts["ind"][k] for k in ("indicator_id", "name_zh", "name_en", "unit", "unit_en", "definition")
        },
        "region": {
            "region_code": parts["code"],
            "name_zh": parts["region"]["name_zh"],
            "name_en": parts["region"]["name_en"],
        },
        "year": parts["year"],
        "value": published(current["value"]),
        "obs_status": current["obs_status"] or "",
        "status_meaning": status_words(current["obs_status"])[1],
        "source": parts["source"],
        "release": current["release"],
        "source_ref": current["source_ref"],
        "note": current["note"] or "",
        "derivation": parts["ind"].get("derivation") or None,
        "releases": _figure_records(parts),
    }
    return Response(
        json.dumps(body, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
        headers=_download_headers(parts, ".json"),
    )


def figure_links(indicator_id: str, code: str, year: int) -> dict:
    path = figure_path(indicator_id, urllib.parse.quote(code), year)
    return {"html": path, "csv": f"{path}.csv", "json": f"{path}.json"}
