"""Did it work? Response to each tactic against its control group (docs/effectiveness.md).

For every earlier run in the history and every tactic it assigned, each arm (a variant, the
treated customers together as ``all``, and the control group ``holdout``) is measured from
the orders of this run:

- a customer **responded** when they have at least one order with net > 0 (the order's lines
  summed) dated after the issuing run's as_of and no later than both this run's as_of and
  ``effectiveness.window_days`` after the issuing as_of; their **revenue** is the net of
  those orders;
- the treated arm is every customer assigned to it (intent to treat: whatever became of the
  task, routed or not, done or not); a second view (``by = done`` in the breakdown) counts
  only the customers whose task of that run was marked done;
- ``uplift`` is the arm's response rate minus the control group's, with a 95 % interval for
  a difference of two independent proportions: Newcombe's hybrid score interval (method 10
  of Newcombe 1998, from the two Wilson score intervals);
- ``verdict``: ``works`` (the interval is above 0), ``harmful`` (below 0), ``no_evidence``
  (it holds 0), ``no_control`` (no control group); the control group's own row has none.

Everything is polars over whole frames; the intervals are numpy over whole columns.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import polars as pl

from segtool.steps.tactics import HOLDOUT

if TYPE_CHECKING:
    import numpy as np

    from segtool.history.store import HistoryStore

# numpy is imported where the intervals are computed, not with this module: a run with no
# earlier run to report on does not need it, and importing it reserves ~120 MB of address
# space (its BLAS threads), which counts under a `ulimit -v` (tests/test_bounds.py)

ALL = "all"  # the variant code of every treated customer of a tactic together
Z95 = NormalDist().inv_cdf(0.975)  # 1.959963984540054
Z80 = NormalDist().inv_cdf(0.80)  # power 80 % for the customers a test needs
VERDICTS = ("works", "no_evidence", "harmful", "no_control")
ACTIVE = "active"
ASLEEP = ("falling_asleep", "asleep")

# effectiveness.csv: one row per issuing as_of × tactic × variant (the keys)
EFFECTIVENESS_COLUMNS = [
    "issued_as_of",
    "tactic",
    "variant",
    "customers",
    "responders",
    "response_rate",
    "revenue",
    "revenue_per_customer",
    "uplift",
    "uplift_ci_low",
    "uplift_ci_high",
    "verdict",
]
# effectiveness_breakdown.csv: the same measures by channel, owner, segment, the done-only
# view, and per arm the asleep / falling-asleep customers who are active now
BREAKDOWN_COLUMNS = [
    "issued_as_of",
    "tactic",
    "by",
    "value",
    "variant",
    "customers",
    "responders",
    "response_rate",
    "revenue",
    "uplift",
    "uplift_ci_low",
    "uplift_ci_high",
    "verdict",
    "asleep_customers",
    "became_active",
    "became_active_share",
]
ARMS_SCHEMA: dict[str, pl.DataType] = {
    "issued_as_of": pl.Date(),
    "tactic": pl.String(),
    "variant": pl.String(),
    "customer_id": pl.String(),
    "segment": pl.String(),
    "owner": pl.String(),
    "channel": pl.String(),
}
DONE_SCHEMA: dict[str, pl.DataType] = {
    "issued_as_of": pl.Date(),
    "tactic": pl.String(),
    "customer_id": pl.String(),
}


@dataclass
class EffectivenessResult:
    table: pl.DataFrame  # EFFECTIVENESS_COLUMNS
    breakdown: pl.DataFrame  # BREAKDOWN_COLUMNS
    needed: pl.DataFrame  # issued_as_of, tactic, variant, customers_needed (per group)
    as_of: dt.date
    window_days: int
    notes: dict[str, Any] = field(default_factory=dict)

    def latest(self) -> pl.DataFrame:
        """Per tactic, the ``all`` row of its latest issuing run, with the control group's
        rate and size, the days measured and the customers a test needs."""
        rows = self.table.filter(pl.col("variant") == ALL)
        control = self.table.filter(pl.col("variant") == HOLDOUT).select(
            "issued_as_of",
            "tactic",
            pl.col("customers").alias("control_customers"),
            pl.col("response_rate").alias("control_rate"),
        )
        return (
            rows.sort("issued_as_of")
            .group_by("tactic", maintain_order=True)
            .last()
            .join(control, on=["issued_as_of", "tactic"], how="left")
            .join(self.needed, on=["issued_as_of", "tactic", "variant"], how="left")
            .with_columns(
                pl.min_horizontal(
                    (pl.lit(self.as_of) - pl.col("issued_as_of")).dt.total_days(),
                    pl.lit(self.window_days),
                ).alias("days_measured")
            )
            .sort("tactic")
        )

    def manifest(self) -> dict[str, Any]:
        latest = self.latest()
        return {
            "window_days": self.window_days,
            "runs_measured": sorted({d.isoformat() for d in self.table["issued_as_of"]}),
            "rows": self.table.height,
            "verdicts": {
                row["tactic"]: {
                    "issued_as_of": row["issued_as_of"].isoformat(),
                    "verdict": row["verdict"],
                    "customers": row["customers"],
                    "control_customers": row["control_customers"],
                    "response_rate": row["response_rate"],
                    "control_rate": row["control_rate"],
                    "uplift": row["uplift"],
                    "uplift_ci": [row["uplift_ci_low"], row["uplift_ci_high"]],
                    "days_measured": row["days_measured"],
                    "customers_needed": row["customers_needed"],
                }
                for row in latest.iter_rows(named=True)
            },
            **self.notes,
        }


# -- reading the arms from the history --------------------------------------------------------
def read_arms(store: HistoryStore, as_of: dt.date) -> pl.DataFrame:
    """The arms of the runs before ``as_of`` (ARMS_SCHEMA): for each earlier as_of, the
    assignments of the latest counted run."""
    arms = store.frame(
        "SELECT r.as_of AS issued_as_of, a.tactic, a.variant, a.customer_id, a.segment, "
        "a.owner, a.channel FROM assignments a JOIN runs r ON r.run_id = a.run_id "
        "WHERE r.as_of < ? AND r.run_id = (SELECT max(r2.run_id) FROM runs r2 "
        "WHERE r2.as_of = r.as_of AND r2.state IN ('committed', 'replaced'))",
        (as_of.isoformat(),),
    )
    return _typed(arms, ARMS_SCHEMA)


def read_done(store: HistoryStore, as_of: dt.date, changes: pl.DataFrame) -> pl.DataFrame:
    """The customers whose task of an earlier run and tactic is marked done (DONE_SCHEMA):
    the statuses in the history with ``changes`` (task_id, status: read back by this run,
    not yet recorded) over them.

    Only the tasks the history has as done, and those ``changes`` touch, are read: at 10M
    order lines every earlier task (345k) came back as Python rows to keep a few thousand.
    """
    columns = "task_id, issued_as_of, tactic, customer_id, status"
    done = store.frame(
        f"SELECT {columns} FROM task_status WHERE issued_as_of < ? AND status = 'done'",
        (as_of.isoformat(),),
    )
    latest = (
        changes.select(
            pl.col("task_id").cast(pl.String), pl.col("status").cast(pl.String).alias("_now")
        ).unique("task_id", keep="last")
        if changes.height
        else pl.DataFrame(schema={"task_id": pl.String, "_now": pl.String})
    )
    changed = store.task_status_rows(
        columns, latest.get_column("task_id").to_list(), issued_before=as_of.isoformat()
    )
    tasks = pl.concat(
        [
            frame.select([pl.col(c).cast(pl.String) for c in columns.split(", ")])
            for frame in (done, changed)
            if frame.height
        ]
        or [pl.DataFrame(schema={c: pl.String for c in columns.split(", ")})]
    ).unique("task_id", keep="first")
    if tasks.height == 0:
        return pl.DataFrame(schema=DONE_SCHEMA)
    tasks = tasks.join(latest, on="task_id", how="left").with_columns(
        pl.coalesce("_now", "status").alias("status")
    )
    done = tasks.filter(pl.col("status") == "done").select(list(DONE_SCHEMA)).unique()
    return _typed(done, DONE_SCHEMA)


def _typed(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if frame.height == 0:
        return pl.DataFrame(schema=schema)
    return frame.select(
        pl.col(name).cast(pl.String).str.to_date("%Y-%m-%d")
        if dtype == pl.Date()
        else pl.col(name).cast(dtype)
        for name, dtype in schema.items()
    )


# -- the statistics ---------------------------------------------------------------------------
def wilson(successes: np.ndarray, n: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of successes / n, element-wise (NaN where n is 0)."""
    import numpy as np

    x = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        z2 = z * z
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = z / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # exactly 0 with no successes and 1 with all (rounding leaves ~1e-17 otherwise)
    low = np.where(x == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(x == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high


def newcombe(
    x1: np.ndarray, n1: np.ndarray, x0: np.ndarray, n0: np.ndarray, z: float = Z95
) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval for p1 − p0 (Newcombe 1998, method 10)."""
    import numpy as np

    x1, n1, x0, n0 = (np.asarray(a, dtype=float) for a in (x1, n1, x0, n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson(x1, n1, z)
    l0, u0 = wilson(x0, n0, z)
    d = p1 - p0
    low = d - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return low, high


def customers_needed(p1: np.ndarray, p0: np.ndarray) -> np.ndarray:
    """Customers per group a test needs to tell p1 from p0 (two-sided 5 %, power 80 %):
    the normal-approximation sample size for two proportions; NaN when they are equal."""
    import numpy as np

    p1, p0 = np.asarray(p1, dtype=float), np.asarray(p0, dtype=float)
    bar = (p1 + p0) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        n = (
            (Z95 * np.sqrt(2 * bar * (1 - bar)) + Z80 * np.sqrt(p1 * (1 - p1) + p0 * (1 - p0)))
            / np.abs(p1 - p0)
        ) ** 2
    return np.where(np.isfinite(n) & (np.abs(p1 - p0) > 0), np.ceil(n), np.nan)


def _with_uplift(stats: pl.DataFrame, control: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """``stats`` (customers, responders per row) with uplift, interval and verdict against
    ``control`` (``_n0``, ``_x0`` per ``on``); rows without a control are ``no_control``."""
    import numpy as np

    joined = stats.join(control, on=on, how="left")
    has = joined["_n0"].fill_null(0).to_numpy() > 0
    x1 = joined["responders"].to_numpy()
    n1 = joined["customers"].to_numpy()
    x0 = joined["_x0"].fill_null(0).to_numpy()
    n0 = joined["_n0"].fill_null(0).to_numpy()
    low, high = newcombe(x1, n1, x0, n0)
    with np.errstate(divide="ignore", invalid="ignore"):
        uplift = x1 / n1 - x0 / n0
    verdict = np.where(
        ~has, "no_control", np.where(low > 0, "works", np.where(high < 0, "harmful", "no_evidence"))
    )
    return joined.with_columns(
        pl.Series("uplift", np.where(has, uplift, np.nan)).fill_nan(None),
        pl.Series("uplift_ci_low", np.where(has, low, np.nan)).fill_nan(None),
        pl.Series("uplift_ci_high", np.where(has, high, np.nan)).fill_nan(None),
        pl.Series("verdict", verdict, dtype=pl.String),
    )


def _measures(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return (
        frame.group_by(keys)
        .agg(
            pl.len().cast(pl.Int64).alias("customers"),
            pl.col("_responded").sum().cast(pl.Int64).alias("responders"),
            pl.col("_revenue").sum().round(2).alias("revenue"),
            pl.col("_asleep").sum().cast(pl.Int64).alias("asleep_customers"),
            (pl.col("_asleep") & pl.col("_active_now")).sum().cast(pl.Int64).alias("became_active"),
        )
        .with_columns(
            (pl.col("responders") / pl.col("customers")).alias("response_rate"),
            (pl.col("became_active") / pl.col("asleep_customers")).alias("became_active_share"),
        )
    )


# -- the step ---------------------------------------------------------------------------------
def order_responses(
    orders: pl.LazyFrame, keys: pl.DataFrame, as_of: dt.date, window_days: int
) -> pl.DataFrame:
    """Per (customer_id, issued_as_of) of ``keys``: ``_responded`` and ``_revenue`` (the
    net of the orders with net > 0 in the window)."""
    if keys.height == 0:
        return keys.with_columns(pl.lit(False).alias("_responded"), pl.lit(0.0).alias("_revenue"))
    earliest = keys["issued_as_of"].min()
    customers = keys.select("customer_id").unique()
    nets = (
        orders.select(pl.col("customer_id").cast(pl.String), "order_id", "order_date", "amount")
        .filter((pl.col("order_date") > pl.lit(earliest)) & (pl.col("order_date") <= as_of))
        .join(customers.lazy(), on="customer_id", how="semi")
        .group_by("customer_id", "order_id")
        .agg(pl.col("order_date").min(), pl.col("amount").sum().alias("_net"))
        .filter(pl.col("_net") > 0)
        .select("customer_id", "order_date", "_net")
        .collect()
    )
    end = pl.min_horizontal(pl.col("issued_as_of") + pl.duration(days=window_days), pl.lit(as_of))
    hits = (
        keys.join(nets, on="customer_id", how="inner")
        .filter((pl.col("order_date") > pl.col("issued_as_of")) & (pl.col("order_date") <= end))
        .group_by("customer_id", "issued_as_of")
        .agg(pl.col("_net").sum().alias("_revenue"))
    )
    return keys.join(hits, on=["customer_id", "issued_as_of"], how="left").with_columns(
        pl.col("_revenue").is_not_null().alias("_responded"),
        pl.col("_revenue").fill_null(0.0),
    )


def arm_responses(
    arms: pl.DataFrame, orders: pl.LazyFrame, as_of: dt.date, window_days: int
) -> pl.DataFrame:
    """:func:`order_responses` for every (customer, issuing as_of) of ``arms``."""
    keys = arms.select("customer_id", "issued_as_of").unique()
    return order_responses(orders, keys, as_of, window_days)


def effectiveness(
    arms: pl.DataFrame,
    done: pl.DataFrame | None,
    responses: pl.DataFrame,
    segments: pl.DataFrame,
    as_of: dt.date,
    window_days: int,
) -> EffectivenessResult:
    """The report over the ``arms`` of earlier runs (see the module docstring), with the
    ``responses`` of :func:`arm_responses` and the ``done`` customers of :func:`read_done`."""
    if done is None:
        done = pl.DataFrame(schema=DONE_SCHEMA)
    now = segments.select(
        pl.col("customer_id").cast(pl.String), (pl.col("activity") == ACTIVE).alias("_active_now")
    )
    people = (
        arms.with_columns(pl.col("variant").fill_null(ALL))
        .join(responses, on=["customer_id", "issued_as_of"], how="left")
        .join(now, on="customer_id", how="left")
        .with_columns(
            pl.col("segment")
            .str.ends_with(ASLEEP[0])
            .fill_null(False)
            .or_(pl.col("segment").str.ends_with(ASLEEP[1]).fill_null(False))
            .alias("_asleep"),
            pl.col("_active_now").fill_null(False),
            pl.col("_responded").fill_null(False),
            pl.col("_revenue").fill_null(0.0),
        )
    )
    base = ["issued_as_of", "tactic"]
    control_people = people.filter(pl.col("variant") == HOLDOUT)
    treated = people.filter(pl.col("variant") != HOLDOUT)
    # every treated customer together (`all`), and each variant where a tactic has them
    pooled = treated.with_columns(pl.lit(ALL).alias("variant"))
    variants = treated.filter(pl.col("variant") != ALL)
    arm_rows = pl.concat([pooled, variants, control_people])

    per_arm = _measures(arm_rows, [*base, "variant"])
    control = _control(per_arm.filter(pl.col("variant") == HOLDOUT), base)
    arm_stats = pl.concat(
        [
            _with_uplift(per_arm.filter(pl.col("variant") != HOLDOUT), control, base),
            _no_uplift(per_arm.filter(pl.col("variant") == HOLDOUT)),
        ],
        how="diagonal_relaxed",
    )
    order = pl.col("variant").replace_strict({ALL: 0, HOLDOUT: 2}, default=1, return_dtype=pl.Int32)
    table = (
        arm_stats.with_columns(
            (pl.col("revenue") / pl.col("customers")).round(2).alias("revenue_per_customer"),
            pl.col("response_rate").round(6),
            *(pl.col(c).round(6) for c in ("uplift", "uplift_ci_low", "uplift_ci_high")),
        )
        .sort([*base, order, "variant"])
        .select(EFFECTIVENESS_COLUMNS)
    )
    rates = table.join(
        table.filter(pl.col("variant") == HOLDOUT).select(
            *base, pl.col("response_rate").alias("_p0")
        ),
        on=base,
        how="inner",
    ).filter(pl.col("variant") != HOLDOUT)
    needed = rates.select(
        *base,
        "variant",
        pl.Series(
            "customers_needed",
            customers_needed(rates["response_rate"].to_numpy(), rates["_p0"].to_numpy()),
        )
        .fill_nan(None)
        .cast(pl.Int64),
    )

    breakdown = _breakdown(arm_stats, pooled, control_people, done, base)
    return EffectivenessResult(
        table=table, breakdown=breakdown, needed=needed, as_of=as_of, window_days=window_days
    )


def _control(stats: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    return stats.select(*on, pl.col("customers").alias("_n0"), pl.col("responders").alias("_x0"))


def _no_uplift(stats: pl.DataFrame) -> pl.DataFrame:
    return stats.with_columns(
        pl.lit(None, pl.Float64).alias("uplift"),
        pl.lit(None, pl.Float64).alias("uplift_ci_low"),
        pl.lit(None, pl.Float64).alias("uplift_ci_high"),
        pl.lit(None, pl.String).alias("verdict"),
    )


def _breakdown(
    arm_stats: pl.DataFrame,
    pooled: pl.DataFrame,
    control_people: pl.DataFrame,
    done: pl.DataFrame,
    base: list[str],
) -> pl.DataFrame:
    """The breakdown rows: per arm (``by = variant``), by channel (against the tactic's
    whole control group: a control customer has no channel), by owner and by segment
    (against the control customers of the same owner / segment), and the done-only view."""
    parts = [
        arm_stats.with_columns(pl.lit("variant").alias("by"), pl.col("variant").alias("value"))
    ]
    whole_control = _control(_measures(control_people, base), base)
    by_channel = _measures(
        pooled.with_columns(pl.col("channel").fill_null("none")), [*base, "variant", "channel"]
    ).rename({"channel": "value"})
    parts.append(
        _with_uplift(by_channel, whole_control, base).with_columns(pl.lit("channel").alias("by"))
    )
    for dimension in ("owner", "segment"):
        people = pl.concat([pooled, control_people]).with_columns(
            pl.col(dimension).fill_null("none").alias("value")
        )
        stats = _measures(people, [*base, "variant", "value"])
        control = _control(stats.filter(pl.col("variant") == HOLDOUT), [*base, "value"])
        parts += [
            _with_uplift(
                stats.filter(pl.col("variant") != HOLDOUT), control, [*base, "value"]
            ).with_columns(pl.lit(dimension).alias("by")),
            _no_uplift(stats.filter(pl.col("variant") == HOLDOUT)).with_columns(
                pl.lit(dimension).alias("by")
            ),
        ]
    marked = pooled.join(done, on=["issued_as_of", "tactic", "customer_id"], how="semi")
    done_stats = _measures(marked, [*base, "variant"]).with_columns(pl.lit("done").alias("value"))
    parts.append(
        _with_uplift(done_stats, whole_control, base).with_columns(pl.lit("done").alias("by"))
    )
    dims = {"variant": 0, "channel": 1, "owner": 2, "segment": 3, "done": 4}
    return (
        pl.concat([p.select(BREAKDOWN_COLUMNS) for p in parts], how="vertical_relaxed")
        .with_columns(
            pl.col("response_rate").round(6),
            pl.col("became_active_share").round(6),
            *(pl.col(c).round(6) for c in ("uplift", "uplift_ci_low", "uplift_ci_high")),
        )
        .sort([*base, pl.col("by").replace_strict(dims, return_dtype=pl.Int32), "value", "variant"])
    )


def percent_points(value: float | None) -> float | None:
    """A share as percentage points, rounded to one decimal."""
    return None if value is None or math.isnan(value) else round(value * 100, 1)
