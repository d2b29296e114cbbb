"""IG/TR clonotype evolution between diagnosis and relapse."""

from __future__ import annotations

import pytest

from remission.clonal import clonotype_evolution

STEM = "GGTATAGCAGCAGCTGGTACCCCTTTGACTACTGG"  # shared N-D-N-J 3' end (35 nt)


def rec(locus: str, v: str, j: str, junction: str, count: int) -> dict[str, object]:
    return {"locus": locus, "v_call": v, "j_call": j, "junction": junction, "count": count}


# unrelated IGHJ4 clonotypes (1 read each) sharing only the J germline end "TTTGACTACTGG" with
# STEM: they show where the J germline ends (rule related_min_same_j_clonotypes = 5)
J4_OTHERS = [rec("IGH", "IGHV4-59*01", "IGHJ4*02", "TGT" + n * 7 + "TTTGACTACTGG", 1) for n in "ACGTA"]
J4_OTHERS[4]["junction"] = "TGTCACACACAGTGTGTTTGACTACTGG"


def test_shared_new_lost_expanded_and_vh_replacement() -> None:
    dx = [*J4_OTHERS,
        rec("IGH", "IGHV3-23*01", "IGHJ4*02", "TGTGCGAAAGA" + STEM, 800),  # index, persists
        rec("IGH", "IGHV1-2*02", "IGHJ6*01", "TGTGCGAGAGATCCCTTACGGTATGGACGTCTGG", 150),  # lost
        rec("IGH", "IGHV4-34*01", "IGHJ3*01", "TGTGCGAGCCCCGGAAGCTTTGATATCTGG", 10),  # small → expanded
        rec("IGH", "IGHV2-5*01", "IGHJ5*02", "TGTGCACACAGTGGCTGGTTCGACCCCTGG", 40),  # background
        rec("TRG", "TRGV9*01", "TRGJP*01", "TGTGCCTTGTGGGAGGTGCAAGAGTTGGGCAAAAAAATCAAGGTATTT", 500),
    ]
    rel = [*J4_OTHERS,
        rec("IGH", "IGHV3-23*01", "IGHJ4*02", "TGTGCGAAAGA" + STEM, 300),
        rec("IGH", "IGHV3-30*18", "IGHJ4*02", "TGTGCGAGAGG" + STEM, 400),  # VH replacement: new V, same stem
        rec("IGH", "IGHV4-34*01", "IGHJ3*01", "TGTGCGAGCCCCGGAAGCTTTGATATCTGG", 300),
        rec("TRG", "TRGV9*01", "TRGJP*01", "TGTGCCTTGTGGGAGGTGCAAGAGTTGGGCAAAAAAATCAAGGTATTT", 100),
    ]
    evo = clonotype_evolution(dx, rel)
    status = {r["v_call"]: r["status"] for r in evo.clonotypes}
    # fractions per locus: IGH dx total 1005 → index 0.796; relapse IGH total 1005 → 0.299 (ratio 0.375: shared)
    assert status["IGHV3-23"] == "shared"
    assert status["IGHV1-2"] == "lost"  # 0.15 at diagnosis, absent at relapse
    assert status["IGHV3-30"] == "new"
    # 10/1005 → 300/1005: ratio 30 ≥ 10 → expanded
    assert status["IGHV4-34"] == "expanded"
    assert status["TRGV9"] == "shared"  # sole TRG clonotype: fraction 1.0 in both
    assert "IGHV2-5" not in status  # 0.04 < 0.05 and absent at relapse: not a major clonotype
    assert len(evo.groups) == 1
    group = evo.groups[0]
    assert group["v_calls"] == ["IGHV3-23", "IGHV3-30"] and group["locus"] == "IGH"
    assert evo.summary == {"shared": 2, "lost": 1, "new": 1, "expanded": 1, "related_groups": 1}


def test_short_common_suffix_is_not_related() -> None:
    dx = [rec("IGH", "IGHV3-23", "IGHJ4", "TGTGCGAAAGAAAAAAAAAAAAAAAAAATGG", 10)]
    rel = [rec("IGH", "IGHV1-2", "IGHJ4", "TGTGCGAAAGCCCCCCCCCCCCCCCCGGTGG", 10)]
    evo = clonotype_evolution(dx, rel)
    assert evo.groups == []


def test_unknown_parameter_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown parameter 'fold'"):
        clonotype_evolution([], [], {"fold": 3})


def test_shared_j_germline_and_trg_are_not_related() -> None:
    """Unrelated major IGH clonotypes sharing 15-21 nt of J germline, and a TRG pair with a long
    shared end, are not grouped (VH replacement is IGH only; relatedness needs N/P/D sequence)."""
    j6 = "ATTACTACTACTACTACGGTATGGACGTCTGG"  # IGHJ6 junction part (32 nt)
    others = [rec("IGH", "IGHV4-59*01", "IGHJ6*02", "TGT" + n * 6 + j6[-18:], 1) for n in "ACGTA"]
    others[4]["junction"] = "TGTCACACAG" + j6[-18:]
    dx = [*others, rec("IGH", "IGHV3-23*01", "IGHJ6*02", "TGTGCGAGAGGCCCTTCG" + j6[-21:], 500),
          rec("TRG", "TRGV9*01", "TRGJP1*01", "TGTGCCTTGTGGGAGGTGCAAGAGTTGGGCAAAAAAATCAAGGTATTT", 500)]
    rel = [*others, rec("IGH", "IGHV1-69*01", "IGHJ6*02", "TGTGCGAGATTAGGAAG" + j6[-15:], 500),
           rec("TRG", "TRGV4*01", "TRGJP1*01", "TGTGCCACCTTAGGAGGTGCAAGAGTTGGGCAAAAAAATCAAGGTATTT", 500)]
    evo = clonotype_evolution(dx, rel)
    # the IGH pair shares 15 nt, all J germline (others share 18): not >= 18 + 6 past it
    assert evo.groups == []
    # the TRG pair shares 39 nt but TRG is not a VH-replacement locus
    assert evo.as_dict()["denominator"].startswith("reads of the clonotype's locus")


def test_relatedness_not_assessed_without_same_j_clonotypes() -> None:
    dx = [rec("IGH", "IGHV3-23*01", "IGHJ4*02", "TGTGCGAAAGA" + STEM, 800)]
    rel = [rec("IGH", "IGHV3-30*18", "IGHJ4*02", "TGTGCGAGAGG" + STEM, 400)]
    evo = clonotype_evolution(dx, rel)
    assert evo.groups == [] and evo.summary["related_not_assessed"] == 1
