"""CSV for spreadsheets without formula injection (OWASP "CSV Injection").

A spreadsheet runs a cell that starts with = + - @ (and, in some, tab or carriage return) as a formula:
a note reading `=HYPERLINK("http://…")` or `-2+3+cmd|'/C calc'!A0` would act when a journalist opens the
file. In every CSV meant for a spreadsheet (the `-excel.csv` downloads and the `.csvbom` renderer) such a
*text* cell gets a leading apostrophe, which Excel, LibreOffice and Numbers show as nothing and which makes
the cell text. Numbers are never touched (value columns stay numeric), and the plain data files (`.csv`,
`.json`, `.csvcite`, the ZIP) stay byte-faithful to sti.db.

Downloads are composed from parts shared by the plain and the Excel CSV (sti_portal/publish/downloads).
Their text columns are always quoted, so a text cell starts `,"` or, first in a record, `\\n"`; inside a
quoted field a quote is always doubled, so `,"=` can only be the start of a field. The Excel CSV is then
the plain one with each such start given an apostrophe, done on the bytes as they are served; the number
of such starts per part is counted when the part is written, for the exact Content-Length.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

TRIGGERS = "=+-@\t\r"
_STARTS = [(lead + b'"' + bytes([c]), lead + b"\"'" + bytes([c])) for lead in (b",", b"\n") for c in TRIGGERS.encode()]
_HOLD = 2  # bytes held back between chunks: a field start split across two reads is seen whole


def safe_cell(value):
    """The value as a spreadsheet should get it: text that would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value and value[0] in TRIGGERS:  # ("" in TRIGGERS would be True)
        return "'" + value
    return value


def _starts_field(data: bytes) -> bool:
    return len(data) >= 2 and data[:1] == b'"' and data[1:2] in [bytes([c]) for c in TRIGGERS.encode()]


# Byte classes of a field start `<lead>"<trigger>` (lead: `,` or `\n`), for counting with numpy.
_IS_TRIGGER = np.zeros(256, dtype=bool)
_IS_TRIGGER[list(TRIGGERS.encode())] = True
_IS_LEAD = np.zeros(256, dtype=bool)
_IS_LEAD[list(b",\n")] = True
_QUOTE = ord('"')


def _count_starts(data: bytes) -> int:
    """How many `<lead>"<trigger>` (the _STARTS patterns) are in `data`: the same number as counting each
    pattern with bytes.count (leads and triggers are disjoint, so no two matches overlap), in one
    vectorised pass over the quotes instead of twelve passes over the bytes (a 10 M-row publication
    writes about 7 GB of CSV parts)."""
    if len(data) < 3:
        return 0
    view = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(view[1:-1] == _QUOTE) + 1
    return int(np.count_nonzero(_IS_TRIGGER[view[quotes + 1]] & _IS_LEAD[view[quotes - 1]]))


class FormulaCounter:
    """Counts formula-like field starts in a part's CSV bytes, fed chunk by chunk (as they are hashed)."""

    def __init__(self) -> None:
        self.count = 0
        self._tail = b""
        self._first = True

    def update(self, chunk: bytes) -> None:
        if not chunk:
            return
        data = self._tail + chunk
        if self._first and len(data) >= 2:
            self._first = False
            self.count += _starts_field(data)
        # A start whose quote is one of the last two bytes is counted with the next chunk (kept as the tail).
        self.count += _count_starts(data)
        self._tail = data[-_HOLD:]


def count_formulas(data: bytes) -> int:
    counter = FormulaCounter()
    counter.update(data)
    return counter.count


def neutralised(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """One part's CSV bytes (starting at a record start) with every formula-like text cell made text."""
    carry = b""
    first = True
    for chunk in chunks:
        data = carry + chunk
        if first and len(data) >= 2:
            first = False
            if _starts_field(data):
                data = b"\"'" + data[1:]
        for pattern, replacement in _STARTS:
            data = data.replace(pattern, replacement)
        # Patterns start with , or \n, and a replacement ends like the pattern: holding back the last two
        # bytes never hides a finished match nor creates a new one.
        carry, data = data[-_HOLD:], data[:-_HOLD]
        if data:
            yield data
    if first and _starts_field(carry):
        carry = b"\"'" + carry[1:]
    if carry:
        yield carry
