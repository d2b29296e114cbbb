"""IG/TR clonotype evolution between diagnosis and relapse clone tables.

Input: clonotype records ``{locus, v_call, j_call, junction, count}`` (dicts or objects with
those attributes) for the diagnosis and the relapse sample, e.g. from NGS-MRD AIRR tables.
A clonotype is identified by locus and junction (nucleotides). Fractions are per locus.

* ``shared`` / ``expanded`` / ``contracted``: a major clonotype present in both samples;
  expanded (contracted) when its relapse/diagnosis fraction ratio is ≥ ``expanded_fold``
  (≤ 1/``expanded_fold``);
* ``new``: major at relapse, absent at diagnosis; ``lost``: major at diagnosis, absent at relapse.

Denominator: the reads of the clonotype's locus in its sample. "Major" = fraction ≥
``index_min_fraction`` of its locus (0.05, the index-clonotype criterion of EuroClonality-NGS as
used in Vidjil's QC table: Brüggemann M et al., *Leukemia* 2019;33:2241; Knecht H et al.,
*Leukemia* 2019;33:2254). **Related clonotypes** (VH replacement and DJ→VDJ evolution share a
D-N-J "stem" with the index and are tracked as related markers, not merged; Darzentas F et al.,
*Front Immunol* 2023;14:1125017) are grouped: IGH only (``related_loci``), same J gene, different
V gene, and the same 3' junction end of at least ``related_suffix_nt`` nucleotides that also
reaches ``related_beyond_germline_nt`` past the J germline (the end unrelated same-J clonotypes
share); without ``related_min_same_j_clonotypes`` such clonotypes the pair is not assessed.
Pulsipher MA et al. (*Blood Cancer Discov* 2022;3:66) found clonotypic rearrangements unchanged
after CD19 loss or lineage switch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from remission.domain.parameters import Rule, resolve, rule_set

__all__ = ["CLONOTYPE_RULES", "ClonotypeEvolution", "clonotype_evolution"]

CLONOTYPE_RULES: dict[str, Rule] = rule_set(
    Rule("index_min_fraction", 0.05, "U",
         ("EuroClonality-NGS index criterion (Brüggemann M et al., Leukemia 2019;33:2241), "
          "suggested default, configurable"),
         "fraction of its locus's reads at or above which a clonotype is a major (index-like) clonotype"),
    Rule("expanded_fold", 10.0, "U", "our choice (no source)",
         "relapse/diagnosis fraction ratio at or above which a shared clonotype counts as expanded"),
    Rule("related_suffix_nt", 15, "U",
         ("our choice (no source); the shared D-N-J stem of related IGH rearrangements: "
          "Darzentas F et al., Front Immunol 2023;14:1125017"),
         "minimum length of identical 3' junction end (N-D-N-J) that makes two clonotypes with different "
         "V genes related"),
    Rule("related_loci", ("IGH",), "R", "Theunissen, Haematologica 2017 (PMC5664391); Darzentas, Front "
         "Immunol 2023;14:1125017: VH replacement is IGH evolution",
         "loci where clonotypes with different V genes are grouped as related (VH replacement)"),
    Rule("related_beyond_germline_nt", 6, "U", "our choice: 6 nt of N/P or D-derived sequence match by "
         "chance about once in 4^6 = 4,096 same-J clonotypes",
         "the shared 3' end must reach this far past the J germline (the 95th percentile of the ends "
         "unrelated same-J clonotypes share with the clonotype)"),
    Rule("related_min_same_j_clonotypes", 5, "U", "our choice: enough unrelated same-J clonotypes to see "
         "where the J germline ends", "with fewer, relatedness is not assessed (a shared J germline "
         "stretch is never relatedness)"),
)


def _get(rec: Any, name: str) -> Any:
    return rec.get(name) if isinstance(rec, Mapping) else getattr(rec, name, None)


def _gene(call: Any) -> str:
    return str(call or "").split(",")[0].split("*")[0].strip()


@dataclass
class ClonotypeEvolution:
    clonotypes: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    rules: dict[str, Rule]
    summary: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"summary": self.summary, "clonotypes": self.clonotypes, "related_groups": self.groups,
                "denominator": "reads of the clonotype's locus in each sample",
                "rules": {n: r.as_dict() for n, r in self.rules.items()}}


def _table(records: Iterable[Any]) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, int]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    totals: dict[str, int] = {}
    for rec in records:
        locus = str(_get(rec, "locus") or "").upper()
        junction = str(_get(rec, "junction") or "").upper()
        if not locus or not junction:
            continue
        count = int(_get(rec, "count") or _get(rec, "duplicate_count") or 0)
        key = (locus, junction)
        row = out.setdefault(key, {"locus": locus, "junction": junction, "v_call": _gene(_get(rec, "v_call")),
                                   "j_call": _gene(_get(rec, "j_call")), "count": 0})
        row["count"] += count
        totals[locus] = totals.get(locus, 0) + count
    return out, totals


def _suffix_len(a: str, b: str) -> int:
    n = 0
    for x, y in zip(reversed(a), reversed(b), strict=False):
        if x != y:
            break
        n += 1
    return n


def clonotype_evolution(diagnosis: Iterable[Any], relapse: Iterable[Any],
                        parameters: Mapping[str, Any] | None = None) -> ClonotypeEvolution:
    """Compare diagnosis and relapse clonotype tables (see module docstring).

    Steps: :func:`_compare_clonotypes` (status of each major clonotype), :func:`_related_groups`
    (VH replacement), then the count of each status.
    """
    rules = resolve(CLONOTYPE_RULES, parameters)
    dx, dx_tot = _table(diagnosis)
    rel, rel_tot = _table(relapse)
    rows = _compare_clonotypes(dx, dx_tot, rel, rel_tot, float(rules["index_min_fraction"].value),
                               float(rules["expanded_fold"].value))
    groups, not_assessed = _related_groups(rows, [*dx.values(), *rel.values()], rules)
    summary: dict[str, int] = {}
    for r in rows:
        summary[r["status"]] = summary.get(r["status"], 0) + 1
    summary["related_groups"] = len(groups)
    if not_assessed:
        summary["related_not_assessed"] = not_assessed
    return ClonotypeEvolution(clonotypes=rows, groups=groups, rules=rules, summary=summary)


_Table = dict[tuple[str, str], dict[str, Any]]


def _compare_clonotypes(dx: _Table, dx_tot: dict[str, int], rel: _Table, rel_tot: dict[str, int], min_f: float,
                        fold: float) -> list[dict[str, Any]]:
    """One row per clonotype at ``min_f`` or more of its locus at either time, with its status."""
    def frac(tab: _Table, tot: dict[str, int], key: tuple[str, str]) -> float:
        row = tab.get(key)
        return row["count"] / tot[key[0]] if row and tot.get(key[0]) else 0.0

    rows = []
    for key in sorted(set(dx) | set(rel)):
        fd, fr = frac(dx, dx_tot, key), frac(rel, rel_tot, key)
        if max(fd, fr) < min_f:
            continue
        info = dx.get(key) or rel[key]
        if fd > 0 and fr > 0:
            ratio = fr / fd
            status = "expanded" if ratio >= fold else "contracted" if ratio <= 1 / fold else "shared"
        elif fr > 0:
            status = "new"
        else:
            status = "lost"
        rows.append({"locus": key[0], "junction": key[1], "v_call": info["v_call"], "j_call": info["j_call"],
                     "diagnosis_count": dx[key]["count"] if key in dx else 0,
                     "relapse_count": rel[key]["count"] if key in rel else 0,
                     "diagnosis_fraction": round(fd, 6), "relapse_fraction": round(fr, 6), "status": status})
    return rows


def _related_groups(rows: list[dict[str, Any]], every: list[dict[str, Any]], rules: Mapping[str, Rule]
                    ) -> tuple[list[dict[str, Any]], int]:
    """Groups of related clonotypes (VH replacement) among ``rows`` (union-find); marks each member's
    ``related_group``. Returns the groups and the number of pairs that could not be assessed."""
    suffix = int(rules["related_suffix_nt"].value)
    beyond = int(rules["related_beyond_germline_nt"].value)
    parent, not_assessed = _link_related(rows, every, rules)
    members: dict[int, list[int]] = {}
    for i in range(len(rows)):
        members.setdefault(_find(parent, i), []).append(i)
    groups: list[dict[str, Any]] = []
    for idx in members.values():
        if len(idx) < 2:
            continue
        gid = len(groups)
        for i in idx:
            rows[i]["related_group"] = gid
        groups.append({"id": gid, "locus": rows[idx[0]]["locus"], "j_call": rows[idx[0]]["j_call"],
                       "v_calls": sorted({rows[i]["v_call"] for i in idx}),
                       "members": [rows[i]["junction"] for i in idx],
                       "statuses": [rows[i]["status"] for i in idx],
                       "reason": f"same J gene and identical 3' junction end (≥ {suffix} nt and ≥ {beyond} nt "
                                 "past the J germline shared by unrelated same-J clonotypes), different V "
                                 "gene: VH replacement / related rearrangement"})
    return groups, not_assessed


def _find(parent: list[int], i: int) -> int:
    """Union-find root of ``i`` (with path halving)."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _link_related(rows: list[dict[str, Any]], every: list[dict[str, Any]], rules: Mapping[str, Rule]
                  ) -> tuple[list[int], int]:
    """Union-find parents linking pairs with the same J, different V and a shared 3' end past the J germline."""
    suffix = int(rules["related_suffix_nt"].value)
    loci = {str(x).upper() for x in rules["related_loci"].value}
    beyond = int(rules["related_beyond_germline_nt"].value)
    need = int(rules["related_min_same_j_clonotypes"].value)
    parent = list(range(len(rows)))
    germline: dict[int, int | None] = {}

    def j_germline(i: int, other: int) -> int | None:
        """95th percentile of the 3' ends row ``i`` shares with unrelated same-J clonotypes."""
        if i not in germline:
            a = rows[i]
            ends = sorted(_suffix_len(a["junction"], r["junction"]) for r in every
                          if r["locus"] == a["locus"] and r["j_call"] == a["j_call"]
                          and r["junction"] != a["junction"] and r["junction"] != rows[other]["junction"])
            germline[i] = ends[min(len(ends) - 1, int(0.95 * len(ends)))] if len(ends) >= need else None
        return germline[i]

    not_assessed = 0
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            a, b = rows[i], rows[j]
            if not (a["locus"] == b["locus"] and a["locus"] in loci and a["j_call"] == b["j_call"]
                    and a["v_call"] != b["v_call"]):
                continue
            shared = _suffix_len(a["junction"], b["junction"])
            g = j_germline(i, j)
            if g is None:
                not_assessed += 1
                continue
            if shared >= max(suffix, g + beyond):
                parent[_find(parent, i)] = _find(parent, j)
    return parent, not_assessed
