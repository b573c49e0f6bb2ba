"""A team of three on sample_data: weekly capacity, working days, deferral, rank, the
per-owner sheets, owners kept from month to month, and no change without a team."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import sys
from pathlib import Path

import openpyxl
import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from clirun import cli  # noqa: E402

from segtool.config import load_config  # noqa: E402
from segtool.pipeline import run_pipeline  # noqa: E402
from segtool.steps import capacity  # noqa: E402
from segtool.steps.tactics import TASK_COLUMNS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TEAM = {"Петрова А.С.": 10, "Орлов Д.А.": 8, "Сидоров К.В.": 5}  # calls per week
EMAILS_PER_WEEK = 30
CALLS = ("call", "survey")
EMAILS = ("email", "inmail", "chatbot")


def project(folder: Path, team: bool, assign: str = "balanced") -> Path:
    """The repo's config pointed at sample_data, with the team of three (or none)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / "playbook.yaml", folder / "playbook.yaml")
    text = (REPO / "config" / "segtool.yaml").read_text(encoding="utf-8")
    text = text.replace("../sample_data/", f"{REPO / 'sample_data'}/")
    if team:
        members = "".join(
            f'    "{name}": {{calls_per_week: {calls}, emails_per_week: {EMAILS_PER_WEEK}}}\n'
            for name, calls in TEAM.items()
        )
        text = text.replace("  # team:", f"  team:\n{members}  assign: {assign}\n  # team:", 1)
    config = folder / "segtool.yaml"
    config.write_text(text, encoding="utf-8")
    return config


def read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema_length=0).with_columns(
        pl.col("due_date").str.to_date(), pl.col("rank").cast(pl.Int64)
    )


def kind() -> pl.Expr:
    return (
        pl.when(pl.col("channel").is_in(CALLS))
        .then(pl.lit("call"))
        .when(pl.col("channel").is_in(EMAILS))
        .then(pl.lit("email"))
    )


@pytest.fixture(scope="module")
def team_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("team")
    cfg = load_config(project(folder, team=True))
    out = folder / "out"
    result = run_pipeline(
        cfg, out=out, as_of=None, previous=None, formats={"csv", "xlsx"}, use_history=False
    )
    issued = pl.concat([read(out / "call_tasks.csv"), read(out / "mail_tasks.csv")])
    return out, cfg, result.manifest, issued, read(out / "deferred.csv")


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plain")
    cfg = load_config(project(folder, team=False))
    out = folder / "out"
    run_pipeline(cfg, out=out, as_of=None, previous=None, formats={"csv"}, use_history=False)
    return out


def test_no_owner_has_more_tasks_in_an_iso_week_than_capacity(team_run):
    _, _, _, issued, deferred = team_run
    assert deferred.height > 0  # the sample has more calls than three people make
    weeks = (
        issued.with_columns(kind().alias("kind"), pl.col("due_date").dt.truncate("1w"))
        .filter(pl.col("kind").is_not_null())
        .group_by("owner", "kind", "due_date")
        .len()
    )
    assert set(weeks["owner"]) == set(TEAM)  # balanced: nobody outside the team
    for owner, what, week, n in weeks.iter_rows():
        cap = TEAM[owner] if what == "call" else EMAILS_PER_WEEK
        assert n <= cap, (owner, what, week, n)
    calls = weeks.filter(pl.col("kind") == "call")
    assert calls["len"].max() == max(TEAM.values())  # the team works at its capacity


def test_no_task_is_due_on_a_weekend_or_holiday(team_run, plain_run):
    _, cfg, _, issued, _ = team_run
    holidays = set(cfg.calendar.holidays)
    assert dt.date(2026, 11, 4) in holidays  # National Unity Day, in the sample's period
    plain = pl.concat([read(plain_run / "call_tasks.csv"), read(plain_run / "mail_tasks.csv")])
    for frame in (issued, plain):
        days = frame["due_date"].to_list()
        assert all(day.weekday() < 5 and day not in holidays for day in days)


def test_issued_plus_deferred_is_every_task_that_matched(team_run, plain_run):
    _, _, manifest, issued, deferred = team_run
    matched = pl.concat([read(plain_run / "call_tasks.csv"), read(plain_run / "mail_tasks.csv")])
    assert issued.height + deferred.height == matched.height == manifest["tactics"]["tasks"]
    assert set(issued["task_id"]).isdisjoint(deferred["task_id"])
    assert set(issued["task_id"]) | set(deferred["task_id"]) == set(matched["task_id"])
    assert manifest["capacity"] == {
        "planned": matched.height,
        "issued": issued.height,
        "deferred": deferred.height,
        "reconsidered": 0,
        "due_dates_moved_to_working_days": manifest["capacity"]["due_dates_moved_to_working_days"],
    }


