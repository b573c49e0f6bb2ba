"""assign-tactics: segments × playbook → tasks (who, how, what, when) and data_quality.

1. **Match.** Each tactic's ``when`` becomes one boolean polars expression over the
   segments; customers are matched against every tactic at once (a loop over the handful of
   tactics builds the expressions, never over customers).
2. **Stop and cap.** Per customer, in playbook order: tactics after a matching ``stop``
   tactic are dropped; tactics are kept while the running count of their steps stays within
   ``tasks.max_per_customer`` (the first matching tactic always fits: the loader checks
   that no tactic has more steps than the cap).
3. **Route.** Each step (task) goes to the customer's contact with the step's role, else the
   next role in ``routing.role_order``; within a role the step's channels are tried in order
   (the action, then ``fallback``), skipping missing phone/email/address/InMail handles and
   consent flags. Ties go to the contact whose ``preferred_channel`` is that channel, then
   to the contact listed first. A step nobody can be reached for becomes a data_quality row.
4. **Fill.** Scripts and offers in ``cfg.language`` with placeholders filled, due date
   ``as_of + due_in_days + step day``, owner, expected value, stable ``task_id``.

Count identity (checked): customers matched by a tactic = customers with at least one task
+ customers whose every task went to data_quality.

expected_value = tactic ``weight`` × the customer's value, split evenly over the tactic's
steps, rounded to 0.01. The value is the model's ``expected_revenue`` over
``model.horizon_days`` when the model is on (segtool.steps.model), else the avg_order_value;
customers without orders — leads, no_purchase — get the median value of customers with
orders. Tasks are sorted by it within a priority, so with the model on they are ranked by
expected revenue.

task_id = the first 16 hex digits of SHA-256 over ``customer_id|tactic|step|period`` (UTF-8),
period being the as_of month (``2026-11``), ISO week (``2026-W47``) or quarter (``2026-Q4``)
per ``tasks.period``: the same customer, tactic, step and period always give the same id.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import polars_hash  # noqa: F401 - registers the stable `.chash` expression namespace

from segtool import vocabulary as V
from segtool.config import Config
from segtool.playbook import PLACEHOLDERS, Condition, Playbook, Variant
from segtool.schema import DType
from segtool.steps.classify import grouped_digits

TASK_COLUMNS = [
    "task_id",
    "customer_id",
    "company_name",
    "contact_name",
    "contact_role",
    "phone",
    "email",
    "address",
    "inmail",
    "channel",
    "segment",
    "abc",
    "priority",
    "reason",
    "tactic",
    "step",
    "variant",
    "script",
    "offer",
    "due_date",
    "owner",
    "expected_value",
    "status",
]
TASK_SCHEMA: dict[str, DType] = {
    **{c: pl.String for c in TASK_COLUMNS},
    "priority": pl.Boolean,
    "step": pl.Int32,
    "due_date": pl.Date,
    "expected_value": pl.Float64,
}
DATA_QUALITY_COLUMNS = ["customer_id", "company_name", "segment", "tactic", "problem", "detail"]
DATA_QUALITY_SCHEMA: dict[str, DType] = {c: pl.String for c in DATA_QUALITY_COLUMNS}

CALL_CHANNELS = V.channels_on("sheet", "call_tasks")  # the rest go to mail_tasks
EMAIL_CHANNELS = V.channels_on("group", "email")  # electronic messages, capped together
STATUS_OPEN = "open"
PROBLEM_NO_CONTACTS = "no_contacts"
PROBLEM_UNREACHABLE = "no_reachable_channel"

_DAYS_PER_MONTH = 30.4375  # months_since = recency_days / 30.4375 (mean Gregorian month)

# optional segment columns (added as nulls when a segments frame lacks them)
_OPTIONAL: dict[str, DType] = {
    "company_name": pl.String,
    "stage": pl.String,
    "activity": pl.String,
    "orders": pl.Int64,
    "avg_order_value": pl.Float64,
    "recency_days": pl.Int64,
    "last_order_date": pl.Date,
    "abc": pl.String,
    "priority": pl.Boolean,
    "red_flags": pl.String,
    "reason": pl.String,
    "red_flag_reasons": pl.String,
    "company_type": pl.String,
    "size_class": pl.String,
    "period_category": pl.String,
    "asleep_after": pl.Int64,
    "tenure_days": pl.Int64,
    "last_durable_date": pl.Date,
    "durable_cycle_share": pl.Float64,
    "p_alive": pl.Float64,
    "expected_revenue": pl.Float64,
}
_CONTACT_COLUMNS: dict[str, DType] = {
    "customer_id": pl.String,
    "contact_name": pl.String,
    "role": pl.String,
    "phone": pl.String,
    "email": pl.String,
    "address": pl.String,
    "inmail": pl.String,
    "do_not_call": pl.Boolean,
    "do_not_email": pl.Boolean,
    "do_not_mail": pl.Boolean,
    "preferred_channel": pl.String,
    "owner": pl.String,
}

# what a channel needs: (contact field, consent flag that forbids it)
CHANNEL_NEEDS: dict[str, tuple[str, str]] = {
    code: (term.meta["needs"], term.meta["consent"]) for code, term in V.CHANNEL.items()
}

_TEXTS: dict[str, dict[str, Any]] = {
    "ru": {
        "no_contacts": "в выгрузке контактов нет ни одного контакта этого клиента",
        "step": "шаг {step}",
        "missing": {
            "phone": "нет телефона",
            "email": "нет email",
            "address": "нет адреса",
            "inmail": "нет профиля InMail",
        },
        "refused": {
            "do_not_call": "запрет на звонки",
            "do_not_email": "запрет на письма",
            "do_not_mail": "запрет на почтовые рассылки",
        },
        "contact_fallback": "Коллеги",
        "company_fallback": "ваша компания",
        "no_date": "—",
        "hello_name": "{name}, добрый день!",
        "hello": "Добрый день!",
        "this_month": "меньше месяца",
        "months": ("месяц", "месяца", "месяцев"),
        "also": {
            "call": "Также в этом разговоре: {labels}.",
            "email": "Также в этом письме: {labels}.",
        },
    },
    "en": {
        "no_contacts": "no contact person for this customer in the contacts export",
        "step": "step {step}",
        "missing": {
            "phone": "no phone",
            "email": "no email",
            "address": "no postal address",
            "inmail": "no InMail handle",
        },
        "refused": {
            "do_not_call": "do-not-call",
            "do_not_email": "do-not-email",
            "do_not_mail": "do-not-mail",
        },
        "contact_fallback": "colleagues",
        "company_fallback": "your company",
        "no_date": "—",
        "hello_name": "Hello {name}!",
        "hello": "Hello!",
        "this_month": "less than a month",
        "months": ("month", "months", "months"),
        "also": {
            "call": "Also in this call: {labels}.",
            "email": "Also in this message: {labels}.",
        },
    },
}


@dataclass
class TacticsStats:
    """Counts printed by the command and stored in the manifest."""

    customers: int = 0
    matched: int = 0  # customers some tactic matched
    with_tasks: int = 0
    data_quality_only: int = 0  # matched, but no task could be routed
    unmatched: int = 0
    tasks: int = 0
    data_quality_rows: int = 0
    skipped_by_cap: int = 0  # matched tactics dropped by tasks.max_per_customer
    skipped_by_stop: int = 0
    merged_by_call_cap: int = 0  # call tasks folded into the customer's one call
    merged_by_email_cap: int = 0  # e-mail tasks folded into the customer's e-mail
    held_out: int = 0  # matched, but every tactic kept them in its control group
    holdout_assignments: int = 0  # (customer, tactic) pairs in a control group
    tasks_per_channel: dict[str, int] = field(default_factory=dict)
    tasks_per_tactic: dict[str, int] = field(default_factory=dict)

    def identity_holds(self) -> bool:
        return self.matched == self.with_tasks + self.data_quality_only + self.held_out

    def identity_line(self) -> str:
        return (
            f"{self.matched:,} customers matched by the playbook = {self.with_tasks:,} with tasks "
            f"+ {self.data_quality_only:,} unreachable (data_quality)"
            + (f" + {self.held_out:,} in control groups only" if self.held_out else "")
            + "; "
            f"{self.unmatched:,} matched no tactic"
        ).replace(",", " ")

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TacticsResult:
    tasks: pl.DataFrame
    data_quality: pl.DataFrame
    stats: TacticsStats
    # one row per (customer, tactic) kept after stop and cap: the arm the customer is in
    # (variant code, `holdout`, or null for a tactic without variants); see ASSIGNMENT_SCHEMA
    assignments: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=ASSIGNMENT_SCHEMA)
    )


ASSIGNMENT_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "tactic": pl.String(),
    "variant": pl.String(),
    "segment": pl.String(),
    "owner": pl.String(),
    "channel": pl.String(),
}
HOLDOUT = "holdout"  # the variant code of the control group


def arm_draw(experiment: str, customer_id: pl.Expr, tactic: pl.Expr, what: str) -> pl.Expr:
    """A number in [0, 1) fixed by (experiment, customer, tactic): the first 13 hex digits
    of SHA-256 over ``what|experiment|customer_id|tactic`` (UTF-8) over 16**13. The same
    inputs give the same number on any machine, polars version or run; ``what`` (``holdout``
    or ``variant``) makes the two draws independent."""
    key = pl.concat_str([pl.lit(what), pl.lit(experiment), customer_id, tactic], separator="|")
    digest: pl.Expr = key.chash.sha2_256()  # type: ignore[attr-defined]  # polars-hash
    return digest.str.slice(0, 13).str.to_integer(base=16).cast(pl.Float64) / float(16**13)


def _arm_table(playbook: Playbook, default_holdout: float) -> pl.DataFrame:
    """Per tactic and variant (``_v``, from 0): its share of the treated as [``_lo``,
    ``_hi``) of the unit interval, and the tactic's holdout share."""
    rows: list[dict[str, object]] = []
    for index, tactic in enumerate(playbook.tactics):
        holdout = default_holdout if tactic.holdout is None else tactic.holdout
        variants: list[Variant | None] = [*tactic.variants] if tactic.variants else [None]
        total = sum(v.weight for v in tactic.variants or []) or 1.0
        low = 0.0
        for number, variant in enumerate(variants):
            last = number == len(variants) - 1
            share = variant.weight / total if variant is not None else 1.0
            rows.append(
                {
                    "_t": index,
                    "_v": number,
                    "_holdout": holdout,
                    "_variant": variant.id if variant is not None else None,
                    "_lo": low,
                    "_hi": 2.0 if last else low + share,
                }
            )
            low += share
    return pl.DataFrame(
        rows,
        schema={
            "_t": pl.Int32,
            "_v": pl.Int32,
            "_holdout": pl.Float64,
            "_variant": pl.String,
            "_lo": pl.Float64,
            "_hi": pl.Float64,
        },
    )


