"""Lesion vocabulary: synonyms, fusion patterns, classes, unknown names and user synonyms."""

from __future__ import annotations

import pytest

from remission.errors import KnowledgeBaseError, ValidationError
from remission.knowledge import UnknownLesionError, default_vocabulary, normalise_lesion


@pytest.mark.parametrize("name", [
    "BCR::ABL1", "BCR-ABL1", "bcr-abl1", "BCR/ABL1", "BCR_ABL1", "BCR - ABL1", "BCR-ABL",
    "t(9;22)", "t(9;22)(q34;q11)", "T(9;22)", "Ph+", "Philadelphia chromosome", " BCR::ABL1 "])
def test_bcr_abl1_synonyms(name):
    n = normalise_lesion(name)
    assert n.canonical == "BCR::ABL1" and n.kind == "fusion"
    assert "ph_positive" in n.classes and n.genes == ("BCR", "ABL1")


@pytest.mark.parametrize(("name", "canonical"), [
    ("EBF1::PDGFRB", "EBF1::PDGFRB"),      # listed ABL-class fusion
    ("NUP214-ABL1", "NUP214::ABL1"),
    ("ETV6::ABL1", "ETV6::ABL1"),          # pattern: any 5' partner with 3' ABL1
    ("RCSD1::ABL1", "RCSD1::ABL1"),        # unknown partner accepted by the ABL1 pattern
    ("ZMIZ1::ABL1", "ZMIZ1::ABL1"),
    ("SNX2::ABL1", "SNX2::ABL1"),
    ("RANBP2::ABL1", "RANBP2::ABL1"),
    ("SSBP2::CSF1R", "SSBP2::CSF1R"),
    ("ETV6-PDGFRB", "ETV6::PDGFRB"),
    ("FIP1L1::PDGFRA", "FIP1L1::PDGFRA"),
    ("EPHA5::ABL2", "EPHA5::ABL2"),
])
def test_abl_class(name, canonical):
    n = normalise_lesion(name)
    assert n.canonical == canonical and "abl_class" in n.classes and "ph_positive" not in n.classes


@pytest.mark.parametrize(("name", "canonical", "classes"), [
    ("P2RY8::CRLF2", "P2RY8::CRLF2", {"crlf2_r", "jak_stat"}),
    ("P2RY8-CRLF2", "P2RY8::CRLF2", {"crlf2_r", "jak_stat"}),
    ("IGH::CRLF2", "IGH::CRLF2", {"crlf2_r", "jak_stat"}),
    ("IgH-CRLF2", "IGH::CRLF2", {"crlf2_r", "jak_stat"}),
    ("CRLF2-r", "CRLF2 rearrangement", {"crlf2_r", "jak_stat"}),
    ("PAX5::JAK2", "PAX5::JAK2", {"jak_stat"}),      # JAK2 fusion by pattern
    ("BCR::JAK2", "BCR::JAK2", {"jak_stat"}),
    ("JAK2 fusion", "JAK2 rearrangement", {"jak_stat"}),
    ("IGH::EPOR", "IGH::EPOR", {"jak_stat"}),
    ("JAK2", "JAK2", {"jak_stat"}),                  # JAK2 mutation
    ("JAK1", "JAK1", {"jak_stat"}),
    ("IL7R", "IL7R", {"jak_stat"}),
])
def test_jak_stat(name, canonical, classes):
    n = normalise_lesion(name)
    assert n.canonical == canonical and classes <= set(n.classes)


@pytest.mark.parametrize(("name", "cls"), [
    ("NRAS", "ras_pathway"), ("KRAS", "ras_pathway"), ("PTPN11", "ras_pathway"),
    ("NF1", "ras_pathway"), ("FLT3", "ras_pathway"), ("TP53", "tp53_alteration"),
    ("p53", "tp53_alteration"), ("NT5C2", "thiopurine_resistance"),
    ("PRPS1", "thiopurine_resistance"), ("MSH6", "thiopurine_resistance"),
    ("CREBBP", "glucocorticoid_resistance"), ("NR3C1", "glucocorticoid_resistance"),
    ("FPGS", "methotrexate_resistance"), ("WHSC1", "nsd2_activation"), ("NSD2", "nsd2_activation"),
])
def test_relapse_genes(name, cls):
    assert cls in normalise_lesion(name).classes


