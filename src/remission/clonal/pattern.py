"""Which diagnostic clone seeded the relapse, and relapse-associated lesions with their mechanism.

Patterns (Waanders E et al., Blood Cancer Discov 2020;1:96 and Ma X et al., Nat Commun
2015;6:6604, [C] for the categories):

* ``major``       — the relapse founder is the dominant diagnostic clone;
* ``minor``       — the relapse founder was a minor subclone at diagnosis;
* ``ancestral``   — the relapse shares only truncal/early clones with diagnosis: it diverged before
  the dominant diagnostic clone (which is lost) and carries new mutations;
* ``multiclonal`` — more than one diagnostic clone persists into the relapse;
* ``unrelated``   — no clone is shared (a possible second leukaemia; not one of the published patterns).

The CCF thresholds are not given in the sources ("[U]"; the Waanders 2020 and Ma 2015 abstracts
give none): the major/minor cut-off (``major_clone_ccf`` = 0.5, the working definition "CCF ≥ ~0.5",
recalled, no primary source checked) and the presence floor
are named :class:`~remission.domain.Rule` objects, overridable by name, and every result lists
them in ``rests_on``.

Definitions used: a clone is *present* in a sample when its CCF ≥ ``present_ccf``. The *founders*
are the deepest clones present at both diagnosis and relapse (no shared descendant). Two or more
founders each with relapse CCF ≥ ``multiclonal_min_relapse_ccf`` → multiclonal. One founder with
diagnosis CCF < ``major_clone_ccf`` → minor; otherwise ancestral when a descendant of it was
major at diagnosis and is absent at relapse, else major.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from remission.clonal.tree import CloneTree
from remission.domain.parameters import Rule, rule_set

__all__ = [
    "DEFAULT_RULES",
    "RelapsePattern",
    "RelapseTable",
    "annotate_case_lesions",
    "annotate_lesions",
    "relapse_pattern",
]

DEFAULT_RULES: dict[str, Rule] = rule_set(
    Rule("major_clone_ccf", 0.5, "U",
         "working definition (major: CCF ≥ ~0.5 at diagnosis), recalled, no primary source checked; "
         "Waanders E et al. Blood Cancer Discov 2020;1:96 and Ma X et al. Nat Commun 2015;6:6604 abstracts "
         "give no CCF threshold",
         "diagnosis CCF at or above which the relapse founder is the major (dominant) diagnostic clone; "
         "below it, a minor subclone"),
    Rule("present_ccf", 0.05, "U",
         "our choice (no source); about the detection floor of 100-1000x sequencing at usual purity",
         "CCF at or above which a clone counts as present in a sample"),
    Rule("multiclonal_min_relapse_ccf", 0.1, "U",
         "our choice (no source); multiclonal = > 1 diagnosis clone persisting (Waanders E et al. Blood "
         "Cancer Discov 2020;1:96)",
         "relapse CCF each of two or more persisting diagnostic clones needs for a multiclonal relapse"),
    Rule("tree_tolerance_ccf", 0.05, "U",
         "ClonEvol (Dang et al. Ann Oncol 2017) tests the sum rule by bootstrap (sum.p.cutoff 0.01); "
         "a fixed CCF tolerance is our simplification",
         "absolute CCF slack allowed in the sum and crossing rules"),
    Rule("germline_remission_vaf", 0.25, "U",
         "our choice (no source); remission samples as germline reference is usual practice (recalled, "
         "no primary source checked)",
         "VAF in a remission sample at or above which a variant is treated as germline and dropped"),
)

#: The relapse-lesion facts (gene → mechanism, resistance, tag, source) live once, in the
#: knowledge base's lesion vocabulary (:meth:`remission.knowledge.Vocabulary.relapse_lesions`);
#: the functions below receive that table.
RelapseTable = Mapping[str, Any]


def _facts(table: RelapseTable, gene: str) -> dict[str, str] | None:
    info = table.get(gene)
    if info is None:
        return None
    if hasattr(info, "model_dump"):
        return dict(info.model_dump())
    return dict(info)


@dataclass
class RelapsePattern:
    pattern: str
    founders: list[int]
    explanation: str
    shared: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    new: list[int] = field(default_factory=list)
    alternatives: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "founders": self.founders, "explanation": self.explanation,
                "shared_clones": self.shared, "lost_clones": self.lost, "new_clones": self.new,
                "patterns_over_alternative_trees": self.alternatives}


def _value(rules: Mapping[str, Any], name: str) -> float:
    r = rules.get(name, DEFAULT_RULES[name])
    return float(r.value if isinstance(r, Rule) else r)


def relapse_pattern(tree: CloneTree, dx: int, relapse: int, rules: Mapping[str, Any] | None = None) -> RelapsePattern:
    """Classify the relapse from a clone tree and the diagnosis / relapse sample columns."""
    rules = rules or DEFAULT_RULES
    pres = _value(rules, "present_ccf")
    major = _value(rules, "major_clone_ccf")
    multi = _value(rules, "multiclonal_min_relapse_ccf")
    ccf = tree.ccf
    placed = [k for k, p in enumerate(tree.parents) if p is not None]
    shared = [k for k in placed if ccf[k, dx] >= pres and ccf[k, relapse] >= pres]
    lost = [k for k in placed if ccf[k, dx] >= pres and ccf[k, relapse] < pres]
    new = [k for k in placed if ccf[k, dx] < pres and ccf[k, relapse] >= pres]
    founders = [k for k in shared if not any(tree.is_ancestor(k, j) for j in shared if j != k)]
    if not founders:
        return RelapsePattern("unrelated", [], "no clone is present at both diagnosis and relapse "
                              f"(present = CCF ≥ {pres:g}): a possible second leukaemia", shared, lost, new)
    strong = [k for k in founders if ccf[k, relapse] >= multi]
    if len(strong) >= 2:
        desc = ", ".join(f"clone {k} (CCF {ccf[k, dx]:.2f} → {ccf[k, relapse]:.2f})" for k in strong)
        return RelapsePattern("multiclonal", strong, f"{len(strong)} diagnostic clones persist into the relapse on "
                              f"separate branches: {desc} (each ≥ {multi:g} at relapse)", shared, lost, new)
    f = strong[0] if strong else max(founders, key=lambda k: ccf[k, relapse])
    if ccf[f, dx] < major:
        return RelapsePattern("minor", [f], f"the relapse founder clone {f} was a minor subclone at diagnosis "
                              f"(CCF {ccf[f, dx]:.2f} < {major:g}) and reached {ccf[f, relapse]:.2f} at relapse",
                              shared, lost, new)
    lost_major = [j for j in lost if tree.is_ancestor(f, j) and ccf[j, dx] >= major]
    if lost_major:
        return RelapsePattern("ancestral", [f], f"the relapse descends from clone {f}, ancestral to the dominant "
                              f"diagnostic clone(s) {', '.join(map(str, lost_major))} (diagnosis CCF ≥ {major:g}), "
                              "which are absent at relapse", shared, lost, new)
    return RelapsePattern("major", [f], f"the relapse founder clone {f} was the major diagnostic clone "
                          f"(CCF {ccf[f, dx]:.2f} ≥ {major:g})", shared, lost, new)


def pattern_over_trees(trees: Sequence[list[int | None]], ccf: np.ndarray, tolerance: float, dx: int,
                       relapse: int, rules: Mapping[str, Any] | None = None) -> dict[str, int]:
    """How many of the given valid trees give each pattern (ambiguity of the call)."""
    out: dict[str, int] = {}
    for parents in trees:
        pat = relapse_pattern(CloneTree(parents, ccf, tolerance), dx, relapse, rules).pattern
        out[pat] = out.get(pat, 0) + 1
    return out


def annotate_lesions(genes: Sequence[str | None], labels: Sequence[int] | np.ndarray,
                     clone_status: Mapping[int, str], mutation_ids: Sequence[str] | None = None,
                     ccf: np.ndarray | None = None, *,
                     relapse_lesions: RelapseTable) -> list[dict[str, Any]]:
    """Relapse-associated mutations with mechanism, clone and clone status.

    ``relapse_lesions``: gene → facts, from the knowledge base
    (:meth:`remission.knowledge.Vocabulary.relapse_lesions`; Li B et al. Blood 2020;135:41).
    """
    out = []
    for i, g in enumerate(genes):
        if not g:
            continue
        key = str(g).upper()
        info = _facts(relapse_lesions, key)
        if info is None:
            continue
        k = int(labels[i])
        rec: dict[str, Any] = {"gene": key, "clone": k, "clone_status": clone_status.get(k, "unknown"), **info}
        if mutation_ids is not None:
            rec["mutation"] = mutation_ids[i]
        if ccf is not None:
            rec["ccf"] = [round(float(x), 3) for x in ccf[i]]
        out.append(rec)
    return out


def clone_status(tree: CloneTree, dx: int, relapse: int, rules: Mapping[str, Any] | None = None) -> dict[int, str]:
    """Per clone: shared, diagnosis_only, relapse_only, absent or unplaced."""
    rules = rules or DEFAULT_RULES
    pres = _value(rules, "present_ccf")
    out = {}
    for k, p in enumerate(tree.parents):
        a, b = tree.ccf[k, dx] >= pres, tree.ccf[k, relapse] >= pres
        if p is None:
            out[k] = "unplaced"
        elif a and b:
            out[k] = "shared"
        elif a:
            out[k] = "diagnosis_only"
        elif b:
            out[k] = "relapse_only"
        else:
            out[k] = "absent"
    return out


def annotate_case_lesions(diagnosis: Sequence[Any], relapses: Sequence[tuple[int, Sequence[Any]]], *,
                          relapse_lesions: RelapseTable) -> list[dict[str, Any]]:
    """Relapse-associated lesions reported in the case file (no raw data), with mechanism.

    ``diagnosis``: lesions (objects/dicts with ``name``, ``detail``, ``vaf``); ``relapses``:
    ``(relapse number, lesions)``. A gene at relapse but not at diagnosis is ``acquired``.
    """

    def get(x: Any, k: str) -> Any:
        return x.get(k) if isinstance(x, Mapping) else getattr(x, k, None)

    at_dx = {str(get(le, "name")).upper() for le in diagnosis}
    out = []
    for le in diagnosis:
        g = str(get(le, "name")).upper()
        info = _facts(relapse_lesions, g)
        if info is not None:
            out.append({"gene": g, "detail": get(le, "detail"), "vaf": get(le, "vaf"), "found_at": "diagnosis",
                        "acquired": False, **info})
    for number, lesions in relapses:
        for le in lesions:
            g = str(get(le, "name")).upper()
            info = _facts(relapse_lesions, g)
            if info is not None:
                out.append({"gene": g, "detail": get(le, "detail"), "vaf": get(le, "vaf"),
                            "found_at": f"relapse {number}", "acquired": g not in at_dx, **info})
    return out
