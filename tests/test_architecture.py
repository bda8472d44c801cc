"""The shape of the code base, as ARCHITECTURE.md promises it: small modules, small functions.

The layers contract itself (imports only point down the data path, no cycles) is import-linter's, in
pyproject.toml ([tool.importlinter]); tests/test_lint.py runs it and ruff.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PRODUCT_PACKAGES = ("sti_portal", "sources", "pipelines", "portal")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def product_modules() -> list[Path]:
    modules = []
    for package in PRODUCT_PACKAGES:
        modules += [p for p in (REPO_ROOT / package).rglob("*.py") if "snapshots" not in p.parts]
    return sorted(modules)


def test_there_are_product_modules_to_measure():
    assert len(product_modules()) > 40


def test_no_product_module_is_over_600_lines():
    too_long = {
        str(p.relative_to(REPO_ROOT)): n
        for p in product_modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines (split them by concern): {too_long}"


def test_no_product_function_is_over_80_lines():
    too_long = []
    for path in product_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(too_long)