def assign_arms(
    kept: pl.DataFrame,
    tactics: pl.DataFrame,
    playbook: Playbook,
    experiment: str,
    default_holdout: float,
) -> pl.DataFrame:
    """``kept`` (customer_id, _t) with the arm each pair is in: ``_v`` (the variant's index,
    -1 for the control group) and ``_variant`` (its code, ``holdout``, or null)."""
    arms = _arm_table(playbook, default_holdout)
    if arms.filter((pl.col("_holdout") > 0) | pl.col("_variant").is_not_null()).height == 0:
        # no test anywhere: every pair is treated, no hashing needed
        return kept.with_columns(
            pl.lit(0, pl.Int32).alias("_v"), pl.lit(None, pl.String).alias("_variant")
        )
    drawn = kept.join(tactics.select("_t", "tactic"), on="_t", how="left").with_columns(
        arm_draw(experiment, pl.col("customer_id"), pl.col("tactic"), "holdout").alias("_uh"),
        arm_draw(experiment, pl.col("customer_id"), pl.col("tactic"), "variant").alias("_uv"),
    )
    held = pl.col("_uh") < pl.col("_holdout")
    chosen = (
        drawn.join(arms, on="_t", how="inner")
        .filter((pl.col("_uv") >= pl.col("_lo")) & (pl.col("_uv") < pl.col("_hi")))
        .with_columns(
            pl.when(held).then(pl.lit(-1, pl.Int32)).otherwise(pl.col("_v")).alias("_v"),
            pl.when(held).then(pl.lit(HOLDOUT)).otherwise(pl.col("_variant")).alias("_variant"),
        )
    )
    return kept.join(
        chosen.select("customer_id", "_t", "_v", "_variant"),
        on=["customer_id", "_t"],
        how="left",
        maintain_order="left",
    )


