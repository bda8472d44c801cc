"""Bounded load test of the public portal, loopback only.

N concurrent clients (default 20) request the given paths in turn (default: the indicator page and the
observations JSON) for D seconds (default 20), then the script prints the request count, errors and the
p50/p95/p99 latency per endpoint and overall, plus each path's first ("cold") request. Exit status 1 when
any request failed.

    uv run --frozen python benchmarks/portal_load.py                 # starts `sti serve` on STI_HOME itself
    uv run --frozen python benchmarks/portal_load.py --url http://127.0.0.1:8001
    uv run --frozen python benchmarks/portal_load.py --clients 50 --duration 20 --json

It refuses any host but 127.0.0.1 / localhost / ::1: this is not a tool to load someone else's server.

The client is built to cost little: one keep-alive HTTP/1.1 connection per client, requests written as
prepared bytes, responses parsed by httptools (C, the parser uvicorn uses) with no Python callback per
header or body chunk, only the status checked. It still runs on the same machine as the server: on a
small machine (2 cores) client and server share the CPUs, so the figures are an upper bound on latency
for that hardware. The report gives the CPU seconds the client used and, when it started the server
itself (or is given --server-pid), the server's, so one can see who had the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATHS = ["/indicator/rd_intensity", "/sti/observations.json?indicator_id=rd_intensity&year=2023"]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
REQUEST_TIMEOUT = 10.0


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def summarise(latencies: list[float], errors: int, elapsed: float) -> dict:
    ordered = sorted(latencies)
    return {
        "requests": len(latencies) + errors,
        "ok": len(latencies),
        "errors": errors,
        "rps": round((len(latencies) + errors) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(1000 * percentile(ordered, 0.50), 1),
        "p95_ms": round(1000 * percentile(ordered, 0.95), 1),
        "p99_ms": round(1000 * percentile(ordered, 0.99), 1),
        "max_ms": round(1000 * (ordered[-1] if ordered else 0), 1),
    }


def process_cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a process (Linux /proc), or None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: write a prepared request, wait for the complete response."""

    def __init__(self) -> None:
        import httptools

        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future | None = None
        self.closed = False

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except Exception as error:  # httptools.HttpParserError and friends
            self._fail(error)

    def connection_lost(self, exc) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("connection closed by the server"))

    # httptools callback (the only one defined: no per-header or per-chunk Python calls)
    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), self.parser.should_keep_alive()))

    def _fail(self, error: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)

    async def request(self, raw: bytes, timeout: float) -> tuple[int, bool]:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await asyncio.wait_for(self.waiter, timeout)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


