"""Hostile and broken inputs: each one ends in one clear line and exit 2 or 3, or is read
with the bad rows rejected and counted in rejects.csv. Never a traceback, never a row lost
without a count.

Every case runs the real command line in process (``segtool.cli.main``), so what is
asserted is what a user sees on stderr.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
from clirun import Result, assert_one_error, cli  # noqa: F401 - shared CLI test helpers

# -- helpers ------------------------------------------------------------------------------
from segtool.errors import EXIT_DATA, EXIT_INPUT, EXIT_OK, EXIT_USAGE


def project(
    tmp_path: Path,
    orders: str | bytes,
    name: str = "orders.csv",
    extra: str = "",
    orders_key: str | None = None,
) -> Path:
    """An orders export and a config naming it; returns the config path."""
    path = tmp_path / name
    if isinstance(orders, str):
        orders = orders.encode("utf-8")
    path.write_bytes(orders)
    config = tmp_path / "segtool.yaml"
    spec = orders_key or f"{{path: '{name}'}}"
    config.write_text(f"inputs:\n  orders: {spec}\n{extra}", encoding="utf-8")
    return config


def ingest(capsys, config: Path) -> Result:
    return cli(capsys, "ingest", "--config", config, "--workspace", config.parent / "ws")


def rejects(config: Path) -> list[tuple[str, int, str, str]]:
    """(file, row, column, reason) of every line of the workspace's rejects.csv."""
    text = (config.parent / "ws" / "rejects.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    return [(r["file"], int(r["row"]), r["column"], r["reason"]) for r in rows]


def reject_values(config: Path) -> dict[int, str]:
    text = (config.parent / "ws" / "rejects.csv").read_text(encoding="utf-8")
    return {int(r["row"]): r["value"] for r in csv.DictReader(io.StringIO(text))}


def orders(config: Path) -> pl.DataFrame:
    return pl.read_parquet(config.parent / "ws" / "orders.parquet")


def accounting(result: Result, name: str) -> tuple[int, int, int, int]:
    """(read, accepted, rejected, duplicates) from the per-file line on stderr."""
    import re

    for line in result.err.splitlines():
        m = re.match(
            rf"{re.escape(name)}: ([\d ]+) rows read = ([\d ]+) accepted \+ "
            r"([\d ]+) rejected \+ ([\d ]+) duplicates",
            line,
        )
        if m:
            return tuple(int(g.replace(" ", "")) for g in m.groups())  # type: ignore[return-value]
    raise AssertionError(f"no accounting line for {name}: {result.err}")


HEADER = "ИНН;Контрагент;Дата;Сумма\n"


# -- whole-file problems ------------------------------------------------------------------
def test_empty_file(tmp_path, capsys):
    config = project(tmp_path, b"")
    assert_one_error(ingest(capsys, config), EXIT_INPUT, "orders.csv", "empty")


def test_only_bom_and_blank_lines(tmp_path, capsys):
    config = project(tmp_path, b"\xef\xbb\xbf\r\n\r\n  \n")
    assert_one_error(ingest(capsys, config), EXIT_INPUT, "orders.csv", "empty")


def test_header_only_is_read_as_zero_rows_with_a_warning(tmp_path, capsys):
    config = project(tmp_path, HEADER)
    result = ingest(capsys, config)
    assert result.code == EXIT_OK and "Traceback" not in result.err
    assert accounting(result, "orders.csv") == (0, 0, 0, 0)
    assert "warning: orders.csv: no data rows below the header" in result.err
    assert orders(config).height == 0


def test_header_only_run_stops_with_one_line(tmp_path, capsys):
    config = project(tmp_path, HEADER)
    result = cli(capsys, "run", "--config", config, "--out", tmp_path / "out")
    assert_one_error(result, EXIT_INPUT, "no order lines accepted")


def test_header_only_run_names_the_file(tmp_path, capsys):
    config = project(tmp_path, HEADER)
    result = cli(capsys, "run", "--config", config, "--out", tmp_path / "out")
    assert_one_error(result, EXIT_INPUT, "orders.csv")


def test_no_recognisable_columns_lists_found_and_expected(tmp_path, capsys):
    config = project(tmp_path, "foo;bar;Примечание\n1;2;3\n")
    line = assert_one_error(ingest(capsys, config), EXIT_INPUT, "orders.csv")
    assert "«foo», «bar», «Примечание»" in line  # headers found
    assert "customer_id (ИНН" in line and "order_date (Дата" in line  # names expected
    assert "amount (Сумма" in line and "inputs.columns.orders" in line


def test_override_naming_a_missing_header(tmp_path, capsys):
    extra = "  columns:\n    orders: {customer_id: 'Код'}\n"
    config = project(tmp_path, HEADER + "1;A;01.02.2024;5\n", extra=extra)
    assert_one_error(
        ingest(capsys, config),
        EXIT_USAGE,
        "inputs.columns.orders.customer_id",
        "'Код'",
        "orders.csv",
    )


def test_duplicate_header_names_use_the_first_and_warn(tmp_path, capsys):
    config = project(tmp_path, "ИНН;Дата;Сумма;Сумма\n0012;01.02.2024;100;999\n")
    result = ingest(capsys, config)
    assert result.code == EXIT_OK, result.err
    assert "columns not used: «Сумма (2)»" in result.err
    assert orders(config)["amount"].to_list() == [100.0]


def test_duplicate_header_can_be_chosen_by_its_numbered_name(tmp_path, capsys):
    extra = "  columns:\n    orders: {amount: 'Сумма (2)'}\n"
    config = project(tmp_path, "ИНН;Дата;Сумма;Сумма\n0012;01.02.2024;100;999\n", extra=extra)
    assert ingest(capsys, config).code == EXIT_OK
    assert orders(config)["amount"].to_list() == [999.0]


def test_title_lines_above_the_header(tmp_path, capsys):
    text = "Отчёт по продажам за 2024 год\n\n" + HEADER + "001;ООО А;01.02.2024;x\n"
    config = project(tmp_path, text)
    assert ingest(capsys, config).code == EXIT_DATA
    assert rejects(config) == [("orders.csv", 4, "Сумма", "bad_amount")]  # header is row 3


def test_utf16_is_read(tmp_path, capsys):
    config = project(tmp_path, (HEADER + "001;А;01.02.2024;1\n").encode("utf-16"))
    assert ingest(capsys, config).code == EXIT_OK
    assert orders(config)["customer_id"].to_list() == ["001"]


# -- encodings and delimiters -------------------------------------------------------------
def test_mixed_encodings_in_one_file(tmp_path, capsys):
    data = (HEADER + "001;ООО Ромашка;01.02.2024;100\n").encode("utf-8")
    data += "002;ООО Лютик;02.02.2024;200\n".encode("cp1251")  # glued from another export
    data += "003;ООО Ёж;03.02.2024;300\n".encode()
    config = project(tmp_path, data)
    assert ingest(capsys, config).code == EXIT_OK
    assert orders(config)["company_name"].to_list() == ["ООО Ромашка", "ООО Лютик", "ООО Ёж"]


def test_cp1251_bytes_after_the_first_megabyte(tmp_path, capsys):
    body = "".join(f"{i:05d};ООО Ромашка {i};01.02.2024;{i}\n" for i in range(40_000))
    data = (HEADER + body).encode("utf-8") + "99999;ООО Лютик;02.02.2024;5\n".encode("cp1251")
    assert len(data) > 1 << 20
    config = project(tmp_path, data)
    assert ingest(capsys, config).code == EXIT_OK
    got = orders(config)
    assert got.height == 40_001 and got["company_name"][-1] == "ООО Лютик"


def test_cp1251_file(tmp_path, capsys):
    config = project(tmp_path, (HEADER + "001;ООО Ёлка;01.02.2024;1 234,50\n").encode("cp1251"))
    assert ingest(capsys, config).code == EXIT_OK
    assert orders(config).select("company_name", "amount").row(0) == ("ООО Ёлка", 1234.5)


def test_bom_and_semicolon(tmp_path, capsys):
    data = "\ufeffИНН;Дата;Сумма, руб.\n0012;01.02.2024;1 234,56\n".encode()
    config = project(tmp_path, data)
    assert ingest(capsys, config).code == EXIT_OK
    assert orders(config).select("customer_id", "amount").row(0) == ("0012", 1234.56)


def test_quoted_newlines_and_delimiters_keep_row_numbers(tmp_path, capsys):
    text = (
        "ИНН,Товар,Дата,Сумма\n"
        '001,"Болт, М8\nдлинный",01.02.2024,100\n'
        '002,"a ""b"", c",02.02.2024,x\n'
    )
    config = project(tmp_path, text)
    result = ingest(capsys, config)
    assert result.code == EXIT_DATA
    assert accounting(result, "orders.csv") == (2, 1, 1, 0)
    assert orders(config)["product"].to_list() == ["Болт, М8\nдлинный"]
    # a spreadsheet shows the multi-line record as one row: the bad one is row 3
    assert rejects(config) == [("orders.csv", 3, "Сумма", "bad_amount")]


def test_ragged_rows_are_rejected_or_padded(tmp_path, capsys):
    text = (
        "ИНН;Дата;Сумма\n"
        "001;01.02.2024;100;лишнее\n"  # one field too many → ragged_row
        "002;02.02.2024\n"  # short: the amount is missing
        "003;03.02.2024;300\n"
    )
    config = project(tmp_path, text)
    result = ingest(capsys, config)
    assert result.code == EXIT_DATA and "Traceback" not in result.err
    assert accounting(result, "orders.csv") == (3, 1, 2, 0)
    assert rejects(config) == [
        ("orders.csv", 2, "", "ragged_row"),
        ("orders.csv", 3, "Сумма", "missing_amount"),
    ]
    assert reject_values(config)[2] == "лишнее"
    assert orders(config)["customer_id"].to_list() == ["003"]


def test_unbalanced_quote_does_not_lose_rows_silently(tmp_path, capsys):
    # the quote before ООО Ромашка never closes: a CSV parser joins customer 002's line
    # into 001's company name ("1 row read" for 2 data lines)
    text = HEADER + '001;"ООО Ромашка;01.02.2024;100\n002;ООО Б;02.02.2024;200\n'
    config = project(tmp_path, text)
    result = ingest(capsys, config)
    assert "Traceback" not in result.err and "internal error" not in result.err
    assert result.code == EXIT_OK, result.err
    assert accounting(result, "orders.csv") == (2, 2, 0, 0)
    got = orders(config).select("customer_id", "amount", "source_row").rows()
    assert got == [("001", 100.0, 2), ("002", 200.0, 3)]
    assert "a quote opened on line 2 never closes" in result.err


def test_unbalanced_quote_with_good_quotes_elsewhere(tmp_path, capsys):
    # quoted values with the delimiter and a doubled quote are still read as CSV; the
    # broken line keeps its stray quote and its bad amount is rejected, not joined
    text = (
        HEADER
        + '001;"ООО ""Альфа""; филиал";01.02.2024;100\n'
        + '002;ООО Б;02.02.2024;"200\n'
        + "003;ООО В;03.02.2024;300\n"
    )
    config = project(tmp_path, text)
    result = ingest(capsys, config)
    assert accounting(result, "orders.csv") == (3, 2, 1, 0)
    frame = orders(config)
    assert frame["customer_id"].to_list() == ["001", "003"]
    assert frame["company_name"][0] == 'ООО "Альфа"; филиал'
    assert rejects(config) == [("orders.csv", 3, "Сумма", "bad_amount")]


def test_single_100_mb_line_without_newline(tmp_path, capsys):
    path = tmp_path / "orders.csv"
    chunk = ("ИНН;Дата;Сумма;" * 4096).encode()
    with open(path, "wb") as handle:
        while handle.tell() < 100 * 1024 * 1024:
            handle.write(chunk)
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs:\n  orders: {path: orders.csv}\n", encoding="utf-8")
    line = assert_one_error(ingest(capsys, config), EXIT_INPUT, "orders.csv")
    assert "no line break" in line


def test_huge_field_is_rejected_and_cut_in_rejects(tmp_path, capsys):
    data = (HEADER + "001;А;01.02.2024;1\n002;Б;01.02.2024;").encode() + b"7" * (8 << 20)
    config = project(tmp_path, data)
    result = ingest(capsys, config)
    assert result.code == EXIT_DATA
    assert rejects(config) == [("orders.csv", 3, "Сумма", "bad_amount")]
    value = reject_values(config)[3]
    assert len(value) < 300 and value.endswith(f"({8 << 20} characters)")


# -- dates --------------------------------------------------------------------------------
def test_dates(tmp_path, capsys):
    text = (
        "ИНН;Дата;Сумма\n"
        "001;01.02.2099;1\n"  # in the future: accepted (see the as_of test)
        "002;01.02.1850;2\n"  # before 1900
        "003;0;3\n"  # Excel serial 0 = 1899-12-30
        "004;31.02.2024;4\n"  # no such day
        "005;45000;5\n"  # Excel serial 45000 = 2023-03-15
        "006;2024-02-29 13:45;6\n"  # time of day dropped
        "007;3000-01-01;7\n"  # after 2200
        "008;;8\n"
        "009;29.02.2023;9\n"  # not a leap year
        "010;вчера;10\n"
    )
    config = project(tmp_path, text)
    result = ingest(capsys, config)
    assert result.code == EXIT_DATA
    assert accounting(result, "orders.csv") == (10, 3, 7, 0)
    got = orders(config).select("customer_id", pl.col("order_date").cast(pl.String)).rows()
    assert got == [("001", "2099-02-01"), ("005", "2023-03-15"), ("006", "2024-02-29")]
    assert rejects(config) == [
        ("orders.csv", 3, "Дата", "date_out_of_range"),
        ("orders.csv", 4, "Дата", "date_out_of_range"),
        ("orders.csv", 5, "Дата", "bad_date"),
        ("orders.csv", 8, "Дата", "date_out_of_range"),
        ("orders.csv", 9, "Дата", "missing_date"),
        ("orders.csv", 10, "Дата", "bad_date"),
        ("orders.csv", 11, "Дата", "bad_date"),
    ]


def test_future_orders_are_ignored_and_counted_with_as_of(tmp_path, capsys):
    import json

    text = "ИНН;Дата;Сумма\n001;01.02.2024;10\n001;01.02.2099;20\n002;01.03.2024;5\n"
    config = project(tmp_path, text, extra="playbook: null\ntactics: []\n")
    out = tmp_path / "out"
    result = cli(capsys, "run", "--config", config, "--out", out, "--as-of", "2024-06-30")
    assert result.code == EXIT_OK, result.err
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["as_of"] == "2024-06-30"
    assert manifest["orders_after_as_of"] == 1


# -- amounts ------------------------------------------------------------------------------
def test_amounts(tmp_path, capsys):
    text = (
        "ИНН;Дата;Сумма\n"
        "001;01.02.2024;1 234,56 ₽\n"
        "002;01.02.2024;(120.00)\n"
        "003;01.02.2024;1e400\n"
        "004;01.02.2024;NaN\n"
        "005;01.02.2024;\n"
        "006;01.02.2024;-inf\n"
        "007;01.02.2024;12,3,4\n"
        "008;01.02.2024;1\u00a0234,5 руб.\n"
        "009;01.02.2024;abc\n"
        "010;01.02.2024;0\n"
    )
    config = project(tmp_path, text)
    result = ingest(capsys, config)
    assert result.code == EXIT_DATA
    assert accounting(result, "orders.csv") == (10, 4, 6, 0)
    got = orders(config).select("customer_id", "amount").rows()
    assert got == [("001", 1234.56), ("002", -120.0), ("008", 1234.5), ("010", 0.0)]
    assert rejects(config) == [
        ("orders.csv", 4, "Сумма", "bad_amount"),
        ("orders.csv", 5, "Сумма", "bad_amount"),
        ("orders.csv", 6, "Сумма", "missing_amount"),
        ("orders.csv", 7, "Сумма", "bad_amount"),
        ("orders.csv", 8, "Сумма", "bad_amount"),
        ("orders.csv", 10, "Сумма", "bad_amount"),
    ]
    assert reject_values(config)[8] == "12,3,4"


def test_amount_from_quantity_times_price_when_no_amount_column(tmp_path, capsys):
    text = "ИНН;Дата;Кол-во;Цена\n001;01.02.2024;3;2,50\n002;01.02.2024;x;1\n"
    config = project(tmp_path, text)
    result = ingest(capsys, config)
    assert result.code == EXIT_DATA
    assert orders(config)["amount"].to_list() == [7.5]
    assert rejects(config) == [("orders.csv", 3, "Кол-во", "bad_amount")]


# -- customer ids -------------------------------------------------------------------------
def test_customer_ids_keep_leading_zeros(tmp_path, capsys):
    text = (
        "ИНН;Дата;Сумма\n0012;01.02.2024;1\n12;01.02.2024;2\n 0012 ;02.02.2024;3\n;01.02.2024;4\n"
    )
    config = project(tmp_path, text)
    result = ingest(capsys, config)
    assert result.code == EXIT_DATA
    got = orders(config)
    assert got.schema["customer_id"] == pl.String
    assert got["customer_id"].to_list() == ["0012", "12", "0012"]
    assert got.group_by("customer_id").agg(pl.col("amount").sum()).sort("customer_id").rows() == [
        ("0012", 4.0),
        ("12", 2.0),
    ]
    assert rejects(config) == [("orders.csv", 5, "ИНН", "missing_customer_id")]


def test_customer_ids_stay_text_in_xlsx_and_outputs(tmp_path, capsys):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["ИНН", "Дата", "Сумма"])
    ws.append(["0012", "01.02.2024", 10])
    ws.append([12, "01.03.2024", 20])
    wb.save(tmp_path / "orders.xlsx")
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs:\n  orders: {path: orders.xlsx}\n", encoding="utf-8")
    out = tmp_path / "out"
    result = cli(capsys, "run", "--config", config, "--out", out, "--format", "csv")
    assert result.code == EXIT_OK, result.err
    seg = pl.read_csv(out / "segments.csv", infer_schema=False)
    assert sorted(seg["customer_id"].to_list()) == ["0012", "12"]


