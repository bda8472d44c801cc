"""Independent source verification of published values in sti.db.

Every row of ``tests/fixtures/source_cells.csv`` names one cell of an original snapshot file
(yearbook ``.xls``, a CSV, a bulletin page ``.html`` as ``table=N,row=R,col=C`` or a third-party
``.xlsx``), located by hand on the raw sheet. The tests below read that cell with their own tiny
reader (msoffcrypto + xlrd, the csv module, regular expressions over the HTML, openpyxl), apply the unit scale and
compare with what the real ``sti build`` published. Nothing from ``sources/`` or ``sti_portal/``
is imported: the expected value never travels through the pipeline's own code.
"""

from __future__ import annotations

import csv
import functools
import html
import io
import math
import re
import sqlite3
from pathlib import Path

import msoffcrypto
import openpyxl
import pytest
import xlrd

REPO_ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = REPO_ROOT / "sources" / "snapshots"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "source_cells.csv"
EXCEL_DEFAULT_PASSWORD = "VelvetSweatshop"
REL_TOL = 1e-9

MONEY_INDICATOR_PATTERNS = ("rd_expenditure%", "tech_contract_turnover%", "hightech_industry_revenue")

# Region-year pairs for the derived indicator; both inputs must be fixture rows.
DERIVED_CASES = [("110000", 2023), ("540000", 2010), ("640000", 2020), ("110000", 2010), ("440000", 2015)]

# Labels a fixture cell's row may carry (after removing whitespace, lower-cased); used only to
# check that the fixture itself points at the right row.
REGION_LABELS = {
    "100000": ("全国", "nationaltotal", "nationaltota1"),
    "110000": ("北京", "beijing"),
    "120000": ("天津", "tianjin"),
    "130000": ("河北", "hebei", "hbei"),
    "150000": ("内蒙古", "内蒙占", "innermongolia"),
    "220000": ("吉林", "jilin"),
    "310000": ("上海", "shanghai"),
    "440000": ("广东", "guangdong"),
    "450000": ("广西", "guangxi"),
    "460000": ("海南", "hainan"),
    "540000": ("西藏", "tibet", "xizang"),
    "640000": ("宁夏", "ningxia"),
    "650000": ("新疆", "xinjiang"),
    "810000": ("香港", "hongkong"),
}


# --------------------------------------------------------------------------- fixture rows


def load_fixture() -> list[dict]:
    with FIXTURE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["year"] = int(row["year"])
        row["scale"] = float(row["scale"])
    return rows


FIXTURE_ROWS = load_fixture()


def row_id(row: dict) -> str:
    return f"{row['indicator_id']}-{row['region_code']}-{row['year']}-{row['release']}"


def is_csv(row: dict) -> bool:
    return row["file"].lower().endswith(".csv")


def is_html(row: dict) -> bool:
    return row["file"].lower().endswith(".html")


def is_xlsx(row: dict) -> bool:
    return row["file"].lower().endswith(".xlsx")


# --------------------------------------------------------------------------- HTML pages and .xlsx


@functools.cache
def html_tables(relative_path: str) -> tuple[str, ...]:
    """Every <table>…</table> of the page, numbered by the position of its start tag (nesting respected)."""
    text = (SNAPSHOTS / relative_path).read_text(encoding="utf-8")
    found = []
    for start in re.finditer(r"<table\b", text, re.I):
        depth = 0
        for tag in re.finditer(r"<(/?)table\b[^>]*>", text[start.start() :], re.I):
            depth += -1 if tag.group(1) else 1
            if depth == 0:
                found.append(text[start.start() : start.start() + tag.end()])
                break
    return tuple(found)


def html_rows(relative_path: str, table_no: int) -> list[list[str]]:
    table = html_tables(relative_path)[table_no - 1]
    inner = re.sub(r"<table\b.*?</table>", "", table[table.index(">") + 1 :], flags=re.S | re.I)
    return [
        [
            re.sub(r"\s+", "", html.unescape(re.sub(r"<[^>]+>", "", cell)))
            for cell in re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", tr, re.S | re.I)
        ]
        for tr in re.findall(r"<tr\b.*?(?=<tr\b|$)", inner, re.S | re.I)
    ]


