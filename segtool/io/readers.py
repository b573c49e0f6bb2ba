"""Read an export into a LazyFrame of text columns with a source-row column.

Formats: CSV/text (any encoding :mod:`segtool.io.sniff` detects), .xlsx, legacy .xls
(BIFF) and .ods (all three through fastexcel/calamine), and HTML tables whatever the file
is called (web CRMs save them as ``.xls``).

Every column is read as text; parsing into dates and numbers happens in the ingest step,
where a value that does not parse becomes a reject record instead of an error.

The fast path is polars' CSV reader. A file it cannot read as it is (rows with more
fields than the header, bytes that are not UTF-8 in an otherwise UTF-8 file) is read by
the slower, forgiving path based on the ``csv`` module, which marks such rows instead of
failing; nothing is dropped.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl

from segtool.errors import (
    E_INPUT_COLUMNS,
    E_INPUT_EMPTY,
    E_INPUT_FORMAT,
    E_INPUT_READ,
    E_INPUT_SHEET,
    E_INPUT_XLSX,
    InputError,
)
from segtool.io import sniff

ROW = "__row"  # spreadsheet row number (header = its own row, data below it)
RAGGED = "__ragged"  # the record had more fields than the header
EXTRA = "__extra"  # ... and these were the extra fields, joined
TRANSCODE_CHUNK = 16 << 20


def _cp1251_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Decode the bytes UTF-8 rejected as cp1251 (files glued from two exports)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("cp1251", errors="replace"), exc.end


codecs.register_error("segtool-cp1251", _cp1251_fallback)


@dataclass
class RawTable:
    """A file read as text: ``frame`` has one String column per header plus ``__row``."""

    path: Path
    name: str  # what messages and rejects.csv call the file
    kind: str
    frame: pl.LazyFrame
    headers: list[str]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int = 1  # spreadsheet row of the header
    forgiving: bool = False  # read by the slow forgiving path
    file_type: str = "CSV"  # CSV, XLSX, XLS, ODS or HTML (for messages and inspect)
    temp_files: list[Path] = field(default_factory=list)
    # the line of a quote that never closes (the file was then read line by line)
    unclosed_quote_line: int | None = None

    def cleanup(self) -> None:
        for path in self.temp_files:
            with contextlib.suppress(OSError, ValueError):
                if path.parent == _OPEN_FDS:  # already unlinked: close its descriptor
                    os.close(int(path.name))
                else:
                    os.unlink(path)
        self.temp_files.clear()


def unique_headers(cells: Sequence[str | None]) -> list[str]:
    """Headers as written, made unique («Сумма», «Сумма (2)»), blanks named by position."""
    seen: dict[str, int] = {}
    out = []
    for i, cell in enumerate(cells):
        name = (cell or "").strip().lstrip("\ufeff") or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        out.append(name)
    return out


def read_table(
    path: Path,
    kind: str,
    *,
    encoding: str = "auto",
    delimiter: str = "auto",
    sheet: str | int | None = None,
    forgiving: bool = False,
    count_quotes: bool = True,
) -> RawTable:
    """Open ``path`` (CSV, XLSX, XLS, ODS or HTML, by content) as a :class:`RawTable`.

    ``count_quotes=False``: the caller counts the quotes itself (see :func:`scan_bytes`)
    and reads the file again with ``forgiving=True`` when a quote never closes."""
    path = Path(path)
    file_type = sniff.file_kind(path)
    if file_type in ("xlsx", "ods", "ole"):
        return _read_xlsx(path, kind, sheet, file_type)
    if file_type == "html":
        return _read_html(path, kind, encoding)
    if sheet is not None:
        pass  # a sheet name for a CSV file is harmless; the file has one table
    dialect = sniff.sniff_csv(path, kind, encoding, delimiter)
    unbalanced = count_quotes and _quotes_unbalanced(path, dialect.encoding)
    if forgiving or dialect.mixed_encoding or unbalanced:
        return _read_csv_forgiving(path, kind, dialect)
    return _read_csv_fast(path, kind, dialect)


def _quotes_unbalanced(path: Path, encoding: str) -> bool:
    """An odd number of quote characters: some quote never closes, and a CSV parser would
    join every line after it into one value (a doubled quote inside a value is a pair).
    One pass over the bytes (about 1 GB/s); UTF-16 files are not counted this way."""
    if encoding.startswith("utf-16"):
        return False
    odd = False
    try:
        with open(path, "rb") as handle:
            while block := handle.read(TRANSCODE_CHUNK):
                odd ^= block.count(b'"') % 2 == 1
    except OSError:
        return False  # reported by the reader itself
    return odd


def scan_bytes(path: Path, chunk: int = 1 << 20) -> tuple[str, bool]:
    """The file's SHA-256 (hex) and whether it holds an odd number of quote characters
    (see :func:`_quotes_unbalanced`), from one read of its bytes."""
    digest = hashlib.sha256()
    odd = False
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
            odd ^= block.count(b'"') % 2 == 1
    return digest.hexdigest(), odd


def quotes_counted(raw: RawTable) -> bool:
    """Whether :func:`scan_bytes`' quote count applies to how ``raw`` was read: a CSV read
    by polars' reader (the forgiving one finds an unclosed quote itself; UTF-16 files are
    not counted byte by byte)."""
    return (
        raw.file_type == "CSV"
        and not raw.forgiving
        and not (raw.encoding or "").startswith("utf-16")
    )


def _read_csv_fast(path: Path, kind: str, dialect: sniff.CsvDialect) -> RawTable:
    headers = unique_headers(dialect.headers)
    temp: list[Path] = []
    source: Path = path
    if dialect.encoding not in ("utf-8", "utf-8-sig") or dialect.cr_only:
        source = _transcode(path, dialect.encoding, dialect.cr_only)
        temp.append(source)
    first_data_row = dialect.header_row + 2  # header record index (0-based) → rows below
    frame = (
        pl.scan_csv(
            source,
            separator=dialect.delimiter,
            has_header=False,
            skip_rows=dialect.header_row + 1,
            schema={h: pl.String for h in headers},
            quote_char='"',
            encoding="utf8",
            truncate_ragged_lines=False,
            raise_if_empty=False,
        )
        .with_row_index(ROW, offset=first_data_row)
        .with_columns(pl.col(ROW).cast(pl.Int64))
    )
    return RawTable(
        path,
        path.name,
        kind,
        frame,
        headers,
        dialect.encoding,
        dialect.delimiter,
        header_row=dialect.header_row + 1,
        temp_files=temp,
    )


_OPEN_FDS = Path("/proc/self/fd")


def _transcode(path: Path, encoding: str, cr_only: bool = False) -> Path:
    """Stream a cp1251, KOI8-R, UTF-16... file into a UTF-8 temp file polars can scan
    (CR-only line endings turned into LF on the way).

    Where the system lets a deleted file be opened again by its descriptor (Linux'
    ``/proc/self/fd``), the temp file is unlinked at once and read through that path: the
    kernel frees it when the process ends, even after SIGKILL, so no copy of an export is
    ever left in TMPDIR. :meth:`RawTable.cleanup` closes the descriptor.
    """
    fd, tmp = tempfile.mkstemp(prefix="segtool-", suffix=".csv")
    anonymous = _OPEN_FDS.is_dir()
    if anonymous:
        os.unlink(tmp)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")

    def utf8(text: str) -> bytes:
        return (text.replace("\r", "\n") if cr_only else text).encode("utf-8")

    try:
        with open(path, "rb") as src, os.fdopen(os.dup(fd), "wb") as dst:
            while block := src.read(TRANSCODE_CHUNK):
                dst.write(utf8(decoder.decode(block)))
            dst.write(utf8(decoder.decode(b"", final=True)))
    except OSError as exc:
        os.close(fd)
        if not anonymous:
            os.unlink(tmp)
        raise InputError(
            f"{path}: cannot read: {exc.strerror}", code=E_INPUT_READ, file=path
        ) from None
    if anonymous:
        return _OPEN_FDS / str(fd)
    os.close(fd)
    return Path(tmp)


def _decoded_text(path: Path, encoding: str) -> io.StringIO:
    data = path.read_bytes()
    if encoding == "utf-8-sig":
        data = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
        encoding = "utf-8"
    errors = "segtool-cp1251" if encoding == "utf-8" else "replace"
    return io.StringIO(data.decode(encoding, errors=errors).lstrip("\ufeff"), newline="")


def _read_csv_forgiving(path: Path, kind: str, dialect: sniff.CsvDialect) -> RawTable:
    """Slow path: Python's csv module; rows with extra fields are marked, not lost."""
    text = _decoded_text(path, dialect.encoding)
    unclosed = _unclosed_quote_line(text.getvalue())
    reader: Iterator[list[str]]
    if unclosed is None:
        reader = csv.reader(text, delimiter=dialect.delimiter, strict=False)
    else:  # one record per line: the broken one is read as written, the rest as usual
        reader = _line_records(text.getvalue(), dialect.delimiter)
    records = []
    try:
        for record in reader:
            records.append(record)
    except csv.Error as exc:
        raise InputError(
            f"{path}:{getattr(reader, 'line_num', len(records) + 1)}: cannot parse CSV: {exc}",
            code=E_INPUT_FORMAT,
            file=path,
        ) from None
    except MemoryError:
        raise InputError(
            f"{path}: too large for the forgiving reader", code=E_INPUT_READ, file=path
        ) from None
    table = _records_table(
        path,
        kind,
        records,
        dialect.header_row,
        encoding=dialect.encoding,
        delimiter=dialect.delimiter,
        name=path.name,
        file_type="CSV",
    )
    table.unclosed_quote_line = unclosed
    return table


