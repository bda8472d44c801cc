"""The contract as code: import-linter's layers and acyclic contracts, ruff's lint and format check.

Each runs as the command a developer would type, so a red test here is the same message as at the desk.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )


def test_imports_point_down_the_data_path_and_have_no_cycles():
    result = run("lint-imports", "--no-cache")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "2 kept, 0 broken" in result.stdout, result.stdout[-2000:]


def test_the_layers_contract_names_every_product_package():
    # A new top-level package of sti_portal must be placed in a layer, or the contract would not see it.
    import tomllib

    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    named = {name.strip() for layer in layers for name in layer.split("|")}
    packages = {f"sti_portal.{p.name}" for p in (REPO_ROOT / "sti_portal").iterdir() if (p / "__init__.py").exists()}
    assert packages | {"sources", "pipelines", "portal"} == named


def test_ruff_lint_passes():
    result = run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout[-4000:]


def test_ruff_format_check_passes():
    result = run("ruff", "format", "--check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout[-4000:]
