"""Where things live, and every setting the deployment can change (the STI_* environment variables).

Everything the pipeline writes goes under STI_HOME (default: ./.sti-home in the checkout). The
settings are read from the environment in one place, `Settings` below (pydantic-settings: typed,
with a default and a meaning per field); `load_settings()` reads them when a command, a Dagster
resource or the portal starts. Nothing here changes the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
CATALOGUE_DIR = REPO_ROOT / "catalogue"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
PORTAL_DIR = REPO_ROOT / "portal"
WAREHOUSE_SQL_DIR = REPO_ROOT / "warehouse"
BUNDLED_SNAPSHOT_DIR = REPO_ROOT / "sources" / "snapshots"

PORTAL_NAME = "sti-portal"
# Runs that write the warehouse carry this tag; the Dagster run queue starts one at a time (DAGSTER_YAML).
WRITER_TAGS = {"sti/writes": "warehouse"}


class Settings(BaseSettings):
    """Every STI_* environment variable, with its default and meaning (README: Settings)."""

    model_config = SettingsConfigDict(env_prefix="STI_", frozen=True, extra="ignore")

    home: Path = Field(
        REPO_ROOT / ".sti-home",
        description="STI_HOME: where the warehouse, sti.db, downloads, reports and the inbox live",
    )
    snapshot_dir: Path = Field(
        BUNDLED_SNAPSHOT_DIR, description="STI_SNAPSHOT_DIR: another copy of the source snapshots to build from"
    )
    extra_regions: str = Field(
        "",
        description="STI_EXTRA_REGIONS: extra region catalogues (CSV paths joined by "
        "the OS path separator), e.g. counties for the benchmarks",
    )
    lock_timeout: float = Field(900.0, description="STI_LOCK_TIMEOUT: seconds a writer waits for the write lock")
    load_rebuild: bool = Field(
        False,
        description="STI_LOAD_REBUILD: `sti load` rebuilds from every input instead of appending (as `--rebuild`)",
    )
    inbox_settle_seconds: float = Field(
        30.0,
        description="STI_INBOX_SETTLE_SECONDS: a dropped file is loaded only once it has not changed for this long",
    )
    response_cache_mb: int = Field(
        128, ge=0, description="STI_RESPONSE_CACHE_MB: the portal's in-process response cache (0 turns it off)"
    )
    access_log: bool = Field(False, description="STI_ACCESS_LOG: uvicorn's access log on the portal")
    base_url: str = Field(
        "",
        description="STI_BASE_URL: the public address citations use (e.g. "
        "https://sti.example.org); empty: the address the request came to",
    )

    # The public SQL box (portal/site/sql_guard.py): arbitrary ?sql= kept from starving the pages.
    sql_box_time_limit_ms: int = Field(
        500,
        gt=0,
        description="STI_SQL_BOX_TIME_LIMIT_MS: time limit of one arbitrary SQL query (pages keep sql_time_limit_ms)",
    )
    sql_box_concurrency: int = Field(
        1,
        gt=0,
        description="STI_SQL_BOX_CONCURRENCY: arbitrary SQL queries run at "
        "once per worker (the other SQL threads serve pages)",
    )
    sql_box_per_minute: int = Field(
        30, gt=0, description="STI_SQL_BOX_PER_MINUTE: arbitrary SQL queries one client address may run per minute"
    )
    # Limits on a statistician's file (sti_portal/uploads/limits.py): a file over one gets its verdict at once.
    upload_max_file_mb: float = Field(
        10.0,
        gt=0,
        description="STI_UPLOAD_MAX_FILE_MB: largest file `sti check`/"
        "`sti load` reads (100,000 upload rows are about "
        "6 MB of CSV)",
    )
    upload_max_rows: int = Field(
        100_000,
        gt=0,
        description="STI_UPLOAD_MAX_ROWS: most rows in one file (all "
        "sheets); every region, indicator and year of a "
        "decade is about 10,000",
    )
    upload_max_columns: int = Field(50, gt=0, description="STI_UPLOAD_MAX_COLUMNS: most columns in one row")
    upload_max_cell_chars: int = Field(
        2_000, gt=0, description="STI_UPLOAD_MAX_CELL_CHARS: longest text in one cell (a note or source)"
    )
    upload_max_sheets: int = Field(20, gt=0, description="STI_UPLOAD_MAX_SHEETS: most sheets in one workbook")
    upload_max_unzipped_mb: float = Field(
        60.0,
        gt=0,
        description="STI_UPLOAD_MAX_UNZIPPED_MB: largest size of an "
        ".xlsx once unzipped, read from the zip directory "
        "before parsing (a zip bomb stops here)",
    )
    upload_max_problems: int = Field(
        200, gt=0, description="STI_UPLOAD_MAX_PROBLEMS: problems listed per file; the rest are counted"
    )
    free_space_margin_mb: float = Field(
        64.0,
        ge=0,
        description="STI_FREE_SPACE_MARGIN_MB: free space kept on top of what a new generation needs before writing it",
    )

    def extra_region_files(self) -> list[Path]:
        return [Path(p) for p in self.extra_regions.split(os.pathsep) if p.strip()]


def load_settings() -> Settings:
    """The settings as the environment gives them now (read at each entry point, not cached, so a test or
    a long-lived process that sets STI_HOME for one run sees it)."""
    return Settings()


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def portal_db(self) -> Path:
        return self.home / "sti.db"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def lock(self) -> Path:
        return self.home / ".write.lock"

    # Statisticians' uploads (sti_portal/uploads/load.py): dropped in `inbox`, kept in `archive` once
    # published, moved to `quarantine` with their report when rejected.
    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    # Atomic publication (sti_portal/publish/generations.py): every build or load writes a new directory
    # under `generations`; `current` is a symlink to the published one, and warehouse.duckdb, sti.db and
    # downloads in STI_HOME are symlinks through `current`, so one rename switches them all.
    @property
    def generations(self) -> Path:
        return self.home / "generations"

    @property
    def current(self) -> Path:
        return self.home / "current"

    def ensure(self) -> Paths:
        for folder in (self.home, self.dagster_home, self.reports, self.inbox, self.archive, self.quarantine):
            folder.mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        # New homes, and homes still holding the earlier default (telemetry only), get the run queue limit.
        if not dagster_yaml.exists() or dagster_yaml.read_text(encoding="utf-8") == "telemetry:\n  enabled: false\n":
            # Whole or not at all (temp + rename); on a full disk the next start writes it, and commands that
            # do not run Dagster (`sti check`, `sti load`) still give their verdict (issue 15).
            tmp = dagster_yaml.with_name(".dagster.yaml.tmp")
            try:
                tmp.write_text(DAGSTER_YAML, encoding="utf-8")
                os.replace(tmp, dagster_yaml)
            except OSError:
                tmp.unlink(missing_ok=True)
        return self


# Telemetry would try to reach the internet, which this deployment never does. Runs that write the
# warehouse carry the tag sti/writes; the run queue starts one at a time (the file lock in
# sti_portal/publish/generations.py is what actually serialises them, also for `sti build`/`sti load`).
DAGSTER_YAML = """telemetry:
  enabled: false
concurrency:
  runs:
    tag_concurrency_limits:
      - key: sti/writes
        limit: 1
"""


def snapshot_dir() -> Path:
    """The source snapshots to build from: the bundled ones unless STI_SNAPSHOT_DIR names another copy."""
    return load_settings().snapshot_dir.resolve()


def sti_home() -> Path:
    return load_settings().home.resolve()


def paths() -> Paths:
    return Paths(sti_home())
