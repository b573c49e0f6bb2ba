"""Workbook writer: headers, formats, frozen panes, autofilter, drop-downs, split sheets."""

from __future__ import annotations

import datetime as dt
import time

import openpyxl
import polars as pl
import pytest
import xlsxwriter

from segtool.io.xlsx import Book, Column


def table() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "name": ["=1+2", "ООО Альфа", None],
            "amount": [1234.5, None, 7.0],
            "due": [dt.date(2026, 11, 5), dt.date(2026, 1, 1), None],
            "flag": [True, False, None],
            "status": ["открыта", "в работе", "открыта"],
        }
    )


COLUMNS = [
    Column("name", "Клиент"),
    Column("amount", "Сумма", "money"),
    Column("due", "Срок", "date"),
    Column("flag", "Приоритет", "bool"),
    Column("status", "Статус", choices=["открыта", "в работе", "выполнена", "отказ"]),
]


def test_table_sheet_is_ready_for_review(tmp_path):
    path = tmp_path / "t.xlsx"
    with Book(path, "ru") as book:
        book.write_table("Задачи", table(), COLUMNS, freeze_cols=1)
    ws = openpyxl.load_workbook(path)["Задачи"]
    assert [c.value for c in ws[1]] == ["Клиент", "Сумма", "Срок", "Приоритет", "Статус"]
    assert ws.freeze_panes == "B2"
    assert ws.auto_filter.ref == "A1:E4"
    assert ws["A2"].value == "'=1+2" and ws["A2"].data_type == "s"
    assert ws["B2"].value == 1234.5 and ws["B2"].number_format == "#,##0.00"
    assert ws["C2"].value == dt.datetime(2026, 11, 5) and ws["C2"].number_format == "dd.mm.yyyy"
    assert ws["D2"].value is True
    assert ws["B3"].value is None
    validation = ws.data_validations.dataValidation[0]
    assert validation.type == "list"
    assert validation.formula1 == '"открыта,в работе,выполнена,отказ"'
    assert "E2" in validation.sqref
    assert 8 <= ws.column_dimensions["A"].width <= 60


def test_long_tables_are_split_with_a_warning(tmp_path):
    path = tmp_path / "big.xlsx"
    frame = pl.DataFrame({"name": [f"c{i}" for i in range(250)]})
    with Book(path, "en") as book:
        names = book.write_table("Customers", frame, [Column("name", "Name")], max_rows=100)
    assert names == ["Customers", "Customers 2", "Customers 3"]
    assert "250 rows do not fit one sheet" in book.warnings[0]
    wb = openpyxl.load_workbook(path)
    assert [wb[n].max_row for n in names] == [101, 101, 51]
    assert wb["Customers 3"]["A51"].value == "c249"


@pytest.mark.bench
def test_speed_close_to_bare_xlsxwriter(tmp_path):
    n = 200_000
    frame = pl.DataFrame(
        {
            "a": [f"name {i}" for i in range(n)],
            "b": [float(i) for i in range(n)],
            "c": [dt.date(2026, 1, 1)] * n,
            "d": [f"x{i}" for i in range(n)],
        }
    )
    start = time.perf_counter()
    wb = xlsxwriter.Workbook(str(tmp_path / "bare.xlsx"), {"constant_memory": True})
    ws = wb.add_worksheet()
    for r, row in enumerate(frame.iter_rows()):
        ws.write_row(r, 0, row)
    wb.close()
    bare = time.perf_counter() - start
    start = time.perf_counter()
    with Book(tmp_path / "ours.xlsx") as book:
        book.write_table(
            "S",
            frame,
            [
                Column("a", "A"),
                Column("b", "B", "money"),
                Column("c", "C", "date"),
                Column("d", "D"),
            ],
        )
    ours = time.perf_counter() - start
    assert ours <= 1.3 * bare, (ours, bare)


def test_wrapped_column_rows_are_tall_enough_and_print_setup(tmp_path):
    """50 characters in a 20-wide wrapped column take 3 lines (19 a line): 45 points; a row
    with a line break in short text takes 2; the print area is the first two columns."""
    from segtool.io.xlsx import PrintSetup, header_lines

    path = tmp_path / "w.xlsx"
    frame = pl.DataFrame(
        {"who": ["a", "b", "c"], "say": ["x" * 50, "hi\nthere", None], "id": ["1", "2", "3"]}
    )
    columns = [
        Column("who", "Клиент"),
        Column("say", "Скрипт", width=20, wrap=True),
        Column("id", "Код задачи"),
    ]
    with Book(path, "ru") as book:
        book.write_table("Звонки", frame, columns, printing=PrintSetup(columns=2))
    ws = openpyxl.load_workbook(path)["Звонки"]
    assert ws["B2"].alignment.wrap_text and not ws["A2"].alignment.wrap_text
    assert [ws.row_dimensions[r].height for r in (2, 3, 4)] == [45, 30, 15]
    assert ws.print_area == "'Звонки'!$A$1:$B$4"
    assert ws.print_title_rows == "$1:$1" and ws.page_setup.orientation == "landscape"
    assert ws.page_setup.fitToHeight == 0 and ws.sheet_properties.pageSetUpPr.fitToPage
    assert header_lines("Дней с последнего заказа", 12) == 3  # «Дней с» «последнего» «заказа»
    assert header_lines("Клиент", 8) == 1
