"""The history rules on small hand-made frames (segtool.history.rules)."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from segtool.history.rules import KNOWN_SCHEMA, STEP_DAYS_SCHEMA, apply_history, months_before
from segtool.steps.tactics import TASK_COLUMNS, TASK_SCHEMA

AS_OF = dt.date(2026, 9, 30)
AUG = dt.date(2026, 8, 31)
D = dt.date


def _tasks(*rows: dict) -> pl.DataFrame:
    """Issued tasks: every TASK_COLUMNS key, the given ones filled."""
    full = [
        {c: row.get(c, "open" if c == "status" else None) for c in TASK_COLUMNS} for row in rows
    ]
    return pl.DataFrame(full, schema=TASK_SCHEMA)


def _known(*rows: dict) -> pl.DataFrame:
    full = [{c: row.get(c) for c in KNOWN_SCHEMA} for row in rows]
    return pl.DataFrame(full, schema=KNOWN_SCHEMA)


STEP_DAYS = pl.DataFrame(
    [("seq", 1, 0), ("seq", 2, 3), ("seq", 3, 10), ("one", 1, 5)],
    schema=STEP_DAYS_SCHEMA,
    orient="row",
)


def _apply(tasks, known, last_orders=None, as_of=AS_OF, done=3, refused=6):
    orders = (
        last_orders
        if last_orders is not None
        else pl.DataFrame(schema={"customer_id": pl.String, "last_order_date": pl.Date})
    )
    return apply_history(
        tasks,
        known,
        orders,
        STEP_DAYS,
        as_of=as_of,
        done_cooldown_months=done,
        refused_cooldown_months=refused,
    )


def _t(task_id, customer, tactic, step, channel="call", due=None, **extra):
    return {
        "task_id": task_id,
        "customer_id": customer,
        "tactic": tactic,
        "step": step,
        "channel": channel,
        "due_date": due or AS_OF,
        **extra,
    }


def _k(
    task_id,
    customer,
    tactic,
    step,
    status,
    *,
    issued=AUG,
    on=None,
    channel="call",
    due=None,
    on_sheet=False,
    **extra,
):
    return {
        "task_id": task_id,
        "customer_id": customer,
        "tactic": tactic,
        "step": step,
        "channel": channel,
        "due_date": due or issued,
        "issued_as_of": issued,
        "status": status,
        "status_on": on or issued,
        "on_sheet": on_sheet,
        **extra,
    }


def test_months_before_clamps_to_the_month_end():
    assert months_before(D(2026, 8, 31), 6) == D(2026, 2, 28)
    assert months_before(D(2026, 9, 30), 3) == D(2026, 6, 30)


def test_nothing_known_keeps_single_steps_and_holds_later_sequence_steps():
    tasks = _tasks(_t("a1", "A", "one", 1), _t("s1", "B", "seq", 1), _t("s2", "B", "seq", 2))
    got = _apply(tasks, _known())
    assert got.tasks["task_id"].to_list() == ["a1", "s1"]
    assert got.tasks["issued_on"].to_list() == [AS_OF, AS_OF]
    assert got.tasks["overdue"].to_list() == [False, False]
    assert got.counts["waiting_sequence"] == 1 and got.counts["new"] == 2


def test_open_and_in_progress_are_carried_with_their_id_due_date_and_status():
    tasks = _tasks(_t("new-a", "A", "one", 1, due=D(2026, 10, 5)), _t("new-c", "C", "one", 1))
    known = _known(
        _k("old-a", "A", "one", 1, "in_progress", due=D(2026, 9, 5), company_name="ООО А"),
        _k("old-b", "B", "one", 1, "open", due=D(2026, 10, 10)),
    )
    got = _apply(tasks, known).tasks
    # A's carried task takes the place of this month's; B's (no task this month) follows
    assert got["task_id"].to_list() == ["old-a", "new-c", "old-b"]
    assert got["status"].to_list() == ["in_progress", "open", "open"]
    assert got["due_date"].to_list() == [D(2026, 9, 5), AS_OF, D(2026, 10, 10)]
    assert got["overdue"].to_list() == [True, False, False]  # 5 Sep is before 30 Sep
    assert got["issued_on"].to_list() == [AUG, AS_OF, AUG]
    assert got["company_name"][0] == "ООО А"  # shown as it was issued


def test_an_order_since_issue_closes_the_task_as_achieved():
    known = _known(_k("old-a", "A", "one", 1, "open"), _k("old-b", "B", "one", 1, "open"))
    orders = pl.DataFrame(
        {"customer_id": ["A", "B"], "last_order_date": [D(2026, 9, 10), D(2026, 8, 31)]}
    )
    got = _apply(_tasks(), known, orders)
    assert got.achieved["task_id"].to_list() == ["old-a"]  # B's order is not after the issue
    assert got.tasks["task_id"].to_list() == ["old-b"]


def test_done_cools_down_the_same_step_for_the_configured_months():
    tasks = _tasks(_t("x", "A", "one", 1), _t("y", "B", "one", 1))
    known = _known(
        _k("a", "A", "one", 1, "done", on=D(2026, 6, 30), issued=D(2026, 6, 30)),
        _k("b", "B", "one", 1, "done", on=D(2026, 7, 1), issued=D(2026, 6, 30)),
    )
    got = _apply(tasks, known, done=3)  # cooldown: done after 30 Jun holds the step back
    assert got.tasks["task_id"].to_list() == ["x"]
    assert got.counts["withheld_done"] == 1


def test_refused_blocks_that_channel_only_for_the_customer():
    tasks = _tasks(
        _t("call", "A", "one", 1, channel="call"),
        _t("mail", "A", "seq", 1, channel="email"),
        _t("other", "B", "one", 1, channel="call"),
    )
    known = _known(_k("r", "A", "seq", 1, "refused", on=D(2026, 4, 1), issued=D(2026, 3, 31)))
    got = _apply(tasks, known)
    assert got.tasks["task_id"].to_list() == ["mail", "other"]  # seed 000: channel change
    assert got.counts["withheld_refused"] == 1
    later = _apply(tasks, known, as_of=D(2026, 10, 2))  # six months after 1 Apr
    assert "call" in later.tasks["task_id"].to_list()


def test_second_step_waits_for_the_first_and_is_due_its_gap_after_it_was_done():
    tasks = _tasks(_t("s2", "B", "seq", 2, channel="email"), _t("s2c", "C", "seq", 2))
    known = _known(
        _k("s1", "B", "seq", 1, "done", on=D(2026, 9, 12)), _k("c1", "C", "seq", 1, "in_progress")
    )
    got = _apply(tasks, known).tasks
    # B: step 1 done on 12 Sep, step 2 is 3 days later in the playbook; C still waits
    assert got.filter(pl.col("task_id") == "s2")["due_date"].to_list() == [D(2026, 9, 15)]
    # ...which is before 30 Sep: a new task, already late
    assert got.filter(pl.col("task_id") == "s2")["overdue"].to_list() == [True]
    assert "s2c" not in got["task_id"].to_list()
    assert "c1" in got["task_id"].to_list()  # carried step 1


def test_a_sequence_stops_when_the_customer_orders():
    tasks = _tasks(_t("s2", "B", "seq", 2))
    known = _known(_k("s1", "B", "seq", 1, "done", on=D(2026, 9, 1)))
    orders = pl.DataFrame({"customer_id": ["B"], "last_order_date": [D(2026, 9, 20)]})
    assert _apply(tasks, known, orders).tasks.height == 0


def test_a_step_issued_since_the_previous_was_done_is_not_issued_again():
    tasks = _tasks(_t("s2-oct", "B", "seq", 2))
    known = _known(
        _k("s1", "B", "seq", 1, "done", on=D(2026, 8, 20), issued=D(2026, 7, 31)),
        _k("s2-aug", "B", "seq", 2, "refused", on=D(2026, 9, 1), channel="email"),
    )
    assert _apply(tasks, known).tasks.height == 0


def test_a_rerun_shows_the_months_closed_tasks_with_their_status():
    tasks = _tasks(_t("a", "A", "one", 1), _t("b", "B", "one", 1), _t("c", "C", "one", 1))
    known = _known(
        _k("a", "A", "one", 1, "done", issued=AS_OF, on=AS_OF, on_sheet=True),
        _k("b", "B", "one", 1, "refused", issued=AS_OF, on=AS_OF, on_sheet=True),
        _k("c", "C", "one", 1, "open", issued=AS_OF, on_sheet=True),
        _k("d", "D", "one", 1, "done", due=D(2026, 9, 1), on=AS_OF, on_sheet=True),
        _k("e", "E", "one", 1, "done", on=AS_OF),
    )
    got = _apply(tasks, known).tasks
    # d was carried from August onto the sheet being re-done; e was not on it
    assert got.select("task_id", "status").rows() == [
        ("a", "done"),
        ("b", "refused"),
        ("c", "open"),
        ("d", "done"),
    ]
    assert got["overdue"].to_list() == [False, False, False, False]  # closed: never late


STATUS = st.sampled_from(["open", "in_progress", "done", "refused"])


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from("ABCD"),
            st.sampled_from(["one", "seq"]),
            st.integers(1, 3),
            STATUS,
            st.integers(0, 120),
        ),
        min_size=0,
        max_size=12,
    )
)
def test_invariants(rows):
    """Task ids stay unique; every active known task is shown or closed (achieved, or on a
    refused channel) and never both; a step done
    within the cooldown is not issued again; a later step is issued only after the one
    before it was done."""
    known_rows, seen = [], set()
    for i, (customer, tactic, step, status, age) in enumerate(rows):
        step = 1 if tactic == "one" else step
        if (customer, tactic, step) not in seen:
            seen.add((customer, tactic, step))
            issued = AS_OF - dt.timedelta(days=age)
            known_rows.append(
                _k(f"k{i}", customer, tactic, step, status, issued=issued, on_sheet=age < 40)
            )
    known = _known(*known_rows)
    orders = pl.DataFrame(
        {"customer_id": ["A", "C"], "last_order_date": [AS_OF - dt.timedelta(days=20), AS_OF]}
    )
    tasks = _tasks(
        *[
            _t(f"n{c}{t}{s}", c, t, s)
            for c in "ABCD"
            for t, s in (("one", 1), ("seq", 1), ("seq", 2), ("seq", 3))
        ]
    )
    got = _apply(tasks, known, orders)
    ids = got.tasks["task_id"]
    assert ids.n_unique() == ids.len()
    active = known.filter(pl.col("status").is_in(["open", "in_progress"]))["task_id"]
    closed = set(got.achieved["task_id"]) | set(got.also_refused["task_id"])
    assert set(active) <= set(ids) | closed and closed.isdisjoint(set(ids))
    key = ["customer_id", "tactic", "step"]
    cooling = set(
        known.filter((pl.col("status") == "done") & (pl.col("status_on") > months_before(AS_OF, 3)))
        .select(key)
        .rows()
    )
    done = set(known.filter(pl.col("status") == "done").select(key).rows())
    new = set(got.tasks.filter(pl.col("task_id").str.starts_with("n")).select(key).rows())
    assert new.isdisjoint(cooling)
    assert all(step == 1 or (c, t, step - 1) in done for c, t, step in new)
