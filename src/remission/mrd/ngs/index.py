"""Index clonotypes at diagnosis (EuroClonality-NGS-style ≥5 %-of-target rule), with satellites."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from remission.domain.checks import check_fraction, check_nonnegative
from remission.domain.parameters import resolve
from remission.mrd.ngs.model import ClonotypeBlock, IndexClone, IndexResult
from remission.mrd.ngs.relatives import with_stem
from remission.mrd.ngs.rules import NGS_RULES
from remission.mrd.ngs.targets import LOCI, gene, target_of

__all__ = ["as_matrix", "effective_mismatches", "hamming_rows", "index_clonotypes"]


def hamming_rows(rows: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return (rows != ref[None, :]).sum(axis=1)


def as_matrix(junctions: Sequence[str]) -> np.ndarray:
    if not junctions:
        return np.zeros((0, 0), dtype=np.uint8)
    return np.frombuffer("".join(junctions).encode("ascii"), dtype=np.uint8).reshape(len(junctions), -1)


def index_clonotypes(
    blocks: Iterable[ClonotypeBlock],
    parameters: Mapping[str, Any] | None = None,
) -> IndexResult:
    """Index clonotypes of a diagnosis sample (EuroClonality-NGS-style ≥5 %-of-target rule).

    Parameters
    ----------
    blocks : rows of the diagnosis clonotype table (``locus``, ``v_call``, ``d_call``,
        ``j_call``, ``junction`` and ``count``), e.g. from :func:`remission.io.airr.iter_airr_chunks`.
    parameters : overrides of :data:`NGS_RULES` by name.

    Returns
    -------
    IndexResult with the index clones (possibly none: then ``status`` is ``no_marker``).
    """
    rules = resolve(NGS_RULES, parameters)
    min_frac = float(rules["index_min_fraction"].value)
    min_reads = int(rules["index_min_reads"].value)
    d = int(rules["max_mismatches"].value)
    seed = int(rules["min_seed_nt"].value)
    agg: dict[tuple[str, str, str, str, str], int] = {}
    d_calls: dict[tuple[str, str, str, str, str], str] = {}
    target_reads: dict[str, int] = {}
    total = 0
    for b in blocks:
        loc, v, dd, j, jn = b.get("locus"), b.get("v_call"), b.get("d_call"), b.get("j_call"), b.get("junction")
        cnt = b.count
        for i in range(len(cnt)):
            c = int(cnt[i])
            if c <= 0:
                continue
            total += c
            junction = str(jn[i]).upper()
            t = target_of(str(loc[i]), str(v[i]), str(dd[i]), str(j[i]))
            target_reads[t] = target_reads.get(t, 0) + c
            if not junction:
                continue
            key = (t, str(loc[i]) or t[:3], gene(str(v[i])) if v[i] else "",
                   gene(str(j[i])) if j[i] else "", junction)
            agg[key] = agg.get(key, 0) + c
            if key not in d_calls and dd[i]:
                d_calls[key] = gene(str(dd[i]))
    # satellites: group per (target, V, J, length); candidates need >= half the threshold exact
    groups: dict[tuple[str, str, str, int], list[tuple[str, int, tuple[str, str, str, str, str]]]] = {}
    for key, c in agg.items():
        groups.setdefault((key[0], key[2], key[3], len(key[4])), []).append((key[4], c, key))
    clones: list[IndexClone] = []
    near: list[dict[str, Any]] = []
    for (t, _v, _j, _length), members in groups.items():
        tr = target_reads[t]
        cand = [m for m in members if m[1] >= 0.5 * min_frac * tr]
        if not cand:
            continue
        members.sort(key=lambda m: -m[1])
        mat = as_matrix([m[0] for m in members])
        cnts = np.array([m[1] for m in members], dtype=np.int64)
        absorbed = np.zeros(len(members), dtype=bool)
        for i, (junc, c, key) in enumerate(members):
            if c < 0.5 * min_frac * tr:
                break
            if absorbed[i]:
                continue
            dist = hamming_rows(mat, mat[i])
            sat = (dist <= effective_mismatches(len(junc), d, seed)) & ~absorbed & (cnts <= c)
            sat[i] = True
            total_c = int(cnts[sat].sum())
            absorbed |= sat
            frac = total_c / tr
            rec = {"target": t, "v_call": key[2], "j_call": key[3], "junction": junc,
                   "reads": total_c, "fraction": frac}
            if frac >= min_frac and total_c >= min_reads:
                clones.append(IndexClone(
                    marker="", target=t, locus=key[1] if key[1] in LOCI else t[:3],
                    v_call=key[2], d_call=d_calls.get(key, ""), j_call=key[3], junction=junc,
                    reads=total_c, reads_exact=int(c), fraction=frac, target_reads=tr))
            else:
                near.append(rec)
    clones = [with_stem(c, agg, rules, d, seed) for c in clones]
    clones.sort(key=lambda c: (-c.fraction, c.target, c.junction))
    named = tuple(IndexClone(**{**c.__dict__, "marker": f"M{i + 1}"}) for i, c in enumerate(clones))
    clonotypes: dict[tuple[str, str, str, str], int] = {}
    for key, c in agg.items():
        k4 = (key[0], key[2], key[3], key[4])
        clonotypes[k4] = clonotypes.get(k4, 0) + c
    return IndexResult(clones=named, target_reads=dict(sorted(target_reads.items())),
                       total_reads=total, rules=rules, near_threshold=tuple(near),
                       watch=watch_list(named, clonotypes, target_reads, rules),
                       clonotypes=clonotypes)


def watch_list(clones: Sequence[IndexClone], clonotypes: Mapping[tuple[str, str, str, str], int],
               target_reads: Mapping[str, int], rules: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """Minor diagnostic clonotypes (below the index threshold, >= ``watch_min_dx_fraction``).

    Relapse in childhood ALL often grows from a minor diagnosis subclone (Waanders, Blood Cancer
    Discov 2020;1:96: 50 % of 92 relapses), so these are followed beside the markers.
    """
    lo = check_fraction("watch_min_dx_fraction", rules["watch_min_dx_fraction"].value, open_low=True)
    hi = float(rules["index_min_fraction"].value)
    n_max = int(check_nonnegative("watch_max_listed", rules["watch_max_listed"].value))
    markers = {(c.target, c.v_call, c.j_call, c.junction) for c in clones}
    rows: list[dict[str, Any]] = []
    for (t, v, j, jn), n in clonotypes.items():
        tr = target_reads.get(t, 0)
        f = n / tr if tr else 0.0
        if lo <= f < hi and (t, v, j, jn) not in markers:
            rows.append({"target": t, "v_call": v, "j_call": j, "junction": jn, "reads": n,
                         "diagnosis_fraction": f})
    rows.sort(key=lambda r: (-float(r["diagnosis_fraction"]), str(r["target"]), str(r["junction"])))
    return tuple(rows[:n_max])


def effective_mismatches(length: int, max_mismatches: int, min_seed_nt: int) -> int:
    """Mismatches allowed for a junction of ``length``: the largest d <= ``max_mismatches`` with
    ``(length - d) // (d + 1) >= min_seed_nt`` (0 when none)."""
    for d in range(max_mismatches, 0, -1):
        if (length - d) // (d + 1) >= min_seed_nt:
            return d
    return 0

