"""score(): every metric of a dozen hand-made customers, computed by hand below.

as_of = 2024-06-30. Calendar cutoffs used: as_of − 6 months = 2023-12-30,
− 12 = 2023-06-30, − 24 = 2022-06-30, − 36 = 2021-06-30, − 120 = 2014-06-30.
Revenue windows (W = 12): last (2023-06-30, 2024-06-30], previous (2022-06-30, 2023-06-30].
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from segtool.config import config_for_orders
from segtool.schema import CONTACTS, ORDERS
from segtool.steps.ingest import order_key
from segtool.steps.score import (
    count_after,
    glob_to_regex,
    globs_regex,
    months_before,
    per_order_frame,
    resolve_as_of,
    score,
)

D = dt.date
AS_OF = D(2024, 6, 30)

CONFIG = {
    "language": "ru",
    "periods": {
        "default": {"falling_asleep_after": 12, "asleep_after": 24},
        "categories": {
            "Станки": {
                "match": ["Станки*", "Оборудование*"],
                "falling_asleep_after": 36,
                "asleep_after": 120,
            },
            "Расходники": {"match": ["Расходники*"], "falling_asleep_after": 6, "asleep_after": 12},
        },
    },
    "grades": {"high_margin": {"categories": ["Услуги*"], "min_margin_rate": None}},
}

TOOL = "Инструмент"
# customer_id, order_id, order_date, amount, category, company_name
LINES = [
    # 0012: regular, 5 orders of 100; contacts give turnover 3e9
    ("0012", "o1", D(2023, 8, 1), 100.0, TOOL, "ООО Альфа"),
    ("0012", "o2", D(2023, 10, 1), 100.0, TOOL, "ООО Альфа"),
    ("0012", "o3", D(2023, 12, 1), 100.0, TOOL, "ООО Альфа"),
    ("0012", "o4", D(2024, 2, 1), 100.0, TOOL, "ООО Альфа"),
    ("0012", "o5", D(2024, 6, 1), 100.0, TOOL, "ООО Альфа"),
    # 17 (not 0017!): one order
    ("17", "p1", D(2024, 6, 1), 300.0, TOOL, "ИП Сидоров"),
    # 0017: two orders and a return order; order q1 has a later second line
    ("0017", "q1", D(2024, 1, 10), 250.0, TOOL, "ООО Гамма"),
    ("0017", "q1", D(2024, 1, 12), 150.0, TOOL, "ООО Гамма"),
    ("0017", "q2", D(2024, 3, 10), 200.0, TOOL, "ООО Гамма"),
    ("0017", "q3", D(2024, 4, 1), -100.0, TOOL, "ООО Гамма"),
    # DUR: durable goods keep it from being asleep
    ("DUR", "d1", D(2020, 1, 15), 100.0, TOOL, "Завод Бета"),
    ("DUR", "d2", D(2021, 3, 1), 5000.0, "Станки токарные", "Завод Бета"),
    # LATE: one order after as_of, ignored
    ("LATE", "l1", D(2024, 3, 1), 200.0, TOOL, "ТД Дельта"),
    ("LATE", "l2", D(2024, 8, 1), 999.0, TOOL, "ТД Дельта"),
    # RET: only returns (an order netting 0 and a negative order)
    ("RET", "r1", D(2024, 2, 1), 100.0, TOOL, None),
    ("RET", "r1", D(2024, 2, 1), -100.0, TOOL, None),
    ("RET", "r2", D(2024, 3, 1), -30.0, TOOL, None),
    # ASLEEP: regular, stopped in 2020
    *[("ASLEEP", f"a{m}", D(2020, m, 10), 1000.0, TOOL, None) for m in range(1, 6)],
    # DROP: revenue drop and a lost category
    ("DROP", "x1", D(2022, 9, 1), 1000.0, "Расходники бумага", None),
    ("DROP", "x2", D(2022, 12, 1), 1000.0, TOOL, None),
    ("DROP", "x3", D(2024, 4, 1), 400.0, TOOL, None),
    # CONS: consumables only (6/12 months)
    ("CONS", "c1", D(2023, 10, 15), 200.0, "Расходники", None),
    # SRV: high-margin services, ordered on as_of itself
    ("SRV", "s1", D(2024, 6, 30), 300.0, "Услуги монтажа", None),
    ("SRV", "s1", D(2024, 6, 30), 100.0, TOOL, None),
    # OLD1: no order id in the export: two lines on one day are one order
    ("OLD1", None, D(2022, 1, 10), 60.0, TOOL, None),
    ("OLD1", None, D(2022, 1, 10), 40.0, TOOL, None),
]


def orders_frame(lines=LINES) -> pl.DataFrame:
    rows = [
        {
            "customer_id": c,
            "order_id": o,
            "order_date": d,
            "amount": a,
            "category": cat,
            "company_name": name,
        }
        for c, o, d, a, cat, name in lines
    ]
    frame = pl.DataFrame(rows, schema={k: ORDERS[k] for k in rows[0]})
    return frame.with_columns(
        [pl.lit(None, dtype=t).alias(k) for k, t in ORDERS.items() if k not in rows[0]]
    ).select(list(ORDERS))


def contacts_frame() -> pl.DataFrame:
    rows = [
        {
            "customer_id": "0012",
            "company_name": "ООО Альфа",
            "contact_name": "Иванов",
            "company_type": "manufacturing",
            "company_type_inferred": False,
            "turnover": 3e9,
        },
        {
            "customer_id": "LEAD",
            "company_name": "ГБУ Школа 5",
            "contact_name": "Петрова",
            "company_type": "government",
            "company_type_inferred": True,
            "turnover": None,
        },
    ]
    frame = pl.DataFrame(rows, schema={k: CONTACTS[k] for k in rows[0]})
    return frame.with_columns(
        [pl.lit(None, dtype=t).alias(k) for k, t in CONTACTS.items() if k not in rows[0]]
    ).select(list(CONTACTS))


def fixture_config(**overrides):
    data = {**CONFIG, **overrides}
    return config_for_orders("orders.csv", **data)


def scored() -> dict[str, dict]:
    frame = score(orders_frame().lazy(), contacts_frame().lazy(), fixture_config(), AS_OF)
    rows = frame.collect()
    return {row["customer_id"]: row for row in rows.iter_rows(named=True)}


# customer: orders, revenue, first, last, recency, tenure, avg, cadence,
#           last window, previous window, size, size_source, size_class, period category
EXPECTED = {
    "0012": (
        5,
        500.0,
        D(2023, 8, 1),
        D(2024, 6, 1),
        29,
        334,
        100.0,
        61.5,
        500.0,
        0.0,
        3e9,
        "turnover",
        "large",
        None,
    ),
    "17": (
        1,
        300.0,
        D(2024, 6, 1),
        D(2024, 6, 1),
        29,
        29,
        300.0,
        None,
        300.0,
        0.0,
        300.0,
        "revenue_12m",
        "medium",
        None,
    ),
    "0017": (
        2,
        500.0,
        D(2024, 1, 10),
        D(2024, 3, 10),
        112,
        172,
        250.0,
        60.0,
        500.0,
        0.0,
        500.0,
        "revenue_12m",
        "large",
        None,
    ),
    "DUR": (
        2,
        5100.0,
        D(2020, 1, 15),
        D(2021, 3, 1),
        1217,
        1628,
        2550.0,
        411.0,
        0.0,
        0.0,
        0.0,
        "revenue_12m",
        "small",
        "Станки",
    ),
    "LATE": (
        1,
        200.0,
        D(2024, 3, 1),
        D(2024, 3, 1),
        121,
        121,
        200.0,
        None,
        200.0,
        0.0,
        200.0,
        "revenue_12m",
        "medium",
        None,
    ),
    "RET": (
        0,
        -30.0,
        None,
        None,
        None,
        None,
        None,
        None,
        -30.0,
        0.0,
        -30.0,
        "revenue_12m",
        None,
        None,
    ),
    "ASLEEP": (
        5,
        5000.0,
        D(2020, 1, 10),
        D(2020, 5, 10),
        1512,
        1633,
        1000.0,
        30.5,
        0.0,
        0.0,
        0.0,
        "revenue_12m",
        "small",
        None,
    ),
    "DROP": (
        3,
        2400.0,
        D(2022, 9, 1),
        D(2024, 4, 1),
        90,
        668,
        800.0,
        289.0,
        400.0,
        2000.0,
        400.0,
        "revenue_12m",
        "large",
        None,
    ),
    "CONS": (
        1,
        200.0,
        D(2023, 10, 15),
        D(2023, 10, 15),
        259,
        259,
        200.0,
        None,
        200.0,
        0.0,
        200.0,
        "revenue_12m",
        "medium",
        "Расходники",
    ),
    "SRV": (
        1,
        400.0,
        D(2024, 6, 30),
        D(2024, 6, 30),
        0,
        0,
        400.0,
        None,
        400.0,
        0.0,
        400.0,
        "revenue_12m",
        "large",
        None,
    ),
    "OLD1": (
        1,
        100.0,
        D(2022, 1, 10),
        D(2022, 1, 10),
        902,
        902,
        100.0,
        None,
        0.0,
        0.0,
        0.0,
        "revenue_12m",
        "small",
        None,
    ),
    "LEAD": (0, 0.0, None, None, None, None, None, None, 0.0, 0.0, None, None, None, None),
}
FIELDS = (
    "orders",
    "revenue",
    "first_order_date",
    "last_order_date",
    "recency_days",
    "tenure_days",
    "avg_order_value",
    "cadence_days",
    "revenue_last_window",
    "revenue_prev_window",
    "size",
    "size_source",
    "size_class",
    "period_category",
)


def test_every_metric_of_every_customer():
    rows = scored()
    assert sorted(rows) == sorted(EXPECTED)
    for customer, expected in EXPECTED.items():
        actual = tuple(rows[customer][f] for f in FIELDS)
        assert actual == expected, customer


def test_periods_of_the_category_that_applied():
    rows = scored()
    assert (rows["DUR"]["falling_asleep_after"], rows["DUR"]["asleep_after"]) == (36, 120)
    assert (rows["CONS"]["falling_asleep_after"], rows["CONS"]["asleep_after"]) == (6, 12)
    # consumables and tools: the default (12/24) is the slower cycle
    assert (rows["DROP"]["falling_asleep_after"], rows["DROP"]["asleep_after"]) == (12, 24)
    assert rows["LEAD"]["falling_asleep_after"] is None


def test_leads_names_and_types():
    rows = scored()
    assert rows["LEAD"]["is_lead"] is True
    assert not any(rows[c]["is_lead"] for c in rows if c != "LEAD")
    assert rows["LEAD"]["company_name"] == "ГБУ Школа 5"
    assert (rows["LEAD"]["company_type"], rows["LEAD"]["company_type_inferred"]) == (
        "government",
        True,
    )
    assert (rows["0012"]["company_type"], rows["0012"]["company_type_inferred"]) == (
        "manufacturing",
        False,
    )
    assert (rows["17"]["company_type"], rows["17"]["company_type_inferred"]) == ("shop", True)
    assert rows["DUR"]["company_type"] == "manufacturing"  # "Завод" in the name
    assert rows["0017"]["company_type"] == "other"
    assert rows["0012"]["size_class_inferred"] is False
    assert rows["17"]["size_class_inferred"] is True


def test_margin_absent_and_high_margin_share_from_categories():
    rows = scored()
    assert all(rows[c]["margin"] is None and rows[c]["margin_rate"] is None for c in rows)
    assert rows["SRV"]["high_margin_share"] == 0.75  # 300 of 400 in "Услуги*"
    assert rows["0012"]["high_margin_share"] == 0.0
    assert rows["RET"]["high_margin_share"] is None  # net revenue not positive


def test_margin_from_the_margin_column():
    lines = orders_frame().with_columns(
        pl.when(pl.col("customer_id") == "17").then(120.0).otherwise(None).alias("margin")
    )
    cfg = fixture_config(grades={"high_margin": {"min_margin_rate": 0.3}})
    rows = {
        r["customer_id"]: r
        for r in score(lines.lazy(), None, cfg, AS_OF).collect().iter_rows(named=True)
    }
    assert rows["17"]["margin"] == 120.0
    assert rows["17"]["margin_rate"] == 0.4
    assert rows["17"]["high_margin_share"] == 1.0  # its only line has rate 0.4 > 0.3
    assert rows["0012"]["margin"] is None
    assert rows["0012"]["high_margin_share"] is None  # no categories, no margin: unknown


def test_orders_after_as_of_are_counted_and_ignored():
    assert count_after(orders_frame().lazy(), AS_OF) == 1
    assert count_after(orders_frame().lazy(), D(2024, 7, 31)) == 1
    assert count_after(orders_frame().lazy(), D(2024, 8, 1)) == 0
    assert scored()["LATE"]["revenue"] == 200.0


def test_resolve_as_of_defaults_to_latest_order_date():
    assert resolve_as_of(orders_frame().lazy(), None) == D(2024, 8, 1)
    assert resolve_as_of(orders_frame().lazy(), D(2020, 1, 1)) == D(2020, 1, 1)


def test_without_contacts_every_buyer_has_a_row_and_no_leads():
    frame = score(orders_frame().lazy(), None, fixture_config(), AS_OF).collect()
    assert frame["customer_id"].to_list() == sorted(set(EXPECTED) - {"LEAD"})
    assert frame.filter(pl.col("customer_id") == "0012")["size"].item() == 500.0


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2024, 3, 31), 1, D(2024, 2, 29)),
        (D(2024, 3, 31), 13, D(2023, 2, 28)),
        (D(2024, 2, 29), 12, D(2023, 2, 28)),
        (D(2024, 6, 30), 24, D(2022, 6, 30)),
        (D(2024, 1, 15), 1, D(2023, 12, 15)),
        (D(2024, 5, 31), 3, D(2024, 2, 29)),
    ],
)
def test_months_before_clamps_to_month_end_like_polars(day, months, expected):
    assert months_before(day, months) == expected
    polars_result = pl.select(pl.lit(day).dt.offset_by(f"-{months}mo")).item()
    assert polars_result == expected


def test_globs():
    assert glob_to_regex("Станки*") == "Станки.*"
    regex = globs_regex(["Станки*", "Обору?ование", "[!x]yz"])
    series = pl.Series(["Станки токарные", "станки", "Оборудование", "ayz", "xyz", "Мои Станки"])
    assert series.str.contains(regex).to_list() == [True, True, True, True, False, False]


# -- cross-check against SQL written independently --------------------------------------
def _sql_metrics(lines: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    duckdb = pytest.importorskip("duckdb")
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lines.parquet"
        lines.select("customer_id", "order_id", "order_date", "amount").write_parquet(path)
        con = duckdb.connect()
        con.execute(f"CREATE TABLE lines AS SELECT * FROM read_parquet('{path}')")
    query = f"""
        WITH kept AS (
            SELECT customer_id,
                   COALESCE(order_id, customer_id || '|' || CAST(order_date AS VARCHAR)) AS oid,
                   order_date, amount
            FROM lines WHERE order_date <= DATE '{as_of.isoformat()}'
        ),
        per_order AS (
            SELECT customer_id, oid, ROUND(SUM(amount), 2) AS net, MIN(order_date) AS odate
            FROM kept GROUP BY customer_id, oid
        ),
        dates AS (
            SELECT DISTINCT customer_id, odate FROM per_order WHERE net > 0
        ),
        gaps AS (
            SELECT customer_id,
                   odate - LAG(odate) OVER (PARTITION BY customer_id ORDER BY odate) AS gap
            FROM dates
        ),
        cadence AS (
            SELECT customer_id, MEDIAN(gap) AS cadence_days FROM gaps
            WHERE gap IS NOT NULL GROUP BY customer_id
        )
        SELECT p.customer_id,
               CAST(COUNT(*) FILTER (WHERE net > 0) AS BIGINT) AS orders,
               SUM(net) AS revenue,
               MAX(odate) FILTER (WHERE net > 0) AS last_order_date,
               CAST(DATE '{as_of.isoformat()}' - MAX(odate) FILTER (WHERE net > 0) AS BIGINT)
                   AS recency_days,
               CAST(DATE '{as_of.isoformat()}' - MIN(odate) FILTER (WHERE net > 0) AS BIGINT)
                   AS tenure_days,
               ANY_VALUE(c.cadence_days) AS cadence_days
        FROM per_order p LEFT JOIN cadence c USING (customer_id)
        GROUP BY p.customer_id ORDER BY p.customer_id
    """
    result = con.sql(query)
    return pl.DataFrame(result.fetchall(), schema=result.columns, orient="row")


def _compare_with_sql(lines: pl.DataFrame, cfg, as_of: dt.date) -> int:
    ours = (
        score(lines.lazy(), None, cfg, as_of)
        .collect()
        .select(
            "customer_id",
            "orders",
            "revenue",
            "last_order_date",
            "recency_days",
            "tenure_days",
            "cadence_days",
        )
        .sort("customer_id")
    )
    theirs = _sql_metrics(lines, as_of).with_columns(
        pl.col("cadence_days").cast(pl.Float64), pl.col("revenue").cast(pl.Float64)
    )
    assert ours["customer_id"].to_list() == theirs["customer_id"].to_list()
    for column in ("orders", "last_order_date", "recency_days", "tenure_days", "cadence_days"):
        assert ours[column].to_list() == theirs[column].to_list(), column
    difference = (ours["revenue"] - theirs["revenue"]).abs().max()
    assert difference < 1e-6
    return ours.height


def generated_lines(n_lines: int, n_customers: int, seed: int = 7) -> pl.DataFrame:
    import random

    rng = random.Random(seed)
    rows = []
    for _ in range(n_lines):
        customer = f"{rng.randrange(n_customers):05d}"
        order = rng.randrange(40)
        day = D(2021, 1, 1) + dt.timedelta(days=rng.randrange(1400))
        amount = float(rng.choice([rng.randrange(-500, 0), rng.randrange(0, 5000)]))
        rows.append(
            (customer, None if order == 0 else f"{customer}-{order}", day, amount, TOOL, None)
        )
    return orders_frame(rows)


def test_cross_check_with_duckdb_on_generated_lines():
    lines = generated_lines(5000, 300)
    assert (
        _compare_with_sql(lines, fixture_config(), D(2024, 6, 30))
        == lines.filter(pl.col("order_date") <= D(2024, 6, 30))["customer_id"].n_unique()
    )


def test_cross_check_with_duckdb_on_sample_data():
    from pathlib import Path

    ingest_module = pytest.importorskip("segtool.steps.ingest")
    config_path = Path(__file__).resolve().parents[2] / "config" / "segtool.yaml"
    sample = Path(__file__).resolve().parents[2] / "sample_data" / "orders.csv"
    if not sample.exists() or not config_path.exists():
        pytest.skip("sample_data/orders.csv not generated yet")
    from segtool.config import load_config

    cfg = load_config(config_path)
    lines = ingest_module.ingest(cfg).orders
    as_of = resolve_as_of(lines.lazy(), None)
    assert _compare_with_sql(lines, cfg, as_of) == lines["customer_id"].n_unique()


def test_default_as_of_ignores_a_mistyped_future_date():
    """One line dated 2099 must not become the analysis date: the default is the latest
    order date not after today, and the 2099 line is counted as after as_of."""
    from segtool.steps.score import count_after, resolve_as_of

    lines = pl.DataFrame(
        {
            "customer_id": ["1", "1", "2"],
            "order_id": ["a", "b", "c"],
            "order_date": [D(2026, 10, 1), D(2026, 10, 20), D(2099, 10, 20)],
            "amount": [1.0, 2.0, 3.0],
        }
    ).lazy()
    today = D(2026, 11, 23)
    assert resolve_as_of(lines, None, today=today) == D(2026, 10, 20)
    assert count_after(lines, D(2026, 10, 20)) == 1
    assert resolve_as_of(lines, D(2099, 12, 31), today=today) == D(2099, 12, 31)  # explicit wins
    only_future = lines.filter(pl.col("order_date") > today)
    assert resolve_as_of(only_future, None, today=today) == today


def test_no_accepted_lines_names_the_source():
    from segtool.errors import InputError
    from segtool.steps.score import resolve_as_of

    empty = pl.DataFrame(schema={"customer_id": pl.String, "order_date": pl.Date}).lazy()
    with pytest.raises(InputError, match="orders.csv: no order lines accepted"):
        resolve_as_of(empty, None, source="orders.csv")


def test_an_order_is_after_as_of_only_when_its_first_line_is():
    """An order is dated by its earliest line: one that starts on as_of and has a line
    after it is not "after as_of"; one that starts after it is, once, however many lines
    it has; the same order number at another customer is another order."""
    from segtool.steps.score import count_after

    lines = pl.DataFrame(
        {
            "customer_id": ["1", "1", "1", "1", "2", "3"],
            "order_id": ["a", "a", "b", "b", "b", "c"],
            "order_date": [
                D(2026, 10, 20),
                D(2026, 10, 25),
                D(2026, 10, 21),
                D(2026, 10, 22),
                D(2026, 10, 21),
                D(2026, 10, 1),
            ],
            "amount": [1.0] * 6,
        }
    ).lazy()
    assert count_after(lines, D(2026, 10, 20)) == 2  # 1/b and 2/b
    assert count_after(lines, D(2026, 10, 19)) == 3  # 1/a too
    assert count_after(lines, D(2026, 10, 31)) == 0


def test_per_order_frame_sets_a_bit_per_period_category_with_a_positive_line():
    # candidates, slowest last: Расходники (6/12) bit 0, the default (12/24) bit 1,
    # Станки (36/120) bit 2
    per_order = per_order_frame(orders_frame().lazy(), fixture_config(), AS_OF)
    frame = per_order.frame
    by_order = {
        (row["customer_id"], row["order_id"]): row
        for row in frame.with_columns(pl.col("customer_id").cast(pl.String)).iter_rows(named=True)
    }
    keys = {  # order ids as score keys them
        name: key
        for name, key in orders_frame()
        .select("order_id", order_key(pl.col("order_id"), pl.col("order_date")))
        .iter_rows()
        if name
    }
    orders = [("DUR", "d1"), ("DUR", "d2"), ("CONS", "c1"), ("DROP", "x1"), ("SRV", "s1")]
    orders += [("RET", "r1"), ("RET", "r2")]

    def bits(column: str) -> dict[str, int]:
        return {order: by_order[(c, keys[order])][column] for c, order in orders}

    assert bits("_ranks") == {
        "d1": 0b010,
        "d2": 0b100,
        "c1": 0b001,
        "x1": 0b001,
        "s1": 0b010,  # services and tools are both the default's
        "r1": 0b010,  # +100 and -100: a positive line, though the order nets to 0
        "r2": 0,  # a return only
    }
    # categories, sorted, one bit each: Инструмент 0, Расходники 1, Расходники бумага 2,
    # Станки токарные 3, Услуги монтажа 4
    assert per_order.categories == [
        TOOL,
        "Расходники",
        "Расходники бумага",
        "Станки токарные",
        "Услуги монтажа",
    ]
    assert bits("_cats") == {"d1": 1, "d2": 8, "c1": 2, "x1": 4, "s1": 16 + 1, "r1": 1, "r2": 0}
    assert by_order[("RET", keys["r1"])]["net"] == 0.0
    assert by_order[("0017", keys["q1"])]["order_date"] == D(2024, 1, 10)  # its first line
    assert by_order[("0017", keys["q1"])]["raw_net"] == 400.0
    assert ("LATE", keys["l2"]) not in by_order  # after as_of


def test_score_with_a_shared_per_order_frame_is_the_same():
    cfg = fixture_config()
    lines = orders_frame(
        LINES
        + [
            (
                f"G{i % 40:02d}",
                f"g{i % 97}",
                D(2022, 1, 1) + dt.timedelta(days=(i * 37) % 900),
                float((i * 53) % 700 - 150),
                cat,
                None,
            )
            for i, cat in enumerate(["Станки x", "Расходники y", TOOL, "Услуги z"] * 150)
        ]
    )
    alone = score(lines.lazy(), contacts_frame().lazy(), cfg, AS_OF).collect()
    shared = score(
        lines.lazy(), contacts_frame().lazy(), cfg, AS_OF, per_order_frame(lines.lazy(), cfg, AS_OF)
    ).collect()
    assert alone.equals(shared)
    assert alone["period_category"].n_unique() >= 3


def test_more_period_categories_than_a_bit_set_holds_is_a_config_error():
    from pydantic import ValidationError

    categories = {
        f"c{i}": {"match": [f"c{i}*"], "falling_asleep_after": 6, "asleep_after": 12}
        for i in range(64)
    }
    with pytest.raises(ValidationError, match="at most 63"):
        fixture_config(periods={"categories": categories})


def test_repeat_order_value_sums_cents_so_it_is_the_same_every_run():
    # repeat days 0.10 and 0.20: the float sum is 0.30000000000000004, its mean
    # 0.15000000000000002; summed to cents it is 0.15 whatever order the threads add in
    lines = [
        ("RV", "v1", D(2024, 1, 10), 5.0, TOOL, None),
        ("RV", "v2", D(2024, 2, 10), 0.1, TOOL, None),
        ("RV", "v3", D(2024, 3, 10), 0.2, TOOL, None),
    ]
    row = (
        score(orders_frame(lines).lazy(), None, fixture_config(), AS_OF)
        .collect()
        .row(0, named=True)
    )
    assert row["order_days"] == 3
    assert row["repeat_order_value"] == 0.15
