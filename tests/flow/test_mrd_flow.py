"""Flow MRD engine: status/LoD/LoQ arithmetic, gating MRD, automated detection acceptance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remission.errors import LowSensitivityWarning, ValidationError
from remission.mrd.flow import (
    FLOW_RULES,
    DifferentFromNormal,
    GaussianMixture,
    flow_mrd_status,
    mrd_from_gates,
    mrd_from_labels,
)
from remission.synth.flow import PHENOTYPES, simulate_tube

from .conftest import tube_as_fcsdata


def test_lod_loq_by_hand() -> None:
    # ICCS rare-event convention (LoD 20, LLOQ 50 events; cytometry.org Q&A id 258), worked by hand:
    # 4e6 cells -> LoD 20/4e6 = 5e-6, LLOQ 50/4e6 = 1.25e-5
    status, lod, loq = flow_mrd_status(60, 4_000_000)
    assert (status, lod, loq) == ("positive", 5e-6, 1.25e-5)
    assert flow_mrd_status(19, 4_000_000)[0] == "negative"              # < 20 events
    assert flow_mrd_status(20, 4_000_000)[0] == "positive_not_quantifiable"  # 20..49 events
    assert flow_mrd_status(49, 4_000_000)[0] == "positive_not_quantifiable"
    assert flow_mrd_status(50, 4_000_000)[0] == "positive"


def test_rules_are_tagged_and_overridable() -> None:
    assert FLOW_RULES["lod_events"].value == 20 and FLOW_RULES["lod_events"].tag == "R"
    assert FLOW_RULES["loq_events"].value == 50 and FLOW_RULES["loq_events"].source.startswith("ICCS rare-event guidance")
    den = np.ones(1_000_000, dtype=bool)
    leuk = np.zeros_like(den)
    leuk[:30] = True
    r = mrd_from_gates({"L": leuk, "D": den}, "L", "D", rules={"lod_events": 10, "loq_events": 30})
    # 30 events >= user LoQ of 30 -> positive, value 30 / 1e6
    assert r.status == "positive" and r.mrd == pytest.approx(3e-5) and r.loq == pytest.approx(3e-5)
    assert {x["name"] for x in r.as_dict()["rests_on"]} >= {"lod_events", "loq_events"}


def test_low_sensitivity_warning() -> None:
    den = np.ones(50_000, dtype=bool)  # LoD = 20 / 5e4 = 4e-4 > 1e-4 asked
    with pytest.warns(LowSensitivityWarning, match=r"acquire >= 200000 nucleated cells"):
        r = mrd_from_labels(np.zeros_like(den), den, method="gating", denominator_name="D", leukemic_name="L")
    assert r.status == "negative" and r.mrd is None and r.lod == pytest.approx(4e-4)
    assert r.to_mrd_result().status == "negative"


def test_leukemic_counted_within_denominator_and_f1() -> None:
    den = np.array([1, 1, 1, 1, 0, 0], bool)
    leuk = np.array([1, 1, 0, 0, 1, 1], bool)
    truth = np.array([1, 0, 1, 0, 1, 0], bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowSensitivityWarning)
        r = mrd_from_labels(leuk, den, method="gating", denominator_name="D", leukemic_name="L", truth=truth)
    # within D: called {0,1}, truth {0,2}: TP 1, FP 1, FN 1 -> F1 = 2/(2+1+1) = 0.5
    assert r.events_leukemic == 2 and r.events_denominator == 4 and r.f1 == pytest.approx(0.5)


def test_unknown_gate_and_bad_counts() -> None:
    with pytest.raises(ValidationError, match=r"gate must be one of \['D', 'L'\], but was 'X'"):
        mrd_from_gates({"L": np.zeros(2, bool), "D": np.ones(2, bool)}, "X", "D")
    with pytest.raises(ValidationError, match="leukemic <= denominator"):
        flow_mrd_status(5, 3)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 10_000_000), st.integers(0, 10_000), st.integers(0, 10_000))
def test_status_monotone_and_bounded(n: int, a: int, b: int) -> None:
    lo, hi = sorted((min(a, n), min(b, n)))
    order = ["negative", "positive_not_quantifiable", "positive"]
    s1, lod, loq = flow_mrd_status(lo, n)
    s2, _, _ = flow_mrd_status(hi, n)
    assert order.index(s1) <= order.index(s2)
    assert lod is not None and loq is not None and 0 < lod <= loq <= 1


def test_gmm_recovers_two_clusters() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (3000, 2)), rng.normal(8, 1, (1000, 2))])
    g = GaussianMixture(2, seed=0).fit(X)
    assert sorted(np.round(g.weights_, 2)) == pytest.approx([0.25, 0.75], abs=0.02)
    assert g.logpdf(np.array([[0.0, 0.0]]))[0] > g.logpdf(np.array([[4.0, 4.0]]))[0]


def test_cd19_only_strategy_misses_cd19_negative_leukaemia(normal_ref) -> None:
    tube = simulate_tube(200_000, fraction=2e-3, phenotype="cd19neg", seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowSensitivityWarning)
        indep = DifferentFromNormal(reference=normal_ref, strategy="cd19_independent").detect(
            tube_as_fcsdata(tube), validation=True)
        cd19 = DifferentFromNormal(reference=normal_ref, strategy="cd19").detect(tube_as_fcsdata(tube))
    assert indep.strategy.startswith("cd19_independent") and indep.cd19_negative_population is True
    assert indep.f1 > 0.9
    assert cd19.events_leukemic < 0.1 * tube.truth.sum()


def test_negative_tube_is_negative(normal_ref) -> None:
    tube = simulate_tube(300_000, fraction=0.0, seed=17)
    r = DifferentFromNormal(reference=normal_ref).detect(tube_as_fcsdata(tube))
    assert r.status == "negative" and r.events_leukemic < 20
    assert r.illustrative is False and r.f1 is None  # no truth read outside validation mode


def test_auto_needs_an_explicit_reference() -> None:
    tube = simulate_tube(20_000, fraction=0.0, seed=1)
    with pytest.raises(ValidationError, match=r"automated flow MRD needs a normal reference model, but none was "
                                              r"given: build one .*remission mrd flow reference build"):
        DifferentFromNormal().detect(tube_as_fcsdata(tube))


def test_engine_never_imports_synth() -> None:
    import subprocess
    import sys

    code = ("import sys, remission.mrd.flow, remission.mrd.gating, remission.mrd.cytometry, remission.steps.flow; "
            "bad = sorted(m for m in sys.modules if m.startswith('remission.synth')); print(bad); sys.exit(bool(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_demo_reference_result_says_illustrative_on_the_value() -> None:
    from remission.synth.flow import demo_reference

    tube = simulate_tube(100_000, fraction=3e-3, phenotype="cd45neg_cd38lo", seed=21)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowSensitivityWarning)
        r = DifferentFromNormal(reference=demo_reference()).detect(tube_as_fcsdata(tube))
    m = r.to_mrd_result(sample_id="s1")
    assert r.illustrative and m.details["illustrative"] is True
    assert m.details["reference"].startswith("illustrative (demo reference)")


def test_reference_round_trip_and_field_errors(normal_ref) -> None:
    from remission.errors import FlowReferenceError
    from remission.mrd.flow import ReferenceModel

    d = normal_ref.to_dict()
    back = ReferenceModel.from_dict(d, source="ref.json")
    assert back.panel == normal_ref.panel and back.n_events == 400_000  # 2 x 200 000 events
    X = np.random.default_rng(0).normal(0.4, 0.1, (50, len(back.models["cd19"].features)))
    np.testing.assert_allclose(back.models["cd19"].gmm.logpdf(X), normal_ref.models["cd19"].gmm.logpdf(X))
    bad = {**d, "transform": {**d["transform"], "W": -7}}
    with pytest.raises(FlowReferenceError, match=r"'ref.json', field transform: W must be in \[0, M/2\]"):
        ReferenceModel.from_dict(bad, source="ref.json")
    bad = {**d, "schema": "remission.flow_reference/9"}
    with pytest.raises(FlowReferenceError, match=r"field schema: must be 'remission.flow_reference/1'"):
        ReferenceModel.from_dict(bad, source="ref.json")


def test_reference_tubes_must_share_panel() -> None:
    from remission.mrd.flow import build_reference

    a = tube_as_fcsdata(simulate_tube(20_000, seed=1), truth=False)
    b = tube_as_fcsdata(simulate_tube(20_000, seed=2, markers=("CD20", "CD10", "CD45", "CD34", "CD19", "CD38")),
                        truth=False)
    with pytest.raises(ValidationError, match=r"reference tube 'b.fcs' has panel CD10, CD19, CD20, CD34, CD38, CD45"):
        build_reference([a, b], sources=[{"file": "a.fcs"}, {"file": "b.fcs"}])


# ----------------------------------------------------------------- strategy rule (CD19)


def test_cd19_strategy_switch_is_an_engine_rule() -> None:
    import datetime as dt

    from remission.domain import Case
    from remission.mrd.flow import choose_strategy
    from remission.synth.examples import BASE_CASES

    # the ph-like-very-early example: tisagenlecleucel (CD19 CAR-T) infused before the day-28 tube
    case = Case.model_validate(BASE_CASES["ph-like-very-early"])
    infusion = case.cart_infusions[0].date
    after = case.cd19_directed_before(infusion + dt.timedelta(days=28))
    s, why = choose_strategy("auto", after)
    assert s == "cd19_independent" and "rule cd19_independent_after_cd19_therapy" in why
    assert str(infusion) in why
    # sample at diagnosis (before any CD19-directed therapy), or an explicit choice: unchanged
    assert choose_strategy("auto", case.cd19_directed_before(case.diagnosis.date)) == ("auto", None)
    assert choose_strategy("cd19", after) == ("cd19", None)
    # the rule can be switched off (overridable parameter)
    from remission.domain import resolve

    off = resolve(FLOW_RULES, {"cd19_independent_after_cd19_therapy": False})
    assert choose_strategy("auto", after, off) == ("auto", None)
    assert FLOW_RULES["cd19_independent_after_cd19_therapy"].tag == "R"
    assert "Cherian" in FLOW_RULES["cd19_independent_after_cd19_therapy"].source


# ------------------------------------------------------------------ not evaluable


def test_no_evaluable_events_is_not_evaluable_never_negative(normal_ref) -> None:
    # all events negative: FSC < fsc_min for every event -> denominator 0 -> not evaluable
    assert flow_mrd_status(0, 0) == ("not_evaluable", None, None)
    tube = simulate_tube(20_000, fraction=0.0, seed=4)
    fd = tube_as_fcsdata(tube, truth=False)
    from dataclasses import replace

    neg = replace(fd, events=-np.abs(fd.events) - 1.0)
    r = DifferentFromNormal(reference=normal_ref).detect(neg)
    assert r.status == "not_evaluable" and r.mrd is None and r.lod is None
    assert r.reason.startswith("no evaluable events: none of the 20000 events passes FSC >= 20000")
    m = r.to_mrd_result()
    assert m.status == "not_evaluable" and m.details["reason"] == r.reason and m.display() == "not evaluable"
    g = mrd_from_gates({"L": np.zeros(5, bool), "D": np.zeros(5, bool)}, "L", "D")
    assert g.status == "not_evaluable" and "denominator gate 'D' holds none of the 5 events" in g.reason


# ---------------------------------------------------------------- data-derived gates


def test_density_valley_between_two_populations() -> None:
    from remission.mrd.cytometry import density_modes, valley

    rng = np.random.default_rng(0)
    # two normal populations at 0.2 and 0.8 (sd 0.05, 30 000 and 10 000 events): by symmetry of
    # equal sds the density minimum lies between them, near 0.5 + 0.05**2/0.6*ln(3) = 0.509
    v = np.r_[rng.normal(0.2, 0.05, 30_000), rng.normal(0.8, 0.05, 10_000)]
    c, d, peaks = density_modes(v)
    assert len(peaks) == 2 and abs(c[peaks[0]] - 0.2) < 0.02 and abs(c[peaks[1]] - 0.8) < 0.02
    assert 0.42 < c[valley(d, peaks[0], peaks[1])] < 0.6
    _, _, one = density_modes(rng.normal(0.5, 0.1, 20_000))
    assert len(one) == 1


def test_scatter_gate_comes_from_the_tube(normal_ref) -> None:
    from remission.mrd.flow import derive_gates, prepare_tube

    tube = simulate_tube(100_000, fraction=5e-3, phenotype="cd45neg_cd38lo", seed=8)
    pt = prepare_tube(tube_as_fcsdata(tube), validation=True)
    g = derive_gates(pt, "auto")
    ssc_rule = g.rules_shown[0]
    # synth.flow: lymphoid/B/leukaemic scatter modes at SSC 14 000-17 000, neutrophils at 115 000
    assert ssc_rule.startswith("SSC <= ") and "density valley between the lymphoid/blast mode" in ssc_rule
    cut = float(ssc_rule.split()[2].rstrip(":").replace(",", ""))
    assert 17_000 < cut < 115_000
    assert (g.b_lineage & pt.truth).sum() >= 0.97 * pt.truth.sum()  # the leukaemic cluster is not split
    # lineage cut-offs come from CD19/CD22/CD24 density valleys, not the fixed fallback
    assert all("density valley" in x for x in g.rules_shown[1:])
    # a marker with one population only (no CD19 valley, as in B-cell aplasia): the named fallback
    pt.set_col("CD19", np.random.default_rng(2).normal(0.15, 0.05, pt.n_events))
    g2 = derive_gates(pt, "cd19")
    assert g2.rules_shown[1] == ("CD19 >= 0.30: no CD19-/CD19+ valley in the scatter gate; fixed fallback "
                                 "(rule positive_threshold)")


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.floats(0.1, 0.45), st.floats(0.55, 0.9))
def test_lineage_cut_lies_between_the_populations(neg: float, pos: float) -> None:
    from remission.mrd.cytometry import density_modes, valley

    rng = np.random.default_rng(1)
    v = np.r_[rng.normal(neg, 0.03, 20_000), rng.normal(pos, 0.03, 5_000)]
    c, d, peaks = density_modes(v)
    cut = c[valley(d, peaks[0], peaks[-1])]
    assert neg < cut < pos


@pytest.mark.slow
def test_auto_detection_acceptance(normal_ref) -> None:
    """Acceptance (validation mode): >= 20 seeded tubes, 1e-2..1e-4, 5 phenotypes incl.
    CD19-negative: median F1 >= 0.90 and MRD within a factor 2 of truth at >= 1e-4."""
    fractions = (1e-2, 3e-3, 1e-3, 1e-4)
    det = DifferentFromNormal(reference=normal_ref)
    f1s, ratios = [], []
    seed = 100
    for ph in sorted(PHENOTYPES):
        for frac in fractions:
            seed += 1
            tube = simulate_tube(300_000, fraction=frac, phenotype=ph, seed=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LowSensitivityWarning)
                r = det.detect(tube_as_fcsdata(tube), validation=True)
            true_mrd = tube.truth.sum() / r.events_denominator
            f1s.append(r.f1)
            ratios.append(r.mrd_estimate / true_mrd)
    assert len(f1s) >= 20
    assert "cd19neg" in PHENOTYPES
    assert np.median(f1s) >= 0.90, f1s
    assert all(0.5 <= q <= 2.0 for q in ratios), ratios
