"""Polars expressions that turn text cells into numbers, dates, flags and codes.

Each parser returns null for a value it cannot read, so the ingest step can tell
"missing" (the raw cell is null) from "unreadable" (raw present, parsed null) and write a
reject record with the reason.
"""

from __future__ import annotations

import re
from typing import TypeVar

import polars as pl

from segtool import vocabulary as V

# a step's frame, lazy or collected: the parsers return the kind they were given
FrameT = TypeVar("FrameT", pl.LazyFrame, pl.DataFrame)

_NUMBER_SHAPE = r"^(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$"


_CURRENCY_TOKENS = [
    "руб.",
    "руб",
    "р.",
    "rub",
    "rur",
    "usd",
    "eur",
    "gbp",
    "₽",
    "$",
    "€",
    "£",
    "¥",
    " ",
    "\u00a0",
    "\u202f",
    "\u2009",
    "'",
    "’",
    "`",
    "\t",
]


CURRENCIES = {  # code -> lower-case marks that name it in a cell (ISO code, sign, word)
    "RUB": ["руб", "р.", "rub", "rur", "₽"],
    "USD": ["usd", "$"],
    "EUR": ["eur", "€"],
    "GBP": ["gbp", "£"],
    "CNY": ["cny", "¥"],
}


def currency_of(text: pl.Expr) -> pl.Expr:
    """The currency a (lower-case) amount cell names, or null when it names none."""
    out = pl.lit(None, dtype=pl.String)
    for code, marks in reversed(CURRENCIES.items()):
        out = pl.when(text.str.contains_any(marks)).then(pl.lit(code)).otherwise(out)
    return out


def parse_number(
    frame: FrameT,
    src: str,
    dst: str,
    decimal: str = "comma",
    *,
    ambiguous: str | None = None,
    currency: str | None = None,
) -> FrameT:
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
    # then only sees the leftovers.
    other, mark = (".", ",") if decimal == "comma" else (",", ".")
    squeezed = pl.col(src).str.replace_all(" ", "", literal=True)
    if mark == ",":
        squeezed = squeezed.str.replace(",", ".", literal=True)
    fast_value = pl.when(~pl.col(src).str.contains(other, literal=True)).then(squeezed)
    frame = frame.with_columns(fast_value.cast(pl.Float64, strict=False).alias(fast))
    # 400 digits cast to inf, "nan" to NaN: not numbers anyone wrote on purpose
    frame = frame.with_columns(pl.when(pl.col(fast).is_finite()).then(pl.col(fast)).alias(fast))
    # Every step of the full parser is guarded by "this cell needs it": polars skips a
    # ``then`` whose condition is false throughout a batch, so a batch the fast path read
    # whole costs nothing more (the cells it does not need give null either way).
    need = f"__{dst}_need"
    frame = frame.with_columns((pl.col(fast).is_null() & pl.col(src).is_not_null()).alias(need))

    def needed(expr: pl.Expr) -> pl.Expr:
        return pl.when(pl.col(need)).then(expr)

    lowered = needed(pl.col(src).str.to_lowercase())
    if currency is not None:
        frame = frame.with_columns(lowered.alias(t)).with_columns(
            needed(currency_of(pl.col(t))).alias(currency)
        )
        lowered = pl.col(t)
    frame = frame.with_columns(
        needed(
            lowered.str.replace_many(
                _CURRENCY_TOKENS, [""] * len(_CURRENCY_TOKENS), leftmost=True
            ).str.replace_many(["\u2212", "\u2013"], ["-", "-"])
        ).alias(t)
    )
    frame = frame.with_columns(
        needed(
            (pl.col(t).str.starts_with("(") & pl.col(t).str.ends_with(")"))
            | pl.col(t).str.starts_with("-")
            | pl.col(t).str.contains(r"^\d[\d.,]*-$")
        ).alias(neg),
        needed(pl.col(t).str.strip_chars("()+-")).alias(t),
    )
    body = pl.col(t)
    if ambiguous is not None:
        # one separator followed by exactly three digits, and not the file's decimal mark
        shape = r"^\d{1,3}\.\d{3}$" if decimal == "comma" else r"^\d{1,3},\d{3}$"
        flagged = body.str.contains(shape) if decimal == "comma" else pl.lit(False)
        frame = frame.with_columns(needed(flagged).fill_null(False).alias(ambiguous))
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
        needed(
            pl.when(comma_is_decimal)
            .then(body.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
            .when(point_is_thousands)
            .then(body.str.replace_all(".", "", literal=True))
            .otherwise(body.str.replace_all(",", "", literal=True))
        ).alias(t)
    )
    value = (
        pl.when(pl.col(t).str.contains(_NUMBER_SHAPE))
        .then(pl.col(t))
        .otherwise(None)
        .cast(pl.Float64, strict=False)
    )
    signed = pl.when(pl.col(neg)).then(-value).otherwise(value)
    slow = needed(pl.when(signed.is_finite()).then(signed).otherwise(None))
    return frame.with_columns(pl.coalesce(pl.col(fast), slow).alias(dst)).drop(t, neg, fast, need)