def test_exact_duplicates_are_counted(tmp_path, capsys):
    row = "001;ООО А;01.02.2024;100\n"
    config = project(tmp_path, HEADER + row + row + "001;ООО А;01.02.2024;100,0\n")
    result = ingest(capsys, config)
    assert accounting(result, "orders.csv") == (3, 2, 0, 1)  # 100,0 is written differently
    assert rejects(config) == [("orders.csv", 3, "", "duplicate")]


# -- xlsx ---------------------------------------------------------------------------------
def _workbook(path: Path, sheet: str = "Заказы") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(["ИНН", "Дата", "Сумма"])
    ws.append(["001", "01.02.2024", 1])
    ws.append(["002", "31.02.2024", 2])
    wb.save(path)
    return path


def test_xlsx_rejects_name_the_sheet(tmp_path, capsys):
    _workbook(tmp_path / "orders.xlsx")
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs:\n  orders: {path: orders.xlsx}\n", encoding="utf-8")
    assert ingest(capsys, config).code == EXIT_DATA
    assert rejects(config) == [("orders.xlsx[Заказы]", 3, "Дата", "bad_date")]


def test_xlsx_that_is_really_a_csv(tmp_path, capsys):
    config = project(tmp_path, HEADER + "001;ООО А;01.02.2024;5\n", name="orders.xlsx")
    result = ingest(capsys, config)
    assert result.code == EXIT_OK, result.err
    assert orders(config)["customer_id"].to_list() == ["001"]