def _unclosed_quote_line(text: str) -> int | None:
    """The first line (1-based) with an odd number of quotes when the whole text has an odd
    number, i.e. where a quote opens that never closes; None when the quotes balance.

    A CSV parser reads such a quote as a value running to the end of the file, joining the
    next customers' lines into one row; the caller then reads the file line by line."""
    if text.count('"') % 2 == 0:
        return None
    for number, line in enumerate(_physical_lines(text), start=1):
        if line.count('"') % 2:
            return number
    return None  # pragma: no cover - an odd total has a line with an odd count


def _physical_lines(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def _line_records(text: str, delimiter: str) -> Iterator[list[str]]:
    """One record per physical line: a line whose quotes balance is parsed as CSV, one
    whose quotes do not is split on the delimiter with its quote characters kept."""
    for line in _physical_lines(text):
        if line.count('"') % 2 == 0:
            yield next(csv.reader([line], delimiter=delimiter, strict=False), [])
        else:
            yield line.split(delimiter)


def _records_table(
    path: Path,
    kind: str,
    records: list[list[str]],
    header_index: int,
    *,
    encoding: str | None,
    name: str,
    file_type: str,
    delimiter: str | None = None,
) -> RawTable:
    """A table from parsed records: rows with more cells than the header are marked."""
    headers = unique_headers(records[header_index] if len(records) > header_index else [])
    width = len(headers)
    body = records[header_index + 1 :]
    columns: dict[str, list[str | None]] = {h: [] for h in headers}
    ragged: list[bool] = []
    extra: list[str | None] = []
    joiner = delimiter or " | "
    for record in body:
        is_blank = not record or all(not c.strip() for c in record)
        cells = [] if is_blank else record
        for i, h in enumerate(headers):
            value = cells[i] if i < len(cells) else None
            columns[h].append(value if value not in ("",) else None)
        over = len(cells) > width
        ragged.append(over)
        extra.append(joiner.join(cells[width:]) if over else None)
    first_data_row = header_index + 2
    frame = (
        pl.DataFrame(
            {
                **{h: pl.Series(h, v, dtype=pl.String) for h, v in columns.items()},
                RAGGED: pl.Series(RAGGED, ragged, dtype=pl.Boolean),
                EXTRA: pl.Series(EXTRA, extra, dtype=pl.String),
            }
        )
        .with_row_index(ROW, offset=first_data_row)
        .with_columns(pl.col(ROW).cast(pl.Int64))
    )
    return RawTable(
        path,
        name,
        kind,
        frame.lazy(),
        headers,
        encoding,
        delimiter,
        header_row=header_index + 1,
        forgiving=True,
        file_type=file_type,
    )


WORKBOOK_NAMES = {"xlsx": "XLSX", "ods": "ODS", "ole": "XLS"}


def _read_xlsx(path: Path, kind: str, sheet: str | int | None, file_type: str = "xlsx") -> RawTable:
    """A workbook (.xlsx, .ods or legacy .xls) through fastexcel/calamine.

    Without ``sheet`` the data sheet is the first whose header is recognised (a title page
    or a notes sheet in front of it is skipped); ``sheet`` in the config still wins.
    """
    import fastexcel

    if file_type == "xlsx":
        sniff.check_xlsx(path)
    try:
        reader = fastexcel.read_excel(str(path))
    except Exception as exc:  # noqa: BLE001 - fastexcel raises its own error family
        if file_type == "ole":
            raise InputError(
                f"{path}: a password-protected workbook or a damaged old .xls file; remove "
                "the password or save it as .xlsx or CSV",
                code=E_INPUT_XLSX,
                file=path,
            ) from None
        raise InputError(
            f"{path}: cannot open the workbook: {_short(exc)}", code=E_INPUT_XLSX, file=path
        ) from None
    names = reader.sheet_names
    if not names:
        raise InputError(f"{path}: the workbook has no sheets", code=E_INPUT_EMPTY, file=path)
    if sheet is None:
        sheet_id: str | int = _data_sheet(reader, names, kind)
    elif isinstance(sheet, int) or (sheet.isdigit() and sheet not in names):
        sheet_id = int(sheet)
        if not 0 <= sheet_id < len(names):
            raise InputError(
                f"{path}: no sheet number {sheet_id}; sheets: {', '.join(names)}",
                code=E_INPUT_SHEET,
                file=path,
            )
    else:
        if sheet not in names:
            raise InputError(
                f"{path}: no sheet named {sheet!r}; sheets: {', '.join(names)}",
                code=E_INPUT_SHEET,
                file=path,
            )
        sheet_id = sheet
    try:
        table = reader.load_sheet(sheet_id, header_row=None, dtypes="string").to_polars()
    except Exception as exc:  # noqa: BLE001
        raise InputError(
            f"{path}: cannot read sheet {sheet_id!r}: {_short(exc)}", code=E_INPUT_XLSX, file=path
        ) from None
    sheet_name = names[sheet_id] if isinstance(sheet_id, int) else sheet_id
    if table.height == 0:
        raise InputError(f"{path}: sheet {sheet_name!r} is empty", code=E_INPUT_EMPTY, file=path)
    offset = _first_row_offset(path, sheet_name) if file_type == "xlsx" else 0
    head_rows = [
        [("" if v is None else str(v)) for v in row]
        for row in table.head(sniff.HEADER_SEARCH_ROWS).iter_rows()
    ]
    header_index = sniff.find_header_row(head_rows, kind)
    headers = unique_headers(head_rows[header_index])
    body = table.slice(header_index + 1)
    body.columns = headers
    frame = (
        body.with_row_index(ROW, offset=offset + header_index + 2)
        .with_columns(pl.col(ROW).cast(pl.Int64))
        .with_columns(pl.col(h).str.strip_chars().replace("", None) for h in headers)
    )
    return RawTable(
        path,
        f"{path.name}[{sheet_name}]",
        kind,
        frame.lazy(),
        headers,
        sheet=sheet_name,
        header_row=offset + header_index + 1,
        file_type=WORKBOOK_NAMES[file_type],
    )


def _data_sheet(reader: Any, names: list[str], kind: str) -> int:
    """Index of the first sheet whose header row maps the required columns; else the sheet
    with the most recognised header cells; else the first."""
    from segtool.io import aliases

    if len(names) == 1:
        return 0
    best, best_hits = 0, 0
    for index in range(len(names)):
        try:
            head = reader.load_sheet(
                index, header_row=None, dtypes="string", n_rows=sniff.HEADER_SEARCH_ROWS
            ).to_polars()
        except Exception:  # noqa: BLE001 - a sheet that cannot be read is not the data
            continue
        rows = [[("" if v is None else str(v)) for v in row] for row in head.iter_rows()]
        if not rows:
            continue
        header = rows[sniff.find_header_row(rows, kind)]
        if aliases.has_required(header, kind):
            return index
        hits = aliases.score_header_row(header, kind)
        if hits > best_hits:
            best, best_hits = index, hits
    return best


def _without_trailing_blanks(cells: list[str]) -> list[str]:
    while cells and not cells[-1].strip():
        cells = cells[:-1]
    return cells


# -- HTML tables (web CRMs' "Export to Excel") ------------------------------------------
class _TableParser(HTMLParser):
    """Every <table> of a page as rows of cell texts; a colspan repeats an empty cell so
    the columns stay aligned. Nested tables are collected on their own."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._stack: list[list[list[str]]] = []
        self._row: list[list[str]] = []  # the open row of each open table
        self._cell: list[list[str] | None] = []
        self._span: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._stack.append([])
            self._row.append([])
            self._cell.append(None)
            self._span.append(1)
        elif not self._stack:
            return
        elif tag == "tr":
            self._end_row()
        elif tag in ("td", "th"):
            self._end_cell()
            self._cell[-1] = []
            span = dict(attrs).get("colspan") or "1"
            self._span[-1] = min(int(span), 1000) if span.strip().isdigit() else 1
        elif tag == "br" and self._cell[-1] is not None:
            self._cell[-1].append(" ")

    def handle_endtag(self, tag: str) -> None:
        if not self._stack:
            return
        if tag == "table":
            self._end_row()
            self.tables.append(self._stack.pop())
            self._row.pop()
            self._cell.pop()
            self._span.pop()
        elif tag == "tr":
            self._end_row()
        elif tag in ("td", "th"):
            self._end_cell()

    def handle_data(self, data: str) -> None:
        if self._stack and self._cell[-1] is not None:
            self._cell[-1].append(data)

    def _end_cell(self) -> None:
        if self._cell[-1] is not None:
            text = " ".join("".join(self._cell[-1]).split())
            self._row[-1].append(text)
            self._row[-1].extend([""] * (self._span[-1] - 1))
            self._cell[-1] = None
            self._span[-1] = 1

    def _end_row(self) -> None:
        self._end_cell()
        if self._row[-1]:
            self._stack[-1].append(self._row[-1])
        self._row[-1] = []


_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w:-]+)", re.IGNORECASE)


def _html_text(path: Path, forced: str) -> tuple[str, str]:
    data = path.read_bytes()
    if forced != "auto":
        encoding = forced
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    else:
        declared = _META_CHARSET.search(data[:4096])
        name = declared.group(1).decode("ascii", "replace").lower() if declared else ""
        try:
            encoding = codecs.lookup(name).name if name else ""
        except LookupError:
            encoding = ""
        if not encoding:
            encoding = sniff.detect_encoding(data[: sniff.SAMPLE_BYTES])[0]
    try:
        return data.decode(encoding, errors="replace"), encoding
    except LookupError:
        return data.decode("utf-8", errors="replace"), "utf-8"


def _read_html(path: Path, kind: str, encoding: str = "auto") -> RawTable:
    """The biggest table of an HTML page whose header is recognised, read with the
    standard library's HTML parser (tolerant of the unclosed tags such pages have)."""
    from segtool.io import aliases

    text, used = _html_text(path, encoding)
    parser = _TableParser()
    try:
        parser.feed(text)
        parser.close()
    except (ValueError, AssertionError) as exc:
        raise InputError(
            f"{path}: cannot parse the HTML page: {_short(exc)}", code=E_INPUT_FORMAT, file=path
        ) from None
    while parser._stack:  # tables the page never closed
        parser.handle_endtag("table")
    best: tuple[int, int, int] | None = None  # (has required, rows, index)
    header_at: dict[int, int] = {}
    for index, rows in enumerate(parser.tables):
        head = rows[: sniff.HEADER_SEARCH_ROWS]
        if not head:
            continue
        at = sniff.find_header_row(head, kind)
        if aliases.score_header_row(head[at], kind) == 0:
            continue
        header_at[index] = at
        rank = (int(aliases.has_required(head[at], kind)), len(rows) - at, index)
        if best is None or rank[:2] > best[:2]:
            best = rank
    if best is None:
        found = len(parser.tables)
        raise InputError(
            f"{path}: an HTML page with {found} table{'s' if found != 1 else ''}, none with a "
            "recognisable header row; export the list as CSV or XLSX",
            code=E_INPUT_COLUMNS,
            file=path,
        )
    index = best[2]
    width = len(parser.tables[index][header_at[index]])
    records = [row[:width] + _without_trailing_blanks(row[width:]) for row in parser.tables[index]]
    return _records_table(
        path, kind, records, header_at[index], encoding=used, name=path.name, file_type="HTML"
    )


def _first_row_offset(path: Path, sheet_name: str) -> int:
    """Rows above the first used row (calamine starts its range at the first used cell)."""
    import re
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            wb = archive.read("xl/workbook.xml").decode("utf-8", "replace")
            rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
            rid = None
            for m in re.finditer(r"<(?:\w+:)?sheet\b[^>]*>", wb):
                tag = m.group(0)
                name = re.search(r'name="([^"]*)"', tag)
                if name and _xml_unescape(name.group(1)) == sheet_name:
                    rid = re.search(r'r:id="([^"]*)"', tag) or re.search(r'\bid="([^"]*)"', tag)
                    break
            if rid is None:
                return 0
            target = re.search(
                rf'Id="{re.escape(rid.group(1))}"[^>]*Target="([^"]*)"', rels
            ) or re.search(rf'Target="([^"]*)"[^>]*Id="{re.escape(rid.group(1))}"', rels)
            if target is None:
                return 0
            member = target.group(1).lstrip("/")
            member = member if member.startswith("xl/") else f"xl/{member}"
            with archive.open(member) as handle:
                head = handle.read(1 << 16).decode("utf-8", "replace")
        dim = re.search(r'<(?:\w+:)?dimension ref="[A-Z]+(\d+)', head)
        if dim:
            return int(dim.group(1)) - 1
        row = re.search(r'<(?:\w+:)?row [^>]*r="(\d+)"', head)
        return int(row.group(1)) - 1 if row else 0
    except (KeyError, zipfile.BadZipFile, OSError, ValueError):
        return 0


def _xml_unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
