"""export: segments, tasks and data problems → workbooks and CSV files in an OutputSet.

Files (see docs/workbooks.md):
- ``segments.xlsx``: a Summary sheet, a dashboard printed on one page (headline figures,
  tasks per channel and owner, counts and revenue per segment, the 3×3 stage × activity
  matrix as a heat map, red-flag counts, periods per category, the ABC distribution, the
  thresholds used in words, native charts), then a Customers sheet with every customer.
  ``segments.csv``: the same rows, codes not labels.
- ``call_tasks.xlsx/.csv`` (channels call and survey), ``mail_tasks.xlsx/.csv`` (email,
  postal mail, InMail, chatbot): one task per row, a status drop-down in the workbook; the
  sheets put the caller's columns first (:data:`CALL_LAYOUT`, :data:`MAIL_LAYOUT`) and
  print them one landscape page wide.
- ``data_quality.csv`` and ``rejects.csv`` (always CSV: they are lists to fix at the source).

Workbooks show labels in ``cfg.language``; CSV files keep the snake_case keys and codes.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import polars as pl

from segtool import schema
from segtool import vocabulary as V
from segtool.config import Config
from segtool.io.atomic import OutputSet
from segtool.io.csv_out import ESCAPE_PREFIX, FORMULA_START, write_csv
from segtool.io.xlsx import Book, Column, Kind, PrintSetup
from segtool.steps.tactics import (
    DATA_QUALITY_COLUMNS,
    TASK_COLUMNS,
    is_call_task,
    split_tasks,
)

STATUS_CODES = V.codes("task_status")


LABELS: dict[str, dict[str, dict[str, str]]] = {
    "segment": V.labels_by_language("segment"),
    "stage": V.labels_by_language("stage"),
    "activity": V.labels_by_language("activity", capitalize=True),
    "strategy": V.labels_by_language("strategy"),
    "channel": V.labels_by_language("channel"),
    "contact_role": V.labels_by_language("contact_role"),
    "status": V.labels_by_language("task_status"),
    "company_type": V.labels_by_language("company_type"),
    "size_class": V.labels_by_language("size_class"),
    "size_source": V.labels_by_language("size_source"),
    "activity_rule": V.labels_by_language("activity_rule"),
    "red_flags": V.labels_by_language("red_flag"),
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
    "size_class": ("Класс размера", "Size class"),
    "period_category": ("Категория сроков", "Period category"),
    "falling_asleep_after": ("Засыпает через, мес.", "Falling asleep after, months"),
    "asleep_after": ("Уснул через, мес.", "Asleep after, months"),
    "revenue_last_window": ("Выручка за последний период", "Revenue, last window"),
    "revenue_prev_window": ("Выручка за предыдущий период", "Revenue, previous window"),
    "high_margin_share": ("Доля высокомаржинальных", "High-margin share"),
    "margin": ("Маржа", "Margin"),
    "segment_extra": ("Доп. сегмент", "Extra segment"),
    "company_type_inferred": ("Тип определён по названию", "Company type inferred"),
    "size_class_inferred": ("Размер определён по закупкам", "Size class inferred"),
    "size_source": ("Размер оценён по", "Size measured by"),
    "months_since_last_order": ("Месяцев без заказов", "Months since last order"),
    "activity_rule": ("Активность определена", "Activity judged by"),
    "revenue_12m": ("Выручка за 12 мес.", "Revenue, 12 months"),
    "turnover": ("Оборот компании", "Company turnover"),
    "headcount": ("Численность", "Headcount"),
    "recency_score": ("Балл давности (1–5)", "Recency score (1–5)"),
    "frequency_score": ("Балл частоты (1–5)", "Frequency score (1–5)"),
    "monetary_score": ("Балл выручки (1–5)", "Monetary score (1–5)"),
    "lost_categories": ("Ушедшие категории", "Lost categories"),
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
    "variant": ("Вариант", "Variant"),
    "script": ("Скрипт", "Script"),
    "offer": ("Предложение", "Offer"),
    "due_date": ("Срок", "Due"),
    "owner": ("Ответственный", "Owner"),
    "expected_value": ("Ожидаемая выручка", "Expected value"),
    "status": ("Статус", "Status"),
    "overdue": ("Просрочена", "Overdue"),
    "period_last_order_date": (
        "Последний заказ в решающей категории",
        "Last order in the deciding category",
    ),
    "last_durable_date": ("Последняя покупка долгого цикла", "Last durable purchase"),
    "durable_cycle_share": ("Пройдено от цикла замены", "Share of the replacement cycle"),
    "issued_on": ("Выдана", "Issued"),
    "rank": ("Очерёдность", "Rank"),
}

KINDS: dict[str, Kind] = {
    "orders": "int",
    "revenue": "money",
    "first_order_date": "date",
    "last_order_date": "date",
    "recency_days": "int",
    "tenure_days": "int",
    "avg_order_value": "money",
    # size: turnover, headcount or 12-month revenue, whichever graded it: a whole number
    "margin_rate": "percent",
    "cadence_days": "int",
    "size": "int",
    "months_since_last_order": "int",
    "revenue_12m": "money",
    "turnover": "money",
    "headcount": "int",
    "recency_score": "int",
    "frequency_score": "int",
    "monetary_score": "int",
    "p_alive": "percent",
    "expected_orders": "number",
    "expected_revenue": "money",
    "priority": "text",  # shown as «да» / blank (see labelled)
    "falling_asleep_after": "int",
    "asleep_after": "int",
    "revenue_last_window": "money",
    "revenue_prev_window": "money",
    "high_margin_share": "percent",
    "margin": "money",
    "step": "int",
    "due_date": "date",
    "expected_value": "money",
    "overdue": "text",
    "issued_on": "date",
    "rank": "int",
    "period_last_order_date": "date",
    "last_durable_date": "date",
    "durable_cycle_share": "percent",
}

# written with the contact history on (segtool.history): when issued, past its due date
TASK_HISTORY_COLUMNS = ["issued_on", "overdue"]
# the task's place in the work order (segtool.steps.capacity), after the columns above
TASK_RANK_COLUMN = "rank"
DEFERRED_NAME = "deferred.csv"

_TEXT: dict[str, dict[str, Any]] = {
    "ru": {
        "summary": "Сводка",
        "customers": "Клиенты",
        "calls": "Звонки",
        "mail": "Письма",
        "title": "Сегменты клиентов",
        "as_of": "Дата анализа",
        "total": "Всего клиентов",
        "total_revenue": "Выручка всего",
        "priority_count": "Приоритетных (все оценки A)",
        "per_segment": "Клиенты и выручка по сегментам",
        "count": "Клиентов",
        "share": "Доля клиентов",
        "revenue_share": "Доля выручки",
        "matrix": "Матрица 3×3: клиенты",
        "matrix_revenue": "Матрица 3×3: выручка",
        "abc": "Распределение ABC по критериям",
        "criterion": "Критерий",
        "no_data": "нет данных",
        "thresholds": "Использованные пороги",
        "key": "Параметр",
        "value": "Значение",
        "chart_count": "Клиенты по сегментам",
        "chart_revenue": "Доля выручки по сегментам",
        "chart_abc": "Оценки по критериям",
        "stage_activity": "Стадия \\ активность",
        "active_share": "Доля активных клиентов",
        "at_risk": "Под риском (засыпают или с флажками)",
        "tasks": "Задач",
        "tasks_by_channel": "Задачи по каналам",
        "all_tasks": "Всего задач",
        "tasks_by_owner": "Задачи по ответственным",
        "no_owner": "(не указан)",
        "other_owners": "прочие ({n})",
        "total_row": "Итого",
        "red_flags": "Красные флажки",
        "flag": "Флажок",
        "flagged": "Клиентов с флажками",
        "periods": "Сроки по категориям",
        "category": "Категория",
        "falling_after": "Засыпает, мес.",
        "asleep_after": "Уснул, мес.",
        "default_period": "по умолчанию",
        "criteria": {
            "recency": "давность",
            "frequency": "частота",
            "size": "размер",
            "margin": "маржа",
        },
    },
    "en": {
        "summary": "Summary",
        "customers": "Customers",
        "calls": "Calls",
        "mail": "Mail",
        "title": "Customer segments",
        "as_of": "As of",
        "total": "Customers",
        "total_revenue": "Revenue",
        "priority_count": "Priority (all grades A)",
        "per_segment": "Customers and revenue per segment",
        "count": "Customers",
        "share": "Share of customers",
        "revenue_share": "Share of revenue",
        "matrix": "3×3 matrix: customers",
        "matrix_revenue": "3×3 matrix: revenue",
        "abc": "ABC distribution per criterion",
        "criterion": "Criterion",
        "no_data": "no data",
        "thresholds": "Thresholds used",
        "key": "Setting",
        "value": "Value",
        "chart_count": "Customers per segment",
        "chart_revenue": "Share of revenue per segment",
        "chart_abc": "Grades per criterion",
        "stage_activity": "Stage \\ activity",
        "active_share": "Active customers",
        "at_risk": "At risk (falling asleep or flagged)",
        "tasks": "Tasks",
        "tasks_by_channel": "Tasks per channel",
        "all_tasks": "All tasks",
        "tasks_by_owner": "Tasks per owner",
        "no_owner": "(none)",
        "other_owners": "others ({n})",
        "total_row": "Total",
        "red_flags": "Red flags",
        "flag": "Flag",
        "flagged": "Customers with flags",
        "periods": "Periods per category",
        "category": "Category",
        "falling_after": "Falling asleep, months",
        "asleep_after": "Asleep, months",
        "default_period": "default",
        "criteria": {
            "recency": "recency",
            "frequency": "frequency",
            "size": "size",
            "margin": "margin",
        },
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
    """The column's label; a column without one (added by a newer step) reads as words,
    «Some new column», never as a snake_case key."""
    pair = HEADERS.get(key)
    if pair is None:
        words = key.strip("_").replace("_", " ").strip() or key
        return words[:1].upper() + words[1:]
    text = pair[0 if language == "ru" else 1]
    return text.replace("{days}", _days_text(horizon_days, language))


def _kind_of(key: str, dtype: pl.DataType) -> Kind:
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
    yes, no = ("да", "нет") if language == "ru" else ("yes", "no")
    if "priority" in frame.columns:  # «да» reads and filters better than ИСТИНА/ЛОЖЬ
        exprs.append(
            pl.when(pl.col("priority")).then(pl.lit(yes)).otherwise(pl.lit("")).alias("priority")
        )
    for key, dtype in frame.schema.items():  # other flags (…_inferred): да / нет
        if dtype == pl.Boolean and key != "priority":
            exprs.append(
                pl.when(pl.col(key))
                .then(pl.lit(yes))
                .when(pl.col(key).not_())
                .then(pl.lit(no))
                .alias(key)
            )
    if "segment_extra_label" in frame.columns and "segment_extra" in frame.columns:
        exprs.append(pl.coalesce("segment_extra_label", "segment_extra").alias("segment_extra"))
    return frame.with_columns(exprs) if exprs else frame


def _columns(
    frame: pl.DataFrame,
    keys: list[str],
    language: str,
    layout: dict[str, tuple[float, bool]] | None = None,
    horizon_days: int = 90,
) -> list[Column]:
    """Sheet columns for ``keys``; ``layout`` gives some a fixed width and wrapping."""
    out = []
    for key in keys:
        dtype: pl.DataType = frame.schema.get(key, pl.String())
        kind = _kind_of(key, dtype)
        if dtype == pl.Boolean and key not in KINDS:
            kind = "text"  # shown as да / нет (see labelled)
        choices = None
        if key == "status":
            choices = [LABELS["status"][language][c] for c in STATUS_CODES]
        width, wrap = (layout or {}).get(key, (None, False))
        out.append(
            Column(
                key,
                header(key, language, horizon_days),
                kind,
                width=width,
                choices=choices,
                wrap=wrap,
            )
        )
    return out


# label columns that repeat a column the sheet already shows as labels
_DUPLICATE_LABELS = ("segment_label", "strategy_label", "segment_extra_label")


def segment_keys(segments: pl.DataFrame) -> list[str]:
    """Columns of the Customers sheet: the contract columns, then extras (no label columns)."""
    first = [c for c in schema.SEGMENT_COLUMNS if c in segments.columns]
    rest = [
        c
        for c in segments.columns
        if c not in first and not c.startswith(_DUPLICATE_LABELS) and not c.startswith("_")
    ]
    return first + rest


# -- the caller's layout of the task sheets --------------------------------------------------
# What a caller needs first, in reading order, each with a width (characters) and wrapping;
# these columns are the print area (one landscape page wide). The rest follow for filtering
# and for the next run (task id, customer id), outside the print area.
CALL_LAYOUT: dict[str, tuple[float, bool]] = {
    "due_date": (11, False),
    "company_name": (22, True),
    "contact_name": (18, True),
    "phone": (17, True),
    "script": (56, True),
    "offer": (22, True),
    "reason": (32, True),
    "status": (11, False),
}
MAIL_LAYOUT: dict[str, tuple[float, bool]] = {
    "due_date": (11, False),
    "company_name": (22, True),
    "contact_name": (18, True),
    "channel": (10, True),
    "email": (22, True),
    "address": (22, True),
    "script": (48, True),
    "reason": (28, True),
    "status": (11, False),
}
TASK_SHEET_REST = [
    "overdue",
    "issued_on",
    "rank",
    "priority",
    "contact_role",
    "channel",
    "phone",
    "email",
    "address",
    "inmail",
    "offer",
    "segment",
    "abc",
    "tactic",
    "step",
    "variant",
    "expected_value",
    "owner",
    "customer_id",
    "task_id",
]


def task_sheet_keys(frame: pl.DataFrame, layout: dict[str, tuple[float, bool]]) -> list[str]:
    """The task sheet's columns: the caller's (``layout``) first, then the rest."""
    keys = [k for k in layout if k in frame.columns]
    return keys + [k for k in TASK_SHEET_REST if k in frame.columns and k not in keys]


def sort_for_sheet(tasks: pl.DataFrame) -> pl.DataFrame:
    """Tasks by due date, then by ``rank`` (else in the order assign-tactics gave them)."""
    if "due_date" not in tasks.columns or tasks.height == 0:
        return tasks
    keys = ["due_date", *([TASK_RANK_COLUMN] if TASK_RANK_COLUMN in tasks.columns else [])]
    return tasks.sort(keys, nulls_last=True, maintain_order=True)


def owner_sheet_names(owners: list[str], taken: list[str]) -> dict[str, str]:
    """A valid, unique sheet name per owner: Excel's forbidden characters replaced, at most
    31 characters, never a name already ``taken`` (compared as Excel does, ignoring case)."""
    used = {name.casefold() for name in taken}
    out: dict[str, str] = {}
    for owner in owners:
        base = re.sub(r"[\[\]:*?/\\]", " ", owner).strip().strip("'").strip() or "—"
        name, n = base[:31], 1
        while name.casefold() in used:
            n += 1
            suffix = f" ({n})"
            name = base[: 31 - len(suffix)] + suffix
        used.add(name.casefold())
        out[owner] = name
    return out


def sheet_owners(tasks: pl.DataFrame, cfg: Config) -> list[str]:
    """Owners who get a sheet of their own: the team in config order (even with no task),
    then anyone else the tasks name; none without ``owners.team``."""
    team = list(cfg.owners.team or {})
    if not team:
        return []
    present = (
        tasks.get_column("owner").drop_nulls().unique().sort().to_list()
        if ("owner" in tasks.columns)
        else []
    )
    return team + [o for o in present if o not in team]


# -- the summary sheet: a one-page dashboard --------------------------------------------------
class _Grid:
    """Cells collected anywhere on the sheet, written row by row at the end: the workbook is
    in constant-memory mode (a row cannot be written once a later one has been), and the
    dashboard's blocks stand side by side."""

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], tuple[Any, Any]] = {}

    def put(self, row: int, col: int, value: Any, fmt: Any = None) -> None:
        self.cells[(row, col)] = (value, fmt)

    def last_row(self) -> int:
        return max((r for r, _ in self.cells), default=0)

    def widths(self, base: list[float], header_format: Any) -> list[float]:
        """Column widths: ``base``, widened where a header label would not fit on one line
        (bold text is about a tenth wider than the width unit)."""
        out = list(base)
        for (_, col), (value, fmt) in self.cells.items():
            if fmt is header_format and isinstance(value, str) and col < len(out):
                out[col] = max(out[col], round(len(value) * 1.1) + 1)
        return out

    def write(self, ws: Any) -> None:
        for (row, col), (value, fmt) in sorted(self.cells.items()):
            if value is None:
                ws.write_blank(row, col, None, fmt)
            elif isinstance(value, bool):
                ws.write_string(row, col, str(value), fmt)
            elif isinstance(value, (int, float)):
                ws.write_number(row, col, value, fmt)
            elif isinstance(value, dt.date):
                ws.write_datetime(row, col, dt.datetime.combine(value, dt.time()), fmt)
            else:  # owner and category names come from the data: escaped like every cell
                text = str(value)
                if re.match(FORMULA_START, text):
                    text = ESCAPE_PREFIX + text
                ws.write_string(row, col, text, fmt)


