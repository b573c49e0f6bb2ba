"""plan-work: owners, rank, working days and weekly capacity on small hand-computed frames,
and hypothesis properties for the invariants."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segtool.config import config_for_orders
from segtool.errors import ConfigError
from segtool.steps.capacity import (
    DEFERRED_REASON,
    REASON_OVER_CAPACITY,
    next_working_day,
    plan_work,
)

AS_OF = dt.date(2026, 10, 30)  # a Friday; the period is 31 Oct - 30 Nov, 4 Nov a holiday
PRIORITY = {"win_back": 1, "cross_sell": 2}


def cfg(team: dict | None = None, assign: str = "account_manager", **extra):
    owners = {"default": "Отдел продаж", "assign": assign}
    if team is not None:
        owners["team"] = team
    return config_for_orders("orders.csv", owners=owners, **extra)


def tasks(rows: list[dict]) -> pl.DataFrame:
    base = {
        "customer_id": None,
        "tactic": "win_back",
        "step": 1,
        "channel": "call",
        "owner": "A",
        "expected_value": 100.0,
        "due_date": AS_OF + dt.timedelta(days=1),
        "status": "open",
    }
    filled = [{**base, "task_id": f"t{i:03d}", **row} for i, row in enumerate(rows)]
    for i, row in enumerate(filled):
        row["customer_id"] = row["customer_id"] or f"c{i:03d}"
    schema = {
        "task_id": pl.String,
        "customer_id": pl.String,
        "tactic": pl.String,
        "step": pl.Int32,
        "channel": pl.String,
        "owner": pl.String,
        "expected_value": pl.Float64,
        "due_date": pl.Date,
        "status": pl.String,
    }
    if any("issued_on" in row for row in filled):  # as with the history on
        schema["issued_on"] = pl.Date
    return pl.DataFrame(filled, schema=schema)


def plan(frame: pl.DataFrame, config, **kwargs):
    return plan_work(frame, config, AS_OF, tactic_priority=PRIORITY, **kwargs)


def d(day: int, month: int = 11) -> dt.date:
    return dt.date(2026, month, day)


# -- working days -------------------------------------------------------------------------
def test_a_due_date_on_a_weekend_or_holiday_moves_to_the_next_working_day():
    frame = tasks(
        [
            {"due_date": d(31, 10)},  # Saturday -> Monday 2 Nov
            {"due_date": d(4)},  # holiday (National Unity Day) -> Thursday 5 Nov
            {"due_date": d(3)},  # Tuesday stays
        ]
    )
    result = plan(frame, cfg())
    assert result.issued["due_date"].to_list() == [d(2), d(5), d(3)]
    assert result.moved_to_working_day == 2
    assert result.deferred.height == 0


def test_configured_holidays_replace_the_default_ones():
    frame = tasks([{"due_date": d(4)}, {"due_date": d(5)}])
    result = plan(frame, cfg(calendar={"holidays": [d(5)]}))
    assert result.issued["due_date"].to_list() == [d(4), d(6)]


def test_next_working_day_skips_a_run_of_holidays():
    days = pl.DataFrame({"day": [dt.date(2025, 12, 31), dt.date(2026, 1, 1)]})
    holidays = [dt.date(2026, 1, i) for i in (1, 2, 5, 6, 7, 8, 9)]
    moved = days.select(next_working_day(pl.col("day"), holidays))["day"].to_list()
    assert moved == [dt.date(2025, 12, 31), dt.date(2026, 1, 12)]


# -- rank ------------------------------------------------------------------------------------
def test_rank_is_tactic_priority_then_expected_value_then_due_date():
    frame = tasks(
        [
            {"tactic": "cross_sell", "expected_value": 900.0},
            {"tactic": "win_back", "expected_value": 50.0, "due_date": d(10)},
            {"tactic": "win_back", "expected_value": 50.0, "due_date": d(9)},
            {"tactic": "win_back", "expected_value": 70.0},
        ]
    )
    result = plan(frame, cfg())
    assert result.issued["rank"].to_list() == [4, 3, 2, 1]
    assert result.issued["task_id"].to_list() == ["t000", "t001", "t002", "t003"]  # row order


def test_tasks_deferred_last_time_rank_first():
    frame = tasks([{"expected_value": 900.0}, {"expected_value": 1.0, "customer_id": "late"}])
    again = pl.DataFrame({"customer_id": ["late"], "tactic": ["win_back"], "step": [1]})
    result = plan(frame, cfg(), reconsider=again)
    assert result.issued["rank"].to_list() == [2, 1]
    assert result.reconsidered == 1


# -- capacity --------------------------------------------------------------------------------
def test_tasks_fill_the_weeks_within_capacity_and_spread_over_the_days():
    # 5 calls a week. The week of 2 Nov has 4 working days in the period (4 Nov a
    # holiday): 5 x 4 / 5 = 4; then three full weeks of 5; 30 Nov alone: 5 x 1 / 5 = 1.
    frame = tasks([{"expected_value": float(100 - i)} for i in range(12)])
    result = plan(frame, cfg({"A": {"calls_per_week": 5}}))
    due = dict(zip(result.issued["rank"], result.issued["due_date"], strict=True))
    assert [due[r] for r in range(1, 13)] == [
        d(2),
        d(3),
        d(5),
        d(6),  # 4 in the short week, one a day
        d(9),
        d(10),
        d(11),
        d(12),
        d(13),
        d(16),
        d(17),
        d(18),
    ]
    assert result.deferred.height == 0


def test_tasks_over_capacity_are_deferred_lowest_rank_first():
    # 2 a week: 2 x 4 / 5 = 1.6 -> 2, then 2, 2, 2, and 2 x 1 / 5 = 0.4 -> 0: 8 slots
    frame = tasks([{"expected_value": float(100 - i)} for i in range(10)])
    result = plan(frame, cfg({"A": {"calls_per_week": 2, "emails_per_week": 30}}))
    due = dict(zip(result.issued["rank"], result.issued["due_date"], strict=True))
    assert due == {
        1: d(2),
        2: d(5),  # Mon and Thu: the short week's days are 2, 3, 5, 6 Nov
        3: d(9),
        4: d(11),
        5: d(16),
        6: d(18),
        7: d(23),
        8: d(25),
    }
    assert result.deferred["rank"].to_list() == [9, 10]
    assert result.deferred[DEFERRED_REASON].to_list() == [REASON_OVER_CAPACITY] * 2
    assert result.deferred["due_date"].to_list() == [d(2)] * 2  # when it would have been due
    assert result.owners["A"] == {
        "in_team": True,
        "calls_per_week": 2,
        "emails_per_week": 30,
        "issued": 8,
        "issued_calls": 8,
        "issued_emails": 0,
        "deferred": 2,
        "deferred_calls": 2,
        "deferred_emails": 0,
    }
    assert result.summary()["planned"] == 10


def test_a_task_is_never_due_before_its_own_date():
    frame = tasks([{"due_date": d(20)}, {"expected_value": 1.0}])
    result = plan(frame, cfg({"A": {"calls_per_week": 1}}))
    assert result.issued["due_date"].to_list() == [d(20), d(2)]


def test_uncapped_channels_and_owners_outside_the_team_are_not_deferred():
    frame = tasks(
        [{"channel": "mail"} for _ in range(5)]  # postal mail: never capped
        + [{"channel": "email"} for _ in range(5)]  # no emails_per_week: no cap
        + [{"owner": "Z"} for _ in range(5)]  # calls of a customer outside the team
    )
    result = plan(frame, cfg({"A": {"calls_per_week": 0}}))
    assert result.deferred.height == 0
    # account_manager: a customer whose manager is not in the team goes to the default
    assert result.issued["owner"].to_list() == ["A"] * 10 + ["Отдел продаж"] * 5
    assert result.owners["Отдел продаж"]["in_team"] is False


def test_a_week_with_no_capacity_defers_every_call():
    result = plan(tasks([{}, {}]), cfg({"A": {"calls_per_week": 0}}))
    assert result.issued.height == 0 and result.deferred["rank"].to_list() == [1, 2]


def test_carried_tasks_due_in_a_week_take_its_room():
    frame = tasks(
        [
            {"due_date": d(10), "issued_on": d(30, 9)},  # carried from September, due 10 Nov
            {"due_date": d(10), "issued_on": d(30, 9)},
            {"due_date": d(9), "issued_on": AS_OF, "expected_value": 5.0},
            {"due_date": d(9), "issued_on": AS_OF, "expected_value": 4.0},
        ]
    )
    result = plan(frame, cfg({"A": {"calls_per_week": 3}}))
    by_id = dict(zip(result.issued["task_id"], result.issued["due_date"], strict=True))
    # the week of 9 Nov holds 3, two of them carried: one new task fits, the next week
    # takes the other
    assert by_id["t000"] == d(10) and by_id["t001"] == d(10)
    assert by_id["t002"] == d(9) and by_id["t003"] == d(16)


# -- owners ----------------------------------------------------------------------------------
TEAM = {"A": {"calls_per_week": 10}, "B": {"calls_per_week": 8}, "C": {"calls_per_week": 5}}


def test_balanced_spreads_customers_by_call_capacity():
    frame = tasks([{"owner": None, "expected_value": float(i)} for i in range(23)])
    result = plan(frame, cfg(TEAM, assign="balanced"))
    counts = dict(result.issued.group_by("owner").len().iter_rows())
    assert counts == {"A": 10, "B": 8, "C": 5}


def test_balanced_counts_account_managers_and_history_owners_first():
    frame = tasks(
        [{"owner": "A", "customer_id": f"a{i}"} for i in range(10)]  # A has 10 already
        + [{"owner": "Z", "customer_id": "kept"}]  # the history gave it to C
        + [{"owner": None, "customer_id": f"n{i}"} for i in range(12)]
    )
    history = pl.DataFrame({"customer_id": ["kept"], "owner": ["C"]})
    result = plan(frame, cfg(TEAM, assign="balanced"), previous_owners=history)
    owner = dict(zip(result.issued["customer_id"], result.issued["owner"], strict=True))
    assert owner["kept"] == "C"
    counts = dict(result.issued.group_by("owner").len().iter_rows())
    assert counts == {"A": 10, "B": 8, "C": 5}  # the 12 new ones went to B (8) and C (4)


def test_a_customer_keeps_one_balanced_owner_for_all_its_tasks():
    frame = tasks([{"owner": None, "customer_id": f"c{i // 3}"} for i in range(30)])
    result = plan(frame, cfg(TEAM, assign="balanced"))
    per_customer = result.issued.group_by("customer_id").agg(pl.col("owner").n_unique())
    assert per_customer["owner"].to_list() == [1] * 10


def test_account_manager_in_the_team_wins_over_history():
    frame = tasks([{"owner": "B", "customer_id": "x"}])
    history = pl.DataFrame({"customer_id": ["x"], "owner": ["C"]})
    result = plan(frame, cfg(TEAM, assign="balanced"), previous_owners=history)
    assert result.issued["owner"].to_list() == ["B"]


@pytest.mark.parametrize(
    ("owners", "needle"),
    [
        ({"team": {}}, "owners.team"),
        ({"team": {"A": {"calls_per_week": -1}}}, "calls_per_week"),
        ({"team": {"A": {"calls": 5}}}, "calls"),
        ({"assign": "round_robin"}, "owners.assign"),
    ],
)
def test_bad_owner_settings_name_the_key(tmp_path, owners, needle):
    import yaml

    from segtool.config import load_config

    path = tmp_path / "segtool.yaml"
    path.write_text(
        yaml.safe_dump(
            {"inputs": {"orders": {"path": "o.csv"}}, "owners": owners}, allow_unicode=True
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert needle in err.value.message


# -- properties -------------------------------------------------------------------------------
HOLIDAYS = {d(4)}
LAST_WEEK = d(30)  # the Monday of the period's last ISO week (30 Nov 2026 is a Monday)

task_rows = st.lists(
    st.fixed_dictionaries(
        {
            "owner": st.sampled_from(["A", "B", "Z"]),
            "channel": st.sampled_from(["call", "survey", "email", "mail", "inmail"]),
            "expected_value": st.floats(0, 1000, allow_nan=False),
            "due_date": st.integers(0, 45).map(lambda n: AS_OF + dt.timedelta(days=n)),
            "tactic": st.sampled_from(["win_back", "cross_sell"]),
        }
    ),
    max_size=60,
)
capacity = st.fixed_dictionaries(
    {
        "calls_per_week": st.one_of(st.none(), st.integers(0, 6)),
        "emails_per_week": st.one_of(st.none(), st.integers(0, 6)),
    }
)


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


@settings(max_examples=60, deadline=None)
@given(rows=task_rows, a=capacity, b=capacity)
def test_capacity_invariants(rows, a, b):
    frame = tasks(rows)
    result = plan(frame, cfg({"A": a, "B": b}))
    issued, deferred = result.issued, result.deferred
    # nothing lost, nothing twice
    assert issued.height + deferred.height == frame.height
    assert sorted([*issued["task_id"], *deferred["task_id"]]) == sorted(frame["task_id"])
    assert sorted([*issued["rank"], *deferred["rank"]]) == list(range(1, frame.height + 1))
    # working days only, never before the task's own date
    base = dict(zip(frame["task_id"], frame["due_date"], strict=True))
    for task_id, due in zip(issued["task_id"], issued["due_date"], strict=True):
        assert due.weekday() < 5 and due not in HOLIDAYS
        assert due >= base[task_id]
    # no owner's week holds more of a kind than the weekly figure
    kinds = {
        "call": "calls_per_week",
        "survey": "calls_per_week",
        "email": "emails_per_week",
        "inmail": "emails_per_week",
    }
    caps = {"A": a, "B": b}
    counts: dict[tuple[str, str, dt.date], int] = {}
    for owner, channel, due in issued.select("owner", "channel", "due_date").iter_rows():
        key = kinds.get(channel)
        if owner in caps and key and caps[owner][key] is not None:
            week = (owner, key, _monday(due))
            counts[week] = counts.get(week, 0) + 1
            assert counts[week] <= caps[owner][key]
    # only capped work is deferred, and never ahead of a worse-ranked task that took a
    # week the deferred one could have had
    for owner, channel, rank, due in deferred.select(
        "owner", "channel", "rank", "due_date"
    ).iter_rows():
        key = kinds.get(channel)
        assert owner in caps and key and caps[owner][key] is not None
        first = _monday(max(due, d(2)))
        last = max(first, LAST_WEEK)
        rivals = issued.filter(
            (pl.col("owner") == owner)
            & pl.col("channel").replace_strict(kinds, default=None).eq(key)
            & (pl.col("rank") > rank)
        )
        for week in rivals["due_date"].map_elements(_monday, return_dtype=pl.Date):
            assert not (first <= week <= last)


def test_a_carried_task_outside_the_team_does_not_pin_the_customer():
    frame = tasks(
        [
            {"owner": "Z", "customer_id": "x", "issued_on": d(30, 9)},  # carried, keeps Z
            {"owner": None, "customer_id": "x", "issued_on": AS_OF, "tactic": "cross_sell"},
        ]
    )
    result = plan(frame, cfg(TEAM, assign="balanced"))
    assert result.issued["owner"].to_list() == ["Z", "A"]


def test_owner_sheet_names_are_valid_and_unique():
    from segtool.steps.export import owner_sheet_names

    names = owner_sheet_names(
        ["Отдел/продаж: Север", "звонки", "'Иванов'", "А" * 40, "А" * 40 + "Б"],
        ["Звонки"],
    )
    assert list(names.values()) == [
        "Отдел продаж  Север",
        "звонки (2)",  # Excel compares sheet names ignoring case
        "Иванов",
        "А" * 31,
        "А" * 27 + " (2)",
    ]
