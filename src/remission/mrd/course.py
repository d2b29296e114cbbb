"""A patient's MRD course across methods: response, conversion, molecular relapse, regrowth.

Definitions follow the published MRD response terminology, molecular-relapse and post-HSCT MRD
literature cited below; the regrowth kinetics follow Beal's M3 censoring (Ahn JE et al.,
*J Pharmacokinet Pharmacodyn* 2008;35:401):

- **Response per result** ([C], Gökbuget N, *Hematology Am Soc Hematol Educ Program* 2021:718): ``MRD_CR`` =
  negative with sensitivity (LoD) <= 10⁻⁴; ``MRD_failure`` = positive >= 10⁻⁴; otherwise
  ``MRD_intermediate`` (positive < 10⁻⁴, PNQ < 10⁻⁴, negative with insufficient sensitivity).
  Response is only evaluable in haematological CR; that is for the reader to check.
- **Conversion** negative → detectable (Raff T et al., *Blood* 2007;109:910, [C]) and the
  GMALL trigger "recurrence of quantifiable MRD" [C]. When the two results come from different
  methods the conversion is flagged as a method change.
- **Molecular relapse** ([U], recalled, no primary source checked): after negativity, MRD >= ``molecular_relapse_threshold``
  confirmed in the next sample (``molecular_relapse_require_confirmation``); **progression** of
  persistent MRD: an increase of >= ``progression_log_increase`` log10 between two quantifiable
  results of one method. Both are rules whose defaults are stated in the output.
- **Regrowth** (exponential regrowth: recalled, no primary source checked; censoring: Ahn 2008): ``log10 MRD(t) = a + b·t + ε``, ε ~ N(0, σ²), fitted
  by maximum likelihood with censoring (Beal M3 / Tobit): results below the LoD contribute
  ``Φ((log10 LoD - μ)/σ)``, positive-not-quantifiable results the probability of
  ``[LoD, LoQ]``, quantified results the normal density. Doubling time ``Td = log10 2 / b``.
  Fits are made **per method** over the latest regrowth window; methods are never pooled.
- **Projection**: the date the fitted line reaches ``relapse_blast_fraction`` (5 % blasts),
  ``t* = t0 + (log10 M_rel - a)/b``, with a profile-likelihood interval (the likelihood
  maximised over the other parameters for each fixed ``t*``; interval ends where twice the
  log-likelihood drop reaches the χ²₁ quantile). An interval end beyond
  ``projection_horizon_days`` is reported as unbounded (``None``).

See Also
--------
fit_censored_loglinear : the censored fit on arrays; :class:`RegrowthFit` its fit-style wrapper.
analyze_course : the whole course.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import brentq, minimize
from scipy.special import fdtri, gammaincinv, log_ndtr

from remission.domain.checks import check_positive
from remission.domain.mrd import MrdResult, format_mrd
from remission.domain.parameters import Rule, resolve, rests_on, rule_set
from remission.errors import ValidationError

__all__ = [
    "COURSE_RULES",
    "Baseline",
    "CensoredFit",
    "CourseEvent",
    "RegrowthFit",
    "analyze_course",
    "fit_censored_loglinear",
    "fit_regrowth",
    "observations_from_results",
    "response_category",
]

_GOKBUGET = "Gökbuget N, Hematology Am Soc Hematol Educ Program 2021:718 (MRD terminology table)"
_RECALLED = "recalled, no primary source checked"

COURSE_RULES: dict[str, Rule] = rule_set(
    Rule("negativity_max_lod", 1e-4, "C", _GOKBUGET,
         "a negative result is an MRD complete response only with sensitivity (LoD) <= this"),
    Rule("mrd_failure_threshold", 1e-4, "C", _GOKBUGET,
         "a positive result >= this is MRD failure"),
    Rule("molecular_relapse_threshold", 1e-4, "U", f"{_RECALLED} ('confirmed reappearance >= 1e-4')",
         "MRD level that, after negativity, counts towards molecular relapse"),
    Rule("molecular_relapse_require_confirmation", True, "U", _RECALLED,
         "molecular relapse needs a second consecutive sample >= the threshold"),
    Rule("progression_log_increase", 1.0, "U", f"{_RECALLED} ('>= 1 log increase')",
         "log10 increase between two quantifiable results of one method that counts as MRD "
         "progression"),
    Rule("relapse_blast_fraction", 0.05, "R", f"{_RECALLED} (5 % blasts, 5e-2)",
         "MRD fraction taken as haematological relapse for the projection"),
    Rule("interval_level", 0.95, "C", "statistical convention",
         "confidence level of the profile-likelihood intervals"),
    Rule("interval_calibration", "f", "U", "remission implementation choice, chosen by the seeded "
         "coverage study in benchmarks/validate_projection.py (BENCHMARKS.md)",
         "profile-likelihood cut-off: 'f' (small-sample F calibration, exact for Gaussian "
         "regression with unknown SD) or 'chi2' (asymptotic)"),
    Rule("min_fit_points", 3, "U", "remission implementation choice (not in the specs)",
         "fewest results in a regrowth window (of which >= 2 detectable) to fit"),
    Rule("fit_lead_negatives", 2, "U", "remission implementation choice (not in the specs)",
         "negative results just before the regrowth kept in the fit as censored observations"),
    Rule("sigma_floor_log10", 0.1, "U", "remission implementation choice (not in the specs)",
         "lower bound of the residual SD (log10 MRD) so that fits with few points do not claim "
         "more precision than MRD assays have"),
    Rule("projection_horizon_days", 730, "U", "remission implementation choice (not in the specs)",
         "interval ends further than this after the last result are reported as unbounded"),
)

ObsKind = Literal["exact", "left", "interval"]
_LOG2 = math.log10(2.0)


@dataclass(frozen=True)
class CourseEvent:
    """A dated therapy, HSCT, CAR-T infusion or relapse, shown with the course."""

    kind: Literal["diagnosis", "relapse", "therapy", "hsct", "cart"]
    date: dt.date
    label: str
    end: dt.date | None = None


@dataclass(frozen=True)
class Baseline:
    """The leukaemic fraction log reductions are measured from (e.g. relapse marrow blasts)."""

    date: dt.date
    fraction: float
    source: str


# -- censored log-linear regression ------------------------------------------------------------


@dataclass(frozen=True)
class CensoredFit:
    """Result of :func:`fit_censored_loglinear` (time in days from ``t_ref``)."""

    intercept_log10: float  # at t = 0 (the reference day)
    slope_log10_per_day: float
    sigma_log10: float
    loglik: float
    converged: bool
    n_exact: int
    n_left: int
    n_interval: int
    censoring: str
    slope_ci: tuple[float | None, float | None]
    level: float
    calibration: str = "f"
    lr_cutoff: float = 3.841458820694124
    _obs: Any = field(repr=False, compare=False, default=None)
    _scale: tuple[float, float] = field(repr=False, compare=False, default=(0.0, 1.0))
    _sigma_floor: float = field(repr=False, compare=False, default=0.1)

    @property
    def growth_rate_per_day(self) -> float:
        """Natural-log growth rate g (``ln MRD(t) = ln MRD(t0) + g (t - t0)``)."""
        return self.slope_log10_per_day * math.log(10.0)

    @property
    def doubling_time_days(self) -> float | None:
        """``log10 2 / b`` when the MRD grows, else ``None``."""
        b = self.slope_log10_per_day
        return _LOG2 / b if b > 0 else None

    @property
    def doubling_time_ci(self) -> tuple[float | None, float | None]:
        """Interval of Td from the slope interval (``None`` = unbounded / not growing)."""
        lo, hi = self.slope_ci
        td_lo = _LOG2 / hi if hi is not None and hi > 0 else None
        td_hi = _LOG2 / lo if lo is not None and lo > 0 else None
        return td_lo, td_hi

    def predict_log10(self, day: float) -> float:
        return self.intercept_log10 + self.slope_log10_per_day * day

    def day_reaching(self, fraction: float) -> float | None:
        """Day at which the fitted line reaches ``fraction`` (``None`` when not growing)."""
        b = self.slope_log10_per_day
        if b <= 0:
            return None
        return (math.log10(fraction) - self.intercept_log10) / b

    def day_reaching_interval(self, fraction: float, *, lower: float, upper: float
                              ) -> tuple[float | None, float | None]:
        """Profile-likelihood interval of the day the line reaches ``fraction``.

        ``lower``/``upper``: search limits in days; an end not found inside them is ``None``.
        """
        t_hat = self.day_reaching(fraction)
        if t_hat is None or self._obs is None:
            return None, None
        c, s = self._scale
        level_l = math.log10(fraction)
        obs = self._obs
        floor = math.log(self._sigma_floor)

        def prof(t_star_days: float) -> float:
            ts = (t_star_days - c) / s

            def nll(p: np.ndarray) -> float:
                b, ls = p
                return -_loglik(level_l - b * ts, b, max(ls, floor), obs)

            b0 = self.slope_log10_per_day * s
            return -_minimize(nll, np.array([b0, math.log(self.sigma_log10)]), floor_index=1,
                              floor=floor)[1]

        return _profile_interval(prof, t_hat, self.loglik, self.lr_cutoff,
                                 step=max(1.0, abs(t_hat - c) * 0.05 + 1.0), lower=lower, upper=upper)


_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _log_interval(zl: np.ndarray, zh: np.ndarray) -> np.ndarray:
    """``log(Φ(zh) - Φ(zl))`` for ``zl < zh``, stable in both tails."""
    flip = zl > 0
    a = np.where(flip, -zh, zl)
    b = np.where(flip, -zl, zh)
    la, lb = log_ndtr(a), log_ndtr(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = lb + np.log1p(-np.exp(np.minimum(la - lb, 0.0)))
    return np.where(np.isfinite(out), out, -1e300)


def _loglik(a: float, b: float, log_s: float, obs: dict[str, np.ndarray]) -> float:
    """Censored normal log-likelihood (M3): density, left tail, or interval probability."""
    if not -50.0 < log_s < 50.0:
        return -1e300
    s = math.exp(log_s)
    mu = a + b * obs["t"]
    ll = 0.0
    e = obs["exact"]
    if e.any():
        z = (obs["y"][e] - mu[e]) / s
        ll += float(np.sum(-0.5 * z * z)) - int(e.sum()) * (log_s + _HALF_LOG_2PI)
    lf = obs["left"]
    if lf.any():
        ll += float(np.sum(log_ndtr((obs["hi"][lf] - mu[lf]) / s)))
    iv = obs["interval"]
    if iv.any():
        ll += float(np.sum(_log_interval((obs["lo"][iv] - mu[iv]) / s,
                                         (obs["hi"][iv] - mu[iv]) / s)))
    return ll if math.isfinite(ll) else -1e300


def _minimize(nll: Any, x0: np.ndarray, *, floor_index: int, floor: float,
              polish: bool = False) -> tuple[np.ndarray, float, bool]:
    """Minimise ``nll`` over parameters whose ``floor_index`` entry is a log-SD >= ``floor``.

    The bound is a smooth reparametrisation (``log s = logaddexp(floor, u)``) so that an
    unconstrained quasi-Newton method (BFGS) applies; ``polish`` adds a Nelder-Mead pass.
    (No L-BFGS-B: its BLAS calls oversubscribe small shared machines.)
    """

    def to_internal(x: np.ndarray) -> np.ndarray:
        z = np.array(x, dtype=float)
        v = float(z[floor_index])
        z[floor_index] = math.log(math.expm1(v - floor)) + floor if v > floor + 1e-9 else floor - 5.0
        return z

    def to_external(z: np.ndarray) -> np.ndarray:
        x = np.array(z, dtype=float)
        x[floor_index] = float(np.logaddexp(floor, z[floor_index]))
        return x

    def f(z: np.ndarray) -> float:
        return float(nll(to_external(z)))

    z0 = to_internal(x0)
    with np.errstate(over="ignore", invalid="ignore"):
        res = minimize(f, z0, method="BFGS", options={"gtol": 1e-7})
        z, val, ok = res.x, float(res.fun), bool(res.success)
        if polish:
            nm = minimize(f, z, method="Nelder-Mead",
                          options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 4000})
            if nm.fun <= val:
                z, val, ok = nm.x, float(nm.fun), bool(nm.success or ok)
    return to_external(z), val, ok or math.isfinite(val)


def lr_threshold(level: float, n_obs: int, calibration: str = "f") -> float:
    """Cut-off of ``2·(ll_hat - prof)`` for a ``level`` interval of one parameter.

    ``chi2``: the asymptotic χ²₁ quantile. ``f``: the small-sample calibration exact for a
    Gaussian linear model with unknown σ (LR = n·log(1 + F/(n - 2)), F ~ F(1, n - 2); e.g.
    Venzon & Moolgavkar, Appl Stat 1988;37:87 for profile intervals; the F form is the classical
    regression result), with ``n_obs`` observations of which censored ones count fully.
    """
    # quantiles from scipy.special, as scipy.stats computes them (chi2.ppf(q, k) =
    # 2·gammaincinv(k/2, q); f.ppf(q, m, n) = fdtri(m, n, q)), without importing scipy.stats
    if calibration == "chi2" or n_obs <= 2:
        return float(2.0 * gammaincinv(0.5, level)) if calibration == "chi2" else math.inf
    if calibration != "f":
        raise ValidationError(f"calibration must be one of chi2, f, but was {calibration!r}")
    df = n_obs - 2
    return float(n_obs * math.log1p(fdtri(1, df, level) / df))


def _profile_interval(prof: Any, x_hat: float, ll_hat: float, q: float, *, step: float,
                      lower: float, upper: float) -> tuple[float | None, float | None]:
    """Where ``2·(ll_hat - prof(x))`` reaches ``q`` (see :func:`lr_threshold`) on each side of
    ``x_hat``."""

    def g(x: float) -> float:
        return 2.0 * (ll_hat - prof(x)) - q

    out: list[float | None] = []
    for sign, limit in ((-1.0, lower), (1.0, upper)):
        inner, d = x_hat, step
        found = None
        for _ in range(60):
            x = x_hat + sign * d
            if (sign < 0 and x < limit) or (sign > 0 and x > limit):
                x = limit
            if g(x) > 0:
                found = brentq(g, min(inner, x), max(inner, x), xtol=step * 1e-3)
                break
            if x == limit:
                break
            inner, d = x, d * 1.6
        out.append(found)
    return out[0], out[1]


def _float_array(v: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if x is None else float(x) for x in v], dtype=float)


def _censored_observations(
    days: Sequence[float],
    kind: Sequence[ObsKind],
    y: Sequence[float | None],
    lo: Sequence[float | None],
    hi: Sequence[float | None],
    censoring: str,
) -> tuple[dict[str, np.ndarray], float, float]:
    """Checked observations on a centred, scaled time axis: (obs, centre, scale)."""
    t = np.asarray(days, dtype=float)
    k = np.asarray(kind)
    if not (len(t) == len(k) == len(y) == len(lo) == len(hi)):
        raise ValidationError("days, kind, y, lo and hi must have the same length, but were "
                              f"{[len(t), len(k), len(y), len(lo), len(hi)]!r}")
    bad = set(k.tolist()) - {"exact", "left", "interval"}
    if bad:
        raise ValidationError(f"kind must be one of exact, left, interval, but was {sorted(bad)[0]!r}")
    if censoring == "drop":
        keep = k == "exact"
        t, k = t[keep], k[keep]
        y = [v for v, m in zip(y, keep, strict=True) if m]
        lo = [v for v, m in zip(lo, keep, strict=True) if m]
        hi = [v for v, m in zip(hi, keep, strict=True) if m]
    elif censoring != "m3":
        raise ValidationError(f"censoring must be one of m3, drop, but was {censoring!r}")
    ya, loa, hia = _float_array(y), _float_array(lo), _float_array(hi)
    exact, left, intv = k == "exact", k == "left", k == "interval"
    if np.any(exact & ~np.isfinite(ya)) or np.any(left & ~np.isfinite(hia)) or \
            np.any(intv & ~(np.isfinite(loa) & np.isfinite(hia))):
        raise ValidationError("every exact observation needs y, every left-censored one hi, and "
                              "every interval one lo < hi")
    n_detect = int(exact.sum() + intv.sum())
    if n_detect < 2 or len(np.unique(t)) < 2:
        raise ValidationError(f"a regrowth fit needs at least 2 detectable observations at 2 "
                              f"distinct times, but had {n_detect}")
    c = float(np.mean(t))
    s = float(max(np.ptp(t), 1.0))
    obs = {"t": (t - c) / s, "y": ya, "lo": loa, "hi": hia, "exact": exact, "left": left,
           "interval": intv}
    return obs, c, s


def _least_squares_start(obs: Mapping[str, np.ndarray]) -> tuple[float, float]:
    """Starting (intercept, slope): least squares on the detectable points (interval midpoints)."""
    exact, intv, ya, loa, hia = obs["exact"], obs["interval"], obs["y"], obs["lo"], obs["hi"]
    ymid = np.where(exact, ya, np.where(intv, (loa + hia) / 2, np.nan))
    m = np.isfinite(ymid)
    if len(np.unique(obs["t"][m])) >= 2:
        b0, a0 = np.polyfit(obs["t"][m], ymid[m], 1)
    else:
        b0, a0 = 0.0, float(np.nanmean(ymid))
    return a0, b0


def fit_censored_loglinear(
    days: Sequence[float],
    kind: Sequence[ObsKind],
    y: Sequence[float | None],
    lo: Sequence[float | None],
    hi: Sequence[float | None],
    *,
    censoring: Literal["m3", "drop"] = "m3",
    sigma_floor: float = 0.1,
    level: float = 0.95,
    interval: bool = True,
    calibration: str = "f",
) -> CensoredFit:
    """Maximum-likelihood ``log10 MRD = a + b·day`` with left/interval censoring (Beal M3/Tobit).

    Parameters
    ----------
    days : time of each observation (days from any reference).
    kind : ``exact`` (``y`` = log10 MRD), ``left`` (below ``hi`` = log10 LoD) or ``interval``
        (between ``lo`` and ``hi``, e.g. positive not quantifiable in [LoD, LoQ]).
    censoring : ``m3`` uses every observation; ``drop`` discards the censored ones (Beal M1,
        shown to be biased; kept for comparison; Ahn JE et al., *J Pharmacokinet Pharmacodyn*
        2008;35:401).
    interval : compute the slope's profile-likelihood interval (``slope_ci``; else ``None``s).

    Returns a :class:`CensoredFit` with the slope's profile-likelihood interval.
    """
    check_positive("sigma_floor", sigma_floor)
    lv = check_positive("level", level)
    if not lv < 1:
        raise ValidationError(f"level must be a number in (0, 1), but was {level!r}")
    obs, c, s = _censored_observations(days, kind, y, lo, hi, censoring)
    exact, left, intv = obs["exact"], obs["left"], obs["interval"]
    a0, b0 = _least_squares_start(obs)
    floor = math.log(sigma_floor)

    def nll(p: np.ndarray) -> float:
        return -_loglik(p[0], p[1], max(p[2], floor), obs)

    x, val, ok = _minimize(nll, np.array([a0, b0, math.log(0.3)]), floor_index=2, floor=floor,
                           polish=True)
    a_s, b_s, ls = float(x[0]), float(x[1]), float(max(x[2], floor))
    ll_hat = -val
    q = lr_threshold(level, int(exact.sum() + left.sum() + intv.sum()), calibration)

    def prof_b(b_day: float) -> float:
        bs = b_day * s

        def nll2(p: np.ndarray) -> float:
            return -_loglik(p[0], bs, max(p[1], floor), obs)

        return -_minimize(nll2, np.array([a_s, ls]), floor_index=1, floor=floor)[1]

    b_day = b_s / s
    step = max(abs(b_day) * 0.1, 1e-4)
    slope_ci: tuple[float | None, float | None] = (None, None)
    if interval:
        slope_ci = _profile_interval(prof_b, b_day, ll_hat, q, step=step,
                                     lower=b_day - 200 * step, upper=b_day + 200 * step)
    return CensoredFit(
        intercept_log10=a_s - b_s * c / s, slope_log10_per_day=b_day, sigma_log10=math.exp(ls),
        loglik=ll_hat, converged=ok, n_exact=int(exact.sum()), n_left=int(left.sum()),
        n_interval=int(intv.sum()), censoring=censoring, slope_ci=slope_ci, level=level,
        calibration=calibration, lr_cutoff=q,
        _obs=obs, _scale=(c, s), _sigma_floor=sigma_floor,
    )


def observations_from_results(results: Sequence[MrdResult], t_ref: dt.date
                              ) -> tuple[list[float], list[ObsKind], list[float | None],
                                         list[float | None], list[float | None]]:
    """MRD results → (days, kind, y, lo, hi) on the log10 scale for the censored fit.

    negative → left-censored below log10 LoD; positive not quantifiable → interval
    [log10 LoD, log10 LoQ] (left-censored below the LoQ when no LoD is known); positive → exact.
    """
    days: list[float] = []
    kinds: list[ObsKind] = []
    ys: list[float | None] = []
    los: list[float | None] = []
    his: list[float | None] = []
    for r in results:
        if r.date is None:
            raise ValidationError(f"MRD result {r.sample_id or ''} has no date; a course needs dates")
        d = float((r.date - t_ref).days)
        if r.status == "positive" and r.value:
            days.append(d)
            kinds.append("exact")
            ys.append(math.log10(r.value))
            los.append(None)
            his.append(None)
        elif r.status == "positive_not_quantifiable" and r.loq:
            days.append(d)
            if r.lod and r.lod < r.loq:
                kinds.append("interval")
                los.append(math.log10(r.lod))
            else:
                kinds.append("left")
                los.append(None)
            ys.append(None)
            his.append(math.log10(r.loq))
        elif r.status == "positive_not_quantifiable" and r.value:
            days.append(d)  # no LoQ known: use the point estimate
            kinds.append("exact")
            ys.append(math.log10(r.value))
            los.append(None)
            his.append(None)
        elif r.status == "negative" and r.lod:
            days.append(d)
            kinds.append("left")
            ys.append(None)
            los.append(None)
            his.append(math.log10(r.lod))
        # a negative without LoD carries no information for the fit: skipped
    return days, kinds, ys, los, his


def fit_regrowth(results: Sequence[MrdResult], *, censoring: Literal["m3", "drop"] = "m3",
                 sigma_floor: float = 0.1, level: float = 0.95,
                 interval: bool = True, calibration: str = "f") -> tuple[CensoredFit, dt.date]:
    """Censored log-linear fit of MRD results of **one** method; returns (fit, reference date).

    Raises ValidationError when the results mix methods (methods are never pooled silently).
    """
    methods = {r.method for r in results}
    if len(methods) > 1:
        raise ValidationError(f"results must come from one method, but were {sorted(methods)!r}")
    dated = [r for r in results if r.date is not None]
    if not dated:
        raise ValidationError("results must have dates, but none had")
    t_ref = min(r.date for r in dated if r.date is not None)
    fit = fit_censored_loglinear(*observations_from_results(dated, t_ref), censoring=censoring,
                                 sigma_floor=sigma_floor, level=level, interval=interval,
                                 calibration=calibration)
    return fit, t_ref


class RegrowthFit:
    """Fit-style wrapper of :func:`fit_regrowth`: ``RegrowthFit().fit(results)``.

    Fitted attributes: ``fit_`` (:class:`CensoredFit`), ``t_ref_``, ``doubling_time_days_``.
    """

    def __init__(self, *, censoring: Literal["m3", "drop"] = "m3", sigma_floor: float = 0.1,
                 level: float = 0.95) -> None:
        self.censoring, self.sigma_floor, self.level = censoring, sigma_floor, level

    def fit(self, results: Sequence[MrdResult]) -> RegrowthFit:
        self.fit_, self.t_ref_ = fit_regrowth(results, censoring=self.censoring,
                                              sigma_floor=self.sigma_floor, level=self.level)
        self.doubling_time_days_ = self.fit_.doubling_time_days
        return self

    def date_reaching(self, fraction: float) -> dt.date | None:
        d = self.fit_.day_reaching(fraction)
        return None if d is None else self.t_ref_ + dt.timedelta(days=round(d))


# -- the course ----------------------------------------------------------------------------------


def response_category(r: MrdResult, rules: Mapping[str, Rule] | None = None) -> str:
    """Gökbuget 2021 category of one result: MRD_CR, MRD_failure, MRD_intermediate or indeterminate."""
    ru = rules or COURSE_RULES
    neg_lod = float(ru["negativity_max_lod"].value)
    fail = float(ru["mrd_failure_threshold"].value)
    if r.status == "negative":
        return "MRD_CR" if r.lod is not None and r.lod <= neg_lod else "MRD_intermediate"
    if r.status == "positive":
        return "MRD_failure" if (r.value or 0) >= fail else "MRD_intermediate"
    # positive, not quantifiable: below the LoQ
    if r.loq is not None and r.loq <= fail:
        return "MRD_intermediate"
    return "indeterminate"


def _detectable(r: MrdResult) -> bool:
    return r.status in ("positive", "positive_not_quantifiable")


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def _point(r: MrdResult) -> dict[str, Any]:
    return {"date": _iso(r.date), "method": r.method, "status": r.status,
            "value": r.value, "lod": r.lod, "loq": r.loq, "marker": r.marker,
            "sample_id": r.sample_id, "source": r.source, "timepoint": r.timepoint,
            "display": format_mrd(r.status, r.value, r.lod, r.loq)}


def _regrowth_window(series: list[MrdResult], lead: int) -> tuple[list[MrdResult], str]:
    """The latest regrowth stretch of one method's series (see module docstring)."""
    last_det = max((i for i, r in enumerate(series) if _detectable(r)), default=None)
    if last_det is None:
        return [], "no detectable result"
    negs = [i for i, r in enumerate(series[:last_det]) if r.status == "negative"]
    if negs:
        start = negs[-1]
        n = 1
        while n < lead and start - 1 >= 0 and series[start - 1].status == "negative":
            start -= 1
            n += 1
        return series[start:], f"from the last negative result(s) before regrowth ({n} kept censored)"

    def level(r: MrdResult) -> float:
        return r.value if r.status == "positive" and r.value else (r.loq or r.value or 1.0)

    levels = [level(r) for r in series]
    low = min(levels)
    start = max(i for i, v in enumerate(levels) if v == low)
    return series[start:], "from the nadir of the series"


