"""Calibrate a virtual patient to one patient's MRD course, CAR-T kinetics and B-cell aplasia.

Unknowns: the leukaemic fraction at the first MRD result (log10, uniform prior over
``fit_log10_burden_range``), the leukaemia doubling time (log-normal prior of the rules) and,
when CD19-directed therapy (CAR-T, blinatumomab) falls in the fitted window, the CD19-negative
share at the first result (log10, uniform over ``fit_log10_cd19neg_range``): MRD that keeps
rising under functional CAR-T is then explained by CD19-negative cells, as in antigen escape.
The patient's own treatments (chemotherapy, blinatumomab, inotuzumab, CAR-T, HSCT dates) are
replayed by the simulator. CAR-T kinetics enter through the Stein 2019 individual parameters: the
censored MAP fit of :func:`remission.cart.kinetics.fit_stein` when transgene data exist (held
fixed: the uncertainty of the kinetic parameters is not propagated), else draws from the Stein
population; B-cell observations (aplastic or not) enter the likelihood with a misclassification
probability ``fit_bca_misclassification`` and weight the draws' CAR-T function: a product that
does not work leaves B cells, so observed aplasia speaks against it (and, with population draws,
for a persistence long enough).

Likelihood of MRD: censored normal on log10 MRD (Beal M3 / Tobit; Ahn et al., J Pharmacokinet
Pharmacodyn 2008;35:401): a quantified result contributes the density, a negative result the
probability of lying below its LoD, a positive-not-quantifiable result the probability of
``[LoD, LoQ]`` — censored values are never replaced by numbers.

Why importance sampling and not MCMC or a Laplace approximation: the posterior has two
dimensions; the simulator is vectorised over patients, so thousands of prior draws cost one
simulation; the model has kinks (treatment pulses, the relapse threshold, Poisson steps at small
numbers) that break the gradients a Laplace approximation or HMC needs; and a random-walk
MCMC would run the simulator serially. We use **adaptive importance sampling** (two rounds of
population Monte Carlo; Cappé O et al., J Comput Graph Stat 2004;13:907): round 1 samples the
prior, round 2 a Gaussian fitted to the weighted round-1 draws (covariance inflated ×2) mixed
with the prior (defensive mixture, 20 %), then sampling-importance-resampling to posterior
draws. The effective sample size is reported; a low ESS is a warning in the result.

See Also
--------
recovery_study : coverage of true parameters and relapse time on simulated patients.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import log_ndtr

from remission.domain.parameters import Rule
from remission.errors import ValidationError
from remission.sim.measure import STATUS_NEGATIVE, STATUS_PNQ, measure_mrd
from remission.sim.model import (
    STEIN_KEYS,
    Schedule,
    SimResult,
    VirtualPatients,
    cart_log_level,
    simulate,
)
from remission.sim.parameters import resolve_sim, value

__all__ = ["MrdObservations", "SimFit", "TreatmentHistory", "fit_patient", "recovery_study"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class MrdObservations:
    """MRD on log10 scale: kind ``exact`` (y), ``left`` (below hi) or ``interval`` [lo, hi]."""

    days: np.ndarray
    kind: np.ndarray  # 0 exact, 1 left-censored, 2 interval-censored
    y: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def from_lists(cls, days: Sequence[float], kinds: Sequence[str], y: Sequence[float | None],
                   lo: Sequence[float | None], hi: Sequence[float | None]) -> MrdObservations:
        """From the lists of :func:`remission.mrd.course.observations_from_results`."""
        code = {"exact": 0, "left": 1, "interval": 2}

        def arr(v: Sequence[float | None]) -> np.ndarray:
            return np.array([np.nan if x is None else float(x) for x in v])

        k = np.array([code[x] for x in kinds], dtype=int)
        return cls(np.asarray(days, dtype=float), k, arr(y), arr(lo), arr(hi))

    @property
    def n(self) -> int:
        return int(self.days.shape[0])


@dataclass(frozen=True)
class TreatmentHistory:
    """Days (relative to the first MRD result) of the treatments the patient actually had."""

    chemo_days: tuple[float, ...] = ()
    blina_days: tuple[float, ...] = ()
    ino_days: tuple[float, ...] = ()
    cart_day: float | None = None
    hsct_day: float | None = None

    def schedule(self, n: int) -> Schedule:
        def rows(v: tuple[float, ...]) -> np.ndarray:
            return np.tile(np.array(v if v else (np.nan,), dtype=float), (n, 1))

        return Schedule(rows(self.chemo_days), rows(self.blina_days), rows(self.ino_days),
                        np.full(n, np.nan if self.cart_day is None else float(self.cart_day)),
                        np.full(n, np.nan if self.hsct_day is None else float(self.hsct_day)))


@dataclass(frozen=True)
class SimFit:
    """Posterior draws of one patient and the fit beside the data (days from the first result)."""

    log10_burden0: np.ndarray
    doubling_days: np.ndarray
    now_day: int
    patients_now: VirtualPatients  # posterior draws, state on ``now_day`` (for projections)
    ess: float
    n_proposals: int
    band_days: np.ndarray
    band_log10: dict[str, np.ndarray]
    observations: MrdObservations
    method: str
    warnings: tuple[str, ...] = ()
    cart_stein: dict[str, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        q = _quantiles
        return {
            "label": "model projection",
            "method": self.method,
            "posterior_draws": int(self.doubling_days.shape[0]),
            "proposals": self.n_proposals,
            "effective_sample_size": self.ess,
            "doubling_time_days": q(self.doubling_days),
            "log10_mrd_at_first_result": q(self.log10_burden0),
            "log10_mrd_now": q(np.log10(np.maximum(self.patients_now.burden0, 1e-12))),
            "share_extinct_now": float(np.mean(self.patients_now.burden0 <= 0)),
            "now_day": self.now_day,
            "cart_stein_parameters": self.cart_stein,
            "fit_band": {"days": self.band_days.tolist(),
                         **{k: v.tolist() for k, v in self.band_log10.items()}},
            "warnings": list(self.warnings),
            **self.extra,
        }


def _loglik(log10_f: np.ndarray, obs: MrdObservations, sigma: float) -> np.ndarray:
    """Censored log-likelihood per draw; ``log10_f`` has shape (draws, n_obs), -inf = extinct."""
    ll = np.zeros(log10_f.shape[0])
    ext = ~np.isfinite(log10_f)
    mu = np.where(ext, -30.0, log10_f)
    for j in range(obs.n):
        k = obs.kind[j]
        if k == 0:
            z = (obs.y[j] - mu[:, j]) / sigma
            ll += -0.5 * z * z - math.log(sigma) - _HALF_LOG_2PI
        elif k == 1:
            ll += log_ndtr((obs.hi[j] - mu[:, j]) / sigma)
        else:
            zh = (obs.hi[j] - mu[:, j]) / sigma
            zl = (obs.lo[j] - mu[:, j]) / sigma
            with np.errstate(divide="ignore"):
                p = np.exp(log_ndtr(zh)) - np.exp(log_ndtr(zl))
                ll += np.log(np.maximum(p, 1e-300))
    return ll


def fit_patient(obs: MrdObservations, *, seed: int, history: TreatmentHistory | None = None,
                stein: Mapping[str, float] | None = None,
                bca: Sequence[tuple[float, bool]] = (), now_day: int | None = None,
                n_proposals: int = 4000, n_draws: int = 1000,
                rules: Mapping[str, Rule] | None = None) -> SimFit:
    """Posterior draws of (log10 MRD at day 0, doubling time) given the censored MRD course.

    Parameters
    ----------
    obs
        MRD observations (days from the first result; log10 scale).
    history
        The patient's treatments (days on the same scale); replayed in every draw.
    stein
        Individual Stein 2019 parameters (e.g. a :func:`~remission.cart.kinetics.fit_stein`
        MAP); default population draws.
    bca
        ``(day, aplastic)`` B-cell observations after CAR-T.
    now_day
        Day whose state starts projections (default: the last observation).

    Steps: :class:`_FitPrior` (prior over the parameters), :class:`_FitModel` (simulate and score
    proposals), :func:`_importance_sample` (two rounds), then the summaries
    (:func:`_fit_band`, :func:`_patients_now`, :func:`_cd19neg_summary`).
    """
    r = resolve_sim() if rules is None else rules
    _check_fit_inputs(obs, n_proposals, n_draws)
    hist = history or TreatmentHistory()
    last = math.ceil(obs.days.max())
    now = last if now_day is None else int(now_day)
    horizon = max(last, now, 1)  # one result only (e.g. the latest is negative): simulate a day
    ss = np.random.SeedSequence(seed)
    rngs = [np.random.default_rng(c) for c in ss.spawn(4)]
    # with CD19-directed therapy in the window the CD19-negative share is identifiable: fit it
    neg_dim = hist.cart_day is not None or bool(hist.blina_days)
    prior = _FitPrior.from_rules(r, neg_dim)
    model = _FitModel(r, obs, hist, stein, tuple(bca), now, horizon, neg_dim)
    x2, w, res2, pts2 = _importance_sample(prior, model, n_proposals, rngs)
    ess = float(1.0 / np.sum(w * w))
    idx = _systematic(w, n_draws, rngs[3])
    assert res2.trajectory is not None
    band_days, band = _fit_band(res2.trajectory[idx], horizon)
    now_pts = _patients_now(res2, pts2, idx)
    warnings = []
    if ess < 50:
        warnings.append(f"effective sample size {ess:.0f} is small: the posterior may be poorly resolved")
    extra = _cd19neg_summary(x2[idx, 2], now_pts) if neg_dim else {}
    return SimFit(x2[idx, 0], np.exp(x2[idx, 1]), now, now_pts, ess, n_proposals, band_days, band, obs,
                  "adaptive importance sampling (2 rounds) + resampling; censored log10-normal MRD likelihood",
                  tuple(warnings), dict(stein) if stein is not None else None, extra)


def _check_fit_inputs(obs: MrdObservations, n_proposals: int, n_draws: int) -> None:
    if obs.n == 0:
        raise ValidationError("obs must hold at least one MRD result, but was empty")
    if np.any(np.diff(obs.days) < 0) or obs.days[0] < 0:
        raise ValidationError("obs.days must be >= 0 and in date order, but were not")
    if n_proposals < 100 or n_draws < 10:
        raise ValidationError(f"n_proposals must be >= 100 and n_draws >= 10, but were {n_proposals!r}, {n_draws!r}")


@dataclass(frozen=True)
class _FitPrior:
    """Prior of (log10 burden at day 0, log doubling time[, log10 CD19-negative share]): uniform, normal, uniform."""

    lo_b: float
    hi_b: float
    td_med: float
    td_sd: float
    neg_dim: bool
    lo_n: float
    hi_n: float

    @classmethod
    def from_rules(cls, r: Mapping[str, Rule], neg_dim: bool) -> _FitPrior:
        lo_b, hi_b = (float(x) for x in value(r, "fit_log10_burden_range"))
        lo_n, hi_n = (float(x) for x in value(r, "fit_log10_cd19neg_range"))
        return cls(lo_b, hi_b, math.log(value(r, "doubling_time_median_days")), value(r, "doubling_time_sdlog"),
                   neg_dim, lo_n, hi_n)

    def draw(self, k: int, rng: np.random.Generator) -> np.ndarray:
        cols = [rng.uniform(self.lo_b, self.hi_b, k), self.td_med + self.td_sd * rng.normal(size=k)]
        if self.neg_dim:
            cols.append(rng.uniform(self.lo_n, self.hi_n, k))
        return np.column_stack(cols)

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        lo_b, hi_b, td_sd = self.lo_b, self.hi_b, self.td_sd
        inside = (x[:, 0] >= lo_b) & (x[:, 0] <= hi_b)
        z = (x[:, 1] - self.td_med) / td_sd
        lp = np.where(inside, -math.log(hi_b - lo_b), -np.inf) - 0.5 * z * z - math.log(td_sd) - _HALF_LOG_2PI
        if self.neg_dim:
            lo_n, hi_n = self.lo_n, self.hi_n
            lp = lp + np.where((x[:, 2] >= lo_n) & (x[:, 2] <= hi_n), -math.log(hi_n - lo_n), -np.inf)
        return lp


@dataclass(frozen=True)
class _FitModel:
    """Simulates proposals over the patient's history and scores them against the observations."""

    r: Mapping[str, Rule]
    obs: MrdObservations
    hist: TreatmentHistory
    stein: Mapping[str, float] | None
    bca: tuple[tuple[float, bool], ...]
    now: int
    horizon: int
    neg_dim: bool

    def run(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, SimResult, VirtualPatients]:
        """Log-likelihood of each proposal row of ``x``, with its simulation and patients."""
        r, m = self.r, x.shape[0]
        neg = 10.0 ** np.minimum(x[:, 2], 0.0) if self.neg_dim else None
        pts = VirtualPatients.sample(m, rng, r, burden0=10.0 ** x[:, 0], doubling_time_days=np.exp(x[:, 1]),
                                     cd19neg_fraction0=neg)
        if self.stein is not None:
            pts = VirtualPatients(pts.burden0, pts.growth_per_day, pts.cd19neg_fraction0, pts.cd22low_fraction0,
                                  {k: np.full(m, float(self.stein[k])) for k in STEIN_KEYS})
        res = simulate(pts, self.hist.schedule(m), rng, horizon_days=self.horizon, rules=r,
                       assessment_days=[self.now], record=True)
        assert res.trajectory is not None
        with np.errstate(divide="ignore"):
            lf = np.log10(res.trajectory[:, np.round(self.obs.days).astype(int)])
        ll = _loglik(lf, self.obs, value(r, "fit_sigma_log10"))
        if self.bca and self.hist.cart_day is not None:
            self._add_bca_loglik(ll, res, pts, self.hist.cart_day)
        return ll, res, pts

    def _add_bca_loglik(self, ll: np.ndarray, res: SimResult, pts: VirtualPatients, cart_day: float) -> None:
        """Add to ``ll`` the B-cell observations: functional CAR-T or not, misclassified with probability eps."""
        m, eps = pts.n, value(self.r, "fit_bca_misclassification")
        works = res.cart_product_works if res.cart_product_works is not None else np.ones(m, bool)
        for day, aplastic in self.bca:
            tau = np.full(m, float(day) - cart_day)
            func = works & (cart_log_level(tau, pts.stein) >= math.log(value(self.r, "cart_functional_copies")))
            ll += np.where(func == bool(aplastic), math.log1p(-eps), math.log(eps))


