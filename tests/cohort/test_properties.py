"""Invariants of the cohort estimators (hypothesis, deterministic: derandomize, no deadline)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from remission.cohort import (
    cox_ph,
    cumulative_incidence,
    gray_test,
    kaplan_meier,
    logrank_test,
)

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


@st.composite
def competing(draw: st.DrawFn, causes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(3, 40))
    # few distinct integer times so that ties (also across causes and censoring) are common
    t = draw(st.lists(st.integers(1, 12), min_size=n, max_size=n))
    s = draw(st.lists(st.integers(0, causes), min_size=n, max_size=n))
    return np.array(t, dtype=float), np.array(s)


@SETTINGS
@given(competing(causes=1))
def test_km_equals_one_minus_cif_for_a_single_cause(data: tuple) -> None:
    t, s = data
    km = kaplan_meier(t, s)
    ci = cumulative_incidence(t, s, causes=[1])
    grid = np.arange(0, 14)
    np.testing.assert_allclose(km.survival_at(grid), 1 - ci.cif_at(grid)[:, 0], atol=1e-12)


@SETTINGS
@given(competing(causes=3))
def test_cifs_plus_survival_sum_to_one(data: tuple) -> None:
    t, s = data
    ci = cumulative_incidence(t, s, causes=[1, 2, 3])
    grid = np.arange(0, 14)
    total = ci.cif_at(grid).sum(axis=1) + ci.survival_at(grid)
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    assert np.all(np.diff(ci.cif, axis=0) >= -1e-15)  # each CIF is non-decreasing


@SETTINGS
@given(competing(causes=2), st.randoms(use_true_random=False), st.sampled_from([1.0, 7.0, 30.4375]))
def test_invariant_to_row_order_and_time_unit(data: tuple, rnd, scale: float) -> None:
    t, s = data
    g = np.arange(len(t)) % 2
    perm = np.array(rnd.sample(range(len(t)), len(t)))
    a = cumulative_incidence(t, s, causes=[1, 2])
    b = cumulative_incidence(t[perm] * scale, s[perm], causes=[1, 2])
    np.testing.assert_allclose(a.cif, b.cif, atol=1e-12)
    np.testing.assert_allclose(a.variance, b.variance, atol=1e-12)
    np.testing.assert_allclose(b.time, a.time * scale)
    ka, kb = kaplan_meier(t, s == 1), kaplan_meier(t[perm] * scale, s[perm] == 1)
    np.testing.assert_allclose(ka.survival, kb.survival, atol=1e-12)
    np.testing.assert_allclose(ka.median * scale, kb.median, rtol=1e-12, equal_nan=True)
    if len(set(g.tolist())) == 2 and (s == 1).any():
        la = logrank_test(t, s == 1, g)
        lb = logrank_test(t[perm] * scale, s[perm] == 1, g[perm])
        np.testing.assert_allclose(la.chisq, lb.chisq, rtol=1e-9, atol=1e-12)
        ga = gray_test(t, s, g)
        gb = gray_test(t[perm] * scale, s[perm], g[perm])
        np.testing.assert_allclose(ga.statistic, gb.statistic, rtol=1e-9, atol=1e-12,
                                   equal_nan=True)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(0, 10_000), st.sampled_from([1.0, 24.0]))
def test_cox_invariant_to_row_order_and_time_unit(seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    n = 30
    x = rng.normal(size=(n, 2))
    t = rng.integers(1, 15, size=n).astype(float)
    e = (rng.random(n) < 0.6).astype(int)
    e[0] = 1
    perm = rng.permutation(n)
    a = cox_ph(x, t, e)
    b = cox_ph(x[perm], t[perm] * scale, e[perm])
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(a.loglik, b.loglik, rtol=1e-10)
