"""Ingest: exports → canonical orders and contacts, plus a reject record for every row not used.

For each file: rows read = rows accepted + rows rejected + exact duplicates (checked).
Duplicates are taken out first (a row identical to an earlier one in every column as
written); the remaining rows are accepted or rejected with the first reason that applies.
"""

from __future__ import annotations

import glob as globmod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from segtool import errors as E
from segtool.config import Config
from segtool.errors import (
    E_CONFIG_COLUMN,
    E_INPUT_CHANGED,
    E_INPUT_COLUMNS,
    E_INPUT_MISSING,
    E_INPUT_NO_ROWS,
    E_INPUT_READ,
    ConfigError,
    InputError,
)
from segtool.io import aliases, parse, sniff
from segtool.io.readers import (
    EXTRA,
    RAGGED,
    ROW,
    RawTable,
    quotes_counted,
    read_table,
    scan_bytes,
)
from segtool.report import InputStats
from segtool.schema import CONTACTS, LEAN_CONTACTS, LEAN_ORDERS, ORDERS, REJECTS

SAMPLE_ROWS = 2000


@dataclass
class FileFormat:
    """What was detected for one file (shown by ``inspect`` and recorded in the manifest)."""

    name: str
    mapping: dict[str, str]
    decimal: str | None = None
    date_order: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int = 1
    unmapped: list[str] = field(default_factory=list)
    file_type: str = "CSV"
    doubted_dates: list[str] = field(default_factory=list)  # separators read as ambiguous
    currency: str | None = None  # the file's currency (header or most marked cells)
    rates: dict[str, float] | None = None  # inputs.formats.currency
    grouped: bool = False  # customer on a header line, order lines under it
    inn: bool = False  # the id column is an ИНН: 9/11 digits get their leading zero back
    names_as_ids: bool = False  # no id column: the company name is the id
    id_fixes: dict[str, int] = field(default_factory=dict)  # ids folded, by kind of fix
    several_names: list[str] = field(default_factory=list)  # ids written with two names
    date_evidence: dict[str, int] = field(default_factory=dict)
    unclosed_quote_line: int | None = None  # a quote that never closes: read line by line


# one row check: the failing condition, its reject reason and the column it names
Check = tuple[pl.Expr, str, str | None]
# a file's parse plan: the frame, its checks, the output columns and the margin (orders)
Plan = tuple[pl.LazyFrame, list[Check], list[pl.Expr], pl.Expr | None]


@dataclass
class IngestResult:
    orders: pl.DataFrame
    contacts: pl.DataFrame
    rejects: pl.DataFrame
    stats: list[InputStats]
    formats: list[FileFormat] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # for information: hidden by --quiet
    notes: list[str] = field(default_factory=list)  # console lines on ids and matching
    quality: dict[str, Any] = field(default_factory=dict)  # manifest "data_quality"

    @property
    def rows_read(self) -> int:
        return sum(s.rows_read for s in self.stats)

    @property
    def rows_rejected(self) -> int:
        return sum(s.rows_rejected for s in self.stats)


# -- file discovery ------------------------------------------------------------------------
def expand_paths(cfg: Config, pattern: str, key: str) -> list[Path]:
    """Files named by a config path (glob allowed), sorted; none → a clear input error."""
    resolved = cfg.resolve(pattern)
    if any(ch in pattern for ch in "*?["):
        found = sorted(Path(p) for p in globmod.glob(str(resolved)) if Path(p).is_file())
        if not found:
            raise InputError(f"{key}: no file matches {resolved}", code=E_INPUT_MISSING, key=key)
        return found
    if not resolved.exists():
        raise InputError(
            f"{resolved}: file not found (from {key})",
            code=E_INPUT_MISSING,
            file=resolved,
            key=key,
        )
    return [resolved]


# -- mapping and format detection -----------------------------------------------------------
def column_mapping(raw: RawTable, kind: str, overrides: dict[str, str]) -> dict[str, str]:
    for key, header in overrides.items():
        if header not in raw.headers:
            raise ConfigError(
                f"inputs.columns.{kind}.{key}: header {header!r} is not in {raw.name}; "
                f"headers found: {_list(raw.headers)}",
                code=E_CONFIG_COLUMN,
            )
    mapping = aliases.map_headers(raw.headers, kind, overrides)
    missing = [k for k in aliases.REQUIRED[kind] if k not in mapping]
    if (
        kind == "orders"
        and "amount" not in mapping
        and not ("quantity" in mapping and "unit_price" in mapping)
    ):
        missing.append("amount")
    if missing:
        raise InputError(
            f"{raw.name}: no column found for {', '.join(missing)}; headers found: "
            f"{_list(raw.headers)}; expected e.g. {aliases.expected_headers(kind)} "
            f"(or name the header in inputs.columns.{kind})",
            code=E_INPUT_COLUMNS,
        )
    return mapping


def _list(headers: list[str], limit: int = 12) -> str:
    shown = [h if len(h) <= 40 else h[:37] + "..." for h in headers[:limit]]
    more = f" (+{len(headers) - limit} more)" if len(headers) > limit else ""
    return ", ".join(f"«{h}»" for h in shown) + more


def detect_formats(raw: RawTable, mapping: dict[str, str], cfg: Config) -> FileFormat:
    number_keys = ["amount", "quantity", "unit_price", "margin", "cost", "turnover", "headcount"]
    cols = [mapping[k] for k in number_keys if k in mapping]
    date_col = mapping.get("order_date")
    wanted = list(dict.fromkeys(cols + ([date_col] if date_col else [])))
    sample = raw.frame.select(wanted).head(SAMPLE_ROWS).collect() if wanted else pl.DataFrame()
    numbers = [v for c in cols for v in sample[c].drop_nulls().to_list()] if cols else []
    decimal = sniff.detect_decimal(numbers, raw.delimiter or ";", cfg.inputs.formats.decimal)
    dates = sample[date_col].drop_nulls().to_list() if date_col else []
    date_order = sniff.detect_date_order(dates, cfg.inputs.formats.date)
    unmapped = [h for h in raw.headers if h not in set(mapping.values())]
    fmt = FileFormat(
        raw.name,
        mapping,
        decimal,
        date_order,
        raw.encoding,
        raw.delimiter,
        raw.sheet,
        raw.header_row,
        unmapped,
        file_type=raw.file_type,
        unclosed_quote_line=raw.unclosed_quote_line,
    )
    rates = cfg.inputs.formats.currency
    fmt.rates = {str(k): float(v) for k, v in rates.items()} if rates else None
    id_header = aliases.normalize_header(mapping.get("customer_id"))
    fmt.inn = any(word in id_header for word in ("инн", "inn", "taxid"))
    weak = {aliases.normalize_header(n) for n in aliases.WEAK_CUSTOMER[raw.kind]}
    if id_header in weak or mapping.get("customer_id") == mapping.get("company_name"):
        ids = raw.frame.select(pl.col(mapping["customer_id"])).head(SAMPLE_ROWS).collect()
        lettered = ids.select(pl.col(mapping["customer_id"]).str.contains(r"\p{L}{2}").mean())
        fmt.names_as_ids = bool(lettered.item() or 0) and lettered.item() > 0.5
    money = mapping.get("amount") or mapping.get("unit_price")
    fmt.currency = _header_currency(money)
    if fmt.currency is None and money:
        marks = (
            sample.select(
                parse.currency_of(pl.col(money).str.to_lowercase()).drop_nulls().mode().first()
            )
            if money in sample.columns
            else None
        )
        fmt.currency = marks.item() if marks is not None and marks.height else None
    if raw.kind == "orders" and date_col:
        fmt.grouped = _looks_grouped(raw, mapping)
    return fmt


