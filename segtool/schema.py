"""Canonical column names and dtypes exchanged between steps (the workspace contract).

Every step reads and writes frames with these columns; the workspace parquet files have
exactly these schemas. Names are snake_case and double as CSV headers.
"""

from __future__ import annotations

import polars as pl

from segtool import vocabulary as V

# a column's dtype as the tables below write it: a class (pl.String) or an instance
# (pl.List(pl.String)); polars takes either
DType = pl.DataType | type[pl.DataType]

# -- orders.parquet: one row per accepted input line -----------------------------------------
ORDERS: dict[str, DType] = {
    "customer_id": pl.String,  # as written, trimmed: ИНН "0012" != "12"
    "company_name": pl.String,  # may be null
    "order_id": pl.String,  # null in the input -> "<customer_id>|<date>" (one order per day)
    "order_date": pl.Date,  # time of day dropped
    "amount": pl.Float64,  # line amount, negative for returns/cancellations
    "quantity": pl.Float64,
    "unit_price": pl.Float64,
    "category": pl.String,
    "product": pl.String,
    "margin": pl.Float64,  # line margin if the export has it (else from cost), else null
    "source_file": pl.String,
    "source_row": pl.Int64,  # as a spreadsheet counts: header = 1, first data row = 2
}

# -- what `run` keeps of the order lines when no workspace is asked for ---------------------
# Only the columns scoring reads, with repeated text dictionary-encoded and the order id
# replaced by a 64-bit key: about 60 bytes a line instead of ~300, so a 10M-line export
# fits in well under 2 GB (docs/performance.md).
LEAN_ORDERS: dict[str, DType] = {
    "customer_id": pl.Categorical,  # ~40 lines a customer: 4 bytes a line, integer group-bys
    "company_name": pl.Categorical,
    "order_id": pl.UInt64,  # segtool.steps.ingest.order_key of the ORDERS order_id
    "order_date": pl.Date,
    "amount": pl.Float64,
    "category": pl.Categorical,
    "margin": pl.Float64,
}

# -- contacts.parquet: one row per contact person (company columns repeated) -----------------
CONTACTS: dict[str, DType] = {
    "customer_id": pl.String,
    "company_name": pl.String,
    "contact_name": pl.String,
    "job_title": pl.String,
    "role": pl.String,  # purchaser | user | decision_maker | unknown
    "role_inferred": pl.Boolean,  # true when taken from the job title
    "phone": pl.String,
    "email": pl.String,
    "address": pl.String,
    "inmail": pl.String,  # LinkedIn/social handle
    "do_not_call": pl.Boolean,
    "do_not_email": pl.Boolean,
    "do_not_mail": pl.Boolean,
    "preferred_channel": pl.String,
    "company_type": pl.String,  # manufacturing | trading | shop | government | other
    "company_type_inferred": pl.Boolean,
    "turnover": pl.Float64,
    "headcount": pl.Float64,
    "region": pl.String,
    "owner": pl.String,  # account manager
    "source_file": pl.String,
    "source_row": pl.Int64,
}

# what `run` without a workspace keeps of the contacts: the columns score and routing read
# (at 10M lines the job titles, regions and source columns were ~65 MB of 0.35 GB)
LEAN_CONTACTS: dict[str, DType] = {
    k: v
    for k, v in CONTACTS.items()
    if k not in ("job_title", "role_inferred", "region", "source_file", "source_row")
}

# -- rejects.csv ---------------------------------------------------------------------------
REJECTS: dict[str, DType] = {
    "file": pl.String,
    "row": pl.Int64,
    "column": pl.String,
    "value": pl.String,
    "reason": pl.String,
}

# the codes, in order (defined with their labels in segtool.vocabulary)
ROLES = tuple(c for c in V.codes("contact_role") if c != "unknown")
STAGES = V.codes("stage")
ACTIVITIES = V.codes("activity")
SEGMENTS = V.codes("segment")
COMPANY_TYPES = V.codes("company_type")
SIZE_CLASSES = V.codes("size_class")

# -- segments.parquet: the contract columns (issue "score and classify"), in this order ----
SEGMENT_COLUMNS = [
    "customer_id",
    "company_name",
    "stage",
    "activity",
    "segment",
    "orders",
    "revenue",
    "first_order_date",
    "last_order_date",
    "recency_days",
    "tenure_days",
    "avg_order_value",
    "margin_rate",
    "cadence_days",
    "size",
    "grade_recency",
    "grade_frequency",
    "grade_size",
    "grade_margin",
    "abc",
    "priority",
    "red_flags",
    "reason",
]


def empty(schema: dict[str, DType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)
