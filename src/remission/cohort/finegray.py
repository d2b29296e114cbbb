"""Fine–Gray proportional subdistribution hazards regression (competing risks).

Subjects who failed from a competing cause stay in the risk set after their failure with the
inverse-probability-of-censoring weight G(t-)/G(T_i-) (G: Kaplan–Meier of the censoring
distribution); tied failures by Breslow. The variance is Fine & Gray's sandwich, which adds to
the score residuals the term for estimating G. Estimates and variance equal R
``cmprsk::crr`` (checked in ``tests/cohort``).

Vectorised: the weighted risk-set sums are a reverse cumulative sum (subjects still event-free)
plus a prefix sum over competing failures scaled by G(t-).

References
----------
Fine JP, Gray RJ (1999). A proportional hazards model for the subdistribution of a competing
risk. JASA 94:496–509.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from remission.cohort._data import FloatArray, as_covariates, as_status, as_times
from remission.cohort.cox import MAX_ITER, ConvergenceWarning
from remission.domain.checks import check_positive
from remission.errors import ValidationError

__all__ = ["FineGray", "FineGrayResult", "fine_gray"]

#: Convergence tolerance, with cmprsk ``crr``'s rule (``gtol``): stop when
#: max_k |U_k| * max(|beta_k|, 1) < GTOL * max(|loglik|, 1). R's estimates are this iterate, so
#: using the same rule reproduces them to rounding; pass a smaller ``gtol`` to go further.
GTOL = 1e-6


@dataclass(frozen=True)
class FineGrayResult:
    names: list[str]
    cause: int
    coef: FloatArray
    var: FloatArray
    naive_var: FloatArray
    loglik_null: float
    loglik: float
    n: int
    n_event: int
    n_competing: int
    converged: bool
    iterations: int
    rules: tuple[str, ...] = field(default=())

    @property
    def se(self) -> FloatArray:
        return np.sqrt(np.diag(self.var))

    @property
    def p_values(self) -> FloatArray:
        return np.asarray(2 * stats.norm.sf(np.abs(self.coef / self.se)))

    def confint(self, level: float = 0.95) -> FloatArray:
        z = float(stats.norm.ppf(1 - (1 - level) / 2))
        return np.column_stack([self.coef - z * self.se, self.coef + z * self.se])

    def to_dict(self) -> dict[str, Any]:
        ci = self.confint()
        return {
            "cause": self.cause,
            "covariates": [
                {"name": n, "coef": float(b), "se": float(s),
                 "subdistribution_hazard_ratio": float(np.exp(b)),
                 "ci_lower": float(np.exp(lo)), "ci_upper": float(np.exp(hi)), "p_value": float(p)}
                for n, b, s, (lo, hi), p in zip(self.names, self.coef, self.se, ci,
                                                  self.p_values, strict=True)],
            "loglik_null": self.loglik_null, "loglik": self.loglik, "n": self.n,
            "n_event": self.n_event, "n_competing": self.n_competing,
            "converged": self.converged, "rules": list(self.rules),
        }


@dataclass
class _Prep:
    t: FloatArray          # sorted times
    fail: FloatArray       # 1 for the cause of interest (sorted order)
    comp: FloatArray       # 1 for a competing failure
    cens: FloatArray       # 1 for censored
    g_minus: FloatArray    # G(T_i-) per subject (sorted order)
    ftimes: FloatArray     # distinct failure times of the cause
    d: FloatArray          # failures per failure time
    g_fail: FloatArray     # G(t_j-) at the failure times
    k_fail: Any            # index of each failure's time in ftimes
    first_ge: Any          # for each failure time, first sorted subject with T >= t_j
    comp_before: Any       # for each failure time, competing subjects with T < t_j (count)
    comp_idx: Any          # sorted-order indices of competing subjects (by time)


def _censoring_km_minus(t: FloatArray, cens: FloatArray) -> FloatArray:
    """G(t_i-) (Kaplan–Meier of censoring, all failures as 'censored'), for sorted ``t``."""
    _, first, counts = np.unique(t, return_index=True, return_counts=True)
    c = np.add.reduceat(cens, first)
    n_risk = len(t) - first
    g = np.cumprod(1 - c / n_risk)
    g_minus = np.concatenate(([1.0], g[:-1]))
    return np.repeat(g_minus, counts)


def _prepare(t: FloatArray, s: Any, cause: int) -> _Prep:
    order = np.argsort(t, kind="stable")
    ts = t[order]
    ss = s[order]
    fail = (ss == cause).astype(float)
    cens = (ss == 0).astype(float)
    comp = 1.0 - fail - cens
    gm = _censoring_km_minus(ts, cens)
    ftimes, d = np.unique(ts[fail == 1], return_counts=True)
    first_ge = np.searchsorted(ts, ftimes, side="left")
    comp_idx = np.flatnonzero(comp == 1)
    comp_before = np.searchsorted(ts[comp_idx], ftimes, side="left")
    g_fail = gm[first_ge]
    k_fail = np.searchsorted(ftimes, ts[fail == 1])
    return _Prep(ts, fail, comp, cens, gm, ftimes, d.astype(float), g_fail, k_fail, first_ge,
                 comp_before, comp_idx)


def _sums(pp: _Prep, vals: FloatArray) -> FloatArray:
    """Weighted risk-set sums of ``vals`` (n, q) at each failure time: (m, q)."""
    tail = np.cumsum(vals[::-1], axis=0)[::-1]
    tail = np.vstack([tail, np.zeros((1, vals.shape[1]))])
    at_risk = tail[pp.first_ge]
    cv = vals[pp.comp_idx] / pp.g_minus[pp.comp_idx, None]
    pref = np.vstack([np.zeros((1, vals.shape[1])), np.cumsum(cv, axis=0)])
    return at_risk + pp.g_fail[:, None] * pref[pp.comp_before]


def _parts(beta: FloatArray, x: FloatArray, pp: _Prep) -> tuple[float, FloatArray, FloatArray,
                                                                FloatArray, FloatArray]:
    p = x.shape[1]
    eta = x @ beta
    r = np.exp(eta)
    s0 = _sums(pp, r[:, None])[:, 0]
    s1 = _sums(pp, x * r[:, None])
    xx = np.einsum("ni,nj->nij", x, x).reshape(len(x), p * p)
    s2 = _sums(pp, xx * r[:, None]).reshape(-1, p, p)
    zbar = s1 / s0[:, None]
    f = pp.fail == 1
    ll = float(eta[f].sum() - np.sum(pp.d * np.log(s0)))
    u = x[f].sum(axis=0) - (pp.d[:, None] * zbar).sum(axis=0)
    info = np.einsum("j,jab->ab", pp.d / s0, s2) - np.einsum("j,ja,jb->ab", pp.d, zbar, zbar)
    return ll, u, info, s0, zbar


def _influence(beta: FloatArray, x: FloatArray, pp: _Prep, s0: FloatArray,
               zbar: FloatArray) -> FloatArray:
    """eta_i + psi_i of Fine & Gray (1999), one row per subject (sorted order)."""
    n, p = x.shape
    r = np.exp(x @ beta)
    dl = pp.d / s0                                   # baseline subdistribution hazard jumps
    # eta: score residuals of the weighted partial likelihood
    f = pp.fail == 1
    eta = np.zeros((n, p))
    eta[f] = x[f] - zbar[pp.k_fail]
    # failure times t_j <= T_i (subject still in the ordinary risk set)
    k_le = np.searchsorted(pp.ftimes, pp.t, side="right")
    ch = np.concatenate(([0.0], np.cumsum(dl)))
    cz = np.vstack([np.zeros((1, p)), np.cumsum(zbar * dl[:, None], axis=0)])
    h = ch[k_le]
    kz = cz[k_le]
    # competing failures stay on with weight G(t_j-)/G(T_i-) for t_j > T_i
    cj = pp.comp == 1
    gdl = pp.g_fail * dl
    cgh = np.concatenate(([0.0], np.cumsum(gdl)))
    cgz = np.vstack([np.zeros((1, p)), np.cumsum(zbar * gdl[:, None], axis=0)])
    h = h + np.where(cj, (cgh[-1] - cgh[k_le]) / pp.g_minus, 0.0)
    kz = kz + np.where(cj[:, None], (cgz[-1] - cgz[k_le]) / pp.g_minus[:, None], 0.0)
    eta -= r[:, None] * (x * h[:, None] - kz)
    # psi: the part due to estimating G (censoring martingale)
    ctimes = np.unique(pp.t[pp.cens == 1])
    if len(ctimes) == 0:
        return eta
    dnc = np.bincount(np.searchsorted(ctimes, pp.t[pp.cens == 1]), minlength=len(ctimes))
    pi = (n - np.searchsorted(pp.t, ctimes, side="left")).astype(float)
    # q(u) = sum_{t_j >= u} dL_j G_j [B1(u) - zbar_j B0(u)], B over competing with T_k < u
    # (ties as in cmprsk crr: a censoring at u counts as after failures at u)
    kgt = np.searchsorted(pp.ftimes, ctimes, side="left")
    a0 = cgh[-1] - cgh[kgt]
    a1 = cgz[-1] - cgz[kgt]
    ci = pp.comp_idx
    w = r[ci] / pp.g_minus[ci]
    b0c = np.concatenate(([0.0], np.cumsum(w)))
    b1c = np.vstack([np.zeros((1, p)), np.cumsum(x[ci] * w[:, None], axis=0)])
    kb = np.searchsorted(pp.t[ci], ctimes, side="left")
    q = b1c[kb] * a0[:, None] - b0c[kb, None] * a1
    qp = q / pi[:, None]
    # psi_i = q(T_i)/pi(T_i) [censored at T_i] - sum_{u <= T_i} q(u)/pi(u) dNc(u)/pi(u)
    cum = np.vstack([np.zeros((1, p)), np.cumsum(qp * (dnc / pi)[:, None], axis=0)])
    kc = np.searchsorted(ctimes, pp.t, side="right")
    psi = -cum[kc]
    c = pp.cens == 1
    psi[c] += qp[np.searchsorted(ctimes, pp.t[c])]
    return eta + psi


def fine_gray(x: ArrayLike, time: ArrayLike, status: ArrayLike, *, cause: int = 1,
              names: Sequence[str] | None = None, gtol: float = GTOL) -> FineGrayResult:
    """Fit the Fine–Gray model for ``cause`` (status: 0 censored, other codes competing).

    See Also
    --------
    FineGray : fit-style wrapper. remission.cohort.cif.cumulative_incidence : the
    non-parametric curves the model summarises.
    """
    t = as_times(time, "time")
    n = len(t)
    s = as_status(status, n, "status")
    xm = as_covariates(x, n, names)
    p = xm.shape[1]
    names = list(names) if names is not None else [f"x{i + 1}" for i in range(p)]
    if len(names) != p:
        raise ValidationError(f"names must have {p} entries, but was {names!r}")
    check_positive("gtol", gtol)
    if not np.any(s == cause):
        raise ValidationError(f"cause must occur in status, but {cause!r} has no events")
    pp = _prepare(t, s, cause)
    order = np.argsort(t, kind="stable")
    xs = xm[order] - xm.mean(axis=0)
    beta = np.zeros(p)
    ll0, u, info, s0, zbar = _parts(beta, xs, pp)
    ll = ll0
    converged = False
    it = 0
    for it in range(MAX_ITER + 1):
        if np.max(np.abs(u) * np.maximum(np.abs(beta), 1.0)) < max(abs(ll), 1.0) * gtol:
            converged = True
            break
        if it == MAX_ITER:
            break
        step = np.linalg.solve(info, u)
        new = beta + step
        res = _parts(new, xs, pp)
        halvings = 0
        # Armijo step-halving, as crr: accept when the loglik rises by 1e-4 of the predicted
        while (not np.isfinite(res[0]) or res[0] < ll + 1e-4 * float(step @ u)) and halvings < 20:
            step = step / 2
            new = beta + step
            res = _parts(new, xs, pp)
            halvings += 1
        beta = new
        ll, u, info, s0, zbar = res
    if not converged:
        warnings.warn(ConvergenceWarning(f"Fine-Gray fit did not converge in {it} steps"),
                      stacklevel=2)
    naive = np.linalg.inv(info)
    infl = _influence(beta, xs, pp, s0, zbar)
    var = naive @ (infl.T @ infl) @ naive
    rules = (
        "Fine-Gray subdistribution hazards; competing failures weighted G(t-)/G(T-) "
        "(Fine & Gray 1999)",
        "G: Kaplan-Meier of the censoring times; Breslow ties",
        "variance: sandwich including the censoring-estimation term (Fine & Gray 1999, as "
        "cmprsk crr)",
    )
    return FineGrayResult(names=names, cause=cause, coef=beta, var=var, naive_var=naive,
                          loglik_null=ll0, loglik=ll, n=n, n_event=int(np.sum(s == cause)),
                          n_competing=int(np.sum((s != 0) & (s != cause))),
                          converged=converged, iterations=it, rules=rules)


class FineGray:
    """Fit-style wrapper over :func:`fine_gray`."""

    def __init__(self, cause: int = 1) -> None:
        self.cause = cause

    def fit(self, x: ArrayLike, time: ArrayLike, status: ArrayLike,
            names: Sequence[str] | None = None) -> FineGray:
        self.result_ = fine_gray(x, time, status, cause=self.cause, names=names)
        self.params_ = self.result_.coef
        self.variance_matrix_ = self.result_.var
        return self
