"""Provincial first releases of the national R&D bulletins (全国科技经费投入统计公报), data years 2011–2023.

Two files per data year in ``cn_rd_bulletins/`` (see sources/snapshots/INDEX.md section 9):

* ``nbs_rd_bulletin_YYYY.html`` (2018–2023): the original bulletin page. Its table 1 / 附表
  各地区研究与试验发展(R&D)经费情况 is found by its header cells (地区, a 经费 column in 亿元, a 投入强度 column
  in %), never by position: the pages also hold navigation and layout tables. The publication date is the
  page's own date line (发布时间 / PubDate), which must fall in the year after the data year.
* ``techme_bulletin_table_YYYY.xlsx`` (2011–2023): a third-party transcription (techme's RDIntense
  dataset). It is the only provincial source for 2011–2017; for 2018–2023 the page wins and the
  transcription is only cross-checked (:func:`merge_transcriptions`: the 2018 file repeats 2019's figures).

Each bulletin is one release, ``nbs_rd_bulletin_<data year>`` (the id the hand-transcribed figures of
sources/bulletins.py use too): :func:`merge_transcriptions`, called by the transform step before
harmonisation, keeps one copy of each figure and reports the others as dropped rows.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd

from sources.common import SNAPSHOT_DIR, SourceFormatError, parse_number, read_provenance, tidy_frame
from sources.html_tables import html_tables

FOLDER = "cn_rd_bulletins"
SOURCE_ID = "nbs_rd_bulletin"
PAGE_YEARS = range(2018, 2024)
TRANSCRIPTION_YEARS = range(2011, 2024)
WHITESPACE = re.compile(r"[\s\u3000\xa0]+")
PAGE_DATE = re.compile(r"((?:19|20)\d{2})[-/年](\d{1,2})[-/月](\d{1,2})")
TRANSCRIPTION_NOTE = (
    "third-party transcription (huhuaping/techme, dataset RDIntense) of the bulletin's provincial "
    "table; lower confidence than an original page"
)


def release_id(data_year: int) -> str:
    return f"nbs_rd_bulletin_{data_year}"


# --------------------------------------------------------------------------------------------
# HTML pages


@dataclass(frozen=True)
class PageTable:
    ref_path: str
    table_no: int  # 1-based position among the page's <table> elements
    header_row: int  # 1-based row of the 地区 header inside that table
    expenditure_col: int  # 1-based
    intensity_col: int
    rows: tuple[tuple[int, str, str, str], ...]  # (1-based row, region label, expenditure text, intensity text)

    def ref(self, row: int, col: int) -> str:
        return f"{self.ref_path}#table={self.table_no},row={row},col={col}"


def read_page_table(path: Path, ref_path: str) -> PageTable:
    for table_no, table in enumerate(html_tables(path.read_text(encoding="utf-8")), start=1):
        for row_no, cells in enumerate(table, start=1):
            found = _header_columns([WHITESPACE.sub("", cell) for cell in cells])
            if found is not None:
                return _page_table(ref_path, table_no, row_no, table, *found)
    raise SourceFormatError(
        f"{ref_path}: no table with a header row holding '地区', an R&D 经费 column in (亿元) and a 投入强度 column in (%)"
    )


def _header_columns(cells: list[str]) -> tuple[int, int] | None:
    if not cells or cells[0] != "地区":
        return None
    expenditure = [i for i, c in enumerate(cells) if "经费" in c and "亿元" in c and "强度" not in c]
    intensity = [i for i, c in enumerate(cells) if "强度" in c and "%" in c]
    if len(expenditure) == 1 and len(intensity) == 1:
        return expenditure[0], intensity[0]
    return None


def _page_table(ref_path, table_no, header_row, table: list[list[str]], exp_col: int, int_col: int) -> PageTable:
    rows = []
    for row_no in range(header_row + 1, len(table) + 1):
        cells = [WHITESPACE.sub("", cell) for cell in table[row_no - 1]]
        if len(cells) <= max(exp_col, int_col) or not cells[0]:
            continue
        rows.append((row_no, cells[0], cells[exp_col], cells[int_col]))
    if len(rows) < 32:
        raise SourceFormatError(
            f"{ref_path}: table {table_no} has {len(rows)} region rows below its header row {header_row}, expected "
            "32 (全国 and 31 provinces)"
        )
    return PageTable(ref_path, table_no, header_row, exp_col + 1, int_col + 1, tuple(rows))


def page_date(path: Path, ref_path: str, data_year: int) -> str:
    """The page's publication date (its first date line), which must lie in the year after the data year."""
    match = PAGE_DATE.search(path.read_text(encoding="utf-8"))
    if not match or int(match.group(1)) != data_year + 1:
        found = match.group(0) if match else "none"
        raise SourceFormatError(
            f"{ref_path}: expected a publication date in {data_year + 1} on the page, found {found}"
        )
    return f"{match.group(1)}-{int(match.group(2)):02d}-{int(match.group(3)):02d}"