def task_period(as_of: dt.date, period: str) -> str:
    """The period label that keeps task ids stable: month, ISO week or quarter of as_of."""
    if period == "week":
        year, week, _ = as_of.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "quarter":
        return f"{as_of.year}-Q{(as_of.month - 1) // 3 + 1}"
    return f"{as_of.year}-{as_of.month:02d}"


def task_id_expr(customer_id: pl.Expr, tactic: pl.Expr, step: pl.Expr, period: str) -> pl.Expr:
    """First 16 hex digits of SHA-256("customer_id|tactic|step|period"), a stable hash."""
    key = pl.concat_str([customer_id, tactic, step.cast(pl.String), pl.lit(period)], separator="|")
    digest: pl.Expr = key.chash.sha2_256()  # type: ignore[attr-defined]  # polars-hash namespace
    return digest.str.slice(0, 16)


# -- matching -------------------------------------------------------------------------------
def _glob_regex(patterns: list[str]) -> str:
    parts = []
    for pattern in patterns:
        rx = fnmatch.translate(pattern.upper())  # ...\Z; '-' is escaped by fnmatch where needed
        parts.append(rx.removeprefix("(?s:").removesuffix(")\\Z"))
    return "^(?:" + "|".join(parts) + ")$"


def _flag_regex(codes: list[str]) -> str:
    return "(?:^|,)(?:" + "|".join(re.escape(c) for c in codes) + ")(?:,|$)"


def condition_expr(when: Condition, weight: float) -> pl.Expr:
    """One boolean expression for a tactic's condition (null counts as not matching)."""
    terms: list[pl.Expr] = []
    for key in ("segment", "stage", "activity", "company_type", "size_class", "period_category"):
        values = getattr(when, key)
        if values is not None:
            terms.append(pl.col(key).is_in(values))
    if when.abc:
        terms.append(pl.col("abc").str.to_uppercase().str.contains(_glob_regex(when.abc)))
    if when.priority is not None:
        terms.append(pl.col("priority") == when.priority)
    if when.red_flags:
        terms.append(pl.col("red_flags").str.contains(_flag_regex(when.red_flags)))
    if when.durable is not None:
        terms.append(pl.col("last_durable_date").is_not_null() == when.durable)
    months = pl.col("_months_since")
    cycle = pl.col("durable_cycle_share")
    if when.min_cycle_share is not None:
        terms.append(cycle >= when.min_cycle_share)
    if when.max_cycle_share is not None:
        terms.append(cycle < when.max_cycle_share)
    if when.min_months_since is not None:
        terms.append(months >= when.min_months_since)
    if when.max_months_since is not None:
        terms.append(months < when.max_months_since)
    if when.min_orders is not None:
        terms.append(pl.col("orders") >= when.min_orders)
    if when.min_expected_value is not None:
        terms.append(pl.col("_value") * weight >= when.min_expected_value)
    if when.max_days_since_first_order is not None:
        terms.append(pl.col("tenure_days") <= when.max_days_since_first_order)
    if when.min_days_since_last_order is not None:
        terms.append(pl.col("recency_days") >= when.min_days_since_last_order)
    if when.max_days_since_last_order is not None:
        terms.append(pl.col("recency_days") <= when.max_days_since_last_order)
    if when.min_p_alive is not None:
        terms.append(pl.col("p_alive") >= when.min_p_alive)
    if when.max_p_alive is not None:
        terms.append(pl.col("p_alive") < when.max_p_alive)
    if not terms:
        return pl.lit(True)
    return pl.all_horizontal(terms).fill_null(False)


def _prepare_segments(segments: pl.LazyFrame) -> pl.LazyFrame:
    names = set(segments.collect_schema().names())
    missing = [pl.lit(None, dtype).alias(c) for c, dtype in _OPTIONAL.items() if c not in names]
    median_value = pl.col("avg_order_value").filter(pl.col("orders").fill_null(0) > 0).median()
    # with the model on, a customer's value is the revenue it expects from them over
    # model.horizon_days (customers without orders: the median over those with orders)
    buyer = pl.col("orders").fill_null(0) > 0
    expected = pl.when(buyer).then(pl.col("expected_revenue"))
    model_value = pl.coalesce(expected, expected.median(), pl.lit(0.0))
    order_value = pl.coalesce(
        pl.when(buyer).then(pl.col("avg_order_value")),
        median_value,
        pl.lit(0.0),
    )
    return segments.with_columns(missing).with_columns(
        pl.col("customer_id").cast(pl.String),
        pl.col("red_flags").fill_null(""),
        (pl.col("recency_days") / _DAYS_PER_MONTH).alias("_months_since"),
        pl.when(expected.is_not_null().any())
        .then(model_value)
        .otherwise(order_value)
        .cast(pl.Float64)
        .alias("_value"),
    )


def _tactic_table(playbook: Playbook) -> pl.DataFrame:
    rows = []
    for index, tactic in enumerate(playbook.tactics):
        steps = tactic.resolved_steps()
        rows.append(
            {
                "_t": index,
                "tactic": tactic.id,
                "_n_steps": len(steps),
                "_stop": tactic.stop,
                "_tactic_priority": tactic.priority,
                "_weight": tactic.weight,
                # a tactic on flags or on the model's p_alive shows the flags' reasons
                "_flag_tactic": bool(tactic.when.red_flags) or tactic.when.max_p_alive is not None,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "_t": pl.Int32,
            "tactic": pl.String,
            "_n_steps": pl.Int32,
            "_stop": pl.Boolean,
            "_tactic_priority": pl.Int32,
            "_weight": pl.Float64,
            "_flag_tactic": pl.Boolean,
        },
    )


