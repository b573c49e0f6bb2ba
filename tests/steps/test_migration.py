"""Month-over-month migration with hand-known movers, flags and task statuses."""

from __future__ import annotations

import datetime as dt

import openpyxl
import polars as pl
import pytest
import xlsxwriter

from segtool.config import Config, CsvOptions
from segtool.errors import InputError
from segtool.io.atomic import OutputSet
from segtool.io.csv_out import csv_bytes
from segtool.steps.migration import (
    GONE_KEY,
    NEW_KEY,
    compare,
    drop_closed_tasks,
    read_previous,
    read_task_statuses,
    write_migration,
)
from segtool.steps.tactics import task_id_expr

PREVIOUS_CSV = (
    "\ufeffcustomer_id;company_name;segment;red_flags\n"
    "0012;ООО Альфа;new_active;\n"
    "12;ООО Бета;new_active;\n"
    "300;Завод Гамма;regular_falling_asleep;overdue\n"
    "400;ИП Дельта;regular_active;overdue\n"
    "500;ТД Эпсилон;prospective_asleep;revenue_drop\n"
)

CURRENT = pl.DataFrame(
    {
        "customer_id": ["0012", "12", "300", "400", "600"],
        "company_name": ["ООО Альфа", "ООО Бета", "Завод Гамма", "ИП Дельта", "ООО Новый"],
        "segment": [
            "new_active",
            "prospective_active",
            "regular_asleep",
            "regular_active",
            "new_active",
        ],
        "red_flags": ["", "", "revenue_drop,overdue", "", "lost_category"],
        "segment_label_ru": [
            "Новые активные",
            "Перспективные активные",
            "Постоянные спящие",
            "Постоянные активные",
            "Новые активные",
        ],
    }
)


def _tasks_workbook(path, rows, header=("ID задачи", "Клиент", "Канал", "Статус")):
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Задачи")
    sheet.write_row(0, 0, header)
    for i, row in enumerate(rows, start=1):
        sheet.write_row(i, 0, row)
    book.close()


@pytest.fixture
def cfg() -> Config:
    c = Config.model_validate({"inputs": {"orders": {"path": "x.csv"}}})
    c.export.csv = CsvOptions(delimiter=";", bom=True)
    return c


@pytest.fixture
def previous(tmp_path):
    folder = tmp_path / "2026-10"
    folder.mkdir()
    (folder / "segments.csv").write_text(PREVIOUS_CSV, encoding="utf-8")
    (folder / "manifest.json").write_text('{"as_of": "2026-10-31"}', encoding="utf-8")
    _tasks_workbook(
        folder / "call_tasks.xlsx",
        [
            ("t1", "ООО Альфа", "call", "выполнена"),
            ("t2", "ООО Бета", "call", "отказ"),
            ("t3", "Завод Гамма", "call", "в работе"),
            ("t4", "ИП Дельта", "call", None),
        ],
    )
    # mail tasks with English labels and the snake_case header
    _tasks_workbook(
        folder / "mail_tasks.xlsx",
        [("t5", "500", "email", "open"), ("t7", "12", "email", "Done")],
        header=("task_id", "customer_id", "channel", "status"),
    )
    return folder


def test_movers_new_and_gone(cfg, previous):
    prev = read_previous(previous, cfg)
    mig = compare(CURRENT, prev, language="ru", as_of="2026-11-30")
    movers = {
        r["customer_id"]: (r["previous_segment"], r["segment"])
        for r in mig.movers.iter_rows(named=True)
    }
    assert movers == {
        "12": ("new_active", "prospective_active"),  # "12" is not "0012"
        "300": ("regular_falling_asleep", "regular_asleep"),
        "500": ("prospective_asleep", None),  # gone
        "600": (None, "new_active"),  # new
    }
    assert mig.counts["moved"] == 4
    assert mig.counts["new"] == 1 and mig.counts["gone"] == 1
    assert mig.counts["customers"] == 5 and mig.counts["previous_customers"] == 5
    assert mig.previous_as_of == "2026-10-31"


def test_flags_raised_and_cleared(cfg, previous):
    mig = compare(CURRENT, read_previous(previous, cfg))
    flags = {
        r["customer_id"]: (r["raised_flags"], r["cleared_flags"])
        for r in mig.flags.iter_rows(named=True)
    }
    assert flags == {
        "300": ("revenue_drop", ""),
        "400": ("", "overdue"),
        "600": ("lost_category", ""),
    }
    mover_300 = mig.movers.filter(pl.col("customer_id") == "300").row(0, named=True)
    assert mover_300["raised_flags"] == "revenue_drop"


