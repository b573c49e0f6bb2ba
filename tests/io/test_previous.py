"""Reading last month's folder back (segtool.io.previous): files as an analyst leaves them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segtool.config import Config
from segtool.errors import InputError
from segtool.io.previous import read_previous, read_task_statuses
from segtool.steps.migration import compare

SEGMENTS_CSV = "customer_id,company_name,segment,red_flags\n0012,ООО Альфа,new_active,\n"


def config(**extra) -> Config:
    return Config.model_validate({"inputs": {"orders": {"path": "o.csv"}}, **extra})


def workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def folder_with(tmp_path: Path, segments: str = SEGMENTS_CSV, **manifest) -> Path:
    folder = tmp_path / "october"
    folder.mkdir()
    (folder / "segments.csv").write_text(segments, encoding="utf-8")
    (folder / "manifest.json").write_text(
        json.dumps({"as_of": "2026-10-31", **manifest}), encoding="utf-8"
    )
    return folder


HEADER = ["Срок", "Статус", "Компания", "ID задачи"]


def test_the_task_sheet_is_found_by_its_header_not_its_position(tmp_path):
    path = workbook(
        tmp_path / "call_tasks.xlsx",
        {
            "Архив": [HEADER, ["01.10.2026", "открыта", "ООО Альфа", "t1"]],  # a backup copy
            "Звонки": [HEADER, ["01.10.2026", "выполнена", "ООО Альфа", "t1"]],
        },
    )
    notes: list[str] = []
    tasks = read_task_statuses(path, notes)
    assert tasks.select("task_id", "status").rows() == [("t1", "done")]
    assert notes == [
        f"{path}: statuses read from sheet «Звонки»; sheet(s) «Архив» also hold "
        "task ids and were not read"
    ]


def test_statuses_typed_on_the_owner_sheets_after_the_full_list_are_read(tmp_path):
    path = workbook(
        tmp_path / "call_tasks.xlsx",
        {
            "Архив": [HEADER, ["01.10.2026", "отказ", "ООО Альфа", "t1"]],  # a backup copy
            "Звонки": [
                HEADER,
                ["01.10.2026", "открыта", "ООО Альфа", "t1"],
                ["01.10.2026", "в работе", "АО Бета", "t2"],
                ["01.10.2026", "", "ИП Гамма", "t3"],
            ],
            "Петрова А.С.": [HEADER, ["01.10.2026", "выполнена", "ООО Альфа", "t1"]],
            "Орлов Д.А.": [
                HEADER,
                ["01.10.2026", "открыта", "АО Бета", "t2"],
                ["01.10.2026", "отказ", "ИП Гамма", "t3"],
            ],
        },
    )
    notes: list[str] = []
    tasks = read_task_statuses(path, notes)
    # typed on the owner's sheet wins over untouched in the full list, and the other way
    assert sorted(tasks.select("task_id", "status").rows()) == [
        ("t1", "done"),
        ("t2", "in_progress"),
        ("t3", "refused"),
    ]
    assert notes == [
        f"{path}: statuses read from sheet «Звонки»; sheet(s) «Архив» also hold "
        "task ids and were not read"
    ]


def test_a_sheet_without_task_ids_is_a_warning(tmp_path):
    path = workbook(
        tmp_path / "call_tasks.xlsx", {"Звонки": [["Срок", "Статус"], ["01.10.2026", "выполнена"]]}
    )
    notes: list[str] = []
    assert read_task_statuses(path, notes).height == 0
    assert len(notes) == 1 and "no column of task ids" in notes[0] and "issued again" in notes[0]


def test_a_folder_without_task_files_and_another_period_are_warnings(tmp_path):
    folder = folder_with(tmp_path, task_period="week")
    prev = read_previous(folder, config())
    assert prev.tasks.height == 0
    assert [w.split(";")[0] for w in prev.warnings] == [
        f"--previous {folder}: no call_tasks or mail_tasks file",
        f"--previous {folder} was made with tasks.period: week, this run uses month",
    ]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "remove the password"),
        (b"PK\x03\x04" + b"\0" * 40, "damaged or truncated"),
    ],
    ids=["password", "truncated"],
)
def test_unreadable_workbooks_are_one_line_saying_what_to_do(tmp_path, content, needle):
    folder = folder_with(tmp_path)
    (folder / "call_tasks.xlsx").write_bytes(content)
    with pytest.raises(InputError) as info:
        read_previous(folder, config())
    assert needle in info.value.message and "\n" not in info.value.message
    assert str(folder / "call_tasks.xlsx") in info.value.message


def test_a_csv_saved_under_the_xlsx_name_is_read_as_csv(tmp_path):
    folder = folder_with(tmp_path)
    (folder / "call_tasks.xlsx").write_text("task_id,status\nt1,done\n", encoding="utf-8")
    assert read_previous(folder, config()).tasks.select("task_id", "status").rows() == [
        ("t1", "done")
    ]


def test_task_csv_resaved_by_excel_semicolon_and_cp1251(tmp_path):
    folder = folder_with(tmp_path)
    (folder / "call_tasks.csv").write_bytes(
        "ID задачи;Статус;Компания\nt1;выполнена;ООО Альфа\nt2;отказ;ЗАО Бета\n"
        "t3;;ИП Гамма\n".encode("cp1251")
    )
    prev = read_previous(folder, config())
    assert prev.tasks.select("task_id", "status", "company_name").rows() == [
        ("t1", "done", "ООО Альфа"),
        ("t2", "refused", "ЗАО Бета"),
        ("t3", "open", "ИП Гамма"),
    ]
    assert prev.warnings == []


def test_a_task_csv_utf8_at_the_start_and_cp1251_further_on_is_read_as_cp1251(tmp_path):
    """The whole file is one encoding: Windows-1251 past the first 64 KiB (the header and
    the first rows in plain ASCII) still reads every word as written."""
    folder = folder_with(tmp_path)
    filler = "".join(f"t{n},done,Filler {n}\n" for n in range(4000))
    assert len(filler) > 1 << 16
    (folder / "call_tasks.csv").write_bytes(
        ("task_id,status,company_name\n" + filler + "x9,отказ,ООО Альфа\n").encode("cp1251")
    )
    tasks = read_previous(folder, config()).tasks
    assert tasks.filter(pl.col("task_id") == "x9").select("status", "company_name").rows() == [
        ("refused", "ООО Альфа")
    ]
    assert tasks.height == 4001


def test_task_csv_with_a_bom_in_a_folder_named_like_a_pattern(tmp_path):
    """A UTF-8 file with a BOM reads its first column by name; ``[1]*`` in the folder's name
    is a name, not a pattern."""
    folder = folder_with(tmp_path).rename(tmp_path / "out [1]*")
    (folder / "call_tasks.csv").write_bytes(
        "\ufefftask_id,status,company_name\nt1,в работе,ООО Альфа\n".encode()
    )
    assert read_previous(folder, config()).tasks.select("task_id", "status").rows() == [
        ("t1", "in_progress")
    ]


def test_segments_csv_resaved_by_excel_with_escaped_ids_match_again(tmp_path):
    """`;`, cp1251, and ids segtool wrote escaped ('-12, '+7): nobody is new or gone."""
    text = (
        "customer_id;company_name;segment;red_flags\n'-12;'=ООО Минус;new_active;\n"
        "'+7;ООО Плюс;regular_active;overdue\n0012;ООО Альфа;new_active;\n"
    )
    folder = folder_with(tmp_path, segments="")
    (folder / "segments.csv").write_bytes(text.encode("cp1251"))
    prev = read_previous(folder, config())
    assert prev.segments["customer_id"].to_list() == ["-12", "+7", "0012"]
    assert prev.segments["company_name"].to_list()[0] == "=ООО Минус"
    current = pl.DataFrame(
        {
            "customer_id": ["-12", "+7", "0012"],
            "segment": ["new_active", "regular_active", "new_active"],
        }
    )
    counts = compare(current, prev).counts
    assert (counts["new"], counts["gone"], counts["moved"]) == (0, 0, 0)


def test_ids_excel_turned_into_numbers_are_a_warning(tmp_path):
    folder = folder_with(tmp_path, segments="customer_id;segment\n7,71E+09;new_active\n")
    prev = read_previous(folder, config())
    assert (
        len(prev.warnings) == 2
        and "1 customer ids look like numbers Excel rewrote" in (prev.warnings[0])
    )


def test_the_task_file_the_analyst_changed_last_is_read(tmp_path):
    folder = folder_with(tmp_path, outputs=["call_tasks.xlsx", "call_tasks.csv"])
    workbook(folder / "call_tasks.xlsx", {"Звонки": [HEADER, ["", "", "", "t1"]]})
    csv = folder / "call_tasks.csv"
    csv.write_text("task_id,status\nt1,done\n", encoding="utf-8")
    later = (folder / "call_tasks.xlsx").stat().st_mtime_ns + 10**9
    os.utime(csv, ns=(later, later))
    assert read_previous(folder, config()).tasks["status"].to_list() == ["done"]


@settings(max_examples=200)
@given(
    st.lists(
        st.text(max_size=12).filter(lambda t: t.strip() == t and t != "" and t[0] != "'"),
        min_size=1,
        max_size=8,
        unique=True,
    )
)
def test_ids_written_by_segtool_read_back_as_they_were(tmp_path_factory, ids):
    """Whatever the id, escaped on the way out, it is the same id on the way back.

    (Not for an id that itself starts with an apostrophe before ``= + - @``: it reads back
    without the apostrophe. No CRM id looks like that.)"""
    from segtool.io.csv_out import csv_bytes

    folder = tmp_path_factory.mktemp("prev")
    frame = pl.DataFrame({"customer_id": ids, "segment": ["new_active"] * len(ids)})
    (folder / "segments.csv").write_bytes(csv_bytes(frame, config().export.csv))
    prev = read_previous(folder, config())
    assert prev.segments["customer_id"].to_list() == ids


def test_ids_that_lost_their_leading_zeros_are_named_in_a_warning(tmp_path):
    """Excel re-saved segments.csv: 0012 became 12, so one customer looks gone and new."""
    from segtool.io.previous import lost_zeros_warning

    folder = folder_with(tmp_path, segments="customer_id;segment\n12;new_active\n7;new_active\n")
    current = pl.DataFrame(
        {
            "customer_id": ["0012", "0007", "0099"],
            "segment": ["new_active", "new_active", "new_active"],
        }
    )
    migration = compare(current, read_previous(folder, config()))
    assert (migration.counts["new"], migration.counts["gone"]) == (3, 2)
    warning = lost_zeros_warning(migration.movers, folder)
    assert warning is not None
    assert warning.startswith(
        f"--previous {folder}: 2 customers count as gone and new at once "
        "because their ids lost leading zeros (e.g. "
    )
    same = pl.DataFrame({"customer_id": ["12", "7"], "segment": ["new_active", "new_active"]})
    assert lost_zeros_warning(compare(same, read_previous(folder, config())).movers, folder) is None