def test_password_protected_workbook(tmp_path, capsys):
    # an encrypted xlsx is an OLE2 compound file, not a zip
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4088
    config = project(tmp_path, data, name="orders.xlsx")
    assert_one_error(ingest(capsys, config), EXIT_INPUT, "orders.xlsx", "password")


def test_truncated_workbook(tmp_path, capsys):
    good = _workbook(tmp_path / "good.xlsx").read_bytes()
    config = project(tmp_path, good[: len(good) // 2], name="orders.xlsx")
    assert_one_error(ingest(capsys, config), EXIT_INPUT, "orders.xlsx", "truncated")


def test_zip_that_is_not_a_workbook(tmp_path, capsys):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    config = project(tmp_path, buffer.getvalue(), name="orders.xlsx")
    assert_one_error(ingest(capsys, config), EXIT_INPUT, "orders.xlsx", "not an Excel workbook")


def test_workbook_with_a_broken_sheet(tmp_path, capsys):
    good = _workbook(tmp_path / "good.xlsx")
    buffer = io.BytesIO()
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(buffer, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = data[: len(data) // 2]  # cut XML
            dst.writestr(item, data)
    config = project(tmp_path, buffer.getvalue(), name="orders.xlsx")
    assert_one_error(ingest(capsys, config), EXIT_INPUT, "orders.xlsx")


def test_sheet_name_that_does_not_exist(tmp_path, capsys):
    _workbook(tmp_path / "orders.xlsx")
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs:\n  orders: {path: orders.xlsx, sheet: Продажи}\n", encoding="utf-8")
    line = assert_one_error(ingest(capsys, config), EXIT_INPUT, "orders.xlsx", "'Продажи'")
    assert "sheets: Заказы" in line


def test_sheet_number_out_of_range(tmp_path, capsys):
    _workbook(tmp_path / "orders.xlsx")
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs:\n  orders: {path: orders.xlsx, sheet: 3}\n", encoding="utf-8")
    assert_one_error(ingest(capsys, config), EXIT_INPUT, "orders.xlsx", "no sheet number 3")


def test_empty_sheet(tmp_path, capsys):
    wb = openpyxl.Workbook()
    wb.active.title = "Пусто"
    wb.save(tmp_path / "orders.xlsx")
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs:\n  orders: {path: orders.xlsx}\n", encoding="utf-8")
    assert_one_error(ingest(capsys, config), EXIT_INPUT, "orders.xlsx", "empty")


# -- files that are not there -------------------------------------------------------------
def test_missing_input_file(tmp_path, capsys):
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs:\n  orders: {path: nowhere.csv}\n", encoding="utf-8")
    assert_one_error(ingest(capsys, config), EXIT_INPUT, "nowhere.csv", "not found")


def test_glob_matching_nothing(tmp_path, capsys):
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs:\n  orders: {path: 'exports/orders_*.csv'}\n", encoding="utf-8")
    assert_one_error(ingest(capsys, config), EXIT_INPUT, "inputs.orders.path", "orders_*.csv")


def test_input_path_is_a_folder(tmp_path, capsys):
    (tmp_path / "orders.csv").mkdir()
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs:\n  orders: {path: orders.csv}\n", encoding="utf-8")
    assert_one_error(ingest(capsys, config), EXIT_INPUT, "orders.csv", "folder")


def test_unreadable_input(tmp_path, capsys, monkeypatch):
    from segtool.io import sniff

    config = project(tmp_path, HEADER + "001;А;01.02.2024;1\n")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(sniff, "open", denied, raising=False)
    assert_one_error(ingest(capsys, config), EXIT_INPUT, "orders.csv", "permission denied")


# -- config and playbook ------------------------------------------------------------------
def _config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "orders.csv").write_text(HEADER + "001;А;01.02.2024;1\n", encoding="utf-8")
    path = tmp_path / "segtool.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_with_tabs(tmp_path, capsys):
    config = _config(tmp_path, "inputs:\n\torders: {path: orders.csv}\n")
    assert_one_error(ingest(capsys, config), EXIT_USAGE, "segtool.yaml:2:1", "tabs")


def test_yaml_with_duplicate_keys(tmp_path, capsys):
    config = _config(
        tmp_path, "inputs:\n  orders: {path: orders.csv}\nlanguage: ru\nlanguage: en\n"
    )
    assert_one_error(
        ingest(capsys, config), EXIT_USAGE, "segtool.yaml:4:1", "duplicate key 'language'", "line 3"
    )


def test_yaml_with_a_bad_glob(tmp_path, capsys):
    config = _config(
        tmp_path,
        "inputs:\n  orders: {path: orders.csv}\nperiods:\n  categories:\n"
        "    durable: {match: ['[Станки'], falling_asleep_after: 36, "
        "asleep_after: 120}\n",
    )
    assert_one_error(
        ingest(capsys, config),
        EXIT_USAGE,
        "segtool.yaml",
        "periods.categories.durable.match",
        "bad glob '[Станки'",
    )


def test_yaml_syntax_error(tmp_path, capsys):
    config = _config(tmp_path, "inputs: [orders, \n")
    assert_one_error(ingest(capsys, config), EXIT_USAGE, "segtool.yaml:2")


def test_yaml_misspelt_key(tmp_path, capsys):
    config = _config(tmp_path, "inputs:\n  orders: {path: orders.csv}\nperiod: {}\n")
    assert_one_error(
        ingest(capsys, config), EXIT_USAGE, "unknown key 'period'", "did you mean 'periods'"
    )


def test_yaml_wrong_type(tmp_path, capsys):
    config = _config(
        tmp_path, "inputs:\n  orders: {path: orders.csv}\nstages: {regular: {min_orders: many}}\n"
    )
    assert_one_error(ingest(capsys, config), EXIT_USAGE, "stages.regular.min_orders", "'many'")


def test_yaml_not_a_mapping_and_empty(tmp_path, capsys):
    config = _config(tmp_path, "- just\n- a list\n")
    assert_one_error(ingest(capsys, config), EXIT_USAGE, "segtool.yaml", "mapping")
    config.write_text("", encoding="utf-8")
    assert_one_error(ingest(capsys, config), EXIT_USAGE, "segtool.yaml", "empty")


def test_yaml_not_utf8(tmp_path, capsys):
    config = _config(tmp_path, "")
    config.write_bytes("inputs:\n  orders: {path: заказы.csv}\n".encode("cp1251"))
    assert_one_error(ingest(capsys, config), EXIT_USAGE, "segtool.yaml", "UTF-8")


def test_missing_config(tmp_path, capsys):
    assert_one_error(
        ingest(capsys, tmp_path / "nope.yaml"), EXIT_USAGE, "nope.yaml", "segtool init"
    )


def _playbook_run(tmp_path: Path, capsys, playbook: str) -> Result:
    config = _config(tmp_path, "inputs:\n  orders: {path: orders.csv}\nplaybook: playbook.yaml\n")
    (tmp_path / "playbook.yaml").write_text(playbook, encoding="utf-8")
    return cli(capsys, "run", "--config", config, "--out", tmp_path / "out")


def test_playbook_rule_with_an_unknown_segment(tmp_path, capsys):
    result = _playbook_run(
        tmp_path,
        capsys,
        (
            "tactics:\n  - id: wake_up\n    when: {segment: [regular_sleepy]}\n"
            "    action: call\n    role: purchaser\n    script: Здравствуйте\n"
        ),
    )
    assert_one_error(
        result, EXIT_USAGE, "playbook.yaml", "wake_up", "'regular_sleepy'", "regular_asleep"
    )
    assert not (tmp_path / "out" / "segments.csv").exists()


def test_playbook_rule_with_an_unknown_channel(tmp_path, capsys):
    result = _playbook_run(
        tmp_path,
        capsys,
        (
            "tactics:\n  - id: fax_them\n    when: {segment: [lead]}\n"
            "    action: fax\n    role: purchaser\n    script: Здравствуйте\n"
        ),
    )
    assert_one_error(result, EXIT_USAGE, "playbook.yaml", "fax")


def test_playbook_with_an_unknown_placeholder(tmp_path, capsys):
    result = _playbook_run(
        tmp_path,
        capsys,
        (
            "tactics:\n  - id: hello\n    when: {segment: [lead]}\n"
            "    action: call\n    role: purchaser\n    script: 'Привет, {first_name}'\n"
        ),
    )
    assert_one_error(result, EXIT_USAGE, "playbook.yaml", "{first_name}")


def test_bad_as_of(tmp_path, capsys):
    config = _config(tmp_path, "inputs:\n  orders: {path: orders.csv}\n")
    result = cli(
        capsys, "run", "--config", config, "--out", tmp_path / "out", "--as-of", "31.02.2024"
    )
    assert_one_error(result, EXIT_USAGE, "31.02.2024")


# -- contacts -----------------------------------------------------------------------------
def test_contacts_without_an_id_column_and_bad_rows(tmp_path, capsys):
    config = _config(
        tmp_path, "inputs:\n  orders: {path: orders.csv}\n  contacts: {path: contacts.csv}\n"
    )
    (tmp_path / "contacts.csv").write_text("ФИО;Телефон\nИванов;+7 900\n", encoding="utf-8")
    assert_one_error(ingest(capsys, config), EXIT_INPUT, "contacts.csv", "customer_id")
    (tmp_path / "contacts.csv").write_text(
        "ИНН;ФИО;Телефон\n001;Иванов;+7 900\n;Петров;+7 901\n001;Иванов;+7 900\n", encoding="utf-8"
    )
    result = ingest(capsys, config)
    assert accounting(result, "contacts.csv") == (3, 1, 1, 1)
    assert rejects(config) == [
        ("contacts.csv", 3, "ИНН", "missing_customer_id"),
        ("contacts.csv", 4, "", "duplicate"),
    ]
