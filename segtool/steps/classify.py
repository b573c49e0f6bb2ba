"""Classify: lifecycle segment, ABC grades, priority, red flags and a reason per customer.

Input is the one-row-per-customer frame from :func:`segtool.steps.score.score`; the
rules are DESIGN.md "Definitions", written up for analysts in docs/definitions.md.
The scores frame is small (one row per customer), so it is collected once here: the
summary needs the thresholds actually used.
"""

from __future__ import annotations

import datetime as dt
import difflib
import string
from typing import Any, cast

import polars as pl

from segtool import vocabulary as V
from segtool.config import Config, ExtraRule
from segtool.errors import E_CONFIG_KEY, ConfigError
from segtool.labels import (
    CURRENCY,
    REASONS,
    RED_FLAG_REASONS,
    SEGMENT_LABELS,
    SEGMENT_STRATEGY,
    STRATEGY_LABELS,
    order_noun,
)
from segtool.schema import SEGMENT_COLUMNS, SEGMENTS
from segtool.steps.score import (
    SCORE_COLUMNS,
    PerOrder,
    months_before,
    order_lines,
    quantile_bucket,
)

# criterion -> (metric column, lower is better)
CRITERIA: dict[str, tuple[str, bool]] = {
    "recency": ("recency_days", True),
    "frequency": ("orders", False),
    "size": ("size", False),
    "margin": ("high_margin_share", False),
}
# pareto needs an additive value; these fall back to quantile under method "pareto"
NOT_ADDITIVE = {"recency", "margin"}
GRADES = ("A", "B", "C")
RED_FLAG_CODES = V.codes("red_flag")  # in segtool.vocabulary with their labels

EXTRA_COLUMNS = [
    "p_alive",
    "expected_orders",
    "expected_revenue",  # segtool.steps.model
    "segment_label_ru",
    "segment_label_en",
    "strategy",
    "strategy_label",
    "company_type",
    "company_type_inferred",
    "size_class",
    "size_class_inferred",
    "size_source",
    "period_category",
    "falling_asleep_after",
    "asleep_after",
    "months_since_last_order",
    "activity_rule",
    "period_last_order_date",
    "last_durable_date",
    "durable_cycle_share",
    "revenue_last_window",
    "revenue_prev_window",
    "revenue_12m",
    "high_margin_share",
    "margin",
    "turnover",
    "headcount",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "red_flag_reasons",
    "lost_categories",
    "segment_extra",
    "segment_extra_label",
]

_BUYER = (pl.col("orders") > 0) & ~pl.col("is_lead")
MODEL_SCORE_COLUMNS = (
    "order_days",
    "repeat_order_value",
    "p_alive",
    "expected_orders",
    "expected_revenue",
)


# -- small expression helpers ---------------------------------------------------------------
def _fill(template: str, **values: pl.Expr | str) -> pl.Expr:
    """A ``{name}`` template filled with expressions (or plain strings), as one String."""
    parts: list[pl.Expr] = []
    for literal, field, _, _ in string.Formatter().parse(template):
        if literal:
            parts.append(pl.lit(literal))
        if field is not None:
            value = values[field]
            parts.append(pl.lit(value) if isinstance(value, str) else value.cast(pl.String))
    return pl.concat_str(parts)


def _number_text(expr: pl.Expr) -> pl.Expr:
    """A number for a sentence: no decimals when whole, else one decimal."""
    rounded = expr.round(1)
    return (
        pl.when(rounded == rounded.floor())
        .then(rounded.cast(pl.Int64).cast(pl.String))
        .otherwise(rounded.cast(pl.String))
    )


def grouped_digits(expr: pl.Expr, separator: str = " ") -> pl.Expr:
    """A whole number with its thousands grouped: 1328415 -> "1 328 415" (rounded)."""
    text = expr.round(0).cast(pl.Int64).cast(pl.String)
    grouped = (
        text.str.reverse()
        .str.replace_all(r"(\d{3})", "${1}" + separator)
        .str.reverse()
        .str.strip_chars(separator)
        .str.replace(r"^-" + separator, "-", literal=False)
    )
    return grouped


