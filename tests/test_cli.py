"""The command line as a user meets it: help, exit codes, one-line errors, init, inspect, ingest."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ["init", "inspect", "ingest", "score", "classify", "assign-tactics", "export", "run"]


def segtool(*args: str, cwd: Path | None = None, env: dict | None = None):
    """Run the real entry point (python -m segtool) and capture both streams."""
    return subprocess.run(
        [sys.executable, "-m", "segtool", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        timeout=120,
    )


def assert_one_line_error(result, code: int, *fragments: str):
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0]
    assert result.stdout == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = segtool(command, "--help")
    assert result.returncode == 0
    assert f"Usage: python -m segtool {command}" in result.stdout or "Usage:" in result.stdout
    summary = result.stdout.split("\n\n")[1].strip()
    assert len(summary) > 20  # a sentence in plain words, not an empty docstring


def test_top_level_help_lists_every_command():
    result = segtool("--help")
    for command in COMMANDS:
        assert command in result.stdout


def test_version():
    from segtool import __version__

    assert segtool("--version").stdout.strip() == f"segtool {__version__}"


def test_allocator_setting_is_applied_before_polars_and_an_operators_own_wins():
    """The CLI asks polars' allocator to hand freed memory back quickly (peak RSS at
    10M lines), before polars is imported; a value set by the operator is kept."""
    from segtool.cli import ALLOCATOR_CONF, ALLOCATOR_ENV

    probe = (
        "import os, sys; from segtool import cli; sys.argv = ['segtool', '--version'];\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        f"print(os.environ.get({ALLOCATOR_ENV!r})); print('polars' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != ALLOCATOR_ENV}
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    )
    assert run.stdout.splitlines()[-2:] == [ALLOCATOR_CONF, "False"], run.stderr
    run = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**env, ALLOCATOR_ENV: "dirty_decay_ms:5"},
        timeout=60,
    )
    assert run.stdout.splitlines()[-2] == "dirty_decay_ms:5", run.stderr


def test_unknown_command_is_a_usage_error():
    assert segtool("frobnicate").returncode == 2


def test_missing_config_file_exit_2(tmp_path):
    result = segtool("ingest", "--config", str(tmp_path / "none.yaml"))
    assert_one_line_error(result, 2, "none.yaml", "file not found")


def test_no_config_found_exit_2(tmp_path):
    result = segtool("ingest", cwd=tmp_path)
    assert_one_line_error(result, 2, "no config given", "segtool init")


def test_typo_in_config_exit_2(tmp_path):
    (tmp_path / "c.yaml").write_text("inputs: {orders: {path: o.csv}}\nstages: {regulr: {}}\n")
    result = segtool("ingest", "--config", str(tmp_path / "c.yaml"))
    assert_one_line_error(result, 2, "unknown key 'stages.regulr'", "did you mean 'stages.regular'")


def test_wrong_type_in_config_exit_2(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "inputs: {orders: {path: o.csv}}\nlimits: {max_reject_rate: lots}\n"
    )
    result = segtool("ingest", "--config", str(tmp_path / "c.yaml"))
    assert_one_line_error(result, 2, "limits.max_reject_rate", "'lots'", "wrong type")


def test_missing_input_file_exit_3(tmp_path):
    (tmp_path / "c.yaml").write_text("inputs: {orders: {path: exports/orders.csv}}\n")
    result = segtool("ingest", "--config", str(tmp_path / "c.yaml"), cwd=tmp_path)
    assert_one_line_error(result, 3, "orders.csv", "file not found")


def test_bad_as_of_exit_2(tmp_path):
    result = segtool(
        "score",
        "--config",
        str(REPO / "config/segtool.yaml"),
        "--as-of",
        "31.13.2026",
        "--workspace",
        str(tmp_path / "ws"),
    )
    assert_one_line_error(result, 2, "--as-of", "YYYY-MM-DD, DD.MM.YYYY")
    # a well-formed date outside 1900..2200 is a typo too, caught before any file is read
    result = segtool(
        "score",
        "--config",
        str(REPO / "config/segtool.yaml"),
        "--as-of",
        "2026-10-31".replace("2026", "9026"),
        "--workspace",
        str(tmp_path / "ws"),
    )
    assert_one_line_error(result, 2, "--as-of", "between 1900-01-01 and 2200-12-31")


def test_init_writes_a_config_that_loads_and_refuses_to_overwrite(tmp_path):
    from segtool.config import load_config

    result = segtool("init", str(tmp_path / "proj"))
    assert result.returncode == 0, result.stderr
    cfg = load_config(tmp_path / "proj" / "segtool.yaml")
    assert cfg.playbook_path() == (tmp_path / "proj" / "playbook.yaml").resolve()
    assert (tmp_path / "proj" / "playbook.yaml").read_text(encoding="utf-8").strip()
    again = segtool("init", str(tmp_path / "proj"))
    assert_one_line_error(again, 2, "already exist", "--force")
    assert segtool("init", str(tmp_path / "proj"), "--force").returncode == 0


def test_inspect_shows_encoding_mapping_and_parsed_rows(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(
        "Номер накладной;Дата;Контрагент;Сумма, руб.\r\nS1;03.01.2012;Магазин №1;"
        "51 350,70\r\nS2;31.02.2012;Магазин №2;1,00\r\n".encode("cp1251")
    )
    result = segtool("inspect", str(path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "encoding cp1251, delimiter semicolon ;" in out
    assert "header row:  1" in out
    assert re.search(r"order_date +← «Дата»", out)
    assert re.search(r"amount +← «Сумма, руб.»", out)
    assert re.search(r"customer_id +← «Контрагент»", out)
    assert "decimal comma" in out and "dates:       dmy" in out
    assert "51350.7" in out
    assert "row 3: would be rejected (bad_date): column «Дата» = '31.02.2012'" in out
    # no category column: the default config's period categories cannot match anything
    assert "no category column: periods.categories do not apply" in out


def test_inspect_names_the_column_period_categories_match(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "Дата;Контрагент;Категория;Сумма\n03.01.2012;Магазин №1;Станки;10\n", encoding="utf-8"
    )
    result = segtool("inspect", str(path))
    assert result.returncode == 0, result.stderr
    assert "periods.categories match the category column «Категория»" in result.stdout


def test_inspect_missing_file_exit_3(tmp_path):
    assert_one_line_error(segtool("inspect", str(tmp_path / "x.csv")), 3, "x.csv", "not found")


@pytest.fixture
def sample_project(tmp_path):
    for name in ("orders.csv", "contacts.xlsx"):
        shutil.copy(REPO / "sample_data" / name, tmp_path / name)
    config = tmp_path / "segtool.yaml"
    config.write_text(
        "inputs:\n  orders: {path: orders.csv}\n"
        "  contacts: {path: contacts.xlsx, sheet: Контакты}\n",
        encoding="utf-8",
    )
    return tmp_path


def test_ingest_sample_data_accounts_for_every_row(sample_project):
    result = segtool("ingest", "--config", "segtool.yaml", cwd=sample_project)
    assert result.returncode == 0, result.stderr
    ws = sample_project / ".segtool"
    manifest = json.loads((ws / "manifest.json").read_text(encoding="utf-8"))
    by_kind = {i["kind"]: i for i in manifest["inputs"]}
    for item in manifest["inputs"]:
        assert (
            item["rows_read"]
            == item["rows_accepted"] + item["rows_rejected"] + item["rows_duplicate"]
        )
        name = Path(item["path"]).name
        line = (
            f"{name}: {item['rows_read']:,} rows read = {item['rows_accepted']:,} accepted"
            f" + {item['rows_rejected']:,} rejected + {item['rows_duplicate']:,} duplicates"
        ).replace(",", " ")
        assert line in result.stderr
        assert len(item["sha256"]) == 64
    orders = by_kind["orders"]
    # the raw file: every data line is a row (no quoted newlines in the sample)
    data_lines = (sample_project / "orders.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    assert orders["rows_read"] == len([ln for ln in data_lines if ln.strip()])
    assert orders["rows_rejected"] > 0 and orders["rows_duplicate"] > 0
    rejects = pl.read_csv(ws / "rejects.csv", infer_schema=False)
    assert rejects.columns == ["file", "row", "column", "value", "reason"]
    assert rejects.height == orders["rows_rejected"] + orders["rows_duplicate"]
    # each rejected row named by its row number really is that line of the file
    for row in rejects.filter(pl.col("reason") != "duplicate").iter_rows(named=True):
        line = data_lines[int(row["row"]) - 2]
        if row["value"]:
            assert row["value"] in line
        assert row["column"] in {"ИНН", "Дата заказа", "Сумма, руб."}
    for row in rejects.filter(pl.col("reason") == "duplicate").iter_rows(named=True):
        line = data_lines[int(row["row"]) - 2]
        assert data_lines.index(line) < int(row["row"]) - 2  # an earlier identical line exists
    accepted = pl.read_parquet(ws / "orders.parquet")
    assert accepted.height == orders["rows_accepted"]
    assert accepted.schema["customer_id"] == pl.String


def test_quiet_hides_progress_but_not_warnings(sample_project):
    cfg = sample_project / "segtool.yaml"
    cfg.write_text(
        cfg.read_text(encoding="utf-8") + "limits: {max_reject_rate: 0.0001}\n", encoding="utf-8"
    )
    result = segtool("ingest", "--quiet", "--config", "segtool.yaml", cwd=sample_project)
    assert result.returncode == 1  # over the reject limit: done, exit 1
    assert "rows read" not in result.stderr
    assert "warning:" in result.stderr and "max_reject_rate" in result.stderr


def test_json_summary_goes_to_stdout(sample_project):
    result = segtool("ingest", "--json", "--quiet", "--config", "segtool.yaml", cwd=sample_project)
    summary = json.loads(result.stdout)
    assert [i["kind"] for i in summary["inputs"]] == ["orders", "contacts"]


def test_not_a_tty_means_no_colour_codes(sample_project):
    result = segtool(
        "ingest",
        "--config",
        "segtool.yaml",
        cwd=sample_project,
        env={"NO_COLOR": "", "TERM": "xterm-256color"},
    )
    assert "\x1b[" not in result.stderr
