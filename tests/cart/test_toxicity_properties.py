"""Property: making any feature worse never lowers a grade (a monotonicity property), on every scale.

Grades are compared as ranges: neither the lower nor the upper bound may fall.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from remission.cart.toxicity import crs_astct, crs_ctcae5, crs_lee2014, crs_penn, icans_astct
from remission.domain.cart import Assessment

OXY = ["none", "low_flow", "high_flow", "positive_pressure"]
CONS = ["awake", "drowsy", "voice", "tactile", "unarousable"]
SEIZ_LEVEL = {"none": 0, "focal_or_generalized_resolving": 1, "eeg_nonconvulsive": 1, "prolonged_or_repetitive": 2}
EDEMA = ["none", "focal", "diffuse", "icp_signs"]


def _sparse(default: object, strat: st.SearchStrategy) -> st.SearchStrategy:
    """Half the time the neutral value, so single features are often seen alone."""
    return st.one_of(st.just(default), strat)


@st.composite
def assessments(draw: st.DrawFn) -> Assessment:
    oxygen = draw(_sparse("none", st.sampled_from(OXY)))
    pressors = draw(_sparse(0, st.integers(0, 3)))
    vasopressin = draw(_sparse(False, st.booleans()))
    hypotension = draw(st.booleans()) or pressors > 0 or vasopressin
    use_capd = draw(st.booleans())
    return Assessment(
        temperature_c=draw(st.one_of(st.none(), st.floats(35.0, 41.5))),
        antipyretic=draw(st.booleans()),
        anti_cytokine=draw(st.booleans()),
        hypotension=hypotension,
        vasopressors=pressors,
        vasopressin=vasopressin,
        vasopressor_high_dose=draw(st.booleans()) if (pressors or vasopressin) else False,
        oxygen=oxygen,
        oxygen_l_min=draw(st.one_of(st.none(), st.floats(0.5, 15))) if oxygen != "none" else None,
        fio2=draw(st.one_of(st.none(), st.floats(0.21, 1.0))),
        mechanical_ventilation=draw(st.sampled_from([None, False, True])) if oxygen == "positive_pressure" else None,
        ice_score=None if use_capd else draw(st.one_of(st.none(), st.integers(0, 10))),
        capd_score=draw(st.one_of(st.none(), st.integers(0, 32))) if use_capd else None,
        consciousness=draw(st.one_of(st.none(), st.sampled_from(CONS))),
        seizure=draw(_sparse("none", st.sampled_from(list(SEIZ_LEVEL)))),
        motor=draw(_sparse("none", st.sampled_from(["none", "tremor_or_myoclonus", "deep_focal_weakness"]))),
        cerebral_edema=draw(_sparse("none", st.sampled_from(EDEMA))),
        creatinine_grade=draw(st.one_of(st.none(), st.integers(0, 4))),
        transaminase_grade=draw(st.one_of(st.none(), st.integers(0, 4))),
        organ_toxicity_grade=draw(st.one_of(st.none(), st.integers(0, 4))),
        hospitalized=draw(st.sampled_from([None, False, True])),
    )


def _worsenings(a: Assessment, d: st.DataObject) -> list[Assessment]:
    """Every single-feature change that makes the patient's state worse."""
    out = []
    if a.temperature_c is None or a.temperature_c < 41.5:
        out.append(replace(a, temperature_c=(a.temperature_c or 36.0) + d.draw(st.floats(0.1, 3.0))))
    if a.temperature_c is None or a.temperature_c < 38.0:
        out.append(replace(a, temperature_c=38.0))  # exactly at the fever threshold
    if not a.antipyretic:
        out.append(replace(a, antipyretic=True))
    if not a.anti_cytokine:
        out.append(replace(a, anti_cytokine=True))
    if not a.hypotension:
        out.append(replace(a, hypotension=True))
    out.append(replace(a, hypotension=True, vasopressors=a.vasopressors + 1))
    if not a.vasopressin:
        out.append(replace(a, hypotension=True, vasopressin=True))
    if (a.vasopressors or a.vasopressin) and not a.vasopressor_high_dose:
        out.append(replace(a, vasopressor_high_dose=True))
    i = OXY.index(a.oxygen)
    for o in OXY[i + 1:]:
        out.append(replace(a, oxygen=o, mechanical_ventilation=a.mechanical_ventilation if o == "positive_pressure"
                           else None, oxygen_l_min=a.oxygen_l_min if o != "none" else None))
    if a.oxygen == "low_flow":
        out.append(replace(a, oxygen_l_min=(a.oxygen_l_min or 0.5) + d.draw(st.floats(0.1, 10))))
    if a.fio2 is not None and a.fio2 < 1.0:
        out.append(replace(a, fio2=min(1.0, a.fio2 + d.draw(st.floats(0.01, 0.5)))))
    if a.oxygen == "positive_pressure" and not a.mechanical_ventilation:
        out.append(replace(a, mechanical_ventilation=True))
    if a.ice_score is not None:  # every lower ICE score
        out += [replace(a, ice_score=v) for v in range(a.ice_score)]
    if a.capd_score is not None:  # every higher CAPD score
        out += [replace(a, capd_score=v) for v in range(a.capd_score + 1, 33)]
    if a.capd_score is not None:
        out.append(replace(a, capd_score=None, capd_unable=True))
    c = CONS.index(a.consciousness) if a.consciousness else 0
    for x in CONS[c + 1:]:
        out.append(replace(a, consciousness=x))
    for s, lvl in SEIZ_LEVEL.items():
        if lvl > SEIZ_LEVEL[a.seizure or "none"]:
            out.append(replace(a, seizure=s))
    if a.motor != "deep_focal_weakness":
        out.append(replace(a, motor="deep_focal_weakness"))
    e = EDEMA.index(a.cerebral_edema or "none")
    for x in EDEMA[e + 1:]:
        out.append(replace(a, cerebral_edema=x))
    for f in ("creatinine_grade", "transaminase_grade", "organ_toxicity_grade"):
        v = getattr(a, f) or 0
        if v < 4:
            out.append(replace(a, **{f: v + 1}))
    if not a.hospitalized:
        out.append(replace(a, hospitalized=True))
    out.append(replace(a, death_attributed_to="crs"))
    out.append(replace(a, death_attributed_to="icans"))
    return out


def _all(a: Assessment) -> list[tuple[int, int]]:
    return [f(a).grade_range for f in (crs_astct, crs_penn, crs_lee2014, crs_ctcae5)] + \
        [icans_astct(a).grade_range]


@settings(max_examples=500, deadline=None)
@given(assessments(), st.data())
def test_worse_feature_never_lowers_any_grade(a: Assessment, data: st.DataObject) -> None:
    before = _all(a)
    for worse in _worsenings(a, data):
        after = _all(worse)
        for (lo0, hi0), (lo1, hi1) in zip(before, after, strict=True):
            assert lo1 >= lo0 and hi1 >= hi0, (a, worse, before, after)
