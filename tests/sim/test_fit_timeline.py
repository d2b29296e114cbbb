"""Calibration to one patient's MRD course (censored values censored), the timeline, bridges."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from remission.errors import ValidationError
from remission.sim import (
    MrdObservations,
    PatientState,
    PriorTherapy,
    bridge_options,
    fit_patient,
    recovery_study,
    strategy_timeline,
)
from remission.sim.fit import _loglik


def _known_course() -> MrdObservations:
    # truth: f(t) = 2e-7 · 2^(t/10); day 0 below the NGS LoD 1e-6 (negative), then exact values
    days = [0, 40, 60, 80, 100]
    y = [None] + [math.log10(2e-7 * 2 ** (t / 10)) for t in days[1:]]
    return MrdObservations.from_lists(days, ["left", "exact", "exact", "exact", "exact"], y,
                                      [None] * 5, [-6.0, None, None, None, None])


@pytest.fixture(scope="module")
def known_fit():  # type: ignore[no-untyped-def]
    return fit_patient(_known_course(), seed=11, n_proposals=3000, n_draws=800)


def test_fit_recovers_the_known_doubling_time(known_fit) -> None:  # type: ignore[no-untyped-def]
    lo, hi = np.quantile(known_fit.doubling_days, [0.05, 0.95])
    assert lo <= 10.0 <= hi  # the true doubling time of _known_course
    assert np.median(known_fit.doubling_days) == pytest.approx(10.0, rel=0.1)
    assert known_fit.ess > 50 and known_fit.summary()["label"] == "model projection"


def test_timeline_projects_the_hand_calculated_relapse_day(known_fit) -> None:  # type: ignore[no-untyped-def]
    # 2e-7 · 2^(t/10) = 0.05 at t = 10·log2(2.5e5) = 179.3 d, i.e. 79.3 d after the last result (day 100)
    res = strategy_timeline(known_fit.patients_now, seed=3, horizon_days=365)
    rel = res["time_to_haematological_relapse_days"]
    assert rel["q05"] <= 80 <= rel["q95"]
    assert res["options"][0]["option"] == "CAR-T (enrolment to infusion)"
    assert "recommend" not in res["bridge_question"]


def test_censored_values_enter_as_probabilities_not_numbers() -> None:
    obs = MrdObservations.from_lists([0, 10, 20], ["left", "interval", "exact"], [None, None, -3.0],
                                     [None, -6.0, None], [-6.0, -5.0, None])
    mu = np.array([[-7.0, -5.5, -3.2], [-np.inf, -np.inf, -np.inf]])
    ll = _loglik(mu, obs, 0.3)
    # hand: log Φ((−6+7)/0.3) + log(Φ((−5+5.5)/0.3) − Φ((−6+5.5)/0.3)) + log N(−3; −3.2, 0.3)
    expected = (norm.logcdf(1 / 0.3) + math.log(norm.cdf(0.5 / 0.3) - norm.cdf(-0.5 / 0.3))
                + norm.logpdf(-3.0, -3.2, 0.3))
    assert ll[0] == pytest.approx(expected, rel=1e-9)
    assert ll[1] < -1e3  # an extinct draw cannot explain a quantified result


def test_fit_refuses_empty_and_unordered_courses() -> None:
    empty = MrdObservations.from_lists([], [], [], [], [])
    with pytest.raises(ValidationError, match="obs must hold at least one MRD result"):
        fit_patient(empty, seed=1)
    bad = MrdObservations.from_lists([10, 5], ["exact", "exact"], [-4.0, -3.0], [None, None], [None, None])
    with pytest.raises(ValidationError, match="in date order"):
        fit_patient(bad, seed=1)


def test_bridges_follow_antigens_and_prior_response() -> None:
    st = PatientState(burden_now=0.2, cd19_percent=5.0, cd22_percent=None,
                      prior=(PriorTherapy("inotuzumab", "antibody_drug_conjugate", "NR"),))
    b = {x["bridge"]: x for x in bridge_options(st)}
    assert b["blinatumomab"]["fits"] is False
    assert any("CD19 on 5 %" in r for r in b["blinatumomab"]["reasons"])
    # 1 / (1 + 0.2/0.05) = 20 % of the maximal effect at 20 % blasts (rule blina_burden_half_effect)
    assert any("20% of maximal" in r for r in b["blinatumomab"]["reasons"])
    assert b["inotuzumab"]["fits"] is False
    assert any("no response to earlier inotuzumab" in r for r in b["inotuzumab"]["reasons"])
    assert any("CD22 expression not given" in r for r in b["inotuzumab"]["reasons"])
    assert b["chemotherapy"]["fits"] is True


def test_cd19_car_t_note_after_blinatumomab() -> None:
    from remission.sim.timeline import cd19_car_t_note

    st = PatientState(cd19_percent=3.0, prior=(PriorTherapy("Blinatumomab cycle 1", "bispecific", "CR"),))
    note = cd19_car_t_note(st)
    assert note["fits"] is False
    assert any("earlier CD19-directed therapy: Blinatumomab cycle 1" in r for r in note["reasons"])
    b = {x["bridge"]: x for x in bridge_options(st)}
    assert any("CD19-negative escape is more likely" in r for r in b["blinatumomab"]["reasons"])


@pytest.mark.slow
def test_recovery_study_covers_true_parameters() -> None:
    res = recovery_study(12, seed=20260101, n_proposals=1500, n_draws=400)
    # nominal 90 % intervals; with 12 patients a coverage of 9/12 or more is consistent (binomial)
    assert res["coverage_doubling_time"] >= 0.75
    assert res["coverage_relapse_day"] >= 0.75


def test_fit_replays_car_t_and_uses_b_cell_aplasia() -> None:
    from remission.sim import TreatmentHistory

    # relapse with 30 % blasts (exact), CAR-T on day 2, flow-MRD negative (LoD 1e-4) on days 30 and 90,
    # B-cell aplasia seen on day 60
    obs = MrdObservations.from_lists([0, 30, 90], ["exact", "left", "left"], [math.log10(0.3), None, None],
                                     [None, None, None], [None, -4.0, -4.0])
    stein = {"cmax": 24000.0, "tmax": 9.3, "foldx": 3900.0, "alpha": 0.16, "fb": 0.0079, "beta": 0.0032}
    f = fit_patient(obs, seed=4, history=TreatmentHistory(cart_day=2.0), stein=stein, bca=((60.0, True),),
                    n_proposals=1500, n_draws=300)
    s = f.summary()
    # the posterior must explain two negatives after CAR-T: leukaemia below the LoD on day 90
    assert s["log10_mrd_now"]["q95"] < -4.0
    assert abs(s["log10_mrd_at_first_result"]["q50"] - math.log10(0.3)) < 0.5
    assert s["cart_stein_parameters"] == stein


def test_fit_prior_density_by_hand() -> None:
    from remission.sim.fit import _FitPrior

    p = _FitPrior(lo_b=-6.0, hi_b=-1.0, td_med=math.log(10.0), td_sd=0.5, neg_dim=False, lo_n=-4.0, hi_n=-1.0)
    x = np.array([[-3.0, math.log(10.0)], [-3.0, math.log(10.0) + 0.5], [0.0, math.log(10.0)]])
    # uniform over 5 log10 units times a normal density with sd 0.5: log(1/5) + log N(z; 0, 1) - log(0.5)
    base = -math.log(5.0) - math.log(0.5) - 0.5 * math.log(2 * math.pi)
    lp = p.log_pdf(x)
    assert lp[0] == pytest.approx(base) and lp[1] == pytest.approx(base - 0.5) and lp[2] == -np.inf
    draws = p.draw(1000, np.random.default_rng(1))
    assert draws.shape == (1000, 2) and np.all(np.isfinite(p.log_pdf(draws)))
