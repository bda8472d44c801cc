"""Crawl benchmark: every distinct URL once (as a search engine or a journalist's script would), then the
same URLs again (warm), against (a) one plain Datasette process (`datasette serve -i sti.db` with the
portal's plugins, templates and settings: what `sti serve` was before --workers) and (b) the production
stack (deploy/nginx/sti-portal.conf in front of `sti serve --workers N` replicas, benchmarks/stack.py);
then the same crawl while a new publication is brought in (`sti replicas publish`).

    uv run --frozen python -m benchmarks.crawl --home /tmp/me-home              # 20 and 50 clients
    uv run --frozen python -m benchmarks.crawl --home /tmp/me-home --clients 50 --json

Each (target, clients) pair starts from a cold server and an empty proxy cache. Clients send
`Accept-Encoding: gzip` like a browser, keep their connection alive, and take the next URL from one
shared list, so no URL is asked twice in a pass. A kept-alive connection the server closed before
answering (what a graceful proxy reload does to idle connections) is reopened and the request sent again
once, as HTTP clients do for idempotent requests (RFC 9110 9.2.2); such retries are counted apart. The
client shares the machine's cores with the servers: the figures are upper bounds for that hardware.
Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from benchmarks import portal_load
from benchmarks.stack import free_port, start_proxy, start_replica, stop, wait_for
from sti_portal.cli.replicas import publish as publish_to_replicas
from sti_portal.cli.replicas import write_publication_map
from sti_portal.cli.serve import datasette_command
from sti_portal.core.settings import Paths
from sti_portal.publish import generations
from sti_portal.publish.sitemap import site_urls

REQUEST_TIMEOUT = 30.0


def crawl_urls(sti_db: Path, limit: int = 1500) -> list[str]:
    """The publication's own URLs (sti_portal/publish/sitemap.py), in a fixed shuffled order."""
    return site_urls(sti_db, limit)


async def crawl(base_url: str, paths: list[str], clients: int) -> dict:
    """Each path once, `clients` at a time; latency summary, errors, statuses, retries."""
    parts = urllib.parse.urlsplit(base_url)
    host, port = parts.hostname, parts.port or 80
    if host not in portal_load.LOOPBACK:
        raise SystemExit(f"refusing to crawl {host!r}: loopback only")
    loop = asyncio.get_running_loop()
    queue = iter(paths)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    retries = [0]
    slowest: list[tuple[float, str]] = []

    def raw(path: str) -> bytes:
        return (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: sti-portal-crawl\r\n"
            f"Accept-Encoding: gzip\r\nAccept: */*\r\n\r\n"
        ).encode("latin-1")

    async def worker() -> None:
        connection = None
        for path in queue:
            sent = time.perf_counter()
            for attempt in (1, 2):
                reused = connection is not None and not connection.closed
                try:
                    if not reused:
                        _, connection = await loop.create_connection(portal_load._Connection, host, port)
                    status, keep_alive = await connection.request(raw(path), REQUEST_TIMEOUT)
                except (TimeoutError, ConnectionError, OSError) as error:
                    if connection is not None:
                        connection.close()
                    connection = None
                    if reused and attempt == 1 and not isinstance(error, asyncio.TimeoutError):
                        retries[0] += 1
                        continue
                    errors.append(f"{path}: {type(error).__name__}: {error}")
                    break
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    latencies.append(time.perf_counter() - sent)
                    slowest.append((latencies[-1], path))
                elif len(errors) < 1000:
                    errors.append(f"{path}: HTTP {status}")
                if not keep_alive:
                    connection.close()
                break
        if connection is not None:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    summary = portal_load.summarise(latencies, len(paths) - len(latencies), time.perf_counter() - started)
    slowest = [f"{1000 * seconds:.0f} ms {path}" for seconds, path in sorted(slowest, reverse=True)[:8]]
    return {**summary, "statuses": statuses, "retries": retries[0], "error_examples": errors[:5], "slowest": slowest}


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    found = [int(child) for child in text.split()]
    return found + [grandchild for child in found for grandchild in _children(child)]


