"""Reading task statuses back from the task sheets of an earlier run.

Per task list (``call_tasks``, ``mail_tasks``) the ``.xlsx`` is read, or the ``.csv``
where there is no xlsx or the csv was saved later. The header is found by name (RU/EN
labels or snake_case keys, in any of the first ten rows), so moved columns, sorted,
filtered or deleted rows do not matter: rows are matched to tasks by ``task_id``. A status
is read in any case, in Russian or English or as its code; an empty cell is ``open``. An
unknown value is reported with file, row and value, and that task keeps its status.

The header aliases and status words are those :mod:`segtool.steps.migration` uses for
``--previous``.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from segtool.steps.migration import _STATUS_WORDS, TASK_WORKBOOKS, _find_header

SHEET_STATUSES = ("open", "in_progress", "done", "refused")


@dataclass
class SheetStatuses:
    """Statuses read from one folder: task_id, status, source_file, source_row, read_on."""

    statuses: pl.DataFrame
    problems: list[str] = field(default_factory=list)  # "file:row: status 'x' unknown"
    files: list[str] = field(default_factory=list)


EMPTY = pl.DataFrame(
    schema={
        "task_id": pl.String,
        "status": pl.String,
        "source_file": pl.String,
        "source_row": pl.Int64,
        "saved_on": pl.Date,
    }
)


def task_sheet_files(folder: Path) -> list[Path]:
    """Per task list, the file to read: the xlsx, or the csv when alone or saved later."""
    chosen = []
    for stem in TASK_WORKBOOKS:
        xlsx, csv = folder / f"{stem}.xlsx", folder / f"{stem}.csv"
        if xlsx.exists() and (not csv.exists() or csv.stat().st_mtime <= xlsx.stat().st_mtime):
            chosen.append(xlsx)
        elif csv.exists():
            chosen.append(csv)
    return chosen


def _normalised(expr: pl.Expr) -> pl.Expr:
    words = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
    return words.str.replace_all("ё", "е").str.replace_all(r"[\s_]+", " ")


def _read_sheets(path: Path) -> list[pl.DataFrame]:
    if path.suffix.lower() == ".csv":
        head = path.read_bytes()[:4096].decode("utf-8-sig", errors="replace").split("\n", 1)[0]
        sep = max((",", ";", "\t", "|"), key=head.count)
        return [
            pl.read_csv(
                path,
                has_header=False,
                infer_schema=False,
                separator=sep,
                truncate_ragged_lines=True,
                encoding="utf8-lossy",
            )
        ]
    sheets = pl.read_excel(
        path,
        sheet_id=0,
        has_header=False,
        infer_schema_length=0,
        drop_empty_rows=False,
        raise_if_empty=False,
    )
    return list(sheets.values())


def read_sheet_statuses(path: Path) -> tuple[pl.DataFrame, list[str]]:
    """(task_id, status, source_file, source_row, saved_on) rows and problems of one file.

    ``source_row`` is the row as a spreadsheet counts it (header = 1 on our sheets).
    """
    path = Path(path)
    try:
        sheets = _read_sheets(path)
        saved_on = dt.datetime.fromtimestamp(os.stat(path).st_mtime).date()
    except Exception as exc:  # noqa: BLE001 - any reader error becomes one line
        return EMPTY, [
            f"{path}: cannot read the task statuses ({type(exc).__name__}: {exc}); "
            "statuses in history were kept as they were"
        ]
    frames, problems = [], []
    for sheet in sheets:
        if sheet.height == 0:
            continue
        found = _find_header(sheet)
        if found is None:
            continue
        index, columns = found
        rows = (
            sheet.with_row_index("_index")
            .slice(index + 1)
            .select(
                pl.col(columns["task_id"]).cast(pl.String).str.strip_chars().alias("task_id"),
                pl.col(columns["status"]).alias("_raw"),
                (pl.col("_index").cast(pl.Int64) + 1).alias("source_row"),
            )
            .filter(pl.col("task_id").is_not_null() & (pl.col("task_id") != ""))
            .with_columns(_normalised(pl.col("_raw")).alias("_word"))
            .with_columns(
                pl.when(pl.col("_word").is_null() | (pl.col("_word") == ""))
                .then(pl.lit("open"))
                .otherwise(
                    pl.col("_word").replace_strict(
                        _STATUS_WORDS, default=None, return_dtype=pl.String
                    )
                )
                .alias("status")
            )
        )
        unknown = rows.filter(pl.col("status").is_null())
        problems += [
            f"{path.name}:{row}: status {raw!r} is not one of открыта / в работе / "
            f"выполнена / отказ (open, in_progress, done, refused); task {task} kept as it was"
            for task, raw, row in unknown.select("task_id", "_raw", "source_row").iter_rows()
        ]
        frames.append(
            rows.filter(pl.col("status").is_not_null()).select(
                "task_id",
                "status",
                pl.lit(path.name).alias("source_file"),
                "source_row",
                pl.lit(saved_on).alias("saved_on"),
            )
        )
    if not frames:
        return EMPTY, problems
    return pl.concat(frames), problems


def read_folder_statuses(folder: Path) -> SheetStatuses:
    """Statuses from every task list of an output folder (later files win per task)."""
    frames, problems, files = [], [], []
    for path in task_sheet_files(Path(folder)):
        frame, found = read_sheet_statuses(path)
        frames.append(frame)
        problems += found
        files.append(str(path))
    if not frames:
        return SheetStatuses(EMPTY, problems, files)
    statuses = pl.concat(frames).unique("task_id", keep="last", maintain_order=True)
    return SheetStatuses(statuses, problems, files)
