"""Kaplan–Meier, median and log-rank against R ``survival`` (values in ``ref``, see conftest).

Expected numbers: R ``survfit``/``quantile``/``survdiff`` output written by
``tests/cohort/r/reference.R`` (stored JSON, or a live R run in the ``r`` tier).
"""

from __future__ import annotations

import numpy as np
import pytest

from remission.cohort import KaplanMeier, kaplan_meier, kaplan_meier_groups, logrank_test

from .conftest import RefSet, assert_r

FIELDS = [("time", "time"), ("n_risk", "n_risk"), ("n_event", "n_event"),
          ("n_censor", "n_censor"), ("survival", "surv"), ("se_log_survival", "std_err"),
          ("lower", "lower"), ("upper", "upper")]


def _check_curves(res: dict, expected: dict, what: str) -> None:
    assert [str(k) for k in res] == list(expected), what
    for (label, km), key in zip(res.items(), expected, strict=True):
        e = expected[key]
        for ours, theirs in FIELDS:
            assert_r(getattr(km, ours), e[theirs], f"{what} {label} {ours}")
        assert_r([km.median, km.median_lower, km.median_upper], e["median"],
                 f"{what} {label} median (estimate, lower, upper)")


@pytest.mark.parametrize("conf", [("log", "log"), ("log-log", "loglog"), ("plain", "plain")])
def test_km_aml_by_group(ref: RefSet, conf: tuple[str, str]) -> None:
    aml = ref.csv("aml")
    res = kaplan_meier_groups(aml.time, aml.status, aml.x, conf_type=conf[0])
    _check_curves(res, ref[f"km_aml_{conf[1]}"], f"aml {conf[0]}")


@pytest.mark.parametrize("conf", [("log", "log"), ("log-log", "loglog"), ("plain", "plain")])
def test_km_lung_overall_and_by_sex(ref: RefSet, conf: tuple[str, str]) -> None:
    lung = ref.csv("lung")
    _check_curves({"all": kaplan_meier(lung.time, lung.status - 1, conf_type=conf[0])},
                  ref[f"km_lung_{conf[1]}"], "lung")
    _check_curves(kaplan_meier_groups(lung.time, lung.status - 1, lung.sex, conf_type=conf[0]),
                  ref[f"km_lung_sex_{conf[1]}"], "lung by sex")


def test_km_bmt_dfs_medians(ref: RefSet) -> None:
    bmt = ref.csv("bmt")
    _check_curves(kaplan_meier_groups(bmt.t2, bmt.d3, bmt.group), ref["km_bmt_dfs"], "bmt DFS")


def test_published_aml_values() -> None:
    # Miller (1981) AML data as in R survival::aml, maintained arm: R prints median 31 (18, NA)
    # and S(31) = 0.491 (cohort spec 2.4, R 4.2.2 run); the 11 times are typed in here.
    time = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161]
    status = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]
    km = KaplanMeier().fit(time, status)
    assert km.median_survival_time_ == 31
    assert km.result_.median_lower == 18
    assert np.isnan(km.result_.median_upper)
    assert km.survival_at(31)[0] == pytest.approx(0.4909090909, rel=1e-9)  # 10/11*9/10*7/8*6/7*5/6*4/5... hand product


def test_median_midpoint_on_flat_at_one_half() -> None:
    # Hand calculation: 4 patients, deaths at 1 and 2 -> S = 0.75, 0.5; S stays 0.5 until the
    # death at 5 -> R's rule takes the midpoint of the flat: (2 + 5) / 2 = 3.5 (R 4.2.2 prints
    # 3.5 for quantile(survfit(Surv(c(1, 2, 5, 6), c(1, 1, 1, 0)) ~ 1), 0.5)).
    km = kaplan_meier([1, 2, 5, 6], [1, 1, 1, 0])
    assert km.survival.tolist() == [0.75, 0.5, 0.25, 0.25]
    assert km.median == 3.5


def test_at_risk_table_counts_follow_up_at_or_after_time() -> None:
    # Hand count: times 1, 2, 2, 4, 7 -> at t=0: 5, t=2: 4 (2, 2, 4, 7), t=5: 1, t=8: 0.
    km = kaplan_meier([1, 2, 2, 4, 7], [1, 0, 1, 1, 0])
    assert km.at_risk([0, 2, 5, 8]).tolist() == [5, 4, 1, 0]


def test_logrank_matches_survdiff(ref: RefSet) -> None:
    lung = ref.csv("lung")
    aml = ref.csv("aml")
    bmt = ref.csv("bmt")
    for name, res in [
        ("logrank_lung_sex", logrank_test(lung.time, lung.status - 1, lung.sex)),
        ("logrank_aml_x", logrank_test(aml.time, aml.status, aml.x)),
        ("logrank_bmt_group", logrank_test(bmt.t2, bmt.d3, bmt.group)),
    ]:
        e = ref[name]
        assert_r(res.chisq, e["chisq"], name)
        assert_r(res.observed, e["obs"], name + " observed")
        assert_r(res.expected, e["exp"], name + " expected")
        assert_r(res.variance, e["var"], name + " variance")
        assert_r(res.p_value, e["p"], name + " p")
        assert res.df == e["df"]


def test_stratified_logrank_matches_survdiff(ref: RefSet) -> None:
    lung = ref.csv("lung").dropna(subset=["ph.ecog"])
    res = logrank_test(lung.time, lung.status - 1, lung.sex, strata=lung["ph.ecog"])
    e = ref["logrank_lung_sex_strat_ecog"]
    assert_r(res.chisq, e["chisq"], "stratified chisq")
    assert_r(res.p_value, e["p"], "stratified p")
    # R keeps observed/expected per stratum (groups x strata, column-major); we sum them
    assert_r(res.expected, np.asarray(e["exp"]).reshape(-1, 2).sum(axis=0), "expected")
    assert res.stratified and any("stratified" in r for r in res.rules)


def test_no_events_gives_flat_curve_and_no_median() -> None:
    # Hand case: everyone censored -> S = 1 throughout, the median is not reached (NaN, R's NA)
    km = kaplan_meier([3, 5, 9], [0, 0, 0])
    assert km.survival.tolist() == [1.0, 1.0, 1.0]
    assert np.isnan(km.median) and np.isnan(km.median_upper)
    # log band: se 0 while S = 1; R summary(survfit(...), censored=TRUE)$lower is 1 1 1
    assert km.lower.tolist() == [1.0, 1.0, 1.0]


def test_all_deaths_curve_reaches_zero_with_undefined_band() -> None:
    # Hand case: deaths at 1, 2 -> S = 1/2, 0; at S = 0 the band is undefined (R's NA)
    km = kaplan_meier([1, 2], [1, 1])
    assert km.survival.tolist() == [0.5, 0.0]
    assert np.isnan(km.lower[1]) and np.isnan(km.upper[1])
    # S = 0.5 exactly on [1, 2): the midpoint; R 4.2.2 survival 3.5-3 quantile() prints 1.5
    assert km.median == 1.5
