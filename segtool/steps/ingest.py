"""Ingest: exports → canonical orders and contacts, plus a reject record for every row not used.

For each file: rows read = rows accepted + rows rejected + exact duplicates (checked).
Duplicates are taken out first (a row identical to an earlier one in every column as
written); the remaining rows are accepted or rejected with the first reason that applies.
"""

from __future__ import annotations

import glob as globmod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from segtool import errors as E
from segtool.config import Config
from segtool.errors import ConfigError, InputError
from segtool.io import aliases, parse, sniff
from segtool.io.readers import EXTRA, RAGGED, ROW, RawTable, read_table
from segtool.report import InputStats, sha256_file
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


@dataclass
class IngestResult:
    orders: pl.DataFrame
    contacts: pl.DataFrame
    rejects: pl.DataFrame
    stats: list[InputStats]
    formats: list[FileFormat] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

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
            raise InputError(f"{key}: no file matches {resolved}", code="E-INPUT-MISSING")
        return found
    if not resolved.exists():
        raise InputError(f"{resolved}: file not found (from {key})", code="E-INPUT-MISSING")
    return [resolved]


# -- mapping and format detection -----------------------------------------------------------
def column_mapping(raw: RawTable, kind: str, overrides: dict[str, str]) -> dict[str, str]:
    for key, header in overrides.items():
        if header not in raw.headers:
            raise ConfigError(
                f"inputs.columns.{kind}.{key}: header {header!r} is not in {raw.name}; "
                f"headers found: {_list(raw.headers)}",
                code="E-CONFIG-COLUMN",
            )
    mapping = aliases.map_headers(raw.headers, kind, overrides)
    missing = [k for k in aliases.REQUIRED[kind] if k not in mapping]
    if kind == "orders" and "amount" not in mapping and not (
        "quantity" in mapping and "unit_price" in mapping
    ):
        missing.append("amount")
    if missing:
        raise InputError(
            f"{raw.name}: no column found for {', '.join(missing)}; headers found: "
            f"{_list(raw.headers)}; expected e.g. {aliases.expected_headers(kind)} "
            f"(or name the header in inputs.columns.{kind})",
            code="E-INPUT-COLUMNS",
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
    return FileFormat(raw.name, mapping, decimal, date_order, raw.encoding, raw.delimiter,
                      raw.sheet, raw.header_row, unmapped)


# -- the per-file plan ---------------------------------------------------------------------
def _text(mapping: dict[str, str], key: str) -> pl.Expr:
    if key in mapping:
        # when/then, not replace("", None): polars' replace needs the whole column, which
        # would stop the ingest pass from streaming
        text = pl.col(mapping[key]).str.strip_chars()
        return pl.when(text != "").then(text)
    return pl.lit(None, dtype=pl.String)


def _with_numbers(frame: pl.LazyFrame, mapping: dict[str, str], keys: list[str],
                  decimal: str) -> pl.LazyFrame:
    """Add ``__<key>`` Float64 columns parsed from the mapped text columns (null if absent)."""
    for key in keys:
        if key in mapping:
            frame = parse.parse_number(frame, mapping[key], f"__{key}", decimal)
        else:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(f"__{key}"))
    return frame


def _first_failed(checks: list[tuple[pl.Expr, str, str | None]]) -> tuple[pl.Expr, pl.Expr]:
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


