"""export: segments, tasks and data problems → workbooks and CSV files in an OutputSet.

Files (see docs/workbooks.md):
- ``segments.xlsx``: a Summary sheet (counts and revenue per segment, the 3×3 stage ×
  activity matrix, the ABC distribution, the thresholds used, native charts), then a
  Customers sheet with every customer. ``segments.csv``: the same rows, codes not labels.
- ``call_tasks.xlsx/.csv`` (channels call and survey), ``mail_tasks.xlsx/.csv`` (email,
  postal mail, InMail, chatbot): one task per row, a status drop-down in the workbook.
- ``data_quality.csv`` and ``rejects.csv`` (always CSV: they are lists to fix at the source).

Workbooks show labels in ``cfg.language``; CSV files keep the snake_case keys and codes.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from segtool import schema
from segtool.config import Config
from segtool.io.atomic import OutputSet
from segtool.io.csv_out import write_csv
from segtool.io.xlsx import Book, Column
from segtool.labels import ACTIVITY_LABELS, SEGMENT_LABELS, STAGE_LABELS, STRATEGY_LABELS
from segtool.steps.tactics import (
    DATA_QUALITY_COLUMNS,
    TASK_COLUMNS,
    is_call_task,
    split_tasks,
)

STATUS_CODES = ("open", "in_progress", "done", "refused")


def _by_language(labels: dict[str, dict[str, str]], capitalize: bool = False):
    """{code: {lang: label}} (segtool.labels) -> {lang: {code: label}}."""
    out: dict[str, dict[str, str]] = {"ru": {}, "en": {}}
    for code, by_lang in labels.items():
        for lang, label in by_lang.items():
            out.setdefault(lang, {})[code] = label[:1].upper() + label[1:] if capitalize else label
    return out


LABELS: dict[str, dict[str, dict[str, str]]] = {
    "segment": _by_language(SEGMENT_LABELS),
    "stage": _by_language(STAGE_LABELS),
    "activity": _by_language(ACTIVITY_LABELS, capitalize=True),
    "strategy": _by_language(STRATEGY_LABELS),
    "channel": {
        "ru": {"call": "Звонок", "email": "Email", "mail": "Почта", "inmail": "InMail",
               "chatbot": "Чат-бот", "survey": "Опрос"},
        "en": {"call": "Call", "email": "Email", "mail": "Postal mail", "inmail": "InMail",
               "chatbot": "Chatbot", "survey": "Survey"},
    },
    "contact_role": {
        "ru": {"purchaser": "Закупщик", "user": "Пользователь", "decision_maker": "ЛПР",
               "unknown": "Не указана"},
        "en": {"purchaser": "Purchaser", "user": "User", "decision_maker": "Decision maker",
               "unknown": "Unknown"},
    },
    "status": {
        "ru": {"open": "открыта", "in_progress": "в работе", "done": "выполнена",
               "refused": "отказ"},
        "en": {"open": "open", "in_progress": "in progress", "done": "done",
               "refused": "refused"},
    },
    "company_type": {
        "ru": {"manufacturing": "Производство", "trading": "Торговля", "shop": "Магазин",
               "government": "Госучреждение", "other": "Другое"},
        "en": {"manufacturing": "Manufacturing", "trading": "Trading", "shop": "Shop",
               "government": "Government", "other": "Other"},
    },
    "size_class": {
        "ru": {"small": "Малый", "medium": "Средний", "large": "Крупный"},
        "en": {"small": "Small", "medium": "Medium", "large": "Large"},
    },
    "red_flags": {
        "ru": {"revenue_drop": "падение выручки", "overdue": "пропущен заказ",
               "lost_category": "ушла категория", "probably_left": "вероятно, ушёл"},
        "en": {"revenue_drop": "revenue drop", "overdue": "overdue",
               "lost_category": "lost category", "probably_left": "probably left"},
    },
}

HEADERS: dict[str, tuple[str, str]] = {  # key -> (ru, en)
    "customer_id": ("ИНН / код клиента", "Customer ID"),
    "company_name": ("Клиент", "Company"),
    "stage": ("Стадия", "Stage"),
    "activity": ("Активность", "Activity"),
    "segment": ("Сегмент", "Segment"),
    "orders": ("Заказов", "Orders"),
    "revenue": ("Выручка", "Revenue"),
    "first_order_date": ("Первый заказ", "First order"),
    "last_order_date": ("Последний заказ", "Last order"),
    "recency_days": ("Дней с последнего заказа", "Days since last order"),
    "tenure_days": ("Дней с первого заказа", "Days since first order"),
    "avg_order_value": ("Средний чек", "Average order"),
    "margin_rate": ("Маржинальность", "Margin rate"),
    "cadence_days": ("Обычный интервал, дней", "Usual gap, days"),
    "size": ("Размер", "Size"),
    "grade_recency": ("Оценка: давность", "Grade: recency"),
    "grade_frequency": ("Оценка: частота", "Grade: frequency"),
    "grade_size": ("Оценка: размер", "Grade: size"),
    "grade_margin": ("Оценка: маржа", "Grade: margin"),
    "abc": ("ABC", "ABC"),
    "priority": ("Приоритетный", "Priority"),
    "red_flags": ("Красные флажки", "Red flags"),
    "red_flag_reasons": ("Причины флажков", "Red flag reasons"),
    "reason": ("Почему в сегменте", "Why in segment"),
    "strategy": ("Стратегия", "Strategy"),
    "company_type": ("Тип компании", "Company type"),
    "size_class": ("Размер компании", "Size class"),
    "period_category": ("Категория сроков", "Period category"),
    "falling_asleep_after": ("Засыпает через, мес.", "Falling asleep after, months"),
    "asleep_after": ("Уснул через, мес.", "Asleep after, months"),
    "revenue_last_window": ("Выручка за последний период", "Revenue, last window"),
    "revenue_prev_window": ("Выручка за предыдущий период", "Revenue, previous window"),
    "high_margin_share": ("Доля высокомаржинальных", "High-margin share"),
    "margin": ("Маржа", "Margin"),
    "segment_extra": ("Доп. сегмент", "Extra segment"),
    "p_alive": ("Вероятность активности", "P(alive)"),
    "expected_orders": ("Ожидаемые заказы за {days}", "Expected orders in {days}"),
    "expected_revenue": ("Ожидаемая выручка", "Expected revenue"),
    "task_id": ("Код задачи", "Task ID"),
    "contact_name": ("Контакт", "Contact"),
    "contact_role": ("Роль контакта", "Contact role"),
    "phone": ("Телефон", "Phone"),
    "email": ("Email", "Email"),
    "address": ("Адрес", "Address"),
    "inmail": ("InMail", "InMail"),
    "channel": ("Канал", "Channel"),
    "tactic": ("Тактика", "Tactic"),
    "step": ("Шаг", "Step"),
    "script": ("Скрипт", "Script"),
    "offer": ("Предложение", "Offer"),
    "due_date": ("Срок", "Due"),
    "owner": ("Ответственный", "Owner"),
    "expected_value": ("Ожидаемая выручка", "Expected value"),
    "status": ("Статус", "Status"),
}

KINDS: dict[str, str] = {
    "orders": "int", "revenue": "money", "first_order_date": "date", "last_order_date": "date",
    "recency_days": "int", "tenure_days": "int", "avg_order_value": "money",
    "margin_rate": "percent", "cadence_days": "number", "size": "money",
    "priority": "text",  # shown as «да» / blank (see labelled)
    "falling_asleep_after": "int", "asleep_after": "int", "revenue_last_window": "money",
    "revenue_prev_window": "money", "high_margin_share": "percent", "margin": "money",
    "step": "int", "due_date": "date", "expected_value": "money",
    "p_alive": "percent", "expected_orders": "number", "expected_revenue": "money",
}

# task sheets: the order people work in (CSV keeps the TASK_COLUMNS order)
TASK_SHEET_COLUMNS = [
    "due_date", "status", "priority", "company_name", "contact_name", "contact_role", "channel",
    "phone", "email", "address", "inmail", "script", "offer", "segment", "abc", "reason",
    "tactic", "step", "expected_value", "owner", "customer_id", "task_id",
]

_TEXT = {
    "ru": {
        "summary": "Сводка", "customers": "Клиенты", "calls": "Звонки", "mail": "Письма",
        "title": "Сегменты клиентов", "as_of": "Дата анализа", "total": "Всего клиентов",
        "total_revenue": "Выручка всего", "priority_count": "Приоритетных (все оценки A)",
        "per_segment": "Клиенты и выручка по сегментам", "count": "Клиентов",
        "share": "Доля клиентов", "revenue_share": "Доля выручки", "matrix": "Матрица 3×3: клиенты",
        "matrix_revenue": "Матрица 3×3: выручка", "abc": "Распределение ABC по критериям",
        "criterion": "Критерий", "no_data": "нет данных", "thresholds": "Использованные пороги",
        "key": "Параметр", "value": "Значение", "chart_count": "Клиенты по сегментам",
        "chart_revenue": "Выручка по сегментам", "chart_abc": "Оценки по критериям",
        "stage_activity": "Стадия \\ активность",
        "criteria": {"recency": "давность", "frequency": "частота", "size": "размер",
                     "margin": "маржа"},
    },
    "en": {
        "summary": "Summary", "customers": "Customers", "calls": "Calls", "mail": "Mail",
        "title": "Customer segments", "as_of": "As of", "total": "Customers",
        "total_revenue": "Revenue", "priority_count": "Priority (all grades A)",
        "per_segment": "Customers and revenue per segment", "count": "Customers",
        "share": "Share of customers", "revenue_share": "Share of revenue",
        "matrix": "3×3 matrix: customers", "matrix_revenue": "3×3 matrix: revenue",
        "abc": "ABC distribution per criterion", "criterion": "Criterion",
        "no_data": "no data", "thresholds": "Thresholds used", "key": "Setting",
        "value": "Value", "chart_count": "Customers per segment",
        "chart_revenue": "Revenue per segment", "chart_abc": "Grades per criterion",
        "stage_activity": "Stage \\ activity",
        "criteria": {"recency": "recency", "frequency": "frequency", "size": "size",
                     "margin": "margin"},
    },
}


def _days_text(days: int, language: str) -> str:
    if language != "ru":
        return f"{days} day" if days == 1 else f"{days} days"
    if days % 10 == 1 and days % 100 != 11:
        return f"{days} день"
    if 2 <= days % 10 <= 4 and not 12 <= days % 100 <= 14:
        return f"{days} дня"
    return f"{days} дней"


def header(key: str, language: str, horizon_days: int = 90) -> str:
    pair = HEADERS.get(key)
    text = key if pair is None else pair[0 if language == "ru" else 1]
    return text.replace("{days}", _days_text(horizon_days, language))


def _kind_of(key: str, dtype: pl.DataType) -> str:
    if key in KINDS:
        return KINDS[key]
    if dtype == pl.Boolean:
        return "bool"
    if dtype in (pl.Date, pl.Datetime):
        return "date"
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "number"
    return "text"


def labelled(frame: pl.DataFrame, language: str) -> pl.DataFrame:
    """Code columns (segment, stage, channel, status...) replaced by their labels."""
    exprs = []
    for key, by_language in LABELS.items():
        if key not in frame.columns:
            continue
        mapping = by_language[language]
        if key == "red_flags":
            expr = pl.col(key).cast(pl.String)
            for code, label in mapping.items():
                expr = expr.str.replace_all(code, label, literal=True)
            exprs.append(expr.str.replace_all(",", ", ", literal=True).alias(key))
        else:
            exprs.append(pl.col(key).cast(pl.String).replace(mapping).alias(key))
    if "priority" in frame.columns:  # «да» reads and filters better than ИСТИНА/ЛОЖЬ
        yes = "да" if language == "ru" else "yes"
        exprs.append(pl.when(pl.col("priority")).then(pl.lit(yes)).otherwise(pl.lit(""))
                     .alias("priority"))
    return frame.with_columns(exprs) if exprs else frame


def _columns(frame: pl.DataFrame, keys: list[str], language: str,
             horizon_days: int = 90) -> list[Column]:
    out = []
    for key in keys:
        dtype = frame.schema.get(key, pl.String)
        choices = None
        if key == "status":
            choices = [LABELS["status"][language][c] for c in STATUS_CODES]
        out.append(Column(key, header(key, language, horizon_days), _kind_of(key, dtype),  # type: ignore[arg-type]
                          choices=choices))
    return out


def segment_keys(segments: pl.DataFrame) -> list[str]:
    """Columns of the Customers sheet: the contract columns, then extras (no label columns)."""
    first = [c for c in schema.SEGMENT_COLUMNS if c in segments.columns]
    rest = [c for c in segments.columns
            if c not in first and not c.startswith("segment_label") and not c.startswith("_")]
    return first + rest


# -- the summary sheet ----------------------------------------------------------------------
def _summary_sheet(book: Book, segments: pl.DataFrame, summary: dict, cfg: Config) -> None:
    lang = cfg.language
    text = _TEXT[lang]
    f = book.formats
    ws = book.sheet(text["summary"])
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)  # one page wide when printed
    ws.set_column(0, 0, 34)
    ws.set_column(1, 5, 16)
    has_revenue = "revenue" in segments.columns
    revenue = pl.col("revenue").fill_null(0) if has_revenue else pl.lit(0.0)
    total = segments.height
    total_revenue = float(segments.select(revenue.sum()).item() or 0) if total else 0.0

    row = 0
    ws.write_string(row, 0, text["title"], f["title"])
    row = 2
    as_of = summary.get("as_of")
    ws.write_string(row, 0, text["as_of"], f["bold"])
    ws.write_string(row, 1, str(as_of or ""))
    row += 1
    ws.write_string(row, 0, text["total"], f["bold"])
    ws.write_number(row, 1, total, f["int"])
    row += 1
    ws.write_string(row, 0, text["total_revenue"], f["bold"])
    ws.write_number(row, 1, total_revenue, f["money"])
    row += 1
    if "priority" in segments.columns:
        ws.write_string(row, 0, text["priority_count"], f["bold"])
        ws.write_number(row, 1, int(segments["priority"].fill_null(False).sum()), f["int"])
    row += 2

    # counts and revenue per segment, in the canonical order (zeros included)
    per = (
        segments.group_by("segment").agg(pl.len().alias("n"), revenue.sum().alias("revenue"))
        if total else pl.DataFrame(schema={"segment": pl.String, "n": pl.UInt32,
                                           "revenue": pl.Float64})
    )
    counts = {r[0]: (r[1], r[2]) for r in per.iter_rows()}
    order = list(schema.SEGMENTS) + sorted(k for k in counts if k not in schema.SEGMENTS)
    ws.write_string(row, 0, text["per_segment"], f["bold"])
    row += 1
    heads = [header("segment", lang), text["count"], text["share"],
             header("revenue", lang), text["revenue_share"]]
    for col, value in enumerate(heads):
        ws.write_string(row, col, value, f["header"])
    first_data = row + 1
    names = LABELS["segment"][lang]
    for code in order:
        row += 1
        n, rev = counts.get(code, (0, 0.0))
        ws.write_string(row, 0, names.get(code, str(code)))
        ws.write_number(row, 1, n, f["int"])
        ws.write_number(row, 2, n / total if total else 0, f["percent"])
        ws.write_number(row, 3, float(rev or 0), f["money"])
        ws.write_number(row, 4, float(rev or 0) / total_revenue if total_revenue else 0,
                        f["percent"])
    last_data = row
    sheet = ws.name

    chart = book.workbook.add_chart({"type": "bar"})
    chart.add_series({
        "name": text["count"],
        "categories": [sheet, first_data, 0, last_data, 0],
        "values": [sheet, first_data, 1, last_data, 1],
    })
    chart.set_title({"name": text["chart_count"]})
    chart.set_legend({"none": True})
    chart.set_y_axis({"reverse": True})
    chart.set_size({"width": 620, "height": 380})
    ws.insert_chart(1, 7, chart)

    chart = book.workbook.add_chart({"type": "column"})
    chart.add_series({
        "name": header("revenue", lang),
        "categories": [sheet, first_data, 0, last_data, 0],
        "values": [sheet, first_data, 3, last_data, 3],
    })
    chart.set_title({"name": text["chart_revenue"]})
    chart.set_legend({"none": True})
    chart.set_size({"width": 620, "height": 380})
    ws.insert_chart(21, 7, chart)

    # the 3×3 matrix: stage × activity, customers then revenue
    for title, value_col, fmt in ((text["matrix"], 0, "int"), (text["matrix_revenue"], 1, "money")):
        row += 2
        ws.write_string(row, 0, title, f["bold"])
        row += 1
        ws.write_string(row, 0, text["stage_activity"], f["header"])
        for col, activity in enumerate(schema.ACTIVITIES, start=1):
            ws.write_string(row, col, LABELS["activity"][lang][activity], f["header"])
        for stage in schema.STAGES:
            row += 1
            ws.write_string(row, 0, LABELS["stage"][lang][stage])
            for col, activity in enumerate(schema.ACTIVITIES, start=1):
                n, rev = counts.get(f"{stage}_{activity}", (0, 0.0))
                ws.write_number(row, col, (n, float(rev or 0))[value_col], f[fmt])

    # ABC distribution per criterion
    row += 2
    ws.write_string(row, 0, text["abc"], f["bold"])
    row += 1
    grades = ["A", "B", "C", text["no_data"]]
    ws.write_string(row, 0, text["criterion"], f["header"])
    for col, grade in enumerate(grades, start=1):
        ws.write_string(row, col, grade, f["header"])
    abc_first = row + 1
    criteria = [c for c in cfg.grades.criteria if f"grade_{c}" in segments.columns]
    for criterion in criteria:
        row += 1
        column = segments[f"grade_{criterion}"]
        ws.write_string(row, 0, text["criteria"].get(criterion, criterion))
        for col, grade in enumerate(["A", "B", "C"], start=1):
            ws.write_number(row, col, int((column == grade).sum()), f["int"])
        ws.write_number(row, 4, int(column.is_null().sum() + (column == "-").sum()), f["int"])
    abc_last = row
    if criteria:
        chart = book.workbook.add_chart({"type": "column", "subtype": "stacked"})
        for col, grade in enumerate(["A", "B", "C"], start=1):
            chart.add_series({
                "name": grade,
                "categories": [sheet, abc_first, 0, abc_last, 0],
                "values": [sheet, abc_first, col, abc_last, col],
            })
        chart.set_title({"name": text["chart_abc"]})
        chart.set_size({"width": 620, "height": 380})
        ws.insert_chart(41, 7, chart)

    # thresholds the classification used
    thresholds = (summary.get("classify") or {}).get("thresholds") or {}
    row += 2
    ws.write_string(row, 0, text["thresholds"], f["bold"])
    row += 1
    th = _THRESHOLD_TEXT[cfg.language]
    for col, value in enumerate(th["columns"]):
        ws.write_string(row, col, value, f["header"])
    for criterion, info in thresholds.items():
        if not isinstance(info, dict):
            continue
        row += 1
        lower = info.get("better") == "lower"
        method = info.get("method", "")
        if method == "quantile":
            how = th["quantile"].format(a=info.get("share_A", 0), b=info.get("share_B", 0))
        elif method == "pareto":
            how = th["pareto"].format(a=info.get("share_A", 0), b=info.get("share_B", 0))
        else:
            how = th.get(method, method)
        notes = []
        if info.get("sources"):
            notes.append(", ".join(f"{k} {v}" for k, v in info["sources"].items()))
        if info.get("note"):
            notes.append(str(info["note"]))
        ws.write_string(row, 0, text["criteria"].get(str(criterion), str(criterion)))
        ws.write_string(row, 1, th["values"].get(str(info.get("value")), str(info.get("value"))))
        ws.write_string(row, 2, how)
        for col, letter in ((3, "A"), (4, "B")):
            value = info.get(letter)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                ws.write_number(row, col, float(value), f["number"])
        ws.write_string(row, 5, th["lower" if lower else "higher"])
        if notes:
            ws.write_string(row, 6, "; ".join(notes))


_THRESHOLD_TEXT = {
    "ru": {
        "columns": ["Критерий", "Показатель", "Метод", "Граница A", "Граница B", "Лучше",
                    "Примечание"],
        "quantile": "квантили: A {a:.0%}, B {b:.0%}",
        "pareto": "Парето: A до {a:.0%}, B до {b:.0%}",
        "fixed": "фиксированные пороги", "lower": "меньше", "higher": "больше",
        "values": {"recency_days": "дней с последнего заказа", "orders": "заказов",
                   "size": "размер (оборот, численность или выручка за 12 мес.)",
                   "high_margin_share": "доля высокомаржинальной выручки"},
    },
    "en": {
        "columns": ["Criterion", "Measure", "Method", "A boundary", "B boundary", "Better",
                    "Note"],
        "quantile": "quantiles: A {a:.0%}, B {b:.0%}",
        "pareto": "Pareto: A to {a:.0%}, B to {b:.0%}",
        "fixed": "fixed thresholds", "lower": "lower", "higher": "higher",
        "values": {"recency_days": "days since last order", "orders": "orders",
                   "size": "size (turnover, headcount or 12-month revenue)",
                   "high_margin_share": "share of high-margin revenue"},
    },
}


# -- writing everything ---------------------------------------------------------------------
def task_sheet_frame(tasks: pl.DataFrame, language: str,
                     tactic_labels: dict[str, str] | None = None) -> pl.DataFrame:
    """Tasks as the sheet shows them: labels for codes, the playbook's tactic names."""
    frame = labelled(tasks, language)
    if tactic_labels and "tactic" in frame.columns:
        frame = frame.with_columns(pl.col("tactic").replace(tactic_labels))
    return frame