def _header_currency(header: str | None) -> str | None:
    text = (header or "").lower()
    for code, marks in parse.CURRENCIES.items():
        if any(f for f in marks if f in text and f not in ("р.",)):
            return code
    return None


def _looks_grouped(raw: RawTable, m: dict[str, str]) -> bool:
    """A grouped report (1C's «Продажи по контрагентам»): lines with the customer and no
    date, then order lines with a date and no customer."""
    money = m.get("amount") or m.get("quantity")
    head = (
        raw.frame.select(
            _text(m, "customer_id").alias("c"),
            _text(m, "order_date").alias("d"),
            (_text(m, "amount") if money == m.get("amount") else _text(m, "quantity")).alias("a"),
        )
        .head(SAMPLE_ROWS)
        .collect()
    )
    if head.height == 0:
        return False
    lines = head.select(
        ordinary=pl.col("c").is_not_null() & pl.col("d").is_not_null(),
        header=pl.col("c").is_not_null() & pl.col("d").is_null(),
        orphan=pl.col("c").is_null() & pl.col("d").is_not_null() & pl.col("a").is_not_null(),
    ).with_columns(
        # for each line, whether the last line above it that is not an orphan is a header
        under_header=pl.when(~pl.col("orphan"))
        .then(pl.col("header"))
        .forward_fill()
        .shift(1)
        .fill_null(False),
    )
    orphans = lines.filter(pl.col("orphan"))
    # every order line without a customer sits under a customer line, none under an
    # ordinary order line, and such lines are most of the file (an export with a few ids
    # and dates missing is not a grouped report)
    return (
        orphans.height > 0
        and bool(orphans.get_column("under_header").all())
        and orphans.height >= lines.get_column("ordinary").sum()
    )


# -- the per-file plan ---------------------------------------------------------------------
def _text(mapping: dict[str, str], key: str) -> pl.Expr:
    if key in mapping:
        # when/then, not replace("", None): polars' replace needs the whole column, which
        # would stop the ingest pass from streaming
        text = pl.col(mapping[key]).str.strip_chars()
        return pl.when(text != "").then(text)
    return pl.lit(None, dtype=pl.String)


def _trimmed(
    frame: pl.LazyFrame, mapping: dict[str, str], keys: list[str]
) -> tuple[pl.LazyFrame, dict[str, pl.Expr]]:
    """:func:`_text` of each key, with the trimmed cell kept as a column of its own: in
    ``_text`` the trim is evaluated twice (for the test and for the value)."""
    trims = {f"__trim_{k}": pl.col(mapping[k]).str.strip_chars() for k in keys if k in mapping}
    texts = {
        k: pl.when(pl.col(f"__trim_{k}") != "").then(pl.col(f"__trim_{k}"))
        if k in mapping
        else pl.lit(None, dtype=pl.String)
        for k in keys
    }
    return (frame.with_columns(**trims) if trims else frame), texts


def _blank(mapping: dict[str, str], key: str, parsed: str) -> pl.Expr:
    """Whether the cell is empty (or only spaces). A cell read as a number or a date is
    not, so the cell is trimmed only where the ``parsed`` column is null: polars skips
    a ``then`` whose condition is false throughout a batch, i.e. in most batches."""
    return pl.when(pl.col(parsed).is_null()).then(_text(mapping, key).is_null()).otherwise(False)


def _with_numbers(
    frame: pl.LazyFrame, mapping: dict[str, str], keys: list[str], decimal: str
) -> pl.LazyFrame:
    """Add ``__<key>`` Float64 columns parsed from the mapped text columns (null if absent)."""
    for key in keys:
        if key in mapping:
            frame = parse.parse_number(frame, mapping[key], f"__{key}", decimal)
        else:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(f"__{key}"))
    return frame


def _first_failed(checks: list[Check]) -> tuple[pl.Expr, pl.Expr]:
    """Index of the first failing check (null when none fails) and the raw value it saw."""
    index = pl.lit(None, dtype=pl.UInt8)
    value = pl.lit(None, dtype=pl.String)
    for i, (failed, _code, header) in reversed(list(enumerate(checks))):
        index = pl.when(failed).then(pl.lit(i, dtype=pl.UInt8)).otherwise(index)
        raw = pl.col(header) if header else pl.lit(None, dtype=pl.String)
        value = pl.when(failed).then(raw).otherwise(value)
    return index, value


MAX_REJECT_VALUE = 200  # characters of a rejected value kept in rejects.csv


def _clipped(value: pl.Expr) -> pl.Expr:
    """A rejected value as shown in rejects.csv: long ones cut, with the length noted."""
    n = value.str.len_chars()
    return (
        pl.when(n > MAX_REJECT_VALUE)
        .then(pl.format("{}… ({} characters)", value.str.slice(0, MAX_REJECT_VALUE), n))
        .otherwise(value)
    )


def _totals_checks(fmt: FileFormat) -> list[Check]:
    """A totals or subtotals line (Итого, Всего по клиенту, Total...) in the customer, name
    or order column: rejected whatever else it holds."""
    m = fmt.mapping
    columns = [m.get(k) for k in ("customer_id", "company_name", "order_id")]
    # a canonical id (digits, a code: see parse.with_normalized_id) is no marker
    maybe = ~pl.col("__cid_ok").fill_null(False)
    return [
        (
            pl.when(maybe).then(parse.is_totals_marker(pl.col(h)))
            if h == m.get("customer_id")
            else parse.is_totals_marker(pl.col(h)),
            E.REJECT_TOTALS,
            h,
        )
        for h in dict.fromkeys(h for h in columns if h)
    ]


