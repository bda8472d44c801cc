"""safe_cell: the cell-level rule the .csvbom renderer applies (OWASP CSV injection)."""

import pytest

from sti_portal.publish.formula_guard import count_formulas, safe_cell


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "@SUM(A1)", "-2+3+cmd|'/C calc'!A0", "+1", "\tx", "\rx"])
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(cell):
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["", "北京", "p", "a=b", 2.5, -2.5, 0, None])
def test_everything_else_is_left_as_it_is(cell):
    assert safe_cell(cell) == cell


def test_formula_starts_are_counted_only_at_quoted_field_starts():
    data = b'"=a",1\n"x",-2\n"@b","c=d"\n'
    assert count_formulas(data) == 2
