"""The `sti` command: build the warehouse, serve the portal, or both.

Each command imports what it runs when it runs: Dagster and Great Expectations take seconds to import, and
`sti serve` or `sti check --help` need neither.
"""

from __future__ import annotations

import sys

import click

from sti_portal.core import settings as config


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """sti-portal: regional science, technology and innovation statistics."""


@main.command()
def build() -> None:
    """Build the warehouse from the bundled sources, validate it and publish sti.db."""
    from sti_portal.cli.build import run_build

    sys.exit(run_build(config.paths().ensure()))


def _serving_options(command):
    command = click.option("--port", default=8001, show_default=True, help="Port to listen on.")(command)
    command = click.option(
        "--host",
        default="127.0.0.1",
        show_default=True,
        help="Address to listen on (loopback by default; 0.0.0.0 serves beyond this machine).",
    )(command)
    return click.option(
        "--workers", type=int, default=None, help="Worker processes sharing the port (default: the number of cores)."
    )(command)


@main.command()
@_serving_options
def serve(port: int, host: str, workers: int | None) -> None:
    """Serve the portal (Datasette, read-only) with one worker per core, on 127.0.0.1 unless --host."""
    from sti_portal.cli.serve import serve_portal

    sys.exit(serve_portal(config.paths(), port, workers, host))


@main.command()
@_serving_options
def up(port: int, host: str, workers: int | None) -> None:
    """Build, then serve."""
    from sti_portal.cli.build import run_build
    from sti_portal.cli.serve import serve_portal

    paths = config.paths().ensure()
    status = run_build(paths)
    if status != 0:
        if not paths.portal_db.exists():
            sys.exit(status)
        click.echo("build failed: serving the previously published sti.db", err=True)
    sys.exit(serve_portal(paths, port, workers, host))


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=str))
def check(files: tuple[str, ...]) -> None:
    """Check statisticians' files (upload format or yearbook tables) without loading them.

    Exit 0 when every file is valid, 1 with a report of every problem otherwise (2: the check itself
    could not run). An HTML copy of the report is written under STI_HOME/reports/checks/.
    """
    from pathlib import Path

    from sti_portal.uploads.load import check_files
    from sti_portal.uploads.report import render_text

    _quiet_libraries()
    paths = config.paths().ensure()
    outcome = check_files(paths, [Path(f) for f in files])
    click.echo(render_text(outcome), nl=False)
    if outcome.report_html:
        click.echo(f"HTML report: {outcome.report_html}")
    sys.exit(outcome.exit_code)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "--wait",
    "wait_seconds",
    default=None,
    type=float,
    help="Seconds to wait for a running build or load to finish (default 900).",
)
@click.option(
    "--rebuild",
    is_flag=True,
    default=False,
    help="Rebuild the warehouse from every input instead of appending the files to the published one.",
)
def load(files: tuple[str, ...], wait_seconds: float | None, rebuild: bool) -> None:
    """Check files and, if every one is valid, load them and republish the portal atomically.

    A batch is loaded whole or not at all. Accepted files move to STI_HOME/archive/, rejected ones to
    STI_HOME/quarantine/ with their report; the warehouse and sti.db are then unchanged. Loading a
    file that is already loaded does nothing. Exit 0 loaded (or nothing to do), 1 rejected, 2 could
    not run (e.g. another load holds the lock). The files are appended to the published generation
    (only the series they touch are re-read, validated and republished); --rebuild builds everything
    from the bundled sources and every archived upload instead, as `sti build` does.
    """
    from pathlib import Path

    from sti_portal.uploads.load import load_files
    from sti_portal.uploads.report import render_text

    _quiet_libraries()
    paths = config.paths().ensure()
    how = "rebuilding from every input" if rebuild else "appending to the published data"
    click.echo(f"sti load: STI_HOME={paths.home}; checking {len(files)} file(s), {how} ...")
    outcome = load_files(paths, [Path(f) for f in files], lock_timeout=wait_seconds, rebuild=rebuild)
    click.echo(render_text(outcome), nl=False)
    if outcome.report_html:
        click.echo(f"HTML report: {outcome.report_html}")
    sys.exit(outcome.exit_code)


def _quiet_libraries() -> None:
    import logging

    for name in ("great_expectations", "dagster"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _register_optional_groups() -> None:
    try:
        from sti_portal.cli.targets import targets
    except ImportError:
        return
    main.add_command(targets)


def _register_replicas() -> None:
    from sti_portal.cli.replicas import replicas

    main.add_command(replicas)


_register_replicas()


_register_optional_groups()
