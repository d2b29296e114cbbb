"""Clustering mutations into clones across samples: a binomial / beta-binomial mixture by EM.

Model (the PyClone-VI likelihood of Gillis S & Roth A, *BMC Bioinformatics* 2020,
doi:10.1186/s12859-020-03919-2, fitted by EM instead of variational inference; PyClone-VI itself
is GPL and not used): clone ``k`` has one cellular prevalence ``φ_ks`` per sample ``s``; every
mutation of the clone has that CCF in every sample. The alt count of mutation ``n`` in sample
``s`` is binomial (or beta-binomial) with the expected VAF of
:func:`remission.clonal.ccf.expected_vaf`, marginalised over the multiplicity. ``φ`` lives on a
CCF grid (101 points by default, as PyClone-VI), so the M-step maximises exactly over the grid.

Model selection: K = 1..``max_clusters``, each fitted from ``restarts`` seeded k-means++
starts; the number of clones minimises BIC (default) or ICL (BIC plus twice the assignment
entropy), with ``K·S + K − 1`` free parameters and ``n = N`` mutations.

See Also
--------
MutationClusterer : the fit-style wrapper.
remission.clonal.ccf.ccf_loglik_grid : the per-mutation likelihood.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import special

from remission.clonal.ccf import DEFAULT_ERROR_RATE, ccf_grid, ccf_loglik_grid
from remission.errors import ValidationError

__all__ = ["ClusterResult", "MutationClusterer", "adjusted_rand_index", "cluster_mutations", "loglik_tensor"]


def loglik_tensor(alt: np.ndarray, depth: np.ndarray, purity: Sequence[float], *,
                  major_cn: np.ndarray | None = None, minor_cn: np.ndarray | None = None,
                  normal_cn: np.ndarray | None = None, grid: np.ndarray | None = None,
                  error_rate: float = DEFAULT_ERROR_RATE, precision: float | None = None) -> np.ndarray:
    """``L[n, s, g]``: log-likelihood of mutation n's counts in sample s at grid CCF g."""
    alt = np.asarray(alt)
    depth = np.asarray(depth)
    n, s = alt.shape
    g = ccf_grid() if grid is None else grid
    major = np.ones((n, s), int) if major_cn is None else np.asarray(major_cn)
    minor = np.ones((n, s), int) if minor_cn is None else np.asarray(minor_cn)
    normal = np.full((n, s), 2, int) if normal_cn is None else np.asarray(normal_cn)
    out = np.zeros((n, s, len(g)))
    for i in range(n):
        for j in range(s):
            out[i, j] = ccf_loglik_grid(int(alt[i, j]), int(depth[i, j]), float(purity[j]),
                                        major_cn=int(major[i, j]), minor_cn=int(minor[i, j]),
                                        normal_cn=int(normal[i, j]), grid=g, error_rate=error_rate,
                                        precision=precision)
    return out


@dataclass
class ClusterResult:
    """A fitted clone mixture.

    ``labels[n]`` is the clone of mutation n (0 = highest mean CCF); ``ccf[k, s]`` the clone's
    prevalence (grid MAP) in sample s with posterior ``ccf_sd``; ``prob[n]`` the assignment
    probability; ``selection`` lists ``{k, loglik, bic, icl}`` for every K tried.
    """

    labels: np.ndarray
    ccf: np.ndarray
    ccf_sd: np.ndarray
    weights: np.ndarray
    prob: np.ndarray
    loglik: float
    bic: float
    icl: float
    criterion: str
    selection: list[dict[str, float]] = field(default_factory=list)

    @property
    def n_clusters(self) -> int:
        return int(self.ccf.shape[0])


