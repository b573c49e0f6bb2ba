"""The model step: BG/NBD + Gamma-Gamma fits, P(alive), expected orders and revenue.

Reference figures: the CDNOW sample of the BG/NBD paper with segtool's definitions, as
lifetimes 0.11.3 gives them (issue 22), and the paper's own worked example. Closed forms
are recomputed here from the papers' formulas (the original hypergeometric form; the
module uses Euler's transformation), independently of segtool.steps.model.
"""

from __future__ import annotations

import datetime as dt
import gzip
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import hyp2f1

from segtool.config import config_for_orders
from segtool.steps import model as model_step
from segtool.steps.classify import classify
from segtool.steps.ingest import ingest
from segtool.steps.model import (
    MIN_REPEAT_CUSTOMERS,
    BgNbd,
    GammaGamma,
    apply_model,
    expected_order_value,
    expected_orders,
    fit_bgnbd,
    fit_gamma_gamma,
    p_alive,
)
from segtool.steps.score import score

REPO = Path(__file__).resolve().parents[2]
CDNOW = REPO.parent / "shared" / "data" / "cdnow_sample_orders.csv.gz"
CDNOW_AS_OF = dt.date(1997, 9, 30)


# -- the papers' closed forms, written out again ----------------------------------------------
def paper_p_alive(r, alpha, a, b, x, t_x, T) -> float:
    """Fader, Hardie & Lee (2005), eq. 11 (with P(alive) = 1 for x = 0)."""
    if x == 0:
        return 1.0
    return 1.0 / (1.0 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))


def paper_expected(r, alpha, a, b, x, t_x, T, t) -> float:
    """Fader, Hardie & Lee (2005), eq. 10: E[Y(t) | x, t_x, T]."""
    z = t / (alpha + T + t)
    head = (a + b + x - 1) / (a - 1)
    body = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    return head * body * paper_p_alive(r, alpha, a, b, x, t_x, T)


def paper_log_likelihood(r, alpha, a, b, x, t_x, T) -> float:
    """One customer's BG/NBD log-likelihood (the paper's eq. 6), with math.lgamma."""
    lg = math.lgamma
    a1 = lg(r + x) - lg(r) + r * math.log(alpha)
    a2 = lg(a + b) + lg(b + x) - lg(b) - lg(a + b + x)
    a3 = -(r + x) * math.log(alpha + T)
    total = math.exp(a3)
    if x > 0:
        total += math.exp(math.log(a) - math.log(b + x - 1) - (r + x) * math.log(alpha + t_x))
    return a1 + a2 + math.log(total)


def same_to_3_digits(got: dict[str, float], want: dict[str, float]) -> bool:
    """Every value within half a unit of the third significant digit of the reference
    (0.792508 vs 0.7925 agree; rounding both to 3 digits would not say so)."""
    assert set(got) == set(want)
    return all(
        abs(got[k] - w) <= 0.5 * 10 ** (math.floor(math.log10(abs(w))) - 2) for k, w in want.items()
    )


# -- the paper's worked example ---------------------------------------------------------------
def test_the_papers_worked_example():
    """BG/NBD paper, section 5: with r = 0.243, α = 4.414, a = 0.793, b = 2.426 (weeks), a
    customer with x = 2, t_x = 30.43, T = 38.86 is expected to make 1.226 purchases in the
    next 39 weeks."""
    paper = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=0.0, converged=True)
    got = expected_orders(paper, 39.0, np.array([2.0]), np.array([30.43]), np.array([38.86]))
    assert got[0] == pytest.approx(1.226, abs=5e-4)


def test_p_alive_by_hand():
    """r = 0.25, α = 4, a = 0.8, b = 2.5; x = 2, t_x = 30, T = 38:
    a/(b+x−1) = 0.8/3.5 = 0.228571; ((4+38)/(4+30))^2.25 = (42/34)^2.25 = 1.608731;
    odds = 0.228571 × 1.608731 = 0.367710, P(alive) = 1/1.367710 = 0.731149."""
    m = BgNbd(r=0.25, alpha=4.0, a=0.8, b=2.5, log_likelihood=0.0, converged=True)
    got = p_alive(m, np.array([2.0, 0.0]), np.array([30.0, 0.0]), np.array([38.0, 38.0]))
    assert got[0] == pytest.approx(0.731149, abs=2e-6)
    assert got[1] == 1.0  # no repeat order: the model cannot have seen a dropout


