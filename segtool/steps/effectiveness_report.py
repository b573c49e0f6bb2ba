"""The effectiveness report for a person and for scripts.

- ``effectiveness.csv`` / ``effectiveness_breakdown.csv``: the frames of
  :mod:`segtool.steps.effectiveness`, codes as they are;
- ``effectiveness.xlsx``: a sheet per language's "Итоги" / "Summary" with, per tactic, one
  plain sentence, the arms side by side and the uplift with its 95 % interval as a chart;
  then every run and arm, and the breakdowns, with labelled headers;
- ``holdout.csv``: the customers of this run's control groups (customer_id, tactic, as_of).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from segtool import vocabulary as V
from segtool.config import Config
from segtool.io.atomic import OutputSet
from segtool.io.csv_out import write_csv
from segtool.labels import SEGMENT_LABELS, segment_label
from segtool.playbook import Playbook
from segtool.steps.effectiveness import ALL, EffectivenessResult
from segtool.steps.tactics import HOLDOUT

HOLDOUT_COLUMNS = ["customer_id", "tactic", "as_of"]

_TEXT: dict[str, dict[str, Any]] = {
    "ru": {
        "title": "Работают ли тактики: заказы клиентов с задачей и контрольной группы",
        "summary": "Итоги",
        "runs": "Все запуски",
        "breakdown": "Разрезы",
        "sentence": "{tactic}: заказали {p1} против {p0} в контрольной группе, {d} п.п. "
        "(95 %: {lo}…{hi}).",
        "no_control": "{tactic}: заказали {p1}; контрольной группы нет, сравнить не с чем. "
        "Чтобы проверить тактику, оставьте часть клиентов без задачи "
        "(ключ holdout в сборнике тактик).",
        "money": "Выручка на клиента: {r1} против {r0}.",
        "works": "Тактика работает.",
        "harmful": "Клиенты с задачей заказывали реже, чем без неё: тактика вредит.",
        "no_evidence": "Пока нельзя сказать, работает ли тактика.",
        "needed": "Чтобы решить, нужно около {n} {customers} в каждой группе (сейчас {n1} с "
        "задачей и {n0} в контрольной).",
        "no_difference": "Разницы между группами пока не видно.",
        "window": "Задачи выданы {issued}; заказы учтены за {days} дн. из {window}.",
        "arm": "Группа",
        "customers": "Клиентов",
        "responders": "Заказали",
        "rate": "Доля заказавших",
        "revenue": "Выручка",
        "per_customer": "Выручка на клиента",
        "uplift": "Прирост, п.п.",
        "low": "95 %: от",
        "high": "95 %: до",
        "verdict": "Вывод",
        "chart": "Прирост доли заказавших к контрольной группе, п.п. (95 %)",
        "arm_all": "Все с задачей",
        "arm_holdout": "Контрольная группа",
        "arm_variant": "Вариант {v}",
        "verdicts": {
            "works": "работает",
            "no_evidence": "пока не ясно",
            "harmful": "вредит",
            "no_control": "нет контрольной группы",
        },
        "issued": "Задачи выданы",
        "tactic": "Тактика",
        "by": "Разрез",
        "value": "Значение",
        "asleep": "Засыпающих и уснувших",
        "became_active": "Стали активными",
        "became_active_share": "Доля ставших активными",
        "by_names": {
            "variant": "группа",
            "channel": "канал",
            "owner": "ответственный",
            "segment": "сегмент",
            "done": "только выполненные задачи",
        },
        "empty": "В истории пока нет прошлых запусков: отчёт появится со следующего запуска.",
    },
    "en": {
        "title": "Do the tactics work? Orders of customers with a task and of the control group",
        "summary": "Summary",
        "runs": "All runs",
        "breakdown": "Breakdowns",
        "sentence": "{tactic}: {p1} ordered vs {p0} in the control group, {d} pp (95%: {lo}…{hi}).",
        "no_control": "{tactic}: {p1} ordered; there is no control group to compare with. "
        "To test the tactic, keep some customers without a task (the holdout "
        "key in the playbook).",
        "money": "Revenue per customer: {r1} vs {r0}.",
        "works": "The tactic works.",
        "harmful": "Customers with a task ordered less often than those without: the tactic "
        "does harm.",
        "no_evidence": "It cannot be told yet whether the tactic works.",
        "needed": "To decide, a test needs about {n} customers in each group (now {n1} with a "
        "task and {n0} in the control group).",
        "no_difference": "No difference between the groups so far.",
        "window": "Tasks issued {issued}; orders counted for {days} of {window} days.",
        "arm": "Group",
        "customers": "Customers",
        "responders": "Ordered",
        "rate": "Share who ordered",
        "revenue": "Revenue",
        "per_customer": "Revenue per customer",
        "uplift": "Uplift, pp",
        "low": "95%: from",
        "high": "95%: to",
        "verdict": "Verdict",
        "chart": "Uplift in the share who ordered vs the control group, pp (95%)",
        "arm_all": "All with a task",
        "arm_holdout": "Control group",
        "arm_variant": "Variant {v}",
        "verdicts": {
            "works": "works",
            "no_evidence": "not clear yet",
            "harmful": "does harm",
            "no_control": "no control group",
        },
        "issued": "Tasks issued",
        "tactic": "Tactic",
        "by": "Breakdown",
        "value": "Value",
        "asleep": "Falling asleep or asleep",
        "became_active": "Became active",
        "became_active_share": "Share that became active",
        "by_names": {
            "variant": "group",
            "channel": "channel",
            "owner": "owner",
            "segment": "segment",
            "done": "done tasks only",
        },
        "empty": "The history holds no earlier run yet: the report starts with the next run.",
    },
}


# -- numbers in sentences ------------------------------------------------------------------
def _number(value: float, language: str, decimals: int = 1) -> str:
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{value:.0f}"
    if text in ("-0", ""):
        text = "0"
    return text.replace(".", ",") if language == "ru" else text


def percent_text(share: float, language: str) -> str:
    """0.24 -> "24 %" (ru) / "24%" (en); one decimal where it is not whole."""
    number = _number(share * 100, language)
    return f"{number} %" if language == "ru" else f"{number}%"


def points_text(share: float, language: str) -> str:
    """A difference of shares in percentage points with its sign: 0.13 -> "+13"."""
    points = round(share * 100, 1)
    sign = "+" if points > 0 else ("−" if points < 0 else "")
    return sign + _number(abs(points), language)


def money_text(amount: float, language: str) -> str:
    """1234567.8 -> "1 234 568 ₽" (ru, non-breaking spaces) / "1,234,568" (en)."""
    whole = f"{round(amount):,}"
    if language == "ru":
        return whole.replace(",", "\u00a0") + "\u00a0₽"
    return whole


def _date_text(day: dt.date, language: str) -> str:
    return day.strftime("%d.%m.%Y" if language == "ru" else "%Y-%m-%d")


def _customers_genitive(count: int) -> str:
    """«около 4 421 клиента», «около 686 клиентов»: after «около» a number ending in 1
    (but not 11) takes the genitive singular."""
    return "клиента" if count % 10 == 1 and count % 100 != 11 else "клиентов"


def tactic_title(tactic_id: str, playbook: Playbook, language: str) -> str:
    """«Звонок «Реактивация»» / «Call "Reactivation"»: the channel and the tactic's label."""
    for tactic in playbook.tactics:
        if tactic.id == tactic_id:
            label = tactic.label.get(language) or tactic_id.replace("_", " ")
            term = V.CHANNEL.get(tactic.action)
            word = term.meta["noun"][language] if term is not None else ""
            quoted = f"«{label}»" if language == "ru" else f'"{label}"'
            return f"{word} {quoted}" if word else quoted
    return tactic_id.replace("_", " ")


