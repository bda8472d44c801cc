"""Output renderers for every table and stored query (.csvcite, .csvbom, .jsoncite) and value rounding.

``.csvcite``: CSV with ``source`` and ``retrieved`` columns; ``.csvbom``: the same, UTF-8 with a
byte-order mark for Excel; ``.jsoncite``: JSON with source, licence, retrieval date and a citation.
``rounded_cell``: values in Datasette's HTML tables rounded to the indicator's display precision.
"""

from __future__ import annotations

import csv
import io
import json
import re

from datasette.utils.asgi import Response
from markupsafe import Markup

from portal.site.constants import PORTAL_NAME, VALUE_COLUMNS
from portal.site.data import current_data, page_url, portal_data, today
from portal.site.display import html_decimals
from portal.site.formatting import fmt, without_float_noise
from sti_portal.publish.formula_guard import safe_cell


def _decimals_for(row, datasette) -> int | None:
    data = current_data()
    if data is None:
        return None
    try:
        indicator_id = row["indicator_id"]
    except (IndexError, KeyError, TypeError):
        return None
    ind = data.indicators.get(indicator_id)
    return html_decimals(ind) if ind else None


async def _citation_parts(datasette, columns, rows, database, table, query_name):
    data = await portal_data(datasette)
    names = list(columns)
    if table:
        meta = datasette.metadata(database=database, table=table) or {}
    elif query_name:
        meta = (datasette.metadata("queries", database=database) or {}).get(query_name, {})
    else:
        meta = {}
    default_source = meta.get("source") or datasette.metadata("source") or ""
    if "source_id" in names:
        index = names.index("source_id")
        per_row = [data.source_title(row[index]) for row in rows]
    else:
        per_row = [default_source] * len(rows)
    return data, meta, names, per_row, default_source


# Query parameters that say what a download holds, in the order its file name gives them:
# sti-portal_ranking_rd_intensity_2023_2026-12-05.csv rather than sti-portal_ranking_2026-12-05.csv.
NAMING_PARAMS = ("indicator", "indicator_id", "region", "region_code", "year", "from_year", "to_year", "q")
# Bilingual column headers (?_headers=bilingual): "地区代码 region_code".
COLUMN_ZH = {
    "rank": "排名",
    "region_code": "地区代码",
    "region_zh": "地区",
    "region_en": "地区(英文)",
    "region_level": "地区级别",
    "indicator_id": "指标代码",
    "indicator_zh": "指标",
    "indicator_en": "指标(英文)",
    "year": "年份",
    "value": "数值",
    "unit": "单位",
    "obs_status": "状态",
    "source_id": "来源代码",
    "release": "发布版本",
    "release_kind": "发布类型",
    "vintage": "发布日期",
    "source_ref": "来源单元格",
    "note": "注释",
    "source": "来源",
    "retrieved": "获取日期",
    "national_value": "全国数值",
    "from_value": "起始值",
    "to_value": "终止值",
    "change": "变化",
    "first_value": "首次发布值",
    "latest_value": "最新值",
    "revision": "修订",
    "above_by": "高出",
    "national_average": "全国平均",
}


def _download_name(table, query_name, request, suffix: str) -> str:
    parts = [table or query_name or "query"]
    if request is not None:
        parts += [request.args.get(name) for name in NAMING_PARAMS if request.args.get(name)]
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", "_".join(parts))[:120]
    return f"sti-portal_{base}_{today()}{suffix}"


def _published_cells(names: list[str], row) -> list:
    """A row's cells with numbers as the source printed them: no 229.56437999999997 (see without_float_noise)."""
    return ["" if row[i] is None else without_float_noise(row[i]) for i in range(len(names))]