@pytest.mark.parametrize("a", [0.6, 1.5, 3.0, 1.0 + 1e-12])
def test_expected_orders_match_the_papers_formula(a):
    m = BgNbd(r=0.4, alpha=20.0, a=a, b=2.0, log_likelihood=0.0, converged=True)
    x = np.array([0.0, 1.0, 5.0, 40.0])
    t_x = np.array([0.0, 50.0, 200.0, 300.0])
    T = np.array([100.0, 120.0, 400.0, 310.0])
    got = expected_orders(m, 90.0, x, t_x, T)
    a_paper = a if abs(a - 1) > 1e-6 else 1.0 + 1e-7  # the formula itself is 0/0 at a = 1
    want = [
        paper_expected(0.4, 20.0, a_paper, 2.0, *row, 90.0) for row in zip(x, t_x, T, strict=True)
    ]
    assert got == pytest.approx(want, rel=1e-5)


def test_gamma_gamma_conditional_value_by_hand():
    """p = 6, q = 4, v = 15: population mean 6·15/3 = 30; x = 2, m = 40:
    6·(15 + 80)/(12 + 3) = 38."""
    m = GammaGamma(p=6.0, q=4.0, v=15.0, log_likelihood=0.0, converged=True)
    got = expected_order_value(m, np.array([0.0, 2.0]), np.array([np.nan, 40.0]))
    assert got == pytest.approx([30.0, 38.0])
    assert m.mean_value == pytest.approx(30.0)


