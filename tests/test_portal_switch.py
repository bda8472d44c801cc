"""A running portal follows a new publication: after `current` is switched to a new generation (as
`sti build` / `sti load` do), Datasette's tables, the stored queries, the portal's pages and the
downloads all show the new data, none the old, without a restart; the old generation may then go."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3

import httpx
import pytest
from conftest import serving
from datasette import hookimpl
from datasette.plugins import pm
from datasette.utils.asgi import Response

from portal.site.hotswap import follow_publication
from sti_portal.cli.serve import portal_app

BEIJING_2023 = {"region_code": "110000", "indicator_id": "rd_intensity", "year": "2023", "_shape": "array"}


def make_generation(home, name, built_home, beijing_value=None):
    generation = home / "generations" / name
    generation.mkdir(parents=True)
    shutil.copy2((built_home / "sti.db").resolve(), generation / "sti.db")
    os.symlink((built_home / "downloads").resolve(), generation / "downloads")
    if beijing_value is not None:
        with sqlite3.connect(generation / "sti.db") as db:
            db.execute(
                "UPDATE observations SET value = ? WHERE region_code = '110000' AND indicator_id = 'rd_intensity' "
                "AND year = 2023",
                (beijing_value,),
            )
            db.execute("UPDATE build_info SET value = 'switched' WHERE key = 'content_sha256'")
    return generation


def switch(home, generation):
    tmp = home / ".current.tmp"
    os.symlink(os.path.relpath(generation, home), tmp)
    os.replace(tmp, home / "current")


def published_home(home, built_home):
    """A home whose sti.db and downloads point through `current` at one generation made from built_home."""
    first = make_generation(home, "gen-a", built_home)
    switch(home, first)
    os.symlink("current/sti.db", home / "sti.db")
    os.symlink("current/downloads", home / "downloads")
    return first


@pytest.fixture()
def switching_home(built_home, tmp_path):
    home = tmp_path / "home"
    first = published_home(home, built_home)
    with serving(home) as url:
        yield home, url, first


def beijing_everywhere(url) -> set:
    seen = set()
    for _ in range(6):  # several requests, so every SQL thread's connection is used
        seen.add(httpx.get(f"{url}/sti/observations.json", params=BEIJING_2023, timeout=30).json()[0]["value"])
        ranking = httpx.get(
            f"{url}/sti/ranking.json",
            params={"indicator": "rd_intensity", "year": "2023", "_shape": "array"},
            timeout=30,
        ).json()
        seen.add(ranking[0]["value"])
    page = httpx.get(f"{url}/indicator/rd_intensity", timeout=30).text
    seen.update(v for v in (6.73, 9.99) if f'title="{v}">' in page)
    return seen


def test_a_running_portal_switches_to_the_new_publication(built_home, switching_home):
    home, url, first = switching_home
    assert beijing_everywhere(url) == {6.73}
    second = make_generation(home, "gen-b", built_home, beijing_value=9.99)
    switch(home, second)
    assert beijing_everywhere(url) == {9.99}
    page = httpx.get(f"{url}/", timeout=30).text
    assert "(switched)" in page  # the citation line names the new build
    shutil.rmtree(first)  # the old generation collected: nothing still needs it
    assert beijing_everywhere(url) == {9.99}
    assert httpx.get(f"{url}/downloads/indicators/rd_intensity.csv", timeout=30).status_code == 200


def test_a_request_reads_one_publication_from_start_to_end(built_home, tmp_path, monkeypatch):
    """A publication switch noticed by one request (follow_publication) does not reach another request that
    is half-way: every read of that request is from the publication it started on (datasette_internals 4).

    In-process (the real portal app over ASGI) so the switch lands exactly between the two reads of one
    request: a test route reads build_info, waits, reads it again."""
    home = tmp_path / "home"
    published_home(home, built_home)
    monkeypatch.setenv("STI_HOME", str(home))
    monkeypatch.setenv("STI_RESPONSE_CACHE_MB", "0")
    content_hash = "SELECT value FROM build_info WHERE key = 'content_sha256'"

    async def scenario():
        first_read_done, go_on = asyncio.Event(), asyncio.Event()

        class TwoReads:
            __name__ = "sti-test-two-reads"  # Datasette lists plugins by module name

            @hookimpl
            def register_routes(self):
                async def two_reads(datasette):
                    before = (await datasette.get_database("sti").execute(content_hash)).first()[0]
                    first_read_done.set()
                    await go_on.wait()
                    follow_publication(datasette)  # as portal_data does half-way: must not reach this request
                    after = (await datasette.get_database("sti").execute(content_hash)).first()[0]
                    return Response.json([before, after])

                return [(r"^/-/two-reads$", two_reads)]

        pm.register(TwoReads(), name="sti-test-two-reads")
        try:
            app = portal_app()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=30) as client:
                assert (await client.get("/sti/observations.json", params=BEIJING_2023)).json()[0]["value"] == 6.73
                slow = asyncio.create_task(client.get("/-/two-reads"))
                await first_read_done.wait()
                switch(home, make_generation(home, "gen-b", built_home, beijing_value=9.99))
                newer = await client.get("/sti/observations.json", params=BEIJING_2023)  # notices the switch
                go_on.set()
                return (await slow).json(), newer.json()[0]["value"]
        finally:
            pm.unregister(name="sti-test-two-reads")

    reads, newer_value = asyncio.run(scenario())
    assert newer_value == 9.99  # the switch happened, and the next request got it
    assert reads[0] == reads[1] != "switched"  # the request half-way read the old publication twice
