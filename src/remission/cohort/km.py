"""Kaplan–Meier estimator, Greenwood variance, confidence bands, median, and log-rank tests.

Numbers match R ``survival`` (Therneau) ``survfit``/``quantile.survfit``/``survdiff`` to
floating-point accuracy (checked in ``tests/cohort`` against stored R output).

References
----------
Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations. JASA 53:457–481.
Greenwood M (1926). The natural duration of cancer. Reports on Public Health and Medical
Subjects 33:1–26.
Kalbfleisch JD, Prentice RL (1980). The Statistical Analysis of Failure Time Data (log-log band).
Brookmeyer R, Crowley J (1982). A confidence interval for the median survival time.
Biometrics 38:29–41 (median interval from the pointwise band, as R computes it).
Mantel N (1966). Cancer Chemother Rep 50:163–170; Peto R, Peto J (1972). JRSS A 135:185–207.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from remission.cohort._data import FloatArray, IntArray, as_labels, as_status, as_times
from remission.errors import RemissionWarning, ValidationError

__all__ = [
    "KaplanMeier",
    "KaplanMeierResult",
    "LogRankResult",
    "kaplan_meier",
    "kaplan_meier_groups",
    "logrank_test",
]

ConfType = Literal["log", "log-log", "plain"]

#: R's tolerance for "the curve equals the probability" in the median (sqrt of double eps).
QUANTILE_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class KaplanMeierResult:
    """One Kaplan–Meier curve, on every distinct observed time (as R ``survfit`` stores it)."""

    time: FloatArray
    n_risk: FloatArray
    n_event: FloatArray
    n_censor: FloatArray
    survival: FloatArray
    #: Standard error of -log S(t) (Greenwood); R's ``survfit()$std.err``.
    se_log_survival: FloatArray
    lower: FloatArray
    upper: FloatArray
    conf_type: ConfType
    conf_level: float
    median: float
    median_lower: float
    median_upper: float
    rules: tuple[str, ...] = field(default=())

    @property
    def std_err(self) -> FloatArray:
        """Standard error of S(t) (Greenwood), as ``summary.survfit`` prints it."""
        with np.errstate(invalid="ignore"):
            return np.asarray(self.survival * self.se_log_survival)

    def survival_at(self, times: ArrayLike) -> FloatArray:
        """S(t) as a right-continuous step function (1 before the first time)."""
        t = np.atleast_1d(np.asarray(times, dtype=float))
        idx = np.searchsorted(self.time, t, side="right") - 1
        out = np.ones(t.shape)
        ok = idx >= 0
        out[ok] = self.survival[idx[ok]]
        return out

    def at_risk(self, times: ArrayLike) -> FloatArray:
        """Number at risk at each time (subjects with follow-up >= t), for at-risk tables."""
        t = np.atleast_1d(np.asarray(times, dtype=float))
        idx = np.searchsorted(self.time, t, side="left")
        out = np.zeros(t.shape)
        ok = idx < len(self.time)
        out[ok] = self.n_risk[idx[ok]]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time.tolist(), "n_risk": self.n_risk.tolist(),
            "n_event": self.n_event.tolist(), "n_censor": self.n_censor.tolist(),
            "survival": self.survival.tolist(),
            "std_err": [_jsonable(v) for v in self.std_err],
            "lower": [_jsonable(v) for v in self.lower],
            "upper": [_jsonable(v) for v in self.upper],
            "conf_type": self.conf_type, "conf_level": self.conf_level,
            "median": _jsonable(self.median), "median_lower": _jsonable(self.median_lower),
            "median_upper": _jsonable(self.median_upper), "rules": list(self.rules),
        }


def _jsonable(v: float) -> float | None:
    return None if not np.isfinite(v) else float(v)


def _zval(conf_level: float) -> float:
    ok = isinstance(conf_level, (int, float)) and not isinstance(conf_level, bool) \
        and 0 < conf_level < 1
    if not ok:
        raise ValidationError(f"conf_level must be a number in (0, 1), but was {conf_level!r}")
    return float(stats.norm.ppf(1 - (1 - conf_level) / 2))


def confidence_band(surv: FloatArray, se_log: FloatArray, conf_type: ConfType,
                    conf_level: float) -> tuple[FloatArray, FloatArray]:
    """Pointwise band for a survival curve, as R ``survfit(conf.type=...)`` computes it.

    ``log``: exp(log S ± z·se); ``log-log``: exp(-exp(log(-log S) ∓ z·se/log S));
    ``plain``: S ± z·se·S, clipped to [0, 1]. ``se`` is the standard error of -log S.
    Undefined points (S = 0, and S = 1 for log-log) are NaN, as R's NA.
    """
    z = _zval(conf_level)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            xx = np.where(surv == 0, np.nan, surv)
            lower = np.exp(np.log(xx) - z * se_log)
            upper = np.minimum(np.exp(np.log(xx) + z * se_log), 1.0)
        elif conf_type == "log-log":
            xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
            se2 = z * se_log / np.log(xx)
            lower = np.exp(-np.exp(np.log(-np.log(xx)) - se2))
            upper = np.exp(-np.exp(np.log(-np.log(xx)) + se2))
        elif conf_type == "plain":
            se2 = z * se_log * surv
            lower = np.where(surv > 0, np.maximum(surv - se2, 0.0), np.nan)
            upper = np.minimum(surv + se2, 1.0)
        else:
            raise ValidationError(
                f"conf_type must be 'log', 'log-log' or 'plain', but was {conf_type!r}")
    return np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)


def _findq(x: FloatArray, y: FloatArray, p: float, tol: float) -> float:
    """First x where the cumulative curve y (= 1 - S) reaches p; midpoint on a flat at p.

    The rule of R ``survival``'s ``quantile.survfit``: if the curve equals p (within ``tol``)
    over an interval, the quantile is the midpoint of that interval (to the last time when the
    flat is the end of the curve); NaN entries (undefined band points) are skipped.
    """
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return float("nan")
    xmax = x[-1]
    _, first = np.unique(y, return_index=True)  # NaNs compare equal (one kept), as duplicated()
    keep = np.sort(first)
    x2, y2 = x[keep], y[keep]
    pos = np.arange(len(y2))
    valid = ~np.isnan(y2)
    yv, iv = y2[valid], pos[valid]

    def first_at_least(arr: FloatArray) -> int | None:
        k = int(np.searchsorted(arr, p, side="left"))
        return int(iv[k]) if k < len(arr) else None

    i1 = first_at_least(yv + tol)
    i2 = first_at_least(yv - tol)
    if p == 0:
        return float(x2[0])
    if not np.isnan(y2[-1]) and abs(p - y2[-1]) < tol and i1 is not None:
        return float((x2[i1] + xmax) / 2)
    if i1 is None or i2 is None:
        return float("nan")
    return float((x2[i1] + x2[i2]) / 2)


def kaplan_meier(time: ArrayLike, event: ArrayLike, *, conf_type: ConfType = "log",
                 conf_level: float = 0.95) -> KaplanMeierResult:
    """Kaplan–Meier survival with Greenwood standard errors, a pointwise band and the median.

    Parameters
    ----------
    time : follow-up times (>= 0).
    event : 1 = event, 0 = censored.
    conf_type : ``"log"`` (R's default), ``"log-log"`` or ``"plain"``.
    conf_level : coverage of the band and of the median interval.

    See Also
    --------
    KaplanMeier : the fit-style wrapper. logrank_test : comparing curves.
    """
    t = as_times(time, "time")
    e = as_status(event, len(t), "event", codes=(0, 1))
    ut, inv = np.unique(t, return_inverse=True)
    n_event = np.bincount(inv, weights=e, minlength=len(ut)).astype(float)
    n_total = np.bincount(inv, minlength=len(ut)).astype(float)
    n_risk = np.cumsum(n_total[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - n_event / n_risk)
        inc = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    se_log = np.sqrt(np.cumsum(inc))
    lower, upper = confidence_band(surv, se_log, conf_type, conf_level)
    xs = np.concatenate(([0.0], ut))
    med = _findq(xs, np.concatenate(([0.0], 1 - surv)), 0.5, QUANTILE_TOLERANCE)
    med_lo = _findq(xs, np.concatenate(([0.0], 1 - lower)), 0.5, QUANTILE_TOLERANCE)
    med_hi = _findq(xs, np.concatenate(([0.0], 1 - upper)), 0.5, QUANTILE_TOLERANCE)
    rules = (
        "Kaplan-Meier product-limit estimate (Kaplan & Meier 1958)",
        "Greenwood variance of -log S (Greenwood 1926)",
        f"{conf_level:.0%} pointwise band on the {conf_type} scale (as R survfit conf.type)",
        "median: first time S <= 0.5, midpoint of a flat at exactly 0.5; its interval from "
        "the band (Brookmeyer & Crowley 1982; R quantile.survfit)",
    )
    return KaplanMeierResult(
        time=ut, n_risk=n_risk, n_event=n_event, n_censor=n_total - n_event, survival=surv,
        se_log_survival=se_log, lower=lower, upper=upper, conf_type=conf_type,
        conf_level=conf_level, median=med, median_lower=med_lo, median_upper=med_hi, rules=rules)


def kaplan_meier_groups(time: ArrayLike, event: ArrayLike, group: ArrayLike | None = None,
                        **kwargs: Any) -> dict[Any, KaplanMeierResult]:
    """One Kaplan–Meier curve per group label (sorted as R orders factor levels)."""
    t = as_times(time, "time")
    e = as_status(event, len(t), "event", codes=(0, 1))
    codes, levels = as_labels(group, len(t), "group")
    return {lev: kaplan_meier(t[codes == k], e[codes == k], **kwargs)
            for k, lev in enumerate(levels)}


class KaplanMeier:
    """Fit-style wrapper over :func:`kaplan_meier` (lifelines-like API).

    >>> km = KaplanMeier().fit([5, 8, 8, 12], [1, 1, 0, 1])
    >>> float(km.survival_at(8)[0])
    0.5
    """

    def __init__(self, conf_type: ConfType = "log", conf_level: float = 0.95) -> None:
        self.conf_type: ConfType = conf_type
        self.conf_level = conf_level

    def fit(self, durations: ArrayLike, event_observed: ArrayLike) -> KaplanMeier:
        self.result_ = kaplan_meier(durations, event_observed, conf_type=self.conf_type,
                                    conf_level=self.conf_level)
        self.median_survival_time_ = self.result_.median
        return self

    def survival_at(self, times: ArrayLike) -> FloatArray:
        return self.result_.survival_at(times)


@dataclass(frozen=True)
class LogRankResult:
    """(Stratified) log-rank test, as R ``survdiff(rho = 0)``."""

    groups: list[Any]
    observed: FloatArray
    expected: FloatArray
    variance: FloatArray
    chisq: float
    df: int
    p_value: float
    stratified: bool
    rules: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"groups": [str(g) for g in self.groups], "observed": self.observed.tolist(),
                "expected": self.expected.tolist(), "variance": self.variance.tolist(),
                "chisq": self.chisq, "df": self.df, "p_value": self.p_value,
                "stratified": self.stratified, "rules": list(self.rules)}


def _logrank_parts(t: FloatArray, e: IntArray, g: IntArray,
                   ng: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    ut, inv = np.unique(t, return_inverse=True)
    nt = len(ut)
    cell = inv * ng + g
    d = np.bincount(cell, weights=e, minlength=nt * ng).reshape(nt, ng)
    tot = np.bincount(cell, minlength=nt * ng).reshape(nt, ng).astype(float)
    n = np.cumsum(tot[::-1], axis=0)[::-1]
    dj = d.sum(axis=1)
    keep = dj > 0
    d, n, dj = d[keep], n[keep], dj[keep]
    nj = n.sum(axis=1)
    obs = d.sum(axis=0)
    exp = (n * (dj / nj)[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        kk = np.where(nj > 1, dj * (nj - dj) / (nj - 1), 0.0)
    frac = n / nj[:, None]
    var = np.einsum("t,tk->k", kk, frac)
    var = np.diag(var) - np.einsum("t,tk,tl->kl", kk, frac, frac)
    return obs, exp, var


def logrank_test(time: ArrayLike, event: ArrayLike, group: ArrayLike,
                 strata: ArrayLike | None = None) -> LogRankResult:
    """K-sample log-rank test (Mantel 1966), stratified when ``strata`` is given.

    Observed, expected and the covariance are summed over strata; the statistic drops the
    first group among those with expected > 0 (the covariance is singular), as R ``survdiff``.
    """
    t = as_times(time, "time")
    e = as_status(event, len(t), "event", codes=(0, 1))
    g, levels = as_labels(group, len(t), "group")
    s, _ = as_labels(strata, len(t), "strata")
    ng = len(levels)
    obs = np.zeros(ng)
    exp = np.zeros(ng)
    var = np.zeros((ng, ng))
    for k in np.unique(s):
        m = s == k
        o, x, v = _logrank_parts(t[m], e[m], g[m], ng)
        obs += o
        exp += x
        var += v
    use = np.flatnonzero(exp > 0)
    if len(use) < 2:
        chisq, df = 0.0, 0
    else:
        keep = use[1:]
        diff = (obs - exp)[keep]
        df = len(use) - 1
        try:
            chisq = float(diff @ np.linalg.solve(var[np.ix_(keep, keep)], diff))
        except np.linalg.LinAlgError:
            warnings.warn(RemissionWarning("log-rank: the covariance is singular; no statistic"),
                          stacklevel=2)
            chisq = float("nan")
    p = float(stats.chi2.sf(chisq, df)) if df > 0 and np.isfinite(chisq) else float("nan")
    rules: tuple[str, ...] = ("log-rank (Mantel 1966) with the hypergeometric covariance; as R survdiff rho=0",)
    if strata is not None:
        rules += ("stratified: observed, expected and covariance summed over strata",)
    return LogRankResult(groups=levels, observed=obs, expected=exp, variance=var, chisq=chisq,
                         df=df, p_value=p, stratified=strata is not None, rules=rules)
