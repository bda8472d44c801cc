"""The `sti` command: build the warehouse, serve the portal, or both."""
from __future__ import annotations

import os
import sys
import time

import click

from sti_portal import config


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """sti-portal: regional science, technology and innovation statistics."""


@main.command()
def build() -> None:
    """Build the warehouse from the bundled sources, validate it and publish sti.db."""
    from sti_portal.runner import run_build

    sys.exit(run_build(config.paths().ensure()))


@main.command()
@click.option("--port", default=8001, show_default=True, help="Port on 127.0.0.1.")
def serve(port: int) -> None:
    """Serve the portal (Datasette, read-only) on 127.0.0.1."""
    from sti_portal.serve import serve_portal

    sys.exit(serve_portal(config.paths(), port))


@main.command()
@click.option("--port", default=8001, show_default=True, help="Port on 127.0.0.1.")
def up(port: int) -> None:
    """Build, then serve."""
    from sti_portal.runner import run_build
    from sti_portal.serve import serve_portal

    paths = config.paths().ensure()
    status = run_build(paths)
    if status != 0:
        if not paths.portal_db.exists():
            sys.exit(status)
        click.echo("build failed: serving the previously published sti.db", err=True)
    sys.exit(serve_portal(paths, port))


def _register_optional_groups() -> None:
    try:
        from sti_portal.targets.cli import targets
    except ImportError:
        return
    main.add_command(targets)


_register_optional_groups()
