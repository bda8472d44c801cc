"""Where things live. Everything the pipeline writes goes under STI_HOME (default: ./.sti-home)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CATALOGUE_DIR = REPO_ROOT / "catalogue"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
PORTAL_DIR = REPO_ROOT / "portal"
WAREHOUSE_SQL_DIR = REPO_ROOT / "warehouse"

# Telemetry would try to reach the internet, which this deployment never does.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TQDM_DISABLE", "1")


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

    # Statisticians' uploads (sti_portal/load.py): dropped in `inbox`, kept in `archive` once published,
    # moved to `quarantine` with their report when rejected.
    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    # Atomic publication (sti_portal/generations.py): every build or load writes a new directory under
    # `generations`; `current` is a symlink to the published one, and warehouse.duckdb, sti.db and
    # downloads in STI_HOME are symlinks through `current`, so one rename switches them all.
    @property
    def generations(self) -> Path:
        return self.home / "generations"

    @property
    def current(self) -> Path:
        return self.home / "current"

    def ensure(self) -> "Paths":
        for folder in (self.home, self.dagster_home, self.reports, self.inbox, self.archive, self.quarantine):
            folder.mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        # New homes, and homes still holding the earlier default (telemetry only), get the run queue limit.
        if not dagster_yaml.exists() or dagster_yaml.read_text(encoding="utf-8") == "telemetry:\n  enabled: false\n":
            dagster_yaml.write_text(DAGSTER_YAML, encoding="utf-8")
        return self


# Runs that write the warehouse carry the tag sti/writes; the run queue starts one at a time (the file
# lock in sti_portal/generations.py is what actually serialises them, also for `sti build`/`sti load`).
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
    override = os.environ.get("STI_SNAPSHOT_DIR")
    return Path(override).resolve() if override else REPO_ROOT / "sources" / "snapshots"


def sti_home() -> Path:
    return Path(os.environ.get("STI_HOME", REPO_ROOT / ".sti-home")).resolve()


def paths() -> Paths:
    return Paths(sti_home())
