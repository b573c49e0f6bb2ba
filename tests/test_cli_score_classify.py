"""`segtool score` and `segtool classify` through the CLI, on a workspace written by hand."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent / "steps"))
from test_score import contacts_frame, orders_frame  # noqa: E402

from segtool import console  # noqa: E402
from segtool.cli import app  # noqa: E402
from segtool.errors import EXIT_OK, SegtoolError  # noqa: E402
from segtool.report import dump_manifest, new_manifest  # noqa: E402
from segtool.schema import SEGMENT_COLUMNS  # noqa: E402

CONFIG = """\
language: en
inputs:
  orders: {path: orders.csv}
workspace: ws
periods:
  categories:
    machines: {match: ["Станки*"], falling_asleep_after: 36, asleep_after: 120}
"""


@pytest.fixture(autouse=True)
def _plain_console(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    console.configure(quiet=False, debug=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "segtool.yaml").write_text(CONFIG, encoding="utf-8")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    orders_frame().write_parquet(workspace / "orders.parquet")
    (workspace / "manifest.json").write_bytes(dump_manifest(new_manifest(None, None)))
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=True)


def manifest(project: Path) -> dict:
    return json.loads((project / "ws" / "manifest.json").read_text(encoding="utf-8"))


def test_score_defaults_to_the_latest_order_date(project):
    result = invoke("score", "--config", str(project / "segtool.yaml"))
    assert result.exit_code == EXIT_OK, result.output
    assert "as of 2024-08-01 (latest order date)" in result.stderr
    assert "customers scored: 11 (10 with orders, 0 leads, 1 with returns only)" in result.stderr
    assert "orders after as_of ignored: 0" in result.stderr
    assert result.stdout == ""
    data = manifest(project)
    assert (data["as_of"], data["orders_after_as_of"]) == ("2024-08-01", 0)
    scores = pl.read_parquet(project / "ws" / "scores.parquet")
    assert scores.height == 11
    assert scores.schema["customer_id"] == pl.String
    assert "0012" in scores["customer_id"].to_list() and "17" in scores["customer_id"].to_list()


def test_score_with_as_of_counts_later_orders(project):
    result = invoke("score", "--config", str(project / "segtool.yaml"), "--as-of", "2024-06-30")
    assert result.exit_code == EXIT_OK, result.output
    assert "as of 2024-06-30 (--as-of)" in result.stderr
    assert "orders after as_of ignored: 1" in result.stderr
    assert manifest(project)["orders_after_as_of"] == 1


def test_score_today_and_a_bad_date(project):
    result = invoke("score", "--config", str(project / "segtool.yaml"), "--as-of", "today")
    assert result.exit_code == EXIT_OK, result.output
    assert f"as of {dt.date.today().isoformat()} (today)" in result.stderr
    # today is years after the last order (2024-08-01): said, not silently scored
    assert "more than 3 months after the last order (2024-08-01)" in result.stderr
    result = invoke("score", "--config", str(project / "segtool.yaml"), "--as-of", "31.06.2024")
    assert isinstance(result.exception, SegtoolError)
    assert "YYYY-MM-DD, DD.MM.YYYY" in str(result.exception)
    assert result.exception.exit_code == 2


def test_score_as_of_day_first_is_the_same_date(project):
    result = invoke("score", "--config", str(project / "segtool.yaml"), "--as-of", "30.06.2024")
    assert result.exit_code == EXIT_OK, result.output
    assert "as of 2024-06-30 (--as-of)" in result.stderr
    assert manifest(project)["warnings"] == []


@pytest.mark.parametrize(
    "typo, message",
    [
        ("1899-12-31", "between 1900-01-01 and 2200-12-31"),
        ("01.01.2201", "between 1900-01-01 and 2200-12-31"),
        # the orders run from 2020-01-10 to 2024-08-01
        ("2019-12-09", "before every order: the export has orders from 2020-01-10 to 2024-08-01"),
    ],
)
def test_score_refuses_an_as_of_typo(project, typo, message):
    result = invoke("score", "--config", str(project / "segtool.yaml"), "--as-of", typo)
    assert isinstance(result.exception, SegtoolError) and result.exception.exit_code == 2
    assert message in str(result.exception)
    assert not (project / "ws" / "scores.parquet").exists()


def test_score_warns_about_a_likely_as_of_typo(project):
    # 26 orders; only DUR's first and ASLEEP's five are on or before 2021-01-09: 20 of 26
    # (77 % > 5 %) are after it
    result = invoke("score", "--config", str(project / "segtool.yaml"), "--as-of", "2021-01-09")
    assert result.exit_code == EXIT_OK, result.output
    warnings = manifest(project)["warnings"]
    assert warnings == [
        "--as-of 2021-01-09: 20 of 26 orders (77%) are dated after it and "
        "were ignored; the export runs to 2024-08-01. Is the date mistyped?"
    ]
    assert "(77%)" in result.stderr
    # 2099: 3 months past the last order
    result = invoke("score", "--config", str(project / "segtool.yaml"), "--as-of", "2099-01-01")
    assert result.exit_code == EXIT_OK
    warnings = manifest(project)["warnings"]
    assert len(warnings) == 1 and "more than 3 months after the last order" in warnings[0]


def test_score_with_contacts_adds_leads(project):
    contacts_frame().write_parquet(project / "ws" / "contacts.parquet")
    result = invoke("score", "--config", str(project / "segtool.yaml"), "--as-of", "2024-06-30")
    assert result.exit_code == EXIT_OK, result.output
    assert "customers scored: 12 (10 with orders, 1 leads, 1 with returns only)" in result.stderr


def test_classify_writes_segments_and_prints_the_matrix(project):
    contacts_frame().write_parquet(project / "ws" / "contacts.parquet")
    config = str(project / "segtool.yaml")
    assert invoke("score", "--config", config, "--as-of", "2024-06-30").exit_code == EXIT_OK
    result = invoke("classify", "--config", config)
    assert result.exit_code == EXIT_OK, result.output
    lines = result.stderr.splitlines()
    assert "customers / revenue:" in lines
    # as in tests/steps/test_classify.py, except that this config has no consumables
    # category: CONS (200, last order 8 months ago) is new_active under the default 12 months
    assert "New\t4 / 1 100\t0 / 0\t1 / 100" in lines
    assert "Prospective\t2 / 2 900\t1 / 5 100\t0 / 0" in lines
    assert "Regular\t1 / 500\t0 / 0\t1 / 5 000" in lines
    assert "Lead (no orders): 1; No purchase (returns only): 1" in lines
    segments = pl.read_parquet(project / "ws" / "segments.parquet")
    assert segments.columns[: len(SEGMENT_COLUMNS)] == SEGMENT_COLUMNS
    assert segments.height == 12
    data = manifest(project)
    assert data["classify"]["customers_per_segment"]["regular_asleep"] == 1
    assert data["classify"]["thresholds"]["recency"]["B"] == 112
    assert data["classify"]["revenue_per_segment"]["new_active"] == 1100.0
    assert data["as_of"] == "2024-06-30"
    drop = segments.filter(pl.col("customer_id") == "DROP").row(0, named=True)
    assert drop["red_flags"] == "revenue_drop,lost_category"


def test_classify_before_score_says_what_to_run(project):
    result = invoke("classify", "--config", str(project / "segtool.yaml"))
    assert isinstance(result.exception, SegtoolError)
    assert "segtool score" in str(result.exception)


def test_score_before_ingest_says_what_to_run(tmp_path):
    (tmp_path / "segtool.yaml").write_text(CONFIG, encoding="utf-8")
    result = invoke("score", "--config", str(tmp_path / "segtool.yaml"))
    assert isinstance(result.exception, SegtoolError)
    assert "segtool ingest" in str(result.exception)


def test_workspace_option_overrides_the_config(project, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    for name in ("orders.parquet", "manifest.json"):
        (other / name).write_bytes((project / "ws" / name).read_bytes())
    config = str(project / "segtool.yaml")
    assert invoke("score", "--config", config, "-w", str(other)).exit_code == EXIT_OK
    assert invoke("classify", "--config", config, "-w", str(other)).exit_code == EXIT_OK
    assert (other / "segments.parquet").exists()
    assert not (project / "ws" / "segments.parquet").exists()
