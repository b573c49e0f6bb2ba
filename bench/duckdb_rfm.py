"""Run duckdb_rfm.sql: ``python bench/duckdb_rfm.py ORDERS.csv OUT.csv``."""

import sys
from pathlib import Path

import duckdb


def main() -> None:
    orders, out = sys.argv[1], sys.argv[2]
    sql = (Path(__file__).with_name("duckdb_rfm.sql")).read_text(encoding="utf-8")
    quoted = {"orders": orders.replace("'", "''"), "out": out.replace("'", "''")}
    sql = sql.replace("{orders}", quoted["orders"]).replace("{out}", quoted["out"])
    duckdb.connect().execute(sql)


if __name__ == "__main__":
    main()