def money_text(expr: pl.Expr, language: str) -> pl.Expr:
    """An amount for a sentence: ``1 328 415 ₽`` (ru) or ``1,328,415`` (en)."""
    if language == "ru":
        return pl.concat_str(grouped_digits(expr, " "), pl.lit(CURRENCY["ru"]))
    return pl.concat_str(grouped_digits(expr, ","), pl.lit(CURRENCY["en"]))


def _orders_text(language: str) -> pl.Expr:
    one, few, many = order_noun(language)
    n = pl.col("orders")
    if language == "ru":
        noun = (
            pl.when((n % 10 == 1) & (n % 100 != 11))
            .then(pl.lit(one))
            .when(n % 10 >= 2)
            .then(
                pl.when((n % 10 <= 4) & ((n % 100 < 12) | (n % 100 > 14)))
                .then(pl.lit(few))
                .otherwise(pl.lit(many))
            )
            .otherwise(pl.lit(many))
        )
    else:
        noun = pl.when(n == 1).then(pl.lit(one)).otherwise(pl.lit(many))
    return pl.concat_str(n.cast(pl.String), pl.lit(" "), noun)


def _percent_text(share: pl.Expr, language: str) -> pl.Expr:
    """A share as whole percent; below 0.5 % "less than 1" rather than a bare 0."""
    below = "менее 1" if language == "ru" else "less than 1"
    percent = (share * 100).round(0)
    return (
        pl.when(percent < 1).then(pl.lit(below)).otherwise(percent.cast(pl.Int64).cast(pl.String))
    )


def months_since(last: pl.Expr, as_of: dt.date) -> pl.Expr:
    """Whole calendar months from ``last`` to ``as_of``: the largest n with
    as_of − n months ≥ last (same clamping as the activity cutoffs)."""
    diff = (as_of.year - last.dt.year().cast(pl.Int64)) * 12 + (
        as_of.month - last.dt.month().cast(pl.Int64)
    )
    clamped_day = pl.min_horizontal(pl.lit(as_of.day), last.dt.month_end().dt.day())
    return diff - (clamped_day < last.dt.day()).cast(pl.Int64)


def _cutoff(months: pl.Expr, as_of: dt.date) -> pl.Expr:
    """as_of minus ``months`` calendar months, per row (day clamped to the month's end)."""
    return pl.lit(as_of).dt.offset_by(pl.format("-{}mo", months))


# -- lost categories -------------------------------------------------------------------------
def lost_categories(
    orders: pl.LazyFrame, cfg: Config, as_of: dt.date, per_order: PerOrder | None = None
) -> pl.LazyFrame:
    """customer_id, lost_categories: categories bought in (as_of − 2W, as_of − W] and not
    in (as_of − W, as_of], for customers who bought anything in the last window.

    "Bought" = a line with amount > 0 in an order with net > 0, dated by its order date.
    ``per_order``: score's :func:`~segtool.steps.score.per_order_frame` of the same lines,
    when the caller has it: each order's categories are then a bit set, and no line is
    read again (up to 64 categories; with more, its orders spare one group-by of the lines).
    """
    window = cfg.red_flags.lost_category.window
    last_start = months_before(as_of, window)
    prev_start = months_before(as_of, 2 * window)
    if per_order is not None and per_order.categories is not None:
        return _lost_from_bits(per_order, last_start, prev_start)
    order = ["customer_id", "order_id"]
    lines = order_lines(orders).filter(pl.col("order_date") <= as_of)
    by_order = (
        lines.group_by(order).agg(_net=pl.col("amount").sum(), _date=pl.col("order_date").min())
        if per_order is None
        else per_order.frame.lazy().select(*order, _net="raw_net", _date="order_date")
    )
    bought_orders = by_order.filter((pl.col("_net") > 0) & (pl.col("_date") > prev_start))
    # a line on or before prev_start belongs to an order dated on or before it: left out
    bought_lines = (
        lines.filter((pl.col("amount") > 0) & (pl.col("order_date") > prev_start))
        .group_by(*order, "category")
        .agg()
        .join(bought_orders, on=order, how="inner")
    )
    per_category = (
        bought_lines.group_by("customer_id", "category")
        .agg(
            _in_last=(pl.col("_date") > last_start).any(),
            _in_prev=(pl.col("_date") <= last_start).any(),
        )
        .with_columns(pl.col("category").cast(pl.String))
    )
    lost = pl.col("_in_prev") & ~pl.col("_in_last") & pl.col("category").is_not_null()
    return (
        per_category.group_by("customer_id")
        .agg(
            _bought_last=pl.col("_in_last").any(),
            lost_categories=pl.col("category").filter(lost).sort().str.join(", "),
        )
        .filter(pl.col("_bought_last") & (pl.col("lost_categories") != ""))
        .select(pl.col("customer_id").cast(pl.String), "lost_categories")
    )