def sentence(row: dict[str, Any], title: str, language: str, window_days: int) -> str:
    """One plain paragraph for a tactic's ``latest()`` row."""
    text = _TEXT[language]
    p1 = percent_text(row["response_rate"], language)
    if row["verdict"] == "no_control" or row["control_rate"] is None:
        parts = [text["no_control"].format(tactic=title, p1=p1)]
    else:
        parts = [
            text["sentence"].format(
                tactic=title,
                p1=p1,
                p0=percent_text(row["control_rate"], language),
                d=points_text(row["uplift"], language),
                lo=points_text(row["uplift_ci_low"], language),
                hi=points_text(row["uplift_ci_high"], language),
            ),
            text["money"].format(
                r1=money_text(row["revenue_per_customer"], language),
                r0=money_text(row.get("control_revenue_per_customer") or 0, language),
            ),
            text[row["verdict"]],
        ]
        if row["verdict"] == "no_evidence":
            needed = row.get("customers_needed")
            parts.append(
                text["needed"].format(
                    n=f"{needed:,}".replace(",", "\u00a0" if language == "ru" else ","),
                    customers=_customers_genitive(needed),
                    n1=row["customers"],
                    n0=row["control_customers"],
                )
                if needed is not None
                else text["no_difference"]
            )
    parts.append(
        text["window"].format(
            issued=_date_text(row["issued_as_of"], language),
            days=row["days_measured"],
            window=window_days,
        )
    )
    return " ".join(parts)


