"""Clone trees obey the sum and crossing rules (ClonEvol conventions, Dang HX et al., Ann Oncol 2017)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from remission.clonal import ROOT, build_tree, tree_violations
from remission.clonal.tree import enumerate_trees
from remission.errors import ValidationError


@settings(max_examples=150, deadline=None)
@given(
    ccf=st.integers(1, 7).flatmap(lambda k: st.integers(1, 3).flatmap(
        lambda s: arrays(np.float64, (k, s), elements=st.floats(0, 1, allow_nan=False)))),
    tolerance=st.sampled_from([0.0, 0.02, 0.05]),
)
def test_trees_never_violate_sum_or_crossing_rule(ccf: np.ndarray, tolerance: float) -> None:
    tree = build_tree(ccf, tolerance=tolerance)
    assert tree_violations(tree.parents, ccf, tolerance) == []
    placed = [k for k, p in enumerate(tree.parents) if p is not None]
    for c in placed:
        p = tree.parents[c]
        if p != ROOT:
            assert np.all(ccf[p] + tolerance + 1e-9 >= ccf[c])  # crossing rule, every sample
    for p in placed:
        kids = tree.children(p)
        if kids:
            assert np.all(ccf[p] + tolerance + 1e-9 >= ccf[kids].sum(axis=0))  # sum rule, every sample
    founders = [k for k, p in enumerate(tree.parents) if p == ROOT]
    assert np.all(ccf[founders].sum(axis=0) <= 1 + tolerance + 1e-9)


@settings(max_examples=40, deadline=None)
@given(ccf=arrays(np.float64, (10, 2), elements=st.floats(0, 1, allow_nan=False)))
def test_greedy_trees_above_eight_clones_are_valid_too(ccf: np.ndarray) -> None:
    tree = build_tree(ccf, tolerance=0.05)
    assert tree_violations(tree.parents, ccf, 0.05) == []


def test_crossing_clones_are_siblings() -> None:
    # trunk (1, 1); B dominant at diagnosis and lost; C minor at diagnosis and dominant at relapse.
    # B and C cross between samples (0.8 > 0.15 but 0 < 0.9): neither can be the other's ancestor.
    ccf = np.array([[1.0, 1.0], [0.8, 0.0], [0.15, 0.9]])
    tree = build_tree(ccf)
    assert tree.parents == [ROOT, 0, 0]
    assert tree.alternatives == 1


def test_sum_rule_forces_nesting() -> None:
    # B (0.7, 0.7) and D (0.5, 0.5) cannot both be children of the trunk (0.7 + 0.5 > 1 + 0.05),
    # so D must nest inside B.
    ccf = np.array([[1.0, 1.0], [0.7, 0.7], [0.5, 0.5]])
    assert build_tree(ccf).parents == [ROOT, 0, 1]


def test_unplaceable_clone_is_reported_not_forced() -> None:
    # two clones of 0.9 that cross (0.9/0.2 vs 0.2/0.9) and a trunk of 0.5: nothing fits both rules
    ccf = np.array([[0.9, 0.2], [0.2, 0.9], [0.95, 0.95]])
    tree = build_tree(ccf, tolerance=0.0)
    assert tree.unplaced
    assert tree_violations(tree.parents, ccf, 0.0) == []
    assert any("unplaced" in n for n in tree.notes)


def test_enumerate_counts_ambiguous_trees() -> None:
    # C (0.3, 0.3) fits under the trunk or under B (0.6, 0.6): two valid trees
    trees, count = enumerate_trees(np.array([[1.0, 1.0], [0.6, 0.6], [0.3, 0.3]]), 0.05)
    assert count == 2 and len(trees) == 2


@pytest.mark.parametrize("bad", [np.zeros((0, 2)), np.array([[1.2, 0.5]]), np.array([[np.nan, 0.1]])])
def test_bad_ccf_matrix(bad: np.ndarray) -> None:
    with pytest.raises(ValidationError, match="ccf must"):
        build_tree(bad)
