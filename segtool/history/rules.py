"""The history rules: this month's issued tasks + what history knows → the tasks to write.

Pure functions over polars frames (no I/O). With ``key`` = (customer_id, tactic, step):

1. **Achieved.** A task still ``open`` or ``in_progress`` whose customer ordered after the
   run that issued it (last_order_date > issued_as_of) is closed as ``achieved``: not shown.
2. **Carried.** Every other ``open`` / ``in_progress`` task is shown again with its task_id,
   its original due date and status, ``overdue`` when the due date is before as_of. A
   re-run (same as_of or same folder) shows the tasks of the run it replaces whatever their
   status, so the rows marked done or refused stay on the sheet. A shown task takes the
   place of this month's task with the same key; the others follow the new tasks, by due
   date.
3. **Done.** A step done within ``done_cooldown_months`` (by the date it was read as done) is
   not issued again to that customer.
4. **Refused.** No new task for a customer through a channel refused within
   ``refused_cooldown_months``; other channels may still be used. The customer's other
   open tasks on that channel are closed as refused (dated as the refusal).
5. **Sequences.** Step n > 1 of a tactic is issued only once step n-1 is done (and step n was
   not issued since), due ``day(n) - day(n-1)`` days after step n-1 was done; it is not
   issued when the customer ordered after step n-1 was issued (the sequence stops).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from segtool.playbook import Playbook
from segtool.schema import DType
from segtool.steps.tactics import TASK_COLUMNS, TASK_SCHEMA

KEY = ["customer_id", "tactic", "step"]
HISTORY_COLUMNS = ["issued_on", "overdue"]
ACTIVE = ["open", "in_progress"]

# what the rules read from history: the stored task columns and the current status
KNOWN_SCHEMA: dict[str, DType] = {
    **{c: TASK_SCHEMA[c] for c in TASK_COLUMNS if c != "status"},
    "issued_as_of": pl.Date(),
    "status": pl.String(),
    "status_on": pl.Date(),
    "on_sheet": pl.Boolean(),  # on the sheets of the run this one replaces (a re-run)
}
STEP_DAYS_SCHEMA: dict[str, DType] = {
    "tactic": pl.String(),
    "step": pl.Int32(),
    "day": pl.Int32(),
}


@dataclass
class RulesResult:
    tasks: pl.DataFrame  # TASK_COLUMNS + issued_on, overdue, _carried
    achieved: pl.DataFrame  # task_id, customer_id, status: closed as the customer ordered
    also_refused: pl.DataFrame  # task_id, status, changed_on: open on a refused channel
    counts: dict[str, int]


def months_before(as_of: dt.date, months: int) -> dt.date:
    """as_of minus calendar months, a day past the month's end clamped to its last day."""
    return pl.select(pl.lit(as_of).dt.offset_by(f"-{months}mo")).item()


