"""Settings are read in one place (sti_portal/core/settings.py), documented, and importing never changes
the environment."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from sti_portal.core.settings import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_settings_come_from_sti_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("STI_HOME", str(tmp_path))
    monkeypatch.setenv("STI_LOCK_TIMEOUT", "3.5")
    monkeypatch.setenv("STI_LOAD_REBUILD", "1")
    settings = load_settings()
    assert settings.home == tmp_path
    assert settings.lock_timeout == 3.5
    assert settings.load_rebuild is True


def test_every_setting_is_documented_in_the_readme():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    missing = [f"STI_{name.upper()}" for name in Settings.model_fields if f"`STI_{name.upper()}`" not in readme]
    assert not missing, f"README.md does not document: {missing}"


def test_no_sti_variable_is_read_outside_the_settings_module():
    offenders = []
    for package in ("sti_portal", "sources", "pipelines", "portal"):
        for path in (REPO_ROOT / package).rglob("*.py"):
            if path.name == "settings.py" or "snapshots" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            # Reads only: `sti serve` hands STI_HOME to its worker processes by setting it for them.
            if re.search(r'(environ\.get\(|getenv\(|environ\[)"STI_\w+"(?!\]\s*=)', text):
                offenders.append(str(path.relative_to(REPO_ROOT)))
    assert not offenders, f"STI_* variables read outside sti_portal/core/settings.py: {offenders}"


def test_importing_the_product_changes_no_environment_variable():
    modules = sorted(
        {
            ".".join(p.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
            for package in ("sti_portal", "sources", "pipelines", "portal")
            for p in (REPO_ROOT / package).rglob("*.py")
            if "snapshots" not in p.parts and "plugins" not in p.parts and p.name != "__main__.py"
        }
    )
    code = (
        "import importlib, json, os, sys; before = dict(os.environ)\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "after = dict(os.environ)\n"
        "print(json.dumps(sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))))"
    )
    env = {
        k: v
        for k, v in __import__("os").environ.items()
        if k not in ("DAGSTER_DISABLE_TELEMETRY", "GX_ANALYTICS_ENABLED", "TQDM_DISABLE", "DAGSTER_HOME")
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
