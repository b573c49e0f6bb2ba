"""Read an export (CSV or XLSX) into a LazyFrame of text columns with a source-row column.

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
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from segtool.errors import InputError
from segtool.io import sniff

ROW = "__row"  # spreadsheet row number (header = its own row, data below it)
RAGGED = "__ragged"  # the record had more fields than the header
EXTRA = "__extra"  # ... and these were the extra fields, joined
TRANSCODE_CHUNK = 16 << 20


def _cp1251_fallback(exc: UnicodeDecodeError):
    """Decode the bytes UTF-8 rejected as cp1251 (files glued from two exports)."""
    return exc.object[exc.start:exc.end].decode("cp1251", errors="replace"), exc.end


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
    temp_files: list[Path] = field(default_factory=list)

    def cleanup(self) -> None:
        for path in self.temp_files:
            with contextlib.suppress(OSError, ValueError):
                if path.parent == _OPEN_FDS:  # already unlinked: close its descriptor
                    os.close(int(path.name))
                else:
                    os.unlink(path)
        self.temp_files.clear()


def unique_headers(cells: list[str | None]) -> list[str]:
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


def read_table(path: Path, kind: str, *, encoding: str = "auto", delimiter: str = "auto",
               sheet: str | int | None = None, forgiving: bool = False) -> RawTable:
    """Open ``path`` (CSV or XLSX, by content) as a :class:`RawTable`."""
    path = Path(path)
    file_type = sniff.file_kind(path)
    if file_type == "ole":
        raise InputError(
            f"{path}: a password-protected workbook or an old .xls file; remove the password "
            "or save it as .xlsx or CSV", code="E-INPUT-XLSX",
        )
    if file_type == "xlsx":
        return _read_xlsx(path, kind, sheet)
    if sheet is not None:
        pass  # a sheet name for a CSV file is harmless; the file has one table
    dialect = sniff.sniff_csv(path, kind, encoding, delimiter)
    if forgiving or dialect.mixed_encoding:
        return _read_csv_forgiving(path, kind, dialect)
    return _read_csv_fast(path, kind, dialect)


def _read_csv_fast(path: Path, kind: str, dialect: sniff.CsvDialect) -> RawTable:
    headers = unique_headers(dialect.headers)
    temp: list[Path] = []
    source: Path = path
    if dialect.encoding not in ("utf-8", "utf-8-sig"):
        source = _transcode(path, dialect.encoding)
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
    return RawTable(path, path.name, kind, frame, headers, dialect.encoding, dialect.delimiter,
                    header_row=dialect.header_row + 1, temp_files=temp)


_OPEN_FDS = Path("/proc/self/fd")


def _transcode(path: Path, encoding: str) -> Path:
    """Stream a cp1251 (or other 8-bit) file into a UTF-8 temp file polars can scan.

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
    try:
        with open(path, "rb") as src, os.fdopen(os.dup(fd), "wb") as dst:
            while block := src.read(TRANSCODE_CHUNK):
                dst.write(decoder.decode(block).encode("utf-8"))
            dst.write(decoder.decode(b"", final=True).encode("utf-8"))
    except OSError as exc:
        os.close(fd)
        if not anonymous:
            os.unlink(tmp)
        raise InputError(f"{path}: cannot read: {exc.strerror}", code="E-INPUT-READ") from None
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
    return io.StringIO(data.decode(encoding, errors=errors), newline="")