def lookup(
    expr: pl.Expr, mapping: dict[str, int] | dict[str, float], dtype: pl.DataType
) -> pl.Expr:
    """``expr.replace_strict(mapping, default=None)`` for a handful of keys, row by row
    (the streaming engine runs it without holding the whole column)."""
    out = pl.lit(None, dtype=dtype)
    for key, value in reversed(mapping.items()):
        out = pl.when(expr == key).then(pl.lit(value, dtype=dtype)).otherwise(out)
    return out


EXCEL_EPOCH = pl.date(1899, 12, 30)


DATE_SEPARATORS = {".": 0, "/": 1, "-": 2}
DMY_ONLY, MDY_ONLY, EITHER = 1, 2, 3  # what a day/month date allows: see date_evidence


def parse_date(
    frame: FrameT, src: str, dst: str, order: str = "dmy", *, evidence: str | None = None
) -> FrameT:
    """Add column ``dst`` (Date) parsed from text column ``src``.

    Accepts ``dd.mm.yyyy``, ``dd/mm/yyyy``, ``dd-mm-yyyy`` (month first with order
    ``mdy``), ISO ``yyyy-mm-dd``, two-digit years (< 70 → 20xx), ``yyyymmdd``, any of
    them followed by a time of day (dropped), and Excel serial numbers (days since
    1899-12-30). ``order`` may also be a strftime format from the config. Impossible dates
    such as 31.02.2024 give null.

    ``evidence`` names a UInt8 column telling, for a date written day and month first in
    either order, which orders it allows: ``separator * 4 + kind`` with separator 0 ``.``,
    1 ``/``, 2 ``-`` and kind :data:`DMY_ONLY` (``25.12.2024``), :data:`MDY_ONLY`
    (``12/25/2024``) or :data:`EITHER` (``03.04.2024``); null for ISO, serial and other dates.
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
    slow = f"__{dst}_slow"
    # Fast path: the two spellings most exports use, "31.12.2024" (day first) and ISO
    # "2024-12-31", read with an exact format; only the other cells go through the general
    # parser. chrono reads "01.11.23" as the year 23, so a year below 1000 is left to the
    # general parser too, which reads two-digit years.
    iso = pl.col(src).str.to_date("%Y-%m-%d", strict=False)
    if order == "dmy":
        frame = frame.with_columns(pl.col(src).str.to_date("%d.%m.%Y", strict=False).alias(fast))
        dotted = pl.col(fast)
        if evidence is not None:
            frame = frame.with_columns(
                pl.when(dotted.is_not_null())
                .then(
                    pl.when(dotted.dt.day() > 12)
                    .then(pl.lit(DMY_ONLY, pl.UInt8))
                    .otherwise(pl.lit(EITHER, pl.UInt8))
                )
                .alias(evidence)
            )
        # ISO only where the dotted format failed (skipped in a batch where none did)
        frame = frame.with_columns(
            pl.when(dotted.is_null()).then(iso).otherwise(dotted).alias(fast)
        )
    else:
        if evidence is not None:
            frame = frame.with_columns(pl.lit(None, dtype=pl.UInt8).alias(evidence))
        frame = frame.with_columns(iso.alias(fast))
    frame = frame.with_columns(
        pl.when(pl.col(fast).dt.year() >= 1000).then(pl.col(fast)).alias(fast)
    )
    # Every step of the general parser is guarded by "this cell needs it": polars skips a
    # ``then`` whose condition is false throughout a batch, so a batch of fast-path dates
    # costs nothing more (the cells it does not need give null either way).
    frame = frame.with_columns((pl.col(fast).is_null() & pl.col(src).is_not_null()).alias(slow))

    def needed(expr: pl.Expr) -> pl.Expr:
        return pl.when(pl.col(slow)).then(expr)

    frame = frame.with_columns(needed(pl.col(src).str.strip_chars()).alias(t))
    frame = frame.with_columns(
        needed(
            pl.col(t).str.extract_groups(r"^(\d{1,4})([./-])(\d{1,2})[./-](\d{1,4})(?:[ T]\S.*)?$")
        ).alias(p)
    )
    a, sep, b, c = (pl.col(p).struct.field(k) for k in ("1", "2", "3", "4"))
    a_is_year = a.str.len_chars() == 4
    if evidence is not None:
        ai, bi = a.cast(pl.Int32, strict=False), b.cast(pl.Int32, strict=False)
        kind = (
            pl.when(a_is_year)
            .then(None)
            .when((ai > 12) & (bi <= 12))
            .then(pl.lit(DMY_ONLY, pl.UInt8))
            .when((bi > 12) & (ai <= 12))
            .then(pl.lit(MDY_ONLY, pl.UInt8))
            .when((ai <= 12) & (bi <= 12))
            .then(pl.lit(EITHER, pl.UInt8))
        )
        # when/then, not replace_strict: the streaming engine holds the whole column for a
        # replace_strict, and with it every column of the pass (1.5 GB more at 10M lines)
        sep_code = lookup(sep, DATE_SEPARATORS, pl.UInt8())
        frame = frame.with_columns(
            pl.when(pl.col(slow))
            .then(pl.coalesce(pl.col(evidence), sep_code * 4 + kind))
            .otherwise(pl.col(evidence))
            .alias(evidence)
        )
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
        needed(y.cast(pl.Int32, strict=False)).alias(f"{p}y"),
        needed(y.str.len_chars()).alias(f"{p}yl"),
        needed(m.cast(pl.Int32, strict=False)).alias(f"{p}m"),
        needed(d.cast(pl.Int32, strict=False)).alias(f"{p}d"),
    )
    yy, yl = pl.col(f"{p}y"), pl.col(f"{p}yl")
    year = (
        pl.when(yl == 2)
        .then(yy + pl.when(yy < 70).then(2000).otherwise(1900))
        .when(yl == 4)
        .then(yy)
        .otherwise(None)
    )
    frame = frame.with_columns(needed(year).alias(f"{p}y"))
    iso_text = pl.format(
        "{}-{}-{}",
        pl.col(f"{p}y").cast(pl.String).str.zfill(4),
        pl.col(f"{p}m").cast(pl.String).str.zfill(2),
        pl.col(f"{p}d").cast(pl.String).str.zfill(2),
    )
    text = pl.col(t)
    is_compact = text.str.contains(r"^\d{8}$")
    compact = pl.when(is_compact).then(text).otherwise(None).str.to_date("%Y%m%d", strict=False)
    serial = (
        pl.when(text.str.contains(r"^\d{1,7}(\.\d+)?$") & ~is_compact)
        .then(text)
        .otherwise(None)
        .cast(pl.Float64, strict=False)
    )
    from_serial = (
        pl.when(serial.is_between(0, 2_958_465))
        .then(EXCEL_EPOCH + pl.duration(days=serial.floor().cast(pl.Int64)))
        .otherwise(None)
    )
    general = pl.coalesce(iso_text.str.to_date("%Y-%m-%d", strict=False), compact, from_serial)
    frame = frame.with_columns(
        pl.when(pl.col(slow)).then(general).otherwise(pl.col(fast)).alias(dst)
    )
    return frame.drop(t, p, fast, slow, f"{p}y", f"{p}yl", f"{p}m", f"{p}d")


_TRUE = r"(?i)^(да|д|yes|y|true|истина|1|x|х|v|✓|✔|\+|не звонить|не писать|запрет|отказ)$"


def parse_flag(expr: pl.Expr) -> pl.Expr:
    """Consent-style flags: да/yes/1/x/✓ → True; empty → False."""
    s = expr.str.strip_chars()
    return s.str.contains(_TRUE).fill_null(False)


def keyword_regex(words: list[str]) -> str:
    """A case-insensitive regex matching any of the keywords at the start of a word; a
    keyword written with a trailing space («ип ») must be a whole word (so «ИП Волков» is
    matched and «Ипотечный центр» is not)."""
    escaped = [
        re.escape(w.strip().lower()) + (r"(?:[^\p{L}\p{N}]|$)" if w.endswith(" ") else "")
        for w in words
        if w.strip()
    ]
    if not escaped:
        return r"(?!)"
    return r"(?i)(^|[^\p{L}\p{N}])(" + "|".join(escaped) + ")"


def company_type_from_name(name: pl.Expr, table: list[tuple[str, list[str]]]) -> pl.Expr:
    """Company type from the name's legal form and words (seed 001): the first type in
    ``table`` with a keyword at the start of a word of the name; null when none matches.
    The one rule for contacts (ingest) and for customers the contacts do not type (score)."""
    return first_match(name, table)


def first_match(expr: pl.Expr, table: list[tuple[str, list[str]]]) -> pl.Expr:
    """The code of the first keyword list whose regex matches ``expr`` (else null)."""
    out = pl.lit(None, dtype=pl.String)
    for code, words in reversed(table):
        out = pl.when(expr.str.contains(keyword_regex(words))).then(pl.lit(code)).otherwise(out)
    return out


# keywords of cells, in matching order (first match wins: messengers before "тел"
# (телефон) and "mail"); defined with each code in segtool.vocabulary
CHANNEL_WORDS = V.keywords("channel")
COMPANY_TYPE_VALUES = V.keywords("company_type")
ROLE_VALUES = V.keywords("contact_role")


# -- customer ids ---------------------------------------------------------------------------
_ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
_ODD_SPACES = ["\u00a0", "\u202f", "\u2007", "\u2009", "\u3000"]
_FULL_WIDTH = [chr(0xFF10 + i) for i in range(10)] + ["\uff0d"]
_ASCII_FOR_FULL_WIDTH = [str(i) for i in range(10)] + ["-"]
LOOKALIKE_CYRILLIC = "АВЕКМНОРСТУХ"
LOOKALIKE_LATIN = "ABEKMHOPCTYX"
_CODE_SHAPE = rf"^[0-9A-Z{LOOKALIKE_CYRILLIC}][0-9A-Z{LOOKALIKE_CYRILLIC} _./\-]*$"
SCIENTIFIC_ID = r"^[+-]?\d+([.,]\d+)?[eE][+-]?\d+$"
ID_SPELLING, ID_SCRIPT, ID_PADDED = 1, 2, 4  # bits of the fix made to an id


def normalize_id(text: pl.Expr, *, inn: bool) -> tuple[pl.Expr, pl.Expr]:
    """(id, fix) for a trimmed id cell: the id as it is meant and a UInt8 of ID_* bits.

    Folded: zero-width and no-break spaces, a leading apostrophe (Excel's text marker),
    full-width digits, a trailing ``.0`` (a number column read as float), Cyrillic letters
    that look like Latin ones in codes (``КА-001`` = ``KA-001``), and, for an ИНН column,
    a 9- or 11-digit ИНН whose leading zero Excel dropped. Clean ids (most of them) are
    returned as they are.
    """
    clean = text.str.contains(r"^[0-9A-Za-z_/\-]+$")
    dirty = pl.when(~clean).then(text)
    spelled = (
        dirty.str.replace_many(_ZERO_WIDTH, [""] * len(_ZERO_WIDTH))
        .str.replace_many(_ODD_SPACES, [" "] * len(_ODD_SPACES))
        .str.replace_many(_FULL_WIDTH, _ASCII_FOR_FULL_WIDTH)
        .str.strip_chars()
        .str.strip_chars_start("'’`")
        .str.strip_chars()
        .str.replace(r"^(\d+)\.0+$", "$1")
    )
    folded = (
        pl.when(spelled.str.contains(_CODE_SHAPE) & spelled.str.contains(r"\d"))
        .then(spelled.str.replace_many(list(LOOKALIKE_CYRILLIC), list(LOOKALIKE_LATIN)))
        .otherwise(spelled)
    )
    value = pl.when(clean).then(text).otherwise(folded)
    fix = pl.when(~clean & (spelled != text)).then(pl.lit(ID_SPELLING, pl.UInt8)).otherwise(
        pl.lit(0, pl.UInt8)
    ) + pl.when(~clean & (folded != spelled)).then(pl.lit(ID_SCRIPT, pl.UInt8)).otherwise(
        pl.lit(0, pl.UInt8)
    )
    if inn:
        short = value.str.contains(r"^(\d{9}|\d{11})$")
        value = pl.when(short).then(pl.lit("0") + value).otherwise(value)
        fix = fix + pl.when(short).then(pl.lit(ID_PADDED, pl.UInt8)).otherwise(pl.lit(0, pl.UInt8))
    return value, pl.when(text.is_not_null()).then(fix)


# ids normalize_id leaves as they are, fixing nothing, that are neither a totals marker
# nor scientific notation (no E, a digit): an ИНН of 10 or 12 digits, or a code
CANONICAL_INN = r"^([0-9]{10}|[0-9]{12})$"
CANONICAL_ID = r"^[0-9A-DF-Za-df-z_/\-]*[0-9][0-9A-DF-Za-df-z_/\-]*$"


def with_normalized_id(
    frame: FrameT, cell: str, text: pl.Expr, dst: str, fix: str, canonical: str, *, inn: bool
) -> FrameT:
    """Columns ``dst`` and ``fix`` as :func:`normalize_id` gives them for ``text`` (the
    id cell ``cell`` trimmed, null when empty), and ``canonical``: True where the cell is
    an id already canonical (most ids of an export), null for a null cell.

    One regex on the cell as written tells the canonical ids (they hold no space, so
    trimming leaves them as they are). Only the others are trimmed and go through
    :func:`normalize_id`: polars skips a ``then`` whose condition is false throughout a
    batch, and its dozen string passes run over nulls in the other batches.
    """
    frame = frame.with_columns(
        pl.col(cell).str.contains(CANONICAL_INN if inn else CANONICAL_ID).alias(canonical)
    )
    ok = pl.col(canonical)
    value, fixed = normalize_id(pl.when(~ok).then(text), inn=inn)
    return frame.with_columns(
        pl.when(ok).then(pl.col(cell)).otherwise(value).alias(dst),
        pl.when(ok).then(pl.lit(0, pl.UInt8)).otherwise(fixed).alias(fix),
    )


_LEGAL_FORMS = [
    "ооо",
    "оао",
    "зао",
    "пао",
    "ао",
    "ип",
    "нко",
    "ано",
    "фгуп",
    "гуп",
    "муп",
    "мку",
    "мбу",
    "тоо",
    "чп",
    "llc",
    "ltd",
    "inc",
    "gmbh",
    "corp",
    "plc",
    "co",
]


def name_key(name: pl.Expr) -> pl.Expr:
    """A company name folded for matching: case, ё, quotes and the legal form's place do
    not matter (``ООО "Ромашка"`` = ``Ромашка ООО`` = ``ооо «ромашка»``)."""
    words = (
        name.str.to_lowercase()
        .str.replace_all("ё", "е", literal=True)
        .str.replace_all(r"[«»\"'“”„`’.,()]", " ")
        .str.replace_all(r"(^|\s)(" + "|".join(_LEGAL_FORMS) + r")(\s|$)", " ")
        .str.replace_all(r"(^|\s)(" + "|".join(_LEGAL_FORMS) + r")(\s|$)", " ")
    )
    return words.str.replace_all(r"\s+", " ").str.strip_chars()


_TOTALS_WORDS = r"(итого|всего|итог|total|grand\s+total|sub-?\s?total|totals)"
TOTALS_ROW = r"(?i)^\s*" + _TOTALS_WORDS + r"(\s*[:.]|\s+(по|за|for|by|of)(\s.*)?)?\s*:?\s*$"


def is_totals_marker(text: pl.Expr) -> pl.Expr:
    """Whether a cell is a totals or subtotals marker: Итого, Всего по клиенту, Итого:,
    Total, Grand total, Subtotal... (a name that merely starts with «Total» is not)."""
    return text.str.contains(TOTALS_ROW).fill_null(False)