# -- likelihood and fit on synthetic data ---------------------------------------------------------
def synthetic(n: int = 400, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) drawn from a BG/NBD process (λ ~ Gamma(r=0.8, α=40), p ~ Beta(1, 4)),
    observed for T days; whole days, as segtool counts them."""
    rng = np.random.default_rng(seed)
    T = rng.integers(100, 700, n).astype(float)
    lam = rng.gamma(0.8, 1 / 40, n)
    drop = rng.beta(1.0, 4.0, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    clock = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    for _ in range(200):  # steps of the process, every customer at once
        clock = clock + rng.exponential(1 / lam)
        buys = alive & (clock <= T)
        x += buys
        t_x = np.where(buys, np.floor(clock), t_x)
        alive = buys & (rng.random(n) >= drop)
    return x, t_x, T


def test_the_likelihood_is_the_papers_and_its_gradient_is_right():
    x, t_x, T = synthetic(60)
    theta = np.log([0.7, 35.0, 1.2, 3.5])
    xs, index = np.unique(x, return_inverse=True)
    value, grad = model_step._bgnbd_terms(theta, xs, index, x, t_x, T, np.ones(len(x)))
    by_hand = sum(
        paper_log_likelihood(0.7, 35.0, 1.2, 3.5, *row) for row in zip(x, t_x, T, strict=True)
    )
    assert value == pytest.approx(by_hand, rel=1e-10)
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-6
        up, _ = model_step._bgnbd_terms(theta + step, xs, index, x, t_x, T, np.ones(len(x)))
        down, _ = model_step._bgnbd_terms(theta - step, xs, index, x, t_x, T, np.ones(len(x)))
        assert grad[i] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-4)


def test_gamma_gamma_gradient_is_right():
    rng = np.random.default_rng(3)
    x = rng.integers(1, 9, 80).astype(float)
    m = rng.gamma(3.0, 10.0, 80)
    theta = np.log([4.0, 3.0, 12.0])
    xs, index = np.unique(x, return_inverse=True)
    _, grad = model_step._gg_terms(theta, xs, index, x, m)
    for i in range(3):
        step = np.zeros(3)
        step[i] = 1e-6
        up, _ = model_step._gg_terms(theta + step, xs, index, x, m)
        down, _ = model_step._gg_terms(theta - step, xs, index, x, m)
        assert grad[i] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-4)


def test_gamma_gamma_fit_is_a_maximum():
    """Data drawn from the model (p = 4, q = 3, v = 20): the fit's gradient is zero and any
    parameter moved off it lowers the likelihood."""
    rng = np.random.default_rng(11)
    x = rng.integers(1, 12, 600).astype(float)
    nu = rng.gamma(3.0, 1 / 20.0, 600)  # ν ~ Gamma(q, v), values ~ Gamma(p, ν)
    m = rng.gamma(4.0 * x, 1 / nu) / x  # the mean of x values
    fit = fit_gamma_gamma(x, m)
    assert fit.converged
    xs, index = np.unique(x, return_inverse=True)
    best, grad = model_step._gg_terms(np.log([fit.p, fit.q, fit.v]), xs, index, x, m)
    assert np.abs(grad).max() < 1e-3
    for i in range(3):
        for factor in (0.95, 1.05):
            params = np.array([fit.p, fit.q, fit.v])
            params[i] *= factor
            assert model_step._gg_terms(np.log(params), xs, index, x, m)[0] < best


def test_the_fit_is_a_maximum_and_weights_equal_repeated_rows():
    x, t_x, T = synthetic(300)
    fit = fit_bgnbd(x, t_x, T)
    assert fit.converged
    best = sum(
        paper_log_likelihood(fit.r, fit.alpha, fit.a, fit.b, *row)
        for row in zip(x, t_x, T, strict=True)
    )
    assert fit.log_likelihood == pytest.approx(best, rel=1e-9)
    for factor in (0.9, 1.1):  # every parameter moved off the maximum lowers the likelihood
        for i in range(4):
            params = [fit.r, fit.alpha, fit.a, fit.b]
            params[i] *= factor
            assert (
                sum(paper_log_likelihood(*params, *row) for row in zip(x, t_x, T, strict=True))
                < best
            )
    # the same customers twice: the same parameters (weights, not rows, carry the counts)
    twice = fit_bgnbd(np.tile(x, 2), np.tile(t_x, 2), np.tile(T, 2))
    assert twice.r == pytest.approx(fit.r, rel=1e-4)
    assert twice.b == pytest.approx(fit.b, rel=1e-4)


@settings(max_examples=60, deadline=None)
@given(
    x=st.integers(0, 60),
    tx_share=st.floats(0, 1),
    T=st.integers(1, 2000),
    more=st.integers(1, 400),
    horizon=st.integers(1, 365),
    r=st.floats(0.05, 5),
    alpha=st.floats(0.5, 500),
    a=st.floats(0.05, 5),
    b=st.floats(0.05, 50),
)
def test_invariants(x, tx_share, T, more, horizon, r, alpha, a, b):
    """0 ≤ P(alive) ≤ 1; expected orders ≥ 0 and growing with the horizon; with the same
    history, a longer silence never raises P(alive)."""
    m = BgNbd(r=r, alpha=alpha, a=a, b=b, log_likelihood=0.0, converged=True)
    t_x = float(round(T * tx_share)) if x > 0 else 0.0
    xs, txs = np.array([float(x)] * 2), np.array([t_x] * 2)
    Ts = np.array([float(T), float(T + more)])
    alive = p_alive(m, xs, txs, Ts)
    assert np.all((alive >= 0) & (alive <= 1))
    assert alive[1] <= alive[0] + 1e-12
    short = expected_orders(m, float(horizon), xs[:1], txs[:1], Ts[:1])[0]
    long = expected_orders(m, float(horizon + more), xs[:1], txs[:1], Ts[:1])[0]
    assert np.isfinite(short) and short >= -1e-9
    assert long >= short - 1e-9


# -- apply_model on a scores frame --------------------------------------------------------------
def scores_frame(
    x: np.ndarray, t_x: np.ndarray, T: np.ndarray, m: np.ndarray | None = None
) -> pl.DataFrame:
    """The score columns apply_model reads, plus a lead and a returns-only customer."""
    n = len(x)
    values = m if m is not None else 100.0 + 10.0 * (np.arange(n) % 7)
    buyers = pl.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "is_lead": [False] * n,
            "orders": (x + 1).astype(np.int64),
            "order_days": (x + 1).astype(np.int64),
            "tenure_days": T.astype(np.int64),
            "recency_days": (T - t_x).astype(np.int64),
            "repeat_order_value": np.where(x > 0, values, np.nan),
        }
    ).with_columns(pl.col("repeat_order_value").fill_nan(None))
    others = pl.DataFrame(
        {
            "customer_id": ["LEAD", "RET"],
            "is_lead": [True, False],
            "orders": [0, 0],
            "order_days": [0, 0],
            "tenure_days": [None, None],
            "recency_days": [None, None],
            "repeat_order_value": [None, None],
        },
        schema=buyers.schema,
    )
    return pl.concat([buyers, others])


def test_apply_model_fills_buyers_only_and_reports():
    x, t_x, T = synthetic(300)
    frame, summary = apply_model(scores_frame(x, t_x, T), config_for_orders("o.csv"))
    assert "warning" not in summary
    assert summary["customers_fitted"] == 300
    assert summary["repeat_customers"] == int((x > 0).sum())
    assert summary["converged"] == {"bgnbd": True, "gamma_gamma": True}
    assert set(summary["bgnbd"]) == {"r", "alpha", "a", "b"}
    assert set(summary["gamma_gamma"]) == {"p", "q", "v"}
    assert summary["horizon_days"] == 90
    rows = {r["customer_id"]: r for r in frame.iter_rows(named=True)}
    assert all(
        rows[c][k] is None
        for c in ("LEAD", "RET")
        for k in ("p_alive", "expected_orders", "expected_revenue")
    )
    fit = summary["bgnbd"]
    for i in (0, 1, 5, 17):  # the columns are the closed forms at the reported parameters
        row = rows[f"C{i:04d}"]
        want = paper_expected(fit["r"], fit["alpha"], fit["a"], fit["b"], x[i], t_x[i], T[i], 90)
        assert row["expected_orders"] == pytest.approx(want, rel=1e-4, abs=1e-4)
        assert row["p_alive"] == pytest.approx(
            paper_p_alive(fit["r"], fit["alpha"], fit["a"], fit["b"], x[i], t_x[i], T[i]), abs=1e-5
        )
    gg = summary["gamma_gamma"]
    one_order = next(f"C{i:04d}" for i in range(300) if x[i] == 0)
    mean = gg["p"] * gg["v"] / (gg["q"] - 1)  # one-order customers: the population mean
    assert rows[one_order]["expected_revenue"] == pytest.approx(
        rows[one_order]["expected_orders"] * mean, rel=1e-3, abs=0.01
    )


def test_horizon_days_is_used():
    x, t_x, T = synthetic(300)
    cfg = config_for_orders("o.csv", model={"horizon_days": 30})
    frame, summary = apply_model(scores_frame(x, t_x, T), cfg)
    fit = summary["bgnbd"]
    row = frame.row(3, named=True)
    assert row["expected_orders"] == pytest.approx(
        paper_expected(fit["r"], fit["alpha"], fit["a"], fit["b"], x[3], t_x[3], T[3], 30),
        rel=1e-4,
        abs=1e-4,
    )


def test_too_few_repeat_customers_leaves_the_columns_empty():
    x, t_x, T = synthetic(300)
    keep = np.flatnonzero(x > 0)[: MIN_REPEAT_CUSTOMERS - 1]
    ones = np.flatnonzero(x == 0)[:100]
    rows = np.concatenate([keep, ones])
    frame, summary = apply_model(
        scores_frame(x[rows], t_x[rows], T[rows]), config_for_orders("o.csv")
    )
    assert "repeat customers: 49 (it needs at least 50)" in summary["warning"]
    assert frame["p_alive"].null_count() == frame.height
    assert frame["expected_revenue"].null_count() == frame.height
    assert "bgnbd" not in summary


def test_a_failed_fit_is_a_warning_not_a_traceback(monkeypatch):
    def fail(*args):
        raise model_step.FitError("the likelihood is not finite anywhere the optimiser looked")

    monkeypatch.setattr(model_step, "fit_bgnbd", fail)
    x, t_x, T = synthetic(300)
    frame, summary = apply_model(scores_frame(x, t_x, T), config_for_orders("o.csv"))
    assert summary["warning"].startswith("model: the BG/NBD fit failed")
    assert frame["expected_orders"].null_count() == frame.height


def test_a_fit_without_a_maximum_counts_as_not_converged():
    """Everyone made 3 repeat orders, the last one on the last day: no sign of dropout or of
    differing rates, so the likelihood keeps growing as a → 0 and r, α → ∞ (a Poisson
    limit) and has no maximum. The columns stay empty rather than show numbers from the
    optimiser's last step."""
    n = 200
    x = np.full(n, 3.0)
    T = np.full(n, 300.0)
    frame, summary = apply_model(scores_frame(x, T.copy(), T), config_for_orders("o.csv"))
    assert summary["converged"] == {"bgnbd": False}
    assert "did not converge" in summary["warning"]
    assert frame["p_alive"].null_count() == frame.height
    assert frame["expected_revenue"].null_count() == frame.height


