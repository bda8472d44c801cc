"""Unit tests for the number grammar of the policy-target extractor (sti_portal.targets.numbers)."""

from __future__ import annotations

import pytest

from sti_portal.targets.numbers import (
    comparator_from_prefix,
    detect_comparator,
    find_quantities,
    normalize_text,
    parse_chinese_numeral,
    parse_numeral,
    parse_quantity,
    split_scale,
    to_base,
    unit_scale,
)


@pytest.mark.parametrize(
    "text, value",
    [
        ("六百五十", 650),
        ("两千", 2000),
        ("一万二千", 12000),
        ("千亿", 1e11),
        ("十五", 15),
        ("十", 10),
        ("一百零五", 105),
        ("一百五", 150),
        ("两千五", 2500),
        ("三千万", 3e7),
        ("一万亿", 1e12),
        ("二〇二五", 2025),
        ("二点五", 2.5),
        ("九", 9),
        ("一百五十", 150),
        ("一万二", 12000),
    ],
)
def test_chinese_numerals(text, value):
    assert parse_chinese_numeral(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["十四五", "三四", "万", "百百", "", "四五"])
def test_not_chinese_numerals(text):
    assert parse_chinese_numeral(text) is None


def test_arabic_and_mixed_numerals():
    assert parse_numeral("15,000") == 15000
    assert parse_numeral("２.６３") == pytest.approx(2.63)
    assert parse_numeral("3千") == 3000
    assert parse_numeral("１５０") == 150


def test_normalize_is_length_preserving():
    text = "高新技术企业达到１５，０００家，增长２５．６％（同比）"
    out = normalize_text(text)
    assert len(out) == len(text)
    assert "15,000家" in out and "25.6%" in out and "(同比)" in out


def test_split_scale_and_unit_scale():
    assert split_scale("一百五十万") == ("一百五十", "万")
    assert split_scale("一万二千") == ("一万二千", "")
    assert split_scale("2000亿") == ("2000", "亿")
    assert unit_scale("亿元") == 1e8
    assert unit_scale("万人") == 1e4
    assert unit_scale("万平方米") == 1e4
    assert unit_scale("成") == 10
    assert unit_scale("%") == 1
    assert unit_scale("家") == 1
    assert to_base(2.64, "亿元") == 264_000_000.0
    assert to_base(1.2, "万家") == 12_000.0


@pytest.mark.parametrize(
    "text, value, unit, base",
    [
        ("六百五十亿元", 650, "亿元", 6.5e10),
        ("两千亿元", 2000, "亿元", 2e11),
        ("一万二千家", 12000, "家", 12000),
        ("千亿元", 1000, "亿元", 1e11),
        ("九成", 9, "成", 90),
        ("3.5万人", 3.5, "万人", 35000),
        ("1.2亿元", 1.2, "亿元", 1.2e8),
        ("2000亿元", 2000, "亿元", 2e11),
        ("1万人", 1, "万人", 1e4),
        ("48.71万平方米", 48.71, "万平方米", 487100),
        ("15,000家", 15000, "家", 15000),
        ("１５０家", 150, "家", 150),
        ("1.5万亿元", 1.5, "万亿元", 1.5e12),
        ("2.8%", 2.8, "%", 2.8),
        ("百分之十五", 15, "%", 15),
        ("2个百分点", 2, "个百分点", 2),
        ("0.1个百分点", 0.1, "个百分点", 0.1),
        ("45人年", 45, "人年", 45),
        ("3千家", 3000, "家", 3000),
        ("一百五十万元", 150, "万元", 1.5e6),
    ],
)
def test_quantities(text, value, unit, base):
    q = parse_quantity(text)
    assert q is not None
    assert q.value == pytest.approx(value)
    assert q.unit == unit
    assert q.value_base == pytest.approx(base, rel=1e-12)


@pytest.mark.parametrize(
    "text, value, unit",
    [
        ("1-2家", 1, "家"),
        ("1～2家", 1, "家"),
        ("1至2个", 1, "个"),
        ("10%-15%", 10, "%"),
        ("3—5个", 3, "个"),
        ("一至两个", 1, "个"),
    ],
)
def test_ranges_take_first_value_and_ge(text, value, unit):
    q = parse_quantity(text)
    assert q.is_range and q.value == value and q.unit == unit
    assert detect_comparator("", q) == "ge"


def test_inner_and_suffix_qualifiers():
    q = parse_quantity("3亿余元")
    assert (q.value, q.unit, q.value_base, q.inner) == (3, "亿元", 3e8, "余")
    assert detect_comparator("列支", q) == "ge"
    q = parse_quantity("150余项")
    assert (q.value, q.unit, q.inner) == (150, "项", "余")
    q = parse_quantity("100多家")
    assert detect_comparator("", q) == "ge"
    q = parse_quantity("九成以上")
    assert (q.value, q.unit, q.value_base, q.suffix) == (9, "成", 90, "以上")
    assert detect_comparator("其中", q) == "ge"


@pytest.mark.parametrize(
    "before, text, expected",
    [
        ("达到", "2.8%左右", "approx"),
        ("达到", "1000项以上", "ge"),
        ("", "1000项以下", "le"),
        ("突破", "1500亿元", "ge"),
        ("超", "8家", "ge"),
        ("超过", "40%", "ge"),
        ("不低于", "10亿元", "ge"),
        ("不少于", "50家", "ge"),
        ("不超过", "5%", "le"),
        ("不高于", "5%", "le"),
        ("约", "50亿元", "approx"),
        ("近", "1.2万家", "approx"),
        ("达到", "15000家", "eq"),
        ("提高到", "25%", "eq"),
        ("力争达到", "3.2%", "eq"),
        ("力争突破", "180亿元", "ge"),
        ("年均增长", "10%", "growth"),
        ("年均增长", "15%以上", "growth"),
        ("同比增长", "25.6%", "growth"),
        ("增长", "10%左右", "growth"),
        ("同比增长约", "30%", "growth"),
        ("提高", "0.1个百分点", "growth"),
        ("较2015年增长近", "4倍", "growth"),
        ("增长超", "三成", "growth"),
    ],
)
def test_comparators(before, text, expected):
    q = parse_quantity(text)
    assert detect_comparator(before, q) == expected


def test_comparator_prefix_longest_wins():
    assert comparator_from_prefix("不低于") == "ge"
    assert comparator_from_prefix("低于") == "le"
    assert comparator_from_prefix("评审通过") == "eq"


def test_find_quantities_offsets_and_skips():
    text = normalize_text("技术合同成交总额达到2000亿元，科技特派员数量达到1万人，十四五期间")
    found = find_quantities(text)
    assert [q.raw for q in found] == ["2000亿元", "1万人"]
    for q in found:
        assert text[q.start : q.qual_end] == q.raw