def _step_table(playbook: Playbook, language: str) -> tuple[pl.DataFrame, list[str | None]]:
    """One row per tactic step, and the distinct script and offer templates the rows point
    to (``_script`` and ``_offer`` are indices into that list)."""
    templates: dict[str | None, int] = {}
    rows = []
    for index, tactic in enumerate(playbook.tactics):
        arms: list[Variant | None] = [*tactic.variants] if tactic.variants else [None]
        for number, variant in enumerate(arms):
            for step in tactic.with_variant(variant).resolved_steps():
                rows.append(
                    {
                        "_t": index,
                        "_v": number,
                        "step": step.number,
                        "_day": step.day,
                        "_channels": step.channels,
                        "_role": step.role,
                        "_script": templates.setdefault(step.script.get(language), len(templates)),
                        "_offer": templates.setdefault(step.offer.get(language), len(templates)),
                    }
                )
    table = pl.DataFrame(
        rows,
        schema={
            "_t": pl.Int32,
            "_v": pl.Int32,
            "step": pl.Int32,
            "_day": pl.Int32,
            "_channels": pl.List(pl.String),
            "_role": pl.String,
            "_script": pl.Int32,
            "_offer": pl.Int32,
        },
    )
    return table, list(templates)


_MATCH_BLOCK = 64  # tactics whose conditions are evaluated in one select


def _match(
    seg: pl.DataFrame, playbook: Playbook, tactics: pl.DataFrame, cap: int
) -> tuple[pl.DataFrame, int, int, int]:
    """Rows (customer_id, _t) for the tactics each customer gets, and the skip counts."""
    if not playbook.tactics:
        empty = pl.DataFrame(schema={"customer_id": pl.String, "_t": pl.Int32})
        return empty, 0, 0, 0
    # The conditions are evaluated a block of tactics at a time, and each block's
    # (customer row number, tactic) pairs that hold are kept: time and memory grow with
    # customers × tactics. (One select of every condition, or one lazy concat of a filter
    # per tactic, made polars' planner quadratic in the number of tactics: 8 GB at 4,000.)
    parts = []
    for start in range(0, len(playbook.tactics), _MATCH_BLOCK):
        block = playbook.tactics[start : start + _MATCH_BLOCK]
        flags = [
            condition_expr(t.when, t.weight).alias(str(start + i)) for i, t in enumerate(block)
        ]
        hits = seg.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_c"), *flags)
        parts.append(
            hits.unpivot(index="_c", variable_name="_t", value_name="_hit")
            .filter(pl.col("_hit"))
            .select("_c", pl.col("_t").cast(pl.Int32))
        )
    matched = (
        pl.concat(parts)
        .lazy()
        .join(tactics.lazy().select("_t", "_stop", "_n_steps"), on="_t")
        .sort("_c", "_t")
        .with_columns(
            (pl.col("_stop").cast(pl.Int32).cum_sum() - pl.col("_stop").cast(pl.Int32))
            .over("_c")
            .alias("_stops_before")
        )
        .collect()
    )
    matched = matched.with_columns(seg.get_column("customer_id").gather(matched["_c"]))
    n_matched = matched["customer_id"].n_unique()
    after_stop = matched.filter(pl.col("_stops_before") == 0)
    kept = after_stop.with_columns(
        pl.col("_n_steps").cum_sum().over("_c").alias("_cum_steps")
    ).filter(pl.col("_cum_steps") <= cap)
    skipped_stop = matched.height - after_stop.height
    skipped_cap = after_stop.height - kept.height
    return kept.select("customer_id", "_t"), n_matched, skipped_stop, skipped_cap


# -- routing --------------------------------------------------------------------------------
def _prepare_contacts(contacts: pl.LazyFrame | None) -> pl.DataFrame:
    if contacts is None:
        return pl.DataFrame(schema={**_CONTACT_COLUMNS, "_contact": pl.UInt32})
    names = set(contacts.collect_schema().names())
    cols = [
        (pl.col(c).cast(dtype) if c in names else pl.lit(None, dtype)).alias(c)
        for c, dtype in _CONTACT_COLUMNS.items()
    ]

    def text(c: str) -> pl.Expr:
        # ingest has trimmed every cell; a blank one still counts as missing. No trimmed
        # copy is made: at 10M lines that was ~0.2 GB of contact text held twice.
        return pl.when(pl.col(c).str.contains(r"^\s*$")).then(None).otherwise(pl.col(c)).alias(c)

    # contacts of customers outside the segments are kept: every use joins them to tasks
    # or customers, and picking the others out would copy every contact's text
    return (
        contacts.select(cols)
        .with_row_index("_contact")
        .with_columns(
            *(text(c) for c in ("contact_name", "phone", "email", "address", "inmail", "owner")),
            pl.col("role").fill_null("unknown"),
            pl.col("preferred_channel").str.strip_chars().str.to_lowercase(),
            *(pl.col(c).fill_null(False) for c in ("do_not_call", "do_not_email", "do_not_mail")),
        )
        .collect()
    )


def _reachable(channel: pl.Expr) -> pl.Expr:
    """Whether the contact has what the channel needs (``_has_<field>``) and no refusal."""
    expr = pl.lit(False)
    for name, (need, refusal) in CHANNEL_NEEDS.items():
        expr = (
            pl.when(channel == name).then(pl.col(f"_has_{need}") & ~pl.col(refusal)).otherwise(expr)
        )
    return expr


def _role_rank(cfg: Config) -> pl.Expr:
    expr = pl.lit(None, pl.Int32)
    for task_role, order in cfg.routing.role_order.items():
        ranks = {role: i for i, role in enumerate(order)}
        expr = (
            pl.when(pl.col("_role") == task_role)
            .then(pl.col("role").replace_strict(ranks, default=None, return_dtype=pl.Int32))
            .otherwise(expr)
        )
    return expr