def test_gamma_gamma_without_a_finite_mean_leaves_only_revenue_empty(monkeypatch):
    monkeypatch.setattr(
        model_step,
        "fit_gamma_gamma",
        lambda x, m: GammaGamma(p=1.0, q=0.8, v=10.0, log_likelihood=-1.0, converged=True),
    )
    x, t_x, T = synthetic(300)
    frame, summary = apply_model(scores_frame(x, t_x, T), config_for_orders("o.csv"))
    assert "infinite mean order value" in summary["warning"]
    assert frame["expected_revenue"].null_count() == frame.height
    assert frame["p_alive"].null_count() == 2  # the lead and the returns-only customer


def test_model_off():
    x, t_x, T = synthetic(300)
    frame, summary = apply_model(
        scores_frame(x, t_x, T), config_for_orders("o.csv", model={"enabled": False})
    )
    assert summary == {"enabled": False, "horizon_days": 90}
    assert frame["p_alive"].null_count() == frame.height


# -- score: the model's inputs --------------------------------------------------------------
def test_score_counts_order_days_and_the_mean_repeat_value():
    """A: day 1 one order 100; day 2 two orders 50 + 30 (one day, net 80); day 3 a
    returned order (+20, −20: net 0, not an order); day 4 40.50 → 3 order days,
    repeat value (80 + 40.50)/2 = 60.25, orders 4. B: one order → 1 day, no repeat value."""
    D = dt.date
    orders = pl.DataFrame(
        {
            "customer_id": ["A", "A", "A", "A", "A", "A", "B"],
            "order_id": ["1", "2", "3", "4", "4", "5", "9"],
            "order_date": [
                D(2024, 1, 1),
                D(2024, 1, 5),
                D(2024, 1, 5),
                D(2024, 2, 1),
                D(2024, 2, 1),
                D(2024, 3, 1),
                D(2024, 2, 1),
            ],
            "amount": [100.0, 50.0, 30.0, 20.0, -20.0, 40.5, 70.0],
        }
    )
    got = score(orders.lazy(), None, config_for_orders("o.csv"), D(2024, 3, 31)).collect()
    a, b = got.row(0, named=True), got.row(1, named=True)
    assert (a["orders"], a["order_days"], a["repeat_order_value"]) == (4, 3, 60.25)
    assert (a["tenure_days"], a["recency_days"]) == (90, 30)
    assert (b["order_days"], b["repeat_order_value"]) == (1, None)
    assert got["p_alive"].null_count() == 2  # filled by the model step, not by score


