"""The benchmark suite: prints a table and writes it to docs/benchmarks.md.

    uv run --frozen python -m benchmarks.run                 # full run: 1 M and 10 M rows, 3 runs each
    uv run --frozen python -m benchmarks.run --sizes 1000000 # 1 M only
    uv run --frozen python -m benchmarks.run --quick         # tiny sizes, seconds-to-a-minute, no doc written

Every stage runs in its own process; wall time is measured around it and peak memory is the child's
maximum resident set size (os.wait4). Each figure is the median of --runs runs (the run count is in the
table). Data and outputs live under --work (default $STI_HOME/benchmarks, else /tmp/sti-benchmarks);
nothing large is written inside the checkout. The portal load test is loopback only and bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from benchmarks import crawl

REPO_ROOT = Path(__file__).resolve().parent.parent
DOC = REPO_ROOT / "docs" / "benchmarks.md"
QUICK_ROWS, QUICK_UNITS = 5000, 60
PORTAL_PATHS = [
    "/indicator/rd_intensity",
    "/sti/observations.json?indicator_id=rd_intensity&year=2020&_size=100",
    "/sti/observations?_facet=indicator_id&region_level=province",
]


STANDING_NOTES = [
    "Synthetic data (benchmarks/synthetic.py, seed 2024): about 2,850 county-level units with GB/T 2260-style "
    "codes under the 31 provinces, the catalogue's non-derived full-coverage indicators (32 since the sources "
    "of 2026-12; 22 before), 0.5 % gaps (m), 1 % p and 0.5 % e flags, one upload-format CSV per edition; the counties enter through STI_EXTRA_REGIONS (an extra region catalogue).",
    "ours = benchmarks/scale.py `ours`: pandas read of the CSVs into the tidy frame, then the functions `sti build` "
    "runs: harmonise, derive, the six GX suites (compact batches computed in DuckDB, sti_portal/quality/), "
    "write_warehouse, publish (sti.db with observations, observation_history, revisions, every index, ANALYZE, "
    "full-text index; and every pre-built download part, written by DuckDB COPY) and the generation switch.",
    "raw = DuckDB read_csv joined to the catalogue, the same rules as SQL counts, the derived indicator, the fact "
    "table in a DuckDB file, and observations + observation_history exported to SQLite through sqlite_scanner "
    "with the same indexes (no revisions table, no downloads, no ANALYZE: the least the portal needs).",
    "incremental = `sti load` (sti_portal/load.load_files) of one province-year upload file (every county of one "
    "province, one new year) into the home `ours` built: read and check it, read the series it touches, the GX "
    "suites on them, copies of the warehouse and sti.db with the new rows, the touched download parts, the switch "
    "(GX import included); the ratio compares it with `ours` at the same size.",
    "portal = `sti serve` (Datasette, immutable, response cache on) on ours' sti.db; the clients (one kept-alive "
    "connection each, httptools parsing) share the 2 cores with the server on loopback, so latencies are an upper "
    "bound; each URL is warmed once before the timed round, so the figures are for cached pages (distinct, uncached "
    'URLs: the section "Crawl").',
]


# ------------------------------------------------------------------------------------------ processes


@dataclass
class Child:
    wall: float
    peak_mb: float
    output: dict


def run_measured(args: list[str], env: dict | None = None, timeout: float = 7200) -> Child:
    """Run `python -m ...args` from the repository: wall time, the child's peak resident memory (os.wait4)
    and its last stdout line that is JSON."""
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    stamp = f"{os.getpid()}-{time.monotonic_ns()}"
    out_path, err_path = logs / f"sti-bench-{stamp}.out", logs / f"sti-bench-{stamp}.err"
    started = time.perf_counter()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        process = subprocess.Popen(
            [sys.executable, *args], cwd=REPO_ROOT, env={**os.environ, **(env or {})}, stdout=out, stderr=err
        )
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{' '.join(args)} timed out after {timeout} s")
            time.sleep(0.05)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    text, error = out_path.read_text(), err_path.read_text()
    out_path.unlink(missing_ok=True)
    err_path.unlink(missing_ok=True)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {process.returncode}:\n{text[-3000:]}\n{error[-3000:]}")
    lines = [line for line in text.splitlines() if line.startswith("{")]
    return Child(wall, usage.ru_maxrss / 1024, json.loads(lines[-1]) if lines else {})


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ------------------------------------------------------------------------------------------ results


@dataclass
class Row:
    measure: str
    size: str
    value: str
    runs: int
    floor: str = ""
    met: str = ""


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict = field(default_factory=dict)

    def add(self, *args, **kwargs) -> None:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        print(f"  {row.measure:<58} {row.size:>6}  {row.value:<42} n={row.runs} {row.floor} {row.met}", flush=True)


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("met" if ok else "NOT met")


def _size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else (f"{n // 1000}k" if n >= 1000 else str(n))  # 10.5 M: "10M"


# ------------------------------------------------------------------------------------------ benchmarks


def bench_default_build(work: Path, runs: int, results: Results) -> None:
    walls, peaks = [], []
    for run in range(runs):
        home = work / f"default-build-{run}"
        shutil.rmtree(home, ignore_errors=True)
        child = run_measured(["-m", "sti_portal", "build"], env={"STI_HOME": str(home)}, timeout=1200)
        walls.append(child.wall)
        peaks.append(child.peak_mb)
        shutil.rmtree(home, ignore_errors=True)
    results.raw["default_build"] = {"wall_s": walls, "peak_mb": peaks}
    results.add(
        "default `sti build` wall time",
        "bundled",
        f"{median(walls):.1f} s",
        runs,
        "< 60 s",
        _verdict(median(walls) < 60),
    )
    results.add("default `sti build` peak memory (RSS)", "bundled", f"{median(peaks):.0f} MB", runs)


def bench_size(work: Path, n_rows: int, runs: int, results: Results, quick: bool) -> Path:
    """Generate, then ours / raw / validation / incremental at one size; returns ours' output (a portal home)."""
    from benchmarks import synthetic

    label = _size_label(n_rows)
    data = work / f"synthetic-{label}"
    units = QUICK_UNITS if quick else synthetic.TARGET_UNITS
    spec = {"rows": n_rows, "units": units, "seed": 2024}
    spec_file = data / "spec.json"
    if not spec_file.exists() or json.loads(spec_file.read_text()) != spec:
        shutil.rmtree(data, ignore_errors=True)
        started = time.perf_counter()
        made = synthetic.generate(data, n_rows, 2024, units)
        spec_file.write_text(json.dumps(spec))
        print(
            f"  generated {made.n_rows:,} rows ({made.n_units:,} units, {len(made.release_files)} file(s)) "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    made = synthetic.SyntheticSet.load(data)
    env = {"STI_EXTRA_REGIONS": str(made.regions_csv)}
    label = _size_label(made.n_rows)
    ours_out, raw_out = work / f"ours-{label}", work / f"raw-{label}"
    ours, raw, incremental = [], [], []
    for _ in range(runs):  # each incremental load goes into the home the ours run just built
        shutil.rmtree(ours_out, ignore_errors=True)
        ours.append(run_measured(["-m", "benchmarks.scale", "ours", "--data", str(data), "--out", str(ours_out)], env))
        incremental.append(
            run_measured(["-m", "benchmarks.scale", "incremental", "--data", str(data), "--out", str(ours_out)], env)
        )
        raw.append(run_measured(["-m", "benchmarks.scale", "raw", "--data", str(data), "--out", str(raw_out)], env))
    results.raw[label] = {
        "ours": [c.output | {"wall": c.wall, "peak_mb": c.peak_mb} for c in ours],
        "raw": [c.output | {"wall": c.wall, "peak_mb": c.peak_mb} for c in raw],
        "incremental": [c.output | {"wall": c.wall, "peak_mb": c.peak_mb} for c in incremental],
    }
    ours_total, raw_total = median([c.output["total"] for c in ours]), median([c.output["total"] for c in raw])
    steps = {step: median([c.output["steps"][step] for c in ours]) for step in ours[0].output["steps"]}
    raw_steps = {step: median([c.output["steps"][step] for c in raw]) for step in raw[0].output["steps"]}
    ten_m = made.n_rows >= 9_500_000
    results.add(
        "ingest+validate+warehouse+publish: ours",
        label,
        f"{ours_total:.1f} s (" + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()) + ")",
        runs,
    )
    results.add(
        "  same work, raw DuckDB baseline",
        label,
        f"{raw_total:.1f} s (" + ", ".join(f"{k} {v:.1f}" for k, v in raw_steps.items()) + ")",
        runs,
    )
    results.add(
        "  ratio ours / raw",
        label,
        f"{ours_total / raw_total:.1f}x",
        runs,
        "<= 3x at 10M",
        _verdict(ours_total / raw_total <= 3) if ten_m else "",
    )
    results.add(
        "  peak memory ours / raw",
        label,
        f"{median([c.peak_mb for c in ours]):.0f} MB / {median([c.peak_mb for c in raw]):.0f} MB",
        runs,
    )
    gx, sql = steps["validate"], raw_steps["validate"]
    results.add(
        "validation: GX suites / hand-written DuckDB SQL",
        label,
        f"{gx:.1f} s / {sql:.2f} s = {gx / sql:.1f}x",
        runs,
        "<= 3x at 10M",
        _verdict(gx / sql <= 3) if ten_m else "",
    )
    inc = median([c.output["total"] for c in incremental])
    inc_steps = {
        step: median([c.output["steps"][step] for c in incremental]) for step in incremental[0].output["steps"]
    }
    results.add(
        "incremental: one province-year file (sti load path)",
        label,
        f"{inc:.1f} s (" + ", ".join(f"{k} {v:.1f}" for k, v in inc_steps.items()) + ")",
        runs,
    )
    results.add(
        "  incremental / full rebuild",
        label,
        f"{inc / ours_total:.0%}",
        runs,
        "< 10% at 10M",
        _verdict(inc / ours_total < 0.10) if ten_m else "",
    )
    return ours_out


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def bench_portal(home: Path, label: str, clients: list[int], duration: float, results: Results) -> None:
    import httpx

    from benchmarks import portal_load

    process, url = portal_load.start_server(str(home))
    try:
        paths = []
        for path in PORTAL_PATHS:  # a page that fails on its own is reported, and left out of the load
            response = httpx.get(url + path, timeout=60)
            if response.status_code == 200:
                paths.append(path)
            else:
                reason = re.search(r"(QueryInterrupted|OperationalError\('[^']*'\))", response.text)
                results.add(
                    f"portal: {path.split('?')[0]} (single request)",
                    label,
                    f"HTTP {response.status_code} {reason.group(1) if reason else ''}".strip(),
                    1,
                    "0 errors",
                    _verdict(False),
                )
        for n in clients:
            for path in paths:  # one endpoint at a time, so a slow page does not hide a fast one's latency
                name = path.split("?")[0] + ("?" + path.split("?")[1][:28] if "?" in path else "")
                floor = "p95 < 150 ms, 0 errors" if n == 50 and "_facet" not in path else ""
                try:
                    result = asyncio.run(portal_load.run_load(url, n, duration, [path]))
                except httpx.HTTPError as error:
                    results.add(
                        f"portal {n} clients: {name}",
                        label,
                        f"failed: {type(error).__name__}",
                        1,
                        floor,
                        _verdict(False) if floor else "",
                    )
                    continue
                results.raw.setdefault("portal", {})[f"{label}-{n}-{path}"] = result
                row = result["endpoints"][path]
                ok = (row["p95_ms"] < 150 and row["errors"] == 0) if floor and label.endswith("10M") else None
                results.add(
                    f"portal {n} clients: {name}",
                    label,
                    f"{row['rps']} req/s p50 {row['p50_ms']} p95 {row['p95_ms']} p99 {row['p99_ms']} ms, "
                    f"{row['errors']} err",
                    1,
                    floor,
                    _verdict(ok),
                )
        # Full-table CSV download (the pre-built file), while sampling the server's RSS.
        samples, done = [], threading.Event()

        def sample() -> None:
            while not done.is_set():
                samples.append(_rss_mb(process.pid))
                time.sleep(0.05)

        before = _rss_mb(process.pid)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        rows, size, started = 0, 0, time.perf_counter()
        with httpx.stream("GET", f"{url}/downloads/tables/observations.csv", timeout=600) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes(1 << 20):
                rows += chunk.count(b"\n")
                size += len(chunk)
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        rows -= 1  # header
        rate = rows / elapsed if elapsed else float("nan")
        peak = max([s for s in samples if s == s] or [before])
        results.add(
            "full-table CSV download (observations)",
            label,
            f"{rows:,} rows, {size / 1e6:.0f} MB in {elapsed:.2f} s = {rate:,.0f} rows/s",
            1,
            ">= 200k rows/s",
            _verdict(rate >= 200_000) if label.endswith("10M") else "",
        )
        results.add(
            "  server RSS before / peak during download",
            label,
            f"{before:.0f} MB / {peak:.0f} MB",
            1,
            "flat",
            _verdict(peak - before < 50) if label.endswith("10M") else "",
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


# ------------------------------------------------------------------------------------------ report


def machine() -> dict[str, str]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        ram = f"{int(Path('/proc/meminfo').read_text().split()[1]) / 1024 / 1024:.1f} GB"
    except (OSError, ValueError, IndexError):
        pass
    versions = {
        name: metadata.version(name) for name in ("duckdb", "great-expectations", "datasette", "dagster", "pandas")
    }
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": str(os.cpu_count()),
        "ram": ram,
        "cpu": cpu,
        "python": platform.python_version(),
        "os": platform.platform(),
        **versions,
    }


