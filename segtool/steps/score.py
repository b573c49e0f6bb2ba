"""Score: one row per customer with every metric of DESIGN.md "Definitions".

Pure polars over lazy frames: order lines in, customer metrics out. The exact rules, as
analysts check them by hand, are written up in docs/definitions.md.

- An order is (customer_id, order_id); its net is the sum of its line amounts and its
  date the earliest date on its lines. Lines dated after ``as_of`` are left out, so an
  order dated after ``as_of`` is ignored (see :func:`count_after`).
- ``orders`` counts orders with net > 0; ``revenue`` is the sum of all line amounts.
- Customers in the contacts export with no order lines are lead rows (``is_lead``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl
from polars.expr.whenthen import ChainedThen, Then

from segtool.config import Config
from segtool.errors import E_SCORE_EMPTY, E_USAGE_ASOF, InputError, SegtoolError
from segtool.io import parse
from segtool.schema import CONTACTS, ORDERS, DType
from segtool.steps.ingest import order_key

CENTS = 2  # money is summed and kept in cents of the input currency

SIZE_WINDOW_MONTHS = 12  # size = revenue over the last 12 months when contacts have none

# scores.parquet columns, in order
SCORE_COLUMNS = [
    "customer_id",
    "company_name",
    "is_lead",
    "orders",
    "revenue",
    "first_order_date",
    "last_order_date",
    "recency_days",
    "tenure_days",
    "avg_order_value",
    "margin",
    "margin_rate",
    "high_margin_share",
    "cadence_days",
    "revenue_last_window",
    "revenue_prev_window",
    "revenue_12m",
    "size",
    "size_source",
    "size_class",
    "size_class_inferred",
    "company_type",
    "company_type_inferred",
    "turnover",
    "headcount",
    "period_category",
    "falling_asleep_after",
    "asleep_after",
    "period_last_order_date",
    "last_durable_date",
    "durable_cycle_share",
    # model inputs (order days, mean repeat-day net) and outputs (segtool.steps.model)
    "order_days",
    "repeat_order_value",
    "p_alive",
    "expected_orders",
    "expected_revenue",
]

_DAYS_PER_MONTH = 30.4375  # mean Gregorian month, for the durable cycle share


# -- calendar months and globs ------------------------------------------------------------
def months_before(day: dt.date, months: int) -> dt.date:
    """``day`` minus ``months`` calendar months; a day past the month's end is clamped.

    2024-03-31 minus 1 month is 2024-02-29; minus 13 months, 2023-02-28. This is what
    polars ``dt.offset_by("-Nmo")`` does too.
    """
    index = day.year * 12 + (day.month - 1) - months
    year, month0 = divmod(index, 12)
    last_day = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(day.day, last_day))


def glob_to_regex(pattern: str) -> str:
    """One shell glob as an anchored regex body: ``*`` any text, ``?`` one character,
    ``[abc]`` / ``[!abc]`` a character class; everything else literal."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                body = body.replace("\\", "\\\\").replace("^", "\\^")
                out.append(f"[{'^' if negate else ''}{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def globs_regex(patterns: Iterable[str]) -> str:
    """Several globs as one case-insensitive regex matching a whole value."""
    bodies = [glob_to_regex(p.strip()) for p in patterns]
    return "(?is)^(?:" + "|".join(bodies) + ")$"


def period_candidates(cfg: Config) -> list[tuple[str | None, int, int]]:
    """(category name or None for the default, falling_asleep_after, asleep_after), slowest
    last: sorted by asleep_after then falling_asleep_after; the default sorts before a
    category with the same periods, so such a category is still named."""
    periods = cfg.periods
    items: list[tuple[str | None, int, int]] = [
        (None, periods.default.falling_asleep_after, periods.default.asleep_after)
    ]
    items += [
        (name, p.falling_asleep_after, p.asleep_after) for name, p in periods.categories.items()
    ]
    return sorted(items, key=lambda item: (item[2], item[1]))


# -- frames -------------------------------------------------------------------------------
def ensure_columns(frame: pl.LazyFrame, schema: dict[str, DType]) -> pl.LazyFrame:
    """Add any canonical column the frame lacks (as nulls) and cast to the canonical dtypes."""
    present = set(frame.collect_schema().names())
    return frame.with_columns(
        [
            pl.col(name).cast(dtype) if name in present else pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )


_LINE_COLUMNS = (
    "customer_id",
    "company_name",
    "order_id",
    "order_date",
    "amount",
    "category",
    "margin",
)


def order_lines(orders: pl.LazyFrame) -> pl.LazyFrame:
    """The order-line columns scoring reads, from full (ORDERS) or lean (LEAN_ORDERS)
    lines: ``order_id`` becomes its 64-bit key, with one order per customer per day where
    the export gives none; company name and category stay as they are stored (text or
    dictionary-encoded), and a column the frame lacks is null."""
    present = orders.collect_schema()
    columns = []
    for name in _LINE_COLUMNS:
        dtype = present.get(name)
        if name == "order_id":
            if dtype == pl.UInt64:  # lean lines: already the key
                columns.append(pl.col(name))
            else:
                text = (
                    pl.col(name).cast(pl.String) if dtype is not None else pl.lit(None, pl.String)
                )
                columns.append(order_key(text, pl.col("order_date")).alias(name))
        elif dtype is None:
            columns.append(pl.lit(None, dtype=ORDERS[name]).alias(name))
        elif dtype == pl.Categorical:
            columns.append(pl.col(name))
        else:
            columns.append(pl.col(name).cast(ORDERS[name]))
    return orders.select(columns)


def count_after(orders: pl.LazyFrame, as_of: dt.date) -> int:
    """How many orders (customer_id, order_id) are dated after ``as_of`` (ignored).

    An order is dated by its earliest line. The orders with a line after as_of are found
    first (usually none, as as_of defaults to the latest date); only for those are the
    earlier lines looked at, instead of grouping every line by order (0.45 s and 0.3 GB
    at 10M lines).
    """
    order = ["customer_id", "order_id"]
    lines = order_lines(orders)
    late = (
        lines.filter(pl.col("order_date") > as_of)
        .select(order)
        .unique()
        .collect(engine="streaming")
    )
    if late.height == 0:
        return 0
    started_before = (
        lines.filter(pl.col("order_date") <= as_of)
        .select(order)
        .join(late.lazy(), on=order, how="semi")
        .unique()
    )
    result = (
        late.lazy()
        .join(started_before, on=order, how="anti")
        .select(pl.len())
        .collect(engine="streaming")
    )
    return int(result.item())


def resolve_as_of(
    orders: pl.LazyFrame,
    as_of: dt.date | None,
    *,
    source: str = "the orders file",
    today: dt.date | None = None,
) -> dt.date:
    """The analysis date: the given one, else the latest order date in the input that is
    not after today (a mistyped 2099 must not become the analysis date; such orders are
    ignored and counted like any order after as_of)."""
    if as_of is not None:
        return as_of
    today = today or dt.date.today()
    date = pl.col("order_date")
    found = (
        order_lines(orders)
        .select(date.max().alias("latest"), date.filter(date <= today).max().alias("latest_past"))
        .collect(engine="streaming")
    )
    latest, latest_past = found["latest"][0], found["latest_past"][0]
    if latest is None:
        raise InputError(
            f"{source}: no order lines accepted, nothing to score (see rejects.csv)",
            code=E_SCORE_EMPTY,
        )
    return latest if latest <= today else (latest_past or today)


AS_OF_LATE_SHARE = 0.05  # warn when more than this share of the orders is after as_of
AS_OF_AFTER_MONTHS = 3  # warn when as_of is more than this many months after the last order


def check_as_of(
    orders: pl.LazyFrame, as_of: dt.date, *, given: bool, ignored: int | None = None
) -> list[str]:
    """Catch a mistyped ``--as-of``: refuse (exit 2) one before every order, naming the
    export's date range; warn when more than 5 % of the orders are after it, or when it is
    more than 3 months after the last order. Returns the warnings (for stderr and the
    manifest's ``warnings``); a default as_of (the latest order date) never warns."""
    if not given:
        return []
    order = ["customer_id", "order_id"]
    lines = order_lines(orders)
    found = lines.select(
        pl.col("order_date").min().alias("first"),
        pl.col("order_date").max().alias("last"),
    ).collect(engine="streaming")
    first, last = found["first"][0], found["last"][0]
    if first is None:
        return []
    if as_of < first:
        raise SegtoolError(
            f"--as-of {as_of.isoformat()} is before every order: the export has orders from "
            f"{first.isoformat()} to {last.isoformat()}; give a date in or after that range",
            code=E_USAGE_ASOF,
        )
    warnings: list[str] = []
    after = count_after(orders, as_of) if ignored is None else ignored
    if after:
        total = int(
            lines.select(order).unique().select(pl.len()).collect(engine="streaming").item()
        )
        if total and after / total > AS_OF_LATE_SHARE:
            warnings.append(
                f"--as-of {as_of.isoformat()}: {after:,} of {total:,} orders "
                f"({after / total:.0%}) are dated after it and were ignored; the export runs "
                f"to {last.isoformat()}. Is the date mistyped?".replace(",", " ")
            )
    if as_of > _months_after(last, AS_OF_AFTER_MONTHS):
        warnings.append(
            f"--as-of {as_of.isoformat()} is more than {AS_OF_AFTER_MONTHS} months after the "
            f"last order ({last.isoformat()}): every customer looks silent for that "
            "long. Is the date mistyped?"
        )
    return warnings


def _months_after(day: dt.date, months: int) -> dt.date:
    return months_before(day, -months)


def distinct_categories(lines: pl.LazyFrame) -> tuple[pl.Series, pl.Expr]:
    """The distinct categories of the lines as text, sorted, and the expression that reads
    a line's category as text (polars maps a Categorical column through its text)."""
    found = lines.select(pl.col("category").unique()).collect(engine="streaming")
    names = found.to_series().cast(pl.String).drop_nulls().sort()
    text = (
        pl.col("category").cast(pl.String)
        if found.height and isinstance(found.dtypes[0], pl.Categorical)
        else pl.col("category")
    )
    return names, text


def category_flags(
    lines: pl.LazyFrame, cfg: Config, found: tuple[pl.Series, pl.Expr] | None = None
) -> list[pl.Expr]:
    """Per line: the period rank of its category and whether it is high-margin.

    The category globs are matched once per distinct category (a handful), not once per
    line, and the results mapped back onto the lines. ``found``: the lines'
    :func:`distinct_categories`, when the caller has them.
    """
    candidates = period_candidates(cfg)
    default_rank = next(i for i, c in enumerate(candidates) if c[0] is None)
    categories, category = distinct_categories(lines) if found is None else found
    table = pl.DataFrame({"category": categories})
    matches = [
        pl.when(
            pl.col("category").str.contains(globs_regex(cfg.periods.categories[name].match))
        ).then(pl.lit(rank, dtype=pl.Int32))
        for rank, (name, _, _) in enumerate(candidates)
        if name is not None
    ]
    high = cfg.grades.high_margin
    table = table.with_columns(
        (pl.max_horizontal(matches) if matches else pl.lit(None, dtype=pl.Int32))
        .fill_null(default_rank)
        .cast(pl.Int32)
        .alias("rank"),
        (
            pl.col("category").str.contains(globs_regex(high.categories))
            if high.categories
            else pl.lit(False)
        ).alias("high"),
    )
    if table.height:
        # polars maps a Categorical column through its text, so compare as text
        rank = category.replace_strict(
            table["category"], table["rank"], default=default_rank, return_dtype=pl.Int32
        )
        category_high = category.replace_strict(
            table["category"], table["high"], default=False, return_dtype=pl.Boolean
        )
    else:
        rank = pl.lit(default_rank, dtype=pl.Int32)
        category_high = pl.lit(False)
    if not high.categories:
        category_high = pl.lit(None, dtype=pl.Boolean)
    rate_high: pl.Expr
    if high.min_margin_rate is not None:
        rate_high = pl.when(pl.col("margin").is_not_null() & (pl.col("amount") != 0)).then(
            (pl.col("margin") / pl.col("amount")) > high.min_margin_rate
        )
    else:
        rate_high = pl.lit(None, dtype=pl.Boolean).alias("_rate_high")
    is_high = (
        pl.when(category_high)
        .then(True)
        .when(rate_high.is_not_null())
        .then(rate_high)
        .otherwise(pl.when(pl.lit(bool(high.categories))).then(False))
    )
    return [rank.alias("_period_rank"), is_high.alias("_high_margin")]


def _period_decision(per_order: pl.LazyFrame, cfg: Config, as_of: dt.date) -> pl.LazyFrame:
    """Per customer: which period category decides its activity, and the durable purchase.

    For every period candidate (each category of ``periods.categories`` and the default
    for lines in none) the customer bought from, the last accepted order with a positive
    line of it is compared with that candidate's periods: active (before
    falling_asleep_after), falling asleep, asleep. The most active candidate decides
    (``_period_rank``, ``period_last_order_date``); between equally active ones, the one
    bought most recently, then the slower one.

    The durable purchase is the last order in the slowest durable category (``durable:
    true``, or unset with asleep_after of 60 months or more) the customer bought from:
    ``last_durable_date`` and ``durable_cycle_share`` (months since it / that category's
    asleep_after).
    """
    candidates = period_candidates(cfg)
    ranks = list(range(len(candidates)))
    falling_cut = [months_before(as_of, c[1]) for c in candidates]
    asleep_cut = [months_before(as_of, c[2]) for c in candidates]
    durable_ranks = [
        i
        for i, c in enumerate(candidates)
        if c[0] is not None and cfg.periods.categories[c[0]].is_durable()
    ]
    # each accepted order's candidates with a positive line are bits of its ``_ranks``
    # (see _per_order): one filter per candidate, not a second pass over the lines
    accepted_orders = per_order.filter(pl.col("net") > 0).select(
        "customer_id", "order_date", "_ranks"
    )
    per_rank = pl.concat(
        [
            accepted_orders.filter((pl.col("_ranks") & pl.lit(1 << r, dtype=pl.UInt64)) != 0)
            .group_by("customer_id")
            .agg(_last=pl.col("order_date").max())
            .with_columns(pl.lit(r, dtype=pl.Int32).alias("_period_rank"))
            for r in ranks
        ]
    ).select("customer_id", "_period_rank", "_last")
    rank = pl.col("_period_rank")
    last = pl.col("_last")
    fall = rank.replace_strict(ranks, falling_cut, return_dtype=pl.Date)
    sleep = rank.replace_strict(ranks, asleep_cut, return_dtype=pl.Date)
    level = pl.when(last <= sleep).then(2).when(last <= fall).then(1).otherwise(0)
    per_rank = per_rank.with_columns(level.alias("_level"))
    decided = (
        per_rank.sort(
            ["customer_id", "_level", "_last", "_period_rank"],
            descending=[False, False, True, True],
        )
        .group_by("customer_id", maintain_order=True)
        .agg(
            pl.col("_period_rank").first(), pl.col("_last").first().alias("period_last_order_date")
        )
    )
    asleep_after = rank.replace_strict(ranks, [c[2] for c in candidates], return_dtype=pl.Int64)
    durable = (
        per_rank.filter(rank.is_in(durable_ranks))
        .sort(["customer_id", "_period_rank"], descending=[False, True])
        .group_by("customer_id", maintain_order=True)
        .agg(
            pl.col("_last").first().alias("last_durable_date"),
            asleep_after.first().alias("_durable_asleep_after"),
        )
        .with_columns(
            (
                (pl.lit(as_of) - pl.col("last_durable_date")).dt.total_days()
                / _DAYS_PER_MONTH
                / pl.col("_durable_asleep_after")
            ).alias("durable_cycle_share")
        )
        .drop("_durable_asleep_after")
    )
    return decided.join(durable, on="customer_id", how="left")


MAX_CATEGORY_BITS = 64  # categories an order's ``_cats`` bit set can hold


@dataclass
class PerOrder:
    """:func:`per_order_frame`'s result: the frame, and the categories bit i of its
    ``_cats`` column stands for (sorted; None when the lines have more than
    MAX_CATEGORY_BITS categories and the frame has no ``_cats``)."""

    frame: pl.DataFrame
    categories: list[str] | None


def per_order_frame(orders: pl.LazyFrame, cfg: Config, as_of: dt.date) -> PerOrder:
    """One row per order (customer_id, order_id) up to ``as_of``, collected once: score's
    customer sums, cadence and period decision and classify's lost categories all read it,
    instead of grouping the lines by order again each.

    ``net`` is rounded to cents (a multi-threaded sum differs in the last bits from run to
    run, and a returned order, +10.10 and -10.10, must net to exactly 0, not 1e-15);
    ``raw_net`` is the same sum unrounded, as classify's lost categories have always
    compared it. ``_ranks`` has bit r set when the order has a positive line of period
    candidate r (:func:`period_candidates`), ``_cats`` bit i when it has a positive line
    of category i.
    """
    lines = order_lines(orders).filter(pl.col("order_date") <= as_of)
    found = distinct_categories(lines)
    lines = lines.with_columns(category_flags(lines, cfg, found))
    names, category = found
    positive = pl.col("amount") > 0
    # the bits are columns before the group-by, so it ORs plain columns (polars' fast
    # path; an expression inside the aggregation is evaluated group by group, 7 s at 10M)
    # the config allows at most 63 categories (config.MAX_PERIOD_CATEGORIES) + the default
    bits = [
        pl.when(positive)
        .then(pl.lit(2, dtype=pl.UInt64).pow(pl.col("_period_rank")))
        .alias("_rank_bit")
    ]
    aggs: dict[str, pl.Expr] = {"_ranks": pl.col("_rank_bit").bitwise_or().fill_null(0)}
    if names.len() == 0:
        aggs["_cats"] = pl.lit(0, dtype=pl.UInt64)
    elif names.len() <= MAX_CATEGORY_BITS:
        index = category.replace_strict(
            names.to_list(), list(range(names.len())), default=None, return_dtype=pl.UInt64
        )
        bits.append(pl.when(positive).then(pl.lit(2, dtype=pl.UInt64).pow(index)).alias("_cat_bit"))
        aggs["_cats"] = pl.col("_cat_bit").bitwise_or().fill_null(0)
    lines = lines.with_columns(bits)
    frame = (
        lines.group_by("customer_id", "order_id")
        .agg(
            net=pl.col("amount").sum().round(CENTS),
            raw_net=pl.col("amount").sum(),
            order_date=pl.col("order_date").min(),
            company_name=pl.col("company_name").drop_nulls().first(),
            margin=pl.col("margin").sum().round(CENTS),
            margin_lines=pl.col("margin").count(),
            # when/then rather than filter inside the aggregation: polars' streaming
            # group-by has a fast path for plain sums and maxima (1.9 s → 0.9 s at 10M)
            high_revenue=pl.when(pl.col("_high_margin")).then(pl.col("amount")).sum().round(CENTS),
            known_revenue=pl.when(pl.col("_high_margin").is_not_null())
            .then(pl.col("amount"))
            .sum()
            .round(CENTS),
            known_lines=pl.col("_high_margin").count(),
            **aggs,
        )
        .collect(engine="streaming")
    )
    return PerOrder(frame, names.to_list() if "_cats" in aggs else None)


def _customer_day_key(id_dtype: DType) -> pl.Expr:
    """An unsigned 64-bit key ordering rows by customer, then by order date: the upper
    32 bits a code of the customer (a dictionary-encoded id's own code, else its dense
    rank), the lower 32 the day number."""
    customer = pl.col("customer_id")
    code = customer.to_physical() if id_dtype == pl.Categorical else customer.rank("dense")
    day = pl.col("order_date").cast(pl.Int64) + (1 << 31)
    return code.cast(pl.UInt64) * (1 << 32) + day.cast(pl.UInt64)


def _customers_from_orders(
    orders: pl.LazyFrame, cfg: Config, as_of: dt.date, per_order: PerOrder | None = None
) -> pl.LazyFrame:
    window = cfg.red_flags.revenue_drop.window
    last_start = months_before(as_of, window)  # last window: (last_start, as_of]
    prev_start = months_before(as_of, 2 * window)  # previous: (prev_start, last_start]
    size_start = months_before(as_of, SIZE_WINDOW_MONTHS)

    by_order = (per_order or per_order_frame(orders, cfg, as_of)).frame.lazy()
    accepted = pl.col("net") > 0
    date = pl.col("order_date")
    named = pl.col("company_name").is_not_null()
    customers = by_order.group_by("customer_id").agg(
        company_name=pl.col("company_name").filter(named).sort_by(date.filter(named)).last(),
        orders=accepted.sum().cast(pl.Int64),
        revenue=pl.col("net").sum().round(CENTS),
        first_order_date=pl.when(accepted).then(date).min(),
        last_order_date=pl.when(accepted).then(date).max(),
        margin=pl.when(pl.col("margin_lines").sum() > 0).then(pl.col("margin").sum().round(CENTS)),
        _high_revenue=pl.col("high_revenue").sum().round(CENTS),
        _known_revenue=pl.col("known_revenue").sum().round(CENTS),
        _known_lines=pl.col("known_lines").sum(),
        revenue_last_window=pl.when(date > last_start).then(pl.col("net")).sum().round(CENTS),
        revenue_prev_window=pl.when((date > prev_start) & (date <= last_start))
        .then(pl.col("net"))
        .sum()
        .round(CENTS),
        revenue_12m=pl.when(date > size_start).then(pl.col("net")).sum().round(CENTS),
    )
    # cadence: the median gap between a customer's distinct order dates, as one sorted
    # column with the gaps across customers masked out, not a sorted list per customer.
    # The same pass counts the order days and the mean net of the repeat ones (the first
    # day left out): the inputs of the model (segtool.steps.model).
    customer = pl.col("customer_id")
    same = customer == customer.shift(1)
    gaps = (
        by_order.filter(accepted)
        .group_by("customer_id", "order_date")
        .agg(pl.col("net").sum())
        # sorted on one integer (customer code, day), not on the ids' text: only each
        # customer's days need to be together and in order (1.6 s → 0.3 s at 10M lines)
        .sort(_customer_day_key(by_order.collect_schema()["customer_id"]))
        .select(
            customer,
            pl.when(same).then((date - date.shift(1)).dt.total_days()).alias("gap"),
            pl.when(same).then(pl.col("net")).alias("repeat_net"),
        )
        .group_by("customer_id")
        .agg(
            cadence_days=pl.col("gap").median(),
            order_days=pl.len().cast(pl.Int64),
            # the sum rounded to cents, like every money sum here: a multi-threaded sum
            # differs in its last bits from run to run, and the model's fit with it
            repeat_order_value=pl.when(pl.col("repeat_net").count() > 0).then(
                pl.col("repeat_net").sum().round(CENTS) / pl.col("repeat_net").count()
            ),
        )
    )
    customers = customers.join(gaps, on="customer_id", how="left")
    customers = customers.join(_period_decision(by_order, cfg, as_of), on="customer_id", how="left")
    return customers.with_columns(
        customer.cast(pl.String),  # lean lines keep it dictionary-encoded
        pl.col("company_name").cast(pl.String),
        pl.lit(False).alias("is_lead"),
        pl.when((pl.col("_known_lines") > 0) & (pl.col("_known_revenue") > 0))
        .then(pl.col("_high_revenue") / pl.col("_known_revenue"))
        .alias("high_margin_share"),
    ).drop("_high_revenue", "_known_revenue", "_known_lines")


def _companies_from_contacts(contacts: pl.LazyFrame) -> pl.LazyFrame:
    typed = pl.col("company_type").is_not_null()
    return (
        ensure_columns(contacts, CONTACTS)
        .filter(pl.col("customer_id").is_not_null())
        .group_by("customer_id")
        .agg(
            _contact_company_name=pl.col("company_name").drop_nulls().first(),
            company_type=pl.col("company_type").drop_nulls().first(),
            company_type_inferred=pl.col("company_type_inferred").filter(typed).first(),
            turnover=pl.col("turnover").max(),
            headcount=pl.col("headcount").max(),
        )
    )


def _company_type_from_name(cfg: Config) -> pl.Expr:
    """Company type from the name (the rule ingest applies to contacts), for customers the
    contacts export does not type; ``other`` when nothing matches."""
    table = cfg.inference.company_types.table()
    return pl.coalesce(parse.company_type_from_name(pl.col("company_name"), table), pl.lit("other"))


def quantile_bucket(
    value: pl.Expr, shares: list[float], *, descending: bool, within: pl.Expr | None = None
) -> pl.Expr:
    """Bucket 0, 1, ... by position among the non-null values (``within`` rows only).

    Positions are ranks counted best-first; equal values share the average of their
    positions (like Excel's RANK.AVG), so ties never split. Bucket k holds positions up
    to (shares[0] + ... + shares[k]) × n; the last bucket takes the rest.
    """
    eligible = value.is_not_null() if within is None else (value.is_not_null() & within)
    scoped = pl.when(eligible).then(value)
    position = scoped.rank(method="average", descending=descending)
    count = eligible.sum()
    bucket = pl.lit(len(shares), dtype=pl.Int32)
    cumulative = 0.0
    expr: Then | ChainedThen | None = None
    for index, share in enumerate(shares):
        cumulative += share
        condition = position <= pl.lit(cumulative) * count + 1e-9
        expr = (pl.when(condition) if expr is None else expr.when(condition)).then(
            pl.lit(index, dtype=pl.Int32)
        )
    bucket = expr.otherwise(bucket) if expr is not None else bucket
    return pl.when(eligible).then(bucket)


def _size_class(cfg: Config) -> list[pl.Expr]:
    limits = cfg.inference.size_classes

    def by_limits(column: str, small: float, medium: float, micro: float | None) -> pl.Expr:
        value = pl.col(column)
        start = pl.when(value <= micro).then(pl.lit("micro")) if micro is not None else pl
        return (
            start.when(value <= small)
            .then(pl.lit("small"))
            .when(value <= medium)
            .then(pl.lit("medium"))
            .when(value.is_not_null())
            .then(pl.lit("large"))
        )

    terciles = quantile_bucket(
        pl.col("revenue_12m"), [1 / 3, 1 / 3], descending=False, within=pl.col("orders") > 0
    ).replace_strict([0, 1, 2], ["small", "medium", "large"], default=None, return_dtype=pl.String)
    declared = pl.coalesce(
        by_limits("turnover", limits.turnover.small, limits.turnover.medium, limits.turnover.micro),
        by_limits(
            "headcount", limits.headcount.small, limits.headcount.medium, limits.headcount.micro
        ),
    )
    return [
        pl.coalesce(declared, terciles).alias("size_class"),
        pl.when(declared.is_not_null())
        .then(False)
        .when(terciles.is_not_null())
        .then(True)
        .alias("size_class_inferred"),
    ]


def score(
    orders: pl.LazyFrame,
    contacts: pl.LazyFrame | None,
    cfg: Config,
    as_of: dt.date,
    per_order: PerOrder | None = None,
) -> pl.LazyFrame:
    """One row per customer (buyers, customers with returns only, and leads).

    ``per_order``: :func:`per_order_frame` of the same lines, when the caller has it
    already (``run`` shares it with classify); computed here otherwise."""
    customers = _customers_from_orders(orders, cfg, as_of, per_order)
    if contacts is not None:
        companies = _companies_from_contacts(contacts)
        customers = customers.join(companies, on="customer_id", how="full", coalesce=True)
        customers = customers.with_columns(
            pl.col("is_lead").fill_null(True),
            pl.coalesce("company_name", "_contact_company_name").alias("company_name"),
        ).drop("_contact_company_name")
    else:
        customers = customers.with_columns(
            pl.lit(None, dtype=pl.String).alias("company_type"),
            pl.lit(None, dtype=pl.Boolean).alias("company_type_inferred"),
            pl.lit(None, dtype=pl.Float64).alias("turnover"),
            pl.lit(None, dtype=pl.Float64).alias("headcount"),
        )

    candidates = period_candidates(cfg)
    ranks = list(range(len(candidates)))
    lead = pl.col("is_lead")
    buyer = pl.col("orders") > 0
    as_of_lit = pl.lit(as_of)
    customers = customers.with_columns(
        pl.col("orders").fill_null(0),
        *[
            pl.col(c).fill_null(0.0)
            for c in ("revenue", "revenue_last_window", "revenue_prev_window", "revenue_12m")
        ],
    ).with_columns(
        (as_of_lit - pl.col("last_order_date")).dt.total_days().alias("recency_days"),
        (as_of_lit - pl.col("first_order_date")).dt.total_days().alias("tenure_days"),
        pl.when(buyer).then(pl.col("revenue") / pl.col("orders")).alias("avg_order_value"),
        pl.when(pl.col("revenue") > 0)
        .then(pl.col("margin") / pl.col("revenue"))
        .alias("margin_rate"),
        pl.when(pl.col("turnover").is_not_null())
        .then(pl.lit("turnover"))
        .when(pl.col("headcount").is_not_null())
        .then(pl.lit("headcount"))
        .when(~lead)
        .then(pl.lit("revenue_12m"))
        .alias("size_source"),
        pl.coalesce("turnover", "headcount", pl.when(~lead).then(pl.col("revenue_12m"))).alias(
            "size"
        ),
        pl.col("_period_rank")
        .replace_strict(ranks, [c[0] for c in candidates], default=None, return_dtype=pl.String)
        .alias("period_category"),
        pl.col("_period_rank")
        .replace_strict(ranks, [c[1] for c in candidates], default=None, return_dtype=pl.Int64)
        .alias("falling_asleep_after"),
        pl.col("_period_rank")
        .replace_strict(ranks, [c[2] for c in candidates], default=None, return_dtype=pl.Int64)
        .alias("asleep_after"),
        pl.when(pl.col("company_type").is_not_null())
        .then(pl.col("company_type"))
        .otherwise(_company_type_from_name(cfg))
        .alias("company_type"),
        pl.when(pl.col("company_type").is_not_null())
        .then(pl.col("company_type_inferred").fill_null(False))
        .otherwise(True)
        .alias("company_type_inferred"),
        *_size_class(cfg),
    )
    return customers.select(
        pl.col("customer_id").cast(pl.String),
        pl.col("company_name").cast(pl.String),
        pl.col("is_lead").cast(pl.Boolean),
        pl.col("orders").cast(pl.Int64),
        pl.col("revenue").cast(pl.Float64),
        "first_order_date",
        "last_order_date",
        pl.col("recency_days").cast(pl.Int64),
        pl.col("tenure_days").cast(pl.Int64),
        pl.col("avg_order_value").cast(pl.Float64),
        pl.col("margin").cast(pl.Float64),
        pl.col("margin_rate").cast(pl.Float64),
        pl.col("high_margin_share").cast(pl.Float64),
        pl.col("cadence_days").cast(pl.Float64),
        pl.col("revenue_last_window").cast(pl.Float64),
        pl.col("revenue_prev_window").cast(pl.Float64),
        pl.col("revenue_12m").cast(pl.Float64),
        pl.col("size").cast(pl.Float64),
        "size_source",
        "size_class",
        "size_class_inferred",
        "company_type",
        "company_type_inferred",
        pl.col("turnover").cast(pl.Float64),
        pl.col("headcount").cast(pl.Float64),
        "period_category",
        "falling_asleep_after",
        "asleep_after",
        "period_last_order_date",
        "last_durable_date",
        pl.col("durable_cycle_share").cast(pl.Float64),
        pl.col("order_days").fill_null(0).cast(pl.Int64),
        pl.col("repeat_order_value").cast(pl.Float64),
        # filled by segtool.steps.model.apply_model after scoring
        *[
            pl.lit(None, dtype=pl.Float64).alias(c)
            for c in ("p_alive", "expected_orders", "expected_revenue")
        ],
    ).sort("customer_id")