def _lost_from_bits(per_order: PerOrder, last_start: dt.date, prev_start: dt.date) -> pl.LazyFrame:
    """:func:`lost_categories` from the orders' category bit sets (``_cats``, bit i for
    ``per_order.categories[i]``, sorted, so the names come out in order)."""
    names = per_order.categories or []
    if not names:  # no category on any line: nothing can be lost
        return pl.LazyFrame(schema={"customer_id": pl.String, "lost_categories": pl.String})
    date = pl.col("order_date")
    in_last = date > last_start
    bought = per_order.frame.lazy().filter(
        (pl.col("raw_net") > 0) & (date > prev_start) & (pl.col("_ranks") != 0)
    )
    per_customer = bought.group_by("customer_id").agg(
        _bought_last=in_last.any(),
        _last=pl.when(in_last).then(pl.col("_cats")).bitwise_or().fill_null(0),
        _prev=pl.when(~in_last).then(pl.col("_cats")).bitwise_or().fill_null(0),
    )
    lost = pl.col("_prev") - (pl.col("_prev") & pl.col("_last"))
    text = pl.concat_str(
        [
            pl.when((lost & pl.lit(1 << i, dtype=pl.UInt64)) != 0).then(pl.lit(name))
            for i, name in enumerate(names)
        ],
        separator=", ",
        ignore_nulls=True,
    )
    return per_customer.filter(pl.col("_bought_last") & (lost != 0)).select(
        pl.col("customer_id").cast(pl.String), text.alias("lost_categories")
    )


# -- grades ------------------------------------------------------------------------------------
def _letters(bucket: pl.Expr) -> pl.Expr:
    return bucket.replace_strict([0, 1, 2], list(GRADES), default=None, return_dtype=pl.String)


def _fixed_grade(value: pl.Expr, a: float, b: float, lower_is_better: bool) -> pl.Expr:
    if lower_is_better:
        return (
            pl.when(value <= a)
            .then(pl.lit("A"))
            .when(value <= b)
            .then(pl.lit("B"))
            .when(value.is_not_null())
            .then(pl.lit("C"))
        )
    return (
        pl.when(value >= a)
        .then(pl.lit("A"))
        .when(value >= b)
        .then(pl.lit("B"))
        .when(value.is_not_null())
        .then(pl.lit("C"))
    )


def _pareto_grade(frame: pl.DataFrame, column: str, a: float, b: float) -> pl.Series:
    """A = customers whose strictly larger values sum to less than ``a`` of the total
    (so the customer crossing the mark is A), B likewise up to ``b``, C the rest; values
    ≤ 0 are C. Equal values share the sum of the values above them, hence the grade."""
    value = pl.when(_BUYER).then(pl.col(column))
    positive = value.clip(lower_bound=0)
    graded = (
        frame.lazy()
        .with_row_index("_row")
        .with_columns(value.alias("_v"), positive.alias("_p"))
        .sort("_v", descending=True, nulls_last=True)
        .with_columns(
            (pl.col("_p").fill_null(0).cum_sum() - pl.col("_p").fill_null(0)).alias("_before")
        )
        .with_columns(
            pl.col("_before").min().over("_v").alias("_before"), pl.col("_p").sum().alias("_total")
        )
        .with_columns(
            pl.when(pl.col("_v").is_null())
            .then(None)
            .when((pl.col("_v") <= 0) | (pl.col("_total") <= 0))
            .then(pl.lit("C"))
            .when(pl.col("_before") < pl.col("_total") * a - 1e-9)
            .then(pl.lit("A"))
            .when(pl.col("_before") < pl.col("_total") * b - 1e-9)
            .then(pl.lit("B"))
            .otherwise(pl.lit("C"))
            .alias("_grade")
        )
        .sort("_row")
        .collect()
    )
    return graded["_grade"]