def _customer_id(
    frame: pl.LazyFrame, fmt: FileFormat, kind: str
) -> tuple[pl.LazyFrame, list[Check]]:
    """``__cid`` (the id as meant, see :func:`parse.normalize_id`), ``__idfix`` and, for a
    file keyed by names, ``__key``; plus the checks on the id: totals markers, scientific
    notation, and (grouped report) the customer's header line."""
    m = fmt.mapping
    frame = parse.with_normalized_id(
        frame,
        m["customer_id"],
        _text(m, "customer_id"),
        "__cid",
        "__idfix",
        "__cid_ok",
        inn=fmt.inn,
    )
    checks: list[Check] = []
    if kind == "orders" and fmt.grouped:
        is_header = pl.col("__cid").is_not_null() & _text(m, "order_date").is_null()
        frame = frame.with_columns(
            __group_line=is_header,
            __cid=pl.coalesce(
                pl.col("__cid"), pl.when(is_header).then(pl.col("__cid")).forward_fill()
            ),
        )
        checks.append((pl.col("__group_line"), E.REJECT_GROUP_HEADER, m["customer_id"]))
    checks += [
        (pl.col("__cid").is_null(), E.REJECT_MISSING_CUSTOMER, m["customer_id"]),
        (
            # the regex only where the id is not canonical (a grouped report's order
            # lines carry their header's id: checked too)
            pl.when(~pl.col("__cid_ok").fill_null(False))
            .then(pl.col("__cid"))
            .str.contains(parse.SCIENTIFIC_ID),
            E.REJECT_BAD_ID,
            m["customer_id"],
        ),
    ]
    if fmt.names_as_ids:
        frame = frame.with_columns(parse.name_key(pl.col("__cid")).alias("__key"))
    return frame, checks


def _orders_plan(raw: RawTable, fmt: FileFormat, cfg: Config, lean: bool = False) -> Plan:
    m = fmt.mapping
    frame, sources = raw.frame, dict(m)
    money = "amount" if "amount" in m else "unit_price"
    if "amount" in m:
        frame = parse.parse_number(
            frame,
            m["amount"],
            "__amount",
            fmt.decimal or "comma",
            ambiguous="__amount_amb",
            currency="__amount_cur",
        )
        frame = frame.with_columns(__amount_blank=_blank(m, "amount", "__amount"))
        if lean:
            # quantity and price are read only where they fill an empty amount cell
            for key in ("quantity", "unit_price"):
                if key in m:
                    sources[key] = f"__{key}_text"
                    frame = frame.with_columns(
                        pl.when(pl.col("__amount_blank")).then(pl.col(m[key])).alias(sources[key])
                    )
    for key in ("quantity", "unit_price", "margin", "cost"):
        if key in sources:
            frame = parse.parse_number(
                frame,
                sources[key],
                f"__{key}",
                fmt.decimal or "comma",
                ambiguous="__amount_amb" if key == money else None,
                currency="__amount_cur" if key == money else None,
            )
        else:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(f"__{key}"))
    if money not in sources:
        frame = frame.with_columns(
            __amount_amb=pl.lit(False), __amount_cur=pl.lit(None, dtype=pl.String)
        )
    order = fmt.date_order or "dmy"
    evidence = "__date_ev" if "%" not in order else None
    frame = parse.parse_date(frame, m["order_date"], "__date", order, evidence=evidence)
    if evidence is None:
        frame = frame.with_columns(__date_ev=pl.lit(None, dtype=pl.UInt8))
    qp = pl.col("__quantity") * pl.col("__unit_price")
    has_amount_col = "amount" in m
    # quantity × price fills an empty amount cell; an unreadable amount (н/д) is a reject
    amount = (
        pl.when(pl.col("__amount_blank")).then(qp).otherwise(pl.col("__amount"))
        if has_amount_col
        else qp
    )
    cur = pl.col("__amount_cur")
    if fmt.rates:  # a conversion table: marked amounts are converted, unknown ones rejected
        amount = amount * parse.lookup(cur, fmt.rates, pl.Float64()).fill_null(1.0)
        foreign = cur.is_not_null() & ~cur.is_in(list(fmt.rates))
    elif fmt.currency:
        foreign = cur.is_not_null() & (cur != fmt.currency)
    else:
        foreign = pl.lit(False)
    margin_expr = (
        pl.coalesce(pl.col("__margin"), pl.col("__amount") - pl.col("__cost"))
        if "cost" in m
        else pl.col("__margin")
    )
    lo, hi = cfg.ingest.min_year, cfg.ingest.max_year
    frame = frame.with_columns(__date_blank=_blank(m, "order_date", "__date"))
    frame, id_checks = _customer_id(frame, fmt, "orders")
    frame = frame.with_columns(__amount=amount)
    amount_header = m.get("amount") or m.get("quantity")
    money_header = m.get(money) or amount_header
    checks: list[Check] = _totals_checks(fmt)
    if RAGGED in raw.frame.collect_schema():
        checks.append((pl.col(RAGGED), E.REJECT_RAGGED, EXTRA))
    checks += id_checks
    checks += [
        (pl.col("__date_blank"), E.REJECT_MISSING_DATE, m["order_date"]),
        (_ambiguous_date(fmt), E.REJECT_AMBIGUOUS_DATE, m["order_date"]),
        (pl.col("__date").is_null(), E.REJECT_BAD_DATE, m["order_date"]),
        (
            ~pl.col("__date").dt.year().is_between(lo, hi),
            E.REJECT_DATE_OUT_OF_RANGE,
            m["order_date"],
        ),
    ]
    if has_amount_col:
        checks += [
            (
                pl.col("__amount_blank") & pl.col("__amount").is_null(),
                E.REJECT_MISSING_AMOUNT,
                m["amount"],
            ),
        ]
    checks += [
        (pl.col("__amount_amb"), E.REJECT_AMBIGUOUS_AMOUNT, money_header),
        (foreign, E.REJECT_OTHER_CURRENCY, money_header),
    ]
    if has_amount_col:
        checks += [(pl.col("__amount").is_null(), E.REJECT_BAD_AMOUNT, m["amount"])]
    else:
        checks += [(pl.col("__amount").is_null(), E.REJECT_BAD_AMOUNT, amount_header)]
    frame, text = _trimmed(frame, m, ["company_name", "order_id", "category", "product"])
    output = [
        pl.col("__cid").alias("customer_id"),
        text["company_name"].alias("company_name"),
        (
            order_key(text["order_id"], pl.col("__date"))
            if lean
            else pl.coalesce(
                text["order_id"],
                pl.concat_str([pl.col("__cid"), pl.lit("|"), pl.col("__date").cast(pl.String)]),
            )
        ).alias("order_id"),
        pl.col("__date").alias("order_date"),
        pl.col("__amount").alias("amount"),
        pl.col("__quantity").alias("quantity"),
        pl.col("__unit_price").alias("unit_price"),
        text["category"].alias("category"),
        text["product"].alias("product"),
    ]
    return frame, checks, output, margin_expr