def _tactic_labels(cfg: Config) -> dict[str, str]:
    """Tactic id → its label in the configured language (the id where it has none)."""
    from segtool.playbook import load_playbook

    labels = {}
    for tactic in load_playbook(cfg).tactics:
        labels[tactic.id] = tactic.label.get(cfg.language) or tactic.id
    return labels


def write_outputs(
    out: OutputSet,
    *,
    segments: pl.DataFrame,
    tasks: pl.DataFrame,
    data_quality: pl.DataFrame,
    rejects: pl.DataFrame,
    summary: dict[str, Any],
    cfg: Config,
    formats: set[str],
) -> list[str]:
    """Write every output file into ``out``; returns warnings (e.g. sheets split)."""
    lang = cfg.language
    text = _TEXT[lang]
    csv_options = cfg.export.csv
    max_rows = cfg.export.xlsx.max_rows
    warnings: list[str] = []
    tasks_csv = [c for c in TASK_COLUMNS if c in tasks.columns]

    if "xlsx" in formats:
        with Book(out.path("segments.xlsx"), lang) as book:
            _summary_sheet(book, segments, summary, cfg)
            keys = segment_keys(segments)
            book.write_table(text["customers"], labelled(segments, lang),
                             _columns(segments, keys, lang, cfg.model.horizon_days),
                             max_rows=max_rows, freeze_cols=2)
            warnings += book.warnings
    if "csv" in formats:
        write_csv(segments, out.path("segments.csv"), csv_options)
    tactic_labels = _tactic_labels(cfg) if "xlsx" in formats else {}
    # one task list at a time: its rows are copied out of the tasks for its files only
    is_call = is_call_task()
    for name, title, rows in (("call_tasks", text["calls"], is_call),
                              ("mail_tasks", text["mail"], ~is_call)):
        frame = tasks.filter(rows)
        if "xlsx" in formats:
            keys = [c for c in TASK_SHEET_COLUMNS if c in frame.columns]
            with Book(out.path(f"{name}.xlsx"), lang) as book:
                book.write_table(title, task_sheet_frame(frame, lang, tactic_labels),
                                 _columns(frame, keys, lang), max_rows=max_rows, freeze_cols=0)
                warnings += book.warnings
        if "csv" in formats:
            write_csv(frame.select(tasks_csv), out.path(f"{name}.csv"), csv_options)
        del frame
    dq_cols = [c for c in DATA_QUALITY_COLUMNS if c in data_quality.columns]
    write_csv(data_quality.select(dq_cols), out.path("data_quality.csv"), csv_options)
    write_csv(rejects, out.path("rejects.csv"), csv_options)
    return warnings


def stdout_frame(
    what: str, *, segments: pl.DataFrame, tasks: pl.DataFrame, data_quality: pl.DataFrame,
    rejects: pl.DataFrame,
) -> pl.DataFrame:
    """The frame ``export -o - --what WHAT`` prints as CSV."""
    calls, mail = split_tasks(tasks)
    tasks_csv = [c for c in TASK_COLUMNS if c in tasks.columns]
    frames = {
        "segments": segments,
        "call_tasks": calls.select(tasks_csv),
        "mail_tasks": mail.select(tasks_csv),
        "data_quality": data_quality,
        "rejects": rejects,
    }
    return frames[what]


WHAT_CHOICES = ("segments", "call_tasks", "mail_tasks", "data_quality", "rejects")