def _importance_sample(prior: _FitPrior, model: _FitModel, n_proposals: int, rngs: list[np.random.Generator]
                       ) -> tuple[np.ndarray, np.ndarray, SimResult, VirtualPatients]:
    """Round 1 from the prior; round 2 from a defensive mixture (80 % a Gaussian fitted to round 1,
    20 % the prior). Returns round 2's proposals, normalised weights, simulation and patients."""
    x1 = prior.draw(n_proposals, rngs[0])
    ll1, _, _ = model.run(x1, rngs[1])
    w1 = _normalise(ll1)
    mean = w1 @ x1
    cov = 2.0 * np.cov(x1.T, aweights=w1 + 1e-300) + np.diag(np.full(x1.shape[1], 1e-4))
    n_g = int(0.8 * n_proposals)
    xg = rngs[2].multivariate_normal(mean, cov, size=n_g)
    xp = prior.draw(n_proposals - n_g, rngs[2])
    x2 = np.vstack([xg, xp])
    ll2, res2, pts2 = model.run(x2, rngs[3])
    log_q = np.logaddexp(math.log(0.8) + _mvn_logpdf(x2, mean, cov),
                         math.log(0.2) + prior.log_pdf(x2))
    lw = ll2 + prior.log_pdf(x2) - log_q
    return x2, _normalise(lw), res2, pts2