# -- classify: the probably_left red flag ---------------------------------------------------------
def flagged(p_values: dict[str, float], language: str = "ru", **cfg_extra):
    """Three weekly buyers of 250,000.40 a week for six weeks (1,500,002.40), the last on
    2024-02-05; as_of 2024-05-10 (95 days later). ASLEEP bought in 2020."""
    D = dt.date
    rows = []
    for cid in ("GONE", "FINE"):
        for week in range(6):
            rows.append(
                (cid, f"{cid}{week}", D(2024, 1, 1) + dt.timedelta(days=7 * week), 250_000.4)
            )
    rows += [("ASLEEP", f"S{i}", D(2020, 1, 1) + dt.timedelta(days=7 * i), 10.0) for i in range(6)]
    orders = pl.DataFrame(
        rows, schema=["customer_id", "order_id", "order_date", "amount"], orient="row"
    )
    cfg = config_for_orders("o.csv", language=language, **cfg_extra)
    as_of = D(2024, 5, 10)
    scores = (
        score(orders.lazy(), None, cfg, as_of)
        .collect()
        .with_columns(
            pl.col("customer_id")
            .replace_strict(p_values, default=None, return_dtype=pl.Float64)
            .alias("p_alive")
        )
    )
    segments, summary = classify(scores.lazy(), cfg, orders.lazy(), as_of)
    return {r["customer_id"]: r for r in segments.collect().iter_rows(named=True)}, summary