def _choice_rank() -> pl.Expr:
    """One number ordering a task's candidate (contact, channel) pairs: role rank, then
    channel rank, then whether the contact prefers that channel, then the contact listed
    first. Distinct for distinct pairs (the contact index is the last part)."""
    not_preferred = (pl.col("preferred_channel") != pl.col("channel")).fill_null(True)
    return (
        pl.col("_role_rank").cast(pl.UInt64) * (1 << 48)
        + pl.col("_channel_rank").cast(pl.UInt64) * (1 << 40)
        + not_preferred.cast(pl.UInt64) * (1 << 32)
        + pl.col("_contact").cast(pl.UInt64)
    )


def _route(plan: pl.DataFrame, contacts: pl.DataFrame, cfg: Config) -> pl.DataFrame:
    """One chosen (``channel``, ``_contact``) per task key; tasks nobody can be reached
    for are absent.

    The choice is made on a narrow copy of the contacts (ids, role, flags): every task
    meets every contact of its customer there, ~4 candidate rows per task. The chosen
    contact's name and handles (:func:`_contact_details`) are joined on later, once per
    task and in the tasks' final order.
    """
    key = ["customer_id", "_t", "step"]
    needs = sorted({need for need, _ in CHANNEL_NEEDS.values()})
    refusals = sorted({refusal for _, refusal in CHANNEL_NEEDS.values()})
    narrow = contacts.lazy().select(
        "customer_id",
        "_contact",
        "role",
        "preferred_channel",
        *refusals,
        *(pl.col(need).is_not_null().alias(f"_has_{need}") for need in needs),
    )
    return (
        plan.lazy()
        .select(*key, "_role", "_channels")
        .join(narrow, on="customer_id", how="inner")
        .with_columns(_role_rank(cfg).alias("_role_rank"))
        .filter(pl.col("_role_rank").is_not_null())
        .with_columns(pl.int_ranges(pl.col("_channels").list.len()).alias("_channel_rank"))
        .explode("_channels", "_channel_rank")
        .rename({"_channels": "channel"})
        .filter(_reachable(pl.col("channel")))
        .with_columns(_choice_rank().alias("_choice"))
        # the best-ranked candidate per task: a filter against the per-task minimum is
        # several times faster than sorting every candidate row
        .filter(pl.col("_choice") == pl.col("_choice").min().over(key))
        .select(*key, "channel", "_contact")
        .collect()
    )


def _contact_details(contacts: pl.DataFrame) -> pl.LazyFrame:
    return contacts.lazy().select(
        "_contact",
        "contact_name",
        pl.col("role").alias("contact_role"),
        "phone",
        "email",
        "address",
        "inmail",
        pl.col("owner").alias("_contact_owner"),
    )


def _unreachable_detail(
    missing: pl.DataFrame, contacts: pl.DataFrame, language: str
) -> pl.DataFrame:
    """data_quality rows for tasks no contact could be reached for, with the reason."""
    texts = _TEXTS[language]
    per_customer = contacts.group_by("customer_id").agg(
        pl.len().alias("_n_contacts"),
        *(pl.col(c).is_not_null().any().alias(f"_has_{c}") for c in texts["missing"]),
    )

    def channel_reason(channel: pl.Expr) -> pl.Expr:
        expr = pl.lit(None, pl.String)
        for name, (need, refusal) in CHANNEL_NEEDS.items():
            why = (
                pl.when(pl.col(f"_has_{need}"))
                .then(pl.lit(texts["refused"][refusal]))
                .otherwise(pl.lit(texts["missing"][need]))
            )
            expr = pl.when(channel == name).then(pl.lit(f"{name}: ") + why).otherwise(expr)
        return expr

    key = ["customer_id", "_t", "step"]
    rows = missing.join(per_customer, on="customer_id", how="left")
    no_contacts = rows.filter(pl.col("_n_contacts").is_null()).with_columns(
        pl.lit(PROBLEM_NO_CONTACTS).alias("problem"), pl.lit(texts["no_contacts"]).alias("detail")
    )
    unreachable = (
        rows.filter(pl.col("_n_contacts").is_not_null())
        .explode("_channels")
        .with_columns(channel_reason(pl.col("_channels")).alias("_why"))
        .group_by(key, maintain_order=True)
        .agg(pl.exclude("_channels", "_why").first(), pl.col("_why").str.join("; "))
        .with_columns(
            pl.lit(PROBLEM_UNREACHABLE).alias("problem"),
            pl.concat_str(
                [
                    pl.lit(texts["step"].split("{")[0]),
                    pl.col("step").cast(pl.String),
                    pl.lit(": "),
                    pl.col("_why"),
                ]
            ).alias("detail"),
        )
    )
    cols = [*key, "problem", "detail"]
    return pl.concat([no_contacts.select(cols), unreachable.select(cols)])


# -- words ----------------------------------------------------------------------------------
# имя + отчество in a ФИО in any order ("Новиков Сергей Сергеевич", "Сергей Сергеевич
# Новиков"): a capitalised word followed by a patronymic (-ович/-евич/-ич, -овна/-евна/-ична)
_NAME_PATRONYMIC = (
    r"(?:^|\s)(\p{Lu}\p{Ll}+)\s+(\p{Lu}\p{Ll}+(?:вич|ич|вна|чна|оглы|кызы))"
    r"(?:\s|$)"
)
# a Latin first name: the first of two or more words, not an initial ("John Smith")
_LATIN_FIRST = r"^\s*(\p{Lu}[a-z'\-]+)\s+\p{L}"


def greeting_expr(name: pl.Expr, language: str) -> pl.Expr:
    """How a caller greets the person: «Сергей Сергеевич, добрый день!» (имя and отчество
    from the ФИО), «Добрый день!» when there is no full name (a single word, «Иванов И.И.»,
    no contact); in English "Hello John!" or "Hello!"."""
    texts = _TEXTS[language]
    found = name.str.extract_groups(_NAME_PATRONYMIC)
    polite = pl.concat_str(found.struct.field("1"), pl.lit(" "), found.struct.field("2"))
    latin = name.str.extract(_LATIN_FIRST, 1)
    if language == "ru":
        addressee = pl.coalesce(polite, latin)
    else:
        addressee = pl.coalesce(found.struct.field("1"), latin)
    before, after = texts["hello_name"].split("{name}")
    return (
        pl.when(addressee.is_not_null())
        .then(pl.concat_str(pl.lit(before), addressee, pl.lit(after)))
        .otherwise(pl.lit(texts["hello"]))
    )


