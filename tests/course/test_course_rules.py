"""MRD-course rules (clinical_rules.md §4) on small hand-built courses."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remission.errors import ValidationError
from remission.mrd.course import (
    COURSE_RULES,
    Baseline,
    CourseEvent,
    analyze_course,
    response_category,
)

D0 = dt.date(2022, 1, 1)


@pytest.mark.parametrize(("status", "value", "lod", "loq", "expected"), [
    # §4.1 [C]: MRD CR = negative with sensitivity >= 1e-4 (LoD <= 1e-4)
    ("negative", None, 1e-5, 1e-4, "MRD_CR"),
    ("negative", None, 1e-4, 1e-4, "MRD_CR"),
    # negative with insufficient sensitivity -> intermediate
    ("negative", None, 1e-3, 1e-3, "MRD_intermediate"),
    # MRD failure = positive >= 0.01 %
    ("positive", 1e-4, 1e-5, 1e-4, "MRD_failure"),
    ("positive", 2e-3, 1e-5, 1e-4, "MRD_failure"),
    # positive < 0.01 % and PNQ < 0.01 % -> intermediate
    ("positive", 5e-5, 1e-6, 1e-5, "MRD_intermediate"),
    ("positive_not_quantifiable", 3e-5, 1e-5, 1e-4, "MRD_intermediate"),
    # PNQ with a LoQ above 1e-4 cannot be placed
    ("positive_not_quantifiable", 3e-4, 1e-4, 1e-3, "indeterminate"),
])
def test_response_categories(make_mrd, status, value, lod, loq, expected):
    assert response_category(make_mrd(0, status, value, lod=lod, loq=loq)) == expected


def test_log_reduction_from_relapse_blasts(make_mrd):
    # baseline 50 % blasts = 0.5: positive 5e-4 -> log10(0.5/5e-4) = 3.0 exactly;
    # negative at LoD 1e-5 -> at least log10(0.5/1e-5) = 4.70; PNQ < 1e-4 -> at least 3.70
    res = analyze_course([make_mrd(10, "positive", 5e-4), make_mrd(40, "negative"),
                          make_mrd(70, "positive_not_quantifiable", 3e-5)],
                         baseline=Baseline(D0, 0.5, "relapse blasts 50 %"))
    lr = [p["log_reduction"] for p in res["points"]]
    assert lr[0] == {"value": pytest.approx(3.0), "bound": "exact"}
    assert lr[1]["value"] == pytest.approx(4.69897, abs=1e-5) and lr[1]["bound"] == "at_least"
    assert lr[2]["value"] == pytest.approx(3.69897, abs=1e-5) and lr[2]["at_most"] == pytest.approx(4.69897, abs=1e-5)
    # the PNQ point estimate never appears as the displayed value
    assert res["points"][2]["display"].startswith("positive, < LoQ")


def test_time_to_negativity_needs_sufficient_sensitivity(make_mrd):
    # a negative at LoD 1e-3 on day 20 does not count (§4.1); the first negative with LoD 1e-5
    # is on day 45 -> 45 days from the baseline on day 0
    res = analyze_course([make_mrd(20, "negative", lod=1e-3, loq=1e-3, method="flow"),
                          make_mrd(45, "negative")],
                         baseline=Baseline(D0, 0.8, "relapse"))
    assert res["time_to_negativity"]["days"] == 45
    assert res["time_to_negativity"]["method"] == "pcr"


def test_molecular_relapse_confirmed_by_second_sample(make_mrd):
    # [U] rule defaults: >= 1e-4 after negativity, confirmed in the next sample
    course = [make_mrd(0, "negative"), make_mrd(30, "positive_not_quantifiable", 3e-5),
              make_mrd(60, "positive", 2e-4), make_mrd(90, "positive", 3e-3)]
    res = analyze_course(course)
    mr = res["molecular_relapse"]
    assert mr["status"] == "confirmed" and mr["date"] == "2022-03-02"
    assert mr["confirmed_on"] == "2022-04-01"
    assert res["conversions"][0]["date"] == "2022-01-31"  # first detectable after negative
    assert res["quantifiable_recurrence"]["date"] == "2022-03-02"  # GMALL trigger [C]
    # the defaults of the unconfirmed rules are stated in the output
    rests = {r["name"]: r for r in res["rests_on"]}
    assert rests["molecular_relapse_threshold"]["value"] == 1e-4
    assert rests["molecular_relapse_require_confirmation"]["value"] is True


def test_molecular_relapse_awaits_confirmation_and_rules_override(make_mrd):
    course = [make_mrd(0, "negative"), make_mrd(30, "positive", 2e-4)]
    assert analyze_course(course)["molecular_relapse"]["status"] == "awaiting_confirmation"
    one = analyze_course(course, parameters={"molecular_relapse_require_confirmation": False})
    assert one["molecular_relapse"]["status"] == "confirmed"
    high = analyze_course(course, parameters={"molecular_relapse_threshold": 1e-3})
    assert high["molecular_relapse"]["status"] == "none"
    assert any(r["name"] == "molecular_relapse_threshold" and r["tag"] == "user"
               for r in high["rests_on"])


def test_no_molecular_relapse_without_prior_negativity(make_mrd):
    res = analyze_course([make_mrd(0, "positive", 2e-4), make_mrd(30, "positive", 3e-4)])
    assert res["molecular_relapse"]["status"] == "none"
    assert res["conversions"] == []


def test_conversion_across_methods_is_flagged(make_mrd):
    res = analyze_course([make_mrd(0, "negative", method="flow", lod=1e-4, loq=1e-4),
                          make_mrd(20, "positive", 3e-5, method="ngs", lod=1e-6, loq=5e-6)])
    (conv,) = res["conversions"]
    assert conv["method_change"] and "different methods" in conv["note"]
    assert res["method_changes"] == [{"date": "2022-01-21", "from": ["flow"], "to": ["ngs"]}]


def test_progression_one_log(make_mrd):
    # [U] >= 1 log increase in persistent MRD: 1e-4 -> 1.2e-3 is +1.08 log
    res = analyze_course([make_mrd(0, "positive", 1e-4), make_mrd(30, "positive", 1.2e-3)])
    (p,) = res["progression"]
    assert p["log_increase"] == pytest.approx(1.0792, abs=1e-4)
    assert analyze_course([make_mrd(0, "positive", 1e-4), make_mrd(30, "positive", 9e-4)])["progression"] == []


def test_detectable_after_hsct_and_cart(make_mrd):
    ev = [CourseEvent("hsct", D0 + dt.timedelta(days=10), "HSCT"),
          CourseEvent("cart", D0 + dt.timedelta(days=100), "CAR-T")]
    res = analyze_course([make_mrd(5, "positive", 1e-3), make_mrd(40, "positive_not_quantifiable", 2e-5),
                          make_mrd(120, "negative")], events=ev)
    assert [x["date"] for x in res["detectable_after_hsct"]] == ["2022-02-10"]
    assert res["detectable_after_cart"] == []
    assert [e["kind"] for e in res["events"]] == ["hsct", "cart"]


def test_fits_are_per_method_and_headline_names_one(make_mrd):
    ngs = [make_mrd(d, "positive", v, method="ngs", lod=1e-6, loq=5e-6)
           for d, v in ((0, 1e-5), (14, 3e-5), (28, 1e-4), (42, 3e-4))]
    pcr = [make_mrd(d, "positive", v) for d, v in ((7, 2e-4), (21, 5e-4), (35, 1.5e-3))]
    res = analyze_course(ngs + pcr)
    fits = {f["method"]: f for f in res["fits"]}
    assert set(fits) == {"ngs", "pcr"}
    assert fits["ngs"]["n_points"] == 4 and fits["pcr"]["n_points"] == 3
    assert res["headline"]["method"] == "ngs"  # the most recent result
    assert "never pooled" in res["headline"]["why"]
    pr = fits["ngs"]["projection"]
    assert pr["threshold_fraction"] == 0.05 and pr["ci_low"] <= pr["date"] <= pr["ci_high"]


def test_declining_course_has_no_projection(make_mrd):
    res = analyze_course([make_mrd(0, "positive", 1e-2), make_mrd(30, "positive", 1e-3),
                          make_mrd(60, "positive", 2e-4)])
    f = res["fits"][0]
    assert f["fitted"] is False or f["projection"] is None


@pytest.mark.parametrize("bad", [0, -1, 2, float("nan"), None, "x"])
def test_bad_threshold_rejected(make_mrd, bad):
    with pytest.raises(ValidationError, match="relapse_blast_fraction must be a fraction"):
        analyze_course([make_mrd(0, "positive", 1e-3)], parameters={"relapse_blast_fraction": bad})


def test_rule_set_lists_every_spec_number():
    assert COURSE_RULES["negativity_max_lod"].tag == "C"
    assert COURSE_RULES["molecular_relapse_threshold"].tag == "U"
    assert COURSE_RULES["relapse_blast_fraction"].value == 0.05


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.sampled_from(["negative", "pnq", "positive"]),
                          st.floats(-6, -0.5)), min_size=1, max_size=8))
def test_course_invariants(make_mrd, items):
    rs = []
    for day, status, lg in items:
        v = 10 ** lg
        if status == "negative":
            rs.append(make_mrd(day, "negative"))
        elif status == "pnq":
            rs.append(make_mrd(day, "positive_not_quantifiable", 5e-5))
        else:
            rs.append(make_mrd(day, "positive", max(v, 1e-4)))
    res = analyze_course(rs)
    dates = [p["date"] for p in res["points"]]
    assert dates == sorted(dates)
    for p in res["points"]:
        if p["status"] != "positive":
            assert "e-" not in p["display"]  # never a plain number below the LoQ
    for f in res["fits"]:
        if f.get("fitted") and f.get("doubling_time_days"):
            assert f["doubling_time_days"] > 0
            lo, hi = f["doubling_time_days_ci"]
            assert lo is None or lo <= f["doubling_time_days"]
            assert hi is None or hi >= f["doubling_time_days"]
    if res["molecular_relapse"]["status"] == "confirmed":
        assert res["conversions"]