def _fit_method(method: str, series: list[MrdResult], rules: Mapping[str, Rule]) -> dict[str, Any]:
    out: dict[str, Any] = {"method": method, "censoring": "m3 (Tobit)", "reasons": []}
    window, why = _regrowth_window(series, int(rules["fit_lead_negatives"].value))
    out["window_rule"] = why
    n_det = sum(1 for r in window if _detectable(r))
    need = int(rules["min_fit_points"].value)
    if not window or window[-1] is not series[-1] or not _detectable(series[-1]):
        out["reasons"].append("the latest result of this method is not detectable: no regrowth to fit")
        out["fitted"] = False
        return out
    if len(window) < need or n_det < 2:
        out["reasons"].append(f"{len(window)} result(s) ({n_det} detectable) in the regrowth "
                              f"window; a fit needs {need} with >= 2 detectable (rule min_fit_points)")
        out["fitted"] = False
        return out
    level = float(rules["interval_level"].value)
    try:
        fit, t_ref = fit_regrowth(window, sigma_floor=float(rules["sigma_floor_log10"].value),
                                  level=level, calibration=str(rules["interval_calibration"].value))
    except ValidationError as exc:
        out["reasons"].append(str(exc))
        out["fitted"] = False
        return out
    assert window[0].date is not None and window[-1].date is not None
    last_day = float((window[-1].date - t_ref).days)

    def date_of(day: float | None) -> str | None:
        return None if day is None else (t_ref + dt.timedelta(days=round(day))).isoformat()

    out.update({
        "fitted": True,
        "window": [window[0].date.isoformat(), window[-1].date.isoformat()],
        "n_points": len(window), "n_quantifiable": fit.n_exact, "n_below_lod": fit.n_left,
        "n_not_quantifiable": fit.n_interval,
        "slope_log10_per_day": fit.slope_log10_per_day,
        "slope_log10_per_day_ci": list(fit.slope_ci),
        "growth_rate_per_day": fit.growth_rate_per_day,
        "doubling_time_days": fit.doubling_time_days,
        "doubling_time_days_ci": list(fit.doubling_time_ci),
        "sigma_log10": fit.sigma_log10, "loglik": fit.loglik, "converged": fit.converged,
        "interval_level": level, "interval_method": f"profile likelihood ({fit.calibration} calibration)",
        "reference_date": t_ref.isoformat(),
        "line": {"intercept_log10_at_reference": fit.intercept_log10,
                 "slope_log10_per_day": fit.slope_log10_per_day},
    })
    if fit.slope_log10_per_day <= 0:
        out["reasons"].append("fitted slope <= 0: MRD is not growing; no doubling time, no projection")
        out["projection"] = None
        return out
    m_rel = float(rules["relapse_blast_fraction"].value)
    horizon = float(rules["projection_horizon_days"].value)
    t_star = fit.day_reaching(m_rel)
    assert t_star is not None
    lo, hi = fit.day_reaching_interval(m_rel, lower=float(-horizon), upper=last_day + horizon)
    out["projection"] = {
        "threshold_fraction": m_rel, "date": date_of(t_star),
        "ci_low": date_of(lo), "ci_high": date_of(hi), "level": level,
        "interval_method": f"profile likelihood ({fit.calibration} calibration)",
        "days_after_last_result": t_star - last_day,
        "last_result_date": window[-1].date.isoformat(),
        "already_reached": t_star <= last_day,
        "note": ("an interval end reported as null lies beyond the projection horizon "
                 f"({horizon:g} days) or could not be bounded"),
    }
    if fit.n_exact < 4:
        out["reasons"].append(f"only {fit.n_exact} quantifiable result(s) in the fit: the doubling "
                              "time and projection are imprecise")
    return out


