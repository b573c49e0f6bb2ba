"""The workbooks as an analyst reads and prints them, on the sample data: the caller's layout
and print setup of the task sheets, Russian headers everywhere, the Summary dashboard, the
migration workbook, and the excel-ru CSV dialect read back.

The rendered-PDF check runs only where LibreOffice (``soffice``) and poppler are installed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from clirun import cli
from polars.testing import assert_frame_equal

from segtool import schema
from segtool.config import CsvOptions, load_config
from segtool.errors import ConfigError
from segtool.io.xlsx import PAGE_WIDTH_PX, column_pixels, print_scale
from segtool.pipeline import run_pipeline
from segtool.steps.classify import EXTRA_COLUMNS
from segtool.steps.export import CALL_LAYOUT, HEADERS, LABELS, MAIL_LAYOUT, header
from segtool.steps.migration import FLAG_COLUMNS, MOVER_COLUMNS, OPEN_TASK_COLUMNS
from segtool.steps.tactics import TASK_COLUMNS

REPO = Path(__file__).resolve().parents[1]
SAMPLE_CONFIG = REPO / "config" / "segtool.yaml"
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
KEYS = (
    set(schema.SEGMENT_COLUMNS)
    | set(EXTRA_COLUMNS)
    | set(TASK_COLUMNS)
    | set(MOVER_COLUMNS)
    | set(FLAG_COLUMNS)
    | set(OPEN_TASK_COLUMNS)
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """The sample data run twice (the second with --previous: migration.xlsx), then once
    more with the excel-ru CSV dialect."""
    base = tmp_path_factory.mktemp("runs")
    cfg = load_config(SAMPLE_CONFIG)
    first, second, excel = base / "first", base / "second", base / "excel"
    run_pipeline(cfg, out=first, as_of=None, previous=None, formats={"xlsx", "csv"})
    run_pipeline(cfg, out=second, as_of=None, previous=first, formats={"xlsx", "csv"})
    ru = cfg.model_copy(deep=True)
    ru.export.csv = CsvOptions(dialect="excel-ru")
    run_pipeline(ru, out=excel, as_of=None, previous=None, formats={"csv"})
    return {"first": first, "second": second, "excel": excel}


def header_row(ws) -> list[str]:
    return [c.value for c in ws[1] if c.value is not None]


# -- task sheets: the caller's layout and print setup ----------------------------------------
@pytest.mark.parametrize("name", ["call_tasks", "mail_tasks"])
def test_task_sheets_print_landscape_one_page_wide_with_the_header_on_every_page(runs, name):
    ws = openpyxl.load_workbook(runs["first"] / f"{name}.xlsx").worksheets[0]
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToWidth in (None, 1)  # 1 is the default, left out of the file
    assert ws.page_setup.fitToHeight == 0  # as many pages tall as it takes
    assert ws.print_title_rows == "$1:$1"
    # each printed page says whose list it is (the sheet's name) and which page it is
    assert ws.oddHeader.left.text == "&A" and ws.oddFooter.right.text == "&P / &N"
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
    head = header_row(ws)
    script = head.index("Скрипт") + 1
    assert ws.cell(row=2, column=script).alignment.wrap_text
    assert ws.column_dimensions[ws.cell(row=1, column=script).column_letter].width >= 45
    # rows tall enough for the wrapped script: ~230 characters in a 56-wide column
    text = ws.cell(row=2, column=script).value
    width = ws.column_dimensions[ws.cell(row=1, column=script).column_letter].width
    assert ws.row_dimensions[2].height >= 15 * -(-len(text) // int(width))
    # sorted by due date (then rank)
    due = [r[0] for r in ws.iter_rows(min_row=2, max_col=1, values_only=True)]
    assert due == sorted(due) and isinstance(due[0], dt.datetime)


def test_call_sheet_puts_contact_phone_and_script_on_the_company_page(runs):
    """The print area is the caller's columns, and their widths fit one landscape A4 page
    wide at a readable zoom (at least 75 %), so the company, contact, phone and script
    print on the same page."""
    ws = openpyxl.load_workbook(runs["first"] / "call_tasks.xlsx").worksheets[0]
    head = header_row(ws)
    assert head[:8] == [
        "Срок",
        "Клиент",
        "Контакт",
        "Телефон",
        "Скрипт",
        "Предложение",
        "Почему в сегменте",
        "Статус",
    ]
    area = ws.print_area
    assert area is not None and re.search(r"\$A\$1:\$H\$\d+", area), area
    # a width in the file is the character count plus padding (10 -> 10.71): 7 px each
    pixels = [
        round(7 * ws.column_dimensions[chr(ord("A") + i)].width) for i in range(len(CALL_LAYOUT))
    ]
    assert pixels == [column_pixels(w) for w, _ in CALL_LAYOUT.values()]
    assert print_scale([w for w, _ in CALL_LAYOUT.values()]) >= 0.75
    assert print_scale([w for w, _ in MAIL_LAYOUT.values()]) >= 0.75
    assert PAGE_WIDTH_PX / sum(pixels) >= 0.75


@pytest.mark.skipif(
    not (shutil.which("soffice") and shutil.which("pdftotext")),
    reason="LibreOffice and poppler are not installed",
)
def test_rendered_call_sheet_first_page(runs, tmp_path):
    """LibreOffice prints the sample's first task with its contact, phone and script on
    page 1, beside the company; the 367 tasks take far fewer pages than the 84 of before."""
    book = runs["first"] / "call_tasks.xlsx"
    subprocess.run(
        [
            "soffice",
            "--headless",
            "--calc",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(book),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = tmp_path / "call_tasks.pdf"
    page = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    first = openpyxl.load_workbook(book).worksheets[0]
    row = {h: first.cell(row=2, column=i + 1).value for i, h in enumerate(header_row(first))}
    words = " ".join(page.split())
    for key in ("Клиент", "Контакт"):
        assert all(word in words for word in row[key].split()), (key, row[key])
    assert row["Телефон"].split()[-1] in words
    assert " ".join(row["Скрипт"].split()[:3]) in words
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages < 60


# -- Russian headers and values ---------------------------------------------------------------
def test_no_header_is_a_snake_case_key_when_language_is_ru(runs):
    for name in ("segments", "call_tasks", "mail_tasks", "migration"):
        book = openpyxl.load_workbook(runs["second"] / f"{name}.xlsx")
        for ws in book.worksheets:
            if ws.title == "Сводка":
                values = [c.value for r in ws.iter_rows() for c in r]
            else:
                values = [c.value for c in ws[1]]
            for value in values:
                if isinstance(value, str):
                    assert not SNAKE.match(value) and value not in KEYS, (name, ws.title, value)


def test_customers_sheet_values_and_formats_read_in_russian(runs):
    ws = openpyxl.load_workbook(runs["first"] / "segments.xlsx")["Клиенты"]
    head = header_row(ws)
    assert "Стратегия" in head and len(head) == len(set(head))  # no duplicate columns
    col = {h: i + 1 for i, h in enumerate(head)}

    def values(name: str) -> set:
        return {
            r[0]
            for r in ws.iter_rows(min_row=2, min_col=col[name], max_col=col[name], values_only=True)
        } - {None}

    assert values("Тип определён по названию") <= {"да", "нет"}
    assert values("Размер оценён по") <= {"оборот", "численность", "выручка за 12 мес."}
    assert values("Класс размера") <= {"микро", "малое", "среднее", "крупное"}
    for name, fmt in (
        ("Численность", "#,##0"),
        ("Обычный интервал, дней", "#,##0"),
        ("Дней с последнего заказа", "#,##0"),
        ("Размер", "#,##0"),
        ("Выручка", "#,##0.00"),
        ("Последний заказ", "dd.mm.yyyy"),
    ):
        cell = next(
            r[0]
            for r in ws.iter_rows(min_row=2, min_col=col[name], max_col=col[name])
            if r[0].value is not None
        )
        assert cell.number_format == fmt, name


def test_every_column_has_a_label_and_an_unknown_one_reads_as_words():
    for key in [
        *schema.SEGMENT_COLUMNS,
        *EXTRA_COLUMNS,
        *TASK_COLUMNS,
        "p_alive",
        "expected_orders",
        "expected_revenue",
        "size_class",
    ]:
        if key.endswith("_label") or key.startswith("segment_label"):
            continue  # label columns are not shown (their code column is, as labels)
        assert key in HEADERS, key
        assert not SNAKE.match(header(key, "ru")) and not SNAKE.match(header(key, "en"))
    assert header("p_alive", "ru") == "Вероятность активности"
    assert header("expected_orders", "en") == "Expected orders in 90 days"
    assert header("brand_new_metric", "ru") == "Brand new metric"
    assert LABELS["size_class"]["ru"]["micro"] == "микро"
    assert LABELS["red_flags"]["ru"]["probably_left"] == "вероятно, ушёл"


# -- Summary ------------------------------------------------------------------------------
def test_summary_dashboard_on_the_sample(runs):
    manifest = json.loads((runs["first"] / "manifest.json").read_text(encoding="utf-8"))
    ws = openpyxl.load_workbook(runs["first"] / "segments.xlsx")["Сводка"]
    cells = {(c.row, c.column): c for r in ws.iter_rows() for c in r if c.value is not None}
    by_text = {c.value: (r, k) for (r, k), c in cells.items() if isinstance(c.value, str)}
    r, k = by_text["Дата анализа"]
    date = ws.cell(row=r, column=k + 1)
    assert date.is_date and date.value == dt.datetime.fromisoformat(manifest["as_of"])

    def block(title: str) -> dict[str, int]:
        """label -> number of the rows under a block's header, up to the first gap."""
        row, col = by_text[title]
        out = {}
        while ws.cell(row=row + 1, column=col).value is not None:
            row += 1
            out[ws.cell(row=row, column=col).value] = ws.cell(row=row, column=col + 1).value
        return out

    channels = block("Задачи по каналам")
    labels = LABELS["channel"]["ru"]
    expected = {labels[c]: n for c, n in manifest["tasks_per_channel"].items()}
    assert channels == {**expected, "Всего задач": sum(expected.values())}
    assert sum(block("Задачи по ответственным").values()) == sum(expected.values())
    flags = block("Флажок")
    names = LABELS["red_flags"]["ru"]
    for code, n in manifest["classify"]["red_flags"].items():
        assert flags[names[code]] == n
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToHeight in (None, 1)
    assert len(ws._charts) == 2  # no chart of grades: constant by construction (quantiles)
    # periods per category by the label the reasons use, never the config key
    periods = block("Категория")
    assert "Станки, Оборудование" in periods and "durable" not in periods, periods


