"""Regression digests of ``simulate``: a seeded cohort's outputs must stay bit-identical.

These are regression tests, not reference values: each expected SHA-256 was computed from the code
BEFORE the refactor that split ``simulate`` into named steps (commit 5385ecf, issue #11 follow-up),
by running this file's ``_digest`` on that code. A refactor that changes any output array, or the
order of the random draws, changes the digest. Every treatment path is exercised: chemotherapy,
inotuzumab, blinatumomab, HSCT (conditioning, GvL, TRM), CAR-T (expansion, contraction, loss of
function, toxic death), Poisson steps at small numbers, compaction of finished patients
(``record=False``) and the per-day trajectory (``record=True``), the Emax (hill = 1) and Hill
(hill = 2) kill curves, and CD19 loss with a large escape rate.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from remission.sim import Schedule, VirtualPatients, resolve_sim, simulate
from remission.sim.model import SimResult


def _digest(res: SimResult) -> str:
    h = hashlib.sha256()
    for name in ("remission_day", "relapse_day", "relapse_cd19neg", "death_day", "cured", "cart_given",
                 "hsct_given", "bca_at_relapse", "bca_loss_day", "burden_at", "cd19neg_share_at", "trajectory",
                 "cart_product_works", "failure_death_day"):
        a = getattr(res, name)
        h.update(name.encode())
        if a is not None:
            a = np.ascontiguousarray(a)
            h.update(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    h.update("|".join(res.death_cause.tolist()).encode() if res.death_cause is not None else b"-")
    h.update(repr((res.assessment_days, res.horizon_days)).encode())
    return h.hexdigest()


def _mixed(n: int, seed: int, overrides: dict | None = None, record: bool = False,
           horizon: int = 400) -> SimResult:
    """A cohort where each patient gets a mix of treatments (every branch of the day loop)."""
    r = resolve_sim(overrides)
    rng = np.random.default_rng(seed)
    pts = VirtualPatients.sample(n, rng, r, log10_burden0_range=(math.log10(1e-4), math.log10(0.9)),
                                 cd19neg_fraction0=rng.uniform(0.0, 0.05, n))
    arm = rng.integers(0, 6, n)
    nan = np.nan
    chemo = np.where((arm == 0)[:, None] | (arm == 5)[:, None], np.array([[0.0, 28.0]]), nan)
    ino = np.where((arm == 1)[:, None], np.array([[0.0, 21.0, 42.0]]), nan)
    blina = np.where((arm == 2)[:, None] | (arm == 4)[:, None], np.array([[0.0, 42.0]]), nan)
    cart = np.where((arm == 3) | (arm == 4), rng.uniform(20.0, 60.0, n).round(), nan)
    hsct = np.where((arm == 5) | (arm == 2), 90.0 + rng.integers(0, 30, n), nan)
    sched = Schedule(chemo, blina, ino, cart, hsct)
    return simulate(pts, sched, rng, horizon_days=horizon, rules=r, record=record,
                    assessment_days=(0, 28, 90, 180, 365))


CASES = {
    # name: (n, seed, overrides, record, horizon)
    "default_compacting": (3000, 11, None, False, 400),
    "recorded_trajectory": (400, 12, None, True, 200),
    "hill2_escape_deaths": (2000, 13, {"cart_kill_hill": 2.0, "cd19_loss_per_division": 1e-4,
                                        "hsct_trm_probability": 0.3, "cart_toxic_death_probability": 0.2},
                            False, 400),
}

# computed from the code before the split (commit 5385ecf); see the module docstring
GOLDEN = {
    "default_compacting": "ded68eea489826f4586f6a4b8486c3f34f7c16d8cf1d2722018e8417263da653",
    "recorded_trajectory": "ea2e339b522360dca04ed3c60caa743d7c989f0a5bb1a67afda7af62647a4a98",
    "hill2_escape_deaths": "59d1c1137cfd1daeb4f8292779cf651361997ff53ac40ba8af46221598e90ab6",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_simulate_outputs_are_bit_identical_to_the_pre_refactor_code(name: str) -> None:
    n, seed, ov, record, horizon = CASES[name]
    assert _digest(_mixed(n, seed, ov, record, horizon)) == GOLDEN[name]