def _grade_criteria(
    frame: pl.DataFrame, cfg: Config
) -> tuple[pl.DataFrame, dict[str, Any], list[str]]:
    """Add grade_<criterion> columns; return the thresholds summary and the criteria that
    had data (priority looks at those only)."""
    grades_cfg = cfg.grades
    summary: dict[str, dict[str, Any]] = {}
    with_data: list[str] = []
    declared = pl.col("size_class").is_not_null() & ~pl.col("size_class_inferred").fill_null(True)
    size_map = grades_cfg.size_class_grades
    frame = frame.with_columns(
        pl.when(declared.fill_null(False))
        .then(None)
        .otherwise(pl.col("revenue_12m"))
        .alias("_size_revenue"),
        pl.when(declared.fill_null(False))
        .then(
            pl.col("size_class").replace_strict(
                list(size_map), list(size_map.values()), default=None, return_dtype=pl.String
            )
        )
        .alias("_size_class_grade"),
    )
    buyers = frame.filter(_BUYER)
    columns: dict[str, pl.Series | pl.Expr] = {}
    for criterion, (column, lower_is_better) in CRITERIA.items():
        name = f"grade_{criterion}"
        if criterion == "size":
            # never compare different units: a known size class is graded by the map,
            # the other customers by 12-month revenue among themselves
            column = "_size_revenue"
        if criterion not in grades_cfg.criteria:
            columns[name] = pl.lit(None, dtype=pl.String)
            continue
        values = buyers[column].drop_nulls()
        info: dict[str, Any] = {
            "value": "size" if column == "_size_revenue" else column,
            "better": "lower" if lower_is_better else "higher",
            "customers_with_value": values.len(),
        }
        summary[criterion] = info
        if criterion == "size":
            by_class = buyers.filter(pl.col("_size_class_grade").is_not_null()).height
            info["sources"] = {"size_class": by_class, "revenue_12m": values.len()}
            info["size_class_grades"] = dict(size_map)
            if by_class:
                with_data.append(criterion)
                info["customers_with_value"] = by_class + values.len()
        if values.len() == 0 and criterion == "size" and info["sources"]["size_class"]:
            info.update(method="size_class")
            grade = frame.select(pl.when(_BUYER).then(pl.col("_size_class_grade"))).to_series()
            info["customers"] = {letter: int((grade == letter).sum()) for letter in GRADES}
            columns[name] = grade
            continue
        if values.len() == 0:
            why = (
                "no margin column and no grades.high_margin.categories"
                if criterion == "margin"
                else f"no {column} for any customer"
            )
            info.update(
                method=grades_cfg.method, no_data=True, note=f"{why}: not graded, '-' in abc"
            )
            columns[name] = pl.lit(None, dtype=pl.String)
            continue
        if criterion not in with_data:
            with_data.append(criterion)
        method = grades_cfg.method
        if method == "pareto" and criterion in NOT_ADDITIVE:
            method = "quantile"
            info["note"] = f"pareto does not apply to {column}; graded by quantile"
        info["method"] = method
        value = pl.col(column)
        if method == "fixed":
            threshold = grades_cfg.fixed[criterion]
            grade = frame.select(
                pl.when(_BUYER).then(_fixed_grade(value, threshold.A, threshold.B, lower_is_better))
            ).to_series()
            info.update(A=threshold.A, B=threshold.B)
        elif method == "pareto":
            grade = _pareto_grade(frame, column, grades_cfg.pareto.A, grades_cfg.pareto.B)
            info.update(share_A=grades_cfg.pareto.A, share_B=grades_cfg.pareto.B)
        else:
            shares = [grades_cfg.shares.A, grades_cfg.shares.B]
            grade = frame.select(
                _letters(
                    quantile_bucket(value, shares, descending=not lower_is_better, within=_BUYER)
                )
            ).to_series()
            info.update(share_A=grades_cfg.shares.A, share_B=grades_cfg.shares.B)
        if criterion == "size":
            grade = frame.select(
                pl.when(_BUYER).then(
                    pl.coalesce(pl.col("_size_class_grade"), pl.lit(grade, dtype=pl.String))
                )
            ).to_series()
        graded = frame.select(value, grade.alias("_g")).filter(pl.col("_g").is_not_null())
        worst = pl.col(column).max() if lower_is_better else pl.col(column).min()
        info["customers"] = {
            letter: graded.filter(pl.col("_g") == letter).height for letter in GRADES
        }
        if method != "fixed":  # the boundary values that resulted: worst A, worst B
            for letter in ("A", "B"):
                info[letter] = graded.filter(pl.col("_g") == letter).select(worst).item()
        columns[name] = grade
    frame = frame.with_columns([column.alias(name) for name, column in columns.items()]).drop(
        "_size_revenue", "_size_class_grade"
    )
    return frame, summary, with_data


