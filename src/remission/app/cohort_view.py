"""The cohort survival panel of the web application: one typed result for the page and the API.

Use case: :func:`cohort_view` builds the cohort table from the stored analyses
(:func:`remission.app.cohort.build_table`) over **only the patients one account may see** (its
access scope; other patients' analyses are never loaded), then estimates one endpoint with the
cohort engines (:mod:`remission.cohort`):

- ``efs``: event-free survival, Kaplan–Meier; event = second relapse or death, whichever comes
  first (the table's ``cause``/``cause_days``); log-rank test across the groups;
- ``os``: overall survival, Kaplan–Meier on ``death``/``death_days``; log-rank test;
- ``cif``: Aalen–Johansen cumulative incidence of second relapse (cause 1) and of death in
  remission (cause 2) as competing risks; Gray's test per cause across the groups.

Every estimator carries the names of the tests that check it number for number against R
(:data:`R_VALIDATION`; the web page shows them as badges). Times are shown in years of
:data:`YEAR_DAYS` days.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from remission.app.cohort import ORIGINS, build_table
from remission.errors import RemissionError, ValidationError

__all__ = ["ENDPOINTS", "GROUPINGS", "R_VALIDATION", "TIMEPOINTS_YEARS", "YEAR_DAYS", "CohortView",
           "cohort_view"]

#: days per year on the time axis and for the 1/2/3-year estimates (the Julian year; a display
#: convention, not a clinical number)
YEAR_DAYS = 365.25
#: the times (years from the origin) of the estimates table
TIMEPOINTS_YEARS: tuple[float, ...] = (1.0, 2.0, 3.0)
#: coverage of the confidence intervals
CONF_LEVEL = 0.95
_Z = 1.959963984540054  # standard normal 97.5 % quantile

Endpoint = Literal["efs", "os", "cif"]
ENDPOINTS: dict[str, str] = {
    "efs": "Event-free survival (second relapse or death), Kaplan–Meier",
    "os": "Overall survival, Kaplan–Meier",
    "cif": "Cumulative incidence: second relapse vs death in remission (Aalen–Johansen)",
}
#: grouping columns of the cohort table ("" = the whole cohort)
GROUPINGS: dict[str, str] = {
    "": "whole cohort",
    "risk_bfm": "risk group (ALL-REZ BFM)",
    "risk_intreall": "risk group (IntReALL)",
    "risk_allr3": "risk group (UK ALLR3)",
    "cart_persistence": "CAR-T persistence",
}
CAUSES = {1: "second relapse", 2: "death in remission"}


class Badge(BaseModel):
    """An estimator and the tests that compare it with R (``tests/cohort``)."""

    model_config = ConfigDict(frozen=True)

    estimator: str
    r_function: str
    tests: tuple[str, ...]


#: estimator -> the R function it reproduces and the tests that check it (stored R output in
#: ``tests/cohort/r/reference.R``; the ``r`` tier re-runs R on random cohorts)
R_VALIDATION: dict[str, Badge] = {
    "km": Badge(estimator="Kaplan–Meier with Greenwood log-scale 95 % band",
                r_function="survival::survfit",
                tests=("tests/cohort/test_km.py::test_km_aml_by_group",
                       "tests/cohort/test_km.py::test_km_lung_overall_and_by_sex",
                       "tests/cohort/test_r_random.py::test_random_cohort_equals_r")),
    "logrank": Badge(estimator="log-rank test", r_function="survival::survdiff",
                     tests=("tests/cohort/test_km.py::test_logrank_matches_survdiff",
                            "tests/cohort/test_r_random.py::test_random_cohort_equals_r")),
    "cif": Badge(estimator="Aalen–Johansen cumulative incidence and its variance",
                 r_function="cmprsk::cuminc",
                 tests=("tests/cohort/test_cif.py::test_cif_and_variance_match_cuminc_timepoints",
                        "tests/cohort/test_cif.py::test_full_cif_curve_matches_cuminc_at_every_jump",
                        "tests/cohort/test_r_random.py::test_random_cohort_equals_r")),
    "gray": Badge(estimator="Gray's test", r_function="cmprsk::cuminc (Tests)",
                  tests=("tests/cohort/test_cif.py::test_gray_test_matches_cuminc",
                         "tests/cohort/test_r_random.py::test_random_cohort_equals_r")),
}


class Curve(BaseModel):
    """One step curve: ``value`` from ``time_years[i]`` on (the curve starts at (0, ``start``))."""

    group: str
    label: str
    start: float
    time_years: list[float]
    value: list[float]
    censor_years: list[float]
    censor_value: list[float]
    #: the group's last follow-up time: the curve is drawn up to here, not beyond
    end_years: float


class Estimate(BaseModel):
    """The estimate at ``years``; ``None`` past the group's last follow-up time (as R
    ``summary.survfit(..., extend = FALSE)`` leaves such times out)."""

    group: str
    label: str
    years: float
    value: float | None
    lower: float | None
    upper: float | None
    at_risk: int


class TestResult(BaseModel):
    name: str
    statistic: float | None
    df: int
    p_value: float | None


class CohortView(BaseModel):
    """Everything the cohort panel shows; the counts only, no patient identifiers, in the audit."""

    endpoint: str
    endpoint_label: str
    origin: str
    where: list[str]
    group: str
    group_label: str
    n_patients: int
    n_analyses: int
    n_events: dict[str, int]
    remission_versions: list[str]
    knowledge_base_versions: list[str]
    risk_years: list[float]
    at_risk: dict[str, list[int]]
    curves: list[Curve]
    estimates: list[Estimate]
    tests: list[TestResult]
    notes: list[str]
    badges: list[Badge]
    year_days: float = YEAR_DAYS
    conf_level: float = CONF_LEVEL


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _step_at(times: np.ndarray, arr: np.ndarray, t: float, before: float) -> float:
    i = int(np.searchsorted(times, t, side="right")) - 1
    return float(arr[i]) if i >= 0 else before


def _groups(table: Any, group: str) -> list[tuple[str, np.ndarray]]:
    if not group or group not in table.columns:
        return [("all", np.ones(len(table), dtype=bool))]
    def label(v: Any) -> str:
        if v is None or (isinstance(v, float) and v != v):
            return "unknown"
        if isinstance(v, bool | np.bool_):
            return "present" if v else "absent"
        return str(v)

    col = [label(v) for v in table[group].tolist()]
    arr = np.asarray(col, dtype=object)
    return [(lev, arr == lev) for lev in sorted(set(col))]


def _km_part(times: np.ndarray, events: np.ndarray, groups: list[tuple[str, np.ndarray]],
             risk_days: np.ndarray) -> tuple[list[Curve], list[Estimate], dict[str, list[int]]]:
    from remission.cohort import kaplan_meier

    curves, ests, at_risk = [], [], {}
    for name, sel in groups:
        km = kaplan_meier(times[sel], events[sel], conf_type="log", conf_level=CONF_LEVEL)
        cens = np.unique(times[sel][events[sel] == 0])
        curves.append(Curve(group=name, label="survival", start=1.0,
                            time_years=(km.time / YEAR_DAYS).tolist(), value=km.survival.tolist(),
                            censor_years=(cens / YEAR_DAYS).tolist(),
                            censor_value=km.survival_at(cens).tolist() if len(cens) else [],
                            end_years=float(times[sel].max()) / YEAR_DAYS))
        at_risk[name] = [int(v) for v in km.at_risk(risk_days)]
        last = float(times[sel].max())
        for y in TIMEPOINTS_YEARS:
            d = y * YEAR_DAYS
            if d > last:
                ests.append(Estimate(group=name, label="survival", years=y, value=None, lower=None, upper=None,
                                     at_risk=0))
                continue
            ests.append(Estimate(group=name, label="survival", years=y,
                                 value=_step_at(km.time, km.survival, d, 1.0),
                                 lower=_num(_step_at(km.time, km.lower, d, 1.0)),
                                 upper=_num(_step_at(km.time, km.upper, d, 1.0)),
                                 at_risk=int(km.at_risk([d])[0])))
    return curves, ests, at_risk


def _cif_part(times: np.ndarray, cause: np.ndarray, groups: list[tuple[str, np.ndarray]],
              risk_days: np.ndarray) -> tuple[list[Curve], list[Estimate], dict[str, list[int]]]:
    from remission.cohort import cumulative_incidence

    curves, ests, at_risk = [], [], {}
    for name, sel in groups:
        ci = cumulative_incidence(times[sel], cause[sel], causes=[1, 2])
        at_risk[name] = [int(v) for v in ci.at_risk(risk_days)]
        last = float(times[sel].max())
        for k, c in enumerate((1, 2)):
            curves.append(Curve(group=name, label=CAUSES[c], start=0.0,
                                time_years=(ci.time / YEAR_DAYS).tolist(), value=ci.cif[:, k].tolist(),
                                censor_years=[], censor_value=[], end_years=last / YEAR_DAYS))
            for y in TIMEPOINTS_YEARS:
                d = y * YEAR_DAYS
                if d > last:
                    ests.append(Estimate(group=name, label=CAUSES[c], years=y, value=None, lower=None,
                                         upper=None, at_risk=0))
                    continue
                f = float(ci.cif_at([d])[0, k])
                se = math.sqrt(max(float(ci.variance_at([d])[0, k]), 0.0))
                ests.append(Estimate(group=name, label=CAUSES[c], years=y, value=f,
                                     lower=max(0.0, f - _Z * se), upper=min(1.0, f + _Z * se),
                                     at_risk=int(ci.at_risk([d])[0])))
    return curves, ests, at_risk


def cohort_view(store: Any, only: Collection[str] | None, *, endpoint: str = "efs", origin: str = "relapse",
                where: Sequence[str] = (), group: str = "") -> CohortView:
    """The cohort panel over the cases in ``only`` (an account's scope; ``None`` = every case).

    Raises :class:`~remission.errors.ValidationError` (one line, naming the field) for an unknown
    endpoint, origin, grouping or where-filter."""
    if endpoint not in ENDPOINTS:
        raise ValidationError(f"field endpoint: must be one of {', '.join(ENDPOINTS)}, but was {endpoint!r}")
    if origin not in ORIGINS:
        raise ValidationError(f"field origin: must be one of {', '.join(ORIGINS)}, but was {origin!r}")
    if group not in GROUPINGS:
        raise ValidationError(f"field group: must be one of {', '.join(g or '(none)' for g in GROUPINGS)}, "
                              f"but was {group!r}")
    summaries = [s for s in store.list_analyses() if only is None or s.case_id in only]
    table, notes = build_table(store, where=where, origin=origin, only=only)
    n = len(table)
    view: dict[str, Any] = {
        "endpoint": endpoint, "endpoint_label": ENDPOINTS[endpoint], "origin": origin, "where": list(where),
        "group": group, "group_label": GROUPINGS[group], "n_patients": n, "n_analyses": len(summaries),
        "remission_versions": sorted({s.remission_version for s in summaries}),
        "knowledge_base_versions": sorted({s.knowledge_base_version or "–" for s in summaries}),
        "badges": [R_VALIDATION[k] for k in (("cif", "gray") if endpoint == "cif" else ("km", "logrank"))],
        "notes": list(notes), "curves": [], "estimates": [], "tests": [], "at_risk": {}, "risk_years": [],
        "n_events": {},
    }
    if n == 0:
        view["notes"].append("No patient is included: the account has no access to a patient with a "
                             "stored analysis that matches the filters and has the origin event.")
        return CohortView(**view)
    if group and group not in table.columns:
        view["notes"].append(f"The table has no column {group!r}; the whole cohort is shown.")
    if endpoint == "efs":
        times = table["cause_days"].to_numpy(float)
        ev = (table["cause"].to_numpy(int) != 0).astype(int)
        view["n_events"] = {"event (second relapse or death)": int(ev.sum()), "censored": int(n - ev.sum())}
    elif endpoint == "os":
        times, ev = table["death_days"].to_numpy(float), table["death"].to_numpy(int)
        view["n_events"] = {"death": int(ev.sum()), "censored": int(n - ev.sum())}
    else:
        times, ev = table["cause_days"].to_numpy(float), table["cause"].to_numpy(int)
        view["n_events"] = {CAUSES[1]: int((ev == 1).sum()), CAUSES[2]: int((ev == 2).sum()),
                            "censored": int((ev == 0).sum())}
    horizon = max(float(times.max()) / YEAR_DAYS, max(TIMEPOINTS_YEARS))
    risk_years = [float(y) for y in range(math.ceil(horizon) + 1)]
    risk_days = np.asarray(risk_years) * YEAR_DAYS
    groups = _groups(table, group)
    if group and group in table.columns and len(groups) < 2:
        view["notes"].append(f"Every included patient is in one group of {GROUPINGS[group]!s}: no test across groups.")
    try:
        if endpoint == "cif":
            curves, ests, at_risk = _cif_part(times, ev, groups, risk_days)
            tests = _gray(times, ev, groups) if len(groups) > 1 else []
        else:
            curves, ests, at_risk = _km_part(times, ev, groups, risk_days)
            tests = _logrank(times, ev, groups) if len(groups) > 1 else []
    except RemissionError as exc:  # an impossible row (e.g. a record dated before the origin)
        raise ValidationError(f"cohort table: {exc}") from exc
    view.update(curves=curves, estimates=ests, tests=tests, at_risk=at_risk, risk_years=risk_years)
    view["notes"].append(
        f"Censored: {view['n_events'].get('censored', 0)} of {n} patient(s), each at the last dated "
        "record of the case (relapse, therapy, transplant, infusion, MRD, sample, last contact).")
    view["notes"].append("An estimate past a group's last follow-up time is not given (–).")
    if endpoint == "cif":
        view["notes"].append(f"{CONF_LEVEL:.0%} intervals of the cumulative incidence: estimate ± "
                             f"{_Z:.2f} × the cmprsk standard error, clipped to [0, 1].")
    return CohortView(**view)


def _labels(groups: list[tuple[str, np.ndarray]], n: int) -> np.ndarray:
    lab = np.empty(n, dtype=object)
    for name, sel in groups:
        lab[sel] = name
    return lab


def _logrank(times: np.ndarray, ev: np.ndarray, groups: list[tuple[str, np.ndarray]]) -> list[TestResult]:
    from remission.cohort import logrank_test

    r = logrank_test(times, ev, _labels(groups, len(times)))
    return [TestResult(name="log-rank", statistic=_num(r.chisq), df=r.df, p_value=_num(r.p_value))]


def _gray(times: np.ndarray, ev: np.ndarray, groups: list[tuple[str, np.ndarray]]) -> list[TestResult]:
    import warnings

    from remission.cohort import gray_test
    from remission.errors import RemissionWarning

    out = []
    for c in (1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RemissionWarning)  # singular covariance: no statistic
            r = gray_test(times, ev, _labels(groups, len(times)), cause=c)
        out.append(TestResult(name=f"Gray's test, {CAUSES[c]}", statistic=_num(r.statistic), df=r.df,
                              p_value=_num(r.p_value)))
    return out