async def run_load(
    base_url: str,
    clients: int = 20,
    duration: float = 20.0,
    paths: list[str] | None = None,
    server_pid: int | None = None,
    warm_up: bool = True,
) -> dict:
    """Run the load; `cold_ms` per path is the first request's latency: with warm_up, one request sent
    alone before the run; without, the slowest of the clients' first requests, all sent at once (a cold
    server under load at once)."""
    parts = urllib.parse.urlsplit(base_url)
    host = parts.hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing to load {host!r}: loopback only ({', '.join(sorted(LOOPBACK))})")
    port = parts.port or 80
    paths = paths or DEFAULT_PATHS
    latencies: dict[str, list[float]] = {path: [] for path in paths}
    errors: dict[str, int] = {path: 0 for path in paths}
    messages: list[str] = []
    # With warm_up, one request per path first, through httpx (errors raise httpx.HTTPError, as callers
    # expect): the cold one (the portal renders it; later ones may come from its response cache).
    cold: dict[str, float] = {}
    first_wave: dict[str, list[float]] = {path: [] for path in paths}
    if warm_up:
        async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT) as client:
            for path in paths:
                sent = time.perf_counter()
                (await client.get(path)).raise_for_status()
                cold[path] = round(1000 * (time.perf_counter() - sent), 1)
    host_header = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    raw = {
        path: (
            f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: sti-portal-load\r\nAccept: */*\r\n\r\n"
        ).encode("latin-1")
        for path in paths
    }
    loop = asyncio.get_running_loop()
    connect_host = host.strip("[]")

    async def connect() -> _Connection:
        _, protocol = await loop.create_connection(_Connection, connect_host, port)
        return protocol

    started = time.perf_counter()
    cpu_started = time.process_time()
    server_cpu_started = process_cpu_seconds(server_pid)
    stop_at = started + duration

    async def worker(number: int) -> None:
        turn = number
        connection: _Connection | None = None
        try:
            while time.perf_counter() < stop_at:
                path = paths[turn % len(paths)]
                turn += 1
                sent = time.perf_counter()
                ok = False
                try:
                    if connection is None or connection.closed:
                        connection = await asyncio.wait_for(connect(), REQUEST_TIMEOUT)
                    status, keep_alive = await connection.request(raw[path], REQUEST_TIMEOUT)
                    ok = status == 200
                    if not ok and len(messages) < 10:
                        messages.append(f"{path}: HTTP {status}")
                    if not keep_alive:
                        connection.close()
                except Exception as error:  # timeouts, resets, parse errors: counted and reported, the run goes on
                    if len(messages) < 10:
                        reason = (
                            f"no response within {REQUEST_TIMEOUT:.0f} s"
                            if isinstance(error, asyncio.TimeoutError)
                            else error
                        )
                        messages.append(f"{path}: {type(error).__name__}: {reason}")
                    if connection is not None:
                        connection.close()
                        connection = None
                if ok:
                    latencies[path].append(time.perf_counter() - sent)
                else:
                    errors[path] += 1
                if not warm_up and turn - number <= len(paths):
                    first_wave[path].append(time.perf_counter() - sent)
        finally:
            if connection is not None:
                connection.close()

    await asyncio.gather(*(worker(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - cpu_started
    server_cpu_ended = process_cpu_seconds(server_pid)
    server_cpu = (
        round(server_cpu_ended - server_cpu_started, 1)
        if server_cpu_started is not None and server_cpu_ended is not None
        else None
    )
    endpoints = {}
    for path in paths:
        if not warm_up:
            cold[path] = round(1000 * max(first_wave[path]), 1) if first_wave[path] else float("nan")
        endpoints[path] = {**summarise(latencies[path], errors[path], elapsed), "cold_ms": cold[path]}
    return {
        "url": base_url,
        "clients": clients,
        "duration_s": round(elapsed, 1),
        "client_cpu_s": round(client_cpu, 1),
        "server_cpu_s": server_cpu,
        "cpus": os.cpu_count(),
        "endpoints": endpoints,
        "overall": summarise([x for path in paths for x in latencies[path]], sum(errors.values()), elapsed),
        "error_messages": messages,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(home: str | None, timeout: float = 120) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, **({"STI_HOME": home} if home else {})}
    # One worker: the figures (and the RSS that benchmarks/run.py samples by this PID) are one process's;
    # benchmarks/crawl.py measures the multi-worker production stack.
    process = subprocess.Popen(
        [sys.executable, "-m", "sti_portal", "serve", "--port", str(port), "--workers", "1"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"`sti serve` exited with {process.returncode}: is there a built sti.db (sti build)?")
        try:
            if httpx.get(f"{url}/-/settings.json", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"`sti serve` did not answer within {timeout:.0f} s")


def print_report(result: dict) -> None:
    server = f", the server {result['server_cpu_s']} s" if result.get("server_cpu_s") is not None else ""
    print(
        f"{result['clients']} clients for {result['duration_s']} s against {result['url']} "
        f"({result['cpus']} CPUs shared by client and server; the client used {result['client_cpu_s']} s of CPU{server})"
    )
    print(
        f"{'endpoint':<62} {'requests':>8} {'errors':>6} {'req/s':>7} {'cold ms':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8}"
    )
    for name, row in [*result["endpoints"].items(), ("overall", result["overall"])]:
        print(
            f"{name:<62} {row['requests']:>8} {row['errors']:>6} {row['rps']:>7} {row.get('cold_ms', ''):>8} "
            f"{row['p50_ms']:>8} {row['p95_ms']:>8} {row['p99_ms']:>8} {row['max_ms']:>8}"
        )
    for message in result["error_messages"]:
        print(f"  error: {message}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running portal on loopback (default: start `sti serve` for the run)")
    parser.add_argument("--home", help="STI_HOME for the server this script starts (default: $STI_HOME or .sti-home)")
    parser.add_argument("--server-pid", type=int, help="PID of the server behind --url, to report its CPU time")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds (at most 120)")
    parser.add_argument(
        "--path", action="append", help="path to request (repeatable; default: indicator page, observations JSON)"
    )
    parser.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        help="no request before the run: every client starts at once on a cold server",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 100 or not 0 < args.duration <= 120:
        parser.error("--clients must be 1..100 and --duration 0..120 s: the load test is bounded")
    process = None
    url, pid = args.url, args.server_pid
    if url is None:
        process, url = start_server(args.home)
        pid = process.pid
    try:
        try:
            import uvloop  # the cheaper event loop, when installed (it is, with uvicorn[standard])
        except ImportError:
            uvloop = None
        coroutine = run_load(url, args.clients, args.duration, args.path, server_pid=pid, warm_up=args.warm_up)
        result = uvloop.run(coroutine) if uvloop is not None else asyncio.run(coroutine)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print_report(result)
    return 1 if result["overall"]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