def _abc_and_priority(cfg: Config, with_data: list[str]) -> list[pl.Expr]:
    letters = [pl.col(f"grade_{c}").fill_null("-") for c in cfg.grades.criteria]
    priority = (
        pl.all_horizontal([pl.col(f"grade_{c}") == "A" for c in with_data]).fill_null(False)
        if with_data
        else pl.lit(False)
    )
    return [
        pl.when(_BUYER).then(pl.concat_str(letters)).alias("abc"),
        (_BUYER & priority).alias("priority"),
    ]


def _rfm_scores() -> list[pl.Expr]:
    """1-5 quintile scores (5 best), ties share a score; for the rfm-classic preset."""
    fifths = [0.2, 0.2, 0.2, 0.2]

    def score(column: str, lower_is_better: bool) -> pl.Expr:
        bucket = quantile_bucket(
            pl.col(column), fifths, descending=not lower_is_better, within=_BUYER
        )
        return (5 - bucket).cast(pl.Int8)

    return [
        score("recency_days", True).alias("recency_score"),
        score("orders", False).alias("frequency_score"),
        score("revenue", False).alias("monetary_score"),
    ]


# -- red flags ---------------------------------------------------------------------------------
def _red_flags(cfg: Config, language: str, has_lost: bool) -> list[pl.Expr]:
    flags = cfg.red_flags
    texts = RED_FLAG_REASONS[language]
    last, prev = pl.col("revenue_last_window"), pl.col("revenue_prev_window")
    conditions: dict[str, pl.Expr] = {}
    reasons: dict[str, pl.Expr] = {}
    if flags.revenue_drop.enabled:
        conditions["revenue_drop"] = (
            _BUYER
            & (prev > 0)
            & (pl.col("orders") >= flags.revenue_drop.min_orders)
            & ((prev - last) >= prev * flags.revenue_drop.min_drop - 1e-9)
        )
        reasons["revenue_drop"] = _fill(
            texts["revenue_drop"],
            window=str(flags.revenue_drop.window),
            last=money_text(last, language),
            prev=money_text(prev, language),
            drop=grouped_digits((prev - last) / prev * 100),
        )
    if flags.overdue.enabled:
        conditions["overdue"] = (
            _BUYER
            & (pl.col("orders") >= flags.overdue.min_orders)
            & (pl.col("recency_days") > pl.col("cadence_days") * flags.overdue.gaps)
        )
        reasons["overdue"] = _fill(
            texts["overdue"],
            days=grouped_digits(pl.col("recency_days")),
            cadence=grouped_digits(pl.col("cadence_days").clip(lower_bound=1)),
        )
    if flags.lost_category.enabled and has_lost:
        conditions["lost_category"] = _BUYER & pl.col("lost_categories").is_not_null()
        reasons["lost_category"] = _fill(
            texts["lost_category"],
            categories=pl.col("lost_categories"),
            window=str(flags.lost_category.window),
        )
    if cfg.model.enabled:
        # the periods still call the customer active, the model says they have gone
        conditions["probably_left"] = (
            _BUYER & (pl.col("activity") == "active") & (pl.col("p_alive") < cfg.model.alert_below)
        )
        reasons["probably_left"] = _fill(
            texts["probably_left"],
            orders=_orders_text(language),
            revenue=money_text(pl.col("revenue"), language),
            cadence=grouped_digits(pl.col("cadence_days").clip(lower_bound=1)),
            days=grouped_digits(pl.col("recency_days")),
            p=_percent_text(pl.col("p_alive"), language),
        )
    if not conditions:
        return [pl.lit("").alias("red_flags"), pl.lit("").alias("red_flag_reasons")]
    codes = pl.concat_list(
        [pl.when(c.fill_null(False)).then(pl.lit(code)) for code, c in conditions.items()]
    ).list.drop_nulls()
    shown = dict(conditions)
    if "overdue" in shown and "probably_left" in shown:
        # probably_left's sentence already gives the gap and the usual interval: one sentence
        shown["overdue"] = shown["overdue"] & ~shown["probably_left"].fill_null(False)
    sentences = pl.concat_list(
        [pl.when(c.fill_null(False)).then(reasons[code]) for code, c in shown.items()]
    ).list.drop_nulls()
    return [
        codes.list.join(",").alias("red_flags"),
        sentences.list.join("; ").alias("red_flag_reasons"),
    ]


