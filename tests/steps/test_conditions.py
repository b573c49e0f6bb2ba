"""Every documented `when` condition of the playbook (docs/playbook.md), each at its
boundary, on three hand-made customers:

    001 new_active      1 order,  avg 1 000, last order  10 days ago (0.33 months)
    002 regular_asleep 10 orders, avg 5 000, last order 800 days ago (26.28 months)
    003 regular_active  8 orders, avg 2 000, last order  20 days ago (0.66 months)
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from tests.steps.test_tactics import ALL_REACHABLE, AS_OF, assign_tactics, playbook, segments

REPO = Path(__file__).resolve().parents[2]
MONTH = 30.4375  # days per month in the months-since conditions


def matched(when: dict, weight: float | None = None, cfg_extra=None, **columns) -> list[str]:
    tactic = {"id": "t", "when": when, "action": "call"}
    if weight is not None:
        tactic["weight"] = weight
    pb, cfg = playbook([tactic], **(cfg_extra or {}))
    tasks, _ = assign_tactics(segments(**columns).lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF)
    return sorted(set(tasks["customer_id"].to_list()))


@pytest.mark.parametrize(
    "when, expected",
    [
        ({"stage": ["regular"]}, ["002", "003"]),
        ({"stage": "new"}, ["001"]),
        ({"activity": ["asleep"]}, ["002"]),
        ({"activity": ["active", "asleep"]}, ["001", "002", "003"]),
        # months since the last order = days / 30.4375; min is >=, max is <
        ({"max_months_since": 0.5}, ["001"]),
        ({"max_months_since": 20 / MONTH}, ["001"]),  # 003 is exactly at the max: not <
        ({"min_months_since": 20 / MONTH}, ["002", "003"]),  # exactly at the min: >=
        ({"min_months_since": 1, "max_months_since": 27}, ["002"]),
        ({"min_months_since": 26.3}, []),  # 800 days = 26.28 months
        ({"min_orders": 8}, ["002", "003"]),  # at least: 8 >= 8
        ({"min_orders": 9}, ["002"]),
        ({"min_orders": 1}, ["001", "002", "003"]),
        ({"stage": ["regular"], "min_orders": 9}, ["002"]),  # every key must hold
    ],
)
def test_condition(when, expected):
    assert matched(when) == expected


def test_priority_condition():
    columns = {"priority": [False, True, False]}
    assert matched({"priority": True}, **columns) == ["002"]
    assert matched({"priority": False}, **columns) == ["001", "003"]


@pytest.mark.parametrize(
    "weight, minimum, expected",
    [
        # without the model a customer's value is its avg_order_value: 1 000, 5 000, 2 000
        (1, 2000, ["002", "003"]),  # weight × value >= minimum: 2 000 >= 2 000
        (1, 2000.01, ["002"]),
        (2, 2000, ["001", "002", "003"]),  # 2 × 1 000 = 2 000
        (0.1, 500, ["002"]),  # 0.1 × 5 000 = 500
        (0.1, 501, []),
    ],
)
def test_min_expected_value_is_weight_times_value(weight, minimum, expected):
    assert matched({"min_expected_value": minimum}, weight=weight) == expected


def test_min_expected_value_uses_the_model_value_when_there_is_one():
    expected_revenue = [100.0, 50.0, 30_000.0]
    assert matched({"min_expected_value": 3000}, weight=0.1, expected_revenue=expected_revenue) == [
        "003"
    ]


@pytest.mark.parametrize(
    "key, values, when, expected",
    [
        ("company_type", ["shop", "government", None], ["government"], ["002"]),
        ("company_type", ["shop", "government", None], ["shop", "other"], ["001"]),
        ("size_class", ["micro", "large", None], ["large", "medium"], ["002"]),
    ],
)
def test_list_conditions_on_columns_and_missing_data_never_matches(key, values, when, expected):
    assert matched({key: when}, **{key: values}) == expected


def test_period_category_condition():
    periods = {
        "categories": {
            "machines": {"match": ["Станки*"], "falling_asleep_after": 36, "asleep_after": 120},
            "parts": {"match": ["Запчасти*"], "falling_asleep_after": 6, "asleep_after": 12},
        }
    }
    columns = {"period_category": [None, "machines", "parts"]}
    got = matched({"period_category": ["parts"]}, cfg_extra={"periods": periods}, **columns)
    assert got == ["003"]


def test_durable_false_is_never_bought_a_durable_category():
    columns = {"last_durable_date": [None, dt.date(2019, 10, 25), None]}
    assert matched({"durable": False}, **columns) == ["001", "003"]
    assert matched({"durable": True}, **columns) == ["002"]


def test_red_flags_condition_is_any_of():
    flags = {"red_flags": ["overdue", "revenue_drop,lost_category", ""]}
    assert matched({"red_flags": ["lost_category", "overdue"]}, **flags) == ["001", "002"]
    assert matched({"red_flags": ["revenue_drop"]}, **flags) == ["002"]


def _documented_conditions() -> set[str]:
    text = (REPO / "docs" / "playbook.md").read_text(encoding="utf-8")
    section = text.split("### `when`: conditions", 1)[1].split("\n### ", 1)[0]
    keys: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            keys |= set(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return keys


# where each documented condition is exercised
EXERCISED = {
    "segment": "test_tactics.py::test_matching_by_segment_abc_flags_and_columns",
    "abc": "test_tactics.py::test_matching_by_segment_abc_flags_and_columns",
    "stage": "test_condition",
    "activity": "test_condition",
    "priority": "test_priority_condition",
    "red_flags": "test_red_flags_condition_is_any_of",
    "company_type": "test_list_conditions_on_columns_and_missing_data_never_matches",
    "size_class": "test_list_conditions_on_columns_and_missing_data_never_matches",
    "period_category": "test_period_category_condition",
    "durable": "test_durable_false_is_never_bought_a_durable_category",
    "min_cycle_share": "test_tactics.py::test_durable_renewal_condition",
    "max_cycle_share": "test_tactics.py::test_durable_renewal_condition",
    "min_months_since": "test_condition",
    "max_months_since": "test_condition",
    "max_days_since_first_order": "test_tactics.py::test_timing_conditions_in_days",
    "min_days_since_last_order": "test_tactics.py::test_timing_conditions_in_days",
    "max_days_since_last_order": "test_tactics.py::test_timing_conditions_in_days",
    "min_orders": "test_condition",
    "min_expected_value": "test_min_expected_value_is_weight_times_value",
    "min_p_alive": "test_tactics_model.py::test_p_alive_conditions",
    "max_p_alive": "test_tactics_model.py::test_p_alive_conditions",
}


def test_every_documented_condition_is_exercised():
    from segtool.playbook import Condition

    documented = _documented_conditions()
    assert documented == set(Condition.model_fields), documented ^ set(Condition.model_fields)
    assert documented == set(EXERCISED)
