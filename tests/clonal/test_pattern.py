"""Relapse patterns (Waanders 2020, Ma 2015) and lesion annotation on hand-built trees."""

from __future__ import annotations

import numpy as np
import pytest

from remission.clonal import annotate_lesions, build_tree, relapse_pattern
from remission.knowledge import default_vocabulary

# the one table of relapse-lesion facts, from the knowledge base's lesion vocabulary
RELAPSE_LESIONS = {k: v.model_dump() for k, v in default_vocabulary().relapse_lesions().items()}

DX, REL = 0, 1


@pytest.mark.parametrize(
    ("ccf", "expected", "founders"),
    [
        # trunk; B dominant at diagnosis (0.8) and still there at relapse (0.9) → major
        ([[1, 1], [0.8, 0.9]], "major", [1]),
        # trunk; B dominant (0.75) lost; C minor (0.15 < 0.5) founds the relapse (0.9) → minor
        ([[1, 1], [0.75, 0], [0.15, 0.9]], "minor", [2]),
        # trunk; B dominant (0.85) lost; D new at relapse (0 → 0.9); only the trunk is shared → ancestral
        ([[1, 1], [0.85, 0], [0, 0.9]], "ancestral", [0]),
        # trunk; B (0.55 → 0.5) and C (0.3 → 0.45) both persist on separate branches → multiclonal
        ([[1, 1], [0.55, 0.5], [0.3, 0.45], [0.0, 0.0]], "multiclonal", [1, 2]),
        # nothing shared → unrelated
        ([[0.9, 0], [0, 0.9]], "unrelated", []),
    ],
)
def test_patterns(ccf: list[list[float]], expected: str, founders: list[int]) -> None:
    tree = build_tree(np.array(ccf, dtype=float))
    pat = relapse_pattern(tree, DX, REL)
    assert pat.pattern == expected
    assert sorted(pat.founders) == founders


def test_threshold_is_a_named_overridable_rule() -> None:
    # founder at diagnosis CCF 0.3: minor with the default major_clone_ccf 0.5, major with 0.25
    tree = build_tree(np.array([[1, 1], [0.6, 0], [0.3, 0.9]], dtype=float))
    assert relapse_pattern(tree, DX, REL).pattern == "minor"
    assert relapse_pattern(tree, DX, REL, {"major_clone_ccf": 0.25}).pattern == "major"
    assert "0.5" in relapse_pattern(tree, DX, REL).explanation


def test_every_spec_gene_has_a_mechanism() -> None:
    # genes of the relapse gene → mechanism table (Irving 2014, Barz 2020, Li 2015, ... as cited in the lesion vocabulary)
    for gene in ["NT5C2", "PRPS1", "NR3C1", "NR3C2", "CREBBP", "TP53", "MSH6", "NRAS", "KRAS", "PTPN11",
                 "NSD2", "WHSC1", "FPGS"]:
        info = RELAPSE_LESIONS[gene]
        # every row cites a publication (authors, journal, year), not a file
        assert info["mechanism"] and info["resistance"] and " et al. " in info["source"]
    assert "thiopurine" in RELAPSE_LESIONS["NT5C2"]["resistance"]
    assert RELAPSE_LESIONS["FPGS"]["resistance"] == "methotrexate"


def test_annotate_lesions_only_relapse_genes() -> None:
    out = annotate_lesions(["nt5c2", None, "ABC1", "CREBBP"], [3, 0, 0, 1], {3: "relapse_only", 1: "shared"},
                           relapse_lesions=RELAPSE_LESIONS)
    assert [(o["gene"], o["clone"], o["clone_status"]) for o in out] == [("NT5C2", 3, "relapse_only"),
                                                                          ("CREBBP", 1, "shared")]


def test_case_lesions_acquired_at_relapse() -> None:
    from remission.clonal import annotate_case_lesions

    dx = [{"name": "ETV6::RUNX1"}, {"name": "CREBBP", "detail": "p.R1446C", "vaf": 0.08}]
    rel = [(1, [{"name": "NT5C2", "detail": "p.R367Q", "vaf": 0.31}, {"name": "CREBBP", "vaf": 0.44}])]
    out = annotate_case_lesions(dx, rel, relapse_lesions=RELAPSE_LESIONS)
    assert [(o["gene"], o["found_at"], o["acquired"]) for o in out] == [
        ("CREBBP", "diagnosis", False), ("NT5C2", "relapse 1", True), ("CREBBP", "relapse 1", False)]
