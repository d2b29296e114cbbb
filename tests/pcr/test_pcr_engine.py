"""RQ-PCR engine: worked examples with the hand calculation written out, bad plates, policies.

The worked examples follow the EuroMRD guidelines (van der Velden VHJ et al., Leukemia
2007;21:604) step by step:
curve ``Ct = m·log10(f) + b``, ``MRD_raw = 10^((mean Ct - b)/m)``, albumin normalisation
``× 10^(-ΔCt/m_ALB)`` (= ``× 2^ΔCt`` at 100 % efficiency), QR/sensitivity from the dilutions.
"""

from __future__ import annotations

import dataclasses
import inspect
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remission.errors import ValidationError
from remission.mrd import pcr
from remission.mrd.pcr import (
    PCR_RULES,
    RqPcrMrd,
    analyze_plate,
    efficiency_from_slope,
    fit_standard_curve,
)

U = None


def _renamed(wells, prefix):
    return [dataclasses.replace(w, well=f"{prefix}{w.well}") for w in wells]


# -- standard curve --------------------------------------------------------------------------


def test_standard_curve_hand_calculation():
    # Three dilutions, one well each: x = log10 f = -1, -2, -3; y = 23.1, 26.6, 29.9.
    # x̄ = -2, ȳ = 26.5333; Sxy = (1)(-3.4333) + 0 + (-1)(3.3667) = -6.8; Sxx = 2
    # slope = -6.8 / 2 = -3.4; intercept = ȳ - slope·x̄ = 26.5333 - 6.8 = 19.7333
    # fitted 23.1333, 26.5333, 29.9333 -> residuals -0.0333, 0.0667, -0.0333: SSres = 0.006667
    # SStot = 3.4333² + 0.0667² + 3.3667² = 23.1267 -> R² = 1 - 0.006667/23.1267 = 0.999712
    # efficiency = 10^(1/3.4) - 1 = 0.96842
    c = fit_standard_curve([1e-1, 1e-2, 1e-3], [23.1, 26.6, 29.9])
    assert c.slope == pytest.approx(-3.4, abs=1e-9)
    assert c.intercept == pytest.approx(19.7333, abs=1e-4)
    assert c.r2 == pytest.approx(0.999712, abs=1e-6)
    assert c.efficiency == pytest.approx(0.96842, abs=1e-5)


def test_efficiency_of_ideal_slope():
    # 10^(1/3.3) - 1 = 1.00923 (hand: 10^0.30303 = 2.00923); slope -3.32 is ~100 %
    assert efficiency_from_slope(-3.3) == pytest.approx(1.00923, abs=1e-5)
    assert efficiency_from_slope(-3.32) == pytest.approx(1.0, abs=2e-3)


def test_curve_needs_two_levels():
    with pytest.raises(ValidationError, match="at least two distinct dilutions"):
        fit_standard_curve([1e-2, 1e-2], [26.0, 26.1])


# -- worked example: positive -------------------------------------------------------------------


def test_worked_example_positive(plate):
    # Standards exactly on Ct = -3.3·log10 f + 20 at 1e-1..1e-4 (23.3, 26.6, 29.9, 33.2, triplicates)
    # and 1e-5 = [36.5, Undetermined, 36.9]; background lowest Ct 40.0.
    # QR: 1e-4 is the lowest dilution with all replicates, spread 0 <= 1.5, 33.2 <= 40 - 3.0 -> 1e-4
    #     (1e-5 lost one replicate).  Sensitivity: 36.5 <= 40 - 1.0 at 1e-5 -> 1e-5.
    # Follow-up 30.0, 30.2, 29.8: mean 30.0, spread 0.4; MRD_raw = 10^((30 - 20)/-3.3) = 9.3260e-4
    # (>= QR 1e-4 -> quantifiable). ALB: follow-up 25.0 vs reference 24.0, ΔCt = +1.0 ->
    # factor 10^(1/3.32) = 2.000805; MRD = 9.3260e-4 × 2.000805 = 1.86596e-3.
    # LoD = 1e-5 × 2.000805, LoQ = 1e-4 × 2.000805.
    res = analyze_plate(plate())
    (m,) = res.markers
    assert m.accepted
    assert m.curve.slope == pytest.approx(-3.3, abs=1e-9)
    assert m.curve.intercept == pytest.approx(20.0, abs=1e-9)
    assert m.curve.r2 == pytest.approx(1.0)
    assert m.quantitative_range == 1e-4
    assert m.sensitivity == 1e-5
    assert m.background_min_ct == 40.0
    (s,) = res.samples
    assert s.category == "positive"
    assert s.mean_ct == pytest.approx(30.0)
    assert s.mrd_raw == pytest.approx(9.3260e-4, rel=1e-4)
    assert s.normalisation_factor == pytest.approx(2.000805, rel=1e-6)
    assert s.value == pytest.approx(1.86596e-3, rel=1e-4)
    assert s.lod == pytest.approx(2.000805e-5, rel=1e-6)
    assert s.loq == pytest.approx(2.000805e-4, rel=1e-6)
    assert any("ΔCt" in r for r in s.reasons) and any("within the QR" in r for r in s.reasons)
    mrd = res.case_level[0].mrd()
    assert mrd.status == "positive" and mrd.method == "pcr"


