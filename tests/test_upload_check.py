"""`sti check`: the upload format, the yearbook-table format, and every bad file answered specifically.

Each bad file is a real file in tests/fixtures/bad_uploads (made by tests/fixtures/make_upload_files.py);
bad_uploads/expected.csv says which words its report must contain.
"""

import math

import pytest
from click.testing import CliRunner
from conftest import run_sti
from upload_helpers import BAD, GOOD, TEMPLATES, bad_cases, copy_home, published_state, stage

from sti_portal.uploads.read import Release, read_upload

CASES = bad_cases()
RELEASE = Release("upload_test", "2026-01-01", "archive/test")


def test_there_are_at_least_thirty_bad_files():
    assert len(CASES) >= 30
    assert {name for name, _ in CASES} == {p.name for p in BAD.iterdir() if p.name != "expected.csv"}


@pytest.fixture(scope="module")
def check_home(built_home, tmp_path_factory):
    return copy_home(built_home, tmp_path_factory.mktemp("check") / "home")


def sti_in_process(args, home):
    """The `sti` click command in this process (GX is imported once for all cases)."""
    from sti_portal.cli import main

    result = CliRunner().invoke(main, args, env={"STI_HOME": str(home)}, catch_exceptions=True)
    exception = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.output, exception


@pytest.mark.parametrize("name,expected", CASES, ids=[name for name, _ in CASES])
def test_bad_file_is_rejected_with_a_specific_message_and_changes_nothing(check_home, tmp_path, name, expected):
    code, output, exception = sti_in_process(["check", str(BAD / name)], check_home)
    assert exception is None, f"{name}: {exception!r}"
    assert code == 1, output
    assert expected in output, output
    assert f"[INVALID] {name}" in output
    assert "Traceback" not in output

    # The same file through `sti load`: rejected, quarantined with its report, published state untouched.
    before = published_state(check_home)
    upload = stage(BAD / name, tmp_path / "incoming")
    code, output, exception = sti_in_process(["load", str(upload)], check_home)
    assert exception is None and code == 1, output
    assert expected in output and "[REJECTED]" in output and "Traceback" not in output
    assert published_state(check_home) == before
    assert not upload.exists()
    quarantined = [p for p in (check_home / "quarantine").iterdir() if p.name.endswith(f"__{name}")]
    assert len(quarantined) == 1, quarantined
    assert quarantined[0].read_bytes() == (BAD / name).read_bytes()
    report = quarantined[0].with_name(quarantined[0].name + ".report.txt").read_text(encoding="utf-8")
    assert expected in report
    assert quarantined[0].with_name(quarantined[0].name + ".report.html").exists()


def test_sti_check_reports_every_bad_file_in_one_run(check_home):
    files = [str(BAD / name) for name, _ in CASES]
    result = run_sti(["check", *files], check_home)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    for name, _ in CASES:
        assert f"[INVALID] {name}" in output
    assert "HTML report:" in output


def test_every_problem_of_a_file_is_reported_not_just_the_first(check_home):
    bad_file = check_home / "several.csv"
    bad_file.write_text(
        "region,indicator,year,value,unit\n"
        "北亰,rd_intensity,2023,6.73,%\n"
        "天津,rd_intensty,2023,3.58,%\n"
        "河北,rd_intensity,2099,2.1,%\n"
        "山西,rd_intensity,2023,abc,%\n"
        "内蒙古,rd_intensity,2023,1.2,万元\n",
        encoding="utf-8",
    )
    code, output, _ = sti_in_process(["check", str(bad_file)], check_home)
    assert code == 1
    for where, words in [
        ("row 2, column region", "did you mean 北京"),
        ("row 3, column indicator", "did you mean rd_intensity"),
        ("row 4, column year", "in the future"),
        ("row 5, column value", "text, not a number"),
        ("row 6, column unit", "does not fit rd_intensity"),
    ]:
        assert any(where in line and words in line for line in output.splitlines()), (where, output)


