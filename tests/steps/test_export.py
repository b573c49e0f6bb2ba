"""write_outputs: the files, the Summary sheet, labels, charts, CSV keys and codes."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import polars as pl

from segtool.config import config_for_orders
from segtool.io.atomic import OutputSet
from segtool.schema import REJECTS, empty
from segtool.steps.export import write_outputs
from segtool.steps.tactics import DATA_QUALITY_COLUMNS, TASK_COLUMNS, TASK_SCHEMA

SEGMENTS = pl.DataFrame(
    {
        "customer_id": ["001", "002", "003"],
        "company_name": ["=cmd|' /C calc'!A0", "АО Бета", "ИП Гамма"],
        "stage": ["new", "regular", None],
        "activity": ["active", "asleep", None],
        "segment": ["new_active", "regular_asleep", "lead"],
        "orders": [1, 10, 0],
        "revenue": [1000.0, 50000.0, 0.0],
        "last_order_date": [dt.date(2026, 10, 21), dt.date(2024, 8, 22), None],
        "grade_recency": ["A", "C", None],
        "grade_frequency": ["C", "A", None],
        "grade_size": ["B", "A", None],
        "grade_margin": ["C", "B", None],
        "abc": ["ACBC", "CAAB", None],
        "priority": [False, False, None],
        "red_flags": ["", "revenue_drop,overdue", ""],
        "reason": ["r1", "r2", "r3"],
        "segment_label_ru": ["x", "y", "z"],
    }
)


def tasks() -> pl.DataFrame:
    rows = []
    for i, (channel, cid) in enumerate(
        [("call", "002"), ("email", "001"), ("survey", "003"), ("inmail", "002")]
    ):
        rows.append(
            {c: None for c in TASK_COLUMNS}
            | {
                "task_id": f"t{i}",
                "customer_id": cid,
                "company_name": "@SUM(1)",
                "channel": channel,
                "segment": "regular_asleep",
                "tactic": "x",
                "step": 1,
                "status": "open",
                "due_date": dt.date(2026, 11, 5),
                "expected_value": 1500.5,
                "priority": False,
                "phone": "+7 (495) 123-45-67",
                "contact_role": "decision_maker",
            }
        )
    return pl.DataFrame(rows, schema=TASK_SCHEMA)


def write(tmp_path, language="ru", formats=("xlsx", "csv")):
    cfg = config_for_orders("o.csv", language=language)
    dq = pl.DataFrame(
        [
            {
                "customer_id": "003",
                "company_name": "ИП Гамма",
                "segment": "lead",
                "tactic": "x",
                "problem": "no_contacts",
                "detail": "d",
            }
        ]
    )
    rejects = pl.DataFrame(
        [{"file": "o.csv", "row": 5, "column": "Сумма", "value": "=1", "reason": "bad_amount"}],
        schema=REJECTS,
    )
    summary = {
        "as_of": "2026-10-31",
        "classify": {
            "thresholds": {
                "recency": {
                    "value": "recency_days",
                    "better": "lower",
                    "method": "quantile",
                    "share_A": 0.2,
                    "share_B": 0.3,
                    "A": 30.0,
                    "B": 90.0,
                }
            }
        },
    }
    with OutputSet(tmp_path) as out:
        warnings = write_outputs(
            out,
            segments=SEGMENTS,
            tasks=tasks(),
            data_quality=dq,
            rejects=rejects,
            summary=summary,
            cfg=cfg,
            formats=set(formats),
        )
    return warnings


def test_all_files_are_written(tmp_path):
    assert write(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            "segments.xlsx",
            "segments.csv",
            "call_tasks.xlsx",
            "call_tasks.csv",
            "mail_tasks.xlsx",
            "mail_tasks.csv",
            "data_quality.csv",
            "rejects.csv",
        ]
    )


def test_only_csv_when_asked(tmp_path):
    write(tmp_path, formats=("csv",))
    assert not list(tmp_path.glob("*.xlsx"))


def test_segments_workbook_summary_and_customers(tmp_path):
    write(tmp_path)
    wb = openpyxl.load_workbook(tmp_path / "segments.xlsx")
    assert wb.sheetnames == ["Сводка", "Клиенты"]
    summary = wb["Сводка"]
    assert len(summary._charts) >= 2
    cells = {c.value for row in summary.iter_rows() for c in row if c.value is not None}
    assert {
        "Клиенты и выручка по сегментам",
        "Матрица 3×3: клиенты",
        "Распределение ABC по критериям",
        "Использованные пороги",
    } <= cells
    rows = [[c.value for c in row] for row in summary.iter_rows()]
    mid = [r[4:9] for r in rows]  # the segments block (columns E-I)
    segment_row = next(r for r in mid if r[0] == "Постоянный уснувший")
    assert segment_row[1:5] == [1, 1 / 3, 50000.0, 50000 / 51000]
    assert next(r for r in mid if r[0] == "давность")[1:5] == [1, 0, 1, 1]
    # one readable row per criterion: boundaries as numbers, then how, in words
    row = next(r for r in rows if r[0] == "давность")
    assert row[1:3] == [30, 90]
    assert (
        row[4] == "дней с последнего заказа; меньше — лучше; квантили: A — лучшие 20 %, "
        "B — следующие 30 %"
    )
    customers = wb["Клиенты"]
    header = [c.value for c in customers[1]]
    assert header[:5] == ["ИНН / код клиента", "Клиент", "Стадия", "Активность", "Сегмент"]
    assert "segment_label_ru" not in header
    assert customers.freeze_panes == "C2"
    assert customers.auto_filter.ref.startswith("A1:")
    assert customers["B2"].value == "'=cmd|' /C calc'!A0"
    assert customers["E3"].value == "Постоянный уснувший"
    col = header.index("Последний заказ") + 1
    date_cell = customers.cell(row=2, column=col)
    assert date_cell.value == dt.datetime(2026, 10, 21) and date_cell.number_format == "dd.mm.yyyy"
    flags = customers.cell(row=3, column=header.index("Красные флажки") + 1).value
    assert flags == "падение выручки, пропущен заказ"


def test_task_workbooks_have_status_drop_down_and_labels(tmp_path):
    write(tmp_path, language="en")
    calls = openpyxl.load_workbook(tmp_path / "call_tasks.xlsx")["Calls"]
    header = [c.value for c in calls[1]]
    # the caller's columns first: when, whom, how to reach, what to say, why
    assert header[:8] == [
        "Due",
        "Company",
        "Contact",
        "Phone",
        "Script",
        "Offer",
        "Why in segment",
        "Status",
    ]
    assert calls.max_row == 3  # call + survey
    assert calls.freeze_panes == "A2" and calls.auto_filter.ref == "A1:W3"
    assert calls["H2"].value == "open"
    assert calls.data_validations.dataValidation[0].formula1 == '"open,in progress,done,refused"'
    channel = calls.cell(row=2, column=header.index("Channel") + 1).value
    assert channel in {"Call", "Survey"}
    money = calls.cell(row=2, column=header.index("Expected value") + 1)
    assert money.value == 1500.5 and money.number_format == "#,##0.00"
    assert calls.cell(row=2, column=header.index("Phone") + 1).value == "+7 (495) 123-45-67"
    assert calls.cell(row=2, column=header.index("Company") + 1).value == "'@SUM(1)"
    mail = openpyxl.load_workbook(tmp_path / "mail_tasks.xlsx")["Mail"]
    assert mail.max_row == 3  # email + inmail


def test_csv_files_use_keys_and_codes(tmp_path):
    write(tmp_path)
    calls = pl.read_csv(tmp_path / "call_tasks.csv", infer_schema=False)
    assert calls.columns == TASK_COLUMNS
    assert set(calls["channel"]) == {"call", "survey"}
    assert set(calls["status"]) == {"open"}
    assert calls["company_name"].to_list() == ["'@SUM(1)"] * 2
    assert calls["due_date"].to_list() == ["2026-11-05"] * 2
    assert calls["expected_value"].to_list() == ["1500.5"] * 2
    segs = pl.read_csv(tmp_path / "segments.csv", infer_schema=False)
    assert segs["customer_id"].to_list() == ["001", "002", "003"]
    assert segs["segment"].to_list() == ["new_active", "regular_asleep", "lead"]
    dq = pl.read_csv(tmp_path / "data_quality.csv")
    assert dq.columns == DATA_QUALITY_COLUMNS
    rejects = (tmp_path / "rejects.csv").read_text()
    assert "'=1" in rejects


def test_empty_inputs_still_write_valid_files(tmp_path):
    cfg = config_for_orders("o.csv")
    with OutputSet(tmp_path) as out:
        write_outputs(
            out,
            segments=SEGMENTS.clear(),
            tasks=pl.DataFrame(schema=TASK_SCHEMA),
            data_quality=pl.DataFrame(schema=dict.fromkeys(DATA_QUALITY_COLUMNS, pl.String)),
            rejects=empty(REJECTS),
            summary={},
            cfg=cfg,
            formats={"xlsx", "csv"},
        )
    wb = openpyxl.load_workbook(tmp_path / "call_tasks.xlsx")
    assert wb.active.max_row == 1
    assert pl.read_csv(io.BytesIO((tmp_path / "call_tasks.csv").read_bytes())).height == 0


def test_task_sheet_shows_tactic_labels_and_priority_as_words(tmp_path):
    """The reviewer reads «Падение выручки» and «да», not red_flag_revenue_drop and ЛОЖЬ."""
    from segtool.steps.export import labelled, task_sheet_frame

    tasks = pl.DataFrame(
        {
            "tactic": ["red_flag_revenue_drop", "custom"],
            "priority": [True, False],
            "segment": ["regular_active", None],
        }
    )
    shown = task_sheet_frame(tasks, "ru", {"red_flag_revenue_drop": "Падение выручки"})
    assert shown["tactic"].to_list() == ["Падение выручки", "custom"]
    assert shown["priority"].to_list() == ["да", ""]
    assert labelled(tasks, "en")["priority"].to_list() == ["yes", ""]


def test_summary_blocks_hand_counted(tmp_path):
    """Three customers, one with two flags; four tasks on four channels (see tasks())."""
    write(tmp_path)
    ws = openpyxl.load_workbook(tmp_path / "segments.xlsx")["Сводка"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    pairs = {(r[k], r[k + 1]) for r in rows for k in range(len(r) - 1) if isinstance(r[k], str)}
    assert {("Звонок", 1), ("Email", 1), ("Опрос", 1), ("InMail", 1), ("Всего задач", 4)} <= pairs
    assert {
        ("падение выручки", 1),
        ("пропущен заказ", 1),
        ("ушла категория", 0),
        ("Клиентов с флажками", 1),
    } <= pairs
    # at risk: falling asleep or flagged -> only 002; active share: 001 of 3
    assert ("Под риском (засыпают или с флажками)", 1) in pairs
    assert ("Доля активных клиентов", 1 / 3) in pairs
    date = next(c for row in ws.iter_rows() for c in row if c.value == "Дата анализа")
    as_of = ws.cell(row=date.row, column=date.column + 1)
    assert as_of.value == dt.datetime(2026, 10, 31) and as_of.number_format == "dd.mm.yyyy"


def test_customers_sheet_takes_a_column_it_has_no_label_for(tmp_path):
    """A column a newer step adds shows as words; new columns with labels show them."""
    cfg = config_for_orders("o.csv")
    segments = SEGMENTS.with_columns(
        pl.lit(0.25).alias("p_alive"),
        pl.lit(1.5).alias("brand_new_metric"),
        pl.lit(True).alias("size_class_inferred"),
    )
    with OutputSet(tmp_path) as out:
        write_outputs(
            out,
            segments=segments,
            tasks=tasks(),
            data_quality=pl.DataFrame(),
            rejects=empty(REJECTS),
            summary={},
            cfg=cfg,
            formats={"xlsx"},
        )
    ws = openpyxl.load_workbook(tmp_path / "segments.xlsx")["Клиенты"]
    header = [c.value for c in ws[1]]
    assert {"Вероятность активности", "Brand new metric", "Размер определён по закупкам"} <= set(
        header
    )
    p_alive = ws.cell(row=2, column=header.index("Вероятность активности") + 1)
    assert p_alive.value == 0.25 and p_alive.number_format == "0.0%"
    assert ws.cell(row=2, column=header.index("Размер определён по закупкам") + 1).value == "да"