def _orders_plan(raw: RawTable, fmt: FileFormat, cfg: Config, lean: bool = False):
    m = fmt.mapping
    frame, sources = raw.frame, dict(m)
    if lean and "amount" in m:
        # quantity and price are read only where they fill an empty amount cell
        empty_amount = _text(m, "amount").is_null()
        for key in ("quantity", "unit_price"):
            if key in m:
                sources[key] = f"__{key}_text"
                frame = frame.with_columns(
                    pl.when(empty_amount).then(pl.col(m[key])).alias(sources[key]))
    frame = _with_numbers(frame, sources, ["amount", "quantity", "unit_price", "margin", "cost"],
                          fmt.decimal)
    frame = parse.parse_date(frame, m["order_date"], "__date", fmt.date_order or "dmy")
    qp = pl.col("__quantity") * pl.col("__unit_price")
    has_amount_col = "amount" in m
    # quantity × price fills an empty amount cell; an unreadable amount (н/д) is a reject
    amount = (pl.when(pl.col("__amount_raw").is_null()).then(qp).otherwise(pl.col("__amount"))
              if has_amount_col else qp)
    margin_expr = (pl.coalesce(pl.col("__margin"), pl.col("__amount") - pl.col("__cost"))
                   if "cost" in m else pl.col("__margin"))
    lo, hi = cfg.ingest.min_year, cfg.ingest.max_year
    frame = frame.with_columns(
        __cid=_text(m, "customer_id"), __date_raw=_text(m, "order_date"),
        __amount_raw=_text(m, "amount"),
    ).with_columns(__amount=amount)
    amount_header = m.get("amount") or m.get("quantity")
    checks: list[tuple] = []
    if RAGGED in raw.frame.collect_schema():
        checks.append((pl.col(RAGGED), E.REJECT_RAGGED, EXTRA))
    checks += [
        (pl.col("__cid").is_null(), E.REJECT_MISSING_CUSTOMER, m["customer_id"]),
        (pl.col("__date_raw").is_null(), E.REJECT_MISSING_DATE, m["order_date"]),
        (pl.col("__date").is_null(), E.REJECT_BAD_DATE, m["order_date"]),
        (~pl.col("__date").dt.year().is_between(lo, hi), E.REJECT_DATE_OUT_OF_RANGE,
         m["order_date"]),
    ]
    if has_amount_col:
        checks += [
            (pl.col("__amount_raw").is_null() & pl.col("__amount").is_null(),
             E.REJECT_MISSING_AMOUNT, m["amount"]),
            (pl.col("__amount").is_null(), E.REJECT_BAD_AMOUNT, m["amount"]),
        ]
    else:
        checks += [(pl.col("__amount").is_null(), E.REJECT_BAD_AMOUNT, amount_header)]
    output = [
        pl.col("__cid").alias("customer_id"),
        _text(m, "company_name").alias("company_name"),
        (order_key(_text(m, "order_id"), pl.col("__date")) if lean else pl.coalesce(
            _text(m, "order_id"),
            pl.concat_str([pl.col("__cid"), pl.lit("|"), pl.col("__date").cast(pl.String)]),
        )).alias("order_id"),
        pl.col("__date").alias("order_date"),
        pl.col("__amount").alias("amount"),
        pl.col("__quantity").alias("quantity"),
        pl.col("__unit_price").alias("unit_price"),
        _text(m, "category").alias("category"),
        _text(m, "product").alias("product"),
    ]
    return frame, checks, output, margin_expr