@pytest.mark.parametrize("name", ["KMT2A-r", "MLL-r", "MLL rearranged", "KMT2A rearranged"])
def test_kmt2a_rearrangement_synonyms(name):
    n = normalise_lesion(name)
    assert n.canonical == "KMT2A rearrangement" and "kmt2a_r" in n.classes


@pytest.mark.parametrize(("name", "canonical"), [
    ("MLL-AF4", "KMT2A::AFF1"), ("t(4;11)", "KMT2A::AFF1"), ("KMT2A::AFF1", "KMT2A::AFF1"),
    ("KMT2A::MLLT1", "KMT2A::MLLT1"), ("MLL::AF9", "KMT2A::MLLT3"), ("KMT2A::USP2", "KMT2A::USP2")])
def test_kmt2a_fusions(name, canonical):
    n = normalise_lesion(name)
    assert n.canonical == canonical and "kmt2a_r" in n.classes


def test_kmt2a_gene_kind_decides_rearrangement_class():
    assert "kmt2a_r" in normalise_lesion("KMT2A", kind="fusion").classes
    assert "kmt2a_r" in normalise_lesion("MLL", kind="rearrangement").classes
    assert "kmt2a_r" not in normalise_lesion("KMT2A", kind="snv").classes


@pytest.mark.parametrize(("name", "canonical"), [
    ("TCF3::HLF", "TCF3::HLF"), ("E2A-HLF", "TCF3::HLF"), ("t(17;19)", "TCF3::HLF"),
    ("ETV6::RUNX1", "ETV6::RUNX1"), ("TEL-AML1", "ETV6::RUNX1"), ("t(12;21)", "ETV6::RUNX1"),
    ("TCF3::PBX1", "TCF3::PBX1"), ("t(1;19)", "TCF3::PBX1"), ("SIL-TAL1", "STIL::TAL1"),
    ("iAMP21", "iAMP21"), ("hyperdiploidy", "high hyperdiploidy"),
])
def test_other_lesions(name, canonical):
    assert normalise_lesion(name).canonical == canonical


def test_tcf3_hlf_is_bcl2_dependent():
    assert "bcl2_dependent" in normalise_lesion("TCF3::HLF").classes


def test_gene_with_protein_change():
    n = normalise_lesion("JAK2 R683G")
    assert (n.canonical, n.detail, n.kind) == ("JAK2", "R683G", "gene")
    n = normalise_lesion("NT5C2 p.R367Q")
    assert (n.canonical, n.detail) == ("NT5C2", "p.R367Q")
    n = normalise_lesion("ABL1", detail="p.T315I")
    assert n.detail == "p.T315I"


@pytest.mark.parametrize("name", ["FOO", "XYZ::QRS", "JAK9", "t(3;3)", "BCR::"])
def test_unknown_names_raise(name):
    with pytest.raises(UnknownLesionError, match=r"unknown lesion name .* add a synonym"):
        normalise_lesion(name)


def test_unknown_error_is_a_validation_error():
    assert issubclass(UnknownLesionError, ValidationError)


@pytest.mark.parametrize("bad", ["", "   ", None, 5])
def test_bad_names(bad):
    with pytest.raises(ValidationError, match="lesion name must be a non-empty string"):
        normalise_lesion(bad)


def test_user_synonyms():
    v = default_vocabulary()
    with pytest.raises(UnknownLesionError):
        v.normalise("Philly")
    v.add_synonym("Philly", "t(9;22)")
    assert v.normalise("philly").canonical == "BCR::ABL1"
    v.add_synonym("HOX11L2-gene", "TLX3")  # gene synonym keeps the gene behaviour
    assert v.normalise("HOX11L2-gene").canonical == "TLX3"
    # the bundled vocabulary is untouched
    with pytest.raises(UnknownLesionError):
        normalise_lesion("Philly")


def test_synonym_to_unknown_target_fails():
    v = default_vocabulary()
    with pytest.raises(KnowledgeBaseError, match="its target 'NOPE' is not in the lesion vocabulary"):
        v.add_synonym("x", "NOPE")


def test_vocabulary_file_with_unknown_class(tmp_path):
    from remission.knowledge import load_vocabulary

    p = tmp_path / "lesions.yaml"
    p.write_text("kind: lesions\nclasses: {}\ngenes:\n  - {symbol: ABC1, classes: [made_up]}\n")
    with pytest.raises(KnowledgeBaseError, match=r"lesions.yaml: entry 'ABC1', field classes: "
                                                  r"unknown lesion class 'made_up'"):
        load_vocabulary(p)
