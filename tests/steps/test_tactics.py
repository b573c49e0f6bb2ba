"""assign-tactics: matching, stop and cap, sequences, task ids, expected value, playbook checks."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl
import pytest

from segtool.config import config_for_orders
from segtool.errors import ConfigError
from segtool.playbook import DEFAULT_PLAYBOOK, Playbook, load_playbook
from segtool.schema import SEGMENTS
from segtool.steps.tactics import (
    TASK_COLUMNS,
    assign_tactics,
    assign_tactics_with_stats,
    task_period,
)

REPO = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2026, 10, 31)


def segments(**overrides) -> pl.DataFrame:
    """Three customers with the contract columns (plus a few extras)."""
    data = {
        "customer_id": ["001", "002", "003"],
        "company_name": ["ООО Альфа", "АО Бета", "ИП Гамма"],
        "stage": ["new", "regular", "regular"],
        "activity": ["active", "asleep", "active"],
        "segment": ["new_active", "regular_asleep", "regular_active"],
        "orders": [1, 10, 8],
        "avg_order_value": [1000.0, 5000.0, 2000.0],
        "recency_days": [10, 800, 20],
        "tenure_days": [10, 3000, 500],
        "last_order_date": [dt.date(2026, 10, 21), dt.date(2024, 8, 22), dt.date(2026, 10, 11)],
        "abc": ["AABC", "CAAB", "ABAC"],
        "priority": [False, False, False],
        "red_flags": ["", "", "revenue_drop"],
        "reason": ["r1", "r2", "r3"],
        "red_flag_reasons": ["", "", "выручка упала"],
        "period_category": [None, None, None],
        "asleep_after": [24, 24, 24],
    }
    data.update(overrides)
    return pl.DataFrame(data)


def contacts(rows: list[dict]) -> pl.DataFrame:
    base = {
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
    return pl.DataFrame(
        [{**base, **row} for row in rows],
        schema_overrides={
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
        },
    )


def playbook(tactics: list[dict], **cfg_extra):
    """The playbook and config; the one-call / one-e-mail caps are lifted unless a test
    sets them, so matching, stop and sequences are seen whole (the caps have own tests)."""
    tasks = {
        "max_calls_per_customer": 9,
        "max_emails_per_customer": 9,
        **cfg_extra.pop("tasks", {}),
    }
    cfg = config_for_orders("orders.csv", tactics=tactics, tasks=tasks, **cfg_extra)
    return load_playbook(cfg), cfg


ALL_REACHABLE = contacts(
    [
        {
            "customer_id": cid,
            "contact_name": f"К{cid}",
            "role": role,
            "phone": "+7 900",
            "email": f"{cid}@x.ru",
            "address": "Москва",
            "inmail": "in/x",
        }
        for cid in ("001", "002", "003")
        for role in ("purchaser", "decision_maker", "user")
    ]
)


def test_matching_by_segment_abc_flags_and_columns():
    pb, cfg = playbook(
        [
            {"id": "welcome", "when": {"segment": "new_active"}, "action": "email"},
            {"id": "flag", "when": {"red_flags": ["revenue_drop"]}, "action": "call"},
            {"id": "grade_a", "when": {"abc": ["A***"]}, "action": "email", "role": "user"},
            {"id": "second_b", "when": {"abc": ["?B??"]}, "action": "mail"},
        ]
    )
    tasks, dq = assign_tactics(segments().lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF)
    got = sorted(zip(tasks["customer_id"], tasks["tactic"], strict=True))
    assert got == [
        ("001", "grade_a"),
        ("001", "welcome"),
        ("003", "flag"),
        ("003", "grade_a"),
        ("003", "second_b"),
    ]
    assert tasks.columns == TASK_COLUMNS
    assert dq.height == 0
    flagged = tasks.filter(pl.col("tactic") == "flag").row(0, named=True)
    assert flagged["reason"] == "выручка упала; r3"  # red-flag tactics lead with the flag reason
    assert set(tasks["status"]) == {"open"}


def test_stop_and_cap_keep_tactics_in_playbook_order():
    pb, cfg = playbook(
        [
            {"id": "first", "when": {}, "action": "call"},
            {
                "id": "two_steps",
                "when": {},
                "action": "email",
                "steps": [{"day": 0}, {"day": 3, "action": "call"}],
            },
            {"id": "over_cap", "when": {}, "action": "mail"},
            {"id": "stopper", "when": {"segment": ["new_active"]}, "action": "call", "stop": True},
        ],
        tasks={"max_per_customer": 3},
    )
    result = assign_tactics_with_stats(segments().lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF)
    per_customer = result.tasks.group_by("customer_id").agg(pl.col("tactic").unique().sort())
    expected = {c: ["first", "two_steps"] for c in ("001", "002", "003")}
    assert dict(per_customer.iter_rows()) == expected
    assert result.stats.skipped_by_cap == 4  # over_cap ×3 and stopper for 001
    assert result.tasks.group_by("customer_id").len()["len"].max() == 3


def test_stop_drops_later_tactics():
    pb, cfg = playbook(
        [
            {
                "id": "renew",
                "when": {"segment": ["regular_asleep"]},
                "action": "call",
                "stop": True,
            },
            {"id": "generic", "when": {}, "action": "email"},
        ]
    )
    result = assign_tactics_with_stats(segments().lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF)
    got = sorted(zip(result.tasks["customer_id"], result.tasks["tactic"], strict=True))
    assert got == [("001", "generic"), ("002", "renew"), ("003", "generic")]
    assert result.stats.skipped_by_stop == 1


def test_sequence_due_dates_scripts_and_expected_value():
    pb, cfg = playbook(
        [
            {
                "id": "seq",
                "when": {"segment": ["regular_asleep"]},
                "action": "call",
                "due_in_days": 5,
                "weight": 0.3,
                "script": {
                    "ru": "{contact_name}, {company_name}: {last_order_date}, {months_since} мес., "
                    "{orders} заказов; {owner}",
                    "en": "x",
                },
                "steps": [
                    {"day": 0},
                    {"day": 3, "action": "email", "script": "письмо {company_name}"},
                    {"day": 10},
                ],
            }
        ]
    )
    tasks, _ = assign_tactics(segments().lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF)
    tasks = tasks.sort("step")
    assert tasks["step"].to_list() == [1, 2, 3]
    assert tasks["channel"].to_list() == ["call", "email", "call"]
    assert tasks["due_date"].to_list() == [
        dt.date(2026, 11, 5),
        dt.date(2026, 11, 8),
        dt.date(2026, 11, 15),
    ]
    # 800 days / 30.4375 = 26.28 months; owner falls back to the config default
    assert tasks["script"][0] == "К002, АО Бета: 22.08.2024, 26 мес., 10 заказов; Отдел продаж"
    assert tasks["script"][1] == "письмо АО Бета"
    # 0.3 × 5000 split over 3 steps
    assert tasks["expected_value"].to_list() == [500.0, 500.0, 500.0]


def test_lead_expected_value_uses_median_order_value():
    seg = segments(
        segment=["lead", "regular_asleep", "regular_active"],
        orders=[0, 10, 8],
        avg_order_value=[None, 5000.0, 2000.0],
    )
    pb, cfg = playbook(
        [{"id": "t", "when": {"segment": ["lead"]}, "action": "call", "weight": 0.1}]
    )
    tasks, _ = assign_tactics(seg.lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF)
    assert tasks["expected_value"].to_list() == [350.0]  # 0.1 × median(5000, 2000)


def test_task_ids_are_sha256_of_customer_tactic_step_period():
    pb, cfg = playbook([{"id": "t", "when": {"segment": ["new_active"]}, "action": "call"}])
    tasks, _ = assign_tactics(segments().lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF)
    expected = hashlib.sha256(b"001|t|1|2026-10").hexdigest()[:16]
    assert tasks["task_id"].to_list() == [expected]
    again, _ = assign_tactics(
        segments().lazy(), ALL_REACHABLE.lazy(), pb, cfg, dt.date(2026, 10, 5)
    )  # same month -> same id
    assert again["task_id"].to_list() == [expected]
    later, _ = assign_tactics(
        segments().lazy(), ALL_REACHABLE.lazy(), pb, cfg, dt.date(2026, 11, 1)
    )
    assert later["task_id"].to_list() != [expected]


def test_task_period_labels():
    assert task_period(dt.date(2026, 11, 18), "month") == "2026-11"
    assert task_period(dt.date(2026, 11, 18), "quarter") == "2026-Q4"
    assert task_period(dt.date(2026, 1, 1), "week") == "2026-W01"


def test_sorted_by_priority_then_expected_value():
    seg = segments(priority=[False, True, False])
    pb, cfg = playbook([{"id": "t", "when": {}, "action": "call", "weight": 1}])
    tasks, _ = assign_tactics(seg.lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF)
    assert tasks["customer_id"].to_list() == ["002", "003", "001"]


def test_durable_renewal_condition():
    # the cycle share is the durable purchase's: 002 bought its machine 2600 days ago (85.4
    # of 120 months = 0.71) although it ordered parts since; 003's machine is 400 days old
    # (0.11); 001 never bought a durable category
    durable = [None, dt.date(2019, 10, 25), dt.date(2025, 9, 26)]
    share = [None, 2600 / 30.4375 / 120, 400 / 30.4375 / 120]
    seg = segments(
        period_category=[None, "durable", "durable"],
        asleep_after=[24, 120, 120],
        recency_days=[10, 30, 400],
        last_durable_date=durable,
        durable_cycle_share=share,
    )
    pb, cfg = playbook(
        [
            {
                "id": "renewal",
                "when": {"durable": True, "min_cycle_share": 0.7},
                "action": "call",
                "script": "Куплено {last_durable_date}.",
            }
        ]
    )
    tasks, _ = assign_tactics(seg.lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF)
    assert tasks["customer_id"].to_list() == ["002"]
    assert tasks["script"].to_list() == ["Куплено 25.10.2019."]
    pb, cfg = playbook(
        [{"id": "service", "when": {"durable": True, "max_cycle_share": 0.7}, "action": "call"}]
    )
    tasks, _ = assign_tactics(seg.lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF)
    assert tasks["customer_id"].to_list() == ["003"]


def test_timing_conditions_in_days():
    # 001: first order 10 days ago; 002 first 3000, last 800; 003 first 500, last 20
    seg = segments()
    pb, cfg = playbook(
        [
            {"id": "fresh", "when": {"max_days_since_first_order": 10}, "action": "email"},
            {"id": "quiet", "when": {"min_days_since_last_order": 20}, "action": "mail"},
            {"id": "recent", "when": {"max_days_since_last_order": 19}, "action": "inmail"},
        ]
    )
    tasks, _ = assign_tactics(seg.lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF)
    got = sorted(zip(tasks["customer_id"], tasks["tactic"], strict=True))
    assert got == [("001", "fresh"), ("001", "recent"), ("002", "quiet"), ("003", "quiet")]


@pytest.mark.parametrize(
    "when, message",
    [
        ({"segment": ["regular_sleepy"]}, "tactic 'bad': unknown segment 'regular_sleepy'"),
        (
            {"red_flags": ["late"]},
            "unknown red flags 'late' in when.red_flags; valid: "
            "revenue_drop, overdue, lost_category",
        ),
        ({"abc": ["AX**"]}, "abc pattern 'AX**'"),
        ({"abc": ["AAA"]}, "has 3 letters but the config grades 4 criteria"),
    ],
)
def test_bad_conditions_name_the_tactic_and_valid_values(when, message):
    with pytest.raises(ConfigError) as err:
        playbook([{"id": "bad", "when": when, "action": "call"}])
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_key_action_and_placeholder_errors():
    typo = r"tactics\[0\] \(x\)\.when.*did you mean 'tactics\[0\]\.when\.segment'"
    with pytest.raises(ConfigError, match=typo):
        playbook([{"id": "x", "when": {"segmnet": ["lead"]}, "action": "call"}])
    with pytest.raises(ConfigError, match=r"tactics\[0\] \(x\)\.action"):
        playbook([{"id": "x", "action": "fax"}])
    with pytest.raises(ConfigError, match=r"unknown placeholder \{name\}"):
        playbook([{"id": "x", "action": "call", "script": "Hi {name}"}])
    with pytest.raises(ConfigError, match="4 steps but tasks.max_per_customer is 3"):
        playbook([{"id": "x", "action": "call", "steps": [{}, {}, {}, {}]}])
    with pytest.raises(ConfigError, match="ids must be unique"):
        playbook([{"id": "x", "action": "call"}, {"id": "x", "action": "email"}])


def test_default_playbook_covers_every_segment_lead_and_red_flag():
    cfg = config_for_orders("orders.csv", playbook="no-such-file.yaml")
    with pytest.raises(ConfigError, match="file not found"):
        load_playbook(cfg)
    pb = load_playbook(config_for_orders("orders.csv"))  # default name absent -> packaged
    assert isinstance(pb, Playbook) and pb.source == str(DEFAULT_PLAYBOOK)
    covered = {s for t in pb.tactics for s in (t.when.segment or [])}
    assert set(SEGMENTS) <= covered
    flags = {f for t in pb.tactics for f in (t.when.red_flags or [])}
    assert flags == {"revenue_drop", "overdue", "lost_category"}
    actions = {s.channels[0] for t in pb.tactics for s in t.resolved_steps()}
    assert actions == {"call", "email", "mail", "inmail", "survey"}
    assert any(len(t.resolved_steps()) == 3 for t in pb.tactics)  # a sequence
    for tactic in pb.tactics:
        for step in tactic.resolved_steps():
            assert step.script.ru and step.script.en, tactic.id


def test_config_playbook_is_the_packaged_default():
    assert (REPO / "config" / "playbook.yaml").read_bytes() == DEFAULT_PLAYBOOK.read_bytes()


def test_every_matched_customer_gets_tasks_or_a_data_quality_row():
    seg = segments()
    some = ALL_REACHABLE.filter(pl.col("customer_id") == "001")
    pb = load_playbook(config_for_orders("orders.csv"))
    cfg = config_for_orders("orders.csv")
    result = assign_tactics_with_stats(seg.lazy(), some.lazy(), pb, cfg, AS_OF)
    stats = result.stats
    assert stats.matched == 3
    assert stats.with_tasks == 1 and stats.data_quality_only == 2
    assert stats.identity_holds()
    assert set(result.data_quality["customer_id"]) == {"002", "003"}
    assert "3 customers matched by the playbook = 1 with tasks + 2 unreachable" in (
        stats.identity_line()
    )


def test_scripts_are_filled_once_per_placeholder_in_final_order():
    """Placeholders at either end and side by side are filled; a value that itself looks
    like a placeholder stays as written; an empty offer stays empty; every customer gets
    its own values in the sorted output."""
    pb, cfg = playbook(
        [
            {
                "id": "t",
                "when": {"segment": ["regular_asleep", "regular_active"]},
                "action": "call",
                "script": {"ru": "{company_name}{orders} - {contact_name}", "en": "x"},
                "offer": {"ru": "", "en": ""},
            }
        ]
    )
    names = ["ООО Альфа", "АО {owner}", "ИП Гамма"]
    tasks, _ = assign_tactics(
        segments(company_name=names).lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF
    )
    assert dict(zip(tasks["customer_id"], tasks["script"], strict=True)) == {
        "002": "АО {owner}10 - К002",
        "003": "ИП Гамма8 - К003",
    }
    assert tasks["offer"].to_list() == ["", ""]
