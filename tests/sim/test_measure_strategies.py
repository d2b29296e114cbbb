"""Measurement model, option timing distributions, strategy comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest

from remission.errors import ValidationError
from remission.sim import STRATEGIES, VirtualPatients, compare, measure_mrd, resolve_sim
from remission.sim.measure import STATUS_NEGATIVE, STATUS_PNQ, STATUS_POSITIVE
from remission.sim.strategies import cart_infusion_days, donor_found_days


def test_measurement_statuses_follow_lod_and_loq() -> None:
    rng = np.random.default_rng(0)
    m = measure_mrd(np.array([0.0, 1e-2, 2e-6]), "ngs", rng)
    assert (m.lod, m.loq) == pytest.approx((1e-6, 1e-5))  # NGS LoD 1e-6 (Pulsipher 2022); LoQ = 10 × LoD (rule)
    assert m.status[0] == STATUS_NEGATIVE and np.isnan(m.value[0])
    assert m.status[1] == STATUS_POSITIVE and m.value[1] == pytest.approx(1e-2, rel=0.5)
    assert m.status[2] in (STATUS_NEGATIVE, STATUS_PNQ)


def test_detection_at_the_lod_is_about_95_percent() -> None:
    # 3/LoD cells analysed: P(at least one event | MRD = LoD) = 1 - exp(-3) = 0.9502 (hand calculation)
    m = measure_mrd(np.full(40_000, 1e-4), "flow", np.random.default_rng(1))
    assert np.mean(~m.negative) == pytest.approx(1 - math.exp(-3), abs=0.005)


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValidationError, match="method must be one of ngs, flow, pcr"):
        measure_mrd(np.array([0.1]), "elisa", np.random.default_rng(0))


def test_car_t_timing_matches_the_cited_distribution() -> None:
    r = resolve_sim()
    d = cart_infusion_days(40_000, np.random.default_rng(2), r)
    # ELIANA: 17/92 = 18.5 % never infused (Maude 2018); median enrolment-to-infusion 43 d (Levine 2021)
    assert np.mean(np.isnan(d)) == pytest.approx(17 / 92, abs=0.01)
    assert np.nanmedian(d) == pytest.approx(43, abs=1)


def test_donor_search_mean_matches_the_cited_mean() -> None:
    d = donor_found_days(40_000, np.random.default_rng(3), resolve_sim())
    assert d.mean() == pytest.approx(73, rel=0.03)  # mean 73 d, intermediate-probability searches


def _draws(n: int = 60) -> VirtualPatients:
    return VirtualPatients.sample(n, np.random.default_rng(4), resolve_sim(), log10_burden0_range=(-4.0, -3.0))


def test_compare_reports_probabilities_with_intervals_and_drivers() -> None:
    res = compare(_draws(), ["watch", "blina_then_cart", "ino_then_hsct"], seed=1, replicates=4)
    assert res["label"] == "model projection"
    w = res["strategies"]["watch"]["probabilities"]
    for m in (3, 6, 12):
        for k in ("haem_relapse", "cd19neg_relapse", "mrd_negative_remission"):
            v = w[f"{k}_{m}m"]
            assert 0.0 <= v["low"] <= v["high"] <= 1.0 and 0.0 <= v["p"] <= 1.0
    # untreated patients with MRD 1e-4..1e-3 doubling in ~2 weeks relapse within a year (model)
    assert w["haem_relapse_12m"]["p"] > 0.9
    assert res["strategies"]["watch"]["event_causes_12m"]["relapse_before_definitive_therapy"] > 0.9
    assert set(res["drivers_vs_reference"]) == {"blina_then_cart", "ino_then_hsct"}
    assert res["strategies"]["blina_then_cart"]["probabilities"]["haem_relapse_12m"]["p"] < w["haem_relapse_12m"]["p"]
    # overall survival is projected too (death from any cause); it cannot exceed relapse or death
    d = res["strategies"]["watch"]["probabilities"]
    assert d["death_3m"]["p"] <= d["death_6m"]["p"] <= d["death_12m"]["p"] <= 1.0
    # each projection names the uncited (R/U) rules it rests on, by the treatments it uses
    ino_hsct = set(res["strategies"]["ino_then_hsct"]["rests_on"])
    assert {"ino_log10_kill_cd22_high", "ino_log10_kill_cd22_low", "cd22_low_fraction0", "hsct_conditioning_log10_kill",
            "hsct_gvl_kill_per_day", "hsct_trm_probability", "hsct_trm_window_days",
            "death_after_failure_median_days", "salvaged_after_failure_fraction"} <= ino_hsct
    watch = set(res["strategies"]["watch"]["rests_on"])
    assert not any(k.startswith(("ino_", "hsct_", "cart_", "blina_")) for k in watch)
    assert "blina_kill_max_per_day" in res["strategies"]["blina_then_cart"]["rests_on"]
    assert "hsct_gvl_kill_per_day" not in res["strategies"]["blina_then_cart"]["rests_on"]


def test_compare_uses_common_random_numbers() -> None:
    a = compare(_draws(), ["watch", "watch"], seed=5, replicates=2)
    b = compare(_draws(), ["watch"], seed=5, replicates=2)
    assert a["strategies"]["watch"] == b["strategies"]["watch"]


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValidationError, match="strategy must be one of"):
        compare(_draws(5), ["wait_and_pray"], seed=1)


def test_every_strategy_builds_a_schedule_for_every_patient() -> None:
    r = resolve_sim()
    for s in STRATEGIES.values():
        sch = s.build(7, np.random.default_rng(0), r)
        assert sch.cart_day.shape == (7,) and sch.chemo_days.shape[0] == 7