def _page_rows(snapshot_dir: Path, data_year: int) -> list[dict]:
    ref_path = f"{FOLDER}/nbs_rd_bulletin_{data_year}.html"
    path = snapshot_dir / ref_path
    read_provenance(path)
    table = read_page_table(path, ref_path)
    vintage = page_date(path, ref_path, data_year)
    note = f"bulletin first release, original page published {vintage}"
    rows = []
    for row_no, label, expenditure, intensity in table.rows:
        for indicator, text, col, unit in (
            ("rd_expenditure", expenditure, table.expenditure_col, "亿元"),
            ("rd_intensity", intensity, table.intensity_col, "%"),
        ):
            rows.append(
                _row(
                    indicator,
                    label,
                    data_year,
                    _number(text, table.ref(row_no, col)),
                    unit,
                    table.ref(row_no, col),
                    vintage,
                    note,
                )
            )
    return rows


def _number(text: str, where: str) -> float:
    try:
        return parse_number(text)
    except ValueError:
        raise SourceFormatError(f"{where}: expected a number, found {text!r}") from None


# --------------------------------------------------------------------------------------------
# Transcription (.xlsx)


def read_transcription(snapshot_dir: Path, data_year: int) -> list[dict]:
    """{label, rd_expenditure, rd_intensity, ref_exp, ref_int} per region row of one techme workbook."""
    ref_path = f"{FOLDER}/techme_bulletin_table_{data_year}.xlsx"
    path = snapshot_dir / ref_path
    read_provenance(path)
    # read_only + reset_dimensions: the files lack a drawing part and store a wrong sheet dimension.
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()
        grid = [list(row) for row in sheet.iter_rows(values_only=True)]
        title = sheet.title
    finally:
        book.close()
    header = [WHITESPACE.sub("", str(v or "")) for v in (grid[0] if grid else [])]
    try:
        label_col = header.index("地区")
        exp_col = next(i for i, h in enumerate(header) if "经费" in h)
        int_col = next(i for i, h in enumerate(header) if "强度" in h)
    except (ValueError, StopIteration):
        raise SourceFormatError(
            f"{ref_path}#{title}!A1: expected header cells 地区, …经费, …强度 in row 1, found {header}"
        ) from None
    records = []
    for row_no, cells in enumerate(grid[1:], start=2):
        label = WHITESPACE.sub("", str(cells[label_col] or ""))
        if not label:
            continue
        ref_exp = f"{ref_path}#{title}!{chr(65 + exp_col)}{row_no}"
        ref_int = f"{ref_path}#{title}!{chr(65 + int_col)}{row_no}"
        records.append(
            {
                "label": label,
                "rd_expenditure": _number(cells[exp_col], ref_exp),
                "rd_intensity": _number(cells[int_col], ref_int),
                "ref_exp": ref_exp,
                "ref_int": ref_int,
            }
        )
    return records


def _transcription_rows(snapshot_dir: Path, data_year: int) -> list[dict]:
    rows = []
    for rec in read_transcription(snapshot_dir, data_year):
        rows.append(
            _row(
                "rd_expenditure",
                rec["label"],
                data_year,
                rec["rd_expenditure"],
                "亿元",
                rec["ref_exp"],
                None,
                TRANSCRIPTION_NOTE,
            )
        )
        rows.append(
            _row(
                "rd_intensity",
                rec["label"],
                data_year,
                rec["rd_intensity"],
                "%",
                rec["ref_int"],
                None,
                TRANSCRIPTION_NOTE,
            )
        )
    return rows


# --------------------------------------------------------------------------------------------


