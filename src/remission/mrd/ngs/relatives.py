"""Evolved relatives of an index clonotype (shared 3' stem; VH replacement candidates)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from remission.domain.parameters import Rule
from remission.mrd.ngs.model import IndexClone

__all__ = ["stem", "with_stem"]


def with_stem(c: IndexClone, agg: Mapping[tuple[str, str, str, str, str], int],
               rules: Mapping[str, Rule], d: int, seed: int) -> IndexClone:
    """Set the length of the 3' stem an evolved relative must share with the index clone.

    At least ``relative_stem_fraction`` of the junction and ``relative_stem_min_nt``; and longer
    than the suffix that *unrelated* diagnosis clonotypes with the same J gene share with the index
    (their shared suffix is J germline, not N-D-N) by ``relative_stem_beyond_germline_nt``
    (the 95th percentile of those suffixes, so a few true relatives do not inflate it). A stem
    that leaves fewer than 3 bases of the junction is not tracked (0).
    """
    L = len(c.junction)
    n = max(int(rules["relative_stem_min_nt"].value), round(float(rules["relative_stem_fraction"].value) * L))
    others = [k[4] for k in agg if k[0] == c.target and k[3] == c.j_call and k[4] != c.junction]
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
        if suffix.size:
            g = int(np.quantile(suffix, 0.95)) if suffix.size >= 5 else int(suffix.max())
            n = max(n, g + int(rules["relative_stem_beyond_germline_nt"].value))
    stem = n if n <= L - 3 else 0
    # diagnosis clonotypes sharing that stem (same J): evolved relatives, or indel satellites of
    # the index (homopolymer indels are common sequencing errors); a different V gene flags a
    # VH-replacement candidate
    rel: list[dict[str, Any]] = []
    if stem:
        tail = c.junction[-stem:]
        for k, cnt in agg.items():
            if k[0] == c.target and k[3] == c.j_call and k[4] != c.junction and k[4].endswith(tail) \
                    and not (len(k[4]) == L and sum(x != y for x, y in zip(k[4], c.junction, strict=True)) <= d):
                rel.append({"v_call": k[2], "j_call": k[3], "junction": k[4], "reads": cnt,
                            "vh_replacement_candidate": bool(k[2] and k[2] != c.v_call)})
        rel.sort(key=lambda r: -r["reads"])
    return IndexClone(**{**c.__dict__, "stem_nt": stem, "relatives": tuple(rel[:20])})


def stem(clone: IndexClone) -> str:
    return clone.junction[-clone.stem_nt:] if clone.stem_nt else ""
