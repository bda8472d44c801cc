"""The benchmark suite's quick mode runs end to end, so its code cannot rot. No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_benchmarks_quick(tmp_path):
    env = {**os.environ, "STI_HOME": str(tmp_path / "home")}
    env.pop("STI_EXTRA_REGIONS", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--quick",
            "--skip-build",
            "--clients",
            "2",
            "--work",
            str(tmp_path / "work"),
            "--doc",
            str(tmp_path / "benchmarks.md"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    doc = (tmp_path / "benchmarks.md").read_text(encoding="utf-8")
    for measure in (
        "ratio ours / raw",
        "GX suites / hand-written DuckDB SQL",
        "incremental / full rebuild",
        "portal 2 clients: /indicator/rd_intensity",
        "full-table CSV download",
    ):
        assert measure in doc, measure
    assert (tmp_path / "work" / "results.json").exists()


def test_synthetic_counties_are_gbt2260_like():
    from benchmarks.synthetic import county_regions

    regions = county_regions(seed=1)
    assert 2800 <= len(regions) <= 2900
    assert regions["region_code"].is_unique
    assert regions["region_code"].str.fullmatch(r"[1-6]\d{5}").all()
    assert not regions["region_code"].str.endswith("00").any()