# the dashboard's columns: headline figures (A-C), segments (E-I), matrices and flags (K-N)
_SUMMARY_WIDTHS: list[float] = [40, 14, 12, 2, 28, 10, 14, 16, 13, 2, 22, 15, 15, 15]
_LEFT, _MID, _RIGHT = 0, 4, 10


def _as_date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _flag_counts(segments: pl.DataFrame) -> dict[str, int]:
    """Customers per red flag code (a customer with two flags counts under both)."""
    if "red_flags" not in segments.columns or segments.height == 0:
        return {}
    counts = (
        segments.select(pl.col("red_flags").cast(pl.String).str.split(",").alias("flag"))
        .explode("flag")
        .with_columns(pl.col("flag").str.strip_chars())
        .filter(pl.col("flag").is_not_null() & (pl.col("flag") != ""))
        .group_by("flag")
        .len()
    )
    return {str(k): int(n) for k, n in counts.iter_rows()}


def _count_by(frame: pl.DataFrame, column: str) -> list[tuple[str, int]]:
    """(value, rows) most frequent first; empty when the column is missing."""
    if column not in frame.columns or frame.height == 0:
        return []
    counts = (
        frame.group_by(column)
        .len()
        .sort(["len", column], descending=[True, False], nulls_last=True)
    )
    return [(str(k) if k is not None else "", int(n)) for k, n in counts.iter_rows()]


