"""Seeded synthetic cohorts for the cohort engines' tests, demo and benchmarks.

Patients after a first relapse, vectorised over patients (no per-patient loop): a risk group,
an MRD course sampled at fixed visits, and two competing events (second relapse, death in
remission) with constant cause-specific hazards that rise with the current MRD level, plus
uniform administrative censoring. Every number below is a **synthetic** parameter chosen to
give realistic-looking event counts; none is a clinical estimate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["SyntheticCohortParameters", "simulate_cohort", "simulate_mrd_intervals"]


@dataclass(frozen=True)
class SyntheticCohortParameters:
    """Synthetic (not clinical) parameters of :func:`simulate_cohort`; recorded with the data."""

    #: share of patients in the risk groups "S1", "S2", "S3", "S4"
    group_shares: tuple[float, ...] = (0.15, 0.35, 0.3, 0.2)
    #: baseline daily hazard of relapse per group
    relapse_hazard_per_day: tuple[float, ...] = (1e-4, 2e-4, 4e-4, 8e-4)
    #: daily hazard of death in remission (all groups)
    death_hazard_per_day: float = 1.5e-4
    #: log hazard ratio of relapse per log10 unit of MRD above 1e-6
    mrd_log_hr_per_log10: float = 0.35
    #: administrative censoring uniform on [0, follow_up_days]
    follow_up_days: float = 3650.0
    #: days between MRD visits in the time-varying table
    visit_days: float = 60.0


def _groups(rng: np.random.Generator, n: int, shares: tuple[float, ...]) -> np.ndarray:
    p = np.asarray(shares) / np.sum(shares)
    return rng.choice(len(p), size=n, p=p)


def simulate_cohort(n: int, seed: int = 0, params: SyntheticCohortParameters | None = None
                    ) -> dict[str, Any]:
    """One row per patient: ``time`` (days), ``event`` (0 censored, 1 relapse, 2 death in
    remission), ``group`` (S1..S4), ``mrd_day28`` (fraction; 0 = negative) and the parameters.
    """
    pr = params or SyntheticCohortParameters()
    rng = np.random.default_rng(seed)
    g = _groups(rng, n, pr.group_shares)
    log_mrd = np.clip(rng.normal(-4.0 + 0.5 * g, 1.2), -7, -1)
    mrd = np.where(log_mrd < -5.5, 0.0, 10.0 ** log_mrd)
    lam_r = np.asarray(pr.relapse_hazard_per_day)[g] * np.exp(
        pr.mrd_log_hr_per_log10 * (np.maximum(log_mrd, -6) + 6))
    t_rel = rng.exponential(1 / lam_r)
    t_death = rng.exponential(1 / pr.death_hazard_per_day, size=n)
    cens = rng.uniform(0, pr.follow_up_days, size=n)
    t = np.minimum.reduce([t_rel, t_death, cens])
    event = np.select([t == t_rel, t == t_death], [1, 2], 0)
    return {"time": np.ceil(t), "event": event, "group": np.array(["S1", "S2", "S3", "S4"])[g],
            "mrd_day28": mrd, "parameters": asdict(pr), "seed": seed}


def simulate_mrd_intervals(n: int, visits: int = 10, seed: int = 0,
                           params: SyntheticCohortParameters | None = None) -> dict[str, Any]:
    """MRD as a time-varying covariate: up to ``visits`` (start, stop] rows per patient.

    log10 MRD follows a random walk between visits (one value per interval); the relapse
    hazard on each interval is the group's baseline times exp(mrd_log_hr_per_log10 * (log10
    MRD + 6)), so a Cox fit of ``log10_mrd`` (with the group) should recover
    ``mrd_log_hr_per_log10``. Columns: ``id``, ``start``, ``stop`` (days, 0.1-day resolution),
    ``event`` (relapse on that row), ``log10_mrd``, ``group`` (0..3).
    """
    pr = params or SyntheticCohortParameters()
    rng = np.random.default_rng(seed)
    g = _groups(rng, n, pr.group_shares)
    k = visits
    log_mrd = np.clip(rng.normal(-4.0 + 0.5 * g, 1.0)[:, None]
                      + np.cumsum(rng.normal(0, 0.4, size=(n, k)), axis=1), -7, -1)
    lam = np.asarray(pr.relapse_hazard_per_day)[g][:, None] * np.exp(
        pr.mrd_log_hr_per_log10 * (log_mrd + 6))
    start = np.arange(k)[None, :] * pr.visit_days
    stop = start + pr.visit_days
    # event time within each interval (exponential, memoryless); first interval with an event
    t_ev = start + rng.exponential(1 / lam)
    hit = t_ev <= stop
    first = np.where(hit.any(axis=1), hit.argmax(axis=1), k)
    cens = rng.uniform(pr.visit_days, k * pr.visit_days, size=n)
    idx = np.arange(k)[None, :]
    end_time = np.where(first < k, t_ev[np.arange(n), np.minimum(first, k - 1)], np.inf)
    end = np.minimum(end_time, cens)
    is_event = end_time <= cens
    keep = start < end[:, None]
    stop = np.minimum(stop, end[:, None])
    last = keep & ~np.pad(keep[:, 1:], ((0, 0), (0, 1)))
    event = (last & is_event[:, None]).astype(np.int64)
    rows = keep & (idx >= 0)
    ids = np.broadcast_to(np.arange(n)[:, None], (n, k))
    return {"id": ids[rows], "start": np.broadcast_to(start, (n, k))[rows].astype(float),
            "stop": np.ceil(stop[rows] * 10) / 10, "event": event[rows],
            "log10_mrd": log_mrd[rows], "group": np.broadcast_to(g[:, None], (n, k))[rows],
            "parameters": asdict(pr), "seed": seed}