def test_worked_example_not_quantifiable_is_never_a_plain_number(plate):
    # Follow-up 35.0, Undetermined, 35.4: specific amplification in 2 of 3 replicates -> PNQ.
    # Point estimate: mean 35.2 -> 10^((35.2-20)/-3.3) = 2.4771e-5, × 2.000805 = 4.9562e-5,
    # kept for fitting but displayed only as "positive, < LoQ".
    res = analyze_plate(plate(follow_up=(35.0, U, 35.4)))
    (s,) = res.samples
    assert s.category == "positive_not_quantifiable"
    assert s.value == pytest.approx(4.9562e-5, rel=1e-4)
    assert any("only 2 of 3 replicates" in r for r in s.reasons)
    shown = res.case_level[0].mrd().display()
    assert shown.startswith("positive, < LoQ")
    assert "4.96" not in shown and "e-05" not in shown


def test_worked_example_negative_reports_sensitivity(plate):
    # No amplification: negative, with the sensitivity reached 1e-5 × 2.000805 (van der Velden 2007 [R])
    res = analyze_plate(plate(follow_up=(U, U, U)))
    (s,) = res.samples
    assert s.category == "negative" and s.value is None
    assert s.lod == pytest.approx(2.000805e-5, rel=1e-6)
    assert "sensitivity reached 2.0e-05" in s.reasons[-1]


def test_amplification_at_background_level_is_not_specific(plate):
    # Background lowest Ct 40.0; positivity gap 1.0 -> a replicate at 39.5 is not specific.
    res = analyze_plate(plate(follow_up=(39.5, U, U)))
    (s,) = res.samples
    assert s.category == "negative"
    assert any("within 1.0 Ct of background" in r for r in s.reasons)


def test_replicate_spread_beyond_rule_is_not_quantifiable(plate):
    # 29.0 and 31.0 and 30.0: all specific, mean 30.0 (>= QR) but spread 2.0 > 1.5 -> PNQ
    res = analyze_plate(plate(follow_up=(29.0, 31.0, 30.0)))
    assert res.samples[0].category == "positive_not_quantifiable"
    assert any("spread 2.00 Ct > 1.5" in r for r in res.samples[0].reasons)


def test_below_quantitative_range_is_pnq(plate):
    # all three replicates at 34.5 -> raw 10^(-14.5/3.3) = 4.04e-5 < QR 1e-4 -> PNQ
    res = analyze_plate(plate(follow_up=(34.5, 34.5, 34.5)))
    assert res.samples[0].category == "positive_not_quantifiable"
    assert any("below the quantitative range" in r for r in res.samples[0].reasons)


def test_control_gene_failure_is_not_evaluable(plate):
    res = analyze_plate(plate(control={"DX": [24.0] * 3, "FU1": [U, U, U]}))
    assert res.samples[0].category == "not_evaluable"
    assert res.case_level[0].mrd() is None
    assert any("control gene did not amplify" in r for r in res.samples[0].reasons)


def test_no_control_gene_means_not_normalised(plate):
    res = analyze_plate(plate(control={}))
    assert res.samples[0].normalisation_factor == 1.0
    assert res.samples[0].value == pytest.approx(9.3260e-4, rel=1e-4)  # the raw value
    assert any("not normalised" in r for r in res.reasons)


def test_blast_fraction_rescaling_is_optional(plate):
    # [U] (lab-dependent): off by default; 0.8 multiplies value and limits
    base = analyze_plate(plate()).samples[0]
    scaled = analyze_plate(plate(), {"diagnostic_blast_fraction": 0.8}).samples[0]
    assert scaled.value == pytest.approx(base.value * 0.8)
    assert scaled.lod == pytest.approx(base.lod * 0.8)


