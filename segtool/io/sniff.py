"""Look at the start of a file and decide how to read it.

Encoding (BOM, UTF-8, UTF-16 with or without a BOM, cp1251, KOI8-R, Mac Cyrillic),
line endings (CR-only from old Macs), delimiter, header row, decimal separator and date
order are detected from a sample; every guess can be pinned in ``inputs.formats``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from segtool.errors import (
    E_INPUT_EMPTY,
    E_INPUT_ENCODING,
    E_INPUT_FORMAT,
    E_INPUT_MISSING,
    E_INPUT_READ,
    E_INPUT_XLSX,
    InputError,
)
from segtool.io.aliases import score_header_row

SAMPLE_BYTES = 1 << 20  # 1 MiB is plenty for sniffing
HEADER_SEARCH_ROWS = 15
DELIMITERS = [";", ",", "\t", "|"]


@dataclass
class CsvDialect:
    encoding: str  # "utf-8", "utf-8-sig", "utf-16(-le/-be)", "cp1251", "koi8-r", ...
    delimiter: str
    header_row: int  # 0-based record index of the header
    headers: list[str] = field(default_factory=list)
    mixed_encoding: bool = False  # UTF-8 with some cp1251 bytes (decoded per sequence)
    cr_only: bool = False  # old-Mac line endings: records end with CR alone


def check_regular(path: Path) -> None:
    """Refuse what is not a regular file before opening it: reading a device such as
    /dev/zero never ends, and opening a FIFO blocks until someone writes to it."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: file not found", code=E_INPUT_MISSING, file=path) from None
    except PermissionError:
        raise InputError(f"{path}: permission denied", code=E_INPUT_READ, file=path) from None
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read: {exc.strerror}", code=E_INPUT_READ, file=path
        ) from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a folder, expected a CSV or XLSX file", file=path)
    if not stat.S_ISREG(mode):
        what = (
            "a FIFO (named pipe)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        raise InputError(
            f"{path}: {what}, not a regular file; export the data to a file and name that file",
            code=E_INPUT_READ,
            file=path,
        )


_HTML_START = re.compile(
    rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|table|head|body|meta)\b",
    re.IGNORECASE | re.DOTALL,
)


def file_kind(path: Path) -> str:
    """'xlsx', 'ods', 'ole' (legacy .xls or an encrypted workbook), 'html' or 'csv', by
    content: an .xlsx that is really a CSV is read as CSV, an .xls that is really an HTML
    page (what many web CRMs call "Export to Excel") as HTML."""
    check_regular(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found", code=E_INPUT_MISSING, file=path) from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, expected a CSV or XLSX file", file=path) from None
    except PermissionError:
        raise InputError(f"{path}: permission denied", code=E_INPUT_READ, file=path) from None
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read: {exc.strerror}", code=E_INPUT_READ, file=path
        ) from None
    if head.startswith(b"PK\x03\x04"):
        # OpenDocument stores its "mimetype" member first and uncompressed
        return "ods" if b"opendocument.spreadsheet" in head[:128] else "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        # OLE2: legacy .xls, or an encrypted (password-protected) xlsx
        return "ole"
    if _looks_like_html(head):
        return "html"
    return "csv"


