"""The virtual-patient model: Stein kinetics, growth, treatments, antigen escape, vectorisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remission.errors import ValidationError
from remission.sim import Schedule, VirtualPatients, cart_log_level, resolve_sim, simulate
from remission.sim.parameters import blina_css_pg_ml

STEIN_TYPICAL = {"cmax": 24000.0, "tmax": 9.3, "foldx": 3900.0, "alpha": 0.16, "fb": 0.0079, "beta": 0.0032}


def _typical(n: int = 1) -> dict[str, np.ndarray]:
    return {k: np.full(n, v) for k, v in STEIN_TYPICAL.items()}


def _patients(n: int, burden0: float, td: float, neg: float = 0.0, stein: dict | None = None) -> VirtualPatients:
    return VirtualPatients(np.full(n, burden0), np.full(n, math.log(2) / td), np.full(n, neg), np.zeros(n),
                           stein if stein is not None else _typical(n))


def _with(s: Schedule, **kw: np.ndarray) -> Schedule:
    d = {"chemo_days": s.chemo_days, "blina_days": s.blina_days, "ino_days": s.ino_days,
         "cart_day": s.cart_day, "hsct_day": s.hsct_day, **kw}
    return Schedule(**d)


def test_stein_typical_curve_reproduces_the_published_digits() -> None:
    # spec simulation.md §3.1 [C, run]: C(28)=1373.6, C(90)=146.5, C(180)=109.8, C(365)=60.7 copies/µg
    c = np.exp(cart_log_level(np.array([28.0, 90.0, 180.0, 365.0])[:, None], _typical(1)))[:, 0]
    assert np.round(c, 1).tolist() == [1373.6, 146.5, 109.8, 60.7]
    # ρ = ln(3900)/9.3 = 0.8891 /d -> doubling 0.780 d; C0 = 24000/3900 = 6.154 (same source)
    rho = math.log(3900) / 9.3
    assert round(rho, 4) == 0.8891 and round(math.log(2) / rho, 3) == 0.780
    assert round(float(np.exp(cart_log_level(np.zeros((1, 1)), _typical(1)))[0, 0]), 3) == 6.154


def test_blinatumomab_steady_state_matches_the_spec_check() -> None:
    # spec simulation.md §3.1 [C, run]: 28 µg/d ÷ (2.22 L/h × 24 h) ≈ 525 pg/mL
    # hand: 28e6 pg/d / (2.22 L/h × 24 h × 1000 mL/L) = 525.5 pg/mL (spec: "≈ 525")
    assert blina_css_pg_ml(resolve_sim()) == pytest.approx(525.5, abs=0.05)


def test_untreated_growth_reaches_relapse_on_the_hand_calculated_day() -> None:
    # 1e-4 doubling every 10 d reaches 0.05 after 10*log2(500) = 89.66 d: first daily check on day 90
    res = simulate(_patients(3, 1e-4, 10.0), Schedule.empty(3), np.random.default_rng(0), horizon_days=200)
    assert res.relapse_day.tolist() == [90.0, 90.0, 90.0]
    assert res.remission_day.tolist() == [0.0, 0.0, 0.0]
    assert not res.relapse_cd19neg.any()


def test_chemotherapy_block_kills_the_cited_log_reduction() -> None:
    r = resolve_sim({"chemo_block_log10_kill": 2.0})
    s = _with(Schedule.empty(1), chemo_days=np.array([[0.0]]))
    res = simulate(_patients(1, 1e-2, 1e9), s, np.random.default_rng(0), horizon_days=10, rules=r,
                   assessment_days=[5])
    # no net growth (doubling time 1e9 d): 1e-2 × 10^-2 = 1e-4 on day 5
    assert res.burden_at[0, 0] == pytest.approx(1e-4, rel=1e-6)


def test_car_t_does_not_touch_cd19_negative_leukaemia() -> None:
    n = 4
    empty = Schedule.empty(n)
    pts = _patients(n, 1e-3, 10.0, neg=1.0)
    watch = simulate(pts, empty, np.random.default_rng(1), horizon_days=300)
    cart = simulate(pts, _with(empty, cart_day=np.zeros(n)), np.random.default_rng(1), horizon_days=300,
                    rules=resolve_sim({"cart_dysfunction_probability": 0.0, "cart_toxic_death_probability": 0.0}))
    assert np.array_equal(watch.relapse_day, cart.relapse_day)
    assert cart.relapse_cd19neg.all() and cart.cart_given.all()


def test_car_t_clears_cd19_positive_disease_and_a_cd19_negative_subclone_relapses() -> None:
    n = 20
    r = resolve_sim({"cart_dysfunction_probability": 0.0, "cart_toxic_death_probability": 0.0})
    pts = _patients(n, 0.5, 10.0, neg=1e-7)  # 5e10 cells, 5000 of them CD19-negative
    res = simulate(pts, _with(Schedule.empty(n), cart_day=np.zeros(n)), np.random.default_rng(2),
                   horizon_days=730, rules=r)
    assert (res.remission_day <= 90).all()
    relapsed = np.isfinite(res.relapse_day)
    assert relapsed.all() and res.relapse_cd19neg.all()
    assert res.bca_at_relapse.all()  # typical Stein kinetics stay above the functional level to then


def test_hsct_only_in_remission() -> None:
    n = 2
    pts = VirtualPatients(np.array([1e-3, 0.5]), np.full(n, math.log(2) / 30), np.zeros(n), np.zeros(n), _typical(n))
    res = simulate(pts, _with(Schedule.empty(n), hsct_day=np.array([5.0, 5.0])), np.random.default_rng(0),
                   horizon_days=30, rules=resolve_sim({"hsct_trm_probability": 0.0}))
    assert res.hsct_given.tolist() == [True, False]


def test_transplant_related_death_probability_one() -> None:
    n = 5
    res = simulate(_patients(n, 1e-3, 30.0), _with(Schedule.empty(n), hsct_day=np.zeros(n)), np.random.default_rng(0),
                   horizon_days=400, rules=resolve_sim({"hsct_trm_probability": 1.0}))
    assert (res.death_day <= 365).all() and not res.cured.any()


def test_same_seed_same_result_and_different_seed_differs() -> None:
    r = resolve_sim()
    pts = VirtualPatients.sample(300, np.random.default_rng(3), r, log10_burden0_range=(-1.3, -0.1))
    s = _with(Schedule.empty(300), cart_day=np.zeros(300))
    a = simulate(pts, s, np.random.default_rng(9), horizon_days=365, rules=r)
    b = simulate(pts, s, np.random.default_rng(9), horizon_days=365, rules=r)
    c = simulate(pts, s, np.random.default_rng(10), horizon_days=365, rules=r)
    assert np.array_equal(a.relapse_day, b.relapse_day, equal_nan=True)
    assert not np.array_equal(a.relapse_day, c.relapse_day, equal_nan=True)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(burden=st.lists(st.floats(1e-5, 0.5), min_size=1, max_size=6),
       td=st.floats(3.0, 60.0), chemo_day=st.integers(0, 40))
def test_batch_equals_one_patient_at_a_time(burden: list[float], td: float, chemo_day: int) -> None:
    """Vectorisation invariant: in the deterministic regime (no clone below the stochastic
    threshold, no CD19-negative cells) simulating patients together equals one by one."""
    n = len(burden)
    r = resolve_sim({"chemo_block_log10_kill": 1.0})
    pts = VirtualPatients(np.array(burden), np.full(n, math.log(2) / td), np.zeros(n), np.zeros(n), _typical(n))
    s = _with(Schedule.empty(n), chemo_days=np.full((n, 1), float(chemo_day)))
    batch = simulate(pts, s, np.random.default_rng(0), horizon_days=200, rules=r)
    for i in range(n):
        one = simulate(pts.take(np.array([i])), _with(Schedule.empty(1), chemo_days=np.array([[float(chemo_day)]])),
                       np.random.default_rng(0), horizon_days=200, rules=r)
        assert one.relapse_day[0] == batch.relapse_day[i] or (np.isnan(one.relapse_day[0]) and np.isnan(batch.relapse_day[i]))
        assert one.burden_at[0] == pytest.approx(batch.burden_at[i])


@pytest.mark.parametrize("bad", [0, -1])
def test_horizon_must_be_positive(bad: int) -> None:
    with pytest.raises(ValidationError, match="horizon_days must be >= 1"):
        simulate(_patients(1, 1e-3, 10.0), Schedule.empty(1), np.random.default_rng(0), horizon_days=bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_patient_parameters_must_be_finite(bad: float) -> None:
    with pytest.raises(ValidationError, match="burden0 must be finite"):
        VirtualPatients.sample(2, np.random.default_rng(0), burden0=bad)


def test_loss_of_car_t_function_on_the_hand_calculated_day() -> None:
    # typical Stein patient, no antigen gain: the slow phase FB·Cmax = 0.0079 × 24000 = 189.6 copies/µg
    # falls below the functional level 100 when s = ln(1.896)/0.0032 = 199.92 d after Tmax (the fast
    # phase is 23810·e^(-32) ≈ 0 by then); mid-day s = D + 0.5 - 9.3, so the first such day is D = 209
    r = resolve_sim({"cart_antigen_expansion_gain": 0.0, "cart_dysfunction_probability": 0.0,
                     "cart_functional_copies": 100.0})
    res = simulate(_patients(1, 0.3, 10.0), _with(Schedule.empty(1), cart_day=np.zeros(1)),
                   np.random.default_rng(0), horizon_days=400, rules=r)
    assert res.bca_loss_day[0] == 209.0


def test_death_after_failure_hand_values() -> None:
    # Never in remission (burden 0.5, no treatment): failure at response_window_days = 90, death at
    # 90 + (median/ln 2)·E with E ~ Exp(1); with a median of 1e-9 days every death is on day 90 (+ ~0).
    n = 50
    r = resolve_sim({"death_after_failure_median_days": 1e-9, "salvaged_after_failure_fraction": 0.0})
    res = simulate(_patients(n, 0.5, 30.0), Schedule.empty(n), np.random.default_rng(4), horizon_days=200, rules=r)
    assert np.all(np.isnan(res.remission_day)) and np.allclose(res.overall_death_day(), 90.0)
    assert res.alive(89).all() and not res.alive(90.001).any()
    assert np.all(np.isnan(res.death_day))  # no non-relapse death
    # everyone salvaged: nobody dies after failure
    r = resolve_sim({"salvaged_after_failure_fraction": 1.0})
    res = simulate(_patients(n, 0.5, 30.0), Schedule.empty(n), np.random.default_rng(4), horizon_days=200, rules=r)
    assert res.alive(10_000).all()


def test_death_after_relapse_median_matches_the_rule() -> None:
    # Relapse from MRD 1e-3 at doubling time 10 d; time from relapse to death exponential, median 50 d:
    # the sample median of (death - relapse) over 4000 patients is within 50 ± 5 d (SE ≈ 50/√4000·1.44 ≈ 1.1).
    n = 4000
    r = resolve_sim({"death_after_failure_median_days": 50.0, "salvaged_after_failure_fraction": 0.0})
    res = simulate(_patients(n, 1e-3, 10.0), Schedule.empty(n), np.random.default_rng(5), horizon_days=300, rules=r)
    gap = res.overall_death_day() - res.relapse_day
    assert np.isfinite(res.relapse_day).all() and np.all(gap >= 0)
    assert abs(float(np.median(gap)) - 50.0) < 5.0


def test_car_t_toxic_death_probability_one_within_window() -> None:
    n = 20
    r = resolve_sim({"cart_toxic_death_probability": 1.0})
    res = simulate(_patients(n, 0.5, 10.0), _with(Schedule.empty(n), cart_day=np.full(n, 5.0)),
                   np.random.default_rng(6), horizon_days=100, rules=r)
    assert np.all((res.death_day >= 5.0) & (res.death_day <= 35.0))  # Levine 2021: within 30 days
    assert res.death_cause is not None and set(res.death_cause.tolist()) == {"cart_toxicity"}
    assert not res.cured.any() and np.all(np.isnan(res.relapse_day))


def test_death_after_failure_rules_leave_the_disease_course_unchanged() -> None:
    # the mortality draws come from a spawned stream, drawn before the daily loop: other death rules
    # give the same remissions and relapses (here CD19-negative relapses after CAR-T)
    n = 300
    pts = _patients(n, 1e-2, 14.0, neg=1e-4)
    s = _with(Schedule.empty(n), cart_day=np.zeros(n))
    a = simulate(pts, s, np.random.default_rng(8), horizon_days=365, rules=resolve_sim())
    b = simulate(pts, s, np.random.default_rng(8), horizon_days=365,
                 rules=resolve_sim({"death_after_failure_median_days": 500.0, "salvaged_after_failure_fraction": 0.9}))
    assert np.isfinite(a.relapse_day).sum() > n // 2
    assert np.array_equal(a.relapse_day, b.relapse_day, equal_nan=True)
    assert np.array_equal(a.remission_day, b.remission_day, equal_nan=True)
    assert not np.array_equal(a.overall_death_day(), b.overall_death_day(), equal_nan=True)


def test_compaction_keeps_every_per_patient_array_aligned() -> None:
    # _Active.keep must cut every per-patient array (patients on axis 0; cells on axis 1), so a new
    # state variable added to _Active is compacted with the rest
    from dataclasses import fields

    from remission.sim.model import _Active, _draw_fates, _Params

    r = resolve_sim()
    n = 6
    pts = _patients(n, 0.1, 10.0)
    sched = _with(Schedule.empty(n), cart_day=np.arange(n, dtype=float))
    st = _Active.start(pts, sched, _Params.from_rules(r), _draw_fates(n, np.random.default_rng(0), r))
    keep = np.array([True, False, True, False, False, True])
    st.keep(keep)
    assert st.act.tolist() == [0, 2, 5] and st.cart_day.tolist() == [0.0, 2.0, 5.0]
    assert st.c.shape == (4, 3) and all(v.shape == (3,) for v in st.stein.values())
    for f in fields(st):
        if f.name not in ("c", "stein", "any_death"):
            assert getattr(st, f.name).shape[0] == 3, f.name
