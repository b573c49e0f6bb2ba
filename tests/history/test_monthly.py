"""Three monthly runs of the sample data with one history, statuses edited in between.

The sample generator cuts one timeline at each month end (sample_data/README.md), so the
three exports are what a CRM would give on 31 Aug, 30 Sep and 30 Oct 2026. Between the
runs the team edits the sheets: in August the call workbook with openpyxl (a row deleted,
statuses in several spellings) and the mail CSV with its workbook removed; in September
the call CSV (workbook removed), then September is run again into the same folder.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import json
import os
import shutil
import signal
import sqlite3
import sys
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from segtool.config import load_config
from segtool.history.store import SCHEMA_VERSION
from segtool.playbook import load_playbook
from segtool.steps.export import header

ROOT = Path(__file__).resolve().parents[2]
MONTHS = {"08": dt.date(2026, 8, 31), "09": dt.date(2026, 9, 30), "10": dt.date(2026, 10, 30)}
SAVED = dt.datetime(2026, 9, 10, 12, 0)  # when the team saved the August sheets


def _generator():
    spec = importlib.util.spec_from_file_location(
        "sample_gen_history", ROOT / "sample_data" / "generate.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def segtool(*args: object) -> int:
    """``segtool ARGS`` through the real entry point, in process; the exit code."""
    from segtool.cli import main

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    argv, sys.argv = sys.argv, ["segtool", *map(str, args)]
    try:
        main()
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _csv(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def _tasks(folder: Path) -> pl.DataFrame:
    return pl.concat([_csv(folder / "call_tasks.csv"), _csv(folder / "mail_tasks.csv")])


def _set_xlsx_statuses(path: Path, statuses: dict[str, str], delete: str | None) -> None:
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    heads = [c.value for c in sheet[1]]
    id_col = heads.index(header("task_id", "ru")) + 1
    status_col = heads.index(header("status", "ru")) + 1
    for row in range(sheet.max_row, 1, -1):
        task = sheet.cell(row, id_col).value
        if task == delete:
            sheet.delete_rows(row)
        elif task in statuses:
            sheet.cell(row, status_col).value = statuses[task]
    book.save(path)


def _set_csv_statuses(path: Path, statuses: dict[str, str]) -> None:
    """Edit a task CSV as a spreadsheet would save it: rows reversed, statuses typed."""
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    for row in rows:
        row["status"] = statuses.get(row["task_id"], row["status"])
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(reversed(rows))
    path.write_text(text.getvalue(), encoding="utf-8")


def _saved_at(path: Path, when: dt.datetime) -> None:
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    gen = _generator()
    base = tmp_path_factory.mktemp("monthly")
    snapshots = {}
    for month, end in MONTHS.items():
        snapshots[month] = base / f"export-{month}"
        gen.generate(snapshots[month], end=end)
    project = base / "project"
    exports = project / "exports"
    exports.mkdir(parents=True)
    shutil.copy(ROOT / "config" / "playbook.yaml", project / "playbook.yaml")
    config = project / "segtool.yaml"
    config.write_text(
        "inputs:\n  orders: {path: exports/orders.csv}\n"
        "  contacts: {path: exports/contacts.xlsx, sheet: Контакты}\n",
        encoding="utf-8",
    )
    cfg = load_config(config)
    sequences = {t.id for t in load_playbook(cfg).tactics if len(t.resolved_steps()) > 1}
    days = {(t.id, s.number): s.day for t in load_playbook(cfg).tactics for s in t.resolved_steps()}
    last = pl.read_csv(
        snapshots["10"] / "orders.csv", separator=";", infer_schema=False, encoding="utf8-lossy"
    )
    ordered = set(
        last.filter(pl.col("Дата заказа").str.to_date("%d.%m.%Y", strict=False) > MONTHS["08"])[
            "ИНН"
        ]
    )
    out = base / "out"
    codes = []

    def run(month: str) -> int:
        for name in ("orders.csv", "contacts.xlsx"):
            shutil.copy(snapshots[month] / name, exports / name)
        codes.append(
            segtool(
                "run",
                "--config",
                config,
                "--out",
                out / month,
                "--as-of",
                MONTHS[month].isoformat(),
                "--quiet",
            )
        )
        return codes[-1]

    # -- August ------------------------------------------------------------------------
    run("08")
    aug = _tasks(out / "08")
    quiet = aug.filter(~pl.col("customer_id").is_in(list(ordered)))  # no order until 30 Oct
    single = quiet.filter(~pl.col("tactic").is_in(list(sequences)))
    calls = single.filter(pl.col("channel") == "call").unique(
        "customer_id", keep="first", maintain_order=True
    )
    mails = single.filter(pl.col("channel") == "email").unique(
        "customer_id", keep="first", maintain_order=True
    )
    mails = mails.filter(~pl.col("customer_id").is_in(calls["customer_id"].head(8).implode()))
    firsts = quiet.filter(pl.col("tactic").is_in(list(sequences)) & (pl.col("step") == "1"))
    firsts = firsts.filter(
        ~pl.col("customer_id").is_in(
            pl.concat([calls["customer_id"].head(8), mails["customer_id"].head(2)]).implode()
        )
    )
    picks = {
        "done": calls["task_id"][0],
        "refused": calls["task_id"][1],
        "in_progress": calls["task_id"][2],
        "open": calls["task_id"][3:7].to_list(),
        "deleted": calls["task_id"][7],
        "mail_done": mails["task_id"][0],
        "mail_refused": mails["task_id"][1],
        "seq_done": firsts["task_id"][0],
        "seq_open": firsts["task_id"][1],
    }
    seq_in_calls = firsts["channel"][0] in ("call", "survey")
    call_statuses = {
        picks["done"]: "выполнена",
        picks["refused"]: "Отказ",
        picks["in_progress"]: "В РАБОТЕ",
    }
    mail_statuses = {picks["mail_done"]: "done", picks["mail_refused"]: "REFUSED"}
    (call_statuses if seq_in_calls else mail_statuses)[picks["seq_done"]] = "Выполнена"
    _set_xlsx_statuses(out / "08" / "call_tasks.xlsx", call_statuses, delete=picks["deleted"])
    (out / "08" / "mail_tasks.xlsx").unlink()
    _set_csv_statuses(out / "08" / "mail_tasks.csv", mail_statuses)
    for name in ("call_tasks.xlsx", "mail_tasks.csv", "call_tasks.csv"):
        _saved_at(out / "08" / name, SAVED)
    # the xlsx of calls was saved after its csv: the xlsx is read
    _saved_at(out / "08" / "call_tasks.csv", SAVED - dt.timedelta(days=1))

    # -- September, edited in the call CSV, then run again into the same folder -----------
    run("09")
    sep_first = _tasks(out / "09")
    new_sep = sep_first.filter(
        (pl.col("issued_on") == "2026-09-30")
        & (pl.col("step") == "1")
        & ~pl.col("tactic").is_in(list(sequences))
        & (pl.col("channel") == "call")
    )
    picks["sep_done"] = new_sep["task_id"][0]
    picks["carried_done"] = picks["open"][0]
    (out / "09" / "call_tasks.xlsx").unlink()
    _set_csv_statuses(
        out / "09" / "call_tasks.csv",
        {picks["sep_done"]: "Done", picks["carried_done"]: "выполнена"},
    )
    run("09")
    sep = _tasks(out / "09")

    # -- October ---------------------------------------------------------------------------
    run("10")
    return {
        "out": out,
        "config": config,
        "project": project,
        "picks": picks,
        "codes": codes,
        "aug": aug,
        "sep_first": sep_first,
        "sep": sep,
        "oct": _tasks(out / "10"),
        "sequences": sequences,
        "days": days,
        "cfg": cfg,
    }


def _row(frame: pl.DataFrame, task_id: str) -> dict:
    rows = frame.filter(pl.col("task_id") == task_id).to_dicts()
    assert len(rows) == 1, (task_id, rows)
    return rows[0]


def _keys(frame: pl.DataFrame, task_id: str, source: pl.DataFrame) -> tuple:
    row = _row(source, task_id)
    return row["customer_id"], row["tactic"], row["step"]


def test_every_run_exits_0(months):
    assert months["codes"] == [0, 0, 0, 0]


def test_done_steps_are_not_issued_again_in_either_later_month(months):
    aug, picks = months["aug"], months["picks"]
    for pick in ("done", "mail_done"):
        key = _keys(aug, picks[pick], aug)
        for month in ("sep", "oct"):
            same_step = months[month].filter(
                pl.struct("customer_id", "tactic", "step")
                == pl.lit({"customer_id": key[0], "tactic": key[1], "step": key[2]})
            )
            assert same_step.height == 0, (pick, month, same_step)
    # done in September (a new task, and one carried from August): not in October
    for pick in ("sep_done", "carried_done"):
        key = _keys(months["sep"], picks[pick], months["sep"])
        assert (
            months["oct"]
            .filter(
                (pl.col("customer_id") == key[0])
                & (pl.col("tactic") == key[1])
                & (pl.col("step") == key[2])
            )
            .height
            == 0
        ), pick


def test_refused_customers_get_no_task_on_that_channel(months):
    aug, picks = months["aug"], months["picks"]
    for pick in ("refused", "mail_refused"):
        row = _row(aug, picks[pick])
        for month in ("sep", "oct"):
            assert (
                months[month]
                .filter(
                    (pl.col("customer_id") == row["customer_id"])
                    & (pl.col("channel") == row["channel"])
                )
                .height
                == 0
            ), (pick, month)


def test_in_progress_and_untouched_open_tasks_come_back_as_they_were(months):
    aug, picks = months["aug"], months["picks"]
    for month in ("sep_first", "sep", "oct"):
        now = months[month]
        kept = _row(now, picks["in_progress"])
        was = _row(aug, picks["in_progress"])
        assert kept["status"] == "in_progress"
        assert kept["due_date"] == was["due_date"] and kept["issued_on"] == "2026-08-31"
        assert kept["overdue"] == "true"  # due in early September
        for task in picks["open"][1:] + [picks["deleted"]]:  # a deleted row stays open
            again = _row(now, task)
            assert again["status"] == "open" and again["due_date"] == _row(aug, task)["due_date"]
            assert {k: again[k] for k in ("customer_id", "tactic", "step", "script")} == {
                k: _row(aug, task)[k] for k in ("customer_id", "tactic", "step", "script")
            }


def test_the_in_progress_row_in_the_workbook_reads_as_a_label(months):
    book = openpyxl.load_workbook(months["out"] / "10" / "call_tasks.xlsx", read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    heads = list(rows[0])
    row = next(
        r for r in rows if r[heads.index(header("task_id", "ru"))] == months["picks"]["in_progress"]
    )
    assert row[heads.index(header("status", "ru"))] == "в работе"
    assert row[heads.index(header("overdue", "ru"))] == "да"
    assert row[heads.index(header("issued_on", "ru"))] == dt.datetime(2026, 8, 31)


def test_a_rerun_after_marking_tasks_done_keeps_them_done(months):
    first, again, picks = months["sep_first"], months["sep"], months["picks"]
    for pick in ("sep_done", "carried_done"):
        assert _row(first, picks[pick])["status"] == "open"
        assert _row(again, picks[pick])["status"] == "done"
    untouched = first.filter(~pl.col("task_id").is_in([picks["sep_done"], picks["carried_done"]]))
    assert set(untouched["task_id"]) <= set(again["task_id"])
    with sqlite3.connect(months["project"] / "segtool-history.db") as db:
        runs = db.execute(
            "SELECT as_of, state, replaces_run_id, replaced_by_run_id FROM runs ORDER BY run_id"
        ).fetchall()
        status = dict(db.execute("SELECT task_id, status FROM task_status").fetchall())
    assert runs == [
        ("2026-08-31", "committed", None, None),
        ("2026-09-30", "replaced", None, 3),
        ("2026-09-30", "committed", 2, None),
        ("2026-10-30", "committed", None, None),
    ]
    assert status[picks["sep_done"]] == "done" and status[picks["carried_done"]] == "done"


def test_a_sequence_step_appears_only_after_the_one_before_is_done(months):
    aug, sep, picks, days = months["aug"], months["sep"], months["picks"], months["days"]
    assert (aug["step"] != "1").sum() == 0  # August: first steps only
    done = _row(aug, picks["seq_done"])
    waiting = _row(aug, picks["seq_open"])
    second = sep.filter(
        (pl.col("customer_id") == done["customer_id"])
        & (pl.col("tactic") == done["tactic"])
        & (pl.col("step") == "2")
    )
    assert second.height == 1
    gap = days[(done["tactic"], 2)] - days[(done["tactic"], 1)]
    # done when the August sheet was saved (10 Sep), the next step its gap later, moved
    # forward to a working day when that falls on a weekend (or a holiday)
    due = SAVED.date() + dt.timedelta(days=gap)
    while due.weekday() >= 5:
        due += dt.timedelta(days=1)
    assert second["due_date"][0] == due.isoformat()
    assert (
        sep.filter(
            (pl.col("customer_id") == waiting["customer_id"])
            & (pl.col("tactic") == waiting["tactic"])
            & (pl.col("step") != "1")
        ).height
        == 0
    )
    assert _row(sep, picks["seq_open"])["status"] == "open"  # step 1 carried
    # October: step 2 is still open, so it is carried and step 3 is not issued
    oct_ = months["oct"]
    assert _row(oct_, second["task_id"][0])["status"] == "open"
    assert (
        oct_.filter(
            (pl.col("customer_id") == done["customer_id"])
            & (pl.col("tactic") == done["tactic"])
            & (pl.col("step") == "3")
        ).height
        == 0
    )


def test_history_command_shows_the_contact_log_and_summary(months, capsys):
    aug, picks = months["aug"], months["picks"]
    customer = _row(aug, picks["refused"])["customer_id"]
    capsys.readouterr()
    assert segtool("history", customer, "--config", months["config"], "--json") == 0
    log = json.loads(capsys.readouterr().out)
    task = next(t for t in log["tasks"] if t["task_id"] == picks["refused"])
    assert task["status"] == "refused"
    change = task["changes"][-1]
    assert (change["previous_status"], change["status"], change["source_file"]) == (
        "open",
        "refused",
        "call_tasks.xlsx",
    )
    assert change["changed_on"] == "2026-09-10" and change["run_as_of"] == "2026-09-30"
    assert segtool("history", "--config", months["config"], "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["schema_version"] == SCHEMA_VERSION and len(summary["runs"]) == 4
    # two refusals typed in; the customers' other open tasks on those channels follow them
    others = [
        t
        for t in log["tasks"]
        if t["task_id"] != picks["refused"]
        and t["channel"] == task["channel"]
        and t["issued_as_of"] == "2026-08-31"
    ]
    for other in others:
        assert other["status"] == "refused"
        assert other["changes"][-1]["source_file"] == "refused channel"
        assert other["changes"][-1]["changed_on"] == "2026-09-10"
    with sqlite3.connect(months["project"] / "segtool-history.db") as db:
        (followed,) = db.execute(
            "SELECT count(*) FROM status_changes WHERE source_file = 'refused channel'"
        ).fetchone()
    assert followed >= len(others)
    assert summary["tasks_by_status"]["refused"] == 2 + followed
    assert segtool("history", customer, "--config", months["config"]) == 0
    text = capsys.readouterr().out
    assert picks["refused"] in text and "open → refused" in text
