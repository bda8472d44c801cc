"""Pages during a flood of slow `?sql=` queries: status and time of each page request.

    python benchmarks/sql_flood.py --repo /work/main --home /tmp/h-home [--attackers 6] [--pages 30]

Starts the repo's `sti serve --workers 1` on a free loopback port, lets N attackers (each its own client
address, X-Forwarded-For from loopback) send an endless recursive-CTE query in a loop, and requests
uncached pages (indicator, region and table JSON pages with varying years) one after another.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

import httpx

SLOW = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--attackers", type=int, default=6)
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--label", default="")
    parser.add_argument("--one-process", action="store_true", help="the repo's serve has no --workers (older code)")
    args = parser.parse_args()
    port = free_port()
    command = [str(args.repo / ".venv/bin/python"), "-m", "sti_portal", "serve", "--port", str(port)]
    server = subprocess.Popen(
        command + ([] if args.one_process else ["--workers", "1"]),
        cwd=args.repo,
        env={**os.environ, "STI_HOME": str(args.home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        stop = threading.Event()
        sql = []

        def attacker(n: int) -> None:
            with httpx.Client(timeout=120) as client:
                while not stop.is_set():
                    started = time.monotonic()
                    response = client.get(
                        f"{url}/sti.json", params={"sql": SLOW}, headers={"X-Forwarded-For": f"10.9.0.{n}"}
                    )
                    sql.append((response.status_code, time.monotonic() - started))

        threads = [threading.Thread(target=attacker, args=(n,), daemon=True) for n in range(args.attackers)]
        for thread in threads:
            thread.start()
        time.sleep(2)
        pages = []
        with httpx.Client(timeout=120) as client:
            for n in range(args.pages):
                year = 2011 + n % 13
                path = [
                    f"/indicator/rd_intensity?year={year}&n={n}",
                    f"/region/110000?year={year}&n={n}",
                    f"/sti/observations.json?indicator_id=rd_intensity&year={year}&_size={n + 1}",
                ][n % 3]
                started = time.monotonic()
                response = client.get(f"{url}{path}")
                pages.append((response.status_code, time.monotonic() - started))
        stop.set()
        times = sorted(t for _, t in pages)
        result = {
            "label": args.label,
            "attackers": args.attackers,
            "page_status": sorted({s for s, _ in pages}),
            "page_ok": sum(s == 200 for s, _ in pages),
            "pages": len(pages),
            "page_p50_s": round(statistics.median(times), 3),
            "page_max_s": round(times[-1], 3),
            "sql_status": {str(s): sum(1 for x, _ in sql if x == s) for s in sorted({x for x, _ in sql})},
        }
        print(json.dumps(result))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