def _summary_sheet(
    book: Book,
    segments: pl.DataFrame,
    summary: dict[str, Any],
    cfg: Config,
    tasks: pl.DataFrame | None = None,
) -> None:
    lang = cfg.language
    text = _TEXT[lang]
    f = book.formats
    ws = book.sheet(text["summary"])
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    ws.fit_to_pages(1, 1)  # the whole dashboard on one page
    ws.hide_gridlines(2)
    tasks = tasks if tasks is not None else pl.DataFrame()
    grid = _Grid()
    revenue = pl.col("revenue").fill_null(0) if "revenue" in segments.columns else pl.lit(0.0)
    total = segments.height
    total_revenue = float(segments.select(revenue.sum()).item() or 0) if total else 0.0

    grid.put(0, 0, text["title"], f["title"])
    # -- headline figures ---------------------------------------------------------------
    row = 2
    grid.put(row, _LEFT, text["as_of"], f["bold"])
    as_of = _as_date(summary.get("as_of"))
    grid.put(row, _LEFT + 1, as_of if as_of else "", f["date"])
    active = (
        int((segments["activity"] == "active").sum())
        if "activity" in segments.columns and total
        else 0
    )
    falling = (
        pl.col("activity") == "falling_asleep"
        if "activity" in segments.columns
        else (pl.lit(False))
    )
    flagged = (
        pl.col("red_flags").cast(pl.String).fill_null("") != ""
        if "red_flags" in segments.columns
        else pl.lit(False)
    )
    at_risk = (
        int(segments.select((falling.fill_null(False) | flagged).sum()).item() or 0)
        if (total)
        else 0
    )
    priority = (
        int(segments["priority"].fill_null(False).sum()) if "priority" in segments.columns else 0
    )
    for label, value, fmt in (
        (text["total"], total, "int"),
        (text["total_revenue"], total_revenue, "int"),
        (text["active_share"], active / total if total else 0.0, "percent"),
        (text["at_risk"], at_risk, "int"),
        (text["priority_count"], priority, "int"),
    ):
        row += 1
        grid.put(row, _LEFT, label, f["bold"])
        grid.put(row, _LEFT + 1, value, f[fmt])

    # tasks per channel, then per owner
    row += 2
    grid.put(row, _LEFT, text["tasks_by_channel"], f["header"])
    grid.put(row, _LEFT + 1, text["tasks"], f["header"])
    channels = LABELS["channel"][lang]
    for code, n in _count_by(tasks, "channel"):
        row += 1
        grid.put(row, _LEFT, channels.get(code, code))
        grid.put(row, _LEFT + 1, n, f["int"])
    row += 1
    grid.put(row, _LEFT, text["all_tasks"], f["bold"])
    grid.put(row, _LEFT + 1, tasks.height, f["int"])
    row += 2
    grid.put(row, _LEFT, text["tasks_by_owner"], f["header"])
    grid.put(row, _LEFT + 1, text["tasks"], f["header"])
    owners = _count_by(tasks, "owner")
    shown = owners if len(owners) <= _MAX_OWNERS + 1 else owners[:_MAX_OWNERS]
    for owner, n in shown:
        row += 1
        grid.put(row, _LEFT, owner or text["no_owner"])
        grid.put(row, _LEFT + 1, n, f["int"])
    if len(owners) > len(shown):
        row += 1
        grid.put(row, _LEFT, text["other_owners"].format(n=len(owners) - len(shown)))
        grid.put(row, _LEFT + 1, sum(n for _, n in owners[len(shown) :]), f["int"])
    left_end = row

    # -- customers and revenue per segment, in the canonical order (zeros included) ---------
    per = (
        segments.group_by("segment").agg(pl.len().alias("n"), revenue.sum().alias("revenue"))
        if total
        else pl.DataFrame(schema={"segment": pl.String, "n": pl.UInt32, "revenue": pl.Float64})
    )
    counts = {r[0]: (int(r[1]), float(r[2] or 0)) for r in per.iter_rows()}
    order = list(schema.SEGMENTS) + sorted(k for k in counts if k not in schema.SEGMENTS)
    row = 2
    grid.put(row, _MID, text["per_segment"], f["bold"])
    row += 1
    heads = [
        header("segment", lang),
        text["count"],
        text["share"],
        header("revenue", lang),
        text["revenue_share"],
    ]
    for col, value in enumerate(heads):
        grid.put(row, _MID + col, value, f["header"])
    first_data = row + 1
    names = LABELS["segment"][lang]
    for code in order:
        row += 1
        n, rev = counts.get(code, (0, 0.0))
        grid.put(row, _MID, names.get(code, str(code)))
        grid.put(row, _MID + 1, n, f["int"])
        grid.put(row, _MID + 2, n / total if total else 0.0, f["percent"])
        grid.put(row, _MID + 3, rev, f["int"])
        grid.put(row, _MID + 4, rev / total_revenue if total_revenue else 0.0, f["percent"])
    last_data = row
    row += 1
    grid.put(row, _MID, text["total_row"], f["bold"])
    grid.put(row, _MID + 1, total, f["int"])
    grid.put(row, _MID + 3, total_revenue, f["int"])

    # ABC distribution per criterion
    row += 2
    grid.put(row, _MID, text["abc"], f["bold"])
    row += 1
    for col, value in enumerate([text["criterion"], "A", "B", "C", text["no_data"]]):
        grid.put(row, _MID + col, value, f["header"])
    criteria = [c for c in cfg.grades.criteria if f"grade_{c}" in segments.columns]
    for criterion in criteria:
        row += 1
        column = segments[f"grade_{criterion}"]
        grid.put(row, _MID, text["criteria"].get(criterion, criterion))
        for col, grade in enumerate(["A", "B", "C"], start=1):
            grid.put(row, _MID + col, int((column == grade).sum()), f["int"])
        grid.put(row, _MID + 4, int(column.is_null().sum()) + int((column == "-").sum()), f["int"])
    mid_end = row

    # -- the 3×3 matrix as heat maps: customers, then revenue ------------------------------
    row = 2
    for title, index, fmt in ((text["matrix"], 0, "int"), (text["matrix_revenue"], 1, "int")):
        grid.put(row, _RIGHT, title, f["bold"])
        row += 1
        grid.put(row, _RIGHT, text["stage_activity"], f["header"])
        for col, activity in enumerate(schema.ACTIVITIES, start=1):
            grid.put(row, _RIGHT + col, LABELS["activity"][lang][activity], f["header"])
        top = row + 1
        for stage in schema.STAGES:
            row += 1
            grid.put(row, _RIGHT, LABELS["stage"][lang][stage])
            for col, activity in enumerate(schema.ACTIVITIES, start=1):
                grid.put(
                    row, _RIGHT + col, counts.get(f"{stage}_{activity}", (0, 0.0))[index], f[fmt]
                )
        ws.conditional_format(
            top,
            _RIGHT + 1,
            row,
            _RIGHT + 3,
            {"type": "2_color_scale", "min_color": "#FFFFFF", "max_color": "#F4A460"},
        )
        row += 2

    # red flags: customers per flag
    grid.put(row, _RIGHT, text["red_flags"], f["bold"])
    row += 1
    grid.put(row, _RIGHT, text["flag"], f["header"])
    grid.put(row, _RIGHT + 1, text["count"], f["header"])
    flag_counts = _flag_counts(segments)
    flag_names = LABELS["red_flags"][lang]
    for code in [*flag_names, *sorted(c for c in flag_counts if c not in flag_names)]:
        if code not in flag_counts and code not in _FLAGS_ALWAYS_SHOWN:
            continue
        row += 1
        grid.put(row, _RIGHT, flag_names.get(code, code))
        grid.put(row, _RIGHT + 1, flag_counts.get(code, 0), f["int"])
    row += 1
    grid.put(row, _RIGHT, text["flagged"], f["bold"])
    grid.put(
        row, _RIGHT + 1, int(segments.select(flagged.sum()).item() or 0) if total else 0, f["int"]
    )

    # the periods used per category (seed 004)
    row += 2
    grid.put(row, _RIGHT, text["periods"], f["bold"])
    row += 1
    for col, value in enumerate(
        [text["category"], text["falling_after"], text["asleep_after"], text["count"]]
    ):
        grid.put(row, _RIGHT + col, value, f["header"])
    judged: dict[str, int] | None = None
    if "period_category" in segments.columns and "activity" in segments.columns:
        judged = dict(
            _count_by(segments.filter(pl.col("activity").is_not_null()), "period_category")
        )
    periods: list[tuple[str, Any, int | None]] = [
        (text["default_period"], cfg.periods.default, None if judged is None else judged.get("", 0))
    ]
    # categories by the label the reasons use («Станки, Оборудование»), not the config key
    periods += [
        (period.display_label(), period, None if judged is None else judged.get(name, 0))
        for name, period in cfg.periods.categories.items()
    ]
    for name, period, customers in periods:
        row += 1
        grid.put(row, _RIGHT, name)
        grid.put(row, _RIGHT + 1, period.falling_asleep_after, f["int"])
        grid.put(row, _RIGHT + 2, period.asleep_after, f["int"])
        if customers is not None:
            grid.put(row, _RIGHT + 3, customers, f["int"])
    right_end = row

    # -- thresholds the classification used ----------------------------------------------
    row = max(left_end, mid_end, right_end) + 2
    row = _thresholds_block(grid, row, summary, text, lang, f)

    # -- charts: every category labelled; revenue as shares (one segment dwarfs the rest) --
    sheet = ws.name
    chart_row = row + 2
    chart = book.workbook.add_chart({"type": "bar"})
    chart.add_series(
        {
            "name": text["count"],
            "categories": [sheet, first_data, _MID, last_data, _MID],
            "values": [sheet, first_data, _MID + 1, last_data, _MID + 1],
            "data_labels": {"value": True, "num_format": "#,##0"},
        }
    )
    chart.set_title({"name": text["chart_count"], "name_font": {"size": 11}})
    chart.set_legend({"none": True})
    chart.set_y_axis({"reverse": True, "interval_unit": 1, "num_font": {"size": 8}})
    chart.set_x_axis({"num_format": "#,##0", "major_gridlines": {"visible": True}})
    chart.set_size({"width": 660, "height": 420})
    ws.insert_chart(chart_row, _LEFT, chart)

    chart = book.workbook.add_chart({"type": "bar"})
    chart.add_series(
        {
            "name": text["revenue_share"],
            "categories": [sheet, first_data, _MID, last_data, _MID],
            "values": [sheet, first_data, _MID + 4, last_data, _MID + 4],
            "data_labels": {"value": True, "num_format": "0.0%"},
            "fill": {"color": "#ED7D31"},
        }
    )
    chart.set_title({"name": text["chart_revenue"], "name_font": {"size": 11}})
    chart.set_legend({"none": True})
    chart.set_y_axis({"reverse": True, "interval_unit": 1, "num_font": {"size": 8}})
    chart.set_x_axis({"num_format": "0%", "min": 0, "major_gridlines": {"visible": True}})
    chart.set_size({"width": 660, "height": 420})
    ws.insert_chart(chart_row, _MID + 2, chart, {"x_offset": 40})
    grid.put(chart_row + 22, 0, None)  # the print area reaches below the charts
    for col, width in enumerate(grid.widths(_SUMMARY_WIDTHS, f["header"])):
        ws.set_column(col, col, width)
    grid.write(ws)
    ws.print_area(0, 0, chart_row + 22, len(_SUMMARY_WIDTHS) - 1)


