"""Table data rows written as sheet XML: the values, styles and sheet features readers see."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import zipfile

import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils.escape import unescape

from segtool.io.xlsx import Book, Column, _prepare

TEXTS = [
    'a & b < c > d \' "q"',
    "  leading spaces",
    "trailing ",
    "line\nbreak",
    "ctl\x01\x1f\x0b",
    "_x0041_ literal",
    "emoji 😀 and 𝄞",
    "ООО «Ромашка»",
    "=1+1",
    None,
    "",
]
INTS = [0, 7, -12, 1_000_000, None, 3, 4, 5, 6, 8, 9]
FLOATS = [0.1, 1e-7, 123456789.123, -0.5, None, 1e20, -1e-300, 2.5, 1 / 3, 0.0, 19821.45]
DATES = [
    dt.date(2026, 11, 5),
    dt.date(1900, 3, 1),
    None,
    dt.date(2099, 12, 31),
    *[dt.date(2026, 1, d) for d in range(1, 8)],
]
BOOLS = [True, False, None, True, False, True, False, True, False, True, None]


def every_kind() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "text": TEXTS,
            "int": INTS,
            "number": FLOATS,
            "money": FLOATS,
            "percent": FLOATS,
            "date": DATES,
            "bool": BOOLS,
            "status": ["открыта", None, *["в работе"] * 9],
        },
        schema_overrides={"int": pl.Int64},
    )


COLUMNS = [
    Column("text", "Текст"),
    Column("int", "Целое", "int"),
    Column("number", "Число", "number"),
    Column("money", "Сумма", "money"),
    Column("percent", "Доля", "percent"),
    Column("date", "Дата", "date"),
    Column("bool", "Флаг", "bool"),
    Column("status", "Статус", choices=["открыта", "в работе", "выполнена"]),
]

# what the reader gets back for TEXTS: formulas quoted, control characters kept
EXPECTED_TEXT = [
    'a & b < c > d \' "q"',
    "  leading spaces",
    "trailing ",
    "line\nbreak",
    "ctl\x01\x1f\x0b",
    "_x0041_ literal",
    "emoji 😀 and 𝄞",
    "ООО «Ромашка»",
    "'=1+1",
    None,
    "",
]


def write(path, frame=None, columns=COLUMNS, **options):
    with Book(path, "ru") as book:
        names = book.write_table(
            "Данные", every_kind() if frame is None else frame, columns, **options
        )
    return names


def sheet_data(path, member="xl/worksheets/sheet1.xml") -> str:
    xml = zipfile.ZipFile(path).read(member).decode()
    return xml[xml.index("<sheetData>") : xml.index("</sheetData>")]


def reference(path, frame, columns) -> None:
    """The same table written cell by cell through xlsxwriter (the slow path)."""
    data = _prepare(frame, columns)
    with Book(path, "ru") as book:
        ws = book.sheet("Данные")
        for index, column in enumerate(columns):
            ws.set_column(index, index, 10, book.formats[column.kind])
            ws.write_string(0, index, column.header, book.formats["header"])
        for row, values in enumerate(data.iter_rows(), start=1):
            for col, value in enumerate(values):
                if value is None:
                    continue
                kind = columns[col].kind
                if kind == "text":
                    ws.write_string(row, col, value)
                elif kind == "bool":
                    ws.write_boolean(row, col, value)
                else:
                    ws.write_number(row, col, value)


def test_values_come_back_as_written(tmp_path):
    path = tmp_path / "t.xlsx"
    write(path)
    ws = openpyxl.load_workbook(path)["Данные"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 11
    got = list(zip(*rows, strict=True))
    assert [None if v is None else unescape(v) for v in got[0]] == EXPECTED_TEXT
    assert list(got[1]) == INTS
    for index in (2, 3, 4):
        assert list(got[index]) == FLOATS  # exact: the shortest repr round-trips
    assert [None if v is None else v.date() for v in got[5]] == DATES
    assert list(got[6]) == BOOLS
    assert got[7][:2] == ("открыта", None)


def test_column_styles_and_sheet_features(tmp_path):
    path = tmp_path / "t.xlsx"
    write(path, freeze_cols=1)
    ws = openpyxl.load_workbook(path)["Данные"]
    formats = [ws.cell(2, c).number_format for c in range(1, 9)]
    assert formats == [
        "General",
        "#,##0",
        "#,##0.00",
        "#,##0.00",
        "0.0%",
        "dd.mm.yyyy",
        "General",
        "General",
    ]
    assert ws["A2"].quotePrefix and ws["G2"].alignment.horizontal == "center"
    assert ws["A1"].font.b and ws["A1"].value == "Текст"
    assert ws.freeze_panes == "B2"
    assert ws.auto_filter.ref == "A1:H12"
    assert ws.dimensions == "A1:H12"
    validation = ws.data_validations.dataValidation[0]
    assert validation.formula1 == '"открыта,в работе,выполнена"'
    assert str(validation.sqref) == "H2:H1001"
    assert ws.print_title_rows == "$1:$1"


def test_cells_are_the_ones_xlsxwriter_writes(tmp_path):
    # numbers whose shortest repr equals xlsxwriter's "%.16G" text
    frame = every_kind().with_columns(
        pl.Series("number", [0.5, 12.0, None, -3.25, 1e20, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0])
    )
    columns = [c for c in COLUMNS if c.kind in ("text", "number", "date", "bool")]
    write(tmp_path / "fast.xlsx", frame, columns)
    reference(tmp_path / "slow.xlsx", frame, columns)
    assert sheet_data(tmp_path / "fast.xlsx") == sheet_data(tmp_path / "slow.xlsx")


def test_second_reader_agrees(tmp_path):
    path = tmp_path / "t.xlsx"
    write(path)
    got = pl.read_excel(path, sheet_name="Данные", engine="calamine")
    assert got.columns == [c.header for c in COLUMNS]
    assert got["Текст"].to_list() == EXPECTED_TEXT
    assert got["Целое"].to_list() == INTS
    assert got["Сумма"].to_list() == FLOATS
    assert got["Дата"].cast(pl.Date).to_list() == DATES
    assert got["Флаг"].to_list() == BOOLS


def test_split_sheets_hold_their_own_rows(tmp_path):
    path = tmp_path / "t.xlsx"
    frame = pl.DataFrame({"name": [f"c{i}" for i in range(7)], "n": list(range(7))})
    columns = [Column("name", "Имя"), Column("n", "N", "int")]
    names = write(path, frame, columns, max_rows=3)
    assert names == ["Данные", "Данные 2", "Данные 3"]
    wb = openpyxl.load_workbook(path)
    assert [[r for r in wb[n].iter_rows(min_row=2, values_only=True)] for n in names] == [
        [("c0", 0), ("c1", 1), ("c2", 2)],
        [("c3", 3), ("c4", 4), ("c5", 5)],
        [("c6", 6)],
    ]
    assert [wb[n].dimensions for n in names] == ["A1:B4", "A1:B4", "A1:B2"]
    assert [wb[n]["B2"].number_format for n in names] == ["#,##0"] * 3


def test_summary_sheet_before_a_table_keeps_its_cells(tmp_path):
    path = tmp_path / "t.xlsx"
    with Book(path, "en") as book:
        ws = book.sheet("Summary")
        ws.write_string(0, 0, "title", book.formats["title"])
        ws.write_number(1, 1, 42)
        book.write_table("Rows", pl.DataFrame({"a": ["x", "y"]}), [Column("a", "A")])
        book.write_table(
            "Empty", pl.DataFrame({"a": []}, schema={"a": pl.String}), [Column("a", "A")]
        )
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Summary", "Rows", "Empty"]
    assert wb["Summary"]["A1"].value == "title" and wb["Summary"]["B2"].value == 42
    assert [c.value for c in wb["Rows"]["A"]] == ["A", "x", "y"]
    assert wb["Empty"].max_row == 1
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_text_longer_than_excel_allows_is_cut_like_xlsxwriter(tmp_path):
    frame = pl.DataFrame({"text": ["a" * 32_766 + "😀", "😀" * 20_000 + "b", "short"]})
    columns = [Column("text", "T")]
    write(tmp_path / "fast.xlsx", frame, columns)
    reference(tmp_path / "slow.xlsx", frame, columns)
    assert sheet_data(tmp_path / "fast.xlsx") == sheet_data(tmp_path / "slow.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "fast.xlsx").active
    assert ws["A2"].value == "a" * 32_766 and ws["A3"].value == "😀" * 16_383


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_TEXT, min_size=1, max_size=30))
def test_any_text_round_trips(tmp_path, texts):
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String})
    columns = [Column("text", "T")]
    path = tmp_path / "fast.xlsx"
    write(path, frame, columns)
    expected = _prepare(frame, columns)["text"].to_list()  # formula escaping only
    ws = openpyxl.load_workbook(path)["Данные"]
    got = [unescape(r[0]) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert got == expected
    reference(tmp_path / "slow.xlsx", frame, columns)
    assert sheet_data(path) == sheet_data(tmp_path / "slow.xlsx")


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_reads_the_rows(tmp_path):
    path = tmp_path / "t.xlsx"
    frame = pl.DataFrame(
        {
            "name": ["a & b", "ООО «Ромашка»", "=1+1"],
            "n": [1.5, None, -2.0],
            "day": [dt.date(2026, 11, 5), None, dt.date(2026, 1, 1)],
        }
    )
    write(
        path,
        frame,
        [Column("name", "Имя"), Column("n", "N", "number"), Column("day", "Дата", "date")],
    )
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76",
            "--outdir",
            str(tmp_path),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    lines = (tmp_path / "t.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Имя,N,Дата"
    assert lines[1:] == ["a & b,1.50,05.11.2026", "ООО «Ромашка»,,", "'=1+1,-2.00,01.01.2026"]
    assert re.fullmatch(r"[^,]*,[^,]*,[^,]*", lines[2])
