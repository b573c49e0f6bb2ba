"""plan-work: who works each task, in which order, on which working day, and what waits.

After the tactics (and the history rules) the run's tasks go through four steps:

1. **Owner.** With ``owners.team`` set, a task whose owner (the customer's account manager
   from the contacts' ``owner`` column) is in the team keeps that owner. Otherwise
   ``owners.assign`` decides: ``account_manager`` gives the task to ``owners.default``;
   ``balanced`` gives the customer the owner the history last gave them (when still in the
   team), else spreads the remaining customers over the team in proportion to
   ``calls_per_week`` (Sainte-Laguë: each person's customers so far, this run's account-manager
   and history customers included, count against their share). Tasks carried from an earlier
   run keep their owner.
2. **Rank.** Every task gets ``rank`` (1 = first): tasks deferred by the previous run first,
   then the tactic's ``priority`` (1 before 2), then ``expected_value`` (highest first), then
   the due date, then the task id (so the order is total and stable).
3. **Working days.** A new task's due date moves forward to the next working day: not a
   Saturday, Sunday or one of ``calendar.holidays``. Carried tasks keep their due date.
4. **Capacity.** Per owner in the team and per kind — calls (call, survey) against
   ``calls_per_week``, e-mails (email, InMail, messenger) against ``emails_per_week`` — the
   new tasks are given weeks in rank order: week by week (ISO weeks, Monday first) from the
   day after as_of to the end of the task period (``tasks.period``), each week takes the
   best-ranked tasks that may fall in it (not before the task's own due date), up to the
   week's capacity: the weekly figure × the week's working days in the period / 5 (rounded
   half up; never more than the weekly figure), less the carried tasks already due that
   week. Within a week the tasks are spread evenly over
   its working days. A task that finds no room is **deferred** (``over_capacity``): it is
   not on the sheets but in ``deferred.csv``, and the next run (with the history on) ranks
   it first. A task whose own due date is after the period may take only its own week.
   Postal mail, owners outside the team and channels without a figure have no cap.

Count identity (checked): tasks planned = tasks issued + tasks deferred.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from segtool.config import Config
from segtool.steps.tactics import CALL_CHANNELS, EMAIL_CHANNELS

REASON_OVER_CAPACITY = "over_capacity"
DEFERRED_REASON = "deferred_reason"  # the column: the task's own ``reason`` is kept as it is
WORKDAYS_PER_WEEK = 5
_PERIOD_LENGTH = {"month": "1mo", "week": "1w", "quarter": "3mo"}
_KIND_CAP = {"call": "calls_per_week", "email": "emails_per_week"}


@dataclass
class WorkPlan:
    """The tasks issued (the sheets), the tasks deferred, and the per-owner figures."""

    issued: pl.DataFrame
    deferred: pl.DataFrame
    owners: dict[str, dict[str, Any]] = field(default_factory=dict)
    planned: int = 0
    moved_to_working_day: int = 0  # new tasks whose due date fell on a day off
    reconsidered: int = 0  # tasks the previous run deferred, ranked first this time

    def summary(self) -> dict[str, Any]:
        """The manifest's ``capacity`` block."""
        return {
            "planned": self.planned,
            "issued": self.issued.height,
            "deferred": self.deferred.height,
            "reconsidered": self.reconsidered,
            "due_dates_moved_to_working_days": self.moved_to_working_day,
        }


