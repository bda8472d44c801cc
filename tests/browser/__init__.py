"""Helpers for the portal's browser tests (headless Debian Chromium driven by Playwright)."""
