"""A very short run of the load test (benchmarks/portal_load.py) against the session's portal: it must
finish with zero errors. No timing is asserted here; the full 20 clients x 20 s run is reported by hand."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest
from conftest import REPO_ROOT


def load_benchmark():
    spec = importlib.util.spec_from_file_location("portal_load", REPO_ROOT / "benchmarks" / "portal_load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_short_load_run_has_no_errors(portal_url):
    benchmark = load_benchmark()
    result = asyncio.run(benchmark.run_load(portal_url, clients=4, duration=2.0))
    assert result["overall"]["errors"] == 0, result["error_messages"]
    for path, row in result["endpoints"].items():
        assert row["ok"] > 0, path
    benchmark.print_report(result)


def test_load_test_refuses_a_host_that_is_not_loopback():
    benchmark = load_benchmark()
    with pytest.raises(SystemExit, match="loopback only"):
        asyncio.run(benchmark.run_load("http://example.org", clients=1, duration=0.1))
