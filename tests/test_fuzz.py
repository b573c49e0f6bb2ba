"""Property-based tests (hypothesis) of the CSV reader and of a whole run.

CSV reader, for any generated export (random delimiter, quoting, line ends, encoding,
hostile cell text, ragged rows, arbitrary bytes):
- it either reads the file or stops with a :class:`SegtoolError` (never anything else);
- rows read = accepted + rejected + duplicates, and every data row is either accepted
  (``source_row``) or listed in the rejects (``row``), never both, never twice.

A whole run on small generated exports:
- every customer with an order of positive net up to as_of is in exactly one segment row;
- every task names a customer that has a segment row and, when it names a contact, a
  contact person the contacts export has for that customer;
- every xlsx output opens in openpyxl, every CSV output parses.

Example counts are small and fixed (derandomized) so the file runs in well under a minute
and the same way every time; ``SEGTOOL_FUZZ_SCALE=20 pytest tests/test_fuzz.py`` hunts longer
with fresh random examples.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import tempfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segtool.config import Config
from segtool.errors import SegtoolError

# SEGTOOL_FUZZ_SCALE=20 runs 20× the examples with fresh random seeds (a longer hunt)
SCALE = int(os.environ.get("SEGTOOL_FUZZ_SCALE", "0"))
_COMMON = {
    "deadline": None,
    "derandomize": not SCALE,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
FUZZ = settings(max_examples=60 * max(SCALE, 1), **_COMMON)
RUN = settings(max_examples=12 * max(SCALE, 1), **_COMMON)

HEADERS = ["ИНН", "Контрагент", "Номер заказа", "Дата", "Сумма", "Категория"]
# cell text: digits, Cyrillic, every delimiter, quotes, line breaks, signs, currency. A bare
# CR is left to the arbitrary-bytes test: csv.writer does not quote it and every reader
# (Excel too) takes it for a line break, so the generated rows would not be the file's rows.
CELL_CHARS = "0123456789абвгЁёxyzАБ ,;\t|\"'\n-+=@()₽.\u00a0e"
DATE_CELLS = [
    "01.02.2024",
    "2024-02-29",
    "31.02.2024",
    "45000",
    "0",
    "",
    "29.02.2023",
    "15/03/2024",
    "2024-03-01 10:00",
    "1899-01-01",
]
AMOUNT_CELLS = [
    "100",
    "1 234,56",
    "(120.00)",
    "1e400",
    "NaN",
    "",
    "-5",
    "0",
    "12,3,4",
    "₽ 7",
    "7" * 400,
]


def _config(path: Path, **extra) -> Config:
    cfg = Config.model_validate({"inputs": {"orders": {"path": str(path)}}, **extra})
    cfg.base_dir = path.parent
    return cfg


cells = st.one_of(
    st.text(CELL_CHARS, max_size=12), st.sampled_from(DATE_CELLS), st.sampled_from(AMOUNT_CELLS)
)


@st.composite
def exports(draw):
    """A CSV export written the way spreadsheets and CRMs write them, then encoded."""
    width = len(HEADERS)
    rows = draw(
        st.lists(
            st.lists(cells, min_size=width - 2, max_size=width + 2),  # ragged both ways
            min_size=0,
            max_size=25,
        )
    )
    if rows and draw(st.booleans()):
        rows.append(list(rows[0]))  # an exact duplicate
    delimiter = draw(st.sampled_from([";", ",", "\t", "|"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator=terminator)
    writer.writerow(HEADERS)
    writer.writerows(rows)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1251", "mixed"]))
    text = buffer.getvalue()
    if encoding == "mixed":
        lines = text.split(terminator)
        data = b"".join(
            (line + terminator).encode("cp1251" if i % 3 == 2 else "utf-8", errors="replace")
            for i, line in enumerate(lines)
            if line or i < len(lines) - 1
        )
    else:
        data = text.encode(encoding, errors="replace")
    return data, rows


def _check_accounting(path: Path, cfg: Config):
    """Ingest one file; on success check the identity and the row bookkeeping."""
    from segtool.steps.ingest import ingest_file

    try:
        accepted, rejects, stats, _ = ingest_file(path, "orders", cfg)
    except SegtoolError:
        return None
    assert stats.rows_read == stats.rows_accepted + stats.rows_rejected + stats.rows_duplicate
    assert accepted.height == stats.rows_accepted
    assert rejects.height == stats.rows_rejected + stats.rows_duplicate
    assert (rejects["reason"] == "duplicate").sum() == stats.rows_duplicate
    accepted_rows = set(accepted["source_row"].to_list())
    rejected_rows = rejects["row"].to_list()
    assert len(accepted_rows) == accepted.height
    assert len(set(rejected_rows)) == len(rejected_rows)
    assert not accepted_rows & set(rejected_rows)
    if accepted.height:
        assert accepted["customer_id"].null_count() == 0
        assert accepted["order_date"].null_count() == 0
        assert accepted.select(pl.col("amount").is_finite().all()).item()
    return stats, accepted_rows | set(rejected_rows)


@FUZZ
@given(exports())
def test_csv_rows_are_all_accounted_for(export):
    data, rows = export
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orders.csv"
        path.write_bytes(data)
        checked = _check_accounting(path, _config(path))
    if checked is None:
        return
    stats, seen = checked
    non_empty = sum(1 for r in rows if any(c != "" for c in r))
    non_blank = sum(1 for r in rows if any(c.strip() for c in r))
    assert non_blank <= stats.rows_read <= non_empty
    # spreadsheet rows: header = 1, data from 2; every row read is somewhere
    assert len(seen) == stats.rows_read
    assert all(2 <= n <= len(rows) + 1 for n in seen)


@FUZZ
@given(st.binary(max_size=600), st.sampled_from([";", ",", "\t"]))
def test_arbitrary_bytes_after_a_header(body, delimiter):
    header = delimiter.join(HEADERS).encode() + b"\n"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orders.csv"
        path.write_bytes(header + body)
        _check_accounting(path, _config(path))


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes_as_a_workbook(body):
    """Bytes behind a zip or OLE signature: an .xlsx that is not one."""
    with tempfile.TemporaryDirectory() as folder:
        for magic in (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b""):
            path = Path(folder) / "orders.xlsx"
            path.write_bytes(magic + body)
            _check_accounting(path, _config(path))


# -- whole runs ---------------------------------------------------------------------------
BASE = dt.date(2024, 1, 1)


@st.composite
def projects(draw):
    n_customers = draw(st.integers(1, 8))
    ids = draw(
        st.lists(
            st.from_regex(r"0{0,2}[1-9][0-9]{0,3}", fullmatch=True),
            min_size=n_customers,
            max_size=n_customers,
            unique=True,
        )
    )
    order_lines = []
    for cid in ids:
        for k in range(draw(st.integers(0, 5))):
            day = BASE + dt.timedelta(days=draw(st.integers(0, 1400)))
            amount = draw(st.sampled_from([0, 100, 2500, 99999.5, -100, -2500]))
            category = draw(st.sampled_from(["Расходники", "Станки", "Сервис", ""]))
            order_lines.append((cid, f"ООО {cid}", f"{cid}-{k}", day, amount, category))
    contacts = []
    for cid in draw(st.lists(st.sampled_from([*ids, "999999"]), max_size=10)):
        contacts.append(
            (
                cid,
                f"ООО {cid}",
                draw(st.sampled_from(["Иванов", "Петрова", "", "=Смирнов"])),
                draw(st.sampled_from(["Директор", "Менеджер по закупкам", "Инженер", ""])),
                draw(st.sampled_from(["+7 900 000-00-00", "", "нет"])),
                draw(st.sampled_from(["a@b.example", "", "плохой адрес"])),
                draw(st.sampled_from(["", "да"])),
                draw(st.sampled_from(["", "да"])),
            )
        )
    as_of = draw(st.one_of(st.none(), st.dates(BASE, BASE + dt.timedelta(days=1500))))
    return order_lines, contacts, as_of


def _write_project(folder: Path, order_lines, contacts) -> Config:
    lines = ["ИНН;Контрагент;Номер заказа;Дата;Сумма;Категория"]
    for cid, name, oid, day, amount, category in order_lines:
        lines.append(
            f"{cid};{name};{oid};{day:%d.%m.%Y};{str(amount).replace('.', ',')};{category}"
        )
    (folder / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = {"orders": {"path": "orders.csv"}}
    if contacts:
        people = ["ИНН;Компания;ФИО;Должность;Телефон;Email;Не звонить;Не писать"]
        people += [";".join(row) for row in contacts]
        (folder / "contacts.csv").write_text("\n".join(people) + "\n", encoding="utf-8")
        spec["contacts"] = {"path": "contacts.csv"}
    cfg = Config.model_validate({"inputs": spec, "limits": {"max_reject_rate": 1}})
    cfg.base_dir = folder
    return cfg


@RUN
@given(projects())
def test_whole_run_invariants(project):
    from segtool.pipeline import run_pipeline

    order_lines, contacts, as_of = project
    if not order_lines and as_of is None:
        as_of = BASE  # nothing to take the date from: that case is a bad-input test
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cfg = _write_project(folder, order_lines, contacts)
        out = folder / "out"
        first_day = min((line[3] for line in order_lines), default=None)
        if as_of is not None and first_day is not None and as_of < first_day:
            # a date before every order is a typo: refused with the export's range
            from segtool.errors import SegtoolError

            with pytest.raises(SegtoolError, match="before every order"):
                run_pipeline(cfg, out=out, as_of=as_of, previous=None, formats={"csv"})
            return
        result = run_pipeline(cfg, out=out, as_of=as_of, previous=None, formats={"xlsx", "csv"})
        for item in result.manifest["inputs"]:
            assert item["rows_read"] == (
                item["rows_accepted"] + item["rows_rejected"] + item["rows_duplicate"]
            )

        segments = pl.read_csv(out / "segments.csv", infer_schema=False)
        ids = segments["customer_id"].to_list()
        assert len(ids) == len(set(ids))  # one row per customer
        used_as_of = dt.date.fromisoformat(result.manifest["as_of"])
        net: dict[tuple[str, str], float] = {}
        for cid, _, oid, day, amount, _ in order_lines:
            if day <= used_as_of:
                net[(cid, oid)] = net.get((cid, oid), 0.0) + amount
        buyers = {cid for (cid, _), total in net.items() if total > 0}
        assert buyers <= set(ids)
        bought = segments.filter(pl.col("customer_id").is_in(list(buyers)))
        assert bought["segment"].is_in(["lead", "no_purchase"]).sum() == 0
        assert bought["segment"].null_count() == 0

        people = {(c[0], c[2]) for c in contacts if c[2]}
        for name in ("call_tasks.csv", "mail_tasks.csv"):
            tasks = pl.read_csv(out / name, infer_schema=False)
            if tasks.height == 0:
                continue
            assert set(tasks["customer_id"].to_list()) <= set(ids)
            named = tasks.filter(pl.col("contact_name").is_not_null())
            for cid, person in named.select("customer_id", "contact_name").iter_rows():
                assert (cid, person.removeprefix("'")) in people, (cid, person)
            assert tasks["task_id"].n_unique() == tasks.height

        for path in out.glob("*.xlsx"):
            workbook = openpyxl.load_workbook(path)
            assert workbook.worksheets and workbook.worksheets[0].max_row >= 1
        for path in out.glob("*.csv"):
            list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
