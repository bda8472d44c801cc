"""Bulletin first releases against the yearbook: a figure within the bulletin's printed rounding agrees."""

import pytest
from upload_helpers import query

from sti_portal.transform.release_differences import tolerance_label, within_tolerance


@pytest.mark.parametrize(
    ("indicator", "first_release", "yearbook", "agrees"),
    [
        ("rd_expenditure", 1.2, 1.153, True),  # Tibet 2011: 4 % apart, but 1.153 prints as 1.2
        ("rd_expenditure", 1.2, 1.14, False),  # prints as 1.1: a real difference
        ("rd_expenditure", 2947.1, 2947.0733, True),
        ("rd_expenditure", 2947.1, 2970.0, False),  # beyond 0.5 % and beyond rounding
        ("rd_intensity", 2.19, 2.14, True),  # 0.05 pp
        ("rd_intensity", 1.84, 1.78, False),
    ],
)
def test_within_tolerance(indicator, first_release, yearbook, agrees):
    assert within_tolerance(indicator, first_release, yearbook - first_release) is agrees


def test_tibet_first_releases_agree_with_the_yearbook_by_rounding(built_home):
    rows = query(
        built_home,
        "SELECT year, first_release_value, yearbook_value, verdict, tolerance FROM release_differences "
        "WHERE region_code = '540000' AND indicator_id = 'rd_expenditure' AND year = 2011",
    )
    assert len(rows) == 1
    year, first, yearbook, verdict, tolerance = rows[0]
    assert (first, round(yearbook, 3), verdict) == (1.2, 1.153, "agrees")
    assert tolerance == tolerance_label("rd_expenditure") and "rounding" in tolerance
