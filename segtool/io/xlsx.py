"""Workbook writer: fast table sheets for review (xlsxwriter in constant_memory mode).

Styles are set once per column (``set_column`` formats), never per cell: a cell written
without a format takes its column's format, so dates and money show with their formats.
Dates are written as Excel serial numbers under a date format; text cells go through the
same formula escaping as the CSV files (:func:`segtool.io.csv_out.escape_frame`) and are
always written as strings, never as formulas. Every table sheet has a frozen header, an
autofilter and column widths from its content; a table longer than ``max_rows`` is split
into several sheets ("Customers", "Customers 2", ...) with a warning.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl
import xlsxwriter

from segtool.io.csv_out import escape_frame

Kind = Literal["text", "int", "number", "money", "percent", "date", "bool"]
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_MIN_WIDTH, _MAX_WIDTH = 8, 60


@dataclass
class Column:
    key: str  # column of the frame
    header: str  # label shown in the header row
    kind: Kind = "text"
    width: float | None = None  # None: from the content
    choices: list[str] | None = None  # a drop-down list (data validation)


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
        date = "dd.mm.yyyy" if self.language == "ru" else "yyyy-mm-dd"
        add = self.workbook.add_format
        self.formats = {
            "header": add({"bold": True, "bg_color": "#DDEBF7", "border": 1,
                           "text_wrap": True, "valign": "top"}),
            "title": add({"bold": True, "font_size": 14}),
            "bold": add({"bold": True}),
            "text": add({"quote_prefix": True}),
            "int": add({"num_format": "#,##0"}),
            "number": add({"num_format": "#,##0.00"}),
            "money": add({"num_format": "#,##0.00"}),
            "percent": add({"num_format": "0.0%"}),
            "date": add({"num_format": date}),
            "bool": add({"align": "center"}),
        }

    def __enter__(self) -> Book:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.workbook.close()

    def sheet(self, name: str):
        return self.workbook.add_worksheet(_sheet_name(name))

    def write_table(
        self, name: str, frame: pl.DataFrame, columns: list[Column], *,
        max_rows: int = 1_048_575, freeze_cols: int = 0,
    ) -> list[str]:
        """Write ``frame`` (the given columns, in order) to one or more sheets."""
        data = _prepare(frame, columns)
        widths = _widths(data, columns)
        chunks = max(1, -(-data.height // max_rows))
        if chunks > 1:
            self.warnings.append(
                f"{self.path.name}: {data.height:,} rows do not fit one sheet (at most "
                f"{max_rows:,}); split into {chunks} sheets '{name}', '{name} 2', ...".replace(
                    ",", " ")
            )
        names = []
        for index in range(chunks):
            part = data.slice(index * max_rows, max_rows)
            sheet_name = name if index == 0 else f"{name} {index + 1}"
            names.append(self._write_part(sheet_name, part, columns, widths, freeze_cols))
        return names

    def _write_part(self, name, part: pl.DataFrame, columns, widths, freeze_cols) -> str:
        ws = self.sheet(name)
        formats = self.formats
        for index, column in enumerate(columns):
            ws.set_column(index, index, widths[index], formats[column.kind])
        header = formats["header"]
        for index, column in enumerate(columns):
            ws.write_string(0, index, column.header, header)
        last_row = max(part.height, 1)
        ws.freeze_panes(1, freeze_cols)
        ws.set_landscape()
        ws.repeat_rows(0)  # the header on every printed page
        ws.autofilter(0, 0, last_row, len(columns) - 1)
        for index, column in enumerate(columns):
            if column.choices:
                ws.data_validation(1, index, max(last_row, 1000), index, {
                    "validate": "list", "source": column.choices, "ignore_blank": True,
                })
        writers = []
        for column in columns:
            if column.kind == "text":
                writers.append(ws.write_string)
            elif column.kind == "bool":
                writers.append(ws.write_boolean)
            else:
                writers.append(ws.write_number)
        row_number = 0
        for row_number, row in enumerate(part.iter_rows(), start=1):
            for col, value in enumerate(row):
                if value is not None:
                    writers[col](row_number, col, value)
        return ws.name


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
            exprs.append((col.cast(pl.Date) - pl.lit(_EXCEL_EPOCH)).dt.total_days()
                         .cast(pl.Float64).alias(column.key))
        elif column.kind == "bool":
            exprs.append(col.cast(pl.Boolean))
        elif column.kind == "text":
            exprs.append(col.cast(pl.String))
        else:
            exprs.append(col.cast(pl.Float64))
    out = frame.select(exprs)
    out = out.with_columns(
        pl.when(pl.col(c).is_in([float("inf"), float("-inf"), float("nan")]))
        .then(None).otherwise(pl.col(c)).alias(c)
        for c, d in out.schema.items() if d == pl.Float64
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
            content = sample[column.key].str.len_chars().max() or 0
        elif column.kind == "bool":
            content = 6
        else:
            biggest = sample[column.key].abs().max() or 0
            content = len(f"{biggest:,.2f}") + 1
        header = max((len(w) for w in column.header.split()), default=0) + 2
        out.append(float(min(_MAX_WIDTH, max(_MIN_WIDTH, int(content) + 2, header))))
    return out
