"""Right task, right words: the cases of issue 14 on a crafted export, by hand.

as_of = 2026-10-31. Periods: default 12/24 months; «Оборудование» (Станки*, Оборудование*)
36/120; «Подарочные наборы» 24/48. Cutoffs: − 12 months = 2025-10-31, − 24 = 2024-10-31,
− 36 = 2023-10-31, − 48 = 2022-10-31, − 120 = 2016-10-31.

WEEKLY  Магазин №3855: vodka every week 2019-01-07 .. 2025-01-27 (317 orders) and one gift
        set on 2019-09-02. Default: last 2025-01-27 ≤ 2025-10-31 → falling asleep; gifts:
        2019-09-02 ≤ 2022-10-31 → asleep. Most active: falling asleep (the old "slowest
        category wins" rule made it active: 21 months < 24 of the gift sets).
DUR25   ООО «Станкомаш»: a machine on 2024-09-30 (25 months), consumables on 2023-05-15 and
        2025-01-31 (21 months). Default: falling asleep; equipment: 2024-09-30 > 2023-10-31 →
        active. Active via «Оборудование».
RENEW   ЗАО «Ромашка»: a machine on 2019-04-30 (90 months; 90/120 ≥ 0.7), consumables on
        2026-01-15, 2026-05-15 and 2026-08-31 → prospective... 4 orders: prospective_active.
        Renewal (stop) quoting 30.04.2019, not the last order 31.08.2026.
ASLEEP  ООО «Старьё»: five machines 2014-01..05 (≤ 2016-10-31: asleep in every category) →
        regular_asleep: no renewal, the reactivation call instead.
NEW200  ИП Волков М.С.: one order on 2026-04-14 (200 days) → new_active, no welcome.
NEW10   Магазин №5: one order on 2026-10-21 (10 days) → new_active, the welcome e-mail and
        the one-week call.
MULTI   ООО «Мульти»: 1 000 on the 15th of each month 2024-11 .. 2025-08 (10 orders, all in
        the previous window (2024-10-31, 2025-10-31]) and 500 on 2026-01-15 (last window):
        revenue −95 % → revenue_drop; gaps 30/31 days × 9 and 153 → median 31; 289 days
        since the last order > 2 × 31 → overdue. Last order 9 months ago → regular_active.
        Two call tactics (revenue drop, priority 1; overdue, priority 2): one call, the
        revenue-drop one, naming the overdue reorder.
"""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest

from segtool.config import config_for_orders
from segtool.playbook import load_playbook
from segtool.schema import CONTACTS, ORDERS
from segtool.steps.classify import classify
from segtool.steps.score import score
from segtool.steps.tactics import CALL_CHANNELS, assign_tactics

D = dt.date
AS_OF = D(2026, 10, 31)
PERIODS = {
    "default": {"falling_asleep_after": 12, "asleep_after": 24},
    "categories": {
        "durable": {
            "match": ["Станки*", "Оборудование*"],
            "label": "Оборудование",
            "falling_asleep_after": 36,
            "asleep_after": 120,
        },
        "gifts": {"match": ["Подарочные наборы"], "falling_asleep_after": 24, "asleep_after": 48},
    },
}


