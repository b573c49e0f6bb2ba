"""Contact routing: role order, consent flags, missing channels, no contact → data_quality."""

from __future__ import annotations

import datetime as dt

import polars as pl

from segtool.config import config_for_orders
from segtool.playbook import load_playbook
from segtool.steps.tactics import assign_tactics

AS_OF = dt.date(2026, 10, 31)
SEG = pl.DataFrame(
    {
        "customer_id": ["1"],
        "company_name": ["ООО Альфа"],
        "segment": ["regular_asleep"],
        "orders": [5],
        "avg_order_value": [100.0],
        "recency_days": [800],
        "abc": ["AAAA"],
        "priority": [True],
        "red_flags": [""],
        "reason": ["r"],
    }
)


def run(rows: list[dict], action="call", role="decision_maker", fallback=("email",), language="ru"):
    base = {
        "customer_id": "1",
        "contact_name": None,
        "role": "purchaser",
        "phone": None,
        "email": None,
        "address": None,
        "inmail": None,
        "do_not_call": False,
        "do_not_email": False,
        "do_not_mail": False,
        "preferred_channel": None,
        "owner": None,
    }
    strings = {
        c: pl.String
        for c in (
            "contact_name",
            "phone",
            "email",
            "address",
            "inmail",
            "preferred_channel",
            "owner",
        )
    }
    # no rows = a contacts export in which this customer has nobody
    frame = pl.DataFrame([{**base, **r} for r in rows] or [base], schema_overrides=strings).head(
        len(rows)
    )
    cfg = config_for_orders(
        "o.csv",
        language=language,
        tactics=[
            {"id": "t", "when": {}, "action": action, "role": role, "fallback": list(fallback)}
        ],
    )
    tasks, dq = assign_tactics(
        SEG.lazy(), frame.lazy() if frame is not None else None, load_playbook(cfg), cfg, AS_OF
    )
    return tasks, dq


def picked(tasks):
    row = tasks.row(0, named=True)
    return row["contact_name"], row["contact_role"], row["channel"]


def test_role_asked_for_wins_over_order_in_file():
    tasks, dq = run(
        [
            {"contact_name": "Закупщик", "role": "purchaser", "phone": "1"},
            {"contact_name": "Директор", "role": "decision_maker", "phone": "2"},
        ]
    )
    assert picked(tasks) == ("Директор", "decision_maker", "call") and dq.height == 0


def test_missing_role_falls_to_next_in_role_order():
    # decision_maker order: decision_maker, purchaser, user, unknown
    tasks, _ = run(
        [
            {"contact_name": "Инженер", "role": "user", "phone": "1"},
            {"contact_name": "Закупщик", "role": "purchaser", "phone": "2"},
        ]
    )
    assert picked(tasks) == ("Закупщик", "purchaser", "call")
    tasks, _ = run([{"contact_name": "Кто-то", "role": None, "phone": "1"}])
    assert picked(tasks) == ("Кто-то", "unknown", "call")  # unknown is the last resort


def test_do_not_call_falls_back_to_email_of_the_same_person_first():
    tasks, _ = run(
        [
            {
                "contact_name": "Директор",
                "role": "decision_maker",
                "phone": "1",
                "email": "d@x",
                "do_not_call": True,
            },
            {"contact_name": "Закупщик", "role": "purchaser", "phone": "2"},
        ]
    )
    assert picked(tasks) == ("Директор", "decision_maker", "email")


def test_consent_and_missing_channels_move_to_another_role():
    tasks, _ = run(
        [
            {
                "contact_name": "Директор",
                "role": "decision_maker",
                "phone": "1",
                "email": "d@x",
                "do_not_call": True,
                "do_not_email": True,
            },
            {"contact_name": "Закупщик", "role": "purchaser", "email": "p@x"},
        ]
    )
    assert picked(tasks) == ("Закупщик", "purchaser", "email")


def test_preferred_channel_breaks_ties_within_a_role():
    tasks, _ = run(
        [
            {"contact_name": "А", "role": "decision_maker", "phone": "1"},
            {
                "contact_name": "Б",
                "role": "decision_maker",
                "phone": "2",
                "preferred_channel": "call",
            },
        ]
    )
    assert picked(tasks)[0] == "Б"