def _ambiguous_date(fmt: FileFormat) -> pl.Expr:
    """A date only the other day/month order can read, or one written with a separator
    whose dates in this file contradict the decided order (their ≤ 12 days are then
    ambiguous too: «03/04/2024» among «12/25/2024» in a dd.mm.yyyy file)."""
    order = fmt.date_order or "dmy"
    if order not in ("dmy", "mdy"):
        return pl.lit(False)
    other = parse.MDY_ONLY if order == "dmy" else parse.DMY_ONLY
    ev = pl.col("__date_ev")
    out = (ev % 4) == other
    doubted = [parse.DATE_SEPARATORS[sep] * 4 + parse.EITHER for sep in fmt.doubted_dates]
    if doubted:
        out = out | ev.is_in(doubted)
    return out.fill_null(False)


def _contacts_plan(raw: RawTable, fmt: FileFormat, cfg: Config) -> Plan:
    m = fmt.mapping
    inf = cfg.inference
    frame = _with_numbers(raw.frame, m, ["turnover", "headcount"], fmt.decimal or "comma")
    frame, id_checks = _customer_id(frame, fmt, "contacts")
    frame = frame.with_columns(
        __date_ev=pl.lit(None, dtype=pl.UInt8), __amount_cur=pl.lit(None, dtype=pl.String)
    )
    checks: list[Check] = _totals_checks(fmt)
    if RAGGED in raw.frame.collect_schema():
        checks.append((pl.col(RAGGED), E.REJECT_RAGGED, EXTRA))
    checks += id_checks

    frame, text = _trimmed(
        frame,
        m,
        [
            "job_title",
            "role",
            "company_name",
            "company_type",
            "preferred_channel",
            "contact_name",
            "phone",
            "email",
            "address",
            "inmail",
            "region",
            "owner",
        ],
    )
    title = text["job_title"]
    role_text = text["role"]
    role_given = parse.first_match(role_text, parse.ROLE_VALUES)
    role_from_title = parse.first_match(
        title,
        [
            ("purchaser", inf.roles.purchaser),
            ("decision_maker", inf.roles.decision_maker),
            ("user", inf.roles.user),
        ],
    )
    company = text["company_name"]
    type_text = text["company_type"]
    type_given = parse.first_match(type_text, parse.COMPANY_TYPE_VALUES)
    kw = inf.company_types
    type_from_name = parse.company_type_from_name(company, kw.table())
    channel = parse.first_match(text["preferred_channel"], parse.CHANNEL_WORDS)
    # each keyword match once (the role and its "inferred" flag both read it), and the
    # one from the title or the name only where the export gives none (polars skips the
    # regexes in a batch where every row has one)
    frame = frame.with_columns(__role_given=role_given, __type_given=type_given)
    role_given, type_given = pl.col("__role_given"), pl.col("__type_given")
    frame = frame.with_columns(
        __role_from_title=pl.when(role_given.is_null()).then(role_from_title),
        __type_from_name=pl.when(type_given.is_null()).then(type_from_name),
    )
    role_from_title, type_from_name = pl.col("__role_from_title"), pl.col("__type_from_name")

    def flag(key: str) -> pl.Expr:
        return parse.parse_flag(pl.col(m[key])) if key in m else pl.lit(False)

    output = [
        pl.col("__cid").alias("customer_id"),
        company.alias("company_name"),
        text["contact_name"].alias("contact_name"),
        title.alias("job_title"),
        pl.coalesce(role_given, role_from_title, pl.lit("unknown")).alias("role"),
        (role_given.is_null() & role_from_title.is_not_null()).alias("role_inferred"),
        text["phone"].alias("phone"),
        text["email"].alias("email"),
        text["address"].alias("address"),
        text["inmail"].alias("inmail"),
        flag("do_not_call").alias("do_not_call"),
        flag("do_not_email").alias("do_not_email"),
        flag("do_not_mail").alias("do_not_mail"),
        channel.alias("preferred_channel"),
        pl.coalesce(
            type_given,
            type_from_name,
            pl.when(company.is_not_null() | type_text.is_not_null()).then(pl.lit("other")),
        ).alias("company_type"),
        (type_given.is_null() & type_from_name.is_not_null()).alias("company_type_inferred"),
        pl.col("__turnover").alias("turnover"),
        pl.col("__headcount").alias("headcount"),
        text["region"].alias("region"),
        text["owner"].alias("owner"),
    ]
    return frame, checks, output, None


SEEDS = (0x5E67_0D15, 0xC0DE_F00D)  # fixed: the hashes are the same from run to run


def _row_hashes(raw: RawTable) -> list[pl.Expr]:
    """A 64-bit hash of a row's cells as written, and a second one, with another seed, of
    its first three cells: two different rows of even a 100M-line export practically
    never share both (the second costs a third of the first)."""
    columns = raw.headers + ([EXTRA] if EXTRA in raw.frame.collect_schema() else [])
    return [
        pl.struct(columns).hash(SEEDS[0]).alias("__h1"),
        pl.struct(columns[:3]).hash(SEEDS[1]).alias("__h2"),
    ]