def apply_history(
    tasks: pl.DataFrame,
    known: pl.DataFrame,
    last_orders: pl.DataFrame,
    step_days: pl.DataFrame,
    *,
    as_of: dt.date,
    done_cooldown_months: int,
    refused_cooldown_months: int,
) -> RulesResult:
    """Apply the rules of the module docstring; ``known`` has :data:`KNOWN_SCHEMA`,
    ``last_orders`` customer_id and last_order_date, ``step_days`` tactic, step, day."""
    known = known.filter(pl.col("issued_as_of") <= as_of).join(
        last_orders.select("customer_id", "last_order_date"), on="customer_id", how="left"
    )
    # refusals within the cooldown: customer × channel, and the date of the latest one
    refused = (
        known.filter(
            (pl.col("status") == "refused")
            & (pl.col("status_on") > months_before(as_of, refused_cooldown_months))
        )
        .group_by("customer_id", "channel")
        .agg(pl.col("status_on").max().alias("_refused_on"))
    )
    known = known.join(refused, on=["customer_id", "channel"], how="left")
    active = pl.col("status").is_in(ACTIVE)
    ordered_since = (pl.col("last_order_date") > pl.col("issued_as_of")).fill_null(False)
    on_refused = pl.col("_refused_on").is_not_null()
    achieved = known.filter(active & ordered_since).select("task_id", "customer_id", "status")
    # other open tasks through a channel the customer refused are closed as refused too
    also_refused = known.filter(active & ~ordered_since & on_refused).select(
        "task_id", "status", pl.col("_refused_on").alias("changed_on")
    )
    shown = (
        known.filter(
            (active & ~ordered_since & ~on_refused)
            | (pl.col("on_sheet").fill_null(False) & pl.col("status").is_in(["done", "refused"]))
        )
        .sort("issued_as_of", "task_id")
        .unique(KEY, keep="last", maintain_order=True)
    )

    new = tasks.with_row_index("_pos")
    in_place = new.select(*KEY, "_pos").join(shown, on=KEY, how="inner")
    rest = new.join(shown.select(KEY), on=KEY, how="anti")
    n_rest = rest.height

    # done: the same step within the cooldown
    done = (
        known.filter(
            (pl.col("status") == "done")
            & (pl.col("status_on") > months_before(as_of, done_cooldown_months))
        )
        .select(KEY)
        .unique()
    )
    rest = rest.join(done, on=KEY, how="anti")
    n_done = n_rest - rest.height

    # refused: the customer's channel within the cooldown
    before_refused = rest.height
    rest = rest.join(refused, on=["customer_id", "channel"], how="anti")
    n_refused = before_refused - rest.height

    # sequences: step n waits for step n-1 to be done
    prev_done = (
        known.filter(pl.col("status") == "done")
        .group_by(KEY)
        .agg(
            pl.col("status_on").max().alias("_done_on"),
            pl.col("issued_as_of").max().alias("_prev_issued"),
        )
        .with_columns((pl.col("step") + 1).cast(pl.Int32).alias("step"))
    )
    last_issue = known.group_by(KEY).agg(pl.col("issued_as_of").max().alias("_this_issued"))
    days = step_days.select("tactic", pl.col("step").cast(pl.Int32), pl.col("day").cast(pl.Int32))
    gaps = days.join(
        days.with_columns((pl.col("step") + 1).cast(pl.Int32)).rename({"day": "_prev_day"}),
        on=["tactic", "step"],
        how="inner",
    ).select("tactic", "step", (pl.col("day") - pl.col("_prev_day")).alias("_gap"))
    rest = (
        rest.join(prev_done, on=KEY, how="left")
        .join(last_issue, on=KEY, how="left")
        .join(gaps, on=["tactic", "step"], how="left")
        .join(
            last_orders.select("customer_id", pl.col("last_order_date").alias("_last_order")),
            on="customer_id",
            how="left",
        )
    )
    first_step = pl.col("step") <= 1
    ready = (
        pl.col("_done_on").is_not_null()
        & (pl.col("_this_issued").is_null() | (pl.col("_this_issued") < pl.col("_prev_issued")))
        & ~(pl.col("_last_order") > pl.col("_prev_issued")).fill_null(False)
    )
    before_gate = rest.height
    rest = rest.filter(first_step | ready).with_columns(
        pl.when(first_step)
        .then(pl.col("due_date"))
        .otherwise(
            (pl.col("_done_on") + pl.duration(days=pl.col("_gap").fill_null(0))).cast(pl.Date)
        )
        .alias("due_date")
    )
    n_gated = before_gate - rest.height

    new_rows = rest.select(
        "_pos",
        *TASK_COLUMNS,
        pl.lit(as_of, dtype=pl.Date).alias("issued_on"),
        pl.lit(False).alias("_carried"),
    )

    def shown_rows(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(
            *(["_pos"] if "_pos" in frame.columns else []),
            *[pl.col(c).cast(TASK_SCHEMA[c]) for c in TASK_COLUMNS],
            pl.col("issued_as_of").alias("issued_on"),
            pl.lit(True).alias("_carried"),
        )

    placed = pl.concat([new_rows, shown_rows(in_place)], how="vertical").sort("_pos")
    appended = shown_rows(
        shown.join(in_place.select("task_id"), on="task_id", how="anti").sort(
            "due_date", "customer_id", "tactic", "step", nulls_last=True
        )
    )
    result = (
        pl.concat([placed.drop("_pos"), appended], how="vertical")
        .with_columns(
            (pl.col("status").is_in(ACTIVE) & (pl.col("due_date") < as_of))
            .fill_null(False)
            .alias("overdue")
        )
        .select(*TASK_COLUMNS, *HISTORY_COLUMNS, "_carried")
    )
    counts = {
        "carried": int(result["_carried"].sum()),
        "new": int((~result["_carried"]).sum()),
        "overdue": int(result["overdue"].sum()),
        "achieved": achieved.height,
        "withheld_done": n_done,
        "withheld_refused": n_refused,
        "waiting_sequence": n_gated,
    }
    counts["closed_refused_channel"] = also_refused.height
    return RulesResult(tasks=result, achieved=achieved, also_refused=also_refused, counts=counts)


def step_days_of(playbook: Playbook) -> pl.DataFrame:
    """tactic, step, day (days after as_of) of every step of the playbook's tactics."""
    rows = [
        {"tactic": tactic.id, "step": step.number, "day": step.day}
        for tactic in playbook.tactics
        for step in tactic.resolved_steps()
    ]
    return pl.DataFrame(rows, schema=STEP_DAYS_SCHEMA)
