"""CSV uploads: the encoding, the delimiter, then the rows to sti_portal/uploads/table.py."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable
from typing import BinaryIO

from charset_normalizer import from_bytes

from sti_portal.uploads.limits import LimitExceeded, UploadLimits, columns_exceeded, rows_exceeded
from sti_portal.uploads.problems import CellError, Release, UploadRead, quote
from sti_portal.uploads.table import read_grid

DECODE_CHUNK = 1024 * 1024
ENCODING_SAMPLE = 256 * 1024  # enough text to tell GBK from Big5 and the like


def decode_text(content: bytes) -> tuple[str, str]:
    """(text, encoding label) for UTF-8 (with or without BOM), UTF-16 with BOM, or GBK/GB18030.

    Raises CellError naming the first byte that fits none of them."""
    if content.startswith(codecs.BOM_UTF8):
        try:
            return content[3:].decode("utf-8"), "UTF-8 with BOM"
        except UnicodeDecodeError as exc:
            raise CellError(
                _decode_message(content[3:], exc, "UTF-8 (it starts with a UTF-8 byte-order mark)")
            ) from None
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError as exc:
            raise CellError(_decode_message(content, exc, "UTF-16")) from None
    try:
        return content.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        text = content.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise CellError(_decode_message(content, exc, "UTF-8 or GBK/GB18030", guess=_guess_encoding(content))) from None
    other = _looks_like_other_encoding(text, content)
    if other:
        raise CellError(
            f"the text reads as GBK only as nonsense characters; it looks like {other}, "
            "which the upload does not accept"
        )
    return text, "GBK/GB18030"


def _decode_message(content: bytes, exc: UnicodeDecodeError, tried: str, guess: str | None = None) -> str:
    line = content[: exc.start].count(b"\n") + 1
    hint = f"; it looks like {guess}" if guess else ""
    return f"the text is not {tried}: byte 0x{content[exc.start]:02X} on line {line} does not decode{hint}"


def _guess_encoding(content: bytes) -> str | None:
    best = from_bytes(content[:20000]).best()
    return _describe_encoding(best.encoding) if best is not None else None


ENCODING_NAMES = {
    "cp1250": "Windows-1250 (Central European)",
    "cp1251": "Windows-1251 (Cyrillic)",
    "mac_roman": "Mac Roman",
    "big5": "Big5 (traditional Chinese)",
    "cp950": "Big5 (traditional Chinese)",
    "shift_jis": "Shift-JIS (Japanese)",
    "cp932": "Shift-JIS (Japanese)",
    "euc_jp": "EUC-JP (Japanese)",
    "euc_kr": "EUC-KR (Korean)",
    "cp949": "EUC-KR (Korean)",
    "utf_16": "UTF-16",
    "cp1252": "Windows-1252 (Western European)",
    "latin_1": "Latin-1 (Western European)",
    "iso8859_1": "Latin-1 (Western European)",
}


def _describe_encoding(name: str) -> str:
    return ENCODING_NAMES.get(name.lower(), name)


def _looks_like_other_encoding(text: str, content: bytes) -> str | None:
    """Big5 and other double-byte encodings decode as GB18030 without error, into rare characters.

    Statistical tables use common characters (all in GB2312); when many are outside it, ask
    charset-normalizer what the file is."""
    cjk = [ch for ch in text if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"]
    if len(cjk) < 4:
        return None
    rare = 0
    for ch in cjk:
        try:
            ch.encode("gb2312")
        except UnicodeEncodeError:
            rare += 1
    if rare / len(cjk) < 0.2:
        return None
    guess = _guess_encoding(content)
    if guess and not guess.lower().startswith(("gb", "utf")):
        return guess
    return "an encoding other than GBK (characters outside the common GB2312 set)"


Opener = Callable[[], BinaryIO]  # opens the file afresh, at its start (each pass reads it as a stream)


def _chunks(opener: Opener):
    with opener() as handle:
        while chunk := handle.read(DECODE_CHUNK):
            yield chunk


def _decodes(opener: Opener, codec: str) -> bool:
    """Whether the whole file decodes, checked chunk by chunk (the text is not kept)."""
    decoder = codecs.getincrementaldecoder(codec)()
    try:
        for chunk in _chunks(opener):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _whole(opener: Opener) -> bytes:
    with opener() as handle:  # only to word an encoding error; the file size limit bounds it
        return handle.read()


def detect_encoding(opener: Opener, head: bytes) -> tuple[str, str]:
    """(Python codec, label) of the text, read as a stream; raises CellError as decode_text does."""
    if head.startswith(codecs.BOM_UTF8):
        codec, label = "utf-8-sig", "UTF-8 with BOM"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codec, label = "utf-16", "UTF-16"
    elif _decodes(opener, "utf-8"):
        return "utf-8", "UTF-8"
    else:
        codec, label = "gb18030", "GBK/GB18030"
    if not _decodes(opener, codec):
        decode_text(_whole(opener))  # raises the specific message (which byte, which line)
    if codec == "gb18030":
        sample = head[:ENCODING_SAMPLE].decode(codec, errors="ignore")
        other = _looks_like_other_encoding(sample, head[:ENCODING_SAMPLE])
        if other:
            raise CellError(
                f"the text reads as GBK only as nonsense characters; it looks like {other}, "
                "which the upload does not accept"
            )
    return codec, label


def _text_stream(opener: Opener, codec: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(opener(), encoding=codec, newline="")


def _first_line(opener: Opener, codec: str) -> str:
    with _text_stream(opener, codec) as stream:
        for line in stream:
            if line.strip():
                return line.rstrip("\r\n")
    return ""


def _records(opener: Opener, codec: str, delimiter: str, limits: UploadLimits):
    """(line number, cells) per CSV record, read as a stream; raises LimitExceeded or CsvSyntax."""
    with _text_stream(opener, codec) as stream:
        reader = csv.reader(stream, delimiter=delimiter, strict=True)
        start = 1
        count = 0
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise CsvSyntax(str(exc), start) from None
            count += 1
            if count > limits.rows:
                raise rows_exceeded(limits)
            if len(record) > limits.columns:
                raise columns_exceeded(len(record), limits)
            yield start, record
            start = reader.line_num + 1


class CsvSyntax(Exception):
    def __init__(self, message: str, row: int):
        super().__init__(message)
        self.row = row


def read_csv(opener: Opener, head: bytes, release: Release, result: UploadRead, limits: UploadLimits) -> None:
    """Read a CSV upload as a stream: a few passes over the file, never the whole text in memory."""
    try:
        codec, encoding = detect_encoding(opener, head)
    except CellError as exc:
        result.error(
            str(exc),
            expected="CSV saved as UTF-8 (Excel: Save as → 'CSV UTF-8') or GBK (Excel: 'CSV')",
            rule="encoding",
        )
        return
    result.format = f"CSV ({encoding})"
    if codec != "utf-16" and any(b"\x00" in chunk for chunk in _chunks(opener)):
        result.error(
            "the text holds NUL bytes: it is a binary file or saved in an encoding without a byte-order mark",
            expected="CSV saved as UTF-8 or GBK",
            rule="encoding",
        )
        return
    first_line = _first_line(opener, codec)
    delimiter = max((",", "\t", ";"), key=first_line.count)
    if first_line.count("，") > first_line.count(delimiter):
        result.error(
            "the columns are separated by full-width commas '，' (Chinese input mode)",
            row=1,
            found=quote(first_line[:80]),
            expected="ASCII commas ',' between columns",
            rule="delimiter",
        )
        return
    try:
        read_grid(result, "", _records(opener, codec, delimiter, limits), release, workbook=False, limits=limits)
    except LimitExceeded as exc:
        result.error(str(exc), found=exc.found, expected=exc.expected, rule=exc.rule)
    except CsvSyntax as exc:
        _csv_syntax(result, exc, limits)


def _csv_syntax(result: UploadRead, exc: CsvSyntax, limits: UploadLimits) -> None:
    text = str(exc)
    if "field larger than field limit" in text:
        result.error(
            f"a value is longer than {csv.field_size_limit():,} characters, the CSV reader's field limit "
            "(a whole document pasted into a note?); an upload cell holds at most "
            f"{limits.cell_chars:,} characters",
            row=exc.row,
            rule="cell_too_long",
            expected="short notes and sources (STI_UPLOAD_MAX_CELL_CHARS)",
        )
    elif "NUL" in text:
        result.error(
            "the text holds NUL bytes: it is a binary file or saved in an encoding without a byte-order mark",
            row=exc.row,
            expected="CSV saved as UTF-8 or GBK",
            rule="encoding",
        )
    else:
        result.error(
            f"the CSV cannot be split into columns ({text}): a quotation mark is not closed or a quoted "
            "value is followed by more text",
            row=exc.row,
            rule="csv_syntax",
            expected='values with quotes written as "..." (Excel does this when saving)',
        )
