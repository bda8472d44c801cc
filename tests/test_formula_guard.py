"""safe_cell: the cell-level rule the .csvbom renderer applies (OWASP CSV injection)."""

import random

import pytest

from sti_portal.publish.formula_guard import TRIGGERS, FormulaCounter, count_formulas, neutralised, safe_cell


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "@SUM(A1)", "-2+3+cmd|'/C calc'!A0", "+1", "\tx", "\rx"])
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(cell):
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["", "北京", "p", "a=b", 2.5, -2.5, 0, None])
def test_everything_else_is_left_as_it_is(cell):
    assert safe_cell(cell) == cell


def test_formula_starts_are_counted_only_at_quoted_field_starts():
    data = b'"=a",1\n"x",-2\n"@b","c=d"\n'
    assert count_formulas(data) == 2


def test_the_chunked_count_is_what_the_served_excel_csv_changes():
    """FormulaCounter (numpy, fed in chunks of any size) counts exactly the field starts `neutralised` gives an
    apostrophe when the Excel CSV is served, which is what its Content-Length relies on; checked against the
    plain definition (each `<lead>"<trigger>` pattern counted with bytes.count) on dense random bytes."""
    rng = random.Random(13)
    alphabet = b',\n"=+-@\t\rab'
    for _ in range(300):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 400)))
        by_definition = sum(data.count(lead + b'"' + bytes([c])) for lead in (b",", b"\n") for c in TRIGGERS.encode())
        by_definition += len(data) >= 2 and data[:1] == b'"' and data[1] in TRIGGERS.encode()
        counter, position = FormulaCounter(), 0
        while position < len(data):
            size = rng.randrange(1, 50)
            counter.update(data[position : position + size])
            position += size
        served = b"".join(neutralised(data[i : i + 7] for i in range(0, len(data), 7)))
        assert counter.count == by_definition == len(served) - len(data), data
