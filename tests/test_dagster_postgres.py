"""The pipeline for a team: `dagster-daemon` (and `dagster-webserver`) with the shipped deploy/dagster/dagster.yaml (instance storage in
PostgreSQL through dagster-postgres) against a real PostgreSQL 15 from the OS packages, started here on a
loopback port. A statistician's file dropped in STI_HOME/inbox is picked up by the inbox sensor (ticked by
the daemon), the queued load_upload run is launched, succeeds and publishes; the run and its events are
rows in PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import httpx
import psycopg2
import pytest
from conftest import REPO_ROOT, free_port
from servers import require_postgresql
from upload_helpers import GOOD, copy_home, published_state, query, stage

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DAGSTER_YAML = REPO_ROOT / "deploy" / "dagster" / "dagster.yaml"
BIN = Path(sys.executable).parent


def _as_postgres(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """PostgreSQL refuses to run as root: as root, run its tools as the OS's `postgres` user."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)


@pytest.fixture()
def postgres():
    """A throwaway PostgreSQL cluster on 127.0.0.1:<free port> with a `dagster` database; yields libpq settings."""
    require_postgresql()
    base = Path(tempfile.mkdtemp(prefix="sti-pg-"))
    base.chmod(0o755)  # the postgres user must reach its data directory below
    data, sockets = base / "data", base / "run"  # run/: the socket and the server log
    for folder in (data, sockets):
        folder.mkdir()
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
    port = free_port()
    initdb = _as_postgres(
        [str(PG_BIN / "initdb"), "-D", str(data), "-U", "dagster", "--auth=trust", "-E", "UTF8", "--locale=C"]
    )
    assert initdb.returncode == 0, initdb.stderr
    started = _as_postgres(
        [
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(sockets / "server.log"),
            "-w",
            "-o",
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1",
            "start",
        ]
    )
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        created = _as_postgres(
            [str(PG_BIN.parent / "bin" / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "dagster", "dagster"]
        )
        assert created.returncode == 0, created.stderr
        yield {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(port),
            "DAGSTER_PG_DB": "dagster",
            "DAGSTER_PG_USER": "dagster",
            "DAGSTER_PG_PASSWORD": "trust-auth-on-loopback",
        }
    finally:
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def _wait_for_load_run(instance, daemon: subprocess.Popen, log: Path, timeout: float = 420):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert daemon.poll() is None, f"dagster-daemon exited: {log.read_text(errors='replace')[-3000:]}"
        runs = instance.get_runs(filters=dg.RunsFilter(job_name="load_upload"))
        if runs and runs[0].is_finished:
            return runs[0]
        time.sleep(2)
    raise AssertionError(
        f"no finished load_upload run within {timeout:.0f} s: {log.read_text(errors='replace')[-3000:]}"
    )


def _stop_group(process: subprocess.Popen) -> None:
    """Stop a Dagster process and the code server it started (same process group: start_new_session)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


RUNS_QUERY = "{ runsOrError { ... on Runs { results { runId status pipelineName } } } }"


def _webserver_runs(env: dict, tmp_path: Path) -> dict:
    """Start dagster-webserver on loopback with the same instance; the load_upload runs it reports."""
    port = free_port()
    log = tmp_path / "webserver.log"
    with open(log, "wb") as handle:
        webserver = subprocess.Popen(
            [
                str(BIN / "dagster-webserver"),
                "-w",
                str(REPO_ROOT / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert webserver.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                response = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": RUNS_QUERY}, timeout=10)
                if response.status_code == 200:
                    results = response.json()["data"]["runsOrError"]["results"]
                    return {r["runId"]: r["status"] for r in results if r["pipelineName"] == "load_upload"}
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise AssertionError(f"dagster-webserver did not answer: {log.read_text(errors='replace')[-3000:]}")
    finally:
        _stop_group(webserver)


def test_the_daemon_runs_the_inbox_sensor_end_to_end_with_postgres_storage(built_home, tmp_path, postgres, monkeypatch):
    home = copy_home(built_home, tmp_path / "home")
    dagster_home = home / "dagster"
    dagster_home.mkdir()
    shutil.copy(DAGSTER_YAML, dagster_home / "dagster.yaml")
    env = {
        **os.environ,
        **postgres,
        "STI_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "STI_INBOX_SETTLE_SECONDS": "0",
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    for name, value in postgres.items():
        monkeypatch.setenv(name, value)
    before = published_state(home)
    dropped = stage(GOOD / "beijing_2022_revision.csv", home / "inbox")

    log = tmp_path / "daemon.log"
    with open(log, "wb") as handle:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(REPO_ROOT / "workspace.yaml")],
            cwd=REPO_ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
            assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
            run = _wait_for_load_run(instance, daemon, log)
            assert run.status == dg.DagsterRunStatus.SUCCESS, log.read_text(errors="replace")[-3000:]
            assert run.tags["sti/file"] == dropped.name and run.tags["sti/verdict"] == "accepted"
            assert run.tags["sti/writes"] == "warehouse"
            assert run.tags["dagster/sensor_name"] == "inbox_sensor"  # requested by the daemon's sensor tick
    finally:
        _stop_group(daemon)
    assert query(
        home,
        "SELECT value FROM observations WHERE region_code = '110000' AND indicator_id = 'rd_intensity' AND year = 2022",
    ) == [(6.99,)]
    assert published_state(home)["current"] != before["current"]
    assert not dropped.exists() and list((home / "archive").glob("*__beijing_2022_revision.csv"))
    # the team's web UI reads the same PostgreSQL instance: it lists the daemon's run
    assert _webserver_runs(env, tmp_path) == {run.run_id: "SUCCESS"}
    # the run history is in PostgreSQL, not in a SQLite file under DAGSTER_HOME
    with (
        psycopg2.connect(
            host="127.0.0.1", port=int(postgres["DAGSTER_PG_PORT"]), dbname="dagster", user="dagster"
        ) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT count(*) FROM runs WHERE pipeline_name = 'load_upload' AND status = 'SUCCESS'")
        assert cursor.fetchone()[0] == 1
    assert not list(dagster_home.rglob("*.db"))
