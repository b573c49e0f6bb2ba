"""sample_data/generate.py: determinism, monthly snapshots, the export format, coverage."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import re
import sys
from collections import Counter
from pathlib import Path

import openpyxl
import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def _load_generator():
    name = "sample_data_generate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SAMPLE / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


gen = _load_generator()

HEADER = (
    "Номер заказа;Дата заказа;ИНН;Контрагент;Категория;Товар;Количество;Цена, руб.;"
    "Сумма, руб.;Себестоимость, руб."
)
MONEY = re.compile(r"^-?\d{1,3}( \d{3})*,\d{2}$")
DATE = re.compile(r"^\d{2}\.\d{2}\.\d{4}$")


def _rows(path: Path) -> list[list[str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))[1:]


def _money(text: str) -> float:
    return float(text.replace(" ", "").replace(",", "."))


def _inn_valid(inn: str) -> bool:
    d = [int(c) for c in inn]

    def check(weights: list[int]) -> int:
        return sum(w * x for w, x in zip(weights, d, strict=False)) % 11 % 10

    if len(d) == 10:
        return check([2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[9]
    return (
        check([7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[10]
        and check([3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[11]
    )


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """The default sample, regenerated."""
    out = tmp_path_factory.mktemp("sample")
    gen.generate(out)
    return out


@pytest.fixture(scope="module")
def rows(fresh) -> list[list[str]]:
    return _rows(fresh / "orders.csv")


def test_checked_in_files_are_what_the_generator_makes(fresh):
    assert (SAMPLE / "orders.csv").read_bytes() == (fresh / "orders.csv").read_bytes(), (
        "sample_data/orders.csv is stale: run python sample_data/generate.py"
    )
    assert (SAMPLE / "contacts.xlsx").read_bytes() == (fresh / "contacts.xlsx").read_bytes()


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        gen.generate(tmp_path / name, companies=40, seed=seed)
    a, b, c = ((tmp_path / n / "orders.csv").read_bytes() for n in "abc")
    assert a == b
    assert a != c
    assert (tmp_path / "a" / "contacts.xlsx").read_bytes() == (
        tmp_path / "b" / "contacts.xlsx"
    ).read_bytes()


def test_a_later_end_adds_a_month_and_keeps_every_row(tmp_path):
    gen.generate(tmp_path / "oct", companies=80, end=dt.date(2026, 10, 31))
    gen.generate(tmp_path / "nov", companies=80, end=dt.date(2026, 11, 30))
    earlier = _rows(tmp_path / "oct" / "orders.csv")
    later = _rows(tmp_path / "nov" / "orders.csv")
    have = Counter(map(tuple, later))
    missing = Counter(map(tuple, earlier)) - have
    assert not missing, f"rows of the October snapshot missing in November: {list(missing)[:3]}"
    added = [r for r in later if r[1].endswith(".11.2026")]
    assert added, "November adds orders"
    assert len(later) == len(earlier) + len(added)
    assert not any(r[1].endswith(".11.2026") for r in earlier)
    assert {r[2] for r in earlier} <= {r[2] for r in later}


def test_end_cuts_the_history_and_out_of_range_is_refused(tmp_path):
    gen.generate(tmp_path, companies=30, end=dt.date(2025, 3, 31))
    dates = [
        dt.datetime.strptime(r[1], "%d.%m.%Y").date()
        for r in _rows(tmp_path / "orders.csv")
        if r[1] != "31.02.2024"
    ]
    assert min(dates) >= dt.date(2023, 11, 1)
    assert max(dates) <= dt.date(2025, 3, 31)
    with pytest.raises(ValueError, match="end must be between"):
        gen.generate(tmp_path, end=dt.date(2030, 1, 1))


def test_orders_format(fresh, rows):
    raw = (fresh / "orders.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + HEADER.encode("utf-8") + b"\r\n")
    assert 15_000 <= len(rows) <= 40_000
    assert len(raw) < 6_000_000
    assert all(len(r) == 10 for r in rows)
    amounts = [r[8] for r in rows if r[8] != "н/д"]
    for column in (7, 8, 9):
        assert all(MONEY.match(r[column]) for r in rows if r[column] != "н/д"), column
    assert any(" " in a and _money(a) >= 1000 for a in amounts)
    assert all(" " not in a for a in amounts if abs(_money(a)) < 1000)
    assert all(DATE.match(r[1]) for r in rows)
    dates = {dt.datetime.strptime(r[1], "%d.%m.%Y").date() for r in rows if r[1] != "31.02.2024"}
    assert min(dates) == dt.date(2023, 11, 1)
    assert dt.date(2026, 10, 26) <= max(dates) <= dt.date(2026, 10, 31)
    # amount = quantity x price on every line, to the kopeck
    for r in rows:
        if r[8] != "н/д":
            assert abs(int(r[6].replace(" ", "")) * _money(r[7]) - _money(r[8])) < 0.006, r
    inns = {r[2] for r in rows if r[2]}
    assert all(len(i) in (10, 12) and i.isdigit() and _inn_valid(i) for i in inns)
    assert any(i.startswith("0") for i in inns)
    assert any(len(i) == 12 for i in inns)
    assert 250 <= len(inns) <= 320
    names = {r[3] for r in rows}
    for prefix in ("ООО «Завод", "АО «", "ИП ", "ГБУ «", "ТД «", "магазин «"):
        assert any(n.startswith(prefix) for n in names), prefix
    assert {r[4] for r in rows} == {
        "Расходники",
        "Запчасти",
        "Инструмент",
        "Оборудование",
        "Станки",
        "Сервис",
    }


def test_broken_rows_and_returns(rows):
    assert sum(r[2] == "" for r in rows) == 3
    assert sum(r[1] == "31.02.2024" for r in rows) == 2
    assert sum(r[8] == "н/д" for r in rows) == 3
    counts = Counter(map(tuple, rows))
    assert sum(n - 1 for n in counts.values()) == 4  # exact duplicates
    returns = [r for r in rows if r[8].startswith("-")]
    assert 0 < len(returns) < 0.02 * len(rows)
    assert all(r[6].startswith("-") for r in returns)
    assert any(r[0].endswith("-В") for r in returns)
    assert any(not r[0].endswith("-В") for r in returns)


def test_customers_cover_every_lifecycle_situation(rows):
    df = pl.DataFrame(
        [
            (r[0], r[1], r[2], r[4], _money(r[8]))
            for r in rows
            if r[2] and r[8] != "н/д" and r[1] != "31.02.2024"
        ],
        schema=["order", "date", "inn", "category", "amount"],
        orient="row",
    ).with_columns(pl.col("date").str.to_date("%d.%m.%Y"))
    orders = df.group_by("inn", "order").agg(pl.col("amount").sum(), pl.col("date").min())
    per = (
        orders.group_by("inn")
        .agg(
            (pl.col("amount") > 0).sum().alias("n"),
            pl.col("date").filter(pl.col("amount") > 0).max().alias("last"),
        )
        .with_columns(((dt.date(2026, 10, 31) - pl.col("last")).dt.total_days() / 30.44).alias("m"))
    )
    assert per.filter(pl.col("n") == 1).height >= 20  # one-off buyers
    assert per.filter(pl.col("n") >= 30).height >= 20  # frequent regulars
    assert per.filter(pl.col("n") == 0).height >= 2  # everything returned: no purchase
    assert per.filter((pl.col("m") > 13) & (pl.col("m") < 23)).height >= 15
    assert per.filter(pl.col("m") > 24).height >= 15
    assert per.filter(pl.col("m") < 1).height >= 50
    durable = df.filter(pl.col("category") == "Станки")["inn"].n_unique()
    assert durable >= 10


def test_contacts_workbook(fresh, rows):
    wb = openpyxl.load_workbook(fresh / "contacts.xlsx", read_only=True)
    assert wb.sheetnames == ["Контакты"]
    table = list(wb["Контакты"].iter_rows(values_only=True))
    header, body = table[0], table[1:]
    assert list(header) == gen.CONTACTS_HEADER
    col = {name: i for i, name in enumerate(header)}
    inns = [r[col["ИНН"]] for r in body]
    assert all(isinstance(i, str) and len(i) in (10, 12) for i in inns)
    assert any(i.startswith("0") for i in inns)
    per_company = Counter(inns)
    assert set(per_company.values()) <= {1, 2, 3, 4}
    ordered = {r[2] for r in rows if r[2]}
    assert len(set(per_company) - ordered) == 20  # leads: contacts, no orders
    assert ordered <= set(per_company)
    titles = {r[col["Должность"]] for r in body}
    assert {
        "Менеджер по закупкам",
        "Начальник отдела снабжения",
        "Главный инженер",
        "Технолог",
        "Главный механик",
        "Генеральный директор",
        "Директор",
        "Владелец",
    } <= titles
    for flag in ("Не звонить", "Не писать"):
        values = Counter(r[col[flag]] for r in body)
        assert set(values) == {"да", None} and values["да"] < values[None]
    for column in ("Телефон", "E-mail", "Адрес"):
        missing = sum(r[col[column]] is None for r in body)
        assert 0 < missing < len(body) / 2, column
    typed = {r[0]: r[col["Тип компании"]] for r in body}
    known = sum(v is not None for v in typed.values()) / len(typed)
    assert 0.6 < known < 0.8
    assert {v for v in typed.values() if v} == {
        "Производство",
        "Торговля",
        "Магазин",
        "Госучреждение",
    }
    assert sum(r[col["Оборот, руб."]] is not None for r in body) > 0.7 * len(body)
    assert all(
        isinstance(r[col["Оборот, руб."]], int | float)
        for r in body
        if r[col["Оборот, руб."]] is not None
    )


def test_lines_option_scales_to_about_40_lines_per_customer(tmp_path):
    result = gen.generate(tmp_path, lines=20_000, leads=0, broken=False)
    assert 17_000 <= result.rows <= 23_000
    assert 400 <= result.customers <= 520
    rows = _rows(tmp_path / "orders.csv")
    assert max(Counter(map(tuple, rows)).values()) == 1  # no broken run, no duplicates
    assert all(r[2] and r[8] != "н/д" for r in rows)


def test_command_line(tmp_path, capsys):
    assert gen.main(["--out", str(tmp_path), "--companies", "20", "--end", "2026-01-31"]) == 0
    assert "rows" in capsys.readouterr().err
    assert (tmp_path / "orders.csv").exists() and (tmp_path / "contacts.xlsx").exists()
    assert gen.main(["--out", str(tmp_path), "--end", "2031-01-01"]) == 2