_MAX_OWNERS = 6
_FLAGS_ALWAYS_SHOWN = ("revenue_drop", "overdue", "lost_category")


def _thresholds_block(
    grid: _Grid,
    row: int,
    summary: dict[str, Any],
    text: dict[str, Any],
    lang: str,
    f: dict[str, Any],
) -> int:
    """One row per criterion: boundaries as numbers, then how it was graded in words (the
    words run on into the empty cells to the right, so nothing is cut off); then notes."""
    th = _THRESHOLD_TEXT[lang]
    thresholds = (summary.get("classify") or {}).get("thresholds") or {}
    grid.put(row, _LEFT, text["thresholds"], f["bold"])
    row += 1
    for col, value in zip((_LEFT, _LEFT + 1, _LEFT + 2, _MID), th["columns"], strict=True):
        grid.put(row, col, value, f["header"])
    notes: list[str] = []
    for criterion, info in thresholds.items():
        if not isinstance(info, dict):
            continue
        row += 1
        name = text["criteria"].get(str(criterion), str(criterion))
        measure = th["values"].get(str(info.get("value")), str(info.get("value")))
        method = info.get("method", "")
        if info.get("no_data"):
            how = th["no_data"]
            notes.append(
                f"{name}: "
                + (
                    th["no_margin"]
                    if criterion == "margin"
                    else th["no_values"].format(measure=measure)
                )
            )
        elif method in ("quantile", "pareto"):
            how = th[method].format(
                a=_pct(info.get("share_A", 0), lang), b=_pct(info.get("share_B", 0), lang)
            )
        else:
            how = th.get(method, str(method))
        if info.get("note") and not info.get("no_data"):
            notes.append(f"{name}: {th['pareto_fallback']}")
        if info.get("sources"):
            sources = th["sources"]
            mix = ", ".join(f"{sources.get(k, k)}: {v}" for k, v in info["sources"].items())
            notes.append(f"{name}: {mix}")
        better = th["lower" if info.get("better") == "lower" else "higher"]
        grid.put(row, _LEFT, name)
        for col, letter in ((_LEFT + 1, "A"), (_LEFT + 2, "B")):
            value = info.get(letter)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                whole = float(value).is_integer() or abs(value) >= 10
                grid.put(row, col, float(value), f["int"] if whole else f["number"])
        grid.put(row, _MID, f"{measure}; {better}; {how}")
    for note in notes:
        row += 1
        grid.put(row, _LEFT, f"{th['note']}: {note}")
    return row


