"""Reading task statuses back from the task sheets of an earlier run.

Per task list (``call_tasks``, ``mail_tasks``) the ``.xlsx`` is read, or the ``.csv``
where there is no xlsx or the csv was saved later. The header is found by name (RU/EN
labels or snake_case keys, in any of the first ten rows), so moved columns, sorted,
filtered or deleted rows do not matter: rows are matched to tasks by ``task_id``. A status
is read in any case, in Russian or English or as its code; an empty cell is ``open``. An
unknown value is reported with file, row and value, and that task keeps its status.

The reading itself is :mod:`segtool.io.previous`'s, the same as for ``--previous``.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from segtool.errors import SegtoolError
from segtool.io.previous import TASK_WORKBOOKS, read_task_rows

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


def read_sheet_statuses(path: Path) -> tuple[pl.DataFrame, list[str]]:
    """(task_id, status, source_file, source_row, saved_on) rows and problems of one file.

    The file is read as ``--previous`` reads it (:func:`segtool.io.previous.read_task_rows`:
    the task sheet found by its header, Excel-resaved CSVs, escaped ids). ``source_row`` is
    the row as a spreadsheet counts it (header = 1 on our sheets). A file that cannot be
    read at all is one problem line, and the statuses in history stay as they were.
    """
    path = Path(path)
    problems: list[str] = []
    try:
        rows = read_task_rows(path, problems)
        saved_on = dt.datetime.fromtimestamp(os.stat(path).st_mtime).date()
    except SegtoolError as exc:
        return EMPTY, [f"{exc.message}; statuses in history were kept as they were"]
    except OSError as exc:
        return EMPTY, [
            f"{path}: cannot read the task statuses ({exc.strerror or exc}); "
            "statuses in history were kept as they were"
        ]
    unknown = rows.filter(pl.col("status").is_null())
    problems += [
        f"{path.name}:{row}: status {raw!r} is not one of открыта / в работе / "
        f"выполнена / отказ (open, in_progress, done, refused); task {task} kept as it was"
        for task, raw, row in unknown.select("task_id", "raw_status", "source_row").iter_rows()
    ]
    known = rows.filter(pl.col("status").is_not_null()).select(
        "task_id",
        "status",
        pl.lit(path.name).alias("source_file"),
        "source_row",
        pl.lit(saved_on).alias("saved_on"),
    )
    return known, problems


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