def _contacts_plan(raw: RawTable, fmt: FileFormat, cfg: Config):
    m = fmt.mapping
    inf = cfg.inference
    frame = _with_numbers(raw.frame, m, ["turnover", "headcount"], fmt.decimal)
    frame = frame.with_columns(__cid=_text(m, "customer_id"))
    checks: list[tuple] = []
    if RAGGED in raw.frame.collect_schema():
        checks.append((pl.col(RAGGED), E.REJECT_RAGGED, EXTRA))
    checks.append((pl.col("__cid").is_null(), E.REJECT_MISSING_CUSTOMER, m["customer_id"]))

    title = _text(m, "job_title")
    role_text = _text(m, "role")
    role_given = parse.first_match(role_text, parse.ROLE_VALUES)
    role_from_title = parse.first_match(
        title,
        [("purchaser", inf.roles.purchaser), ("decision_maker", inf.roles.decision_maker),
         ("user", inf.roles.user)],
    )
    company = _text(m, "company_name")
    type_text = _text(m, "company_type")
    type_given = parse.first_match(type_text, parse.COMPANY_TYPE_VALUES)
    kw = inf.company_types
    type_from_name = parse.first_match(
        company,
        [("government", kw.government), ("manufacturing", kw.manufacturing),
         ("trading", kw.trading), ("shop", kw.shop)],
    )
    channel = parse.first_match(_text(m, "preferred_channel"), parse.CHANNEL_WORDS)

    def flag(key: str) -> pl.Expr:
        return parse.parse_flag(pl.col(m[key])) if key in m else pl.lit(False)

    output = [
        pl.col("__cid").alias("customer_id"),
        company.alias("company_name"),
        _text(m, "contact_name").alias("contact_name"),
        title.alias("job_title"),
        pl.coalesce(role_given, role_from_title, pl.lit("unknown")).alias("role"),
        (role_given.is_null() & role_from_title.is_not_null()).alias("role_inferred"),
        _text(m, "phone").alias("phone"),
        _text(m, "email").alias("email"),
        _text(m, "address").alias("address"),
        _text(m, "inmail").alias("inmail"),
        flag("do_not_call").alias("do_not_call"),
        flag("do_not_email").alias("do_not_email"),
        flag("do_not_mail").alias("do_not_mail"),
        channel.alias("preferred_channel"),
        pl.coalesce(type_given, type_from_name,
                    pl.when(company.is_not_null() | type_text.is_not_null())
                    .then(pl.lit("other"))).alias("company_type"),
        (type_given.is_null() & type_from_name.is_not_null()).alias("company_type_inferred"),
        pl.col("__turnover").alias("turnover"),
        pl.col("__headcount").alias("headcount"),
        _text(m, "region").alias("region"),
        _text(m, "owner").alias("owner"),
    ]
    return frame, checks, output, None


SEEDS = (0x5E67_0D15, 0xC0DE_F00D)  # fixed: the hashes are the same from run to run


def _row_hashes(raw: RawTable) -> list[pl.Expr]:
    """A 64-bit hash of a row's cells as written, and a second one, with another seed, of
    its first three cells: two different rows of even a 100M-line export practically
    never share both (the second costs a third of the first)."""
    columns = raw.headers + ([EXTRA] if EXTRA in raw.frame.collect_schema() else [])
    return [pl.struct(columns).hash(SEEDS[0]).alias("__h1"),
            pl.struct(columns[:3]).hash(SEEDS[1]).alias("__h2")]


