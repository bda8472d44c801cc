"""The production stack on loopback: Debian's nginx with the shipped deploy/nginx/sti-portal.conf in front
of two portal replicas (`sti serve --workers 2` each, on its own STI_HOME), a new publication brought to
both with `sti replicas publish --warm` while clients keep asking: no request fails, every response is
whole (its X-Sti-Publication header and its body are of the same publication) and, once the command
returns, only the new publication is served, from a cache warmed before the switch. Also: the proxy caches per publication, compresses, answers
conditional requests with 304, and static assets get long-lived immutable URLs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import REPO_ROOT
from servers import require_nginx

from benchmarks.stack import start_proxy, start_replica, stop
from portal.site.http_cache import site_version
from sti_portal.core.settings import Paths
from sti_portal.publish import generations

BEIJING = "/sti/observations.json?region_code=110000&indicator_id=rd_intensity&year=2023&_shape=array"
SWITCHED_VALUE = 9.99  # the test's second publication: a copy of the first with this one value changed


def make_second_publication(builder: Path, first: Path) -> Path:
    """A complete generation (with manifest) that differs from `first` in one value and its content hash."""
    second = builder / "generations" / f"{first.name}-second"
    shutil.copytree(first, second, symlinks=True, ignore=shutil.ignore_patterns(generations.MANIFEST))
    with sqlite3.connect(second / "sti.db") as db:
        db.execute(
            "UPDATE observations SET value = ? WHERE region_code = '110000' AND indicator_id = 'rd_intensity' "
            "AND year = 2023",
            (SWITCHED_VALUE,),
        )
        db.execute("UPDATE build_info SET value = 'second-publication' WHERE key = 'content_sha256'")
    (second / generations.MANIFEST).write_text(
        json.dumps({"kind": "test", "generation": second.name}), encoding="utf-8"
    )
    return second


def replicas_publish(
    builder: Path,
    generation: Path,
    homes: list[Path],
    map_file: Path,
    reload: str | None,
    warm: str | None = None,
    link: bool = False,
):
    command = [
        sys.executable,
        "-m",
        "sti_portal",
        "replicas",
        "publish",
        "--generation",
        str(generation),
        "--nginx-map",
        str(map_file),
        *(["--warm", warm] if warm else []),
        *(["--link"] if link else []),
    ]
    for home in homes:
        command += ["--to", str(home)]
    if reload:
        command += ["--reload", reload]
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env={**os.environ, "STI_HOME": str(builder)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture()
def stack(built_home, tmp_path):
    require_nginx()
    first = generations.current_generation(Paths(built_home))
    homes = [tmp_path / "replica-a", tmp_path / "replica-b"]
    map_file = tmp_path / "proxy" / "sti-publication.map"
    # --link: the replicas share the builder's files (same file system); the switch test below copies
    assert "linked" in replicas_publish(built_home, first, homes, map_file, reload=None, link=True)
    for home in homes:
        served = generations.current_generation(Paths(home)) / "sti.db"
        assert served.stat().st_ino == (first / "sti.db").stat().st_ino and served.resolve() != first / "sti.db"
    replicas = []
    proxy = None
    try:
        for home in homes:
            replicas.append(start_replica(home, workers=2, log_dir=tmp_path))
        proxy = start_proxy(tmp_path / "proxy", [r.port for r in replicas], map_file)
        yield {"first": first, "homes": homes, "replicas": replicas, "proxy": proxy, "map": map_file}
    finally:
        if proxy is not None:
            stop(proxy.process)
        for replica in replicas:
            stop(replica.process)


def test_the_proxy_caches_per_publication_compresses_and_revalidates(stack):
    proxy, first = stack["proxy"], stack["first"]
    with httpx.Client(base_url=proxy.url, timeout=30) as client:
        page = client.get("/indicator/rd_intensity", headers={"Accept-Encoding": "gzip"})
        again = client.get("/indicator/rd_intensity", headers={"Accept-Encoding": "gzip"})
        assert page.status_code == again.status_code == 200
        assert page.headers["content-encoding"] == "gzip" and "rd_intensity" in again.text
        assert page.headers["x-sti-publication"] == first.name and first.name in page.headers["etag"]
        assert again.headers["x-cache-status"] == "HIT"
        assert "public" in page.headers["cache-control"] and page.headers["last-modified"]
        # a browser checks again after a minute; nginx may keep the page until the day in its citation ends
        freshness = dict(re.findall(r"([a-z-]+)=(\d+)", page.headers["cache-control"]))
        assert int(freshness["max-age"]) <= 60 and 0 < int(freshness["s-maxage"]) <= 86_400
        assert (int(time.time()) + int(freshness["s-maxage"])) % 86_400 < 5  # ends at (about) 00:00 UTC
        # the cache key names the portal code's version too: a deployment is a new key (sti replicas rekey)
        assert f'$sti_site {{\n    default "{site_version()}";' in stack["map"].read_text()
        revalidated = client.get("/indicator/rd_intensity", headers={"If-None-Match": page.headers["etag"]})
        assert revalidated.status_code == 304 and revalidated.content == b""
        # the replica itself answers a conditional request without rendering: 304 with the same validator
        replica = stack["replicas"][0]
        direct = httpx.get(f"{replica.url}/indicator/rd_intensity", headers={"If-None-Match": page.headers["etag"]})
        assert direct.status_code == 304 and direct.headers["etag"] == page.headers["etag"]

        data = client.get("/sti/observations.json?indicator_id=rd_intensity", headers={"Accept-Encoding": "gzip"})
        assert data.headers["content-encoding"] == "gzip" and len(data.json()["rows"]) == 100
        assert client.get(BEIJING).json()[0]["value"] != SWITCHED_VALUE
        script = client.get("/assets/vendor/vega-6.4.0/vega.min.js", headers={"Accept-Encoding": "gzip"})
        assert script.status_code == 200 and script.headers["content-encoding"] == "gzip"
        assert "immutable" in script.headers["cache-control"] and "max-age=31536000" in script.headers["cache-control"]
        versioned = client.get("/assets/v/any-version/sti.css")
        assert versioned.status_code == 200 and "immutable" in versioned.headers["cache-control"]
        assert "/assets/v/" in page.text  # the site's stylesheet is linked by its versioned URL
        # the site's own script is linked by its versioned URL too, so a repeat visit does not ask for it
        scripts = re.findall(r'<script src="([^"]+)"', page.text)
        charts_url = next(url for url in scripts if url.endswith("/sti-charts.js"))
        assert charts_url.startswith("/assets/v/") and all("/vendor/" in u or "/assets/v/" in u for u in scripts)
        assert "immutable" in client.get(charts_url).headers["cache-control"]
        # an unversioned asset URL (old links) is revalidated: a repeat visit gets 304, not the file again
        charts = client.get("/assets/sti-charts.js")
        again_charts = client.get("/assets/sti-charts.js", headers={"If-None-Match": charts.headers["etag"]})
        assert again_charts.status_code == 304 and again_charts.content == b""
        assert client.get("/sti/observations.json?sql=select+1").headers.get("x-cache-status") != "HIT"


async def _load(url: str, stop_at: list[float], results: list, clients: int = 8) -> None:
    """Clients asking until stop_at[0]: distinct URLs (rendered by a replica) and a repeated one (cached)."""
    counter = iter(range(10**9))

    async def client_loop(number: int) -> None:
        # Connection: close: each request on a new connection, as a client that never reuses one (the
        # proxy's graceful reload closes idle kept-alive connections, which a client may then retry).
        async with httpx.AsyncClient(base_url=url, timeout=30, headers={"Connection": "close"}) as client:
            while time.monotonic() < stop_at[0]:
                # value__gte=-N: a filter every row passes, so the URL is new and the answer the same
                path = BEIJING if number % 2 else f"{BEIJING}&value__gte=-{next(counter)}"
                sent = time.monotonic()
                try:
                    response = await client.get(path)
                    results.append(
                        (
                            sent,
                            response.status_code,
                            response.headers.get("x-sti-publication"),
                            response.json()[0]["value"] if response.status_code == 200 else response.text[:200],
                        )
                    )
                except (httpx.HTTPError, ValueError, IndexError, KeyError) as error:
                    results.append((sent, None, None, f"{type(error).__name__}: {error}"))

    await asyncio.gather(*(client_loop(n) for n in range(clients)))


def test_a_publication_reaches_both_replicas_under_load_without_error_or_mixed_response(stack, tmp_path):
    proxy, first = stack["proxy"], stack["first"]
    second = make_second_publication(tmp_path / "builder", first)
    with httpx.Client(timeout=30) as client:
        first_value = client.get(f"{proxy.url}{BEIJING}").json()[0]["value"]
    expected = {first.name: first_value, second.name: SWITCHED_VALUE}

    results: list = []
    stop_at = [time.monotonic() + 600]
    published: dict = {}

    async def scenario() -> None:
        load = asyncio.create_task(_load(proxy.url, stop_at, results))
        await asyncio.sleep(2)
        published["log"] = await asyncio.to_thread(
            replicas_publish,
            tmp_path / "builder",
            second,
            stack["homes"],
            stack["map"],
            proxy.reload_command,
            proxy.url,
        )
        published["at"] = time.monotonic()
        stop_at[0] = time.monotonic() + 3
        await load

    asyncio.run(scenario())
    failed = [r for r in results if r[1] != 200]
    assert not failed, f"{len(failed)} of {len(results)} requests failed, e.g. {failed[:3]}"
    mixed = [r for r in results if expected.get(r[2]) != r[3]]
    assert not mixed, f"responses whose header and body disagree: {mixed[:3]}"
    seen = {r[2] for r in results}
    assert seen == {first.name, second.name}, seen
    # once `sti replicas publish` has returned (replicas switched, proxy re-keyed and reloaded), only the new one
    late = [r for r in results if r[0] > published["at"] + 0.5]
    assert late and {r[2] for r in late} == {second.name}
    assert "switched" in published["log"] and "ran `" in published["log"] and "cache warmed" in published["log"]
    # and it returned only once nginx answered new connections under the new key (the reload is graceful)
    assert f"proxy answers under {second.name}" in published["log"]
    assert httpx.get(f"{proxy.url}/", timeout=30).headers["x-sti-cache-key"] == second.name
    # warmed before the re-key: a page no client asked since the switch comes from the proxy's cache
    region = httpx.get(f"{proxy.url}/region/110000", headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert region.headers["x-cache-status"] == "HIT" and region.headers["x-sti-publication"] == second.name
    for replica in stack["replicas"]:
        direct = httpx.get(f"{replica.url}{BEIJING}", timeout=30)
        assert direct.headers["x-sti-publication"] == second.name and direct.json()[0]["value"] == SWITCHED_VALUE
        assert generations.current_id(Paths(replica.home)) == second.name
