"""IG/TR clonotype evolution between diagnosis and relapse."""

from __future__ import annotations

import pytest

from remission.clonal import clonotype_evolution

STEM = "GGTATAGCAGCAGCTGGTACCCCTTTGACTACTGG"  # shared N-D-N-J 3' end (35 nt)


def rec(locus: str, v: str, j: str, junction: str, count: int) -> dict[str, object]:
    return {"locus": locus, "v_call": v, "j_call": j, "junction": junction, "count": count}


def test_shared_new_lost_expanded_and_vh_replacement() -> None:
    dx = [
        rec("IGH", "IGHV3-23*01", "IGHJ4*02", "TGTGCGAAAGA" + STEM, 800),  # index, persists
        rec("IGH", "IGHV1-2*02", "IGHJ6*01", "TGTGCGAGAGATCCCTTACGGTATGGACGTCTGG", 150),  # lost
        rec("IGH", "IGHV4-34*01", "IGHJ3*01", "TGTGCGAGCCCCGGAAGCTTTGATATCTGG", 10),  # small → expanded
        rec("IGH", "IGHV2-5*01", "IGHJ5*02", "TGTGCACACAGTGGCTGGTTCGACCCCTGG", 40),  # background
        rec("TRG", "TRGV9*01", "TRGJP*01", "TGTGCCTTGTGGGAGGTGCAAGAGTTGGGCAAAAAAATCAAGGTATTT", 500),
    ]
    rel = [
        rec("IGH", "IGHV3-23*01", "IGHJ4*02", "TGTGCGAAAGA" + STEM, 300),
        rec("IGH", "IGHV3-30*18", "IGHJ4*02", "TGTGCGAGAGG" + STEM, 400),  # VH replacement: new V, same stem
        rec("IGH", "IGHV4-34*01", "IGHJ3*01", "TGTGCGAGCCCCGGAAGCTTTGATATCTGG", 300),
        rec("TRG", "TRGV9*01", "TRGJP*01", "TGTGCCTTGTGGGAGGTGCAAGAGTTGGGCAAAAAAATCAAGGTATTT", 100),
    ]
    evo = clonotype_evolution(dx, rel)
    status = {r["v_call"]: r["status"] for r in evo.clonotypes}
    # fractions per locus: IGH dx total 1000 → index 0.8; relapse IGH total 1000 → 0.3 (ratio 0.375: shared)
    assert status["IGHV3-23"] == "shared"
    assert status["IGHV1-2"] == "lost"  # 0.15 at diagnosis, absent at relapse
    assert status["IGHV3-30"] == "new"
    # 10/1000 = 0.01 → 300/1000 = 0.3: ratio 30 ≥ 10 → expanded
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
