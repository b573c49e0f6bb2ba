"""`segtool run` end to end, and the monthly cron wrapper."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from segtool.cli import app
from segtool.labels import RED_FLAG_LABELS
from segtool.steps.export import header as export_header

ROOT = Path(__file__).resolve().parents[1]
WRAPPER = ROOT / "scripts" / "segtool-monthly.sh"


# -- the cron wrapper (with a stand-in for segtool that records its arguments) ---------------
FAKE_SEGTOOL = """#!/usr/bin/env bash
echo "$@" >> "$FAKE_ARGS"
out=""
while [ $# -gt 0 ]; do
  [ "$1" = "--out" ] && out=$2
  shift
done
mkdir -p "$out" && echo "customer_id,segment" > "$out/segments.csv"
echo '{"as_of": "x"}'
echo "progress line" >&2
exit ${FAKE_CODE:-0}
"""


def _wrapper(tmp_path: Path, month: str, code: int = 0, *extra: str):
    fake = tmp_path / "fake-segtool"
    fake.write_text(FAKE_SEGTOOL)
    fake.chmod(0o755)
    env = {
        **os.environ,
        "SEGTOOL": str(fake),
        "SEGTOOL_MONTH": month,
        "FAKE_ARGS": str(tmp_path / "args.txt"),
        "FAKE_CODE": str(code),
    }
    return subprocess.run(
        ["bash", str(WRAPPER), "cfg.yaml", str(tmp_path / "out"), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_wrapper_dates_folders_and_passes_previous(tmp_path):
    first = _wrapper(tmp_path, "2026-10")
    assert first.returncode == 0 and first.stdout == ""  # silent on success: no cron mail
    (tmp_path / "out" / "2026-08").mkdir()  # no segments.csv: not a finished run
    second = _wrapper(tmp_path, "2026-11", 0, "--as-of", "2026-11-30")
    assert second.returncode == 0
    calls = (tmp_path / "args.txt").read_text().splitlines()
    out = tmp_path / "out"
    assert calls[0] == f"run --config cfg.yaml --out {out}/2026-10 --json"
    assert calls[1] == (
        f"run --config cfg.yaml --out {out}/2026-11 --json --previous {out}/2026-10 "
        "--as-of 2026-11-30"
    )
    log = (out / "logs" / "segtool-2026-11.log").read_text()
    assert '{"as_of": "x"}' in log and "progress line" in log and "exit 0" in log


def test_wrapper_exits_with_segtools_code_and_speaks_on_failure(tmp_path):
    result = _wrapper(tmp_path, "2026-12", 75)
    assert result.returncode == 75
    assert "failed with exit code 75" in result.stdout
    assert "progress line" in result.stdout  # the log's tail, for the cron mail


def test_wrapper_rejects_a_bad_month(tmp_path):
    result = _wrapper(tmp_path, "2026-1")
    assert result.returncode == 2
    assert "expected YYYY-MM" in result.stderr


# -- end to end: two monthly snapshots -------------------------------------------------------
def _load_generator():
    spec = importlib.util.spec_from_file_location(
        "sample_generate", ROOT / "sample_data" / "generate.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


sample = _load_generator()
HEADER = "customer_id,company_name,order_id,order_date,amount\n"
OCTOBER = """0001,ООО Первый,A1,2026-10-05,1000
0002,ООО Второй,B0,2025-11-05,1000
0002,ООО Второй,B1,2025-11-15,1000
0003,Завод Третий,C1,2026-01-10,500
0003,Завод Третий,C2,2026-03-10,500
0003,Завод Третий,C3,2026-05-10,500
0003,Завод Третий,C4,2026-07-10,500
0003,Завод Третий,C5,2026-09-10,500
0005,ИП Пятый,E1,2026-06-01,700
17,ООО Семнадцать,F1,2026-10-01,300
00017,ООО Ноль Семнадцать,G1,2026-02-01,400
00017,ООО Ноль Семнадцать,G2,2026-08-01,400
"""
NOVEMBER_NEW = """0001,ООО Первый,A2,2026-11-10,1500
0004,ООО Четвёртый,D1,2026-11-20,800
17,ООО Семнадцать,F2,2026-11-15,300
"""
CONTACTS = """customer_id,company_name,contact_name,job_title,phone,email
0001,ООО Первый,Иванов Иван,Директор,+7 900 000-00-01,ivanov@first.example
0003,Завод Третий,Сидорова Анна,Главный инженер,+7 900 000-00-03,sidorova@third.example
0009,ООО Девятый,Кузнецов Олег,Снабженец,+7 900 000-00-09,
"""


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _hand_project(folder: Path, orders: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "orders.csv").write_text(HEADER + orders, encoding="utf-8")
    (folder / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    config = folder / "segtool.yaml"
    config.write_text(
        "inputs:\n  orders: {path: orders.csv}\n  contacts: {path: contacts.csv}\n",
        encoding="utf-8",
    )
    return config


def test_two_months_hand_known_movers(tmp_path):
    oct_cfg = _hand_project(tmp_path / "oct", OCTOBER)
    # 0005 was merged away in the CRM: gone from the November export
    nov_orders = (
        "".join(line + "\n" for line in OCTOBER.splitlines() if not line.startswith("0005"))
        + NOVEMBER_NEW
    )
    nov_cfg = _hand_project(tmp_path / "nov", nov_orders)
    out = tmp_path / "out"
    invoke("run", "--config", str(oct_cfg), "--out", str(out / "2026-10"), "--as-of", "2026-10-31")
    assert not (out / "2026-10" / "migration.csv").exists()  # no --previous, no report
    stdout = invoke(
        "run",
        "--config",
        str(nov_cfg),
        "--out",
        str(out / "2026-11"),
        "--as-of",
        "2026-11-30",
        "--previous",
        str(out / "2026-10"),
        "--json",
    )

    rows = (out / "2026-11" / "migration.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "customer_id,company_name,previous_segment,segment,raised_flags,cleared_flags"
    movers = {r.split(",")[0]: tuple(r.split(",")[2:4]) for r in rows[1:]}
    assert movers == {
        "0001": ("new_active", "prospective_active"),  # a second order in November
        "0002": ("prospective_active", "prospective_falling_asleep"),  # 2025-11-15 is now
        # 12 months back
        "0005": ("new_active", ""),  # gone
        "17": ("new_active", "prospective_active"),  # "17" is not "00017"
        "0004": ("", "new_active"),  # new
    }
    # a repeat buyer with no revenue in the last 12 months, 2000 in the 12 before:
    # revenue_drop raised
    assert "0002,ООО Второй,prospective_active,prospective_falling_asleep,revenue_drop," in rows
    summary = json.loads(stdout)
    assert summary["as_of"] == "2026-11-30"
    assert summary["migration"]["moved"] == 5
    assert summary["migration"]["new"] == 1 and summary["migration"]["gone"] == 1
    manifest = json.loads((out / "2026-11" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["migration"] == summary["migration"]
    assert {"migration.xlsx", "migration.csv", "manifest.json"} <= set(manifest["outputs"])

    book = openpyxl.load_workbook(out / "2026-11" / "migration.xlsx")
    assert book.sheetnames[0] == "Сводка"
    cells = [row for row in book["Сводка"].iter_rows(values_only=True) if any(row)]
    header = next(r for r in cells if r[0] is None and r[1])
    new_row = next(r for r in cells if r[0] == "Новый активный")
    assert new_row[header.index("Перспективный активный")] == 2  # 0001 and 17
    prospective_row = next(r for r in cells if r[0] == "Перспективный активный")
    assert prospective_row[header.index("Перспективный засыпающий")] == 1  # 0002
    assert new_row[header.index("(выбыли)")] == 1  # 0005


def test_reject_rate_over_the_limit_exits_1_and_writes_everything(tmp_path):
    config = _hand_project(tmp_path / "p", OCTOBER + "0006,ООО Шестой,H1,2026-10-01,много\n")
    config.write_text(
        config.read_text(encoding="utf-8") + "limits: {max_reject_rate: 0.05}\n", encoding="utf-8"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["run", "--config", str(config), "--out", str(out), "--as-of", "2026-10-31", "--json"]
    )
    assert result.exit_code == 1, result.output
    assert "over limits.max_reject_rate" in result.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["reject_rate"] == round(1 / 13, 6)  # 1 of 13 order rows
    assert json.loads(result.stdout)["outputs"] == manifest["outputs"]
    for name in (
        "segments.xlsx",
        "segments.csv",
        "call_tasks.xlsx",
        "call_tasks.csv",
        "mail_tasks.xlsx",
        "mail_tasks.csv",
        "data_quality.csv",
        "rejects.csv",
    ):
        assert (out / name).exists(), name
    rejects = _csv(out / "rejects.csv")
    assert rejects.select("row", "reason").rows() == [("14", "bad_amount")]


def _csv(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory):
    """Two monthly snapshots of the sample data and the runs on them."""
    base = tmp_path_factory.mktemp("snapshots")
    config_text = (
        "inputs:\n  orders: {path: orders.csv}\n"
        "  contacts: {path: contacts.xlsx, sheet: Контакты}\n"
    )
    folders = {}
    # both snapshots end in the past: the default analysis date is never after today
    for month, end in (("2026-10", dt.date(2026, 9, 30)), ("2026-11", dt.date(2026, 10, 31))):
        data = base / f"data-{month}"
        sample.generate(data, companies=60, end=end, broken=False)
        (data / "segtool.yaml").write_text(config_text, encoding="utf-8")
        folders[month] = data
    out = base / "out"
    invoke(
        "run", "--config", str(folders["2026-10"] / "segtool.yaml"), "--out", str(out / "2026-10")
    )
    invoke(
        "run",
        "--config",
        str(folders["2026-11"] / "segtool.yaml"),
        "--out",
        str(out / "2026-11"),
        "--previous",
        str(out / "2026-10"),
    )
    return folders, out


def _expected_segments(orders_csv: Path) -> pl.DataFrame:
    """Segments recomputed from the raw export with plain polars (default periods/stages)."""
    raw = pl.read_csv(orders_csv, separator=";", infer_schema=False)
    lines = raw.select(
        pl.col("ИНН").alias("customer_id"),
        pl.col("Номер заказа").alias("order_id"),
        pl.col("Дата заказа").str.to_date("%d.%m.%Y").alias("day"),
        pl.col("Сумма, руб.")
        .str.replace_all(r"[\s\u00a0]", "")
        .str.replace(",", ".")
        .cast(pl.Float64)
        .alias("amount"),
    )
    as_of = lines["day"].max()
    orders = (
        lines.group_by("customer_id", "order_id")
        .agg(pl.col("day").min(), pl.col("amount").sum())
        .filter(pl.col("amount") > 0)
    )
    last = pl.col("last")
    return (
        orders.group_by("customer_id")
        .agg(pl.len().alias("n"), pl.col("day").max().alias("last"))
        .select(
            "customer_id",
            pl.concat_str(
                pl.when(pl.col("n") >= 5)
                .then(pl.lit("regular"))
                .when(pl.col("n") >= 2)
                .then(pl.lit("prospective"))
                .otherwise(pl.lit("new")),
                pl.lit("_"),
                pl.when(last <= pl.lit(as_of).dt.offset_by("-24mo"))
                .then(pl.lit("asleep"))
                .when(last <= pl.lit(as_of).dt.offset_by("-12mo"))
                .then(pl.lit("falling_asleep"))
                .otherwise(pl.lit("active")),
            ).alias("segment"),
        )
    )


def test_sample_snapshots_migration(snapshots):
    folders, out = snapshots
    expected = {m: _expected_segments(folders[m] / "orders.csv") for m in folders}
    for month in folders:  # the run's segments agree with the plain recomputation
        got = _csv(out / month / "segments.csv").filter(pl.col("segment") != "lead")
        assert dict(got.select("customer_id", "segment").iter_rows()) == dict(
            expected[month].iter_rows()
        )
    movers = (
        expected["2026-10"]
        .join(expected["2026-11"], on="customer_id", how="full", coalesce=True, suffix="_now")
        .filter(pl.col("segment").ne_missing(pl.col("segment_now")))
    )
    assert movers.height > 0  # a month of history moves somebody
    got = _csv(out / "2026-11" / "migration.csv")
    assert dict(got.select("customer_id", "previous_segment").iter_rows()) == dict(
        movers.select("customer_id", "segment").iter_rows()
    )
    assert dict(got.select("customer_id", "segment").iter_rows()) == dict(
        movers.select("customer_id", "segment_now").iter_rows()
    )


def test_flag_changes_follow_the_segment_files(snapshots):
    _, out = snapshots
    before, now = (
        _csv(out / m / "segments.csv").select("customer_id", "red_flags")
        for m in ("2026-10", "2026-11")
    )
    joined = now.join(before, on="customer_id", how="left", suffix="_before").with_columns(
        pl.col("red_flags", "red_flags_before")
        .fill_null("")
        .str.split(",")
        .list.eval(pl.element().filter(pl.element() != ""))
    )
    names = {code: text["ru"] for code, text in RED_FLAG_LABELS.items()}
    raised = joined.select(
        "customer_id",
        pl.col("red_flags")
        .list.set_difference("red_flags_before")
        .list.sort()
        .list.eval(pl.element().replace_strict(names))
        .list.join(", ")
        .alias("raised"),
    ).filter(pl.col("raised") != "")
    book = openpyxl.load_workbook(out / "2026-11" / "migration.xlsx", read_only=True)
    rows = list(book["Флаги"].iter_rows(values_only=True))
    got = {r[0]: r[5] for r in rows[1:] if r[5]}
    assert got == dict(raised.iter_rows())


def test_done_and_refused_tasks_are_not_issued_again(snapshots, tmp_path):
    folders, out = snapshots
    first = out / "2026-11"
    book = openpyxl.load_workbook(first / "call_tasks.xlsx")
    sheet = next(s for s in book.worksheets if s.max_row > 3)
    header = [c.value for c in sheet[1]]
    status_col = header.index(export_header("status", "ru")) + 1
    id_col = header.index(export_header("task_id", "ru")) + 1
    ids = [sheet.cell(r, id_col).value for r in (2, 3, 4)]
    for row, status in zip((2, 3, 4), ("выполнена", "отказ", "в работе"), strict=True):
        sheet.cell(row, status_col).value = status
    book.save(first / "call_tasks.xlsx")

    again = tmp_path / "2026-11-rerun"
    # --previous on its own (with the history on, a re-run keeps these rows with their
    # status: tests/history/test_monthly.py)
    invoke(
        "run",
        "--config",
        str(folders["2026-11"] / "segtool.yaml"),
        "--out",
        str(again),
        "--previous",
        str(first),
        "--no-history",
    )
    issued = set(_csv(again / "call_tasks.csv")["task_id"])
    assert ids[0] not in issued and ids[1] not in issued  # done, refused
    assert ids[2] in issued  # still in progress: issued again
    before = set(_csv(first / "call_tasks.csv")["task_id"])
    assert before - issued == {ids[0], ids[1]}
    open_sheet = openpyxl.load_workbook(again / "migration.xlsx")["Открытые задачи"]
    open_rows = {r[0]: r for r in open_sheet.iter_rows(min_row=2, values_only=True)}
    assert ids[0] not in open_rows and ids[1] not in open_rows
    assert open_rows[ids[2]][6] == "в работе" and open_rows[ids[2]][8] == "да"


def test_done_last_month_is_not_issued_next_month(snapshots, tmp_path):
    folders, out = snapshots
    key = ["customer_id", "tactic", "step"]
    october, november = (_csv(out / m / "call_tasks.csv") for m in ("2026-10", "2026-11"))
    both = october.join(november, on=key, suffix="_nov")  # the same task in both months
    assert both.height >= 2
    done, refused = both["task_id"][0], both["task_id"][1]
    previous = tmp_path / "2026-10"
    shutil.copytree(out / "2026-10", previous)
    book = openpyxl.load_workbook(previous / "call_tasks.xlsx")
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    id_col = header.index(export_header("task_id", "ru")) + 1
    status_col = header.index(export_header("status", "ru")) + 1
    for row in range(2, sheet.max_row + 1):
        status = {done: "выполнена", refused: "отказ"}.get(sheet.cell(row, id_col).value)
        if status:
            sheet.cell(row, status_col).value = status
    book.save(previous / "call_tasks.xlsx")

    again = tmp_path / "2026-11"
    # --previous on its own: the module's November sheet is edited by the test above, which
    # a run with the history would read back as the last run (tests/history covers that)
    invoke(
        "run",
        "--config",
        str(folders["2026-11"] / "segtool.yaml"),
        "--out",
        str(again),
        "--previous",
        str(previous),
        "--no-history",
    )
    issued = set(_csv(again / "call_tasks.csv")["task_id"])
    held_back = set(both.filter(pl.col("task_id").is_in([done, refused]))["task_id_nov"])
    assert set(november["task_id"]) - issued == held_back
    manifest = json.loads((again / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["migration"]["withheld_tasks"] == 2


def _frame_of_sheet(path: Path) -> dict[str, list[tuple]]:
    book = openpyxl.load_workbook(path, read_only=True)
    return {s.title: list(s.iter_rows(values_only=True)) for s in book.worksheets}


# Float sums in score come from multi-threaded group-bys, whose summation order varies from
# one process to the next: two step-by-step runs on the same workspace can already differ
# in the 16th significant digit (5180748.2 vs 5180748.199999999). Everything else must be
# identical; floats must agree to 1e-9 relative.
def _same_value(a, b) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)


def _assert_same_xlsx(a: Path, b: Path) -> None:
    left, right = _frame_of_sheet(a), _frame_of_sheet(b)
    assert list(left) == list(right), a.name
    for sheet in left:
        assert len(left[sheet]) == len(right[sheet]), (a.name, sheet)
        for row_a, row_b in zip(left[sheet], right[sheet], strict=True):
            assert len(row_a) == len(row_b) and all(
                _same_value(x, y) for x, y in zip(row_a, row_b, strict=True)
            ), (a.name, sheet, row_a, row_b)


def test_run_equals_step_by_step(snapshots, tmp_path):
    folders, out = snapshots
    config = str(folders["2026-10"] / "segtool.yaml")
    ws, steps_out, run_ws = tmp_path / "ws", tmp_path / "steps", tmp_path / "run-ws"
    invoke("ingest", "--config", config, "--workspace", str(ws))
    invoke("score", "--config", config, "--workspace", str(ws))
    invoke("classify", "--config", config, "--workspace", str(ws))
    invoke("assign-tactics", "--config", config, "--workspace", str(ws))
    invoke("export", "--config", config, "--workspace", str(ws), "--out", str(steps_out))
    run_out = tmp_path / "run"
    invoke("run", "--config", config, "--out", str(run_out), "--workspace", str(run_ws))

    def files(folder: Path) -> set[str]:
        return {p.name for p in folder.iterdir() if not p.name.startswith(".")}

    assert files(run_out) == files(steps_out)
    for name in sorted(files(run_out)):
        if name.endswith(".csv"):  # byte for byte: money is summed in cents, no float noise
            assert (run_out / name).read_bytes() == (steps_out / name).read_bytes(), name
        elif name.endswith(".xlsx"):
            _assert_same_xlsx(run_out / name, steps_out / name)
    run_manifest, steps_manifest = (
        json.loads((f / "manifest.json").read_text("utf-8")) for f in (run_out, steps_out)
    )
    for key in ("as_of", "inputs", "tasks_per_channel"):
        assert run_manifest[key] == steps_manifest[key], key
    assert (
        run_manifest["classify"]["customers_per_segment"]
        == (steps_manifest["classify"]["customers_per_segment"])
    )
    assert set(run_manifest["timings"]) >= {
        "ingest",
        "score",
        "classify",
        "assign-tactics",
        "export",
    }
    assert run_manifest["config"]["sha256"] == hashlib.sha256(Path(config).read_bytes()).hexdigest()
    # --workspace keeps the same intermediate files the step commands write
    for name in ("orders", "contacts", "scores", "segments", "tasks", "data_quality"):
        a, b = pl.read_parquet(run_ws / f"{name}.parquet"), pl.read_parquet(ws / f"{name}.parquet")
        assert_frame_equal(a, b, rel_tol=1e-9, abs_tol=1e-9)
    assert (run_ws / "rejects.csv").read_bytes() == (ws / "rejects.csv").read_bytes()
