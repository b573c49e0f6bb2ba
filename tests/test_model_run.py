"""The model in a whole run on sample_data: manifest, columns, labels, flag and tasks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import openpyxl
import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from clirun import cli  # noqa: E402

from segtool.config import config_for_orders  # noqa: E402
from segtool.playbook import DEFAULT_PLAYBOOK, read_playbook  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"


def config(folder: Path, extra: str = "") -> Path:
    path = folder / "segtool.yaml"
    path.write_text(
        f"inputs:\n  orders: {{path: {SAMPLE / 'orders.csv'}}}\n"
        f"  contacts: {{path: {SAMPLE / 'contacts.xlsx'}, sheet: Контакты}}\n" + extra,
        encoding="utf-8",
    )
    return path


def run(capsys, folder: Path, extra: str = "", name: str = "out"):
    out = folder / name
    result = cli(capsys, "run", "--config", config(folder, extra), "--out", out)
    assert result.code == 0, result.err
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    segments = pl.read_csv(out / "segments.csv", schema_overrides={"customer_id": pl.String})
    tasks = pl.concat(
        [
            pl.read_csv(out / f"{kind}_tasks.csv", schema_overrides={"customer_id": pl.String})
            for kind in ("call", "mail")
        ]
    )
    return result, manifest, segments, tasks, out


def test_sample_data_with_the_model(capsys, tmp_path):
    result, manifest, segments, tasks, out = run(capsys, tmp_path)
    assert "warning: model" not in result.err  # no model warning on sample_data

    model = manifest["model"]
    assert model["horizon_days"] == 90
    buyers = segments.filter(pl.col("orders") > 0)
    assert model["customers_fitted"] == buyers.height
    assert set(model["bgnbd"]) == {"r", "alpha", "a", "b"}
    assert set(model["gamma_gamma"]) == {"p", "q", "v"}
    assert model["converged"] == {"bgnbd": True, "gamma_gamma": True}
    assert model["log_likelihood"]["bgnbd"] < 0
    assert "model" in manifest["timings"]

    # every buyer has the three numbers, nobody else does
    for column in ("p_alive", "expected_orders", "expected_revenue"):
        assert buyers[column].null_count() == 0, column
        assert segments.filter(pl.col("orders") == 0)[column].null_count() == (
            segments.height - buyers.height
        )
    assert buyers["p_alive"].is_between(0, 1).all()
    one_order = buyers.filter(pl.col("orders") == 1)
    assert (one_order["p_alive"] == 1.0).all()  # BG/NBD: no repeat order, no seen dropout

    # a frequent buyer gone quiet is flagged, with a sentence
    left = segments.filter(pl.col("red_flags").str.contains("probably_left"))
    assert left.height >= 1
    assert (left["activity"] == "active").all()
    assert (left["p_alive"] < 0.2).all()
    frequent = left.filter(pl.col("orders") >= 5)
    assert frequent.height >= 1
    reason = frequent["red_flag_reasons"][0]
    assert "похоже, клиент ушёл:" in reason and "вероятность, что ещё покупает" in reason
    assert manifest["classify"]["red_flags"]["probably_left"] == left.height
    assert (
        f"model: P(alive) and 90-day expected orders for {buyers.height} customers "
        f"({model['repeat_customers']} repeat); probably left while still active: {left.height}"
    ) in result.err

    # the tasks' value is the expected revenue: weight × expected_revenue / steps
    weights = {
        t.id: (t.weight, len(t.resolved_steps()))
        for t in read_playbook(DEFAULT_PLAYBOOK, config_for_orders("o.csv")).tactics
    }
    value = tasks.join(
        segments.select("customer_id", "expected_revenue", "orders"), on="customer_id"
    ).filter(pl.col("orders") > 0)
    for row in value.iter_rows(named=True):
        weight, steps = weights[row["tactic"]]
        assert row["expected_value"] == pytest.approx(
            round(weight * row["expected_revenue"] / steps, 2), abs=0.011
        ), row["task_id"]
    quiet = tasks.filter(pl.col("tactic") == "regular_gone_quiet")
    assert quiet.height >= 1
    quiet_ids = set(quiet["customer_id"])
    assert (segments.filter(pl.col("customer_id").is_in(quiet_ids))["p_alive"] < 0.3).all()
    # one call covers them (stop: no red-flag calls or upsell on top), its reason lists
    # the customer's red flags
    assert set(tasks.filter(pl.col("customer_id").is_in(quiet_ids))["tactic"]) == {
        "regular_gone_quiet"
    }
    flagged_quiet = quiet.join(
        segments.select("customer_id", "red_flag_reasons"), on="customer_id"
    ).filter(pl.col("red_flag_reasons") != "")
    assert flagged_quiet.height >= 1
    for row in flagged_quiet.iter_rows(named=True):
        assert row["reason"].startswith(row["red_flag_reasons"])

    # the Customers sheet carries the labels and the numbers
    book = openpyxl.load_workbook(out / "segments.xlsx", read_only=True)
    sheet = book["Клиенты"]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    for label in ("Вероятность активности", "Ожидаемые заказы за 90 дней", "Ожидаемая выручка"):
        assert label in header
    column = header.index("Вероятность активности")
    values = [
        row[column].value for row in sheet.iter_rows(min_row=2) if row[column].value is not None
    ]
    assert len(values) == buyers.height
    assert all(isinstance(v, int | float) and 0 <= v <= 1 for v in values)  # 1.0 reads as 1


def test_sample_data_without_the_model(capsys, tmp_path):
    result, manifest, segments, tasks, _ = run(
        capsys, tmp_path, "language: en\nmodel: {enabled: false}\n"
    )
    assert manifest["model"] == {"enabled": False, "horizon_days": 90}
    assert segments["p_alive"].null_count() == segments.height
    assert not segments["red_flags"].fill_null("").str.contains("probably_left").any()
    assert "regular_gone_quiet" not in tasks["tactic"].to_list()
    # the value falls back to weight × average order value
    joined = tasks.join(
        segments.select("customer_id", "avg_order_value", "orders"), on="customer_id"
    ).filter(pl.col("orders") > 0)
    weights = {
        t.id: (t.weight, len(t.resolved_steps()))
        for t in read_playbook(DEFAULT_PLAYBOOK, config_for_orders("o.csv")).tactics
    }
    for row in joined.head(50).iter_rows(named=True):
        weight, steps = weights[row["tactic"]]
        assert row["expected_value"] == pytest.approx(
            round(weight * row["avg_order_value"] / steps, 2), abs=0.011
        )


def test_horizon_in_the_english_header(capsys, tmp_path):
    _, manifest, segments, _, out = run(
        capsys, tmp_path, "language: en\nmodel: {horizon_days: 30}\n"
    )
    assert manifest["model"]["horizon_days"] == 30
    book = openpyxl.load_workbook(out / "segments.xlsx", read_only=True)
    header = [c.value for c in next(book["Customers"].iter_rows(max_row=1))]
    assert "Expected orders in 30 days" in header and "P(alive)" in header
    left = segments.filter(pl.col("red_flags").str.contains("probably_left"))
    assert left["red_flag_reasons"].str.contains("probably gone: ").all()


def test_a_misspelt_model_key_names_it(capsys, tmp_path):
    result = cli(
        capsys,
        "run",
        "--config",
        config(tmp_path, "model: {horizon: 30}\n"),
        "--out",
        tmp_path / "out",
    )
    assert result.code == 2
    assert "model.horizon" in result.err and "horizon_days" in result.err


def test_too_little_data_warns_and_leaves_the_columns_empty(capsys, tmp_path):
    """Two customers, one of them with a repeat order: no fit, a warning from the step
    command and from run, empty columns, exit 0."""
    (tmp_path / "orders.csv").write_text(
        "ИНН;Дата;Сумма\n001;01.02.2026;100\n001;01.03.2026;150\n002;05.03.2026;70\n",
        encoding="utf-8",
    )
    cfg = tmp_path / "segtool.yaml"
    cfg.write_text("inputs: {orders: {path: orders.csv}}\n", encoding="utf-8")
    ws = tmp_path / "ws"
    assert cli(capsys, "ingest", "--config", cfg, "--workspace", ws).code == 0
    scored = cli(capsys, "score", "--config", cfg, "--workspace", ws)
    assert scored.code == 0
    warning = "warning: model: not fitted, repeat customers: 1 (it needs at least 50)"
    assert warning in scored.err
    manifest = json.loads((ws / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"]["customers_fitted"] == 2 and "bgnbd" not in manifest["model"]
    assert pl.read_parquet(ws / "scores.parquet")["p_alive"].null_count() == 2

    result = cli(capsys, "run", "--config", cfg, "--out", tmp_path / "out")
    assert result.code == 0 and warning in result.err
    assert "Traceback" not in result.err
    segments = pl.read_csv(tmp_path / "out" / "segments.csv")
    assert segments["expected_revenue"].null_count() == segments.height == 2
