"""What a read of one uploaded file holds: its rows, where each came from, and its problems."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from sources.common import tidy_frame

UPLOAD_SOURCE_ID = "upload"
UPLOAD_RELEASE_KIND = "upload"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, said so that a statistician can fix it."""

    severity: str  # "error" (the file is rejected) | "warning" (shown, does not block)
    file: str  # the file's name
    message: str  # what is wrong, in one sentence
    sheet: str = ""
    row: int | None = None  # 1-based, as Excel or a text editor numbers lines
    column: str = ""  # upload column (region, value, ...) or a letter
    cell: str = ""  # A1 reference, for workbooks
    found: str = ""  # the value found, as text
    expected: str = ""  # what was expected
    rule: str = ""  # short id of the rule (empty_file, unknown_region, gx:value_ranges, ...)

    def where(self) -> str:
        parts = []
        if self.sheet:
            parts.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}" + (f" ({self.cell})" if self.cell else ""))
        elif self.cell:
            parts.append(f"cell {self.cell}")
        return ", ".join(parts) or "whole file"

    def text(self) -> str:
        detail = []
        if self.found:
            detail.append(f"found {self.found}")
        if self.expected:
            detail.append(f"expected {self.expected}")
        return f"{self.where()}: {self.message}" + (f" ({'; '.join(detail)})" if detail else "")


QUOTE_CHARS = 80  # a value quoted in a message is cut here: a 200 MB cell must not become a 200 MB report


def quote(value) -> str:
    text = "" if value is None else str(value)
    if text == "":
        return "(empty)"
    if len(text) > QUOTE_CHARS:
        return f"{text[:QUOTE_CHARS]!r}… ({len(text):,} characters)"
    return repr(text)


class CellError(ValueError):
    """A cell that cannot be read: the message says what was found and what was expected."""

    def __init__(self, message: str, expected: str = ""):
        super().__init__(message)
        self.expected = expected


@dataclass
class RowPlace:
    """Where a tidy row came from: for messages about it."""

    sheet: str
    row: int
    cells: dict[str, str] = field(default_factory=dict)  # upload column -> A1 (workbooks) or "" (CSV)


@dataclass
class UploadRead:
    name: str  # the file's name, as shown in messages
    format: str = ""  # "CSV (UTF-8)", "xlsx", "yearbook table 1-8 (.xls)", ...
    rows: list[dict] = field(default_factory=list)  # tidy rows (TIDY_COLUMNS) + "region_code"
    places: list[RowPlace] = field(default_factory=list)  # aligned with rows
    problems: list[Problem] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)  # rows left out on purpose (yearbook macro-regions)
    max_problems: int = 0  # problems listed per severity (0: all); the rest are only counted
    omitted: dict[str, int] = field(default_factory=lambda: {"error": 0, "warning": 0})

    def add(self, problem: Problem) -> None:
        """List the problem, or count it once `max_problems` of its severity are listed (a file of a million
        bad rows gives a readable report, not a million lines)."""
        if self.max_problems and sum(p.severity == problem.severity for p in self.problems) >= self.max_problems:
            self.omitted[problem.severity] += 1
        else:
            self.problems.append(problem)

    def error(self, message: str, **where) -> None:
        self.add(Problem("error", self.name, message, **where))

    def warning(self, message: str, **where) -> None:
        self.add(Problem("warning", self.name, message, **where))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def count(self, severity: str) -> int:
        """Every problem of that severity, listed or not."""
        return sum(p.severity == severity for p in self.problems) + self.omitted[severity]

    def tidy(self) -> pd.DataFrame:
        return tidy_frame(self.rows)

    def place_of(self, source_ref: str) -> RowPlace | None:
        """Where the row with this source_ref came from (a derived value's ref starts with its input's)."""
        index = {row["source_ref"]: place for row, place in zip(self.rows, self.places)}
        return index.get(source_ref.split(" ÷ ")[0])


@dataclass(frozen=True)
class Release:
    """The release the rows of one file belong to."""

    release: str
    vintage: str  # YYYY-MM-DD
    ref_name: str  # how source_ref names the file (archive/<name> once archived)
