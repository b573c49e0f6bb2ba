"""Reading statuses back from task sheets as people leave them (segtool.history.sheets)."""

from __future__ import annotations

import os
import time

import openpyxl
import polars as pl

from segtool.history.sheets import read_folder_statuses, read_sheet_statuses, task_sheet_files


def _book(path, header, rows, title="Звонки"):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)


def test_columns_moved_rows_sorted_and_statuses_in_any_spelling(tmp_path):
    path = tmp_path / "call_tasks.xlsx"
    _book(
        path,
        ["Клиент", "Статус", "Срок", "Код задачи"],  # moved; other columns deleted
        [
            ["ООО В", "ВЫПОЛНЕНА", None, "t3"],
            ["ООО А", " в  работе ", None, "t1"],
            ["ООО Б", "Refused", None, "t2"],
            [None, None, None, None],  # a blank row left by a filter
            ["ООО Г", "in_progress", None, "t4"],
            ["ООО Д", None, None, "t5"],  # emptied: open
            ["ООО Е", "Done", None, "t6"],
            ["ООО Ж", "созвонились", None, "t7"],  # unknown
            ["ООО З", "отказ", None, "t8"],
        ],
    )
    frame, problems = read_sheet_statuses(path)
    assert frame.select("task_id", "status", "source_row").rows() == [
        ("t3", "done", 2),
        ("t1", "in_progress", 3),
        ("t2", "refused", 4),
        ("t4", "in_progress", 6),
        ("t5", "open", 7),
        ("t6", "done", 8),
        ("t8", "refused", 10),
    ]
    assert set(frame["source_file"]) == {"call_tasks.xlsx"}
    assert problems == [
        "call_tasks.xlsx:9: status 'созвонились' is not one of открыта / в работе / "
        "выполнена / отказ (open, in_progress, done, refused); task t7 kept as it was"
    ]


def test_english_headers_a_title_row_and_a_second_sheet(tmp_path):
    path = tmp_path / "mail_tasks.xlsx"
    book = openpyxl.Workbook()
    first = book.active
    first.append(["Mail tasks, October"])  # a title row above the header
    first.append(["Task ID", "Status"])
    first.append(["m1", "open"])
    second = book.create_sheet("Mail (2)")
    second.append(["Status", "Task ID"])
    second.append(["done", "m2"])
    book.save(path)
    frame, problems = read_sheet_statuses(path)
    # one task sheet is read (a second sheet with task ids may be a backup copy): the first,
    # and the other is named in a problem line
    assert frame.select("task_id", "status", "source_row").rows() == [("m1", "open", 3)]
    assert len(problems) == 1 and "«Mail (2)»" in problems[0], problems


def test_csv_saved_by_excel_with_semicolons(tmp_path):
    path = tmp_path / "call_tasks.csv"
    path.write_bytes(
        "\ufefftask_id;customer_id;status\nc1;0001;Выполнена\nc2;0002;\n".encode("utf-8")
    )
    frame, problems = read_sheet_statuses(path)
    assert frame.select("task_id", "status").rows() == [("c1", "done"), ("c2", "open")]
    assert problems == []


def test_the_csv_is_read_when_alone_or_saved_after_the_workbook(tmp_path):
    xlsx, csv = tmp_path / "call_tasks.xlsx", tmp_path / "call_tasks.csv"
    _book(xlsx, ["task_id", "status"], [["x", "done"]])
    csv.write_text("task_id,status\nx,refused\n", encoding="utf-8")
    now = time.time()
    os.utime(csv, (now - 60, now - 60))
    os.utime(xlsx, (now, now))
    assert task_sheet_files(tmp_path) == [xlsx]
    os.utime(csv, (now + 60, now + 60))
    assert task_sheet_files(tmp_path) == [csv]
    assert read_folder_statuses(tmp_path).statuses["status"].to_list() == ["refused"]
    xlsx.unlink()
    (tmp_path / "mail_tasks.csv").write_text("task_id,status\nm,in_progress\n", "utf-8")
    read = read_folder_statuses(tmp_path)
    assert read.statuses.select("task_id", "status").rows() == [
        ("x", "refused"),
        ("m", "in_progress"),
    ]


def test_an_unreadable_workbook_is_reported_not_fatal(tmp_path):
    path = tmp_path / "call_tasks.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not a zip file")
    frame, problems = read_sheet_statuses(path)
    assert frame.height == 0 and frame.schema["task_id"] == pl.String
    assert len(problems) == 1, problems
    assert "save it again" in problems[0] and "kept as they were" in problems[0]
