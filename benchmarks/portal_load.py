"""Bounded load test of the public portal, loopback only.

N concurrent clients (default 20) request the indicator page and the observations JSON in turn for
D seconds (default 20), then the script prints the request count, errors and the p50/p95/p99 latency
per endpoint and overall. Exit status 1 when any request failed.

    uv run --frozen python benchmarks/portal_load.py                 # starts `sti serve` on STI_HOME itself
    uv run --frozen python benchmarks/portal_load.py --url http://127.0.0.1:8001
    uv run --frozen python benchmarks/portal_load.py --clients 20 --duration 20 --json

It refuses any host but 127.0.0.1 / localhost / ::1: this is not a tool to load someone else's server.
The clients run in this one process (asyncio + httpx), on the same machine as the server, so on a small
machine they take CPU from it: the figures are an upper bound on latency for that hardware.
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
    return {"requests": len(latencies) + errors, "ok": len(latencies), "errors": errors,
            "rps": round((len(latencies) + errors) / elapsed, 1) if elapsed else 0.0,
            "p50_ms": round(1000 * percentile(ordered, 0.50), 1), "p95_ms": round(1000 * percentile(ordered, 0.95), 1),
            "p99_ms": round(1000 * percentile(ordered, 0.99), 1), "max_ms": round(1000 * (ordered[-1] if ordered else 0), 1)}


async def run_load(base_url: str, clients: int = 20, duration: float = 20.0, paths: list[str] | None = None) -> dict:
    host = urllib.parse.urlsplit(base_url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing to load {host!r}: loopback only ({', '.join(sorted(LOOPBACK))})")
    paths = paths or DEFAULT_PATHS
    latencies: dict[str, list[float]] = {path: [] for path in paths}
    errors: dict[str, int] = {path: 0 for path in paths}
    messages: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT, limits=limits) as client:
        # One warm-up request per path (the portal loads its data on first use).
        for path in paths:
            (await client.get(path)).raise_for_status()
        started = time.perf_counter()
        cpu_started = time.process_time()
        stop_at = started + duration

        async def worker(number: int) -> None:
            turn = number
            while time.perf_counter() < stop_at:
                path = paths[turn % len(paths)]
                turn += 1
                sent = time.perf_counter()
                try:
                    response = await client.get(path)
                    await response.aread()
                    ok = response.status_code == 200
                    if not ok and len(messages) < 10:
                        messages.append(f"{path}: HTTP {response.status_code}")
                except httpx.HTTPError as error:
                    ok = False
                    if len(messages) < 10:
                        messages.append(f"{path}: {type(error).__name__}: {error}")
                if ok:
                    latencies[path].append(time.perf_counter() - sent)
                else:
                    errors[path] += 1

        await asyncio.gather(*(worker(n) for n in range(clients)))
        elapsed = time.perf_counter() - started
        client_cpu = time.process_time() - cpu_started
    result = {"url": base_url, "clients": clients, "duration_s": round(elapsed, 1),
              "client_cpu_s": round(client_cpu, 1), "cpus": os.cpu_count(),
              "endpoints": {path: summarise(latencies[path], errors[path], elapsed) for path in paths},
              "overall": summarise([x for path in paths for x in latencies[path]], sum(errors.values()), elapsed),
              "error_messages": messages}
    return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(home: str | None) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, **({"STI_HOME": home} if home else {})}
    process = subprocess.Popen([sys.executable, "-m", "sti_portal", "serve", "--port", str(port)], cwd=REPO_ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"`sti serve` exited with {process.returncode}: is there a built sti.db (sti build)?")
        try:
            if httpx.get(f"{url}/-/versions.json", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("`sti serve` did not answer within 60 s")


def print_report(result: dict) -> None:
    print(f"{result['clients']} clients for {result['duration_s']} s against {result['url']} "
          f"({result['cpus']} CPUs; the clients themselves used {result['client_cpu_s']} s of CPU)")
    print(f"{'endpoint':<62} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, row in [*result["endpoints"].items(), ("overall", result["overall"])]:
        print(f"{name:<62} {row['requests']:>8} {row['errors']:>6} {row['rps']:>7} {row['p50_ms']:>8} "
              f"{row['p95_ms']:>8} {row['p99_ms']:>8} {row['max_ms']:>8}")
    for message in result["error_messages"]:
        print(f"  error: {message}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running portal on loopback (default: start `sti serve` for the run)")
    parser.add_argument("--home", help="STI_HOME for the server this script starts (default: $STI_HOME or .sti-home)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds (at most 120)")
    parser.add_argument("--path", action="append", help="path to request (repeatable; default: indicator page, observations JSON)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 100 or not 0 < args.duration <= 120:
        parser.error("--clients must be 1..100 and --duration 0..120 s: the load test is bounded")
    process = None
    url = args.url
    if url is None:
        process, url = start_server(args.home)
    try:
        result = asyncio.run(run_load(url, args.clients, args.duration, args.path))
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