# -- CSV for Russian Excel -----------------------------------------------------------------
def _typed_like(machine: pl.DataFrame, excel: pl.DataFrame) -> pl.DataFrame:
    """The excel-ru CSV (read as text) converted to the machine CSV's inferred types."""
    exprs = []
    for name, dtype in machine.schema.items():
        col = pl.col(name)
        if dtype.is_float():
            exprs.append(col.str.replace(",", ".", literal=True).cast(dtype))
        elif dtype == pl.Date:
            exprs.append(col.str.to_date("%d.%m.%Y"))
        elif dtype == pl.Boolean:
            exprs.append(col == "true")
        else:
            exprs.append(col.cast(dtype))
    return excel.select(exprs)


@pytest.mark.parametrize("name", ["segments.csv", "call_tasks.csv", "mail_tasks.csv"])
def test_excel_ru_csv_reads_back_to_the_same_values(runs, name):
    raw = (runs["excel"] / name).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw[3:].split(b"\n", 1)[0].decode()
    assert header.split(";")[0] in ("customer_id", "task_id")  # keys, not labels
    machine = pl.read_csv(runs["first"] / name, try_parse_dates=True, infer_schema_length=None)
    excel = pl.read_csv(runs["excel"] / name, separator=";", infer_schema=False)
    assert excel.columns == machine.columns
    assert_frame_equal(_typed_like(machine, excel), machine)
    # Russian Excel reads these as numbers and dates: decimal comma, dd.mm.yyyy
    text = raw.decode("utf-8-sig")
    assert re.search(r";\d+,\d+;", text) and re.search(r"\d\d\.\d\d\.\d{4}", text)
    manifest = json.loads((runs["excel"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["csv"] == {
        "dialect": "excel-ru",
        "delimiter": ";",
        "bom": True,
        "encoding": "utf-8",
        "decimal": ",",
        "date_format": "dd.mm.yyyy",
    }


def test_excel_ru_with_a_comma_delimiter_is_a_config_error(tmp_path):
    config = tmp_path / "segtool.yaml"
    config.write_text(
        "inputs: {orders: {path: o.csv}}\nexport: {csv: {dialect: excel-ru, delimiter: ','}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert "export.csv" in str(caught.value) and "decimal comma" in str(caught.value)


# -- notices ------------------------------------------------------------------------------
def test_unused_columns_are_one_notice_for_the_files_and_hidden_by_quiet(tmp_path, capsys):
    for month in ("01", "02"):
        (tmp_path / f"orders_{month}.csv").write_text(
            f"ИНН;Дата;Сумма;Примечание\n0012;05.{month}.2026;100;срочно\n", encoding="utf-8"
        )
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs: {orders: {path: 'orders_*.csv'}}\n", encoding="utf-8")
    args = ("ingest", "--config", config, "--workspace", tmp_path / "ws")
    loud = cli(capsys, *args)
    assert loud.code == 0, loud.err
    lines = [ln for ln in loud.err.splitlines() if "columns not used" in ln]
    assert lines == ["orders_01.csv, orders_02.csv: columns not used: «Примечание»"]
    quiet = cli(capsys, *args[:1], "-q", *args[1:])
    assert quiet.code == 0 and "columns not used" not in quiet.err
