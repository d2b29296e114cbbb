"""CCF algebra (PyClone: Roth 2014 Nat Methods; Gillis & Roth 2020 BMC Bioinformatics) and its
binomial uncertainty."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remission.clonal import ccf_estimate, ccf_from_vaf, expected_vaf
from remission.errors import ValidationError


def test_spec_worked_check_copy_gain() -> None:
    # published worked example (PMC3934006, Fig. 1): VAF 0.125, c_T = 3, t = 0.67, m = 1
    # CCF = 0.125 × (0.33 × 2 + 0.67 × 3) / 0.67 = 0.125 × 2.67 / 0.67 = 0.4981
    assert ccf_from_vaf(0.125, 0.67, total_cn=3) == pytest.approx(0.125 * 2.67 / 0.67, rel=1e-12)
    assert ccf_from_vaf(0.125, 0.67, total_cn=3) == pytest.approx(0.498, abs=5e-4)


def test_worked_example_with_copy_number_change_matches_hand_calculation() -> None:
    # Hand calculation. Purity t = 0.8; the segment is a single-copy loss in the tumour
    # (major 1, minor 0: c_T = 1), normal copy number c_N = 2, multiplicity m = 1.
    # 90 alt reads out of 300 → VAF = 0.3.
    #   denominator (1 − t) c_N + t c_T = 0.2 × 2 + 0.8 × 1 = 1.2
    #   CCF = 0.3 × 1.2 / (0.8 × 1) = 0.36 / 0.8 = 0.45
    # Ignoring the copy-number change (diploid, c_T = 2) would give
    #   0.3 × (0.2 × 2 + 0.8 × 2) / 0.8 = 0.3 × 2.0 / 0.8 = 0.75 — a different answer.
    est = ccf_estimate(90, 300, 0.8, major_cn=1, minor_cn=0)
    assert est.vaf == pytest.approx(0.3)
    assert est.ccf == pytest.approx(0.45, abs=1e-12)
    assert est.multiplicity == 1
    diploid = ccf_estimate(90, 300, 0.8)
    assert diploid.ccf == pytest.approx(0.75, abs=1e-12)
    # binomial uncertainty: the 95 % interval covers the point value and the posterior mean is close
    assert est.ci_low <= 0.45 <= est.ci_high
    assert est.mean == pytest.approx(0.45, abs=0.02)
    # sd ≈ binomial sd of the VAF scaled by the same factor: sqrt(0.3 × 0.7 / 300) × 1.2 / 0.8 = 0.0397
    assert est.sd == pytest.approx(math.sqrt(0.3 * 0.7 / 300) * 1.2 / 0.8, rel=0.15)


def test_gain_uses_higher_multiplicity_when_needed() -> None:
    # Hand calculation: t = 1, c_T = 3 (2 + 1), VAF = 0.6. With m = 1: 0.6 × 3 / 1 = 1.8 > 1;
    # with m = 2: 0.6 × 3 / 2 = 0.9 ≤ 1 → multiplicity 2, CCF 0.9.
    est = ccf_estimate(60, 100, 1.0, major_cn=2, minor_cn=1)
    assert est.multiplicity == 2
    assert est.ccf == pytest.approx(0.9)


def test_depth_zero_is_no_information() -> None:
    est = ccf_estimate(0, 0, 0.7)
    assert est.ccf is None and est.mean is None


@pytest.mark.parametrize("purity", [0, -1, 1.5, math.nan, math.inf, None])
def test_bad_purity(purity: object) -> None:
    with pytest.raises(ValidationError, match=r"purity must be a fraction in \(0, 1\], but was"):
        ccf_estimate(5, 100, purity)  # type: ignore[arg-type]


def test_alt_above_depth() -> None:
    with pytest.raises(ValidationError, match="alt must be <= depth"):
        ccf_estimate(101, 100, 0.5)


@settings(max_examples=60, deadline=None)
@given(ccf=st.floats(0.01, 1.0), purity=st.floats(0.05, 1.0), major=st.integers(1, 3),
       minor=st.integers(0, 1))
def test_formula_inverts_expected_vaf(ccf: float, purity: float, major: int, minor: int) -> None:
    vaf = float(expected_vaf(ccf, purity, major + minor, 1))
    assert ccf_from_vaf(vaf, purity, major + minor, 1) == pytest.approx(ccf, rel=1e-9)
    assert np.all(expected_vaf(np.linspace(0, 1, 5), purity, major + minor, 1) <= 1)
