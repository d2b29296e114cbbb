"""Censored (Tobit / Beal M3) log-linear regrowth fit: hand calculations and seeded courses.

Truth for the synthetic courses comes from ``remission.synth.pcr.simulate_course`` (exponential
regrowth ``log10 MRD = log10 MRD0 + t/Td·log10 2``, log-normal noise, LoD/LoQ censoring).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from remission.errors import ValidationError
from remission.mrd.course import RegrowthFit, _loglik, fit_censored_loglinear, fit_regrowth
from remission.synth.pcr import simulate_course


def test_exact_exponential_gives_exact_doubling_time():
    # log10 MRD = -6 + day·log10(2)/10 at days 0..40, all quantified: slope = 0.0301030/day,
    # Td = log10 2 / slope = 10 days exactly; residual SD 0 -> held at the floor
    days = [0, 10, 20, 30, 40]
    y = [-6 + d * math.log10(2) / 10 for d in days]
    f = fit_censored_loglinear(days, ["exact"] * 5, y, [None] * 5, [None] * 5)
    assert f.slope_log10_per_day == pytest.approx(math.log10(2) / 10, rel=1e-5)
    assert f.doubling_time_days == pytest.approx(10.0, rel=1e-5)
    assert f.intercept_log10 == pytest.approx(-6.0, abs=1e-4)
    assert f.sigma_log10 == pytest.approx(0.1, rel=1e-3)  # the floor (sigma_floor default)
    # reaching 5e-2: day = (log10 0.05 + 6)/0.030103 = 4.69897/0.030103 = 156.1
    assert f.day_reaching(0.05) == pytest.approx(156.096, abs=0.01)


def test_without_censoring_m3_is_least_squares():
    # Hand: days 0,10,20,30; y = -5.0,-4.6,-4.5,-3.9. x̄ = 15, ȳ = -4.5;
    # Sxy = (-15)(-0.5)+(-5)(-0.1)+0+(15)(0.6) = 17; Sxx = 500 -> slope 0.034/day
    # intercept -4.5 - 0.034·15 = -5.01; residuals .01,.07,-.17,.09 -> SSR .042 -> σ_ML = √(.042/4) = .10247
    # Td = log10 2 / 0.034 = 8.8538 d
    f = fit_censored_loglinear([0, 10, 20, 30], ["exact"] * 4, [-5.0, -4.6, -4.5, -3.9],
                               [None] * 4, [None] * 4, sigma_floor=0.01)
    assert f.slope_log10_per_day == pytest.approx(0.034, rel=1e-5)
    assert f.intercept_log10 == pytest.approx(-5.01, abs=1e-5)
    assert f.sigma_log10 == pytest.approx(0.10247, rel=1e-4)
    assert f.doubling_time_days == pytest.approx(8.8538, rel=1e-4)
    lo, hi = f.slope_ci
    assert lo < 0.034 < hi


def test_censored_likelihood_terms_by_hand():
    # one left-censored observation below log10 LoD = -5 with μ = -6, σ = 1: log Φ(1) = log 0.841345
    obs = {"t": np.array([0.0]), "y": np.array([np.nan]), "lo": np.array([np.nan]),
           "hi": np.array([-5.0]), "exact": np.array([False]), "left": np.array([True]),
           "interval": np.array([False])}
    assert _loglik(-6.0, 0.0, 0.0, obs) == pytest.approx(math.log(0.841345), abs=1e-6)
    # interval [-5, -4] (positive < LoQ): log(Φ(2) - Φ(1)) = log(0.977250 - 0.841345) = log 0.135905
    obs2 = dict(obs, lo=np.array([-5.0]), hi=np.array([-4.0]), left=np.array([False]),
                interval=np.array([True]))
    assert _loglik(-6.0, 0.0, 0.0, obs2) == pytest.approx(math.log(0.135905), abs=1e-5)
    # far in the upper tail the interval term stays finite (no warning, no -inf)
    far = dict(obs2, lo=np.array([5.0]), hi=np.array([6.0]))
    assert math.isfinite(_loglik(-6.0, 0.0, math.log(0.1), far))


@pytest.mark.parametrize("td", [8.0, 12.0, 20.0])
def test_doubling_time_within_20_percent_with_four_quantifiable(td):
    # Acceptance (issue 5): seeded courses sampled every 14 days for 140 days, ending near 1e-2
    # (MRD0 = 1e-2 / 2^(140/Td)), LoD 1e-5, LoQ 1e-4, measurement SD 0.1 log10 (mean of RQ-PCR
    # triplicates). Every course has >= 4 quantifiable results (checked); the fitted Td must be
    # within 20 % of the truth for every seed. (Expected relative SE ≈ 5-8 %; at SD 0.15 log10
    # the worst of 20 seeds reached 24 %, so the criterion needs assay-grade precision.)
    checked = 0
    for seed in range(15):
        res, truth = simulate_course(np.random.default_rng(seed), doubling_time_days=td,
                                     mrd0=1e-2 / 2 ** (140 / td), days=range(0, 141, 14),
                                     lod=1e-5, loq=1e-4, sigma_log10=0.1)
        n_quant = sum(r.status == "positive" for r in res)
        assert n_quant >= 4
        fit, _ = fit_regrowth(res, interval=False)
        assert fit.doubling_time_days == pytest.approx(truth.doubling_time_days, rel=0.2), seed
        checked += 1
    assert checked == 15


def test_censored_fit_beats_dropping_censored_points():
    # 60 seeded courses rising from below the LoD (MRD0 1e-6, Td 12 d, SD 0.2 log10, every
    # 14 days for 140 days): dropping the censored results (Beal M1) keeps only the early
    # results that noise lifted above the LoD, so it flattens the slope (Td biased up);
    # the M3/Tobit fit uses them as censored and is closer to the truth.
    err_m3, err_drop = [], []
    for seed in range(60):
        res, _truth = simulate_course(np.random.default_rng(1000 + seed), doubling_time_days=12,
                                     mrd0=1e-6, days=range(0, 150, 14), lod=1e-5, loq=1e-4,
                                     sigma_log10=0.2)
        m3, _ = fit_regrowth(res, interval=False)
        drop, _ = fit_regrowth(res, censoring="drop", interval=False)
        err_m3.append(math.log(m3.doubling_time_days / 12))
        err_drop.append(math.log(drop.doubling_time_days / 12))
    rmse_m3 = math.sqrt(np.mean(np.square(err_m3)))
    rmse_drop = math.sqrt(np.mean(np.square(err_drop)))
    # measured when written: RMSE(log Td) 0.099 (M3) vs 0.239 (drop); bias +1.4 % vs +9.3 %
    assert rmse_m3 < 0.7 * rmse_drop
    assert abs(np.mean(err_m3)) < abs(np.mean(err_drop))


@pytest.mark.slow
def test_profile_intervals_cover_the_truth():
    # Coverage of the 95 % profile-likelihood intervals over 60 seeded courses: the slope
    # interval and the projected date of 5e-2 should contain the truth in ~95 % of courses;
    # we require >= 85 % (binomial SD at n = 60 is about 2.8 %).
    hit_slope = hit_date = 0
    n = 60
    for seed in range(n):
        res, truth = simulate_course(np.random.default_rng(5000 + seed), doubling_time_days=12,
                                     mrd0=1e-6, days=range(0, 141, 14), lod=1e-5, loq=1e-4,
                                     sigma_log10=0.15)
        est = RegrowthFit().fit(res)
        lo, hi = est.fit_.slope_ci
        b = math.log10(2) / 12
        hit_slope += bool(lo is not None and hi is not None and lo <= b <= hi)
        t_true = (truth.date_reaching(0.05) - est.t_ref_).days
        dlo, dhi = est.fit_.day_reaching_interval(0.05, lower=-500, upper=1000)
        hit_date += bool(dlo is not None and dhi is not None and dlo <= t_true <= dhi)
    assert hit_slope / n >= 0.85
    assert hit_date / n >= 0.85


def test_methods_are_never_pooled(make_mrd):
    with pytest.raises(ValidationError, match="one method"):
        fit_regrowth([make_mrd(0, "positive", 1e-4), make_mrd(14, "positive", 1e-3, method="ngs")])


def test_fit_needs_two_detectable(make_mrd):
    with pytest.raises(ValidationError, match="at least 2 detectable"):
        fit_regrowth([make_mrd(0, "negative"), make_mrd(14, "positive", 1e-3)])


@pytest.mark.parametrize("bad", ["exactly", "right"])
def test_bad_kind_rejected(bad):
    with pytest.raises(ValidationError, match="kind must be one of exact, left, interval"):
        fit_censored_loglinear([0, 1], ["exact", bad], [-4, None], [None, None], [None, -5])


def test_fit_style_wrapper_projects_a_date(make_mrd):
    # 1e-4 on day 0 and 1e-3 on day 30 (+ 1e-2 on day 60): Td = 30·log10(2) = 9.03 d;
    # 5e-2 is reached log10(5)/ (1/30) = 20.97 days after day 60 -> day 81 = 2022-03-23
    est = RegrowthFit().fit([make_mrd(0, "positive", 1e-4), make_mrd(30, "positive", 1e-3),
                             make_mrd(60, "positive", 1e-2)])
    assert est.doubling_time_days_ == pytest.approx(9.031, rel=1e-3)
    assert est.date_reaching(0.05).isoformat() == "2022-03-23"


@pytest.mark.parametrize("bad", [None, -1, float("nan"), float("inf"), 0])
def test_parameter_checks(bad):
    args = ([0, 10], ["exact", "exact"], [-5.0, -4.0], [None, None], [None, None])
    with pytest.raises(ValidationError, match=r"sigma_floor must be a finite number > 0, but was"):
        fit_censored_loglinear(*args, sigma_floor=bad)
    with pytest.raises(ValidationError, match=r"level must be a"):
        fit_censored_loglinear(*args, level=bad)
