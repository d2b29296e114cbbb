"""Acceptance (issue #3): dilution series and background-only negatives, simulated at clonotype level.

Truth comes from the seeded generator (:mod:`remission.synth.ngs`): a leukemic IGH clone at
1e-2 ... 1e-6 of 10^6 cell equivalents (Poisson sampling of cells into the tube, Poisson
read sampling at 2 reads per cell, 0.3 %/base substitution errors), polyclonal background.
"""

from __future__ import annotations

import numpy as np
import pytest

from remission.mrd.ngs import index_clonotypes, quantify, track_airr
from remission.synth.ngs import random_rearrangement, simulate_sample

CELLS = 1_000_000
LEVELS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
SEEDS = range(5)


def _diagnosis(seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    igh = random_rearrangement(rng, "IGH")
    kde = random_rearrangement(rng, "IGK", kind="Kde")
    dx = simulate_sample(rng, cells=50_000, clones=[(igh, 0.6), (kde, 0.5)], loci=["IGH", "IGK"],
                         n_clonotypes=3000, total_reads=50_000)
    return rng, igh, kde, index_clonotypes([dx.chunk()])


@pytest.mark.slow
def test_dilution_series() -> None:
    points = []  # (truth, estimate)
    for seed in SEEDS:
        rng, igh, _, idx = _diagnosis(100 + seed)
        m = [c.junction for c in idx.clones].index(igh.junction)
        for f in LEVELS:
            fu = simulate_sample(rng, cells=CELLS, clones=[(igh, f)], n_clonotypes=20_000,
                                 reads_per_cell=2.0, incomplete_fraction=0)
            res = quantify(idx, track_airr(idx, [fu.chunk()]), cell_equivalents=CELLS)
            mk = res.markers[m]
            # LoD = -ln(0.05) / 1e6 = 3.0e-6; LoQ = max(3 cells, 5 reads / 2 per cell) / 1e6 = 3e-6
            assert mk.lod == pytest.approx(2.9957e-6, rel=1e-3) and mk.loq == pytest.approx(3e-6)
            if f >= 1e-4:
                # >= 100 leukemic cells: every single sample within a factor of 1.5
                assert mk.status == "positive", (seed, f)
                assert f / 1.5 <= mk.mrd <= f * 1.5, (seed, f, mk.mrd)
            if f == 1e-6:
                # at/below the LoD (1 expected leukemic cell): a negative states a sensitivity
                # (3e-6) that does not claim to exclude the truth; a positive is only reported
                # at or above its LoQ; anything else is "positive, not quantifiable"
                if mk.status == "negative":
                    assert mk.mrd is None and mk.lod >= f
                elif mk.status == "positive":
                    assert mk.mrd >= mk.loq
                else:
                    assert mk.mrd < mk.loq or mk.reads < 5 or mk.leukemic_cells < 3
            points.append((f, mk.mrd, mk.status))
    # 1e-5 (10 leukemic cells, above the LoQ of 3): the Poisson sampling of 10 cells alone has a
    # CV of 32 %, so single samples can miss a factor 1.5; the mean over seeds must not
    est5 = [e for f, e, _ in points if f == 1e-5]
    assert all(s == "positive" for f, _, s in points if f == 1e-5)
    assert 1e-5 / 1.5 <= float(np.mean(est5)) <= 1e-5 * 1.5
    # log-linear above the LoQ: slope 1 +- 0.05, R^2 >= 0.98 (all single samples, 1e-2 .. 1e-5)
    x = np.log10([f for f, e, _ in points if f >= 1e-5])
    y = np.log10([e for f, e, _ in points if f >= 1e-5])
    slope, intercept = np.polyfit(x, y, 1)
    r2 = 1 - ((y - (slope * x + intercept)) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert abs(slope - 1) <= 0.05, slope
    assert r2 >= 0.98, r2


@pytest.mark.slow
def test_background_only_is_negative() -> None:
    """Regenerating polyclonal B cells only (IGH + IGK incl. Kde): negative in >= 99 of 100."""
    _rng, _, _, idx = _diagnosis(7)
    assert len(idx.clones) == 2
    negatives = 0
    for rep in range(100):
        bg = simulate_sample(np.random.default_rng(10_000 + rep), cells=CELLS, clones=[],
                             loci=["IGH", "IGK"], n_clonotypes=10_000, reads_per_cell=2.0)
        res = quantify(idx, track_airr(idx, [bg.chunk()]), cell_equivalents=CELLS)
        negatives += res.status == "negative"
    assert negatives >= 99
