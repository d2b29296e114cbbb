"""CAR-T cellular kinetics: NCA against hand calculations, the Stein 2019 model and its fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from remission.cart.kinetics import (
    STEIN_PARAMS,
    analyze_kinetics,
    fit_stein,
    nca,
    population_band,
    population_percentiles,
    sample_stein_population,
    stein_log_curve,
)
from remission.domain.cart import KineticsSeries
from remission.errors import ValidationError


def test_nca_auc_matches_hand_calculation() -> None:
    days = [1, 4, 7, 14, 28]
    vals = [10.0, 100.0, 1000.0, 500.0, 100.0]
    r = nca(days, vals)
    # Hand calculation (linear-up/log-down, cart_models.md §1.3), C(0) = 0 assumed:
    #   0-1   up   (0 + 10)/2 * 1            =    5
    #   1-4   up   (10 + 100)/2 * 3          =  165
    #   4-7   up   (100 + 1000)/2 * 3        = 1650
    #   7-14  down (1000 - 500)/ln(1000/500) * 7  = 3500/ln 2 = 5049.43
    #   14-28 down (500 - 100)/ln(500/100) * 14   = 5600/ln 5 = 3479.48
    expected = 5 + 165 + 1650 + 3500 / math.log(2) + 5600 / math.log(5)
    assert r.auc_0_28 == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(10348.91, abs=0.01)  # 1820 + 5049.43 + 3479.48
    assert (r.cmax, r.tmax, r.clast, r.tlast) == (1000.0, 7.0, 100.0, 28.0)
    assert r.auc_method.startswith("AUC0-28") and "C(0)=0 assumed" in r.auc_method


def test_nca_interpolates_day_28_log_linearly() -> None:
    r = nca([0, 7, 14, 42], [5.0, 2000.0, 800.0, 50.0], [True, False, False, False])
    # day 0 below LoD before Tmax counts as 0. C(28) log-linear between day 14 and 42:
    c28 = 800.0 * (50.0 / 800.0) ** ((28 - 14) / (42 - 14))  # = 200
    expected = (0 + 2000) / 2 * 7 + (2000 - 800) / math.log(2000 / 800) * 7 + (800 - c28) / math.log(800 / c28) * 14
    assert c28 == pytest.approx(200.0)
    assert r.auc_0_28 == pytest.approx(expected, rel=1e-12)
    assert "interpolated" in r.auc_method


def test_nca_below_lod_rules() -> None:
    # BLQ before Tmax -> 0; after Tlast -> excluded (AUC stops at Tlast = 14)
    r = nca([0, 3, 7, 14, 21, 28], [5, 5, 300, 30, 5, 5], [True, True, False, False, True, True])
    expected = 0 + (0 + 300) / 2 * 4 + (300 - 30) / math.log(10) * 7
    assert r.auc_0_28 == pytest.approx(expected, rel=1e-12)
    assert r.last_detectable_day == 14 and r.n_below_lod == 4
    assert "Tlast" in r.auc_method


def test_lambda_z_recovers_exact_half_life() -> None:
    days = [1, 4, 7, 10, 14, 21, 28, 42, 56]
    vals = [10, 300, 3000, 10000] + [10000 * math.exp(-0.1 * (d - 10)) for d in days[4:]]
    r = nca(days, vals)
    assert r.half_life_days == pytest.approx(math.log(2) / 0.1, rel=1e-9)
    assert r.lambda_z_points == 5 and r.lambda_z_window == (14.0, 56.0)


def test_nca_without_quantified_values() -> None:
    r = nca([1, 7], [5, 5], [True, True])
    assert r.cmax is None and r.last_detectable_day is None and r.auc_0_28 == 0.0


@pytest.mark.parametrize(("days", "vals", "msg"), [
    ([1, 1], [3, 4], "strictly increasing"),
    ([1, 2], [3, float("nan")], "finite"),
    ([1, 2], [3], "equal length"),
])
def test_nca_bad_input(days: list, vals: list, msg: str) -> None:
    with pytest.raises(ValidationError, match=msg):
        nca(days, vals)


def test_stein_closed_form_equals_the_ode() -> None:
    # cart_models.md §1.2: E' = rho E (t < Tmax); E' = -alpha E, M' = k E - beta M, k = FB (alpha - beta)
    from scipy.integrate import solve_ivp

    p = {"cmax": 24000.0, "tmax": 9.3, "foldx": 3900.0, "alpha": 0.16, "fb": 0.0079, "beta": 0.0032}
    rho = math.log(p["foldx"]) / p["tmax"]
    k = p["fb"] * (p["alpha"] - p["beta"])
    t_up = np.array([0.0, 2.0, 5.0, 9.0])
    assert np.allclose(np.exp(stein_log_curve(t_up, **p)), p["cmax"] / p["foldx"] * np.exp(rho * t_up), rtol=1e-12)
    t_dn = np.array([9.3, 20.0, 60.0, 200.0, 365.0])
    sol = solve_ivp(lambda t, y: [-p["alpha"] * y[0], k * y[0] - p["beta"] * y[1]], (p["tmax"], 365.0),
                    [p["cmax"], 0.0], t_eval=t_dn, rtol=1e-10, atol=1e-10)
    assert np.allclose(np.exp(stein_log_curve(t_dn, **p)), sol.y.sum(axis=0), rtol=1e-6)


def test_population_percentiles() -> None:
    # typical value -> 50th percentile; one SD (sqrt(omega2)) above on the log scale -> 84.13th
    typ = {k: v[0] for k, v in STEIN_PARAMS.items()}
    assert population_percentiles(typ) == pytest.approx({k: 50.0 for k in typ})
    up = population_percentiles({"cmax": 24000.0 * math.exp(math.sqrt(0.65))})
    assert up["cmax"] == pytest.approx(84.134, abs=0.01)


def test_population_band_is_ordered_and_seeded() -> None:
    b = population_band([0, 10, 28, 180], n=500)
    assert all(lo <= mid <= hi for lo, mid, hi in zip(b["q05"], b["q50"], b["q95"], strict=True))
    assert b == population_band([0, 10, 28, 180], n=500)


def _simulate(n: int, sigma: float, seed: int) -> list[tuple[dict, np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    pars = sample_stein_population(n, rng)
    days = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 17, 21, 28, 42, 56, 90, 180, 270, 365], float)
    lod = 5.0
    out = []
    for i in range(n):
        p = {k: float(pars[k][i]) for k in pars}
        y = np.exp(stein_log_curve(days, **p) + rng.normal(0.0, sigma, len(days)))
        cens = y < lod
        out.append((p, days, np.where(cens, lod, y), cens))
    return out


@pytest.mark.slow
def test_fit_recovers_cmax_and_tmax_on_50_simulated_profiles() -> None:
    # Acceptance (issue 7): >= 50 profiles from the Stein model with known parameters (drawn from the
    # Table 1 population) + log-normal noise (sigma = 0.56 on the log scale, Stein's residual error),
    # LoD 5 copies/ug censored; the median relative error of fitted Cmax and Tmax must be <= 20 %.
    profiles = _simulate(50, 0.56, seed=7)
    err_c, err_t = [], []
    for p, days, y, cens in profiles:
        f = fit_stein(days, y, cens)
        err_c.append(abs(f.cmax / p["cmax"] - 1))
        err_t.append(abs(f.tmax / p["tmax"] - 1))
    assert len(err_c) >= 50
    assert np.median(err_c) <= 0.20, np.median(err_c)
    assert np.median(err_t) <= 0.20, np.median(err_t)


def test_maximum_likelihood_tobit_fit_without_prior() -> None:
    # low noise, rich sampling: plain ML (sigma estimated) recovers the generating parameters
    p, days, y, cens = _simulate(1, 0.1, seed=3)[0]
    f = fit_stein(days, y, cens, prior=False)
    assert f.cmax == pytest.approx(p["cmax"], rel=0.2)
    assert f.tmax == pytest.approx(p["tmax"], rel=0.1)
    assert 0.02 < f.sigma_log < 0.3
    assert "maximum likelihood" in f.method


def test_censored_points_stay_below_the_limit() -> None:
    # late samples below LoD: the censored fit must not predict values far above the LoD there
    p = {"cmax": 5000.0, "tmax": 10.0, "foldx": 2000.0, "alpha": 0.2, "fb": 0.001, "beta": 0.02}
    days = np.array([1, 4, 7, 10, 14, 21, 28, 42, 56, 90, 180], float)
    y = np.exp(stein_log_curve(days, **p))
    cens = y < 5.0
    assert cens[-2:].all()
    f = fit_stein(days, np.where(cens, 5.0, y), cens)
    assert np.all(f.curve(days[cens & (days > 10)]) < 5.0 * 2)
    assert f.n_censored == int(cens.sum())


def test_fit_needs_three_quantified_points() -> None:
    with pytest.raises(ValidationError, match="quantified points must be >= 3"):
        fit_stein([1, 7, 14], [5, 100, 5], [True, False, True])


def test_analyze_kinetics_example_shape() -> None:
    s = KineticsSeries(days=(1, 4, 7, 10, 14, 21, 28, 56, 90), values=(20, 300, 4000, 20000, 9000, 3000, 1500,
                                                                         300, 150),
                       below_lod=(False,) * 9, unit="copies_per_ug")
    r = analyze_kinetics(s).as_dict()
    assert r["persistence_day"] == 90
    assert set(r["population_percentiles"]) >= {"cmax", "tmax", "auc_0_28"}
    assert 5 < r["fit"]["tmax"] < 14
    cells = analyze_kinetics(KineticsSeries(s.days, s.values, s.below_lod, "cells_per_ul")).as_dict()
    assert "cmax" not in cells["population_percentiles"] and cells["notes"]