def test_probably_left_flags_active_customers_below_the_threshold():
    rows, summary = flagged({"GONE": 0.04, "FINE": 0.5, "ASLEEP": 0.01})
    assert rows["GONE"]["activity"] == "active"
    assert rows["GONE"]["red_flags"] == "overdue,probably_left"
    # the overdue flag is raised too, but its sentence would repeat the gap: one sentence
    assert rows["GONE"]["red_flag_reasons"] == (
        "похоже, клиент ушёл: 6 заказов на 1 500 002 ₽, обычно раз в 7 дн., но последний заказ "
        "95 дн. назад; вероятность, что ещё покупает, 4%"
    )
    assert "probably_left" not in rows["FINE"]["red_flags"]
    assert rows["ASLEEP"]["activity"] == "asleep"  # the periods already say so: no flag
    assert "probably_left" not in rows["ASLEEP"]["red_flags"]
    assert summary["red_flags"]["probably_left"] == 1
    assert rows["GONE"]["p_alive"] == 0.04


def test_probably_left_in_english_and_below_one_percent():
    rows, _ = flagged({"GONE": 0.003}, language="en")
    assert rows["GONE"]["red_flag_reasons"] == (
        "probably gone: 6 orders worth 1,500,002, usually one every 7 days, but the last "
        "was 95 days ago; less than 1% chance they still buy"
    )


def test_probably_left_threshold_and_model_off():
    rows, _ = flagged({"GONE": 0.04}, model={"alert_below": 0.03})
    assert "probably_left" not in rows["GONE"]["red_flags"]
    rows, summary = flagged({"GONE": 0.04}, model={"enabled": False})
    assert "probably_left" not in rows["GONE"]["red_flags"]
    assert summary["red_flags"]["probably_left"] == 0


def test_classify_reads_scores_written_before_the_model():
    D = dt.date
    orders = pl.DataFrame(
        {"customer_id": ["A"], "order_id": ["1"], "order_date": [D(2024, 1, 1)], "amount": [10.0]}
    )
    cfg = config_for_orders("o.csv")
    old = (
        score(orders.lazy(), None, cfg, D(2024, 2, 1))
        .collect()
        .drop("order_days", "repeat_order_value", "p_alive", "expected_orders", "expected_revenue")
    )
    segments, _ = classify(old.lazy(), cfg, orders.lazy(), D(2024, 2, 1))
    assert segments.collect()["p_alive"].to_list() == [None]


# -- the CDNOW reference figures ------------------------------------------------------------------
@pytest.fixture(scope="module")
def cdnow(tmp_path_factory) -> Path:
    if not CDNOW.exists():
        pytest.skip("../shared/data absent")
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    with gzip.open(CDNOW, "rb") as src:
        path.write_bytes(src.read())
    return path


def fit_cdnow(path: Path, **extra) -> tuple[pl.DataFrame, dict]:
    cfg = config_for_orders(path, **extra)
    result = ingest(cfg)
    scores = score(result.orders.lazy(), None, cfg, CDNOW_AS_OF).collect()
    return apply_model(scores, cfg)


@pytest.mark.realdata
def test_cdnow_reproduces_the_reference_parameters(cdnow):
    frame, summary = fit_cdnow(cdnow)
    assert summary["customers_fitted"] == 2349
    assert summary["repeat_customers"] == 946
    assert summary["converged"] == {"bgnbd": True, "gamma_gamma": True}
    bg, gg = summary["bgnbd"], summary["gamma_gamma"]
    # lifetimes 0.11.3 with segtool's definitions (issue 22), to 3 significant digits
    assert same_to_3_digits(bg, {"r": 0.2439, "alpha": 30.957, "a": 0.7925, "b": 2.4229})
    assert bg["alpha"] / 7 == pytest.approx(4.4224, abs=5e-4)  # in weeks
    assert same_to_3_digits(gg, {"p": 6.2760, "q": 3.7416, "v": 15.3499})
    for key, want in {"r": 0.2439, "alpha": 30.957, "a": 0.7925, "b": 2.4229}.items():
        assert bg[key] == pytest.approx(want, rel=2e-4)
    for key, want in {"p": 6.2760, "q": 3.7416, "v": 15.3499}.items():
        assert gg[key] == pytest.approx(want, rel=2e-4)