# -- custom rules ------------------------------------------------------------------------------
def _rule_condition(rule: ExtraRule, index: int, columns: list[str]) -> pl.Expr:
    conditions = []
    for key, spec in rule.when.items():
        if key not in columns:
            close = difflib.get_close_matches(key, columns, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"segments_extra[{index}] ({rule.name}): unknown metric '{key}'{hint}",
                code=E_CONFIG_KEY,
            )
        column = pl.col(key)
        is_range = (
            isinstance(spec, list)
            and len(spec) == 2
            and all(
                v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in spec
            )
        )
        if is_range:
            low, high = cast("list[float | None]", spec)
            part = pl.lit(True)
            if low is not None:
                part = part & (column >= low)
            if high is not None:
                part = part & (column <= high)
            conditions.append(part)
        elif isinstance(spec, list):
            conditions.append(column.is_in(spec))
        else:
            conditions.append(column == spec)
    if not conditions:
        return pl.lit(True)
    return pl.all_horizontal(conditions).fill_null(False)


def _extra_segments(cfg: Config, columns: list[str]) -> list[pl.Expr]:
    rules = cfg.segments_extra
    if not rules:
        return [
            pl.lit(None, dtype=pl.String).alias("segment_extra"),
            pl.lit(None, dtype=pl.String).alias("segment_extra_label"),
        ]
    chain: Any = None
    for index, rule in enumerate(rules):
        condition = _rule_condition(rule, index, columns)
        chain = (pl.when(condition) if chain is None else chain.when(condition)).then(
            pl.lit(rule.name)
        )
    name = pl.when(_BUYER).then(chain.otherwise(pl.lit(None, dtype=pl.String)))
    labels: dict[str, str] = {}
    for rule in rules:
        label = rule.label_ru if cfg.language == "ru" else rule.label_en
        labels.setdefault(rule.name, label or rule.name)
    return [
        name.alias("segment_extra"),
        name.replace_strict(
            list(labels), list(labels.values()), default=None, return_dtype=pl.String
        ).alias("segment_extra_label"),
    ]


# -- reason ------------------------------------------------------------------------------------
def category_labels(cfg: Config) -> dict[str, str]:
    """Period category name -> the label reasons use (``label``, else its patterns)."""
    return {name: p.display_label() for name, p in cfg.periods.categories.items()}


def _ago(months: pl.Expr, texts: dict[str, str]) -> pl.Expr:
    return (
        pl.when(months <= 0)
        .then(pl.lit(texts["this_month"]))
        .otherwise(_fill(texts["ago"], months=months))
    )