async def _render_cited_csv(datasette, columns, rows, request, database, table, query_name, data, bom: bool):
    _, meta, names, per_row, _ = await _citation_parts(datasette, columns, rows, database, table, query_name)
    buffer = io.StringIO()
    if bom:
        buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    header = names + ["source", "retrieved"]
    if request is not None and request.args.get("_headers") == "bilingual":
        header = [f"{COLUMN_ZH[name]} {name}" if name in COLUMN_ZH else name for name in header]
    writer.writerow(header)
    retrieved = today()
    for row, source in zip(rows, per_row):
        cells = _published_cells(names, row)
        if bom:  # for spreadsheets: text that would run as a formula gets an apostrophe (numbers untouched)
            cells = [safe_cell(cell) if isinstance(row[i], str) else cell for i, cell in enumerate(cells)]
        writer.writerow(cells + [source, retrieved])
    headers = {
        "content-disposition": f'attachment; filename="{_download_name(table, query_name, request, ".csv")}"',
        "x-sti-retrieved": retrieved,
    }
    if request is not None:  # the JSON twin carries the indicator's name, unit and definition: the CSV's sidecar
        path = re.sub(r"\.csv(cite|bom)$", ".jsoncite", request.path)
        headers["link"] = f'<{path}{"?" + request.query_string if request.query_string else ""}>; rel="describedby"'

    if data.get("next_url") or data.get("truncated"):
        headers["x-sti-truncated"] = "more rows exist: use the pre-built downloads at /downloads"
    return Response(buffer.getvalue(), content_type="text/csv; charset=utf-8", headers=headers)


async def render_csv_bom(datasette, columns, rows, request, database, table, query_name, data):
    """CSV for Excel: UTF-8 with a byte-order mark, plus `source` and `retrieved` columns."""
    return await _render_cited_csv(datasette, columns, rows, request, database, table, query_name, data, bom=True)


async def render_csv_cited(datasette, columns, rows, request, database, table, query_name, data):
    """CSV (UTF-8, no BOM) with `source` and `retrieved` columns."""
    return await _render_cited_csv(datasette, columns, rows, request, database, table, query_name, data, bom=False)


def _indicator_block(portal, names: list[str], rows) -> dict:
    """Name, unit, definition and published precision of every indicator in the rows (the CSV's sidecar)."""
    if "indicator_id" not in names:
        return {}
    index = names.index("indicator_id")
    keys = ("name_zh", "name_en", "unit", "unit_en", "definition", "caveats", "display_decimals")
    return {
        i: {k: portal.indicators[i].get(k) for k in keys}
        for i in sorted({row[index] for row in rows})
        if i in portal.indicators
    }


async def render_json_cited(datasette, columns, rows, request, database, table, query_name, data):
    portal, meta, names, per_row, default_source = await _citation_parts(
        datasette, columns, rows, database, table, query_name
    )
    sources = sorted(set(per_row)) or [default_source]
    retrieved = today()
    body = {
        "title": meta.get("title") or table or query_name,
        "description": meta.get("description", ""),
        "source": sources,
        "license": meta.get("license") or datasette.metadata("license"),
        "retrieved": retrieved,
        "data_version": portal.version,
        "url": page_url(datasette, request),
        "citation": f"Source: {'; '.join(sources)}, retrieved {retrieved}, {PORTAL_NAME}, {page_url(datasette, request)}",
        "truncated": bool(data.get("next_url") or data.get("truncated")),
        "next_url": data.get("next_url"),
        "indicators": _indicator_block(portal, names, rows),
        "columns": names,
        "rows": [dict(zip(names, (row[i] for i in range(len(names))))) for row in rows],
    }
    return Response(
        json.dumps(body, ensure_ascii=False, default=str),
        content_type="application/json; charset=utf-8",
        headers={"x-sti-retrieved": retrieved},
    )


def rounded_cell(row, value, column, datasette):
    """A value of Datasette's HTML tables rounded to its indicator's display precision (full value as title)."""
    if column not in VALUE_COLUMNS or not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    decimals = _decimals_for(row, datasette)
    if decimals is None:
        return None
    return Markup('<span class="sti-value" title="{full}">{shown}</span>').format(
        full=repr(value), shown=fmt(value, decimals)
    )


OUTPUT_RENDERERS = [
    {"extension": "csvcite", "render": render_csv_cited, "can_render": lambda: True},
    {"extension": "csvbom", "render": render_csv_bom, "can_render": lambda: True},
    {"extension": "jsoncite", "render": render_json_cited, "can_render": lambda: True},
]
