"""Aalen–Johansen CIF, its variance and Gray's test against R ``cmprsk::cuminc`` and
``survival::survfit`` (multi-state); expected values from ``tests/cohort/r/reference.R``."""

from __future__ import annotations

import numpy as np
import pytest

from remission.cohort import AalenJohansen, cumulative_incidence_groups, gray_test

from .conftest import RefSet, assert_r

CASES = {
    # name: (data, time column, group column, strata, rho)
    "cuminc_mgus2_sex": ("mgus2", "etime", "sex", None, 0.0),
    "cuminc_bmt_group": ("bmt", "t2", "group", None, 0.0),
    "cuminc_mgus2_sex_strat_age70": ("mgus2", "etime", "sex", "age70", 0.0),
    "cuminc_bmt_group_rho1": ("bmt", "t2", "group", None, 1.0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_gray_test_matches_cuminc(ref: RefSet, name: str) -> None:
    data, tcol, gcol, strata, rho = CASES[name]
    df = ref.csv(data)
    st = (df.age >= 70).astype(int) if strata == "age70" else None
    e = ref[name]["tests"]
    for i, cause in enumerate((1, 2)):
        res = gray_test(df[tcol], df.ev, df[gcol], cause=cause, strata=st, rho=rho)
        assert_r(res.statistic, e["stat"][i], f"{name} cause {cause} statistic")
        assert_r(res.p_value, e["pv"][i], f"{name} cause {cause} p")
        assert res.df == e["df"][i]


@pytest.mark.parametrize("name", ["cuminc_mgus2_sex", "cuminc_bmt_group"])
def test_cif_and_variance_match_cuminc_timepoints(ref: RefSet, name: str) -> None:
    data, tcol, gcol, _, _ = CASES[name]
    df = ref.csv(data)
    res = cumulative_incidence_groups(df[tcol], df.ev, df[gcol])
    e = ref[name]
    est, var = np.asarray(e["est"]), np.asarray(e["var"])
    labels = {str(k): k for k in res}
    for row, label in enumerate(e["est_names"]):  # R names rows "<group> <cause>"
        group, cause = label.rsplit(" ", 1)
        cur = res[labels[group]]
        k = cur.causes.index(int(cause))
        assert_r(cur.cif_at(e["times"])[:, k], est[row], f"{label} CIF")
        assert_r(cur.variance_at(e["times"])[:, k], var[row], f"{label} variance")


def test_full_cif_curve_matches_cuminc_at_every_jump(ref: RefSet) -> None:
    # cuminc returns each curve as a step path (time, est, var); compare at every point.
    df = ref.csv("mgus2")
    res = cumulative_incidence_groups(df.etime, df.ev, df.sex)
    for label, curve in ref["cuminc_mgus2_sex"]["curves"].items():
        group, cause = label.rsplit(" ", 1)
        cur = res[group]
        k = cur.causes.index(int(cause))
        t = np.asarray(curve["time"])
        # the path starts at (0, 0), then lists (t, F(t-)), (t, F(t)) for each jump; compare
        # the right-continuous value at the second point of each pair
        assert_r(cur.cif_at(t[2::2])[:, k], curve["est"][2::2], f"{label} path")
        assert_r(cur.variance_at(t[2::2])[:, k], curve["var"][2::2], f"{label} path variance")


def test_aalen_johansen_equals_multistate_survfit(ref: RefSet) -> None:
    df = ref.csv("mgus2")
    aj = AalenJohansen().fit(df.etime, df.ev)
    e = ref["aj_mgus2"]
    ps = np.asarray(e["pstate"])  # columns: no event, PCM, death
    assert_r(aj.result_.survival_at(e["times"]), ps[:, 0], "P(no event)")
    assert_r(aj.cumulative_incidence_at(e["times"]), ps[:, 1:], "CIF PCM, death")


def test_tied_events_handled_together() -> None:
    # Hand calculation, 4 patients: at t=2 one cause-1 and one cause-2 event tie (n=4),
    # at t=3 a cause-1 event (n=2). CIF1(2) = 1/4; S(2) = 1/2; CIF1(3) = 1/4 + 1/2 * 1/2 = 1/2.
    res = AalenJohansen().fit([2, 2, 3, 5], [1, 2, 1, 0]).result_
    assert res.cif_at([2, 3]).tolist() == [[0.25, 0.25], [0.5, 0.25]]
    assert res.survival_at([3]).tolist() == [0.25]