def _fit_band(traj: np.ndarray, horizon: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Days 0..horizon and the 5/50/95 % quantiles of log10 MRD of the resampled trajectories."""
    with np.errstate(divide="ignore"):
        lt = np.log10(np.maximum(traj, 1e-12))
    band = {"q05": np.quantile(lt, 0.05, axis=0), "q50": np.median(lt, axis=0), "q95": np.quantile(lt, 0.95, axis=0)}
    return np.arange(horizon + 1), band


def _patients_now(res: SimResult, pts: VirtualPatients, idx: np.ndarray) -> VirtualPatients:
    """The resampled draws' state on the ``now`` day (the one assessment day), for projections."""
    neg_share = res.cd19neg_share_at[idx, 0]
    return VirtualPatients(res.burden_at[idx, 0], pts.growth_per_day[idx],
                           np.where(np.isfinite(neg_share), neg_share, 0.0),
                           pts.cd22low_fraction0[idx], {k: v[idx] for k, v in pts.stein.items()})


def _cd19neg_summary(log10_neg0: np.ndarray, now_pts: VirtualPatients) -> dict[str, Any]:
    """Quantiles of the fitted CD19-negative share at the first result and now."""
    return {"log10_cd19neg_fraction_at_first_result": _quantiles(log10_neg0),
            "cd19neg_share_now": _quantiles(now_pts.cd19neg_fraction0)}


def _quantiles(a: np.ndarray) -> dict[str, float]:
    """The 5 %, 50 % and 95 % quantiles of ``a``."""
    return {"q05": float(np.quantile(a, 0.05)), "q50": float(np.median(a)), "q95": float(np.quantile(a, 0.95))}


def _normalise(lw: np.ndarray) -> np.ndarray:
    lw = np.where(np.isfinite(lw), lw, -np.inf)
    mx = np.max(lw)
    if not np.isfinite(mx):
        raise ValidationError("no draw of the prior is compatible with the MRD course (all likelihoods zero)")
    w = np.exp(lw - mx)
    return w / w.sum()


def _mvn_logpdf(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    d = x - mean
    inv = np.linalg.inv(cov)
    _, logdet = np.linalg.slogdet(cov)
    return -0.5 * np.einsum("ij,jk,ik->i", d, inv, d) - 0.5 * logdet - x.shape[1] * _HALF_LOG_2PI


def _systematic(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    pos = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(w), pos), len(w) - 1)


def recovery_study(n_patients: int, *, seed: int, sample_days: Sequence[int] = (0, 28, 56, 84),
                   method: str = "ngs", n_proposals: int = 2000, n_draws: int = 500,
                   rules: Mapping[str, Rule] | None = None, level: float = 0.9) -> dict[str, Any]:
    """Simulate untreated patients with known parameters, fit them, report interval coverage.

    True log10 MRD at day 0 uniform in [-5.5, -4] and doubling time from the prior; MRD sampled
    by the measurement model on ``sample_days``; the projected relapse day is the posterior
    projection under "watch" from the last sample. Coverage = share of patients whose central
    ``level`` interval holds the truth (doubling time; relapse day).
    """
    r = resolve_sim() if rules is None else rules
    ss = np.random.SeedSequence(seed)
    rng_true, rng_sim, rng_meas, rng_fit = (np.random.default_rng(c) for c in ss.spawn(4))
    n = int(n_patients)
    lb = rng_true.uniform(-5.5, -4.0, n)
    truth = VirtualPatients.sample(n, rng_true, r, burden0=10.0 ** lb)
    true_td = math.log(2.0) / truth.growth_per_day
    res = simulate(truth, Schedule.empty(n), rng_sim, horizon_days=730, rules=r, record=True)
    assert res.trajectory is not None
    days = np.asarray(sample_days, dtype=int)
    meas = measure_mrd(res.trajectory[:, days], method, rng_meas, r)
    a = (1.0 - level) / 2.0
    hit_td, hit_rel, widths = [], [], []
    seeds = rng_fit.integers(0, 2**63 - 1, n)
    for i in range(n):  # one fit per simulated patient (each fit is vectorised over its draws)
        kinds: list[str] = []
        y: list[float | None] = []
        lo: list[float | None] = []
        hi: list[float | None] = []
        for j in range(len(days)):
            st = meas.status[i, j]
            if st == STATUS_NEGATIVE:
                kinds.append("left")
                y.append(None)
                lo.append(None)
                hi.append(math.log10(meas.lod))
            elif st == STATUS_PNQ:
                kinds.append("interval")
                y.append(None)
                lo.append(math.log10(meas.lod))
                hi.append(math.log10(meas.loq))
            else:
                kinds.append("exact")
                y.append(math.log10(meas.value[i, j]))
                lo.append(None)
                hi.append(None)
        o = MrdObservations.from_lists(days.tolist(), kinds, y, lo, hi)
        f = fit_patient(o, seed=int(seeds[i]), n_proposals=n_proposals, n_draws=n_draws, rules=r)
        lo_td, hi_td = np.quantile(f.doubling_days, [a, 1 - a])
        hit_td.append(lo_td <= true_td[i] <= hi_td)
        proj = simulate(f.patients_now, Schedule.empty(f.patients_now.n), np.random.default_rng(int(seeds[i]) + 1),
                        horizon_days=730 - f.now_day, rules=r)
        rel = proj.relapse_day + f.now_day
        rel = np.where(np.isnan(rel), np.inf, rel)
        lo_r, hi_r = np.quantile(rel, [a, 1 - a], method="inverted_cdf")
        true_rel = res.relapse_day[i] if np.isfinite(res.relapse_day[i]) else np.inf
        hit_rel.append(lo_r <= true_rel <= hi_r)
        widths.append(float(hi_r - lo_r) if np.isfinite(hi_r) else float("inf"))
    return {
        "label": "model projection (recovery study on simulated patients)",
        "n_patients": n, "seed": seed, "level": level, "method": method, "sample_days": days.tolist(),
        "coverage_doubling_time": float(np.mean(hit_td)),
        "coverage_relapse_day": float(np.mean(hit_rel)),
        "median_relapse_interval_width_days": float(np.median(widths)),
    }