def tree_rss_mb(pids: list[int]) -> float:
    """Resident memory of the server processes and their children (the workers), in MB (Linux /proc)."""
    total_kb = 0
    for pid in [p for root in pids for p in (root, *_children(root))]:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total_kb += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return round(total_kb / 1024)


# Every home and new publication here hard-links the generation's files (`sti replicas publish --link`):
# the same bytes served, without 23 GB copies of a 10 M-row publication filling the disk.


def replica_home(source_generation: Path, home: Path) -> Path:
    publish_to_replicas(source_generation, [Paths(home)], None, None, link=True)
    return home


def copy_as_new_publication(generation: Path, builder: Path) -> Path:
    """The same data under a new generation name: a publication switch without changing any value."""
    target = builder / "generations" / f"{generation.name}-republished-{time.time_ns()}"
    shutil.copytree(generation, target, symlinks=True, copy_function=generations.link_or_copy)
    return target


class Plain:
    label = "one Datasette process"

    def __init__(self, home: Path, work: Path):
        self.home, self.work = home, work

    def start(self) -> None:
        port = free_port()
        log = self.work / f"plain-{port}.log"
        with open(log, "wb") as handle:
            self.process = subprocess.Popen(
                datasette_command(Paths(self.home), port),
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.url = f"http://127.0.0.1:{port}"
        wait_for(f"{self.url}/-/settings.json", self.process, log)
        self.pids = [self.process.pid]

    def switch(self, generation: Path) -> None:
        publish_to_replicas(generation, [Paths(self.home)], None, None, link=True)

    def stop(self) -> None:
        stop(self.process)


class Stack:
    def __init__(self, homes: list[Path], workers: int, work: Path, response_cache_mb: int | None = None):
        self.homes, self.workers, self.work = homes, workers, work
        self.env = {} if response_cache_mb is None else {"STI_RESPONSE_CACHE_MB": str(response_cache_mb)}
        cache = "" if response_cache_mb is None else f", in-process cache {response_cache_mb} MB"
        self.label = f"nginx + {len(homes)} replica(s) x {workers} worker(s){cache}"

    def start(self) -> None:
        self.replicas = [start_replica(home, self.workers, self.work, env=self.env) for home in self.homes]
        prefix = Path(tempfile.mkdtemp(prefix="proxy-", dir=self.work))
        self.map_file = prefix / "sti-publication.map"
        write_publication_map(self.map_file, generations.current_id(Paths(self.homes[0])))
        self.proxy = start_proxy(prefix, [r.port for r in self.replicas], self.map_file)
        self.url = self.proxy.url
        self.pids = [self.proxy.process.pid, *(r.process.pid for r in self.replicas)]

    def switch(self, generation: Path) -> None:
        """The production flow: copy, switch the replicas, warm the proxy under the new key, re-key it."""
        publish_to_replicas(
            generation,
            [Paths(h) for h in self.homes],
            self.map_file,
            self.proxy.reload_command,
            warm_url=self.proxy.url,
            link=True,
        )

    def stop(self) -> None:
        stop(self.proxy.process)
        for replica in self.replicas:
            stop(replica.process)


def measure(target, paths: list[str], clients: int, switch_to: Path | None = None, warmed: bool = False) -> dict:
    """A cold start, then: the crawl and a warm pass; or (switch_to) the crawl while publishing switch_to;
    or (warmed) publish switch_to first, as production does (proxy warmed before its re-key), then crawl."""
    target.start()

    def row(**passes) -> dict:
        """One result row: the passes measured, with what every row says (target, clients, URLs, memory)."""
        return {
            "target": target.label,
            "clients": clients,
            "urls": len(paths),
            **passes,
            "rss_mb": tree_rss_mb(target.pids),
        }

    try:
        if warmed:
            started = time.perf_counter()
            target.switch(switch_to)
            publish_s = round(time.perf_counter() - started, 1)
            return row(after_warmed_switch=asyncio.run(crawl(target.url, paths, clients)), publish_s=publish_s)
        if switch_to is None:
            cold = asyncio.run(crawl(target.url, paths, clients))
            return row(uncached=cold, warm=asyncio.run(crawl(target.url, paths, clients)))

        async def during_switch() -> dict:
            crawling = asyncio.create_task(crawl(target.url, paths, clients))
            await asyncio.sleep(1.0)
            await asyncio.to_thread(target.switch, switch_to)
            return await crawling

        return row(switch=asyncio.run(during_switch()))
    finally:
        target.stop()


def _row(name: str, r: dict) -> str:
    return (
        f"| {name} | {r['requests']} | {r['rps']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | "
        f"{r['errors']} | {r['retries']} |"
    )


def markdown(results: list[dict]) -> str:
    lines = [
        "| target, clients, pass | requests | req/s | p50 ms | p95 ms | p99 ms | errors | retried | ",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        head = f"{result['target']}, {result['clients']} clients"
        for key in ("uncached", "warm", "switch", "after_warmed_switch"):
            if key in result:
                label = {
                    "uncached": "crawl (uncached)",
                    "warm": "warm pass",
                    "switch": "crawl during a switch",
                    "after_warmed_switch": f"crawl after a warmed publication ({result.get('publish_s')} s)",
                }[key]
                lines.append(_row(f"{head}, {label} (server RSS {result['rss_mb']} MB)", result[key]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="a built STI_HOME (sti build)")
    parser.add_argument("--clients", type=int, action="append", help="concurrent clients (default 20 and 50)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per replica (default 2)")
    parser.add_argument("--replicas", type=int, default=1, help="replicas behind nginx (default 1: 2 cores here)")
    parser.add_argument("--limit", type=int, default=1500, help="distinct URLs per crawl (default 1500)")
    parser.add_argument(
        "--response-cache-mb",
        type=int,
        action="append",
        help="run the stack with this in-process response cache size (repeatable; 0 = off)",
    )
    parser.add_argument("--no-plain", dest="plain", action="store_false", help="skip the one-process baseline")
    parser.add_argument("--no-switch", dest="switch", action="store_false", help="skip the crawl during a switch")
    parser.add_argument(
        "--warmed-only", action="store_true", help="only the crawls right after a warmed publication (production flow)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    clients = args.clients or [20, 50]
    source = generations.current_generation(Paths(args.home.resolve()))
    if source is None:
        parser.error(f"{args.home} has no published generation: run `sti build` with STI_HOME={args.home}")
    paths = crawl_urls(source / "sti.db", args.limit)
    work = Path(tempfile.mkdtemp(prefix="sti-crawl-"))
    results = []
    try:
        plain = Plain(replica_home(source, work / "plain-home"), work)
        homes = [replica_home(source, work / f"replica-{n}") for n in range(args.replicas)]
        stacks = [Stack(homes, args.workers, work, mb) for mb in (args.response_cache_mb or [None])]
        for target in [] if args.warmed_only else ([plain] if args.plain else []) + stacks:
            for n in clients:
                results.append(measure(target, paths, n))
                print("\n".join(markdown(results[-1:]).splitlines()[2:]), file=sys.stderr, flush=True)
        for target in ([plain] if args.plain else []) + stacks[:1] if args.switch and not args.warmed_only else ():
            results.append(measure(target, paths, max(clients), copy_as_new_publication(source, work / "builder")))
        for n in clients if args.switch else ():
            results.append(measure(stacks[0], paths, n, copy_as_new_publication(source, work / "builder"), warmed=True))
            print("\n".join(markdown(results[-1:]).splitlines()[2:]), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=1) if args.json else markdown(results))
    keys = ("uncached", "warm", "switch", "after_warmed_switch")
    return 1 if any(r.get(k, {}).get("errors") for r in results for k in keys) else 0


if __name__ == "__main__":
    sys.exit(main())
