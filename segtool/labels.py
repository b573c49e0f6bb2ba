"""Human labels for codes (read from :mod:`segtool.vocabulary`); reason templates.

Codes (``regular_asleep``, ``reactivation``...) are what files and scripts carry; labels
are what people read in workbooks and reasons, in the config's ``language`` (ru | en).
Strategies follow seed 003 (new active -> onboarding, prospective falling asleep ->
retention, regular asleep -> reactivation) and seed 002 (leads -> acquisition).
"""

from __future__ import annotations

from segtool import vocabulary as V

STAGE_LABELS: dict[str, dict[str, str]] = V.labels("stage")
ACTIVITY_LABELS: dict[str, dict[str, str]] = V.labels("activity")
SEGMENT_LABELS: dict[str, dict[str, str]] = V.labels("segment")

# segment -> strategy code (seed 003; seed 002 for leads)
SEGMENT_STRATEGY: dict[str, str] = {
    segment: strategy.code
    for segment in V.SEGMENT
    for strategy in V.STRATEGY.values()
    if segment in strategy.meta["segments"]
}

STRATEGY_LABELS: dict[str, dict[str, str]] = V.labels("strategy")

RED_FLAG_LABELS: dict[str, dict[str, str]] = V.labels("red_flag")

# -- reason sentences --------------------------------------------------------------------
# Placeholders are filled by polars expressions in segtool.steps.classify:
#   {orders} count with its noun, {ago} when the last order was ("in this month" or "N
#   months ago"), {period} months of the period that decided, {category} the clause about
#   the period category that decided (empty when the default periods decided), {cadence}
#   whole days, {gaps} factor. Money is written with thousands separators ("1 328 415 ₽").
# The subject of every sentence is the customer (клиент), never the company name, so no
# text depends on the grammatical gender or case of a name.
REASONS: dict[str, dict[str, str]] = {
    "ru": {
        "active": "{orders}; последний заказ {ago}{category}: меньше {period} мес., клиент активен",
        "falling_asleep": "{orders}; последний заказ {ago}{category}: {period} мес. и больше, "
        "клиент засыпает",
        "asleep": "{orders}; последний заказ {ago}{category}: {period} мес. и больше, клиент уснул",
        "cadence": "{orders}; последний заказ {ago}; обычно заказывает раз в {cadence} дн., "
        "пауза больше {gaps} таких интервалов, клиент засыпает",
        "lead": "есть в контактах, заказов нет",
        "no_purchase": "все заказы возвращены или отменены (сумма заказов не больше нуля)",
        "category": "; по категории «{name}» последняя покупка {ago}",
        "category_same": " (категория «{name}»)",
        "ago": "{months} мес. назад",
        "this_month": "в этом месяце",
    },
    "en": {
        "active": "{orders}; last order {ago}{category}: under {period} months, active",
        "falling_asleep": "{orders}; last order {ago}{category}: {period} months or more, "
        "falling asleep",
        "asleep": "{orders}; last order {ago}{category}: {period} months or more, asleep",
        "cadence": "{orders}; last order {ago}; usually orders every {cadence} days, the "
        "pause is over {gaps} such gaps: falling asleep",
        "lead": "in contacts, no orders yet",
        "no_purchase": "all orders returned or cancelled (net not above zero)",
        "category": "; last purchase in “{name}” {ago}",
        "category_same": " (category “{name}”)",
        "ago": "{months} months ago",
        "this_month": "this month",
    },
}

RED_FLAG_REASONS: dict[str, dict[str, str]] = {
    "ru": {
        "revenue_drop": "выручка за последние {window} мес. {last} против {prev} за "
        "предыдущие {window} мес. (−{drop} %)",
        "overdue": "нет заказа {days} дн. при обычном интервале {cadence} дн.",
        "lost_category": "больше не покупает: {categories} (покупки были в предыдущие "
        "{window} мес., в последние {window} мес. их нет)",
        "probably_left": "похоже, клиент ушёл: {orders} на {revenue}, обычно раз в {cadence} дн., "
        "но последний заказ {days} дн. назад; вероятность, что ещё покупает, {p}%",
    },
    "en": {
        "revenue_drop": "revenue in the last {window} months {last} vs {prev} in the "
        "previous {window} (−{drop}%)",
        "overdue": "no order for {days} days; usual gap {cadence} days",
        "lost_category": "stopped buying: {categories} (bought in the previous {window} "
        "months, not in the last {window})",
        "probably_left": "probably gone: {orders} worth {revenue}, usually one every "
        "{cadence} days, but the last was {days} days ago; {p}% chance they still buy",
    },
}

CURRENCY: dict[str, str] = {"ru": " ₽", "en": ""}  # after an amount in a sentence


def order_noun(language: str) -> tuple[str, str, str]:
    """Noun forms for 1 / 2-4 / 5+ orders (Russian plural rules; English uses two)."""
    if language == "ru":
        return ("заказ", "заказа", "заказов")
    return ("order", "orders", "orders")


def segment_label(segment: str, language: str) -> str:
    return SEGMENT_LABELS[segment][language]
