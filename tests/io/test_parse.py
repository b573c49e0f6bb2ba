"""Number, date and flag parsers: one case per format the ingest rules name."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from segtool.io.parse import parse_date, parse_flag, parse_number


def number(value: str | None, decimal: str = "comma") -> float | None:
    frame = parse_number(pl.DataFrame({"v": [value]}, schema={"v": pl.String}), "v", "x", decimal)
    return frame["x"][0]


def date(value: str | None, order: str = "dmy") -> dt.date | None:
    frame = parse_date(pl.DataFrame({"v": [value]}, schema={"v": pl.String}), "v", "x", order)
    return frame["x"][0]


@pytest.mark.parametrize(
    ("text", "decimal", "expected"),
    [
        ("1234,56", "comma", 1234.56),  # decimal comma
        ("1234.56", "point", 1234.56),  # decimal point
        ("1 234,56", "comma", 1234.56),  # space thousands separator
        ("51\u00a0350,70", "comma", 51350.70),  # no-break space
        ("1\u202f234,5", "comma", 1234.5),  # narrow no-break space
        ("1'234.50", "point", 1234.50),  # apostrophe (Swiss style)
        ("1.234,56", "comma", 1234.56),  # point thousands, comma decimal
        ("1,234.56", "point", 1234.56),  # comma thousands, point decimal
        ("1.234,56", "point", 1234.56),  # both present: the last one is the decimal
        ("1,234", "point", 1234.0),  # thousands pattern in a point file
        ("1,234", "comma", 1.234),  # ... is a decimal in a comma file
        ("1 234,56 ₽", "comma", 1234.56),  # currency sign
        ("$1,200.00", "point", 1200.0),
        ("€ 99,90", "comma", 99.90),
        ("100 руб.", "comma", 100.0),  # currency word
        ("12,5 RUB", "comma", 12.5),
        ("-2,55", "comma", -2.55),  # return line
        ("(120.00)", "point", -120.0),  # accounting negative
        ("120-", "comma", -120.0),  # trailing minus (1C)
        ("\u2212" + "5", "comma", -5.0),  # unicode minus
        ("1E3", "point", 1000.0),
        ("0", "comma", 0.0),
    ],
)
def test_numbers(text, decimal, expected):
    assert number(text, decimal) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", None, "NaN", "inf", "1e400", "abc", "12,3,4", "н/д", "--"])
def test_unreadable_numbers_are_null(text):
    assert number(text) is None


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("05.01.2024", "dmy", dt.date(2024, 1, 5)),
        ("5.1.2024", "dmy", dt.date(2024, 1, 5)),
        ("05/01/2024", "dmy", dt.date(2024, 1, 5)),
        ("05/01/2024", "mdy", dt.date(2024, 5, 1)),
        ("12/31/2023", "mdy", dt.date(2023, 12, 31)),
        ("05-01-2024", "dmy", dt.date(2024, 1, 5)),
        ("2024-01-05", "dmy", dt.date(2024, 1, 5)),  # ISO wins whatever the order
        ("2024-01-05", "mdy", dt.date(2024, 1, 5)),
        ("2024-01-05T13:45:00", "dmy", dt.date(2024, 1, 5)),
        ("2024-01-05 00:00:00", "dmy", dt.date(2024, 1, 5)),  # xlsx date cell as text
        ("01.12.2010 08:26", "dmy", dt.date(2010, 12, 1)),  # time dropped
        ("01.12.2010 08:26:59", "dmy", dt.date(2010, 12, 1)),
        ("01.12.10", "dmy", dt.date(2010, 12, 1)),  # two-digit year
        ("01.12.99", "dmy", dt.date(1999, 12, 1)),
        ("20240105", "dmy", dt.date(2024, 1, 5)),
        ("45296", "dmy", dt.date(2024, 1, 5)),  # Excel serial
        ("45296.75", "dmy", dt.date(2024, 1, 5)),  # serial with a time fraction
        ("0", "dmy", dt.date(1899, 12, 30)),  # serial 0: parsed, then out of range in ingest
        ("29.02.2024", "dmy", dt.date(2024, 2, 29)),
        ("05.01.2024", "%d.%m.%Y", dt.date(2024, 1, 5)),  # explicit format from config
    ],
)
def test_dates(text, order, expected):
    assert date(text, order) == expected


@pytest.mark.parametrize(
    "text", ["31.02.2024", "29.02.2023", "2024-13-01", "abc", "", None, "12/31/2023"]
)
def test_impossible_dates_are_null(text):
    assert date(text, "dmy") is None


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2199, 12, 31)))
def test_every_date_round_trips_in_every_style(day):
    assert date(day.strftime("%d.%m.%Y")) == day
    assert date(day.isoformat()) == day
    assert date(day.strftime("%d/%m/%Y")) == day
    assert date(day.strftime("%m/%d/%Y"), "mdy") == day


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False))
def test_every_amount_round_trips_with_comma_and_thousands(value):
    text = f"{value:,.2f}".replace(",", " ").replace(".", ",")
    assert number(text, "comma") == pytest.approx(float(value))
    assert number(f"{value:,.2f}", "point") == pytest.approx(float(value))


def test_flags():
    frame = pl.DataFrame({"v": ["да", "Да", "yes", "1", "x", "✓", "", None, "нет", "0"]})
    assert frame.select(parse_flag(pl.col("v")))["v"].to_list() == [
        True,
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("written", "channel"),
    [
        ("Телеграм", "inmail"),
        ("telegram", "inmail"),
        ("WhatsApp", "inmail"),
        ("Телефон", "call"),
        ("тел.", "call"),
        ("звонок", "call"),
        ("E-mail", "email"),
        ("эл. почта", "email"),
        ("почта", "mail"),
        ("InMail", "inmail"),
        ("чат-бот", "chatbot"),
        ("голубиная почта?", "mail"),
        ("", None),
    ],
)
def test_preferred_channel_words(written, channel):
    from segtool.io.parse import CHANNEL_WORDS, first_match

    frame = pl.DataFrame({"x": [written]})
    assert frame.select(first_match(pl.col("x"), CHANNEL_WORDS)).item() == channel


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ИП Волков М.С.", "shop"),
        ("Ипотечный центр", None),  # «ип» is a whole word, not the start of «Ипотечный»
        ("Магазин №5", "shop"),
        ("ООО «Торговый дом Уралинвест»", "trading"),
        ("АО «Завод Волгапром»", "manufacturing"),
        ("МБУ «Благоустройство»", "government"),
        ("ФГУП «Донприбор» завод", "government"),  # government is tried first
        ("ООО «Ромашка»", None),
    ],
)
def test_company_type_from_name(name, kind):
    from segtool.config import CompanyTypeKeywords
    from segtool.io.parse import company_type_from_name

    table = CompanyTypeKeywords().table()
    frame = pl.DataFrame({"name": [name]})
    assert frame.select(company_type_from_name(pl.col("name"), table)).item() == kind


def test_contacts_and_scores_infer_the_company_type_alike():
    """One rule: a customer typed from its name in scores gets what its contacts row would."""
    from segtool.config import Config
    from segtool.steps.score import _company_type_from_name

    cfg = Config.model_validate({"inputs": {"orders": {"path": "x.csv"}}})
    names = ["Ипотечный центр", "ИП Волков М.С.", "Магазин №5", "ООО «Ромашка»"]
    frame = pl.DataFrame({"company_name": names})
    assert frame.select(_company_type_from_name(cfg)).to_series().to_list() == [
        "other",
        "shop",
        "shop",
        "other",
    ]


def test_date_evidence_is_computed_row_by_row():
    # a replace_strict in the pass made the streaming engine hold every column of a
    # 10M-line file at once (1.5 GB more); the separator codes are when/then per row
    values = ["25.12.2024", "12/25/2024", "03-04-2024", "2024-01-02", None, "3.4.24"]
    frame = pl.LazyFrame({"v": values}, schema={"v": pl.String})
    planned = parse_date(frame, "v", "x", "dmy", evidence="ev")
    assert "replace_strict" not in planned.explain()
    evidence = planned.collect(engine="streaming")["ev"].to_list()
    assert evidence == [1, 6, 11, None, None, 3]
