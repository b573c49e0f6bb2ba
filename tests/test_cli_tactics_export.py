"""`segtool assign-tactics` and `segtool export` through the CLI, on a prepared workspace."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from segtool.cli import app
from segtool.report import dump_manifest

SEGMENTS = pl.DataFrame(
    {
        "customer_id": ["001", "002", "003", "004"],
        "company_name": ["ООО Альфа", "АО Бета", "ИП Гамма", "=Дельта"],
        "stage": ["new", "regular", "prospective", None],
        "activity": ["active", "asleep", "falling_asleep", None],
        "segment": ["new_active", "regular_asleep", "prospective_falling_asleep", "lead"],
        "orders": [1, 10, 3, 0],
        "revenue": [1000.0, 50000.0, 900.0, 0.0],
        "avg_order_value": [1000.0, 5000.0, 300.0, None],
        "recency_days": [10, 800, 400, None],
        "tenure_days": [10, 2500, 900, None],
        "last_order_date": [
            dt.date(2026, 10, 21),
            dt.date(2024, 8, 22),
            dt.date(2025, 9, 26),
            None,
        ],
        "abc": ["ACBC", "CAAB", "BBBB", None],
        "priority": [False, False, False, None],
        "red_flags": ["", "", "", ""],
        "reason": ["r1", "r2", "r3", "r4"],
    }
)
CONTACTS = pl.DataFrame(
    {
        "customer_id": ["001", "001", "002", "003"],
        "contact_name": ["Иван", "Пётр", "Анна", "Олег"],
        "role": ["purchaser", "user", "decision_maker", "purchaser"],
        "phone": ["+7 1", "+7 2", "+7 3", None],
        "email": ["i@a.ru", None, "a@b.ru", None],
        "do_not_call": [False, False, False, False],
        "do_not_email": [False, False, False, False],
        "owner": ["Белова", None, None, None],
    }
)


def with_workspace(args) -> list[str]:
    """Point each command at the test's workspace (.segtool beside the config)."""
    args = list(args)
    config = args[args.index("--config") + 1]
    return [*args, "--workspace", str(Path(config).parent / ".segtool")]


def prepare(tmp_path):
    config = tmp_path / "segtool.yaml"
    config.write_text(
        "inputs:\n  orders: {path: orders.csv}\n  contacts: {path: contacts.xlsx}\n"
        "export: {csv: {delimiter: ';'}}\n"
    )
    ws = tmp_path / ".segtool"
    ws.mkdir()
    SEGMENTS.write_parquet(ws / "segments.parquet")
    CONTACTS.write_parquet(ws / "contacts.parquet")
    (ws / "rejects.csv").write_text("file,row,column,value,reason\no.csv,3,Сумма,x,bad_amount\n")
    (ws / "manifest.json").write_bytes(
        dump_manifest(
            {
                "as_of": "2026-10-31",
                "inputs": [],
                "classify": {"thresholds": {"recency": {"A": 30, "B": 90}}},
            }
        )
    )
    return config


def run(*args):
    result = CliRunner().invoke(app, with_workspace(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_assign_tactics_then_export_twice_gives_identical_files(tmp_path):
    config = prepare(tmp_path)
    result = run("assign-tactics", "--config", str(config))
    # 003 has no phone, email or address; 004 (a lead) has no contact at all
    assert "4 customers matched by the playbook = 2 with tasks + 2 unreachable" in result.output
    manifest = json.loads((tmp_path / ".segtool" / "manifest.json").read_text())
    assert sum(manifest["tasks_per_channel"].values()) == manifest["tactics"]["tasks"]
    first_ids = pl.read_parquet(tmp_path / ".segtool" / "tasks.parquet")["task_id"].to_list()

    out = tmp_path / "out"
    run("export", "--config", str(config), "--out", str(out))
    names = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert names == {
        "segments.xlsx",
        "segments.csv",
        "call_tasks.xlsx",
        "call_tasks.csv",
        "mail_tasks.xlsx",
        "mail_tasks.csv",
        "data_quality.csv",
        "rejects.csv",
        "manifest.json",
    }
    written = json.loads((out / "manifest.json").read_text())
    assert written["as_of"] == "2026-10-31" and "manifest.json" in written["outputs"]
    csvs = {p.name: p.read_bytes() for p in out.glob("*.csv")}
    assert csvs["call_tasks.csv"].startswith(b"task_id;customer_id;")
    assert b"lead_acquisition" in csvs["data_quality.csv"]

    run("assign-tactics", "--config", str(config))
    run("export", "--config", str(config), "--out", str(out))
    again = pl.read_parquet(tmp_path / ".segtool" / "tasks.parquet")["task_id"].to_list()
    assert again == first_ids
    assert {p.name: p.read_bytes() for p in out.glob("*.csv")} == csvs


def test_export_to_stdout_and_usage_errors(tmp_path):
    config = prepare(tmp_path)
    run("assign-tactics", "--config", str(config))
    result = run("export", "--config", str(config), "-o", "-", "--what", "mail_tasks")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("task_id;customer_id;company_name;")
    assert all(";call;" not in line for line in lines[1:])
    assert not (tmp_path / "out").exists()
    bad = CliRunner().invoke(
        app, with_workspace(["export", "--config", str(config), "-o", "-", "--what", "everything"])
    )
    assert bad.exit_code != 0 and "--what 'everything'" in str(bad.exception)


def test_export_before_assign_tactics_says_what_to_run(tmp_path):
    config = prepare(tmp_path)
    result = CliRunner().invoke(
        app, with_workspace(["export", "--config", str(config), "--out", str(tmp_path / "o")])
    )
    assert "run `segtool assign-tactics" in str(result.exception)
