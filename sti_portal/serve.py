"""Serve sti.db with Datasette: immutable, read-only, loopback only, public-safe settings."""
from __future__ import annotations

import subprocess
import sys

import click

from sti_portal.config import PORTAL_DIR, Paths

# Public-safe limits: short SQL time limit, bounded rows, no facet or suggestion work beyond that.
SETTINGS = {
    "sql_time_limit_ms": "1000",
    "max_returned_rows": "1000",
    "default_page_size": "100",
    "facet_time_limit_ms": "300",
    "allow_download": "off",
    "default_cache_ttl": "300",
    "num_sql_threads": "3",
}


def datasette_command(paths: Paths, port: int, host: str = "127.0.0.1") -> list[str]:
    command = [sys.executable, "-m", "datasette", "serve", "-i", str(paths.portal_db),
               "--host", host, "--port", str(port),
               "--metadata", str(PORTAL_DIR / "metadata.yml")]
    inspect_file = paths.portal_db.with_name("inspect.json")
    if inspect_file.exists():
        command += ["--inspect-file", str(inspect_file)]
    for key, value in SETTINGS.items():
        command += ["--setting", key, value]
    return command


def serve_portal(paths: Paths, port: int) -> int:
    if not paths.portal_db.exists():
        click.echo(f"no portal database at {paths.portal_db}: run `sti build` first", err=True)
        return 1
    click.echo(f"serving {paths.portal_db} at http://127.0.0.1:{port}/sti (Ctrl-C to stop)")
    try:
        return subprocess.call(datasette_command(paths, port))
    except KeyboardInterrupt:
        return 0