def _looks_like_html(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", errors="ignore").encode("utf-8")
    head = head.removeprefix(b"\xef\xbb\xbf")
    if head.lstrip().lower().startswith(b"<?xml"):
        return b"<html" in head.lower()
    return _HTML_START.match(head) is not None


def check_xlsx(path: Path) -> None:
    """Fail early and clearly on a truncated or non-workbook zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        raise InputError(
            f"{path}: the workbook is damaged or truncated (not a valid .xlsx zip); "
            "save it again from Excel",
            code=E_INPUT_XLSX,
            file=path,
        ) from None
    if "xl/workbook.xml" not in names:
        raise InputError(
            f"{path}: a zip file, but not an Excel workbook", code=E_INPUT_XLSX, file=path
        )


def read_sample(path: Path, size: int = SAMPLE_BYTES) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)


CYRILLIC_8BIT = ("cp1251", "koi8-r", "mac-cyrillic")  # the first wins a tie


def detect_encoding(sample: bytes, forced: str = "auto") -> tuple[str, bool]:
    """(encoding, mixed). UTF-8 BOM → utf-8-sig; UTF-16 by its BOM or by its zero bytes
    (Excel's "Unicode text"); valid UTF-8 → utf-8; else the 8-bit Cyrillic code page
    under which the text reads as words (cp1251, KOI8-R or Mac Cyrillic).

    ``mixed`` is True when the sample is mostly UTF-8 with a few invalid sequences:
    such a file is decoded as UTF-8 with cp1251 for the bad bytes.
    """
    if forced != "auto":
        return forced, False
    if sample.startswith(b"\xef\xbb\xbf"):
        body = sample[3:]
        return "utf-8-sig", not _valid_utf8(body)
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", False
    utf16 = _utf16_without_bom(sample)
    if utf16:
        return utf16, False
    if _valid_utf8(sample):
        return "utf-8", False
    # Mostly UTF-8 (many multi-byte Cyrillic sequences) but some bad bytes → mixed.
    utf8_cyr = len(re.findall(rb"[\xd0\xd1][\x80-\xbf]", sample))
    high = len(re.findall(rb"[\x80-\xff]", sample))
    if utf8_cyr and utf8_cyr * 2 >= high * 0.6:
        return "utf-8", True
    return cyrillic_codepage(sample), False


def _utf16_without_bom(sample: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' when every other byte of the start is mostly zero (ASCII
    and Latin text in UTF-16) or 0x04 (Cyrillic in UTF-16), else None."""
    head = sample[:4096]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]

    def share(part: bytes) -> float:
        return (part.count(0) + part.count(4)) / len(part)

    if share(odd) > 0.6 and share(even) < 0.2:
        return "utf-16-le"
    if share(even) > 0.6 and share(odd) < 0.2:
        return "utf-16-be"
    return None


_WORD = re.compile(r"[^\W\d_]+")
_GOOD_WORD = re.compile(r"^(?:[а-яё]+|[А-ЯЁ][а-яё]*|[А-ЯЁ]+)$")


def cyrillic_codepage(sample: bytes) -> str:
    """The 8-bit code page under which the most words read as Russian words: all lower
    case, capitalised or all capitals in А-Я (a wrong code page gives «тПНБЫЙБ» or «ЋЋЋ»)."""
    body = sample[:65536]
    if not re.search(rb"[\x80-\xff]", body):
        return "cp1251"
    best, best_score = CYRILLIC_8BIT[0], -1
    for codec in CYRILLIC_8BIT:
        words = _WORD.findall(body.decode(codec, errors="replace"))
        score = sum(len(w) for w in words if not w.isascii() and _GOOD_WORD.match(w))
        if score > best_score:
            best, best_score = codec, score
    return best


def _valid_utf8(sample: bytes) -> bool:
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        # a multi-byte sequence cut at the end of the sample is fine
        return exc.start >= len(sample) - 3 and exc.reason.startswith("unexpected end")


def decode_sample(sample: bytes, encoding: str) -> str:
    if encoding == "utf-8-sig":
        sample = sample[3:]
        encoding = "utf-8"
    if encoding.startswith("utf-16") and len(sample) % 2:
        sample = sample[:-1]  # a sample cut in the middle of a character
    return sample.decode(encoding, errors="replace").lstrip("\ufeff")


def detect_delimiter(text: str, forced: str = "auto") -> str:
    if forced != "auto":
        return forced
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if not lines:
        return ";"
    best, best_score = ";", -1.0
    for delim in DELIMITERS:
        counts = [_count_outside_quotes(ln, delim) for ln in lines]
        nonzero = [c for c in counts if c]
        if not nonzero:
            continue
        mode = max(set(nonzero), key=nonzero.count)
        consistency = nonzero.count(mode) / len(lines)
        score = consistency * 10 + min(mode, 30) / 30
        if score > best_score:
            best, best_score = delim, score
    return best


def _count_outside_quotes(line: str, delim: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delim and not quoted:
            count += 1
    return count


def first_records(text: str, delimiter: str, limit: int = HEADER_SEARCH_ROWS) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[list[str]] = []
    try:
        for row in reader:
            rows.append(row)
            if len(rows) >= limit:
                break
    except csv.Error:
        pass
    return rows


def find_header_row(rows: list[list[str]], kind: str) -> int:
    """The record that looks most like a header: most alias hits; ties → the first.

    Exports often put a title and a blank line above the header («Отчёт по продажам…»).
    """
    best, best_hits = 0, 0
    for i, row in enumerate(rows):
        hits = score_header_row(row, kind)
        if hits > best_hits:
            best, best_hits = i, hits
    return best


def sniff_csv(path: Path, kind: str, encoding: str = "auto", delimiter: str = "auto") -> CsvDialect:
    sample = read_sample(path)
    if not sample.strip(b"\xef\xbb\xbf \r\n\t"):
        raise InputError(f"{path}: the file is empty", code=E_INPUT_EMPTY, file=path)
    enc, mixed = detect_encoding(sample, encoding)
    try:
        text = decode_sample(sample, enc)
    except LookupError:
        raise InputError(
            f"{path}: unknown encoding {enc!r} in inputs.formats.encoding",
            code=E_INPUT_ENCODING,
            file=path,
        ) from None
    if not text.strip("\ufeff \r\n\t\x00"):
        raise InputError(f"{path}: the file is empty", code=E_INPUT_EMPTY, file=path)
    cr_only = "\r" in text and "\n" not in text
    if cr_only:
        text = text.replace("\r", "\n")
    if len(sample) == SAMPLE_BYTES and "\n" not in text:
        raise InputError(
            f"{path}: no line break in the first {SAMPLE_BYTES // 1024} KiB; "
            "this is not a CSV export",
            code=E_INPUT_FORMAT,
            file=path,
        )
    delim = detect_delimiter(text, delimiter)
    rows = first_records(text, delim)
    header_row = find_header_row(rows, kind)
    headers = rows[header_row] if rows else []
    return CsvDialect(enc, delim, header_row, headers, mixed, cr_only)


# -- value formats (file-level hints; per-value rules do the rest) -------------------------
_COMMA_DECIMAL = re.compile(r"^[-+(]?[\d\s\u00a0'.]*\d,\d{1,2}\)?$|^[-+(]?\d+,\d{4,}\)?$")
_POINT_DECIMAL = re.compile(r"^[-+(]?[\d\s\u00a0',]*\d\.\d{1,2}\)?$|^[-+(]?\d+\.\d{4,}\)?$")


MAX_NUMBER_CHARS = 64


def detect_decimal(values: list[str], delimiter: str, forced: str = "auto") -> str:
    """'comma' or 'point' from sample values of numeric columns."""
    if forced != "auto":
        return forced
    comma = point = 0
    for raw in values:
        if raw and len(raw) > MAX_NUMBER_CHARS:
            continue  # not a number; the regexes below would backtrack over it for seconds
        v = re.sub(r"[^\d,.\-+()\s\u00a0']", "", raw or "").strip()
        if not v:
            continue
        if "," in v and "." in v:
            if v.rfind(",") > v.rfind("."):
                comma += 1
            else:
                point += 1
        elif _COMMA_DECIMAL.match(v):
            comma += 1
        elif _POINT_DECIMAL.match(v):
            point += 1
    if comma == point:
        return "comma" if delimiter != "," else "point"
    return "comma" if comma > point else "point"


_DATE_PARTS = re.compile(r"^\s*(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})")


def detect_date_order(values: list[str], forced: str = "auto") -> str:
    """'dmy', 'mdy' or 'ymd' (or a strftime format given in the config)."""
    if forced != "auto":
        return forced
    dmy = mdy = 0
    for raw in values:
        m = _DATE_PARTS.match(raw or "")
        if not m or len(m.group(1)) == 4:
            continue
        a, b = int(m.group(1)), int(m.group(2))
        if a > 12 >= b:
            dmy += 1
        elif b > 12 >= a:
            mdy += 1
    return "mdy" if mdy > dmy else "dmy"
