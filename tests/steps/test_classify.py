"""classify(): segments, grades, flags and reasons of the hand-made customers of
test_score.py, every value worked out by hand in the comments below.

Buyers (orders > 0): 0012, 17, 0017, DUR, LATE, ASLEEP, DROP, CONS, SRV, OLD1 (n = 10).
Quantile grades, A = 0.2, B = 0.3: positions counted best-first, equal values take the
average of their positions; A if position ≤ 2, B if ≤ 5, else C.

recency_days ascending: SRV 0 (1); 0012 29, 17 29 (2, 3 -> 2.5: both B, the tie at the
  A/B boundary goes to B); DROP 90 (4); 0017 112 (5); LATE 121, CONS 259, OLD1 902,
  DUR 1217, ASLEEP 1512 (6..10) -> A: SRV; B: 0012, 17, DROP, 0017; C: the rest.
orders descending: 0012 5, ASLEEP 5 (1.5) A; DROP 3 (3), 0017 2, DUR 2 (4.5) B; 1s (8) C.
size descending: 0012 3e9 (1), 0017 500 (2) A; DROP 400, SRV 400 (3.5), 17 300 (5) B;
  LATE 200, CONS 200 (6.5), DUR/ASLEEP/OLD1 0 (9) C.
high_margin_share: SRV 0.75 (1) A; nine zeros (2..10 -> 6) C; B empty.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_score import AS_OF, contacts_frame, fixture_config, orders_frame  # noqa: E402

from segtool.errors import ConfigError  # noqa: E402
from segtool.schema import SEGMENT_COLUMNS  # noqa: E402
from segtool.steps.classify import classify, months_since  # noqa: E402
from segtool.steps.score import score  # noqa: E402

D = dt.date


def run(cfg=None, orders=None, contacts="default", as_of=AS_OF):
    cfg = cfg or fixture_config()
    orders = orders_frame() if orders is None else orders
    contacts = contacts_frame() if isinstance(contacts, str) else contacts
    scores = score(orders.lazy(), None if contacts is None else contacts.lazy(), cfg, as_of)
    segments, summary = classify(scores, cfg, orders.lazy(), as_of)
    frame = segments.collect()
    return {r["customer_id"]: r for r in frame.iter_rows(named=True)}, summary, frame


# customer: segment, stage, activity, abc, red_flags
EXPECTED = {
    "0012": ("regular_active", "regular", "active", "BAAC", ""),
    "17": ("new_active", "new", "active", "BCBC", ""),
    "0017": ("prospective_active", "prospective", "active", "BBAC", ""),
    "DUR": ("prospective_falling_asleep", "prospective", "falling_asleep", "CBCC", ""),
    "LATE": ("new_active", "new", "active", "CCCC", ""),
    "RET": ("no_purchase", None, None, None, ""),
    "ASLEEP": ("regular_asleep", "regular", "asleep", "CACC", "overdue"),
    "DROP": ("prospective_active", "prospective", "active", "BBBC", "revenue_drop,lost_category"),
    "CONS": ("new_falling_asleep", "new", "falling_asleep", "CCCC", ""),
    "SRV": ("new_active", "new", "active", "ACBA", ""),
    "OLD1": ("new_asleep", "new", "asleep", "CCCC", ""),
    "LEAD": ("lead", None, None, None, ""),
}

REASONS_RU = {
    "0012": "5 заказов; последний заказ в этом месяце: меньше 12 мес., клиент активен",
    "17": "1 заказ; последний заказ в этом месяце: меньше 12 мес., клиент активен",
    "0017": "2 заказа; последний заказ 3 мес. назад: меньше 12 мес., клиент активен",
    # the category that decided, by its label (its patterns without the wildcards)
    "DUR": "2 заказа; последний заказ 39 мес. назад (категория «Станки, Оборудование»): "
    "36 мес. и больше, клиент засыпает",
    "LATE": "1 заказ; последний заказ 3 мес. назад: меньше 12 мес., клиент активен",
    "RET": "все заказы возвращены или отменены (сумма заказов не больше нуля)",
    "ASLEEP": "5 заказов; последний заказ 49 мес. назад: 24 мес. и больше, клиент уснул",
    "DROP": "3 заказа; последний заказ 2 мес. назад: меньше 12 мес., клиент активен",
    "CONS": "1 заказ; последний заказ 8 мес. назад (категория «Расходники»): "
    "6 мес. и больше, клиент засыпает",
    "SRV": "1 заказ; последний заказ в этом месяце: меньше 12 мес., клиент активен",
    "OLD1": "1 заказ; последний заказ 29 мес. назад: 24 мес. и больше, клиент уснул",
    "LEAD": "есть в контактах, заказов нет",
}


def test_segments_grades_and_flags_by_hand():
    rows, _, _ = run()
    assert sorted(rows) == sorted(EXPECTED)
    for customer, expected in EXPECTED.items():
        row = rows[customer]
        actual = (row["segment"], row["stage"], row["activity"], row["abc"], row["red_flags"])
        assert actual == expected, customer
    assert not any(r["priority"] for r in rows.values())


def test_no_purchase_and_lead_have_no_grades_or_dates():
    rows, _, _ = run()
    for customer in ("RET", "LEAD"):
        row = rows[customer]
        assert row["last_order_date"] is None and row["first_order_date"] is None
        assert row["grade_recency"] is None and row["grade_margin"] is None
        assert row["priority"] is False


def test_reasons_in_russian():
    rows, _, _ = run()
    assert {c: r["reason"] for c, r in rows.items()} == REASONS_RU


def test_reasons_in_english():
    rows, _, _ = run(fixture_config(language="en"))
    assert rows["CONS"]["reason"] == (
        "1 order; last order 8 months ago (category “Расходники”): 6 months or more, falling asleep"
    )
    assert rows["OLD1"]["reason"] == "1 order; last order 29 months ago: 24 months or more, asleep"
    assert rows["0012"]["reason"] == "5 orders; last order this month: under 12 months, active"
    assert rows["LEAD"]["reason"] == "in contacts, no orders yet"


def test_red_flag_reasons():
    rows, _, _ = run()
    assert rows["DROP"]["lost_categories"] == "Расходники бумага"
    assert rows["DROP"]["red_flag_reasons"] == (
        "выручка за последние 12 мес. 400 ₽ против 2 000 ₽ за предыдущие 12 мес. (−80 %); "
        "больше не покупает: Расходники бумага (покупки были в предыдущие 12 мес., "
        "в последние 12 мес. их нет)"
    )
    # whole days: the usual gap of 30.5 days is said as 30 (rounded half to even)
    assert rows["ASLEEP"]["red_flag_reasons"] == (
        "нет заказа 1 512 дн. при обычном интервале 30 дн."
    )


def test_labels_and_strategies():
    rows, _, _ = run()
    assert rows["0012"]["segment_label_ru"] == "Постоянный активный"
    assert rows["0012"]["segment_label_en"] == "Regular active"
    assert rows["17"]["strategy"] == "onboarding"
    assert rows["DUR"]["strategy"] == "retention"
    assert rows["ASLEEP"]["strategy"] == "reactivation"
    assert rows["LEAD"]["strategy"] == "acquisition"


def test_thresholds_in_summary():
    _, summary, _ = run()
    t = summary["thresholds"]
    assert (t["recency"]["A"], t["recency"]["B"]) == (0, 112)
    assert t["recency"]["customers"] == {"A": 1, "B": 4, "C": 5}
    assert (t["frequency"]["A"], t["frequency"]["B"]) == (5, 2)
    assert (t["size"]["A"], t["size"]["B"]) == (500.0, 300.0)
    assert (t["margin"]["A"], t["margin"]["B"]) == (0.75, None)
    assert summary["customers_per_segment"]["new_active"] == 3
    assert summary["customers_per_segment"]["lead"] == 1
    assert summary["revenue_per_segment"]["new_active"] == 900.0
    assert summary["red_flags"] == {
        "revenue_drop": 1,
        "overdue": 1,
        "lost_category": 1,
        "probably_left": 0,
    }


def test_rfm_scores():
    rows, _, _ = run()
    recency = {c: rows[c]["recency_score"] for c in rows}
    assert recency == {
        "SRV": 5,
        "0012": 4,
        "17": 4,
        "DROP": 4,
        "0017": 3,
        "LATE": 3,
        "CONS": 2,
        "OLD1": 2,
        "DUR": 1,
        "ASLEEP": 1,
        "RET": None,
        "LEAD": None,
    }
    frequency = {c: rows[c]["frequency_score"] for c in rows if rows[c]["orders"]}
    assert frequency == {
        "0012": 5,
        "ASLEEP": 5,
        "DROP": 4,
        "0017": 3,
        "DUR": 3,
        "17": 2,
        "LATE": 2,
        "CONS": 2,
        "SRV": 2,
        "OLD1": 2,
    }
    monetary = {c: rows[c]["monetary_score"] for c in rows if rows[c]["orders"]}
    assert monetary == {
        "DUR": 5,
        "ASLEEP": 5,
        "DROP": 4,
        "0012": 3,
        "0017": 3,
        "SRV": 3,
        "17": 2,
        "LATE": 1,
        "CONS": 1,
        "OLD1": 1,
    }


def test_columns_contract():
    _, _, frame = run()
    assert frame.columns[: len(SEGMENT_COLUMNS)] == SEGMENT_COLUMNS
    for extra in (
        "segment_label_ru",
        "segment_label_en",
        "strategy",
        "company_type",
        "size_class",
        "period_category",
        "falling_asleep_after",
        "asleep_after",
        "revenue_last_window",
        "revenue_prev_window",
        "high_margin_share",
        "margin",
        "segment_extra",
    ):
        assert extra in frame.columns
    assert frame.schema["priority"] == pl.Boolean
    assert frame.schema["customer_id"] == pl.String


def test_no_margin_data_gives_dashes_not_a_crash():
    cfg = fixture_config(grades={"high_margin": {"categories": [], "min_margin_rate": 0.3}})
    rows, summary, _ = run(cfg)
    assert rows["SRV"]["abc"] == "ACB-"
    assert rows["SRV"]["grade_margin"] is None
    assert summary["thresholds"]["margin"]["no_data"] is True
    assert any("margin" in note for note in summary["notes"])


def test_priority_is_all_a_over_criteria_with_data():
    cfg = fixture_config(
        grades={
            "high_margin": {"categories": [], "min_margin_rate": 0.3},
            "shares": {"A": 0.5, "B": 0.3},
        }
    )
    rows, summary, _ = run(cfg)
    # A: position ≤ 5. recency: SRV 1, 0012/17 2.5, DROP 4, 0017 5; orders: 0012/ASLEEP 1.5,
    # DROP 3, 0017/DUR 4.5; size: 0012 1, 0017 2, DROP/SRV 3.5, 17 5.
    assert {c for c, r in rows.items() if r["priority"]} == {"0012", "DROP", "0017"}
    assert summary["priority"] == 3


def test_fixed_method():
    cfg = fixture_config(
        grades={
            "method": "fixed",
            "criteria": ["recency", "frequency"],
            "fixed": {"recency": {"A": 30, "B": 120}, "frequency": {"A": 5, "B": 2}},
        }
    )
    rows, summary, _ = run(cfg)
    assert rows["0012"]["abc"] == "AA"
    assert rows["LATE"]["abc"] == "CC"  # 121 days > 120
    assert rows["0017"]["abc"] == "BB"
    assert rows["SRV"]["grade_size"] is None  # not a criterion here
    assert summary["thresholds"]["recency"]["A"] == 30


def test_pareto_method():
    cfg = fixture_config(grades={"method": "pareto"})
    rows, summary, _ = run(cfg)
    # size: 0012 has a turnover of 3e9 (large -> A by the size-class map); the other nine
    # are graded by 12-month revenue among themselves, never against the turnover: total
    # 2000; 0017 500 (0 before), DROP/SRV 400 (500 before), 17 300 (1300 < 80 % = 1600)
    # -> A; LATE/CONS 200 (1600, not below 1600 but below 95 % = 1900) -> B; DUR, ASLEEP,
    # OLD1 have 0 -> C.
    assert rows["0012"]["grade_size"] == "A"
    size = {c: rows[c]["grade_size"] for c in rows if rows[c]["orders"] and c != "0012"}
    assert size == {
        "0017": "A",
        "DROP": "A",
        "SRV": "A",
        "17": "A",
        "LATE": "B",
        "CONS": "B",
        "DUR": "C",
        "ASLEEP": "C",
        "OLD1": "C",
    }
    assert summary["thresholds"]["size"]["sources"] == {"size_class": 1, "revenue_12m": 9}
    # orders: total 22; 5, 5 (before = 0 for both: tie) A; 3 (before 10) A; 2, 2 (before 13,
    # 59 %) A; 1s (before 17 = 77 %) A. Everything A: nobody is past 80 % before them.
    assert {rows[c]["grade_frequency"] for c in rows if rows[c]["orders"]} == {"A"}
    assert summary["thresholds"]["recency"]["method"] == "quantile"
    assert "pareto does not apply" in summary["thresholds"]["recency"]["note"]


def test_cadence_rule_makes_an_overdue_buyer_falling_asleep():
    lines = orders_frame().filter(pl.col("customer_id") == "0012")
    cfg = fixture_config(periods={"cadence": {"enabled": True, "min_orders": 3, "gaps": 2.0}})
    # 0012 at as_of 2024-10-30: recency 151 > 2 × 61.5 = 123, within 12 months
    rows, _, _ = run(cfg, orders=lines, contacts=None, as_of=D(2024, 10, 30))
    assert rows["0012"]["activity"] == "falling_asleep"
    assert rows["0012"]["activity_rule"] == "cadence"
    assert rows["0012"]["reason"] == (
        "5 заказов; последний заказ 4 мес. назад; обычно заказывает раз в 62 дн., "
        "пауза больше 2 таких интервалов, клиент засыпает"
    )
    rows, _, _ = run(cfg, orders=lines, contacts=None, as_of=D(2024, 8, 1))  # 61 days
    assert rows["0012"]["activity"] == "active"


def test_month_boundaries_are_calendar_months():
    # as_of 2024-03-31: minus 12 months = 2023-03-31, minus 24 = 2022-03-31
    lines = (
        orders_frame()
        .filter(pl.col("customer_id") == "17")
        .with_columns(pl.lit(D(2023, 3, 31)).alias("order_date"))
    )
    rows, _, _ = run(orders=lines, contacts=None, as_of=D(2024, 3, 31))
    assert rows["17"]["activity"] == "falling_asleep"  # exactly 12 months: ≤ cutoff
    rows, _, _ = run(
        orders=lines.with_columns(pl.lit(D(2023, 4, 1)).alias("order_date")),
        contacts=None,
        as_of=D(2024, 3, 31),
    )
    assert rows["17"]["activity"] == "active"
    # as_of 2024-02-29: minus 12 months = 2023-02-28 (clamped)
    rows, _, _ = run(
        orders=lines.with_columns(pl.lit(D(2023, 2, 28)).alias("order_date")),
        contacts=None,
        as_of=D(2024, 2, 29),
    )
    assert rows["17"]["activity"] == "falling_asleep"
    assert rows["17"]["months_since_last_order"] == 12


def test_months_since_matches_cutoffs():
    last = [D(2023, 1, 31), D(2023, 2, 28), D(2023, 3, 1), D(2024, 2, 29), D(2024, 3, 31)]
    as_of = D(2024, 3, 31)
    frame = pl.DataFrame({"last": last}).with_columns(m=months_since(pl.col("last"), as_of))
    assert frame["m"].to_list() == [14, 13, 12, 1, 0]
    as_of = D(2024, 2, 29)
    frame = pl.DataFrame({"last": [D(2024, 1, 31), D(2024, 1, 29), D(2023, 2, 28)]})
    assert frame.select(months_since(pl.col("last"), as_of)).to_series().to_list() == [0, 1, 12]


def test_segments_extra_first_match():
    cfg = fixture_config(
        segments_extra=[
            {
                "name": "vip",
                "label_ru": "VIP",
                "when": {"orders": [5, None], "recency_days": [0, 60]},
            },
            {"name": "sleeping", "when": {"segment": ["regular_asleep", "new_asleep", "x"]}},
            {"name": "other"},
        ]
    )
    rows, summary, _ = run(cfg)
    assert rows["0012"]["segment_extra"] == "vip"
    assert rows["0012"]["segment_extra_label"] == "VIP"
    assert rows["ASLEEP"]["segment_extra"] == "sleeping"
    assert rows["OLD1"]["segment_extra"] == "sleeping"
    assert rows["17"]["segment_extra"] == "other"
    assert rows["17"]["segment_extra_label"] == "other"
    assert rows["LEAD"]["segment_extra"] is None
    assert summary["customers_per_segment_extra"] == {"vip": 1, "sleeping": 2, "other": 7}


def test_segments_extra_unknown_metric_names_the_rule():
    cfg = fixture_config(segments_extra=[{"name": "x", "when": {"recency_day": [0, 1]}}])
    with pytest.raises(ConfigError, match="segments_extra\\[0\\].*recency_day.*recency_days"):
        run(cfg)


def test_without_orders_lost_category_is_skipped_and_noted():
    cfg = fixture_config()
    scores = score(orders_frame().lazy(), None, cfg, AS_OF)
    segments, summary = classify(scores, cfg, None, AS_OF)
    rows = {r["customer_id"]: r for r in segments.collect().iter_rows(named=True)}
    assert rows["DROP"]["red_flags"] == "revenue_drop"
    assert any("lost_category" in note for note in summary["notes"])


def test_rfm_classic_preset():
    from segtool.config import load_config

    preset = Path(__file__).resolve().parents[2] / "config" / "presets" / "rfm-classic.yaml"
    cfg = load_config(preset)
    cfg.periods.categories = fixture_config().periods.categories
    rows, summary, _ = run(cfg)
    # R/F/M scores from test_rfm_scores, first matching row of rfm's table
    expected = {
        "0012": "loyal_customers",  # 4/5/3: Champions needs M ≥ 4
        "SRV": "potential_loyalist",  # 5/2/3
        "17": "potential_loyalist",  # 4/2/2
        "LATE": "potential_loyalist",  # 3/2/1
        "ASLEEP": "at_risk",  # 1/5/5: At Risk comes before Can't Lose Them
        "DUR": "at_risk",  # 1/3/5
        "OLD1": "about_to_sleep",  # 2/2/1
        "CONS": "about_to_sleep",  # 2/2/1
        "RET": None,
        "LEAD": None,
    }
    assert {c: rows[c]["segment_extra"] for c in expected} == expected
    assert rows["ASLEEP"]["segment_extra_label"] == "At Risk"
    assert sum(summary["customers_per_segment_extra"].values()) == 10


def test_revenue_drop_needs_a_repeat_buyer():
    """One purchase followed by nothing is not a drop in engagement (a machine bought once);
    the same history with two orders is."""
    from test_score import TOOL

    day = AS_OF.replace(year=AS_OF.year - 1) - dt.timedelta(days=40)  # in the previous window
    once = orders_frame([("ONE", "o1", day, 5000.0, TOOL, None)])
    twice = orders_frame(
        [
            ("TWO", "t1", day, 2500.0, TOOL, None),
            ("TWO", "t2", day + dt.timedelta(days=7), 2500.0, TOOL, None),
        ]
    )
    rows, _, _ = run(orders=pl.concat([once, twice]), contacts=None)
    assert rows["ONE"]["red_flags"] == ""
    assert rows["TWO"]["red_flags"].split(",")[0] == "revenue_drop"
    cfg = fixture_config(red_flags={"revenue_drop": {"min_orders": 1}})
    rows, _, _ = run(cfg, orders=once, contacts=None)
    assert rows["ONE"]["red_flags"].startswith("revenue_drop")


def test_lost_categories_from_score_per_order_frame_are_the_same():
    from segtool.steps.classify import lost_categories
    from segtool.steps.score import PerOrder, per_order_frame

    cfg = fixture_config()
    cats = ["Расходники a", "Расходники b", "Станки c", "Инструмент"]
    prev_day, last_day = AS_OF - dt.timedelta(days=500), AS_OF - dt.timedelta(days=60)
    extra = []
    for k in range(12):
        cid = f"L{k:02d}"
        # the previous window: every category, one order each
        extra += [(cid, f"{cid}-p{j}", prev_day, 100.0, cat, None) for j, cat in enumerate(cats)]
        # the last window: the first k % 4 + 1 categories in one order ...
        extra += [(cid, f"{cid}-n", last_day, 80.0, cat, None) for cat in cats[: k % 4 + 1]]
        # ... and, for some, the next category in an order netting to zero: not bought
        if k % 3 == 0 and k % 4 < 3:
            extra += [
                (cid, f"{cid}-z", last_day, 40.0, cats[k % 4 + 1], None),
                (cid, f"{cid}-z", last_day, -40.0, cats[0], None),
            ]
    lines = orders_frame().vstack(orders_frame(extra)).lazy()
    alone = lost_categories(lines, cfg, AS_OF).collect().sort("customer_id")
    per_order = per_order_frame(lines, cfg, AS_OF)
    assert per_order.categories is not None  # a bit per category
    shared = lost_categories(lines, cfg, AS_OF, per_order).collect().sort("customer_id")
    assert alone.equals(shared)
    # more categories than bits: the orders' sums are shared, the lines read for the rest
    no_bits = PerOrder(per_order.frame.drop("_cats"), None)
    assert alone.equals(lost_categories(lines, cfg, AS_OF, no_bits).collect().sort("customer_id"))
    assert alone.filter(pl.col("customer_id") == "DROP")["lost_categories"].to_list() == [
        "Расходники бумага"
    ]
    lost = dict(alone.iter_rows())
    assert lost["L00"] == "Инструмент, Расходники b, Станки c"  # the zero-net order is no sale
    assert lost["L01"] == "Инструмент, Станки c"
    assert lost["L02"] == "Инструмент"
    assert "L03" not in lost  # bought every category in the last window too


def test_lost_categories_when_no_line_has_a_category():
    from segtool.steps.classify import lost_categories
    from segtool.steps.score import per_order_frame

    lines = orders_frame().with_columns(pl.lit(None, dtype=pl.String).alias("category")).lazy()
    cfg = fixture_config()
    per_order = per_order_frame(lines, cfg, AS_OF)
    assert per_order.categories == []
    assert lost_categories(lines, cfg, AS_OF, per_order).collect().height == 0
    assert lost_categories(lines, cfg, AS_OF).collect().height == 0
