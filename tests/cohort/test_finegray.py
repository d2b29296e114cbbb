"""Fine–Gray regression against R ``cmprsk::crr`` (values from ``tests/cohort/r/reference.R``).

``crr`` stops Newton–Raphson at its gradient tolerance (gtol = 1e-6); :func:`fine_gray` uses
the same rule by default, so coefficients and the sandwich variance agree to 1e-6 relative.
"""

from __future__ import annotations

import numpy as np
import pytest

from remission.cohort import FineGray, fine_gray

from .conftest import RefSet, assert_r


@pytest.mark.parametrize("name,cause", [("crr_mgus2_pcm", 1), ("crr_bmt_relapse", 1),
                                        ("crr_bmt_death", 2)])
def test_fine_gray_matches_crr(ref: RefSet, name: str, cause: int) -> None:
    if name.startswith("crr_mgus2"):
        df = ref.csv("mgus2")
        x = np.column_stack([df.age, (df.sex == "M").astype(int)])
        t = df.etime
    else:
        df = ref.csv("bmt")
        x = np.column_stack([(df.group == 2).astype(int), (df.group == 3).astype(int)])
        t = df.t2
    fit = FineGray(cause=cause).fit(x, t, df.ev).result_
    e = ref[name]
    assert_r(fit.coef, e["coef"], name + " coef")
    assert_r(fit.var, e["var"], name + " sandwich variance")
    assert_r([fit.loglik, fit.loglik_null], [e["loglik"], e["loglik_null"]], name + " loglik")
    assert fit.converged


def test_without_competing_events_fine_gray_is_breslow_cox() -> None:
    # With no competing failures the subdistribution risk set is the ordinary one, so the
    # Fine-Gray estimate equals the Breslow Cox estimate (Fine & Gray 1999, section 2).
    from remission.cohort import cox_ph

    rng = np.random.default_rng(7)
    x = rng.normal(size=(60, 1))
    t = np.round(rng.exponential(np.exp(-0.7 * x[:, 0])) * 10) + 1
    s = (rng.random(60) < 0.7).astype(int)
    fg = fine_gray(x, t, s, gtol=1e-10)
    cx = cox_ph(x, t, s, ties="breslow")
    np.testing.assert_allclose(fg.coef, cx.coef, rtol=1e-8)
