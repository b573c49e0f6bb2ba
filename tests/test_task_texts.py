"""Task sheets read as a caller would say them: sample_data end to end, and every template
of the default playbook rendered for awkward names (issue 14).

The real exports get the same check in test_real_data.py.
"""

from __future__ import annotations

import copy
import datetime as dt
import shutil
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from textcheck import check_texts  # noqa: E402

from segtool.config import load_config  # noqa: E402
from segtool.pipeline import run_pipeline  # noqa: E402
from segtool.playbook import DEFAULT_PLAYBOOK, _validate  # noqa: E402
from segtool.steps.tactics import CALL_CHANNELS, assign_tactics  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def read_sheets(out: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    read = {"infer_schema_length": 0}  # every column as text
    tasks = pl.concat(
        [pl.read_csv(out / "call_tasks.csv", **read), pl.read_csv(out / "mail_tasks.csv", **read)],
        how="diagonal",
    )
    return tasks, pl.read_csv(out / "segments.csv", **read)


def sheet_problems(out: Path) -> list[str]:
    """Every problem of every script, offer and reason in the task sheets and segments."""
    tasks, segments = read_sheets(out)
    names = segments["company_name"].drop_nulls().to_list()
    texts = [
        *tasks["script"],
        *tasks["offer"],
        *tasks["reason"],
        *segments["reason"],
        *segments["red_flag_reasons"],
    ]
    return check_texts(texts, names)


@pytest.fixture(scope="module", params=["ru", "en"])
def sample_run(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"sample_{request.param}")
    for name in ("segtool.yaml", "playbook.yaml"):
        shutil.copy(REPO / "config" / name, folder / name)
    config = folder / "segtool.yaml"
    text = config.read_text(encoding="utf-8").replace("../sample_data/", f"{REPO / 'sample_data'}/")
    config.write_text(text.replace("language: ru", f"language: {request.param}"), encoding="utf-8")
    out = folder / "out"
    result = run_pipeline(load_config(config), out=out, as_of=None, previous=None, formats={"csv"})
    return out, result.manifest


def test_sample_data_task_sheets_read_naturally(sample_run):
    out, _ = sample_run
    assert sheet_problems(out) == []


def test_sample_data_one_call_and_one_email_per_customer(sample_run):
    out, manifest = sample_run
    tasks, _ = read_sheets(out)
    calls = tasks.filter(pl.col("channel").is_in(CALL_CHANNELS)).group_by("customer_id").len()
    assert calls["len"].max() == 1
    mails = tasks.filter(pl.col("channel").is_in(["email", "inmail", "chatbot"]))
    assert mails.group_by("customer_id").len()["len"].max() == 1
    assert manifest["tactics"]["merged_by_call_cap"] > 0


def test_sample_data_size_grades_use_no_mixed_units(sample_run):
    out, manifest = sample_run
    size = manifest["classify"]["thresholds"]["size"]
    _, segments = read_sheets(out)
    buyers = segments.filter(pl.col("abc").is_not_null())
    declared = buyers.filter(pl.col("size_class_inferred") == "false")
    # a declared size class is graded by the map, never by its turnover or headcount value
    grades = {"large": "A", "medium": "A", "small": "B", "micro": "C"}
    assert all(
        grades[c] == g for c, g in zip(declared["size_class"], declared["grade_size"], strict=True)
    )
    assert size["sources"] == {
        "size_class": declared.height,
        "revenue_12m": buyers.height - declared.height,
    }
    assert not any("units" in note for note in manifest["classify"]["notes"])


def test_sample_data_has_a_priority_customer(sample_run):
    """All-A customers (seed 000: «приоритетные») exist on the sample, and every one of them
    is A on each of the four criteria."""
    _, segments = read_sheets(sample_run[0])
    priority = segments.filter(pl.col("priority") == "true")
    assert priority.height >= 1
    assert (priority["abc"] == "AAAA").all()
    assert priority.height == segments.filter(pl.col("abc") == "AAAA").height


# -- every template for awkward names ----------------------------------------------------------
AWKWARD = [  # (customer, company name, contact ФИО, expected ru greeting, en greeting)
    (
        "1",
        "ИП Волков М.С.",
        "Волков Михаил Сергеевич",
        "Михаил Сергеевич, добрый день!",
        "Hello Михаил!",
    ),
    ("2", "Магазин №5", "Иванов И.И.", "Добрый день!", "Hello!"),
    ("3", "Ромашка", "Кузнецов", "Добрый день!", "Hello!"),
    ("4", "Acme Trading Ltd", "John Smith", "John, добрый день!", "Hello John!"),
    (
        "5",
        "МКУ «Дорожное управление»",
        "Анна Петровна Сидорова",
        "Анна Петровна, добрый день!",
        "Hello Анна!",
    ),
    ("6", None, None, "Добрый день!", "Hello!"),
]


def _every_tactic_for_everyone(cfg):
    """The default playbook with every condition and stop removed: each customer gets every
    step of every tactic, so every template is rendered."""
    data = yaml.safe_load(DEFAULT_PLAYBOOK.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    for tactic in data["tactics"]:
        tactic["when"] = {}
        tactic["stop"] = False
    return _validate(data, DEFAULT_PLAYBOOK, cfg)


@pytest.mark.parametrize("language", ["ru", "en"])
def test_every_default_template_for_awkward_names(language, tmp_path):
    from segtool.config import config_for_orders

    cfg = config_for_orders(
        "orders.csv",
        language=language,
        tasks={"max_per_customer": 50, "max_calls_per_customer": 50, "max_emails_per_customer": 50},
    )
    playbook = _every_tactic_for_everyone(cfg)
    n = len(AWKWARD)
    segments = pl.DataFrame(
        {
            "customer_id": [a[0] for a in AWKWARD],
            "company_name": [a[1] for a in AWKWARD],
            "segment": ["regular_active"] * n,
            "stage": ["regular"] * n,
            "activity": ["active"] * n,
            "orders": [12345] * n,
            "avg_order_value": [1000.0] * n,
            "recency_days": [400] * n,
            "tenure_days": [2000] * n,
            "last_order_date": [dt.date(2025, 9, 26)] * n,
            "abc": ["AAAA"] * n,
            "priority": [True] * n,
            "red_flags": [""] * n,
            "reason": ["r"] * n,
            "last_durable_date": [dt.date(2019, 4, 30)] * n,
        }
    )
    contacts = pl.DataFrame(
        {
            "customer_id": [a[0] for a in AWKWARD if a[2]],
            "contact_name": [a[2] for a in AWKWARD if a[2]],
            "role": ["purchaser"] * (n - 1),
            "phone": ["+7 1"] * (n - 1),
            "email": ["x@y.ru"] * (n - 1),
            "address": ["Москва"] * (n - 1),
            "inmail": ["in/x"] * (n - 1),
            "owner": ["Фролова Е.Н."] * (n - 1),
        }
    )
    # customer 6 has no contact row: tasks go to the account without a person
    tasks, _ = assign_tactics(segments.lazy(), None, playbook, cfg, dt.date(2026, 10, 31))
    tasks_named, _ = assign_tactics(
        segments.lazy(), contacts.lazy(), playbook, cfg, dt.date(2026, 10, 31)
    )
    every = pl.concat([tasks_named, tasks.filter(pl.col("customer_id") == "6")])
    steps = sum(len(t.resolved_steps()) for t in playbook.tactics)
    assert every.group_by("customer_id").len()["len"].to_list() == [steps] * n
    names = [a[1] for a in AWKWARD if a[1]]
    assert check_texts([*every["script"], *every["offer"]], names) == []
    column = 3 if language == "ru" else 4
    for customer, *_ in AWKWARD:
        greeting = AWKWARD[int(customer) - 1][column]
        scripts = every.filter(
            (pl.col("customer_id") == customer)
            & ~pl.col("tactic").eq("channel_change").and_(pl.col("step") == 2)
        )["script"]
        assert all(s.startswith(greeting) for s in scripts), (customer, scripts.to_list())
    texts = " ".join(every["script"].to_list())
    # never a company id as an address, never the full ФИО as a greeting
    assert "Волков Михаил Сергеевич" not in texts and "Коллеги" not in texts
    assert "12 345" in texts or language == "en"  # orders with a thousands separator
    assert "Фролова Е.Н.." not in texts and "Фролова Е.Н." in texts
    assert "30.04.2019" in texts or "2019-04-30" in texts  # the durable purchase date


def test_summary_sheet_says_how_size_was_graded(tmp_path):
    from openpyxl import load_workbook

    for name in ("segtool.yaml", "playbook.yaml"):
        shutil.copy(REPO / "config" / name, tmp_path / name)
    config = tmp_path / "segtool.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("../sample_data/", f"{REPO / 'sample_data'}/"), encoding="utf-8")
    out = tmp_path / "out"
    manifest = run_pipeline(
        load_config(config), out=out, as_of=None, previous=None, formats={"xlsx"}
    ).manifest
    sources = manifest["classify"]["thresholds"]["size"]["sources"]
    book = load_workbook(out / "segments.xlsx", read_only=True)
    cells = [
        str(c)
        for ws in book.worksheets
        for row in ws.iter_rows(values_only=True)
        for c in row
        if c is not None
    ]
    expected = (
        f"по классу размера (оборот, иначе численность): {sources['size_class']}, "
        f"по выручке за 12 мес. среди остальных: {sources['revenue_12m']}"
    )
    assert any(expected in cell for cell in cells), cells