def markdown(results: Results, info: dict[str, str], command: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{command}` on {info['date']}. Every figure is the median of the number of runs in "
        "column n; memory is the peak resident set size of the stage's process.",
        "",
        f"Machine: {info['cores']} cores, {info['ram']} RAM, {info['cpu']}; {info['os']}. ",
        f"Versions: Python {info['python']}, DuckDB {info['duckdb']}, Great Expectations {info['great-expectations']}, "
        f"Datasette {info['datasette']}, Dagster {info['dagster']}, pandas {info['pandas']}.",
        "",
        "| measure | size | figure | n | floor | |",
        "|---|---|---|---|---|---|",
    ]
    for row in results.rows:
        lines.append(f"| {row.measure.strip()} | {row.size} | {row.value} | {row.runs} | {row.floor} | {row.met} |")
    notes = [*results.notes, *STANDING_NOTES]
    lines += ["", "## What is measured", "", *[f"- {note}" for note in notes]]
    extra = REPO_ROOT / "benchmarks" / "analysis.md"
    if extra.exists():
        lines += ["", extra.read_text(encoding="utf-8").strip()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run, short load test; no doc written")
    parser.add_argument("--sizes", default="1000000,10000000", help="observations, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", default="20,50")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per load-test round (at most 120)")
    parser.add_argument(
        "--work", type=Path, help="where data and outputs go (default $STI_HOME/benchmarks or /tmp/sti-benchmarks)"
    )
    parser.add_argument("--skip-build", action="store_true", help="leave out the default-build benchmark")
    parser.add_argument(
        "--portal-home", type=Path, help="only the portal benchmark, on this built home (e.g. WORK/ours-1M)"
    )
    parser.add_argument(
        "--crawl",
        action="store_true",
        help="also the crawl benchmark (benchmarks/crawl.py: distinct URLs, production stack, switch) "
        "on the portal home; it prints its own table",
    )
    parser.add_argument(
        "--doc", type=Path, help=f"markdown output (default {DOC.relative_to(REPO_ROOT)}; none with --quick)"
    )
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 120:
        parser.error("--duration must be 0..120 s")
    sizes = [QUICK_ROWS] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    runs = 1 if args.quick else args.runs
    duration = 2.0 if args.quick else args.duration
    clients = [int(c) for c in args.clients.split(",")]
    work = args.work or (
        Path(os.environ["STI_HOME"]) / "benchmarks" if os.environ.get("STI_HOME") else Path("/tmp/sti-benchmarks")
    )
    work.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(
        f"sti-portal benchmarks ({'quick' if args.quick else 'full'}) in {work}: "
        f"{info['cores']} cores, {info['ram']}, {info['cpu']}",
        flush=True,
    )
    results = Results()
    if not args.skip_build:
        bench_default_build(work, 1 if args.quick else runs, results)
    portal_home = args.portal_home
    for n_rows in [] if portal_home else sizes:
        portal_home = bench_size(work, n_rows, runs, results, args.quick)
    if portal_home is not None:
        bench_portal(portal_home, portal_home.name.split("-", 1)[1], clients, duration, results)
    if args.crawl and portal_home is not None:
        crawl.main(["--home", str(portal_home), *(f"--clients={n}" for n in clients)])
    command = (
        "uv run --frozen python -m benchmarks.run"
        + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    )
    text = markdown(results, info, command.strip())
    (work / "results.json").write_text(json.dumps({"machine": info, "raw": results.raw}, indent=1, default=str))
    doc = args.doc or (None if args.quick else DOC)
    if doc is not None:
        doc.parent.mkdir(parents=True, exist_ok=True)
        doc.write_text(text, encoding="utf-8")
        print(f"written {doc}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