def test_transition_matrix(cfg, previous):
    mig = compare(CURRENT, read_previous(previous, cfg))
    m = {r["previous_segment"]: r for r in mig.matrix.iter_rows(named=True)}
    assert list(mig.matrix["previous_segment"]) == [
        "new_active",
        "prospective_asleep",
        "regular_active",
        "regular_falling_asleep",
        NEW_KEY,
    ]
    assert mig.matrix.columns == [
        "previous_segment",
        "new_active",
        "prospective_active",
        "regular_active",
        "regular_asleep",
        GONE_KEY,
        "total",
    ]
    assert m["new_active"]["new_active"] == 1
    assert m["new_active"]["prospective_active"] == 1
    assert m["prospective_asleep"][GONE_KEY] == 1
    assert m[NEW_KEY]["new_active"] == 1
    assert m["regular_falling_asleep"]["regular_asleep"] == 1
    assert mig.matrix["total"].sum() == 6  # 5 now + 1 gone


def test_task_statuses_and_closed_tasks(cfg, previous):
    prev = read_previous(previous, cfg)
    status = dict(prev.tasks.select("task_id", "status").iter_rows())
    assert status == {
        "t1": "done",
        "t2": "refused",
        "t3": "in_progress",
        "t4": "open",
        "t5": "open",
        "t7": "done",
    }
    this_month = pl.DataFrame(
        {"task_id": ["t1", "t3", "t6", "t7"], "customer_id": ["0012", "300", "600", "12"]}
    )
    mig = compare(CURRENT, prev, tasks=this_month)
    assert sorted(mig.closed_task_ids) == ["t1", "t2", "t7"]
    kept = drop_closed_tasks(this_month, mig)
    assert kept["task_id"].to_list() == ["t3", "t6"]
    open_tasks = {r["task_id"]: r for r in mig.open_tasks.iter_rows(named=True)}
    assert set(open_tasks) == {"t3", "t4", "t5"}
    assert open_tasks["t3"]["reissued"] is True
    assert open_tasks["t4"]["reissued"] is False
    assert open_tasks["t5"]["segment"] is None  # customer 500 is gone
    assert open_tasks["t5"]["source"] == "mail_tasks.xlsx"


def test_done_last_month_holds_back_the_same_task_this_month(cfg, tmp_path):
    """Task ids change with the period: last month's done task is found through the id the
    same customer, tactic and step had in last month's period."""
    folder = tmp_path / "2026-10"
    folder.mkdir()
    (folder / "segments.csv").write_text(PREVIOUS_CSV, encoding="utf-8")
    (folder / "manifest.json").write_text('{"as_of": "2026-10-31"}', encoding="utf-8")
    plan = pl.DataFrame(
        {
            "customer_id": ["300", "400", "12"],
            "tactic": ["reactivation_call", "thank_you", "upsell"],
            "step": [1, 1, 2],
        }
    )
    october = plan.select(
        task_id_expr(pl.col("customer_id"), pl.col("tactic"), pl.col("step"), "2026-10").alias("id")
    )["id"].to_list()
    _tasks_workbook(
        folder / "call_tasks.xlsx",
        [
            (october[0], "Завод Гамма", "call", "выполнена"),
            (october[1], "ИП Дельта", "call", "отказ"),
            (october[2], "ООО Бета", "call", "открыта"),
        ],
    )
    november = plan.with_columns(
        task_id_expr(pl.col("customer_id"), pl.col("tactic"), pl.col("step"), "2026-11").alias(
            "task_id"
        )
    )
    mig = compare(CURRENT, read_previous(folder, cfg), tasks=november, task_period="month")
    assert drop_closed_tasks(november, mig)["customer_id"].to_list() == ["12"]
    assert mig.counts["closed_tasks"] == 2 and mig.counts["withheld_tasks"] == 2
    open_tasks = mig.open_tasks.row(0, named=True)
    assert open_tasks["task_id"] == october[2] and open_tasks["reissued"] is True
    # without the period, only same-period ids match: nothing is held back
    plain = compare(CURRENT, read_previous(folder, cfg), tasks=november)
    assert drop_closed_tasks(november, plain).height == 3


def test_no_previous_tasks_and_cp1251(tmp_path):
    c = Config.model_validate(
        {"inputs": {"orders": {"path": "x.csv"}}, "export": {"csv": {"encoding": "cp1251"}}}
    )
    folder = tmp_path / "prev"
    folder.mkdir()
    (folder / "segments.csv").write_bytes(
        "customer_id,company_name,segment,red_flags\n1,Ёлка,lead,\n".encode("cp1251")
    )
    prev = read_previous(folder, c)
    assert prev.segments.row(0) == ("1", "Ёлка", "lead", "")
    assert prev.tasks.height == 0
    mig = compare(pl.DataFrame({"customer_id": ["1"], "segment": ["new_active"]}), prev)
    assert mig.movers.row(0, named=True)["previous_segment"] == "lead"
    assert mig.open_tasks.height == 0


