"""Serve sti.db with Datasette: immutable, read-only, public-safe settings, on every core.

The public site (home, indicator, region and map pages, downloads) is Datasette plus the files in
``portal/``: ``templates/`` (``--template-dir``), ``plugins/`` (``--plugins-dir``) and ``static/``
mounted at ``/assets`` (the vendored chart libraries and the site's CSS and JS).

Workers: `sti serve --workers N` (default: the cores this process may run on) starts N uvicorn worker
processes, each with its own Datasette built by `portal_app` (an ASGI factory), all accepting on ONE
listening socket that uvicorn's supervisor binds before it starts them (the kernel hands each new
connection to one worker; a worker that dies is restarted by the supervisor). uvicorn rather than
gunicorn: it is already what `datasette serve` runs, so no new server and no new dependency. Each
worker follows a publication switch by itself (the plugin checks STI_HOME/sti.db -> current/... on
every request and swaps its database between two requests), so a switch needs no signal, restart or
coordination and no request fails. Loopback (127.0.0.1) unless `--host` says otherwise; behind the
reverse proxy in ``deploy/`` (nginx) the portal stays on loopback.

No ``--inspect-file``: the plugin counts each publication's tables itself when it starts serving it
(also after a switch to a new sti.db, which a file given at startup would not follow) and installs the
counts as Datasette's inspect data. uvicorn picks uvloop and httptools (declared dependencies: with h11
instead of httptools the portal serves about half as many cached pages per second). HTTP keep-alive is
on (uvicorn's default, 5 s). uvicorn's access log is off unless STI_ACCESS_LOG=1 (it costs about a third
of the throughput of cached pages and blocks on a full stdout pipe).
"""

from __future__ import annotations

import os
import sys

import click

from sti_portal.core import settings as config
from sti_portal.core.settings import PORTAL_DIR, Paths

# Public-safe limits: short SQL time limit, bounded rows, no facet or suggestion work beyond that.
# Whole tables are pre-built files under /downloads, so Datasette never streams a table row by row.
SETTINGS = {
    "sql_time_limit_ms": 1000,
    "max_returned_rows": 1000,
    "default_page_size": 100,
    "facet_time_limit_ms": 300,
    "suggest_facets": False,
    "allow_download": False,
    "allow_csv_stream": False,
    "default_cache_ttl": 300,
    "num_sql_threads": 3,
}
TEMPLATE_DIR = PORTAL_DIR / "templates"
PLUGINS_DIR = PORTAL_DIR / "plugins"
STATIC_DIR = PORTAL_DIR / "static"
METADATA = PORTAL_DIR / "metadata.yml"
LOOPBACK = "127.0.0.1"


def _setting_text(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def datasette_command(paths: Paths, port: int, host: str = LOOPBACK) -> list[str]:
    """One plain `datasette serve` process with the portal's files and settings (the benchmarks' baseline)."""
    command = [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        "-i",
        str(paths.portal_db),
        "--host",
        host,
        "--port",
        str(port),
        "--metadata",
        str(METADATA),
        "--template-dir",
        str(TEMPLATE_DIR),
        "--plugins-dir",
        str(PLUGINS_DIR),
        "--static",
        f"assets:{STATIC_DIR}",
    ]
    for key, value in SETTINGS.items():
        command += ["--setting", key, _setting_text(value)]
    return command


def portal_app():
    """ASGI factory (uvicorn --factory): one Datasette over STI_HOME/sti.db, as `datasette serve` builds it.

    Called once in each worker process; STI_HOME comes from the environment the workers inherit.
    """
    from datasette.app import Datasette
    from datasette.utils import parse_metadata

    paths = config.paths()
    datasette = Datasette(
        [],
        immutables=[str(paths.portal_db)],
        cache_headers=True,
        metadata=parse_metadata(METADATA.read_text(encoding="utf-8")),
        template_dir=str(TEMPLATE_DIR),
        plugins_dir=str(PLUGINS_DIR),
        static_mounts=[("assets", str(STATIC_DIR))],
        settings=dict(SETTINGS),
    )
    return datasette.app()


def default_workers() -> int:
    """The cores this process may run on (its CPU affinity, which a container or taskset may narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def serve_portal(paths: Paths, port: int, workers: int | None = None, host: str = LOOPBACK) -> int:
    import uvicorn

    if not paths.portal_db.exists():
        click.echo(
            f"no portal database at {paths.portal_db}: run `sti build` first / 没有门户数据库，请先运行 `sti build`",
            err=True,
        )
        return 1
    if workers is not None and workers < 1:
        click.echo(f"--workers must be at least 1, got {workers} / 工作进程数至少为 1", err=True)
        return 2
    workers = workers or default_workers()
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"serving the portal at http://{shown}:{port}/ with {workers} worker process(es) "
        f"(tables and SQL at /sti; Ctrl-C to stop)"
    )
    # STI_HOME as this command resolved it, for the workers' portal_app().
    os.environ["STI_HOME"] = str(paths.home)
    try:
        uvicorn.run(
            "sti_portal.cli.serve:portal_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            lifespan="on",
            log_level="warning",
            access_log=config.load_settings().access_log,
            timeout_graceful_shutdown=10,
        )
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        click.echo(f"cannot listen on {shown}:{port}: {error.strerror} / 无法监听该地址", err=True)
        return 1
    return 0
