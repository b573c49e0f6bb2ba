"""Workbook writer: fast table sheets for review.

Styles are set once per column (``set_column`` formats), never per cell: a cell written
without a format takes its column's format, so dates and money show with their formats.
Dates are written as Excel serial numbers under a date format; text cells go through the
same formula escaping as the CSV files (:func:`segtool.io.csv_out.escape_frame`) and are
always written as strings, never as formulas. Every table sheet has a frozen header, an
autofilter and column widths from its content; a table longer than ``max_rows`` is split
into several sheets ("Customers", "Customers 2", ...) with a warning. Sheets print on A4
landscape with the header row on every page, scaled to one page wide unless
:class:`PrintSetup` says otherwise (it can also limit the print area to the first columns).
A wrapped column (``Column.wrap``) gives each row the height its text needs.

xlsxwriter (constant_memory mode) writes the structure: styles, header row, column widths and
formats, frozen panes, autofilter, drop-downs, print settings, the Summary sheet. Writing
data rows through it costs about 8 µs a cell, so the data rows of table sheets are built
as worksheet XML with polars string expressions instead and spliced into each sheet's
``<sheetData>`` once xlsxwriter has closed the file. The cells are the ones xlsxwriter
writes: inline strings escaped the same way (``&<>``, control characters as ``_xHHHH_``,
literal ``_xHHHH_`` as ``_x005F_xHHHH_``, at most 32 767 UTF-16 units), numbers as
``<v>``, booleans as ``t="b"``, each cell styled with its column's format, nulls left out.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from xml.etree import ElementTree as ET

import polars as pl
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from segtool.io.csv_out import escape_frame

Kind = Literal["text", "int", "number", "money", "percent", "date", "bool"]
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_MIN_WIDTH, _MAX_WIDTH = 8, 60
_CHUNK_ROWS = 20_000  # rows turned into XML at a time (bounds memory)
_STR_MAX = 32_767  # Excel's longest cell text, in UTF-16 units
# deflate at level 6 (zip's default, xlsxwriter's) takes longer than building the XML;
# level 3 is ~2.3x faster for sheets ~20 % larger
_DEFLATE_LEVEL = 3
_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
# characters XML 1.0 cannot hold, written as Excel does: "\x01" -> "_x0001_"
_CONTROL = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20))] + ["\ufffe", "\uffff"]
_TEXT_FROM = [*_CONTROL, "&", "<", ">"]
_TEXT_TO = [f"_x{ord(c):04X}_" for c in _CONTROL] + ["&amp;", "&lt;", "&gt;"]


@dataclass
class Column:
    key: str  # column of the frame
    header: str  # label shown in the header row
    kind: Kind = "text"
    width: float | None = None  # None: from the content
    choices: list[str] | None = None  # a drop-down list (data validation)
    wrap: bool = False  # text wrapped in the column; rows are made tall enough to show it


@dataclass
class _Rows:
    """Data rows of one table sheet, written into the file after xlsxwriter closes it."""

    sheet: str
    data: pl.DataFrame
    columns: list[Column]
    widths: list[float] = field(default_factory=list)


@dataclass
class PrintSetup:
    """How a table sheet prints: A4 landscape, one page wide, the header on every page.

    ``columns``: only the first N columns are printed (the print area), so the ones a person
    works from are not shrunk to fit every code and id; None prints them all.
    """

    columns: int | None = None
    fit_width: bool = True  # scale to one page wide (a wide list prints across pages)


# A4 landscape with 1 cm side margins: the width a sheet is scaled down to, in pixels at
# 96 dpi (277 mm); a column w characters wide takes int(7 * w + 5) pixels (Calibri 11)
PAGE_WIDTH_PX = 277 / 25.4 * 96
MARGIN_INCH = 0.4


def column_pixels(width: float) -> int:
    """Screen and print width of a column ``width`` characters wide (Excel's rule)."""
    return int(7 * width + 5)


def print_scale(widths: list[float]) -> float:
    """The zoom that fits columns of these widths on one page wide (1.0 = no shrinking)."""
    total = sum(column_pixels(w) for w in widths) or 1
    return min(1.0, PAGE_WIDTH_PX / total)


@dataclass
class Book:
    """One workbook being written. Use as a context manager; ``warnings`` collects splits."""

    path: Path
    language: str = "ru"
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workbook = xlsxwriter.Workbook(
            str(self.path),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self._rows: list[_Rows] = []
        date = "dd.mm.yyyy" if self.language == "ru" else "yyyy-mm-dd"
        add = self.workbook.add_format
        self.formats = {
            "header": add(
                {
                    "bold": True,
                    "bg_color": "#DDEBF7",
                    "border": 1,
                    "text_wrap": True,
                    "valign": "top",
                }
            ),
            "title": add({"bold": True, "font_size": 14}),
            "bold": add({"bold": True}),
            "text": add({"quote_prefix": True, "valign": "top"}),
            "wrap": add({"quote_prefix": True, "valign": "top", "text_wrap": True}),
            "int": add({"num_format": "#,##0", "valign": "top"}),
            "number": add({"num_format": "#,##0.00", "valign": "top"}),
            "money": add({"num_format": "#,##0.00", "valign": "top"}),
            "percent": add({"num_format": "0.0%", "valign": "top"}),
            "date": add({"num_format": date, "valign": "top"}),
            "bool": add({"align": "center", "valign": "top"}),
        }

    def __enter__(self) -> Book:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.workbook.close()
        rows, self._rows = self._rows, []
        if exc_type is None and rows:
            _splice_rows(Path(self.path), rows)

    def sheet(self, name: str) -> Any:  # an xlsxwriter Worksheet (the package has no types)
        return self.workbook.add_worksheet(_sheet_name(name))

    def write_table(
        self,
        name: str,
        frame: pl.DataFrame,
        columns: list[Column],
        *,
        max_rows: int = 1_048_575,
        freeze_cols: int = 0,
        printing: PrintSetup | None = None,
    ) -> list[str]:
        """Write ``frame`` (the given columns, in order) to one or more sheets."""
        data = _prepare(frame, columns)
        widths = _widths(data, columns)
        chunks = max(1, -(-data.height // max_rows))
        if chunks > 1:
            self.warnings.append(
                f"{self.path.name}: {data.height:,} rows do not fit one sheet (at most "
                f"{max_rows:,}); split into {chunks} sheets '{name}', '{name} 2', ...".replace(
                    ",", " "
                )
            )
        names = []
        for index in range(chunks):
            part = data.slice(index * max_rows, max_rows)
            sheet_name = name if index == 0 else f"{name} {index + 1}"
            names.append(
                self._write_part(
                    sheet_name, part, columns, widths, freeze_cols, printing or PrintSetup()
                )
            )
        return names

    def _write_part(
        self,
        name: str,
        part: pl.DataFrame,
        columns: list[Column],
        widths: list[float],
        freeze_cols: int,
        printing: PrintSetup,
    ) -> str:
        ws = self.sheet(name)
        formats = self.formats
        for index, column in enumerate(columns):
            kind = "wrap" if column.wrap and column.kind == "text" else column.kind
            ws.set_column(index, index, widths[index], formats[kind])
        header = formats["header"]
        # the header row tall enough for its wrapped labels (they overlapped row 2 before)
        ws.set_row(
            0, 15 * max(header_lines(c.header, w) for c, w in zip(columns, widths, strict=True))
        )
        for index, column in enumerate(columns):
            ws.write_string(0, index, column.header, header)
        last_row = max(part.height, 1)
        ws.freeze_panes(1, freeze_cols)
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.set_margins(left=MARGIN_INCH, right=MARGIN_INCH, top=0.6, bottom=0.6)
        # on paper: the sheet's name (whose list it is, on a per-owner sheet) and page n of m
        ws.set_header("&L&A")
        ws.set_footer("&R&P / &N")
        if printing.fit_width:
            ws.fit_to_pages(1, 0)  # one page wide, as many pages tall as it takes
        ws.repeat_rows(0)  # the header on every printed page
        if printing.columns is not None:
            ws.print_area(0, 0, last_row, min(printing.columns, len(columns)) - 1)
        ws.autofilter(0, 0, last_row, len(columns) - 1)
        for index, column in enumerate(columns):
            if column.choices:
                ws.data_validation(
                    1,
                    index,
                    max(last_row, 1000),
                    index,
                    {
                        "validate": "list",
                        "source": column.choices,
                        "ignore_blank": True,
                    },
                )
        if part.height:
            self._rows.append(_Rows(ws.name, part, columns, widths))
        return str(ws.name)


def header_lines(text: str, width: float) -> int:
    """Lines a header label takes when wrapped at word boundaries in a column this wide."""
    lines, used = 1, 0
    for word in text.split():
        need = len(word) if used == 0 else used + 1 + len(word)
        if used and need > width - 1:
            lines, used = lines + 1, len(word)
        else:
            used = need
    return lines


def _largest(values: pl.Series) -> float:
    """The largest number of a numeric column; 0 for an empty or all-null one."""
    top = values.max()
    return float(top) if isinstance(top, (int, float)) else 0.0


def _sheet_name(name: str) -> str:
    for bad in "[]:*?/\\":
        name = name.replace(bad, " ")
    return name[:31]


def _prepare(frame: pl.DataFrame, columns: list[Column]) -> pl.DataFrame:
    """The frame as cell values: escaped text, dates as Excel serials, numbers as floats."""
    exprs = []
    for column in columns:
        if column.key not in frame.columns:
            exprs.append(pl.lit(None, pl.String).alias(column.key))
            continue
        col = pl.col(column.key)
        if column.kind == "date":
            exprs.append(
                (col.cast(pl.Date) - pl.lit(_EXCEL_EPOCH))
                .dt.total_days()
                .cast(pl.Float64)
                .alias(column.key)
            )
        elif column.kind == "bool":
            exprs.append(col.cast(pl.Boolean))
        elif column.kind == "text":
            exprs.append(col.cast(pl.String))
        else:
            exprs.append(col.cast(pl.Float64))
    out = frame.select(exprs)
    out = out.with_columns(
        pl.when(pl.col(c).is_in([float("inf"), float("-inf"), float("nan")]))
        .then(None)
        .otherwise(pl.col(c))
        .alias(c)
        for c, d in out.schema.items()
        if d == pl.Float64
    )
    return escape_frame(out)


def _widths(data: pl.DataFrame, columns: list[Column]) -> list[float]:
    """Column widths from the header and the longest value among the first 2 000 rows."""
    sample = data.head(2000)
    out = []
    for column in columns:
        if column.width is not None:
            out.append(column.width)
            continue
        if column.kind == "date":
            content = 10
        elif column.kind == "text":
            content = int(_largest(sample[column.key].str.len_chars()))
        elif column.kind == "bool":
            content = 6
        else:
            biggest = _largest(sample[column.key].abs())
            shown = f"{biggest:,.0f}" if column.kind == "int" else f"{biggest:,.2f}"
            content = len(shown) + 1
        # the header wraps at word boundaries, into two lines (sometimes three)
        longest = max((len(w) for w in column.header.split()), default=0)
        header = max(longest, -(-len(column.header) // 2)) + 2
        out.append(float(min(_MAX_WIDTH, max(_MIN_WIDTH, int(content) + 2, header))))
    return out


# -- data rows as worksheet XML --------------------------------------------------------------
def _splice_rows(path: Path, pending: list[_Rows]) -> None:
    """Rewrite the closed workbook with each table sheet's data rows inside its sheetData."""
    temp = path.with_name(f".{path.name}.rows")
    try:
        with (
            zipfile.ZipFile(path) as source,
            zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as target,
        ):
            members = _sheet_members(source)
            by_member = {members[rows.sheet]: rows for rows in pending}
            for info in source.infolist():
                rows = by_member.get(info.filename)
                if rows is None:
                    target.writestr(info, source.read(info))
                else:
                    _write_sheet(target, info, source.read(info).decode("utf-8"), rows)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _sheet_members(source: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its XML member in the package (from workbook.xml and its relations)."""
    targets = {
        rel.get("Id"): rel.get("Target", "")
        for rel in ET.fromstring(source.read("xl/_rels/workbook.xml.rels")).iter(
            f"{_PKG_REL_NS}Relationship"
        )
    }
    out = {}
    for sheet in ET.fromstring(source.read("xl/workbook.xml")).iter(f"{_MAIN_NS}sheet"):
        target = targets[sheet.get(f"{_REL_NS}id")]
        out[sheet.get("name", "")] = (
            target.lstrip("/") if target.startswith("/") else (f"xl/{target}")
        )
    return out


def _write_sheet(target: zipfile.ZipFile, info: zipfile.ZipInfo, xml: str, rows: _Rows) -> None:
    end = xml.index("</sheetData>")
    last = f"{xl_col_to_name(len(rows.columns) - 1)}{rows.data.height + 1}"
    head = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{last}"/>', xml[:end], count=1)
    styles = _column_styles(head, len(rows.columns))
    text = [c.key for c in rows.columns if c.kind == "text"]
    sizes = (
        rows.data.select(
            *(pl.col(k).str.len_bytes().sum().alias(f"sum {k}") for k in text),
            *(pl.col(k).str.len_bytes().max().alias(f"max {k}") for k in text),
        ).row(0, named=True)
        if text
        else {}
    )
    long = {k for k in text if (sizes[f"max {k}"] or 0) > _STR_MAX}
    # the XML of the rows is at most 7x the UTF-8 text ("\x01" -> "_x0001_") plus < 100
    # bytes a cell; zip64 headers only when the member may need them
    text_bytes = sum(sizes[f"sum {k}"] or 0 for k in text)
    big = 7 * text_bytes + 100 * rows.data.height * (len(rows.columns) + 1) > zipfile.ZIP64_LIMIT
    member = zipfile.ZipInfo(info.filename, info.date_time)
    member.compress_type = zipfile.ZIP_DEFLATED
    member._compresslevel = _DEFLATE_LEVEL  # type: ignore[attr-defined]  # compress_level from 3.13
    # deflate (in a second thread; zlib and polars both release the GIL) takes about as
    # long as building the XML, so chunk n is compressed while chunk n + 1 is built
    with target.open(member, "w", force_zip64=big) as out, ThreadPoolExecutor(1) as writer:
        out.write(head.encode("utf-8"))
        pending: Future[Any] | None = None
        for start in range(0, rows.data.height, _CHUNK_ROWS):
            chunk = _truncated(rows.data.slice(start, _CHUNK_ROWS), long)
            buffer = io.BytesIO()
            xml_rows = _row_xml(
                rows.columns, styles, _with_escapes(chunk, text), start + 2, rows.widths
            )
            chunk.select(xml_rows).write_csv(
                buffer, include_header=False, quote_style="never", line_terminator=""
            )
            if pending is not None:
                pending.result()
            pending = writer.submit(out.write, buffer.getvalue())
        if pending is not None:
            pending.result()
        out.write(xml[end:].encode("utf-8"))


def _column_styles(head: str, count: int) -> list[int]:
    """The xf index of each column's format, from the ``<col>`` elements xlsxwriter wrote."""
    styles = [0] * count
    for match in re.finditer(r"<col ([^>]*)/>", head):
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        for index in range(int(attrs["min"]) - 1, min(int(attrs["max"]), count)):
            styles[index] = int(attrs.get("style", 0))
    return styles


def _with_escapes(chunk: pl.DataFrame, text: list[str]) -> set[str]:
    """Text columns holding ``_x`` somewhere (the only ones the ``_xHHHH_`` regex can change)."""
    if not text:
        return set()
    found = chunk.select(pl.col(k).str.contains("_x", literal=True).any() for k in text).row(0)
    return {k for k, hit in zip(text, found, strict=True) if hit}


def _row_xml(
    columns: list[Column],
    styles: list[int],
    escapes: set[str],
    first_row: int,
    widths: list[float] | None = None,
) -> pl.Expr:
    """One string per row: ``<row r="N">`` and its non-null cells, as xlsxwriter writes them.

    With wrapped columns, each row gets the height its longest wrapped text needs
    (:func:`row_lines`); spreadsheets do not grow rows to wrapped text on their own."""
    row = pl.int_range(first_row, first_row + pl.len()).cast(pl.String)
    wrapped = [(c.key, w) for c, w in zip(columns, widths or [], strict=False) if c.wrap]
    height = pl.lit("")
    if wrapped:
        lines = pl.max_horizontal(*(row_lines(pl.col(k), w) for k, w in wrapped))
        height = pl.concat_str(
            pl.lit('" ht="'),
            (lines * _LINE_POINTS).clip(_LINE_POINTS, 409).cast(pl.String),
            pl.lit('" customHeight="1'),
        )
    cells = []
    for index, column in enumerate(columns):
        ref = pl.lit(f'<c r="{xl_col_to_name(index)}')
        value = pl.col(column.key)
        style = styles[index]
        if column.kind == "text":
            text = _escaped(value, column.key in escapes)
            # xml:space="preserve" when the text starts or ends with white space
            space = (
                pl.when(text.str.strip_chars() != text)
                .then(pl.lit(' xml:space="preserve"'))
                .otherwise(pl.lit(""))
            )
            cells.append(
                pl.concat_str(
                    ref,
                    row,
                    pl.lit(f'" s="{style}" t="inlineStr"><is><t'),
                    space,
                    pl.lit(">"),
                    text,
                    pl.lit("</t></is></c>"),
                )
            )
        elif column.kind == "bool":
            cells.append(
                pl.concat_str(
                    ref,
                    row,
                    pl.lit(f'" s="{style}" t="b"><v>'),
                    value.cast(pl.UInt8).cast(pl.String),
                    pl.lit("</v></c>"),
                )
            )
        else:
            cells.append(
                pl.concat_str(
                    ref, row, pl.lit(f'" s="{style}"><v>'), _number_text(value), pl.lit("</v></c>")
                )
            )
    return pl.concat_str(
        pl.lit('<row r="'),
        row,
        height,
        pl.lit('">'),
        *cells,
        pl.lit("</row>"),
        ignore_nulls=True,
    ).alias("xml")


_LINE_POINTS = 15  # a line of Calibri 11, in points


def row_lines(text: pl.Expr, width: float) -> pl.Expr:
    """Lines ``text`` takes wrapped in a column ``width`` characters wide (at least 1).

    A line holds about ``width - 1`` characters; every line break starts a new line."""
    per_line = max(1.0, width - 1)
    text = text.fill_null("")
    return (
        (text.str.len_chars() / per_line).ceil().cast(pl.Int64)
        + text.str.count_matches("\n", literal=True)
    ).clip(1)


def _number_text(value: pl.Expr) -> pl.Expr:
    """Shortest round-trip text of a float; ``5`` not ``5.0`` and ``1E+20`` as xlsxwriter."""
    return value.cast(pl.String).str.strip_suffix(".0").str.replace("e", "E", literal=True)


def _escaped(value: pl.Expr, literal_escapes: bool) -> pl.Expr:
    """Cell text for XML, escaped as xlsxwriter's inline strings (``_escape_control_characters``
    then ``_escape_data``)."""
    text = value
    if literal_escapes:
        text = text.str.replace_all(r"(_x[0-9a-fA-F]{4}_)", "_x005F${1}")
    return text.str.replace_many(_TEXT_FROM, _TEXT_TO)


def _truncated(data: pl.DataFrame, keys: set[str]) -> pl.DataFrame:
    """Text of ``keys`` cut to 32 767 UTF-16 units, never splitting a character above U+FFFF.

    Dropping ceil(excess / 2) characters from the end never drops more than needed (each
    takes at most 2 units away), so repeating it reaches the longest prefix that fits, as
    xlsxwriter cuts; text of at most 32 767 UTF-8 bytes cannot be longer and is left alone.
    """
    if not keys:
        return data
    data = data.with_columns(
        pl.when(pl.col(k).str.len_bytes() > _STR_MAX)
        .then(pl.col(k).str.slice(0, _STR_MAX))
        .otherwise(pl.col(k))
        for k in keys
    )
    for _ in range(16):
        excess = {
            k: pl.col(k).str.len_chars()
            + pl.col(k).str.count_matches(r"[\x{10000}-\x{10FFFF}]")
            - _STR_MAX
            for k in keys
        }
        data = data.with_columns(
            pl.when(excess[k] > 0)
            .then(pl.col(k).str.slice(0, pl.col(k).str.len_chars() - (excess[k] + 1) // 2))
            .otherwise(pl.col(k))
            for k in keys
        )
    return data
