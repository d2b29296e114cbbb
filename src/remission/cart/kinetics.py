"""CAR-T cellular kinetics: non-compartmental analysis and the Stein 2019 model.

Sources:

* NCA conventions (Rowland & Tozer, *Clinical Pharmacokinetics*; PKNCA "lin up/log down"; BLQ handling; λz on the last >= 3
  quantifiable points after Tmax; Beal M3 censoring for model fits, Ahn et al. 2008).
* Stein AM et al., *CPT Pharmacometrics Syst Pharmacol* 2019;8:285-295: exponential
  expansion to Tmax, then biexponential contraction, closed form::

      C(t) = Cmax/foldx * exp(rho*t),  rho = ln(foldx)/Tmax                 t <  Tmax
      C(t) = (1-FB)*Cmax*exp(-alpha*(t-Tmax)) + FB*Cmax*exp(-beta*(t-Tmax))  t >= Tmax

  with the population (typical values, log-normal IIV ω²) of its Table 1 (ELIANA + ENSIGN,
  n = 90, transgene copies/µg gDNA). Evaluated in log space throughout.

The per-patient fit is a censored (Tobit / Beal M3) likelihood on the log scale: a quantified
value contributes ``N(log y; log C(t), σ²)``, a below-LoD value ``Φ((log LoD - log C(t))/σ)``.
By default the population distribution of Table 1 is the prior (maximum a posteriori, the
"post-hoc" individual estimate of population PK) and σ is Stein's residual error; with
``prior=False`` it is a plain maximum-likelihood Tobit fit with σ estimated.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from remission.domain.cart import KineticsSeries
from remission.domain.parameters import Rule, resolve, rests_on, rule_set
from remission.errors import ValidationError

__all__ = [
    "KINETICS_RULES",
    "STEIN_PARAMS",
    "KineticsResult",
    "NcaResult",
    "SteinFit",
    "SteinModel",
    "analyze_kinetics",
    "fit_stein",
    "nca",
    "population_band",
    "population_percentiles",
    "sample_stein_population",
    "stein_log_curve",
]

_SRC = ("Stein AM et al., CPT Pharmacometrics Syst Pharmacol 2019;8:285-295, Table 1 (via nlmixr2lib "
        "Stein_2019_Tisagenlecleucel) [V]")
_NCA_SRC = "Rowland & Tozer, Clinical Pharmacokinetics; PKNCA 'lin up/log down' NCA conventions"

#: Stein 2019 Table 1: name -> (typical value, ω² of log-normal IIV)
STEIN_PARAMS: dict[str, tuple[float, float]] = {
    "foldx": (3900.0, 2.4),
    "tmax": (9.3, 0.38),
    "cmax": (24000.0, 0.65),
    "alpha": (0.16, 0.91),
    "fb": (0.0079, 0.80),
    "beta": (0.0032, 0.86),
}
_ORDER = ("cmax", "tmax", "foldx", "alpha", "fb", "beta")

KINETICS_RULES: dict[str, Rule] = rule_set(
    *(Rule(f"stein_{k}", {"typical": v[0], "omega2": v[1]}, "C", _SRC,
           f"Stein 2019 population {k}: typical value and variance of log-normal IIV")
      for k, v in STEIN_PARAMS.items()),
    Rule("stein_sigma_log", 0.56, "C", _SRC, "Stein 2019 residual error, additive on log scale"),
    Rule("auc_end_day", 28.0, "C", f"{_NCA_SRC} (AUC0-28d)", "end of the AUC window (days)"),
    Rule("lambda_z_min_points", 3, "C", _NCA_SRC, "minimum points for the terminal slope"),
    Rule("lambda_z_adj_r2_tolerance", 1e-4, "C", f"{_NCA_SRC} (PKNCA default)",
         "choose the most points among windows within this adjusted-R² of the best"),
)


def stein_log_curve(t: Any, cmax: float, tmax: float, foldx: float, alpha: float, fb: float,
                    beta: float) -> np.ndarray:
    """log C(t) of the Stein 2019 model (closed form, evaluated in log space, no overflow)."""
    t = np.asarray(t, dtype=float)
    lc = math.log(cmax)
    up = lc + math.log(foldx) * (t / tmax - 1.0)
    tau = np.maximum(t - tmax, 0.0)
    fb = min(max(fb, 1e-300), 1.0)
    down = lc + np.logaddexp(math.log1p(-fb) - alpha * tau if fb < 1 else -np.inf,
                             math.log(fb) - beta * tau)
    return np.where(t < tmax, up, down)


# ------------------------------------------------------------------------------------- NCA --

@dataclass(frozen=True)
class NcaResult:
    """Non-compartmental summary of one CAR-T profile (days since infusion)."""

    cmax: float | None
    tmax: float | None
    clast: float | None
    tlast: float | None
    auc_0_28: float | None
    auc_end_day: float | None
    auc_method: str
    lambda_z: float | None
    half_life_days: float | None
    lambda_z_window: tuple[float, float] | None
    lambda_z_points: int
    lambda_z_adj_r2: float | None
    last_detectable_day: float | None
    n_quantified: int
    n_below_lod: int

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["lambda_z_window"] = list(self.lambda_z_window) if self.lambda_z_window else None
        return d


def _auc_segment(t0: float, c0: float, t1: float, c1: float) -> float:
    """Linear-up/log-down area of one interval (PKNCA 'lin up/log down')."""
    dt_ = t1 - t0
    if c1 >= c0 or c0 <= 0 or c1 <= 0:
        return (c0 + c1) / 2.0 * dt_
    return (c0 - c1) / math.log(c0 / c1) * dt_


def _interp(t0: float, c0: float, t1: float, c1: float, t: float) -> float:
    f = (t - t0) / (t1 - t0)
    if c1 < c0 and c0 > 0 and c1 > 0:
        return c0 * (c1 / c0) ** f  # log-linear in the decreasing phase (PKNCA)
    return c0 + (c1 - c0) * f


def _profile_arrays(days: Sequence[float], values: Sequence[float],
                    below_lod: Sequence[bool] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days, values and below-LoD flags as arrays, checked (equal length, finite, increasing)."""
    t = np.asarray(days, dtype=float)
    c = np.asarray(values, dtype=float)
    blq = np.zeros(len(t), bool) if below_lod is None else np.asarray(below_lod, dtype=bool)
    if not (len(t) == len(c) == len(blq)) or len(t) == 0:
        raise ValidationError(f"days, values and below_lod must be non-empty and of equal length, but were "
                              f"{len(t)}, {len(c)}, {len(blq)}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(c)) and np.all(c >= 0)):
        raise ValidationError("values must be finite numbers >= 0 and days finite, but were not")
    if np.any(np.diff(t) <= 0):
        raise ValidationError("days must be strictly increasing, but were not")
    return t, c, blq


def _auc_points(t: np.ndarray, c: np.ndarray, quant: np.ndarray, tmax: float,
                ilast: int) -> list[tuple[float, float]]:
    """Points entering the AUC: quantified values, below-LoD as 0 before Tmax, none after Tlast."""
    pts: list[tuple[float, float]] = []
    for i in range(len(t)):
        if t[i] < 0 or i > ilast:
            continue
        if quant[i]:
            pts.append((float(t[i]), float(c[i])))
        elif t[i] < tmax:
            pts.append((float(t[i]), 0.0))
    return pts


def _auc_to_end(t: np.ndarray, c: np.ndarray, quant: np.ndarray, tmax: float, ilast: int,
                end: float, cmax: float) -> tuple[float, float, str]:
    """Linear-up/log-down AUC from 0 to ``end`` (or to the last point): (auc, stop day, method)."""
    tlast = float(t[ilast])
    pts = _auc_points(t, c, quant, tmax, ilast)
    notes = []
    if not pts or pts[0][0] > 0:
        pts.insert(0, (0.0, 0.0))
        notes.append("C(0)=0 assumed")
    auc = 0.0
    stop = pts[-1][0]
    for (t0, c0), (t1, c1) in itertools.pairwise(pts):
        if t0 >= end:
            break
        if t1 > end:
            c_end = _interp(t0, c0, t1, c1, end)
            auc += _auc_segment(t0, c0, end, c_end)
            stop = end
            notes.append(f"C({end:g}) interpolated")
            break
        auc += _auc_segment(t0, c0, t1, c1)
        stop = t1
    if not math.isfinite(auc):
        raise ValidationError(f"values must be small enough for their AUC to be a finite number, but "
                              f"the largest was {cmax:.3g} (the AUC overflows floating point)")
    if stop >= end:
        method = "AUC0-28, linear-up/log-down"
    elif tlast < end and ilast < len(t) - 1:
        method = f"AUC0-Tlast (day {tlast:g}; below LoD afterwards), linear-up/log-down"
    else:
        method = f"AUC0-{stop:g} (no sample to day {end:g}), linear-up/log-down"
    if notes:
        method += "; " + "; ".join(notes)
    return auc, stop, method


def _lambda_z(t: np.ndarray, c: np.ndarray, qi: np.ndarray, tmax: float, kmin: int,
              tol: float) -> tuple[float, int, float, float, float] | None:
    """Terminal slope window (adj_r2, n, slope, t0, t1) with the most points near the best adj. R²."""
    after = [i for i in qi if t[i] > tmax]
    best: tuple[float, int, float, float, float] | None = None  # adj_r2, n, slope, t0, t1
    cands = []
    for k in range(kmin, len(after) + 1):
        idx = after[-k:]
        x, y = t[idx], np.log(c[idx])
        slope, icpt = np.polyfit(x, y, 1)
        resid = y - (slope * x + icpt)
        ss_tot = float(np.sum((y - y.mean()) ** 2))
        r2 = 1.0 - float(np.sum(resid ** 2)) / ss_tot if ss_tot > 0 else 0.0
        adj = 1.0 - (1.0 - r2) * (k - 1) / (k - 2)
        if slope < 0:
            cands.append((adj, k, float(slope), float(x[0]), float(x[-1])))
    if cands:
        top = max(a for a, *_ in cands)
        ok = [cand for cand in cands if cand[0] >= top - tol]
        best = max(ok, key=lambda cand: cand[1])
    return best


def nca(days: Sequence[float], values: Sequence[float], below_lod: Sequence[bool] | None = None,
        *, rules: Mapping[str, Rule] | None = None) -> NcaResult:
    """NCA of a CAR-T profile (PKNCA "lin up/log down" conventions; Rowland & Tozer).

    Cmax/Tmax: largest quantified value and its first day. AUC0-28 by linear-up/log-down with
    C(0) = 0 assumed when there is no day-0 sample; below-LoD values count as 0 before Tmax,
    are dropped between Tmax and Tlast and excluded after Tlast. When the profile stops
    before day 28 (or becomes undetectable), the AUC runs to the last point and ``auc_method``
    says so. λz: log-linear least squares over the last >= 3 quantified points after Tmax,
    choosing the window with the best adjusted R² (most points within a tolerance).
    """
    r = KINETICS_RULES if rules is None else rules
    t, c, blq = _profile_arrays(days, values, below_lod)
    quant = ~blq & (c > 0)
    nq, nb = int(quant.sum()), int((~quant).sum())
    end = float(r["auc_end_day"].value)
    if nq == 0:
        return NcaResult(None, None, None, None, 0.0, None, "no quantified value", None, None, None, 0,
                         None, None, 0, nb)
    qi = np.flatnonzero(quant)
    imax = qi[np.argmax(c[qi])]
    cmax, tmax = float(c[imax]), float(t[imax])
    ilast = int(qi[-1])
    clast, tlast = float(c[ilast]), float(t[ilast])
    auc, stop, method = _auc_to_end(t, c, quant, tmax, ilast, end, cmax)
    best = _lambda_z(t, c, qi, tmax, int(r["lambda_z_min_points"].value),
                     float(r["lambda_z_adj_r2_tolerance"].value))
    lam = -best[2] if best else None
    return NcaResult(
        cmax=cmax, tmax=tmax, clast=clast, tlast=tlast, auc_0_28=auc, auc_end_day=stop,
        auc_method=method, lambda_z=lam, half_life_days=math.log(2) / lam if lam else None,
        lambda_z_window=(best[3], best[4]) if best else None, lambda_z_points=best[1] if best else 0,
        lambda_z_adj_r2=best[0] if best else None, last_detectable_day=tlast,
        n_quantified=nq, n_below_lod=nb,
    )


# ------------------------------------------------------------------------------ Stein fit --

def _pop(rules: Mapping[str, Rule]) -> dict[str, tuple[float, float]]:
    out = {}
    for k in _ORDER:
        v = rules[f"stein_{k}"].value
        out[k] = (float(v["typical"]), float(v["omega2"]))
    return out


def sample_stein_population(n: int, rng: np.random.Generator,
                            rules: Mapping[str, Rule] | None = None) -> dict[str, np.ndarray]:
    """Draw ``n`` individual parameter sets from the Stein 2019 population (log-normal IIV).

    ``fb`` is capped below 1 and ``foldx`` kept > 1 (the model needs expansion).
    """
    pop = _pop(KINETICS_RULES if rules is None else rules)
    out = {k: pop[k][0] * np.exp(rng.normal(0.0, math.sqrt(pop[k][1]), n)) for k in _ORDER}
    out["fb"] = np.minimum(out["fb"], 0.5)
    out["foldx"] = np.maximum(out["foldx"], 1.5)
    return out


@dataclass(frozen=True)
class SteinFit:
    """Individual Stein 2019 parameters fitted to one profile."""

    cmax: float
    tmax: float
    foldx: float
    alpha: float
    fb: float
    beta: float
    sigma_log: float
    neg_log_posterior: float
    method: str
    converged: bool
    n_obs: int
    n_censored: int

    @property
    def params(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in _ORDER}

    def curve(self, days: Any) -> np.ndarray:
        """Model C(t) at ``days``."""
        return np.exp(stein_log_curve(days, **self.params))

    def auc_0_28(self) -> float:
        grid = np.linspace(0.0, 28.0, 2801)
        return float(np.trapezoid(self.curve(grid), grid))

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["expansion_doubling_days"] = self.tmax * math.log(2) / math.log(self.foldx) if self.foldx > 1 else None
        d["fast_half_life_days"] = math.log(2) / self.alpha
        d["slow_half_life_days"] = math.log(2) / self.beta
        d["auc_0_28_model"] = self.auc_0_28()
        return d


#: log of the largest float: the fit's Cmax search box (up to log(max value) + 5) must stay below
_LOG_FLOAT_MAX = math.log(sys.float_info.max)


def fit_stein(days: Sequence[float], values: Sequence[float], below_lod: Sequence[bool] | None = None,
              *, prior: bool = True, cmax_prior: bool = True, sigma_log: float | None = None,
              rules: Mapping[str, Rule] | None = None) -> SteinFit:
    """Fit the Stein 2019 model to one patient's profile with below-LoD values censored.

    Parameters
    ----------
    days, values, below_lod
        Days since infusion; values (for below-LoD points: the limit of detection).
    prior
        Use the Stein 2019 population distribution as prior (MAP, "post-hoc" estimate).
        ``False``: maximum-likelihood Tobit fit (σ estimated unless ``sigma_log`` is given).
    cmax_prior
        Include the prior on Cmax (only meaningful for transgene copies/µg; switch off for
        CAR+ cells/µL, whose scale differs).
    sigma_log
        Residual SD on the log scale; default Stein's 0.56 when ``prior`` is true.

    See Also
    --------
    SteinModel : fit-style wrapper; nca : model-free summary.
    """
    from scipy.special import log_ndtr

    r = KINETICS_RULES if rules is None else rules
    pop = _pop(r)
    t, y, cens = _stein_data(days, values, below_lod)
    nq = int((~cens).sum())
    ly = np.log(y)
    sig_fixed = sigma_log if sigma_log is not None else (float(r["stein_sigma_log"].value) if prior else None)
    mu = np.array([math.log(pop[k][0]) for k in _ORDER])
    w = np.array([1.0 / pop[k][1] for k in _ORDER])
    if not cmax_prior:
        w[0] = 0.0

    def unpack(p: np.ndarray) -> tuple[dict[str, float], float]:
        vals = {k: math.exp(p[i]) for i, k in enumerate(_ORDER)}
        sig = sig_fixed if sig_fixed is not None else math.exp(p[6])
        return vals, sig

    def nlp(p: np.ndarray) -> float:
        vals, sig = unpack(p)
        f = stein_log_curve(t, **vals)
        z = (ly - f) / sig
        ll = -0.5 * np.sum(z[~cens] ** 2) - nq * math.log(sig) + np.sum(log_ndtr(z[cens]))
        pen = 0.5 * float(np.sum(w * (p[:6] - mu) ** 2)) if prior else 0.0
        v = -float(ll) + pen
        return v if math.isfinite(v) else 1e300

    bounds, starts = _stein_bounds_and_starts(t, y, cens, pop, cmax_prior=cmax_prior,
                                              fit_sigma=sig_fixed is None)
    best = _multistart_minimise(nlp, bounds, starts)
    vals, sig = unpack(best.x)
    method = ("MAP with Stein 2019 population prior" if prior else "maximum likelihood") + \
        ", censored (Tobit / Beal M3) log-normal likelihood"
    return SteinFit(**vals, sigma_log=sig, neg_log_posterior=float(best.fun), method=method,
                    converged=bool(best.success), n_obs=nq,
                    n_censored=int(cens.sum()))


def _stein_data(days: Sequence[float], values: Sequence[float],
                below_lod: Sequence[bool] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days >= 0, values and censoring flags for a Stein fit, checked (>= 3 quantified, > 0)."""
    t = np.asarray(days, dtype=float)
    y = np.asarray(values, dtype=float)
    cens = np.zeros(len(t), bool) if below_lod is None else np.asarray(below_lod, dtype=bool)
    if not (len(t) == len(y) == len(cens)):
        raise ValidationError("days, values and below_lod must be of equal length, but were not")
    keep = t >= 0
    t, y, cens = t[keep], y[keep], cens[keep]
    if np.any(y <= 0) or not np.all(np.isfinite(y)):
        raise ValidationError("values must be finite and > 0 (below-LoD rows carry the LoD), but were not")
    nq = int((~cens).sum())
    if nq < 3:
        raise ValidationError(f"quantified points must be >= 3 for a Stein fit, but was {nq}")
    return t, y, cens


def _stein_bounds_and_starts(t: np.ndarray, y: np.ndarray, cens: np.ndarray,
                             pop: Mapping[str, tuple[float, float]], *, cmax_prior: bool,
                             fit_sigma: bool) -> tuple[list[tuple[float, float]], list[list[float]]]:
    """Log-parameter bounds and the four starting points of the Stein fit (σ last if fitted)."""
    q = ~cens
    i_max = np.flatnonzero(q)[np.argmax(y[q])]
    tmax0 = max(float(t[i_max]), 0.5)
    bounds = [(math.log(y[q].min()) - 2, math.log(y[q].max()) + 5), (math.log(0.5), math.log(60.0)),
              (math.log(1.5), math.log(1e9)), (math.log(1e-3), math.log(5.0)), (math.log(1e-6), math.log(0.5)),
              (math.log(1e-6), math.log(0.5))]
    starts = [
        [math.log(y[i_max]), math.log(tmax0), math.log(pop["foldx"][0]), math.log(pop["alpha"][0]),
         math.log(pop["fb"][0]), math.log(pop["beta"][0])],
        [math.log(pop["cmax"][0]) if cmax_prior else math.log(y[i_max]), math.log(pop["tmax"][0]),
         math.log(pop["foldx"][0]), math.log(pop["alpha"][0]), math.log(pop["fb"][0]), math.log(pop["beta"][0])],
        [math.log(y[i_max]) + 0.5, math.log(tmax0 * 1.3), math.log(pop["foldx"][0]) + 1, math.log(0.3),
         math.log(0.02), math.log(0.01)],
        [math.log(y[i_max]), math.log(max(tmax0 * 0.7, 0.5)), math.log(pop["foldx"][0]) - 1, math.log(0.08),
         math.log(0.005), math.log(0.002)],
    ]
    if fit_sigma:
        bounds.append((math.log(0.01), math.log(5.0)))
        starts = [[*s, math.log(0.5)] for s in starts]
    if bounds[0][1] >= _LOG_FLOAT_MAX:
        raise ValidationError(f"values must be below {math.exp(_LOG_FLOAT_MAX - 5):.3g} for a Stein "
                              f"fit (floating-point range), but the largest was {float(y.max()):.3g}")
    return bounds, starts


def _multistart_minimise(nlp: Callable[[np.ndarray], float], bounds: list[tuple[float, float]],
                         starts: list[list[float]]) -> Any:
    """L-BFGS-B from each start, the best polished by Nelder-Mead (the model has a kink at Tmax)."""
    from scipy.optimize import minimize

    best = None
    for s in starts:
        x0 = np.clip(np.array(s), [b[0] for b in bounds], [b[1] for b in bounds])
        res = minimize(nlp, x0, method="L-BFGS-B", bounds=bounds)
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    # the model has a kink at Tmax: polish the best start with a derivative-free search
    polish = minimize(nlp, best.x, method="Nelder-Mead", bounds=bounds,
                      options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 3000})
    if polish.fun <= best.fun:
        best = minimize(nlp, polish.x, method="L-BFGS-B", bounds=bounds)
        if best.fun > polish.fun:
            best = polish
    return best


# -------------------------------------------------------------------------- population --

def population_percentiles(params: Mapping[str, float], rules: Mapping[str, Rule] | None = None,
                           names: Sequence[str] = _ORDER) -> dict[str, float]:
    """Percentile (0-100) of each individual parameter in the Stein 2019 log-normal population."""
    from scipy.special import (
        ndtr,  # the standard normal CDF (scipy.stats.norm.cdf), without scipy.stats
    )

    pop = _pop(KINETICS_RULES if rules is None else rules)
    out = {}
    for k in names:
        if k in params and params[k] is not None and params[k] > 0:
            typ, om2 = pop[k]
            out[k] = float(100.0 * ndtr((math.log(params[k]) - math.log(typ)) / math.sqrt(om2)))
    return out


def population_band(days: Sequence[float], *, n: int = 2000, seed: int = 20190501,
                    quantiles: Sequence[float] = (0.05, 0.5, 0.95),
                    rules: Mapping[str, Rule] | None = None) -> dict[str, list[float]]:
    """Quantiles of C(t) over virtual patients drawn from the Stein 2019 population (seeded)."""
    rng = np.random.default_rng(seed)
    p = sample_stein_population(n, rng, rules)
    d = np.asarray(days, dtype=float)
    lc = np.empty((n, len(d)))
    for i in range(n):
        lc[i] = stein_log_curve(d, *(float(p[k][i]) for k in _ORDER))
    qs = np.quantile(lc, quantiles, axis=0)
    return {"days": d.tolist(), **{f"q{round(q * 100):02d}": np.exp(row).tolist()
                                   for q, row in zip(quantiles, qs, strict=True)}}


def _auc_percentile(auc: float, rules: Mapping[str, Rule], n: int = 4000, seed: int = 20190502) -> float:
    rng = np.random.default_rng(seed)
    p = sample_stein_population(n, rng, rules)
    grid = np.linspace(0.0, 28.0, 281)
    aucs = np.empty(n)
    for i in range(n):
        aucs[i] = np.trapezoid(np.exp(stein_log_curve(grid, *(float(p[k][i]) for k in _ORDER))), grid)
    return float(100.0 * np.mean(aucs <= auc))


# ---------------------------------------------------------------------------- together --

@dataclass(frozen=True)
class KineticsResult:
    unit: str
    nca: NcaResult
    fit: SteinFit | None
    fit_error: str | None
    percentiles: dict[str, float]
    rules: Mapping[str, Rule] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def rests_on(self) -> list[dict[str, Any]]:
        return rests_on(self.rules.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "nca": self.nca.as_dict(),
            "fit": self.fit.as_dict() if self.fit else None,
            "fit_error": self.fit_error,
            "population_percentiles": self.percentiles,
            "persistence_day": self.nca.last_detectable_day,
            "notes": list(self.notes),
        }


def analyze_kinetics(series: KineticsSeries, *, overrides: Mapping[str, Any] | None = None,
                     fit: bool = True) -> KineticsResult:
    """NCA + Stein fit + population percentiles for one profile."""
    r = resolve(KINETICS_RULES, overrides)
    res = nca(series.days, series.values, series.below_lod, rules=r)
    notes: list[str] = []
    sf, err = None, None
    copies = series.unit == "copies_per_ug"
    if not copies:
        notes.append("Stein 2019 population is in transgene copies/µg: Cmax/AUC percentiles not given "
                     "for cells/µL; the fit uses no Cmax prior")
    if fit:
        try:
            sf = fit_stein(series.days, series.values, series.below_lod, cmax_prior=copies, rules=r)
        except ValidationError as exc:
            err = str(exc)
    pct: dict[str, float] = {}
    if sf is not None:
        names = _ORDER if copies else tuple(k for k in _ORDER if k != "cmax")
        pct = population_percentiles(sf.params, r, names)
        if copies:
            pct["auc_0_28"] = _auc_percentile(sf.auc_0_28(), r)
    return KineticsResult(series.unit, res, sf, err, pct, r, tuple(notes))


class SteinModel:
    """Fit-style wrapper around :func:`fit_stein`.

    >>> m = SteinModel().fit([1, 4, 7, 10, 14, 21, 28], [40, 900, 9000, 20000, 6000, 2000, 900])
    >>> 7 < m.tmax_ < 14
    True

    See Also
    --------
    fit_stein : the pure function.
    """

    def __init__(self, *, prior: bool = True, cmax_prior: bool = True, sigma_log: float | None = None) -> None:
        self.prior, self.cmax_prior, self.sigma_log = prior, cmax_prior, sigma_log

    def fit(self, days: Sequence[float], values: Sequence[float],
            below_lod: Sequence[bool] | None = None) -> SteinModel:
        self.fit_ = fit_stein(days, values, below_lod, prior=self.prior, cmax_prior=self.cmax_prior,
                              sigma_log=self.sigma_log)
        self.cmax_, self.tmax_ = self.fit_.cmax, self.fit_.tmax
        return self

    def predict(self, days: Any) -> np.ndarray:
        return self.fit_.curve(days)