def _material(r: MrdResult) -> str:
    return r.material or "unspecified"


def _conversions(rs: list[MrdResult]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Negative -> detectable conversions of one material's series, and the first quantifiable
    recurrence after negativity (GMALL trigger; Raff, Blood 2007;109:910)."""
    out: list[dict[str, Any]] = []
    last_neg: MrdResult | None = None
    seen_negative = False
    qr = None
    for r in rs:
        if r.status == "negative":
            last_neg, seen_negative = r, True
            continue
        if not seen_negative:
            continue
        if last_neg is not None:
            conv = {"date": _iso(r.date), "method": r.method, "material": _material(r),
                    "status": r.status, "display": format_mrd(r.status, r.value, r.lod, r.loq),
                    "after_negative": _iso(last_neg.date), "negative_method": last_neg.method,
                    "negative_lod": last_neg.lod, "method_change": r.method != last_neg.method}
            if conv["method_change"]:
                conv["note"] = ("the negative and the positive come from different methods; the "
                                "conversion may reflect the sensitivity difference")
            out.append(conv)
            last_neg = None
        if r.status == "positive" and qr is None:
            qr = {"date": _iso(r.date), "method": r.method, "material": _material(r), "value": r.value,
                  "source": "Raff, Blood 2007;109:910 (GMALL: recurrence of quantifiable MRD)"}
    return out, qr


def _molecular_relapse(rs: list[MrdResult], thr: float, confirm: bool,
                       relapses: Sequence[dt.date]) -> dict[str, Any]:
    """Molecular relapse in one material: after negativity, MRD >= ``thr``, confirmed by a
    **later** sample >= ``thr`` (any method; a second method on the same day never confirms),
    or by a clinical relapse recorded after it."""
    out: dict[str, Any] = {"detected": False, "status": "none"}
    seen_negative = False
    for r in rs:
        if r.status == "negative":
            seen_negative = True
            continue
        if not seen_negative or r.status != "positive" or (r.value or 0) < thr or r.date is None:
            continue
        base = {"date": _iso(r.date), "method": r.method, "material": _material(r), "value": r.value}
        if not confirm:
            return {**base, "detected": True, "status": "confirmed", "confirmation": "not required"}
        later = [x for x in rs if x.date is not None and x.date > r.date]
        same_day = [x for x in rs if x is not r and x.date == r.date and x.method != r.method]
        if later:
            nxt = later[0]
            if nxt.status == "positive" and (nxt.value or 0) >= thr:
                return {**base, "detected": True, "status": "confirmed", "confirmed_on": _iso(nxt.date),
                        "confirmed_by": nxt.method, "confirmation": "second sample taken later"}
            continue  # the next sample did not confirm: look for a later episode
        clinical = [d for d in relapses if d >= r.date]
        if clinical:
            return {**base, "detected": True, "status": "confirmed", "confirmed_on": _iso(clinical[0]),
                    "confirmed_by": "clinical relapse", "confirmation": "clinical relapse recorded later"}
        out = {**base, "detected": False, "status": "awaiting_confirmation",
               "confirmation": "needs a second sample taken later"}
        if same_day:
            out["note"] = (f"a {', '.join(sorted({x.method for x in same_day}))} result of the same day "
                           "does not confirm: confirmation needs a second sample taken later")
    return out


def _progression(rs: list[MrdResult], method: str, material: str, inc: float) -> list[dict[str, Any]]:
    """Rises of >= ``inc`` log10 within one method and material while MRD stays detectable.

    The low point may be positive-not-quantifiable: its LoQ (an upper bound of its level) is used,
    so the rise is a lower bound. A negative result ends the stretch (that is conversion).
    """
    out: list[dict[str, Any]] = []
    low: tuple[MrdResult, float] | None = None
    for r in rs:
        if r.status == "negative":
            low = None
            continue
        level = r.value if r.status == "positive" else (r.loq or r.value)
        if not level:
            continue
        if r.status == "positive" and low is not None and math.log10(level / low[1]) >= inc - 1e-12:
            out.append({"method": method, "material": material, "from_date": _iso(low[0].date),
                        "to_date": _iso(r.date), "from_value": low[1],
                        "from_status": low[0].status, "to_value": r.value,
                        "log_increase": math.log10(level / low[1]),
                        "bound": "exact" if low[0].status == "positive" else "at_least"})
            low = (r, level)
        elif low is None or level < low[1]:
            low = (r, level)
    return out


def _summarise_molecular(by_material: Mapping[str, dict[str, Any]], progression: list[dict[str, Any]],
                         thr: float, confirm: bool) -> dict[str, Any]:
    """One case-level molecular-relapse record: the earliest confirmed (else awaiting) episode over
    materials; without one, MRD progression of never-negative MRD is reported as such."""
    eps = [m for m in by_material.values() if m["status"] != "none"]
    eps.sort(key=lambda m: (m["status"] != "confirmed", m.get("date") or ""))
    base = {"threshold": thr, "require_confirmation": confirm,
            "rule": "molecular_relapse_threshold after negativity, confirmed by a second sample "
                    "taken later (or a recorded clinical relapse); materials never pooled"}
    if eps:
        return {**base, **eps[0]}
    if progression:
        p = progression[0]
        return {**base, "detected": False, "status": "progression", "date": p["to_date"],
                "method": p["method"], "material": p["material"],
                "note": f"MRD progression: +{p['log_increase']:.1f} log ({p['from_date']} -> "
                        f"{p['to_date']}) without prior negativity"}
    return {**base, "detected": False, "status": "none"}


def _cross_material(series: list[MrdResult]) -> list[dict[str, Any]]:
    """Consecutive results in different materials: shown as a labelled comparison only."""
    out = []
    for a, b in itertools.pairwise(series):
        if _material(a) != _material(b):
            out.append({"from_date": _iso(a.date), "from_material": _material(a),
                        "to_date": _iso(b.date), "to_material": _material(b),
                        "label": "cross-material comparison (bone marrow and peripheral blood MRD "
                                 "differ by about a log in B-ALL): not a rise or fall"})
    return out


def _alerts(series: Sequence[MrdResult]) -> list[dict[str, Any]]:
    """Emerging non-index clones reported with the NGS results."""
    out = []
    for r in series:
        for e in r.details.get("emerging_clones", []) or []:
            out.append({"date": _iso(r.date), "method": r.method, "material": _material(r),
                        "kind": "emerging_clone", "text": e.get("alert", ""),
                        "fraction": e.get("fraction"), "diagnosis_fraction": e.get("diagnosis_fraction")})
    return out


def _check_fraction_rules(rules: Mapping[str, Rule]) -> None:
    for name in ("negativity_max_lod", "mrd_failure_threshold", "molecular_relapse_threshold",
                 "relapse_blast_fraction"):
        v = rules[name].value
        if not isinstance(v, (int, float)) or not 0 < v <= 1:
            raise ValidationError(f"{name} must be a fraction in (0, 1], but was {v!r}")


def _log_reduction(r: MrdResult, baseline: Baseline | None) -> dict[str, Any] | None:
    """log10 reduction from the baseline (exact, or a bound for PNQ/negative results)."""
    if baseline is not None and baseline.fraction > 0 and r.date is not None \
            and r.date >= baseline.date:
        b = baseline.fraction
        if r.status == "positive" and r.value:
            return {"value": math.log10(b / r.value), "bound": "exact"}
        if r.status == "positive_not_quantifiable" and r.loq:
            return {"value": math.log10(b / r.loq), "bound": "at_least",
                    "at_most": math.log10(b / r.lod) if r.lod else None}
        if r.status == "negative" and r.lod:
            return {"value": math.log10(b / r.lod), "bound": "at_least"}
    return None


def _method_changes(series: list[MrdResult]) -> list[dict[str, Any]]:
    """Dates where the set of methods used differs from the previous date's."""
    by_date: dict[dt.date, set[str]] = {}
    for r in series:
        assert r.date is not None
        by_date.setdefault(r.date, set()).add(r.method)
    dates = sorted(by_date)
    return [
        {"date": d1.isoformat(), "from": sorted(by_date[d0]), "to": sorted(by_date[d1])}
        for d0, d1 in itertools.pairwise(dates) if by_date[d0] != by_date[d1]
    ]


def _time_to_negativity(series: list[MrdResult], baseline: Baseline | None,
                        rules: Mapping[str, Rule]) -> dict[str, Any] | None:
    """Days to the first negative with sufficient sensitivity, from baseline or the first result."""
    neg_lod = float(rules["negativity_max_lod"].value)
    first_neg = next((r for r in series if r.status == "negative" and r.lod is not None
                      and r.lod <= neg_lod), None)
    t0 = baseline.date if baseline else (series[0].date if series else None)
    if first_neg is not None and t0 is not None and first_neg.date is not None:
        return {"days": (first_neg.date - t0).days, "date": _iso(first_neg.date),
                "method": first_neg.method, "lod": first_neg.lod,
                "from": "baseline" if baseline else "first MRD result"}
    return None


def _by_material(series: list[MrdResult], events: Sequence[CourseEvent],
                 rules: Mapping[str, Rule]) -> dict[str, Any]:
    """Conversions, quantifiable recurrence, molecular relapse and progression per material.

    Marrow and blood MRD differ by about a log in B-ALL, so materials are never pooled; within a
    material every method counts.
    """
    by_material: dict[str, list[MrdResult]] = {}
    for r in series:
        by_material.setdefault(_material(r), []).append(r)
    thr = float(rules["molecular_relapse_threshold"].value)
    confirm = bool(rules["molecular_relapse_require_confirmation"].value)
    inc = float(rules["progression_log_increase"].value)
    relapses = sorted(e.date for e in events if e.kind == "relapse")
    conversions: list[dict[str, Any]] = []
    quant_recurrence = None
    progression: list[dict[str, Any]] = []
    molecular_by_material: dict[str, dict[str, Any]] = {}
    for material, rs in sorted(by_material.items()):
        conv, qr = _conversions(rs)
        conversions.extend(conv)
        if qr is not None and (quant_recurrence is None or qr["date"] < quant_recurrence["date"]):
            quant_recurrence = qr
        molecular_by_material[material] = _molecular_relapse(rs, thr, confirm, relapses)
        for method in sorted({r.method for r in rs}):
            progression.extend(_progression([r for r in rs if r.method == method], method, material, inc))
    conversions.sort(key=lambda c: c["date"] or "")
    progression.sort(key=lambda p: p["to_date"] or "")
    return {"materials": sorted(by_material), "conversions": conversions,
            "quantifiable_recurrence": quant_recurrence,
            "molecular_relapse": _summarise_molecular(molecular_by_material, progression, thr, confirm),
            "molecular_relapse_by_material": molecular_by_material, "progression": progression}


def _detectable_after(kind: str, events: Sequence[CourseEvent],
                      series: list[MrdResult]) -> list[dict[str, Any]]:
    """Detectable MRD after the first HSCT / CAR-T event (Blood Adv 2023;7:3395; Pulsipher MA et
    al., Blood Cancer Discov 2022;3:66)."""
    dates = [e.date for e in events if e.kind == kind]
    if not dates:
        return []
    first = min(dates)
    return [{"date": _iso(r.date), "method": r.method,
             "display": format_mrd(r.status, r.value, r.lod, r.loq)}
            for r in series if r.date is not None and r.date > first and _detectable(r)]


def _fits_and_headline(series: list[MrdResult],
                       rules: Mapping[str, Rule]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One regrowth fit per (method, material) series, and the headline fit among them."""
    by_series: dict[tuple[str, str], list[MrdResult]] = {}
    for r in series:
        by_series.setdefault((r.method, _material(r)), []).append(r)
    fits = []
    for (m, mat), rs in sorted(by_series.items()):
        f = _fit_method(m, rs, rules)
        f["material"] = mat
        fits.append(f)
    fitted = [f for f in fits if f.get("fitted") and f.get("projection")]
    headline = None
    if fitted:
        best = max(fitted, key=lambda f: (f["window"][1], f["n_quantifiable"]))
        headline = {"method": best["method"], "doubling_time_days": best["doubling_time_days"],
                    "doubling_time_days_ci": best["doubling_time_days_ci"],
                    "projection": best["projection"],
                    "material": best["material"],
                    "why": "the fit with the most recent result (then most quantifiable results); "
                           "fits of different methods or materials are never pooled"}
    return fits, headline


def _latest_response(latest: MrdResult | None, rules: Mapping[str, Rule]) -> dict[str, Any] | None:
    if latest is None:
        return None
    latest_response: dict[str, Any] = {
        "date": _iso(latest.date), "method": latest.method, "material": _material(latest),
        "category": response_category(latest, rules),
        "note": "MRD response is only evaluable in haematological CR (Gökbuget, Hematology "
                "ASH Educ Program 2021)"}
    caveat = latest.details.get("marker_caveat")
    if caveat:
        latest_response["caveat"] = caveat
        latest_response["plain_response"] = False
    return latest_response


def analyze_course(
    mrd: Sequence[MrdResult],
    *,
    baseline: Baseline | None = None,
    events: Sequence[CourseEvent] = (),
    parameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole MRD course of one patient (JSON-ready dict; see the module docstring).

    ``mrd``: every MRD result of the case, any method (computed and reported), with dates.
    ``events``: therapies, HSCT, CAR-T infusions and relapses (for markers and flags).

    See Also
    --------
    fit_censored_loglinear : the regrowth fit.
    """
    rules = resolve(COURSE_RULES, parameters)
    _check_fraction_rules(rules)
    warnings: list[str] = []
    undated = [r for r in mrd if r.date is None]
    if undated:
        warnings.append(f"{len(undated)} MRD result(s) without a date left out of the course")
    series = sorted((r for r in mrd if r.date is not None and r.status != "not_evaluable"),
                    key=lambda r: (r.date, r.method, r.sample_id or ""))
    points = [_point(r) for r in series]
    for p, r in zip(points, series, strict=True):
        p["response"] = response_category(r, rules)
        p["log_reduction"] = _log_reduction(r, baseline)
    material = _by_material(series, events, rules)
    cross = _cross_material(series)
    fits, headline = _fits_and_headline(series, rules)
    latest = series[-1] if series else None
    alerts = _alerts(series)
    read_fractions = [r for r in mrd if r.status == "not_evaluable" and r.details.get("quantity") == "read_fraction"]
    if read_fractions:
        warnings.append(f"{len(read_fractions)} NGS result(s) are read fractions (no DNA input or "
                        "spike-in): not used as MRD")
        alerts.extend(_alerts(sorted((r for r in read_fractions if r.date is not None),
                                     key=lambda r: r.date or dt.date.min)))
    return {
        "n_results": len(series),
        "methods": sorted({r.method for r in series}),
        "points": points,
        "baseline": None if baseline is None else {"date": baseline.date.isoformat(),
                                                   "fraction": baseline.fraction,
                                                   "source": baseline.source},
        "method_changes": _method_changes(series),
        "time_to_negativity": _time_to_negativity(series, baseline, rules),
        "materials": material["materials"],
        "latest_response": _latest_response(latest, rules),
        "alerts": alerts,
        "cross_material": cross,
        "mrd_failure": bool(latest is not None and response_category(latest, rules) == "MRD_failure"),
        "conversions": material["conversions"],
        "quantifiable_recurrence": material["quantifiable_recurrence"],
        "molecular_relapse": material["molecular_relapse"],
        "molecular_relapse_by_material": material["molecular_relapse_by_material"],
        "progression": material["progression"],
        "detectable_after_hsct": _detectable_after("hsct", events, series),
        "detectable_after_cart": _detectable_after("cart", events, series),
        "fits": fits,
        "headline": headline,
        "events": [{"kind": e.kind, "date": e.date.isoformat(), "end": _iso(e.end),
                    "label": e.label} for e in sorted(events, key=lambda e: e.date)],
        "rules": [r.as_dict() for r in rules.values()],
        "rests_on": rests_on(rules.values()),
        "warnings": warnings,
    }