def _reason(cfg: Config, as_of: dt.date) -> pl.Expr:
    texts = REASONS[cfg.language]
    labels = category_labels(cfg)
    label = pl.col("period_category").replace_strict(
        list(labels), list(labels.values()), default=None, return_dtype=pl.String
    )
    category_months = months_since(pl.col("period_last_order_date"), as_of)
    category = (
        pl.when(pl.col("period_category").is_null())
        .then(pl.lit(""))
        .when(pl.col("period_last_order_date") == pl.col("last_order_date"))
        .then(_fill(texts["category_same"], name=label))
        .when(pl.col("period_category").is_not_null())
        .then(_fill(texts["category"], name=label, ago=_ago(category_months, texts)))
        .otherwise(pl.lit(""))
    )
    common = {
        "orders": _orders_text(cfg.language),
        "ago": _ago(pl.col("months_since_last_order"), texts),
        "category": category,
    }
    cadence = cfg.periods.cadence
    return (
        pl.when(pl.col("segment") == "lead")
        .then(pl.lit(texts["lead"]))
        .when(pl.col("segment") == "no_purchase")
        .then(pl.lit(texts["no_purchase"]))
        .when(pl.col("activity_rule") == "cadence")
        .then(
            _fill(
                texts["cadence"],
                orders=common["orders"],
                ago=common["ago"],
                cadence=grouped_digits(pl.col("cadence_days").clip(lower_bound=1)),
                gaps=f"{cadence.gaps:g}",
            )
        )
        .when(pl.col("activity") == "asleep")
        .then(_fill(texts["asleep"], period=pl.col("asleep_after"), **common))
        .when(pl.col("activity") == "falling_asleep")
        .then(_fill(texts["falling_asleep"], period=pl.col("falling_asleep_after"), **common))
        .otherwise(_fill(texts["active"], period=pl.col("falling_asleep_after"), **common))
    )