def html_ref(cell: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"table=(\d+),row=(\d+),col=(\d+)", cell.strip())
    assert match, f"not an HTML cell reference: {cell!r}"
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


@functools.cache
def xlsx_grid(relative_path: str, sheet: str) -> tuple[tuple, ...]:
    book = openpyxl.load_workbook(SNAPSHOTS / relative_path, read_only=True, data_only=True)
    worksheet = book[sheet]
    worksheet.reset_dimensions()  # the stored dimension is wrong in these files
    grid = tuple(tuple(r) for r in worksheet.iter_rows(values_only=True))
    book.close()
    return grid


def xlsx_cell(row: dict):
    r, c = a1_to_index(row["cell"])
    return xlsx_grid(row["file"], row["sheet"])[r][c]


# --------------------------------------------------------------------------- own readers


@functools.cache
def open_xls(relative_path: str) -> xlrd.Book:
    data = (SNAPSHOTS / relative_path).read_bytes()
    office_file = msoffcrypto.OfficeFile(io.BytesIO(data))
    if office_file.is_encrypted():
        office_file.load_key(password=EXCEL_DEFAULT_PASSWORD)
        decrypted = io.BytesIO()
        office_file.decrypt(decrypted)
        data = decrypted.getvalue()
    return xlrd.open_workbook(file_contents=data)


def a1_to_index(address: str) -> tuple[int, int]:
    match = re.fullmatch(r"([A-Z]+)([0-9]+)", address.strip().upper())
    assert match, f"not an A1 address: {address!r}"
    letters, digits = match.groups()
    col = 0
    for letter in letters:
        col = col * 26 + (ord(letter) - ord("A") + 1)
    return int(digits) - 1, col - 1


def to_number(raw, where: str) -> float:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)
    text = str(raw).strip().replace(",", "").replace(" ", "").replace("\u3000", "")
    try:
        return float(text)
    except ValueError:
        raise AssertionError(f"{where}: cell holds {raw!r}, not a number") from None


def xls_cell(row: dict) -> xlrd.sheet.Cell:
    book = open_xls(row["file"])
    assert row["sheet"] in book.sheet_names(), f"{row['file']}: no sheet {row['sheet']!r} ({book.sheet_names()})"
    sheet = book.sheet_by_name(row["sheet"])
    r, c = a1_to_index(row["cell"])
    assert r < sheet.nrows and c < sheet.ncols, f"{row['file']}#{row['sheet']}!{row['cell']} is outside the sheet"
    return sheet.cell(r, c)


@functools.cache
def csv_lines(relative_path: str) -> tuple[str, ...]:
    text = (SNAPSHOTS / relative_path).read_text(encoding="utf-8-sig")
    return tuple(line.rstrip("\r") for line in text.split("\n"))


def parse_csv_line(line: str) -> list[str]:
    return next(csv.reader([line]))


def parse_csv_ref(cell: str) -> tuple[int, str]:
    match = re.fullmatch(r"row=(\d+),col=(.+)", cell.strip())
    assert match, f"not a CSV cell reference: {cell!r}"
    return int(match.group(1)), match.group(2)


def csv_row_and_index(row: dict) -> tuple[list[str], list[str], int]:
    """(header fields, data fields, column index) for a `row=N,col=NAME` reference.

    N is the physical 1-based line number; the header is the first line above it that has a
    field named NAME (line 1, or later when comment / metadata lines come first).
    """
    line_no, column = parse_csv_ref(row["cell"])
    lines = csv_lines(row["file"])
    assert 1 <= line_no <= len(lines), f"{row['file']}: no line {line_no}"
    for header_line in lines[: line_no - 1]:
        fields = [field.strip() for field in parse_csv_line(header_line)] if header_line else []
        if column in fields:
            data = parse_csv_line(lines[line_no - 1])
            return fields, data, fields.index(column)
    raise AssertionError(f"{row['file']}: no header line above line {line_no} has a column {column!r}")


