"""Hostile and careless uploads against `sti check` / `sti load`: verdict, time and peak memory per case.

    python benchmarks/hostile_uploads.py --repo /work/main --home /tmp/h-home [--label after] [--json out.json]

Every case runs the repo's own `sti` in a subprocess (its own .venv) against a built STI_HOME; the
subprocess's resident memory is sampled from /proc every 0.1 s (peak = VmHWM) and it is killed after
--timeout seconds or above --memory-cap-mb (reported as "no verdict"). Files are generated into a
temporary folder (tests/fixtures/hostile_files.py), hundreds of MB of them, and removed afterwards.
The disk-full case needs root: it copies the home onto a tmpfs with less free space than a load needs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fixtures"))
import hostile_files as hostile  # noqa: E402


def _peak_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_sti(repo: Path, home: Path, args: list[str], timeout: float, cap_mb: float) -> dict:
    env = {**os.environ, "STI_HOME": str(home)}
    started = time.monotonic()
    process = subprocess.Popen(
        [str(repo / ".venv" / "bin" / "python"), "-m", "sti_portal", *args],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    peak, killed = 0, ""
    output = b""
    while process.poll() is None:
        peak = max(peak, _peak_kb(process.pid))
        if time.monotonic() - started > timeout:
            killed = f"no verdict in {timeout:.0f} s"
        elif peak / 1024 > cap_mb:
            killed = f"killed above {cap_mb:.0f} MB"
        if killed:
            process.kill()
            break
        time.sleep(0.1)
    out, err = process.communicate()
    output = (out + err).decode("utf-8", errors="replace")
    seconds = time.monotonic() - started
    return {
        "exit": process.returncode,
        "seconds": round(seconds, 1),
        "peak_mb": round(peak / 1024),
        "killed": killed,
        "output_bytes": len(output),
        "last_line": _verdict_line(output, killed),
    }


def _verdict_line(output: str, killed: str) -> str:
    if killed:
        return killed
    lines = [line for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[-1].startswith(("Traceback", "  File")) or "Error" in lines[-1] and "sti " not in lines[-1]:
        return "traceback: " + lines[-1][:160]
    problem = next((line.strip() for line in lines if line.strip().startswith(("error ", "warning "))), "")
    headline = next((line for line in reversed(lines) if line.startswith("sti ")), lines[-1])
    return (problem[:240] + " | " if problem else "") + headline[:300]


def cases(folder: Path, repo: Path) -> list[tuple[str, Path]]:
    good = repo / "tests" / "fixtures" / "good_uploads" / "zhejiang_2024.xlsx"
    link = folder / "symlink_upload.csv"
    link.symlink_to("/etc/passwd")
    return [
        ("zip bomb cell (200 MB in a 0.9 MB .xlsx)", hostile.zip_bomb_cell(folder)),
        ("2 M-row workbook (10 MB .xlsx)", hostile.many_rows_workbook(folder)),
        ("1 MB single-line CSV (1 MB note)", hostile.long_line_csv(folder)),
        ("30 MB CSV", hostile.big_csv(folder, 30)),
        ("300 MB CSV", hostile.big_csv(folder, 300)),
        ("random bytes named .xlsx", hostile.random_bytes_xlsx(folder)),
        ("5,000-digit number in .xlsx", hostile.huge_number_workbook(folder)),
        ("macro workbook renamed .xlsx", hostile.macro_workbook_renamed(folder)),
        ("symlink to /etc/passwd", link),
        ("truncated workbook (60 % copied)", hostile.truncated_workbook(folder, good)),
        ("value 1e308", hostile.csv_with(folder, "value_1e308.csv", ["北京,rd_intensity,2023,1e308,%,,,\r\n"])),
        ("value NaN", hostile.csv_with(folder, "value_nan.csv", ["北京,rd_intensity,2023,NaN,%,,,\r\n"])),
        (
            "value -0 (ratio, published 6.73 %)",
            hostile.csv_with(folder, "value_minus_zero.csv", ["北京,rd_intensity,2023,-0,%,,,\r\n"]),
        ),
        ("formula text in notes", hostile.formula_text_csv(folder)),
    ]


def disk_full(repo: Path, home: Path, folder: Path, timeout: float, cap_mb: float) -> dict:
    """`sti load` of a valid file with the home on a tmpfs that has ~10 MB free (root only)."""
    mount = folder / "small-disk"
    mount.mkdir()
    used = sum(p.stat().st_size for p in home.rglob("*") if p.is_file() and not p.is_symlink())
    size_mb = used // (1024 * 1024) + 12
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mount)]).returncode != 0:
        return {"last_line": "not measured (mount needs root)"}
    try:
        small_home = mount / "home"
        shutil.copytree(home, small_home, symlinks=True, ignore=shutil.ignore_patterns("dagster", "reports"))
        upload = folder / "beijing_2022_revision.csv"
        shutil.copyfile(repo / "tests" / "fixtures" / "good_uploads" / "beijing_2022_revision.csv", upload)
        free = shutil.disk_usage(mount).free // (1024 * 1024)
        result = run_sti(repo, small_home, ["load", str(upload)], timeout, cap_mb)
        result["free_mb_before"] = free
        leftovers = [
            g.name for g in (small_home / "generations").iterdir() if g.is_dir() and not (g / "manifest.json").exists()
        ]
        result["unfinished_generations_left"] = leftovers
        return result
    finally:
        subprocess.run(["umount", str(mount)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--label", default="")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--memory-cap-mb", type=float, default=4000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        folder = Path(tmp)
        for name, path in cases(folder, args.repo):
            if args.only and args.only not in name:
                continue
            results[name] = run_sti(args.repo, args.home, ["check", str(path)], args.timeout, args.memory_cap_mb)
            print(f"{args.label:6} {name:40} {json.dumps(results[name], ensure_ascii=False)}", flush=True)
        if not args.only or "disk" in args.only:
            results["disk full (load, ~10 MB free)"] = disk_full(
                args.repo, args.home, folder, args.timeout, args.memory_cap_mb
            )
            print(
                f"{args.label:6} disk full {json.dumps(results['disk full (load, ~10 MB free)'], ensure_ascii=False)}"
            )
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