def _read_csv_forgiving(path: Path, kind: str, dialect: sniff.CsvDialect) -> RawTable:
    """Slow path: Python's csv module; rows with extra fields are marked, not lost."""
    text = _decoded_text(path, dialect.encoding)
    reader = csv.reader(text, delimiter=dialect.delimiter, strict=False)
    records = []
    try:
        for record in reader:
            records.append(record)
    except csv.Error as exc:
        raise InputError(f"{path}:{reader.line_num}: cannot parse CSV: {exc}",
                         code="E-INPUT-FORMAT") from None
    except MemoryError:
        raise InputError(f"{path}: too large for the forgiving reader",
                         code="E-INPUT-READ") from None
    header_index = dialect.header_row
    headers = unique_headers(records[header_index] if len(records) > header_index else [])
    width = len(headers)
    body = records[header_index + 1:]
    columns: dict[str, list[str | None]] = {h: [] for h in headers}
    ragged: list[bool] = []
    extra: list[str | None] = []
    for record in body:
        is_blank = not record or all(not c.strip() for c in record)
        cells = [] if is_blank else record
        for i, h in enumerate(headers):
            value = cells[i] if i < len(cells) else None
            columns[h].append(value if value not in ("",) else None)
        over = len(cells) > width
        ragged.append(over)
        extra.append(dialect.delimiter.join(cells[width:]) if over else None)
    first_data_row = header_index + 2
    frame = pl.DataFrame(
        {**{h: pl.Series(h, v, dtype=pl.String) for h, v in columns.items()},
         RAGGED: pl.Series(RAGGED, ragged, dtype=pl.Boolean),
         EXTRA: pl.Series(EXTRA, extra, dtype=pl.String)}
    ).with_row_index(ROW, offset=first_data_row).with_columns(pl.col(ROW).cast(pl.Int64))
    return RawTable(path, path.name, kind, frame.lazy(), headers, dialect.encoding,
                    dialect.delimiter, header_row=header_index + 1, forgiving=True)


def _read_xlsx(path: Path, kind: str, sheet: str | int | None) -> RawTable:
    import fastexcel

    sniff.check_xlsx(path)
    try:
        reader = fastexcel.read_excel(str(path))
    except Exception as exc:  # noqa: BLE001 - fastexcel raises its own error family
        raise InputError(f"{path}: cannot open the workbook: {_short(exc)}",
                         code="E-INPUT-XLSX") from None
    names = reader.sheet_names
    if sheet is None:
        sheet_id: str | int = 0
    elif isinstance(sheet, int) or (
        isinstance(sheet, str) and sheet.isdigit() and sheet not in names
    ):
        sheet_id = int(sheet)
        if not 0 <= sheet_id < len(names):
            raise InputError(f"{path}: no sheet number {sheet_id}; sheets: {', '.join(names)}",
                             code="E-INPUT-SHEET")
    else:
        if sheet not in names:
            raise InputError(f"{path}: no sheet named {sheet!r}; sheets: {', '.join(names)}",
                             code="E-INPUT-SHEET")
        sheet_id = sheet
    try:
        table = reader.load_sheet(sheet_id, header_row=None, dtypes="string").to_polars()
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: cannot read sheet {sheet_id!r}: {_short(exc)}",
                         code="E-INPUT-XLSX") from None
    sheet_name = names[sheet_id] if isinstance(sheet_id, int) else sheet_id
    if table.height == 0:
        raise InputError(f"{path}: sheet {sheet_name!r} is empty", code="E-INPUT-EMPTY")
    offset = _first_row_offset(path, sheet_name)
    head_rows = [[("" if v is None else str(v)) for v in row]
                 for row in table.head(sniff.HEADER_SEARCH_ROWS).iter_rows()]
    header_index = sniff.find_header_row(head_rows, kind)
    headers = unique_headers(head_rows[header_index])
    body = table.slice(header_index + 1)
    body.columns = headers
    frame = (
        body.with_row_index(ROW, offset=offset + header_index + 2)
        .with_columns(pl.col(ROW).cast(pl.Int64))
        .with_columns(pl.col(h).str.strip_chars().replace("", None) for h in headers)
    )
    return RawTable(path, f"{path.name}[{sheet_name}]", kind, frame.lazy(), headers,
                    sheet=sheet_name, header_row=offset + header_index + 1)


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
            target = re.search(rf'Id="{re.escape(rid.group(1))}"[^>]*Target="([^"]*)"', rels) or \
                re.search(rf'Target="([^"]*)"[^>]*Id="{re.escape(rid.group(1))}"', rels)
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
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
