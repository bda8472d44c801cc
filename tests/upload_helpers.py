"""Helpers for the statisticians' workflow tests (uploads, loads, the inbox sensor)."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import duckdb
from conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures"
BAD = FIXTURES / "bad_uploads"
GOOD = FIXTURES / "good_uploads"
TEMPLATES = [REPO_ROOT / "docs" / "upload-template.csv", REPO_ROOT / "docs" / "upload-template.xlsx"]


def bad_cases() -> list[tuple[str, str]]:
    """(file name, words its report must contain), from bad_uploads/expected.csv."""
    with open(BAD / "expected.csv", encoding="utf-8", newline="") as handle:
        return [(row["file"], row["expected"]) for row in csv.DictReader(handle)]


def copy_home(built_home: Path, target: Path) -> Path:
    """A private copy of the session's built STI_HOME (generations and symlinks kept; no run history)."""
    shutil.copytree(
        built_home, target, symlinks=True, ignore=shutil.ignore_patterns("dagster", "reports", ".write.lock*")
    )
    return target


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def published_state(home: Path) -> dict[str, str]:
    """What readers see: the bytes behind STI_HOME/sti.db and warehouse.duckdb, and the current generation."""
    return {
        "sti.db": sha256(home / "sti.db"),
        "warehouse.duckdb": sha256(home / "warehouse.duckdb"),
        "current": os.readlink(home / "current") if (home / "current").is_symlink() else "",
    }


def build_digests(home: Path) -> tuple[str, str]:
    """content_sha256 as the warehouse and sti.db record it: equal when both come from one generation."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        warehouse = con.execute("SELECT value FROM build_info WHERE key = 'content_sha256'").fetchone()[0]
    with sqlite3.connect(f"file:{home / 'sti.db'}?mode=ro", uri=True) as db:
        portal = db.execute("SELECT value FROM build_info WHERE key = 'content_sha256'").fetchone()[0]
    return warehouse, portal


def query(home: Path, sql: str, *params):
    with sqlite3.connect(f"file:{home / 'sti.db'}?mode=ro", uri=True) as db:
        return db.execute(sql, params).fetchall()


def stage(source: Path, folder: Path, name: str | None = None) -> Path:
    """Copy a fixture where a statistician would have it (loads move files away)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (name or source.name)
    shutil.copyfile(source, target)
    return target


class Serving:
    """`sti serve` on a free loopback port for the duration of a with-block."""

    def __init__(self, home: Path):
        self.home = home

    def __enter__(self) -> str:
        import subprocess
        import sys
        import time

        import httpx
        from conftest import free_port

        port = free_port()
        env = {**os.environ, "STI_HOME": str(self.home)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sti_portal", "serve", "--port", str(port), "--workers", "1"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/-/settings.json", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                time.sleep(0.3)
        self.process.kill()
        raise RuntimeError("sti serve did not start")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
