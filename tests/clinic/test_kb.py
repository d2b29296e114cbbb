"""Knowledge base: schema validation at load, versioning, clear errors, user folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from remission.errors import KnowledgeBaseError
from remission.knowledge import EVIDENCE_LEVELS, bundled_knowledge_dir, load_knowledge_base

GOOD_ENTRY = {
    "id": "test-agent",
    "name": "Test agent",
    "category": "targeted",
    "mechanism": "inhibits a test kinase",
    "context": "test context",
    "access": "trial",
    "relevant_when": [{"when": {"lineage": "B"}, "why": "B-lineage test relevance"}],
    "evidence": [{"framework": "oncokb", "level": "4", "summary": "preclinical test",
                  "setting": {"description": "test models", "clinical": False, "when": {}}}],
    "citations": [{"source": "Test A et al. J Test 2020;1:1", "tag": "R"}],
}


def _kb_dir(tmp_path: Path, entries: list[dict] | None = None, *, copy_bundled: bool = False) -> Path:
    d = tmp_path / "kb"
    if copy_bundled:
        shutil.copytree(bundled_knowledge_dir(), d)
    else:
        d.mkdir()
        (d / "VERSION").write_text("test-1\n")
    if entries is not None:
        (d / "extra.yaml").write_text(yaml.safe_dump({"kind": "options", "entries": entries}))
    return d


def test_bundled_loads_and_is_versioned(kb):
    from remission.knowledge import knowledge_base_version

    assert kb.version == (bundled_knowledge_dir() / "VERSION").read_text().strip()
    assert kb.version == knowledge_base_version()
    ids = {e.id for e in kb.entries}
    # the issue's list (intensified backbones, TKIs, JAK, proteasome, BH3, MEK, blinatumomab,
    # inotuzumab, CAR-T incl. CD22 and CD19/CD22 trial constructs, HSCT)
    for must in ("bfm-intreall-sr-backbone", "allr3-mitoxantrone-backbone", "vpld-reinduction",
                 "imatinib", "dasatinib", "ponatinib", "ruxolitinib", "bortezomib", "carfilzomib",
                 "ixazomib", "venetoclax", "navitoclax", "selumetinib", "trametinib",
                 "blinatumomab", "inotuzumab", "tisagenlecleucel", "obecabtagene",
                 "brexucabtagene", "cd22-cart", "cd19-cd22-cart", "allogeneic-hsct"):
        assert must in ids


def test_every_bundled_entry_cites_and_grades(kb):
    for e in kb.entries:
        assert e.citations, e.id
        assert all(c.source and c.tag in "CRU" for c in e.citations)
        assert all(ev.level in EVIDENCE_LEVELS[ev.framework] for ev in e.evidence)


def test_numbers_only_on_tagged_citations(kb):
    """A citation with key numbers must be confirmed (C) and name the primary source it was confirmed
    against (a paper or label, never a spec file)."""
    for e in kb.entries:
        for c in e.citations:
            if c.key_numbers:
                assert c.tag == "C" and c.spec, (e.id, c.source)
                assert ".md" not in c.spec and "§" not in c.spec, (e.id, c.spec)


def test_missing_citation_fails_clearly(tmp_path):
    bad = {k: v for k, v in GOOD_ENTRY.items() if k != "citations"}
    with pytest.raises(KnowledgeBaseError, match=r"knowledge file 'extra.yaml', entry 'test-agent', "
                                                 r"field citations: at least one citation is required"):
        load_knowledge_base(_kb_dir(tmp_path, [bad]))


def test_empty_citation_list_fails_clearly(tmp_path):
    bad = {**GOOD_ENTRY, "citations": []}
    with pytest.raises(KnowledgeBaseError, match=r"entry 'test-agent', field citations: at least one "
                                                 r"citation is required .*empty"):
        load_knowledge_base(_kb_dir(tmp_path, [bad]))


def test_unknown_evidence_level_fails_clearly(tmp_path):
    bad = {**GOOD_ENTRY, "evidence": [{"framework": "oncokb", "level": "7", "summary": "x level",
                                       "setting": GOOD_ENTRY["evidence"][0]["setting"]}]}
    with pytest.raises(KnowledgeBaseError, match=r"entry 'test-agent', field evidence\[0\]: unknown "
                                                 r"evidence level '7' for framework 'oncokb'; "
                                                 r"expected one of 1, 2, 3A, 3B, 4, R1, R2"):
        load_knowledge_base(_kb_dir(tmp_path, [bad]))


def test_unknown_evidence_framework_fails(tmp_path):
    bad = {**GOOD_ENTRY, "evidence": [{"framework": "gut", "level": "A", "summary": "x level"}]}
    with pytest.raises(KnowledgeBaseError, match=r"entry 'test-agent', field evidence\[0\].framework"):
        load_knowledge_base(_kb_dir(tmp_path, [bad]))


def test_unknown_lesion_reference_fails(tmp_path):
    bad = {**GOOD_ENTRY, "relevant_when": [{"when": {"lesion_any": ["NOTAGENE1"]}, "why": "xyz"}]}
    with pytest.raises(KnowledgeBaseError, match=r"entry 'test-agent', field relevant_when\[0\].when."
                                                 r"lesion_any: unknown lesion reference 'NOTAGENE1'"):
        load_knowledge_base(_kb_dir(tmp_path, [bad]))


def test_unknown_field_and_duplicate_id(tmp_path):
    with pytest.raises(KnowledgeBaseError, match=r"field dose: unknown field"):
        load_knowledge_base(_kb_dir(tmp_path, [{**GOOD_ENTRY, "dose": "1 mg"}]))
    shutil.rmtree(tmp_path / "kb")
    with pytest.raises(KnowledgeBaseError, match=r"entry 'test-agent', field id: duplicate id"):
        load_knowledge_base(_kb_dir(tmp_path, [GOOD_ENTRY, GOOD_ENTRY]))


def test_folder_errors(tmp_path):
    with pytest.raises(KnowledgeBaseError, match="does not exist"):
        load_knowledge_base(tmp_path / "nope")
    (tmp_path / "a.yaml").write_text("kind: options\nentries: []\n")
    with pytest.raises(KnowledgeBaseError, match="has no VERSION file"):
        load_knowledge_base(tmp_path)
    (tmp_path / "VERSION").write_text("1\n")
    with pytest.raises(KnowledgeBaseError, match=r"'a.yaml', field entries: "):
        load_knowledge_base(tmp_path)
    (tmp_path / "a.yaml").write_text("kind: options\nentries: [\n")
    with pytest.raises(KnowledgeBaseError, match=r"'a.yaml', line \d+: not valid YAML"):
        load_knowledge_base(tmp_path)
    (tmp_path / "a.yaml").write_text("kind: recipes\n")
    with pytest.raises(KnowledgeBaseError, match=r"'a.yaml', field kind: expected 'options' or 'lesions'"):
        load_knowledge_base(tmp_path)


def test_user_folder_without_lesion_file_uses_bundled_vocabulary(tmp_path):
    kb = load_knowledge_base(_kb_dir(tmp_path, [GOOD_ENTRY]))
    assert kb.version == "test-1" and [e.id for e in kb.entries] == ["test-agent"]
    assert kb.vocabulary.normalise("t(9;22)").canonical == "BCR::ABL1"


def test_user_synonyms_in_a_knowledge_folder(tmp_path):
    d = _kb_dir(tmp_path, [GOOD_ENTRY], copy_bundled=True)
    lf = d / "lesions.yaml"
    data = yaml.safe_load(lf.read_text())
    data["synonyms"]["Philly chromosome"] = "BCR::ABL1"
    lf.write_text(yaml.safe_dump(data, sort_keys=False))
    kb = load_knowledge_base(d)
    assert kb.vocabulary.normalise("philly chromosome").canonical == "BCR::ABL1"


def test_access_is_required_and_a_label_names_its_jurisdiction(tmp_path):
    # nothing defaults to standard of care: an entry without access fails to load
    bad = {k: v for k, v in GOOD_ENTRY.items() if k != "access"}
    with pytest.raises(KnowledgeBaseError, match=r"entry 'test-agent', field access: required field"):
        load_knowledge_base(_kb_dir(tmp_path, [bad]))
    label = {**GOOD_ENTRY, "access": "label"}
    (tmp_path / "b").mkdir()
    with pytest.raises(KnowledgeBaseError, match=r"needs jurisdictions"):
        load_knowledge_base(_kb_dir(tmp_path / "b", [label]))


def test_every_evidence_item_states_its_setting(tmp_path, kb):
    assert all(ev.setting.description for e in kb.entries for ev in e.evidence)
    bad = {**GOOD_ENTRY, "evidence": [{"framework": "oncokb", "level": "4", "summary": "x y z"}]}
    with pytest.raises(KnowledgeBaseError, match=r"field evidence\[0\]\.setting: required field"):
        load_knowledge_base(_kb_dir(tmp_path, [bad]))


def test_issue_knowledge_is_present_with_citation_setting_and_access(kb):
    # revumenib (FDA 2024, KMT2A-r R/R), clofarabine salvage, daratumumab T-ALL, CNS/testis local
    # therapy, HSCT for Ph+ relapse, second HSCT not as standard of care
    e = {x.id: x for x in kb.entries}
    assert e["revumenib"].access.route == "label" and e["revumenib"].access.jurisdictions == ("US-FDA",)
    assert e["clofarabine-salvage"].access.jurisdictions == ("US-FDA", "EU-EMA")
    assert e["daratumumab-t-all"].access.route == "off_label"
    assert e["daratumumab-t-all"].evidence[0].level == "single_arm_phase2"
    assert e["local-therapy-extramedullary"].category == "local_therapy"
    assert e["allogeneic-hsct-ph-positive"].relevant_when[0].when.ph_positive is True
    assert e["second-allogeneic-hsct"].access.route != "standard"
    # tisagenlecleucel: the label differs between the US and the EU (post-transplant relapse)
    jur = {lab.jurisdiction for lab in e["tisagenlecleucel"].label}
    assert jur == {"US-FDA", "EU-EMA"}
