"""SIGKILL at random points of runs with history: history and outputs stay consistent.

A run is in the history if and only if its outputs were put in place. After every kill,
each ``committed`` run's folder holds that run's manifest (its token), and a ``pending``
run is one the next run will finish (outputs in place) or remove (they are not). After the
next complete run there is nothing pending, nothing counted twice, and the sheets hold
exactly the tasks the history says they hold.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
from clirun import segtool_cmd

from segtool.history.store import manifest_token

ROOT = Path(__file__).resolve().parents[2]
KILLS = 8


def _generator():
    spec = importlib.util.spec_from_file_location(
        "sample_gen_kill", ROOT / "sample_data" / "generate.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _start(config: Path, out: Path, as_of: str) -> subprocess.Popen:
    env = {**os.environ, "NO_COLOR": "1", "SEGTOOL_TEST_SLOW_EXPORT": "0.3"}
    return subprocess.Popen(
        segtool_cmd("run", "--config", str(config), "--out", str(out), "--as-of", as_of, "--quiet"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def _runs(db_path: Path) -> list[tuple]:
    with sqlite3.connect(db_path) as db:
        return db.execute("SELECT run_id, token, out_dir, state FROM runs").fetchall()


def _check_after_kill(db_path: Path) -> None:
    """Each folder's manifest belongs to its committed run, or to a pending run (killed
    after its outputs were moved, before it was marked committed: the next run counts it
    and marks the earlier one replaced)."""
    runs = _runs(db_path)
    pending = {token for _, token, _, state in runs if state == "pending"}
    for _, token, out_dir, state in runs:
        if state == "committed":
            placed = manifest_token(Path(out_dir))
            assert placed == token or placed in pending, (out_dir, state)


def _kill_when_pending(config: Path, folder: Path, as_of: str, db_path: Path) -> bool:
    """Start a run and SIGKILL it as soon as it has written its pending run: between the
    history transaction and the move of the outputs. True if that moment was caught."""
    proc = _start(config, folder, as_of)
    deadline = time.monotonic() + 60
    caught = False
    while proc.poll() is None and time.monotonic() < deadline and not caught:
        try:
            with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=0.05) as db:
                caught = (
                    db.execute("SELECT count(*) FROM runs WHERE state = 'pending'").fetchone()[0]
                    > 0
                )
        except sqlite3.OperationalError:  # the writer holds the file for a moment
            pass
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return caught


def _check_settled(db_path: Path, folders: list[Path]) -> None:
    with sqlite3.connect(db_path) as db:
        states = [s for (s,) in db.execute("SELECT state FROM runs")]
        assert "pending" not in states
        for folder in folders:
            committed = db.execute(
                "SELECT run_id, token FROM runs WHERE state = 'committed' AND out_dir = ?",
                (str(folder),),
            ).fetchall()
            if not (folder / "manifest.json").exists():
                assert committed == []
                continue
            assert len(committed) == 1, folder  # one counted run per folder and month
            run_id, token = committed[0]
            assert manifest_token(folder) == token
            on_sheets = set(
                pl.concat(
                    [
                        pl.read_csv(folder / f"{n}.csv", infer_schema=False)
                        for n in ("call_tasks", "mail_tasks")
                    ]
                )["task_id"]
            )
            recorded = {
                t
                for (t,) in db.execute("SELECT task_id FROM run_tasks WHERE run_id = ?", (run_id,))
            }
            assert on_sheets == recorded, folder
        # nothing left by a removed run, no task issued twice
        orphans = db.execute(
            "SELECT count(*) FROM tasks t LEFT JOIN runs r ON r.run_id = t.issued_run_id "
            "WHERE r.run_id IS NULL OR r.state = 'pending'"
        ).fetchone()[0]
        assert orphans == 0
        opened = db.execute(
            "SELECT task_id, count(*) FROM status_changes WHERE source_file = 'issued' "
            "GROUP BY task_id HAVING count(*) > 1"
        ).fetchall()
        assert opened == []


def test_sigkill_loop_leaves_history_and_outputs_consistent(tmp_path):
    _generator().generate(
        tmp_path / "project", companies=60, end=dt.date(2026, 9, 30), broken=False
    )
    config = tmp_path / "project" / "segtool.yaml"
    config.write_text(
        "inputs:\n  orders: {path: orders.csv}\n"
        "  contacts: {path: contacts.xlsx, sheet: Контакты}\n",
        encoding="utf-8",
    )
    db_path = tmp_path / "project" / "segtool-history.db"
    out = tmp_path / "out"
    months = [(out / "08", "2026-08-31"), (out / "09", "2026-09-30")]

    started = time.monotonic()
    first = _start(config, *months[0])
    assert first.wait(timeout=60) == 0, first.stderr.read().decode()
    full = time.monotonic() - started  # a whole run, the range the kills are drawn from

    # killed between the history transaction and the outputs: the run must not count
    before = {t for _, t, _, s in _runs(db_path) if s == "committed"}
    assert _kill_when_pending(config, *months[1], db_path)
    pending = [r for r in _runs(db_path) if r[3] == "pending"]
    assert len(pending) == 1 and manifest_token(months[1][0]) != pending[0][1]
    _check_after_kill(db_path)
    assert {t for _, t, _, s in _runs(db_path) if s == "committed"} == before

    rng = random.Random(15)
    for _ in range(KILLS):
        folder, as_of = months[rng.randrange(2)]
        proc = _start(config, folder, as_of)
        time.sleep(rng.uniform(0.1, full + 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        _check_after_kill(db_path)

    for folder, as_of in months:  # each month run to the end: repairs, then counts once
        proc = _start(config, folder, as_of)
        assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()
    _check_settled(db_path, [folder for folder, _ in months])
