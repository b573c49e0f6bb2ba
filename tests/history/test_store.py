"""The history file: schema version, migrations, lock, repair; and the run options."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from pathlib import Path

import polars as pl
import pytest
from clirun import assert_one_error, cli

from segtool.errors import EXIT_INPUT, EXIT_LOCKED, EXIT_OK, InputError, LockedError
from segtool.history.store import SCHEMA_VERSION, HistoryStore

ORDERS = """customer_id,company_name,order_id,order_date,amount
0001,ООО Первый,A1,2026-01-05,1000
0001,ООО Первый,A2,2026-03-05,1000
0002,ООО Второй,B1,2024-02-10,500
"""


def _project(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs:\n  orders: {path: orders.csv}\n" + extra, encoding="utf-8")
    return config


def test_a_new_file_gets_the_schema_and_its_version(tmp_path):
    with HistoryStore(tmp_path / "h.db") as store:
        tables = {n for (n,) in store.db.execute("SELECT name FROM sqlite_master")}
        assert {
            "runs",
            "run_inputs",
            "tasks",
            "run_tasks",
            "status_changes",
            "task_status",
        } <= tables
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # no WAL
    with HistoryStore(tmp_path / "h.db") as store:  # opening again migrates nothing
        assert store.runs() == []


def test_a_version_1_file_is_migrated_and_keeps_its_runs(tmp_path, capsys):
    from segtool.history.store import MIGRATIONS

    path = tmp_path / "h.db"
    with sqlite3.connect(path) as db:  # a file as the first history release wrote it
        for statement in MIGRATIONS[1]:
            db.execute(statement)
        db.execute("PRAGMA user_version = 1")
    config = _project(tmp_path, "history: {path: h.db}\n")
    assert cli(capsys, "run", "--config", config, "--out", tmp_path / "out").code == EXIT_OK
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
        columns = [row[1] for row in db.execute("PRAGMA table_info(deferred_tasks)")]
    assert columns[:5] == ["run_id", "task_id", "customer_id", "tactic", "step"]


def test_a_file_from_a_newer_segtool_is_refused(tmp_path, capsys):
    path = tmp_path / "h.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(InputError, match="newer segtool"):
        HistoryStore(path).__enter__()
    config = _project(tmp_path)
    result = cli(capsys, "run", "--config", config, "--out", tmp_path / "out", "--history", path)
    newer = f"schema version {SCHEMA_VERSION + 1}"
    assert_one_error(result, EXIT_INPUT, "newer segtool", newer, str(path))
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_a_file_that_is_not_a_database_is_one_error(tmp_path, capsys):
    path = tmp_path / "h.db"
    path.write_text("not sqlite at all, just some text " * 100, encoding="utf-8")
    result = cli(
        capsys, "run", "--config", _project(tmp_path), "--out", tmp_path / "out", "--history", path
    )
    assert_one_error(result, EXIT_INPUT, "not a segtool history file")


def test_the_history_is_locked_during_a_run(tmp_path, capsys):
    config = _project(tmp_path)
    lock = os.open(tmp_path / "segtool-history.db.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(LockedError):
            HistoryStore(tmp_path / "segtool-history.db").__enter__()
        result = cli(capsys, "run", "--config", config, "--out", tmp_path / "out")
        assert_one_error(result, EXIT_LOCKED, "locked", "segtool-history.db")
    finally:
        os.close(lock)
    assert cli(capsys, "run", "--config", config, "--out", tmp_path / "out").code == EXIT_OK


def test_run_records_in_history_path_by_default_and_not_with_no_history(tmp_path, capsys):
    config = _project(tmp_path, "history: {path: state/contacts.db}\n")
    result = cli(capsys, "run", "--config", config, "--out", tmp_path / "a", "--json")
    assert result.code == EXIT_OK, result.err
    manifest = json.loads(result.out)
    assert manifest["history"]["path"] == str(tmp_path / "state" / "contacts.db")
    with HistoryStore(tmp_path / "state" / "contacts.db") as store:
        (run,) = store.runs()
        assert (run.token, run.as_of, run.state) == (
            manifest["history"]["run_token"],
            manifest["as_of"],
            "committed",
        )
        inputs = store.db.execute("SELECT path, kind, sha256 FROM run_inputs").fetchall()
        assert inputs == [(i["path"], i["kind"], i["sha256"]) for i in manifest["inputs"]]
    result = cli(
        capsys, "run", "--config", config, "--out", tmp_path / "b", "--no-history", "--json"
    )
    assert result.code == EXIT_OK and "history" not in json.loads(result.out)
    with HistoryStore(tmp_path / "state" / "contacts.db") as store:
        assert len(store.runs()) == 1
    csv_head = (tmp_path / "b" / "call_tasks.csv").read_text(encoding="utf-8").split("\n")[0]
    assert not csv_head.endswith("issued_on,overdue")  # without history: the old columns


def _pending(store: HistoryStore, out: Path, token: str) -> int:
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO runs (token, as_of, out_dir, state, started_at) "
            "VALUES (?, '2026-10-31', ?, 'pending', '2026-11-01T00:00:00')",
            (token, str(out)),
        )
        run_id = int(cursor.lastrowid)
        db.execute(
            "INSERT INTO tasks (task_id, customer_id, tactic, step, issued_run_id, "
            "issued_as_of) VALUES (?, '0001', 't', 1, ?, '2026-10-31')",
            (f"task-{token}", run_id),
        )
        db.execute(
            "INSERT INTO status_changes (task_id, run_id, status, changed_on, source_file) "
            "VALUES (?, ?, 'open', '2026-10-31', 'issued')",
            (f"task-{token}", run_id),
        )
    return run_id


def test_repair_counts_a_run_whose_outputs_are_in_place_and_removes_the_other(tmp_path):
    placed, lost = tmp_path / "placed", tmp_path / "lost"
    placed.mkdir()
    (placed / "manifest.json").write_text(json.dumps({"history": {"run_token": "aaa"}}))
    with HistoryStore(tmp_path / "h.db") as store:
        _pending(store, placed, "aaa")
        _pending(store, lost, "bbb")
    with HistoryStore(tmp_path / "h.db") as store:
        notes = store.repair()
        assert [r.token for r in store.runs(("committed",))] == ["aaa"]
        assert store.runs(("pending",)) == []
        tasks = [t for (t,) in store.db.execute("SELECT task_id FROM tasks")]
        assert tasks == ["task-aaa"]  # the removed run's task and status are gone
        assert store.db.execute("SELECT count(*) FROM status_changes").fetchone()[0] == 1
    assert "recorded it as complete" in notes[0] and "removed it from history" in notes[1]


def test_history_command_without_a_file_is_one_error(tmp_path, capsys):
    result = cli(capsys, "history", "--config", _project(tmp_path))
    assert_one_error(result, EXIT_INPUT, "no such file", "segtool-history.db")


def _set_status(folder: Path, task_id: str, status: str) -> None:
    path = folder / "call_tasks.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    head = lines[0].split(",")
    id_at = head.index("task_id")
    edited = [lines[0]]
    for line in lines[1:]:
        if line.split(",")[id_at] == task_id:
            line = line.replace(",open,", f",{status},")
        edited.append(line)
    path.write_text("\n".join(edited) + "\n", encoding="utf-8")
    (folder / "call_tasks.xlsx").unlink(missing_ok=True)


def test_an_old_previous_folder_does_not_reopen_a_task_closed_since(tmp_path, capsys):
    import shutil

    import polars as pl

    config = _project(tmp_path)
    out = tmp_path / "out"

    def run(month: str, *extra: object) -> pl.DataFrame:
        result = cli(
            capsys,
            "run",
            "--config",
            config,
            "--out",
            out / month,
            "--as-of",
            f"2026-{month}",
            "--format",
            "csv",
            *extra,
        )
        assert result.code == EXIT_OK, result.err
        return pl.read_csv(out / month / "call_tasks.csv", infer_schema=False)

    april = run("04-30")
    task = april["task_id"][0]
    shutil.copytree(out / "04-30", tmp_path / "april-as-issued")
    _set_status(out / "04-30", task, "done")
    assert task not in set(run("05-31")["task_id"])  # done: not carried
    # June, with April's folder as it was issued passed as --previous: still done
    june = run("06-30", "--previous", tmp_path / "april-as-issued")
    assert task not in set(june["task_id"])
    with HistoryStore(tmp_path / "segtool-history.db") as store:
        assert store.statuses_of([task]) == {task: "done"}


def test_a_rerun_over_sheets_written_without_history_keeps_their_statuses(tmp_path, capsys):
    """The team marked rows in a sheet written before the history existed; running the
    month again into that folder with the history keeps the marks."""
    import openpyxl
    import polars as pl

    from segtool.steps.export import header

    (tmp_path / "orders.csv").write_text(
        ORDERS + "0003,ООО Третий,C1,2025-01-10,700\n0004,ООО Четвёртый,D1,2023-05-10,900\n",
        encoding="utf-8",
    )
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs:\n  orders: {path: orders.csv}\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ("run", "--config", config, "--out", out, "--as-of", "2026-04-30")
    assert cli(capsys, *args, "--no-history").code == EXIT_OK
    before = pl.concat(
        [pl.read_csv(out / f"{n}.csv", infer_schema=False) for n in ("call_tasks", "mail_tasks")]
    )
    marks = dict(zip(before["task_id"][:3], ["выполнена", "в работе", "отказ"], strict=True))
    for name in ("call_tasks", "mail_tasks"):
        book = openpyxl.load_workbook(out / f"{name}.xlsx")
        sheet = book.worksheets[0]
        heads = [c.value for c in sheet[1]]
        id_col, status_col = (heads.index(header(k, "ru")) + 1 for k in ("task_id", "status"))
        for row in range(2, sheet.max_row + 1):
            if sheet.cell(row, id_col).value in marks:
                sheet.cell(row, status_col).value = marks[sheet.cell(row, id_col).value]
        book.save(out / f"{name}.xlsx")
    result = cli(capsys, *args)
    assert result.code == EXIT_OK, result.err
    after = pl.concat(
        [pl.read_csv(out / f"{n}.csv", infer_schema=False) for n in ("call_tasks", "mail_tasks")]
    )
    codes = {"выполнена": "done", "в работе": "in_progress", "отказ": "refused"}
    assert {t: s for t, s in after.select("task_id", "status").rows() if t in marks} == {
        t: codes[m] for t, m in marks.items()
    }
    with HistoryStore(tmp_path / "segtool-history.db") as store:
        assert store.statuses_of(list(marks)) == {t: codes[m] for t, m in marks.items()}
    assert "not in segtool-history.db" not in result.err


def test_a_symlink_planted_as_the_history_lock_is_not_followed(tmp_path):
    from segtool.errors import OutputError
    from segtool.history.store import LOCK_SUFFIX, HistoryStore

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    db = tmp_path / "segtool-history.db"
    (tmp_path / ("segtool-history.db" + LOCK_SUFFIX)).symlink_to(victim)
    with pytest.raises(OutputError, match="lock file"):
        HistoryStore(db).__enter__()
    assert victim.read_text(encoding="utf-8") == "keep me"


def test_each_new_task_gets_one_issued_status_and_a_task_issued_before_keeps_its_own(
    tmp_path, capsys
):
    """Every task a run adds gets its first status ('issued'); a task id already in the file
    (closed since, and issued again by a re-run of its month) keeps its row and statuses."""
    (tmp_path / "orders.csv").write_text(
        ORDERS + "0003,ООО Третий,C1,2025-01-10,700\n0004,ООО Четвёртый,D1,2023-05-10,900\n",
        encoding="utf-8",
    )
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs:\n  orders: {path: orders.csv}\n", encoding="utf-8")
    args = ("run", "--config", config, "--out", tmp_path / "out", "--as-of", "2026-04-30")
    assert cli(capsys, *args).code == EXIT_OK
    path = tmp_path / "segtool-history.db"
    with sqlite3.connect(path) as db:
        issued = db.execute(
            "SELECT task_id, run_id, status, previous_status, changed_on, source_row "
            "FROM status_changes WHERE source_file = 'issued' ORDER BY task_id"
        ).fetchall()
        tasks = [t for (t,) in db.execute("SELECT task_id FROM tasks ORDER BY task_id")]
        assert tasks and [row[0] for row in issued] == tasks
        assert {row[1:] for row in issued} == {(1, "open", None, "2026-04-30", None)}
        # the team's tasks closed as achieved in between (as a later run would record it)
        db.executemany(
            "INSERT INTO status_changes (task_id, run_id, status, previous_status, changed_on) "
            "VALUES (?, 1, 'achieved', 'open', '2026-04-30')",
            [(t,) for t in tasks],
        )
    assert cli(capsys, *args).code == EXIT_OK  # the month again: the same task ids
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*), max(issued_run_id) FROM tasks").fetchone() == (
            len(tasks),
            1,
        )
        assert db.execute(
            "SELECT count(*) FROM status_changes WHERE run_id = 2 AND source_file = 'issued'"
        ).fetchone() == (0,)
        shown = db.execute("SELECT count(*) FROM run_tasks WHERE run_id = 2").fetchone()[0]
        assert shown == len(tasks)


def test_outputs_that_fail_leave_the_history_as_before(tmp_path, capsys, monkeypatch):
    """When the outputs fail, the run is not in the history: not as pending, not a row of
    its tasks, statuses or arms."""
    import segtool.steps.export as export

    config = _project(tmp_path)
    args = ("run", "--config", config, "--out", tmp_path / "out", "--as-of", "2026-04-30")
    assert cli(capsys, *args).code == EXIT_OK
    path = tmp_path / "segtool-history.db"
    with sqlite3.connect(path) as db:
        before = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}

    def failing_outputs(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "write_outputs", failing_outputs)
    later = ("run", "--config", config, "--out", tmp_path / "may", "--as-of", "2026-05-31")
    assert cli(capsys, *later).code != EXIT_OK
    with sqlite3.connect(path) as db:
        after = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        assert db.execute("SELECT DISTINCT state FROM runs").fetchall() == [("committed",)]
    assert after == before
    assert not (tmp_path / "may" / "manifest.json").exists()


TABLES = ("runs", "run_inputs", "tasks", "run_tasks", "status_changes", "assignments")


def test_read_done_takes_the_history_and_this_runs_marks(tmp_path):
    import datetime as dt

    import polars as pl

    from segtool.steps.effectiveness import read_done

    with HistoryStore(tmp_path / "h.db") as store, store.transaction() as db:
        db.execute(
            "INSERT INTO runs (run_id, token, as_of, out_dir, state, started_at) "
            "VALUES (1, 't1', '2026-09-30', '/m1', 'committed', 'now'), "
            "(2, 't2', '2026-10-31', '/m2', 'committed', 'now')"
        )
        tasks = [  # task, customer, issued by run
            ("T1", "C1", 1),  # done in the history
            ("T2", "C2", 1),  # open
            ("T3", "C3", 1),  # done in the history, reopened by this run's sheet
            ("T4", "C4", 1),  # open in the history, marked done in this run's sheet
            ("T5", "C5", 2),  # done, but issued on as_of itself: not earlier
        ]
        for task, customer, run in tasks:
            as_of = "2026-09-30" if run == 1 else "2026-10-31"
            db.execute(
                "INSERT INTO tasks (task_id, customer_id, tactic, step, issued_run_id, "
                "issued_as_of) VALUES (?, ?, 'win_back', 1, ?, ?)",
                (task, customer, run, as_of),
            )
            db.execute(
                "INSERT INTO status_changes (task_id, run_id, status, changed_on) "
                "VALUES (?, ?, 'open', ?)",
                (task, run, as_of),
            )
        for task in ("T1", "T3", "T5"):
            db.execute(
                "INSERT INTO status_changes (task_id, run_id, status, changed_on) "
                "VALUES (?, 2, 'done', '2026-10-31')",
                (task,),
            )
    with HistoryStore(tmp_path / "h.db") as store:
        changes = pl.DataFrame({"task_id": ["T3", "T4", "T9"], "status": ["open", "done", "done"]})
        done = read_done(store, dt.date(2026, 10, 31), changes)
        assert sorted(done["customer_id"].to_list()) == ["C1", "C4"]
        assert done["issued_as_of"].to_list() == [dt.date(2026, 9, 30)] * 2
        # without marks read back, the history alone
        alone = read_done(store, dt.date(2026, 10, 31), changes.clear())
        assert sorted(alone["customer_id"].to_list()) == ["C1", "C3"]


@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_insert_goes_in_sorted_chunk_by_chunk(tmp_path, monkeypatch, chunk):
    import sqlite3

    import polars as pl

    from segtool.history import session

    monkeypatch.setattr(session, "INSERT_CHUNK", chunk)
    db = sqlite3.connect(tmp_path / "x.db")
    db.execute("CREATE TABLE t (k TEXT, n INTEGER, note TEXT, run INTEGER)")
    frame = pl.DataFrame({"k": ["b", "a", "c", "a", "d"], "n": [1, 2, 3, 4, 5], "note": [None] * 5})
    added = session._insert(db, "t", frame, order_by=["k"], same={"run": 7})
    assert added == 5
    rows = db.execute("SELECT k, n, note, run FROM t ORDER BY rowid").fetchall()
    # sorted by k, ties in their order; the all-null column left to its default
    assert rows == [
        ("a", 2, None, 7),
        ("a", 4, None, 7),
        ("b", 1, None, 7),
        ("c", 3, None, 7),
        ("d", 5, None, 7),
    ]
    assert session._insert(db, "t", frame.clear()) == 0
    # only the rows ``where`` holds, as ``columns``; null throughout among those: default
    added = session._insert(
        db,
        "t",
        frame.with_columns(note=pl.when(pl.col("k") == "c").then(pl.lit("x"))),
        where=pl.col("n") % 2 == 0,
        columns=[pl.col("k"), (pl.col("n") * 10).alias("n"), pl.col("note")],
        order_by=["k"],
        same={"run": 8},
    )
    assert added == 2
    assert db.execute("SELECT k, n, note, run FROM t WHERE run = 8 ORDER BY rowid").fetchall() == [
        ("a", 20, None, 8),
        ("a", 40, None, 8),
    ]
    assert session._insert(db, "t", frame, where=pl.col("n") > 99) == 0


@pytest.mark.parametrize("chunk", [1, 2, 1000])
def test_frame_is_the_same_fetched_in_chunks(tmp_path, monkeypatch, chunk):
    from segtool.history import store as store_module

    with HistoryStore(tmp_path / "h.db") as store:
        store.db.execute("CREATE TABLE t (a, b TEXT, c TEXT)")
        store.db.executemany(
            "INSERT INTO t VALUES (?, ?, ?)",
            [(1, "x", "ä"), (2, None, None), (None, None, "ё"), (3, "y", None), (2.5, "z", "w")],
        )
        whole = store.frame("SELECT a, b, CAST(c AS BLOB) AS c FROM t", text=("c",))
        monkeypatch.setattr(store_module, "FETCH_CHUNK", chunk)
        chunked = store.frame("SELECT a, b, CAST(c AS BLOB) AS c FROM t", text=("c",))
        assert chunked.equals(whole)
        assert chunked.schema == {"a": pl.Float64, "b": pl.String, "c": pl.String}
        assert chunked["c"].to_list() == ["ä", None, "ё", None, "w"]
        empty = store.frame("SELECT a, b FROM t WHERE a > 100")
        assert empty.height == 0 and empty.columns == ["a", "b"]