def _run_plan(raw: RawTable, fmt: FileFormat, cfg: Config, kind: str, *, lean: bool = False):
    """Accepted rows, reject records and counts for one file.

    One streaming pass over the file keeps, per row, only what is needed afterwards: its
    number, a 128-bit hash of its cells (for the duplicate check), the index of the first
    failed check with the cell it saw, and the accepted columns. The text of the file is
    never held in memory as a whole. ``lean`` keeps just what score and routing read:
    see :data:`segtool.schema.LEAN_ORDERS` and :data:`segtool.schema.LEAN_CONTACTS`.
    """
    dedup = cfg.ingest.drop_duplicates
    # The hashes (for the duplicate check) and the blank-row test read every column; the
    # rest of the plan only the mapped ones. Narrowing the frame first keeps a 5,000-column
    # export as quick as an 8-column one: every later step sees a handful of columns.
    present = raw.frame.collect_schema()
    blank = pl.all_horizontal([pl.col(h).is_null() for h in raw.headers])
    if RAGGED in present:
        blank = blank & ~pl.col(RAGGED)
    keep = list(dict.fromkeys([ROW, *fmt.mapping.values(),
                               *[c for c in (RAGGED, EXTRA) if c in present]]))
    raw = replace(raw, frame=raw.frame.select(
        *keep, *(_row_hashes(raw) if dedup else []), blank.alias("__blank")))
    if kind == "orders":
        frame, checks, output, margin_expr = _orders_plan(raw, fmt, cfg, lean)
        output = [*output, (margin_expr if margin_expr is not None
                            else pl.lit(None, dtype=pl.Float64)).alias("margin")]
    else:
        frame, checks, output, _ = _contacts_plan(raw, fmt, cfg)
    if kind == "orders":
        schema = LEAN_ORDERS if lean else ORDERS
    else:
        schema = LEAN_CONTACTS if lean else CONTACTS
    failed, value = _first_failed(checks)
    wanted = [*output, pl.lit(raw.name).alias("source_file"), pl.col(ROW).alias("source_row")]
    # dictionary-encoded while streaming, so the full text never piles up in memory
    wanted = [e.cast(pl.Categorical) if schema[e.meta.output_name()] == pl.Categorical else e
              for e in wanted if e.meta.output_name() in schema]
    rows = (
        frame.filter(~pl.col("__blank"))
        .select(
            pl.col(ROW).alias("__source_row"),
            *([pl.col("__h1"), pl.col("__h2")] if dedup else []),
            failed.alias("__failed"),
            pl.when(failed.is_not_null()).then(_clipped(value)).alias("__value"),
            *wanted,
        )
        .collect(engine="streaming")
    )
    # Rejected and duplicate rows are handled by index. Adding a column or filtering would
    # copy the (multi-chunk) columns of every row: at 10M lines, half a gigabyte more.
    failed_at = rows.select(pl.arg_where(pl.col("__failed").is_not_null())).to_series()
    duplicate_at = _duplicates(rows) if dedup else pl.Series([], dtype=pl.UInt32)
    dropped = pl.concat([failed_at.cast(pl.UInt32), duplicate_at]).unique().sort()
    rejected = (
        rows.lazy().select("__source_row", "__failed", "__value")
        .filter(pl.int_range(pl.len(), dtype=pl.UInt32).is_in(dropped.implode()))
        .collect(engine="streaming")
        .with_columns(__dup=dropped.is_in(duplicate_at.implode()))
    )
    # Series by Series: DataFrame.select would first copy every column into one chunk
    accepted = _without(pl.DataFrame([
        rows.get_column(c) if rows.schema[c] == t else rows.get_column(c).cast(t)
        for c, t in schema.items()]), dropped)
    n_read = rows.height
    del rows  # the hashes and reject columns of every row are not needed any more
    codes = pl.Series([code for _, code, _ in checks], dtype=pl.String)
    headers = pl.Series([None if h == EXTRA else h for _, _, h in checks], dtype=pl.String)
    rejects = rejected.select(
        pl.lit(raw.name).alias("file"),
        pl.col("__source_row").alias("row"),
        pl.when(~pl.col("__dup")).then(pl.col("__failed").replace_strict(
            range(len(checks)), headers, default=None)).alias("column"),
        pl.when(~pl.col("__dup")).then(pl.col("__value")).alias("value"),
        pl.when(pl.col("__dup")).then(pl.lit(E.REJECT_DUPLICATE))
        .otherwise(pl.col("__failed").replace_strict(range(len(checks)), codes, default=None))
        .alias("reason"),
    ).select([pl.col(c).cast(t) for c, t in REJECTS.items()])
    n_dup = int(rejected["__dup"].sum())
    counts = {"read": n_read, "duplicates": n_dup, "rejected": rejected.height - n_dup}
    return accepted, rejects, counts


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
    return pl.when(order_id.is_null()).then(day.cast(pl.UInt64)).otherwise(
        order_id.hash(SEEDS[0]))


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
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}",
                         code="E-INPUT-READ") from None
    return st.st_size, st.st_mtime_ns


def _read_file(path: Path, kind: str, cfg: Config, sheet, overrides, lean: bool):
    """Parse one file (the forgiving reader when polars' own cannot), with its errors
    turned into one-line input errors."""
    formats = cfg.inputs.formats
    raw = read_table(path, kind, encoding=formats.encoding, delimiter=formats.delimiter,
                     sheet=sheet)
    try:
        try:
            fmt = detect_formats(raw, column_mapping(raw, kind, overrides or {}), cfg)
            accepted, rejects, counts = _run_plan(raw, fmt, cfg, kind, lean=lean)
        except (pl.exceptions.ComputeError, pl.exceptions.SchemaError):
            # rows wider or narrower than the header, or bytes polars cannot decode:
            # the forgiving reader marks such rows instead of failing
            if raw.forgiving or raw.sheet is not None:
                raise
            raw.cleanup()
            raw = read_table(path, kind, encoding=formats.encoding,
                             delimiter=formats.delimiter, forgiving=True)
            fmt = detect_formats(raw, column_mapping(raw, kind, overrides or {}), cfg)
            accepted, rejects, counts = _run_plan(raw, fmt, cfg, kind, lean=lean)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{raw.name}: cannot be read: {first}", code="E-INPUT-READ") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}",
                         code="E-INPUT-READ") from None
    finally:
        raw.cleanup()
    return accepted, rejects, counts, fmt, raw


