"""Options engine: sensible options for the example cases, exclusions with reasons, knowledge-base
changes without code changes, the pipeline step, the CLI and the report sections."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
import yaml
from _clinic_factory import make_case, mrd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remission.clinic import (
    patient_profile,
    propose_options,
    stratify,
)
from remission.clinic.risk import add_months
from remission.domain import CartResult, RiskResult
from remission.knowledge import UnknownLesionError, bundled_knowledge_dir, load_knowledge_base
from remission.state import disease_state


def _run(case, kb, mrd_values=(), cart=None, **kw):
    """As the pipeline: risk, then the disease state, then options evaluated against it."""
    risk = RiskResult.model_validate(stratify(case, mrd_values).to_json()) if case.relapses else None
    cart_res = CartResult.model_validate(cart) if cart is not None else None
    state = disease_state(case, mrd_values, cart=cart_res)
    prof = patient_profile(case, vocabulary=kb.vocabulary, mrd=mrd_values, risk=risk,
                           cart=cart_res, state=state, **kw)
    return propose_options(prof, kb)


def _ids(res):
    return [o["id"] for o in res["options"]]


def _opt(res, i):
    return next(o for o in res["options"] if o["id"] == i)


def _exc(res, i):
    return next(o for o in res["excluded"] if o["id"] == i)


@pytest.fixture(scope="module")
def results(example_loaded, kb):
    return {slug: _run(c, kb, m) for slug, (c, m) in example_loaded.items()}


def test_every_option_cites_and_grades(results):
    for res in results.values():
        assert res["options"]
        for o in res["options"]:
            assert len(o["citations"]) >= 1 and o["evidence"] and o["why"]
            assert o["rank"] >= 1
        for e in res["excluded"]:
            assert e["reasons"]
        assert "never decides" in res["notice"]


def test_late_bm_bcp(results):
    # molecular relapse in CR2 (NGS 3.3e-4 confirmed by 2.4e-3 after negativity; Raff 2007 and
    # the protocol definition kept as parameters): options of an MRD-positive remission
    r = results["late-bm-bcp"]
    ids = _ids(r)
    assert r["patient"]["disease_status"] == "molecular_relapse"
    assert ids[:3] == ["allogeneic-hsct", "blinatumomab", "inotuzumab"]
    assert any("molecular relapse" in w for w in _opt(r, "allogeneic-hsct")["why"])
    # blinatumomab: MRD >= 0.1 % in remission is its MRD label; the randomised trials were in
    # first-relapse consolidation, so the level shown is marked extrapolated
    blin = _opt(r, "blinatumomab")
    assert any("MRD >= 0.1 %" in w for w in blin["why"])
    assert blin["extrapolated"] and blin["evidence_in_setting"].startswith("extrapolated")
    # the first-relapse backbone was given and the disease relapsed after it: not proposed again
    assert any("does not apply" in x for x in _exc(r, "bfm-intreall-sr-backbone")["reasons"])
    # no kinase lesion: TKIs and ruxolitinib are listed as not relevant; T-ALL agent excluded
    for i in ("imatinib", "dasatinib", "ruxolitinib", "nelarabine"):
        assert i not in ids and _exc(r, i)["reasons"][0].startswith("not relevant")
    # adult-only product excluded with its age reason (patient ~8 y)
    assert any("adults only" in x and "y < 18 y]" in x for x in _exc(r, "brexucabtagene")["reasons"])


def test_ph_like_very_early(results):
    # CD19-negative (2 %) MRD progression after tisagenlecleucel without MRD negativity:
    # refractory, not in remission
    r = results["ph-like-very-early"]
    ids = _ids(r)
    assert r["patient"]["disease_status"] == "refractory" and r["patient"]["in_remission"] is False
    # HSCT needs a remission first: excluded with that reason (before: option 1)
    assert any("not in remission" in x for x in _exc(r, "allogeneic-hsct")["reasons"])
    # CD22 remains a target: inotuzumab first, evidence in this setting (AALL1621: refractory)
    assert ids[0] == "inotuzumab"
    assert _opt(r, "inotuzumab")["evidence_in_setting"].startswith("single-arm phase 2 in this setting")
    # the first-relapse chemotherapy backbones are not offered for refractory disease
    for i in ("bfm-intreall-hr-backbone", "allr3-mitoxantrone-backbone"):
        assert i not in ids
    assert ids.index("vpld-reinduction") > ids.index("cd22-cart")
    # refractory comes from the MRD course: BH3 mimetics are relevant now
    assert {"venetoclax", "navitoclax"} <= set(ids)
    # P2RY8::CRLF2 + JAK2 R683G -> ruxolitinib, lesion-specific, with TP53 caution
    rux = _opt(r, "ruxolitinib")
    assert rux["lesion_specific"] and any("P2RY8::CRLF2" in w and "JAK2" in w for w in rux["why"])
    assert any("TP53" in c for c in rux["cautions"])
    # inotuzumab: needed organ-function fields are missing in the case -> said so
    assert any("bilirubin" in m for m in _opt(r, "inotuzumab")["missing_fields"])
    # CD22 and CD19/CD22 CAR-T as trial options
    assert _opt(r, "cd22-cart")["eligibility"] == "clinical trial"
    assert "cd19-cd22-cart" in ids
    # CD19-negative blasts after tisagenlecleucel: CD19-directed therapy excluded with the reason
    for i in ("tisagenlecleucel", "blinatumomab"):
        assert i not in ids
        assert any("CD19-directed therapy needs CD19 on the blasts" in x for x in _exc(r, i)["reasons"])


def test_t_all_early_combined(results):
    # reported MRD only: flow MRD negative (LoD 1e-5) before HSCT -> MRD-negative remission
    r = results["t-all-early-combined"]
    ids = _ids(r)
    assert r["patient"]["disease_status"] == "cr_mrd_negative"
    # B-cell immunotherapies are excluded for T-ALL, with the lineage reason
    for i in ("blinatumomab", "inotuzumab", "tisagenlecleucel", "cd22-cart"):
        assert i not in ids
    assert any("B-cell precursor ALL only [lineage T, not B]" in x
               for x in _exc(r, "blinatumomab")["reasons"])
    # MRD-negative remission after HSCT: no salvage and no first-relapse backbone is proposed
    for i in ("nelarabine", "daratumumab-t-all", "bfm-intreall-hr-backbone", "bortezomib"):
        assert i not in ids
    assert any("MRD-negative remission" in x for x in _exc(r, "nelarabine")["reasons"])
    assert any("already performed" in x for x in _exc(r, "bfm-intreall-hr-backbone")["reasons"])
    # HSCT was done after this relapse: listed as already performed
    assert any("already performed" in c for c in _opt(r, "allogeneic-hsct")["cautions"])
    assert any("HSCT was performed after the latest relapse" in n for n in r["notes"])


def test_cd19_negative_relapse(kb):
    c = make_case(extra={"antigen_expression": [{"date": "2019-01-10", "CD19_percent": 2,
                                                 "CD22_percent": 90}]})
    r = _run(c, kb)
    for i in ("blinatumomab", "tisagenlecleucel"):
        assert any("CD19" in x and "negative" in x for x in _exc(r, i)["reasons"])
    assert "cd22-cart" in _ids(r) and "inotuzumab" in _ids(r)
    assert any(x["name"] == "antigen_positive_min_percent" for x in r["rules"])


def test_antigen_not_recorded_is_a_caution_not_a_guess(kb):
    r = _run(make_case(), kb)
    blin = _opt(r, "blinatumomab")
    assert any(c.startswith("not recorded, confirm") and "CD19" in c for c in blin["cautions"])


def test_ph_positive_tkis_and_t315i(kb):
    c = make_case(dx_lesions=[{"name": "BCR-ABL1", "kind": "fusion"}])
    r = _run(c, kb)
    assert {"imatinib", "dasatinib"} <= set(_ids(r))
    # OncoKB 1 for BCR::ABL1 is a frontline level: in relapse it is shown as extrapolated and
    # ranks two grades lower (5 - 2)
    assert _opt(r, "imatinib")["evidence_strength"] == 3
    assert _opt(r, "imatinib")["evidence_in_setting"].startswith("extrapolated: OncoKB level 1")
    # Ph+ relapse: allogeneic HSCT with TKI is listed (it has no first-relapse scheme)
    assert "allogeneic-hsct-ph-positive" in _ids(r) or \
        any("not in remission" in x for x in _exc(r, "allogeneic-hsct-ph-positive")["reasons"])
    assert "ponatinib" not in _ids(r)
    c = make_case(dx_lesions=[{"name": "t(9;22)", "kind": "karyotype"}],
                  relapse_lesions=[{"name": "ABL1", "kind": "snv", "detail": "p.T315I"}])
    r = _run(c, kb)
    assert "ponatinib" in _ids(r)
    assert any("T315I" in x for x in _exc(r, "imatinib")["reasons"])
    assert _opt(r, "ponatinib")["eligibility"].startswith("outside label")  # adult label


def test_abl_class_ranks_by_matching_evidence(kb):
    r = _run(make_case(dx_lesions=[{"name": "EBF1::PDGFRB", "kind": "fusion"}]), kb)
    im = _opt(r, "imatinib")
    assert im["evidence_strength"] == 2  # OncoKB 4 for ABL-class, not level 1 (Ph+)
    assert [i["level"] for i in im["evidence_items"]] == ["4"]  # the Ph+ item is not shown


def test_ras_and_bcl2(kb):
    c = make_case(relapse_lesions=[{"name": "KRAS", "kind": "snv", "detail": "p.G12D"}],
                  dx_lesions=[{"name": "TCF3::HLF", "kind": "fusion"}])
    r = _run(c, kb)
    assert {"selumetinib", "trametinib", "venetoclax"} <= set(_ids(r))


def test_relapse_after_cart_with_b_cell_recovery(kb):
    # in MRD-negative remission after CAR-T (flow, LoD 1e-5), B cells recovered
    c = make_case(extra={"cart_infusions": [{"product": "tisagenlecleucel", "date": "2019-04-01"}]})
    m = [mrd(None, dt.date(2019, 5, 1), lod=1e-5, timepoint="cart_day_30")]
    r = _run(c, kb, m, cart={"b_cell_aplasia": {"ongoing": False},
                             "persistence": {"last_sample_day": 90, "present": False}})
    assert any("B-cell recovery" in w for w in _opt(r, "allogeneic-hsct")["why"])


def test_mrd_with_ongoing_aplasia_after_cart_warns_cd19_escape(kb):
    rel = dt.date(2019, 1, 10)
    c = make_case(extra={"cart_infusions": [{"product": "tisagenlecleucel", "date": "2019-04-01"}],
                         "antigen_expression": [{"date": "2019-01-10", "CD19_percent": 95,
                                                 "CD22_percent": 80}]})
    m = [mrd(2e-3, rel + dt.timedelta(days=150), timepoint="cart_day_60", method="ngs")]
    r = _run(c, kb, m, cart={"b_cell_aplasia": {"ongoing": True}})
    assert any("88 %" in w for w in _opt(r, "cd22-cart")["why"])
    assert any("CD19-negative" in x for x in _opt(r, "blinatumomab")["cautions"])


def test_unknown_lesion_strict_and_tolerant(kb):
    c = make_case(relapse_lesions=[{"name": "SETD2X", "kind": "snv"}])
    with pytest.raises(UnknownLesionError, match="unknown lesion name 'SETD2X'"):
        _run(c, kb)
    r = _run(c, kb, allow_unknown_lesions=True)
    assert r["patient"]["unknown_lesions"] == ["SETD2X"]
    assert any("SETD2X" in n for n in r["notes"])


def test_rule_override_changes_result_and_is_listed(kb):
    c = make_case(blasts=30, extra={"antigen_expression": [{"date": "2019-01-10", "CD19_percent": 95}]})
    base = _opt(_run(c, kb), "blinatumomab")
    assert not any("high marrow burden" in x for x in base["cautions"])
    risk = stratify(c).to_json()
    prof = patient_profile(c, vocabulary=kb.vocabulary, risk=risk, state=disease_state(c))
    r = propose_options(prof, kb, rules={"high_marrow_burden_percent": 25})
    assert any("high marrow burden" in x for x in _opt(r, "blinatumomab")["cautions"])
    assert any(x["name"] == "high_marrow_burden_percent" and x["tag"] == "user" for x in r["rules"])


# -- the knowledge base changes, the code does not --------------------------------------------------

NEW_ENTRY = {
    "id": "new-trial-agent",
    "name": "New trial agent X",
    "category": "targeted",
    "access": "trial",
    "mechanism": "hypothetical mechanism for the test",
    "context": "added in a temporary knowledge base",
    "relevant_when": [{"when": {"lesion_any": ["class:jak_stat"]}, "why": "JAK/STAT lesion (test)"}],
    "evidence": [{"framework": "civic", "level": "D", "summary": "test evidence",
                  "setting": {"description": "cell lines (test)", "clinical": False, "when": {}}}],
    "citations": [{"source": "Test B et al. Test J 2026;1:1", "tag": "U"}],
}


@pytest.fixture
def tmp_kb(tmp_path):
    d = tmp_path / "kb"
    shutil.copytree(bundled_knowledge_dir(), d)
    (d / "VERSION").write_text("2099.1.0-test\n")
    (d / "zz-new.yaml").write_text(yaml.safe_dump({"kind": "options", "entries": [NEW_ENTRY]}))
    return d


def test_option_added_in_temporary_kb_appears(tmp_kb, example_loaded):
    kb = load_knowledge_base(tmp_kb)
    case, m = example_loaded["ph-like-very-early"]
    r = _run(case, kb, m)
    new = _opt(r, "new-trial-agent")
    assert new["eligibility"] == "clinical trial" and new["knowledge_file"] == "zz-new.yaml"
    assert r["knowledge_base"]["version"] == "2099.1.0-test"
    # and it is excluded (with its reason) where it does not fit
    case2, m2 = example_loaded["t-all-early-combined"]
    assert _exc(_run(case2, kb, m2), "new-trial-agent")["reasons"][0].startswith("not relevant")


# -- CLI, pipeline step, report -----------------------------------------------------------------------

def test_cli_risk_json(example_cases, capsys):
    from remission.cli import main

    rc = main(["risk", str(example_cases["late-bm-bcp"]), "--json", "--reported-mrd-only"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["schema"] == "remission.risk/1"
    res = out["result"]
    assert set(res) >= {"time_point", "site", "lineage", "bfm", "intreall", "allr3", "cog",
                        "transplant", "flags", "sources"}
    assert set(res["transplant"]) >= {"rule", "mrd_threshold", "mrd_value", "decision"}
    assert res["bfm"]["group"] == "S2" and res["bfm"]["rule_path"]
    assert out["inputs"][0]["sha256"]


def test_cli_options_with_knowledge_dir(example_cases, tmp_kb, capsys):
    from remission.cli import main

    rc = main(["options", str(example_cases["ph-like-very-early"]), "--json",
               "--knowledge", str(tmp_kb), "--reported-mrd-only"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["schema"] == "remission.options/2"  # access is an object (CHANGELOG)
    assert out["knowledge_base_version"] == "2099.1.0-test"
    assert "new-trial-agent" in [o["id"] for o in out["result"]["options"]]


def test_cli_human_output(example_cases, capsys):
    from remission.cli import main

    assert main(["options", str(example_cases["late-bm-bcp"]), "--reported-mrd-only"]) == 0
    text = capsys.readouterr().out
    assert "Therapy options" in text and "Not proposed" in text
    assert main(["risk", str(example_cases["t-all-early-combined"]), "--reported-mrd-only"]) == 0
    assert "S4" in capsys.readouterr().out


def test_cli_bad_knowledge_dir_is_one_line_exit_1(example_cases, tmp_path, capsys):
    from remission.cli import main

    d = tmp_path / "bad"
    d.mkdir()
    (d / "VERSION").write_text("1\n")
    bad = {**NEW_ENTRY, "citations": []}
    (d / "x.yaml").write_text(yaml.safe_dump({"kind": "options", "entries": [bad]}))
    rc = main(["options", str(example_cases["late-bm-bcp"]), "--knowledge", str(d)])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1
    assert "x.yaml" in err and "new-trial-agent" in err and "citation" in err


def test_pipeline_steps_and_report(example_loaded):
    from remission.pipeline import analyze_case
    from remission.report.html import render_html

    case, _ = example_loaded["t-all-early-combined"]
    case = case.model_copy(update={"samples": ()})  # reported MRD only: no raw-file engines
    a = analyze_case(case, bundled_knowledge_dir())
    risk, opts = a.section("risk"), a.section("options")
    assert risk is not None and risk.error is None and opts is not None and opts.error is None
    assert risk.result.bfm.group == "S4"  # type: ignore[union-attr]
    assert {r.name for r in risk.rests_on} >= {"bfm_matrix_cells"}
    html = render_html(a)
    assert "Transplant rule" in html and "ALL-REZ BFM table" in html
    assert "Not proposed" in html and "never decides" in html
    assert "Parker C et al. Lancet 2010" in html  # HSCT citation in the options table
    # the report opens with where the patient stands now (before the clinical summary)
    assert html.index("Where the patient stands now") < html.index("Clinical summary")
    assert "complete remission, MRD-negative" in html


def test_cutoff_divergence_keeps_hsct_in_view(kb):
    # spec §1.7 worked example 4: MRD 5e-4 -> BFM chemotherapy, ALLR3 SCT (1e-4)
    c = make_case(dx=dt.date(2014, 1, 15), relapse=dt.date(2018, 3, 15), end=dt.date(2016, 7, 15),
                  extra={"therapies": [{"name": "reinduction", "kind": "chemotherapy",
                                        "start": "2018-03-20", "end": "2018-04-20"}]})
    r = _run(c, kb, [mrd(5e-4, dt.date(2018, 4, 20))])
    hsct = _opt(r, "allogeneic-hsct")
    assert any("other backbone" in w for w in hsct["why"])
    # MRD 5e-4 is below the blinatumomab MRD label (>= 0.1 % = 1e-3, spec §5.1): not a reason,
    # and a standard-risk first relapse in remission gives no other reason for it
    assert "blinatumomab" not in _ids(r)
    assert any("MRD >= 0.1 %" in x for x in _exc(r, "blinatumomab")["reasons"])
    r = _run(c, kb, [mrd(2e-3, dt.date(2018, 4, 20))])
    assert any("MRD >= 0.1 %" in w for w in _opt(r, "blinatumomab")["why"])
    assert any("indicates allogeneic HSCT" in w for w in _opt(r, "allogeneic-hsct")["why"])


# -- invariants over generated patients ----------------------------------------------------------


_LESIONS = ["BCR::ABL1", "EBF1::PDGFRB", "P2RY8::CRLF2", "JAK2", "NRAS", "KRAS", "TP53", "NT5C2",
            "CREBBP", "KMT2A::AFF1", "TCF3::HLF", "ETV6::RUNX1", "IKZF1"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lineage=st.sampled_from(["B", "T"]),
       site=st.sampled_from(["isolated_bm", "combined", "isolated_cns", "isolated_testis"]),
       months=st.integers(min_value=3, max_value=80),
       lesions=st.lists(st.sampled_from(_LESIONS), max_size=4, unique=True),
       cd19=st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
       age=st.floats(min_value=0.5, max_value=30))
def test_every_entry_is_proposed_or_excluded_once(kb, lineage, site, months, lesions, cd19, age):
    dx = dt.date(2012, 1, 1)
    rel = add_months(dx, months)
    extra = {"antigen_expression": [{"date": rel.isoformat(), "CD19_percent": cd19}]} if cd19 is not None else {}
    c = make_case(lineage=lineage, dx=dx, relapse=rel, end=add_months(dx, 24) if months > 24 else None,
                  site=site, blasts=0 if site.startswith("isolated_") and site != "isolated_bm" else 50,
                  age_at_dx=age, dx_lesions=[{"name": n, "kind": "fusion" if "::" in n else "snv"}
                                             for n in lesions], extra=extra)
    r = _run(c, kb)
    ids = [o["id"] for o in r["options"]] + [e["id"] for e in r["excluded"]]
    assert sorted(ids) == sorted(e.id for e in kb.entries)  # each entry exactly once
    assert [o["rank"] for o in r["options"]] == list(range(1, len(r["options"]) + 1))
    assert all(e["reasons"] for e in r["excluded"])
    assert all(o["citations"] and o["why"] for o in r["options"])
    strengths = [o["evidence_strength"] for o in r["options"]]
    assert strengths == sorted(strengths, reverse=True)  # ranked by evidence first
    if lineage == "T":  # CD19/CD22-directed options never proposed for T-ALL
        assert not {"blinatumomab", "inotuzumab", "tisagenlecleucel", "cd22-cart"} & set(ids[:len(r["options"])])


def test_cli_risk_with_mrd_engines(example_cases, capsys):
    """Default path: the MRD engines run first, so MRD computed from raw files can decide."""
    from remission.cli import main

    rc = main(["risk", str(example_cases["late-bm-bcp"]), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    tr = out["result"]["transplant"]
    assert tr["decision"] in ("indicated", "not_indicated", "pending_mrd")
    if tr["mrd"] is not None:  # the MRD used is shown with its method and limits
        assert tr["mrd"]["method"] in ("ngs", "flow", "pcr") and "display" in tr["mrd"]


def test_refractory_reading_is_an_overridable_rule(kb):
    c = make_case(extra={
        "antigen_expression": [{"date": "2019-01-10", "CD19_percent": 95}],
        "therapies": [{"name": "reinduction", "kind": "chemotherapy", "start": "2019-01-15",
                       "end": "2019-02-12", "best_response": "MRD_positive"}]})
    risk = stratify(c).to_json()
    st = disease_state(c)
    base = propose_options(patient_profile(c, vocabulary=kb.vocabulary, risk=risk, state=st), kb)
    # late S2 first relapse in remission (MRD-positive): not a CAR-T label situation
    assert _exc(base, "tisagenlecleucel")["reasons"][0].startswith("not relevant")
    # the disease-state rule that reads best responses as refractory is a named parameter
    st2 = disease_state(c, rules={"refractory_responses": ("NR", "PD", "MRD_positive")})
    assert st2.current.status == "refractory"
    r = propose_options(patient_profile(c, vocabulary=kb.vocabulary, risk=risk, state=st2), kb)
    assert _opt(r, "tisagenlecleucel")["eligibility"] == "within label (US-FDA, EU-EMA)"
    assert any(x["name"] == "refractory_responses" and x["tag"] == "user" for x in st2.rules)