def months_words(months: pl.Expr, language: str) -> pl.Expr:
    """Whole months as words: «14 месяцев», «1 месяц»; «меньше месяца» under one."""
    texts = _TEXTS[language]
    one, few, many = texts["months"]
    n = months
    if language == "ru":
        noun = (
            pl.when((n % 10 == 1) & (n % 100 != 11))
            .then(pl.lit(one))
            .when((n % 10 >= 2) & (n % 10 <= 4) & ((n % 100 < 12) | (n % 100 > 14)))
            .then(pl.lit(few))
            .otherwise(pl.lit(many))
        )
    else:
        noun = pl.when(n == 1).then(pl.lit(one)).otherwise(pl.lit(many))
    return (
        pl.when(n < 1)
        .then(pl.lit(texts["this_month"]))
        .otherwise(pl.concat_str(n.cast(pl.String), pl.lit(" "), noun))
    )


def _lower_first(label: str) -> str:
    """ "Падение выручки" -> "падение выручки"; an abbreviation ("ABC-анализ") stays."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


def cap_channels(
    routed: pl.DataFrame, tactics: pl.DataFrame, playbook: Playbook, cfg: Config
) -> tuple[pl.DataFrame, int, int]:
    """At most ``tasks.max_calls_per_customer`` calls (call, survey) and
    ``tasks.max_emails_per_customer`` e-mails (email, InMail, messenger) per customer.

    The tasks of the most urgent tactics are kept (tactic ``priority``, then playbook
    order, then step); the first kept task of each kind gets ``_also``: the labels of the
    tactics whose tasks of that kind were folded into it, so one call covers every reason.
    Returns the kept routed rows and the numbers of call and e-mail tasks folded.
    """
    language = cfg.language
    caps = {"call": cfg.tasks.max_calls_per_customer, "email": cfg.tasks.max_emails_per_customer}
    labels = pl.DataFrame(
        {
            "_t": list(range(len(playbook.tactics))),
            "_label": [
                _lower_first(t.label.get(language) or t.id.replace("_", " "))
                for t in playbook.tactics
            ],
        },
        schema={"_t": pl.Int32, "_label": pl.String},
    )
    kind = (
        pl.when(pl.col("channel").is_in(CALL_CHANNELS))
        .then(pl.lit("call"))
        .when(pl.col("channel").is_in(EMAIL_CHANNELS))
        .then(pl.lit("email"))
    )
    ranked = (
        routed.join(tactics.select("_t", "_tactic_priority"), on="_t", how="left")
        .join(labels, on="_t", how="left")
        .with_columns(kind.alias("_kind"))
        .sort("customer_id", "_kind", "_tactic_priority", "_t", "step")
        .with_columns(
            pl.int_range(pl.len()).over("customer_id", "_kind").alias("_rank"),
            pl.col("_kind").replace_strict(caps, default=None, return_dtype=pl.Int64).alias("_cap"),
        )
    )
    over = pl.col("_kind").is_not_null() & (pl.col("_rank") >= pl.col("_cap"))
    kept = ranked.filter(~over)
    folded = ranked.filter(over)
    keeper = kept.filter(pl.col("_kind").is_not_null() & (pl.col("_rank") == 0))
    also = (
        folded.join(
            keeper.select("customer_id", "_kind", pl.col("_label").alias("_own")),
            on=["customer_id", "_kind"],
            how="inner",
        )
        .filter(pl.col("_label") != pl.col("_own"))
        .group_by("customer_id", "_kind", maintain_order=True)
        .agg(pl.col("_label").unique(maintain_order=True).str.join(", ").alias("_labels"))
    )
    texts = _TEXTS[language]["also"]

    def sentence(kind: str) -> pl.Expr:
        before, after = texts[kind].split("{labels}")
        return pl.concat_str(pl.lit(before), pl.col("_labels"), pl.lit(after))

    also = also.with_columns(
        pl.when(pl.col("_kind") == "call")
        .then(sentence("call"))
        .otherwise(sentence("email"))
        .alias("_also"),
        pl.lit(0, dtype=pl.Int64).alias("_rank"),
    ).drop("_labels")
    kept = kept.join(also, on=["customer_id", "_kind", "_rank"], how="left")
    n_calls = folded.filter(pl.col("_kind") == "call").height
    n_emails = folded.filter(pl.col("_kind") == "email").height
    return kept.select(*routed.columns, "_also"), n_calls, n_emails


# -- the step -------------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"\{(" + "|".join(map(re.escape, PLACEHOLDERS)) + r")\}")


def _template_expr(template: str | None, values: dict[str, pl.Expr]) -> pl.Expr:
    """A template as one concat_str of its text pieces and placeholder values."""
    if template is None:
        return pl.lit(None, dtype=pl.String)
    pieces = _PLACEHOLDER.split(template)  # text, name, text, name, ..., text
    exprs = []
    for i, piece in enumerate(pieces):
        if i % 2:
            value = values[piece]
            if i + 1 < len(pieces) and pieces[i + 1].startswith("."):
                value = value.str.strip_suffix(".")  # "Фролова Е.Н." + "." -> one stop
            exprs.append(value)
        elif piece:
            exprs.append(pl.lit(piece))
    return pl.concat_str(exprs) if exprs else pl.lit(template)


def _used_placeholders(templates: list[str | None]) -> list[str]:
    """The placeholders any of ``templates`` names, in PLACEHOLDERS order."""
    used = {name for t in templates if t for name in _PLACEHOLDER.findall(t)}
    return [name for name in PLACEHOLDERS if name in used]


def _fill_all(
    frame: pl.DataFrame,
    columns: list[str],
    templates: list[str | None],
    values: dict[str, pl.Expr],
) -> list[pl.Series]:
    """For each of ``columns`` (an index into ``templates`` per row), each row's template
    with its placeholders filled, in the frame's row order.

    A playbook has a few dozen templates. The rows of each are filled with one concat_str
    of its pieces: a literal replace per placeholder over every row was six passes over
    ~0.4 KB of text per task (1.3 s for 0.6M tasks, against 0.1 s). The placeholder values
    are computed once for all ``columns``, and only those the templates name.
    """
    used = _used_placeholders(templates)
    narrow = frame.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"),
        *(pl.col(c) for c in columns),
        *(values[name].alias(f"_v_{name}") for name in used),
    )
    placeholders = {name: pl.col(f"_v_{name}") for name in used}
    out = []
    for column in columns:
        parts = [
            part.select("_row", _template_expr(templates[key], placeholders).alias("_out"))
            for (key,), part in narrow.partition_by(column, as_dict=True).items()
        ]
        out.append(
            pl.concat(parts).sort("_row").get_column("_out").alias(column)
            if parts
            else pl.Series(column, [], dtype=pl.String)
        )
    return out


def _greetings(frame: pl.DataFrame, language: str) -> pl.Series:
    """:func:`greeting_expr` of each row's contact_name, worked out once per distinct
    name (two regular expressions; a contact has several tasks), in the frame's order."""
    names = frame.select(pl.col("contact_name").unique())
    table = names.with_columns(greeting_expr(pl.col("contact_name"), language).alias("_greeting"))
    return (
        frame.select("contact_name")
        .join(table, on="contact_name", how="left", nulls_equal=True, maintain_order="left")
        .get_column("_greeting")
    )


