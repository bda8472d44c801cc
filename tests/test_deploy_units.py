"""The shipped systemd units (deploy/systemd) call `sti` with options the CLI really has: a renamed or
removed option would otherwise be found by the first publication on a production server."""

from __future__ import annotations

import shlex
import warnings
from pathlib import Path

import click
import pytest
from conftest import REPO_ROOT

from sti_portal.cli import main as sti

UNITS = sorted((REPO_ROOT / "deploy" / "systemd").glob("*.service"))


def exec_start(unit: Path) -> list[str]:
    """The ExecStart command of a unit, continuation lines joined, as argv."""
    text = unit.read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


STI_UNITS = [unit for unit in UNITS if exec_start(unit)[0].endswith("/bin/sti")]


def test_the_portal_and_publish_units_run_sti():
    assert {unit.name for unit in STI_UNITS} == {"sti-portal@.service", "sti-publish.service"}


@pytest.mark.parametrize("unit", STI_UNITS, ids=lambda unit: unit.name)
def test_each_sti_unit_parses_with_the_real_cli(unit):
    argv = [arg.replace("%i", "8001") for arg in exec_start(unit)[1:]]
    # click parses each level as `sti` would and raises UsageError (NoSuchOption, BadParameter) on a bad one
    context = sti.make_context("sti", argv)
    while isinstance(context.command, click.Group):
        with warnings.catch_warnings():  # protected_args: deprecated in click 8.2, still where a group keeps them
            warnings.simplefilter("ignore", DeprecationWarning)
            name, command, rest = context.command.resolve_command(context, [*context.protected_args, *context.args])
        context = command.make_context(name, rest, parent=context)
    assert context.params, f"{unit.name}: {argv} did not reach a command"


def test_the_publish_unit_warms_the_proxy_before_rekeying_it():
    argv = exec_start(REPO_ROOT / "deploy" / "systemd" / "sti-publish.service")
    assert "--warm" in argv and "--warm-host" in argv and "--nginx-map" in argv
