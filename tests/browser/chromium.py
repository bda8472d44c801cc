"""Start Debian's /usr/bin/chromium through Playwright (never `playwright install`: no browser download).

CI (`.ci/run`) installs the `chromium` package and sets STI_REQUIRE_BROWSER=1, so a missing browser
fails there; on a developer machine without Chromium the browser tests are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("STI_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def artifacts_dir() -> Path:
    """Where screenshots go: $STI_ARTIFACTS_DIR or tmp/artifacts/ in the checkout (git-ignored)."""
    folder = Path(os.environ.get("STI_ARTIFACTS_DIR", REPO_ROOT / "tmp" / "artifacts")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)"
    if os.environ.get("STI_REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


def launch(playwright):
    require_chromium()
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


class RequestLog:
    """Every URL the page asked for, to prove nothing leaves the portal's own origin."""

    def __init__(self, origin: str):
        self.origin = origin.rstrip("/")
        self.urls: list[str] = []

    def attach(self, page) -> None:
        page.on("request", lambda request: self.urls.append(request.url))

    def external(self) -> list[str]:
        allowed = (self.origin + "/", "data:", "blob:", "about:")
        return [url for url in self.urls if not url.startswith(allowed) and url != self.origin]