def source_value(row: dict) -> float:
    """The fixture cell read straight from the snapshot, in the published unit."""
    where = f"{row['file']}#{row['sheet'] or ''}!{row['cell']}"
    if is_csv(row):
        _, data, index = csv_row_and_index(row)
        assert index < len(data), f"{where}: line is too short"
        raw = data[index]
    elif is_html(row):
        table_no, r, c = html_ref(row["cell"])
        raw = html_rows(row["file"], table_no)[r - 1][c - 1]
    elif is_xlsx(row):
        raw = xlsx_cell(row)
    else:
        cell = xls_cell(row)
        assert cell.ctype in (xlrd.XL_CELL_NUMBER, xlrd.XL_CELL_TEXT), f"{where}: cell is empty ({cell!r})"
        raw = cell.value
    assert str(raw).strip() != "", f"{where}: cell is empty"
    return to_number(raw, where) * row["scale"]


def expected_source_ref(row: dict) -> str:
    if is_csv(row) or is_html(row):
        return f"{row['file']}#{row['cell']}"
    return f"{row['file']}#{row['sheet']}!{row['cell']}"


# --------------------------------------------------------------------------- database


@pytest.fixture(scope="module")
def db(sti_db):
    connection = sqlite3.connect(f"file:{sti_db}?mode=ro", uri=True)
    yield connection
    connection.close()


def history_rows(db, row: dict) -> list[tuple]:
    return db.execute(
        "SELECT value, source_ref, unit FROM observation_history "
        "WHERE region_code = ? AND indicator_id = ? AND year = ? AND release = ?",
        (row["region_code"], row["indicator_id"], row["year"], row["release"]),
    ).fetchall()


def current_value(db, region_code: str, indicator_id: str, year: int) -> tuple:
    rows = db.execute(
        "SELECT value, release, source_ref FROM observations WHERE region_code = ? AND indicator_id = ? AND year = ?",
        (region_code, indicator_id, year),
    ).fetchall()
    assert len(rows) == 1, f"observations: expected one row for {region_code}/{indicator_id}/{year}, found {rows}"
    return rows[0]


# --------------------------------------------------------------------------- tests


def test_fixture_is_broad_enough():
    assert len(FIXTURE_ROWS) >= 70
    ids = [row_id(row) for row in FIXTURE_ROWS]
    assert len(ids) == len(set(ids)), "duplicate fixture rows"
    for row in FIXTURE_ROWS:
        assert (SNAPSHOTS / row["file"]).is_file(), f"missing snapshot {row['file']}"
        assert row["scale"] in (1.0, 0.0001), row


@pytest.mark.parametrize("row", FIXTURE_ROWS, ids=row_id)
def test_fixture_cell_is_in_the_right_row_and_column(row):
    """Guards the fixture itself: the named cell sits in the region's row and the year's column/table."""
    if is_csv(row):
        header, data, _ = csv_row_and_index(row)
        if "Country Code" in header:
            label = data[header.index("Country Code")]
            assert label == row["region_code"], f"{row['file']} {row['cell']}: country code {label!r}"
        else:
            label = re.sub(r"\s+", "", " ".join(data[:4])).lower()
            assert any(alias in label for alias in REGION_LABELS[row["region_code"]]), (row["cell"], label)
        assert str(row["year"]) in header or str(row["year"]) in data, f"{row['cell']}: year {row['year']} not found"
        return
    if is_html(row):
        table_no, r, c = html_ref(row["cell"])
        rows = html_rows(row["file"], table_no)
        assert rows[r - 1][0] in REGION_LABELS[row["region_code"]], (row["cell"], rows[r - 1])
        header = next(cells for cells in rows if cells and cells[0] == "地区")
        assert ("强度" in header[c - 1]) == (row["indicator_id"] == "rd_intensity"), (row["cell"], header)
        page = (SNAPSHOTS / row["file"]).read_text(encoding="utf-8")
        assert f"{row['year']}年全国科技经费投入统计公报" in page, f"{row['file']}: not the {row['year']} bulletin"
        return
    if is_xlsx(row):
        grid = xlsx_grid(row["file"], row["sheet"])
        r, c = a1_to_index(row["cell"])
        assert grid[r][0] in REGION_LABELS[row["region_code"]], (row["cell"], grid[r])
        assert ("强度" in grid[0][c]) == (row["indicator_id"] == "rd_intensity"), (row["cell"], grid[0])
        assert f"_{row['year']}.xlsx" in row["file"]  # the only place the transcription names its year
        return
    sheet = open_xls(row["file"]).sheet_by_name(row["sheet"])
    r, c = a1_to_index(row["cell"])
    label = re.sub(r"\s+", "", f"{sheet.cell_value(r, 0)}{sheet.cell_value(r, 1)}").lower()
    assert any(alias in label for alias in REGION_LABELS[row["region_code"]]), (
        f"{row['file']}#{row['sheet']}!{row['cell']}: row label {label!r} is not region {row['region_code']}"
    )

    def text(value) -> str:
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)

    above_in_column = " ".join(text(sheet.cell_value(i, c)) for i in range(r))
    titles = " ".join(text(sheet.cell_value(i, 0)) for i in range(min(r, 6)))
    assert re.search(rf"(?<!\d){row['year']}(?!\d)", above_in_column + " " + titles), (
        f"{row['file']}#{row['sheet']}!{row['cell']}: year {row['year']} in neither column header nor title"
    )