def _pct(share: Any, lang: str) -> str:
    value = f"{float(share or 0) * 100:.0f}"
    return f"{value} %" if lang == "ru" else f"{value}%"


_THRESHOLD_TEXT: dict[str, dict[str, Any]] = {
    "ru": {
        "columns": ["Критерий", "Граница A", "Граница B", "Как оценивается"],
        "quantile": "квантили: A — лучшие {a}, B — следующие {b}",
        "pareto": "Парето: A — первые {a} суммы, B — следующие {b}",
        "fixed": "фиксированные пороги",
        "lower": "меньше — лучше",
        "higher": "больше — лучше",
        "no_data": "не оценивается: нет данных",
        "no_margin": "нет колонки маржи и не заданы категории grades.high_margin.categories",
        "no_values": "ни у одного клиента нет значения «{measure}»",
        "pareto_fallback": "Парето здесь неприменимо, оценено по квантилям",
        "note": "Примечание",
        "values": {
            "recency_days": "дней с последнего заказа",
            "orders": "число заказов",
            "size": "размер (класс компании, иначе выручка за 12 мес.)",
            "high_margin_share": "доля высокомаржинальной выручки",
        },
        "sources": {
            "size_class": "по классу размера (оборот, иначе численность)",
            "revenue_12m": "по выручке за 12 мес. среди остальных",
        },
    },
    "en": {
        "columns": ["Criterion", "A boundary", "B boundary", "How graded"],
        "quantile": "quantiles: A the best {a}, B the next {b}",
        "pareto": "Pareto: A the first {a} of the total, B the next {b}",
        "fixed": "fixed thresholds",
        "lower": "lower is better",
        "higher": "higher is better",
        "no_data": "not graded: no data",
        "no_margin": "no margin column and no grades.high_margin.categories",
        "no_values": "no customer has a value for “{measure}”",
        "pareto_fallback": "Pareto does not apply here; graded by quantiles",
        "note": "Note",
        "values": {
            "recency_days": "days since last order",
            "orders": "number of orders",
            "size": "size (company class, else 12-month revenue)",
            "high_margin_share": "share of high-margin revenue",
        },
        "sources": {
            "size_class": "by size class (turnover, else headcount)",
            "revenue_12m": "by 12-month revenue among the rest",
        },
    },
}


