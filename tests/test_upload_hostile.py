"""Hostile and careless files, a full disk and formula text: every one gets a specific verdict, memory stays
bounded, nothing published changes on rejection (issue 15).

The files are generated at test time (tests/fixtures/hostile_files.py). Reads run in a subprocess that
reports its own peak memory (resource.getrusage); the times are in benchmarks/hostile_uploads.py, not
asserted here.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from upload_helpers import GOOD, copy_home, published_state, query, stage

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import hostile_files as hostile  # noqa: E402

MEMORY_LIMIT_MB = 500
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
# Peak memory is the child's VmHWM (high-water mark of its own address space, reset at exec): ru_maxrss
# would carry the forking pytest process's size over into the child.
READ_IN_CHILD = """
import json, re, sys
from pathlib import Path
from sti_portal.uploads.read import Release, read_upload
read = read_upload(Path(sys.argv[1]), Release("upload_test", "2026-01-01", "archive/x"))
print(json.dumps({"problems": [[p.severity, p.rule, p.text()] for p in read.problems], "rows": len(read.rows),
                  "values": [r["value"] if r["value"] == r["value"] else None for r in read.rows[:3]],
                  "omitted": read.omitted,
                  "peak_mb": int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024}))
"""


def read_in_child(path: Path, **env) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", READ_IN_CHILD, str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def rules(read: dict, severity: str = "error") -> set[str]:
    return {rule for sev, rule, _ in read["problems"] if sev == severity}


def text(read: dict) -> str:
    return "\n".join(t for _, _, t in read["problems"])


CASES = {
    "zip_bomb_cell": (lambda f: hostile.zip_bomb_cell(f), {}, "workbook_too_large", "unzips to 200.0 MB"),
    "two_million_rows": (lambda f: hostile.many_rows_workbook(f), {}, "workbook_too_large", "more than the 60.0 MB"),
    "rows_streamed": (
        lambda f: hostile.many_rows_workbook(f, 5_000, "five_thousand.xlsx"),
        {"STI_UPLOAD_MAX_ROWS": "1000"},
        "too_many_rows",
        "more than 1,000 rows",
    ),
    "one_mb_line": (lambda f: hostile.long_line_csv(f), {}, "cell_too_long", "the CSV reader's field limit"),
    "long_note": (
        lambda f: hostile.csv_with(f, "note.csv", [hostile.GOOD_ROW.replace(",\r\n", "," + "x" * 3000 + "\r\n")]),
        {},
        "cell_too_long",
        "3,000 characters, more than the 2,000",
    ),
    "csv_30_mb": (lambda f: hostile.big_csv(f, 30), {}, "file_too_large", "30.0 MB, larger than the 10.0 MB"),
    "csv_300_mb": (lambda f: hostile.big_csv(f, 300), {}, "file_too_large", "300.0 MB"),
    "csv_30_mb_streamed": (
        lambda f: hostile.big_csv(f, 30),
        {"STI_UPLOAD_MAX_FILE_MB": "400"},
        "too_many_rows",
        "more than 100,000 rows",
    ),
    "random_bytes": (lambda f: hostile.random_bytes_xlsx(f), {}, "not_xlsx", "damaged or truncated"),
    "huge_number": (lambda f: hostile.huge_number_workbook(f), {}, "not_xlsx", "thousands of digits long"),
    "macro_renamed": (lambda f: hostile.macro_workbook_renamed(f), {}, "macro_workbook", "xl/vbaProject.bin"),
    "truncated_copy": (
        lambda f: hostile.truncated_workbook(f, GOOD / "zhejiang_2024.xlsx"),
        {},
        "not_xlsx",
        "truncated",
    ),
    "value_1e308": (
        lambda f: hostile.csv_with(f, "big.csv", ["北京,rd_intensity,2023,1e308,%,,,\r\n"]),
        {},
        "bad_value",
        "the number 1e+308 is larger than any statistic",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_file_gets_a_specific_verdict_in_bounded_memory(case, tmp_path):
    make, env, rule, words = CASES[case]
    read = read_in_child(make(tmp_path), **env)
    assert rule in rules(read), read["problems"]
    assert words in text(read), text(read)
    assert read["peak_mb"] < MEMORY_LIMIT_MB
    assert all(len(t) < 1000 for _, _, t in read["problems"])  # no 200 MB cell, no 400-digit number in a message


def test_a_symlink_is_refused_without_reading_its_target(tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text(hostile.HEADER + "SECRET-LINE,rd_intensity,2023,1,%,,,\r\n", encoding="utf-8")
    link = tmp_path / "upload.csv"
    link.symlink_to(secret)
    read = read_in_child(link)
    assert rules(read) == {"symlink"} and "SECRET" not in text(read)


def test_nan_is_a_gap_and_minus_zero_is_zero_both_said(tmp_path):
    path = hostile.csv_with(
        tmp_path, "nan_zero.csv", ["北京,rd_intensity,2023,NaN,%,,,\r\n", "天津,rd_intensity,2023,-0,%,,,\r\n"]
    )
    read = read_in_child(path)
    assert rules(read, "warning") >= {"nan_is_gap", "negative_zero"} and not rules(read)
    assert read["values"] == [None, 0.0]


def test_errors_are_capped_per_file_with_a_count_of_the_rest(tmp_path):
    path = hostile.csv_with(tmp_path, "bad_rows.csv", ["北亰,rd_intensity,2023,6.73,%,,,\r\n"] * 1000)
    read = read_in_child(path, STI_UPLOAD_MAX_PROBLEMS="50")
    assert len([p for p in read["problems"] if p[0] == "error"]) == 50 and read["omitted"]["error"] == 950


# ------------------------------------------------------------------------------------------ loads


@pytest.fixture
def home(built_home, tmp_path):
    return copy_home(built_home, tmp_path / "home")


def _load(home: Path, path: Path):
    from sti_portal.core.settings import Paths
    from sti_portal.uploads import load

    return load.load_files(Paths(home), [path], now=NOW)


def _unfinished(home: Path) -> list[str]:
    return [g.name for g in (home / "generations").iterdir() if g.is_dir() and not (g / "manifest.json").exists()]


def test_a_zip_bomb_is_rejected_by_sti_load_and_nothing_published_changes(home, tmp_path):
    before = published_state(home)
    outcome = _load(home, hostile.zip_bomb_cell(tmp_path))
    assert outcome.verdict == "rejected" and outcome.exit_code == 1
    assert published_state(home) == before


def test_a_ratio_dropping_to_zero_blocks_unless_confirmed(home, tmp_path):
    before = published_state(home)
    outcome = _load(home, hostile.csv_with(tmp_path, "zero.csv", ["北京,rd_intensity,2023,-0,%,,,\r\n"]))
    assert outcome.verdict == "rejected"
    [problem] = [p for p in outcome.files[0].errors if p.rule == "ratio_drops_to_zero"]
    assert "drops to 0 from 6.73 %" in problem.message and "confirmed zero" in problem.expected
    assert published_state(home) == before
    from sti_portal.core.settings import Paths
    from sti_portal.uploads import load

    confirmed = hostile.csv_with(tmp_path, "zero_ok.csv", ["北京,rd_intensity,2023,0,%,,,confirmed zero 确认为零\r\n"])
    checked = load.check_files(Paths(home), [confirmed], now=NOW)
    assert not [p for p in checked.files[0].problems if p.rule == "ratio_drops_to_zero"]


def test_not_enough_free_space_is_exit_2_before_anything_is_written(home, tmp_path, monkeypatch):
    from sti_portal.uploads import resources

    before = published_state(home)
    upload = stage(GOOD / "beijing_2022_revision.csv", tmp_path / "desk")
    monkeypatch.setattr(resources, "free_bytes", lambda folder: 5 * 1024 * 1024)  # a disk with 5 MB free
    outcome = _load(home, upload)
    assert outcome.exit_code == 2 and outcome.verdict == "error"
    assert "not enough free disk space" in outcome.error and "MB needed" in outcome.error
    assert published_state(home) == before and upload.exists() and not _unfinished(home)
    monkeypatch.undo()
    assert _load(home, upload).verdict == "accepted"  # the next run works


def test_a_disk_filling_up_while_writing_is_exit_2_and_leaves_nothing_half_written(home, tmp_path, monkeypatch):
    from sti_portal.publish import incremental

    before = published_state(home)
    upload = stage(GOOD / "beijing_2022_revision.csv", tmp_path / "desk")

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(incremental, "write_portal_copy", full_disk)
    outcome = _load(home, upload)
    assert outcome.exit_code == 2 and "is full" in outcome.error and "Free at least" in outcome.error
    assert published_state(home) == before and upload.exists()
    assert not _unfinished(home) and not any((home / "archive" / ".staging").glob("*"))
    monkeypatch.undo()
    assert _load(home, upload).verdict == "accepted"
    assert query(
        home,
        "SELECT value FROM observations WHERE region_code = '110000' AND indicator_id = 'rd_intensity' AND year = 2022",
    ) == [(6.99,)]


def test_a_report_that_cannot_be_written_still_gives_the_verdict(home, tmp_path, monkeypatch):
    from sti_portal.core.settings import Paths
    from sti_portal.uploads import load, report

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report, "write_batch_reports", full_disk)
    outcome = load.check_files(Paths(home), [stage(GOOD / "beijing_2022_revision.csv", tmp_path / "desk")], now=NOW)
    assert outcome.exit_code == 2 and "the report could not be written" in report.render_text(outcome)


def test_formula_text_is_neutralised_in_the_excel_csv_only(home, tmp_path):
    from sti_portal.publish.downloads.compose import find_file, iter_download, read_manifest

    outcome = _load(home, hostile.formula_text_csv(tmp_path))
    assert outcome.verdict == "accepted", [p.text() for p in outcome.files[0].problems]
    folder = (home / "downloads").resolve()
    manifest = read_manifest(folder)
    files = {}
    for name in ("indicators/rd_intensity.csv", "indicators/rd_intensity-excel.csv"):
        entry = find_file(manifest, name)
        files[name] = b"".join(iter_download(folder, manifest, entry))
        assert len(files[name]) == entry["bytes"]  # the exact Content-Length
    plain, excel = files["indicators/rd_intensity.csv"], files["indicators/rd_intensity-excel.csv"]
    assert b'"=HYPERLINK(""http://example.invalid"",""click"")' in plain  # the data file is faithful
    assert b"\"'=HYPERLINK(" in excel and b"\"'@SUM(1+1)" in excel and b"\"'+1; source: -2+3+cmd|" in excel
    assert b",6.84," in excel and b",\"'6.84" not in excel  # numbers stay numbers
    assert excel.count(b"\"'") == len(excel) - len(plain) - len(b"\xef\xbb\xbf")


def test_sti_build_without_room_for_a_generation_is_exit_2_and_writes_nothing(home):
    from conftest import run_sti

    before = published_state(home)
    # A margin no disk has: the pre-flight check must refuse before the build writes anything.
    result = run_sti(["build"], home, env_extra={"STI_FREE_SPACE_MARGIN_MB": str(10**12)})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "COULD NOT RUN" in result.stderr and "not enough free disk space" in result.stderr
    assert "Traceback" not in result.stderr
    assert published_state(home) == before and not _unfinished(home)
