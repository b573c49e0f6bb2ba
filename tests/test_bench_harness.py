"""The benchmark harness itself, on a tiny data set (the timed targets are tests/test_bench.py,
``pytest -m bench``): segtool is timed as the second month of a team's use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench(tmp_path: Path, *options: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """bench/run.py on 4k generated lines, one repetition; its result and work folder."""
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--size",
            "4k",
            "--reps",
            "1",
            *options,
            "--data",
            str(tmp_path / "data"),
            "--results",
            str(tmp_path / "results"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done, tmp_path / "data" / "4k" / "runs"


def test_segtool_is_timed_as_month_two_with_the_history(tmp_path):
    done, work = bench(tmp_path, "--only", "segtool_csv,duckdb")
    assert "segtool as month two" in done.stdout
    [path] = (tmp_path / "results").glob("4k_*.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["contenders"]["segtool_csv"]["ok"], report["contenders"]["segtool_csv"]
    # each timed run's own step timings are kept, and shown
    [timed] = report["contenders"]["segtool_csv"]["runs"]
    assert {"ingest", "score", "classify", "assign-tactics", "export"} <= set(timed["steps"])
    assert "segtool_csv steps (median s): ingest " in done.stdout
    # every 7th task done, 13th refused, 11th in progress: a fair share of the sheets
    marked = report["first_month"]["tasks_marked"]
    assert marked > 0

    manifest = json.loads((work / "segtool_csv" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["as_of"] > "2026-09-30"  # the data's last day, a month after month one
    history = manifest["history"]
    # the timed run read the first month's marks back and carried its open tasks
    assert history["statuses_read_from"] == [
        str(work / "month1" / "call_tasks.csv"),
        str(work / "month1" / "mail_tasks.csv"),
    ]
    assert sum(history["status_changes"].values()) == marked
    assert history["carried"] > 0
    assert manifest["migration"]["previous"] == str(work / "month1")
    # the first month's history is left as it was for the next repetition
    assert (work / "history-month1.db").stat().st_size > 0


def test_no_history_times_a_first_run(tmp_path):
    _, work = bench(tmp_path, "--only", "segtool_csv", "--no-history")
    manifest = json.loads((work / "segtool_csv" / "manifest.json").read_text(encoding="utf-8"))
    assert "history" not in manifest
    assert not (work / "month1").exists()
