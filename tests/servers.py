"""Debian servers the production-stack tests start on loopback (nginx, PostgreSQL 15).

`.ci/run` installs them and sets STI_REQUIRE_SERVERS=1, so a missing one fails there; on a developer
machine without them (the README's test command alone) those tests are skipped with the apt line to run.
"""

import os
import shutil
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
APT = "apt-get install -y nginx-light postgresql-15 (as .ci/run does)"


def require(name: str, present: bool) -> None:
    if present:
        return
    message = f"{name} is not installed: {APT}"
    if os.environ.get("STI_REQUIRE_SERVERS"):
        pytest.fail(message)
    pytest.skip(message)


def require_nginx() -> None:
    require("nginx", bool(shutil.which("nginx") or Path("/usr/sbin/nginx").exists()))


def require_postgresql() -> None:
    require("PostgreSQL 15", (PG_BIN / "initdb").exists())
