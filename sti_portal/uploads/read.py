"""Statisticians' uploads: the upload format (CSV or Excel) and yearbook tables, one file at a time.

The upload format is a long table, one row per region, indicator and year::

    region,indicator,year,value,unit,obs_status,source,note
    河北,R&D经费投入强度,2023,2.08,%,,河北省2023年科技经费投入统计公报,

* region: GB/T 2260 code (130000) or Chinese or English name, with or without suffix (河北, 河北省, Hebei);
* indicator: catalogue id (rd_intensity) or its Chinese or English name or an alias
  (catalogue/indicator_aliases.csv);
* year: the data year; value: a number, full-width digits and thousands separators allowed; a missing
  marker (empty, —, …, -, x) is a gap, flagged obs_status "m", never a zero;
* unit: the indicator's unit or one convertible to it (元/万元/亿元, 件/万件, ...);
* optional obs_status (SDMX: p provisional, e estimated, b break, m missing), source, note.

Headers may be in English or Chinese (地区, 指标, 年份, 数值, 单位, 状态, 来源, 备注). CSV may be UTF-8
(with or without BOM), GBK/GB18030 or UTF-16; Excel files may be .xlsx or .xls; every sheet with the
header row is read. A workbook without that header but with a yearbook table (a 地区/Region column, see
sources/yearbook_xls.py) is read as that yearbook table.

`read_upload` returns the tidy rows (sources/common.TIDY_COLUMNS, value in the unit as written) and
every problem found in the file, each with sheet, row, column, the value found and what was expected.
Problems that need the published data (duplicates against it, year-on-year jumps, Great Expectations
suites) are found in sti_portal/uploads/checks.py.

Modules: problems.py (what a read holds), values.py (one cell), lookups.py (catalogue names), table.py
(the long table), csvfile.py, workbooks.py, yearbook.py (the formats).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from sources.common import tidy_frame
from sti_portal.uploads.csvfile import decode_text, read_csv
from sti_portal.uploads.limits import LimitExceeded, UploadLimits, check_file_size
from sti_portal.uploads.problems import (
    UPLOAD_RELEASE_KIND,
    UPLOAD_SOURCE_ID,
    CellError,
    Problem,
    Release,
    RowPlace,
    UploadRead,
)
from sti_portal.uploads.values import parse_value, parse_year
from sti_portal.uploads.workbooks import OLE_SIGNATURE, read_ole, read_zip

__all__ = [
    "UPLOAD_RELEASE_KIND",
    "UPLOAD_SOURCE_ID",
    "CellError",
    "Problem",
    "Release",
    "RowPlace",
    "UploadRead",
    "decode_text",
    "extract_archived",
    "parse_value",
    "parse_year",
    "read_upload",
]

ZIP_SIGNATURE = b"PK\x03\x04"
HEAD_BYTES = 256 * 1024  # the first bytes: enough to tell the format and sample the encoding


def read_upload(
    path: Path, release: Release, name: str | None = None, limits: UploadLimits | None = None
) -> UploadRead:
    """Read one uploaded file; never raises for a problem in the file (it is reported instead)."""
    limits = limits or UploadLimits.from_settings()
    result = UploadRead(name=name or path.name, max_problems=limits.problems)
    if path.is_symlink():  # never read what a link points to: it could be any file of the server
        result.error(
            "the file is a symbolic link, not a file; links are not followed",
            found=path.name,
            expected="the file itself (copy it, do not link it)",
            rule="symlink",
        )
        return result
    try:
        head = _read_head(path, limits)
    except LimitExceeded as exc:
        result.error(str(exc), found=exc.found, expected=exc.expected, rule=exc.rule)
        return result
    except OSError as exc:
        result.error(f"the file cannot be opened: {exc.strerror or exc}", rule="unreadable")
        return result
    try:
        _read_content(head, path, release, result, limits)
    except MemoryError:
        raise  # a resource fault: `sti check`/`sti load` report it as "could not run" (exit 2)
    except Exception as exc:  # a reader failing in an unforeseen way must still give a verdict, not a traceback
        result.error(
            f"the file could not be read ({type(exc).__name__}: {str(exc)[:200]}); "
            "save it again as .xlsx or as CSV UTF-8 and retry",
            rule="unreadable",
        )
    return result


def _open(path: Path) -> BinaryIO:
    """The file opened for reading without following a link (it was checked not to be one; this closes the race)."""
    return os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb")


def _read_head(path: Path, limits: UploadLimits) -> bytes:
    """The first bytes of the file (enough to tell its format), after its size is checked against the limit."""
    with _open(path) as handle:
        check_file_size(os.fstat(handle.fileno()).st_size, limits)
        return handle.read(HEAD_BYTES)


def _whole(path: Path, limits: UploadLimits) -> bytes:
    """A workbook's bytes (zip and OLE readers need them all; the file size limit bounds them)."""
    with _open(path) as handle:
        return handle.read(limits.file_bytes + 1)


def _read_content(head: bytes, path: Path, release: Release, result: UploadRead, limits: UploadLimits) -> None:
    if len(head) < HEAD_BYTES and not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        result.error(
            "the file is empty" if not head else "the file holds only blank space",
            expected="a header row and at least one data row",
            rule="empty_file",
        )
        return
    if head[:4] in (ZIP_SIGNATURE, b"PK\x05\x06"):
        read_zip(_whole(path, limits), path, release, result, limits)
    elif head.startswith(OLE_SIGNATURE):
        read_ole(head, path, release, result, limits)
    elif head.startswith(b"%PDF"):
        result.error(
            "this is a PDF document, not a table",
            expected="a CSV or Excel (.xlsx) file in the upload format",
            rule="wrong_format",
        )
    elif re.match(rb"\s*<(!doctype\s+html|html|table|\?xml)", head[:200], re.IGNORECASE):
        result.error(
            "this is an HTML/XML page (often saved with an .xls name by web sites), not a workbook",
            expected="open it in Excel and save it as .xlsx, or as CSV UTF-8",
            rule="wrong_format",
        )
    else:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            result.error(
                "the file is named .xlsx but is not an Excel workbook (no .xlsx package inside)",
                expected="a file saved by Excel as .xlsx",
                rule="not_xlsx",
            )
            return
        read_csv(lambda: _open(path), head, release, result, limits)


def extract_archived(entries, locate) -> tuple[pd.DataFrame, list[str]]:
    """Tidy rows of every archived upload (for `sti build`), and any problem re-reading them.

    `entries` are sti_portal.publish.archive.ArchivedUpload, `locate(entry)` gives the archived file's path.
    """
    frames, problems = [], []
    for entry in entries:
        try:
            path = locate(entry)
        except FileNotFoundError as exc:
            problems.append(str(exc))
            continue
        read = read_upload(path, Release(entry.release, entry.vintage, entry.source_prefix), name=entry.archived_name)
        problems += [f"{entry.archived_name}: {p.text()}" for p in read.errors]
        if read.rows:
            frames.append(read.tidy())
    if not frames:
        return tidy_frame([]), problems
    return pd.concat(frames, ignore_index=True), problems
