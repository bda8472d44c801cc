"""A snapshot with a bad value fails a blocking GX check, names the row, and publishes nothing."""

import hashlib
import io
import shutil

import msoffcrypto
import openpyxl
import pytest
import xlrd
from conftest import REPO_ROOT, run_sti

SNAPSHOTS = REPO_ROOT / "sources" / "snapshots"
INTENSITY_2023 = "cn_sti_yearbook_xls/rd_intensity_by_region/rd_intensity_by_region__2023.xls"


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def xls_to_xlsx_with_edit(source, target, edit):
    """Copy every cell of the first sheet to an .xlsx, applying edit(row, col, value) -> value."""
    raw = source.read_bytes()
    office = msoffcrypto.OfficeFile(io.BytesIO(raw))
    if office.is_encrypted():
        office.load_key(password="VelvetSweatshop")
        out = io.BytesIO()
        office.decrypt(out)
        raw = out.getvalue()
    sheet = xlrd.open_workbook(file_contents=raw).sheet_by_index(0)
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet.name
    for r in range(sheet.nrows):
        for c in range(sheet.ncols):
            value = edit(r, c, sheet.cell_value(r, c))
            if value != "":
                ws.cell(row=r + 1, column=c + 1, value=value)
    book.save(target)


@pytest.fixture
def corrupted_snapshots(tmp_path):
    copy = tmp_path / "snapshots"
    shutil.copytree(SNAPSHOTS, copy)
    original = copy / INTENSITY_2023
    sheet = xlrd.open_workbook(file_contents=_decrypted(original)).sheet_by_index(0)
    beijing_row = next(r for r in range(sheet.nrows) if sheet.cell_value(r, 1) == "Beijing")
    year_col = next(c for c in range(sheet.ncols) if str(sheet.cell_value(4, c)) == "2023")
    xls_to_xlsx_with_edit(
        original, original.with_suffix(".xlsx"), lambda r, c, v: "263" if (r, c) == (beijing_row, year_col) else v
    )
    original.unlink()
    return copy


def _decrypted(path):
    office = msoffcrypto.OfficeFile(io.BytesIO(path.read_bytes()))
    out = io.BytesIO()
    office.load_key(password="VelvetSweatshop")
    office.decrypt(out)
    return out.getvalue()


def test_out_of_range_value_blocks_and_keeps_published_db(built_home, corrupted_snapshots, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    for name in ("sti.db", "warehouse.duckdb"):
        shutil.copy2(built_home / name, home / name)
    before = {name: sha256(home / name) for name in ("sti.db", "warehouse.duckdb")}

    result = run_sti(["build"], home, env_extra={"STI_SNAPSHOT_DIR": str(corrupted_snapshots)})

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "check gx_value_ranges: FAILED" in output
    assert "rd_intensity must lie within 0-10 %" in output
    assert "region_code=110000" in output and "year=2023" in output and "value=263.0" in output
    assert "rd_intensity_by_region__2023.xlsx#1!N7" in output  # the cell the bad value came from
    assert "nothing was published" in output
    assert "Traceback" not in output
    assert {name: sha256(home / name) for name in before} == before
    assert not (home / "sti.db.tmp").exists()


def test_unknown_region_spelling_fails_with_a_clear_message(built_home, tmp_path):
    copy = tmp_path / "snapshots"
    shutil.copytree(SNAPSHOTS, copy)
    innocom = copy / "cn_hitech_enterprises_innocom" / "hitech_enterprises_recognized_by_province__2018.csv"
    innocom.write_text(innocom.read_text(encoding="utf-8").replace("1,2018,北京,", "1,2018,北亰,"), encoding="utf-8")
    home = tmp_path / "home"
    result = run_sti(["build"], home, env_extra={"STI_SNAPSHOT_DIR": str(copy)})
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "unknown region label(s)" in output and "'北亰'" in output
    assert "hitech_enterprises_recognized_by_province__2018.csv#row=2,col=num" in output
    assert "Traceback" not in output
    assert not (home / "sti.db").exists()
