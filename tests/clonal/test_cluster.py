"""Clustering mutations into clones; acceptance over seeded synthetic data sets (issue 8)."""

from __future__ import annotations

import numpy as np
import pytest

from remission.clonal import (
    MutationClusterer,
    adjusted_rand_index,
    analyze_clonal,
    assign_copy_number,
    cluster_mutations,
    loglik_tensor,
)
from remission.errors import ValidationError
from remission.synth.clonal import simulate_clonal


def test_ari_hand_calculation() -> None:
    # identical partitions (up to relabelling) → 1
    assert adjusted_rand_index([0, 0, 1, 1], [5, 5, 3, 3]) == 1.0
    # Hand calculation for a = [0,0,0,1,1,1], b = [0,0,1,1,2,2]:
    # contingency [[2,1,0],[0,1,2]]: Σ C(n_ij,2) = 1 + 1 = 2; rows C(3,2)+C(3,2) = 6;
    # columns 1+1+1 = 3; expected = 6·3/C(6,2) = 18/15 = 1.2; max = (6+3)/2 = 4.5
    # ARI = (2 − 1.2)/(4.5 − 1.2) = 0.8/3.3 = 0.242424…
    assert adjusted_rand_index([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(0.8 / 3.3)
    with pytest.raises(ValidationError, match="same length"):
        adjusted_rand_index([0, 1], [0])


def _fit(seed: int, **kw: object) -> tuple[object, object]:
    ds = simulate_clonal(seed, **kw)  # type: ignore[arg-type]
    res = analyze_clonal(ds.table(), purity=ds.purity, segments=ds.segments, roles=ds.roles, seed=seed)
    return ds, res


def test_seeded_result_is_reproducible() -> None:
    ds = simulate_clonal(3)
    major, minor, normal = assign_copy_number(ds.chrom, ds.pos, ds.samples, ds.segments)
    L = loglik_tensor(ds.alt, ds.depth, [ds.purity[s] for s in ds.samples], major_cn=major, minor_cn=minor,
                      normal_cn=normal)
    a = cluster_mutations(L, seed=11)
    b = MutationClusterer(seed=11).fit(L)
    assert np.array_equal(a.labels, b.labels_) and np.array_equal(a.ccf, b.ccf_)
    assert a.selection[0]["k"] == 1 and len(a.selection) == 8


def test_copy_number_is_used() -> None:
    # every mutation of one clonal CN-LOH-deletion (1 + 0) clone: ignoring CN would put them at CCF ≈ 0.5·(2-…)
    ds = simulate_clonal(21, pattern="major", n_clones=2, cn_fraction=0.5)
    res = analyze_clonal(ds.table(), purity=ds.purity, segments=ds.segments, roles=ds.roles)
    assert adjusted_rand_index(ds.labels, res.clusters.labels) >= 0.9
    no_cn = analyze_clonal(ds.table(), purity=ds.purity, segments=(), roles=ds.roles)
    assert no_cn.clusters.n_clusters > res.clusters.n_clusters  # CN-altered mutations split off without CN


@pytest.mark.parametrize("bad", [{"criterion": "aic"}, {"max_clusters": 0}, {"restarts": 0}])
def test_bad_arguments(bad: dict[str, object]) -> None:
    L = np.zeros((3, 1, 11))
    with pytest.raises(ValidationError, match="must be"):
        cluster_mutations(L, **bad)  # type: ignore[arg-type]


@pytest.mark.slow
def test_acceptance_ari_and_pattern_over_30_seeded_datasets() -> None:
    # issue 8 acceptance: ≥ 30 seeded data sets with 2–6 clones at 100–1000× → median ARI ≥ 0.9 and
    # relapse pattern right in ≥ 90 %. Truth = the simulator's clone labels and pattern.
    aris, right, n_clones = [], 0, []
    seeds = range(1000, 1032)
    for seed in seeds:
        ds, res = _fit(seed)
        aris.append(adjusted_rand_index(ds.labels, res.clusters.labels))  # type: ignore[attr-defined]
        right += res.pattern.pattern == ds.pattern  # type: ignore[attr-defined]
        n_clones.append(len(ds.parents))  # type: ignore[attr-defined]
    assert set(n_clones) == {2, 3, 4, 5, 6}
    assert float(np.median(aris)) >= 0.9, aris
    assert right / len(seeds) >= 0.9, right
