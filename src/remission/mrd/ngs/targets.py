"""Gene names and recombination targets (the unit of the ≥5 % index rule)."""

from __future__ import annotations

__all__ = ["LOCI", "Target", "gene", "genes", "target_of"]

Target = str

LOCI = ("IGH", "IGK", "IGL", "TRA", "TRB", "TRD", "TRG", "IGI")


# --------------------------------------------------------------------------------------------
# gene names and targets


def gene(call: str) -> str:
    """First gene of an AIRR call without its allele: ``'IGHV3-23*01,IGHV3-23D*01'`` → ``IGHV3-23``."""
    first = call.split(",", 1)[0].strip()
    return first.split("*", 1)[0]


def genes(call: str) -> set[str]:
    return {c.strip().split("*", 1)[0] for c in call.split(",") if c.strip()}


def target_of(locus: str, v_call: str, d_call: str, j_call: str) -> Target:
    """Recombination target of a rearrangement (the unit of the ≥5 % rule).

    ``IGH`` (VDJ), ``IGH_DJ`` (incomplete DJH: no V, a D and a J), ``IGK``, ``IGK_KDE`` (Vκ–Kde or
    intron-RSS–Kde), ``IGL``, ``TRB``, ``TRB_DJ``, ``TRG``, ``TRD``, ``TRD_INC`` (Vδ–Dδ3, Dδ2–Jδ,
    Dδ2–Dδ3), ``TRA``; the locus is taken from the ``locus`` column or the gene names.
    """
    v, d, j = gene(v_call) if v_call else "", gene(d_call) if d_call else "", gene(j_call) if j_call else ""
    loc = locus if locus in LOCI else ""
    if not loc:
        for g in (v, j, d):
            if len(g) >= 3 and g[:3] in LOCI:
                loc = g[:3]
                break
    if not loc:
        return "unknown"
    up_j = j.upper()
    if loc == "IGK" and ("KDE" in up_j or "DEL" in up_j):
        return "IGK_KDE"
    if loc == "IGH" and not v and d and j:
        return "IGH_DJ"
    if loc == "TRB" and not v and d and j:
        return "TRB_DJ"
    if loc == "TRD" and (not v or not j or j.startswith("TRDD")):
        return "TRD_INC"
    return loc

