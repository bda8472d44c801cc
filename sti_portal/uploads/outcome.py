"""What `sti check`/`sti load` found: one FileOutcome per file, one Outcome per run (reports read these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from sti_portal.uploads.problems import Problem, UploadRead


@dataclass
class FileOutcome:
    path: Path
    name: str = ""
    sha256: str = ""
    size: int = 0
    release: str = ""
    read: UploadRead | None = None
    status: str = ""  # check: valid | invalid; load: accepted | rejected | unchanged | held
    note: str = ""
    moved_to: Path | None = None
    reports: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.name = self.name or self.path.name

    @property
    def problems(self) -> list[Problem]:
        if self.read is None:
            return []
        order = {"error": 0, "warning": 1}
        return sorted(self.read.problems, key=lambda p: (order[p.severity], p.sheet, p.row or 0, p.column))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def counts(self) -> str:
        """Every problem counted, listed or not (a file lists at most STI_UPLOAD_MAX_PROBLEMS of each)."""
        if self.read is None:
            return "0 error(s), 0 warning(s)"
        return f"{self.read.count('error'):,} error(s), {self.read.count('warning'):,} warning(s)"

    def unlisted(self) -> str:
        if self.read is None or not any(self.read.omitted.values()):
            return ""
        return (
            f"… and {self.read.omitted['error']:,} more error(s), {self.read.omitted['warning']:,} more "
            f"warning(s), not listed (the first {self.read.max_problems:,} of each are; STI_UPLOAD_MAX_PROBLEMS)"
        )

    def summary(self) -> str:
        if self.read is None or not self.read.rows:
            return "no values read"
        rows = pd.DataFrame(self.read.rows)
        years = (
            f"{rows['year'].min()}–{rows['year'].max()}" if rows["year"].nunique() > 1 else str(rows["year"].iloc[0])
        )
        indicators = ", ".join(sorted(rows["indicator_id"].unique())[:5]) + (
            " ..." if rows["indicator_id"].nunique() > 5 else ""
        )
        gaps = int((rows["obs_status"] == "m").sum())
        return f"{len(rows)} value(s): {indicators}; {years}; {rows['region_code'].nunique()} region(s)" + (
            f"; {gaps} gap(s) flagged m" if gaps else ""
        )


@dataclass
class Outcome:
    mode: str  # "check" | "load"
    started_at: datetime
    files: list[FileOutcome]
    suites: list = field(default_factory=list)  # validate.SuiteOutcome on the combined data
    foreign: list[str] = field(default_factory=list)  # blocking failures no file caused
    base_description: str = ""
    generation: str | None = None
    publication: str = ""  # how an accepted batch was published: incremental | rebuild
    elapsed: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    error: str = ""  # the run itself failed (lock busy, internal error)
    report_txt: Path | None = None
    report_html: Path | None = None
    notes: list[str] = field(default_factory=list)  # said at the end of the report (e.g. it could not be written)

    @property
    def rejected(self) -> bool:
        return bool(self.error or self.foreign or any(f.errors for f in self.files))

    @property
    def exit_code(self) -> int:
        if self.error:
            return 2
        return 1 if self.rejected else 0

    @property
    def verdict(self) -> str:
        if self.error:
            return "error"
        if self.mode == "check":
            return "invalid" if self.rejected else "valid"
        if self.rejected:
            return "rejected"
        return "accepted" if any(f.status == "accepted" for f in self.files) else "unchanged"