# -- bad plates: reasons, not numbers -------------------------------------------------------------


def test_missing_standards_give_reasons_not_numbers(plate):
    res = analyze_plate(plate(standards={}))
    (m,) = res.markers
    assert not m.accepted and m.curve is None
    assert any("no standard dilution wells" in r for r in m.reasons)
    (s,) = res.samples
    assert s.category == "not_evaluable" and s.value is None and s.lod is None
    assert res.case_level[0].category == "not_evaluable"
    assert res.case_level[0].mrd() is None


def test_too_few_reproducible_standards_rejected(plate):
    # only 1e-1 and 1e-2 reproducible: 2 levels < min_standard_levels 3
    res = analyze_plate(plate(standards={1e-1: [23.3] * 3, 1e-2: [26.6] * 3, 1e-3: [29.9, U, U]}))
    assert not res.markers[0].accepted
    assert any("only 2 reproducible" in r for r in res.markers[0].reasons)
    assert res.samples[0].value is None


def test_slope_outside_accepted_range_rejected(plate):
    # slope -2.8 (efficiency 10^(1/2.8) - 1 = 127 %) is outside [-3.9, -3.1]
    std = {lv: [round(-2.8 * math.log10(lv) + 20, 3)] * 3 for lv in (1e-1, 1e-2, 1e-3, 1e-4)}
    res = analyze_plate(plate(standards=std))
    (m,) = res.markers
    assert not m.accepted
    assert m.curve.slope == pytest.approx(-2.8)
    assert any("slope -2.80 is outside the accepted range [-3.9, -3.1]" in r for r in m.reasons)
    assert res.samples[0].category == "not_evaluable" and res.samples[0].value is None
    # the same plate is accepted when the user widens the window (and the result says so)
    ok = analyze_plate(plate(standards=std), {"slope_max": -2.5})
    assert ok.markers[0].accepted
    assert any(r["name"] == "slope_max" and r["tag"] == "user" for r in ok.rests_on)


def test_ntc_amplification_rejects_marker(plate):
    res = analyze_plate(plate(ntc=(37.2, U)))
    (m,) = res.markers
    assert not m.accepted
    assert len(m.ntc_amplified) == 1
    assert any("no-template control amplified" in r and "37.2" in r for r in m.reasons)
    assert res.samples[0].value is None and res.samples[0].category == "not_evaluable"


def test_poor_r2_rejected(plate):
    std = {1e-1: [23.3] * 3, 1e-2: [27.6] * 3, 1e-3: [28.9] * 3, 1e-4: [33.9] * 3}
    res = analyze_plate(plate(standards=std, background=(U, U, U)))
    assert not res.markers[0].accepted
    assert any("R²" in r and "rejected" in r for r in res.markers[0].reasons)


# -- several markers -------------------------------------------------------------------------------


def _two_markers(plate, fu_a, fu_b):
    a = plate(target="TRG", follow_up=fu_a)
    b = _renamed(plate(target="TRD", follow_up=fu_b, control={}), "B")
    return a + b


def test_case_level_highest_quantifiable_by_default(plate):
    # TRG mean 30.0 -> 1.866e-3 (worked example); TRD mean 31.0 -> 10^(-11/3.3) × 2.000805 = 9.28e-4
    res = analyze_plate(_two_markers(plate, (30.0, 30.0, 30.0), (31.0, 31.0, 31.0)))
    (cl,) = res.case_level
    assert cl.category == "positive" and cl.marker == "TRG"
    assert cl.value == pytest.approx(1.86596e-3, rel=1e-4)
    assert cl.markers_for_stratification == 2 and cl.stratification_markers_ok
    low = analyze_plate(_two_markers(plate, (30.0,) * 3, (31.0,) * 3),
                        {"marker_policy": "lowest_quantifiable"}).case_level[0]
    assert low.marker == "TRD"
    assert low.value == pytest.approx(10 ** (-11 / 3.3) * 2.000805, rel=1e-4)


def test_case_level_negative_needs_every_marker(plate):
    res = analyze_plate(_two_markers(plate, (U, U, U), (U, U, U)))
    assert res.case_level[0].category == "negative"
    mixed = analyze_plate(_two_markers(plate, (U, U, U), (35.0, U, U)))
    assert mixed.case_level[0].category == "positive_not_quantifiable"
    assert mixed.case_level[0].marker == "TRD"


