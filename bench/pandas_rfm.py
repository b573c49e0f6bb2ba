"""The RFM job in pandas, as an analyst would write it: ``python bench/pandas_rfm.py IN OUT``.

Same result as duckdb_rfm.sql: orders netted per (customer, order id), orders with net > 0
counted, revenue = sum of all lines, recency from the latest order date, NTILE-like
quintile grades (1 = worst, 5 = best).
"""

import sys

import pandas as pd


def quintile(values: pd.Series) -> pd.Series:
    return pd.qcut(values.rank(method="first"), 5, labels=[1, 2, 3, 4, 5]).astype("Int64")


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    df = pd.read_csv(src, sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    df["amount"] = pd.to_numeric(
        df["Сумма, руб."]
        .str.replace(" ", "", regex=False)
        .str.replace("\xa0", "", regex=False)
        .str.replace(",", ".", regex=False),
        errors="coerce",
    )
    df["order_date"] = pd.to_datetime(df["Дата заказа"], format="%d.%m.%Y", errors="coerce")
    df["customer_id"] = df["ИНН"].str.strip()
    df = df[(df["customer_id"] != "") & df["amount"].notna() & df["order_date"].notna()]

    orders = (
        df.groupby(["customer_id", "Номер заказа"], sort=False)
        .agg(net=("amount", "sum"), order_date=("order_date", "min"))
        .reset_index()
    )
    orders["net"] = orders["net"].round(2)  # kopecks: a cancelled order nets to exactly 0
    as_of = orders["order_date"].max()
    bought = orders[orders["net"] > 0]
    customers = pd.DataFrame({"revenue": orders.groupby("customer_id")["net"].sum().round(2)})
    customers = customers.join(
        bought.groupby("customer_id").agg(
            orders=("net", "size"),
            first_order_date=("order_date", "min"),
            last_order_date=("order_date", "max"),
        )
    )
    customers["orders"] = customers["orders"].fillna(0).astype(int)
    customers["recency_days"] = (as_of - customers["last_order_date"]).dt.days.astype("Int64")
    graded = customers[customers["orders"] > 0]
    customers["r_score"] = quintile(-graded["recency_days"].astype(float))
    customers["f_score"] = quintile(graded["orders"])
    customers["m_score"] = quintile(graded["revenue"])
    customers = customers.reset_index().sort_values("customer_id")
    customers[
        [
            "customer_id",
            "orders",
            "revenue",
            "first_order_date",
            "last_order_date",
            "recency_days",
            "r_score",
            "f_score",
            "m_score",
        ]
    ].to_csv(out, index=False, date_format="%Y-%m-%d")


if __name__ == "__main__":
    main()