def ingest_file(path: Path, kind: str, cfg: Config, sheet: str | int | None = None,
                overrides: dict[str, str] | None = None, *, lean: bool = False):
    """Read one file; returns (accepted, rejects, stats, format)."""
    before = _fingerprint(path)
    # the checksum for the manifest is computed while the file is parsed (hashlib lets go
    # of the GIL); the fingerprint check below still proves both saw the same bytes
    with ThreadPoolExecutor(max_workers=1) as hasher:
        checksum = hasher.submit(sha256_file, path)
        accepted, rejects, counts, fmt, raw = _read_file(path, kind, cfg, sheet, overrides,
                                                         lean)
        try:
            digest = checksum.result()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}",
                             code="E-INPUT-READ") from None
    if _fingerprint(path) != before:
        raise InputError(
            f"{path}: the file changed while it was being read; run again when the export "
            "is complete", code="E-INPUT-CHANGED",
        )
    stats = InputStats(
        path=str(path), kind=kind, sha256=digest,
        rows_read=counts["read"], rows_accepted=accepted.height,
        rows_rejected=counts["rejected"], rows_duplicate=counts["duplicates"],
        encoding=raw.encoding, delimiter=raw.delimiter, sheet=raw.sheet,
    )
    stats.check()
    return accepted, rejects, stats, fmt


def _attach_companies(contacts: pl.DataFrame, companies: pl.DataFrame) -> pl.DataFrame:
    """Company columns from a separate companies file fill the contacts' gaps; companies
    with nobody listed get one row with no person (routing sends them to data quality)."""
    company_cols = [c for c in ("company_name", "company_type", "company_type_inferred",
                                "turnover", "headcount", "region", "owner")
                    if c in contacts.columns]
    per_company = companies.group_by("customer_id", maintain_order=True).first().select(
        "customer_id", *company_cols
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
    workbooks = any(sniff.file_kind(path) == "xlsx" for _, path, _, _, _ in jobs)
    with ThreadPoolExecutor(max_workers=2 if workbooks and len(jobs) > 1 else 1) as pool:
        futures = [pool.submit(ingest_file, path, kind, cfg, sheet, overrides, lean=lean)
                   for kind, path, sheet, overrides, _ in jobs]
        for (_, _, _, _, sink), future in zip(jobs, futures, strict=True):
            accepted, rejects, st, fmt = future.result()
            sink.append(accepted)
            reject_parts.append(rejects)
            stats.append(st)
            formats.append(fmt)
    orders = (pl.concat(order_parts) if order_parts
              else pl.DataFrame(schema=LEAN_ORDERS if lean else ORDERS))
    contacts = (pl.concat(contact_parts) if contact_parts
                else pl.DataFrame(schema=LEAN_CONTACTS if lean else CONTACTS))
    if company_parts:
        contacts = _attach_companies(contacts, pl.concat(company_parts))
    rejects = pl.concat(reject_parts) if reject_parts else pl.DataFrame(schema=REJECTS)
    warnings = []
    for fmt in formats:
        if fmt.unmapped:
            warnings.append(f"{fmt.name}: columns not used: {_list(fmt.unmapped, 8)}")
    for st, fmt in zip(stats, formats, strict=True):
        if st.rows_read == 0:
            warnings.append(f"{fmt.name}: no data rows below the header (row {fmt.header_row})")
        elif st.rows_accepted == 0:
            warnings.append(f"{fmt.name}: every one of its {st.rows_read} rows was left out; "
                            "the reasons are in rejects.csv")
    return IngestResult(orders, contacts, rejects, stats, formats, warnings)


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
