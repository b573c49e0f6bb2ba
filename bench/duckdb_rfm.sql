-- Per-customer recency / frequency / monetary and NTILE(5) grades, straight from the raw
-- export: the floor for "read the file and group it".
-- Orders are netted as in DESIGN.md: lines grouped by (customer, order id); an order counts
-- when its net > 0; revenue is the sum of all the customer's lines (returns included);
-- dates are those of orders with net > 0; as_of is the latest order date in the file.
-- Placeholders {orders} and {out} are filled in by duckdb_rfm.py.
COPY (
    WITH lines AS (
        SELECT
            trim("ИНН") AS customer_id,
            "Номер заказа" AS order_id,
            try_strptime("Дата заказа", '%d.%m.%Y')::DATE AS order_date,
            TRY_CAST(replace(replace(replace("Сумма, руб.", ' ', ''), chr(160), ''), ',', '.')
                     AS DOUBLE) AS amount
        FROM read_csv('{orders}', delim = ';', header = true, quote = '"', all_varchar = true)
    ),
    valid AS (
        SELECT * FROM lines
        WHERE customer_id <> '' AND order_date IS NOT NULL AND amount IS NOT NULL
    ),
    orders AS (
        SELECT customer_id, order_id, min(order_date) AS order_date, round(sum(amount), 2) AS net
        FROM valid
        GROUP BY customer_id, order_id
    ),
    customers AS (
        SELECT
            customer_id,
            count(*) FILTER (WHERE net > 0) AS orders,
            round(sum(net), 2) AS revenue,
            min(order_date) FILTER (WHERE net > 0) AS first_order_date,
            max(order_date) FILTER (WHERE net > 0) AS last_order_date
        FROM orders
        GROUP BY customer_id
    ),
    scored AS (
        SELECT
            *,
            (SELECT max(order_date) FROM orders) - last_order_date AS recency_days
        FROM customers
    ),
    graded AS (
        SELECT
            *,
            NTILE(5) OVER (ORDER BY recency_days DESC) AS r_score,
            NTILE(5) OVER (ORDER BY orders) AS f_score,
            NTILE(5) OVER (ORDER BY revenue) AS m_score
        FROM scored
        WHERE orders > 0
    )
    SELECT s.customer_id, s.orders, s.revenue, s.first_order_date, s.last_order_date,
           s.recency_days, g.r_score, g.f_score, g.m_score
    FROM scored s LEFT JOIN graded g USING (customer_id)
    ORDER BY s.customer_id
) TO '{out}' (HEADER, DELIMITER ',');
