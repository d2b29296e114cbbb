"""Rule consistency (issue: thresholds in text follow overrides; age exact to the day; later
relapse selectable). Each test fails on the code before the change and passes after."""

from __future__ import annotations

import datetime as dt

from _clinic_factory import make_case, mrd

from remission.clinic import stratify


def _dob_case(dob: dt.date, relapse: dt.date, dx: dt.date = dt.date(2012, 1, 10)):
    c = make_case(dx=dx, relapse=relapse, end=dt.date(2014, 3, 10) if dx.year < 2014 else None)
    data = c.model_dump(mode="json")
    data["patient"] = {"id": "T-1", "date_of_birth": dob.isoformat()}
    return type(c).model_validate(data)


def test_overridden_bfm_threshold_is_the_number_in_the_text():
    # late isolated BCP marrow relapse -> BFM S2 (clinical_rules §1.3); S2 consolidation text
    # names the MRD cut-off. Default 1e-3 (IntReALL SR arm A); the user sets 5e-4.
    c = make_case()
    default = stratify(c)
    assert "0.001 (0.1 %)" in default.bfm.consolidation
    r = stratify(c, rules={"bfm_mrd_threshold": 5e-4})
    assert "0.0005 (0.05 %)" in r.bfm.consolidation and "0.001" not in r.bfm.consolidation
    # ALLR3 IR text follows its own rule the same way (default 1e-4, Parker Lancet 2010)
    r3 = stratify(c, rules={"allr3_mrd_threshold": 2e-4})
    assert "0.0002 (0.02 %)" in r3.allr3.consolidation


def test_overridden_threshold_decides_and_is_shown_in_the_transplant_rule():
    # MRD 7e-4 at end of induction: below the default 1e-3 (chemotherapy), at or above 5e-4 (HSCT)
    c = make_case()
    m = [mrd(7e-4, dt.date(2019, 2, 20))]
    assert stratify(c, m).transplant.decision == "not_indicated"
    t = stratify(c, m, rules={"bfm_mrd_threshold": 5e-4}).transplant
    assert t.decision == "indicated" and "0.0005" in t.rule and t.mrd_threshold == 5e-4


def test_age_at_relapse_is_exact_to_the_day_at_the_18th_birthday():
    # IntReALL: age 1-17 y (below the 18th birthday). Born 2001-06-14: on 2019-06-13 the patient
    # is 17 (inside), on 2019-06-14 18 (outside). days/365.25 gives 17.9986 y on the birthday,
    # which wrongly stayed inside before this change.
    inside = stratify(_dob_case(dt.date(2001, 6, 14), dt.date(2019, 6, 13)))
    outside = stratify(_dob_case(dt.date(2001, 6, 14), dt.date(2019, 6, 14)))
    assert "intreall" not in {k for f in inside.flags if f.code == "age_outside_scheme"
                              for k in f.table_lookup}
    assert "intreall" in {k for f in outside.flags if f.code == "age_outside_scheme"
                          for k in f.table_lookup}
    assert outside.intreall is None and inside.intreall is not None


def test_first_birthday_is_inside_the_schemes():
    # lower bound: 1 y inclusive. Born 2018-03-01; relapse on 2019-03-01 is age 1 (inside),
    # 2019-02-28 is age 0 (outside).
    on = stratify(_dob_case(dt.date(2018, 3, 1), dt.date(2019, 3, 1), dx=dt.date(2018, 9, 1)))
    before = stratify(_dob_case(dt.date(2018, 3, 1), dt.date(2019, 2, 28), dx=dt.date(2018, 9, 1)))
    assert not any(f.code == "age_outside_scheme" for f in on.flags)
    assert any(f.code == "age_outside_scheme" for f in before.flags)
