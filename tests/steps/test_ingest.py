"""Ingest: one small fixture per encoding / delimiter / decimal / date style, alias
detection, rejects with file/row/column/reason, duplicates, and the accounting identity."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segtool.config import Config
from segtool.errors import ConfigError, InputError
from segtool.steps.ingest import ingest

HEADER = ["Номер заказа", "Дата", "ИНН", "Контрагент", "Сумма, руб."]


def config_for(path: Path, **extra) -> Config:
    cfg = Config.model_validate({"inputs": {"orders": {"path": str(path)}}, **extra})
    cfg.base_dir = path.parent
    return cfg


def orders_of(path: Path, **extra):
    result = ingest(config_for(path, **extra))
    return result


def write_csv(
    path: Path, rows: list[list[str]], delimiter=";", encoding="utf-8", bom=False, newline="\n"
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerows(rows)
    data = buffer.getvalue().encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


ROWS = [
    HEADER,
    ["1001", "05.01.2024", "0012", "ООО «Ромашка»", "1 234,56"],
    ["1001", "05.01.2024", "0012", "ООО «Ромашка»", "100,00"],
    ["1002", "06.02.2024", "12", "АО «Лютик»", "-50,50"],
]


def expected_orders(frame: pl.DataFrame):
    return frame.select("customer_id", "order_id", "order_date", "amount").rows()


EXPECTED = [
    ("0012", "1001", dt.date(2024, 1, 5), 1234.56),
    ("0012", "1001", dt.date(2024, 1, 5), 100.0),
    ("12", "1002", dt.date(2024, 2, 6), -50.5),
]


@pytest.mark.parametrize(
    ("encoding", "bom", "delimiter", "newline"),
    [
        ("utf-8", False, ";", "\n"),
        ("utf-8", True, ";", "\r\n"),  # BOM + ; + CRLF (Excel "CSV UTF-8")
        ("cp1251", False, ";", "\r\n"),  # 1C default
        ("utf-8", False, "\t", "\n"),
        ("utf-8", False, ",", "\n"),  # decimal comma values get quoted by csv.writer
        ("cp1251", False, "|", "\n"),
    ],
)
def test_encodings_and_delimiters(tmp_path, encoding, bom, delimiter, newline):
    path = write_csv(tmp_path / "orders.csv", ROWS, delimiter, encoding, bom, newline)
    result = orders_of(path)
    assert expected_orders(result.orders) == EXPECTED
    assert result.orders["company_name"].to_list() == ["ООО «Ромашка»"] * 2 + ["АО «Лютик»"]
    (stats,) = result.stats
    assert (stats.rows_read, stats.rows_accepted, stats.rows_rejected, stats.rows_duplicate) == (
        3,
        3,
        0,
        0,
    )


def test_customer_id_is_text_and_kept_as_written(tmp_path):
    path = write_csv(
        tmp_path / "o.csv",
        [HEADER, ["1", "05.01.2024", " 0012 ", "A", "1"], ["2", "05.01.2024", "12", "B", "1"]],
    )
    ids = orders_of(path).orders["customer_id"].to_list()
    assert ids == ["0012", "12"]  # trimmed, leading zeros kept, 0012 != 12


@pytest.mark.parametrize(
    ("date_text", "expected"),
    [
        ("2024-01-05", dt.date(2024, 1, 5)),
        ("05.01.2024 13:45", dt.date(2024, 1, 5)),
        ("05/01/2024", dt.date(2024, 1, 5)),
        ("45296", dt.date(2024, 1, 5)),
    ],
)
def test_date_styles(tmp_path, date_text, expected):
    path = write_csv(tmp_path / "o.csv", [HEADER, ["1", date_text, "7701", "A", "10"]])
    assert orders_of(path).orders["order_date"].to_list() == [expected]


def test_month_first_dates_are_detected(tmp_path):
    rows = [HEADER, ["1", "01/13/2024", "1", "A", "1"], ["2", "02/01/2024", "1", "A", "1"]]
    path = write_csv(tmp_path / "o.csv", rows)
    assert orders_of(path).orders["order_date"].to_list() == [
        dt.date(2024, 1, 13),
        dt.date(2024, 2, 1),
    ]


def test_english_export_with_quantity_times_price(tmp_path):
    rows = [
        ["InvoiceNo", "InvoiceDate", "CustomerID", "Quantity", "UnitPrice"],
        ["536365", "2010-12-01 08:26", "17850", "6", "2.55"],
        ["C536379", "2010-12-01 09:41", "14527", "-1", "27.50"],
    ]
    path = write_csv(tmp_path / "o.csv", rows, delimiter=",")
    result = orders_of(path)
    assert result.orders["amount"].to_list() == pytest.approx([15.3, -27.5])
    assert result.orders["quantity"].to_list() == [6.0, -1.0]


def test_no_order_id_column_means_one_order_per_customer_per_day(tmp_path):
    rows = [
        ["Дата", "ИНН", "Сумма"],
        ["05.01.2024", "1", "10"],
        ["05.01.2024", "1", "5"],
        ["06.01.2024", "1", "7"],
    ]
    path = write_csv(tmp_path / "o.csv", rows)
    assert orders_of(path).orders["order_id"].to_list() == [
        "1|2024-01-05",
        "1|2024-01-05",
        "1|2024-01-06",
    ]


def test_title_rows_above_the_header(tmp_path):
    text = "Отчёт по продажам за 2024 год;;\n;;\nДата;ИНН;Сумма\n05.01.2024;1;10\n07.01.2024;2;20\n"
    path = tmp_path / "o.csv"
    path.write_text(text, encoding="utf-8")
    result = orders_of(path)
    assert result.orders["source_row"].to_list() == [4, 5]
    assert result.orders["amount"].to_list() == [10.0, 20.0]


def test_margin_from_cost(tmp_path):
    rows = [
        ["Дата", "ИНН", "Сумма", "Себестоимость"],
        ["05.01.2024", "1", "100", "70"],
        ["05.01.2024", "2", "50", ""],
    ]
    path = write_csv(tmp_path / "o.csv", rows)
    assert orders_of(path).orders["margin"].to_list() == [30.0, None]


def test_rejects_name_file_row_column_value_reason(tmp_path):
    rows = [
        HEADER,
        ["1", "05.01.2024", "7701", "A", "10"],  # row 2: fine
        ["2", "05.01.2024", "", "B", "10"],  # row 3: no customer
        ["3", "31.02.2024", "7702", "C", "10"],  # row 4: impossible date
        ["4", "05.01.2024", "7703", "D", "12,3,4"],  # row 5: not a number
        ["5", "", "7704", "E", "10"],  # row 6: no date
        ["6", "05.01.2024", "7705", "F", ""],  # row 7: no amount
        ["7", "05.01.1899", "7706", "G", "10"],  # row 8: before 1900
        ["1", "05.01.2024", "7701", "A", "10"],  # row 9: exact duplicate of row 2
        ["8", "05.01.2024", "7707", "H", "0"],  # row 10: zero amount is accepted
    ]
    path = write_csv(tmp_path / "orders.csv", rows)
    result = orders_of(path)
    assert result.rejects.rows() == [
        ("orders.csv", 3, "ИНН", None, "missing_customer_id"),
        ("orders.csv", 4, "Дата", "31.02.2024", "bad_date"),
        ("orders.csv", 5, "Сумма, руб.", "12,3,4", "bad_amount"),
        ("orders.csv", 6, "Дата", None, "missing_date"),
        ("orders.csv", 7, "Сумма, руб.", None, "missing_amount"),
        ("orders.csv", 8, "Дата", "05.01.1899", "date_out_of_range"),
        ("orders.csv", 9, None, None, "duplicate"),
    ]
    (stats,) = result.stats
    assert (stats.rows_read, stats.rows_accepted, stats.rows_rejected, stats.rows_duplicate) == (
        9,
        2,
        6,
        1,
    )
    assert result.orders["source_row"].to_list() == [2, 10]


def test_duplicates_kept_when_disabled(tmp_path):
    rows = [HEADER, ["1", "05.01.2024", "7701", "A", "10"], ["1", "05.01.2024", "7701", "A", "10"]]
    path = write_csv(tmp_path / "o.csv", rows)
    result = orders_of(path, ingest={"drop_duplicates": False})
    assert result.orders.height == 2


def test_rows_that_differ_only_in_an_unmapped_column_are_not_duplicates(tmp_path):
    rows = [
        HEADER + ["Комментарий"],
        ["1", "05.01.2024", "7701", "A", "10", "x"],
        ["1", "05.01.2024", "7701", "A", "10", "y"],
    ]
    path = write_csv(tmp_path / "o.csv", rows)
    assert orders_of(path).stats[0].rows_duplicate == 0


def test_ragged_rows_are_rejected_not_lost(tmp_path):
    text = "Дата;ИНН;Сумма\n05.01.2024;1;10\n05.01.2024;2;10;лишнее;поле\n06.01.2024;3\n"
    path = tmp_path / "o.csv"
    path.write_text(text, encoding="utf-8")
    result = orders_of(path)
    assert result.rejects.select("row", "value", "reason").rows() == [
        (3, "лишнее;поле", "ragged_row"),
        (4, None, "missing_amount"),
    ]
    assert result.orders["customer_id"].to_list() == ["1"]


def test_quoted_newlines_and_delimiters(tmp_path):
    text = (
        'Дата;ИНН;Контрагент;Сумма\n05.01.2024;1;"ООО ""Ромашка""; филиал\n№2";10\n'
        "06.01.2024;2;Лютик;5\n"
    )
    path = tmp_path / "o.csv"
    path.write_text(text, encoding="utf-8")
    result = orders_of(path)
    assert result.orders["company_name"].to_list() == ['ООО "Ромашка"; филиал\n№2', "Лютик"]
    assert result.orders["source_row"].to_list() == [2, 3]


def test_xlsx_with_title_row_text_ids_and_real_dates(tmp_path):
    path = tmp_path / "orders.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("Продажи")
    ws.write_row(0, 0, ["Выгрузка из CRM"])
    ws.write_row(2, 0, ["Дата заказа", "ИНН", "Сумма"])
    ws.write_datetime(3, 0, dt.datetime(2024, 1, 5), wb.add_format({"num_format": "dd.mm.yyyy"}))
    ws.write_string(3, 1, "0012")
    ws.write_number(3, 2, 1234.5)
    ws.write_string(4, 0, "06.01.2024")
    ws.write_string(4, 1, "7701")
    ws.write_string(4, 2, "1 000,50")
    ws.write_string(5, 0, "неизвестно")
    ws.write_string(5, 1, "7702")
    ws.write_number(5, 2, 5)
    wb.close()
    result = orders_of(path)
    assert result.orders.select("customer_id", "order_date", "amount", "source_row").rows() == [
        ("0012", dt.date(2024, 1, 5), 1234.5, 4),
        ("7701", dt.date(2024, 1, 6), 1000.5, 5),
    ]
    assert result.rejects.rows() == [
        ("orders.xlsx[Продажи]", 6, "Дата заказа", "неизвестно", "bad_date")
    ]


def test_xlsx_named_sheet(tmp_path):
    path = tmp_path / "book.xlsx"
    wb = xlsxwriter.Workbook(path)
    wb.add_worksheet("Прочее").write_row(0, 0, ["x"])
    ws = wb.add_worksheet("Заказы")
    ws.write_row(0, 0, ["Дата", "ИНН", "Сумма"])
    ws.write_row(1, 0, ["05.01.2024", "1", "10"])
    wb.close()
    cfg = Config.model_validate({"inputs": {"orders": {"path": str(path), "sheet": "Заказы"}}})
    assert ingest(cfg).orders.height == 1
    cfg = Config.model_validate({"inputs": {"orders": {"path": str(path), "sheet": "Нет"}}})
    with pytest.raises(InputError, match="no sheet named 'Нет'; sheets: Прочее, Заказы"):
        ingest(cfg)


def test_missing_columns_error_lists_headers_and_expected_names(tmp_path):
    path = write_csv(tmp_path / "o.csv", [["Foo", "Bar"], ["1", "2"]])
    with pytest.raises(InputError) as info:
        orders_of(path)
    message = info.value.message
    assert "o.csv: no column found for customer_id, order_date, amount" in message
    assert "«Foo», «Bar»" in message and "inputs.columns.orders" in message


def test_column_override_must_exist(tmp_path):
    path = write_csv(tmp_path / "o.csv", ROWS)
    with pytest.raises(ConfigError, match=r"inputs.columns.orders.amount: header 'Итог'"):
        orders_of(
            path, inputs={"orders": {"path": str(path)}, "columns": {"orders": {"amount": "Итог"}}}
        )


def test_glob_reads_several_files(tmp_path):
    write_csv(tmp_path / "orders_2024-01.csv", ROWS[:2])
    write_csv(tmp_path / "orders_2024-02.csv", [ROWS[0], ROWS[3]])
    cfg = config_for(tmp_path / "orders_*.csv")
    result = ingest(cfg)
    assert [Path(s.path).name for s in result.stats] == ["orders_2024-01.csv", "orders_2024-02.csv"]
    assert result.orders["customer_id"].to_list() == ["0012", "12"]


def test_contacts_roles_types_and_consent(tmp_path):
    orders = write_csv(tmp_path / "orders.csv", ROWS)
    contacts = write_csv(
        tmp_path / "contacts.csv",
        [
            [
                "ИНН",
                "Компания",
                "ФИО",
                "Должность",
                "Телефон",
                "Не звонить",
                "Тип компании",
                "Оборот, руб.",
            ],
            [
                "0012",
                "ООО «Завод Прогресс»",
                "Иванов И.И.",
                "Генеральный директор",
                "+7 900",
                "",
                "",
                "900 000 000",
            ],
            [
                "0012",
                "ООО «Завод Прогресс»",
                "Петрова А.А.",
                "Директор по закупкам",
                "",
                "да",
                "Торговля",
                "",
            ],
            ["12", "ГБУ «Больница №1»", "Сидоров", "Главный инженер", "", "", "", ""],
            ["13", "ИП Кузнецов", "Кузнецов", "Бухгалтер", "", "", "", ""],
        ],
    )
    cfg = Config.model_validate(
        {"inputs": {"orders": {"path": str(orders)}, "contacts": {"path": str(contacts)}}}
    )
    frame = ingest(cfg).contacts
    assert frame.select(
        "contact_name",
        "role",
        "role_inferred",
        "do_not_call",
        "company_type",
        "company_type_inferred",
        "turnover",
    ).rows() == [
        ("Иванов И.И.", "decision_maker", True, False, "manufacturing", True, 9e8),
        ("Петрова А.А.", "purchaser", True, True, "trading", False, None),
        ("Сидоров", "user", True, False, "government", True, None),
        ("Кузнецов", "unknown", False, False, "shop", True, None),
    ]


TOKENS = st.sampled_from(list('ab1;,"\n 5.-\t') + ["ИНН", "05.01.2024", "10,5", "\r\n", "0012"])
LINES = st.lists(TOKENS, max_size=12).map("".join)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.lists(LINES, max_size=25), delimiter=st.sampled_from([";", ",", "\t"]))
def test_accounting_identity_for_any_csv(tmp_path, body, delimiter):
    """Whatever the bytes, rows read = accepted + rejected + duplicates, and every row
    not accepted has a reject record with its row number."""
    header = delimiter.join(["Дата", "ИНН", "Сумма"])
    path = tmp_path / "fuzz.csv"
    path.write_text(header + "\n" + "\n".join(body) + "\n", encoding="utf-8")
    try:
        result = ingest(
            config_for(
                path, inputs={"orders": {"path": str(path)}, "formats": {"delimiter": delimiter}}
            )
        )
    except InputError:
        return  # e.g. a header the fuzzer broke: a clear error, not a crash
    (stats,) = result.stats
    assert stats.rows_read == stats.rows_accepted + stats.rows_rejected + stats.rows_duplicate
    assert result.orders.height == stats.rows_accepted
    assert result.rejects.height == stats.rows_rejected + stats.rows_duplicate
    rows = result.orders["source_row"].to_list() + result.rejects["row"].to_list()
    assert len(rows) == len(set(rows)) == stats.rows_read


def test_quantity_times_price_fills_an_empty_amount_but_not_an_unreadable_one(tmp_path):
    rows = [
        ["Дата", "ИНН", "Количество", "Цена", "Сумма"],
        ["05.01.2024", "1", "2", "10,5", ""],  # row 2: empty amount → 2 × 10,5
        ["05.01.2024", "2", "2", "10,5", "н/д"],  # row 3: unreadable → rejected
        ["05.01.2024", "3", "2", "10,5", "30"],
    ]  # row 4: the amount as written wins
    result = orders_of(write_csv(tmp_path / "o.csv", rows))
    assert result.orders.select("customer_id", "amount").rows() == [("1", 21.0), ("3", 30.0)]
    assert result.rejects.select("row", "value", "reason").rows() == [(3, "н/д", "bad_amount")]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(n=st.integers(0, 60), data=st.data(), slices=st.booleans())
def test_rows_left_out_by_index_are_exactly_those(monkeypatch, n, data, slices):
    """Dropping rows by index (zero-copy slices for a few, a filter for many) keeps every
    other row, in order, for frames made of several chunks."""
    import segtool.steps.ingest as ingest_module

    dropped = sorted(data.draw(st.sets(st.integers(0, max(n - 1, 0)), max_size=n)) if n else [])
    frame = pl.concat(
        [
            pl.DataFrame({"i": list(range(k, min(k + 7, n)))}, schema={"i": pl.Int64})
            for k in range(0, n, 7)
        ]
        or [pl.DataFrame(schema={"i": pl.Int64})],
        rechunk=False,
    )
    monkeypatch.setattr(ingest_module, "MAX_SLICED_GAPS", 10_000 if slices else 0)
    kept = ingest_module._without(frame, pl.Series(dropped, dtype=pl.UInt32))
    assert kept["i"].to_list() == [i for i in range(n) if i not in set(dropped)]


@settings(max_examples=80, deadline=None)
@given(values=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), max_size=40))
def test_duplicate_indices_are_the_later_copies(values):
    """Every row equal to an earlier one (both hashes), and only those, is reported."""
    from segtool.steps.ingest import _duplicates

    rows = pl.DataFrame(values, schema={"__h1": pl.UInt64, "__h2": pl.UInt64}, orient="row")
    expected = [i for i, v in enumerate(values) if v in values[:i]]
    assert _duplicates(rows).to_list() == expected


def test_lean_contacts_keep_what_score_and_routing_read_with_a_companies_file(tmp_path):
    """`run` without a workspace keeps lean contacts: the same people and values in every
    column it keeps, no job title, region or source columns; a companies file still fills
    the company columns, and a company with nobody listed still gets its one row."""
    from segtool.schema import LEAN_CONTACTS

    orders = write_csv(tmp_path / "orders.csv", ROWS)
    write_csv(
        tmp_path / "contacts.csv",
        [
            ["ИНН", "ФИО", "Должность", "Телефон", "Регион"],
            ["0012", "Иванов Иван", "Менеджер по закупкам", "+7 900 000-00-01", "Москва"],
        ],
    )
    write_csv(
        tmp_path / "companies.csv",
        [
            ["ИНН", "Компания", "Тип компании", "Ответственный"],
            ["0012", "ООО «Ромашка»", "Торговля", "Петрова А.С."],
            ["12", "АО «Лютик»", "Производство", "Орлов Д.А."],
        ],
    )
    cfg = config_for(
        orders,
        inputs={
            "orders": {"path": "orders.csv"},
            "contacts": {"path": "contacts.csv"},
            "companies": {"path": "companies.csv"},
        },
    )
    full = ingest(cfg).contacts
    lean = ingest(cfg, lean=True).contacts
    assert lean.columns == list(LEAN_CONTACTS)
    assert "region" in full.columns and "job_title" in full.columns
    assert lean.select(sorted(lean.columns)).sort("customer_id").rows() == (
        full.select(sorted(lean.columns)).sort("customer_id").rows()
    )
    assert lean.select("customer_id", "contact_name", "role", "company_type", "owner").sort(
        "customer_id"
    ).rows() == [
        ("0012", "Иванов Иван", "purchaser", "trading", "Петрова А.С."),
        ("12", None, "unknown", "manufacturing", "Орлов Д.А."),
    ]


@pytest.mark.parametrize("second_name", ["ООО Ромашка", "ООО Ромашка-Трейд", None])
def test_several_names_found_alike_in_a_lean_and_a_full_ingest(tmp_path, second_name):
    path = tmp_path / "o.csv"
    path.write_text(
        "ИНН;Наименование клиента;Дата;Сумма\n7701234567;ООО Ромашка;01.02.2024;10\n"
        f"7701234567;{second_name or ''};01.05.2024;20\n"
        "7701234568;ООО Ромашка-Трейд;01.05.2024;20\n",
        encoding="utf-8",
    )
    cfg = config_for(path)
    lean, full = ingest(cfg, lean=True), ingest(cfg)
    several = lean.quality["ids_with_several_names"]
    assert several == full.quality["ids_with_several_names"]
    assert len(several) == (second_name == "ООО Ромашка-Трейд")