def _row(indicator, label, year, value, unit, ref, vintage, note) -> dict:
    return {
        "source_id": SOURCE_ID,
        "release": release_id(year),
        "release_kind": "first_release",
        "vintage": vintage,
        "indicator_id": indicator,
        "region_label": label,
        "region_label_en": "",
        "year": year,
        "value": value,
        "unit": unit,
        "obs_status": "m" if math.isnan(value) else "",
        "source_ref": ref,
        "note": note,
    }


def extract(snapshot_dir: Path = SNAPSHOT_DIR) -> pd.DataFrame:
    """Page rows (2018–2023) and transcription rows (2011–2023). Where both hold a value,
    :func:`merge_transcriptions` keeps the page's and reports the transcription's as a dropped row."""
    rows: list[dict] = []
    for year in PAGE_YEARS:
        rows.extend(_page_rows(snapshot_dir, year))
    for year in TRANSCRIPTION_YEARS:
        rows.extend(_transcription_rows(snapshot_dir, year))
    return tidy_frame(rows)


# --------------------------------------------------------------------------------------------
# One value per bulletin, region, indicator and year


def _rank(source_ref: str) -> int:
    """Which copy of a bulletin value wins: the original page, then the hand transcription of figures read
    from stored pages (sources/bulletins.py, each row naming its page), then the third-party table."""
    if source_ref.startswith(f"{FOLDER}/nbs_rd_bulletin_"):
        return 0
    if source_ref.startswith(f"{FOLDER}/techme_"):
        return 2
    return 1


def merge_transcriptions(tidy: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows kept, rows dropped with a ``drop_reason``) for the bulletin rows of a tidy frame.

    Several copies of one bulletin value (same release, indicator, region label, year) keep only the best
    copy (:func:`_rank`); each other copy becomes a dropped row whose reason says whether it agrees with
    the kept value at the printed precision or differs (and, for a differing copy, whether it holds the
    next bulletin's figure, as the mislabelled 2018 transcription does). Every row of a release takes the
    release's publication date when any copy knows it (the pages' date lines, the dated hand-transcribed
    national rows). Rows of other sources pass through unchanged.
    """
    is_bulletin = tidy["source_id"] == SOURCE_ID
    bulletin = tidy[is_bulletin].copy()
    if bulletin.empty:
        return tidy, pd.DataFrame(columns=[*tidy.columns, "drop_reason"])
    vintages = bulletin.dropna(subset=["vintage"]).groupby("release")["vintage"].max()
    bulletin["vintage"] = (
        bulletin["release"].map(vintages).where(bulletin["release"].isin(vintages.index), bulletin["vintage"])
    )
    bulletin["_label"] = bulletin["region_label"].str.replace(WHITESPACE, "", regex=True)
    bulletin["_rank"] = bulletin["source_ref"].map(_rank)
    key = ["release", "indicator_id", "_label", "year"]
    bulletin = bulletin.sort_values([*key, "_rank"], kind="stable")
    first = ~bulletin.duplicated(key, keep="first")
    kept, copies = bulletin[first], bulletin[~first]
    best = kept.set_index(key)
    next_year = kept.assign(year=kept["year"] - 1, release=(kept["year"] - 1).map(release_id)).set_index(key)
    reasons = [
        _copy_reason(rec, best.loc[k], next_year["value"].get(k))
        for k, rec in zip(copies[key].itertuples(index=False, name=None), copies.to_dict("records"))
    ]
    dropped = copies.assign(drop_reason=reasons).drop(columns=["_label", "_rank"])
    kept = kept.drop(columns=["_label", "_rank"])
    merged = pd.concat([tidy[~is_bulletin], kept], ignore_index=True)
    return merged, dropped.reset_index(drop=True)


def _copy_reason(copy: dict, best, next_value) -> str:
    same = math.isclose(copy["value"], best["value"], rel_tol=1e-9, abs_tol=1e-9) or (
        math.isnan(copy["value"]) and math.isnan(best["value"])
    )
    head = f"another copy of {copy['release']} {copy['indicator_id']}: kept {best['source_ref']}"
    if same:
        return f"{head}; this copy agrees ({_show(copy['value'])})"
    told = ""
    if next_value is not None and math.isclose(copy["value"], float(next_value), abs_tol=1e-9):
        told = f"; it equals the {copy['year'] + 1} bulletin's figure (a mislabelled file)"
    return f"{head}; this copy DIFFERS: {_show(copy['value'])} here vs {_show(best['value'])} kept{told}"


def _show(value: float) -> str:
    return f"{value:g}"
