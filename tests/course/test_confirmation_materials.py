"""Molecular relapse needs a second sample taken later; never-negative MRD rising >= 1 log is
MRD progression; a clinical relapse confirms; bone marrow and blood are separate series.

Rules: ``molecular_relapse_threshold`` 1e-4 and ``require_confirmation`` (clinical_rules §4.2, [U]
defaults), ``progression_log_increase`` 1.0 ([U]).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from remission.domain.mrd import MrdResult
from remission.mrd.course import CourseEvent, analyze_course

D0 = dt.date(2022, 1, 1)


def mrd(day: int, status: str, value: float | None = None, *, method: str = "pcr",
        lod: float | None = 1e-5, loq: float | None = 1e-4, **kw: Any) -> MrdResult:
    return MrdResult(method=method, status=status, value=value, lod=lod, loq=loq,  # type: ignore[arg-type]
                     date=D0 + dt.timedelta(days=day), **kw)


def test_same_day_second_method_does_not_confirm():
    course = [mrd(0, "negative"),
              mrd(60, "positive", 3e-4, method="pcr"),
              mrd(60, "positive", 5e-4, method="ngs", lod=1e-6, loq=5e-6)]  # same marrow, same day
    mr = analyze_course(course)["molecular_relapse"]
    assert mr["status"] == "awaiting_confirmation" and mr["detected"] is False
    assert "same day does not confirm" in mr["note"]
    # a sample taken later (any method) confirms
    mr2 = analyze_course([*course, mrd(90, "positive", 2e-3, method="pcr")])["molecular_relapse"]
    assert mr2["status"] == "confirmed" and mr2["confirmed_on"] == "2022-04-01"
    assert mr2["confirmation"] == "second sample taken later"


def test_clinical_relapse_confirms_a_preceding_molecular_relapse():
    course = [mrd(0, "negative"), mrd(60, "positive", 3e-4)]
    relapse = CourseEvent(kind="relapse", date=D0.replace(month=4, day=20), label="Relapse 2")
    mr = analyze_course(course, events=[relapse])["molecular_relapse"]
    assert mr["status"] == "confirmed" and mr["confirmed_by"] == "clinical relapse"
    assert mr["confirmed_on"] == "2022-04-20"


def test_never_negative_rise_of_one_log_is_progression():
    # the case: 6.5e-5 -> 1.2e-2 without a negative result is +2.27 log
    # (log10(1.2e-2 / 6.5e-5) = 2.266)
    res = analyze_course([mrd(0, "positive", 6.5e-5, lod=1e-6, loq=1e-5), mrd(45, "positive", 1.2e-2)])
    mr = res["molecular_relapse"]
    assert mr["status"] == "progression" and "MRD progression" in mr["note"]
    (p,) = res["progression"]
    assert p["log_increase"] == pytest.approx(2.2663, abs=1e-4) and p["bound"] == "exact"


def test_progression_from_a_value_below_loq_is_a_lower_bound():
    # PNQ (LoQ 1e-4) -> 2e-3: the rise is at least log10(2e-3 / 1e-4) = 1.30 log
    res = analyze_course([mrd(0, "positive_not_quantifiable", 4e-5, loq=1e-4), mrd(30, "positive", 2e-3)])
    (p,) = res["progression"]
    assert p["log_increase"] == pytest.approx(1.3010, abs=1e-4) and p["bound"] == "at_least"


def bm(day: int, status: str, value: float | None = None, **kw) -> MrdResult:
    return mrd(day, status, value, material="bone_marrow", **kw)


def pb(day: int, status: str, value: float | None = None, **kw) -> MrdResult:
    return mrd(day, status, value, material="peripheral_blood", **kw)


def test_marrow_to_blood_is_never_a_progression():
    # blood 1e-5, marrow 2e-4 a week later (marrow reads about a log higher in B-ALL)
    res = analyze_course([pb(0, "positive", 1e-5, lod=1e-6, loq=5e-6), bm(7, "positive", 2e-4)])
    assert res["progression"] == []
    assert res["molecular_relapse"]["status"] == "none"
    (x,) = res["cross_material"]
    assert x["from_material"] == "peripheral_blood" and x["to_material"] == "bone_marrow"
    assert "cross-material comparison" in x["label"]
    assert res["materials"] == ["bone_marrow", "peripheral_blood"]


def test_materials_are_separate_series_for_relapse_and_fits():
    # marrow negative -> positive in blood is not a marrow conversion; each material's own series
    course = [bm(0, "negative"), pb(30, "positive", 3e-4), bm(60, "negative"), pb(90, "positive", 5e-4)]
    res = analyze_course(course)
    assert res["molecular_relapse_by_material"]["bone_marrow"]["status"] == "none"
    # blood was never negative: no molecular relapse in blood either (3e-4 -> 5e-4 < 1 log)
    assert res["molecular_relapse_by_material"]["peripheral_blood"]["status"] == "none"
    assert res["conversions"] == []
    assert {f["material"] for f in res["fits"]} == {"bone_marrow", "peripheral_blood"}
    # within marrow, a later marrow sample confirms; the blood result in between does not count
    course2 = [bm(0, "negative"), bm(30, "positive", 3e-4), pb(45, "negative"), bm(60, "positive", 4e-4)]
    mr = analyze_course(course2)["molecular_relapse"]
    assert mr["status"] == "confirmed" and mr["material"] == "bone_marrow" and mr["confirmed_on"] == "2022-03-02"


def test_read_fraction_is_not_used_as_mrd():
    rf = MrdResult(method="ngs", status="not_evaluable", date=D0, material="bone_marrow",
                   details={"quantity": "read_fraction", "read_fraction": 0.2,
                            "reason": "read fraction only"})
    res = analyze_course([mrd(-30, "negative"), rf])
    assert res["n_results"] == 1 and res["latest_response"]["category"] == "MRD_CR"
    assert any("read fractions" in w for w in res["warnings"])


def test_emerging_clone_alert_and_caveat_on_latest_response():
    caveat = "the MRD call rests on the diagnosis index markers, which may no longer represent the disease"
    alert = ("emerging non-index clone (IGH IGHV3-30 IGHJ6), same locus as an index marker, 32.4 % of "
             "IGH reads, present at diagnosis at 0.596 %")
    r = mrd(0, "negative", method="ngs", lod=1e-6, loq=5e-6,
            details={"emerging_clones": [{"alert": alert, "fraction": 0.324, "diagnosis_fraction": 0.00596}],
                     "marker_caveat": caveat})
    res = analyze_course([r])
    lr = res["latest_response"]
    assert lr["category"] == "MRD_CR" and lr["plain_response"] is False and lr["caveat"] == caveat
    assert res["alerts"][0]["text"] == alert
