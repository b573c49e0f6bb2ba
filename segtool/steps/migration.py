"""Month-over-month migration: who moved between segments since the previous run.

Compares this run's segments with the previous output folder (``--previous DIR``):

- movers: one row per customer whose segment changed; customers new since then have a null
  ``previous_segment``, customers gone since then a null ``segment``;
- a transition matrix: previous segment x current segment, customer counts (all customers,
  the unchanged ones on the diagonal);
- red flags newly raised and cleared per customer;
- last month's tasks: those an analyst marked done or refused in ``call_tasks.xlsx`` /
  ``mail_tasks.xlsx`` are not issued again (matched by ``task_id``); those still open are
  listed.

:func:`read_previous` (in :mod:`segtool.io.previous`, imported here) reads the previous
folder, :func:`compare` and :func:`drop_closed_tasks` are pure, :func:`write_migration`
writes ``migration.xlsx`` / ``migration.csv`` into an :class:`~segtool.io.atomic.OutputSet`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from segtool.config import Config
from segtool.io.atomic import OutputSet
from segtool.io.csv_out import ESCAPE_PREFIX, FORMULA_START, csv_bytes
from segtool.io.previous import (  # noqa: F401 - re-exported: the reading moved to io
    CLOSED_STATUSES,
    PREVIOUS_SEGMENTS,
    TASK_STATUSES,
    TASK_WORKBOOKS,
    PreviousRun,
    read_previous,
    read_previous_segments,
    read_task_statuses,
    status_code,
)
from segtool.io.xlsx import Book, Column, Kind, header_lines
from segtool.labels import RED_FLAG_LABELS, SEGMENT_LABELS
from segtool.schema import SEGMENTS

MOVER_COLUMNS = [
    "customer_id",
    "company_name",
    "previous_segment",
    "segment",
    "raised_flags",
    "cleared_flags",
]
FLAG_COLUMNS = [
    "customer_id",
    "company_name",
    "segment",
    "previous_red_flags",
    "red_flags",
    "raised_flags",
    "cleared_flags",
]
OPEN_TASK_COLUMNS = [
    "task_id",
    "customer_id",
    "company_name",
    "channel",
    "tactic",
    "due_date",
    "status",
    "segment",
    "reissued",
    "source",
]

NEW_KEY = "(new)"
GONE_KEY = "(gone)"

_LABELS = {
    "ru": {
        "customer_id": "ИНН / ID клиента",
        "company_name": "Компания",
        "previous_segment": "Сегмент раньше",
        "segment": "Сегмент сейчас",
        "raised_flags": "Новые красные флаги",
        "cleared_flags": "Снятые красные флаги",
        "previous_red_flags": "Флаги раньше",
        "red_flags": "Флаги сейчас",
        "task_id": "ID задачи",
        "channel": "Канал",
        "tactic": "Тактика",
        "due_date": "Срок",
        "status": "Статус",
        "reissued": "Выдана снова",
        "source": "Файл",
        NEW_KEY: "(новые)",
        GONE_KEY: "(выбыли)",
        "total": "Итого",
        "title": "Миграция между сегментами",
        "matrix": "Было (строки) → стало (столбцы)",
        "as_of": "Дата анализа",
        "previous_as_of": "Дата прошлого анализа",
        "customers": "Клиентов сейчас",
        "previous_customers": "Клиентов раньше",
        "moved": "Сменили сегмент (включая новых и выбывших)",
        "new": "Новые клиенты",
        "gone": "Выбывшие клиенты",
        "flags_raised": "Клиентов с новыми флагами",
        "flags_cleared": "Клиентов со снятыми флагами",
        "open_tasks": "Открытых задач с прошлого раза",
        "closed_tasks": "Задач отмечено «выполнена» или «отказ»",
        "withheld_tasks": "Задач этого раза не выдано (уже выполнены или отказ)",
        "sheet_summary": "Сводка",
        "sheet_movers": "Переходы",
        "sheet_flags": "Флаги",
        "sheet_tasks": "Открытые задачи",
        "status_open": "открыта",
        "status_in_progress": "в работе",
        "status_done": "выполнена",
        "status_refused": "отказ",
        "yes": "да",
        "no": "нет",
    },
    "en": {
        "customer_id": "Customer ID",
        "company_name": "Company",
        "previous_segment": "Previous segment",
        "segment": "Segment now",
        "raised_flags": "Raised red flags",
        "cleared_flags": "Cleared red flags",
        "previous_red_flags": "Flags before",
        "red_flags": "Flags now",
        "task_id": "Task ID",
        "channel": "Channel",
        "tactic": "Tactic",
        "due_date": "Due",
        "status": "Status",
        "reissued": "Issued again",
        "source": "File",
        NEW_KEY: "(new)",
        GONE_KEY: "(gone)",
        "total": "Total",
        "title": "Segment migration",
        "matrix": "Before (rows) → now (columns)",
        "as_of": "As of",
        "previous_as_of": "Previous as of",
        "customers": "Customers now",
        "previous_customers": "Customers before",
        "moved": "Changed segment (new and gone included)",
        "new": "New customers",
        "gone": "Gone customers",
        "flags_raised": "Customers with raised flags",
        "flags_cleared": "Customers with cleared flags",
        "open_tasks": "Tasks still open from last time",
        "closed_tasks": "Tasks marked done or refused",
        "withheld_tasks": "Tasks of this run not issued (already done or refused)",
        "sheet_summary": "Summary",
        "sheet_movers": "Movers",
        "sheet_flags": "Flags",
        "sheet_tasks": "Open tasks",
        "status_open": "open",
        "status_in_progress": "in progress",
        "status_done": "done",
        "status_refused": "refused",
        "yes": "yes",
        "no": "no",
    },
}


# -- comparing (pure) ----------------------------------------------------------------------
@dataclass
class Migration:
    movers: pl.DataFrame  # MOVER_COLUMNS
    transitions: pl.DataFrame  # previous_segment, segment, customers (long form; nulls kept)
    matrix: pl.DataFrame  # previous_segment key + one column per current segment key + total
    flags: pl.DataFrame  # FLAG_COLUMNS
    open_tasks: pl.DataFrame  # OPEN_TASK_COLUMNS
    closed_task_ids: list[str]  # last run's tasks marked done or refused
    withheld_task_ids: list[str] = field(default_factory=list)  # this run's tasks not issued
    counts: dict[str, int] = field(default_factory=dict)
    as_of: str | None = None
    previous_as_of: str | None = None
    labels: dict[str, str] = field(default_factory=dict)  # segment code -> label

    def summary(self) -> dict[str, Any]:
        return {**self.counts, "previous_as_of": self.previous_as_of}


def _flag_list(name: str) -> pl.Expr:
    return (
        pl.col(name)
        .fill_null("")
        .str.split(",")
        .list.eval(pl.element().str.strip_chars().filter(pl.element() != ""))
    )


def _joined(expr: pl.Expr) -> pl.Expr:
    return expr.list.sort().list.join(",")


def _segment_rank(name: str) -> pl.Expr:
    order = {code: i for i, code in enumerate(SEGMENTS)}
    return pl.col(name).replace_strict(order, default=len(order), return_dtype=pl.Int32)


def _ordered_keys(values: list[str | None], tail: str) -> list[str]:
    known = [s for s in SEGMENTS if s in values]
    other = sorted(v for v in values if v is not None and v not in SEGMENTS)
    return known + other + ([tail] if None in values else [])


def compare(
    current: pl.DataFrame | pl.LazyFrame,
    previous: PreviousRun,
    *,
    tasks: pl.DataFrame | None = None,
    language: str = "ru",
    as_of: str | None = None,
    task_period: str | None = None,
) -> Migration:
    """Compare this run's segments (and tasks) with the previous run's.

    ``task_period`` is the config's ``tasks.period``: with it, a task done or refused last
    month also holds back this month's task for the same customer, tactic and step.
    """
    cur = current.lazy() if isinstance(current, pl.DataFrame) else current
    label_col = f"segment_label_{language}"
    cur_cols = cur.collect_schema().names()
    cur = cur.select(
        "customer_id",
        pl.col("company_name")
        if "company_name" in cur_cols
        else pl.lit(None, pl.String).alias("company_name"),
        "segment",
        pl.col("red_flags").fill_null("")
        if "red_flags" in cur_cols
        else pl.lit("").alias("red_flags"),
        (pl.col(label_col) if label_col in cur_cols else pl.col("segment")).alias("_label"),
    )
    prev = previous.segments.lazy().select(
        "customer_id",
        pl.col("company_name").alias("_prev_company"),
        pl.col("segment").alias("previous_segment"),
        pl.col("red_flags").alias("previous_red_flags"),
    )
    both = (
        cur.join(prev, on="customer_id", how="full", coalesce=True)
        .with_columns(
            pl.coalesce("company_name", "_prev_company").alias("company_name"),
            pl.col("segment").is_not_null().alias("_is_current"),
            pl.col("previous_segment").is_not_null().alias("_was_previous"),
        )
        .with_columns(
            _joined(
                _flag_list("red_flags").list.set_difference(_flag_list("previous_red_flags"))
            ).alias("raised_flags"),
            _joined(
                _flag_list("previous_red_flags").list.set_difference(_flag_list("red_flags"))
            ).alias("cleared_flags"),
        )
        .with_columns(
            pl.when(pl.col("_is_current")).then("raised_flags").otherwise(pl.lit("")),
            pl.when(pl.col("_is_current")).then("cleared_flags").otherwise(pl.lit("")),
        )
        .sort(
            _segment_rank("previous_segment"),
            _segment_rank("segment"),
            "customer_id",
            nulls_last=True,
        )
        .collect()
    )
    movers = both.filter(pl.col("previous_segment").ne_missing(pl.col("segment"))).select(
        MOVER_COLUMNS
    )
    flags = both.filter(
        pl.col("_is_current") & ((pl.col("raised_flags") != "") | (pl.col("cleared_flags") != ""))
    ).select(FLAG_COLUMNS)
    transitions = (
        both.group_by("previous_segment", "segment")
        .agg(pl.len().cast(pl.Int64).alias("customers"))
        .sort(_segment_rank("previous_segment"), _segment_rank("segment"), nulls_last=True)
    )
    matrix = _matrix(transitions)
    labels = {code: text[language] for code, text in SEGMENT_LABELS.items() if language in text}
    labels.update(
        both.filter(pl.col("_label").is_not_null())
        .select("segment", "_label")
        .unique("segment")
        .iter_rows()
    )

    closed_ids: list[str] = []
    withheld: list[str] = []
    open_tasks = pl.DataFrame(
        schema={
            **{c: pl.String for c in OPEN_TASK_COLUMNS},
            "due_date": pl.Date,
            "reissued": pl.Boolean,
        }
    )
    if previous.tasks.height:
        closed_ids = previous.tasks.filter(pl.col("status").is_in(CLOSED_STATUSES))[
            "task_id"
        ].to_list()
        keyed = _keyed_tasks(tasks, previous.as_of, task_period)
        closed = pl.Series(closed_ids, dtype=pl.String).implode()
        withheld = keyed.filter(
            pl.col("task_id").is_in(closed) | pl.col("_previous_id").is_in(closed)
        )["task_id"].to_list()
        issued = pl.concat([keyed["task_id"], keyed["_previous_id"]]).drop_nulls().implode()
        open_tasks = (
            previous.tasks.filter(~pl.col("status").is_in(CLOSED_STATUSES))
            .join(
                both.select("customer_id", pl.col("segment").alias("_now")),
                on="customer_id",
                how="left",
            )
            .with_columns(
                pl.col("task_id").is_in(issued).alias("reissued"),
                pl.col("_now").alias("segment"),
            )
            .select(OPEN_TASK_COLUMNS)
        )

    counts = {
        "customers": int(both["_is_current"].sum()),
        "previous_customers": int(both["_was_previous"].sum()),
        "moved": movers.height,
        "new": int((both["_is_current"] & ~both["_was_previous"]).sum()),
        "gone": int((~both["_is_current"] & both["_was_previous"]).sum()),
        "flags_raised": int((flags["raised_flags"] != "").sum()),
        "flags_cleared": int((flags["cleared_flags"] != "").sum()),
        "open_tasks": open_tasks.height,
        "closed_tasks": len(closed_ids),
        "withheld_tasks": len(withheld),
    }
    return Migration(
        movers=movers,
        transitions=transitions,
        matrix=matrix,
        flags=flags,
        open_tasks=open_tasks,
        closed_task_ids=closed_ids,
        withheld_task_ids=withheld,
        counts=counts,
        as_of=as_of,
        previous_as_of=previous.as_of,
        labels=labels,
    )


def _matrix(transitions: pl.DataFrame) -> pl.DataFrame:
    """Wide transition matrix: one row per previous segment (``(new)`` last), one column per
    current segment (``(gone)`` last), then ``total``."""
    rows = _ordered_keys(transitions["previous_segment"].unique().to_list(), NEW_KEY)
    cols = _ordered_keys(transitions["segment"].unique().to_list(), GONE_KEY)
    keyed = transitions.with_columns(
        pl.col("previous_segment").fill_null(NEW_KEY), pl.col("segment").fill_null(GONE_KEY)
    )
    wide = keyed.group_by("previous_segment").agg(
        *[pl.col("customers").filter(pl.col("segment") == c).sum().alias(c) for c in cols],
        pl.col("customers").sum().alias("total"),
    )
    order = pl.DataFrame({"previous_segment": rows, "_row": list(range(len(rows)))})
    return order.join(wide, on="previous_segment", how="left").sort("_row").drop("_row")


def _keyed_tasks(
    tasks: pl.DataFrame | None, previous_as_of: str | None, period: str | None
) -> pl.DataFrame:
    """This run's task ids, with the id each task had in the previous run's period.

    Task ids are stable within a period (``tasks.period``: same customer, tactic, step and
    period -> same id), so a re-run in the same month matches by ``task_id`` directly; a run
    in the next month matches last month's ids through ``_previous_id``.
    """
    empty = pl.DataFrame(schema={"task_id": pl.String, "_previous_id": pl.String})
    if tasks is None or "task_id" not in tasks.columns:
        return empty
    needed = {"customer_id", "tactic", "step"}
    if period is None or previous_as_of is None or not needed <= set(tasks.columns):
        return tasks.select("task_id", pl.lit(None, dtype=pl.String).alias("_previous_id"))
    from segtool.steps.tactics import task_id_expr
    from segtool.steps.tactics import task_period as period_label

    try:
        label = period_label(dt.date.fromisoformat(str(previous_as_of)[:10]), period)
    except ValueError:
        return tasks.select("task_id", pl.lit(None, dtype=pl.String).alias("_previous_id"))
    return tasks.select(
        "task_id",
        task_id_expr(pl.col("customer_id"), pl.col("tactic"), pl.col("step"), label).alias(
            "_previous_id"
        ),
    )


def drop_closed_tasks(tasks: pl.DataFrame, migration: Migration | None) -> pl.DataFrame:
    """This run's tasks without those marked done or refused in the previous run's sheets
    (matched by task_id, in this period or the previous one)."""
    if migration is None or not migration.withheld_task_ids or "task_id" not in tasks.columns:
        return tasks
    withheld = pl.Series(migration.withheld_task_ids, dtype=pl.String)
    return tasks.filter(~pl.col("task_id").is_in(withheld.implode()))


# -- writing -------------------------------------------------------------------------------
def write_migration(
    out: OutputSet, migration: Migration, cfg: Config, formats: set[str]
) -> list[str]:
    """Write ``migration.xlsx`` and/or ``migration.csv`` into the OutputSet ``out``."""
    lang = cfg.language if cfg.language in _LABELS else "ru"
    text = _LABELS[lang]
    written = []
    if "csv" in formats:
        movers_csv = migration.movers.with_columns(pl.col(pl.String).replace("", None))
        out.path("migration.csv").write_bytes(csv_bytes(movers_csv, cfg.export.csv))
        written.append("migration.csv")
    if "xlsx" not in formats:
        return written

    def seg(expr: pl.Expr, empty: str) -> pl.Expr:
        return expr.replace_strict(migration.labels, default=expr).fill_null(text[empty])

    status_labels = {s: text[f"status_{s}"] for s in TASK_STATUSES}
    movers = migration.movers.with_columns(
        seg(pl.col("previous_segment"), NEW_KEY), seg(pl.col("segment"), GONE_KEY)
    )

    def flag_labels(name: str) -> pl.Expr:
        names = {code: text_[lang] for code, text_ in RED_FLAG_LABELS.items()}
        return (
            _flag_list(name)
            .list.eval(pl.element().replace_strict(names, default=pl.element()))
            .list.join(", ")
            .replace("", None)
            .alias(name)
        )

    flag_columns = ["previous_red_flags", "red_flags", "raised_flags", "cleared_flags"]
    movers = movers.with_columns(flag_labels(c) for c in ("raised_flags", "cleared_flags"))
    flags = migration.flags.with_columns(
        seg(pl.col("segment"), GONE_KEY), *(flag_labels(c) for c in flag_columns)
    )
    tasks = migration.open_tasks.with_columns(
        pl.col("status").replace_strict(status_labels, default=pl.col("status")),
        pl.when(pl.col("reissued"))
        .then(pl.lit(text["yes"]))
        .otherwise(pl.lit(text["no"]))
        .alias("reissued"),
        seg(pl.col("segment"), GONE_KEY),
    )
    with Book(out.path("migration.xlsx"), lang) as book:
        _write_summary(book, migration, text)
        for sheet, frame, keys in (
            (text["sheet_movers"], movers, MOVER_COLUMNS),
            (text["sheet_flags"], flags, FLAG_COLUMNS),
            (text["sheet_tasks"], tasks, OPEN_TASK_COLUMNS),
        ):
            book.write_table(
                sheet, frame, _columns(frame, keys, text), max_rows=cfg.export.xlsx.max_rows
            )
    written.append("migration.xlsx")
    return written


def _columns(frame: pl.DataFrame, keys: list[str], text: dict[str, str]) -> list[Column]:
    def kind(dtype: pl.DataType) -> Kind:
        if dtype == pl.Date:
            return "date"
        if dtype.is_integer():
            return "int"
        return "number" if dtype.is_float() else "text"

    return [Column(k, text[k], kind(frame.schema[k])) for k in keys]


def _write_summary(book: Book, migration: Migration, text: dict[str, str]) -> None:
    """Facts, then the transition matrix; rows written top to bottom (constant memory).

    Printed on one landscape page: facts beside their numbers, dates as dates, the matrix
    with wrapped segment names as column headers."""
    sheet = book.sheet(text["sheet_summary"])
    f = book.formats
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    sheet.fit_to_pages(1, 1)
    sheet.write(0, 0, text["title"], f["title"])
    facts: list[tuple[str, Any]] = [
        ("as_of", _date_or_text(migration.as_of)),
        ("previous_as_of", _date_or_text(migration.previous_as_of)),
    ] + [
        (key, migration.counts.get(key))
        for key in (
            "customers",
            "previous_customers",
            "moved",
            "new",
            "gone",
            "flags_raised",
            "flags_cleared",
            "open_tasks",
            "closed_tasks",
            "withheld_tasks",
        )
    ]
    for i, (key, value) in enumerate(facts):
        sheet.write_string(2 + i, 0, text[key], f["bold"])
        if isinstance(value, dt.date):
            sheet.write_datetime(2 + i, 1, dt.datetime.combine(value, dt.time()), f["date"])
        elif isinstance(value, (int, float)):
            sheet.write_number(2 + i, 1, value, f["int"])
        elif value:
            sheet.write_string(2 + i, 1, str(value))
    top = 2 + len(facts) + 1
    sheet.write(top, 0, text["matrix"], f["bold"])
    matrix = migration.matrix

    def label(key: str) -> str:
        if key in (NEW_KEY, GONE_KEY, "total"):
            return text[key]
        shown = migration.labels.get(key, key)  # a code read from the previous folder
        return ESCAPE_PREFIX + shown if re.match(FORMULA_START, shown) else shown

    head = [""] + [label(c) for c in matrix.columns[1:]]
    width = 14  # «Перспективный» whole on its line
    lines = max((header_lines(h, width) for h in head), default=1)
    sheet.set_row(top + 1, 15 * lines)
    sheet.write_row(top + 1, 0, head, f["header"])
    counts = matrix.with_columns(pl.exclude("previous_segment").fill_null(0))
    for i, (key, *values) in enumerate(counts.iter_rows()):  # a dozen segment rows at most
        sheet.write(top + 2 + i, 0, label(key), f["bold"])
        for j, value in enumerate(values, start=1):
            sheet.write_number(top + 2 + i, j, value, f["int"])
    sums = counts.select(pl.exclude("previous_segment").sum()).row(0)
    last = top + 2 + matrix.height
    sheet.write(last, 0, text["total"], f["bold"])
    for j, value in enumerate(sums, start=1):
        sheet.write_number(last, j, value, f["int"])
    labels = [label(k) for k in matrix["previous_segment"].to_list()]
    first = max([len(h) for h in labels + [text[k] for k, _ in facts]] + [12]) + 2
    sheet.set_column(0, 0, min(first, 60))
    sheet.set_column(1, 1, width)
    sheet.set_column(2, max(len(head) - 1, 2), width)


def _date_or_text(value: str | None) -> dt.date | str | None:
    """An ISO date from the manifest as a date (shown as a date cell), else as written."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