def _run_plan(
    raw: RawTable,
    fmt: FileFormat,
    cfg: Config,
    kind: str,
    *,
    lean: bool = False,
    rerun: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """Accepted rows, reject records and counts for one file.

    One streaming pass over the file keeps, per row, only what is needed afterwards: its
    number, a 128-bit hash of its cells (for the duplicate check), the index of the first
    failed check with the cell it saw, and the accepted columns. The text of the file is
    never held in memory as a whole. ``lean`` keeps just what score and routing read:
    see :data:`segtool.schema.LEAN_ORDERS` and :data:`segtool.schema.LEAN_CONTACTS`.
    """
    raw0 = raw
    dedup = cfg.ingest.drop_duplicates
    # The hashes (for the duplicate check) and the blank-row test read every column; the
    # rest of the plan only the mapped ones. Narrowing the frame first keeps a 5,000-column
    # export as quick as an 8-column one: every later step sees a handful of columns.
    present = raw.frame.collect_schema()
    blank = pl.all_horizontal([pl.col(h).is_null() for h in raw.headers])
    if RAGGED in present:
        blank = blank & ~pl.col(RAGGED)
    keep = list(
        dict.fromkeys([ROW, *fmt.mapping.values(), *[c for c in (RAGGED, EXTRA) if c in present]])
    )
    raw = replace(
        raw,
        frame=raw.frame.select(*keep, *(_row_hashes(raw) if dedup else []), blank.alias("__blank")),
    )
    if kind == "orders":
        frame, checks, output, margin_expr = _orders_plan(raw, fmt, cfg, lean)
        output = [
            *output,
            (margin_expr if margin_expr is not None else pl.lit(None, dtype=pl.Float64)).alias(
                "margin"
            ),
        ]
    else:
        frame, checks, output, _ = _contacts_plan(raw, fmt, cfg)
    if kind == "orders":
        schema = LEAN_ORDERS if lean else ORDERS
    else:
        schema = LEAN_CONTACTS if lean else CONTACTS
    failed, value = _first_failed(checks)
    wanted = [*output, pl.lit(raw.name).alias("source_file"), pl.col(ROW).alias("source_row")]
    # dictionary-encoded while streaming, so the full text never piles up in memory
    wanted = [
        e.cast(pl.Categorical) if schema[e.meta.output_name()] == pl.Categorical else e
        for e in wanted
        if e.meta.output_name() in schema
    ]
    rows = (
        frame.filter(~pl.col("__blank"))
        .select(
            pl.col(ROW).alias("__source_row"),
            *([pl.col("__h1"), pl.col("__h2")] if dedup else []),
            failed.alias("__failed"),
            pl.when(failed.is_not_null()).then(_clipped(value)).alias("__value"),
            *wanted,
            pl.col("__date_ev"),
            pl.col("__amount_cur").cast(pl.Categorical),
            pl.col("__idfix"),
            *([pl.col("__key")] if fmt.names_as_ids else []),
        )
        .collect(engine="streaming")
    )
    if not rerun and _decided(fmt, rows, cfg):
        del rows  # the whole file's evidence overrules the sample's guess: read it again
        return _run_plan(raw0, fmt, cfg, kind, lean=lean, rerun=True)
    # Rejected and duplicate rows are handled by index. Adding a column or filtering would
    # copy the (multi-chunk) columns of every row: at 10M lines, half a gigabyte more.
    failed_at = rows.select(pl.arg_where(pl.col("__failed").is_not_null())).to_series()
    duplicate_at = _duplicates(rows) if dedup else pl.Series([], dtype=pl.UInt32)
    dropped = pl.concat([failed_at.cast(pl.UInt32), duplicate_at]).unique().sort()
    rejected = (
        rows.lazy()
        .select("__source_row", "__failed", "__value")
        .filter(pl.int_range(pl.len(), dtype=pl.UInt32).is_in(dropped.implode()))
        .collect(engine="streaming")
        .with_columns(__dup=dropped.is_in(duplicate_at.implode()))
    )
    # Series by Series: DataFrame.select would first copy every column into one chunk
    accepted = _without(
        pl.DataFrame(
            [
                rows.get_column(c) if rows.schema[c] == t else rows.get_column(c).cast(t)
                for c, t in schema.items()
            ]
        ),
        dropped,
    )
    fmt.id_fixes = _id_fixes(_without(_columns(rows, "customer_id", "__idfix"), dropped))
    if fmt.names_as_ids:
        accepted = _one_spelling_per_name(
            accepted, _without(_columns(rows, "__key"), dropped).get_column("__key"), fmt
        )
    if kind == "orders":
        fmt.several_names = _several_names(accepted, fmt)
    n_read = rows.height
    del rows  # the hashes and reject columns of every row are not needed any more
    codes = pl.Series([code for _, code, _ in checks], dtype=pl.String)
    headers = pl.Series([None if h == EXTRA else h for _, _, h in checks], dtype=pl.String)
    rejects = rejected.select(
        pl.lit(raw.name).alias("file"),
        pl.col("__source_row").alias("row"),
        pl.when(~pl.col("__dup"))
        .then(pl.col("__failed").replace_strict(range(len(checks)), headers, default=None))
        .alias("column"),
        pl.when(~pl.col("__dup")).then(pl.col("__value")).alias("value"),
        pl.when(pl.col("__dup"))
        .then(pl.lit(E.REJECT_DUPLICATE))
        .otherwise(pl.col("__failed").replace_strict(range(len(checks)), codes, default=None))
        .alias("reason"),
    ).select([pl.col(c).cast(t) for c, t in REJECTS.items()])
    n_dup = int(rejected["__dup"].sum())
    counts = {"read": n_read, "duplicates": n_dup, "rejected": rejected.height - n_dup}
    return accepted, rejects, counts


def _columns(frame: pl.DataFrame, *names: str) -> pl.DataFrame:
    """Some columns of a multi-chunk frame as they are (``select`` would copy every column
    into one chunk first: 0.75 GB at 10M lines)."""
    return pl.DataFrame([frame.get_column(name) for name in names])


def _decided(fmt: FileFormat, rows: pl.DataFrame, cfg: Config) -> bool:
    """Set the day/month order and the currency the whole file's evidence decides; True
    when they differ from those the pass used (decided from a sample).

    Day/month: a date only one order can read (``25.12.2024``, ``12/25/2024``) counts for
    that order; a ``03.04.2024`` with dots counts as day first (nobody writes mm.dd.yyyy).
    The majority decides unless the config names the order; a separator whose own dates
    lean the other way has its ≤ 12 dates rejected as ambiguous, never read flipped.
    """
    ev = rows.get_column("__date_ev").drop_nulls().value_counts()
    n = {int(code): int(count) for code, count in ev.iter_rows()}
    fmt.date_evidence = {
        f"{sep}:{kind}": n[sep_code * 4 + k]
        for sep, sep_code in parse.DATE_SEPARATORS.items()
        for kind, k in (("dmy", parse.DMY_ONLY), ("mdy", parse.MDY_ONLY), ("either", parse.EITHER))
        if n.get(sep_code * 4 + k)
    }
    order, doubted = fmt.date_order, list(fmt.doubted_dates)
    if (fmt.date_order or "dmy") in ("dmy", "mdy") and n:

        def total(kind: int) -> int:
            return sum(n.get(code * 4 + kind, 0) for code in parse.DATE_SEPARATORS.values())

        dmy = total(parse.DMY_ONLY) + n.get(parse.EITHER, 0)  # dotted ≤ 12 dates: day first
        forced = cfg.inputs.formats.date
        order = (
            forced
            if forced in ("dmy", "mdy")
            else ("mdy" if total(parse.MDY_ONLY) > dmy else "dmy")
        )
        other, agree = (
            (parse.MDY_ONLY, parse.DMY_ONLY) if order == "dmy" else (parse.DMY_ONLY, parse.MDY_ONLY)
        )
        doubted = [
            sep
            for sep, code in parse.DATE_SEPARATORS.items()
            if n.get(code * 4 + other, 0)
            and n.get(code * 4 + other, 0) >= n.get(code * 4 + agree, 0)
            and n.get(code * 4 + parse.EITHER, 0)
        ]
    currency = fmt.currency
    marked = rows.get_column("__amount_cur").drop_nulls()
    if not fmt.rates and marked.len():
        seen = marked.cast(pl.String).value_counts(sort=True)
        if seen.height > 1 and _header_currency(fmt.mapping.get("amount")) is None:
            currency = seen.row(0)[0]
        elif seen.height == 1 and currency is None:
            fmt.currency = currency = seen.row(0)[0]
    if (order, doubted, currency) == (fmt.date_order, fmt.doubted_dates, fmt.currency):
        return False
    fmt.date_order, fmt.doubted_dates, fmt.currency = order, doubted, currency
    return True


ID_FIX_NAMES = {
    parse.ID_SPELLING: "spelling",
    parse.ID_SCRIPT: "cyrillic_latin",
    parse.ID_PADDED: "inn_zero_padded",
}


def _id_fixes(ids: pl.DataFrame) -> dict[str, int]:
    """How many distinct ids were folded by each kind of fix (accepted rows)."""
    fixed = ids.filter(pl.col("__idfix") > 0)
    if fixed.height == 0:
        return {}
    return {
        name: int(fixed.filter((pl.col("__idfix") & bit) > 0).get_column("customer_id").n_unique())
        for bit, name in ID_FIX_NAMES.items()
        if fixed.filter((pl.col("__idfix") & bit) > 0).height
    }


def _one_spelling_per_name(
    accepted: pl.DataFrame, keys: pl.Series, fmt: FileFormat
) -> pl.DataFrame:
    """A file keyed by company names: spellings of one name (``ООО "Ромашка"``,
    ``Ромашка ООО``) become one customer, under the spelling written most often."""
    ids = accepted.get_column("customer_id")
    pairs = pl.DataFrame({"id": ids.cast(pl.String), "key": keys})
    counts = pairs.group_by("id", "key").len()
    if counts.get_column("key").n_unique() == counts.height:
        return accepted  # every name written one way: nothing to fold
    best = (
        counts.sort(["len", "id"], descending=[True, False])
        .group_by("key", maintain_order=True)
        .first()
        .select("key", best="id")
    )
    spelled = pairs.join(best, on="key", how="left", maintain_order="left").get_column("best")
    fmt.id_fixes = {**fmt.id_fixes, "name_spelling": int(counts.height - best.height)}
    return accepted.with_columns(spelled.cast(ids.dtype).alias("customer_id"))


MAX_NAME_NOTES = 50


def _several_names(accepted: pl.DataFrame, fmt: FileFormat) -> list[str]:
    """Ids written with more than one company name: the most recent name is used (by
    score); the others are listed here for data quality."""
    m = fmt.mapping
    if "company_name" not in m or m["company_name"] == m.get("customer_id"):
        return []
    if not _maybe_several_names(accepted):
        return []
    named = accepted.select("customer_id", "company_name", "order_date").filter(
        pl.col("company_name").is_not_null()
    )
    per_id = named.group_by("customer_id").agg(pl.col("company_name").n_unique().alias("n"))
    many = per_id.filter(pl.col("n") > 1)
    if many.height == 0:
        return []
    detail = (
        named.join(many.select("customer_id"), on="customer_id", how="semi")
        .with_columns(pl.col("customer_id").cast(pl.String), pl.col("company_name").cast(pl.String))
        .group_by("customer_id", "company_name")
        .agg(pl.col("order_date").max())
        .sort(["customer_id", "order_date", "company_name"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .agg(pl.col("company_name"))
        .head(MAX_NAME_NOTES)
    )
    return [
        f"{cid}: «{names[0]}» (most recent, used); also " + ", ".join(f"«{n}»" for n in names[1:])
        for cid, names in detail.iter_rows()
    ]


def _maybe_several_names(accepted: pl.DataFrame) -> bool:
    """False when no id is written with two company names (most exports): with both
    columns dictionary-encoded, the distinct (id, name) code pairs tell it without
    grouping every line. True when it may be so (or the columns are text)."""
    if not (
        isinstance(accepted.schema["customer_id"], pl.Categorical)
        and isinstance(accepted.schema["company_name"], pl.Categorical)
    ):
        return True
    # streamed: no copy of the two columns, only the distinct pairs are held
    pair = pl.col("customer_id").to_physical().cast(pl.UInt64) * (1 << 32) + pl.col(
        "company_name"
    ).to_physical().cast(pl.UInt64)
    pairs = (
        _columns(accepted, "customer_id", "company_name")
        .lazy()
        .select(pair.alias("pair"))
        .drop_nulls()  # a null name: a null pair
        .unique()
        .collect(engine="streaming")
        .get_column("pair")
    )
    return bool((pairs // (1 << 32)).is_duplicated().any())


MAX_SLICED_GAPS = 10_000


def _without(frame: pl.DataFrame, dropped: pl.Series) -> pl.DataFrame:
    """``frame`` less the rows at the (sorted) indices ``dropped``.

    Rejected and duplicate rows are usually a handful among millions: the rows between
    them are then kept as zero-copy slices instead of a filtered copy."""
    if dropped.len() == 0:
        return frame
    if dropped.len() > MAX_SLICED_GAPS:
        keep = pl.repeat(True, frame.height, eager=True).scatter(dropped, False)
        return frame.filter(keep)
    parts, start = [], 0
    for index in dropped.to_list():
        if index > start:
            parts.append(frame.slice(start, index - start))
        start = index + 1
    if start < frame.height:
        parts.append(frame.slice(start))
    return pl.concat(parts, rechunk=False) if parts else frame.clear()


def order_key(order_id: pl.Expr, order_date: pl.Expr) -> pl.Expr:
    """A 64-bit key per order: a hash of the order id or, where the export gives none,
    the order date's day number (one order per customer per day). Keys are only compared
    within a customer, where two ids sharing a hash is practically impossible."""
    day = order_date.cast(pl.Date).cast(pl.Int64) + (1 << 40)
    return pl.when(order_id.is_null()).then(day.cast(pl.UInt64)).otherwise(order_id.hash(SEEDS[0]))


def _duplicates(rows: pl.DataFrame) -> pl.Series:
    """Indices (sorted) of the rows equal, by their two hashes, to an earlier row.

    The first hashes, sorted, show the few values that occur more than once (most exports
    have none at all); only the rows with those go through the ordered check. A sort needs
    a fraction of the memory of a hash table over every row.
    """
    none = pl.Series("i", [], dtype=pl.UInt32)
    if rows.height == 0:
        return none
    first = rows.get_column("__h1").sort()
    repeated = first.filter(first == first.shift(1))
    del first
    if repeated.len() == 0:
        return none
    candidates = (
        rows.lazy()
        .select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("i"), "__h1", "__h2")
        .filter(pl.col("__h1").is_in(repeated.unique().implode()))
        .collect(engine="streaming")
    )
    return candidates.filter(~pl.struct("__h1", "__h2").is_first_distinct())["i"].sort()


def _fingerprint(path: Path) -> tuple[int, int]:
    """Size and modification time: a file still being written changes them."""
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read: {exc.strerror or exc}", code=E_INPUT_READ, file=path
        ) from None
    return st.st_size, st.st_mtime_ns


def _read_file(
    path: Path,
    kind: str,
    cfg: Config,
    sheet: str | int | None,
    overrides: dict[str, str] | None,
    lean: bool,
    odd_quotes: Callable[[], bool],
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int], FileFormat, RawTable]:
    """Parse one file (the forgiving reader when polars' own cannot), with its errors
    turned into one-line input errors.

    ``odd_quotes`` tells, once the file has been parsed, whether it holds an odd number
    of quotes (counted alongside the checksum): a quote that never closes, for which the
    file is read again by the forgiving reader. Counting first would read every file
    once more before parsing it."""
    formats = cfg.inputs.formats
    raw = read_table(
        path,
        kind,
        encoding=formats.encoding,
        delimiter=formats.delimiter,
        sheet=sheet,
        count_quotes=False,
    )
    try:
        try:
            fmt = detect_formats(raw, column_mapping(raw, kind, overrides or {}), cfg)
            accepted, rejects, counts = _run_plan(raw, fmt, cfg, kind, lean=lean)
            again = quotes_counted(raw) and odd_quotes()
        except (pl.exceptions.ComputeError, pl.exceptions.SchemaError):
            # rows wider or narrower than the header, or bytes polars cannot decode:
            # the forgiving reader marks such rows instead of failing
            if raw.forgiving or raw.sheet is not None:
                raise
            again = True
        if again:
            raw.cleanup()
            raw = read_table(
                path, kind, encoding=formats.encoding, delimiter=formats.delimiter, forgiving=True
            )
            fmt = detect_formats(raw, column_mapping(raw, kind, overrides or {}), cfg)
            accepted, rejects, counts = _run_plan(raw, fmt, cfg, kind, lean=lean)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{raw.name}: cannot be read: {first}", code=E_INPUT_READ) from None
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read: {exc.strerror or exc}", code=E_INPUT_READ, file=path
        ) from None
    finally:
        raw.cleanup()
    return accepted, rejects, counts, fmt, raw


def ingest_file(
    path: Path,
    kind: str,
    cfg: Config,
    sheet: str | int | None = None,
    overrides: dict[str, str] | None = None,
    *,
    lean: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame, InputStats, FileFormat]:
    """Read one file; returns (accepted, rejects, stats, format)."""
    before = _fingerprint(path)
    # the checksum for the manifest (and the quote count) is computed while the file is
    # parsed (hashlib lets go of the GIL); the fingerprint check below still proves both
    # saw the same bytes
    with ThreadPoolExecutor(max_workers=1) as hasher:
        scanned = hasher.submit(scan_bytes, path)
        accepted, rejects, counts, fmt, raw = _read_file(
            path, kind, cfg, sheet, overrides, lean, lambda: scanned.result()[1]
        )
        try:
            digest = scanned.result()[0]
        except OSError as exc:
            raise InputError(
                f"{path}: cannot read: {exc.strerror or exc}", code=E_INPUT_READ, file=path
            ) from None
    if _fingerprint(path) != before:
        raise InputError(
            f"{path}: the file changed while it was being read; run again when the export "
            "is complete",
            code=E_INPUT_CHANGED,
            file=path,
        )
    stats = InputStats(
        path=str(path),
        kind=kind,
        sha256=digest,
        rows_read=counts["read"],
        rows_accepted=accepted.height,
        rows_rejected=counts["rejected"],
        rows_duplicate=counts["duplicates"],
        encoding=raw.encoding,
        delimiter=raw.delimiter,
        sheet=raw.sheet,
    )
    stats.check()
    return accepted, rejects, stats, fmt


def _attach_companies(contacts: pl.DataFrame, companies: pl.DataFrame) -> pl.DataFrame:
    """Company columns from a separate companies file fill the contacts' gaps; companies
    with nobody listed get one row with no person (routing sends them to data quality)."""
    company_cols = [
        c
        for c in (
            "company_name",
            "company_type",
            "company_type_inferred",
            "turnover",
            "headcount",
            "region",
            "owner",
        )
        if c in contacts.columns
    ]
    per_company = (
        companies.group_by("customer_id", maintain_order=True)
        .first()
        .select("customer_id", *company_cols)
    )
    joined = contacts.join(per_company, on="customer_id", how="left", suffix="__co")
    joined = joined.with_columns(
        pl.coalesce(pl.col(c), pl.col(f"{c}__co")).alias(c) for c in company_cols
    ).drop([f"{c}__co" for c in company_cols])
    lonely = companies.join(contacts.select("customer_id").unique(), on="customer_id", how="anti")
    lonely = lonely.group_by("customer_id", maintain_order=True).first()
    return pl.concat([joined, lonely.select(contacts.columns)], how="vertical_relaxed")


def ingest(cfg: Config, *, lean: bool = False) -> IngestResult:
    """Read every configured export. Raises InputError/ConfigError for fatal problems.

    ``lean`` keeps of the order lines and contacts only what score and routing read
    (:data:`LEAN_ORDERS`, :data:`LEAN_CONTACTS`), for a run that saves no workspace; the
    step commands keep the full :data:`ORDERS` and :data:`CONTACTS`.
    """
    stats: list[InputStats] = []
    formats: list[FileFormat] = []
    order_parts: list[pl.DataFrame] = []
    contact_parts: list[pl.DataFrame] = []
    company_parts: list[pl.DataFrame] = []
    reject_parts: list[pl.DataFrame] = []
    cols = cfg.inputs.columns
    plan = [("orders", cfg.inputs.orders, cols.orders, order_parts)]
    if cfg.inputs.contacts is not None:
        plan.append(("contacts", cfg.inputs.contacts, cols.contacts, contact_parts))
    if cfg.inputs.companies is not None:
        plan.append(("companies", cfg.inputs.companies, cols.companies, company_parts))
    jobs = [
        (kind, path, spec.sheet, overrides, sink)
        for kind, spec, overrides, sink in plan
        for path in expand_paths(cfg, spec.path, f"inputs.{kind}.path")
    ]
    # polars already parses a CSV on every core, so CSV files are read one after another
    # (side by side they took 20 % longer at 10M lines). A workbook is read by fastexcel on
    # one core, so with one in the set two files are read at a time: the contacts workbook
    # while the orders CSV is parsed. Results keep the configured order either way.
    workbooks = any(sniff.file_kind(path) in ("xlsx", "ods", "ole") for _, path, _, _, _ in jobs)
    with ThreadPoolExecutor(max_workers=2 if workbooks and len(jobs) > 1 else 1) as pool:
        futures = [
            pool.submit(ingest_file, path, kind, cfg, sheet, overrides, lean=lean)
            for kind, path, sheet, overrides, _ in jobs
        ]
        for (_, _, _, _, sink), future in zip(jobs, futures, strict=True):
            accepted, rejects, st, fmt = future.result()
            sink.append(accepted)
            reject_parts.append(rejects)
            stats.append(st)
            formats.append(fmt)
    orders = (
        pl.concat(order_parts)
        if order_parts
        else pl.DataFrame(schema=LEAN_ORDERS if lean else ORDERS)
    )
    contacts = (
        pl.concat(contact_parts)
        if contact_parts
        else pl.DataFrame(schema=LEAN_CONTACTS if lean else CONTACTS)
    )
    if company_parts:
        contacts = _attach_companies(contacts, pl.concat(company_parts))
    rejects = pl.concat(reject_parts) if reject_parts else pl.DataFrame(schema=REJECTS)
    warnings = []
    # columns the exports always carry (an article number...) are not a problem: one notice
    # for all the files that leave out the same columns, not a warning on every run
    unused: dict[tuple[str, ...], list[str]] = {}
    for fmt in formats:
        if fmt.unmapped:
            unused.setdefault(tuple(fmt.unmapped), []).append(fmt.name)
    notices = [
        f"{_names(names)}: columns not used: {_list(list(columns), 8)}"
        for columns, names in unused.items()
    ]
    notes, quality = _quality(formats, orders, contacts, has_contacts_input(cfg))
    for fmt in formats:
        if fmt.names_as_ids:
            warnings.append(
                f"{fmt.name}: no customer id column; the company names in "
                f"«{fmt.mapping['customer_id']}» are used as ids (case, quotes "
                "and the legal form's place folded)"
            )
        if fmt.unclosed_quote_line is not None:
            warnings.append(
                f"{fmt.name}: a quote opened on line {fmt.unclosed_quote_line} never closes; "
                "the file was read one line per row so no customer's line is joined to "
                "another (that line is read with its quote); fix the export's quoting"
            )
        if fmt.grouped:
            warnings.append(
                f"{fmt.name}: a grouped report: the customer of each header line "
                "is carried to the order lines under it"
            )
        bad_ids = rejects.filter(
            (pl.col("file") == fmt.name) & (pl.col("reason") == E.REJECT_BAD_ID)
        ).height
        if bad_ids:
            warnings.append(
                f"{fmt.name}: {bad_ids} customer id(s) in scientific notation "
                "(7,70E+09) lost their digits in Excel and were rejected as bad_id; "
                "format the id column as text and export again"
            )
        if fmt.doubted_dates:
            warnings.append(
                f"{fmt.name}: dates written with "
                f"{' and '.join(repr(d) for d in fmt.doubted_dates)} contradict the "
                f"file's day/month order ({fmt.date_order}); those that could be "
                "read either way are rejected as ambiguous_date"
            )
    for st, fmt in zip(stats, formats, strict=True):
        if st.rows_read == 0:
            warnings.append(f"{fmt.name}: no data rows below the header (row {fmt.header_row})")
        elif st.rows_accepted == 0:
            warnings.append(
                f"{fmt.name}: every one of its {st.rows_read} rows was left out; "
                "the reasons are in rejects.csv"
            )
    return IngestResult(
        orders, contacts, rejects, stats, formats, warnings, notices, notes, quality
    )


def _names(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(dict.fromkeys(names[:limit]))
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _quality(
    formats: list[FileFormat], orders: pl.DataFrame, contacts: pl.DataFrame, with_contacts: bool
) -> tuple[list[str], dict[str, Any]]:
    """Console lines and the manifest's ``data_quality``: ids folded, ids with several
    names, and how orders and contacts meet."""
    notes: list[str] = []
    folded: dict[str, int] = {}
    for fmt in formats:
        if fmt.id_fixes:
            detail = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in fmt.id_fixes.items())
            notes.append(f"{fmt.name}: customer ids folded to one spelling: {detail}")
            for key, value in fmt.id_fixes.items():
                folded[key] = folded.get(key, 0) + value
    several = [note for fmt in formats for note in fmt.several_names]
    if several:
        notes.append(
            f"{len(several)} customer id(s) appear with more than one company name; "
            "the most recent name is used (listed in manifest.json data_quality)"
        )
    quality: dict[str, Any] = {"ids_folded": folded, "ids_with_several_names": several}
    if with_contacts:
        # distinct ids first: the (categorical) ids of 10M order lines are not cast to text
        ordered = orders.get_column("customer_id").unique().cast(pl.String).to_frame()
        listed = contacts.get_column("customer_id").unique().cast(pl.String).to_frame()
        no_contact = ordered.join(listed, on="customer_id", how="anti").height
        no_orders = listed.join(ordered, on="customer_id", how="anti").height
        quality["customers_without_contact"] = no_contact
        quality["contact_companies_without_orders"] = no_orders
        notes.append(
            f"contacts: {no_contact:,} of {ordered.height:,} customers with orders "
            f"have no contact; {no_orders:,} of {listed.height:,} companies in the "
            "contacts match no customer with orders"
        )
    quality["notes"] = notes
    return notes, quality


def check_orders_accepted(result: IngestResult) -> None:
    """Stop with the reasons when not one order line could be used (a run then has nothing
    to score, and its rejects.csv would not be written to be looked at)."""
    order_stats = [s for s in result.stats if s.kind == "orders"]
    if result.orders.height or not any(s.rows_read for s in order_stats):
        return
    names = [
        f.name for f, s in zip(result.formats, result.stats, strict=True) if s.kind == "orders"
    ]
    reasons = result.rejects.filter(pl.col("file").is_in(names)).get_column("reason")
    counts = reasons.value_counts(sort=True).iter_rows()
    detail = ", ".join(f"{reason} {count}" for reason, count in counts)
    first = result.rejects.filter(pl.col("file").is_in(names)).sort("row").row(0, named=True)
    raise InputError(
        f"{', '.join(names)}: none of the {sum(s.rows_read for s in order_stats):,} order rows "
        f"could be used ({detail}); e.g. row {first['row']}, column «{first['column']}»: "
        f"{first['reason']}. Run `segtool ingest` to get rejects.csv with every row",
        code=E_INPUT_NO_ROWS,
    )


def has_contacts_input(cfg: Config) -> bool:
    """Whether the config names a contacts (or companies) export at all."""
    return cfg.inputs.contacts is not None or cfg.inputs.companies is not None


def reject_rate(result: IngestResult, kind: str = "orders") -> float:
    read = sum(s.rows_read for s in result.stats if s.kind == kind)
    bad = sum(s.rows_rejected for s in result.stats if s.kind == kind)
    return bad / read if read else 0.0


def rejects_csv_bytes(rejects: pl.DataFrame) -> bytes:
    """rejects.csv as written into the workspace (UTF-8, ','), formula-like text escaped:
    the values come straight from the exports and analysts open this file in Excel."""
    from segtool.io.csv_out import escape_frame

    ordered = rejects.sort(["file", "row"], maintain_order=True)
    return escape_frame(ordered).write_csv().encode("utf-8")