def task_kind() -> pl.Expr:
    """``call`` (call, survey), ``email`` (email, InMail, messenger) or null (postal mail)."""
    return (
        pl.when(pl.col("channel").is_in(CALL_CHANNELS))
        .then(pl.lit("call"))
        .when(pl.col("channel").is_in(EMAIL_CHANNELS))
        .then(pl.lit("email"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def next_working_day(date: pl.Expr, holidays: list[dt.date]) -> pl.Expr:
    """The date itself when it is a working day, else the next one (Mon-Fri, not a holiday)."""
    return date.dt.add_business_days(0, holidays=holidays, roll="forward")


def is_working_day(date: pl.Expr, holidays: list[dt.date]) -> pl.Expr:
    return (date.dt.weekday() <= WORKDAYS_PER_WEEK) & ~date.is_in(holidays)


def period_end(as_of: dt.date, period: str) -> dt.date:
    """The last day of the task period that starts the day after ``as_of``."""
    end = pl.select(pl.lit(as_of).dt.offset_by(_PERIOD_LENGTH.get(period, "1mo"))).item()
    return end if isinstance(end, dt.date) else as_of


# -- owners ---------------------------------------------------------------------------------
def _is_new(tasks: pl.DataFrame, as_of: dt.date) -> pl.Expr:
    """New this run (not carried from an earlier run by the history)."""
    if "issued_on" not in tasks.columns:
        return pl.lit(True)
    return pl.col("issued_on").is_null() | (pl.col("issued_on") >= pl.lit(as_of))


def _balance_weights(cfg: Config) -> dict[str, float]:
    """Each team member's share of the customers: calls_per_week (a person without a call
    figure counts as the largest one given); everyone alike when nobody has one."""
    team = cfg.owners.team or {}
    given = [c.calls_per_week for c in team.values() if c.calls_per_week is not None]
    top = max(given, default=0)
    if top == 0:
        return {name: 1.0 for name in team}
    return {
        name: float(top if c.calls_per_week is None else c.calls_per_week)
        for name, c in team.items()
    }


def assign_owners(
    tasks: pl.DataFrame, cfg: Config, as_of: dt.date, previous_owners: pl.DataFrame
) -> pl.DataFrame:
    """Tasks with ``owner`` set as the module docstring says (unchanged without a team)."""
    team = cfg.owners.team
    if not team or tasks.height == 0:
        return tasks
    names = list(team)
    in_team = pl.col("owner").is_in(names)
    new = _is_new(tasks, as_of)
    if cfg.owners.assign == "account_manager":
        return tasks.with_columns(
            pl.when(new & ~in_team.fill_null(False))
            .then(pl.lit(cfg.owners.default))
            .otherwise(pl.col("owner"))
            .alias("owner")
        )
    sticky = previous_owners.filter(pl.col("owner").is_in(names)).select(
        pl.col("customer_id").cast(pl.String), pl.col("owner").alias("_sticky")
    )
    frame = tasks.with_columns(new.alias("_new")).join(
        sticky, on="customer_id", how="left", maintain_order="left"
    )
    # the team member each customer already has: an account manager in the team (a carried
    # task's owner too), else the one the history gave them
    frame = frame.with_columns(
        pl.when(in_team.fill_null(False))
        .then(pl.col("owner"))
        .otherwise(pl.col("_sticky"))
        .alias("_fixed")
    )
    per_customer = frame.group_by("customer_id").agg(
        pl.col("_fixed").drop_nulls().first().alias("_fixed"),
        pl.col("expected_value").max().alias("_value"),
    )
    load = (
        per_customer.filter(pl.col("_fixed").is_in(names))
        .group_by("_fixed")
        .len()
        .rename({"_fixed": "owner", "len": "_load"})
    )
    open_customers = per_customer.filter(pl.col("_fixed").is_null()).sort(
        "_value", "customer_id", descending=[True, False], nulls_last=True
    )
    n = open_customers.height
    weights = _balance_weights(cfg)
    owners = pl.DataFrame(
        {
            "owner": names,
            "_w": [weights[name] for name in names],
            "_order": list(range(len(names))),
        },
        schema={"owner": pl.String, "_w": pl.Float64, "_order": pl.Int64},
    ).filter(pl.col("_w") > 0)
    if n and owners.height:
        slots = (
            owners.join(load, on="owner", how="left")
            .with_columns(pl.col("_load").fill_null(0).cast(pl.Int64))
            # an owner never takes more than its share of all customers plus one, so its
            # slots stop there (bounded memory with many customers and a large team)
            .with_columns(
                pl.int_ranges(
                    pl.col("_load"),
                    pl.max_horizontal(
                        pl.col("_load"),
                        ((n + pl.col("_load").sum()) * pl.col("_w") / pl.col("_w").sum())
                        .ceil()
                        .cast(pl.Int64)
                        + 2,
                    ),
                ).alias("_k")
            )
            .explode("_k")
            .with_columns(((pl.col("_k") + 0.5) / pl.col("_w")).alias("_position"))
            .sort("_position", "_order")
            .head(n)
            .select(pl.col("owner").alias("_balanced"))
        )
        picked = pl.concat([open_customers.select("customer_id"), slots], how="horizontal")
    else:
        picked = pl.DataFrame(schema={"customer_id": pl.String, "_balanced": pl.String})
    chosen = (
        per_customer.select("customer_id", "_fixed")
        .join(picked, on="customer_id", how="left")
        .select("customer_id", pl.coalesce("_fixed", "_balanced").alias("_customer_owner"))
    )
    return (
        frame.join(chosen, on="customer_id", how="left", maintain_order="left")
        .with_columns(
            pl.when(~pl.col("_new"))
            .then(pl.col("owner"))
            .when(in_team.fill_null(False))
            .then(pl.col("owner"))
            .otherwise(pl.coalesce("_customer_owner", pl.lit(cfg.owners.default)))
            .alias("owner")
        )
        .drop("_new", "_sticky", "_fixed", "_customer_owner")
    )


# -- rank -----------------------------------------------------------------------------------
def rank_tasks(
    tasks: pl.DataFrame, tactic_priority: dict[str, int], reconsider: pl.DataFrame
) -> pl.DataFrame:
    """Tasks with ``rank`` (1 = first) and ``_reconsidered`` (deferred by the last run)."""
    again = reconsider.select(
        pl.col("customer_id").cast(pl.String),
        pl.col("tactic").cast(pl.String),
        pl.col("step").cast(pl.Int32),
        pl.lit(True).alias("_reconsidered"),
    ).unique()
    priority = pl.DataFrame(
        {"tactic": list(tactic_priority), "_tactic_priority": list(tactic_priority.values())},
        schema={"tactic": pl.String, "_tactic_priority": pl.Int64},
    )
    # the keys on a narrow copy (the tasks carry kilobytes of script per row); the rank is
    # the inverse of the sorted order, set back onto the tasks without a join
    keys = (
        tasks.select("customer_id", "tactic", "step", "expected_value", "due_date", "task_id")
        .join(again, on=["customer_id", "tactic", "step"], how="left", maintain_order="left")
        .join(priority, on="tactic", how="left", maintain_order="left")
        .with_columns(pl.col("_reconsidered").fill_null(False))
    )
    order = keys.with_row_index("_row").sort(
        ["_reconsidered", "_tactic_priority", "expected_value", "due_date", "task_id"],
        descending=[True, False, True, False, False],
        nulls_last=True,
    )
    rank = order.get_column("_row").arg_sort() + 1
    return tasks.with_columns(rank.cast(pl.Int64).alias("rank"), keys.get_column("_reconsidered"))


# -- weeks ----------------------------------------------------------------------------------
def _working_days(start: dt.date, end: dt.date, holidays: list[dt.date]) -> pl.DataFrame:
    """Working days from ``start`` to ``end`` with their ISO week (its Monday)."""
    if end < start:
        return pl.DataFrame(schema={"_day": pl.Date, "_week": pl.Date})
    days = pl.DataFrame({"_day": pl.date_range(start, end, "1d", eager=True)})
    return days.filter(is_working_day(pl.col("_day"), holidays)).with_columns(
        pl.col("_day").dt.truncate("1w").alias("_week")
    )


def _share_of_week(cap: pl.Expr, days: pl.Expr) -> pl.Expr:
    """A weekly figure for ``days`` working days: cap × days / 5, rounded half up."""
    return (cap * days * 2 + WORKDAYS_PER_WEEK) // (2 * WORKDAYS_PER_WEEK)


def _schedule(
    frame: pl.DataFrame, cfg: Config, as_of: dt.date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(due dates of the capped new tasks that fit: ``_id``, ``due_date``; ``_id`` of those
    that do not). ``frame`` has ``_id``, owner, ``_kind``, rank, ``_earliest``, ``_new``."""
    team = cfg.owners.team or {}
    holidays = list(cfg.calendar.holidays)
    start = as_of + dt.timedelta(days=1)
    end = period_end(as_of, cfg.tasks.period)
    caps = pl.DataFrame(
        [
            {"owner": name, "_kind": kind, "_cap": getattr(capacity, key)}
            for name, capacity in team.items()
            for kind, key in _KIND_CAP.items()
            if getattr(capacity, key) is not None
        ],
        schema={"owner": pl.String, "_kind": pl.String, "_cap": pl.Int64},
    )
    capped = frame.join(caps, on=["owner", "_kind"], how="inner")
    todo = capped.filter(pl.col("_new")).with_columns(
        pl.max_horizontal("_earliest", next_working_day(pl.lit(start), holidays)).alias("_earliest")
    )
    empty_ids = pl.DataFrame(schema={"_id": pl.UInt32})
    if todo.height == 0:
        return pl.DataFrame(schema={"_id": pl.UInt32, "due_date": pl.Date}), empty_ids
    latest = todo.get_column("_earliest").max()
    last_day = max(end, latest) if isinstance(latest, dt.date) else end
    last_day = last_day + dt.timedelta(days=6 - last_day.weekday())  # to that week's Sunday
    days = _working_days(start, last_day, holidays)
    last_week = pl.lit(end).dt.truncate("1w")
    # a week's working days in the period (after the period: every working day of the week)
    in_period = days.filter(
        (pl.col("_day") <= end) | (pl.col("_week") > pl.lit(end).dt.truncate("1w"))
    )
    week_days = in_period.with_columns(
        pl.int_range(pl.len()).over("_week").alias("_j"), pl.len().over("_week").alias("_n")
    )
    weeks = week_days.select("_week", "_n").unique().sort("_week")
    # room: capacity × working days / 5, less the carried tasks already due that week
    carried = (
        capped.filter(~pl.col("_new"))
        .with_columns(pl.col("_earliest").dt.truncate("1w").alias("_week"))
        .group_by("owner", "_kind", "_week")
        .agg(pl.len().alias("_carried"))
    )
    room = (
        caps.join(weeks, how="cross")
        .join(carried, on=["owner", "_kind", "_week"], how="left")
        .with_columns(
            (_share_of_week(pl.col("_cap"), pl.col("_n")) - pl.col("_carried").fill_null(0))
            .clip(lower_bound=0)
            .alias("_room")
        )
        .select("owner", "_kind", "_week", "_room")
    )
    pending = (
        todo.with_columns(
            pl.col("_earliest").dt.truncate("1w").alias("_first"),
        )
        .with_columns(pl.max_horizontal("_first", last_week).alias("_last"))
        .select("_id", "owner", "_kind", "rank", "_earliest", "_first", "_last")
    )
    placed: list[pl.DataFrame] = []
    # one pass per week (a month is 5-6 weeks); every pass is whole-frame polars
    for week in weeks.get_column("_week").to_list():
        here = pending.filter((pl.col("_first") <= week) & (pl.col("_last") >= week))
        if here.height == 0:
            continue
        taken = (
            here.sort("rank")
            .with_columns(pl.int_range(pl.len()).over("owner", "_kind").alias("_slot"))
            .join(room.filter(pl.col("_week") == week), on=["owner", "_kind"], how="inner")
            .filter(pl.col("_slot") < pl.col("_room"))
        )
        if taken.height:
            placed.append(taken)
            pending = pending.join(taken.select("_id"), on="_id", how="anti")
    if not placed:
        return pl.DataFrame(schema={"_id": pl.UInt32, "due_date": pl.Date}), pending.select("_id")
    # spread each week's tasks evenly over its working days, never before their own date
    due = (
        pl.concat(placed)
        .join(week_days.select("_week", "_n").unique(), on="_week", how="left")
        .with_columns((pl.col("_slot") * pl.col("_n") // pl.col("_room")).alias("_j"))
        .join(week_days.select("_week", "_j", "_day"), on=["_week", "_j"], how="left")
        .select("_id", pl.max_horizontal("_day", "_earliest").alias("due_date"))
    )
    return due, pending.select("_id")


# -- the step -------------------------------------------------------------------------------
def plan_work(
    tasks: pl.DataFrame,
    cfg: Config,
    as_of: dt.date,
    *,
    tactic_priority: dict[str, int],
    previous_owners: pl.DataFrame | None = None,
    reconsider: pl.DataFrame | None = None,
) -> WorkPlan:
    """Owners, ranks, working-day due dates and capacity (see the module docstring).

    ``issued`` keeps the input's row order and columns, with ``rank`` added; ``deferred``
    holds the deferred tasks in rank order with ``deferred_reason``.
    """
    holidays = list(cfg.calendar.holidays)
    no_owners = pl.DataFrame(schema={"customer_id": pl.String, "owner": pl.String})
    no_deferred = pl.DataFrame(
        schema={"customer_id": pl.String, "tactic": pl.String, "step": pl.Int32}
    )
    owned = assign_owners(
        tasks, cfg, as_of, previous_owners if previous_owners is not None else no_owners
    )
    new = _is_new(owned, as_of)
    moved = next_working_day(pl.col("due_date"), holidays)
    owned = owned.with_columns(
        pl.when(new).then(moved).otherwise(pl.col("due_date")).alias("due_date"),
        (new & (moved != pl.col("due_date"))).fill_null(False).alias("_moved"),
    )
    ranked = rank_tasks(
        owned, tactic_priority, reconsider if reconsider is not None else no_deferred
    )
    frame = ranked.with_row_index("_id").with_columns(
        task_kind().alias("_kind"), new.alias("_new"), pl.col("due_date").alias("_earliest")
    )
    if cfg.owners.team:
        narrow = frame.select("_id", "owner", "_kind", "rank", "_earliest", "_new")
        due, over = _schedule(narrow, cfg, as_of)
    else:
        due = pl.DataFrame(schema={"_id": pl.UInt32, "due_date": pl.Date})
        over = pl.DataFrame(schema={"_id": pl.UInt32})
    frame = frame.join(
        due.rename({"due_date": "_planned"}), on="_id", how="left", maintain_order="left"
    ).with_columns(
        pl.coalesce("_planned", "due_date").alias("due_date"),
        pl.col("_id").is_in(over.get_column("_id").implode()).alias("_deferred"),
    )
    columns = [*tasks.columns, "rank"]
    issued = frame.filter(~pl.col("_deferred")).select(columns)
    deferred = (
        frame.filter(pl.col("_deferred"))
        .sort("rank")
        .select(*columns, pl.lit(REASON_OVER_CAPACITY).alias(DEFERRED_REASON))
    )
    plan = WorkPlan(
        issued=issued,
        deferred=deferred,
        owners=owner_figures(frame, cfg),
        planned=tasks.height,
        moved_to_working_day=int(frame.get_column("_moved").sum()),
        reconsidered=int(frame.get_column("_reconsidered").sum()),
    )
    if plan.issued.height + plan.deferred.height != plan.planned:  # pragma: no cover - a bug
        raise AssertionError("capacity plan lost tasks")
    return plan


def owner_figures(frame: pl.DataFrame, cfg: Config) -> dict[str, dict[str, Any]]:
    """Per owner (the team first, in config order): weekly capacity, tasks issued and
    deferred, in all and per kind."""
    team = cfg.owners.team or {}
    counts = frame.group_by("owner", "_kind", "_deferred").len()
    out: dict[str, dict[str, Any]] = {}
    present = [o for o in frame.get_column("owner").unique().sort().to_list() if o is not None]
    for name in [*team, *(o for o in present if o not in team)]:
        capacity = team.get(name)
        mine = counts.filter(pl.col("owner") == name)

        def total(deferred: bool, kind: str | None = None, mine: pl.DataFrame = mine) -> int:
            rows = mine.filter(pl.col("_deferred") == deferred)
            if kind is not None:
                rows = rows.filter(pl.col("_kind") == kind)
            return int(rows.get_column("len").sum())

        out[name] = {
            "in_team": capacity is not None,
            "calls_per_week": capacity.calls_per_week if capacity else None,
            "emails_per_week": capacity.emails_per_week if capacity else None,
            "issued": total(False),
            "issued_calls": total(False, "call"),
            "issued_emails": total(False, "email"),
            "deferred": total(True),
            "deferred_calls": total(True, "call"),
            "deferred_emails": total(True, "email"),
        }
    return out


def owner_lines(owners: dict[str, dict[str, Any]]) -> list[str]:
    """One console line per owner: capacity, issued, deferred."""
    lines = []
    for name, row in owners.items():
        if row["in_team"]:
            caps = (
                ", ".join(
                    f"{row[key]} {label}/week"
                    for key, label in (("calls_per_week", "calls"), ("emails_per_week", "e-mails"))
                    if row[key] is not None
                )
                or "no cap"
            )
        else:
            caps = "not in owners.team, no cap"
        lines.append(
            f"owner {name} ({caps}): {row['issued']} tasks issued "
            f"({row['issued_calls']} calls, {row['issued_emails']} e-mails), "
            f"{row['deferred']} deferred"
        )
    return lines


__all__ = [
    "DEFERRED_REASON",
    "REASON_OVER_CAPACITY",
    "WorkPlan",
    "assign_owners",
    "next_working_day",
    "owner_lines",
    "period_end",
    "plan_work",
    "rank_tasks",
]