def _route_without_contacts(plan: pl.DataFrame) -> pl.DataFrame:
    """Every task to the account on the step's first channel, with no named person."""
    return plan.select(
        "customer_id",
        "_t",
        "step",
        pl.col("_channels").list.first().alias("channel"),
        pl.lit(None, pl.UInt32).alias("_contact"),
    )


def assign_tactics_with_stats(
    segments: pl.LazyFrame,
    contacts: pl.LazyFrame | None,
    playbook: Playbook,
    cfg: Config,
    as_of: dt.date,
) -> TacticsResult:
    """Tasks, data_quality rows and the counts (see the module docstring)."""
    language = cfg.language
    texts = _TEXTS[language]
    seg = _prepare_segments(segments).collect()
    tactics = _tactic_table(playbook)
    steps, templates = _step_table(playbook, language)
    kept, n_matched, skipped_stop, skipped_cap = _match(
        seg, playbook, tactics, cfg.tasks.max_per_customer
    )
    # the control groups and variants: a customer held out gets no task from that tactic
    arms = assign_arms(kept, tactics, playbook, cfg.experiments.experiment, cfg.experiments.holdout)
    plan = (
        arms.filter(pl.col("_v") >= 0)
        .join(steps, on=["_t", "_v"], how="inner")
        .sort("customer_id", "_t", "step")
    )
    contact_frame = _prepare_contacts(contacts)
    # No contacts export at all: every task goes to the account through the tactic's own
    # channel with no named person; the owner finds the contact in the CRM. (With an
    # export, a customer missing from it is a data-quality finding.)
    routed = _route_without_contacts(plan) if contacts is None else _route(plan, contact_frame, cfg)
    key = ["customer_id", "_t", "step"]
    capped, merged_calls, merged_emails = cap_channels(routed, tactics, playbook, cfg)

    first_owner = (
        contact_frame.filter(pl.col("owner").is_not_null())
        .sort("_contact")
        .group_by("customer_id")
        .agg(pl.col("owner").first().alias("_customer_owner"))
    )
    period = task_period(as_of, cfg.tasks.period)
    date_text = pl.col("last_order_date").dt.strftime(
        "%d.%m.%Y" if language == "ru" else "%Y-%m-%d"
    )
    date_format = "%d.%m.%Y" if language == "ru" else "%Y-%m-%d"
    placeholders = {
        "company_name": pl.col("company_name").fill_null(texts["company_fallback"]),
        "contact_name": pl.col("contact_name").fill_null(texts["contact_fallback"]),
        "last_order_date": date_text.fill_null(texts["no_date"]),
        "months_since": pl.col("_months_since")
        .floor()
        .cast(pl.Int64)
        .cast(pl.String)
        .fill_null("0"),
        "orders": grouped_digits(pl.col("orders").fill_null(0), " " if language == "ru" else ","),
        "owner": pl.col("owner"),
        "greeting": pl.col("_greeting"),  # _greetings(), once per name
        "last_durable_date": pl.col("last_durable_date")
        .dt.strftime(date_format)
        .fill_null(date_text)
        .fill_null(texts["no_date"]),
        "time_since_last_order": months_words(
            pl.col("_months_since").floor().cast(pl.Int64), language
        ).fill_null(texts["no_date"]),
    }
    seg_cols = seg.select(
        "customer_id",
        "company_name",
        "segment",
        "abc",
        "priority",
        "reason",
        "red_flag_reasons",
        "last_order_date",
        "_months_since",
        "orders",
        "_value",
        "last_durable_date",
    )
    reason = (
        pl.when(pl.col("_flag_tactic") & (pl.col("red_flag_reasons").fill_null("") != ""))
        .then(
            pl.concat_str(
                [pl.col("red_flag_reasons"), pl.col("reason")], separator="; ", ignore_nulls=True
            )
        )
        .otherwise(pl.col("reason"))
    )

    # The rows are put in their final order on the narrow columns first; the wide text
    # columns (contact handles, customer texts, scripts) are then joined and filled once,
    # in that order: at 0.6M tasks this keeps a second copy of ~0.5 GB of text out of memory.
    ordered = (
        plan.lazy()
        .select(*key, "_role", "_day", "_script", "_offer", pl.col("_variant").alias("variant"))
        .join(capped.lazy(), on=key, how="inner")
        .join(
            tactics.lazy().select(
                "_t", "tactic", "_n_steps", "_tactic_priority", "_weight", "_flag_tactic"
            ),
            on="_t",
            how="left",
        )
        .join(seg.lazy().select("customer_id", "priority", "_value"), on="customer_id", how="left")
        .with_columns(
            (pl.col("_weight") * pl.col("_value") / pl.col("_n_steps"))
            .round(2)
            .alias("expected_value"),
        )
        .sort(
            ["priority", "_tactic_priority", "expected_value", "customer_id", "_t", "step"],
            descending=[True, False, True, False, False, False],
            nulls_last=True,
        )
        .drop("_weight", "_value", "_n_steps", "_tactic_priority")
    )
    tasks = (
        ordered.join(
            _contact_details(contact_frame), on="_contact", how="left", maintain_order="left"
        )
        .join(
            seg_cols.drop("priority", "_value").lazy(),
            on="customer_id",
            how="left",
            maintain_order="left",
        )
        .join(first_owner.lazy(), on="customer_id", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("contact_role", "_role").alias("contact_role"),
            pl.coalesce("_contact_owner", "_customer_owner", pl.lit(cfg.owners.default)).alias(
                "owner"
            ),
        )
        .with_columns(
            task_id_expr(pl.col("customer_id"), pl.col("tactic"), pl.col("step"), period).alias(
                "task_id"
            ),
            (pl.lit(as_of) + pl.duration(days=pl.col("_day"))).cast(pl.Date).alias("due_date"),
            reason.alias("reason"),
            pl.lit(STATUS_OPEN).alias("status"),
        )
        .select(
            *(c for c in TASK_COLUMNS if c not in ("script", "offer")),
            "_script",
            "_offer",
            "last_order_date",
            "_months_since",
            "orders",
            "last_durable_date",
            "_also",
        )
        .collect()
    )
    # scripts and offers are filled in the final order, from the placeholders' columns
    if "greeting" in _used_placeholders(templates):
        tasks = tasks.with_columns(_greetings(tasks, language))
    scripts, offers = _fill_all(tasks, ["_script", "_offer"], templates, placeholders)
    tasks = tasks.with_columns(
        pl.concat_str(scripts, pl.col("_also"), separator=" ", ignore_nulls=True).alias("script"),
        offers.alias("offer"),
    ).select([pl.col(c).cast(TASK_SCHEMA[c]) for c in TASK_COLUMNS])

    missing = plan.join(routed.select(key), on=key, how="anti")
    dq_rows = _unreachable_detail(missing, contact_frame, language)
    data_quality = (
        dq_rows.join(tactics.select("_t", "tactic"), on="_t", how="left")
        .join(seg.select("customer_id", "company_name", "segment"), on="customer_id", how="left")
        .sort("customer_id", "_t", "step")
        .select([pl.col(c).cast(pl.String) for c in DATA_QUALITY_COLUMNS])
    )

    task_customers = tasks.select("customer_id").unique()
    dq_only = (
        data_quality.select("customer_id")
        .unique()
        .join(task_customers, on="customer_id", how="anti")
    )
    held_out = arms.filter(pl.col("_v") < 0)
    held_only = (
        held_out.select("customer_id")
        .unique()
        .join(task_customers, on="customer_id", how="anti")
        .join(dq_only, on="customer_id", how="anti")
    )
    first_tasks = tasks.group_by("customer_id", "tactic").agg(
        pl.col("channel").sort_by("step").first(),
        pl.col("owner").sort_by("step").first().alias("_task_owner"),
    )
    assignments = (
        arms.join(tactics.select("_t", "tactic"), on="_t", how="left")
        .join(seg.select("customer_id", "segment"), on="customer_id", how="left")
        .join(first_owner, on="customer_id", how="left")
        .join(first_tasks, on=["customer_id", "tactic"], how="left")
        .select(
            "customer_id",
            "tactic",
            pl.col("_variant").alias("variant"),
            "segment",
            pl.coalesce("_task_owner", "_customer_owner", pl.lit(cfg.owners.default)).alias(
                "owner"
            ),
            "channel",
        )
        .sort("tactic", "customer_id")
        .select([pl.col(c).cast(t) for c, t in ASSIGNMENT_SCHEMA.items()])
    )
    stats = TacticsStats(
        customers=seg.height,
        matched=n_matched,
        with_tasks=task_customers.height,
        data_quality_only=dq_only.height,
        unmatched=seg.height - n_matched,
        tasks=tasks.height,
        data_quality_rows=data_quality.height,
        skipped_by_cap=skipped_cap,
        skipped_by_stop=skipped_stop,
        merged_by_call_cap=merged_calls,
        merged_by_email_cap=merged_emails,
        held_out=held_only.height,
        holdout_assignments=held_out.height,
        tasks_per_channel=_counts(tasks, "channel"),
        tasks_per_tactic=_counts(tasks, "tactic"),
    )
    if not stats.identity_holds():  # pragma: no cover - a bug, never bad input
        raise AssertionError(f"task count identity broken: {stats.identity_line()}")
    return TacticsResult(tasks, data_quality, stats, assignments)


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    counts = frame.group_by(column).len().sort(column)
    return {row[0]: row[1] for row in counts.iter_rows()}


def assign_tactics(
    segments: pl.LazyFrame,
    contacts: pl.LazyFrame | None,
    playbook: Playbook,
    cfg: Config,
    as_of: dt.date,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(tasks, data_quality): see :func:`assign_tactics_with_stats`."""
    result = assign_tactics_with_stats(segments, contacts, playbook, cfg, as_of)
    return result.tasks, result.data_quality


def is_call_task() -> pl.Expr:
    """True for a call task (call, survey); email, mail, inmail and chatbot are mail."""
    return pl.col("channel").is_in(CALL_CHANNELS)


def split_tasks(tasks: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(call tasks, mail tasks): see :func:`is_call_task`."""
    return tasks.filter(is_call_task()), tasks.filter(~is_call_task())


__all__ = [
    "TASK_COLUMNS",
    "DATA_QUALITY_COLUMNS",
    "TacticsResult",
    "TacticsStats",
    "assign_tactics",
    "assign_tactics_with_stats",
    "is_call_task",
    "split_tasks",
    "task_period",
]
