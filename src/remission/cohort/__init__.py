"""Cohort analytics: survival, competing risks, Cox and Fine–Gray regression, landmarks.

Pure engines (numpy/scipy; no files, no database), each a function plus a fit-style class,
validated number for number against R ``survival`` and ``cmprsk``:

- :func:`kaplan_meier` / :class:`KaplanMeier`, :func:`logrank_test` (``survfit``, ``survdiff``)
- :func:`cumulative_incidence` / :class:`AalenJohansen`, :func:`gray_test` (``cuminc``)
- :func:`cox_ph` / :class:`CoxPH` on (start, stop] rows (``coxph``)
- :func:`fine_gray` / :class:`FineGray` (``crr``)
- :func:`landmark` (landmark analysis sets, with the rule spelled out)

Names are re-exported lazily so that ``import remission.cohort`` stays cheap.
"""

from __future__ import annotations

from remission._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "KaplanMeier": "km",
    "KaplanMeierResult": "km",
    "LogRankResult": "km",
    "kaplan_meier": "km",
    "kaplan_meier_groups": "km",
    "logrank_test": "km",
    "AalenJohansen": "cif",
    "CumulativeIncidenceResult": "cif",
    "GrayTestResult": "cif",
    "cumulative_incidence": "cif",
    "cumulative_incidence_groups": "cif",
    "gray_test": "cif",
    "ConvergenceWarning": "cox",
    "CoxPH": "cox",
    "CoxResult": "cox",
    "cox_ph": "cox",
    "FineGray": "finegray",
    "FineGrayResult": "finegray",
    "fine_gray": "finegray",
    "LandmarkTable": "landmarking",
    "landmark": "landmarking",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
