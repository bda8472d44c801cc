"""Limits on one statistician's file, so that no file can take the portal down or hold a writer for long.

Every limit is a setting (sti_portal/core/settings.py, STI_UPLOAD_*); a file over one gets its verdict at
once, with a sentence naming the limit, what was found and the setting that raises it. The workbook checks
read only the zip directory (names and declared sizes), before any XML is parsed: a 200 KB file that
unzips to 200 MB (a zip bomb) stops here. Python's zipfile refuses to inflate a member beyond its
declared size (it checks the CRC), so the declared sizes are the sizes that would be read.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass

from sti_portal.core.settings import Settings, load_settings

MB = 1024 * 1024
MACRO_PARTS = ("xl/vbaProject.bin", "xl/vbaProjectSignature.bin")


@dataclass(frozen=True)
class UploadLimits:
    file_bytes: int
    rows: int
    columns: int
    cell_chars: int
    sheets: int
    unzipped_bytes: int
    problems: int

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> UploadLimits:
        settings = settings or load_settings()
        return cls(
            file_bytes=int(settings.upload_max_file_mb * MB),
            rows=settings.upload_max_rows,
            columns=settings.upload_max_columns,
            cell_chars=settings.upload_max_cell_chars,
            sheets=settings.upload_max_sheets,
            unzipped_bytes=int(settings.upload_max_unzipped_mb * MB),
            problems=settings.upload_max_problems,
        )


class LimitExceeded(Exception):
    """A file over a limit: `message` says which, `found` what the file has, `expected` the limit."""

    def __init__(self, message: str, found: str, expected: str, rule: str):
        super().__init__(message)
        self.found = found
        self.expected = expected
        self.rule = rule


def _mb(size: int) -> str:
    return f"{size / MB:,.1f} MB"


def check_file_size(size_bytes: int, limits: UploadLimits) -> None:
    if size_bytes > limits.file_bytes:
        raise LimitExceeded(
            f"the file is {_mb(size_bytes)}, larger than the {_mb(limits.file_bytes)} an upload may be; "
            "split it into several files (one per indicator or year)",
            found=_mb(size_bytes),
            expected=f"at most {_mb(limits.file_bytes)} (STI_UPLOAD_MAX_FILE_MB)",
            rule="file_too_large",
        )


def check_zip_directory(book: zipfile.ZipFile, limits: UploadLimits) -> None:
    """Macros, sheet count and unzipped size, from the zip directory alone."""
    names = book.namelist()
    macros = [name for name in names if name in MACRO_PARTS or name.lower().endswith("vbaproject.bin")]
    if macros:
        raise LimitExceeded(
            "the workbook holds macros (a macro-enabled .xlsm saved or renamed as .xlsx); macros are never opened here",
            found=", ".join(macros[:3]),
            expected="a plain .xlsx workbook (Excel: Save as → 'Excel Workbook (*.xlsx)')",
            rule="macro_workbook",
        )
    sheets = [name for name in names if name.startswith("xl/worksheets/") and name.endswith(".xml")]
    if len(sheets) > limits.sheets:
        raise LimitExceeded(
            f"the workbook has {len(sheets)} sheets, more than the {limits.sheets} an upload may have",
            found=f"{len(sheets)} sheets",
            expected=f"at most {limits.sheets} (STI_UPLOAD_MAX_SHEETS)",
            rule="too_many_sheets",
        )
    unzipped = sum(info.file_size for info in book.infolist())
    if unzipped > limits.unzipped_bytes:
        largest = max(book.infolist(), key=lambda info: info.file_size)
        raise LimitExceeded(
            f"the workbook unzips to {_mb(unzipped)} ({largest.filename}: {_mb(largest.file_size)}), "
            f"more than the {_mb(limits.unzipped_bytes)} an upload may; a cell or sheet far larger "
            "than any statistical table (a zip bomb?)",
            found=f"{_mb(unzipped)} unzipped",
            expected=f"at most {_mb(limits.unzipped_bytes)} (STI_UPLOAD_MAX_UNZIPPED_MB)",
            rule="workbook_too_large",
        )


def rows_exceeded(limits: UploadLimits) -> LimitExceeded:
    return LimitExceeded(
        f"the file has more than {limits.rows:,} rows, the most an upload may have; reading stopped "
        "there. Split it into several files",
        found=f"more than {limits.rows:,} rows",
        expected=f"at most {limits.rows:,} rows (STI_UPLOAD_MAX_ROWS)",
        rule="too_many_rows",
    )


def columns_exceeded(n_columns: int, limits: UploadLimits) -> LimitExceeded:
    return LimitExceeded(
        f"a row has {n_columns:,} columns, more than the {limits.columns} an upload may have; reading stopped there",
        found=f"{n_columns:,} columns",
        expected=f"at most {limits.columns} columns (STI_UPLOAD_MAX_COLUMNS); the upload format has 8",
        rule="too_many_columns",
    )


def cell_too_long(n_chars: int, limits: UploadLimits) -> str:
    return f"the cell holds {n_chars:,} characters, more than the {limits.cell_chars:,} a cell may hold"