def console_lines(manifest_block: dict[str, Any]) -> list[str]:
    """One line per tactic with its verdict (the latest run that issued it)."""
    lines = []
    for tactic, v in manifest_block.get("verdicts", {}).items():
        head = (
            f"effectiveness: {tactic} (issued {v['issued_as_of']}, "
            f"{v['days_measured']} of {manifest_block['window_days']} days): "
            f"{v['response_rate']:.1%} of {v['customers']} ordered"
        )
        if v["verdict"] == "no_control":
            lines.append(f"{head}; no control group: {v['verdict']}")
            continue
        low, high = v["uplift_ci"]
        lines.append(
            f"{head} vs {v['control_rate']:.1%} of {v['control_customers']} in the control "
            f"group, {v['uplift'] * 100:+.1f} pp (95%: {low * 100:+.1f}…{high * 100:+.1f}): "
            f"{v['verdict']}"
        )
    return lines


# -- the files ------------------------------------------------------------------------------
def holdout_frame(assignments: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    return (
        assignments.filter(pl.col("variant") == HOLDOUT)
        .select("customer_id", "tactic", pl.lit(as_of, dtype=pl.Date).alias("as_of"))
        .sort("tactic", "customer_id")
    )


def write_holdout(
    outset: OutputSet, assignments: pl.DataFrame, as_of: dt.date, cfg: Config
) -> None:
    write_csv(holdout_frame(assignments, as_of), outset.path("holdout.csv"), cfg.export.csv)


def write_effectiveness(
    outset: OutputSet,
    result: EffectivenessResult,
    playbook: Playbook,
    cfg: Config,
    formats: set[str],
) -> None:
    """effectiveness.csv, effectiveness_breakdown.csv and (with xlsx) effectiveness.xlsx."""
    write_csv(result.table, outset.path("effectiveness.csv"), cfg.export.csv)
    write_csv(result.breakdown, outset.path("effectiveness_breakdown.csv"), cfg.export.csv)
    if "xlsx" in formats:
        write_workbook(outset.path("effectiveness.xlsx"), result, playbook, cfg.language)


def write_workbook(
    path: Path, result: EffectivenessResult, playbook: Playbook, language: str
) -> None:
    text = _TEXT[language]
    book = xlsxwriter.Workbook(
        str(path),
        {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    add = book.add_format
    fmt = {
        "title": add({"bold": True, "font_size": 14}),
        "head": add({"bold": True, "font_size": 12}),
        "wrap": add({"text_wrap": True, "valign": "top"}),
        "header": add(
            {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"}
        ),
        "text": add({"border": 1}),
        "int": add({"num_format": "#,##0", "border": 1}),
        "money": add({"num_format": "#,##0", "border": 1}),
        "percent": add({"num_format": "0.0%", "border": 1}),
        "points": add({"num_format": "+0.0;−0.0;0.0", "border": 1}),
        "date": add(
            {"num_format": "dd.mm.yyyy" if language == "ru" else "yyyy-mm-dd", "border": 1}
        ),
    }
    _summary_sheet(book, fmt, result, playbook, language)
    _table_sheet(book, fmt, text["runs"], result.table, language, playbook)
    _table_sheet(book, fmt, text["breakdown"], result.breakdown, language, playbook)
    book.close()


def _arm_label(variant: str, language: str) -> str:
    text = _TEXT[language]
    if variant == ALL:
        return str(text["arm_all"])
    if variant == HOLDOUT:
        return str(text["arm_holdout"])
    return str(text["arm_variant"]).format(v=variant)


def _summary_sheet(
    book: Any, fmt: dict[str, Any], result: EffectivenessResult, playbook: Playbook, language: str
) -> None:
    text = _TEXT[language]
    ws = book.add_worksheet(text["summary"])
    ws.hide_gridlines(2)
    ws.set_column(0, 0, 24)
    ws.set_column(1, 9, 13)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.write_string(0, 0, text["title"], fmt["title"])
    latest = result.latest()
    if latest.height == 0:
        ws.write_string(2, 0, text["empty"])
        return
    control_money = result.table.filter(pl.col("variant") == HOLDOUT).select(
        "issued_as_of",
        "tactic",
        pl.col("revenue_per_customer").alias("control_revenue_per_customer"),
    )
    latest = latest.join(control_money, on=["issued_as_of", "tactic"], how="left")
    headers = [
        "arm",
        "customers",
        "responders",
        "rate",
        "revenue",
        "per_customer",
        "uplift",
        "low",
        "high",
        "verdict",
    ]
    row = 2
    breaks = []
    for item in latest.iter_rows(named=True):
        if row > 2:
            breaks.append(row)  # each tactic starts a printed page
        title = tactic_title(item["tactic"], playbook, language)
        ws.write_string(row, 0, title, fmt["head"])
        row += 1
        ws.merge_range(
            row, 0, row, 9, sentence(item, title, language, result.window_days), fmt["wrap"]
        )
        ws.set_row(row, 48)
        row += 2
        arms = result.table.filter(
            (pl.col("issued_as_of") == item["issued_as_of"]) & (pl.col("tactic") == item["tactic"])
        )
        for col, key in enumerate(headers):
            ws.write_string(row, col, text[key], fmt["header"])
        ws.set_row(row, 30)
        first = row + 1
        for arm in arms.iter_rows(named=True):
            row += 1
            ws.write_string(row, 0, _arm_label(arm["variant"], language), fmt["text"])
            ws.write_number(row, 1, arm["customers"], fmt["int"])
            ws.write_number(row, 2, arm["responders"], fmt["int"])
            ws.write_number(row, 3, arm["response_rate"], fmt["percent"])
            ws.write_number(row, 4, arm["revenue"], fmt["money"])
            ws.write_number(row, 5, arm["revenue_per_customer"], fmt["money"])
            for col, key in ((6, "uplift"), (7, "uplift_ci_low"), (8, "uplift_ci_high")):
                value = arm[key]
                if value is None:
                    ws.write_blank(row, col, None, fmt["text"])
                else:
                    ws.write_number(row, col, round(value * 100, 1), fmt["points"])
            verdict = arm["verdict"]
            ws.write_string(
                row, 9, text["verdicts"].get(verdict, "") if verdict else "", fmt["text"]
            )
        last = row
        if item["verdict"] != "no_control":
            # below the table: the uplift of each treated group with its 95 % interval
            treated = [a for a in arms.iter_rows(named=True) if a["uplift"] is not None]
            _interval_chart(
                book,
                ws,
                text["chart"],
                treated,
                [_arm_label(a["variant"], language) for a in treated],
                row_at=last + 2,
                data_row=first,
            )
            row += 4 + (90 + 45 * len(treated)) // 20
        row += 3
    if breaks:
        ws.set_h_pagebreaks(breaks)
    ws.activate()


def _interval_chart(
    book: Any,
    ws: Any,
    title: str,
    arms: list[dict[str, Any]],
    labels: list[str],
    row_at: int,
    data_row: int,
) -> None:
    """A forest plot: per treated group a horizontal line from the interval's low to its
    high end through the uplift, and a dashed line at 0 (no difference). The points are
    written to hidden columns (U:V) from ``data_row`` on."""
    sheet = ws.get_name()
    chart = book.add_chart({"type": "scatter", "subtype": "straight_with_markers"})
    colours = ["#2E75B6", "#C55A11", "#548235", "#7030A0", "#BF9000", "#404040"]
    count = len(arms)
    lows = [a["uplift_ci_low"] * 100 for a in arms]
    highs = [a["uplift_ci_high"] * 100 for a in arms]
    row = data_row
    for index, (arm, label) in enumerate(zip(arms, labels, strict=True)):
        y = count - index
        points = [arm["uplift_ci_low"], arm["uplift"], arm["uplift_ci_high"]]
        for offset, x in enumerate(points):
            ws.write_number(row + offset, 20, round(x * 100, 1))
            ws.write_number(row + offset, 21, y)
        colour = colours[index % len(colours)]
        chart.add_series(
            {
                "name": label,
                "categories": [sheet, row, 20, row + 2, 20],
                "values": [sheet, row, 21, row + 2, 21],
                "line": {"color": colour, "width": 2.5},
                "marker": {
                    "type": "diamond",
                    "size": 7,
                    "fill": {"color": colour},
                    "border": {"color": colour},
                },
            }
        )
        row += 3
    ws.write_number(row, 20, 0)
    ws.write_number(row, 21, 0.5)
    ws.write_number(row + 1, 20, 0)
    ws.write_number(row + 1, 21, count + 0.5)
    chart.add_series(
        {
            "name": "0",
            "categories": [sheet, row, 20, row + 1, 20],
            "values": [sheet, row, 21, row + 1, 21],
            "line": {"color": "#7F7F7F", "width": 1, "dash_type": "dash"},
            "marker": {"type": "none"},
        }
    )
    ws.set_column(20, 21, None, None, {"hidden": True})
    chart.show_hidden_data()
    low_end, high_end = min(min(lows), 0.0), max(max(highs), 0.0)
    step = next((u for u in (1, 2, 5, 10, 20, 25, 50) if (high_end - low_end) / u <= 8), 100)
    chart.set_title({"name": title, "name_font": {"size": 10}})
    chart.set_legend({"position": "right", "delete_series": [count]})
    chart.set_x_axis(
        {
            "num_format": "+0;−0;0",
            "min": math.floor(low_end / step) * step - (step if low_end < 0 else 0),
            "max": math.ceil(high_end / step) * step + step,
            "major_unit": step,
            "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}},
        }
    )
    chart.set_y_axis(
        {"min": 0, "max": count + 1, "visible": False, "major_gridlines": {"visible": False}}
    )
    chart.set_size({"width": 620, "height": 90 + 45 * count})
    ws.insert_chart(row_at, 0, chart, {"x_offset": 4})


def _value_label(by: str | None, value: str, language: str) -> str:
    """A breakdown value as a person reads it: arm, channel and segment names, not codes."""
    if by == "variant":
        return _arm_label(value, language)
    if by == "segment" and value in SEGMENT_LABELS:
        return segment_label(value, language)
    if by == "channel" and value in V.CHANNEL:
        return V.CHANNEL[value].label(language)
    if by == "done":
        return str(_TEXT[language]["by_names"]["done"])
    return value


_COLUMN_KINDS = {
    "issued_as_of": "date",
    "customers": "int",
    "responders": "int",
    "response_rate": "percent",
    "revenue": "money",
    "revenue_per_customer": "money",
    "uplift": "points",
    "uplift_ci_low": "points",
    "uplift_ci_high": "points",
    "asleep_customers": "int",
    "became_active": "int",
    "became_active_share": "percent",
}


def _table_sheet(
    book: Any,
    fmt: dict[str, Any],
    title: str,
    frame: pl.DataFrame,
    language: str,
    playbook: Playbook,
) -> None:
    text = _TEXT[language]
    names = {
        "issued_as_of": text["issued"],
        "tactic": text["tactic"],
        "variant": text["arm"],
        "customers": text["customers"],
        "responders": text["responders"],
        "response_rate": text["rate"],
        "revenue": text["revenue"],
        "revenue_per_customer": text["per_customer"],
        "uplift": text["uplift"],
        "uplift_ci_low": text["low"],
        "uplift_ci_high": text["high"],
        "verdict": text["verdict"],
        "by": text["by"],
        "value": text["value"],
        "asleep_customers": text["asleep"],
        "became_active": text["became_active"],
        "became_active_share": text["became_active_share"],
    }
    ws = book.add_worksheet(title)
    ws.freeze_panes(1, 0)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws.set_row(0, 30)
    labels = {t.id: tactic_title(t.id, playbook, language) for t in playbook.tactics}
    for col, key in enumerate(frame.columns):
        ws.write_string(0, col, names.get(key, key), fmt["header"])
        width = {"tactic": 30, "variant": 20, "value": 24, "by": 16}.get(key, 13)
        ws.set_column(col, col, width)
    for r, item in enumerate(frame.iter_rows(named=True), start=1):
        for col, key in enumerate(frame.columns):
            value = item[key]
            kind = _COLUMN_KINDS.get(key, "text")
            if value is None or (isinstance(value, float) and math.isnan(value)):
                ws.write_blank(r, col, None, fmt["text"])
            elif kind == "date":
                ws.write_datetime(r, col, dt.datetime.combine(value, dt.time()), fmt["date"])
            elif kind == "points":
                ws.write_number(r, col, round(value * 100, 1), fmt["points"])
            elif kind in ("int", "money", "percent"):
                ws.write_number(r, col, value, fmt[kind])
            elif key == "tactic":
                ws.write_string(r, col, labels.get(value, value), fmt["text"])
            elif key == "variant":
                ws.write_string(r, col, _arm_label(value, language), fmt["text"])
            elif key == "verdict":
                ws.write_string(r, col, text["verdicts"].get(value, value), fmt["text"])
            elif key == "by":
                ws.write_string(r, col, text["by_names"].get(value, value), fmt["text"])
            elif key == "value":
                ws.write_string(r, col, _value_label(item.get("by"), value, language), fmt["text"])
            else:
                ws.write_string(r, col, str(value), fmt["text"])
    if frame.height:
        ws.autofilter(0, 0, frame.height, frame.width - 1)