def test_previous_folder_errors(cfg, tmp_path):
    with pytest.raises(InputError, match="no such folder"):
        read_previous(tmp_path / "missing", cfg)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="segments.csv: not found"):
        read_previous(tmp_path / "empty", cfg)
    (tmp_path / "empty" / "segments.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a segtool segments.csv"):
        read_previous(tmp_path / "empty", cfg)


def test_task_workbook_header_below_a_title(tmp_path):
    path = tmp_path / "call_tasks.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Calls")
    sheet.write(0, 0, "Call tasks for November")
    sheet.write_row(2, 0, ["Task ID", "Status", "Due"])
    sheet.write_row(3, 0, ["a", "In progress"])
    day = book.add_format({"num_format": "dd.mm.yyyy"})
    sheet.write_datetime(3, 2, dt.datetime(2026, 11, 2), day)
    sheet.write_row(4, 0, ["b", "REFUSED", "05.11.2026"])
    book.close()
    frame = read_task_statuses(path)
    assert frame.select("task_id", "status", "due_date").rows() == [
        ("a", "in_progress", dt.date(2026, 11, 2)),
        ("b", "refused", dt.date(2026, 11, 5)),
    ]


def test_csv_escapes_formulas_and_uses_options():
    frame = pl.DataFrame({"customer_id": ["1"], "company_name": ["=HYPERLINK()"]})
    data = csv_bytes(frame, CsvOptions(delimiter=";", bom=True))
    assert data == "\ufeffcustomer_id;company_name\n1;'=HYPERLINK()\n".encode()


def test_write_migration_files(cfg, previous, tmp_path):
    mig = compare(
        CURRENT,
        read_previous(previous, cfg),
        as_of="2026-11-30",
        tasks=pl.DataFrame({"task_id": ["t3"]}),
    )
    out_dir = tmp_path / "out"
    with OutputSet(out_dir) as out:
        names = write_migration(out, mig, cfg, {"xlsx", "csv"})
    assert names == ["migration.csv", "migration.xlsx"]
    text = (out_dir / "migration.csv").read_bytes().decode("utf-8-sig")
    assert text.splitlines() == [
        "customer_id;company_name;previous_segment;segment;raised_flags;cleared_flags",
        "12;ООО Бета;new_active;prospective_active;;",
        "500;ТД Эпсилон;prospective_asleep;;;",
        "300;Завод Гамма;regular_falling_asleep;regular_asleep;revenue_drop;",
        "600;ООО Новый;;new_active;lost_category;",
    ]
    book = openpyxl.load_workbook(out_dir / "migration.xlsx")
    assert book.sheetnames == ["Сводка", "Переходы", "Флаги", "Открытые задачи"]
    movers = book["Переходы"]
    assert movers.freeze_panes == "A2"
    assert movers.auto_filter.ref == "A1:F5"
    rows = list(movers.iter_rows(values_only=True))
    assert rows[1] == ("12", "ООО Бета", "Новые активные", "Перспективные активные", None, None)
    assert rows[4] == (
        "600",
        "ООО Новый",
        "(новые)",
        "Новые активные",
        "ушла категория",  # the same label as in segments.xlsx
        None,
    )
    flags = {r[0]: r for r in book["Флаги"].iter_rows(min_row=2, values_only=True)}
    assert flags["300"] == (
        "300",
        "Завод Гамма",
        "Постоянные спящие",
        "пропущен заказ",
        "падение выручки, пропущен заказ",
        "падение выручки",
        None,
    )
    summary = list(book["Сводка"].iter_rows(values_only=True))
    assert summary[2][:2] == ("Дата анализа", dt.datetime(2026, 11, 30))
    sheet = book["Сводка"]
    assert sheet["B3"].number_format == "dd.mm.yyyy"  # a date, not text
    assert sheet["B5"].number_format == "#,##0"  # counts with thousands separators
    # printed on one landscape page: the numbers beside their labels
    assert sheet.page_setup.orientation == "landscape"
    # 1 x 1 page (1 is the default of both, which the file leaves out)
    assert sheet.page_setup.fitToWidth in (None, 1) and sheet.page_setup.fitToHeight in (None, 1)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert ("Сменили сегмент (включая новых и выбывших)", 4) in [r[:2] for r in summary]
    tasks = list(book["Открытые задачи"].iter_rows(values_only=True))
    assert [r[0] for r in tasks[1:]] == ["t3", "t4", "t5"]
    assert tasks[1][6] == "в работе" and tasks[1][8] == "да"
    assert book["Сводка"].freeze_panes is None
    assert not any(p.name.startswith(".segtool-tmp") for p in out_dir.iterdir())
