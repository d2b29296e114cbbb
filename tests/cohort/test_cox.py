"""Cox regression against R ``coxph`` and Therneau's validation vignette (closed forms).

Expected numbers: R ``coxph`` output from ``tests/cohort/r/reference.R``; the test-1/test-2
closed forms are from Therneau & Grambsch (2000) appendix E (survival's validate vignette).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from remission.cohort import CoxPH, cox_ph

from .conftest import RefSet, assert_r


def _cases(ref: RefSet) -> dict[str, dict]:
    lung = ref.csv("lung").dropna(subset=["age", "sex", "ph.ecog"])
    heart = ref.csv("heart")
    td = ref.csv("bmt_td")
    td["g2"] = (td.group == 2).astype(int)
    td["g3"] = (td.group == 3).astype(int)
    t1 = pd.DataFrame(ref["cox_test1_data"])
    t2 = pd.DataFrame(ref["cox_test2_data"])
    hx = heart[["age", "year", "surgery", "transplant"]]
    return {
        "test1": dict(x=t1[["x"]], stop=t1.time, event=t1.status),
        "test2": dict(x=t2[["x"]], start=t2.start, stop=t2.stop, event=t2.event),
        "lung": dict(x=lung[["age", "sex", "ph.ecog"]], stop=lung.time, event=lung.status - 1),
        "heart": dict(x=hx, start=heart.start, stop=heart.stop, event=heart.event,
                      ids=heart.id),
        "heart_robust": dict(x=hx, start=heart.start, stop=heart.stop, event=heart.event,
                             cluster=heart.id),
        "bmt_td": dict(x=td[["g2", "g3", "plt", "agvhd", "cgvhd"]], start=td.tstart,
                       stop=td.tstop, event=td.dfs, ids=td.id),
        "lung_strata": dict(x=lung[["age", "ph.ecog"]], stop=lung.time,
                            event=lung.status - 1, strata=lung.sex),
        # R: weights w = 0.5 + (row %% 4) / 4; non-integer weights make R report the robust
        # (per-row sandwich) variance, with the naive one in naive.var
        "lung_weighted": dict(x=lung[["age", "sex", "ph.ecog"]], stop=lung.time,
                              event=lung.status - 1, robust=True,
                              weights=0.5 + (np.arange(1, len(lung) + 1) % 4) / 4),
    }


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("case", ["test1", "test2", "lung", "heart", "heart_robust", "bmt_td",
                                  "lung_strata", "lung_weighted"])
def test_cox_matches_coxph(ref: RefSet, case: str, ties: str) -> None:
    fit = cox_ph(ties=ties, **_cases(ref)[case])
    e = ref[f"cox_{case}_{ties}"]
    what = f"{case}/{ties}"
    assert_r(fit.coef, e["coef"], what + " coef")
    assert_r(fit.var, e["var"], what + " variance")
    assert_r([fit.loglik_null, fit.loglik], e["loglik"], what + " loglik")
    assert_r(fit.score_test, e["score"], what + " score test")
    assert_r(fit.wald_test, e["wald"], what + " Wald test")
    assert_r(fit.lr_test, e["logtest"][0], what + " LR test")
    assert fit.n_event == e["nevent"]
    if e["naive_var"] is not None:
        assert fit.naive_var is not None
        assert_r(fit.naive_var, e["naive_var"], what + " naive variance")


def test_vignette_closed_forms() -> None:
    # Therneau & Grambsch (2000) appendix E, test data 1: Breslow beta = log((3 + sqrt 33)/2);
    # Efron beta = 1.676857, LL(0) = -4.276666, U(0) = 52/48 (score), I(0) = 83/144.
    time, status, x = [1, 1, 6, 6, 8, 9], [1, 0, 1, 1, 0, 1], [1, 1, 1, 0, 0, 0]
    bres = CoxPH(ties="breslow").fit(np.array(x)[:, None], time, status).result_
    assert bres.coef[0] == pytest.approx(math.log((3 + math.sqrt(33)) / 2), rel=1e-9)
    efr = cox_ph(np.array(x)[:, None], time, status, ties="efron")
    # test data 2 ((start, stop] rows), Breslow: beta = -0.084526 (closed form in the vignette)
    s2 = [1, 2, 5, 2, 1, 7, 3, 4, 8, 8]
    e2 = [2, 3, 6, 7, 8, 9, 9, 9, 14, 17]
    d2 = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0]
    x2 = np.array([1, 0, 0, 1, 0, 1, 1, 1, 0, 0])[:, None]
    assert cox_ph(x2, e2, d2, start=s2, ties="breslow").coef[0] == pytest.approx(-0.084526,
                                                                                abs=5e-7)
    assert efr.coef[0] == pytest.approx(1.676857, abs=5e-7)
    assert efr.loglik_null == pytest.approx(-4.276666, abs=5e-7)
    assert efr.score_test == pytest.approx((52 / 48) ** 2 / (83 / 144), rel=1e-9)


def test_time_varying_rows_equal_single_rows_when_covariate_constant() -> None:
    # Splitting a patient's follow-up into (start, stop] pieces with the same covariate value
    # leaves the partial likelihood unchanged (hand argument: the risk sets are identical).
    time = np.array([5.0, 8, 3, 9, 12, 4])
    event = np.array([1, 0, 1, 1, 0, 1])
    x = np.array([[0.5], [1.2], [-0.3], [0.0], [2.0], [1.0]])
    whole = cox_ph(x, time, event)
    start = np.concatenate([np.zeros(6), time / 2])
    stop = np.concatenate([time / 2, time])
    ev = np.concatenate([np.zeros(6, int), event])
    ids = np.tile(np.arange(6), 2)
    split = cox_ph(np.vstack([x, x]), stop, ev, start=start, ids=ids)
    np.testing.assert_allclose(split.coef, whole.coef, rtol=1e-10)
    np.testing.assert_allclose(split.var, whole.var, rtol=1e-10)


def test_quadratic_form_by_hand_and_nan_when_singular() -> None:
    from remission.cohort.cox import _quadratic_form

    # v' M^-1 v with M = diag(2, 4), v = (1, 2): 1/2 + 4/4 = 1.5 (hand calculation)
    assert _quadratic_form(np.array([1.0, 2.0]), np.diag([2.0, 4.0])) == pytest.approx(1.5)
    assert math.isnan(_quadratic_form(np.array([1.0, 1.0]), np.zeros((2, 2))))