# -- writing everything ---------------------------------------------------------------------
def task_sheet_frame(
    tasks: pl.DataFrame, language: str, tactic_labels: dict[str, str] | None = None
) -> pl.DataFrame:
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
    deferred: pl.DataFrame | None = None,
) -> list[str]:
    """Write every output file into ``out``; returns warnings (e.g. sheets split).

    With ``owners.team``, each task workbook has one sheet per owner after the full list,
    and ``deferred.csv`` lists the tasks held back over capacity (``deferred``).
    """
    lang = cfg.language
    text = _TEXT[lang]
    csv_options = cfg.export.csv
    max_rows = cfg.export.xlsx.max_rows
    warnings: list[str] = []
    tasks_csv = [
        c for c in [*TASK_COLUMNS, *TASK_HISTORY_COLUMNS, TASK_RANK_COLUMN] if c in tasks.columns
    ]
    owners = sheet_owners(tasks, cfg)

    if "xlsx" in formats:
        with Book(out.path("segments.xlsx"), lang) as book:
            _summary_sheet(book, segments, summary, cfg, tasks)
            keys = segment_keys(segments)
            book.write_table(
                text["customers"],
                labelled(segments, lang),
                _columns(segments, keys, lang, horizon_days=cfg.model.horizon_days),
                max_rows=max_rows,
                freeze_cols=2,
                # ~50 columns: printed across pages, not shrunk to one
                printing=PrintSetup(fit_width=False),
            )
            warnings += book.warnings
    if "csv" in formats:
        write_csv(segments, out.path("segments.csv"), csv_options)
    tactic_labels = _tactic_labels(cfg) if "xlsx" in formats else {}
    # one task list at a time: its rows are copied out of the tasks for its files only
    is_call = is_call_task()
    for name, title, rows, layout in (
        ("call_tasks", text["calls"], is_call, CALL_LAYOUT),
        ("mail_tasks", text["mail"], ~is_call, MAIL_LAYOUT),
    ):
        frame = tasks.filter(rows)
        if "xlsx" in formats:
            keys = task_sheet_keys(frame, layout)
            printed = sum(1 for k in layout if k in frame.columns)
            with Book(out.path(f"{name}.xlsx"), lang) as book:
                sheet = task_sheet_frame(sort_for_sheet(frame), lang, tactic_labels)
                columns = _columns(frame, keys, lang, layout)
                taken = book.write_table(
                    title,
                    sheet,
                    columns,
                    max_rows=max_rows,
                    freeze_cols=0,
                    printing=PrintSetup(columns=printed),
                )
                # one sheet per owner after the full list, sorted the same way
                for owner, sheet_name in owner_sheet_names(owners, [title, *taken]).items():
                    book.write_table(
                        sheet_name,
                        sheet.filter(pl.col("owner") == owner),
                        columns,
                        max_rows=max_rows,
                        freeze_cols=0,
                        printing=PrintSetup(columns=printed),
                    )
                warnings += book.warnings
        if "csv" in formats:
            write_csv(frame.select(tasks_csv), out.path(f"{name}.csv"), csv_options)
        del frame
    dq_cols = [c for c in DATA_QUALITY_COLUMNS if c in data_quality.columns]
    write_csv(data_quality.select(dq_cols), out.path("data_quality.csv"), csv_options)
    write_csv(rejects, out.path("rejects.csv"), csv_options)
    if deferred is not None and cfg.owners.team:
        write_csv(deferred.select(deferred_columns(deferred)), out.path(DEFERRED_NAME), csv_options)
    return warnings


def deferred_columns(deferred: pl.DataFrame) -> list[str]:
    """deferred.csv: the task columns, ``rank``, then ``deferred_reason``."""
    return [
        c for c in [*TASK_COLUMNS, TASK_RANK_COLUMN, "deferred_reason"] if c in deferred.columns
    ]


def stdout_frame(
    what: str,
    *,
    segments: pl.DataFrame,
    tasks: pl.DataFrame,
    data_quality: pl.DataFrame,
    rejects: pl.DataFrame,
) -> pl.DataFrame:
    """The frame ``export -o - --what WHAT`` prints as CSV."""
    calls, mail = split_tasks(tasks)
    tasks_csv = [
        c for c in [*TASK_COLUMNS, *TASK_HISTORY_COLUMNS, TASK_RANK_COLUMN] if c in tasks.columns
    ]
    frames = {
        "segments": segments,
        "call_tasks": calls.select(tasks_csv),
        "mail_tasks": mail.select(tasks_csv),
        "data_quality": data_quality,
        "rejects": rejects,
    }
    return frames[what]


WHAT_CHOICES = ("segments", "call_tasks", "mail_tasks", "data_quality", "rejects")