def test_owner_from_contact_else_company_else_default():
    tasks, _ = run(
        [
            {"contact_name": "Директор", "role": "decision_maker", "phone": "1"},
            {"contact_name": "Закупщик", "role": "purchaser", "owner": "Петрова А.С."},
        ]
    )
    assert tasks["owner"].to_list() == ["Петрова А.С."]
    tasks, _ = run(
        [{"contact_name": "Д", "role": "decision_maker", "phone": "1", "owner": "Белова"}]
    )
    assert tasks["owner"].to_list() == ["Белова"]
    tasks, _ = run([{"contact_name": "Д", "role": "decision_maker", "phone": "1"}])
    assert tasks["owner"].to_list() == ["Отдел продаж"]


def test_unreachable_contacts_go_to_data_quality_with_reasons():
    tasks, dq = run(
        [
            {
                "contact_name": "Директор",
                "role": "decision_maker",
                "phone": "1",
                "do_not_call": True,
            },
        ],
        fallback=("email", "mail"),
    )
    assert tasks.height == 0
    assert dq.to_dicts() == [
        {
            "customer_id": "1",
            "company_name": "ООО Альфа",
            "segment": "regular_asleep",
            "tactic": "t",
            "problem": "no_reachable_channel",
            "detail": "шаг 1: call: запрет на звонки; email: нет email; mail: нет адреса",
        }
    ]


def test_no_contact_at_all_goes_to_data_quality():
    tasks, dq = run([], language="en")
    assert tasks.height == 0
    assert dq["problem"].to_list() == ["no_contacts"]
    assert dq["detail"].to_list() == ["no contact person for this customer in the contacts export"]


def test_inmail_and_chatbot_honour_email_consent_and_need_a_handle():
    tasks, dq = run(
        [{"role": "decision_maker", "inmail": "in/x", "phone": "1", "do_not_email": True}],
        action="inmail",
        fallback=("chatbot", "call"),
    )
    assert picked(tasks)[2] == "call"
    tasks, _ = run([{"role": "decision_maker", "inmail": "in/x"}], action="inmail", fallback=())
    assert picked(tasks)[2] == "inmail"


def test_without_a_contacts_export_tasks_go_to_the_account(tmp_path):
    """No contacts export (contacts=None): tasks are still issued, on the tactic's own
    channel, with no
    named person (the owner looks the contact up in the CRM); nothing goes to data quality."""
    import datetime as _dt

    import polars as _pl

    from segtool.config import Config as _Config
    from segtool.playbook import load_playbook as _load
    from segtool.steps.tactics import assign_tactics as _assign

    cfg = _Config.model_validate({"inputs": {"orders": {"path": "o.csv"}}})
    cfg.base_dir = tmp_path  # no playbook.yaml there: the packaged default applies
    segments = _pl.DataFrame(
        {
            "customer_id": ["1"],
            "company_name": ["ООО Альфа"],
            "stage": ["regular"],
            "activity": ["asleep"],
            "segment": ["regular_asleep"],
            "orders": [7],
            "revenue": [7000.0],
            "avg_order_value": [1000.0],
            "abc": ["CACC"],
            "priority": [False],
            "red_flags": [""],
            "red_flag_reasons": [""],
            "reason": ["последний заказ 30 мес. назад"],
            "last_order_date": [_dt.date(2024, 4, 1)],
            "first_order_date": [_dt.date(2020, 1, 1)],
        }
    )
    tasks, data_quality = _assign(segments.lazy(), None, _load(cfg), cfg, _dt.date(2026, 10, 31))
    assert data_quality.height == 0
    assert tasks.height >= 1
    first = tasks.row(0, named=True)
    assert first["contact_name"] is None and first["phone"] is None
    assert first["owner"] == "Отдел продаж"
    # no person: a plain greeting, and the customer is addressed as "вы", never by an id
    assert first["script"].startswith("Добрый день! Вы долго работали с нами, заказов было 7")
    assert "1" not in first["script"].replace("01.04.2024", "")