def test_templates_are_valid_uploads(check_home):
    for template in TEMPLATES:  # separately: both hold the same example rows
        code, output, _ = sti_in_process(["check", str(template)], check_home)
        assert code == 0, output
        assert "[VALID]" in output and "0 error(s)" in output


def test_good_files_are_valid(check_home):
    # the yearbook table restates Beijing 2022, which the revision file also gives: check it on its own
    batch = [
        GOOD / name
        for name in ("hebei_2024_gbk.csv", "guangdong_2024_bom.csv", "zhejiang_2024.xlsx", "beijing_2022_revision.csv")
    ]
    for files in (batch, [GOOD / "yearbook_table_1-8_revised.xlsx"]):
        code, output, _ = sti_in_process(["check", *map(str, files)], check_home)
        assert code == 0, output
        assert output.count("[VALID]") == len(files)


def test_html_report_names_file_row_column_found_and_expected(check_home):
    code, output, _ = sti_in_process(["check", str(BAD / "unknown_province_zh.csv")], check_home)
    html_path = output.split("HTML report: ")[1].strip()
    page = open(html_path, encoding="utf-8").read()
    for text in (
        "unknown_province_zh.csv",
        "<td>2</td>",
        "<td>region</td>",
        "&#x27;北亰&#x27;",
        "did you mean 北京",
        "a GB/T 2260 code or a Chinese or English region name",
    ):
        assert text in page, text


# ------------------------------------------------------------------------------------------ reading


def test_gbk_csv_with_chinese_headers_full_width_digits_thousands_separators_and_a_gap():
    read = read_upload(GOOD / "hebei_2024_gbk.csv", RELEASE)
    assert read.format == "CSV (GBK/GB18030)" and not read.problems
    rows = {(r["region_code"], r["indicator_id"]): r for r in read.rows}
    intensity = rows[("130000", "rd_intensity")]
    assert intensity["year"] == 2024 and intensity["value"] == 2.16 and intensity["obs_status"] == "p"  # ２０２４, 初步
    assert (
        rows[("130000", "rd_expenditure")]["value"] == 9823100.0
        and rows[("130000", "rd_expenditure")]["unit"] == "万元"
    )
    gap = rows[("120000", "tech_contract_turnover")]
    assert math.isnan(gap["value"]) and gap["obs_status"] == "m"  # "—" is a gap, not a zero
    assert intensity["source_ref"] == "archive/test#row=2,col=value"


def test_utf8_bom_csv_with_english_names_and_convertible_units():
    read = read_upload(GOOD / "guangdong_2024_bom.csv", RELEASE)
    assert read.format == "CSV (UTF-8 with BOM)" and not read.problems
    assert {(r["region_code"], r["indicator_id"], r["unit"], r["value"]) for r in read.rows} == {
        ("440000", "rd_intensity", "%", 3.6),
        ("440000", "invention_patents_in_force", "万件", 78.1),
        ("440000", "hightech_enterprises_certified", "万家", 2.7),
    }


def test_xlsx_with_a_title_row_and_a_note_sheet():
    read = read_upload(GOOD / "zhejiang_2024.xlsx", RELEASE)
    assert read.format == "xlsx" and not read.problems
    assert [r["source_ref"] for r in read.rows] == [
        "archive/test#数据!D3",
        "archive/test#数据!D4",
        "archive/test#数据!D5",
    ]


def test_yearbook_table_is_accepted_as_an_upload():
    read = read_upload(GOOD / "yearbook_table_1-8_revised.xlsx", RELEASE)
    assert not read.errors
    assert read.format.startswith("yearbook table rd_intensity_by_region")
    beijing = {r["year"]: r["value"] for r in read.rows if r["region_code"] == "110000"}
    assert beijing[2023] == 6.80 and beijing[2018] == 5.65
    assert all(r["release"] == "upload_test" and r["source_id"] == "upload" for r in read.rows)
