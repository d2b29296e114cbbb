"""The whole clonal analysis of one patient: CCF → clones → tree → relapse pattern → lesions.

:func:`analyze_clonal` is pure: it takes read counts (any object with ``samples,
mutation_ids, chrom, pos, genes, alt, depth``, e.g. :class:`remission.io.variants.VariantTable`),
purity per sample and copy-number segments, and returns a :class:`ClonalResult`.

See Also
--------
remission.clonal.cluster.cluster_mutations, remission.clonal.tree.build_tree,
remission.clonal.pattern.relapse_pattern
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from remission.clonal.ccf import assign_copy_number, ccf_estimate
from remission.clonal.cluster import ClusterResult, cluster_mutations, loglik_tensor
from remission.clonal.pattern import (
    DEFAULT_RULES,
    RelapsePattern,
    RelapseTable,
    annotate_lesions,
    clone_status,
    pattern_over_trees,
    relapse_pattern,
)
from remission.clonal.tree import CloneTree, build_tree, enumerate_trees
from remission.domain.parameters import Rule, resolve, rests_on
from remission.errors import RemissionWarning, ValidationError

__all__ = ["ClonalResult", "analyze_clonal", "infer_roles"]

_ROLE_PATTERNS = (
    ("remission", re.compile(r"(REM|GERM|NORMAL|^CR\d*$|[-_]CR\d*$|SKIN)", re.I)),
    ("diagnosis", re.compile(r"(^DX|[-_]DX|DIAG|^D0$|PRIMARY|INITIAL)", re.I)),
    ("relapse", re.compile(r"(^R\d+$|[-_]R\d+$|^R\d+[-_]|REL)", re.I)),
)


def infer_roles(samples: Sequence[str], given: Mapping[str, str] | None = None) -> dict[str, str]:
    """Sample → role (diagnosis | relapse | remission | follow_up) from ``given`` or the names.

    Names: ``DX``/``DIAG`` → diagnosis, ``R1``/``REL`` → relapse, ``REM``/``GERM``/``NORMAL`` →
    remission. Without a name match the first sample is the diagnosis and the last the relapse.
    """
    roles: dict[str, str] = {}
    given = dict(given or {})
    for s in given:
        if s not in samples:
            raise ValidationError(f"roles names sample {s!r}, which the variant files do not have; "
                                  f"the samples are {', '.join(map(repr, samples))}")
    for s in samples:
        if s in given:
            roles[s] = given[s]
            continue
        for role, rx in _ROLE_PATTERNS:
            if rx.search(s):
                roles[s] = role
                break
        else:
            roles[s] = "follow_up"
    tumour = [s for s in samples if roles[s] != "remission"]
    if tumour and "diagnosis" not in roles.values():
        roles[tumour[0]] = "diagnosis"
    if len(tumour) > 1 and "relapse" not in roles.values():
        roles[tumour[-1]] = "relapse"
    return roles


@dataclass
class ClonalResult:
    samples: list[str]
    roles: dict[str, str]
    purity: dict[str, float]
    clusters: ClusterResult
    tree: CloneTree
    pattern: RelapsePattern | None
    lesions: list[dict[str, Any]]
    mutations: list[dict[str, Any]]
    rules: dict[str, Rule]
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        status = {}
        if self.pattern is not None:
            dx = self.samples.index(next(s for s in self.samples if self.roles[s] == "diagnosis"))
            rel = self.samples.index(next(s for s in reversed(self.samples) if self.roles[s] == "relapse"))
            status = clone_status(self.tree, dx, rel, self.rules)
        labels = self.clusters.labels
        own = self.tree.own_fraction()
        clusters = []
        for k in range(self.clusters.n_clusters):
            p = self.tree.parents[k]
            clusters.append({
                "id": k,
                "n_mutations": int((labels == k).sum()),
                "ccf": {s: round(float(self.clusters.ccf[k, j]), 3) for j, s in enumerate(self.samples)},
                "ccf_sd": {s: round(float(self.clusters.ccf_sd[k, j]), 3) for j, s in enumerate(self.samples)},
                "own_fraction": {s: round(float(own[k, j]), 3) for j, s in enumerate(self.samples)},
                "parent": None if p is None or p < 0 else int(p),
                "placed": p is not None,
                "status": status.get(k),
                "genes": sorted({str(m["gene"]) for m in self.mutations if m["cluster"] == k and m["gene"]})[:20],
            })
        return {
            "samples": self.samples,
            "roles": self.roles,
            "purity": self.purity,
            "n_mutations": len(self.mutations),
            "n_clones": self.clusters.n_clusters,
            "clusters": clusters,
            "tree": self.tree.as_dict() | {"notes": self.tree.notes},
            "relapse_pattern": None if self.pattern is None else self.pattern.as_dict(),
            "lesions": self.lesions,
            "model_selection": {"criterion": self.clusters.criterion, "chosen_k": self.clusters.n_clusters,
                                "candidates": self.clusters.selection},
            "mutations": self.mutations,
            "rules": {name: r.as_dict() for name, r in self.rules.items()},
            "warnings": self.warnings,
        }


def _read_counts(table: Any, samples: list[str], pur: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """The (mutations, samples) alt and depth arrays, checked against each other and the purity."""
    for s in pur:
        if s not in samples:
            raise ValidationError(f"purity names sample {s!r}, which the variant files do not have; "
                                  f"the samples are {', '.join(map(repr, samples))}")
    alt = np.asarray(table.alt, dtype=np.int64)
    depth = np.asarray(table.depth, dtype=np.int64)
    if alt.shape != depth.shape or alt.ndim != 2 or alt.shape[1] != len(samples):
        raise ValidationError(f"alt and depth must be (mutations, samples) arrays, but had shapes {alt.shape!r}, {depth.shape!r}")
    if np.any(alt > depth) or np.any(alt < 0):
        raise ValidationError("alt must be between 0 and depth for every mutation and sample, but was not")
    return alt, depth


def _somatic_with_reads(alt: np.ndarray, depth: np.ndarray, samples: list[str], role: Mapping[str, str],
                        rules: Mapping[str, Rule], warn: list[str]) -> tuple[np.ndarray, list[int], list[int]]:
    """(mutations kept, remission columns, tumour columns): germline (by remission VAF) and
    mutations without reads in any tumour sample are dropped, with a warning each."""
    keep = np.ones(alt.shape[0], bool)
    rem_cols = [j for j, s in enumerate(samples) if role[s] == "remission"]
    if rem_cols:
        vaf_rem = np.where(depth[:, rem_cols] > 0, alt[:, rem_cols] / np.maximum(depth[:, rem_cols], 1), 0.0)
        germ = (vaf_rem >= float(rules["germline_remission_vaf"].value)).any(axis=1)
        if germ.any():
            warn.append(f"{int(germ.sum())} variant(s) with remission VAF ≥ {rules['germline_remission_vaf'].value} "
                        "treated as germline and dropped")
        keep &= ~germ
    cols = [j for j, s in enumerate(samples) if role[s] != "remission"]
    if not cols:
        raise ValidationError("no tumour sample: every sample has the role remission")
    no_data = depth[:, cols].sum(axis=1) == 0
    if no_data.any():
        warn.append(f"{int(no_data.sum())} mutation(s) without reads in any tumour sample dropped")
    keep &= ~no_data
    if keep.sum() == 0:
        raise ValidationError("no mutation with reads in a tumour sample is left to analyse")
    return keep, rem_cols, cols


def _fill_purity(tum: Sequence[str], pur: dict[str, float], warn: list[str]) -> None:
    """Purity 1.0 for every tumour sample without one, with a warning (to the caller of
    :func:`analyze_clonal`)."""
    for s in tum:
        if s not in pur:
            pur[s] = 1.0
            msg = f"purity of sample {s!r} not given; assumed 1.0 (give it, e.g. the blast fraction)"
            warn.append(msg)
            warnings.warn(msg, RemissionWarning, stacklevel=3)


def _pattern_and_status(tree: CloneTree, clusters: ClusterResult, tum: list[str], role: Mapping[str, str],
                        rules: Mapping[str, Rule], tol: float, warn: list[str]
                        ) -> tuple[RelapsePattern | None, dict[int, str]]:
    """Relapse pattern (with the patterns of the other valid trees) and clone status, when the
    samples hold a diagnosis and a relapse."""
    dx_s = next((s for s in tum if role[s] == "diagnosis"), None)
    rel_s = next((s for s in reversed(tum) if role[s] == "relapse"), None)
    if dx_s is None or rel_s is None or dx_s == rel_s:
        warn.append("no diagnosis and relapse pair among the samples; relapse pattern not assessed")
        return None, {}
    dx, rel = tum.index(dx_s), tum.index(rel_s)
    pattern = relapse_pattern(tree, dx, rel, rules)
    if clusters.n_clusters <= 8:
        trees, _count = enumerate_trees(clusters.ccf, tol, limit=500)
        pattern.alternatives = pattern_over_trees(trees, clusters.ccf, tol, dx, rel, rules)
        if len(pattern.alternatives) > 1:
            warn.append("the relapse pattern depends on the tree: valid trees give "
                        + ", ".join(f"{k} ({v})" for k, v in sorted(pattern.alternatives.items()))
                        + "; the shallowest tree is reported")
    return pattern, clone_status(tree, dx, rel, rules)


def _mutation_rows(table: Any, idx: np.ndarray, tum: list[str], a: np.ndarray, d: np.ndarray,
                   pur: Mapping[str, float], cn: tuple[np.ndarray, np.ndarray, np.ndarray],
                   clusters: ClusterResult, chrom: list[str], pos: list[int]
                   ) -> tuple[list[dict[str, Any]], np.ndarray]:
    """One row per kept mutation (cluster, per-sample counts and CCF estimate), and the
    (mutations, tumour samples) CCF point estimates (NaN where not estimable)."""
    major, minor, normal = cn
    mutations = []
    ccf_pt = np.full(a.shape, np.nan)
    for n_i, i in enumerate(idx):
        per = {}
        for j, s in enumerate(tum):
            est = ccf_estimate(int(a[n_i, j]), int(d[n_i, j]), pur[s], major_cn=int(major[n_i, j]),
                               minor_cn=int(minor[n_i, j]), normal_cn=int(normal[n_i, j]))
            if est.ccf is not None:
                ccf_pt[n_i, j] = est.ccf
            per[s] = {"alt": int(a[n_i, j]), "depth": int(d[n_i, j]), "major_cn": int(major[n_i, j]),
                      "minor_cn": int(minor[n_i, j])} | est.as_dict()
        mutations.append({"id": table.mutation_ids[i], "gene": table.genes[i], "chrom": chrom[n_i], "pos": pos[n_i],
                          "cluster": int(clusters.labels[n_i]), "cluster_prob": round(float(clusters.prob[n_i]), 4),
                          "samples": per})
    return mutations, ccf_pt


def analyze_clonal(
    table: Any,
    *,
    purity: Mapping[str, float] | None = None,
    segments: Sequence[Any] = (),
    roles: Mapping[str, str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    seed: int = 0,
    max_clusters: int = 8,
    restarts: int = 5,
    criterion: Literal["bic", "icl"] = "bic",
    precision: float | None = None,
    relapse_lesions: RelapseTable | None = None,
) -> ClonalResult:
    """Clonal architecture of one patient from multi-sample read counts.

    Parameters
    ----------
    table : read counts (``samples, mutation_ids, chrom, pos, genes, alt, depth``).
    purity : tumour fraction per sample (blast fraction is a good prior; recalled, no primary
        source checked); a missing sample is taken as purity 1 with a warning.
    segments : allele-specific copy-number segments (objects with ``sample, chrom, start, end,
        major_cn, minor_cn, normal_cn``); outside a segment a mutation is diploid.
    roles : sample → diagnosis | relapse | remission | follow_up; inferred from names if absent.
    parameters : overrides of :data:`remission.clonal.pattern.DEFAULT_RULES` by name.
    precision : beta-binomial precision (None = binomial).
    relapse_lesions : relapse-associated gene facts from the knowledge base
        (:meth:`remission.knowledge.Vocabulary.relapse_lesions`); without it no lesion is annotated.
    """
    rules = resolve(DEFAULT_RULES, parameters)
    warn: list[str] = list(getattr(table, "notes", []) or [])
    samples = list(table.samples)
    role = infer_roles(samples, roles)
    pur = {str(k): float(v) for k, v in (purity or {}).items()}
    alt, depth = _read_counts(table, samples, pur)
    keep, rem_cols, cols = _somatic_with_reads(alt, depth, samples, role, rules, warn)
    tum = [samples[j] for j in cols]
    _fill_purity(tum, pur, warn)
    idx = np.flatnonzero(keep)
    a, d = alt[np.ix_(idx, np.asarray(cols))], depth[np.ix_(idx, np.asarray(cols))]
    chrom = [str(table.chrom[i]) for i in idx]
    pos = [int(table.pos[i]) for i in idx]
    major, minor, normal = assign_copy_number(chrom, pos, tum, list(segments))
    L = loglik_tensor(a, d, [pur[s] for s in tum], major_cn=major, minor_cn=minor, normal_cn=normal,
                      precision=precision)
    clusters = cluster_mutations(L, max_clusters=max_clusters, restarts=restarts, criterion=criterion, seed=seed)
    tol = float(rules["tree_tolerance_ccf"].value)
    tree = build_tree(clusters.ccf, tolerance=tol)
    warn.extend(tree.notes)
    pattern, status = _pattern_and_status(tree, clusters, tum, role, rules, tol, warn)
    mutations, ccf_pt = _mutation_rows(table, idx, tum, a, d, pur, (major, minor, normal), clusters, chrom, pos)
    lesions = annotate_lesions([table.genes[i] for i in idx], clusters.labels, status,
                               [table.mutation_ids[i] for i in idx], np.nan_to_num(ccf_pt),
                               relapse_lesions=relapse_lesions or {})
    for les in lesions:
        les["ccf"] = dict(zip(tum, les["ccf"], strict=True))
    used = [rules[n] for n in ("present_ccf", "tree_tolerance_ccf", "major_clone_ccf", "multiclonal_min_relapse_ccf")]
    if rem_cols:
        used.append(rules["germline_remission_vaf"])
    return ClonalResult(samples=tum, roles=role, purity={s: pur[s] for s in tum}, clusters=clusters, tree=tree,
                        pattern=pattern, lesions=lesions, mutations=mutations,
                        rules={r.name: r for r in used}, warnings=warn)


def rules_rested_on(result: ClonalResult) -> list[dict[str, Any]]:
    return rests_on(result.rules.values())
