"""Exports as they come: the misreads that used to pass without a word.

Each case is a hand-made export with the rows expected accepted, rejected (with the
reason) or the error expected; run through the real command line in process.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from clirun import assert_one_error, cli
from test_bad_inputs import accounting, ingest, orders, project, rejects

from segtool.errors import EXIT_INPUT, EXIT_OK

HEADER = "ИНН;Контрагент;Дата;Сумма\n"
LENIENT = "limits: {max_reject_rate: 0.9}\n"  # small files: one reject is over 5 %


def manifest(config: Path) -> dict:
    return json.loads((config.parent / "ws" / "manifest.json").read_text(encoding="utf-8"))


def by_row(config: Path) -> dict[int, str]:
    return {row: reason for _, row, _, reason in rejects(config)}


# -- dates ------------------------------------------------------------------------------------
def test_one_us_date_does_not_flip_a_day_first_file(tmp_path, capsys):
    text = HEADER + (
        "001;А;02.03.2024;10\n001;А;05.04.2024;20\n002;Б;07.08.2024;30\n002;Б;12/25/2024;40\n"
    )
    config = project(tmp_path, text, extra=LENIENT)
    assert ingest(capsys, config).code == EXIT_OK
    assert by_row(config) == {5: "ambiguous_date"}
    assert orders(config)["order_date"].cast(pl.String).to_list() == [
        "2024-03-02",
        "2024-04-05",
        "2024-08-07",
    ]  # 02.03 is 2 March, never 3 February


def test_us_dates_mixed_into_a_dd_mm_file_are_rejected_not_read_as_dd_mm(tmp_path, capsys):
    text = HEADER + (
        "001;А;25.01.2024;10\n001;А;03.02.2024;20\n"
        "002;Б;03/04/2024;30\n002;Б;12/25/2024;40\n003;В;2024-06-01;50\n"
    )
    config = project(tmp_path, text)
    result = ingest(capsys, config)
    assert by_row(config) == {4: "ambiguous_date", 5: "ambiguous_date"}
    assert orders(config)["order_date"].cast(pl.String).to_list() == [
        "2024-01-25",
        "2024-02-03",
        "2024-06-01",
    ]
    assert "ambiguous_date" in result.err  # the warning names what was done


def test_a_month_first_file_stays_month_first(tmp_path, capsys):
    text = "Customer ID;Date;Amount\n1;12/25/2024;10\n1;01/13/2024;20\n2;03/04/2024;30\n"
    config = project(tmp_path, text)
    assert ingest(capsys, config).code == EXIT_OK
    assert orders(config)["order_date"].cast(pl.String).to_list() == [
        "2024-12-25",
        "2024-01-13",
        "2024-03-04",
    ]


def test_day_first_dates_against_a_configured_month_first_order(tmp_path, capsys):
    text = "Customer ID;Date;Amount\n1;12/25/2024;10\n2;25/12/2024;20\n"
    config = project(tmp_path, text)
    config.write_text(
        "inputs:\n  orders: {path: orders.csv}\n  formats: {date: mdy}\n", encoding="utf-8"
    )
    ingest(capsys, config)
    assert by_row(config) == {3: "ambiguous_date"}


# -- numbers and currencies ---------------------------------------------------------------
def test_point_thousands_in_a_comma_file_is_ambiguous(tmp_path, capsys):
    text = HEADER + (
        "001;А;01.02.2024;1 200,50\n001;А;02.02.2024;1.250\n"
        "001;А;03.02.2024;1.250.000,00\n001;А;04.02.2024;15,5\n"
    )
    config = project(tmp_path, text)
    ingest(capsys, config)
    assert rejects(config) == [("orders.csv", 3, "Сумма", "ambiguous_amount")]
    assert orders(config)["amount"].to_list() == [1200.5, 1_250_000.0, 15.5]


def test_amounts_in_several_currencies_are_not_summed(tmp_path, capsys):
    text = HEADER + (
        "001;А;01.02.2024;100 ₽\n001;А;02.02.2024;200 руб.\n"
        "002;Б;03.02.2024;$50\n002;Б;04.02.2024;70 €\n003;В;05.02.2024;300\n"
    )
    config = project(tmp_path, text)
    ingest(capsys, config)
    assert by_row(config) == {4: "other_currency", 5: "other_currency"}
    assert orders(config)["amount"].to_list() == [100.0, 200.0, 300.0]


def test_the_header_names_the_file_currency(tmp_path, capsys):
    text = "ИНН;Дата;Сумма, USD\n001;01.02.2024;10\n001;02.02.2024;20 ₽\n001;03.02.2024;5 €\n"
    config = project(tmp_path, text)
    ingest(capsys, config)
    assert by_row(config) == {3: "other_currency", 4: "other_currency"}


def test_a_conversion_table_converts_instead(tmp_path, capsys):
    text = HEADER + "001;А;01.02.2024;100 ₽\n002;Б;02.02.2024;$2\n003;В;03.02.2024;1 £\n"
    config = project(tmp_path, text)
    config.write_text(
        "inputs:\n  orders: {path: orders.csv}\n  formats: {currency: {RUB: 1, USD: 90}}\n",
        encoding="utf-8",
    )
    ingest(capsys, config)
    assert by_row(config) == {4: "other_currency"}  # no rate for GBP
    assert orders(config)["amount"].to_list() == [100.0, 180.0]


# -- totals and grouped reports ----------------------------------------------------------
def test_subtotal_rows_with_id_and_date_are_not_orders(tmp_path, capsys):
    text = (
        "ИНН;Контрагент;Номер заказа;Дата;Сумма\n"
        "7701234567;ООО Ромашка;A-1;01.02.2024;1 000\n"
        "7701234567;ООО Ромашка;A-2;01.03.2024;1 011\n"
        "7701234567;ООО Ромашка;A-3;01.04.2024;1 022\n"
        "7701234567;Всего по клиенту;;01.04.2024;3 033\n"
        "Итого;;;;3 033\n"
        ";Итого;;31.12.2012;12 345 678,90\n"
        "7701234567;ООО Ромашка;Итого по заказу:;01.04.2024;1 022\n"
    )
    config = project(tmp_path, text)
    ingest(capsys, config)
    assert by_row(config) == {5: "totals_row", 6: "totals_row", 7: "totals_row", 8: "totals_row"}
    frame = orders(config)
    assert frame["order_id"].n_unique() == 3 and frame["amount"].sum() == 3033.0
    assert "Итого" not in frame["customer_id"].to_list()


GROUPED = (
    "Контрагент;Номер документа;Дата;Сумма\n"
    "ООО Ромашка;;;3 500\n"
    ";Р-001;01.02.2024;1 000\n"
    ";Р-002;15.02.2024;2 500\n"
    "ИП Волков;;;700\n"
    ";Р-003;03.02.2024;700\n"
    "Итого;;;4 200\n"
)


def test_a_grouped_report_is_read_as_grouped(tmp_path, capsys):
    config = project(tmp_path, GROUPED, extra=LENIENT)
    result = ingest(capsys, config)
    assert result.code == EXIT_OK
    assert by_row(config) == {2: "group_header", 5: "group_header", 7: "totals_row"}
    frame = orders(config)
    assert frame.select("customer_id", "order_id", "amount").rows() == [
        ("ООО Ромашка", "Р-001", 1000.0),
        ("ООО Ромашка", "Р-002", 2500.0),
        ("ИП Волков", "Р-003", 700.0),
    ]
    assert "grouped report" in result.err


def test_run_with_no_usable_row_names_the_reasons_without_a_missing_rejects_csv(tmp_path, capsys):
    config = project(tmp_path, HEADER + "Итого;;01.02.2024;10\n;;01.02.2024;5\n")
    result = cli(capsys, "run", "--config", config, "--out", tmp_path / "out")
    line = assert_one_error(
        result, EXIT_INPUT, "orders.csv", "totals_row 1", "missing_customer_id 1"
    )
    assert "see rejects.csv" not in line


# -- customer identity --------------------------------------------------------------------
def test_one_inn_written_six_ways_is_one_customer(tmp_path, capsys):
    spellings = [
        "7701234567",
        "7701234567.0",
        "'7701234567",
        "\u200b7701234567",
        "７７０１２３４５６７",
        "7701234567\u00a0",
        "7,70E+09",
    ]
    text = "ИНН;Дата;Сумма\n" + "".join(
        f"{s};0{i + 1}.02.2024;{i + 1}0\n" for i, s in enumerate(spellings)
    )
    config = project(tmp_path, text)
    result = ingest(capsys, config)
    assert by_row(config) == {8: "bad_id"}  # scientific notation: the digits are lost
    assert orders(config)["customer_id"].unique().to_list() == ["7701234567"]
    assert manifest(config)["data_quality"]["ids_folded"] == {"spelling": 1}
    assert "customer ids folded to one spelling: spelling 1" in result.err


def contacts_project(tmp_path: Path, orders_text: str, contacts_text: str) -> Path:
    config = project(tmp_path, orders_text)
    (tmp_path / "contacts.csv").write_text(contacts_text, encoding="utf-8")
    config.write_text(
        "inputs:\n  orders: {path: orders.csv}\n  contacts: {path: contacts.csv}\n",
        encoding="utf-8",
    )
    return config


def test_inn_without_its_leading_zero_meets_its_contacts(tmp_path, capsys):
    config = contacts_project(
        tmp_path,
        "ИНН;Дата;Сумма\n770123456;01.02.2024;10\n77012345678;02.02.2024;20\n",
        "ИНН;ФИО;Телефон\n0770123456;Иванов Иван;+7 900\n077012345678.0;Петров Пётр;+7 901\n"
        "0770000001;Сидоров;+7 902\n",
    )
    result = ingest(capsys, config)
    assert orders(config)["customer_id"].to_list() == ["0770123456", "077012345678"]
    contacts = pl.read_parquet(config.parent / "ws" / "contacts.parquet")
    assert contacts["customer_id"].to_list() == ["0770123456", "077012345678", "0770000001"]
    assert "contacts: 0 of 2 customers with orders have no contact; 1 of 3 companies" in result.err


def test_contacts_ids_written_as_floats_still_meet_paying_customers(tmp_path, capsys):
    config = contacts_project(
        tmp_path,
        "Код клиента;Дата;Сумма\n1001;01.02.2024;10\n1002;02.02.2024;20\n",
        "Код клиента;ФИО;Телефон\n1001.0;Иванов Иван;+7 900\n1002.0;Петров Пётр;+7 901\n",
    )
    result = cli(capsys, "run", "--config", config, "--out", tmp_path / "out", "--format", "csv")
    assert result.code == EXIT_OK, result.err
    segments = pl.read_csv(
        tmp_path / "out" / "segments.csv", schema_overrides={"customer_id": pl.String}
    )
    assert sorted(segments["customer_id"].to_list()) == ["1001", "1002"]
    assert "lead" not in segments["segment"].to_list()


def test_cyrillic_and_latin_lookalike_codes_are_one_customer(tmp_path, capsys):
    text = "Код клиента;Дата;Сумма\nКА-001;01.02.2024;10\nKA-001;02.02.2024;20\n"
    config = project(tmp_path, text)
    result = ingest(capsys, config)
    assert orders(config)["customer_id"].to_list() == ["KA-001", "KA-001"]
    assert manifest(config)["data_quality"]["ids_folded"] == {"cyrillic_latin": 1}
    assert "cyrillic latin 1" in result.err


def test_one_inn_with_two_names_uses_the_latest_and_lists_the_other(tmp_path, capsys):
    text = (
        "ИНН;Наименование клиента;Дата;Сумма\n7701234567;ООО Ромашка;01.02.2024;10\n"
        "7701234567;ООО Ромашка-Трейд;01.05.2024;20\n"
    )
    config = project(tmp_path, text)
    result = ingest(capsys, config)
    assert manifest(config)["data_quality"]["ids_with_several_names"] == [
        "7701234567: «ООО Ромашка-Трейд» (most recent, used); also «ООО Ромашка»"
    ]
    assert "1 customer id(s) appear with more than one company name" in result.err


def test_names_as_ids_are_folded_and_the_user_is_told(tmp_path, capsys):
    text = (
        'Контрагент;Дата;Сумма\nООО "Ромашка";01.02.2024;10\nРомашка ООО;02.02.2024;20\n'
        "ООО «Ромашка»;03.02.2024;30\nИП Волков;03.02.2024;5\n"
    )
    config = project(tmp_path, text)
    result = ingest(capsys, config)
    assert orders(config)["customer_id"].to_list() == [
        'ООО "Ромашка"',
        'ООО "Ромашка"',
        'ООО "Ромашка"',
        "ИП Волков",
    ]
    assert "company names in «Контрагент» are used as ids" in result.err
    assert manifest(config)["data_quality"]["ids_folded"] == {"name_spelling": 2}
    assert accounting(result, "orders.csv") == (4, 4, 0, 0)


def test_a_flat_export_with_some_ids_missing_is_not_taken_for_grouped(tmp_path, capsys):
    text = HEADER + ("001;А;01.02.2024;10\n002;Б;;20\n;;02.02.2024;30\n003;В;03.02.2024;40\n")
    config = project(tmp_path, text, extra=LENIENT)
    result = ingest(capsys, config)
    assert by_row(config) == {3: "missing_date", 4: "missing_customer_id"}
    assert "grouped" not in result.err


def test_scientific_notation_ids_are_explained(tmp_path, capsys):
    config = project(
        tmp_path, "ИНН;Дата;Сумма\n7,70E+09;01.02.2024;10\n1;02.02.2024;5\n", extra=LENIENT
    )
    result = ingest(capsys, config)
    assert by_row(config) == {2: "bad_id"}
    assert "lost their digits in Excel" in result.err