@pytest.mark.parametrize("row", FIXTURE_ROWS, ids=row_id)
def test_published_value_matches_source_cell(db, row):
    expected = source_value(row)
    published = history_rows(db, row)
    assert published, (
        f"observation_history has no row for {row['region_code']}/{row['indicator_id']}/{row['year']} "
        f"release {row['release']} (source {expected_source_ref(row)} = {expected!r})"
    )
    assert len(published) == 1, f"several history rows for {row_id(row)}: {published}"
    value = published[0][0]
    assert value is not None, f"{row_id(row)} published as NULL but {expected_source_ref(row)} holds {expected!r}"
    assert math.isclose(value, expected, rel_tol=REL_TOL), (
        f"{row_id(row)}: published {value!r}, source {expected_source_ref(row)} gives {expected!r} "
        f"(scale {row['scale']})"
    )


@pytest.mark.parametrize("row", FIXTURE_ROWS, ids=row_id)
def test_published_source_ref_names_the_fixture_cell(db, row):
    published = history_rows(db, row)
    assert published, f"observation_history has no row for {row_id(row)}"
    refs = [ref for _, ref, _ in published]
    assert refs == [expected_source_ref(row)], (
        f"{row_id(row)}: published source_ref {refs}, fixture names {expected_source_ref(row)!r}"
    )


# --- hand-stated facts from the issue (no file read)


def test_beijing_rd_intensity_2023_is_6_73(db):
    value, release, _ = current_value(db, "110000", "rd_intensity", 2023)
    assert value == pytest.approx(6.73, abs=1e-9), release


def test_national_rd_expenditure_2023(db):
    value, release, _ = current_value(db, "100000", "rd_expenditure", 2023)
    assert value == pytest.approx(33357.0688, abs=1e-6), release


def test_beijing_rd_intensity_2018_current_and_first_vintage(db):
    value, release, _ = current_value(db, "110000", "rd_intensity", 2018)
    assert value == pytest.approx(5.65, abs=1e-9), release
    first = db.execute(
        "SELECT value FROM observation_history WHERE region_code = '110000' AND indicator_id = 'rd_intensity' "
        "AND year = 2018 AND release = 'cn_sti_yearbook_2019'"
    ).fetchall()
    assert first == [(pytest.approx(6.17, abs=1e-9),)]


# --- derived indicator recomputed from the raw cells


def fixture_row(indicator_id: str, region_code: str, year: int) -> dict:
    matches = [
        row
        for row in FIXTURE_ROWS
        if (row["indicator_id"], row["region_code"], row["year"]) == (indicator_id, region_code, year)
    ]
    assert len(matches) == 1, f"fixture needs exactly one {indicator_id}/{region_code}/{year} row"
    return matches[0]


