"""CSV writer: delimiter, BOM, encoding, ISO dates, '.' decimals, formula escaping."""

from __future__ import annotations

import datetime as dt
import io
import os

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from segtool.config import CsvOptions
from segtool.io.csv_out import csv_bytes, escape_frame

HOSTILE = [
    "=1+2",
    "+SUM(A1:A2)",
    "-2+3",
    "@cmd",
    "\tTAB",
    "\rCR",
    '=HYPERLINK("http://x")',
    "-cmd|' /C calc'!A0",
]


def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": ["0012", "17"],
            "company_name": ["ООО «Ромашка»; филиал", "=1+2"],
            "revenue": [1234.5, -10.25],
            "last_order_date": [dt.date(2026, 1, 2), None],
            "priority": [True, False],
        }
    )


def test_round_trip_keeps_text_ids_dates_and_decimals():
    data = csv_bytes(frame(), CsvOptions())
    text = data.decode("utf-8")
    assert text.splitlines()[0] == "customer_id,company_name,revenue,last_order_date,priority"
    assert "1234.5" in text and "2026-01-02" in text
    back = pl.read_csv(
        io.BytesIO(data), schema_overrides={"customer_id": pl.String}, try_parse_dates=True
    )
    assert back["customer_id"].to_list() == ["0012", "17"]
    assert back["revenue"].to_list() == [1234.5, -10.25]
    assert back["last_order_date"].to_list() == [dt.date(2026, 1, 2), None]
    assert back["company_name"].to_list() == ["ООО «Ромашка»; филиал", "'=1+2"]


def test_semicolon_bom_and_cp1251():
    data = csv_bytes(frame(), CsvOptions(delimiter=";", bom=True))
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").splitlines()[1].startswith('0012;"ООО «Ромашка»; филиал";')
    cp = csv_bytes(frame(), CsvOptions(encoding="cp1251"))
    assert "ООО «Ромашка»" in cp.decode("cp1251")


def test_hostile_text_is_escaped_with_an_apostrophe():
    escaped = escape_frame(pl.DataFrame({"company_name": HOSTILE + ["safe", None]}))
    assert escaped["company_name"].to_list() == ["'" + h for h in HOSTILE] + ["safe", None]


def test_phone_numbers_are_left_alone_but_formulas_in_phone_are_not():
    escaped = escape_frame(
        pl.DataFrame({"phone": ["+7 (495) 123-45-67", "+1 555.0100", "=1+2", "+7 1) & =cmd"]})
    )
    assert escaped["phone"].to_list() == [
        "+7 (495) 123-45-67",
        "+1 555.0100",
        "'=1+2",
        "'+7 1) & =cmd",
    ]


def test_phone_numbers_are_escaped_in_csv():
    """Excel opening a CSV computes +7-900-123-45-67 (= -1133); the workbooks keep the
    number as it is in a text cell."""
    frame = pl.DataFrame(
        {
            "phone": ["+7-900-123-45-67", "8 900 123-45-67", "=1+2", None],
            "company_name": ["+7-900", "ООО Альфа", "-1", "@x"],
        }
    )
    text = csv_bytes(frame, CsvOptions()).decode("utf-8")
    assert text.splitlines() == [
        "phone,company_name",
        "'+7-900-123-45-67,'+7-900",
        "8 900 123-45-67,ООО Альфа",
        "'=1+2,'-1",
        ",'@x",
    ]


@given(st.lists(st.text(max_size=20), min_size=1, max_size=20))
def test_no_written_cell_starts_like_a_formula(values):
    out = escape_frame(pl.DataFrame({"name": values}, schema={"name": pl.String}))
    for value in out["name"]:
        assert not value or value[0] not in "=+-@\t\r"


@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("rows", [0, 1, 7, 9])
def test_write_csv_streams_the_bytes_of_csv_bytes(tmp_path, bom, rows):
    from segtool.io import csv_out

    frame = pl.DataFrame(
        {
            "customer_id": [f"{i:04d}" for i in range(rows)],
            "company_name": [f"=ООО «Ромашка {i}», склад" for i in range(rows)],
            "due_date": [dt.date(2026, 11, 1 + i) for i in range(rows)],
            "expected_value": [i * 1000.5 for i in range(rows)],
        },
        schema={
            "customer_id": pl.String,
            "company_name": pl.String,
            "due_date": pl.Date,
            "expected_value": pl.Float64,
        },
    )
    options = CsvOptions(delimiter=";", bom=bom)
    path = tmp_path / "out.csv"
    csv_out.write_csv(frame, path, options)
    data = path.read_bytes()
    assert data == csv_out.csv_bytes(frame, options)
    text = data.decode("utf-8-sig")
    assert text.count("\n") == rows + 1  # one header
    assert data.startswith(b"\xef\xbb\xbf") == bom


@given(
    amounts=st.lists(
        st.one_of(st.none(), st.floats(-1e12, 1e12, allow_nan=False)), min_size=1, max_size=20
    ),
    text=st.text(alphabet="ab;,.\"' \n0123", max_size=8),
)
def test_excel_ru_reads_back_to_the_machine_values(amounts, text):
    """Whatever the numbers and text, the excel-ru file read with ';', decimal comma and
    dd.mm.yyyy gives the frame the machine file gives: only the notation differs."""
    days = [dt.date(2000, 1, 1) + dt.timedelta(days=37 * i) for i in range(len(amounts))]
    frame = pl.DataFrame(
        {
            "customer_id": [f"00{i}" for i in range(len(amounts))],
            "amount": pl.Series(amounts, dtype=pl.Float64),
            "day": days,
            "note": [text] * len(amounts),
            "flag": [i % 2 == 0 for i in range(len(amounts))],
        }
    )
    machine = pl.read_csv(csv_bytes(frame, CsvOptions()), infer_schema=False)
    raw = csv_bytes(frame, CsvOptions(dialect="excel-ru"))
    assert raw.startswith(b"\xef\xbb\xbf")
    excel = pl.read_csv(raw[3:], separator=";", infer_schema=False)
    back = excel.with_columns(
        pl.col("amount").str.replace(",", ".", literal=True).cast(pl.Float64),
        pl.col("day").str.to_date("%d.%m.%Y"),
    )
    expected = machine.with_columns(
        pl.col("amount").cast(pl.Float64), pl.col("day").str.to_date("%Y-%m-%d")
    )
    assert back.equals(expected)
    assert back["amount"].to_list() == frame["amount"].to_list()


def test_a_full_disk_while_polars_writes_is_an_oserror(tmp_path, monkeypatch):
    import errno
    from pathlib import Path

    from segtool.io import csv_out

    class Full:
        def __init__(self):
            self.written = 0

        def write(self, data):
            self.written += len(data)
            if self.written > 4096:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return len(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(Path, "open", lambda self, mode="r": Full())
    frame = pl.DataFrame({"name": [f"ООО «Ромашка {i}»" for i in range(20_000)]})
    with pytest.raises(OSError) as caught:
        csv_out.write_csv(frame, tmp_path / "out.csv", CsvOptions())
    assert caught.value.errno == errno.ENOSPC