def _lines() -> list[tuple]:
    rows: list[tuple] = []
    week = D(2019, 1, 7)
    n = 0
    while week <= D(2025, 1, 27):
        rows.append(("WEEKLY", f"w{n}", week, 100.0, "Водка", "Магазин №3855"))
        week += dt.timedelta(days=7)
        n += 1
    rows.append(("WEEKLY", "g1", D(2019, 9, 2), 50.0, "Подарочные наборы", "Магазин №3855"))
    rows += [
        ("DUR25", "d0", D(2023, 5, 15), 100.0, "Расходники", "ООО «Станкомаш»"),
        ("DUR25", "d1", D(2024, 9, 30), 900000.0, "Станки токарные", "ООО «Станкомаш»"),
        ("DUR25", "d2", D(2025, 1, 31), 200.0, "Расходники", "ООО «Станкомаш»"),
        ("RENEW", "r1", D(2019, 4, 30), 500000.0, "Оборудование сварочное", "ЗАО «Ромашка»"),
        ("RENEW", "r2", D(2026, 1, 15), 300.0, "Расходники", "ЗАО «Ромашка»"),
        ("RENEW", "r3", D(2026, 5, 15), 300.0, "Расходники", "ЗАО «Ромашка»"),
        ("RENEW", "r4", D(2026, 8, 31), 300.0, "Расходники", "ЗАО «Ромашка»"),
        *[
            ("ASLEEP", f"a{m}", D(2014, m, 10), 70000.0, "Станки", "ООО «Старьё»")
            for m in range(1, 6)
        ],
        ("NEW200", "n1", D(2026, 4, 14), 700.0, "Расходники", "ИП Волков М.С."),
        ("NEW10", "t1", D(2026, 10, 21), 400.0, "Расходники", "Магазин №5"),
        *[
            (
                "MULTI",
                f"m{i}",
                D(2024 + (10 + i) // 12, (10 + i) % 12 + 1, 15),
                1000.0,
                "Инструмент",
                "ООО «Мульти»",
            )
            for i in range(10)
        ],
        ("MULTI", "m10", D(2026, 1, 15), 500.0, "Инструмент", "ООО «Мульти»"),
    ]
    return rows


def orders_frame() -> pl.DataFrame:
    keys = ("customer_id", "order_id", "order_date", "amount", "category", "company_name")
    frame = pl.DataFrame(
        [dict(zip(keys, row, strict=True)) for row in _lines()], schema={k: ORDERS[k] for k in keys}
    )
    return frame.with_columns(
        [pl.lit(None, dtype=t).alias(k) for k, t in ORDERS.items() if k not in keys]
    ).select(list(ORDERS))


PEOPLE = {  # customer -> ФИО of its one contact (every role, every channel)
    "WEEKLY": "Новиков Сергей Сергеевич",
    "DUR25": "Анна Петровна Иванова",
    "RENEW": "Фролова Е.Н.",
    "ASLEEP": "Кузнецов",
    "NEW200": "Волков Михаил Сергеевич",
    "NEW10": "John Smith",
    "MULTI": "Лебедева Марина Ринатовна",
}


def contacts_frame() -> pl.DataFrame:
    rows = [
        {
            "customer_id": c,
            "contact_name": name,
            "role": role,
            "phone": "+7 900 000-00-00",
            "email": f"{c.lower()}@example.ru",
            "address": "Москва",
            "inmail": "in/x",
            "do_not_call": False,
            "do_not_email": False,
            "do_not_mail": False,
        }
        for c, name in PEOPLE.items()
        for role in ("purchaser", "decision_maker", "user")
    ]
    frame = pl.DataFrame(rows, schema={k: CONTACTS[k] for k in rows[0]})
    return frame.with_columns(
        [pl.lit(None, dtype=t).alias(k) for k, t in CONTACTS.items() if k not in rows[0]]
    ).select(list(CONTACTS))


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    cfg = config_for_orders("orders.csv", periods=PERIODS)
    cfg.base_dir = tmp_path_factory.mktemp("pb")  # no playbook.yaml: the packaged default
    orders, contacts = orders_frame().lazy(), contacts_frame().lazy()
    scores = score(orders, contacts, cfg, AS_OF)
    segments, _ = classify(scores, cfg, orders, AS_OF)
    segments = segments.collect()
    tasks, _ = assign_tactics(segments.lazy(), contacts, load_playbook(cfg), cfg, AS_OF)
    rows = {r["customer_id"]: r for r in segments.iter_rows(named=True)}
    return rows, tasks


def tactics_of(tasks: pl.DataFrame, customer: str) -> list[str]:
    return tasks.filter(pl.col("customer_id") == customer)["tactic"].to_list()


def test_weekly_buyer_with_an_old_gift_set_is_falling_asleep(result):
    rows, tasks = result
    row = rows["WEEKLY"]
    assert (row["orders"], row["segment"]) == (318, "regular_falling_asleep")
    assert row["period_category"] is None and row["activity_rule"] == "period"
    assert row["period_last_order_date"] == D(2025, 1, 27)
    assert row["reason"] == (
        "318 заказов; последний заказ 21 мес. назад: 12 мес. и больше, клиент засыпает"
    )
    # gift sets (48 months) are not durable goods: no renewal. Nothing since January 2025
    # against 12 orders in the previous window: a revenue drop; the regular's check-in
    # call and the overdue reorder are said in that one call.
    assert tactics_of(tasks, "WEEKLY") == ["red_flag_revenue_drop"]
    (script,) = tasks.filter(pl.col("customer_id") == "WEEKLY")["script"].to_list()
    assert script.startswith("Сергей Сергеевич, добрый день!")
    # the folded reasons in order of urgency: check-in (priority 1), overdue (2)
    assert script.endswith(
        "Также в этом разговоре: звонок постоянному клиенту, пропущен обычный заказ."
    )
    assert row["last_durable_date"] is None


def test_durable_purchase_25_months_ago_keeps_the_customer_active(result):
    rows, _ = result
    row = rows["DUR25"]
    assert (row["segment"], row["period_category"]) == ("prospective_active", "durable")
    assert row["activity_rule"] == "period: Оборудование"
    assert row["reason"] == (
        "3 заказа; последний заказ 21 мес. назад; по категории «Оборудование» последняя "
        "покупка 25 мес. назад: меньше 36 мес., клиент активен"
    )
    assert row["last_durable_date"] == D(2024, 9, 30)


def test_renewal_quotes_the_durable_purchase(result):
    rows, tasks = result
    assert rows["RENEW"]["segment"] == "prospective_active"
    assert rows["RENEW"]["last_durable_date"] == D(2019, 4, 30)
    assert rows["RENEW"]["durable_cycle_share"] == pytest.approx(2741 / 30.4375 / 120)
    (task,) = tasks.filter(pl.col("customer_id") == "RENEW").iter_rows(named=True)
    assert task["tactic"] == "renewal"
    # «Фролова Е.Н.» has no имя and отчество: a plain greeting
    assert task["script"].startswith(
        "Добрый день! Оборудование, которое вы купили у нас "
        "30.04.2019, подходит к концу срока службы."
    )
    assert "31.08.2026" not in task["script"]


def test_asleep_durable_customer_gets_reactivation_not_renewal(result):
    rows, tasks = result
    assert rows["ASLEEP"]["segment"] == "regular_asleep"
    assert "renewal" not in tactics_of(tasks, "ASLEEP")
    assert tactics_of(tasks, "ASLEEP")[0] == "reactivation_call"


def test_new_customer_200_days_ago_gets_no_welcome(result):
    rows, tasks = result
    assert (rows["NEW200"]["segment"], rows["NEW200"]["tenure_days"]) == ("new_active", 200)
    assert tactics_of(tasks, "NEW200") == ["new_active_follow_up"]
    (script,) = tasks.filter(pl.col("customer_id") == "NEW200")["script"].to_list()
    assert script.startswith("Михаил Сергеевич, добрый день! Вы заказывали у нас 14.04.2026.")
    # ten days: the thank-you e-mail and the one-week call, greeting an English name
    new10 = tasks.filter(pl.col("customer_id") == "NEW10").sort("step")
    assert new10["tactic"].to_list() == ["new_active_welcome"] * 2
    assert new10["channel"].to_list() == ["email", "call"]
    assert new10["script"][0].startswith("John, добрый день! Спасибо за первый заказ")


def test_two_call_reasons_make_one_call(result):
    rows, tasks = result
    assert rows["MULTI"]["segment"] == "regular_active"
    assert rows["MULTI"]["red_flags"].split(",")[:2] == ["revenue_drop", "overdue"]
    calls = tasks.filter(
        (pl.col("customer_id") == "MULTI") & pl.col("channel").is_in(CALL_CHANNELS)
    )
    assert calls["tactic"].to_list() == ["red_flag_revenue_drop"]
    script = calls["script"][0]
    assert script.startswith("Марина Ринатовна, добрый день! За последний год заказов от вас")
    assert "Также в этом разговоре: пропущен обычный заказ" in script
    assert "выручка за последние 12 мес. 500 ₽ против 10 000 ₽" in calls["reason"][0]


def test_nobody_gets_two_calls_or_two_emails(result):
    _, tasks = result
    per_customer = tasks.group_by("customer_id").agg(
        pl.col("channel").is_in(CALL_CHANNELS).sum().alias("calls"),
        pl.col("channel").is_in(["email", "inmail", "chatbot"]).sum().alias("emails"),
    )
    assert per_customer["calls"].max() == 1
    assert per_customer["emails"].max() == 1


def test_texts_carry_no_codes_or_raw_numbers(result):
    rows, tasks = result
    texts = (
        tasks["script"].to_list() + tasks["reason"].to_list() + [r["reason"] for r in rows.values()]
    )
    for text in texts:
        assert not re.search(r"[a-z]+_[a-z]+", text), text
        assert "{" not in text and ".." not in text, text
        assert not re.search(r"(?<![\d ])\d{5,}", text), text
