"""A yearbook table uploaded as it is (a 地区/Region column), read with the source adapters' own specs."""

from __future__ import annotations

import importlib
import re
from dataclasses import replace
from pathlib import Path

from sources import yearbook_xls as yb
from sources.common import SourceFormatError
from sti_portal.transform.steps import SOURCE_ADAPTERS
from sti_portal.uploads.lookups import region_lookup
from sti_portal.uploads.problems import UPLOAD_RELEASE_KIND, UPLOAD_SOURCE_ID, Release, RowPlace, UploadRead, quote


def yearbook_specs() -> list:
    """Every yearbook table the source adapters read (their TABLES), with the adapter module name."""
    specs = []
    for module_name in SOURCE_ADAPTERS.values():
        if module_name.startswith("sources.yearbook_"):
            specs += list(importlib.import_module(module_name).TABLES)
    return specs


def read_yearbook(result: UploadRead, path: Path, release: Release) -> None:
    result.format = "yearbook table"
    try:
        table = yb.read_table(path, path.parent)
    except SourceFormatError as exc:
        result.error(
            f"read as a yearbook table (it has a 地区/Region column): {_strip_path(str(exc), path)}",
            expected="a yearbook table as CNKI distributes it, or the upload format",
            rule="yearbook_layout",
        )
        return
    table = replace(table, ref_path=release.ref_name)
    matches = [spec for spec in yearbook_specs() if all(k in table.title for k in spec.title_keywords)]
    best = max((len(spec.title_keywords) for spec in matches), default=0)
    matches = [spec for spec in matches if len(spec.title_keywords) == best]
    if len(matches) != 1:
        known = "; ".join(sorted({" + ".join(spec.title_keywords) for spec in yearbook_specs()}))
        result.error(
            "a yearbook table the portal does not read"
            if not matches
            else f"the title fits {len(matches)} yearbook tables; cannot tell which",
            sheet=table.sheet.name,
            found=quote(table.title[:100]),
            expected=f"a table whose title contains one of: {known}",
            rule="unknown_yearbook_table",
        )
        return
    spec = matches[0]
    data_year = _yearbook_data_year(table, spec, path)
    if data_year is None:
        result.error(
            "cannot tell the data year of this yearbook table: neither the title '(YYYY年)' nor the file "
            "name '__YYYY' nor year columns give it",
            sheet=table.sheet.name,
            found=quote(table.title[:100]),
            expected="a title with the data year, or a file name ending __YYYY",
            rule="yearbook_year",
        )
        return
    result.format = f"yearbook table {spec.folder} ({path.suffix.lstrip('.').lower() or 'xls'}), data year {data_year}"
    file = yb.YearbookFile(path, data_year, spec.file_kind)
    try:
        rows = list(yb._table_rows(table, spec, file))
    except SourceFormatError as exc:
        message = str(exc).replace(f"{release.ref_name}, ", "").replace(f"sheet '{table.sheet.name}': ", "")
        result.error(
            f"read as yearbook table {spec.folder}: {message}",
            sheet=table.sheet.name,
            expected="the layout of that yearbook table",
            rule="yearbook_layout",
        )
        return
    _add_rows(result, rows, table.sheet.name, release, f"yearbook table {spec.folder}, data year {data_year}")


def _add_rows(result: UploadRead, rows: list[dict], sheet: str, release: Release, origin: str) -> None:
    """The adapter's tidy rows as the upload's rows, each traced to its cell; unknown regions reported once."""
    regions = region_lookup()
    unknown: dict[str, RowPlace] = {}
    for row in rows:
        ref = row["source_ref"]
        cell = ref.rsplit("!", 1)[-1]
        row_number = int(re.sub(r"^[A-Z]+", "", cell))
        place = RowPlace(sheet, row_number, {"value": cell})
        code = regions.resolver.resolve(row["region_label"], row["region_label_en"])
        if code is None:
            reason = regions.ignore_reason(row["region_label"], row["region_label_en"])
            if reason:
                result.dropped.append({**row, "reason": reason})
                continue
            unknown.setdefault(row["region_label"] or row["region_label_en"], place)
            continue
        if "unreadable text" in row["note"]:
            result.error(
                "text, not a number",
                sheet=place.sheet,
                row=row_number,
                cell=cell,
                found=quote(row["note"].rsplit("unreadable text ", 1)[-1]),
                expected="a number, or a missing marker (empty, —, …, -)",
                rule="bad_value",
            )
            continue
        note = "; ".join(n for n in (row["note"], origin) if n)
        result.rows.append(
            {
                **row,
                "source_id": UPLOAD_SOURCE_ID,
                "release": release.release,
                "release_kind": UPLOAD_RELEASE_KIND,
                "vintage": release.vintage,
                "note": note,
                "region_code": code,
            }
        )
        result.places.append(place)
    for label, place in unknown.items():
        hints = regions.suggestions(label)
        result.error(
            "unknown region" + (f"; did you mean {' or '.join(hints)}?" if hints else ""),
            sheet=place.sheet,
            row=place.row,
            column="地区/Region",
            found=quote(label),
            expected="a region name the catalogue knows (catalogue/region_aliases.csv)",
            rule="unknown_region",
        )


def _yearbook_data_year(table, spec, path: Path) -> int | None:
    if spec.year_series is not None:
        try:
            return max(yb.year_columns(table).values())
        except SourceFormatError:
            return None
    name_year = yb.FILE_NAME.search(path.stem)
    title_year = yb.TITLE_DATA_YEAR.search(table.title)
    if title_year:
        return int(title_year.group(1))
    if name_year:
        return int(name_year.group("year"))
    edition = yb.TITLE_EDITION.search(table.title)
    return int(edition.group(1)) - 1 if edition else None


def _strip_path(message: str, path: Path) -> str:
    return message.replace(f"{path.name}, ", "").replace(f"{path.name}: ", "").replace(path.name, "the file")