def _kmeanspp(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centers = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d = np.min(((x[:, None, :] - np.asarray(centers)[None]) ** 2).sum(-1), axis=1)
        total = d.sum()
        idx = rng.integers(len(x)) if total <= 0 else rng.choice(len(x), p=d / total)
        centers.append(x[idx])
    return np.asarray(centers)


def _em(L: np.ndarray, grid: np.ndarray, init_idx: np.ndarray, max_iter: int = 200,
        tol: float = 1e-7) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """EM on the grid. Returns (grid index per clone×sample, weights, responsibilities, loglik)."""
    n, s, _ = L.shape
    gidx = init_idx.copy()
    k = gidx.shape[0]
    logw = np.full(k, -np.log(k))
    prev = -np.inf
    sidx = np.arange(s)[None, :]
    for _ in range(max_iter):
        # E-step
        comp = logw[None, :] + L[:, sidx, gidx].sum(axis=2)
        norm = special.logsumexp(comp, axis=1)
        ll = float(norm.sum())
        r = np.exp(comp - norm[:, None])
        # M-step
        nk = r.sum(axis=0)
        keep = nk > 1e-6
        if not keep.all():
            r, nk, gidx = r[:, keep], nk[keep], gidx[keep]
            k = int(keep.sum())
        logw = np.log(nk / n)
        score = np.einsum("nk,nsg->ksg", r, L)
        gidx = score.argmax(axis=2)
        if abs(ll - prev) < tol * max(1.0, abs(ll)):
            break
        prev = ll
    comp = logw[None, :] + L[:, sidx, gidx].sum(axis=2)
    norm = special.logsumexp(comp, axis=1)
    r = np.exp(comp - norm[:, None])
    return gidx, np.exp(logw), r, float(norm.sum())


def cluster_mutations(
    L: np.ndarray,
    *,
    max_clusters: int = 8,
    restarts: int = 5,
    criterion: Literal["bic", "icl"] = "bic",
    seed: int = 0,
    grid: np.ndarray | None = None,
) -> ClusterResult:
    """Cluster mutations by their CCF likelihoods ``L[n, s, g]`` (see :func:`loglik_tensor`).

    Parameters
    ----------
    L : (mutations, samples, grid) log-likelihoods on ``grid`` (default 101 points on [0, 1]).
    max_clusters : largest K tried (capped at the number of mutations).
    restarts : seeded k-means++ starts per K; the best log-likelihood wins.
    criterion : "bic" or "icl" for choosing K.
    seed : random seed (the result is a pure function of the inputs and the seed).

    See Also
    --------
    MutationClusterer : fit-style wrapper.
    """
    L = np.asarray(L, dtype=float)
    if L.ndim != 3 or L.shape[0] == 0:
        raise ValidationError(f"L must be a non-empty (mutations, samples, grid) array, but had shape {L.shape!r}")
    if criterion not in ("bic", "icl"):
        raise ValidationError(f"criterion must be one of bic, icl, but was {criterion!r}")
    if max_clusters < 1 or restarts < 1:
        raise ValidationError(f"max_clusters and restarts must be >= 1, but were {max_clusters!r}, {restarts!r}")
    n, s, ng = L.shape
    g = ccf_grid(ng) if grid is None else np.asarray(grid)
    rng = np.random.default_rng(seed)
    # per-mutation posterior-mean CCF (flat prior) as k-means++ features
    w = np.exp(L - L.max(axis=2, keepdims=True))
    w /= w.sum(axis=2, keepdims=True)
    x = (w * g).sum(axis=2)
    best: dict[int, tuple[float, np.ndarray, np.ndarray, np.ndarray]] = {}
    selection = []
    for k in range(1, min(max_clusters, n) + 1):
        top = None
        for _ in range(restarts if k > 1 else 1):
            centers = _kmeanspp(x, k, rng)
            init = np.abs(centers[:, :, None] - g[None, None, :]).argmin(axis=2)
            gidx, wts, r, ll = _em(L, g, init)
            if top is None or ll > top[0]:
                top = (ll, gidx, wts, r)
        assert top is not None
        ll, gidx, wts, r = top
        kk = gidx.shape[0]
        p = kk * s + kk - 1
        bic = -2 * ll + p * np.log(n)
        ent = -float(np.sum(r * np.log(np.clip(r, 1e-300, None))))
        icl = bic + 2 * ent
        selection.append({"k": k, "fitted_k": kk, "loglik": round(ll, 3), "bic": round(float(bic), 3),
                          "icl": round(float(icl), 3)})
        best[k] = (float(bic if criterion == "bic" else icl), gidx, wts, r)
    k_best = min(best, key=lambda kk: best[kk][0])
    _, gidx, wts, r = best[k_best]
    labels = r.argmax(axis=1)
    used = np.unique(labels)
    gidx, wts, r = gidx[used], wts[used], r[:, used]
    r = r / r.sum(axis=1, keepdims=True)
    labels = r.argmax(axis=1)
    ccf = g[gidx]
    order = np.argsort(-ccf.mean(axis=1), kind="stable")
    ccf, wts, r = ccf[order], wts[order], r[:, order]
    labels = r.argmax(axis=1)
    # posterior of each clone's CCF per sample given its (soft) members, flat prior
    post = np.einsum("nk,nsg->ksg", r, L)
    post = np.exp(post - post.max(axis=2, keepdims=True))
    post /= post.sum(axis=2, keepdims=True)
    mean = (post * g).sum(axis=2)
    sd = np.sqrt(np.clip((post * (g - mean[..., None]) ** 2).sum(axis=2), 0, None))
    sel = next(d for d in selection if d["k"] == k_best)
    return ClusterResult(labels=labels, ccf=ccf, ccf_sd=sd, weights=wts / wts.sum(),
                         prob=r[np.arange(n), labels], loglik=float(sel["loglik"]), bic=float(sel["bic"]),
                         icl=float(sel["icl"]), criterion=criterion, selection=selection)


class MutationClusterer:
    """Fit-style wrapper around :func:`cluster_mutations`.

    ``MutationClusterer(max_clusters=8).fit(L)`` sets ``labels_``, ``ccf_``, ``result_``.
    """

    def __init__(self, *, max_clusters: int = 8, restarts: int = 5,
                 criterion: Literal["bic", "icl"] = "bic", seed: int = 0) -> None:
        self.max_clusters = max_clusters
        self.restarts = restarts
        self.criterion = criterion
        self.seed = seed

    def fit(self, L: np.ndarray) -> MutationClusterer:
        self.result_ = cluster_mutations(L, max_clusters=self.max_clusters, restarts=self.restarts,
                                         criterion=self.criterion, seed=self.seed)
        self.labels_ = self.result_.labels
        self.ccf_ = self.result_.ccf
        return self


def adjusted_rand_index(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> float:
    """Adjusted Rand index of two labelings (Hubert & Arabie 1985), from the contingency table."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValidationError(f"labelings must have the same length, but had {a.shape!r} and {b.shape!r}")
    n = len(a)
    if n < 2:
        return 1.0
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1), dtype=np.int64)
    np.add.at(table, (ai, bi), 1)

    def comb2(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    index = comb2(table)
    sa, sb = comb2(table.sum(1)), comb2(table.sum(0))
    expected = sa * sb / (n * (n - 1) / 2)
    maxi = (sa + sb) / 2
    if maxi == expected:
        return 1.0
    return (index - expected) / (maxi - expected)
