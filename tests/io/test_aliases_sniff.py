"""Header aliases and format sniffing."""

from __future__ import annotations

import pytest

from segtool.io.aliases import map_headers, normalize_header
from segtool.io.sniff import detect_date_order, detect_decimal, detect_delimiter, detect_encoding


@pytest.mark.parametrize(
    ("header", "normalized"),
    [
        ("Сумма, руб.", "сумма"),
        ("СУММА (RUB)", "сумма"),
        ("Amount (USD)", "amount"),
        ("  Дата заказа ", "датазаказа"),
        ("№ заказа", "номерзаказа"),
        ("E-mail", "email"),
        ("Ёмкость", "емкость"),
    ],
)
def test_normalize_header(header, normalized):
    assert normalize_header(header) == normalized


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # 1C-style Russian export
        (
            ["Номер заказа", "Дата", "ИНН", "Контрагент", "Сумма, руб."],
            {
                "order_id": "Номер заказа",
                "order_date": "Дата",
                "customer_id": "ИНН",
                "company_name": "Контрагент",
                "amount": "Сумма, руб.",
            },
        ),
        # Bitrix24-ish deal export
        (
            ["ID клиента", "Компания", "Дата сделки", "Сумма"],
            {
                "customer_id": "ID клиента",
                "company_name": "Компания",
                "order_date": "Дата сделки",
                "amount": "Сумма",
            },
        ),
        # English ERP export with no amount: quantity × unit price
        (
            ["InvoiceNo", "InvoiceDate", "CustomerID", "Quantity", "UnitPrice"],
            {
                "order_id": "InvoiceNo",
                "order_date": "InvoiceDate",
                "customer_id": "CustomerID",
                "quantity": "Quantity",
                "unit_price": "UnitPrice",
            },
        ),
        # Salesforce-like
        (
            ["Account ID", "Account Name", "Order Number", "Order Date", "Revenue"],
            {
                "customer_id": "Account ID",
                "company_name": "Account Name",
                "order_id": "Order Number",
                "order_date": "Order Date",
                "amount": "Revenue",
            },
        ),
        # «Клиент» with no other id column is the id (UCI export)
        (
            ["Номер заказа", "Дата", "Клиент", "Сумма"],
            {
                "order_id": "Номер заказа",
                "order_date": "Дата",
                "customer_id": "Клиент",
                "company_name": "Клиент",
                "amount": "Сумма",
            },
        ),
        # «Контрагент» as id (Iowa export), amount with a currency unit
        (
            ["Номер накладной", "Дата", "Контрагент", "Категория", "Сумма, руб."],
            {
                "order_id": "Номер накладной",
                "order_date": "Дата",
                "customer_id": "Контрагент",
                "company_name": "Контрагент",
                "category": "Категория",
                "amount": "Сумма, руб.",
            },
        ),
    ],
)
def test_order_aliases(headers, expected):
    assert map_headers(headers, "orders") == expected


def test_overrides_win():
    mapping = map_headers(
        ["ИНН покупателя", "Код", "Дата", "Итого"], "orders", {"customer_id": "Код"}
    )
    assert mapping["customer_id"] == "Код"
    assert mapping["amount"] == "Итого"


def test_contact_aliases():
    mapping = map_headers(
        ["ИНН", "Компания", "ФИО", "Должность", "Телефон", "E-mail", "Не звонить", "Менеджер"],
        "contacts",
    )
    assert mapping == {
        "customer_id": "ИНН",
        "company_name": "Компания",
        "contact_name": "ФИО",
        "job_title": "Должность",
        "phone": "Телефон",
        "email": "E-mail",
        "do_not_call": "Не звонить",
        "owner": "Менеджер",
    }


def test_encoding_detection():
    text = "Дата;Сумма\n01.01.2024;1,5\n"
    assert detect_encoding(b"\xef\xbb\xbf" + text.encode()) == ("utf-8-sig", False)
    assert detect_encoding(text.encode("utf-8")) == ("utf-8", False)
    assert detect_encoding(text.encode("cp1251")) == ("cp1251", False)
    mixed = (text * 20).encode() + "Контрагент;ООО Ромашка\n".encode("cp1251")
    assert detect_encoding(mixed) == ("utf-8", True)


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
def test_delimiter_detection(delimiter):
    rows = [["Дата", "Клиент", "Сумма"], ["01.01.2024", 'ООО "Ромашка"', "1"]] * 5
    text = "\n".join(delimiter.join(r) for r in rows)
    assert detect_delimiter(text) == delimiter


def test_delimiter_ignores_commas_inside_quotes():
    text = 'a;b;c\n"x, y, z";1;2\n"p, q";3;4\n'
    assert detect_delimiter(text) == ";"


def test_decimal_detection():
    assert detect_decimal(["1 234,56", "15,30", "2"], ";") == "comma"
    assert detect_decimal(["1,234.56", "15.30"], ",") == "point"
    assert detect_decimal(["12", "15"], ";") == "comma"  # no evidence: by delimiter
    assert detect_decimal(["12", "15"], ",") == "point"


def test_date_order_detection():
    assert detect_date_order(["05/01/2024", "13/01/2024"]) == "dmy"
    assert detect_date_order(["05/01/2024", "01/13/2024"]) == "mdy"
    assert detect_date_order(["05.01.2024"]) == "dmy"  # ambiguous: day first
