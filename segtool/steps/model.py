"""Model: is the customer still buying? BG/NBD and Gamma-Gamma, fitted on every run.

The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way") says
each customer orders at their own steady rate while active and may drop out, for good,
right after any order. Fitted on everyone's (frequency, recency, T), it gives per customer
the probability of still being active (``p_alive``) and the orders to expect over the
next ``model.horizon_days`` (``expected_orders``). The Gamma-Gamma model (Fader, Hardie &
Lee 2005, "RFM and CLV") shrinks a customer's mean repeat-order value towards the
population's; ``expected_revenue`` = expected orders × that value.

Definitions (docs/definitions.md), time in days, from the scores frame:

- a model order is a calendar day with orders of net > 0 (``order_days``);
- ``frequency`` x = order_days − 1 (repeat order days);
- model recency t_x = last − first order date = tenure_days − recency_days;
- T = as_of − first order date = tenure_days;
- m = ``repeat_order_value``, the mean net of the repeat order days (the first excluded).

Both likelihoods are maximised with scipy's L-BFGS-B over log-parameters, with analytic
gradients; the terms that depend on x alone are computed once per distinct x, and
customers with the same (x, t_x, T) are counted once with a weight, so a fit over 250,000
customers takes a fraction of a second. Nothing here loops over customers.

A fit that fails, or data with fewer than :data:`MIN_REPEAT_CUSTOMERS` repeat customers,
leaves the model columns empty and says why in the summary's ``warning``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from segtool.config import Config

MIN_REPEAT_CUSTOMERS = 50  # fewer repeat customers: no fit, the columns stay empty
MODEL_COLUMNS = ("p_alive", "expected_orders", "expected_revenue")

_STARTS_BGNBD = ((1.0, 1.0, 1.0, 1.0), (0.3, 0.1, 0.7, 2.5), (2.0, 0.5, 3.0, 8.0))
_STARTS_GG = ((1.0, 1.0, 1.0), (6.0, 4.0, 0.3), (2.0, 10.0, 0.05))


@dataclass(frozen=True)
class BgNbd:
    """BG/NBD parameters; ``alpha`` in days."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    converged: bool


@dataclass(frozen=True)
class GammaGamma:
    """Gamma-Gamma parameters in the input currency (``v`` scales with the money)."""

    p: float
    q: float
    v: float
    log_likelihood: float
    converged: bool

    @property
    def mean_value(self) -> float:
        """The population mean order value p·v / (q − 1) (infinite when q ≤ 1)."""
        return self.p * self.v / (self.q - 1) if self.q > 1 else float("inf")


class FitError(Exception):
    """The optimiser found no usable maximum (reason in the message)."""


