"""Cox proportional hazards regression on counting-process (start, stop] data.

Time-varying covariates (MRD as it changes) are rows (start, stop] per patient. Ties by Efron
(R ``coxph``'s default) or Breslow; case weights; strata; a cluster-robust (sandwich) variance
from the dfbeta residuals. Coefficients, variance, log-likelihoods and the likelihood-ratio,
Wald and score tests equal R ``survival::coxph`` (checked in ``tests/cohort``).

Vectorised: each row's risk window is a range of event-time indices, so the risk-set sums are
reverse cumulative sums of ``np.bincount`` totals (one pass over the rows per Newton step, no
loop over times or patients).

References
----------
Cox DR (1972). Regression models and life-tables. JRSS B 34:187–220.
Efron B (1977). The efficiency of Cox's likelihood function for censored data. JASA 72:557–565.
Breslow N (1974). Covariance analysis of censored survival data. Biometrics 30:89–99.
Andersen PK, Gill RD (1982). Cox's regression model for counting processes. Ann Stat 10:1100–1120.
Lin DY, Wei LJ (1989). The robust inference for the Cox proportional hazards model.
JASA 84:1074–1078.
Therneau TM, Grambsch PM (2000). Modeling Survival Data. Springer (appendix E test data).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse, stats

from remission.cohort._data import (
    FloatArray,
    IntArray,
    as_covariates,
    as_labels,
    as_status,
    as_times,
    check_intervals,
)
from remission.errors import RemissionWarning, ValidationError

__all__ = ["ConvergenceWarning", "CoxPH", "CoxResult", "cox_ph"]

Ties = Literal["efron", "breslow"]

#: Convergence: relative change of the log partial likelihood (R coxph.control uses 1e-9;
#: tighter here so that estimates sit at the optimum, not one step before it).
EPS = 1e-12
#: At most this many Newton–Raphson steps (R coxph.control default iter.max = 20).
MAX_ITER = 30


class ConvergenceWarning(RemissionWarning):
    """Newton–Raphson did not converge (monotone likelihood: a coefficient tends to ±inf)."""


@dataclass(frozen=True)
class CoxResult:
    names: list[str]
    coef: FloatArray
    var: FloatArray
    naive_var: FloatArray | None
    loglik_null: float
    loglik: float
    score_test: float
    wald_test: float
    lr_test: float
    df: int
    n: int
    n_event: int
    ties: Ties
    iterations: int
    converged: bool
    rules: tuple[str, ...] = field(default=())

    @property
    def se(self) -> FloatArray:
        return np.sqrt(np.diag(self.var))

    @property
    def hazard_ratio(self) -> FloatArray:
        return np.exp(self.coef)

    def confint(self, level: float = 0.95) -> FloatArray:
        z = float(stats.norm.ppf(1 - (1 - level) / 2))
        return np.column_stack([self.coef - z * self.se, self.coef + z * self.se])

    @property
    def p_values(self) -> FloatArray:
        return np.asarray(2 * stats.norm.sf(np.abs(self.coef / self.se)))

    def p_value(self, test: Literal["lr", "wald", "score"] = "lr") -> float:
        stat = {"lr": self.lr_test, "wald": self.wald_test, "score": self.score_test}[test]
        return float(stats.chi2.sf(stat, self.df))

    def to_dict(self) -> dict[str, Any]:
        ci = self.confint()
        return {
            "covariates": [
                {"name": n, "coef": float(b), "se": float(s), "hazard_ratio": float(np.exp(b)),
                 "ci_lower": float(np.exp(lo)), "ci_upper": float(np.exp(hi)), "p_value": float(p)}
                for n, b, s, (lo, hi), p in zip(self.names, self.coef, self.se, ci,
                                                  self.p_values, strict=True)],
            "loglik_null": self.loglik_null, "loglik": self.loglik,
            "lr_test": self.lr_test, "wald_test": self.wald_test, "score_test": self.score_test,
            "df": self.df, "p_lr": self.p_value("lr"), "n": self.n, "n_event": self.n_event,
            "ties": self.ties, "robust": self.naive_var is not None,
            "converged": self.converged, "iterations": self.iterations,
            "rules": list(self.rules),
        }


@dataclass
class _Stratum:
    rows: IntArray        # row indices of this stratum
    k_stop: IntArray      # last event-time index at which the row is at risk (-1: none)
    k_start: IntArray     # event-time indices <= k_start are before the row starts
    n_times: int
    dead: IntArray        # rows (global index) with an event
    k_dead: IntArray      # their event-time index
    n_dead: FloatArray    # deaths per event time (count)
    w_dead: FloatArray    # summed case weight of the deaths per event time
    enter_leave: Any = None  # sparse (times x rows): +1 at k_stop, -1 at k_start
    at_death: Any = None     # sparse (times x deaths): 1 at the death's time
    all_rows: bool = False   # the only stratum: rows is every row, in order


def _prepare(start: FloatArray, stop: FloatArray, event: IntArray,
             strata: IntArray) -> list[_Stratum]:
    out: list[_Stratum] = []
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        ev_rows = rows[event[rows] == 1]
        times = np.unique(stop[ev_rows])
        k_stop = np.searchsorted(times, stop[rows], side="right") - 1
        k_start = np.searchsorted(times, start[rows], side="right") - 1
        k_dead = np.searchsorted(times, stop[ev_rows])
        n_dead = np.bincount(k_dead, minlength=len(times)).astype(float)
        m = len(times)
        cols = np.arange(len(rows))
        ok1, ok0 = k_stop >= 0, k_start >= 0
        enter_leave = sparse.csr_matrix(
            (np.concatenate([np.ones(ok1.sum()), -np.ones(ok0.sum())]),
             (np.concatenate([k_stop[ok1], k_start[ok0]]), np.concatenate([cols[ok1], cols[ok0]]))),
            shape=(m, len(rows)))
        at_death = sparse.csr_matrix((np.ones(len(ev_rows)), (k_dead, np.arange(len(ev_rows)))),
                                     shape=(m, len(ev_rows)))
        out.append(_Stratum(rows, k_stop, k_start, m, ev_rows, k_dead, n_dead, np.zeros(m),
                            enter_leave, at_death, len(rows) == len(stop)))
    return out


def _risk_sums(st: _Stratum, vals: FloatArray) -> FloatArray:
    """Sums of ``vals`` over the risk set at each event time: rows with start < t <= stop.

    A row is at risk at event-time indices (k_start, k_stop], so the sums are the reverse
    cumulative sums of (totals by k_stop) - (totals by k_start): one sparse product.
    """
    tot = st.enter_leave @ (vals if st.all_rows else vals[st.rows])
    return np.asarray(np.cumsum(tot[::-1], axis=0)[::-1])


def _death_sums(st: _Stratum, vals: FloatArray) -> FloatArray:
    """Sums of ``vals`` over the deaths at each event time."""
    return np.asarray(st.at_death @ vals[st.dead])


def _tie_terms(st: _Stratum, ties: Ties) -> tuple[IntArray, FloatArray, FloatArray]:
    """(event-time index, Efron fraction l/d, mean death weight) for each Efron term."""
    d = st.n_dead.astype(np.int64)
    meanwt = np.where(d > 0, st.w_dead / np.maximum(d, 1), 0.0)
    if ties == "breslow":
        j = np.arange(st.n_times)
        return j, np.zeros(st.n_times), st.w_dead
    j = np.repeat(np.arange(st.n_times), d)
    first = np.concatenate(([0], np.cumsum(d)[:-1]))
    frac = (np.arange(len(j)) - first[j]) / d[j]
    return j, frac, meanwt[j]


def _loglik_parts(beta: FloatArray, x: FloatArray, w: FloatArray, strata: list[_Stratum],
                  ties: Ties, xx: FloatArray) -> tuple[float, FloatArray, FloatArray]:
    """Log partial likelihood, score and information at ``beta`` (``xx``: rows of x x')."""
    p = x.shape[1]
    eta = x @ beta
    r = w * np.exp(eta)
    ll = 0.0
    u = np.zeros(p)
    imat = np.zeros((p, p))
    vals = np.empty((len(r), 1 + p + p * p))
    vals[:, 0] = r
    np.multiply(x, r[:, None], out=vals[:, 1:p + 1])
    np.multiply(xx, r[:, None], out=vals[:, p + 1:])
    for st in strata:
        if st.n_times == 0:
            continue
        sums = _risk_sums(st, vals)
        dsum = _death_sums(st, vals)
        s0, s1, s2 = sums[:, 0], sums[:, 1:p + 1], sums[:, p + 1:]
        a0, a1, a2 = dsum[:, 0], dsum[:, 1:p + 1], dsum[:, p + 1:]
        dead = st.dead
        j, frac, mw = _tie_terms(st, ties)
        den = s0[j] - frac * a0[j]
        xbar = (s1[j] - frac[:, None] * a1[j]) / den[:, None]
        ll += float(np.sum(w[dead] * eta[dead]) - np.sum(mw * np.log(den)))
        u += (w[dead, None] * x[dead]).sum(axis=0) - (mw[:, None] * xbar).sum(axis=0)
        sec = (s2[j] - frac[:, None] * a2[j]) / den[:, None]
        imat += (mw[:, None] * sec).sum(axis=0).reshape(p, p) - np.einsum(
            "t,ti,tj->ij", mw, xbar, xbar)
    return ll, u, imat


def _score_residuals(beta: FloatArray, x: FloatArray, w: FloatArray, strata: list[_Stratum],
                     ties: Ties) -> FloatArray:
    """Score residuals per row (Therneau & Grambsch 2000, §7), Efron-aware as R coxph."""
    n, p = x.shape
    r = w * np.exp(x @ beta)
    risk = np.exp(x @ beta)
    res = np.zeros((n, p))
    for st in strata:
        if st.n_times == 0:
            continue
        vals = np.concatenate([r[:, None], x * r[:, None]], axis=1)
        sums, dsum = _risk_sums(st, vals), _death_sums(st, vals)
        s0, s1, a0, a1 = sums[:, 0], sums[:, 1:], dsum[:, 0], dsum[:, 1:]
        dead = st.dead
        j, frac, mw = _tie_terms(st, ties)
        den = s0[j] - frac * a0[j]
        xbar = (s1[j] - frac[:, None] * a1[j]) / den[:, None]
        m = st.n_times
        h = np.bincount(j, weights=mw / den, minlength=m)
        g = np.stack([np.bincount(j, weights=mw * xbar[:, c] / den, minlength=m)
                      for c in range(p)], axis=1)
        # for a death at its own time, Efron's term l gives it weight (1 - l/d)
        hd = np.bincount(j, weights=(1 - frac) * mw / den, minlength=m)
        gd = np.stack([np.bincount(j, weights=(1 - frac) * mw * xbar[:, c] / den, minlength=m)
                       for c in range(p)], axis=1)
        # the death's covariate mean: Breslow's one term, or the average of Efron's terms
        nd = np.maximum(st.n_dead, 1.0) if ties == "efron" else np.ones(m)
        xbar_death = np.stack([np.bincount(j, weights=xbar[:, c], minlength=m) / nd
                               for c in range(p)], axis=1)
        ch = np.concatenate(([0.0], np.cumsum(h)))
        cg = np.vstack([np.zeros((1, p)), np.cumsum(g, axis=0)])
        rows = st.rows
        hi = st.k_stop + 1
        lo = np.maximum(st.k_start, -1) + 1
        lo = np.minimum(lo, hi)
        hsum = ch[hi] - ch[lo]
        gsum = cg[hi] - cg[lo]
        res[rows] = -risk[rows, None] * (x[rows] * hsum[:, None] - gsum)
        kd = st.k_dead
        res[dead] += x[dead] - xbar_death[kd]
        res[dead] += risk[dead, None] * (x[dead] * (h[kd] - hd[kd])[:, None] - (g[kd] - gd[kd]))
    return res


def cox_ph(x: ArrayLike, stop: ArrayLike, event: ArrayLike, *, start: ArrayLike | None = None,
           names: Sequence[str] | None = None, ties: Ties = "efron",
           weights: ArrayLike | None = None, strata: ArrayLike | None = None,
           cluster: ArrayLike | None = None, robust: bool = False,
           ids: ArrayLike | None = None) -> CoxResult:
    """Fit a Cox model by Newton–Raphson (step-halving), as R ``coxph``.

    Parameters
    ----------
    x : covariates (n, p); a time-varying covariate is one row per constant stretch.
    stop, event : end of each row's interval and whether it ends with the event (0/1).
    start : start of the interval (counting process); default 0 for every row.
    ties : ``"efron"`` (R's default) or ``"breslow"``.
    weights : case weights (default 1).
    strata : baseline hazard separate per stratum.
    cluster : clusters for the robust sandwich variance (a patient, or a group of patients such
        as a family or centre); implies ``robust``.
    ids : patient of each row, for the interval checks (no overlap, nothing after an event).

    Returns
    -------
    CoxResult with coefficients, (robust) variance, log-likelihoods and the three global tests.
    The score test is at beta = 0; with a robust variance the Wald test uses it (as R).
    """
    t_start, t_stop, ev, xm, names, w = _cox_inputs(x, stop, event, start, names, weights, ties, ids)
    n, p = xm.shape
    sc, _ = as_labels(strata, n, "strata")
    xc = xm - xm.mean(axis=0)
    strat = _prepare(t_start, t_stop, ev, sc)
    for st in strat:
        st.w_dead = np.bincount(st.k_dead, weights=w[st.dead], minlength=st.n_times)
    xx = np.einsum("ni,nj->nij", xc, xc).reshape(n, p * p)
    ll0, u0, i0 = _loglik_parts(np.zeros(p), xc, w, strat, ties, xx)
    score_test = _quadratic_form(u0, i0)
    beta, ll, imat, it, converged = _newton(np.zeros(p), (ll0, u0, i0), xc, w, strat, ties, xx)
    if not converged:
        warnings.warn(ConvergenceWarning(
            f"Cox fit did not converge in {it} Newton steps (monotone likelihood?); "
            "coefficients may be infinite"), stacklevel=2)
    try:
        var = np.linalg.inv(imat)
    except np.linalg.LinAlgError:
        var = np.full((p, p), np.nan)
    naive = None
    rules = [f"Cox partial likelihood, {ties} ties (Cox 1972; "
             + ("Efron 1977)" if ties == "efron" else "Breslow 1974)"),
             "counting-process (start, stop] rows (Andersen & Gill 1982)"]
    if cluster is not None or robust:
        naive = var
        var = _robust_variance(beta, xc, w, strat, ties, var, cluster)
        rules.append("robust sandwich variance from dfbeta residuals (Lin & Wei 1989)")
    wald = _quadratic_form(beta, var)
    if strata is not None:
        rules.append("stratified baseline hazard")
    return CoxResult(
        names=names, coef=beta, var=var, naive_var=naive, loglik_null=ll0, loglik=ll,
        score_test=score_test, wald_test=wald, lr_test=2 * (ll - ll0), df=p, n=n,
        n_event=int(ev.sum()), ties=ties, iterations=it, converged=converged,
        rules=tuple(rules))


def _cox_inputs(x: ArrayLike, stop: ArrayLike, event: ArrayLike, start: ArrayLike | None,
                names: Sequence[str] | None, weights: ArrayLike | None, ties: str, ids: ArrayLike | None
                ) -> tuple[FloatArray, FloatArray, IntArray, FloatArray, list[str], FloatArray]:
    """Checked (start, stop, event, covariates, names, weights); errors name the argument."""
    t_stop = as_times(stop, "stop")
    n = len(t_stop)
    t_start = np.zeros(n) if start is None else as_times(start, "start")
    ev = as_status(event, n, "event", codes=(0, 1))
    xm = as_covariates(x, n, names)
    p = xm.shape[1]
    names = list(names) if names is not None else [f"x{i + 1}" for i in range(p)]
    if len(names) != p:
        raise ValidationError(f"names must have {p} entries, but was {names!r}")
    check_intervals(t_start, t_stop, ev, ids)  # a cluster may hold several patients
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValidationError("weights must be positive finite numbers, one per row")
    if ties not in ("efron", "breslow"):
        raise ValidationError(f"ties must be 'efron' or 'breslow', but was {ties!r}")
    return t_start, t_stop, ev, xm, names, w


def _quadratic_form(v: FloatArray, m: FloatArray) -> float:
    """``v' m^-1 v`` (a score or Wald statistic); NaN when ``m`` is singular."""
    try:
        return float(v @ np.linalg.solve(m, v))
    except np.linalg.LinAlgError:
        return float("nan")


def _newton(beta: FloatArray, at_beta: tuple[float, FloatArray, FloatArray], xc: FloatArray, w: FloatArray,
            strat: list[_Stratum], ties: Ties, xx: FloatArray
            ) -> tuple[FloatArray, float, FloatArray, int, bool]:
    """Newton–Raphson with step-halving from ``beta`` (log-likelihood, score, information there).

    Returns beta, log-likelihood, information, iterations and whether it converged.
    """
    ll, u, imat = at_beta
    converged = False
    it = 0
    for it in range(1, MAX_ITER + 1):  # noqa: B007
        try:
            step = np.linalg.solve(imat, u)
        except np.linalg.LinAlgError:
            break
        new = beta + step
        ll_new, u_new, i_new = _loglik_parts(new, xc, w, strat, ties, xx)
        halvings = 0
        while (not np.isfinite(ll_new) or ll_new < ll - 1e-12 * abs(ll)) and halvings < 30:
            step = step / 2
            new = beta + step
            ll_new, u_new, i_new = _loglik_parts(new, xc, w, strat, ties, xx)
            halvings += 1
        done = abs(ll_new - ll) <= EPS * abs(ll_new) and np.max(np.abs(step)) < 1e-9
        beta, ll, u, imat = new, ll_new, u_new, i_new
        if done:
            converged = True
            break
    return beta, ll, imat, it, converged


def _robust_variance(beta: FloatArray, xc: FloatArray, w: FloatArray, strat: list[_Stratum], ties: Ties,
                     var: FloatArray, cluster: ArrayLike | None) -> FloatArray:
    """Sandwich variance ``D'D`` from the dfbeta residuals ``D``, summed per cluster when given."""
    n, p = xc.shape
    resid = _score_residuals(beta, xc, w, strat, ties)
    dfb = (w[:, None] * resid) @ var
    if cluster is not None:
        cl, _ = as_labels(cluster, n, "cluster")
        dfb = np.stack([np.bincount(cl, weights=dfb[:, c]) for c in range(p)], axis=1)
    return dfb.T @ dfb


class CoxPH:
    """Fit-style wrapper over :func:`cox_ph` (lifelines ``CoxTimeVaryingFitter``-like)."""

    def __init__(self, ties: Ties = "efron", robust: bool = False) -> None:
        self.ties: Ties = ties
        self.robust = robust

    def fit(self, x: ArrayLike, stop: ArrayLike, event: ArrayLike, **kwargs: Any) -> CoxPH:
        self.result_ = cox_ph(x, stop, event, ties=self.ties, robust=self.robust, **kwargs)
        self.params_ = self.result_.coef
        self.variance_matrix_ = self.result_.var
        return self
