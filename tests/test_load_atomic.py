"""Atomic publication: `sti load` killed with SIGKILL at any point leaves the old state or the new one.

The load stops at a named checkpoint (sti_portal.publish.generations.checkpoint) when STI_FAULT_PAUSE_AT names
it: tests/fault_injection/sitecustomize.py, on the load's PYTHONPATH, makes it write a marker file and wait,
and the test kills it with SIGKILL there. Readers' paths (STI_HOME/sti.db and
warehouse.duckdb) must then show the previous state byte for byte (or, once the switch is done, the new
state, complete), and the next load must succeed.
"""

import os
import signal
import subprocess
import sys
import time

from conftest import REPO_ROOT, run_sti
from fault_injection.sitecustomize import marker_name
from upload_helpers import GOOD, build_digests, copy_home, published_state, query, stage

BEIJING_2022 = (
    "SELECT value FROM observations WHERE region_code = '110000' AND indicator_id = 'rd_intensity' AND year = 2022"
)


def kill_load_at(point: str, home, upload) -> None:
    hook = REPO_ROOT / "tests" / "fault_injection"
    env = {
        **os.environ,
        "STI_HOME": str(home),
        "STI_FAULT_PAUSE_AT": point,
        "PYTHONPATH": os.pathsep.join([str(hook), str(REPO_ROOT)]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "sti_portal", "load", str(upload)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    marker = home / marker_name(point)
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert process.poll() is None, f"sti load ended (exit {process.returncode}) before reaching {point}"
        assert time.monotonic() < deadline, f"sti load never reached {point}"
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL


def test_sigkill_during_a_load_leaves_the_old_or_the_new_state(built_home, tmp_path):
    home = copy_home(built_home, tmp_path / "home")
    before = published_state(home)
    upload = stage(GOOD / "beijing_2022_revision.csv", tmp_path / "desk")

    # Killed after the new warehouse is written, and again with everything written but not switched in.
    for point in ("warehouse_written", "before_switch"):
        kill_load_at(point, home, upload)
        assert published_state(home) == before, point
        warehouse, portal = build_digests(home)
        assert warehouse == portal
        assert query(home, BEIJING_2022) == [(6.84,)]
        assert upload.exists()  # the statistician's file is still there
        assert not list((home / "archive").glob("*.source.json"))  # nothing archived as published
        left = [g for g in (home / "generations").iterdir() if g.resolve() != (home / "current").resolve()]
        assert left, "the killed load left its unpublished generation behind (collected by the next writer)"

    # The next load cleans up and succeeds.
    result = run_sti(["load", str(upload)], home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert query(home, BEIJING_2022) == [(6.99,)]
    assert all((g / "manifest.json").exists() for g in (home / "generations").iterdir())
    assert not any((home / "archive" / ".staging").iterdir())
    assert not list(home.glob(".paused-at-*"))
    loaded = published_state(home)

    # Killed right after the switch: the new state is published, whole; the rerun finishes the archiving.
    second = stage(GOOD / "zhejiang_2024.xlsx", tmp_path / "desk")
    kill_load_at("after_switch", home, second)
    now = published_state(home)
    assert now["current"] != loaded["current"]
    warehouse, portal = build_digests(home)
    assert warehouse == portal
    assert query(
        home,
        "SELECT value FROM observations WHERE region_code = '330000' AND indicator_id = 'rd_intensity' AND year = 2024",
    ) == [(3.27,)]
    assert second.exists() and any((home / "archive" / ".staging").iterdir())
    result = run_sti(["load", str(second)], home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "already loaded" in result.stdout
    assert published_state(home) == now
    assert len(list((home / "archive").glob("*.source.json"))) == 2
    assert not any((home / "archive" / ".staging").iterdir())