# -- BG/NBD ----------------------------------------------------------------------------------
def _bgnbd_terms(
    log_params: np.ndarray,
    x_unique: np.ndarray,
    x_index: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    weight: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Log-likelihood (weighted sum) and its gradient in the log-parameters."""
    from scipy.special import betaln, digamma, gammaln

    r, alpha, a, b = np.exp(log_params)
    # terms of x alone, once per distinct x
    g_x = gammaln(r + x_unique) - gammaln(r) + betaln(a, b + x_unique) - betaln(a, b)
    dr_x = digamma(r + x_unique) - digamma(r)
    da_x = digamma(a + b) - digamma(a + b + x_unique)
    db_x = digamma(b + x_unique) - digamma(a + b + x_unique) - digamma(b) + digamma(a + b)
    repeat = x > 0
    log_t = np.log(alpha + T)
    log_tx = np.log(alpha + t_x)
    a3 = -(r + x) * log_t
    # A4 exists for x > 0 only; b + x − 1 ≥ b > 0 there
    b_x1 = np.where(repeat, b + x - 1.0, 1.0)
    a4 = np.where(repeat, np.log(a) - np.log(b_x1) - (r + x) * log_tx, -np.inf)
    top = np.maximum(a3, a4)
    e3 = np.exp(a3 - top)
    e4 = np.exp(a4 - top)
    total = e3 + e4
    log_mix = top + np.log(total)
    w3 = e3 / total
    w4 = e4 / total
    ll = g_x[x_index] + r * np.log(alpha) + log_mix
    grad_r = dr_x[x_index] + np.log(alpha) - w3 * log_t - w4 * log_tx
    grad_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + t_x)
    grad_a = da_x[x_index] + w4 / a
    grad_b = db_x[x_index] - w4 / b_x1
    # weighted sums as (w · v).sum(), not np.dot: BLAS threads on a busy 2-core machine
    # made each dot product 10× slower than the plain loop
    grad = np.array(
        [
            (weight * grad_r).sum() * r,
            (weight * grad_alpha).sum() * alpha,
            (weight * grad_a).sum() * a,
            (weight * grad_b).sum() * b,
        ]
    )
    return float((weight * ll).sum()), grad


Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


def _maximise(
    objective: Objective,
    starts: tuple[tuple[float, ...], ...],
    scale: np.ndarray,
) -> tuple[np.ndarray, float, bool]:
    """Maximise ``objective`` (log-likelihood, gradient) from several starts (in log space,
    times ``scale``); the best finite result, and whether the optimiser reported success."""
    from scipy.optimize import minimize

    def negative(theta: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            value, grad = objective(theta)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return 1e300, np.zeros_like(theta)
        return -value, -grad

    best: tuple[np.ndarray, float, bool] | None = None
    for start in starts:  # the next start only while none has converged
        theta0 = np.log(np.asarray(start) * scale)
        result = minimize(
            negative,
            theta0,
            jac=True,
            method="L-BFGS-B",
            bounds=[(-25.0, 25.0)] * len(theta0),
            options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-7},
        )
        value = -float(result.fun)
        if not np.isfinite(value) or value <= -1e299:
            continue
        # Converged: the optimiser stopped at a zero gradient (L-BFGS-B may report a failed
        # line search there, at the limit of float precision), and no parameter ran off
        # towards 0 or infinity (beyond e^±15), where the likelihood has no maximum.
        flat = float(np.max(np.abs(result.jac))) <= 1e-6 * max(1.0, abs(value))
        inside = bool(np.all(np.abs(result.x) < 15.0))
        converged = (bool(result.success) or flat) and inside
        if best is None or value > best[1]:
            best = (np.asarray(result.x), value, converged)
        if best[2]:
            break
    if best is None:
        raise FitError("the likelihood is not finite anywhere the optimiser looked")
    return best


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters (``alpha`` in the unit of ``t_x`` and ``T``).

    Args:
        x: repeat orders per customer (frequency, ≥ 0).
        t_x: time from the first to the last order (0 when x = 0).
        T: time from the first order to the end of the observation.
    """
    x = np.asarray(x, dtype=np.float64)
    t_x = np.asarray(t_x, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    # identical customers counted once, with a weight (sorted: the sums, hence the fit,
    # come out the same on every run)
    table = (
        pl.DataFrame({"x": x, "t_x": t_x, "T": T})
        .group_by("x", "t_x", "T")
        .len()
        .sort("x", "t_x", "T")
    )
    xu, txu, tu = (table[c].to_numpy() for c in ("x", "t_x", "T"))
    w = table["len"].cast(pl.Float64).to_numpy()
    x_unique, x_index = np.unique(xu, return_inverse=True)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return _bgnbd_terms(theta, x_unique, x_index, xu, txu, tu, w)

    scale = np.array([1.0, max(float(np.mean(T)), 1.0) / 4.0, 1.0, 1.0])
    theta, value, converged = _maximise(objective, _STARTS_BGNBD, scale)
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    return BgNbd(r=r, alpha=alpha, a=a, b=b, log_likelihood=value, converged=converged)


def p_alive(model: BgNbd, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(still active | x, t_x, T) = 1 / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_odds = (
            np.log(a)
            - np.log(np.maximum(b + x - 1.0, 1e-300))
            + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
        alive = 1.0 / (1.0 + np.exp(log_odds))
    return np.where(x > 0, alive, 1.0)


def expected_orders(
    model: BgNbd, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Orders expected in (T, T + t] given x, t_x, T (the paper's equation 10).

    The hypergeometric term is taken in Euler's form,
    (1−z)^(r+x) ₂F₁(r+x, b+x; a+b+x−1; z) = (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; a+b+x−1; z)
    with z = t/(α+T+t), whose parameters stay small for frequent buyers.
    """
    from scipy.special import hyp2f1

    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    if abs(a - 1.0) < 1e-9:  # the formula's 0/0 point; the limit is continuous in a
        a = 1.0 + 1e-9
    z = t / (alpha + T + t)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        tail = np.exp((a - 1.0) * np.log1p(-z)) * hyp2f1(
            a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z
        )
        unconditional = (a + b + x - 1.0) / (a - 1.0) * (1.0 - tail)
    expected: np.ndarray = unconditional * p_alive(model, x, t_x, T)
    return expected


# -- Gamma-Gamma -----------------------------------------------------------------------------
def _gg_terms(
    log_params: np.ndarray, x_unique: np.ndarray, x_index: np.ndarray, x: np.ndarray, m: np.ndarray
) -> tuple[float, np.ndarray]:
    from scipy.special import digamma, gammaln

    p, q, v = np.exp(log_params)
    px_u = p * x_unique
    g_x = gammaln(px_u + q) - gammaln(px_u) + px_u * np.log(x_unique)
    dp_x = x_unique * (digamma(px_u + q) - digamma(px_u) + np.log(x_unique))
    dq_x = digamma(px_u + q)
    px = p * x
    log_vmx = np.log(v + m * x)
    log_m = np.log(m)
    ll = g_x[x_index] - gammaln(q) + q * np.log(v) + (px - 1.0) * log_m - (px + q) * log_vmx
    grad_p = dp_x[x_index] + x * (log_m - log_vmx)
    grad_q = dq_x[x_index] - digamma(q) + np.log(v) - log_vmx
    grad_v = q / v - (px + q) / (v + m * x)
    grad = np.array([grad_p.sum() * p, grad_q.sum() * q, grad_v.sum() * v])
    return float(ll.sum()), grad


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma parameters from repeat customers' (x ≥ 1, m > 0)."""
    x = np.asarray(x, dtype=np.float64)
    m = np.asarray(m, dtype=np.float64)
    x_unique, x_index = np.unique(x, return_inverse=True)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return _gg_terms(theta, x_unique, x_index, x, m)

    scale = np.array([1.0, 1.0, max(float(np.mean(m)), 1e-9)])
    theta, value, converged = _maximise(objective, _STARTS_GG, scale)
    p, q, v = (float(val) for val in np.exp(theta))
    return GammaGamma(p=p, q=q, v=v, log_likelihood=value, converged=converged)


def expected_order_value(model: GammaGamma, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """E[order value | x, m] = p(v + x·m) / (p·x + q − 1); the population mean for x = 0."""
    p, q, v = model.p, model.q, model.v
    m = np.where(x > 0, np.nan_to_num(m, nan=0.0), 0.0)
    value: np.ndarray = p * (v + x * m) / (p * x + q - 1.0)
    return value


# -- the step --------------------------------------------------------------------------------
def _rounded(value: float) -> float:
    return float(f"{value:.6g}")


def _empty(scores: pl.DataFrame) -> pl.DataFrame:
    return scores.with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in MODEL_COLUMNS)


def apply_model(scores: pl.DataFrame, cfg: Config) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Fill ``p_alive``, ``expected_orders`` and ``expected_revenue`` for the customers with
    orders, and the manifest's ``model`` block. Never raises for data reasons: a fit that
    fails or too few repeat customers leave the columns empty, with ``warning`` set."""
    settings = cfg.model
    summary: dict[str, Any] = {"enabled": settings.enabled, "horizon_days": settings.horizon_days}
    if not settings.enabled:
        return _empty(scores), summary
    buyers = (pl.col("order_days").fill_null(0) > 0) & ~pl.col("is_lead").fill_null(False)
    data = scores.select(
        buyers.alias("_fit"),
        (pl.col("order_days") - 1).cast(pl.Float64).alias("x"),
        (pl.col("tenure_days") - pl.col("recency_days")).cast(pl.Float64).alias("t_x"),
        pl.col("tenure_days").cast(pl.Float64).alias("T"),
        pl.col("repeat_order_value").cast(pl.Float64).alias("m"),
    )
    fitted = data.filter(pl.col("_fit"))
    x = fitted["x"].to_numpy()
    t_x = fitted["t_x"].to_numpy()
    T = fitted["T"].to_numpy()
    m = fitted["m"].to_numpy()
    repeat = x > 0
    summary["customers_fitted"] = int(len(x))
    summary["repeat_customers"] = int(repeat.sum())
    if repeat.sum() < MIN_REPEAT_CUSTOMERS:
        summary["warning"] = (
            f"model: not fitted, repeat customers: {int(repeat.sum())} (it needs at least "
            f"{MIN_REPEAT_CUSTOMERS}); p_alive, expected_orders and expected_revenue left empty"
        )
        return _empty(scores), summary
    try:
        bgnbd = fit_bgnbd(x, t_x, T)
    except FitError as exc:
        summary["converged"] = {"bgnbd": False}
        summary["warning"] = f"model: the BG/NBD fit failed ({exc}); model columns left empty"
        return _empty(scores), summary
    summary["bgnbd"] = {
        "r": _rounded(bgnbd.r),
        "alpha": _rounded(bgnbd.alpha),
        "a": _rounded(bgnbd.a),
        "b": _rounded(bgnbd.b),
    }
    summary["converged"] = {"bgnbd": bgnbd.converged}
    summary["log_likelihood"] = {"bgnbd": round(bgnbd.log_likelihood, 4)}
    alive = p_alive(bgnbd, x, t_x, T)
    orders = expected_orders(bgnbd, float(settings.horizon_days), x, t_x, T)
    warnings: list[str] = []
    if not (np.all(np.isfinite(alive)) and np.all(np.isfinite(orders))):
        summary["converged"]["bgnbd"] = False
    if not summary["converged"]["bgnbd"]:
        summary["warning"] = (
            "model: the BG/NBD fit did not converge; p_alive, "
            "expected_orders and expected_revenue left empty"
        )
        return _empty(scores), summary

    revenue: np.ndarray | None = None
    valid_m = repeat & np.isfinite(m) & (m > 0)
    summary["gamma_gamma_customers"] = int(valid_m.sum())
    if valid_m.sum() < MIN_REPEAT_CUSTOMERS:
        warnings.append(
            "model: order values not fitted, repeat customers with a positive repeat-order "
            f"value: {int(valid_m.sum())} (it needs at least {MIN_REPEAT_CUSTOMERS}); "
            "expected_revenue left empty"
        )
    else:
        try:
            gg = fit_gamma_gamma(x[valid_m], m[valid_m])
        except FitError as exc:
            warnings.append(
                f"model: the Gamma-Gamma fit failed ({exc}); expected_revenue left empty"
            )
        else:
            summary["gamma_gamma"] = {"p": _rounded(gg.p), "q": _rounded(gg.q), "v": _rounded(gg.v)}
            summary["converged"]["gamma_gamma"] = gg.converged
            summary["log_likelihood"]["gamma_gamma"] = round(gg.log_likelihood, 4)
            if not gg.converged or gg.q <= 1:
                why = (
                    "did not converge"
                    if not gg.converged
                    else (f"gives q = {gg.q:.3g} ≤ 1, an infinite mean order value")
                )
                warnings.append(f"model: the Gamma-Gamma fit {why}; expected_revenue left empty")
            else:
                summary["mean_order_value"] = round(gg.mean_value, 2)
                # a repeat customer whose repeat days net ≤ 0 gets the population mean
                value = expected_order_value(gg, np.where(valid_m, x, 0.0), m)
                revenue = orders * value
    if warnings:
        summary["warning"] = "; ".join(warnings)
    columns = {
        "p_alive": pl.Series(np.round(alive, 6)),
        "expected_orders": pl.Series(np.round(orders, 4)),
        "expected_revenue": pl.Series(
            np.round(revenue, 2) if revenue is not None else np.full(len(x), np.nan)
        ).fill_nan(None),
    }
    model_frame = pl.DataFrame(columns)
    index = data.with_row_index("_row").filter(pl.col("_fit"))["_row"]
    model_frame = model_frame.with_columns(index.alias("_row"))
    return (
        scores.drop([c for c in MODEL_COLUMNS if c in scores.columns])
        .with_row_index("_row")
        .join(model_frame, on="_row", how="left", maintain_order="left")
        .drop("_row")
    ), summary
