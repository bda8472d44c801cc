"""Where things live. Everything the pipeline writes goes under STI_HOME (default: ./.sti-home)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
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

    def ensure(self) -> "Paths":
        for folder in (self.home, self.dagster_home, self.reports):
            folder.mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        if not dagster_yaml.exists():
            dagster_yaml.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
        return self


def snapshot_dir() -> Path:
    """The source snapshots to build from: the bundled ones unless STI_SNAPSHOT_DIR names another copy."""
    override = os.environ.get("STI_SNAPSHOT_DIR")
    return Path(override).resolve() if override else REPO_ROOT / "sources" / "snapshots"


def sti_home() -> Path:
    return Path(os.environ.get("STI_HOME", REPO_ROOT / ".sti-home")).resolve()


def paths() -> Paths:
    return Paths(sti_home())