@pytest.mark.realdata
def test_cdnow_with_duplicates_kept_gives_the_papers_gamma_gamma(cdnow):
    _, summary = fit_cdnow(cdnow, ingest={"drop_duplicates": False})
    bg, gg = summary["bgnbd"], summary["gamma_gamma"]
    assert same_to_3_digits(bg, {"r": 0.2439, "alpha": 30.957, "a": 0.7925, "b": 2.4229})
    assert same_to_3_digits(gg, {"p": 6.2496, "q": 3.7442, "v": 15.4435})
    for key, want in {"p": 6.2496, "q": 3.7442, "v": 15.4435}.items():
        assert gg[key] == pytest.approx(want, rel=2e-4)


@pytest.mark.realdata
def test_cdnow_three_customers_by_the_closed_forms(cdnow):
    """(x, t_x, T) read straight from the file here: distinct lines, lines up to as_of,
    summed per customer and day, days with a positive sum. 01760: 30 order days,
    1997-01-07 … 1997-09-28, still buying; 19339: 22 order days in five weeks of
    March–April, then silence (a frequent buyer gone quiet); 00004: 3 order days."""
    raw = (
        pl.read_csv(cdnow, separator=";", infer_schema=False)
        .unique(maintain_order=True)
        .select(
            pl.col("Клиент").alias("c"),
            pl.col("Дата").str.to_date("%d.%m.%Y").alias("d"),
            pl.col("Сумма").str.replace(",", ".").cast(pl.Float64).alias("v"),
        )
        .filter(pl.col("d") <= CDNOW_AS_OF)
        .group_by("c", "d")
        .agg(pl.col("v").sum())
        .filter(pl.col("v") > 0)
        .group_by("c")
        .agg(n=pl.len(), first=pl.col("d").min(), last=pl.col("d").max())
    )
    frame, summary = fit_cdnow(cdnow)
    # the lifetimes reference parameters, not segtool's own
    r, alpha, a, b = 0.2439, 30.957, 0.7925, 2.4229
    got = {row["customer_id"]: row for row in frame.iter_rows(named=True)}
    expected_x = {"01760": 29, "19339": 21, "00004": 2}
    for customer, x_want in expected_x.items():
        row = raw.filter(pl.col("c") == customer).row(0, named=True)
        x = row["n"] - 1
        t_x = (row["last"] - row["first"]).days
        T = (CDNOW_AS_OF - row["first"]).days
        assert x == x_want
        alive = paper_p_alive(r, alpha, a, b, x, t_x, T)
        orders = paper_expected(r, alpha, a, b, x, t_x, T, 90)
        assert got[customer]["p_alive"] == pytest.approx(alive, rel=2e-3, abs=1e-5)
        assert got[customer]["expected_orders"] == pytest.approx(orders, rel=2e-3, abs=1e-4)
    assert got["19339"]["p_alive"] < 0.01 < 0.9 < got["01760"]["p_alive"]


def test_preloading_imports_the_model_modules_in_the_background_and_joins():
    import subprocess
    import sys

    code = (
        "import sys, threading\n"
        "from segtool.preload import MODEL_MODULES, preloading\n"
        "assert 'scipy.optimize' not in sys.modules\n"
        "with preloading({modules}):\n"
        "    pass\n"
        "print('scipy.optimize' in sys.modules, 'segtool.steps.model' in sys.modules,\n"
        "      threading.active_count())\n"
    )
    for modules, expected in (("MODEL_MODULES", "True True 1"), ("()", "False False 1")):
        done = subprocess.run(
            [sys.executable, "-c", code.format(modules=modules)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.strip() == expected


def test_a_module_that_fails_to_import_is_left_to_the_main_thread():
    import sys

    from segtool.preload import preloading

    sys.modules.pop("wave", None)
    with preloading(["segtool.no_such_module", "wave"]):
        pass
    assert "wave" in sys.modules  # the thread went on past the missing module