# -- the step ----------------------------------------------------------------------------------
def classify(
    scores: pl.LazyFrame,
    cfg: Config,
    orders: pl.LazyFrame | None,
    as_of: dt.date,
    per_order: PerOrder | None = None,
) -> tuple[pl.LazyFrame, dict[str, Any]]:
    """Segments (``schema.SEGMENT_COLUMNS`` then extras) and the summary for the manifest.

    ``per_order``: score's per-order frame of the same ``orders`` (``run`` passes it)."""
    notes: list[str] = []
    # scores written before the model existed lack its columns: they read as empty
    present = set(scores.collect_schema().names())
    frame = scores.with_columns(
        pl.lit(None, dtype=pl.Float64).alias(c) for c in MODEL_SCORE_COLUMNS if c not in present
    ).select(SCORE_COLUMNS)
    has_lost = orders is not None and cfg.red_flags.lost_category.enabled
    if has_lost and orders is not None:
        lost = lost_categories(orders, cfg, as_of, per_order).collect(engine="streaming")
        frame = frame.join(lost.lazy(), on="customer_id", how="left")
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("lost_categories"))
        if cfg.red_flags.lost_category.enabled:
            notes.append("lost_category not checked: no order lines given")

    stages = cfg.stages
    cadence = cfg.periods.cadence
    last = pl.col("last_order_date")
    decided_last = pl.col("period_last_order_date")  # last order in the deciding category
    labels = category_labels(cfg)
    rule_label = pl.col("period_category").replace_strict(
        list(labels),
        [f"period: {v}" for v in labels.values()],
        default=None,
        return_dtype=pl.String,
    )
    base_activity = (
        pl.when(decided_last <= _cutoff(pl.col("asleep_after"), as_of))
        .then(pl.lit("asleep"))
        .when(decided_last <= _cutoff(pl.col("falling_asleep_after"), as_of))
        .then(pl.lit("falling_asleep"))
        .otherwise(pl.lit("active"))
    )
    overdue_by_cadence = (
        pl.lit(cadence.enabled)
        & (pl.col("orders") >= cadence.min_orders)
        & (pl.col("recency_days") > pl.col("cadence_days") * cadence.gaps)
    ).fill_null(False)
    frame = (
        frame.with_columns(
            pl.when(_BUYER).then(base_activity).alias("_base_activity"),
            pl.when(_BUYER).then(months_since(last, as_of)).alias("months_since_last_order"),
        )
        .with_columns(
            pl.when((pl.col("_base_activity") == "active") & overdue_by_cadence)
            .then(pl.lit("falling_asleep"))
            .otherwise(pl.col("_base_activity"))
            .alias("activity"),
            pl.when(pl.col("_base_activity").is_null())
            .then(None)
            .when((pl.col("_base_activity") == "active") & overdue_by_cadence)
            .then(pl.lit("cadence"))
            .otherwise(pl.coalesce(rule_label, pl.lit("period")))
            .alias("activity_rule"),
            pl.when(~_BUYER)
            .then(None)
            .when(pl.col("orders") >= stages.regular.min_orders)
            .then(pl.lit("regular"))
            .when(pl.col("orders") >= stages.prospective.min_orders)
            .then(pl.lit("prospective"))
            .otherwise(pl.lit("new"))
            .alias("stage"),
        )
        .with_columns(
            pl.when(pl.col("is_lead"))
            .then(pl.lit("lead"))
            .when(pl.col("orders") <= 0)
            .then(pl.lit("no_purchase"))
            .otherwise(pl.concat_str("stage", pl.lit("_"), "activity"))
            .alias("segment"),
        )
    )
    segments = list(SEGMENT_LABELS)
    frame = frame.with_columns(
        pl.col("segment")
        .replace_strict(segments, [SEGMENT_LABELS[s]["ru"] for s in segments])
        .alias("segment_label_ru"),
        pl.col("segment")
        .replace_strict(segments, [SEGMENT_LABELS[s]["en"] for s in segments])
        .alias("segment_label_en"),
        pl.col("segment")
        .replace_strict(segments, [SEGMENT_STRATEGY[s] for s in segments])
        .alias("strategy"),
        *_rfm_scores(),
    ).with_columns(
        pl.col("strategy")
        .replace_strict(list(STRATEGY_LABELS), [v[cfg.language] for v in STRATEGY_LABELS.values()])
        .alias("strategy_label"),
    )
    collected = frame.collect()
    collected, thresholds, with_data = _grade_criteria(collected, cfg)
    for criterion, info in thresholds.items():
        if info.get("no_data"):
            notes.append(f"{criterion}: {info['note']}")
    result = collected.lazy().with_columns(
        *_abc_and_priority(cfg, with_data), *_red_flags(cfg, cfg.language, has_lost)
    )
    result = result.with_columns(*_extra_segments(cfg, result.collect_schema().names()))
    final = (
        result.with_columns(_reason(cfg, as_of).alias("reason"))
        .select(SEGMENT_COLUMNS + EXTRA_COLUMNS)
        .sort("customer_id")
        .collect()
    )
    return final.lazy(), _summary(final, cfg, thresholds, notes, as_of)


def _summary(
    segments: pl.DataFrame,
    cfg: Config,
    thresholds: dict[str, Any],
    notes: list[str],
    as_of: dt.date,
) -> dict[str, Any]:
    per_segment = segments.group_by("segment").agg(
        pl.len().alias("n"), pl.col("revenue").sum().alias("revenue")
    )
    counts = dict(zip(per_segment["segment"], per_segment["n"], strict=True))
    revenue = dict(zip(per_segment["segment"], per_segment["revenue"], strict=True))
    flags = {
        code: int(
            segments.select(pl.col("red_flags").str.split(",").list.contains(code).sum()).item()
        )
        for code in RED_FLAG_CODES
    }
    summary: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "thresholds": thresholds,
        "customers_per_segment": {s: int(counts.get(s, 0)) for s in SEGMENTS},
        "revenue_per_segment": {s: round(float(revenue.get(s, 0.0) or 0.0), 2) for s in SEGMENTS},
        "priority": int(segments["priority"].sum()),
        "red_flags": flags,
        "notes": notes,
    }
    if cfg.segments_extra:
        extra = segments.group_by("segment_extra").len().drop_nulls("segment_extra")
        summary["customers_per_segment_extra"] = {
            rule.name: int(
                dict(zip(extra["segment_extra"], extra["len"], strict=True)).get(rule.name, 0)
            )
            for rule in cfg.segments_extra
        }
    return summary
