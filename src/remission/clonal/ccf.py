"""Cancer-cell fraction (CCF) of a mutation from its read counts, purity and copy number.

Formula (PyClone family: Roth A et al., *Nat Methods* 2014; PyClone-VI, Gillis S & Roth A,
*BMC Bioinformatics* 2020, doi:10.1186/s12859-020-03919-2; [V-code], read from the authors'
code, not copied): a sample with purity ``t``; the mutation's segment has normal copy number
``c_N``, tumour total copy number ``c_T`` and the mutation is on ``m`` of the tumour copies.
With CCF ``f``::

    E[VAF] = t f m / ((1 - t) c_N + t c_T)
    CCF    = VAF ((1 - t) c_N + t c_T) / (t m)

The simplified ``VAF × (CN_total / CN_alt) / purity`` ignores the normal cells' copies and is not
used.

Uncertainty: the binomial likelihood of the alt count on a CCF grid, marginalised over the
multiplicities ``m = 1..major`` with equal weight (PyClone's genotype prior), normalised as a
posterior under a flat prior; :func:`ccf_estimate` reports its mean, standard deviation and 95 %
interval. Sequencing error ``ε`` is added on reference alleles as in PyClone.

See Also
--------
remission.clonal.cluster.cluster_mutations : uses :func:`ccf_loglik_grid` for every sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from remission.domain.checks import check_fraction, check_nonnegative
from remission.errors import ValidationError

__all__ = [
    "CcfEstimate",
    "ccf_estimate",
    "ccf_from_vaf",
    "ccf_grid",
    "ccf_loglik_grid",
    "expected_vaf",
]

#: default sequencing error rate per base (PyClone-VI's default ``error_rate``).
DEFAULT_ERROR_RATE = 1e-3


def ccf_grid(n: int = 101) -> np.ndarray:
    """Evenly spaced CCF values on [0, 1] (PyClone-VI evaluates 100 points)."""
    return np.linspace(0.0, 1.0, n)


def expected_vaf(ccf: np.ndarray | float, purity: float, total_cn: int | np.ndarray = 2, multiplicity: int = 1,
                 normal_cn: int = 2, error_rate: float = 0.0) -> np.ndarray:
    """Expected variant allele fraction for a CCF (PyClone formula), optionally with seq. error."""
    f = np.asarray(ccf, dtype=float)
    t = purity
    denom = (1 - t) * normal_cn + t * total_cn
    mut = t * f * multiplicity / denom
    if error_rate:
        mut = mut * (1 - error_rate) + (1 - mut) * error_rate
    return np.clip(mut, 1e-12, 1 - 1e-12)


def ccf_from_vaf(vaf: float, purity: float, total_cn: int = 2, multiplicity: int = 1,
                 normal_cn: int = 2) -> float:
    """Point CCF: ``VAF ((1 - t) c_N + t c_T) / (t m)`` (PyClone); not clipped."""
    check_fraction("vaf", vaf)
    check_fraction("purity", purity, open_low=True)
    if total_cn < 0 or normal_cn < 1:
        raise ValidationError(f"total_cn must be >= 0 and normal_cn >= 1, but was {total_cn!r}, {normal_cn!r}")
    if multiplicity < 1 or (total_cn and multiplicity > total_cn):
        raise ValidationError(f"multiplicity must be in 1..total_cn, but was {multiplicity!r}")
    return float(vaf * ((1 - purity) * normal_cn + purity * total_cn) / (purity * multiplicity))


def _multiplicities(major_cn: int) -> list[int]:
    return list(range(1, max(1, major_cn) + 1))


def ccf_loglik_grid(alt: int, depth: int, purity: float, *, major_cn: int = 1, minor_cn: int = 1,
                    normal_cn: int = 2, grid: np.ndarray | None = None,
                    error_rate: float = DEFAULT_ERROR_RATE, precision: float | None = None) -> np.ndarray:
    """Log-likelihood of the alt count over a CCF grid, marginalised over multiplicity.

    ``precision`` ``None`` = binomial; a number = beta-binomial with that precision
    (PyClone-VI's default is 200). Depth 0 gives a flat (all-zero) vector: no information.
    """
    g = ccf_grid() if grid is None else grid
    if depth <= 0:
        return np.zeros_like(g)
    total = major_cn + minor_cn
    if total == 0:  # homozygous deletion: the mutation cannot be observed in tumour cells
        return np.zeros_like(g)
    terms = []
    for m in _multiplicities(major_cn):
        p = expected_vaf(g, purity, total, m, normal_cn, error_rate)
        if precision is None:
            ll = (special.gammaln(depth + 1) - special.gammaln(alt + 1) - special.gammaln(depth - alt + 1)
                  + alt * np.log(p) + (depth - alt) * np.log1p(-p))
        else:
            a, b = p * precision, (1 - p) * precision
            ll = (special.gammaln(depth + 1) - special.gammaln(alt + 1) - special.gammaln(depth - alt + 1)
                  + special.betaln(alt + a, depth - alt + b) - special.betaln(a, b))
        terms.append(ll)
    arr = np.vstack(terms)
    return special.logsumexp(arr, axis=0) - np.log(len(terms))


@dataclass(frozen=True)
class CcfEstimate:
    """CCF of one mutation in one sample."""

    vaf: float | None
    # point estimate from the PyClone formula (multiplicity chosen as below), clipped to [0, 1]
    ccf: float | None
    ccf_raw: float | None  # the same before clipping (> 1 flags purity/CN/multiplicity trouble)
    multiplicity: int
    mean: float | None
    sd: float | None
    ci_low: float | None
    ci_high: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def ccf_estimate(alt: int, depth: int, purity: float, *, major_cn: int = 1, minor_cn: int = 1,
                 normal_cn: int = 2, error_rate: float = DEFAULT_ERROR_RATE,
                 grid_points: int = 201) -> CcfEstimate:
    """Point CCF (PyClone formula) and its binomial uncertainty for one mutation in one sample.

    The point estimate uses multiplicity 1 unless that gives CCF > 1, then the smallest
    multiplicity (≤ major copy number) that does not. Depth 0 gives an all-``None`` estimate.

    Examples
    --------
    Worked check by hand: VAF 0.125, c_T = 3, t = 0.67, m = 1 →
    0.125 × (0.33 × 2 + 0.67 × 3) / 0.67 = 0.498.

    >>> round(ccf_estimate(125, 1000, 0.67, major_cn=2, minor_cn=1).ccf, 3)
    0.498
    """
    check_nonnegative("alt", alt)
    check_nonnegative("depth", depth)
    check_fraction("purity", purity, open_low=True)
    if alt > depth:
        raise ValidationError(f"alt must be <= depth, but was {alt!r} > {depth!r}")
    if depth == 0:
        return CcfEstimate(None, None, None, 1, None, None, None, None)
    vaf = alt / depth
    total = major_cn + minor_cn
    m_used = 1
    raw = ccf_from_vaf(vaf, purity, max(total, 1), 1, normal_cn)
    for m in _multiplicities(major_cn):
        m_used = m
        raw = ccf_from_vaf(vaf, purity, max(total, 1), m, normal_cn)
        if raw <= 1:
            break
    g = ccf_grid(grid_points)
    ll = ccf_loglik_grid(alt, depth, purity, major_cn=major_cn, minor_cn=minor_cn, normal_cn=normal_cn,
                         grid=g, error_rate=error_rate)
    w = np.exp(ll - ll.max())
    w /= w.sum()
    mean = float((w * g).sum())
    sd = float(np.sqrt(max((w * (g - mean) ** 2).sum(), 0.0)))
    cdf = np.cumsum(w)
    lo = float(g[min(int(np.searchsorted(cdf, 0.025)), len(g) - 1)])
    hi = float(g[min(int(np.searchsorted(cdf, 0.975)), len(g) - 1)])
    return CcfEstimate(vaf, float(min(max(raw, 0.0), 1.0)), raw, m_used, mean, sd, lo, hi)


def assign_copy_number(chrom: list[str] | tuple[str, ...], pos: list[int] | tuple[int, ...],
                       samples: list[str] | tuple[str, ...], segments: list[Any] | tuple[Any, ...]
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(major, minor, normal) copy number per mutation × sample from segments.

    ``segments`` are objects with ``sample, chrom, start, end, major_cn, minor_cn, normal_cn``
    (e.g. :class:`remission.io.variants.CopyNumberSegment`). A mutation outside every segment of
    a sample is taken as diploid (1 + 1, normal 2).
    """
    n, s = len(chrom), len(samples)
    major = np.ones((n, s), int)
    minor = np.ones((n, s), int)
    normal = np.full((n, s), 2, int)
    by: dict[tuple[str, str], list[Any]] = {}
    for seg in segments:
        by.setdefault((seg.sample, str(seg.chrom)), []).append(seg)
    for j, sample in enumerate(samples):
        for i in range(n):
            for seg in by.get((sample, str(chrom[i])), ()):
                if seg.start <= pos[i] <= seg.end:
                    major[i, j], minor[i, j], normal[i, j] = seg.major_cn, seg.minor_cn, seg.normal_cn
                    break
    return major, minor, normal