@pytest.mark.parametrize("region_code,year", DERIVED_CASES, ids=[f"{r}-{y}" for r, y in DERIVED_CASES])
def test_invention_patents_per_10k_recomputed(db, region_code, year):
    patents = fixture_row("invention_patents_in_force", region_code, year)
    population = fixture_row("population", region_code, year)
    expected = source_value(patents) / source_value(population)
    value, release, source_ref = current_value(db, region_code, "invention_patents_per_10k", year)
    assert value is not None and math.isclose(value, expected, rel_tol=REL_TOL), (
        f"invention_patents_per_10k {region_code} {year}: published {value!r} ({release}), "
        f"{expected_source_ref(patents)} / {expected_source_ref(population)} = {expected!r}"
    )
    assert expected_source_ref(patents) in source_ref and expected_source_ref(population) in source_ref, source_ref


# --- units


def test_each_indicator_has_one_unit(db):
    mixed = db.execute(
        "SELECT indicator_id, group_concat(DISTINCT unit) FROM observations "
        "GROUP BY indicator_id HAVING count(DISTINCT unit) > 1"
    ).fetchall()
    assert mixed == [], f"indicators published with more than one unit: {mixed}"
    unitless = db.execute(
        "SELECT indicator_id, count(*) FROM observations WHERE unit IS NULL OR trim(unit) = '' GROUP BY indicator_id"
    ).fetchall()
    assert unitless == [], f"observations without a unit: {unitless}"


def test_money_indicators_are_in_yi_yuan(db):
    where = " OR ".join("indicator_id LIKE ?" for _ in MONEY_INDICATOR_PATTERNS)
    rows = db.execute(
        f"SELECT indicator_id, unit, count(*) FROM observations WHERE {where} GROUP BY indicator_id, unit",
        MONEY_INDICATOR_PATTERNS,
    ).fetchall()
    indicators = {indicator for indicator, _, _ in rows}
    assert {
        "rd_expenditure",
        "rd_expenditure_government",
        "rd_expenditure_enterprise",
        "rd_expenditure_basic_research",
        "tech_contract_turnover",
        "tech_contract_turnover_inflow",
        "hightech_industry_revenue",
    } <= indicators, indicators
    wrong = [(indicator, unit, count) for indicator, unit, count in rows if unit != "亿元"]
    assert wrong == [], f"money indicators not in 亿元: {wrong}"


# --- first releases from the bulletin pages and the industrial-enterprise tables (hand-stated facts)

FIRST_RELEASE_2023 = {
    ("100000", "rd_expenditure"): 33357.1,
    ("100000", "rd_intensity"): 2.65,
    ("110000", "rd_expenditure"): 2947.1,
    ("110000", "rd_intensity"): 6.73,
    ("440000", "rd_expenditure"): 4802.6,
}


@pytest.mark.parametrize("key", FIRST_RELEASE_2023, ids=lambda k: "-".join(k))
def test_bulletin_2023_first_release(db, key):
    rows = db.execute(
        "SELECT value, vintage, release_kind FROM observation_history WHERE region_code = ? AND "
        "indicator_id = ? AND year = 2023 AND release = 'nbs_rd_bulletin_2023'",
        key,
    ).fetchall()
    assert rows == [(pytest.approx(FIRST_RELEASE_2023[key], abs=1e-9), "2024-10-02", "first_release")]


def test_enterprises_with_rd_activity_2023_national(db):
    value, release, source_ref = current_value(db, "100000", "industrial_enterprises_with_rd", 2023)
    assert (value, release) == (151290.0, "cn_sti_yearbook_2024"), source_ref


def test_every_province_has_a_bulletin_first_release_2011_2023(db):
    rows = db.execute(
        "SELECT indicator_id, year, count(DISTINCT region_code) FROM observation_history "
        "WHERE release = 'nbs_rd_bulletin_' || year AND release_kind = 'first_release' AND region_code <> '100000' "
        "AND indicator_id IN ('rd_expenditure', 'rd_intensity') AND value IS NOT NULL GROUP BY 1, 2"
    ).fetchall()
    counts = {(indicator, year): n for indicator, year, n in rows}
    assert {key: counts.get(key) for key in counts} == {
        (indicator, year): 31 for indicator in ("rd_expenditure", "rd_intensity") for year in range(2011, 2024)
    }


