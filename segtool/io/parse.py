"""Polars expressions that turn text cells into numbers, dates, flags and codes.

Each parser returns null for a value it cannot read, so the ingest step can tell
"missing" (the raw cell is null) from "unreadable" (raw present, parsed null) and write a
reject record with the reason.
"""

from __future__ import annotations

import re

import polars as pl

_NUMBER_SHAPE = r"^(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$"


_CURRENCY_TOKENS = ["руб.", "руб", "р.", "rub", "rur", "usd", "eur", "gbp", "₽", "$", "€", "£",
                    "¥", " ", "\u00a0", "\u202f", "\u2009", "'", "’", "`", "\t"]


def parse_number(frame: pl.LazyFrame | pl.DataFrame, src: str, dst: str,
                 decimal: str = "comma"):
    """Add column ``dst`` (Float64) parsed from text column ``src``.

    Accepts decimal comma or point, thousands separators (space, no-break space,
    apostrophe, the other separator), currency signs and words, ``(120.00)`` and a
    trailing minus as negatives. NaN, ±inf and values too large for a float give null
    (unreadable). Work is staged in temporary columns so every intermediate is computed
    once (a single nested expression re-evaluates its branches many times over).
    """
    t = f"__{dst}_t"
    neg = f"__{dst}_neg"
    fast = f"__{dst}_fast"
    # Fast path for plain values ("1234,56", "-15", "1 234,56"): most cells of a real export.
    # Values with the other separator ("1.234,56") are left to the full parser, so the
    # float cast never reads a thousands point as a decimal one. The full parser below
    # then only sees the leftovers; string functions skip nulls, so its many passes cost
    # next to nothing when few cells need it.
    other, mark = (".", ",") if decimal == "comma" else (",", ".")
    squeezed = pl.col(src).str.replace_all(" ", "", literal=True)
    if mark == ",":
        squeezed = squeezed.str.replace(",", ".", literal=True)
    fast_value = pl.when(~pl.col(src).str.contains(other, literal=True)).then(squeezed)
    frame = frame.with_columns(fast_value.cast(pl.Float64, strict=False).alias(fast))
    # 400 digits cast to inf, "nan" to NaN: not numbers anyone wrote on purpose
    frame = frame.with_columns(pl.when(pl.col(fast).is_finite()).then(pl.col(fast)).alias(fast))
    frame = frame.with_columns(
        pl.when(pl.col(fast).is_null()).then(pl.col(src)).str.to_lowercase()
        .str.replace_many(_CURRENCY_TOKENS, [""] * len(_CURRENCY_TOKENS), leftmost=True)
        .str.replace_many(["\u2212", "\u2013"], ["-", "-"])
        .alias(t)
    )
    frame = frame.with_columns(
        (
            (pl.col(t).str.starts_with("(") & pl.col(t).str.ends_with(")"))
            | pl.col(t).str.starts_with("-")
            | pl.col(t).str.contains(r"^\d[\d.,]*-$")
        ).alias(neg),
        pl.col(t).str.strip_chars("()+-").alias(t),
    )
    body = pl.col(t)
    has_c = body.str.contains(",", literal=True)
    has_p = body.str.contains(".", literal=True)
    comma_last = has_c & has_p & body.str.contains(r",\d*$")  # "1.234,56": comma is decimal
    if decimal == "comma":
        comma_is_decimal = comma_last | (has_c & ~has_p)
        point_is_thousands = has_p & ~has_c & body.str.contains(r"^\d{1,3}(\.\d{3})+$")
    else:
        comma_is_decimal = comma_last | (has_c & ~has_p & ~body.str.contains(r"^\d{1,3}(,\d{3})+$"))
        point_is_thousands = pl.lit(False)
    frame = frame.with_columns(
        pl.when(comma_is_decimal)
        .then(body.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
        .when(point_is_thousands)
        .then(body.str.replace_all(".", "", literal=True))
        .otherwise(body.str.replace_all(",", "", literal=True))
        .alias(t)
    )
    value = (
        pl.when(pl.col(t).str.contains(_NUMBER_SHAPE)).then(pl.col(t)).otherwise(None)
        .cast(pl.Float64, strict=False)
    )
    signed = pl.when(pl.col(neg)).then(-value).otherwise(value)
    slow = pl.when(signed.is_finite()).then(signed).otherwise(None)
    return frame.with_columns(pl.coalesce(pl.col(fast), slow).alias(dst)).drop(t, neg, fast)


EXCEL_EPOCH = pl.date(1899, 12, 30)


def parse_date(frame: pl.LazyFrame | pl.DataFrame, src: str, dst: str, order: str = "dmy"):
    """Add column ``dst`` (Date) parsed from text column ``src``.

    Accepts ``dd.mm.yyyy``, ``dd/mm/yyyy``, ``dd-mm-yyyy`` (month first with order
    ``mdy``), ISO ``yyyy-mm-dd``, two-digit years (< 70 → 20xx), ``yyyymmdd``, any of
    them followed by a time of day (dropped), and Excel serial numbers (days since
    1899-12-30). ``order`` may also be a strftime format from the config. Impossible dates
    such as 31.02.2024 give null.
    """
    t, p = f"__{dst}_t", f"__{dst}_p"
    if "%" in order:
        s = pl.col(src).str.strip_chars()
        return frame.with_columns(
            pl.coalesce(
                s.str.to_date(order, strict=False),
                s.str.to_datetime(order, strict=False).dt.date(),
            ).alias(dst)
        )
    fast = f"__{dst}_fast"
    # Fast path: the two spellings most exports use, "31.12.2024" (day first) and ISO
    # "2024-12-31", read with an exact format; only the other cells go through the general
    # parser. chrono reads "01.11.23" as the year 23, so a year below 1000 is left to the
    # general parser too, which reads two-digit years.
    exact = pl.col(src).str.to_date("%Y-%m-%d", strict=False)
    if order == "dmy":
        exact = pl.coalesce(pl.col(src).str.to_date("%d.%m.%Y", strict=False), exact)
    frame = frame.with_columns(exact.alias(fast))
    frame = frame.with_columns(pl.when(pl.col(fast).dt.year() >= 1000).then(pl.col(fast))
                               .alias(fast))
    frame = frame.with_columns(
        pl.when(pl.col(fast).is_null()).then(pl.col(src)).str.strip_chars().alias(t)
    )
    frame = frame.with_columns(
        pl.col(t).str.extract_groups(r"^(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})(?:[ T]\S.*)?$")
        .alias(p)
    )
    a, b, c = (pl.col(p).struct.field(k) for k in ("1", "2", "3"))
    a_is_year = a.str.len_chars() == 4
    if order == "ymd":
        y, m, d = a, b, c
    elif order == "mdy":
        y = pl.when(a_is_year).then(a).otherwise(c)
        m = pl.when(a_is_year).then(b).otherwise(a)
        d = pl.when(a_is_year).then(c).otherwise(b)
    else:
        y = pl.when(a_is_year).then(a).otherwise(c)
        m = b
        d = pl.when(a_is_year).then(c).otherwise(a)
    frame = frame.with_columns(
        y.cast(pl.Int32, strict=False).alias(f"{p}y"),
        y.str.len_chars().alias(f"{p}yl"),
        m.cast(pl.Int32, strict=False).alias(f"{p}m"),
        d.cast(pl.Int32, strict=False).alias(f"{p}d"),
    )
    yy, yl = pl.col(f"{p}y"), pl.col(f"{p}yl")
    year = (
        pl.when(yl == 2).then(yy + pl.when(yy < 70).then(2000).otherwise(1900))
        .when(yl == 4).then(yy)
        .otherwise(None)
    )
    frame = frame.with_columns(year.alias(f"{p}y"))
    iso_text = pl.format("{}-{}-{}", pl.col(f"{p}y").cast(pl.String).str.zfill(4),
                    pl.col(f"{p}m").cast(pl.String).str.zfill(2),
                    pl.col(f"{p}d").cast(pl.String).str.zfill(2))
    text = pl.col(t)
    is_compact = text.str.contains(r"^\d{8}$")
    compact = pl.when(is_compact).then(text).otherwise(None).str.to_date("%Y%m%d", strict=False)
    serial = (
        pl.when(text.str.contains(r"^\d{1,7}(\.\d+)?$") & ~is_compact).then(text).otherwise(None)
        .cast(pl.Float64, strict=False)
    )
    from_serial = (
        pl.when(serial.is_between(0, 2_958_465))
        .then(EXCEL_EPOCH + pl.duration(days=serial.floor().cast(pl.Int64)))
        .otherwise(None)
    )
    frame = frame.with_columns(
        pl.coalesce(pl.col(fast), iso_text.str.to_date("%Y-%m-%d", strict=False), compact,
                    from_serial).alias(dst)
    )
    return frame.drop(t, p, fast, f"{p}y", f"{p}yl", f"{p}m", f"{p}d")


_TRUE = r"(?i)^(да|д|yes|y|true|истина|1|x|х|v|✓|✔|\+|не звонить|не писать|запрет|отказ)$"


def parse_flag(expr: pl.Expr) -> pl.Expr:
    """Consent-style flags: да/yes/1/x/✓ → True; empty → False."""
    s = expr.str.strip_chars()
    return s.str.contains(_TRUE).fill_null(False)


def keyword_regex(words: list[str]) -> str:
    """A case-insensitive regex matching any of the keywords at the start of a word."""
    escaped = [re.escape(w.strip().lower()) for w in words if w.strip()]
    if not escaped:
        return r"(?!)"
    return r"(?i)(^|[^\p{L}\p{N}])(" + "|".join(escaped) + ")"


def first_match(expr: pl.Expr, table: list[tuple[str, list[str]]]) -> pl.Expr:
    """The code of the first keyword list whose regex matches ``expr`` (else null)."""
    out = pl.lit(None, dtype=pl.String)
    for code, words in reversed(table):
        out = pl.when(expr.str.contains(keyword_regex(words))).then(pl.lit(code)).otherwise(out)
    return out


CHANNEL_WORDS = [
    ("call", ["телефон", "звон", "phone", "call", "тел"]),
    ("email", ["email", "e-mail", "почта эл", "эл", "электрон", "mail@", "письмо на почту"]),
    ("inmail", ["inmail", "linkedin", "соцсет", "telegram", "телеграм", "whatsapp"]),
    ("mail", ["почта", "post", "mail", "письмо"]),
    ("chatbot", ["бот", "чат", "bot", "chat"]),
]

COMPANY_TYPE_VALUES = [
    ("government", ["гос", "бюджет", "муницип", "учрежд", "government", "public", "state"]),
    ("manufacturing", ["производ", "завод", "промышл", "manufact", "industr", "production"]),
    ("trading", ["торгов", "опт", "дистриб", "trad", "wholesale", "distrib", "дилер", "dealer"]),
    ("shop", ["магазин", "розниц", "shop", "retail", "store", "ип"]),
]

ROLE_VALUES = [
    ("purchaser", ["закуп", "снабж", "purchas", "procure", "buyer"]),
    ("decision_maker", ["лпр", "руковод", "директор", "decision", "dm", "owner", "владел"]),
    ("user", ["пользоват", "технич", "инженер", "user", "engineer", "выбира"]),
]
