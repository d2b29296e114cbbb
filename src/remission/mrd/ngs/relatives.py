"""Evolved relatives of an index clonotype (shared 3' stem; VH replacement candidates)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from remission.domain.parameters import Rule
from remission.mrd.ngs.model import IndexClone

__all__ = ["stem", "with_stem"]


def with_stem(c: IndexClone, agg: Mapping[tuple[str, str, str, str, str], int],
              rules: Mapping[str, Rule], d: int, seed: int) -> IndexClone:
    """Set the length of the 3' stem an evolved relative must share with the index clone.

    Only for ``relative_targets`` (IGH: VH replacement and DJ->VDJ evolution; no other locus has a
    VH-replacement mechanism). The stem is at least ``relative_stem_fraction`` of the junction and
    ``relative_stem_min_nt``, and reaches ``relative_stem_beyond_germline_nt`` past the J germline:
    the J-germline extent is the suffix that *unrelated* diagnosis clonotypes with the same J gene
    share with the index (the 95th percentile of those suffixes, so a few true relatives do not
    inflate it). With fewer than ``relative_min_same_j_clonotypes`` such clonotypes the extent
    is unknown and relatives are not assessed: a shared J germline stretch is never relatedness.
    A stem that leaves fewer than 3 bases of the junction is not tracked (0).
    """
    L = len(c.junction)
    allowed = {str(t) for t in rules["relative_targets"].value}
    if c.target not in allowed:
        return replace(c, stem_nt=0, relatives=(),
                       relatives_note=f"relatives not assessed: target {c.target} has no VH-replacement "
                                      "or DJ->VDJ evolution (rule relative_targets)")
    locus = c.target.split("_", 1)[0]

    def same_family(t: str) -> bool:
        return t.split("_", 1)[0] == locus and t in allowed

    n = max(int(rules["relative_stem_min_nt"].value), round(float(rules["relative_stem_fraction"].value) * L))
    others = [k[4] for k in agg if same_family(k[0]) and k[3] == c.j_call and k[4] != c.junction]
    suffix = np.zeros(0, dtype=np.int64)
    if others:
        W = 60
        ref = np.frombuffer(c.junction[-W:].rjust(W, "-").encode(), dtype=np.uint8)
        mat = np.frombuffer("".join(o[-W:].rjust(W, ".") for o in others).encode(), dtype=np.uint8
                            ).reshape(len(others), W)
        eq = (mat == ref[None, :])[:, ::-1]
        suffix = np.cumprod(eq, axis=1).sum(axis=1)
        near = np.array([len(o) == L for o in others]) & (
            (mat != ref[None, :]).sum(axis=1) <= d)  # satellites of the index are not "unrelated"
        suffix = suffix[~near]
    need = int(rules["relative_min_same_j_clonotypes"].value)
    if suffix.size < need:
        return replace(c, stem_nt=0, relatives=(),
                       relatives_note=f"relatives not assessed: {suffix.size} unrelated diagnosis "
                                      f"clonotype(s) with {c.j_call or 'its J'}, fewer than {need} "
                                      "needed to see where the J germline ends "
                                      "(rule relative_min_same_j_clonotypes)")
    g = int(np.quantile(suffix, 0.95))
    n = max(n, g + int(rules["relative_stem_beyond_germline_nt"].value))
    stem_nt = n if n <= L - 3 else 0
    # diagnosis clonotypes sharing that stem (same J): evolved relatives, or indel satellites of
    # the index (homopolymer indels are common sequencing errors); a different V gene on a VDJ
    # index flags a VH-replacement candidate, a VDJ relative of a DJ index a DJ->VDJ one
    rel: list[dict[str, Any]] = []
    if stem_nt:
        tail = c.junction[-stem_nt:]
        for k, cnt in agg.items():
            if same_family(k[0]) and k[3] == c.j_call and k[4] != c.junction and k[4].endswith(tail) \
                    and not (len(k[4]) == L and sum(x != y for x, y in zip(k[4], c.junction, strict=True)) <= d):
                rel.append({"target": k[0], "v_call": k[2], "j_call": k[3], "junction": k[4], "reads": cnt,
                            "vh_replacement_candidate": bool(c.target == "IGH" and k[0] == "IGH" and k[2]
                                                             and k[2] != c.v_call),
                            "dj_to_vdj_candidate": bool(c.target == "IGH_DJ" and k[0] == "IGH")})
        rel.sort(key=lambda r: -r["reads"])
    note = (f"relatives share the last {stem_nt} nt, {stem_nt - g} nt beyond the J germline "
            f"({g} nt shared by unrelated same-J clonotypes)") if stem_nt else \
        "relatives not assessed: the stem would leave fewer than 3 nt of the junction"
    return replace(c, stem_nt=stem_nt, relatives=tuple(rel[:20]), relatives_note=note)


def stem(clone: IndexClone) -> str:
    return clone.junction[-clone.stem_nt:] if clone.stem_nt else ""
