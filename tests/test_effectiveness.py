"""Did it work? A world with known truth, the interval against an independent computation,
stable arms, the holdout share on sample_data, and the workbook a person reads."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import random
import sqlite3
from pathlib import Path

import numpy as np
import openpyxl
import polars as pl
import pytest
from clirun import cli
from conftest import SAMPLE_DATA
from hypothesis import given
from hypothesis import strategies as st

from segtool.config import load_config
from segtool.history.store import MIGRATIONS, HistoryStore
from segtool.playbook import load_playbook
from segtool.steps.effectiveness import customers_needed, newcombe, wilson
from segtool.steps.effectiveness_report import money_text, percent_text, points_text
from segtool.steps.tactics import assign_tactics_with_stats

MONTH1 = dt.date(2026, 1, 31)
MONTH2 = dt.date(2026, 3, 31)  # 59 days later: the whole response window is inside
TRUTH = {"holdout": 0.10, "a": 0.25, "b": 0.45}  # probability of ordering in the 60 days
N_CUSTOMERS = 900

PLAYBOOK = """
tactics:
  - id: winback
    label: {ru: Реактивация, en: Win-back}
    action: call
    holdout: 0.3
    script: {ru: "Добрый день! Давно не заказывали.", en: "Hello! It has been a while."}
    variants:
      - {id: a, weight: 1}
      - {id: b, weight: 1, script: {ru: "Добрый день! Для вас скидка 5 %.", en: "5% off"},
         offer: {ru: "Скидка 5 % на следующий заказ"}}
"""


# -- an independent interval: the Wilson bounds as the roots of Newcombe's (1998) quadratic
def _wilson_roots(x: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Newcombe 1998, method 3: (2np + z² ∓ z·√(z² + 4npq)) / (2(n + z²))."""
    p = x / n
    q = 1 - p
    root = z * math.sqrt(z * z + 4 * n * p * q)
    return (2 * n * p + z * z - root) / (2 * (n + z * z)), (2 * n * p + z * z + root) / (
        2 * (n + z * z)
    )


def _newcombe_by_hand(x1: int, n1: int, x0: int, n0: int) -> tuple[float, float]:
    """Method 10: δ − √((p1 − l1)² + (u0 − p0)²), δ + √((u1 − p1)² + (p0 − l0)²)."""
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = _wilson_roots(x1, n1)
    l0, u0 = _wilson_roots(x0, n0)
    d = p1 - p0
    return d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), d + math.sqrt(
        (u1 - p1) ** 2 + (p0 - l0) ** 2
    )


# Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score)
PAPER = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


def test_newcombe_matches_the_papers_table():
    counts = np.array([c for c, _ in PAPER], dtype=float)
    low, high = newcombe(counts[:, 0], counts[:, 1], counts[:, 2], counts[:, 3])  # one call
    for (_, (want_low, want_high)), lo, hi in zip(PAPER, low, high, strict=True):
        assert round(float(lo), 4) == want_low and round(float(hi), 4) == want_high


@given(
    st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_newcombe_equals_the_quadratic_form_and_holds_the_difference(arm, control):
    (x1, n1), (x0, n0) = arm, control
    low, high = newcombe(np.array([x1]), np.array([n1]), np.array([x0]), np.array([n0]))
    want_low, want_high = _newcombe_by_hand(x1, n1, x0, n0)
    assert float(low[0]) == pytest.approx(want_low, abs=1e-12)
    assert float(high[0]) == pytest.approx(want_high, abs=1e-12)
    d = x1 / n1 - x0 / n0
    assert -1 <= float(low[0]) <= d + 1e-12 and d - 1e-12 <= float(high[0]) <= 1
    w_low, w_high = wilson(np.array([x1]), np.array([n1]))
    assert 0 <= float(w_low[0]) <= x1 / n1 <= float(w_high[0]) <= 1


def test_customers_needed_is_the_two_proportion_sample_size():
    # 10 % vs 15 %, two-sided 5 %, power 80 %: the textbook 686 per group
    assert customers_needed(np.array([0.15]), np.array([0.10]))[0] == 686
    assert math.isnan(customers_needed(np.array([0.2]), np.array([0.2]))[0])


def test_sentence_numbers_read_naturally():
    assert percent_text(0.24, "ru") == "24 %" and percent_text(0.245, "ru") == "24,5 %"
    assert percent_text(0.24, "en") == "24%"
    assert points_text(0.13, "ru") == "+13" and points_text(-0.061, "ru") == "−6,1"
    assert money_text(1234567.8, "ru") == "1\u00a0234\u00a0568\u00a0₽"
    assert money_text(1234567.8, "en") == "1,234,568"


# -- the world with known truth ---------------------------------------------------------------
def _orders_before(ids: list[str]) -> list[tuple[str, str, str, str, float]]:
    """One order per customer in 2025 (so every customer exists at month 1)."""
    rows = []
    for i, cid in enumerate(ids):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=i % 360)
        rows.append((cid, f"ООО Клиент {i}", f"H{i}", day.isoformat(), 1000.0 + i))
    rows.append((ids[0], "ООО Клиент 0", "ANCHOR", MONTH1.isoformat(), 10.0))  # as_of exists
    return rows


