"""Shared fixtures: one real build of the warehouse from the bundled snapshots per test session."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def run_sti(
    args: list[str], home: Path, timeout: int = 600, env_extra: dict | None = None, **kwargs
) -> subprocess.CompletedProcess:
    """Run the `sti` command the way a user does, in its own process."""
    env = {**os.environ, "STI_HOME": str(home), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "sti_portal", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


@pytest.fixture(scope="session")
def built_home(tmp_path_factory) -> Path:
    """STI_HOME after `sti build` from the bundled sources (a real Dagster run)."""
    home = tmp_path_factory.mktemp("sti-home")
    result = run_sti(["build"], home)
    assert result.returncode == 0, f"sti build failed:\n{result.stdout}\n{result.stderr}"
    return home


@pytest.fixture(scope="session")
def sti_db(built_home) -> Path:
    return built_home / "sti.db"


@pytest.fixture(scope="session")
def warehouse_db(built_home) -> Path:
    return built_home / "warehouse.duckdb"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(home: Path):
    """A real `sti serve` on a free loopback port for STI_HOME=home; yields its base URL."""
    import httpx

    port = free_port()
    # The server's output goes to a file, not a pipe: nobody reads a pipe while tests run, and a full
    # pipe would stall the server after a few hundred log lines.
    log = tempfile.NamedTemporaryFile(prefix="sti-serve-", suffix=".log", delete=False)
    # One worker: the tests of the in-process response cache expect the second request to meet the first one's.
    process = subprocess.Popen(
        [sys.executable, "-m", "sti_portal", "serve", "--port", str(port), "--workers", "1"],
        cwd=REPO_ROOT,
        env={**os.environ, "STI_HOME": str(home)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/-/settings.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            process.kill()
            process.wait(timeout=10)
            raise RuntimeError(f"datasette did not start: {Path(log.name).read_text(errors='replace')[-3000:]}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        os.unlink(log.name)


@pytest.fixture(scope="session")
def portal_url(built_home):
    """A real Datasette serving the built sti.db on loopback, started with `sti serve`."""
    with serving(built_home) as url:
        yield url
