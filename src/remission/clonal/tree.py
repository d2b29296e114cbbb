"""Clone trees that respect the sum and crossing rules in every sample.

Rules (ClonEvol conventions: Dang HX et al., *Ann Oncol* 2017; [V]), with an absolute CCF
``tolerance`` for measurement noise:

* **crossing rule**: a parent's CCF is ≥ its child's CCF in every sample
  (``ccf[parent, s] + tolerance ≥ ccf[child, s]``);
* **sum rule**: a parent's CCF is ≥ the sum of its children's CCFs in every sample
  (``ccf[parent, s] + tolerance ≥ Σ ccf[children, s]``). The germline root has CCF 1, so the
  founding clones sum to ≤ 1 (+ tolerance) — the polyclonal-model constraint.

ClonEvol tests the sum rule by bootstrap (``sum.p.cutoff`` 0.01); a fixed tolerance is our
simplification and a named rule (``tree_tolerance_ccf``) of :mod:`remission.clonal.pattern`.

Search: clones are ordered by total CCF; each clone's parent is an earlier clone or the germline
root. For ≤ ``exhaustive_max`` clones (8) every assignment is searched by branch and bound; above
that the search is greedy. Among valid trees the one that places the most clones wins, then
the shallowest (smallest sum of depths: branch unless the rules force nesting), then the lowest
parent indices. A clone that no valid tree can place is listed in ``unplaced`` rather than
breaking a rule: returned trees never violate either rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from remission.errors import ValidationError

__all__ = ["ROOT", "CloneTree", "build_tree", "enumerate_trees", "tree_violations"]

#: parent value of a founding clone (child of the germline root)
ROOT = -1
#: counting of alternative valid trees stops here (reported as "at least")
MAX_COUNT = 2000


@dataclass
class CloneTree:
    """``parents[k]``: parent clone of clone k, :data:`ROOT` (-1) for a founder, ``None`` if unplaced."""

    parents: list[int | None]
    ccf: np.ndarray
    tolerance: float
    alternatives: int = 1  # valid trees found with the same number of placed clones (capped)
    notes: list[str] = field(default_factory=list)

    @property
    def unplaced(self) -> list[int]:
        return [k for k, p in enumerate(self.parents) if p is None]

    def children(self, k: int) -> list[int]:
        return [c for c, p in enumerate(self.parents) if p == k]

    def ancestors(self, k: int) -> list[int]:
        out: list[int] = []
        p = self.parents[k]
        while p is not None and p != ROOT:
            out.append(p)
            p = self.parents[p]
        return out

    def is_ancestor(self, a: int, b: int) -> bool:
        """True when clone ``a`` is a proper ancestor of clone ``b``."""
        return a in self.ancestors(b)

    def depth(self, k: int) -> int:
        return len(self.ancestors(k)) + 1

    def own_fraction(self) -> np.ndarray:
        """Cells of each clone not in any child clone: ``CCF − Σ CCF(children)`` (≥ 0); fish-plot bands."""
        own = self.ccf.copy().astype(float)
        for k, p in enumerate(self.parents):
            if p is not None and p != ROOT:
                own[p] -= self.ccf[k]
        return np.clip(own, 0.0, None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "parents": [None if p is None else (None if p == ROOT else int(p)) for p in self.parents],
            "founders": [k for k, p in enumerate(self.parents) if p == ROOT],
            "unplaced": self.unplaced,
            "tolerance_ccf": self.tolerance,
            "alternative_trees": self.alternatives,
            "alternative_trees_at_least": self.alternatives >= MAX_COUNT,
        }


def tree_violations(parents: list[int | None], ccf: np.ndarray, tolerance: float) -> list[str]:
    """Every sum- or crossing-rule violation of a parent vector (empty list = valid)."""
    ccf = np.asarray(ccf, dtype=float)
    k, s = ccf.shape
    out = []
    eps = 1e-9
    sums = np.zeros((k, s))
    root_sum = np.zeros(s)
    for c, p in enumerate(parents):
        if p is None:
            continue
        if p == ROOT:
            root_sum += ccf[c]
            continue
        if parents[p] is None:
            out.append(f"clone {c}: parent {p} is unplaced")
        if np.any(ccf[p] + tolerance + eps < ccf[c]):
            out.append(f"crossing rule: clone {c} exceeds its parent {p} in some sample")
        sums[p] += ccf[c]
    for p in range(k):
        if parents[p] is not None and np.any(ccf[p] + tolerance + eps < sums[p]):
            out.append(f"sum rule: children of clone {p} exceed it in some sample")
    if np.any(1.0 + tolerance + eps < root_sum):
        out.append("sum rule: founding clones sum to more than 1 in some sample")
    # cycles
    for c in range(k):
        seen = set()
        p = parents[c]
        while p is not None and p != ROOT:
            if p in seen or p == c:
                out.append(f"cycle through clone {c}")
                break
            seen.add(p)
            p = parents[p]
    return out


def _order(ccf: np.ndarray) -> list[int]:
    return sorted(range(ccf.shape[0]), key=lambda i: (-float(ccf[i].sum()), i))


def _search(ccf: np.ndarray, tolerance: float, *, exhaustive: bool, collect: int = 0
            ) -> tuple[list[int | None], list[list[int | None]], int]:
    """Branch and bound over parent choices; returns (best, collected equally-placed trees, count)."""
    k, s = ccf.shape
    order = _order(ccf)
    cap = {ROOT: np.full(s, 1.0 + tolerance)}
    for i in range(k):
        cap[i] = ccf[i] + tolerance
    parents: list[int | None] = [None] * k
    depth = {ROOT: 0}
    best: dict[str, Any] = {"key": (k + 1, float("inf")), "parents": [None] * k}
    found: list[list[int | None]] = []
    count = [0]
    eps = 1e-9

    def options(i: int, placed: list[int]) -> list[int]:
        opts = []
        for p in [ROOT, *placed]:
            if p != ROOT and np.any(ccf[p] + tolerance + eps < ccf[i]):
                continue  # crossing rule
            if np.any(cap[p] + eps < ccf[i]):
                continue  # sum rule
            opts.append(p)
        opts.sort(key=lambda p: (depth[p], p))
        return opts

    def rec(pos: int, placed: list[int], unplaced: int, cost: int) -> None:
        if collect and count[0] >= MAX_COUNT:
            return
        if unplaced > best["key"][0]:
            return
        if not collect and (unplaced, cost) >= best["key"]:
            return
        if pos == k:
            key = (unplaced, cost)
            if collect:
                if unplaced < best["key"][0]:
                    found.clear()
                    count[0] = 0
                if unplaced <= best["key"][0]:
                    count[0] += 1
                    if len(found) < collect:
                        found.append(list(parents))
            if key < best["key"]:
                best["key"] = key
                best["parents"] = list(parents)
            return
        i = order[pos]
        opts = options(i, placed)
        if not exhaustive:
            opts = opts[:1]
        for p in opts:
            parents[i] = p
            cap[p] = cap[p] - ccf[i]
            depth[i] = depth[p] + 1
            rec(pos + 1, [*placed, i], unplaced, cost + depth[i])
            cap[p] = cap[p] + ccf[i]
            parents[i] = None
        if exhaustive or not opts:
            rec(pos + 1, placed, unplaced + 1, cost)

    rec(0, [], 0, 0)
    return best["parents"], found, count[0]


def enumerate_trees(ccf: np.ndarray, tolerance: float = 0.05, limit: int = 200) -> tuple[list[list[int | None]], int]:
    """Up to ``limit`` valid trees that place the most clones, and how many such trees exist."""
    ccf = _check(ccf, tolerance)
    _, found, count = _search(ccf, tolerance, exhaustive=True, collect=limit)
    return found, count


def _check(ccf: np.ndarray, tolerance: float) -> np.ndarray:
    arr = np.asarray(ccf, dtype=float)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValidationError(f"ccf must be a non-empty (clones, samples) array, but had shape {arr.shape!r}")
    if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
        raise ValidationError("ccf must hold fractions in [0, 1], but had values outside")
    if not (np.isfinite(tolerance) and 0 <= tolerance < 1):
        raise ValidationError(f"tolerance must be a fraction in [0, 1), but was {tolerance!r}")
    return arr


def build_tree(ccf: np.ndarray, *, tolerance: float = 0.05, exhaustive_max: int = 8,
               count_alternatives: bool = True) -> CloneTree:
    """Choose a clone tree for clone CCFs ``ccf[k, s]`` that obeys both rules (see module doc)."""
    arr = _check(ccf, tolerance)
    k = arr.shape[0]
    exhaustive = k <= exhaustive_max
    parents, _, _ = _search(arr, tolerance, exhaustive=exhaustive)
    alternatives = 1
    notes = []
    if exhaustive and count_alternatives:
        _, _, alternatives = _search(arr, tolerance, exhaustive=True, collect=1)
    if not exhaustive:
        notes.append(f"{k} clones > {exhaustive_max}: greedy parent choice (not exhaustive)")
    tree = CloneTree(parents=parents, ccf=arr, tolerance=tolerance, alternatives=max(alternatives, 1), notes=notes)
    if tree.unplaced:
        tree.notes.append(
            f"clone(s) {', '.join(map(str, tree.unplaced))} fit no tree under the sum and crossing rules "
            f"(tolerance {tolerance}); left unplaced")
    assert not tree_violations(tree.parents, arr, tolerance)
    return tree


def iter_edges(tree: CloneTree) -> Iterator[tuple[int, int]]:
    for c, p in enumerate(tree.parents):
        if p is not None:
            yield p, c