def test_transcription_disagreements_are_published_not_hidden(db):
    """The third-party 2018 table repeats the 2019 figures: each of its values that differs from the
    page is listed in bulletin_copies, named as the next bulletin's figure; the other years agree."""
    rows = db.execute(
        "SELECT source_ref, reason FROM bulletin_copies WHERE source_ref LIKE 'cn_rd_bulletins/techme_bulletin_table_%'"
    ).fetchall()
    differs_2018 = [r for r, reason in rows if "_2018.xlsx" in r and "DIFFERS" in reason and "2019 bulletin" in reason]
    assert len(differs_2018) >= 60
    other_page_years = [reason for r, reason in rows if re.search(r"_20(19|2[0-3])\.xlsx", r)]
    assert len(other_page_years) == 5 * 64 and all("agrees" in reason for reason in other_page_years)


# --- series breaks (obs_status b on the current series, warehouse/views.sql)


def _current_status(db, region_code: str, indicator_id: str, year: int) -> tuple:
    return db.execute(
        "SELECT value, release, obs_status FROM observations WHERE region_code = ? AND indicator_id = ? AND year = ?",
        (region_code, indicator_id, year),
    ).fetchone()


@pytest.mark.parametrize("region_code,flagged", [("120000", True), ("110000", False)], ids=["tianjin", "beijing"])
def test_series_break_where_two_editions_join_beyond_the_bound(db, region_code, flagged):
    """Tianjin 2011 (2019 edition, 2.63) -> 2012 (2024 edition, 3.99, after the GDP revision) is a break;
    Beijing's editions join at the same year within the bound (5.76 -> 5.59) and are not."""
    wanted = [
        ("rd_intensity", region_code, 2011, "cn_sti_yearbook_2019"),
        ("rd_intensity", region_code, 2012, "cn_sti_yearbook_2024"),
    ]
    before, after = (
        next(
            row for row in FIXTURE_ROWS if (row["indicator_id"], row["region_code"], row["year"], row["release"]) == key
        )
        for key in wanted
    )
    value_2011, release_2011, status_2011 = _current_status(db, region_code, "rd_intensity", 2011)
    value_2012, release_2012, status_2012 = _current_status(db, region_code, "rd_intensity", 2012)
    assert (value_2011, release_2011) == (pytest.approx(source_value(before)), before["release"])
    assert (value_2012, release_2012) == (pytest.approx(source_value(after)), after["release"])
    ((bound,),) = db.execute("SELECT yoy_max_ratio FROM indicators WHERE indicator_id = 'rd_intensity'").fetchall()
    assert (abs(value_2012 / value_2011 - 1) > bound) is flagged
    assert (status_2011, status_2012) == ("", "b" if flagged else "")
    history = db.execute(
        "SELECT DISTINCT obs_status FROM observation_history WHERE region_code = ? "
        "AND indicator_id = 'rd_intensity' AND year = 2012",
        (region_code,),
    ).fetchall()
    assert history == [("",)]  # the sources' own statuses stay as printed


def test_every_break_follows_the_rule_and_nothing_else_is_flagged(db):
    """The rule recomputed here from the published current series: another release than the year before's
    AND a change beyond the indicator's year-on-year bound, on a value without a status of its own."""
    bounds = dict(db.execute("SELECT indicator_id, yoy_max_ratio FROM indicators").fetchall())
    rows = db.execute(
        "SELECT region_code, indicator_id, year, value, release, obs_status FROM observations "
        "ORDER BY region_code, indicator_id, year"
    ).fetchall()
    expected, published = set(), set()
    previous = None
    for region_code, indicator_id, year, value, release, status in rows:
        key = (region_code, indicator_id, year)
        if status == "b":
            published.add(key)
        if (
            previous
            and previous[:2] == key[:2]
            and previous[2] == year - 1
            and previous[4] != release
            and previous[3]
            and value is not None
            and previous[3] > 0
            and status in ("", "b")
            and abs(value / previous[3] - 1) > bounds[indicator_id]
        ):
            expected.add(key)
        previous = (region_code, indicator_id, year, value, release)
    assert published == expected
    assert ("120000", "rd_intensity", 2012) in published and len(published) > 50
