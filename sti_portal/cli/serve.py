"""Serve sti.db with Datasette: immutable, read-only, loopback only, public-safe settings.

The public site (home, indicator, region and map pages, downloads) is Datasette plus the files in
``portal/``: ``templates/`` (``--template-dir``), ``plugins/sti_site.py`` (``--plugins-dir``) and
``static/`` mounted at ``/assets`` (the vendored chart libraries and the site's CSS and JS).

No ``--inspect-file``: the plugin counts each publication's tables itself when it starts serving it
(also after a switch to a new sti.db, which a file given at startup would not follow) and installs the
counts as Datasette's inspect data. uvicorn (started by ``datasette serve``) picks uvloop and httptools
when they are installed, so both are declared dependencies of the project: with h11 instead of
httptools the portal serves about half as many cached pages per second (1,750 -> 930 req/s, 50 loopback
clients, 2 cores). HTTP keep-alive is on (uvicorn's default, 5 s). uvicorn's access log is off unless
STI_ACCESS_LOG=1 (see portal/plugins/sti_site.py); STI_RESPONSE_CACHE_MB sizes the response cache
(default 128, 0 = off).
"""
from __future__ import annotations

import os
import subprocess
import sys

import click

from sti_portal.core.settings import PORTAL_DIR, Paths

# Public-safe limits: short SQL time limit, bounded rows, no facet or suggestion work beyond that.
# Whole tables are pre-built files under /downloads, so Datasette never streams a table row by row.
SETTINGS = {
    "sql_time_limit_ms": "1000",
    "max_returned_rows": "1000",
    "default_page_size": "100",
    "facet_time_limit_ms": "300",
    "suggest_facets": "off",
    "allow_download": "off",
    "allow_csv_stream": "off",
    "default_cache_ttl": "300",
    "num_sql_threads": "3",
}
TEMPLATE_DIR = PORTAL_DIR / "templates"
PLUGINS_DIR = PORTAL_DIR / "plugins"
STATIC_DIR = PORTAL_DIR / "static"


def datasette_command(paths: Paths, port: int, host: str = "127.0.0.1") -> list[str]:
    command = [sys.executable, "-m", "datasette", "serve", "-i", str(paths.portal_db),
               "--host", host, "--port", str(port),
               "--metadata", str(PORTAL_DIR / "metadata.yml"),
               "--template-dir", str(TEMPLATE_DIR),
               "--plugins-dir", str(PLUGINS_DIR),
               "--static", f"assets:{STATIC_DIR}"]
    for key, value in SETTINGS.items():
        command += ["--setting", key, value]
    return command


def serve_portal(paths: Paths, port: int) -> int:
    if not paths.portal_db.exists():
        click.echo(f"no portal database at {paths.portal_db}: run `sti build` first", err=True)
        return 1
    click.echo(f"serving the portal at http://127.0.0.1:{port}/ (tables and SQL at /sti; Ctrl-C to stop)")
    command = datasette_command(paths, port)
    if os.name == "posix":
        # Become Datasette (same PID): a SIGTERM to `sti serve` stops the server itself, and no
        # orphaned Datasette keeps the port after its parent is gone.
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(command[0], command)
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0