def test_unknown_policy_is_rejected(plate):
    with pytest.raises(ValidationError, match="marker_policy must be one of"):
        analyze_plate(plate(), {"marker_policy": "median"})
    with pytest.raises(ValidationError, match="unknown parameter 'slope_mni'"):
        analyze_plate(plate(), {"slope_mni": -4})


def test_rules_listed_with_tags(plate):
    res = analyze_plate(plate())
    names = {r["name"]: r for r in res.rules}
    assert names["qr_max_replicate_spread"]["value"] == 1.5 and names["qr_max_replicate_spread"]["tag"] == "R"
    assert names["slope_min"]["tag"] == "U"
    # every rule tagged R or U is in rests_on
    assert {r["name"] for r in res.rests_on} == {n for n, r in PCR_RULES.items() if r.tag in ("R", "U")}


def test_fit_style_wrapper(plate):
    est = RqPcrMrd(marker_policy="highest_quantifiable").fit(plate())
    assert est.curves_["IGH1"].slope == pytest.approx(-3.3)
    assert est.mrd("FU1").status == "positive"
    with pytest.raises(ValidationError, match="sample must be a follow-up sample"):
        est.mrd("nope")


# -- invariants -------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(ct1=st.floats(20.5, 36.0), delta=st.floats(0.01, 3.0))
def test_mrd_monotone_in_ct_and_at_most_one(plate, ct1, delta):
    # fewer cycles = more target: the MRD (or PNQ point estimate) never falls as Ct falls
    lo = analyze_plate(plate(follow_up=(ct1,) * 3)).samples[0]
    hi = analyze_plate(plate(follow_up=(ct1 + delta,) * 3)).samples[0]
    assert lo.value is not None and hi.value is not None
    assert lo.value >= hi.value
    assert 0 < lo.value <= 1


@settings(max_examples=60, deadline=None)
@given(cg=st.floats(-2.0, 4.0))
def test_normalisation_scales_value_and_limits_alike(plate, cg):
    # van der Velden 2007 [R]: the sample's sensitivity moves with the DNA correction, so value/LoD is fixed
    base = analyze_plate(plate(follow_up=(30.0,) * 3)).samples[0]
    s = analyze_plate(plate(follow_up=(30.0,) * 3,
                            control={"DX": [24.0] * 3, "FU1": [24.0 + cg] * 3})).samples[0]
    assert s.value / s.lod == pytest.approx(base.value / base.lod, rel=1e-9)
    assert s.lod == pytest.approx(1e-5 * 10 ** (cg / 3.32), rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(cts=st.lists(st.one_of(st.none(), st.floats(15.0, 45.0)), min_size=1, max_size=4))
def test_undetermined_replicate_is_never_quantifiable(plate, cts):
    s = analyze_plate(plate(follow_up=tuple(cts))).samples[0]
    if None in cts:
        assert s.category != "positive"
    if all(c is None for c in cts):
        assert s.category == "negative" and s.value is None


def test_missing_expected_dilution_is_reported_not_fatal(plate):
    # van der Velden 2007 [R]: 1e-1 … 1e-5 expected; without 1e-5 the curve still stands on 1e-1 … 1e-4
    std = {lv: [round(-3.3 * math.log10(lv) + 20, 4)] * 3 for lv in (1e-1, 1e-2, 1e-3, 1e-4)}
    res = analyze_plate(plate(standards=std))
    assert res.markers[0].accepted
    assert any("lacks dilution(s) 1e-05" in r for r in res.markers[0].reasons)


def test_rule_sources_cite_papers_not_files():
    # issue 14 item 7: sources name the paper (van der Velden 2007 for the EuroMRD numbers,
    # Conter 2010 for the two-marker rule), never a research-note file outside the repository
    for rule in PCR_RULES.values():
        assert ".md" not in rule.source and "§" not in rule.source, rule.name
    for name in ("slope_min", "min_r2", "qr_max_replicate_spread", "marker_policy"):
        assert "Leukemia 2007" in PCR_RULES[name].source, name
        assert "recalled" in PCR_RULES[name].source, name  # the 2007 full text was not re-read
    assert "Blood 2010" in PCR_RULES["stratification_min_markers"].source
    assert PCR_RULES["stratification_min_markers"].tag == "C" and PCR_RULES["slope_min"].tag == "U"
    assert "clinical_rules" not in inspect.getsource(pcr)
