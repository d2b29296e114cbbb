"""Regression digests of ``fit_patient``: seeded posterior draws must stay bit-identical.

Regression tests, not reference values: the expected SHA-256 digests were computed from the code
BEFORE ``fit_patient`` was split into named steps (commit c2b4fcf, issue #11 follow-up), by running
this file's ``_digest`` on that code. Two cases: a plain course (2 parameters, population CAR-T
kinetics) and a course with blinatumomab, CAR-T with individual Stein parameters and B-cell
observations (the CD19-negative share is then a third fitted parameter).
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest

from remission.sim import MrdObservations, fit_patient
from remission.sim.fit import SimFit, TreatmentHistory


def _digest(fit: SimFit) -> str:
    h = hashlib.sha256()
    p = fit.patients_now
    for a in (fit.log10_burden0, fit.doubling_days, p.burden0, p.growth_per_day, p.cd19neg_fraction0,
              p.cd22low_fraction0, *(p.stein[k] for k in sorted(p.stein)), fit.band_days,
              *(fit.band_log10[k] for k in sorted(fit.band_log10))):
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    h.update(json.dumps([fit.now_day, fit.ess, fit.n_proposals, fit.method, list(fit.warnings), fit.cart_stein,
                         fit.extra], sort_keys=True).encode())
    return h.hexdigest()


def _course() -> MrdObservations:
    days = [0, 40, 60, 80, 100]
    y = [None] + [math.log10(2e-7 * 2 ** (t / 10)) for t in days[1:]]
    return MrdObservations.from_lists(days, ["left", "exact", "exact", "exact", "exact"], y,
                                      [None] * 5, [-6.0, None, None, None, None])


def _plain() -> SimFit:
    return fit_patient(_course(), seed=5, n_proposals=400, n_draws=100)


def _treated() -> SimFit:
    obs = MrdObservations.from_lists([0, 20, 50, 90], ["exact", "exact", "left", "exact"],
                                     [-2.0, -3.5, None, -4.0], [None] * 4, [None, None, -5.0, None])
    hist = TreatmentHistory(blina_days=(5.0,), cart_day=30.0)
    stein = {"cmax": 24000.0, "tmax": 9.3, "foldx": 3900.0, "alpha": 0.16, "fb": 0.0079, "beta": 0.0032}
    return fit_patient(obs, seed=6, history=hist, stein=stein, bca=[(60.0, True), (85.0, False)], now_day=95,
                       n_proposals=400, n_draws=100)


# computed from the code before the split (commit c2b4fcf); see the module docstring
GOLDEN = {
    "plain": "23389b32efe4924fdeaffe698ccc9d59718c1b253fe7ae112a82d613ef729306",
    "treated": "acac355aea710d7cd7e2654a66817a22c5144aa8c2d49d8c5d6a2f6aac318e5d",
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_fit_patient_is_bit_identical_to_the_pre_refactor_code(name: str) -> None:
    fit = {"plain": _plain, "treated": _treated}[name]()
    assert _digest(fit) == GOLDEN[name]