def test_every_deferred_task_is_in_deferred_csv_with_its_reason(team_run, plain_run):
    out, _, _, issued, deferred = team_run
    header = (out / "deferred.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == [*TASK_COLUMNS, "rank", "deferred_reason"]
    assert deferred["deferred_reason"].unique().to_list() == ["over_capacity"]
    matched = pl.concat([read(plain_run / "call_tasks.csv"), read(plain_run / "mail_tasks.csv")])
    # the task's own fields are as the task would have been issued (owner and rank aside)
    same = [c for c in TASK_COLUMNS if c not in ("owner", "due_date")]
    joined = deferred.select(same).join(matched.select(same), on=same, how="anti", nulls_equal=True)
    assert joined.height == 0
    assert deferred["channel"].is_in([*CALLS, *EMAILS]).all()  # postal mail is never capped


def test_the_highest_ranked_tasks_are_the_ones_issued(team_run):
    _, _, _, issued, deferred = team_run
    both = pl.concat(
        [
            issued.with_columns(pl.lit(False).alias("deferred")),
            deferred.drop("deferred_reason").with_columns(pl.lit(True).alias("deferred")),
        ],
        how="diagonal",
    ).with_columns(kind().alias("kind"))
    # every task of the sample falls due within the period, so per owner and kind the rank
    # splits the list: everything issued ranks before everything deferred
    for (owner, what), group in both.filter(pl.col("kind").is_not_null()).group_by("owner", "kind"):
        kept = group.filter(~pl.col("deferred"))["rank"]
        held = group.filter(pl.col("deferred"))["rank"]
        if held.len():
            assert kept.max() < held.min(), (owner, what)
    # and the rank is tactic priority, then expected value, then due date
    ranked = both.sort("rank")
    assert ranked["rank"].to_list() == list(range(1, both.height + 1))


def test_each_owner_has_a_sheet_sorted_by_due_date_then_rank(team_run):
    out, _, _, issued, _ = team_run
    book = openpyxl.load_workbook(out / "call_tasks.xlsx", read_only=True)
    assert book.sheetnames == ["Звонки", *TEAM]
    calls = issued.filter(pl.col("channel").is_in(CALLS))
    for name in TEAM:
        rows = list(book[name].iter_rows(values_only=True))
        header, body = rows[0], rows[1:]
        due, rank, owner = (header.index(h) for h in ("Срок", "Очерёдность", "Ответственный"))
        assert {row[owner] for row in body} == {name}
        keys = [(row[due], row[rank]) for row in body]
        assert keys == sorted(keys)
        assert len(body) == calls.filter(pl.col("owner") == name).height
    assert book["Звонки"].max_row == calls.height + 1
    mail = openpyxl.load_workbook(out / "mail_tasks.xlsx", read_only=True)
    assert mail.sheetnames == ["Письма", *TEAM]


def test_console_and_manifest_give_capacity_issued_and_deferred_per_owner(
    tmp_path, capsys, team_run
):
    _, _, manifest, issued, deferred = team_run
    for name, calls in TEAM.items():
        row = manifest["owners"][name]
        assert (row["calls_per_week"], row["emails_per_week"]) == (calls, EMAILS_PER_WEEK)
        assert row["issued"] == issued.filter(pl.col("owner") == name).height
        assert row["deferred"] == deferred.filter(pl.col("owner") == name).height
    config = project(tmp_path / "p", team=True)
    result = cli(capsys, "run", "--config", config, "--out", tmp_path / "out", "--no-history")
    assert result.code == 0, result.err
    first = next(iter(TEAM))
    row = manifest["owners"][first]
    assert (
        f"owner {first} (10 calls/week, 30 e-mails/week): {row['issued']} tasks issued "
        f"({row['issued_calls']} calls, {row['issued_emails']} e-mails), "
        f"{row['deferred']} deferred"
    ) in result.err
    assert f"+ {deferred.height} deferred over capacity (deferred.csv)" in result.err


# -- without a team ------------------------------------------------------------------------
def test_without_a_team_outputs_equal_the_earlier_ones_but_for_working_day_due_dates(
    tmp_path, monkeypatch, plain_run
):
    """The same run with the capacity step left out (as segtool wrote it before): every
    row, column and order is the same; only due dates on a day off moved forward."""

    def as_before(tasks, cfg, as_of, **kwargs):
        return capacity.WorkPlan(issued=tasks, deferred=tasks.clear(), planned=tasks.height)

    cfg = load_config(project(tmp_path, team=False))
    monkeypatch.setattr(capacity, "plan_work", as_before)
    before = tmp_path / "before"
    run_pipeline(cfg, out=before, as_of=None, previous=None, formats={"csv"}, use_history=False)
    assert not (plain_run / "deferred.csv").exists()
    holidays = set(cfg.calendar.holidays)
    moved = 0
    for name in ("call_tasks.csv", "mail_tasks.csv"):
        old = pl.read_csv(before / name, infer_schema_length=0)
        new = pl.read_csv(plain_run / name, infer_schema_length=0)
        assert new.columns == [*old.columns, "rank"]
        rest = [c for c in old.columns if c != "due_date"]
        assert new.select(rest).equals(old.select(rest))
        for was, now in zip(old["due_date"], new["due_date"], strict=True):
            was_day, now_day = dt.date.fromisoformat(was), dt.date.fromisoformat(now)
            expected = was_day
            while expected.weekday() >= 5 or expected in holidays:
                expected += dt.timedelta(days=1)
            assert now_day == expected
            moved += was_day != now_day
    assert moved > 0  # the sample's tasks fall due on 1 Nov (Sunday) and 4 Nov (holiday)
    for name in ("segments.csv", "data_quality.csv", "rejects.csv"):
        assert (before / name).read_bytes() == (plain_run / name).read_bytes()


# -- month to month, with the history -------------------------------------------------------
def test_customers_keep_their_owner_and_deferred_tasks_come_first_next_month(tmp_path):
    config = project(tmp_path, team=True)
    cfg = load_config(config)
    sep, oct_ = tmp_path / "sep", tmp_path / "oct"
    run_pipeline(cfg, out=sep, as_of=dt.date(2026, 9, 30), previous=None, formats={"csv"})
    first = pl.concat([read(sep / "call_tasks.csv"), read(sep / "mail_tasks.csv")])
    deferred = read(sep / "deferred.csv")
    with sqlite3.connect(tmp_path / "segtool-history.db") as db:
        kept = db.execute("SELECT count(*), min(reason) FROM deferred_tasks").fetchone()
    assert kept == (deferred.height, "over_capacity")

    second_run = run_pipeline(
        cfg, out=oct_, as_of=dt.date(2026, 10, 30), previous=None, formats={"csv"}
    )
    second = pl.concat([read(oct_ / "call_tasks.csv"), read(oct_ / "mail_tasks.csv")])
    second_deferred = read(oct_ / "deferred.csv")
    # the same owner in both months, for every customer the two runs share
    before = pl.concat([first, deferred], how="diagonal").select("customer_id", "owner")
    after = pl.concat([second, second_deferred], how="diagonal").select("customer_id", "owner")
    both = before.unique().join(after.unique(), on="customer_id", suffix="_after")
    assert both.height > 100
    assert both.filter(pl.col("owner") != pl.col("owner_after")).height == 0
    # last month's deferred tasks that still apply rank before every other task
    again = after.join(deferred.select("customer_id").unique(), on="customer_id")
    assert again.height > 0
    everything = pl.concat([second, second_deferred], how="diagonal")
    keys = deferred.select("customer_id", "tactic", "step")
    back = everything.join(keys, on=["customer_id", "tactic", "step"], how="semi")
    rest = everything.join(keys, on=["customer_id", "tactic", "step"], how="anti")
    reconsidered = second_run.manifest["capacity"]["reconsidered"]
    assert back.height == reconsidered > 0
    assert back["rank"].max() < rest["rank"].min()


def test_a_status_typed_on_an_owner_sheet_is_read_back(tmp_path):
    config = project(tmp_path, team=True)
    cfg = load_config(config)
    sep = tmp_path / "sep"
    run_pipeline(cfg, out=sep, as_of=dt.date(2026, 9, 30), previous=None, formats={"xlsx"})
    book = openpyxl.load_workbook(sep / "call_tasks.xlsx")
    sheet = book["Орлов Д.А."]
    header = [c.value for c in sheet[1]]
    status, task = header.index("Статус") + 1, header.index("Код задачи") + 1
    sheet.cell(row=2, column=status, value="выполнена")
    done_id = sheet.cell(row=2, column=task).value
    book.save(sep / "call_tasks.xlsx")
    run_pipeline(
        cfg, out=tmp_path / "oct", as_of=dt.date(2026, 10, 30), previous=None, formats={"csv"}
    )
    with sqlite3.connect(tmp_path / "segtool-history.db") as db:
        row = db.execute(
            "SELECT s.status, c.source_file FROM task_status s JOIN status_changes c "
            "USING (task_id) WHERE task_id = ? AND c.status = 'done'",
            (done_id,),
        ).fetchone()
    assert row == ("done", "call_tasks.xlsx")


def test_the_step_commands_plan_the_same_work_as_run(tmp_path, capsys, team_run):
    _, _, manifest, issued, deferred = team_run
    config = project(tmp_path / "p", team=True)
    workspace = tmp_path / "ws"
    for step in ("ingest", "score", "classify", "assign-tactics"):
        result = cli(capsys, step, "--config", config, "--workspace", workspace)
        assert result.code == 0, result.err
    out = tmp_path / "out"
    result = cli(
        capsys,
        "export",
        "--config",
        config,
        "--workspace",
        workspace,
        "--out",
        out,
        "--no-history",
        "--format",
        "csv",
    )
    assert result.code == 0, result.err
    again = pl.concat([read(out / "call_tasks.csv"), read(out / "mail_tasks.csv")])
    assert again.sort("task_id").equals(issued.sort("task_id"))
    assert read(out / "deferred.csv").equals(deferred)
    assert "owner Сидоров К.В. (5 calls/week, 30 e-mails/week)" in result.err