def _write_orders(path: Path, rows: list[tuple[str, str, str, str, float]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "company_name", "order_id", "order_date", "amount"])
        writer.writerows(rows)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Month 1 assigns `winback` (holdout 0.3, variants a and b) to every customer; orders
    for the next 60 days follow TRUTH per arm; month 2 reports. Returns what the test needs."""
    tmp = tmp_path_factory.mktemp("world")
    ids = [f"{7700000000 + i * 7:010d}" for i in range(N_CUSTOMERS)]
    orders = tmp / "orders.csv"
    base_rows = _orders_before(ids)
    _write_orders(orders, base_rows)
    config = tmp / "segtool.yaml"
    config.write_text("inputs:\n  orders: {path: orders.csv}\n" + PLAYBOOK, encoding="utf-8")
    return {"tmp": tmp, "ids": ids, "orders": orders, "config": config, "base": base_rows}


def _run(capsys, config: Path, out: Path, as_of: dt.date):
    result = cli(capsys, "run", "--config", config, "--out", out, "--as-of", as_of.isoformat())
    assert result.code == 0, result.err
    return result


def test_a_world_with_known_truth(world, capsys):
    tmp, ids = world["tmp"], world["ids"]
    _run(capsys, world["config"], tmp / "m1", MONTH1)

    # the arms as month 1's outputs show them: holdout.csv and the variant column
    arm = {r["customer_id"]: "holdout" for r in _read_csv(tmp / "m1" / "holdout.csv")}
    assert {r["tactic"] for r in _read_csv(tmp / "m1" / "holdout.csv")} == {"winback"}
    assert {r["as_of"] for r in _read_csv(tmp / "m1" / "holdout.csv")} == {"2026-01-31"}
    tasks = _read_csv(tmp / "m1" / "call_tasks.csv")
    for row in tasks:
        assert row["customer_id"] not in arm, "a holdout customer got a task from the tactic"
        arm[row["customer_id"]] = row["variant"]
    assert set(arm) == set(ids) and set(arm.values()) == {"holdout", "a", "b"}
    scripts = {r["variant"]: r["script"] for r in tasks}
    assert "скидка 5 %" in scripts["b"] and "Давно не заказывали" in scripts["a"]
    offers = {r["variant"]: r["offer"] for r in tasks}
    assert offers["b"] == "Скидка 5 % на следующий заказ" and offers["a"] == ""

    # the next 60 days: orders drawn with TRUTH per arm, plus traps that must not count
    rng = random.Random(17)
    rows = list(world["base"])
    truth: dict[str, dict[str, float]] = {a: {"n": 0, "x": 0, "rev": 0.0} for a in TRUTH}
    for i, cid in enumerate(ids):
        group = arm[cid]
        truth[group]["n"] += 1
        if rng.random() < TRUTH[group]:
            day = MONTH1 + dt.timedelta(days=rng.randint(1, 59))
            amount = float(rng.randint(500, 90_000))
            rows.append((cid, f"ООО Клиент {i}", f"R{i}", day.isoformat(), amount))
            if rng.random() < 0.3:  # a second order in the window: revenue adds up
                extra = float(rng.randint(100, 5000))
                rows.append(
                    (
                        cid,
                        f"ООО Клиент {i}",
                        f"S{i}",
                        (day + dt.timedelta(days=0)).isoformat(),
                        extra,
                    )
                )
                amount += extra
            if rng.random() < 0.2:  # a return line inside an order lowers its net
                rows.append((cid, f"ООО Клиент {i}", f"R{i}", day.isoformat(), -100.0))
                amount -= 100.0
            truth[group]["x"] += 1
            truth[group]["rev"] += amount
        elif rng.random() < 0.1:  # an order whose lines net to below zero: no response
            day = (MONTH1 + dt.timedelta(days=rng.randint(1, 59))).isoformat()
            rows.append((cid, f"ООО Клиент {i}", f"N{i}", day, 300.0))
            rows.append((cid, f"ООО Клиент {i}", f"N{i}", day, -700.0))
    _write_orders(world["orders"], rows)
    # the team marks every fifth call done in month 1's CSV sheet (saved after the workbook)
    marked = {r["customer_id"] for r in tasks[::5]}
    with (tmp / "m1" / "call_tasks.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(tasks[0]))
        writer.writeheader()
        writer.writerows(
            {**r, "status": "done" if r["customer_id"] in marked else r["status"]} for r in tasks
        )
    responded = {r[0] for r in rows[len(world["base"]) :] if r[4] > 0 and r[2].startswith("R")}

    result = _run(capsys, world["config"], tmp / "m2", MONTH2)
    table = {r["variant"]: r for r in _read_csv(tmp / "m2" / "effectiveness.csv")}
    with (tmp / "m2" / "effectiveness.csv").open(encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
    assert header == [
        "issued_as_of",
        "tactic",
        "variant",
        "customers",
        "responders",
        "response_rate",
        "revenue",
        "revenue_per_customer",
        "uplift",
        "uplift_ci_low",
        "uplift_ci_high",
        "verdict",
    ]
    assert set(table) == {"all", "a", "b", "holdout"}
    assert {r["issued_as_of"] for r in table.values()} == {"2026-01-31"}
    truth["all"] = {k: truth["a"][k] + truth["b"][k] for k in ("n", "x", "rev")}
    n0, x0 = truth["holdout"]["n"], truth["holdout"]["x"]
    for group, want in truth.items():
        row = table[group]
        assert int(row["customers"]) == want["n"], group
        assert int(row["responders"]) == want["x"], group
        assert float(row["revenue"]) == pytest.approx(want["rev"], abs=0.01), group
        assert float(row["response_rate"]) == pytest.approx(want["x"] / want["n"], abs=1e-6)
        assert float(row["revenue_per_customer"]) == pytest.approx(
            want["rev"] / want["n"], abs=0.01
        )
        if group == "holdout":
            assert row["uplift"] == row["verdict"] == ""
            continue
        observed = want["x"] / want["n"] - x0 / n0
        assert float(row["uplift"]) == pytest.approx(observed, abs=1e-6)
        low, high = _newcombe_by_hand(int(want["x"]), int(want["n"]), x0, n0)
        assert float(row["uplift_ci_low"]) == pytest.approx(low, abs=1e-6)
        assert float(row["uplift_ci_high"]) == pytest.approx(high, abs=1e-6)
        expect = "works" if low > 0 else "harmful" if high < 0 else "no_evidence"
        assert row["verdict"] == expect
    # with these truths and ~270 vs ~315 customers, b clearly works
    assert table["b"]["verdict"] == "works" and table["all"]["verdict"] == "works"

    # console: one line per tactic with its verdict; manifest: the effectiveness block
    lines = [
        ln
        for ln in result.err.splitlines() + result.out.splitlines()
        if "effectiveness: winback" in ln
    ]
    assert len(lines) == 1 and lines[0].endswith(": works")
    manifest = json.loads((tmp / "m2" / "manifest.json").read_text(encoding="utf-8"))
    block = manifest["effectiveness"]
    assert block["runs_measured"] == ["2026-01-31"]
    assert block["verdicts"]["winback"]["verdict"] == "works"
    assert block["verdicts"]["winback"]["customers"] == truth["all"]["n"]
    assert "effectiveness.csv" in manifest["outputs"] and "holdout.csv" in manifest["outputs"]

    # the breakdown: by channel (all calls) against the whole control group, and done only
    breakdown = _read_csv(tmp / "m2" / "effectiveness_breakdown.csv")
    channel = [r for r in breakdown if r["by"] == "channel"]
    assert [(r["value"], int(r["customers"])) for r in channel] == [("call", truth["all"]["n"])]
    assert channel[0]["uplift"] == table["all"]["uplift"]
    done = [r for r in breakdown if r["by"] == "done"]
    assert [(r["value"], r["variant"]) for r in done] == [("done", "all")]
    assert int(done[0]["customers"]) == len(marked)
    assert int(done[0]["responders"]) == len(marked & responded)
    segment = [r for r in breakdown if r["by"] == "segment"]
    assert sum(int(r["customers"]) for r in segment) == truth["all"]["n"] + n0

    # the history keeps the arms: migration 2's assignments table
    with sqlite3.connect(tmp / "segtool-history.db") as db:
        counts = dict(
            db.execute(
                "SELECT variant, count(*) FROM assignments a JOIN runs r USING (run_id) "
                "WHERE r.as_of = '2026-01-31' GROUP BY variant"
            ).fetchall()
        )
        assert counts == {"a": truth["a"]["n"], "b": truth["b"]["n"], "holdout": n0}
        variants = dict(
            db.execute(
                "SELECT variant, count(*) FROM tasks WHERE issued_as_of = '2026-01-31' "
                "GROUP BY variant"
            ).fetchall()
        )
        assert variants == {"a": truth["a"]["n"], "b": truth["b"]["n"]}

    # month 2 keeps every customer in the arm month 1 gave them: its sheets (done tasks
    # are not issued again) and its recorded arms (everyone)
    again = {r["customer_id"]: "holdout" for r in _read_csv(tmp / "m2" / "holdout.csv")}
    for row in _read_csv(tmp / "m2" / "call_tasks.csv"):
        again.setdefault(row["customer_id"], row["variant"])
    assert again == {c: arm[c] for c in again} and len(again) > 0.5 * N_CUSTOMERS
    with sqlite3.connect(tmp / "segtool-history.db") as db:
        month2 = dict(
            db.execute(
                "SELECT customer_id, variant FROM assignments a JOIN runs r USING (run_id) "
                "WHERE r.as_of = '2026-03-31'"
            ).fetchall()
        )
    assert month2 == arm

    # the workbook a person reads
    book = openpyxl.load_workbook(tmp / "m2" / "effectiveness.xlsx")
    assert book.sheetnames == ["Итоги", "Все запуски", "Разрезы"]
    sheet = book["Итоги"]
    texts = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    sentence = next(t for t in texts if t.startswith("Звонок «Реактивация»: заказали"))
    p1 = truth["all"]["x"] / truth["all"]["n"]
    assert percent_text(p1, "ru") in sentence and "в контрольной группе" in sentence
    assert "п.п. (95 %: +" in sentence and "Тактика работает." in sentence
    assert "\u00a0₽" in sentence and "winback" not in sentence
    assert "Контрольная группа" in texts and "Вариант b" in texts
    assert sheet._charts, "the interval chart is missing"


def test_a_version_1_history_file_is_migrated_with_its_tasks_kept(tmp_path):
    path = tmp_path / "h.db"
    with sqlite3.connect(path) as db:
        for statement in MIGRATIONS[1]:
            db.execute(statement)
        db.execute("PRAGMA user_version = 1")
        db.execute(
            "INSERT INTO runs (run_id, token, as_of, out_dir, state, started_at) "
            "VALUES (1, 't', '2026-01-31', '/x', 'committed', 'now')"
        )
        db.execute(
            "INSERT INTO tasks (task_id, customer_id, tactic, step, issued_run_id, "
            "issued_as_of) VALUES ('k', '1', 'winback', 1, 1, '2026-01-31')"
        )
    with HistoryStore(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == 3
        assert store.db.execute("SELECT variant, tactic FROM tasks").fetchall() == [
            (None, "winback")
        ]
        assert store.db.execute("SELECT count(*) FROM assignments").fetchone() == (0,)


# -- stable arms and the holdout share on sample_data -----------------------------------------
def _sample_config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "segtool.yaml"
    config.write_text(
        f"inputs:\n  orders: {{path: {SAMPLE_DATA / 'orders.csv'}}}\n"
        f"  contacts: {{path: {SAMPLE_DATA / 'contacts.xlsx'}}}\n"
        "experiments: {holdout: 0.2}\n" + extra,
        encoding="utf-8",
    )
    return config


@pytest.fixture(scope="module")
def sample_segments():
    import tempfile

    from segtool.steps.classify import classify
    from segtool.steps.ingest import ingest
    from segtool.steps.score import score

    with tempfile.TemporaryDirectory() as folder:
        cfg = load_config(_sample_config(Path(folder)))
        ingested = ingest(cfg)
        as_of = dt.date(2025, 12, 31)
        orders = ingested.orders.lazy()
        scores = score(orders, ingested.contacts.lazy(), cfg, as_of).collect()
        segments, _ = classify(scores.lazy(), cfg, orders, as_of)
        return segments.collect(), ingested.contacts, cfg


def _arms(segments, contacts, cfg, as_of: dt.date) -> pl.DataFrame:
    result = assign_tactics_with_stats(
        segments.lazy(), contacts.lazy(), load_playbook(cfg), cfg, as_of
    )
    assert result.stats.identity_holds(), result.stats.identity_line()
    return result.assignments


def test_holdout_share_is_within_binomial_noise_on_sample_data(sample_segments):
    segments, contacts, cfg = sample_segments
    arms = _arms(segments, contacts, cfg, dt.date(2025, 12, 31))
    n = arms.height
    held = arms.filter(pl.col("variant") == "holdout").height
    sigma = math.sqrt(n * 0.2 * 0.8)
    assert n > 300
    assert abs(held - 0.2 * n) <= 3 * sigma, (held, n)
    # per tactic too, for the tactics with enough customers
    per = arms.group_by("tactic").agg(
        pl.len().alias("n"), (pl.col("variant") == "holdout").sum().alias("h")
    )
    for tactic, count, hold in per.filter(pl.col("n") >= 50).iter_rows():
        assert abs(hold - 0.2 * count) <= 3.5 * math.sqrt(count * 0.16), tactic


def test_arms_are_stable_across_reruns_and_months_and_a_new_experiment_redraws(
    sample_segments,
):
    segments, contacts, cfg = sample_segments
    first = _arms(segments, contacts, cfg, dt.date(2025, 12, 31))
    again = _arms(segments, contacts, cfg, dt.date(2025, 12, 31))
    later = _arms(segments, contacts, cfg, dt.date(2026, 2, 28))  # another month's task ids
    assert first.equals(again)
    key = ["customer_id", "tactic"]
    both = first.join(later, on=key, suffix="_later")
    assert both.height == first.height
    assert both["variant"].eq_missing(both["variant_later"]).all()
    assert first["variant"].null_count() > 0 and (first["variant"] == "holdout").sum() > 0
    renamed = cfg.model_copy(
        update={"experiments": cfg.experiments.model_copy(update={"experiment": "2026-spring"})}
    )
    redrawn = _arms(segments, contacts, renamed, dt.date(2025, 12, 31))
    moved = first.join(redrawn, on=key, suffix="_new").filter(
        pl.col("variant").ne_missing(pl.col("variant_new"))
    )
    # re-drawn: about 2 × 0.2 × 0.8 = 32 % of the pairs change arm
    assert 0.2 * first.height < moved.height < 0.45 * first.height


def test_the_draw_is_a_fixed_function_of_its_key():
    from segtool.steps.tactics import arm_draw

    frame = pl.DataFrame({"c": ["7700000000", "0012"], "t": ["winback", "winback"]})
    drawn = frame.select(arm_draw("", pl.col("c"), pl.col("t"), "holdout"))["literal"]
    import hashlib

    for value, cid in zip(drawn, frame["c"], strict=True):
        digest = hashlib.sha256(f"holdout||{cid}|winback".encode()).hexdigest()
        assert value == int(digest[:13], 16) / 16**13


def test_playbook_variant_errors_name_the_tactic(tmp_path, capsys):
    config = _sample_config(tmp_path, PLAYBOOK.replace("{id: a, weight: 1}", "{id: b}"))
    result = cli(capsys, "run", "--config", config, "--out", tmp_path / "out")
    assert result.code == 2 and "winback" in result.err and "variant" in result.err
    config = _sample_config(tmp_path, PLAYBOOK.replace("holdout: 0.3", "holdout: 1.5"))
    result = cli(capsys, "run", "--config", config, "--out", tmp_path / "out")
    assert result.code == 2 and "holdout" in result.err


def test_the_starter_config_explains_experiments_and_keeps_them_off():
    from conftest import REPO

    for path in (REPO / "segtool/defaults/segtool.yaml", REPO / "config/segtool.yaml"):
        cfg = load_config(path)
        assert cfg.experiments.holdout == 0.0 and cfg.experiments.experiment == ""
        assert cfg.effectiveness.window_days == 90
        text = path.read_text(encoding="utf-8")
        assert "experiments:" in text and "0.1" in text and "docs/effectiveness.md" in text
