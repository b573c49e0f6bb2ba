"""The floor for writing the workbooks: bare xlsxwriter in constant_memory mode.

``python bench/xlsx_floor.py OUT_DIR CSV...`` writes each CSV (segtool's segments.csv,
call_tasks.csv, mail_tasks.csv) into its own workbook: one header row, then every row with
the plain typed calls (write_number for numbers, write_string for text, dates as Excel
serial numbers), no formats, widths, filters or drop-downs. Reading the CSVs is not timed;
the seconds spent writing are printed as JSON on stdout: {"write_seconds": ..., "rows": ...}.
"""

import datetime as dt
import json
import sys
import time
from pathlib import Path

import polars as pl
import xlsxwriter

EXCEL_MAX_ROWS = 1_048_575
EPOCH = dt.date(1899, 12, 30)


def load(path: Path) -> pl.DataFrame:
    """A segtool CSV as cell values: ISO dates (``*_date`` columns) become Excel serials."""
    frame = pl.read_csv(
        path,
        infer_schema_length=10_000,
        schema_overrides={"customer_id": pl.String, "task_id": pl.String},
    )
    dates = [c for c, t in frame.schema.items() if c.endswith("_date") and t == pl.String]
    return frame.with_columns(
        (pl.col(c).str.to_date("%Y-%m-%d", strict=False) - pl.lit(EPOCH))
        .dt.total_days()
        .cast(pl.Float64)
        for c in dates
    ).with_columns(pl.col(c).cast(pl.String) for c, t in frame.schema.items() if t == pl.Boolean)


def write(frame: pl.DataFrame, path: Path) -> None:
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    for start in range(0, max(frame.height, 1), EXCEL_MAX_ROWS):
        part = frame.slice(start, EXCEL_MAX_ROWS)
        sheet = workbook.add_worksheet()
        sheet.write_row(0, 0, frame.columns)
        writers = [
            sheet.write_string if t == pl.String else sheet.write_number for t in frame.dtypes
        ]
        for r, row in enumerate(part.iter_rows(), start=1):
            for c, value in enumerate(row):
                if value is not None:
                    writers[c](r, c, value)
    workbook.close()


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    frames = {Path(p).stem: load(Path(p)) for p in sys.argv[2:]}
    started = time.perf_counter()
    for name, frame in frames.items():
        write(frame, out / f"{name}.xlsx")
    seconds = time.perf_counter() - started
    rows = {name: frame.height for name, frame in frames.items()}
    print(json.dumps({"write_seconds": seconds, "rows": rows}))


if __name__ == "__main__":
    main()
