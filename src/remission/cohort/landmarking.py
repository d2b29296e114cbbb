"""Landmark analysis: condition on being event-free at a landmark, restart the clock there.

A covariate measured during follow-up (MRD after CAR-T, MRD at the end of induction) must not
be used as if it were known at time 0 (immortal-time/guarantee-time bias). The landmark
method analyses only patients still event-free and under follow-up at the landmark, with the
covariate value known by then, and counts time from the landmark.

References
----------
Anderson JR, Cain KC, Gelber RD (1983). Analysis of survival by tumor response. J Clin Oncol
1:710–719.
van Houwelingen HC (2007). Dynamic prediction by landmarking in event history analysis.
Scand J Stat 34:70–85.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from remission.cohort._data import FloatArray, IntArray, as_status, as_times
from remission.domain.checks import check_nonnegative, check_positive
from remission.errors import ValidationError

__all__ = ["LandmarkTable", "landmark"]


@dataclass(frozen=True)
class LandmarkTable:
    """The analysis set at a landmark, and the rule that built it (``rule`` is shown)."""

    landmark_time: float
    horizon: float | None
    index: IntArray            # rows of the input that are analysed
    time: FloatArray           # time since the landmark (capped at the horizon)
    event: IntArray            # event code (0 after administrative censoring at the horizon)
    covariate: FloatArray      # value known at the landmark (NaN if none in the window)
    n_input: int
    n_event_before: int
    n_censored_before: int
    n_no_covariate: int
    rule: str
    rules: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"landmark_time": self.landmark_time, "horizon": self.horizon,
                "n_input": self.n_input, "n_analysed": len(self.index),
                "n_event_before": self.n_event_before,
                "n_censored_before": self.n_censored_before,
                "n_no_covariate": self.n_no_covariate, "rule": self.rule,
                "rules": list(self.rules)}


def landmark(time: ArrayLike, event: ArrayLike, landmark_time: float, *,
             covariate: ArrayLike | None = None,
             measurements: tuple[ArrayLike, ArrayLike, ArrayLike] | None = None,
             patient: ArrayLike | None = None, window: float | None = None,
             horizon: float | None = None, unit: str = "days",
             covariate_name: str = "covariate") -> LandmarkTable:
    """Build the landmark analysis set.

    Parameters
    ----------
    time, event : follow-up from the time origin and event code (0 = censored).
    landmark_time : the landmark (same unit as ``time``). Patients with ``time > landmark_time``
        (event-free and followed beyond it) are analysed; time is counted from the landmark.
    covariate : a value per patient already fixed at the landmark, or
    measurements : ``(patient_id, measurement_time, value)`` rows; the covariate is the last
        value measured at or before the landmark (and, with ``window``, no earlier than
        ``landmark_time - window``). Needs ``patient`` (the id of each row of ``time``).
    horizon : administrative censoring ``horizon`` after the landmark (optional).
    """
    t = as_times(time, "time")
    e = as_status(event, len(t), "event")
    lm = check_nonnegative("landmark_time", landmark_time)
    if horizon is not None:
        check_positive("horizon", horizon)
    if window is not None:
        check_nonnegative("window", window)
    n = len(t)
    if covariate is not None and measurements is not None:
        raise ValidationError("give either covariate or measurements, not both")
    cov = np.full(n, np.nan)
    cov_rule = ""
    if covariate is not None:
        cov = np.asarray(covariate, dtype=float)
        if cov.shape != (n,):
            raise ValidationError(f"covariate must have one value per row ({n})")
        cov_rule = f"{covariate_name} as given (must be known by the landmark)"
    elif measurements is not None:
        if patient is None:
            raise ValidationError("measurements need patient (the id of each row)")
        mid, mt, mv = (np.asarray(a) for a in measurements)
        mt = mt.astype(float)
        mv = mv.astype(float)
        ok = mt <= lm
        if window is not None:
            ok &= mt >= lm - window
        mid, mt, mv = mid[ok], mt[ok], mv[ok]
        order = np.lexsort((mt, mid))
        mid, mv = mid[order], mv[order]
        last = np.r_[mid[1:] != mid[:-1], True] if len(mid) else np.zeros(0, bool)
        lookup = dict(zip(mid[last].tolist(), mv[last].tolist(), strict=True))
        pid = np.asarray(patient)
        cov = np.array([lookup.get(k, np.nan) for k in pid.tolist()], dtype=float)
        win = f", no earlier than {lm - window:g} {unit}" if window is not None else ""
        cov_rule = (f"{covariate_name}: last value measured at or before {lm:g} {unit}{win}")
    keep = t > lm
    n_ev = int(np.sum(~keep & (e != 0)))
    n_cens = int(np.sum(~keep & (e == 0)))
    idx = np.flatnonzero(keep)
    tt = t[idx] - lm
    ee = e[idx].copy()
    if horizon is not None:
        over = tt > horizon
        tt[over] = horizon
        ee[over] = 0
    cv = cov[idx]
    n_nocov = int(np.sum(np.isnan(cv))) if (covariate is not None or measurements is not None) \
        else 0
    parts = [f"landmark at {lm:g} {unit}: {len(idx)} of {n} patients event-free and in "
             f"follow-up beyond {lm:g} {unit} are analysed, time counted from the landmark",
             f"excluded: {n_ev} with an event and {n_cens} censored by the landmark"]
    if horizon is not None:
        parts.append(f"administratively censored {horizon:g} {unit} after the landmark")
    if cov_rule:
        parts.append(cov_rule + (f" ({n_nocov} analysed patients have none)" if n_nocov else ""))
    rule = "; ".join(parts)
    return LandmarkTable(
        landmark_time=lm, horizon=horizon, index=idx, time=tt, event=ee, covariate=cv,
        n_input=n, n_event_before=n_ev, n_censored_before=n_cens, n_no_covariate=n_nocov,
        rule=rule, rules=("landmark method (Anderson, Cain & Gelber 1983; "
                          "van Houwelingen 2007)",))
